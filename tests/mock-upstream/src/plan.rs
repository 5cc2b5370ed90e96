//! Dialect-neutral view of a request and of the answer the mock will give.

use std::time::Duration;

use serde_json::{Map, Value};

/// The default answer, streamed one word per content delta.
pub(crate) const DEFAULT_TEXT: &str = "Hello from the mock upstream.";
/// The reasoning text of `MOCK:reason`.
pub(crate) const REASONING_TEXT: &str = "Let me think.";
/// The text before the two calls of `MOCK:tools2`.
pub(crate) const TOOLS2_TEXT: &str = "Calling two tools.";
/// The answer to `MOCK:tool` / `MOCK:tools2` when the request offers no tools.
pub(crate) const NO_TOOLS_TEXT: &str = "No tools were offered.";
/// The string value used for string tool arguments (has a non-ASCII character).
pub(crate) const ARG_STRING: &str = "x ☀";
/// How many characters each tool-argument fragment holds.
const FRAGMENT_CHARS: usize = 5;

/// The directives found in the last user turn.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Directives {
    pub tool: bool,
    pub tools2: bool,
    pub reason: bool,
    pub slow: Option<(u64, usize)>,
    pub status: Option<u16>,
    pub reset: bool,
    pub hang: bool,
    pub midstream_reset: bool,
    pub midstream_error: bool,
    pub length: bool,
    /// `MOCK:broken=KIND` or `MOCK:broken=KIND@MODEL`: a broken answer of KIND (for requests whose
    /// `model` is MODEL, when given).
    pub broken: Option<(String, Option<String>)>,
}

impl Directives {
    /// Reads every `MOCK:` token of `text`; unknown or malformed directives are ignored.
    pub(crate) fn parse(text: &str) -> Self {
        let mut d = Self::default();
        for token in text.split_whitespace() {
            let Some(pos) = token.find("MOCK:") else {
                continue;
            };
            let name = token[pos + 5..].trim_end_matches(|c: char| ".,;!?\"'`)]}".contains(c));
            match name {
                "tool" => d.tool = true,
                "tools2" => d.tools2 = true,
                "reason" => d.reason = true,
                "reset" => d.reset = true,
                "hang" => d.hang = true,
                "midstream-reset" => d.midstream_reset = true,
                "midstream-error" => d.midstream_error = true,
                "length" => d.length = true,
                _ => {
                    if let Some(code) = name.strip_prefix("status=") {
                        d.status = code.parse().ok().filter(|c| (100..=999).contains(c));
                    } else if let Some(spec) = name.strip_prefix("broken=") {
                        let (kind, model) = match spec.split_once('@') {
                            Some((kind, model)) => (kind, Some(model.to_owned())),
                            None => (spec, None),
                        };
                        if BROKEN_KINDS.contains(&kind) {
                            d.broken = Some((kind.to_owned(), model));
                        }
                    } else if let Some(spec) = name.strip_prefix("slow=") {
                        if let Some((ms, n)) = spec.split_once(':') {
                            if let (Ok(ms), Ok(n)) = (ms.parse(), n.parse()) {
                                d.slow = Some((ms, n));
                            }
                        }
                    }
                }
            }
        }
        d
    }
}

/// A tool offered by the request.
#[derive(Debug, Clone)]
pub(crate) struct ToolDef {
    pub name: String,
    pub schema: Value,
}

/// What the mock needs to know about a request, whatever its dialect.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inbound {
    /// Text of the last user turn (its text parts, or the last tool result's text).
    pub last_text: String,
    /// The last user turn holds tool results and no text.
    pub tool_results_only: bool,
    pub tools: Vec<ToolDef>,
    /// Whitespace-separated words in all request text.
    pub words: u64,
    pub model: String,
    pub stream: bool,
}

/// One part of the answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Reasoning(Vec<String>),
    Text(Vec<String>),
    /// A tool call (its ids derive from the request seq and the part's position).
    Tool {
        name: String,
        fragments: Vec<String>,
    },
}

impl Part {
    /// The pieces streamed as content deltas.
    pub(crate) fn pieces(&self) -> &[String] {
        match self {
            Part::Reasoning(p) | Part::Text(p) => p,
            Part::Tool { fragments, .. } => fragments,
        }
    }

    /// All pieces joined.
    pub(crate) fn full(&self) -> String {
        self.pieces().concat()
    }
}

/// Why the answer stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    End,
    Tool,
    Length,
}

/// How a stream fails after its second content delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Reset,
    Error,
}

/// The whole answer, rendered by each dialect.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub seq: u64,
    pub model: String,
    pub parts: Vec<Part>,
    pub stop: Stop,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Delay before every content delta (streams) or before the whole answer (JSON).
    pub delay: Option<(Duration, usize)>,
    pub failure: Option<Failure>,
}

impl Plan {
    /// Builds the answer for `inbound` under `directives`.
    pub(crate) fn build(seq: u64, inbound: &Inbound, d: &Directives) -> Self {
        let broken = d.broken.as_ref().filter(|(_, model)| {
            model
                .as_deref()
                .is_none_or(|m| m.split('+').any(|m| m == inbound.model.as_str()))
        });
        if let Some((kind, _)) = broken {
            let (parts, stop) = broken_answer(kind, inbound);
            let deltas: usize = parts.iter().map(|p| p.pieces().len()).sum();
            return Self {
                seq,
                model: inbound.model.clone(),
                parts,
                stop,
                input_tokens: 1000 + inbound.words,
                output_tokens: 7 * deltas as u64 + 3,
                delay: d.slow.map(|(ms, n)| (Duration::from_millis(ms), n)),
                failure: None,
            };
        }
        let mut parts = Vec::new();
        if d.reason {
            parts.push(Part::Reasoning(word_pieces(REASONING_TEXT)));
        }
        let mut stop = Stop::End;
        if d.tools2 || d.tool {
            if let Some(first) = inbound.tools.first() {
                if d.tools2 {
                    parts.push(Part::Text(word_pieces(TOOLS2_TEXT)));
                    let second = inbound.tools.get(1).unwrap_or(first);
                    parts.push(tool_part(first));
                    parts.push(tool_part(second));
                } else {
                    parts.push(tool_part(first));
                }
                stop = Stop::Tool;
            } else {
                parts.push(Part::Text(word_pieces(NO_TOOLS_TEXT)));
            }
        } else if let Some((_, n)) = d.slow {
            parts.push(Part::Text(
                (1..=n)
                    .map(|i| {
                        if i == n {
                            format!("tick{i}")
                        } else {
                            format!("tick{i} ")
                        }
                    })
                    .collect(),
            ));
        } else if inbound.tool_results_only {
            parts.push(Part::Text(word_pieces(&format!(
                "Tool said: {}",
                inbound.last_text
            ))));
        } else {
            parts.push(Part::Text(word_pieces(DEFAULT_TEXT)));
        }
        if d.length {
            stop = Stop::Length;
        }
        let deltas: usize = parts.iter().map(|p| p.pieces().len()).sum();
        let failure = if d.midstream_reset {
            Some(Failure::Reset)
        } else if d.midstream_error {
            Some(Failure::Error)
        } else {
            None
        };
        Self {
            seq,
            model: inbound.model.clone(),
            parts,
            stop,
            input_tokens: 1000 + inbound.words,
            output_tokens: 7 * deltas as u64 + 3,
            // `slow=0:N`: N ticks, no delay at all (not even a zero-length timer)
            delay: d
                .slow
                .filter(|(ms, _)| *ms > 0)
                .map(|(ms, n)| (Duration::from_millis(ms), n)),
            failure,
        }
    }

    /// The total text of all text parts.
    pub(crate) fn text(&self) -> String {
        self.parts
            .iter()
            .filter(|p| matches!(p, Part::Text(_)))
            .map(Part::full)
            .collect()
    }
}

/// The kinds of `MOCK:broken=KIND` (named like anvil-verify's checks).
pub(crate) const BROKEN_KINDS: [&str; 11] = [
    "empty",
    "truncated",
    "thinking-starved",
    "unknown-tool",
    "tool-args-json",
    "tool-args-schema",
    "tool-call-as-text",
    "edit-does-not-apply",
    "code-does-not-parse",
    "degenerate-repetition",
    "refusal",
];

/// The file the `edit-does-not-apply` answer edits: a request that shows `app.py` (aider-style, the
/// path on its own line before a fenced block) holds content the SEARCH text is not in.
pub(crate) const BROKEN_EDIT_FILE: &str = "app.py";

/// A realistic broken answer of `kind`, the way small local models break.
fn broken_answer(kind: &str, inbound: &Inbound) -> (Vec<Part>, Stop) {
    let first = inbound.tools.first();
    let first_name = first.map_or("Bash", |t| t.name.as_str());
    let text = |t: &str| vec![Part::Text(word_pieces(t))];
    let call = |name: &str, args: &str| Part::Tool {
        name: name.to_owned(),
        fragments: char_fragments(args, FRAGMENT_CHARS),
    };
    match kind {
        "empty" => (vec![Part::Text(vec![String::new()])], Stop::End),
        "truncated" => (
            text("The bug is in the loop bound: the index runs one past the end of the"),
            Stop::Length,
        ),
        "thinking-starved" => (
            vec![Part::Reasoning(word_pieces(
                "The user wants the bug fixed. Let me look at the loop again. The loop runs from                  zero to the length, so the last index is out of range. But wait, maybe the caller",
            ))],
            Stop::Length,
        ),
        "unknown-tool" => (
            vec![call("run_shell_command", r#"{"command":"rm -rf build"}"#)],
            Stop::Tool,
        ),
        "tool-args-json" => (
            vec![call(first_name, r#"{"command": "ls -la", "description": "List"#)],
            Stop::Tool,
        ),
        "tool-args-schema" => {
            // Every required property with a value of the wrong type (or none at all).
            let schema = first.map_or(Value::Null, |t| t.schema.clone());
            let mut args = Map::new();
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    let ty = schema
                        .get("properties")
                        .and_then(|p| p.get(name))
                        .and_then(|p| p.get("type"))
                        .and_then(Value::as_str);
                    let wrong = match ty {
                        Some("string") | None => Value::from(42),
                        _ => Value::from("not the right type"),
                    };
                    args.insert(name.to_owned(), wrong);
                }
            }
            if args.is_empty() {
                args.insert("unexpected".to_owned(), Value::from(42));
            }
            (
                vec![call(first_name, &Value::Object(args).to_string())],
                Stop::Tool,
            )
        }
        "tool-call-as-text" => {
            let args = first.map_or_else(|| Value::Object(Map::new()), |t| tool_arguments(&t.schema));
            (
                text(&format!(
                    "<tool_call>\n{{\"name\": \"{first_name}\", \"arguments\": {args}}}\n</tool_call>"
                )),
                Stop::End,
            )
        }
        "edit-does-not-apply" => (
            text(&format!(
                "{BROKEN_EDIT_FILE}\n```python\n<<<<<<< SEARCH\ndef subtract(a, b):\n    return a - b\n=======\n\
                 def subtract(a, b):\n    return b - a\n>>>>>>> REPLACE\n```\n"
            )),
            Stop::End,
        ),
        "code-does-not-parse" => (
            text("Here is the fixed function:\n\n```python\ndef add(a, b:\n    return a + b\n```\n"),
            Stop::End,
        ),
        "degenerate-repetition" => (
            text(&"I will fix the bug now.\n".repeat(40)),
            Stop::End,
        ),
        _ => (
            text("I'm sorry, but I can't help with that request."),
            Stop::End,
        ),
    }
}

fn tool_part(tool: &ToolDef) -> Part {
    let args = tool_arguments(&tool.schema).to_string();
    Part::Tool {
        name: tool.name.clone(),
        fragments: char_fragments(&args, FRAGMENT_CHARS),
    }
}

/// The arguments of a mock tool call: see the crate docs for the rule.
pub(crate) fn tool_arguments(schema: &Value) -> Value {
    let props = schema.get("properties").and_then(Value::as_object);
    let mut args = Map::new();
    let required = schema
        .get("required")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for name in required.iter().filter_map(Value::as_str) {
        let prop = props.and_then(|p| p.get(name));
        let value = match prop.and_then(|p| p.get("enum")).and_then(Value::as_array) {
            Some(values) if !values.is_empty() => values[0].clone(),
            _ => value_for_type(prop.and_then(|p| p.get("type"))),
        };
        args.insert(name.to_owned(), value);
    }
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    let n_type_ok = match props.and_then(|p| p.get("n")).map(|p| p.get("type")) {
        None | Some(None) => true,
        Some(Some(t)) => type_allows_number(t),
    };
    let n_declared = props.is_some_and(|p| p.contains_key("n"));
    if !args.contains_key("n") && n_type_ok && (!closed || n_declared) {
        args.insert("n".to_owned(), Value::from(1));
    }
    Value::Object(args)
}

fn value_for_type(ty: Option<&Value>) -> Value {
    let ty = match ty {
        Some(Value::Array(types)) => types.iter().find_map(Value::as_str),
        Some(Value::String(t)) => Some(t.as_str()),
        _ => None,
    };
    match ty {
        Some("integer" | "number") => Value::from(1),
        Some("boolean") => Value::Bool(true),
        Some("array") => Value::Array(Vec::new()),
        Some("object") => Value::Object(Map::new()),
        Some("null") => Value::Null,
        _ => Value::from(ARG_STRING),
    }
}

fn type_allows_number(ty: &Value) -> bool {
    match ty {
        Value::String(t) => t == "integer" || t == "number",
        Value::Array(types) => types
            .iter()
            .any(|t| t.as_str().is_some_and(|t| t == "integer" || t == "number")),
        _ => false,
    }
}

/// Splits `text` into one piece per word; each piece keeps the whitespace that follows it, so
/// the pieces concatenate to `text` exactly. Empty text gives one empty piece.
pub(crate) fn word_pieces(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut in_space = false;
    let mut has_word = false;
    for c in text.chars() {
        if c.is_whitespace() {
            in_space = true;
        } else {
            if in_space && has_word {
                pieces.push(std::mem::take(&mut current));
            }
            in_space = false;
            has_word = true;
        }
        current.push(c);
    }
    if !current.is_empty() || pieces.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// Splits `text` into pieces of at most `n` characters (never inside a UTF-8 sequence).
pub(crate) fn char_fragments(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(n.max(1)).map(|c| c.iter().collect()).collect()
}

/// Whitespace-separated words of `s`.
pub(crate) fn words(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

/// The text of a content value: a string, or the `text` fields of an array of parts joined
/// with newlines.
pub(crate) fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn directives_parse() {
        let cases: &[(&str, Directives)] = &[
            ("hello", Directives::default()),
            (
                "please MOCK:tool now",
                Directives {
                    tool: true,
                    ..Directives::default()
                },
            ),
            (
                "MOCK:reason MOCK:tools2, MOCK:length.",
                Directives {
                    reason: true,
                    tools2: true,
                    length: true,
                    ..Directives::default()
                },
            ),
            (
                "MOCK:slow=25:4",
                Directives {
                    slow: Some((25, 4)),
                    ..Directives::default()
                },
            ),
            ("MOCK:slow=25", Directives::default()),
            (
                "MOCK:status=429",
                Directives {
                    status: Some(429),
                    ..Directives::default()
                },
            ),
            ("MOCK:status=42", Directives::default()),
            (
                "x\nMOCK:midstream-reset MOCK:midstream-error MOCK:reset MOCK:hang",
                Directives {
                    midstream_reset: true,
                    midstream_error: true,
                    reset: true,
                    hang: true,
                    ..Directives::default()
                },
            ),
            ("MOCK:unknown mock:tool", Directives::default()),
        ];
        for (text, want) in cases {
            assert_eq!(&Directives::parse(text), want, "{text:?}");
        }
    }

    #[test]
    fn tool_arguments_rule() {
        let cases = [
            (
                json!({"type": "object", "properties": {"location": {"type": "string"}},
                       "required": ["location"]}),
                json!({"location": "x ☀", "n": 1}),
            ),
            (
                json!({"type": "object", "additionalProperties": false,
                       "properties": {"command": {"type": "string"}, "timeout": {"type": "number"}},
                       "required": ["command"]}),
                json!({"command": "x ☀"}),
            ),
            (
                json!({"type": "object", "additionalProperties": false,
                       "properties": {"n": {"type": "integer"}, "unit": {"enum": ["c", "f"]},
                                      "tags": {"type": "array"}, "flag": {"type": ["boolean", "null"]}},
                       "required": ["unit", "tags", "flag"]}),
                json!({"unit": "c", "tags": [], "flag": true, "n": 1}),
            ),
            (
                json!({"type": "object", "properties": {"n": {"type": "string"}}, "required": []}),
                json!({}),
            ),
            (json!({}), json!({"n": 1})),
            (
                json!({"properties": {"n": {"type": "integer"}}, "required": ["n"]}),
                json!({"n": 1}),
            ),
        ];
        for (schema, want) in cases {
            assert_eq!(tool_arguments(&schema), want, "{schema}");
        }
    }

    #[test]
    fn word_pieces_concatenate() {
        let cases: &[(&str, &[&str])] = &[
            (
                DEFAULT_TEXT,
                &["Hello ", "from ", "the ", "mock ", "upstream."],
            ),
            ("", &[""]),
            ("  a\n\nb ", &["  a\n\n", "b "]),
            ("one", &["one"]),
        ];
        for (text, want) in cases {
            let got = word_pieces(text);
            assert_eq!(&got, want, "{text:?}");
            assert_eq!(got.concat(), *text);
        }
    }

    #[test]
    fn char_fragments_keep_utf8() {
        let cases: &[(&str, usize, &[&str])] = &[
            ("{\"a\":\"☀☀\"}", 5, &["{\"a\":", "\"☀☀\"}"]),
            ("abc", 5, &["abc"]),
            ("", 5, &[]),
        ];
        for (text, n, want) in cases {
            assert_eq!(&char_fragments(text, *n), want);
        }
    }

    #[test]
    fn plan_usage_and_parts() {
        let tools = vec![
            ToolDef {
                name: "a".into(),
                schema: json!({"required": ["q"], "properties": {"q": {"type": "string"}}}),
            },
            ToolDef {
                name: "b".into(),
                schema: json!({}),
            },
        ];
        let inbound = |text: &str, results_only: bool, tools: Vec<ToolDef>| Inbound {
            last_text: text.into(),
            tool_results_only: results_only,
            tools,
            words: 4,
            model: "m".into(),
            stream: false,
        };
        let cases = [
            (
                inbound("hi", false, vec![]),
                "hi",
                vec![Part::Text(word_pieces(DEFAULT_TEXT))],
                Stop::End,
            ),
            (
                inbound("42 degrees", true, vec![]),
                "",
                vec![Part::Text(word_pieces("Tool said: 42 degrees"))],
                Stop::End,
            ),
            (
                inbound("", false, tools.clone()),
                "MOCK:tools2",
                vec![
                    Part::Text(word_pieces(TOOLS2_TEXT)),
                    Part::Tool {
                        name: "a".into(),
                        fragments: char_fragments("{\"q\":\"x ☀\",\"n\":1}", 5),
                    },
                    Part::Tool {
                        name: "b".into(),
                        fragments: char_fragments("{\"n\":1}", 5),
                    },
                ],
                Stop::Tool,
            ),
            (
                inbound("", false, vec![]),
                "MOCK:tool MOCK:reason MOCK:length",
                vec![
                    Part::Reasoning(word_pieces(REASONING_TEXT)),
                    Part::Text(word_pieces(NO_TOOLS_TEXT)),
                ],
                Stop::Length,
            ),
            (
                inbound("", false, vec![]),
                "MOCK:slow=1:3",
                vec![Part::Text(vec![
                    "tick1 ".into(),
                    "tick2 ".into(),
                    "tick3".into(),
                ])],
                Stop::End,
            ),
        ];
        for (inbound, directive, parts, stop) in cases {
            let plan = Plan::build(7, &inbound, &Directives::parse(directive));
            assert_eq!(plan.parts, parts, "{directive}");
            assert_eq!(plan.stop, stop, "{directive}");
            assert_eq!(plan.input_tokens, 1004);
            let deltas: usize = parts.iter().map(|p| p.pieces().len()).sum();
            assert_eq!(plan.output_tokens, 7 * deltas as u64 + 3);
        }
    }
}

#[cfg(test)]
mod broken_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn broken_applies_to_the_named_model_only() {
        let d = Directives::parse("fix it MOCK:broken=refusal@fast-model");
        assert_eq!(
            d.broken,
            Some(("refusal".to_owned(), Some("fast-model".to_owned())))
        );
        let mut inbound = Inbound {
            model: "fast-model".into(),
            ..Inbound::default()
        };
        let plan = Plan::build(1, &inbound, &d);
        assert!(plan.text().starts_with("I'm sorry"), "{}", plan.text());
        inbound.model = "heavy-model".into();
        assert_eq!(Plan::build(2, &inbound, &d).text(), DEFAULT_TEXT);
        let both = Directives::parse("MOCK:broken=refusal@fast-model+heavy-model");
        assert!(Plan::build(3, &inbound, &both)
            .text()
            .starts_with("I'm sorry"));
        assert_eq!(Directives::parse("MOCK:broken=nonsense").broken, None);
    }

    #[test]
    fn every_broken_kind_builds() {
        let inbound = Inbound {
            model: "m".into(),
            tools: vec![ToolDef {
                name: "Bash".into(),
                schema: json!({"type": "object", "properties": {"command": {"type": "string"}},
                               "required": ["command"]}),
            }],
            ..Inbound::default()
        };
        for kind in BROKEN_KINDS {
            let plan = Plan::build(
                1,
                &inbound,
                &Directives::parse(&format!("MOCK:broken={kind}")),
            );
            assert!(!plan.parts.is_empty(), "{kind}");
            if kind == "tool-args-schema" {
                let Part::Tool { fragments, .. } = &plan.parts[0] else {
                    panic!("{kind}: {:?}", plan.parts);
                };
                assert_eq!(fragments.concat(), r#"{"command":42}"#);
            }
        }
    }
}
