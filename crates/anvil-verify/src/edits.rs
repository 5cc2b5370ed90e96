//! Edits that cannot apply to the file content the conversation already holds: Claude Code
//! `Edit`/`MultiEdit`, unified diffs and Codex `apply_patch`, aider SEARCH/REPLACE blocks.
//!
//! A file the conversation never showed is never a failure: the edit may well apply on disk.

use std::collections::HashMap;

use anvil_dialects::canonical::{Part, Request};
use serde_json::Value;

use crate::{code::fences, tool_result_text, Call};

/// File path → the content the conversation holds for it (line numbers stripped, earlier
/// successful edits applied).
type Files = HashMap<String, String>;

/// Why an edit in the answer cannot apply, for the first one that cannot.
pub(crate) fn check(request: &Request, text: &str, calls: &[Call<'_>]) -> Option<String> {
    let has_patch = |s: &str| {
        s.contains("<<<<<<< SEARCH") || s.contains("*** Begin Patch") || s.contains("\n@@")
    };
    let edits_by_tool = calls
        .iter()
        .any(|c| matches!(c.name, "Edit" | "MultiEdit") || has_patch(c.arguments));
    if !edits_by_tool && !has_patch(text) {
        return None;
    }
    let files = held_files(request);
    if files.is_empty() {
        return None;
    }
    for call in calls {
        let Ok(args) = serde_json::from_str::<Value>(call.arguments) else {
            if has_patch(call.arguments) {
                if let Some(r) = check_patch_text(&files, call.arguments) {
                    return Some(r);
                }
            }
            continue;
        };
        if matches!(call.name, "Edit" | "MultiEdit") {
            if let Some(r) = check_claude_edit(&files, call.name, &args) {
                return Some(r);
            }
        }
        let mut strings = Vec::new();
        collect_strings(&args, &mut strings);
        for s in strings.into_iter().filter(|s| has_patch(s)) {
            if let Some(r) = check_patch_text(&files, s) {
                return Some(r);
            }
        }
    }
    if has_patch(text) {
        return check_patch_text(&files, text);
    }
    None
}

fn collect_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

fn lookup<'a>(files: &'a Files, path: &str) -> Option<&'a str> {
    let path = path.trim().trim_start_matches("./");
    if let Some(c) = files.get(path) {
        return Some(c);
    }
    files.iter().find_map(|(k, c)| {
        let k = k.trim_start_matches("./");
        let hit = (k.ends_with(path) && k[..k.len() - path.len()].ends_with('/'))
            || (path.ends_with(k) && path[..path.len() - k.len()].ends_with('/'));
        hit.then_some(c.as_str())
    })
}

fn check_claude_edit(files: &Files, tool: &str, args: &Value) -> Option<String> {
    let path = args.get("file_path").and_then(Value::as_str)?;
    let mut content = lookup(files, path)?.to_owned();
    let edits: Vec<&Value> = match args.get("edits").and_then(Value::as_array) {
        Some(list) => list.iter().collect(),
        None => vec![args],
    };
    for (i, edit) in edits.into_iter().enumerate() {
        let old = edit.get("old_string").and_then(Value::as_str).unwrap_or("");
        let new = edit.get("new_string").and_then(Value::as_str).unwrap_or("");
        if old.is_empty() {
            continue;
        }
        if !content.contains(old) {
            let which = if tool == "MultiEdit" {
                format!("edit {} of MultiEdit", i + 1)
            } else {
                "Edit".to_owned()
            };
            let shown: String = old.lines().next().unwrap_or("").chars().take(60).collect();
            return Some(format!(
                "{which} on {path}: old_string (\"{shown}\") does not occur in the file as the conversation holds it"
            ));
        }
        let all = edit.get("replace_all").and_then(Value::as_bool) == Some(true);
        content = if all {
            content.replace(old, new)
        } else {
            content.replacen(old, new, 1)
        };
    }
    None
}

/// A hunk: the file it edits and its old lines (context and removed).
struct Hunk<'a> {
    path: String,
    old: Vec<&'a str>,
}

fn check_patch_text(files: &Files, s: &str) -> Option<String> {
    for hunk in search_replace_blocks(s).into_iter().chain(diff_hunks(s)) {
        if hunk.old.iter().all(|l| l.trim().is_empty()) {
            continue;
        }
        let Some(content) = lookup(files, &hunk.path) else {
            continue;
        };
        if !lines_occur(content, &hunk.old) {
            let shown: String = hunk
                .old
                .iter()
                .find(|l| !l.trim().is_empty())
                .map_or("", |l| l.trim())
                .chars()
                .take(60)
                .collect();
            return Some(format!(
                "a patch hunk for {} does not apply: its lines (from \"{shown}\") do not occur in the file as the conversation holds it",
                hunk.path
            ));
        }
    }
    None
}

/// Whether `old` occurs as consecutive lines of `content` (trailing whitespace ignored).
fn lines_occur(content: &str, old: &[&str]) -> bool {
    let mut old: Vec<&str> = old.iter().map(|l| l.trim_end()).collect();
    while old.first().is_some_and(|l| l.is_empty()) {
        old.remove(0);
    }
    while old.last().is_some_and(|l| l.is_empty()) {
        old.pop();
    }
    if old.is_empty() {
        return true;
    }
    let lines: Vec<&str> = content.lines().map(str::trim_end).collect();
    lines.windows(old.len()).any(|w| w == old.as_slice())
}

/// Aider SEARCH/REPLACE blocks; the file name is the line before the block's opening fence (or
/// the line right before `<<<<<<< SEARCH`).
fn search_replace_blocks(s: &str) -> Vec<Hunk<'_>> {
    let mut out = Vec::new();
    let lines: Vec<&str> = s.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() != "<<<<<<< SEARCH" {
            i += 1;
            continue;
        }
        let mut back = i;
        let mut path = "";
        while back > 0 {
            back -= 1;
            let l = lines[back].trim();
            if l.is_empty() || l.starts_with("```") || l.starts_with("~~~") {
                continue;
            }
            path = l;
            break;
        }
        let mut old = Vec::new();
        i += 1;
        while i < lines.len() && lines[i].trim_end() != "=======" {
            old.push(lines[i]);
            i += 1;
        }
        while i < lines.len() && !lines[i].starts_with(">>>>>>> REPLACE") {
            i += 1;
        }
        out.push(Hunk {
            path: path.trim_matches('`').to_owned(),
            old,
        });
    }
    out
}

/// Hunks of unified diffs (`--- a/x` / `+++ b/x` / `@@`) and Codex patches (`*** Update File: x`).
fn diff_hunks(s: &str) -> Vec<Hunk<'_>> {
    let mut out: Vec<Hunk<'_>> = Vec::new();
    let mut path: Option<String> = None;
    let mut current: Option<Hunk<'_>> = None;
    for line in s.lines() {
        if let Some(p) = line.strip_prefix("*** Update File: ") {
            flush(&mut current, &mut out);
            path = Some(p.trim().to_owned());
            current = Some(Hunk {
                path: p.trim().to_owned(),
                old: Vec::new(),
            });
        } else if line.starts_with("*** Add File: ")
            || line.starts_with("*** Delete File: ")
            || line.starts_with("*** End Patch")
        {
            flush(&mut current, &mut out);
            path = None;
        } else if let Some(p) = line.strip_prefix("+++ ") {
            let p = p.split('\t').next().unwrap_or(p).trim();
            let p = p.strip_prefix("b/").unwrap_or(p);
            path = (p != "/dev/null").then(|| p.to_owned());
        } else if line.starts_with("--- ") && current.as_ref().is_none_or(|h| h.old.is_empty()) {
            flush(&mut current, &mut out);
        } else if line.starts_with("@@") {
            flush(&mut current, &mut out);
            current = path.clone().map(|p| Hunk {
                path: p,
                old: Vec::new(),
            });
        } else if line == "*** End of File" {
            continue;
        } else if let Some(h) = current.as_mut() {
            if let Some(rest) = line.strip_prefix(' ').or_else(|| line.strip_prefix('-')) {
                h.old.push(rest);
            } else if line.is_empty() {
                h.old.push("");
            } else if !line.starts_with('+') && !line.starts_with('\\') {
                flush(&mut current, &mut out);
            }
        }
    }
    flush(&mut current, &mut out);
    out
}

fn flush<'a>(current: &mut Option<Hunk<'a>>, out: &mut Vec<Hunk<'a>>) {
    if let Some(h) = current.take().filter(|h| !h.old.is_empty()) {
        out.push(h);
    }
}

/// Strip `Read` line numbers: `     1→text` (Claude Code) or `1\ttext` (`cat -n`, `nl -ba`), when
/// the first line has one; a trailing `<system-reminder>` is dropped.
pub(crate) fn strip_line_numbers(s: &str) -> String {
    fn split(line: &str) -> Option<&str> {
        let t = line.trim_start();
        let digits = t.len() - t.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return None;
        }
        let rest = &t[digits..];
        rest.strip_prefix('→').or_else(|| rest.strip_prefix('\t'))
    }
    let numbered = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| split(l).is_some());
    if !numbered {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        if line.trim_start().starts_with("<system-reminder>") {
            break;
        }
        out.push_str(split(line).unwrap_or(line));
        out.push('\n');
    }
    out
}

/// The path a shell command prints whole (`cat x`, `nl -ba x`); partial views (`sed -n`, `head`)
/// are not the whole file, so an edit outside them must not fail.
fn shell_read_path(args: &Value) -> Option<String> {
    let cmd = match args.get("cmd").or_else(|| args.get("command"))? {
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        _ => return None,
    };
    let cmd = cmd
        .strip_prefix("bash -lc ")
        .map_or(cmd.as_str(), |c| c.trim_matches(|c| c == '\'' || c == '"'));
    if cmd.contains(['|', ';', '>', '&']) {
        return None;
    }
    let mut words = cmd.split_whitespace();
    let program = words.next()?;
    if !matches!(program, "cat" | "nl") {
        return None;
    }
    let path = words.last()?.trim_matches(|c| c == '\'' || c == '"');
    (!path.starts_with('-')).then(|| path.to_owned())
}

/// The files the conversation shows: `Read` results, read-only shell outputs, aider file listings.
fn held_files(request: &Request) -> Files {
    let mut files = Files::new();
    let mut calls: HashMap<&str, (&str, Value)> = HashMap::new();
    for message in &request.messages {
        for part in &message.content {
            match part {
                Part::ToolUse {
                    id,
                    name,
                    arguments,
                    ..
                } => {
                    if let Ok(args) = serde_json::from_str::<Value>(arguments) {
                        calls.insert(id.as_str(), (name.as_str(), args));
                    }
                }
                Part::ToolResult {
                    tool_use_id,
                    content,
                    is_error,
                    ..
                } => {
                    let Some((name, args)) = calls.get(tool_use_id.as_str()) else {
                        continue;
                    };
                    if *is_error {
                        continue;
                    }
                    let result = tool_result_text(content);
                    match *name {
                        // A Read of part of a file (offset/limit) is not the whole file.
                        "Read" if args.get("offset").is_none() && args.get("limit").is_none() => {
                            if let Some(p) = args.get("file_path").and_then(Value::as_str) {
                                files.insert(p.to_owned(), strip_line_numbers(&result));
                            }
                        }
                        "Edit" | "MultiEdit" => apply_held_edit(&mut files, args),
                        _ => {
                            if let Some(p) = shell_read_path(args) {
                                let out = result
                                    .split_once("Output:\n")
                                    .map_or(result.as_str(), |(_, o)| o);
                                files.insert(p, strip_line_numbers(out));
                            }
                        }
                    }
                }
                Part::Text { text, .. } => aider_listings(text, &mut files),
                _ => {}
            }
        }
    }
    files
}

fn apply_held_edit(files: &mut Files, args: &Value) {
    let Some(path) = args.get("file_path").and_then(Value::as_str) else {
        return;
    };
    let Some(content) = files.get_mut(path) else {
        return;
    };
    let edits: Vec<&Value> = match args.get("edits").and_then(Value::as_array) {
        Some(list) => list.iter().collect(),
        None => vec![args],
    };
    for edit in edits {
        let old = edit.get("old_string").and_then(Value::as_str).unwrap_or("");
        let new = edit.get("new_string").and_then(Value::as_str).unwrap_or("");
        if !old.is_empty() {
            *content = content.replacen(old, new, 1);
        }
    }
}

/// Aider shows files as `path` on a line of its own followed by a fenced block.
fn aider_listings(text: &str, files: &mut Files) {
    if !text.contains("```") {
        return;
    }
    let base = text.as_ptr() as usize;
    for fence in fences(text) {
        let start = fence.body.as_ptr() as usize - base;
        let before = &text[..start];
        let mut lines = before.lines().rev();
        let _fence_line = lines.next();
        let Some(name) = lines.next().map(str::trim) else {
            continue;
        };
        let looks_like_path = !name.is_empty()
            && !name.contains(' ')
            && (name.contains('.') || name.contains('/'))
            && !name.ends_with(':');
        if looks_like_path {
            files.insert(name.to_owned(), fence.body.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_are_stripped() {
        let table = [
            ("     1→fn a() {}\n     2→    x\n", "fn a() {}\n    x\n"),
            ("1\tfoo\n2\tbar\n", "foo\nbar\n"),
            (
                "plain text\n1\tnot numbered\n",
                "plain text\n1\tnot numbered\n",
            ),
        ];
        for (input, want) in table {
            assert_eq!(strip_line_numbers(input), want);
        }
    }

    #[test]
    fn diff_hunks_are_collected() {
        let codex = "*** Begin Patch\n*** Update File: src/a.rs\n@@ fn a()\n-    old();\n+    new();\n     keep();\n*** End Patch\n";
        let h = diff_hunks(codex);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].path, "src/a.rs");
        assert_eq!(h[0].old, vec!["    old();", "    keep();"]);
        let unified =
            "--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n def f():\n-    return 1\n+    return 2\n";
        let h = diff_hunks(unified);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].path, "x.py");
        assert_eq!(h[0].old, vec!["def f():", "    return 1"]);
    }

    #[test]
    fn shell_reads() {
        let table = [
            (
                serde_json::json!({"cmd": "cat src/main.rs"}),
                Some("src/main.rs"),
            ),
            (
                serde_json::json!({"cmd": "sed -n '1,200p' src/lib.rs"}),
                None,
            ),
            (
                serde_json::json!({"command": ["bash", "-lc", "nl -ba a.py"]}),
                Some("a.py"),
            ),
            (serde_json::json!({"cmd": "cargo test"}), None),
            (serde_json::json!({"cmd": "cat a | grep b"}), None),
        ];
        for (args, want) in table {
            assert_eq!(shell_read_path(&args).as_deref(), want, "{args}");
        }
    }
}
