//! Server-Sent Events: a push-based decoder and an encoder.

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field, if any.
    pub id: Option<String>,
    /// The `retry:` field, if any.
    pub retry: Option<u64>,
}

impl SseEvent {
    /// An event with a name and data.
    pub fn named(event: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            event: Some(event.into()),
            data: data.into(),
            id: None,
            retry: None,
        }
    }

    /// An event with data only.
    pub fn data(data: impl Into<String>) -> Self {
        Self {
            event: None,
            data: data.into(),
            id: None,
            retry: None,
        }
    }
}

/// The default limit on the length of one SSE line: 16 MiB.
pub const DEFAULT_MAX_LINE_LEN: usize = 16 * 1024 * 1024;

/// The UTF-8 byte order mark, skipped once at the start of a stream.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// A stream that [`SseDecoder`] refuses to decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A line grew past the decoder's limit before its line ending arrived.
    #[error("sse line longer than {limit} bytes")]
    LineTooLong {
        /// The limit in force, in bytes.
        limit: usize,
    },
}

/// A push-based Server-Sent Events decoder following the WHATWG `EventSource` parsing rules
/// (HTML Living Standard, "Parsing an event stream" and "Interpreting an event stream").
///
/// Feed it the body in chunks of any size with [`push`](Self::push) and call
/// [`finish`](Self::finish) at the end of the body. Any split of the same bytes yields the same
/// events: line endings may be LF, CRLF or a lone CR (a CR at the end of one chunk and an LF at the
/// start of the next are one line ending), a UTF-8 byte order mark at the very start is skipped even
/// when split, and a multi-byte UTF-8 character may be split anywhere, because lines are buffered as
/// bytes and decoded (lossily, U+FFFD for invalid sequences) only once complete.
///
/// Parsing follows the standard: a line starting with `:` is a comment (counted, see
/// [`comments`](Self::comments)); a line without `:` is a field name with an empty value; one space
/// after the colon is stripped; `data` lines are joined with `\n`; `retry` is accepted only when it
/// is all ASCII digits; an `id` containing NUL is ignored; unknown fields are ignored; a blank line
/// dispatches the event, unless no `data` field was seen (then nothing is dispatched, whatever the
/// `event` name), and an empty `event` name means none.
///
/// Deliberate deviations:
///
/// * At end of input, [`finish`](Self::finish) treats an unterminated last line as complete and
///   dispatches a pending event even without the closing blank line (a browser discards it). Upstreams
///   that close the connection right after their last `data:` line then lose nothing.
/// * [`SseEvent::id`] and [`SseEvent::retry`] carry only the fields set within that event's own
///   block, so events re-encode as they came. The standard's sticky "last event ID" and reconnection
///   time are available from [`last_event_id`](Self::last_event_id) and [`retry`](Self::retry).
/// * A line longer than the configured limit ([`DEFAULT_MAX_LINE_LEN`] unless set with
///   [`with_max_line_len`](Self::with_max_line_len)) is an error instead of unbounded growth.
///
/// One reusable line buffer holds an incomplete line between pushes; complete lines inside a chunk
/// are parsed in place, so decoding allocates only the strings of the events it returns.
#[derive(Debug, Clone)]
pub struct SseDecoder {
    /// Bytes of the current line not yet terminated (only when a line spans pushes).
    line: Vec<u8>,
    /// The data buffer: every `data` value followed by `\n`.
    data: String,
    /// Whether at least one `data` field was seen in the current block.
    has_data: bool,
    /// The event type buffer.
    event: String,
    /// The `id` set in the current block.
    id: Option<String>,
    /// The `retry` set in the current block.
    block_retry: Option<u64>,
    /// The sticky last event ID of the standard.
    last_event_id: String,
    /// The sticky reconnection time of the standard.
    retry: Option<u64>,
    /// The previous chunk ended with CR, so an LF first in the next chunk belongs to it.
    pending_cr: bool,
    /// How many bytes of the BOM have matched at the start of the stream; `None` once decided.
    bom_matched: Option<usize>,
    /// Comment lines seen.
    comments: u64,
    /// Longest line accepted, in bytes, without its line ending.
    max_line_len: usize,
    /// Set once a line was too long; the decoder then refuses further input until `finish`.
    failed: bool,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder at the start of a stream, with the [`DEFAULT_MAX_LINE_LEN`] limit.
    pub fn new() -> Self {
        Self::with_max_line_len(DEFAULT_MAX_LINE_LEN)
    }

    /// A decoder at the start of a stream that rejects lines longer than `max_line_len` bytes.
    pub fn with_max_line_len(max_line_len: usize) -> Self {
        Self {
            line: Vec::new(),
            data: String::new(),
            has_data: false,
            event: String::new(),
            id: None,
            block_retry: None,
            last_event_id: String::new(),
            retry: None,
            pending_cr: false,
            bom_matched: Some(0),
            comments: 0,
            max_line_len,
            failed: false,
        }
    }

    /// The longest line accepted, in bytes, without its line ending.
    pub fn max_line_len(&self) -> usize {
        self.max_line_len
    }

    /// How many comment lines (starting with `:`, such as keep-alives) were seen so far.
    pub fn comments(&self) -> u64 {
        self.comments
    }

    /// The standard's last event ID: the value of the latest valid `id` field, kept across events.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The standard's reconnection time: the latest valid `retry` field in milliseconds, if any.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// Feeds the next chunk of the body and appends the events it completes.
    ///
    /// On [`SseError::LineTooLong`], events completed before the offending line have already been
    /// appended; the decoder then rejects every further push until [`finish`](Self::finish).
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.failed {
            return Err(SseError::LineTooLong {
                limit: self.max_line_len,
            });
        }
        let mut bytes = bytes;
        if let Some(matched) = self.bom_matched {
            let mut matched = matched;
            while let Some((&b, rest)) = bytes.split_first() {
                if b != BOM[matched] {
                    // Not a BOM after all: the bytes held back are ordinary input.
                    self.bom_matched = None;
                    self.feed(&BOM[..matched], out)?;
                    break;
                }
                bytes = rest;
                matched += 1;
                if matched == BOM.len() {
                    self.bom_matched = None;
                    break;
                }
            }
            if self.bom_matched.is_some() {
                self.bom_matched = Some(matched);
                return Ok(());
            }
        }
        self.feed(bytes, out)
    }

    /// Ends the stream: an unterminated last line counts as complete and a pending event is
    /// dispatched even without its blank line (see the type's docs). The decoder is then reset to
    /// the start of a new stream with the same line limit.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.failed {
            if let Some(matched) = self.bom_matched {
                // A stream that is a proper prefix of the BOM: those bytes are a line.
                self.line.extend_from_slice(&BOM[..matched]);
            }
            if !self.line.is_empty() {
                let line = std::mem::take(&mut self.line);
                self.process_line(&line, out);
            }
            self.dispatch(out);
        }
        *self = Self::with_max_line_len(self.max_line_len);
    }

    /// Splits `bytes` into lines and processes them; the BOM has been dealt with.
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let mut rest = bytes;
        if self.pending_cr {
            if let Some((&first, tail)) = rest.split_first() {
                self.pending_cr = false;
                if first == b'\n' {
                    rest = tail;
                }
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', rest) {
            let (line, tail) = rest.split_at(end);
            let skip = match tail {
                [b'\r', b'\n', ..] => 2,
                [b'\r'] => {
                    self.pending_cr = true;
                    1
                }
                _ => 1,
            };
            rest = &tail[skip..];
            if self.line.is_empty() {
                self.check_len(line.len())?;
                self.process_line(line, out);
            } else {
                self.check_len(self.line.len() + line.len())?;
                self.line.extend_from_slice(line);
                let buffered = std::mem::take(&mut self.line);
                self.process_line(&buffered, out);
                // Give the (now cleared) buffer back so its capacity is reused.
                self.line = buffered;
                self.line.clear();
            }
        }
        if !rest.is_empty() {
            self.check_len(self.line.len() + rest.len())?;
            self.line.extend_from_slice(rest);
        }
        Ok(())
    }

    fn check_len(&mut self, len: usize) -> Result<(), SseError> {
        if len > self.max_line_len {
            self.failed = true;
            self.line = Vec::new();
            return Err(SseError::LineTooLong {
                limit: self.max_line_len,
            });
        }
        Ok(())
    }

    /// Interprets one complete line (without its line ending).
    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            self.comments += 1;
            return;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match name {
            b"event" => {
                self.event.clear();
                self.event.push_str(&String::from_utf8_lossy(value));
            }
            b"data" => {
                self.has_data = true;
                self.data.push_str(&String::from_utf8_lossy(value));
                self.data.push('\n');
            }
            b"id" if !value.contains(&0) => {
                let id = String::from_utf8_lossy(value);
                self.last_event_id.clear();
                self.last_event_id.push_str(&id);
                self.id = Some(id.into_owned());
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // All digits, so it is valid UTF-8; a value beyond u64 is ignored.
                if let Some(ms) = std::str::from_utf8(value)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                {
                    self.retry = Some(ms);
                    self.block_retry = Some(ms);
                }
            }
            _ => {}
        }
    }

    /// Dispatches the pending event (if it has data) and clears the block's buffers.
    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let id = self.id.take();
        let retry = self.block_retry.take();
        if !self.has_data {
            self.event.clear();
            return;
        }
        self.has_data = false;
        if self.data.ends_with('\n') {
            self.data.pop();
        }
        let event = if self.event.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.event))
        };
        out.push(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
            id,
            retry,
        });
    }
}

/// Appends one event in wire form: `event:`, `id:`, `retry:` lines when set, one `data:` line per
/// line of [`SseEvent::data`] (split on `\n`, `\r\n` and `\r`; always at least one, so an event with
/// empty data is still dispatched by a reader), then the blank line.
///
/// A line break inside `event` or `id` would end the field early and let the rest be read as other
/// fields, so each is written as a space. An empty `event` name is omitted (a reader treats it as no
/// name). With those exceptions, and an `id` without NUL (which readers ignore), decoding the output
/// with [`SseDecoder`] gives back the same event, with the data's `\r\n` and `\r` read as `\n`.
pub fn encode_event(ev: &SseEvent, buf: &mut Vec<u8>) {
    if let Some(event) = ev.event.as_deref().filter(|e| !e.is_empty()) {
        write_field(buf, b"event", event, true);
    }
    if let Some(id) = ev.id.as_deref() {
        write_field(buf, b"id", id, true);
    }
    if let Some(retry) = ev.retry {
        write_field(buf, b"retry", &retry.to_string(), false);
    }
    for line in split_lines(&ev.data) {
        write_field(buf, b"data", line, false);
    }
    buf.push(b'\n');
}

/// Appends a comment line per line of `text` and a blank line, e.g. `: keep-alive\n\n` for
/// `"keep-alive"`. Readers ignore comments; proxies see traffic, so idle connections stay open.
pub fn encode_comment(text: &str, buf: &mut Vec<u8>) {
    for line in split_lines(text) {
        buf.push(b':');
        if !line.is_empty() {
            buf.push(b' ');
            buf.extend_from_slice(line.as_bytes());
        }
        buf.push(b'\n');
    }
    buf.push(b'\n');
}

/// Writes `name: value\n` (or `name:\n` for an empty value). The space after the colon is always
/// written before a non-empty value so that a value starting with a space survives the reader's
/// stripping of one space.
fn write_field(buf: &mut Vec<u8>, name: &[u8], value: &str, flatten_breaks: bool) {
    buf.extend_from_slice(name);
    buf.push(b':');
    if !value.is_empty() {
        buf.push(b' ');
        if flatten_breaks {
            buf.extend(
                value
                    .bytes()
                    .map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
            );
        } else {
            buf.extend_from_slice(value.as_bytes());
        }
    }
    buf.push(b'\n');
}

/// Splits on `\r\n`, `\n` and `\r`; an empty string is one empty line, and a trailing line break
/// yields a trailing empty line.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\n', '\r']) {
            Some(i) => {
                let skip = if current[i..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[i + skip..]);
                Some(&current[..i])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: Option<&str>, data: &str, id: Option<&str>, retry: Option<u64>) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
            id: id.map(str::to_owned),
            retry,
        }
    }

    fn decode_chunks(chunks: &[&[u8]]) -> (Vec<SseEvent>, u64) {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.push(chunk, &mut out).unwrap();
        }
        let comments = decoder.comments();
        decoder.finish(&mut out);
        (out, comments)
    }

    /// Decodes `input` in one push, at every single split point and byte by byte; all must agree
    /// with `expected`.
    fn check(input: &[u8], expected: &[SseEvent]) {
        let (whole, comments) = decode_chunks(&[input]);
        assert_eq!(whole, expected, "one push of {input:?}");
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(
                decode_chunks(&[a, b]),
                (whole.clone(), comments),
                "split at {split} of {input:?}"
            );
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(
            decode_chunks(&bytes),
            (whole, comments),
            "bytewise {input:?}"
        );
    }

    #[test]
    fn decodes_per_whatwg_rules() {
        let cases: &[(&[u8], Vec<SseEvent>)] = &[
            (b"data: hello\n\n", vec![ev(None, "hello", None, None)]),
            (b"data:hello\n\n", vec![ev(None, "hello", None, None)]),
            (
                b"data:  two spaces\n\n",
                vec![ev(None, " two spaces", None, None)],
            ),
            (
                b"data: a\r\ndata: b\r\n\r\n",
                vec![ev(None, "a\nb", None, None)],
            ),
            (b"data: a\rdata: b\r\r", vec![ev(None, "a\nb", None, None)]),
            (
                b"data: a\r\n\rdata: b\n\r\n",
                vec![ev(None, "a", None, None), ev(None, "b", None, None)],
            ),
            (
                b"event: message_start\ndata: {\"a\":1}\n\n",
                vec![ev(Some("message_start"), "{\"a\":1}", None, None)],
            ),
            (
                b"\xEF\xBB\xBFdata: bom\n\n",
                vec![ev(None, "bom", None, None)],
            ),
            // Only the first BOM is skipped; a second one belongs to the field name.
            (
                b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\ndata: y\n\n",
                vec![ev(None, "y", None, None)],
            ),
            // A BOM prefix that is not a BOM is ordinary (invalid UTF-8) input.
            (
                b"\xEF\xBBdata: x\n\ndata: y\n\n",
                vec![ev(None, "y", None, None)],
            ),
            (
                b": keep-alive\n\ndata: x\n\n",
                vec![ev(None, "x", None, None)],
            ),
            (b"data\n\n", vec![ev(None, "", None, None)]),
            (b"data\ndata\n\n", vec![ev(None, "\n", None, None)]),
            (b"data:\n\n", vec![ev(None, "", None, None)]),
            // No data field: nothing is dispatched, even with an event name or id.
            (b"event: ping\n\n", vec![]),
            (b"id: 7\n\nretry: 10\n\n", vec![]),
            (b"event:\ndata: x\n\n", vec![ev(None, "x", None, None)]),
            (
                b"event: a\nevent: b\nid: 1\nretry: 250\ndata: x\n\n",
                vec![ev(Some("b"), "x", Some("1"), Some(250))],
            ),
            (b"id:\ndata: x\n\n", vec![ev(None, "x", Some(""), None)]),
            (b"id: a\0b\ndata: x\n\n", vec![ev(None, "x", None, None)]),
            (b"retry: 12a\ndata: x\n\n", vec![ev(None, "x", None, None)]),
            (b"retry: -1\ndata: x\n\n", vec![ev(None, "x", None, None)]),
            (b"retry:\ndata: x\n\n", vec![ev(None, "x", None, None)]),
            (
                b"retry: 99999999999999999999999\ndata: x\n\n",
                vec![ev(None, "x", None, None)],
            ),
            (b"retry : 5\ndata: x\n\n", vec![ev(None, "x", None, None)]),
            (b"Data: x\n\n", vec![]),
            (b"foo: bar\ndata: x\n\n", vec![ev(None, "x", None, None)]),
            (b"data: a:b: c\n\n", vec![ev(None, "a:b: c", None, None)]),
            // Fields do not leak from one event into the next.
            (
                b"event: e\nid: 1\nretry: 3\ndata: a\n\ndata: b\n\n",
                vec![
                    ev(Some("e"), "a", Some("1"), Some(3)),
                    ev(None, "b", None, None),
                ],
            ),
            // Multi-byte UTF-8 (split anywhere by `check`) and an invalid byte.
            (
                "data: héllo → 😀\n\n".as_bytes(),
                vec![ev(None, "héllo → 😀", None, None)],
            ),
            (b"data: \xFFx\n\n", vec![ev(None, "\u{FFFD}x", None, None)]),
            (
                b"event: \xE2\x82\ndata: x\n\n",
                vec![ev(Some("\u{FFFD}"), "x", None, None)],
            ),
            // End of input: the last event is dispatched without its blank line (deviation).
            (b"data: tail", vec![ev(None, "tail", None, None)]),
            (b"data: tail\n", vec![ev(None, "tail", None, None)]),
            (b"data: tail\r", vec![ev(None, "tail", None, None)]),
            (b"event: x\n", vec![]),
            (b"", vec![]),
            (b"\xEF\xBB", vec![]),
            (b"\n\n\r\n\r", vec![]),
        ];
        for (input, expected) in cases {
            check(input, expected);
        }
    }

    #[test]
    fn tracks_sticky_state_and_comments() {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder
            .push(
                b": one\n:two\nid: 5\nretry: 100\ndata: a\n\ndata: b\n\n",
                &mut out,
            )
            .unwrap();
        assert_eq!(decoder.comments(), 2);
        assert_eq!(decoder.last_event_id(), "5");
        assert_eq!(decoder.retry(), Some(100));
        assert_eq!(out[1], ev(None, "b", None, None));
        decoder.finish(&mut out);
        assert_eq!(decoder.comments(), 0, "finish resets the decoder");
        assert_eq!(decoder.last_event_id(), "");
    }

    #[test]
    fn cr_at_end_of_push_then_lf_is_one_line_ending() {
        // CR ends `data: a`; the LF first in the next push must not count as a blank line.
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder.push(b"data: a\r", &mut out).unwrap();
        decoder.push(b"", &mut out).unwrap();
        decoder.push(b"\ndata: b\n", &mut out).unwrap();
        assert!(out.is_empty());
        decoder.push(b"\n", &mut out).unwrap();
        assert_eq!(out, vec![ev(None, "a\nb", None, None)]);
    }

    #[test]
    fn line_length_limit() {
        // (limit, input chunks, events before the error, error expected)
        let cases: &[(usize, &[&[u8]], usize, bool)] = &[
            (4, &[b"data\n\n"], 1, false),
            (4, &[b"data:\n\n"], 0, true),
            (4, &[b"data\n\ndata: long\n\n"], 1, true),
            (4, &[b"da", b"ta", b"\n\n"], 1, false),
            (4, &[b"da", b"ta", b":"], 0, true),
            (4, &[b"data\n\ndat", b"a: x"], 1, true),
            (0, &[b"\n\n\r\n"], 0, false),
        ];
        for &(limit, chunks, events, error) in cases {
            let mut decoder = SseDecoder::with_max_line_len(limit);
            let mut out = Vec::new();
            let mut result = Ok(());
            for chunk in chunks {
                result = decoder.push(chunk, &mut out);
                if result.is_err() {
                    break;
                }
            }
            assert_eq!(result.is_err(), error, "{chunks:?}");
            assert_eq!(out.len(), events, "{chunks:?}");
            if error {
                assert_eq!(result, Err(SseError::LineTooLong { limit }));
                assert_eq!(
                    decoder.push(b"\n", &mut out),
                    Err(SseError::LineTooLong { limit }),
                    "the decoder stays failed"
                );
                decoder.finish(&mut out);
                assert_eq!(out.len(), events, "finish after failure dispatches nothing");
                decoder.push(b"data\n\n", &mut out).unwrap();
                assert_eq!(out.len(), events + 1, "finish resets the failure");
            }
        }
        assert_eq!(SseDecoder::new().max_line_len(), DEFAULT_MAX_LINE_LEN);
        assert_eq!(
            SseError::LineTooLong { limit: 4 }.to_string(),
            "sse line longer than 4 bytes"
        );
    }

    #[test]
    fn encodes_events() {
        let cases: &[(SseEvent, &str)] = &[
            (SseEvent::data("x"), "data: x\n\n"),
            (SseEvent::data(""), "data:\n\n"),
            (SseEvent::named("ping", "{}"), "event: ping\ndata: {}\n\n"),
            (
                SseEvent::data("a\nb\r\nc\rd"),
                "data: a\ndata: b\ndata: c\ndata: d\n\n",
            ),
            (SseEvent::data("a\n"), "data: a\ndata:\n\n"),
            (SseEvent::data(" lead"), "data:  lead\n\n"),
            (ev(Some(""), "x", None, None), "data: x\n\n"),
            (
                ev(Some("e"), "x", Some("42"), Some(1000)),
                "event: e\nid: 42\nretry: 1000\ndata: x\n\n",
            ),
            (ev(None, "x", Some(""), None), "id:\ndata: x\n\n"),
            (
                ev(Some("a\nb"), "x", Some("1\r2"), None),
                "event: a b\nid: 1 2\ndata: x\n\n",
            ),
        ];
        for (event, wire) in cases {
            let mut buf = Vec::new();
            encode_event(event, &mut buf);
            assert_eq!(String::from_utf8(buf).unwrap(), *wire, "{event:?}");
        }
    }

    #[test]
    fn encodes_comments() {
        let cases: &[(&str, &str)] = &[
            ("keep-alive", ": keep-alive\n\n"),
            ("", ":\n\n"),
            ("a\nb", ": a\n: b\n\n"),
        ];
        for (text, wire) in cases {
            let mut buf = Vec::new();
            encode_comment(text, &mut buf);
            assert_eq!(String::from_utf8(buf).unwrap(), *wire);
            let (events, comments) = decode_chunks(&[wire.as_bytes()]);
            assert!(events.is_empty());
            assert_eq!(comments, text.split('\n').count() as u64);
        }
    }

    #[test]
    fn round_trips_through_decoder() {
        let events = vec![
            SseEvent::named("message_start", "{\"type\":\"message_start\"}"),
            SseEvent::data(""),
            SseEvent::data("multi\nline\n\nwith blank"),
            ev(Some("e"), " spaced ", Some(""), Some(0)),
            ev(None, "ü", Some("id-2"), Some(u64::MAX)),
            SseEvent::data("\n"),
        ];
        let mut buf = Vec::new();
        for event in &events {
            encode_event(event, &mut buf);
        }
        encode_comment("keep-alive", &mut buf);
        check(&buf, &events);
    }
}
