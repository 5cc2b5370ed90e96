//! Fenced code blocks that must parse: Python, Rust, JavaScript, TypeScript (tree-sitter), JSON
//! (tree-sitter), TOML (`toml_edit`) and YAML (`yaml-rust2`).

use tree_sitter::{Language, Parser};

/// A fenced block: its info-string language and body.
pub(crate) struct Fence<'a> {
    /// The info string's first word, lowercased by the caller when matching.
    pub lang: &'a str,
    /// The body, without the fence lines.
    pub body: &'a str,
}

/// The fenced blocks of `text` (``` or ~~~ fences; an unclosed last fence is ignored).
pub(crate) fn fences(text: &str) -> Vec<Fence<'_>> {
    let mut out = Vec::new();
    let mut open: Option<(&str, &str, usize)> = None; // (marker, lang, body start)
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        let trimmed = line.trim();
        match open {
            None => {
                for marker in ["```", "~~~"] {
                    if let Some(rest) = trimmed.strip_prefix(marker) {
                        let lang = rest.split_whitespace().next().unwrap_or("");
                        open = Some((marker, lang, pos));
                        break;
                    }
                }
            }
            Some((marker, lang, body_start)) => {
                if trimmed == marker {
                    out.push(Fence {
                        lang,
                        body: &text[body_start..start],
                    });
                    open = None;
                }
            }
        }
    }
    out
}

enum Lang {
    Tree(Language, &'static str),
    Toml,
    Yaml,
}

fn lang_of(tag: &str) -> Option<Lang> {
    let tag = tag
        .trim_start_matches('{')
        .trim_end_matches('}')
        .to_ascii_lowercase();
    Some(match tag.as_str() {
        "python" | "py" | "python3" => Lang::Tree(tree_sitter_python::LANGUAGE.into(), "python"),
        "rust" | "rs" => Lang::Tree(tree_sitter_rust::LANGUAGE.into(), "rust"),
        "javascript" | "js" | "jsx" | "mjs" | "cjs" => {
            Lang::Tree(tree_sitter_javascript::LANGUAGE.into(), "javascript")
        }
        "typescript" | "ts" => Lang::Tree(
            tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            "typescript",
        ),
        "tsx" => Lang::Tree(tree_sitter_typescript::LANGUAGE_TSX.into(), "tsx"),
        "json" => Lang::Tree(tree_sitter_json::LANGUAGE.into(), "json"),
        "toml" => Lang::Toml,
        "yaml" | "yml" => Lang::Yaml,
        _ => return None,
    })
}

/// Why a fenced block of `text` does not parse, for the first one that does not.
pub(crate) fn check_fenced(text: &str) -> Option<String> {
    if !text.contains("```") && !text.contains("~~~") {
        return None;
    }
    let mut parsers = Parsers::default();
    // Aider SEARCH/REPLACE blocks and empty blocks are not programs.
    let blocks: Vec<(usize, Fence<'_>, &'static str)> = fences(text)
        .into_iter()
        .enumerate()
        .filter(|(_, f)| !f.body.contains("<<<<<<< SEARCH") && !f.body.trim().is_empty())
        .filter_map(|(i, f)| {
            let name = match lang_of(f.lang)? {
                Lang::Tree(_, name) => name,
                Lang::Toml => "toml",
                Lang::Yaml => "yaml",
            };
            Some((i, f, name))
        })
        .collect();
    let blocks = within_budget(blocks);
    // The blocks of one language are parsed as one document first (one parse instead of many);
    // only when that fails is each block parsed alone, to name the broken one.
    let mut batch_ok: Vec<&'static str> = Vec::new();
    for name in ["python", "rust", "javascript", "typescript", "tsx"] {
        let same: Vec<&str> = blocks
            .iter()
            .filter(|(_, _, n)| *n == name)
            .map(|(_, f, _)| f.body)
            .collect();
        if same.len() > 1 && parsers.parse_error(name, &same.join("\n\n")).is_none() {
            batch_ok.push(name);
        }
    }
    for (i, fence, name) in &blocks {
        if batch_ok.contains(name) {
            continue;
        }
        // Plain JSON goes through serde_json; tree-sitter still judges JSON with comments.
        if *name == "json"
            && serde_json::from_str::<&serde_json::value::RawValue>(fence.body).is_ok()
        {
            continue;
        }
        if let Some(reason) = parsers.parse_error(fence.lang, fence.body) {
            return Some(format!(
                "code block {} ({}) does not parse: {reason}",
                i + 1,
                fence.lang
            ));
        }
    }
    None
}

/// Most bytes of fenced code parsed per answer. tree-sitter parses typical Rust at about 10 MB/s
/// and Python at about 7 MB/s on the 2-core bench machine (4.4 KB of Rust in 0.44 ms, 2.2 KB of
/// Python in 0.31 ms), so this bounds the check near half a millisecond; 8 KiB took 0.86 ms at the
/// median and pushed the whole verify chain past a millisecond at p99 (`docs/BENCHMARKS.md`).
/// Code past the budget is not judged, except the last block, which always is: a local model that
/// breaks code usually breaks it where it stopped.
pub(crate) const PARSE_BUDGET: usize = 4 * 1024;

/// The blocks to parse: in order while they fit [`PARSE_BUDGET`], and always the last one.
fn within_budget<T>(blocks: Vec<(usize, Fence<'_>, T)>) -> Vec<(usize, Fence<'_>, T)> {
    let total: usize = blocks.iter().map(|(_, f, _)| f.body.len()).sum();
    if total <= PARSE_BUDGET {
        return blocks;
    }
    let last = blocks.len().saturating_sub(1);
    let mut left = PARSE_BUDGET.saturating_sub(blocks.last().map_or(0, |(_, f, _)| f.body.len()));
    blocks
        .into_iter()
        .enumerate()
        .filter(|(n, (_, fence, _))| {
            if *n == last {
                return true;
            }
            let fits = fence.body.len() <= left;
            if fits {
                left -= fence.body.len();
            }
            fits
        })
        .map(|(_, block)| block)
        .collect()
}

/// One tree-sitter parser per language, made on first use and reused for every block.
#[derive(Default)]
struct Parsers {
    made: Vec<(&'static str, Parser)>,
}

impl Parsers {
    fn get(&mut self, language: &Language, name: &'static str) -> Option<&mut Parser> {
        let at = match self.made.iter().position(|(n, _)| *n == name) {
            Some(at) => at,
            None => {
                let mut parser = Parser::new();
                parser.set_language(language).ok()?;
                self.made.push((name, parser));
                self.made.len() - 1
            }
        };
        self.made.get_mut(at).map(|(_, p)| p)
    }

    /// Why `body` does not parse as `tag`, or `None` (it parses, or the language is not checked).
    fn parse_error(&mut self, tag: &str, body: &str) -> Option<String> {
        parse_error_with(self, tag, body)
    }
}

/// Why `body` does not parse as `tag`, or `None` (it parses, or the language is not checked).
#[cfg(test)]
fn parse_error(tag: &str, body: &str) -> Option<String> {
    Parsers::default().parse_error(tag, body)
}

fn parse_error_with(parsers: &mut Parsers, tag: &str, body: &str) -> Option<String> {
    match lang_of(tag)? {
        Lang::Tree(language, name) => {
            let parser = parsers.get(&language, name)?;
            let tree = parser.parse(body, None)?;
            let root = tree.root_node();
            if !root.has_error() {
                return None;
            }
            let at = first_error(root).map_or(root.start_position(), |n| n.start_position());
            Some(format!(
                "{name} syntax error at line {}, column {}",
                at.row + 1,
                at.column + 1
            ))
        }
        Lang::Toml => body
            .parse::<toml_edit::DocumentMut>()
            .err()
            .map(|e| format!("toml: {}", e.message().trim_end())),
        Lang::Yaml => yaml_rust2::YamlLoader::load_from_str(body)
            .err()
            .map(|e| format!("yaml: {e}")),
    }
}

fn first_error(node: tree_sitter::Node<'_>) -> Option<tree_sitter::Node<'_>> {
    if node.is_error() || node.is_missing() {
        return Some(node);
    }
    let mut cursor = node.walk();
    let children: Vec<_> = node.children(&mut cursor).collect();
    children
        .into_iter()
        .filter(|c| c.has_error())
        .find_map(first_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_parse_and_break() {
        let table = [
            ("python", "def f(x):\n    return x + 1\n", true),
            ("python", "def f(x)\n    return x +\n", false),
            ("rust", "fn main() {\n    let x = 1;\n}\n", true),
            ("rust", "fn main() {\n    let x = ;\n", false),
            ("js", "const a = [1, 2].map((x) => x * 2);\n", true),
            ("js", "const a = [1, 2.map((x) => x * 2;\n", false),
            (
                "ts",
                "function f(x: number): string { return `${x}`; }\n",
                true,
            ),
            ("ts", "function f(x: number): { return x; \n", false),
            ("json", "{\"a\": [1, 2, {\"b\": null}]}", true),
            ("json", "{\"a\": [1, 2,, }", false),
            (
                "toml",
                "[package]\nname = \"x\"\nversion = \"0.1.0\"\n",
                true,
            ),
            ("toml", "[package\nname = x\n", false),
            ("yaml", "a:\n  - b\n  - c: d\n", true),
            ("yaml", "a: [b, c\nd: }\n", false),
            ("cobol", "this is not checked", true),
        ];
        for (tag, body, ok) in table {
            assert_eq!(parse_error(tag, body).is_none(), ok, "{tag}: {body}");
        }
    }

    #[test]
    fn past_the_budget_only_the_last_block_is_judged() {
        let good = format!("```python\n{}```\n", "x = 1\n".repeat(PARSE_BUDGET / 6 + 1));
        let broken = "```python\ndef f(:\n```\n";
        // A broken block past the budget is not judged; a broken last block always is.
        let text = format!("{good}{broken}{good}");
        assert_eq!(check_fenced(&text), None);
        let text = format!("{good}{good}{broken}");
        assert!(check_fenced(&text).is_some());
        // Within the budget every block is judged.
        assert!(check_fenced(&format!("{broken}```python\nx = 1\n```\n")).is_some());
    }

    #[test]
    fn fences_are_split() {
        let text = "a\n```rust\nfn a() {}\n```\nb\n~~~py\nx = 1\n~~~\n```\nunclosed";
        let f = fences(text);
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].lang, f[0].body), ("rust", "fn a() {}\n"));
        assert_eq!((f[1].lang, f[1].body), ("py", "x = 1\n"));
    }
}
