//! The attempt log of one request and the per-request retry cap.
//!
//! Every tier a request was sent to (or skipped) adds one [`Attempt`]; the log is rendered into the
//! `x-anvil-attempts` header as `tier:outcome` pairs joined by commas, e.g.
//! `fast-local:verify-failed(tool-args-schema),heavy-local:ok`. The outcome names are a stable
//! kebab-case vocabulary (see [`AttemptOutcome`]).

use std::fmt;
use std::str::FromStr;

use crate::breaker::Outcome;

/// How one attempt ended. [`Display`](fmt::Display) and [`FromStr`] use the stable kebab-case names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// `ok`: the tier's answer was sent to the client.
    Ok,
    /// `connect-failed`: the connection to the tier could not be made.
    ConnectFailed,
    /// `reset`: the connection was reset or closed before the answer was complete.
    Reset,
    /// `first-byte-timeout`: no response byte arrived before the first-byte deadline.
    FirstByteTimeout,
    /// `rate-limited`: the tier answered 429.
    RateLimited,
    /// `upstream-5xx`: the tier answered with a server error.
    Upstream5xx,
    /// `upstream-4xx`: the tier answered with a client error other than 429.
    Upstream4xx,
    /// `body-failed`: the response body could not be read or decoded.
    BodyFailed,
    /// `idle-timeout`: the stream stalled longer than the idle deadline.
    IdleTimeout,
    /// `total-timeout`: the attempt exceeded the total deadline.
    TotalTimeout,
    /// `verify-failed(<check>)`: the answer failed the named verification check.
    VerifyFailed(String),
    /// `window-exceeded`: the commit window cap was reached and the configuration said fail over.
    WindowExceeded,
    /// `breaker-open`: the tier was skipped because its circuit breaker is open.
    BreakerOpen,
    /// `skipped-budget`: the metered tier was skipped because the session is over its budget.
    SkippedBudget,
}

impl AttemptOutcome {
    /// True when the tier was actually called (everything but `breaker-open` and `skipped-budget`);
    /// only such attempts count towards [`RetryPolicy::max_attempts`].
    #[must_use]
    pub fn was_sent(&self) -> bool {
        !matches!(
            self,
            AttemptOutcome::BreakerOpen | AttemptOutcome::SkippedBudget
        )
    }

    /// What this outcome means for the tier's circuit breaker: `ok` is a success; transport errors,
    /// timeouts, 429, 5xx, unreadable bodies and failed verification are failures; `upstream-4xx`
    /// (the request's fault), `window-exceeded` (our cap, not the tier's fault) and skips are `None`.
    #[must_use]
    pub fn breaker_outcome(&self) -> Option<Outcome> {
        match self {
            AttemptOutcome::Ok => Some(Outcome::Success),
            AttemptOutcome::ConnectFailed
            | AttemptOutcome::Reset
            | AttemptOutcome::FirstByteTimeout
            | AttemptOutcome::RateLimited
            | AttemptOutcome::Upstream5xx
            | AttemptOutcome::BodyFailed
            | AttemptOutcome::IdleTimeout
            | AttemptOutcome::TotalTimeout
            | AttemptOutcome::VerifyFailed(_) => Some(Outcome::Failure),
            AttemptOutcome::Upstream4xx
            | AttemptOutcome::WindowExceeded
            | AttemptOutcome::BreakerOpen
            | AttemptOutcome::SkippedBudget => None,
        }
    }

    fn simple_name(&self) -> Option<&'static str> {
        Some(match self {
            AttemptOutcome::Ok => "ok",
            AttemptOutcome::ConnectFailed => "connect-failed",
            AttemptOutcome::Reset => "reset",
            AttemptOutcome::FirstByteTimeout => "first-byte-timeout",
            AttemptOutcome::RateLimited => "rate-limited",
            AttemptOutcome::Upstream5xx => "upstream-5xx",
            AttemptOutcome::Upstream4xx => "upstream-4xx",
            AttemptOutcome::BodyFailed => "body-failed",
            AttemptOutcome::IdleTimeout => "idle-timeout",
            AttemptOutcome::TotalTimeout => "total-timeout",
            AttemptOutcome::WindowExceeded => "window-exceeded",
            AttemptOutcome::BreakerOpen => "breaker-open",
            AttemptOutcome::SkippedBudget => "skipped-budget",
            AttemptOutcome::VerifyFailed(_) => return None,
        })
    }
}

const SIMPLE: [AttemptOutcome; 13] = [
    AttemptOutcome::Ok,
    AttemptOutcome::ConnectFailed,
    AttemptOutcome::Reset,
    AttemptOutcome::FirstByteTimeout,
    AttemptOutcome::RateLimited,
    AttemptOutcome::Upstream5xx,
    AttemptOutcome::Upstream4xx,
    AttemptOutcome::BodyFailed,
    AttemptOutcome::IdleTimeout,
    AttemptOutcome::TotalTimeout,
    AttemptOutcome::WindowExceeded,
    AttemptOutcome::BreakerOpen,
    AttemptOutcome::SkippedBudget,
];

/// Keeps a token safe inside the header grammar: ASCII letters, digits, `-`, `_` and `.` pass,
/// anything else (including the separators `,` `:` `(` `)`) becomes `_`.
fn sanitize(token: &str) -> String {
    token
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptOutcome::VerifyFailed(check) => write!(f, "verify-failed({})", sanitize(check)),
            other => f.write_str(other.simple_name().unwrap_or("")),
        }
    }
}

/// The error of parsing an unknown attempt outcome name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOutcomeError(pub String);

impl fmt::Display for ParseOutcomeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown attempt outcome `{}`", self.0)
    }
}

impl std::error::Error for ParseOutcomeError {}

impl FromStr for AttemptOutcome {
    type Err = ParseOutcomeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(check) = s
            .strip_prefix("verify-failed(")
            .and_then(|r| r.strip_suffix(')'))
        {
            if !check.is_empty() && sanitize(check) == check {
                return Ok(AttemptOutcome::VerifyFailed(check.to_owned()));
            }
        }
        SIMPLE
            .iter()
            .find(|o| o.simple_name() == Some(s))
            .cloned()
            .ok_or_else(|| ParseOutcomeError(s.to_owned()))
    }
}

/// One tier tried (or skipped) for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The tier id.
    pub tier: String,
    /// How the attempt ended.
    pub outcome: AttemptOutcome,
}

/// The ordered attempt log of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attempts {
    attempts: Vec<Attempt>,
}

impl Attempts {
    /// An empty log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an attempt.
    pub fn push(&mut self, tier: impl Into<String>, outcome: AttemptOutcome) {
        self.attempts.push(Attempt {
            tier: tier.into(),
            outcome,
        });
    }

    /// The attempts in order.
    #[must_use]
    pub fn as_slice(&self) -> &[Attempt] {
        &self.attempts
    }

    /// Number of entries, skips included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.attempts.len()
    }

    /// True when nothing was tried or skipped yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.attempts.is_empty()
    }

    /// Number of attempts that actually called a tier (see [`AttemptOutcome::was_sent`]).
    #[must_use]
    pub fn sent(&self) -> usize {
        self.attempts
            .iter()
            .filter(|a| a.outcome.was_sent())
            .count()
    }

    /// True when some attempt ended `ok`.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.attempts
            .iter()
            .any(|a| a.outcome == AttemptOutcome::Ok)
    }

    /// The `x-anvil-attempts` header value: `tier:outcome` joined by commas, in order, e.g.
    /// `fast-local:verify-failed(tool-args-schema),heavy-local:ok`. Tier ids and check names are
    /// restricted to `[A-Za-z0-9._-]` (other characters become `_`), so the value is always a valid
    /// header value and can be split unambiguously.
    #[must_use]
    pub fn header_value(&self) -> String {
        self.attempts
            .iter()
            .map(|a| format!("{}:{}", sanitize(&a.tier), a.outcome))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Parses a header value produced by [`header_value`](Self::header_value).
    ///
    /// # Errors
    /// When an entry lacks the `tier:` prefix or names an unknown outcome.
    pub fn parse_header(value: &str) -> Result<Self, ParseOutcomeError> {
        let mut out = Attempts::new();
        if value.is_empty() {
            return Ok(out);
        }
        for part in value.split(',') {
            let (tier, outcome) = part
                .split_once(':')
                .ok_or_else(|| ParseOutcomeError(part.to_owned()))?;
            out.push(tier, outcome.parse()?);
        }
        Ok(out)
    }
}

/// The per-request retry cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// At most this many tiers are actually called for one request (skips do not count). Default 3.
    pub max_attempts: usize,
    /// Whether an `upstream-4xx` answer may be retried on another tier. A 4xx usually means the
    /// request itself is bad and every tier would refuse it. Default false.
    pub retry_on_4xx: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            retry_on_4xx: false,
        }
    }
}

impl RetryPolicy {
    /// Whether the walk may try another tier after `attempts`: not once an attempt succeeded, not
    /// once `max_attempts` tiers were called, and not after an `upstream-4xx` unless
    /// [`retry_on_4xx`](Self::retry_on_4xx) is set.
    #[must_use]
    pub fn may_try_another(&self, attempts: &Attempts) -> bool {
        if attempts.succeeded() || attempts.sent() >= self.max_attempts {
            return false;
        }
        let last_sent = attempts
            .as_slice()
            .iter()
            .rev()
            .find(|a| a.outcome.was_sent());
        !matches!(last_sent, Some(a) if a.outcome == AttemptOutcome::Upstream4xx && !self.retry_on_4xx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AttemptOutcome as O;

    fn vf(check: &str) -> AttemptOutcome {
        O::VerifyFailed(check.to_owned())
    }

    #[test]
    fn outcome_names_round_trip() {
        let cases = [
            (O::Ok, "ok"),
            (O::ConnectFailed, "connect-failed"),
            (O::Reset, "reset"),
            (O::FirstByteTimeout, "first-byte-timeout"),
            (O::RateLimited, "rate-limited"),
            (O::Upstream5xx, "upstream-5xx"),
            (O::Upstream4xx, "upstream-4xx"),
            (O::BodyFailed, "body-failed"),
            (O::IdleTimeout, "idle-timeout"),
            (O::TotalTimeout, "total-timeout"),
            (vf("tool-args-schema"), "verify-failed(tool-args-schema)"),
            (O::WindowExceeded, "window-exceeded"),
            (O::BreakerOpen, "breaker-open"),
            (O::SkippedBudget, "skipped-budget"),
        ];
        for (outcome, name) in cases {
            assert_eq!(outcome.to_string(), name);
            assert_eq!(name.parse::<AttemptOutcome>(), Ok(outcome));
        }
    }

    #[test]
    fn unknown_names_are_rejected() {
        for bad in [
            "",
            "OK",
            "verify-failed()",
            "verify-failed(a b)",
            "verify-failed(x",
            "timeout",
        ] {
            assert_eq!(
                bad.parse::<AttemptOutcome>(),
                Err(ParseOutcomeError(bad.to_owned())),
                "{bad}"
            );
        }
        assert_eq!(
            ParseOutcomeError("x".into()).to_string(),
            "unknown attempt outcome `x`"
        );
    }

    #[test]
    fn breaker_mapping() {
        let cases = [
            (O::Ok, Some(Outcome::Success)),
            (O::ConnectFailed, Some(Outcome::Failure)),
            (O::Reset, Some(Outcome::Failure)),
            (O::FirstByteTimeout, Some(Outcome::Failure)),
            (O::RateLimited, Some(Outcome::Failure)),
            (O::Upstream5xx, Some(Outcome::Failure)),
            (O::Upstream4xx, None),
            (O::BodyFailed, Some(Outcome::Failure)),
            (O::IdleTimeout, Some(Outcome::Failure)),
            (O::TotalTimeout, Some(Outcome::Failure)),
            (vf("empty"), Some(Outcome::Failure)),
            (O::WindowExceeded, None),
            (O::BreakerOpen, None),
            (O::SkippedBudget, None),
        ];
        for (outcome, want) in cases {
            assert_eq!(outcome.breaker_outcome(), want, "{outcome}");
            assert_eq!(
                outcome.was_sent(),
                !matches!(outcome, O::BreakerOpen | O::SkippedBudget)
            );
        }
    }

    #[test]
    fn header_rendering() {
        let cases: Vec<(Vec<(&str, AttemptOutcome)>, &str)> = vec![
            (vec![], ""),
            (
                vec![
                    ("fast-local", vf("tool-args-schema")),
                    ("heavy-local", O::Ok),
                ],
                "fast-local:verify-failed(tool-args-schema),heavy-local:ok",
            ),
            (
                vec![
                    ("cloud", O::SkippedBudget),
                    ("fast", O::BreakerOpen),
                    ("heavy", O::Upstream5xx),
                ],
                "cloud:skipped-budget,fast:breaker-open,heavy:upstream-5xx",
            ),
            (
                vec![("we,ird:tier", vf("a(b) c"))],
                "we_ird_tier:verify-failed(a_b__c)",
            ),
        ];
        for (entries, want) in cases {
            let mut attempts = Attempts::new();
            for (tier, outcome) in entries {
                attempts.push(tier, outcome);
            }
            assert_eq!(attempts.header_value(), want);
            let parsed = Attempts::parse_header(want);
            assert_eq!(parsed.map(|a| a.header_value()), Ok(want.to_owned()));
        }
        assert!(Attempts::parse_header("no-colon").is_err());
        assert!(Attempts::parse_header("t:nope").is_err());
    }

    #[test]
    fn retry_cap() {
        let default = RetryPolicy::default();
        let lenient = RetryPolicy {
            max_attempts: 2,
            retry_on_4xx: true,
        };
        let cases: Vec<(&str, &RetryPolicy, Vec<AttemptOutcome>, bool)> = vec![
            ("nothing tried yet", &default, vec![], true),
            ("one failure", &default, vec![O::ConnectFailed], true),
            ("two failures", &default, vec![O::Reset, vf("empty")], true),
            (
                "cap reached",
                &default,
                vec![O::Reset, vf("empty"), O::Upstream5xx],
                false,
            ),
            (
                "skips do not count",
                &default,
                vec![
                    O::BreakerOpen,
                    O::SkippedBudget,
                    O::Reset,
                    O::BreakerOpen,
                    O::RateLimited,
                ],
                true,
            ),
            ("already succeeded", &default, vec![O::Ok], false),
            (
                "4xx stops by default",
                &default,
                vec![O::Upstream4xx],
                false,
            ),
            (
                "4xx then a skip still stops",
                &default,
                vec![O::Upstream4xx, O::BreakerOpen],
                false,
            ),
            (
                "4xx may retry when allowed",
                &lenient,
                vec![O::Upstream4xx],
                true,
            ),
            (
                "lenient cap",
                &lenient,
                vec![O::Upstream4xx, O::IdleTimeout],
                false,
            ),
            (
                "zero cap never tries",
                &RetryPolicy {
                    max_attempts: 0,
                    retry_on_4xx: false,
                },
                vec![],
                false,
            ),
        ];
        for (name, policy, outcomes, want) in cases {
            let mut attempts = Attempts::new();
            for (i, o) in outcomes.into_iter().enumerate() {
                attempts.push(format!("t{i}"), o);
            }
            assert_eq!(policy.may_try_another(&attempts), want, "{name}");
        }
    }
}
