//! Cuts a pass-through SSE byte stream at event boundaries, so that whatever the router appends (an
//! error event after an upstream failure) never lands inside a half-sent event.

/// Holds back the bytes after the last complete event.
#[derive(Debug, Default)]
pub struct SseFramer {
    pending: Vec<u8>,
    events: u64,
}

impl SseFramer {
    /// Takes upstream bytes; returns the prefix that ends on an event boundary (possibly empty). The
    /// common case — a chunk that is exactly one or more whole events — is returned without copying.
    pub fn push(&mut self, chunk: bytes::Bytes) -> bytes::Bytes {
        if self.pending.is_empty() {
            match last_boundary(&chunk) {
                Some(end) if end == chunk.len() => {
                    self.events += count_boundaries(&chunk);
                    return chunk;
                }
                Some(end) => {
                    self.events += count_boundaries(&chunk[..end]);
                    self.pending.extend_from_slice(&chunk[end..]);
                    return chunk.slice(..end);
                }
                None => {
                    self.pending.extend_from_slice(&chunk);
                    return bytes::Bytes::new();
                }
            }
        }
        self.pending.extend_from_slice(&chunk);
        match last_boundary(&self.pending) {
            Some(end) => {
                let rest = self.pending.split_off(end);
                let ready = std::mem::replace(&mut self.pending, rest);
                self.events += count_boundaries(&ready);
                bytes::Bytes::from(ready)
            }
            None => bytes::Bytes::new(),
        }
    }

    /// Bytes held back (an incomplete last event).
    #[cfg(test)]
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The end of the stream: the held-back bytes, if any (a final event without its blank line).
    pub fn finish(&mut self) -> bytes::Bytes {
        bytes::Bytes::from(std::mem::take(&mut self.pending))
    }

    /// Complete events passed so far.
    pub fn events(&self) -> u64 {
        self.events
    }
}

/// Whether `bytes` ends with a blank line: `\n\n`, `\r\n\r\n` (`\n\r\n`), or `\r\r`.
fn ends_event(bytes: &[u8]) -> bool {
    bytes.ends_with(b"\n\n") || bytes.ends_with(b"\n\r\n") || bytes.ends_with(b"\r\r")
}

/// The index just past the last blank line, if any. Only the line breaks are looked at: a blank
/// line ends with one.
fn last_boundary(bytes: &[u8]) -> Option<usize> {
    memchr::memchr2_iter(b'\n', b'\r', bytes)
        .rev()
        .map(|at| at + 1)
        .find(|&end| ends_event(&bytes[..end]))
}

fn count_boundaries(bytes: &[u8]) -> u64 {
    memchr::memchr2_iter(b'\n', b'\r', bytes)
        .filter(|&at| ends_event(&bytes[..at + 1]))
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn any_split_yields_whole_events_only() {
        let stream = b"event: a\ndata: 1\n\nevent: b\ndata: 2\n\ndata: [DONE]\n\n";
        for cut in 0..=stream.len() {
            let mut framer = SseFramer::default();
            let mut out = Vec::new();
            for piece in [&stream[..cut], &stream[cut..]] {
                let ready = framer.push(Bytes::copy_from_slice(piece));
                if !ready.is_empty() {
                    assert!(ready.ends_with(b"\n\n"), "cut {cut}: {ready:?}");
                }
                out.extend_from_slice(&ready);
            }
            assert!(!framer.has_pending());
            assert_eq!(out, stream, "cut {cut}");
            assert_eq!(framer.events(), 3, "cut {cut}");
        }
    }

    proptest::proptest! {
        /// Looking only at line breaks finds what trying every position finds.
        #[test]
        fn boundaries_are_found_at_line_breaks(
            bytes in proptest::collection::vec(proptest::sample::select(b"\n\r\na:".to_vec()), 0..40),
        ) {
            let ends: Vec<usize> = (2..=bytes.len()).filter(|&i| ends_event(&bytes[..i])).collect();
            proptest::prop_assert_eq!(last_boundary(&bytes), ends.last().copied());
            proptest::prop_assert_eq!(count_boundaries(&bytes), ends.len() as u64);
        }
    }

    #[test]
    fn an_incomplete_tail_is_held_back() {
        let mut framer = SseFramer::default();
        assert_eq!(
            framer.push(Bytes::from_static(b"data: 1\n\ndata: 2")),
            &b"data: 1\n\n"[..]
        );
        assert!(framer.has_pending());
        assert_eq!(framer.finish(), &b"data: 2"[..]);
        let mut framer = SseFramer::default();
        assert_eq!(
            framer.push(Bytes::from_static(b"data: 1\r\n\r\ndata: 2\r\n")),
            &b"data: 1\r\n\r\n"[..]
        );
        assert_eq!(framer.events(), 1);
    }
}

/// Anthropic clients need an `event:` line on every event (the SDK silently yields nothing without
/// one). Some Anthropic-compatible servers omit it: add `event: <type>` from the data's `type` to any
/// event of `chunk` (whole events only) that lacks one. Chunks that already comply are returned as
/// they are.
pub fn with_event_lines(chunk: bytes::Bytes) -> bytes::Bytes {
    if names_every_event(&chunk) {
        return chunk;
    }
    add_event_lines(chunk)
}

/// [`with_event_lines`] for any chunk.
fn add_event_lines(chunk: bytes::Bytes) -> bytes::Bytes {
    let text = match std::str::from_utf8(&chunk) {
        Ok(text) => text,
        Err(_) => return chunk,
    };
    let events: Vec<&str> = text.split_inclusive("\n\n").collect();
    let lacks = |event: &str| {
        !event.trim().is_empty()
            && !event
                .lines()
                .any(|line| line.starts_with("event:") || line.starts_with(':'))
    };
    if !events.iter().any(|e| lacks(e)) {
        return chunk;
    }
    let mut out = String::with_capacity(text.len() + 64);
    for event in events {
        if lacks(event) {
            let data: String = event
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect::<Vec<_>>()
                .join("\n");
            if let Some(kind) = serde_json::from_str::<serde_json::Value>(&data)
                .ok()
                .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
            {
                out.push_str("event: ");
                out.push_str(&kind);
                out.push('\n');
            }
        }
        out.push_str(event);
    }
    bytes::Bytes::from(out)
}

/// Whether every event of `chunk` (each run ending in a blank line) that is not blank has an
/// `event:` or comment line: the common case, checked without decoding or allocating (a conforming
/// chunk took 2k instructions through the general path). `false` sends the chunk down that path,
/// which decides exactly.
fn names_every_event(chunk: &[u8]) -> bool {
    let mut rest = chunk;
    while !rest.is_empty() {
        let end = memchr::memmem::find(rest, b"\n\n").map_or(rest.len(), |at| at + 2);
        let (event, after) = rest.split_at(end);
        rest = after;
        let named = event.starts_with(b"event:")
            || event.starts_with(b":")
            || memchr::memmem::find(event, b"\nevent:").is_some()
            || memchr::memmem::find(event, b"\n:").is_some();
        if !named && !event.iter().all(u8::is_ascii_whitespace) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod event_line_tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn adds_missing_event_lines_only() {
        let cases: [(&str, &str); 3] = [
            (
                "event: ping\ndata: {\"type\":\"ping\"}\n\n",
                "event: ping\ndata: {\"type\":\"ping\"}\n\n",
            ),
            (
                "data: {\"type\":\"message_stop\"}\n\n",
                "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
            ),
            (
                "event: a\ndata: {\"type\":\"a\"}\n\ndata: {\"type\": \"b\"}\n\n",
                "event: a\ndata: {\"type\":\"a\"}\n\nevent: b\ndata: {\"type\": \"b\"}\n\n",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                with_event_lines(Bytes::from(input)),
                expected.as_bytes(),
                "{input}"
            );
        }
    }

    proptest::proptest! {
        /// The quick check only ever lets through what the general path would leave as it is.
        #[test]
        fn the_quick_check_agrees_with_the_general_path(
            lines in proptest::collection::vec(
                proptest::sample::select(vec![
                    "event: a", "data: {\"type\":\"b\"}", ": keep-alive", "", " ", "\r",
                    "data: event: x", "id: 1", "data: \u{a0}", "\u{a0}", "data: {\"type\":\"\u{e9}\"}",
                ]),
                0..12,
            ),
        ) {
            let chunk = Bytes::from(lines.join("\n"));
            proptest::prop_assert_eq!(
                with_event_lines(chunk.clone()),
                add_event_lines(chunk)
            );
        }
    }
}
