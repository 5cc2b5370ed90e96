//! Shared helpers for the cross-dialect golden tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use anvil_dialects::canonical::{
    self, BlockStart, Delta, MediaSource, Part, StopReason, StreamEvent, Tool, ToolResultContent,
};
use anvil_dialects::Dialect;
use serde_json::Value;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One captured client request.
pub struct Capture {
    pub name: String,
    pub dialect: Dialect,
    pub body: Value,
}

/// Every captured request that has a JSON body on a dialect endpoint.
pub fn captures() -> Vec<Capture> {
    let dir = repo_root().join("tests/fixtures/clients");
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let capture: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let body = &capture["body_json"];
        if !body.is_object() {
            continue;
        }
        let url = capture["path"].as_str().unwrap();
        let dialect = if url.ends_with("/v1/messages") || url.ends_with("/v1/messages/count_tokens")
        {
            Dialect::Anthropic
        } else if url.ends_with("/v1/chat/completions") {
            Dialect::OpenAiChat
        } else if url.ends_with("/v1/responses") {
            Dialect::Responses
        } else {
            panic!("{}: unexpected path {url}", path.display());
        };
        out.push(Capture {
            name: path.file_stem().unwrap().to_string_lossy().into_owned(),
            dialect,
            body: body.clone(),
        });
    }
    assert!(
        out.len() >= 20,
        "expected the captured fixtures, found {}",
        out.len()
    );
    out
}

/// Recorded upstream streams: (dialect, file name, bytes).
pub fn recorded_streams() -> Vec<(Dialect, String, Vec<u8>)> {
    let mut out = Vec::new();
    for dialect in Dialect::ALL {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/streams")
            .join(dialect.as_str());
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sse"))
            .collect();
        paths.sort();
        assert!(
            !paths.is_empty(),
            "no recorded streams in {}",
            dir.display()
        );
        for path in paths {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.push((dialect, name, std::fs::read(&path).unwrap()));
        }
    }
    out
}

/// What a translation must keep of a request: text, tools, tool calls and results, images, thinking and
/// stop settings. Texts of one message are joined, so a dialect that merges adjacent text parts still
/// compares equal; empty texts are skipped.
#[derive(Debug, PartialEq)]
pub struct RequestSummary {
    pub system: String,
    pub turns: Vec<(String, String)>,
    pub tools: Vec<(String, Value)>,
    pub native_tools: usize,
    pub tool_calls: Vec<(String, String, Value)>,
    pub tool_results: Vec<(String, String, bool)>,
    pub images: Vec<String>,
    pub thinking: Vec<String>,
    pub stop: Vec<String>,
    pub max_tokens: Option<u64>,
    pub thinking_on: bool,
    pub tool_choice: Option<String>,
}

fn role_name(role: canonical::Role) -> &'static str {
    match role {
        canonical::Role::System | canonical::Role::Developer => "system",
        canonical::Role::User => "user",
        canonical::Role::Assistant => "assistant",
    }
}

fn media(source: &MediaSource) -> String {
    match source {
        MediaSource::Base64 { media_type, data } => format!("{media_type};{}", data.len()),
        MediaSource::Url(u) => u.clone(),
        MediaSource::Text(t) => format!("text;{}", t.len()),
        MediaSource::FileId(f) => format!("file;{f}"),
    }
}

fn text_of_result(content: &ToolResultContent) -> String {
    match content {
        ToolResultContent::Text(t) => t.clone(),
        ToolResultContent::Parts(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Part::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(""),
    }
}

/// The fields of two summaries that differ, each shown around its first difference.
pub fn summary_diff(a: &RequestSummary, b: &RequestSummary) -> String {
    fn show<T: std::fmt::Debug>(name: &str, a: &T, b: &T, out: &mut String) {
        let (a, b) = (format!("{a:?}"), format!("{b:?}"));
        if a != b {
            let at = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
            let from = at.saturating_sub(80);
            let clip = |s: &str| s.chars().skip(from).take(240).collect::<String>();
            out.push_str(&format!(
                "\n    {name} (from char {from}):\n      {}\n      {}",
                clip(&a),
                clip(&b)
            ));
        }
    }
    let mut out = String::new();
    show("system", &a.system, &b.system, &mut out);
    show("turns", &a.turns, &b.turns, &mut out);
    show("tools", &a.tools, &b.tools, &mut out);
    show("native_tools", &a.native_tools, &b.native_tools, &mut out);
    show("tool_calls", &a.tool_calls, &b.tool_calls, &mut out);
    show("tool_results", &a.tool_results, &b.tool_results, &mut out);
    show("images", &a.images, &b.images, &mut out);
    show("thinking", &a.thinking, &b.thinking, &mut out);
    show("stop", &a.stop, &b.stop, &mut out);
    show("max_tokens", &a.max_tokens, &b.max_tokens, &mut out);
    show("thinking_on", &a.thinking_on, &b.thinking_on, &mut out);
    show("tool_choice", &a.tool_choice, &b.tool_choice, &mut out);
    out
}

pub fn summarize(req: &canonical::Request) -> RequestSummary {
    let mut s = RequestSummary {
        system: req
            .system
            .iter()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join(""),
        turns: Vec::new(),
        tools: Vec::new(),
        native_tools: 0,
        tool_calls: Vec::new(),
        tool_results: Vec::new(),
        images: Vec::new(),
        thinking: Vec::new(),
        stop: req.stop.clone(),
        max_tokens: req.max_tokens,
        thinking_on: matches!(
            req.thinking,
            Some(canonical::ThinkingConfig::Enabled { .. } | canonical::ThinkingConfig::Adaptive)
        ),
        tool_choice: req.tool_choice.as_ref().map(|c| format!("{c:?}")),
    };
    for tool in &req.tools {
        match tool {
            Tool::Function(f) => s.tools.push((f.name.clone(), f.parameters.clone())),
            Tool::Native { .. } => s.native_tools += 1,
        }
    }
    for message in &req.messages {
        let mut text = String::new();
        for part in &message.content {
            match part {
                Part::Text { text: t, .. } => text.push_str(t),
                Part::Image { source, .. } => s.images.push(media(source)),
                Part::Document { source, .. } => s.images.push(media(source)),
                Part::ToolUse {
                    id,
                    name,
                    arguments,
                    ..
                } => s.tool_calls.push((
                    id.clone(),
                    name.clone(),
                    serde_json::from_str(arguments).unwrap_or(Value::String(arguments.clone())),
                )),
                Part::ToolResult {
                    tool_use_id,
                    content,
                    is_error,
                    ..
                } => s
                    .tool_results
                    .push((tool_use_id.clone(), text_of_result(content), *is_error)),
                Part::Thinking { text, .. } => s.thinking.push(text.clone()),
                Part::RedactedThinking { .. } => {}
            }
        }
        if !text.is_empty() {
            s.turns.push((role_name(message.role).to_owned(), text));
        }
    }
    s
}

/// What a stream translation must keep.
#[derive(Debug, PartialEq, Default)]
pub struct StreamSummary {
    pub text: String,
    pub thinking: String,
    /// (id, name, arguments text byte for byte)
    pub tool_calls: Vec<(String, String, String)>,
    pub stop_reason: Option<StopReason>,
    pub output_tokens: Option<u64>,
    pub input_tokens_total: Option<u64>,
    pub ended: bool,
}

pub fn summarize_stream(events: &[StreamEvent]) -> StreamSummary {
    let mut s = StreamSummary::default();
    for event in events {
        match event {
            StreamEvent::BlockStart {
                block: BlockStart::ToolUse { id, name },
                ..
            } => s.tool_calls.push((id.clone(), name.clone(), String::new())),
            StreamEvent::Delta { delta, .. } => match delta {
                Delta::Text(t) => s.text.push_str(t),
                Delta::Thinking(t) => s.thinking.push_str(t),
                Delta::ToolArguments(a) => s.tool_calls.last_mut().unwrap().2.push_str(a),
                Delta::Signature(_) => {}
            },
            StreamEvent::Finish {
                stop_reason, usage, ..
            } => {
                s.stop_reason = stop_reason.clone();
                if let Some(u) = usage {
                    s.output_tokens = Some(u.output_tokens);
                    s.input_tokens_total = Some(
                        u.input_tokens
                            + u.cache_read_input_tokens.unwrap_or(0)
                            + u.cache_creation_input_tokens.unwrap_or(0),
                    );
                }
            }
            StreamEvent::End => s.ended = true,
            _ => {}
        }
    }
    s
}

/// Checks the canonical stream invariant: Start, blocks 0.. one open at a time, Finish, End.
pub fn check_canonical(events: &[StreamEvent]) -> Result<(), String> {
    let mut iter = events.iter().filter(|e| !matches!(e, StreamEvent::Ping));
    match iter.next() {
        Some(StreamEvent::Start { .. }) => {}
        other => return Err(format!("first event is {other:?}, not Start")),
    }
    let mut next_index = 0usize;
    let mut open: Option<(usize, &BlockStart)> = None;
    let mut finished = false;
    let mut ended = false;
    for event in iter {
        if ended {
            return Err(format!("{event:?} after End"));
        }
        match event {
            StreamEvent::BlockStart { index, block } => {
                if finished || open.is_some() || *index != next_index {
                    return Err(format!(
                        "bad BlockStart {index} (open {open:?}, next {next_index})"
                    ));
                }
                open = Some((*index, block));
                next_index += 1;
            }
            StreamEvent::Delta { index, delta } => {
                let Some((i, block)) = open else {
                    return Err(format!("delta {delta:?} with no open block"));
                };
                let ok = matches!(
                    (block, delta),
                    (BlockStart::Text, Delta::Text(_))
                        | (
                            BlockStart::Thinking,
                            Delta::Thinking(_) | Delta::Signature(_)
                        )
                        | (BlockStart::ToolUse { .. }, Delta::ToolArguments(_))
                );
                if i != *index || !ok {
                    return Err(format!(
                        "delta {delta:?} at {index} does not fit block {i} {block:?}"
                    ));
                }
            }
            StreamEvent::BlockStop { index } => match open {
                Some((i, _)) if i == *index => open = None,
                _ => return Err(format!("BlockStop {index} with open {open:?}")),
            },
            StreamEvent::Finish { .. } => {
                if open.is_some() || finished {
                    return Err("Finish with an open block or twice".into());
                }
                finished = true;
            }
            StreamEvent::End => {
                if !finished {
                    return Err("End before Finish".into());
                }
                ended = true;
            }
            StreamEvent::Start { .. } => return Err("second Start".into()),
            StreamEvent::Error { .. } => return Ok(()),
            StreamEvent::Ping => {}
        }
    }
    if !ended {
        return Err("no End".into());
    }
    Ok(())
}
