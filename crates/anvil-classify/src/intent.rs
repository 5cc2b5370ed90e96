//! What the latest human text asks for: weighted word and phrase cues per work class.
//!
//! The text is normalized once (lowercase, every run of non-alphanumerics becomes one space, padded
//! with spaces), so a cue `" plan "` matches the word "plan" and `" refactor"` matches every word that
//! starts with "refactor", without regexes. Only the first [`MAX_HEAD`] and the last [`MAX_TAIL`]
//! bytes are read (a request is usually stated before or after what the human pasted), and the cue
//! table is indexed by the first two letters of its first word, so matching is one pass over the
//! words of the text, not one scan per cue.

use std::ops::Range;
use std::sync::OnceLock;

use anvil_config::WorkClass;

/// How many leading bytes of the human text are read.
pub(crate) const MAX_HEAD: usize = 2 * 1024;
/// How many trailing bytes of a longer human text are read too.
pub(crate) const MAX_TAIL: usize = 512;
/// The most bytes of human text read.
pub(crate) const MAX_TEXT: usize = MAX_HEAD + MAX_TAIL;

/// Scores per work class, indexed like [`WorkClass::ALL`].
pub(crate) type Scores = [f32; 6];

/// The index of a work class in [`Scores`].
pub(crate) fn idx(w: WorkClass) -> usize {
    match w {
        WorkClass::Chat => 0,
        WorkClass::BoundedEdit => 1,
        WorkClass::MultiFileRefactor => 2,
        WorkClass::Planning => 3,
        WorkClass::Review => 4,
        WorkClass::LongContext => 5,
    }
}

use WorkClass::{
    BoundedEdit as E, Chat as C, LongContext as L, MultiFileRefactor as M, Planning as P,
    Review as R,
};

/// The cue table: (pattern on the normalized text, class, weight).
const CUES: &[(&str, WorkClass, f32)] = &[
    // planning
    (" plan ", P, 2.0),
    (" plans ", P, 1.5),
    (" planning ", P, 1.5),
    (" design ", P, 1.5),
    (" design doc", P, 1.0),
    (" architecture", P, 1.5),
    (" architect ", P, 1.0),
    (" roadmap", P, 2.0),
    (" approach", P, 1.0),
    (" strategy", P, 1.5),
    (" break down ", P, 1.5),
    (" break this down", P, 1.5),
    (" break it down", P, 1.5),
    (" outline", P, 1.5),
    (" propos", P, 1.0),
    (" before writing any code", P, 2.0),
    (" don t write any code", P, 2.0),
    (" do not write any code", P, 2.0),
    (" no code yet", P, 2.0),
    (" without writing code", P, 2.0),
    (" don t change any code", P, 1.5),
    (" trade off", P, 1.5),
    (" tradeoff", P, 1.5),
    (" milestone", P, 1.5),
    (" phases ", P, 1.0),
    (" rfc ", P, 1.5),
    (" spec ", P, 1.0),
    (" how should we ", P, 1.5),
    (" how should i ", P, 1.0),
    (" best way to structure", P, 1.5),
    (" think through", P, 1.5),
    (" step by step", P, 0.5),
    (" todo list", P, 1.0),
    (" task list", P, 1.0),
    (" estimate ", P, 0.5),
    (" options for", P, 1.0),
    (" how would you ", P, 1.5),
    (" how would we ", P, 1.5),
    (" go about", P, 1.5),
    (" in what order", P, 2.0),
    (" breakdown", P, 1.5),
    (" sketch", P, 1.5),
    (" the steps", P, 1.5),
    (" steps we", P, 1.0),
    (" write up", P, 1.0),
    (" sequence", P, 1.0),
    (" pieces", P, 0.5),
    (" could work", P, 1.0),
    (" would work", P, 1.0),
    (" going forward", P, 1.0),
    (" don t change anything", P, 1.5),
    (" what would it take", P, 2.0),
    (" where do we start", P, 1.5),
    (" first steps", P, 1.0),
    (" high level", P, 1.0),
    (" scope ", P, 1.0),
    // review
    (" review", R, 2.5),
    (" look over", R, 1.5),
    (" audit", R, 1.5),
    (" critique", R, 2.0),
    (" feedback on", R, 1.5),
    (" pull request", R, 1.0),
    (" pr ", R, 1.0),
    (" this diff", R, 1.5),
    (" the diff", R, 1.0),
    (" this patch", R, 1.0),
    (" my changes", R, 1.0),
    (" any issues", R, 1.0),
    (" any bugs", R, 1.0),
    (" lgtm", R, 1.0),
    (" sanity check", R, 1.5),
    (" double check", R, 1.0),
    (" before i merge", R, 2.0),
    (" before merging", R, 2.0),
    (" check my ", R, 1.0),
    (" what do you think of", R, 1.0),
    (" nitpick", R, 1.5),
    (" go over", R, 1.0),
    (" take a look", R, 1.0),
    (" tell me if", R, 1.0),
    (" ready to merge", R, 2.5),
    (" merge ", R, 1.0),
    (" commits", R, 1.5),
    (" last commit", R, 1.0),
    (" anything i missed", R, 1.5),
    (" read through", R, 1.0),
    (" point out", R, 1.5),
    (" look right", R, 1.5),
    (" looks right", R, 1.5),
    (" pair of eyes", R, 2.5),
    (" and flag", R, 1.5),
    (" flag anything", R, 1.5),
    (" would you flag", R, 1.5),
    (" push back", R, 1.5),
    (" what i changed", R, 1.5),
    (" i changed", R, 1.0),
    (" changes to", R, 0.5),
    (" staged", R, 1.0),
    (" is this correct", R, 1.5),
    (" concerns", R, 1.0),
    (" risky", R, 1.0),
    (" anything wrong", R, 1.5),
    // multi-file refactor
    (" refactor", M, 1.5),
    (" refactor", E, 0.5),
    (" across ", M, 1.5),
    (" everywhere", M, 2.0),
    (" all files", M, 2.0),
    (" all the files", M, 2.0),
    (" every file", M, 2.0),
    (" throughout ", M, 1.5),
    (" codebase", M, 1.5),
    (" code base", M, 1.5),
    (" whole project", M, 2.0),
    (" entire project", M, 2.0),
    (" whole repo", M, 2.0),
    (" entire repo", M, 2.0),
    (" all call sites", M, 2.5),
    (" every call site", M, 2.5),
    (" all callers", M, 2.5),
    (" all the ", M, 0.5),
    (" every ", M, 0.5),
    (" project from ", M, 1.5),
    (" test files", M, 1.0),
    (" all the modules", M, 2.0),
    (" every module", M, 2.0),
    (" each module", M, 1.5),
    (" migrate", M, 1.5),
    (" split ", M, 1.0),
    (" into separate", M, 1.5),
    (" into its own module", M, 1.5),
    (" new module", M, 1.0),
    (" modules", M, 1.0),
    (" multiple files", M, 2.0),
    (" several files", M, 2.0),
    (" all usages", M, 2.0),
    (" every usage", M, 2.0),
    (" all uses", M, 2.0),
    (" consolidate", M, 1.0),
    (" restructure", M, 1.5),
    (" reorganiz", M, 1.5),
    (" project wide", M, 2.0),
    (" repo wide", M, 2.0),
    (" crates", M, 0.5),
    (" packages", M, 0.5),
    (" all handlers", M, 1.5),
    (" all endpoints", M, 1.5),
    (" replace all", M, 1.5),
    (" all the tests", M, 1.0),
    (" all tests", M, 1.0),
    (" workspace", M, 1.5),
    (" services", M, 0.75),
    (" every service", M, 1.5),
    (" models ", M, 0.75),
    (" repositories", M, 0.75),
    (" layer ", M, 0.5),
    (" clients", M, 0.75),
    (" components", M, 0.75),
    (" handlers", M, 0.75),
    (" endpoints", M, 0.75),
    (" controllers", M, 0.75),
    (" migrations", M, 0.75),
    (" shared ", M, 0.5),
    (" common package", M, 1.5),
    (" moving from ", M, 1.0),
    (" switch from ", M, 1.0),
    (" upgrade to ", M, 1.0),
    (" convert the ", M, 1.0),
    (" standardiz", M, 1.5),
    (" get rid of ", M, 0.5),
    (" inject", M, 0.5),
    (" distribute", M, 1.0),
    (" accordingly", M, 1.0),
    (" the app ", M, 0.5),
    (" extract ", M, 0.5),
    (" move ", M, 0.5),
    (" rename ", M, 0.5),
    // bounded edit
    (" fix", E, 1.5),
    (" bug", E, 1.0),
    (" add ", E, 1.0),
    (" change ", E, 1.0),
    (" update ", E, 1.0),
    (" rename ", E, 1.0),
    (" make it ", E, 1.0),
    (" make the ", E, 0.5),
    (" replace ", E, 1.0),
    (" remove ", E, 1.0),
    (" delete ", E, 0.5),
    (" implement", E, 1.0),
    (" write a function", E, 1.5),
    (" write a test", E, 1.5),
    (" add a test", E, 1.5),
    (" typo", E, 2.0),
    (" edit ", E, 1.0),
    (" modify ", E, 1.0),
    (" tweak", E, 1.5),
    (" this function", E, 1.0),
    (" the function", E, 0.5),
    (" this method", E, 1.0),
    (" line ", E, 0.5),
    (" this file", E, 1.0),
    (" crash", E, 1.0),
    (" failing", E, 0.5),
    (" off by one", E, 1.5),
    (" handle ", E, 0.5),
    (" return ", E, 0.5),
    (" bump ", E, 1.0),
    (" set ", E, 0.5),
    (" should be ", E, 0.5),
    (" instead of ", E, 0.5),
    (" increase ", E, 1.0),
    (" decrease ", E, 1.0),
    (" swap ", E, 1.0),
    (" wire ", E, 1.0),
    (" sort it out", E, 1.0),
    (" stop ", E, 0.5),
    (" default to ", E, 1.0),
    (" type hints", E, 0.5),
    (" fails ", E, 1.0),
    (" doesn t work", E, 1.0),
    (" ignores ", E, 0.5),
    (" log the ", E, 1.0),
    // chat
    (" explain", C, 2.0),
    (" what is ", C, 1.5),
    (" what s ", C, 1.0),
    (" what are ", C, 1.0),
    (" what does ", C, 1.5),
    (" why ", C, 1.0),
    (" how does ", C, 1.5),
    (" how do ", C, 1.0),
    (" difference between", C, 2.0),
    (" hello ", C, 2.0),
    (" hi ", C, 2.0),
    (" hey ", C, 0.5),
    (" thanks", C, 2.0),
    (" thank you", C, 2.0),
    (" haiku", C, 2.0),
    (" poem", C, 2.0),
    (" joke", C, 2.0),
    (" tell me", C, 1.0),
    (" meaning of", C, 1.5),
    (" eli5", C, 2.0),
    (" describe", C, 1.0),
    (" tldr", C, 1.0),
    (" which is better", C, 1.0),
    (" who ", C, 1.0),
    (" is there a way", C, 1.0),
    (" can you tell", C, 1.0),
    (" what time", C, 1.0),
    (" good morning", C, 2.0),
    (" quick question", C, 1.5),
    (" remind me", C, 1.5),
    (" worth it", C, 1.0),
    (" i forgot", C, 1.0),
    (" cool ", C, 1.0),
    (" ok ", C, 0.5),
    // long context
    (" this log", L, 1.0),
    (" these logs", L, 1.0),
    (" full log", L, 1.5),
    (" entire log", L, 1.5),
    (" whole log", L, 1.5),
    (" transcript", L, 1.0),
    (" whole file", L, 0.5),
    (" entire file", L, 0.5),
    (" summarize", L, 0.5),
    (" summarise", L, 0.5),
];

/// File extensions whose mention (`name.ext`) counts as a file reference.
const EXTS: &[&str] = &[
    "rs", "py", "ts", "tsx", "js", "jsx", "go", "java", "kt", "c", "h", "cc", "cpp", "hpp", "rb",
    "php", "cs", "swift", "toml", "yaml", "yml", "json", "md", "sql", "sh", "css", "html", "vue",
    "scala", "ex", "exs", "lua", "zig",
];

/// Lowercases the prose of `text` ([`prose_lines`]) into `out`, turning every run of
/// non-alphanumerics into one space, padded with spaces on both sides.
#[cfg(test)]
pub(crate) fn normalize(text: &str, out: &mut String) {
    normalize_lines(prose_lines(text), out);
}

/// [`normalize`] of lines already cut by [`prose_lines`] (the classifier cuts them once for this
/// and [`file_mentions_in_lines`]). ASCII, nearly all of a coding prompt, is handled byte by
/// byte; other characters are decoded and lowercased by Unicode's rules.
pub(crate) fn normalize_lines<'a>(lines: impl IntoIterator<Item = &'a str>, out: &mut String) {
    out.clear();
    out.push(' ');
    let mut space = true;
    for line in lines {
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii() {
                if b.is_ascii_alphanumeric() {
                    out.push(char::from(b.to_ascii_lowercase()));
                    space = false;
                } else if !space {
                    out.push(' ');
                    space = true;
                }
                i += 1;
                continue;
            }
            let Some(c) = line[i..].chars().next() else {
                break;
            };
            if c.is_alphanumeric() {
                out.extend(c.to_lowercase());
                space = false;
            } else if !space {
                out.push(' ');
                space = true;
            }
            i += c.len_utf8();
        }
        // the line break between lines is a separator too
        if !space {
            out.push(' ');
            space = true;
        }
    }
}

/// The prose lines of a human text's first [`MAX_HEAD`] and last [`MAX_TAIL`] bytes: fenced code
/// blocks are skipped and a pasted diff ends it (code and diffs are data, not what the human asks
/// for). Lines are cut as [`str::lines`] cuts them, head and tail separately.
pub(crate) fn prose_lines(text: &str) -> ProseLines<'_> {
    let (head, tail) = head_and_tail(text);
    ProseLines {
        rest: head,
        tail,
        in_fence: false,
        walk_fence: false,
        done: false,
    }
}

/// The first [`MAX_HEAD`] bytes of `text` and the rest of it, or, past [`MAX_TEXT`], its last
/// [`MAX_TAIL`] bytes (both cut at character boundaries).
fn head_and_tail(text: &str) -> (&str, &str) {
    let head = super::fingerprint::head(text, MAX_HEAD);
    let tail = if text.len() > MAX_TEXT {
        let mut start = text.len() - MAX_TAIL;
        while !text.is_char_boundary(start) {
            start += 1;
        }
        &text[start..]
    } else {
        &text[head.len()..]
    };
    (head, tail)
}

/// memchr's vector substring searchers for the markers the classifier looks for, built once
/// (building one costs about what searching a short text does).
pub(crate) struct Markers {
    /// A line that opens or closes a fence (once it is at a line start).
    fence: memchr::memmem::Finder<'static>,
    /// A pasted diff's file header, at a line start.
    diff_git_line: memchr::memmem::Finder<'static>,
    /// A pasted unified diff's old-file line, at a line start.
    old_file_line: memchr::memmem::Finder<'static>,
    /// A git diff's file header anywhere.
    pub diff_git: memchr::memmem::Finder<'static>,
    /// A unified diff's new-file line.
    pub new_file_line: memchr::memmem::Finder<'static>,
    /// A unified diff's hunk header.
    pub hunk_line: memchr::memmem::Finder<'static>,
}

/// The [`Markers`], built on first use.
pub(crate) fn markers() -> &'static Markers {
    static MARKERS: OnceLock<Markers> = OnceLock::new();
    MARKERS.get_or_init(|| Markers {
        fence: memchr::memmem::Finder::new("```"),
        diff_git_line: memchr::memmem::Finder::new("\ndiff --git "),
        old_file_line: memchr::memmem::Finder::new("\n--- a/"),
        diff_git: memchr::memmem::Finder::new("diff --git "),
        new_file_line: memchr::memmem::Finder::new("\n+++ "),
        hunk_line: memchr::memmem::Finder::new("\n@@ "),
    })
}

/// The iterator of [`prose_lines`]: one pass over the bytes, with the `memchr` crate's vector
/// search for line ends (this runs on every request; `str::find` and the adapter chain it replaced
/// cost about 250 instructions a line).
pub(crate) struct ProseLines<'a> {
    rest: &'a str,
    tail: &'a str,
    in_fence: bool,
    /// The open fence holds a line that ends the prose, so it is walked line by line.
    walk_fence: bool,
    done: bool,
}

impl<'a> ProseLines<'a> {
    /// Inside a fence, jumps `rest` to the line that closes it (or to the end of `rest`), unless a
    /// line before that one would end the prose (`diff --git `, `--- a/`): code blocks are most of
    /// a coding prompt, and cutting them line by line was a third of the classifier's time.
    fn skip_fence(&mut self) {
        let markers = markers();
        let bytes = self.rest.as_bytes();
        let mut from = 0;
        let close = loop {
            let Some(found) = markers.fence.find(&bytes[from..]) else {
                break bytes.len();
            };
            let at = from + found;
            let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |nl| nl + 1);
            if self.rest[line_start..at].trim_start().is_empty() {
                break line_start;
            }
            from = at + 3;
        };
        let fenced = &bytes[..close];
        let ends_prose = |line: &memchr::memmem::Finder<'_>| {
            fenced.starts_with(&line.needle()[1..]) || line.find(fenced).is_some()
        };
        if ends_prose(&markers.diff_git_line) || ends_prose(&markers.old_file_line) {
            self.walk_fence = true;
        } else {
            self.rest = &self.rest[close..];
        }
    }
}

impl<'a> Iterator for ProseLines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        while !self.done {
            if self.in_fence && !self.walk_fence {
                self.skip_fence();
            }
            if self.rest.is_empty() {
                if self.tail.is_empty() {
                    self.done = true;
                    break;
                }
                self.rest = std::mem::take(&mut self.tail);
                continue;
            }
            let line = match memchr::memchr(b'\n', self.rest.as_bytes()) {
                Some(at) => {
                    let line = &self.rest[..at];
                    self.rest = &self.rest[at + 1..];
                    line.strip_suffix('\r').unwrap_or(line)
                }
                None => std::mem::take(&mut self.rest),
            };
            // A line opening with an ASCII letter or digit other than `d` can neither end the
            // prose (`diff --git`, `--- a/`) nor open a fence (whitespace, then three backticks).
            let special = line
                .as_bytes()
                .first()
                .is_some_and(|&b| b == b'd' || !b.is_ascii_alphanumeric());
            if special {
                if line.starts_with("diff --git ") || line.starts_with("--- a/") {
                    self.done = true;
                    break;
                }
                if line.trim_start().starts_with("```") {
                    self.in_fence = !self.in_fence;
                    self.walk_fence = false;
                    continue;
                }
            }
            if !self.in_fence {
                return Some(line);
            }
        }
        None
    }
}

/// First words that open a question (a weak `chat` cue: other cues outweigh it).
const QUESTION_OPENERS: &[&str] = &[
    " what ", " why ", " how ", " is ", " are ", " can ", " does ", " do ", " where ", " when ",
    " who ", " which ",
];

/// The cue table indexed by its first word's first two bytes: the cues whose pattern starts with
/// a space and then bytes `f`, `s` are `entries[pairs[pair(f, s)]]`, sorted by pattern (so by their
/// third byte). A word's candidates are found with one lookup; the scan of a whole letter's
/// bucket it replaced cost ~25 ns a word.
struct CueIndex {
    pairs: Vec<Range<u16>>,
    entries: Vec<u16>,
}

/// The bytes a cue's first two letters are made of: the normalized text's ASCII letters and
/// digits, and a space (a one-letter first word).
const SLOTS: usize = 37;

fn slot(b: u8) -> Option<usize> {
    match b {
        b'a'..=b'z' => Some(usize::from(b - b'a')),
        b'0'..=b'9' => Some(26 + usize::from(b - b'0')),
        b' ' => Some(36),
        _ => None,
    }
}

/// The index in [`CueIndex::pairs`] of a word starting with `first`, `second`.
fn pair(first: u8, second: u8) -> Option<usize> {
    Some(slot(first)? * SLOTS + slot(second)?)
}

fn cue_index() -> &'static CueIndex {
    static INDEX: OnceLock<CueIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut keyed: Vec<(usize, &str, u16)> = CUES
            .iter()
            .enumerate()
            .filter_map(|(i, (pattern, _, _))| {
                let b = pattern.as_bytes();
                Some((pair(*b.get(1)?, *b.get(2)?)?, *pattern, i as u16))
            })
            .collect();
        keyed.sort_unstable();
        let mut pairs = vec![0..0; SLOTS * SLOTS];
        for (at, &(pair, _, _)) in keyed.iter().enumerate() {
            let range = &mut pairs[pair];
            if range.start == range.end {
                *range = at as u16..at as u16;
            }
            range.end = at as u16 + 1;
        }
        CueIndex {
            pairs,
            entries: keyed.into_iter().map(|(_, _, i)| i).collect(),
        }
    })
}

/// The cues of a normalized text, added to `scores` (each cue once); returns how many cues matched.
pub(crate) fn score(normalized: &str, scores: &mut Scores) -> u32 {
    let mut hits = 0;
    if QUESTION_OPENERS.iter().any(|q| normalized.starts_with(q)) {
        scores[idx(C)] += 1.0;
        hits += 1;
    }
    let index = cue_index();
    let mut seen = [0u64; CUES.len().div_ceil(64)];
    let b = normalized.as_bytes();
    // every word start but the last byte's: the bytes after a space
    for space in memchr::memchr_iter(b' ', &b[..b.len().saturating_sub(2)]) {
        let p = space + 1;
        let Some(pair) = pair(b[p], b[p + 1]) else {
            continue;
        };
        let third = b.get(p + 2).copied().unwrap_or(b' ');
        let range = &index.pairs[pair];
        for &i in &index.entries[usize::from(range.start)..usize::from(range.end)] {
            let i = usize::from(i);
            let (pattern, class, weight) = CUES[i];
            // sorted by pattern: past the text's third byte, no later cue matches
            match pattern.as_bytes().get(3).map(|&t| t.cmp(&third)) {
                Some(std::cmp::Ordering::Less) => continue,
                Some(std::cmp::Ordering::Greater) => break,
                _ => {}
            }
            if seen[i / 64] & (1 << (i % 64)) == 0 && matches_at(b, p - 1, pattern.as_bytes()) {
                seen[i / 64] |= 1 << (i % 64);
                scores[idx(class)] += weight;
                hits += 1;
            }
        }
    }
    hits
}

/// Whether `pattern` occurs in `text` at `at` (an inlined byte loop: cues are short and most
/// candidates differ by their third byte, so a `memcmp` call costs more than it saves).
fn matches_at(text: &[u8], at: usize, pattern: &[u8]) -> bool {
    text.len() - at >= pattern.len() && text[at..].iter().zip(pattern).all(|(a, b)| a == b)
}

/// How many distinct file names (`word.ext` with a known source extension) the raw text mentions,
/// counting at most 16.
#[cfg(test)]
pub(crate) fn file_mentions(text: &str) -> u32 {
    file_mentions_in_lines(prose_lines(text))
}

/// [`file_mentions`] of lines already cut by [`prose_lines`].
pub(crate) fn file_mentions_in_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> u32 {
    let mut seen: Vec<&str> = Vec::new();
    for line in lines {
        mentions_in(line, &mut seen);
        if seen.len() >= 16 {
            break;
        }
    }
    seen.len() as u32
}

fn mentions_in<'a>(text: &'a str, seen: &mut Vec<&'a str>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(off) = text[i..].find('.') {
        let dot = i + off;
        i = dot + 1;
        // the name before the dot
        let mut s = dot;
        while s > 0 && is_path_byte(bytes[s - 1]) {
            s -= 1;
        }
        if s == dot {
            continue;
        }
        let mut e = dot + 1;
        while e < bytes.len() && bytes[e].is_ascii_alphanumeric() {
            e += 1;
        }
        let ext = &text[dot + 1..e];
        if !EXTS.contains(&ext) {
            continue;
        }
        let name = &text[s..e];
        if !seen.contains(&name) {
            seen.push(name);
            if seen.len() >= 16 {
                break;
            }
        }
    }
}

fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The adapter-chain line cutting [`prose_lines`] replaced, kept as the reference.
    fn prose_lines_reference(text: &str) -> Vec<&str> {
        let (head, tail) = head_and_tail(text);
        let mut in_fence = false;
        head.lines()
            .chain(tail.lines())
            .take_while(|l| !l.starts_with("diff --git ") && !l.starts_with("--- a/"))
            .filter(move |l| {
                if l.trim_start().starts_with("```") {
                    in_fence = !in_fence;
                    return false;
                }
                !in_fence
            })
            .collect()
    }

    #[test]
    fn prose_lines_cut_as_the_reference_does() {
        let long = format!(
            "start here\r\n{}\n```rust\nfn f() {{}}\n```\nend, the ask\r",
            "a line of prose about src/main.rs\n".repeat(MAX_TEXT / 30)
        );
        // a fence that opens in the head and closes in the tail
        let long_fence = format!(
            "the ask\n```\n{}```\nthe end\n",
            "    let x = 1; // code\n".repeat(MAX_TEXT / 10)
        );
        let cases = [
            "",
            "\n",
            "\n\n",
            "one",
            "one\n",
            "one\r\ntwo\r\n",
            "trailing cr\r",
            "a\r\rb\n",
            "  ```py\ncode\n   ```\nprose\n``` unclosed\nhidden",
            "before\ndiff --git a/x b/x\nafter",
            "before\n--- a/x\n+++ b/x",
            "\u{3000}```\ncode\n\u{3000}```\nwide spaces fence too",
            "\u{b}```\nvertical tab\n\u{c}```\nform feed\nd\ndiff",
            "ünïcödé\nlines ✓\n",
            long.as_str(),
            "ask\n```\nlet s = \"```\";\n  x ``` y\n```\nafter",
            "ask\n````md\n```\ninner\n````\nafter",
            "ask\r\n```\r\ncode\r\n```\r\nafter\r\n",
            "ask\n```\ncode\ndiff --git a/x b/x\n```\nhidden",
            "ask\n```\n--- a/x\n```\nhidden",
            "ask\n```\nnot --- a/x nor diff --git \n```\nafter",
            "```\ndiff --git a/x b/x",
            "ask\n```\nunclosed to the end",
            long_fence.as_str(),
        ];
        for text in cases {
            assert_eq!(
                prose_lines(text).collect::<Vec<_>>(),
                prose_lines_reference(text),
                "{text:?}"
            );
        }
    }

    proptest::proptest! {
        /// Texts made of the lines that matter (fences, diff markers, CRLF, Unicode spaces)
        /// around prose, long enough to cross the head/tail cut.
        #[test]
        fn prose_lines_cut_as_the_reference_does_on_any_text(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "prose words", "```", "```rust", "  ```", "\u{3000}```", "x ```", "\r",
                    "diff --git a/x b/x", "--- a/x", "d", "-", "``", "\n", "\n", "\n", "ü",
                    "let s = \"```\";", "code line with enough bytes to fill the head quickly",
                ]),
                0..400,
            )
        ) {
            let text = parts.concat();
            proptest::prop_assert_eq!(
                prose_lines(&text).collect::<Vec<_>>(),
                prose_lines_reference(&text)
            );
        }
    }

    #[test]
    fn normalizes() {
        let cases = [
            ("Hello, World!", " hello world "),
            ("don't  write\n\nany code", " don t write any code "),
            ("", " "),
            ("Ünïcode ÄB", " ünïcode äb "),
            (
                "review this:\n```py\nlo, hi = 0, 1\n```\nthanks",
                " review this thanks ",
            ),
            ("any bugs?\n\ndiff --git a/x b/x\n+fix", " any bugs "),
        ];
        let mut out = String::new();
        for (input, want) in cases {
            normalize(input, &mut out);
            assert_eq!(out, want, "{input:?}");
        }
    }

    #[test]
    fn top_cue_per_text() {
        let cases = [
            (
                "Write a plan for the migration, no code yet",
                WorkClass::Planning,
            ),
            ("Please review this diff before I merge", WorkClass::Review),
            (
                "Refactor the error handling across the whole codebase",
                WorkClass::MultiFileRefactor,
            ),
            ("fix the typo in the README", WorkClass::BoundedEdit),
            ("explain what a monad is", WorkClass::Chat),
            ("summarize this log, the entire log", WorkClass::LongContext),
        ];
        let mut n = String::new();
        for (text, want) in cases {
            normalize(text, &mut n);
            let mut s = [0.0; 6];
            assert!(score(&n, &mut s) > 0, "{text}");
            let best = WorkClass::ALL
                .into_iter()
                .max_by(|a, b| s[idx(*a)].total_cmp(&s[idx(*b)]))
                .map(|w| w.as_str());
            assert_eq!(best, Some(want.as_str()), "{text}: {s:?}");
        }
    }

    #[test]
    fn indexed_matching_equals_naive_matching() {
        assert_eq!(
            cue_index().entries.len(),
            CUES.len(),
            "every cue has an ASCII first word of 2+ bytes"
        );
        assert!(CUES
            .iter()
            .all(|(p, _, _)| p.starts_with(' ') && !p[1..].starts_with(' ')));
        // every cue once, in table order and reversed (cues inside cues, at both ends)
        let every: Vec<&str> = CUES.iter().map(|(p, _, _)| p.trim()).collect();
        let forward = every.join(". ");
        let backward = every.iter().rev().copied().collect::<Vec<_>>().join(", ");
        let texts = [
            "Refactor the error handling across the whole codebase; no code yet, plan first",
            "explain the difference between a process and a thread please",
            "review my changes before I merge, any bugs in the last commit?",
            "",
            "x",
            "lgtm",
            "a ü ünïcode plan",
            forward.as_str(),
            backward.as_str(),
        ];
        let mut n = String::new();
        for text in texts {
            normalize(text, &mut n);
            let mut fast = [0.0; 6];
            let hits = score(&n, &mut fast);
            let mut naive = [0.0; 6];
            let mut naive_hits = 0;
            if QUESTION_OPENERS.iter().any(|q| n.starts_with(q)) {
                naive[idx(C)] += 1.0;
                naive_hits += 1;
            }
            for (pattern, class, weight) in CUES {
                if n.contains(pattern) {
                    naive[idx(*class)] += weight;
                    naive_hits += 1;
                }
            }
            assert_eq!((hits, fast), (naive_hits, naive), "{text}");
        }
    }

    #[test]
    fn reads_head_and_tail_of_long_texts() {
        let text = format!(
            "plan this\n{}\nthen review it",
            "lorem ipsum\n".repeat(2_000)
        );
        let mut n = String::new();
        normalize(&text, &mut n);
        assert!(n.starts_with(" plan this lorem "), "{}", &n[..20]);
        assert!(n.ends_with(" then review it "));
        assert!(n.len() <= MAX_TEXT + 2);
    }

    #[test]
    fn explain_is_not_plan() {
        let mut n = String::new();
        normalize("explain this", &mut n);
        let mut s = [0.0; 6];
        score(&n, &mut s);
        assert_eq!(s[idx(WorkClass::Planning)], 0.0);
    }

    #[test]
    fn counts_file_mentions() {
        let cases = [
            ("fix src/main.rs", 1),
            ("update a.py, b.py and a.py", 2),
            ("touch api/users.ts api/orders.ts lib/db.go README.md", 4),
            ("version 1.2.3 of e.g. the thing.", 0),
            ("", 0),
            (
                "look at a.rs\n```\nuse b.rs;\n```\ndiff --git a/c.rs b/c.rs",
                1,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(file_mentions(text), want, "{text}");
        }
    }
}
