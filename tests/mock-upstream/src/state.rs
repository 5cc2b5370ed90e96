//! Shared request and event logs.

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Value};

/// The mock's shared state: the request log, the event log and the request counter.
///
/// Cloning is cheap (an `Arc`); every clone sees the same logs.
#[derive(Clone, Debug, Default)]
pub struct MockState {
    inner: Arc<Mutex<Logs>>,
    persona: Option<Arc<crate::persona::PersonaState>>,
}

#[derive(Debug, Default)]
struct Logs {
    /// `--no-log`: count requests, record nothing.
    discard: bool,
    next_seq: u64,
    requests: Vec<Value>,
    events: Vec<Value>,
}

/// One received request, as recorded in `/_mock/requests`.
pub(crate) struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: serde_json::Map<String, Value>,
    pub body: Value,
    pub body_bytes: usize,
}

impl MockState {
    /// Empty logs; the first request gets sequence number 1.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empty logs, answering Chat Completions as `persona` (see [`crate::Persona`]).
    pub fn with_persona(persona: crate::Persona) -> Self {
        Self {
            persona: Some(Arc::new(crate::persona::PersonaState::new(persona))),
            ..Self::default()
        }
    }

    pub(crate) fn persona(&self) -> Option<&crate::persona::PersonaState> {
        self.persona.as_deref()
    }

    fn lock(&self) -> MutexGuard<'_, Logs> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps no logs (sequence numbers still count): for benchmarks, where the logs would grow
    /// without bound and cost a copy of every request body.
    pub fn without_logs(self) -> Self {
        self.lock().discard = true;
        self
    }

    /// Records a request and returns its sequence number (monotonic, never reused, not reset by
    /// `POST /_mock/reset`).
    pub(crate) fn record_request(&self, rec: RequestRecord) -> u64 {
        let mut logs = self.lock();
        logs.next_seq += 1;
        let seq = logs.next_seq;
        if logs.discard {
            return seq;
        }
        logs.requests.push(json!({
            "seq": seq,
            "method": rec.method,
            "path": rec.path,
            "query": rec.query,
            "headers": rec.headers,
            "body": rec.body,
            "body_bytes": rec.body_bytes,
        }));
        seq
    }

    /// Records a notable event for the request `seq`.
    pub(crate) fn record_event(&self, seq: u64, kind: &str, path: &str) {
        let mut logs = self.lock();
        if !logs.discard {
            logs.events
                .push(json!({"seq": seq, "kind": kind, "path": path}));
        }
    }

    /// Every request recorded so far, in arrival order.
    pub fn requests(&self) -> Vec<Value> {
        self.lock().requests.clone()
    }

    /// Every event recorded so far, in order.
    pub fn events(&self) -> Vec<Value> {
        self.lock().events.clone()
    }

    /// Clears both logs (the sequence counter keeps counting).
    pub fn clear(&self) {
        let mut logs = self.lock();
        logs.requests.clear();
        logs.events.clear();
    }
}

/// Records one event when dropped, unless disarmed: the tracker behind `client_disconnected`.
pub(crate) struct EventOnDrop {
    armed: Option<(MockState, u64, String, &'static str)>,
}

impl EventOnDrop {
    pub(crate) fn new(state: &MockState, seq: u64, path: &str, kind: &'static str) -> Self {
        Self {
            armed: Some((state.clone(), seq, path.to_owned(), kind)),
        }
    }

    /// Records `kind` now instead of the armed kind and disarms.
    pub(crate) fn finish(&mut self, kind: &str) {
        if let Some((state, seq, path, _)) = self.armed.take() {
            state.record_event(seq, kind, &path);
        }
    }

    /// Disarms without recording anything.
    pub(crate) fn disarm(&mut self) {
        self.armed = None;
    }
}

impl Drop for EventOnDrop {
    fn drop(&mut self) {
        if let Some((state, seq, path, kind)) = self.armed.take() {
            state.record_event(seq, kind, &path);
        }
    }
}
