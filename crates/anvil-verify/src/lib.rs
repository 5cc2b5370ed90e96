//! anvil-verify: checks over a finished answer and the request that asked for it.
//!
//! [`verify`] runs every enabled check of [`Checks`] and returns a [`Verdict`]: passed, or the list
//! of [`Failure`]s, each naming its [`CheckKind`] (a stable kebab-case name for the decision record
//! and the `x-anvil-attempts` header) and a human reason. The crate is pure: no I/O, no network.

use std::collections::HashMap;

use anvil_dialects::canonical::{
    Part, Request, Response, StopReason, ThinkingConfig, Tool, ToolResultContent,
};
use serde_json::Value;

mod code;
mod edits;
mod text;

/// Which checks run. All on by default; the logprob floor is off (no floor) by default.
#[derive(Debug, Clone, PartialEq)]
pub struct Checks {
    /// An answer with no text and no tool call.
    pub empty: bool,
    /// An answer cut off by the output token limit.
    pub truncated: bool,
    /// Reasoning that used the budget and left no text or tool call.
    pub thinking_starved: bool,
    /// A tool call to a tool the request did not offer.
    pub unknown_tool: bool,
    /// Tool-call arguments that are not JSON.
    pub tool_args_json: bool,
    /// Tool-call arguments that do not validate against the tool's JSON schema.
    pub tool_args_schema: bool,
    /// A tool call written as text while tools were offered and none came back structured.
    pub tool_call_as_text: bool,
    /// An edit (Edit/MultiEdit, unified diff, apply_patch, SEARCH/REPLACE) that cannot apply.
    pub edit_applies: bool,
    /// A fenced code block that does not parse.
    pub code_parses: bool,
    /// The same line or phrase repeated in a loop.
    pub degenerate_repetition: bool,
    /// A refusal.
    pub refusal: bool,
    /// Mean token logprob floor, used by [`verify_logprobs`] callers; `None` turns it off.
    pub logprob_floor: Option<f64>,
}

impl Default for Checks {
    fn default() -> Self {
        Self {
            empty: true,
            truncated: true,
            thinking_starved: true,
            unknown_tool: true,
            tool_args_json: true,
            tool_args_schema: true,
            tool_call_as_text: true,
            edit_applies: true,
            code_parses: true,
            degenerate_repetition: true,
            refusal: true,
            logprob_floor: None,
        }
    }
}

/// The kind of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckKind {
    /// No text and no tool call.
    Empty,
    /// Stopped by the output token limit.
    Truncated,
    /// Reasoning used the budget, no answer.
    ThinkingStarved,
    /// A call to a tool not offered.
    UnknownTool,
    /// Arguments are not JSON.
    ToolArgsJson,
    /// Arguments fail the tool's schema.
    ToolArgsSchema,
    /// A tool call written as text.
    ToolCallAsText,
    /// An edit that cannot apply.
    EditDoesNotApply,
    /// A code block that does not parse.
    CodeDoesNotParse,
    /// Looping output.
    DegenerateRepetition,
    /// A refusal.
    Refusal,
    /// Mean token logprob below the floor.
    LowLogprob,
}

impl CheckKind {
    /// Every kind, in check order.
    pub const ALL: [CheckKind; 12] = [
        CheckKind::Empty,
        CheckKind::Truncated,
        CheckKind::ThinkingStarved,
        CheckKind::UnknownTool,
        CheckKind::ToolArgsJson,
        CheckKind::ToolArgsSchema,
        CheckKind::ToolCallAsText,
        CheckKind::EditDoesNotApply,
        CheckKind::CodeDoesNotParse,
        CheckKind::DegenerateRepetition,
        CheckKind::Refusal,
        CheckKind::LowLogprob,
    ];

    /// The stable kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Empty => "empty",
            CheckKind::Truncated => "truncated",
            CheckKind::ThinkingStarved => "thinking-starved",
            CheckKind::UnknownTool => "unknown-tool",
            CheckKind::ToolArgsJson => "tool-args-json",
            CheckKind::ToolArgsSchema => "tool-args-schema",
            CheckKind::ToolCallAsText => "tool-call-as-text",
            CheckKind::EditDoesNotApply => "edit-does-not-apply",
            CheckKind::CodeDoesNotParse => "code-does-not-parse",
            CheckKind::DegenerateRepetition => "degenerate-repetition",
            CheckKind::Refusal => "refusal",
            CheckKind::LowLogprob => "low-logprob",
        }
    }
}

/// One failed check.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Which check.
    pub check: CheckKind,
    /// Why, for people.
    pub reason: String,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// No check failed.
    pub passed: bool,
    /// The failed checks, in check order.
    pub failures: Vec<Failure>,
}

impl Verdict {
    /// Whether a check of this kind failed.
    pub fn failed(&self, check: CheckKind) -> bool {
        self.failures.iter().any(|f| f.check == check)
    }
}

fn fail(out: &mut Vec<Failure>, check: CheckKind, reason: String) {
    out.push(Failure { check, reason });
}

/// A structured tool call in the answer.
struct Call<'a> {
    name: &'a str,
    arguments: &'a str,
}

/// Run every enabled check over `answer`, given the `request` that asked for it.
pub fn verify(request: &Request, answer: &Response, checks: &Checks) -> Verdict {
    let mut failures = Vec::new();
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut thought = false;
    for part in &answer.content {
        match part {
            Part::Text { text: t, .. } => {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(t);
            }
            Part::ToolUse {
                name, arguments, ..
            } => calls.push(Call {
                name: name.as_str(),
                arguments: arguments.as_str(),
            }),
            Part::Thinking { .. } | Part::RedactedThinking { .. } => thought = true,
            _ => {}
        }
    }
    let has_text = !text.trim().is_empty();
    let answered = has_text || !calls.is_empty();

    let starved = !answered && thought && thinking_used_budget(request, answer);
    if checks.thinking_starved && starved {
        let used = answer
            .usage
            .reasoning_tokens
            .unwrap_or(answer.usage.output_tokens);
        fail(
            &mut failures,
            CheckKind::ThinkingStarved,
            format!("reasoning used the budget ({used} tokens) and left no text or tool call"),
        );
    }
    if checks.empty && !answered && !starved {
        fail(
            &mut failures,
            CheckKind::Empty,
            "the answer has no text and no tool call".to_owned(),
        );
    }
    if checks.truncated && answer.stop_reason == Some(StopReason::MaxTokens) && !starved {
        fail(
            &mut failures,
            CheckKind::Truncated,
            format!(
                "the answer was cut off by the output token limit ({} tokens)",
                answer.usage.output_tokens
            ),
        );
    }

    check_tool_calls(request, &calls, checks, &mut failures);

    let offered: Vec<&str> = offered_names(request);
    if checks.tool_call_as_text && calls.is_empty() && !offered.is_empty() && has_text {
        if let Some(reason) = text::tool_call_in_text(&text, &offered) {
            fail(&mut failures, CheckKind::ToolCallAsText, reason);
        }
    }
    if checks.edit_applies {
        if let Some(reason) = edits::check(request, &text, &calls) {
            fail(&mut failures, CheckKind::EditDoesNotApply, reason);
        }
    }
    if checks.code_parses && has_text {
        if let Some(reason) = code::check_fenced(&text) {
            fail(&mut failures, CheckKind::CodeDoesNotParse, reason);
        }
    }
    if checks.degenerate_repetition && has_text {
        if let Some(reason) = text::degenerate(&text) {
            fail(&mut failures, CheckKind::DegenerateRepetition, reason);
        }
    }
    if checks.refusal && calls.is_empty() {
        if answer.stop_reason == Some(StopReason::Refusal) {
            fail(
                &mut failures,
                CheckKind::Refusal,
                "the upstream stopped with a refusal".to_owned(),
            );
        } else if let Some(reason) = text::refusal(&text) {
            fail(&mut failures, CheckKind::Refusal, reason);
        }
    }

    Verdict {
        passed: failures.is_empty(),
        failures,
    }
}

/// A failure when the mean of `logprobs` is below `floor`; `None` for an empty slice or a mean at or
/// above the floor.
pub fn verify_logprobs(logprobs: &[f64], floor: f64) -> Option<Failure> {
    let finite: Vec<f64> = logprobs.iter().copied().filter(|l| l.is_finite()).collect();
    if finite.is_empty() {
        return None;
    }
    let mean = finite.iter().sum::<f64>() / finite.len() as f64;
    (mean < floor).then(|| Failure {
        check: CheckKind::LowLogprob,
        reason: format!(
            "mean token logprob {mean:.3} over {} tokens is below the floor {floor:.3}",
            finite.len()
        ),
    })
}

fn thinking_used_budget(request: &Request, answer: &Response) -> bool {
    if answer.stop_reason == Some(StopReason::MaxTokens) {
        return true;
    }
    let used = answer
        .usage
        .reasoning_tokens
        .unwrap_or(answer.usage.output_tokens);
    let budget = match request.thinking {
        Some(ThinkingConfig::Enabled {
            budget_tokens: Some(b),
        }) => Some(b),
        _ => None,
    }
    .or(request.max_tokens);
    budget.is_some_and(|b| b > 0 && used >= b.saturating_mul(9) / 10)
}

fn offered_names(request: &Request) -> Vec<&str> {
    request
        .tools
        .iter()
        .filter_map(|t| match t {
            Tool::Function(f) => Some(f.name.as_str()),
            Tool::Native { raw, .. } => raw.get("name").and_then(Value::as_str),
        })
        .collect()
}

const KNOWN_DRAFTS: [&str; 5] = [
    "json-schema.org/draft-04/schema",
    "json-schema.org/draft-06/schema",
    "json-schema.org/draft-07/schema",
    "json-schema.org/draft/2019-09/schema",
    "json-schema.org/draft/2020-12/schema",
];

/// Remove `$schema` keys that name no draft the validator knows offline.
fn strip_unknown_schema_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let unknown = match map.get("$schema") {
                Some(Value::String(s)) => !KNOWN_DRAFTS.iter().any(|d| s.contains(d)),
                Some(_) => true,
                None => false,
            };
            if unknown {
                map.remove("$schema");
            }
            map.values_mut().for_each(strip_unknown_schema_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_unknown_schema_keys),
        _ => {}
    }
}

fn check_tool_calls(
    request: &Request,
    calls: &[Call<'_>],
    checks: &Checks,
    out: &mut Vec<Failure>,
) {
    if calls.is_empty() {
        return;
    }
    let offered = offered_names(request);
    // Each called tool's schema is compiled once per `verify`, however often it is called.
    let mut validators: HashMap<&str, Option<jsonschema::Validator>> = HashMap::new();
    for call in calls {
        if !offered.contains(&call.name) {
            if checks.unknown_tool {
                fail(
                    out,
                    CheckKind::UnknownTool,
                    format!(
                        "the answer calls `{}`, a tool the request did not offer",
                        call.name
                    ),
                );
            }
            continue;
        }
        // A native or free-form tool (Codex's custom `apply_patch`) takes text, not JSON arguments.
        let is_function = request
            .tools
            .iter()
            .any(|t| matches!(t, Tool::Function(f) if f.name == call.name));
        if !is_function {
            continue;
        }
        let raw = if call.arguments.trim().is_empty() {
            "{}"
        } else {
            call.arguments
        };
        let args: Value = match serde_json::from_str(raw) {
            Ok(v) => v,
            Err(e) => {
                if checks.tool_args_json {
                    fail(
                        out,
                        CheckKind::ToolArgsJson,
                        format!("the arguments of `{}` are not JSON: {e}", call.name),
                    );
                }
                continue;
            }
        };
        if !checks.tool_args_schema {
            continue;
        }
        let validator = validators.entry(call.name).or_insert_with(|| {
            request.tools.iter().find_map(|t| match t {
                Tool::Function(f) if f.name == call.name && f.parameters.is_object() => {
                    let mut schema = f.parameters.clone();
                    strip_unknown_schema_keys(&mut schema);
                    jsonschema::validator_for(&schema).ok()
                }
                _ => None,
            })
        });
        if let Some(validator) = validator {
            if let Some(err) = validator.iter_errors(&args).next() {
                let at = err.instance_path().to_string();
                let at = if at.is_empty() { "/".to_owned() } else { at };
                fail(
                    out,
                    CheckKind::ToolArgsSchema,
                    format!(
                        "the arguments of `{}` do not match its schema at {at}: {err}",
                        call.name
                    ),
                );
            }
        }
    }
}

/// The text of a tool result.
fn tool_result_text(content: &ToolResultContent) -> String {
    match content {
        ToolResultContent::Text(t) => t.clone(),
        ToolResultContent::Parts(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Part::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_distinct_kebab_names() {
        let names: Vec<&str> = CheckKind::ALL.iter().map(|k| k.as_str()).collect();
        for (i, n) in names.iter().enumerate() {
            assert!(n.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{n}");
            assert!(!names[i + 1..].contains(n), "{n} twice");
        }
    }

    #[test]
    fn logprob_floor() {
        let table: [(&[f64], f64, bool); 4] = [
            (&[-0.1, -0.2, -0.3], -1.0, false),
            (&[-3.0, -2.5, -4.0], -1.0, true),
            (&[], -1.0, false),
            (&[-1.0, -1.0], -1.0, false),
        ];
        for (lp, floor, fails) in table {
            let f = verify_logprobs(lp, floor);
            assert_eq!(f.is_some(), fails, "{lp:?}");
            if let Some(f) = f {
                assert_eq!(f.check, CheckKind::LowLogprob);
            }
        }
    }

    #[test]
    fn free_form_tools_take_text() {
        use anvil_dialects::canonical::FunctionTool;
        use anvil_dialects::Dialect;
        let request = Request {
            tools: vec![
                Tool::Native {
                    dialect: Dialect::Responses,
                    raw: serde_json::json!({"type": "custom", "name": "apply_patch"}),
                },
                Tool::Function(FunctionTool {
                    name: "exec_command".into(),
                    description: None,
                    parameters: serde_json::json!({"type": "object"}),
                    strict: None,
                    cache_control: None,
                }),
            ],
            ..request_default()
        };
        let call = |name: &str, args: &str| Response {
            content: vec![Part::ToolUse {
                id: "call_1".into(),
                name: name.into(),
                arguments: args.into(),
                cache_control: None,
            }],
            stop_reason: Some(StopReason::ToolUse),
            ..Response::default()
        };
        let patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch";
        let v = verify(&request, &call("apply_patch", patch), &Checks::default());
        assert!(v.passed, "{:?}", v.failures);
        let v = verify(&request, &call("exec_command", patch), &Checks::default());
        assert!(v.failed(CheckKind::ToolArgsJson), "{:?}", v.failures);
    }

    fn request_default() -> Request {
        Request {
            model: "m".into(),
            system: vec![],
            messages: vec![],
            tools: vec![],
            tool_choice: None,
            parallel_tool_calls: None,
            max_tokens: None,
            temperature: None,
            top_p: None,
            top_k: None,
            stop: vec![],
            stream: false,
            thinking: None,
            reasoning_effort: None,
            response_format: None,
            user: None,
        }
    }

    #[test]
    fn unknown_schema_keys_are_stripped() {
        let mut s = serde_json::json!({
            "$schema": "https://example.invalid/my-schema",
            "type": "object",
            "properties": {"a": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "string"}}
        });
        strip_unknown_schema_keys(&mut s);
        assert_eq!(
            s,
            serde_json::json!({
                "type": "object",
                "properties": {"a": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "string"}}
            })
        );
    }
}
