//! anvil's Tier-0 classifier (pure: no I/O, no async, no clock).
//!
//! [`classify`] gives a request's work class, a confidence in `0..=1` and the [`Signals`] it used.
//! It runs on every request, on real harness traffic where each request carries a system prompt of
//! 10–100 KB and dozens of tools, so it never scans the system prompt for keywords: it fingerprints
//! the harness and role from the first system blocks ([`Harness`]), then reads the conversation:
//!
//! * the latest text a human wrote — when the last turn is tool results it looks back to the task;
//!   blocks harnesses inject (`<system-reminder>`, `<environment_context>`, aider's format
//!   reminders) are skipped — matched against a small table of weighted word and phrase cues;
//! * what the assistant is in the middle of since that text: edit/write calls and the distinct files
//!   they touch, plan-mode and todo/task tools, a `git diff` or a tool result that is a diff;
//! * images, `thinking`, and a prompt-token estimate.
//!
//! Background utility calls (titles, summaries, topic detection, commit messages) are `chat`.
//! A long-running caller classifies through a [`Classifier`], which reads each distinct human text
//! once (a tool loop repeats it on every request) and everything else on every request.
//! `long-context` is decided by size (see [`LONG_CONTEXT_CONVERSATION_TOKENS`]). Otherwise each cue
//! adds weight to a class; the class with the most weight wins, and the confidence grows with its
//! margin over the runner-up: a request with no cue, or with two classes close together, gets a
//! confidence below 0.5, and the policy routes it to the safer tier.
//!
//! ```
//! use anvil_classify::classify;
//! use anvil_config::WorkClass;
//! use anvil_dialects::canonical::{Message, Part, Request, Role};
//!
//! let request = Request {
//!     messages: vec![Message {
//!         role: Role::User,
//!         content: vec![Part::Text {
//!             text: "Write a plan for migrating the storage layer; no code yet".into(),
//!             cache_control: None,
//!         }],
//!     }],
//!     ..Request::default()
//! };
//! let c = classify(&request);
//! assert_eq!(c.work_class, WorkClass::Planning);
//! assert!(c.confidence >= 0.7);
//! ```

mod conversation;
pub mod fingerprint;
mod intent;

use anvil_config::WorkClass;
use anvil_dialects::canonical::{
    MediaSource, Part, Request, ThinkingConfig, Tool, ToolResultContent,
};
use serde::Serialize;
use serde_json::Value;

pub use fingerprint::{fingerprint, AiderEditFormat, Harness, Utility};
use intent::idx;

/// A conversation (the messages, without the harness's fixed system prompt and tool schemas) of at
/// least this many estimated tokens is `long-context`: 60% of a 32k window. The harness overhead is
/// left out on purpose: Claude Code's system prompt and tools alone estimate at 22–29k tokens on
/// every request, which says nothing about the work; the policy separately drops tiers whose
/// `context_limit` the whole prompt does not fit.
pub const LONG_CONTEXT_CONVERSATION_TOKENS: u64 = 32_768 * 6 / 10;

/// A whole prompt (system, tools and messages) of at least this many estimated tokens is
/// `long-context` whatever the conversation: 60% of a 128k window.
pub const LONG_CONTEXT_TOTAL_TOKENS: u64 = 131_072 * 6 / 10;

/// The token estimate of one image or document block (roughly what providers bill for a screenshot).
pub const MEDIA_TOKENS: u64 = 1_600;

/// Below this a classification is ambiguous.
pub const AMBIGUOUS_BELOW: f32 = 0.5;

/// The classifier's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// The work class.
    pub work_class: WorkClass,
    /// How sure the classifier is, `0..=1`: below [`AMBIGUOUS_BELOW`] the request is ambiguous, at
    /// 0.7 or more it is confident.
    pub confidence: f32,
    /// What the classification was based on.
    pub signals: Signals,
}

/// What the classifier used, for decision records and `/v1/route` (no prompt text).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signals {
    /// The harness and role, from the system prompt's fingerprint.
    pub harness: Harness,
    /// The work class the latest human text points to, if any cue matched.
    pub intent: Option<&'static str>,
    /// How many cues matched the latest human text.
    pub intent_cues: u32,
    /// Length in bytes of the latest human text (harness reminders removed).
    pub human_text_bytes: u64,
    /// Human turns in the conversation.
    pub human_turns: u32,
    /// Distinct file names the latest human text mentions (at most 16).
    pub files_mentioned: u32,
    /// Tool calls the assistant made since the latest human text.
    pub tool_calls_since_human: u32,
    /// Edit/write calls since the latest human text (a run of edits in progress).
    pub edits_since_human: u32,
    /// Distinct files edited since the latest human text.
    pub files_edited_since_human: u32,
    /// Distinct files edited in the whole session.
    pub files_edited: u32,
    /// Plan / todo / task tool calls since the latest human text.
    pub plan_calls: u32,
    /// Whether the assistant is in plan mode (entered and not left since the latest human text).
    pub plan_mode: bool,
    /// Whether the assistant is looking at a diff (ran `git diff`/`git show`, a tool result is a diff,
    /// or the human pasted one).
    pub reviewing_diff: bool,
    /// Images in user turns and tool results.
    pub images: u32,
    /// Whether extended thinking is on (enabled or adaptive).
    pub thinking: bool,
    /// Prompt-token estimate: system, tool schemas and messages ([`estimate_prompt_tokens`]).
    pub prompt_tokens: u64,
    /// The messages' share of `prompt_tokens`.
    pub conversation_tokens: u64,
}

/// Classifies a request.
pub fn classify(request: &Request) -> Classification {
    classify_with(request, text_cues)
}

/// What the latest human text alone says: the weights of its cues, how many matched, the files it
/// names and whether it holds a pasted diff. A pure function of the text.
#[derive(Debug, Clone, Copy, PartialEq)]
struct TextCues {
    scores: intent::Scores,
    intent_cues: u32,
    files_mentioned: u32,
    pasted_diff: bool,
}

fn text_cues(text: &str) -> TextCues {
    // the prose lines are cut once, for the intent cues and the file mentions
    let prose: Vec<&str> = intent::prose_lines(text).collect();
    let mut normalized = String::with_capacity(text.len().min(intent::MAX_TEXT) + 2);
    intent::normalize_lines(prose.iter().copied(), &mut normalized);
    let mut scores = [0.0f32; 6];
    let intent_cues = intent::score(&normalized, &mut scores);
    let files_mentioned = intent::file_mentions_in_lines(prose.iter().copied());
    // memchr's vector substring search: `str::contains` was a tenth of classify's time here
    let markers = intent::markers();
    let has = |marker: &memchr::memmem::Finder<'_>| marker.find(text.as_bytes()).is_some();
    let pasted_diff =
        has(&markers.diff_git) || (has(&markers.new_file_line) && has(&markers.hunk_line));
    TextCues {
        scores,
        intent_cues,
        files_mentioned,
        pasted_diff,
    }
}

/// Human texts at least this long go through [`Classifier`]'s memo; a shorter one is read faster
/// than it is hashed and looked up.
const MEMO_MIN_BYTES: usize = 256;

/// Slots of [`Classifier`]'s memo (direct-mapped: a text's hash picks its slot).
const MEMO_SLOTS: usize = 256;

/// [`classify`] with a memo of what recent human texts said.
///
/// A coding agent sends the same latest human text on every request of a tool loop: Claude Code
/// asks a question, then calls tools for dozens of turns, and each turn's request ends with tool
/// results under that same text. Reading the text (cutting its prose lines, normalizing them,
/// matching the cue table, looking for file names and diffs) is most of what classifying costs, and
/// its result depends on the text alone, so the memo keeps it per text: a 64-bit hash (randomly
/// seeded per process) and the length, never the text. Everything that changes from turn to turn
/// (the tool calls since the text, edits, plan mode, the token estimate) is read on every request.
/// A hit gives what [`classify`] gives: two texts are confused only if they have the same length
/// and the same 64-bit hash under a seed the process drew at random.
pub struct Classifier {
    memo: std::sync::Mutex<Vec<MemoSlot>>,
    hasher: foldhash::fast::RandomState,
    hits: std::sync::atomic::AtomicU64,
}

#[derive(Clone, Copy)]
struct MemoSlot {
    hash: u64,
    len: usize,
    cues: Option<TextCues>,
}

impl Default for Classifier {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("memo_hits", &self.memo_hits())
            .finish_non_exhaustive()
    }
}

impl Classifier {
    /// An empty memo.
    pub fn new() -> Self {
        let empty = MemoSlot {
            hash: 0,
            len: 0,
            cues: None,
        };
        Self {
            memo: std::sync::Mutex::new(vec![empty; MEMO_SLOTS]),
            hasher: foldhash::fast::RandomState::default(),
            hits: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Classifies a request, as [`classify`] does.
    pub fn classify(&self, request: &Request) -> Classification {
        classify_with(request, |text| self.text_cues(text))
    }

    /// How many classifications found their human text in the memo.
    pub fn memo_hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn text_cues(&self, text: &str) -> TextCues {
        use std::hash::BuildHasher;
        if text.len() < MEMO_MIN_BYTES {
            return text_cues(text);
        }
        let hash = self.hasher.hash_one(text);
        let at = (hash % MEMO_SLOTS as u64) as usize;
        let remembered = {
            let memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
            let slot = memo[at];
            slot.cues
                .filter(|_| slot.hash == hash && slot.len == text.len())
        };
        if let Some(cues) = remembered {
            self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return cues;
        }
        let cues = text_cues(text);
        self.memo.lock().unwrap_or_else(|e| e.into_inner())[at] = MemoSlot {
            hash,
            len: text.len(),
            cues: Some(cues),
        };
        cues
    }
}

/// [`classify`], reading the human text with `read_text`.
fn classify_with(request: &Request, read_text: impl FnOnce(&str) -> TextCues) -> Classification {
    let harness = fingerprint(request);
    let st = conversation::read(request, harness);
    let (harness_tokens, conversation_tokens) = estimate(request);
    let prompt_tokens = harness_tokens + conversation_tokens;

    let TextCues {
        scores: text_scores,
        intent_cues,
        files_mentioned,
        pasted_diff,
    } = read_text(st.human_text);

    let intent = if intent_cues > 0 {
        Some(argmax(&text_scores).0.as_str())
    } else {
        None
    };

    let signals = Signals {
        harness,
        intent,
        intent_cues,
        human_text_bytes: st.human_text.len() as u64,
        human_turns: st.human_turns,
        files_mentioned,
        tool_calls_since_human: st.tool_calls_since_human,
        edits_since_human: st.edits_since_human,
        files_edited_since_human: st.files_since_human,
        files_edited: st.files_total,
        plan_calls: st.plan_calls,
        plan_mode: st.plan_mode,
        reviewing_diff: st.diff_viewed || pasted_diff,
        images: st.images,
        thinking: matches!(
            request.thinking,
            Some(ThinkingConfig::Enabled { .. } | ThinkingConfig::Adaptive)
        ),
        prompt_tokens,
        conversation_tokens,
    };

    if harness.is_utility() {
        return Classification {
            work_class: WorkClass::Chat,
            confidence: 0.95,
            signals,
        };
    }
    if conversation_tokens >= LONG_CONTEXT_CONVERSATION_TOKENS
        || prompt_tokens >= LONG_CONTEXT_TOTAL_TOKENS
    {
        // The further past the threshold, the surer.
        let over = conversation_tokens as f32 / LONG_CONTEXT_CONVERSATION_TOKENS as f32;
        let confidence = if prompt_tokens >= LONG_CONTEXT_TOTAL_TOKENS {
            0.95
        } else {
            (0.6 + 0.3 * (over - 1.0)).clamp(0.6, 0.95)
        };
        return Classification {
            work_class: WorkClass::LongContext,
            confidence,
            signals,
        };
    }

    let mut s = text_scores;
    // Size-based cues below the threshold do not decide long-context.
    s[idx(WorkClass::LongContext)] = 0.0;
    // What the human pointed at.
    if files_mentioned >= 3 {
        s[idx(WorkClass::MultiFileRefactor)] += 1.5;
    } else if files_mentioned >= 1 {
        s[idx(WorkClass::BoundedEdit)] += 0.5;
    }
    if pasted_diff {
        s[idx(WorkClass::Review)] += 1.5;
    }
    // What the assistant is in the middle of.
    if st.plan_mode {
        s[idx(WorkClass::Planning)] += 3.0;
    } else if st.plan_calls > 0 {
        s[idx(WorkClass::Planning)] += 1.0;
    }
    match st.files_since_human {
        0 => {}
        1 => s[idx(WorkClass::BoundedEdit)] += 2.0,
        2 => {
            s[idx(WorkClass::BoundedEdit)] += 1.0;
            s[idx(WorkClass::MultiFileRefactor)] += 1.5;
        }
        _ => s[idx(WorkClass::MultiFileRefactor)] += 3.0,
    }
    if st.files_since_human == 0 && st.files_total >= 3 {
        // earlier turns of this session refactored several files
        s[idx(WorkClass::MultiFileRefactor)] += 0.5;
    }
    if st.diff_viewed && st.edits_since_human == 0 {
        s[idx(WorkClass::Review)] += 2.0;
    }
    // What the harness's role implies.
    match harness {
        Harness::Aider {
            edit_format: AiderEditFormat::Ask,
        } => s[idx(WorkClass::Chat)] += 1.0,
        Harness::Aider {
            edit_format: AiderEditFormat::Architect,
        } => s[idx(WorkClass::Planning)] += 0.5,
        Harness::Aider { .. } => s[idx(WorkClass::BoundedEdit)] += 0.5,
        _ => {}
    }
    if st.human_text.trim_end().ends_with('?') {
        s[idx(WorkClass::Chat)] += 0.5;
    }

    let (class, top) = argmax(&s);
    let runner_up = WorkClass::ALL
        .into_iter()
        .filter(|w| *w != class)
        .map(|w| s[idx(w)])
        .fold(0.0f32, f32::max);
    let (work_class, mut confidence) = if top <= 0.0 {
        // no cue at all: chat, unsure
        (WorkClass::Chat, 0.3)
    } else {
        let margin = top - runner_up;
        (class, 0.25 + 0.7 * (1.0 - (-0.6 * margin).exp()))
    };
    // Never call heavy work light with confidence: if planning or refactoring cues are strong, a
    // chat / bounded-edit verdict stays ambiguous.
    if matches!(work_class, WorkClass::Chat | WorkClass::BoundedEdit)
        && s[idx(WorkClass::Planning)].max(s[idx(WorkClass::MultiFileRefactor)]) >= 1.5
    {
        confidence = confidence.min(0.6);
    }
    Classification {
        work_class,
        confidence: confidence.clamp(0.0, 1.0),
        signals,
    }
}

/// The order ties are broken in: the heavier work first, so a tie never makes work look lighter.
const TIE_ORDER: [WorkClass; 6] = [
    WorkClass::LongContext,
    WorkClass::Planning,
    WorkClass::MultiFileRefactor,
    WorkClass::Review,
    WorkClass::BoundedEdit,
    WorkClass::Chat,
];

/// The class with the highest score (the heavier one on ties) and its score.
fn argmax(s: &intent::Scores) -> (WorkClass, f32) {
    let mut best = (WorkClass::Chat, f32::MIN);
    for w in TIE_ORDER {
        if s[idx(w)] > best.1 {
            best = (w, s[idx(w)]);
        }
    }
    best
}

/// Estimates the prompt tokens of a request: bytes / 4 over the system prompt, the tool schemas and
/// every message part, plus [`MEDIA_TOKENS`] per image or document. Cheap (no serialization); the
/// policy compares it with tiers' context limits.
pub fn estimate_prompt_tokens(request: &Request) -> u64 {
    let (harness, conversation) = estimate(request);
    harness + conversation
}

/// (system + tools, messages) token estimates.
fn estimate(req: &Request) -> (u64, u64) {
    let mut fixed: u64 = req.system.iter().map(|p| p.text.len() as u64).sum();
    for tool in &req.tools {
        fixed += match tool {
            Tool::Function(f) => {
                f.name.len() as u64
                    + f.description.as_ref().map_or(0, |d| d.len() as u64)
                    + json_len(&f.parameters)
            }
            Tool::Native { raw, .. } => json_len(raw),
        };
    }
    let mut bytes = 0u64;
    let mut media = 0u64;
    for msg in &req.messages {
        for part in &msg.content {
            part_size(part, &mut bytes, &mut media);
        }
    }
    (fixed / 4, bytes / 4 + media * MEDIA_TOKENS)
}

fn part_size(part: &Part, bytes: &mut u64, media: &mut u64) {
    match part {
        Part::Text { text, .. } => *bytes += text.len() as u64,
        Part::Image { .. } => *media += 1,
        Part::Document { source, .. } => match source {
            MediaSource::Text(t) => *bytes += t.len() as u64,
            _ => *media += 1,
        },
        Part::ToolUse {
            name, arguments, ..
        } => *bytes += (name.len() + arguments.len()) as u64,
        Part::ToolResult { content, .. } => match content {
            ToolResultContent::Text(t) => *bytes += t.len() as u64,
            ToolResultContent::Parts(parts) => {
                for p in parts {
                    part_size(p, bytes, media);
                }
            }
        },
        Part::Thinking { text, .. } => *bytes += text.len() as u64,
        Part::RedactedThinking { data, .. } => *bytes += data.len() as u64 * 3 / 4,
    }
}

/// Approximately the serialized length of a JSON value, without serializing it.
fn json_len(v: &Value) -> u64 {
    match v {
        Value::Null => 4,
        Value::Bool(_) => 5,
        Value::Number(_) => 4,
        Value::String(s) => s.len() as u64 + 2,
        Value::Array(a) => 2 + a.iter().map(|x| json_len(x) + 1).sum::<u64>(),
        Value::Object(o) => {
            2 + o
                .iter()
                .map(|(k, x)| k.len() as u64 + 4 + json_len(x))
                .sum::<u64>()
        }
    }
}

#[cfg(test)]
mod tests;
