//! Start-up personas: the mock answering Chat Completions like a (healthy or broken) model.
//!
//! `anvil-mock-upstream --persona NAME` (or [`MockState::with_persona`]) makes the mock answer
//! `POST /v1/chat/completions` from the request's content instead of from `MOCK:` directives, so a
//! client that sends its own fixed prompts (`anvil-substrate preflight`, `benchmark`, `eval`) meets
//! a model that behaves well or in one chosen broken way. A last user turn that holds a `MOCK:`
//! directive still gets the directive behaviour, and every other route is unchanged, except
//! `GET /v1/models`, which lists `mock-model` with `max_model_len` [`MAX_MODEL_LEN`].
//!
//! What the healthy persona answers, by the last user turn:
//! * tools offered: one call of the first tool; each required argument is `1` for numbers, `true`
//!   for booleans, and for strings the word after ` in ` in the question (`Oakland` in "What's the
//!   weather in Oakland?"), else `"x"`. Finish reason `tool_calls`.
//! * a line `… code is X.` anywhere (a needle in a haystack): `X`.
//! * the word `JSON`: the first `{…}` object of the question re-emitted when it parses, else
//!   `{"ok": true}`.
//! * `sum of a list`: `` sum(xs) ``.
//! * `What is A + B`: the sum.
//! * anything else: `min(max_tokens, 64)` pieces ` w1 w2 …`, finish reason `length` when that hit
//!   `max_tokens`, else `stop`.
//!
//! Non-streamed answers of the healthy persona carry a short `reasoning_content` unless the request
//! sets `chat_template_kwargs.enable_thinking: false`. Streamed answers send one content delta per
//! piece, 1 ms apart, then (with `stream_options.include_usage`) a usage chunk.
//!
//! Usage: `prompt_tokens` = characters of all message contents / 4 (rounded up);
//! `prompt_tokens_details.cached_tokens` simulates a prefix cache: the longest common character
//! prefix with any of the last 64 prompts this mock saw, / 4, rounded down to a 16-token block.
//! `completion_tokens` = the number of content pieces (the reasoning is not counted).
//!
//! The broken personas differ from the healthy one in one way each:
//! `broken-json` truncates every JSON answer (`{"language": "python", "ok": tru`);
//! `lose-needle` answers a needle question with `I could not find a launch code.`;
//! `starve-thinking` answers everything with a long `reasoning_content`, empty content, finish
//! reason `length` and `completion_tokens` = `max_tokens` (the reasoning ate the budget);
//! `garbage-tools` answers tool requests with raw template tokens in the content
//! (`<|tool_call|>get_weather<|end|>`) and no structured call.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use crate::body::MockBody;
use crate::state::EventOnDrop;

/// The `max_model_len` that `GET /v1/models` reports under a persona.
pub const MAX_MODEL_LEN: u64 = 32768;
/// How many past prompts the prefix-cache simulation remembers.
const REMEMBERED_PROMPTS: usize = 64;
/// The prefix cache's block size in tokens.
const CACHE_BLOCK: u64 = 16;
/// The gap between streamed content deltas.
const DELTA_GAP: Duration = Duration::from_millis(1);

/// How the mock behaves as a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persona {
    /// Answers like a competent model.
    Healthy,
    /// Truncates JSON answers.
    BrokenJson,
    /// Misses the needle in a long context.
    LoseNeedle,
    /// Spends the whole token budget on reasoning and answers nothing.
    StarveThinking,
    /// Leaks raw tool-call template tokens into the content instead of calling the tool.
    GarbageTools,
}

impl Persona {
    /// Every persona, by its command-line name.
    pub const ALL: [(&'static str, Persona); 5] = [
        ("healthy", Persona::Healthy),
        ("broken-json", Persona::BrokenJson),
        ("lose-needle", Persona::LoseNeedle),
        ("starve-thinking", Persona::StarveThinking),
        ("garbage-tools", Persona::GarbageTools),
    ];

    /// The persona named `name`, if any.
    pub fn from_name(name: &str) -> Option<Persona> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }
}

/// A persona and its prefix-cache memory.
#[derive(Debug)]
pub(crate) struct PersonaState {
    persona: Persona,
    prompts: Mutex<VecDeque<String>>,
}

impl PersonaState {
    pub(crate) fn new(persona: Persona) -> Self {
        Self {
            persona,
            prompts: Mutex::new(VecDeque::new()),
        }
    }

    /// Cached tokens for `prompt` (see the module docs), then remembers it.
    fn cached_tokens(&self, prompt: &str) -> u64 {
        let mut prompts = self
            .prompts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let best = prompts
            .iter()
            .map(|p| {
                p.bytes()
                    .zip(prompt.bytes())
                    .take_while(|(a, b)| a == b)
                    .count()
            })
            .max()
            .unwrap_or(0);
        if prompts.len() == REMEMBERED_PROMPTS {
            prompts.pop_front();
        }
        prompts.push_back(prompt.to_owned());
        let tokens = u64::try_from(best).unwrap_or(u64::MAX) / 4;
        tokens - tokens % CACHE_BLOCK
    }
}

/// What the persona says.
struct Answer {
    reasoning: Option<String>,
    pieces: Vec<String>,
    tool: Option<(String, String)>,
    finish: &'static str,
    completion_tokens: u64,
}

fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The answer to a needle question: the text after `code is ` up to the next `.` or newline.
fn needle(text: &str) -> Option<String> {
    let at = text.find("code is ")? + "code is ".len();
    let rest = &text[at..];
    let end = rest.find(['\n', ' ']).unwrap_or(rest.len());
    let code = rest[..end].trim_end_matches('.');
    (!code.is_empty()).then(|| code.to_owned())
}

fn first_object(text: &str) -> Option<String> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    let candidate = text.get(start..=end)?;
    serde_json::from_str::<Map<String, Value>>(candidate)
        .ok()
        .map(|_| candidate.to_owned())
}

fn addition(text: &str) -> Option<i64> {
    let rest = &text[text.find("What is ")? + "What is ".len()..];
    let (a, b) = rest.split_once('+')?;
    let a: i64 = a.trim().parse().ok()?;
    let b: String = b
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    Some(a + b.parse::<i64>().ok()?)
}

fn tool_arguments(schema: &Value, question: &str) -> String {
    let place = question.split(" in ").nth(1).map(|rest| {
        rest.chars()
            .take_while(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
            .collect::<String>()
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_owned()
    });
    let mut args = Map::new();
    let required = schema
        .get("required")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for name in required.iter().filter_map(Value::as_str) {
        let ty = schema
            .pointer(&format!("/properties/{name}/type"))
            .and_then(Value::as_str)
            .unwrap_or("string");
        let value = match ty {
            "integer" | "number" => json!(1),
            "boolean" => json!(true),
            "array" => json!([]),
            "object" => json!({}),
            _ => json!(place
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "x".to_owned())),
        };
        args.insert(name.to_owned(), value);
    }
    Value::Object(args).to_string()
}

fn answer(persona: Persona, body: &Value, question: &str, max_tokens: u64) -> Answer {
    let thinking_off = body.pointer("/chat_template_kwargs/enable_thinking") == Some(&json!(false));
    let reasoning = (!thinking_off).then(|| "Let me think.".to_owned());
    let one = |text: String| Answer {
        reasoning: reasoning.clone(),
        completion_tokens: 1,
        pieces: vec![text],
        tool: None,
        finish: "stop",
    };
    if persona == Persona::StarveThinking {
        return Answer {
            reasoning: Some("Let me think about this carefully. ".repeat(40)),
            pieces: Vec::new(),
            tool: None,
            finish: "length",
            completion_tokens: max_tokens,
        };
    }
    let tool = body
        .get("tools")
        .and_then(Value::as_array)
        .and_then(|tools| tools.first())
        .and_then(|t| t.get("function"))
        .and_then(|f| {
            let name = f.get("name")?.as_str()?.to_owned();
            Some((name, f.get("parameters").cloned().unwrap_or(json!({}))))
        });
    if let Some((name, schema)) = tool {
        if persona == Persona::GarbageTools {
            return one(format!("<|tool_call|>{name}<|end|>"));
        }
        return Answer {
            reasoning,
            pieces: Vec::new(),
            tool: Some((name, tool_arguments(&schema, question))),
            finish: "tool_calls",
            completion_tokens: 12,
        };
    }
    if let Some(code) = needle(question) {
        if persona == Persona::LoseNeedle {
            return one("I could not find a launch code.".to_owned());
        }
        return one(code);
    }
    if question.contains("JSON") {
        if persona == Persona::BrokenJson {
            return one("{\"language\": \"python\", \"ok\": tru".to_owned());
        }
        return one(first_object(question).unwrap_or_else(|| "{\"ok\": true}".to_owned()));
    }
    if question.contains("sum of a list") {
        return one("sum(xs)".to_owned());
    }
    if let Some(sum) = addition(question) {
        return one(sum.to_string());
    }
    let n = max_tokens.clamp(1, 64);
    Answer {
        reasoning,
        pieces: (1..=n).map(|i| format!(" w{i}")).collect(),
        tool: None,
        finish: if n == max_tokens { "length" } else { "stop" },
        completion_tokens: n,
    }
}

fn usage(prompt_tokens: u64, cached: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    })
}

fn json_reply(value: &Value, tracker: Option<EventOnDrop>) -> Response<MockBody> {
    let mut resp = Response::new(MockBody::full(value.to_string(), tracker));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// The persona's answer to a request, or `None` to let the regular mock handle it.
pub(crate) fn respond(
    state: &PersonaState,
    method: &Method,
    path: &str,
    body: &Value,
    seq: u64,
    tracker: Option<EventOnDrop>,
) -> Option<Response<MockBody>> {
    if method == Method::GET && path.trim_end_matches('/') == "/v1/models" {
        return Some(json_reply(
            &json!({"object": "list", "data": [
                {"id": "mock-model", "object": "model", "owned_by": "mock", "max_model_len": MAX_MODEL_LEN}
            ]}),
            tracker,
        ));
    }
    if method != Method::POST || path != "/v1/chat/completions" {
        return None;
    }
    let messages = body.get("messages").and_then(Value::as_array)?;
    let question = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| text_of(m.get("content")))
        .unwrap_or_default();
    if question.contains("MOCK:") {
        return None;
    }
    let prompt: String = messages.iter().map(|m| text_of(m.get("content"))).collect();
    let prompt_chars = u64::try_from(prompt.chars().count()).unwrap_or(u64::MAX);
    let prompt_tokens = prompt_chars.div_ceil(4);
    let cached = state.cached_tokens(&prompt);
    let max_tokens = body
        .get("max_tokens")
        .or_else(|| body.get("max_completion_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(256);
    let model = body.get("model").cloned().unwrap_or(json!("mock-model"));
    let a = answer(state.persona, body, &question, max_tokens);
    let id = format!("chatcmpl-persona-{seq:04}");
    let call = a.tool.as_ref().map(|(name, args)| {
        json!({"id": format!("call_persona_{seq:04}"), "type": "function",
               "function": {"name": name, "arguments": args}})
    });
    let usage = usage(prompt_tokens, cached, a.completion_tokens);
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        let content = a.pieces.concat();
        let mut message = json!({"role": "assistant", "content": content});
        if let Some(r) = &a.reasoning {
            message["reasoning_content"] = json!(r);
        }
        if let Some(call) = call {
            message["content"] = Value::Null;
            message["tool_calls"] = json!([call]);
        }
        let reply = json!({
            "id": id, "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": a.finish}],
            "usage": usage,
        });
        return Some(json_reply(&reply, tracker));
    }
    let include_usage = body.pointer("/stream_options/include_usage") == Some(&json!(true));
    let chunk = |delta: Value, finish: Option<&str>| {
        let c = json!({"id": id, "object": "chat.completion.chunk", "created": 1_700_000_000,
                       "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        Bytes::from(format!("data: {c}\n\n"))
    };
    let mut frames: Vec<(Bytes, bool)> = vec![(
        chunk(json!({"role": "assistant", "content": ""}), None),
        false,
    )];
    if let Some(r) = &a.reasoning {
        frames.push((chunk(json!({"reasoning_content": r}), None), true));
    }
    for piece in &a.pieces {
        frames.push((chunk(json!({"content": piece}), None), true));
    }
    if let Some(mut call) = call {
        call["index"] = json!(0);
        frames.push((chunk(json!({"tool_calls": [call]}), None), true));
    }
    frames.push((chunk(json!({}), Some(a.finish)), false));
    if include_usage {
        let c = json!({"id": id, "object": "chat.completion.chunk", "created": 1_700_000_000,
                       "model": model, "choices": [], "usage": usage});
        frames.push((Bytes::from(format!("data: {c}\n\n")), false));
    }
    frames.push((Bytes::from_static(b"data: [DONE]\n\n"), false));
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        for (bytes, content) in frames {
            if content {
                tokio::time::sleep(DELTA_GAP).await;
            }
            if tx.send(Ok(bytes)).await.is_err() {
                return;
            }
        }
    });
    let mut resp = Response::new(MockBody::channel(rx, tracker));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_healthy_persona_answers_the_preflight_questions() {
        let body = json!({});
        let a = answer(
            Persona::Healthy,
            &body,
            "lorem\n\nIMPORTANT: The launch code is ZEBRA-42917-QUARTZ.\n\nQuestion",
            256,
        );
        assert_eq!(a.pieces.concat(), "ZEBRA-42917-QUARTZ");
        let a = answer(
            Persona::Healthy,
            &body,
            r#"Return ONLY a JSON object: {"language":"python","ok":true}. No prose."#,
            256,
        );
        assert_eq!(a.pieces.concat(), r#"{"language":"python","ok":true}"#);
        let a = answer(
            Persona::Healthy,
            &body,
            "What is 17 + 25? Answer with the number.",
            256,
        );
        assert_eq!(a.pieces.concat(), "42");
        let tools = json!({"tools": [{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]});
        let a = answer(
            Persona::Healthy,
            &tools,
            "What's the weather in Oakland? Use the tool.",
            256,
        );
        assert_eq!(
            a.tool,
            Some(("get_weather".to_owned(), r#"{"city":"Oakland"}"#.to_owned()))
        );
    }

    #[test]
    fn broken_personas_break_one_thing() {
        let body = json!({});
        let a = answer(
            Persona::LoseNeedle,
            &body,
            "IMPORTANT: The launch code is ZEBRA-1.",
            256,
        );
        assert!(!a.pieces.concat().contains("ZEBRA"));
        let a = answer(Persona::BrokenJson, &body, "Return a JSON object", 256);
        assert!(serde_json::from_str::<Value>(&a.pieces.concat()).is_err());
        let a = answer(Persona::StarveThinking, &body, "What is 1 + 1?", 256);
        assert!(a.pieces.is_empty() && a.finish == "length" && a.completion_tokens == 256);
        assert_eq!(
            answer(Persona::BrokenJson, &body, "What is 1 + 1?", 256)
                .pieces
                .concat(),
            "2"
        );
    }

    #[test]
    fn the_prefix_cache_counts_shared_blocks() {
        let state = PersonaState::new(Persona::Healthy);
        let prefix = "x".repeat(400);
        assert_eq!(state.cached_tokens(&format!("{prefix}a")), 0);
        // 400 shared characters = 100 tokens = 6 whole blocks of 16
        assert_eq!(state.cached_tokens(&format!("{prefix}b")), 96);
    }
}
