//! The streaming commit window and its keep-alive schedule.
//!
//! For an `allow-with-verify` candidate the router buffers the upstream answer, verifies it, and
//! only then sends it. [`CommitWindow`] tracks how much was buffered and for how long against a
//! [`WindowCap`]; once the cap is passed the configuration ([`OnExceeded`]) decides whether the
//! buffered answer is committed unverified or the walk fails over. While the window holds,
//! [`KeepAlive`] says when to send a keep-alive the client's SDK ignores.

use std::time::{Duration, Instant};

/// What to do when the commit window cap is passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnExceeded {
    /// Stop buffering: send what was buffered and stream the rest through, unverified.
    CommitUnverified,
    /// Abandon this attempt (outcome `window-exceeded`) and try the next tier.
    FailOver,
}

/// The commit window cap: bytes and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCap {
    /// Most bytes buffered before the cap is passed. Default 4 MiB.
    pub max_bytes: u64,
    /// Longest time the window may hold. Default 120 s.
    pub max_duration: Duration,
    /// What happens past the cap. Default [`OnExceeded::FailOver`].
    pub on_exceeded: OnExceeded,
}

impl Default for WindowCap {
    fn default() -> Self {
        Self {
            max_bytes: 4 * 1024 * 1024,
            max_duration: Duration::from_secs(120),
            on_exceeded: OnExceeded::FailOver,
        }
    }
}

/// The answer of [`CommitWindow::feed`] and [`CommitWindow::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowStep {
    /// Still inside the cap: keep buffering.
    Continue,
    /// The cap is passed (bytes or time); act on [`WindowCap::on_exceeded`]. Sticky: once
    /// exceeded, every later call answers `Exceeded` too.
    Exceeded,
}

/// A pure state machine over one attempt's commit window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitWindow {
    cap: WindowCap,
    started: Instant,
    buffered: u64,
    exceeded: bool,
}

impl CommitWindow {
    /// A window opened at `started` (when the attempt was sent).
    #[must_use]
    pub fn new(cap: WindowCap, started: Instant) -> Self {
        Self {
            cap,
            started,
            buffered: 0,
            exceeded: false,
        }
    }

    /// The cap in force.
    #[must_use]
    pub fn cap(&self) -> &WindowCap {
        &self.cap
    }

    /// Bytes buffered so far.
    #[must_use]
    pub fn buffered(&self) -> u64 {
        self.buffered
    }

    /// Time held at `now`.
    #[must_use]
    pub fn held(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }

    /// Time left before the duration cap at `now` (zero once passed): the router's timer deadline.
    #[must_use]
    pub fn time_left(&self, now: Instant) -> Duration {
        self.cap.max_duration.saturating_sub(self.held(now))
    }

    /// Records `bytes` more buffered at `now`. `Exceeded` once the total is above `max_bytes` or
    /// the window has been held for at least `max_duration`.
    pub fn feed(&mut self, bytes: usize, now: Instant) -> WindowStep {
        self.buffered = self
            .buffered
            .saturating_add(u64::try_from(bytes).unwrap_or(u64::MAX));
        self.check(now)
    }

    /// Checks the time cap without new bytes (for a timer tick).
    pub fn check(&mut self, now: Instant) -> WindowStep {
        if self.buffered > self.cap.max_bytes || self.held(now) >= self.cap.max_duration {
            self.exceeded = true;
        }
        if self.exceeded {
            WindowStep::Exceeded
        } else {
            WindowStep::Continue
        }
    }
}

/// When to send keep-alives while a commit window holds (Anthropic `ping` events, SSE comment
/// lines for OpenAI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive {
    interval: Duration,
}

impl KeepAlive {
    /// The longest interval allowed: harness idle timeouts must never see 10 s of silence.
    pub const MAX_INTERVAL: Duration = Duration::from_secs(10);
    /// The shortest interval allowed, so a zero setting cannot flood the client.
    pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
    /// The default interval: 5 s.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

    /// A schedule with `interval`, clamped to `MIN_INTERVAL..=MAX_INTERVAL`.
    #[must_use]
    pub fn new(interval: Duration) -> Self {
        Self {
            interval: interval.clamp(Self::MIN_INTERVAL, Self::MAX_INTERVAL),
        }
    }

    /// The interval in force (after clamping).
    #[must_use]
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// True when a keep-alive is due at `now`, the last one (or the window's opening) having been
    /// sent at `last_sent`.
    #[must_use]
    pub fn due(&self, last_sent: Instant, now: Instant) -> bool {
        now.saturating_duration_since(last_sent) >= self.interval
    }

    /// When the next keep-alive is due after one sent at `last_sent`.
    #[must_use]
    pub fn next_due(&self, last_sent: Instant) -> Instant {
        last_sent + self.interval
    }
}

impl Default for KeepAlive {
    fn default() -> Self {
        Self::new(Self::DEFAULT_INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }
    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn window_transitions() {
        let small = WindowCap {
            max_bytes: 100,
            max_duration: secs(30),
            on_exceeded: OnExceeded::FailOver,
        };
        // (name, steps: (at, Some(bytes) = feed / None = check, expected))
        type Steps = Vec<(Duration, Option<usize>, WindowStep)>;
        use WindowStep::{Continue, Exceeded};
        let cases: Vec<(&str, Steps)> = vec![
            ("empty window continues", vec![(ms(0), None, Continue)]),
            (
                "exactly max_bytes continues",
                vec![(secs(1), Some(60), Continue), (secs(2), Some(40), Continue)],
            ),
            (
                "one byte over is exceeded",
                vec![(secs(1), Some(100), Continue), (secs(2), Some(1), Exceeded)],
            ),
            (
                "a single huge chunk is exceeded",
                vec![(secs(0), Some(usize::MAX), Exceeded)],
            ),
            (
                "time cap hits at exactly max_duration",
                vec![
                    (secs(29), None, Continue),
                    (secs(30) - ms(1), Some(1), Continue),
                    (secs(30), None, Exceeded),
                ],
            ),
            ("time cap via feed", vec![(secs(31), Some(1), Exceeded)]),
            (
                "exceeded is sticky",
                vec![
                    (secs(0), Some(101), Exceeded),
                    (secs(1), Some(0), Exceeded),
                    (secs(2), None, Exceeded),
                ],
            ),
        ];
        for (name, steps) in cases {
            let t0 = Instant::now();
            let mut w = CommitWindow::new(small, t0);
            for (i, (at, bytes, want)) in steps.into_iter().enumerate() {
                let got = match bytes {
                    Some(b) => w.feed(b, t0 + at),
                    None => w.check(t0 + at),
                };
                assert_eq!(got, want, "{name}: step {i}");
            }
        }
    }

    #[test]
    fn window_accounting() {
        let t0 = Instant::now();
        let mut w = CommitWindow::new(WindowCap::default(), t0);
        assert_eq!(w.cap().on_exceeded, OnExceeded::FailOver);
        assert_eq!(w.feed(10, t0 + secs(1)), WindowStep::Continue);
        assert_eq!(w.feed(5, t0 + secs(2)), WindowStep::Continue);
        assert_eq!(w.buffered(), 15);
        assert_eq!(w.held(t0 + secs(3)), secs(3));
        assert_eq!(w.time_left(t0 + secs(20)), secs(100));
        assert_eq!(w.time_left(t0 + secs(500)), Duration::ZERO);
        assert_eq!(w.held(t0), Duration::ZERO);
    }

    #[test]
    fn keep_alive_schedule() {
        let cases = [
            (KeepAlive::default(), secs(5)),
            (KeepAlive::new(secs(2)), secs(2)),
            (KeepAlive::new(secs(60)), secs(10)),
            (KeepAlive::new(Duration::ZERO), ms(100)),
        ];
        for (ka, interval) in cases {
            assert_eq!(ka.interval(), interval);
            let t0 = Instant::now();
            assert!(!ka.due(t0, t0));
            assert!(!ka.due(t0, t0 + interval - Duration::from_nanos(1)));
            assert!(ka.due(t0, t0 + interval));
            assert_eq!(ka.next_due(t0), t0 + interval);
            // clock skew (now before last_sent) never makes one due
            assert!(!ka.due(t0 + secs(1), t0));
        }
    }

    /// Acceptance 3: a window held 30 s, driven by the schedule on a paused clock, never leaves a
    /// gap of more than 10 s without a keep-alive.
    #[test]
    fn thirty_second_window_gets_keep_alives_at_least_every_ten_seconds() {
        for interval in [secs(1), secs(5), secs(10), secs(30)] {
            let ka = KeepAlive::new(interval);
            let t0 = Instant::now();
            let mut w = CommitWindow::new(
                WindowCap {
                    max_duration: secs(60),
                    ..WindowCap::default()
                },
                t0,
            );
            let mut last = t0;
            let mut sent = vec![];
            let mut now = t0;
            // the router wakes at next_due or on upstream bytes; simulate 250 ms ticks too.
            while now < t0 + secs(30) {
                now += ms(250);
                assert_eq!(w.feed(1, now), WindowStep::Continue);
                if ka.due(last, now) {
                    sent.push(now);
                    last = now;
                }
            }
            assert!(!sent.is_empty());
            let mut prev = t0;
            for at in sent.iter().chain(std::iter::once(&now)) {
                assert!(
                    *at - prev <= secs(10),
                    "gap {:?} with interval {interval:?}",
                    *at - prev
                );
                prev = *at;
            }
        }
    }
}
