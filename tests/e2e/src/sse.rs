//! An incremental `text/event-stream` parser (enough of the WHATWG rules for model APIs: `event:`,
//! `data:` joined by newlines, comments ignored, LF or CRLF line ends).

use serde_json::Value;

/// One dispatched server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined by `\n`.
    pub data: String,
}

impl SseEvent {
    /// The data parsed as JSON (`None` for `[DONE]` and other non-JSON data).
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.data).ok()
    }
}

/// Feeds bytes in, takes complete events out.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// A parser with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `bytes` and returns the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line);
            if line.is_empty() {
                if self.event.is_some() || self.data.is_some() {
                    out.push(SseEvent {
                        event: self.event.take(),
                        data: self.data.take().unwrap_or_default(),
                    });
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                None => (&*line, ""),
            };
            match field {
                "event" => self.event = Some(value.to_owned()),
                "data" => match &mut self.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => self.data = Some(value.to_owned()),
                },
                _ => {}
            }
        }
        out
    }

    /// Whether bytes of an unfinished event are pending.
    pub fn has_pending(&self) -> bool {
        !self.buffer.is_empty() || self.event.is_some() || self.data.is_some()
    }
}

/// Parses a whole event-stream body.
pub fn parse_all(body: &[u8]) -> Vec<SseEvent> {
    SseParser::new().push(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: name.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    #[test]
    fn events_survive_any_split_of_the_bytes() {
        let body = "event: message_start\r\ndata: {\"a\":1}\r\n\r\n: ping comment\n\ndata: x\ndata: y\n\ndata: [DONE]\n\n";
        let want = vec![
            event(Some("message_start"), "{\"a\":1}"),
            event(None, "x\ny"),
            event(None, "[DONE]"),
        ];
        assert_eq!(parse_all(body.as_bytes()), want);
        for split in 0..body.len() {
            let mut parser = SseParser::new();
            let mut got = parser.push(&body.as_bytes()[..split]);
            got.extend(parser.push(&body.as_bytes()[split..]));
            assert_eq!(got, want, "split at {split}");
            assert!(!parser.has_pending());
        }
    }

    #[test]
    fn an_unterminated_event_is_pending_not_dispatched() {
        let mut parser = SseParser::new();
        assert_eq!(parser.push(b"event: error\ndata: {}\n"), vec![]);
        assert!(parser.has_pending());
        assert_eq!(
            event(None, "{\"k\":2}").json(),
            Some(serde_json::json!({"k": 2}))
        );
        assert_eq!(event(None, "[DONE]").json(), None);
    }
}
