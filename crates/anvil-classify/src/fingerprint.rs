//! Which harness sent a request, and in which role: read from the first blocks of the system prompt
//! (never keyword-scanned as a whole).

use anvil_dialects::canonical::{Message, Part, Request, Role};
use serde::Serialize;

/// The harness (client program) and role a request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Harness {
    /// Claude Code's interactive main loop (or `claude -p`).
    ClaudeCodeMain,
    /// A Claude Code subagent (`cc_is_subagent=true`, "You are an agent for Claude Code").
    ClaudeCodeSubagent,
    /// A Claude Code background call: title, summary, topic detection.
    ClaudeCodeUtility {
        /// What the call produces.
        utility: Utility,
    },
    /// The Codex CLI agent loop.
    Codex,
    /// aider's main model, in one of its edit formats.
    Aider {
        /// The edit format its system prompt asks for.
        edit_format: AiderEditFormat,
    },
    /// aider's weak model (commit messages, chat summaries).
    AiderUtility {
        /// What the call produces.
        utility: Utility,
    },
    /// Anything else: a plain SDK call or an unknown client.
    Sdk,
}

/// What a background utility call produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Utility {
    /// A session title.
    Title,
    /// A conversation summary (compaction).
    Summary,
    /// New-topic detection.
    Topic,
    /// A git commit message.
    CommitMessage,
    /// Another background call.
    Other,
}

/// aider's edit formats (`--edit-format`), plus its non-editing chat modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AiderEditFormat {
    /// `diff`: SEARCH/REPLACE blocks.
    SearchReplace,
    /// `udiff`: unified diffs.
    Udiff,
    /// `whole`: whole-file listings.
    Whole,
    /// `architect`: the architect model proposes, an editor model applies.
    Architect,
    /// `ask`: questions about the code, no edits.
    Ask,
    /// An aider prompt this version does not recognize.
    Unknown,
}

impl Harness {
    /// Whether the call is a background utility call (always `chat`).
    pub fn is_utility(self) -> bool {
        matches!(
            self,
            Harness::ClaudeCodeUtility { .. } | Harness::AiderUtility { .. }
        )
    }
}

/// The first `n` bytes of `s`, cut back to a character boundary.
pub(crate) fn head(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Whether `hay` contains `needle`, ASCII case-insensitively.
pub(crate) fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// The leading system texts: the canonical `system` parts, or (for chat-shaped clients that put the
/// system prompt in the first message) the first message's text.
fn system_blocks(req: &Request) -> impl Iterator<Item = &str> {
    let from_system = req.system.iter().map(|p| p.text.as_str());
    let from_first = req
        .messages
        .first()
        .filter(|m| matches!(m.role, Role::System | Role::Developer))
        .into_iter()
        .flat_map(|m: &Message| m.content.iter())
        .filter_map(|p| match p {
            Part::Text { text, .. } => Some(text.as_str()),
            _ => None,
        });
    from_system.chain(from_first).take(6)
}

/// Fingerprints the harness and role of a request from the first system blocks.
pub fn fingerprint(req: &Request) -> Harness {
    let mut claude_code = false;
    let mut subagent = false;
    let mut role_block: Option<&str> = None;
    for (i, block) in system_blocks(req).enumerate() {
        let start = head(block.trim_start(), 512);
        if i == 0 && start.starts_with("x-anthropic-billing-header:") {
            claude_code = true;
            subagent = start.contains("cc_is_subagent=true");
            continue;
        }
        if start.starts_with("You are Claude Code")
            || start.starts_with("You are a Claude agent, built on Anthropic's Claude Agent SDK")
        {
            claude_code = true;
            continue;
        }
        if start.starts_with("You are a coding agent running in the Codex CLI")
            || start.starts_with("You are Codex")
        {
            return Harness::Codex;
        }
        if start.starts_with("Act as an expert") {
            return Harness::Aider {
                edit_format: aider_edit_format(start, block),
            };
        }
        if start.starts_with("You are an expert software engineer that generates concise, one-line Git commit messages")
        {
            return Harness::AiderUtility {
                utility: Utility::CommitMessage,
            };
        }
        if start.starts_with("*Briefly* summarize this") {
            return Harness::AiderUtility {
                utility: Utility::Summary,
            };
        }
        if claude_code && role_block.is_none() {
            role_block = Some(start);
            break;
        }
        if !claude_code {
            break;
        }
    }
    if !claude_code {
        return Harness::Sdk;
    }
    let role = role_block.unwrap_or("");
    if subagent || role.starts_with("You are an agent for Claude Code") {
        return Harness::ClaudeCodeSubagent;
    }
    if role.is_empty() || role.starts_with("You are an interactive agent") {
        return Harness::ClaudeCodeMain;
    }
    let first_line = role.lines().next().unwrap_or("");
    let utility = if contains_ci(first_line, "title") {
        Utility::Title
    } else if contains_ci(first_line, "summar") {
        Utility::Summary
    } else if contains_ci(first_line, "topic") {
        Utility::Topic
    } else if contains_ci(first_line, "commit message") {
        Utility::CommitMessage
    } else {
        Utility::Other
    };
    Harness::ClaudeCodeUtility { utility }
}

/// aider's edit format from its main system prompt (a few KB: the format instructions are part of it).
fn aider_edit_format(start: &str, block: &str) -> AiderEditFormat {
    if start.starts_with("Act as an expert architect engineer") {
        AiderEditFormat::Architect
    } else if start.starts_with("Act as an expert code analyst") {
        AiderEditFormat::Ask
    } else if block.contains("*SEARCH/REPLACE block*") {
        AiderEditFormat::SearchReplace
    } else if block.contains("unified diff") || block.contains("```diff") {
        AiderEditFormat::Udiff
    } else if block.contains("*file listing*") {
        AiderEditFormat::Whole
    } else {
        AiderEditFormat::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anvil_dialects::canonical::SystemPart;

    fn sys(blocks: &[&str]) -> Request {
        Request {
            system: blocks
                .iter()
                .map(|t| SystemPart {
                    text: (*t).to_owned(),
                    cache_control: None,
                })
                .collect(),
            ..Request::default()
        }
    }

    #[test]
    fn fingerprints() {
        let cases: &[(&[&str], Harness)] = &[
            (
                &[
                    "x-anthropic-billing-header: cc_version=2.1.197.00b; cc_entrypoint=cli;",
                    "You are Claude Code, Anthropic's official CLI for Claude.",
                    "\nYou are an interactive agent that helps users with software engineering tasks.",
                ],
                Harness::ClaudeCodeMain,
            ),
            (
                &[
                    "x-anthropic-billing-header: cc_version=2.1.197.0df; cc_entrypoint=sdk-cli; cc_is_subagent=true;",
                    "You are a Claude agent, built on Anthropic's Claude Agent SDK.",
                    "You are an agent for Claude Code, Anthropic's official CLI for Claude.",
                ],
                Harness::ClaudeCodeSubagent,
            ),
            (
                &[
                    "x-anthropic-billing-header: cc_version=2.1.197.d55; cc_entrypoint=cli;",
                    "You are Claude Code, Anthropic's official CLI for Claude.",
                    "Generate a concise, sentence-case title (3-7 words) that captures the main topic",
                ],
                Harness::ClaudeCodeUtility {
                    utility: Utility::Title,
                },
            ),
            (
                &[
                    "x-anthropic-billing-header: cc_version=2.1.197.d55; cc_entrypoint=cli;",
                    "You are Claude Code, Anthropic's official CLI for Claude.",
                    "Your task is to create a detailed summary of the conversation so far.",
                ],
                Harness::ClaudeCodeUtility {
                    utility: Utility::Summary,
                },
            ),
            (
                &[
                    "You are Claude Code, Anthropic's official CLI for Claude.",
                    "Analyze if this message indicates a new conversation topic.",
                ],
                Harness::ClaudeCodeUtility {
                    utility: Utility::Topic,
                },
            ),
            (
                &["You are a coding agent running in the Codex CLI, a terminal-based coding assistant."],
                Harness::Codex,
            ),
            (
                &["Act as an expert software developer.\nAlways use best practices.\n# *SEARCH/REPLACE block* Rules:"],
                Harness::Aider {
                    edit_format: AiderEditFormat::SearchReplace,
                },
            ),
            (
                &["Act as an expert software developer.\nYou MUST use this *file listing* format:"],
                Harness::Aider {
                    edit_format: AiderEditFormat::Whole,
                },
            ),
            (
                &["Act as an expert software developer.\nYou are diligent and tireless!\nReturn edits similar to unified diffs that `diff -U0` would produce."],
                Harness::Aider {
                    edit_format: AiderEditFormat::Udiff,
                },
            ),
            (
                &["Act as an expert architect engineer and provide direction to your editor engineer."],
                Harness::Aider {
                    edit_format: AiderEditFormat::Architect,
                },
            ),
            (
                &["Act as an expert code analyst.\nAnswer questions about the supplied code."],
                Harness::Aider {
                    edit_format: AiderEditFormat::Ask,
                },
            ),
            (
                &["You are an expert software engineer that generates concise, one-line Git commit messages based on the provided diffs."],
                Harness::AiderUtility {
                    utility: Utility::CommitMessage,
                },
            ),
            (&["be brief"], Harness::Sdk),
            (&[], Harness::Sdk),
            // A system prompt that merely mentions Claude Code later on is not Claude Code.
            (
                &["You are a helpful assistant. You are Claude Code, Anthropic's official CLI for Claude."],
                Harness::Sdk,
            ),
        ];
        for (blocks, want) in cases {
            assert_eq!(fingerprint(&sys(blocks)), *want, "{blocks:?}");
        }
    }

    #[test]
    fn head_cuts_on_char_boundaries() {
        assert_eq!(head("héllo", 2), "h");
        assert_eq!(head("héllo", 3), "hé");
        assert_eq!(head("abc", 10), "abc");
    }
}
