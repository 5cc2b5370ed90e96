//! Text checks: a tool call written as text, degenerate repetition, refusals.

use serde_json::Value;

const MARKUP: [&str; 6] = [
    "<tool_call>",
    "<|tool_call|>",
    "<function_call>",
    "<tool_use>",
    "<|python_tag|>",
    "<function=",
];

/// Why `text` holds a tool call (markup, or a JSON object naming an offered tool), if it does.
pub(crate) fn tool_call_in_text(text: &str, offered: &[&str]) -> Option<String> {
    for m in MARKUP {
        if text.contains(m) {
            return Some(format!(
                "the answer writes a tool call as `{m}` text instead of a structured call"
            ));
        }
    }
    // Candidate JSON objects: the whole text, or an object starting a line (fenced or not).
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(off) = text[i..].find('{') {
        let at = i + off;
        i = at + 1;
        let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
        if !text[line_start..at].trim().is_empty() {
            continue;
        }
        let mut stream = serde_json::Deserializer::from_slice(&bytes[at..]).into_iter::<Value>();
        if let Some(Ok(value)) = stream.next() {
            if let Some(name) = names_offered_tool(&value, offered) {
                return Some(format!(
                    "the answer writes a call to `{name}` as JSON text instead of a structured call"
                ));
            }
            i = at + stream.byte_offset().max(1);
        }
    }
    None
}

fn names_offered_tool<'a>(value: &Value, offered: &[&'a str]) -> Option<&'a str> {
    let obj = value.as_object()?;
    if let Some(inner) = obj.get("function").filter(|f| f.is_object()) {
        if let Some(n) = names_offered_tool(inner, offered) {
            return Some(n);
        }
    }
    if let Some(calls) = obj.get("tool_calls").and_then(Value::as_array) {
        if let Some(n) = calls.iter().find_map(|c| names_offered_tool(c, offered)) {
            return Some(n);
        }
    }
    let name = ["name", "tool", "tool_name", "function"]
        .iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_str))?;
    let has_args = ["arguments", "parameters", "input", "args"]
        .iter()
        .any(|k| obj.contains_key(*k));
    offered.iter().copied().find(|o| *o == name && has_args)
}

/// Why `text` is degenerate (a line or short phrase repeated in a loop), if it is.
pub(crate) fn degenerate(text: &str) -> Option<String> {
    let mut prev: Option<&str> = None;
    let mut run = 0usize;
    for line in text.lines() {
        let line = line.trim_end();
        if !line.chars().any(char::is_alphanumeric) {
            continue;
        }
        if prev == Some(line) {
            run += 1;
            if run >= 8 {
                let shown: String = line.trim().chars().take(60).collect();
                return Some(format!(
                    "the same line is repeated {run} times in a row: \"{shown}\""
                ));
            }
        } else {
            prev = Some(line);
            run = 1;
        }
    }
    // A short n-gram covering most of a long answer.
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() < 200 {
        return None;
    }
    // A loop of period n (a phrase of n words said again and again) makes word i equal word i + n
    // wherever the loop runs: comparing words, no hashing, keeps this linear and cheap.
    for n in 1usize..=8 {
        let pairs = words.len() - n;
        let same = (0..pairs).filter(|&i| words[i] == words[i + n]).count();
        if same * 10 >= pairs * 6 {
            let shown: String = words[words.len() - n..]
                .join(" ")
                .chars()
                .take(60)
                .collect();
            return Some(format!(
                "the phrase \"{shown}\" repeats in a loop over {}% of the answer",
                same * 100 / pairs
            ));
        }
    }
    None
}

const REFUSALS: [&str; 16] = [
    "i'm sorry, but i can",
    "i’m sorry, but i can",
    "i am sorry, but i can",
    "sorry, i can't",
    "sorry, but i can't",
    "i can't help with",
    "i cannot help with",
    "i can't assist with",
    "i cannot assist with",
    "i'm unable to help",
    "i am unable to help",
    "i'm not able to help",
    "i apologize, but i cannot",
    "i apologize, but i can't",
    "as an ai language model",
    "i won't be able to help",
];

/// Why `text` is a refusal, if it starts like one.
pub(crate) fn refusal(text: &str) -> Option<String> {
    let head: String = text.trim_start().chars().take(80).collect::<String>();
    let head = head.to_lowercase().replace('’', "'");
    REFUSALS
        .iter()
        .find(|r| head.starts_with(&r.replace('’', "'")))
        .map(|r| format!("the answer is a refusal (starts with \"{r}\")"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_json_calls_are_found() {
        let offered = ["Read", "Bash"];
        let table = [
            ("<tool_call>\n{\"name\": \"Read\"}\n</tool_call>", true),
            ("I'll run it:\n```json\n{\"name\": \"Bash\", \"arguments\": {\"command\": \"ls\"}}\n```", true),
            ("{\"tool\": \"Read\", \"input\": {\"file_path\": \"/a\"}}", true),
            ("Use `{\"name\": \"x\"}` objects.", false),
            ("```json\n{\"name\": \"my-package\", \"version\": \"1.0.0\"}\n```", false),
            ("```json\n{\"name\": \"Grep\", \"arguments\": {}}\n```", false),
        ];
        for (text, caught) in table {
            assert_eq!(
                tool_call_in_text(text, &offered).is_some(),
                caught,
                "{text}"
            );
        }
    }

    #[test]
    fn loops_are_degenerate_and_prose_is_not() {
        let looped_line = format!("Let me check.\n{}", "I will now fix the bug.\n".repeat(9));
        let looped_phrase = "and then the the value ".repeat(100);
        let prose = (0..300)
            .map(|i| format!("word{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let code = "fn a() {\n    if x {\n        y();\n    }\n}\n".repeat(20);
        assert!(degenerate(&looped_line).is_some());
        assert!(degenerate(&looped_phrase).is_some());
        assert!(degenerate(&prose).is_none());
        assert!(degenerate(&code).is_none());
    }

    #[test]
    fn refusals() {
        assert!(refusal("I'm sorry, but I can't help with that.").is_some());
        assert!(refusal("I’m sorry, but I cannot do this").is_some());
        assert!(refusal("Sorry for the delay — here is the fix.").is_none());
        assert!(refusal("I can't reproduce the failure locally, so I added a test.").is_none());
    }
}
