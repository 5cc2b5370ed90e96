//! From a parsed request to a [`Plan`]: the caller's hints, the intent, the Tier-0 classification,
//! what the request needs from a tier, and the policy's filter-then-rank over the quality profile.

use std::sync::Arc;

use anvil_config::RouterConfig;
use anvil_dialects::canonical::{self, Part, ToolResultContent};
use anvil_policy::{
    plan, resolve_intent, Hints, Needs, Plan, PlanInput, ProfileSnapshot, SessionBudget,
};
use http::{HeaderMap, HeaderName};
use serde_json::Value;

use crate::respond::ApiError;

/// Output budget assumed when the client sets none (for the context and cost filters).
const DEFAULT_OUTPUT_TOKENS: u64 = 4096;

/// Everything the router decided about a request before calling a tier.
pub struct Routing {
    pub classification: Classification,
    pub needs: Needs,
    pub plan: Plan,
    /// The residency the plan was made with, for the decision record (`null`: no multiplexer).
    pub residency: Value,
}

/// The Tier-0 verdict as the router records it.
#[derive(Debug, Clone)]
pub struct Classification {
    pub work_class: anvil_config::WorkClass,
    pub confidence: f32,
    pub signals: anvil_classify::Signals,
}

/// A plan's candidates and dropped tiers as decision records and `/v1/route` show them,
/// serialized straight from the plan.
#[derive(serde::Serialize)]
pub struct PlanView<'a> {
    pub candidates: Vec<CandidateView<'a>>,
    pub dropped: Vec<DroppedView<'a>>,
    pub notes: &'a [String],
}

impl<'a> PlanView<'a> {
    pub fn new(plan: &'a anvil_policy::Plan) -> Self {
        Self {
            candidates: plan.candidates.iter().map(CandidateView).collect(),
            dropped: plan.dropped.iter().map(DroppedView).collect(),
            notes: &plan.notes,
        }
    }
}

/// `{"tier", "decision", "score"}`.
pub struct CandidateView<'a>(&'a anvil_policy::Candidate);

impl serde::Serialize for CandidateView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("tier", &self.0.tier)?;
        map.serialize_entry("decision", self.0.decision.as_str())?;
        map.serialize_entry("score", &self.0.score)?;
        map.end()
    }
}

/// `{"tier", "reason", "detail"}`.
pub struct DroppedView<'a>(&'a anvil_policy::Dropped);

impl serde::Serialize for DroppedView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("tier", &self.0.tier)?;
        map.serialize_entry("reason", self.0.reason.as_str())?;
        map.serialize_entry("detail", &self.0.reason.to_string())?;
        map.end()
    }
}

// Header names as constants: a lookup by `&str` parses the name on every request.
const VERIFY: HeaderName = HeaderName::from_static("x-anvil-verify");
const MAX_COST_USD: HeaderName = HeaderName::from_static("x-anvil-max-cost-usd");
const INTENT: HeaderName = HeaderName::from_static("x-anvil-intent");
const SESSION: HeaderName = HeaderName::from_static("x-anvil-session");
const CLAUDE_CODE_SESSION_ID: HeaderName = HeaderName::from_static("x-claude-code-session-id");
const SESSION_ID: HeaderName = HeaderName::from_static("session-id");
const SESSION_ID_UNDERSCORE: HeaderName = HeaderName::from_static("session_id");

/// A header's value, trimmed, when it is present, text and not blank.
fn header_text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The caller's hints: `x-anvil-*` headers first, then the body's `anvil` object (OpenAI clients'
/// `extra_body`). A malformed hint is a 400 naming it, not silently ignored.
pub fn hints(headers: &HeaderMap, body_hints: Option<&Value>) -> Result<Hints, ApiError> {
    let header = |name: &HeaderName| header_text(headers, name);
    let body = |name: &str| body_hints.and_then(|h| h.get(name));
    let text = |name: &HeaderName, key: &str| -> Option<String> {
        header(name).or_else(|| body(key).and_then(Value::as_str).map(str::to_owned))
    };
    let verify = match text(&VERIFY, "verify") {
        Some(v) => Some(parse_switch(&v).ok_or_else(|| {
            ApiError::bad_request(format!("x-anvil-verify: expected on or off, got {v:?}"))
                .param("anvil.verify")
        })?),
        None => match body("verify") {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        },
    };
    let max_cost_usd = match header(&MAX_COST_USD) {
        Some(v) => Some(
            v.parse::<f64>()
                .ok()
                .filter(|c| c.is_finite() && *c >= 0.0)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                    "x-anvil-max-cost-usd: expected a non-negative number of dollars, got {v:?}"
                ))
                    .param("anvil.max_cost_usd")
                })?,
        ),
        None => match body("max_cost_usd") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_f64()
                    .filter(|c| c.is_finite() && *c >= 0.0)
                    .ok_or_else(|| {
                        ApiError::bad_request("anvil.max_cost_usd: expected a non-negative number")
                            .param("anvil.max_cost_usd")
                    })?,
            ),
        },
    };
    Ok(Hints {
        intent: text(&INTENT, "intent"),
        session: text(&SESSION, "session"),
        verify,
        max_cost_usd,
    })
}

fn parse_switch(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Some(true),
        "off" | "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// What the request needs from a tier: its prompt size against the context window, its output
/// budget, tools, images.
pub fn needs(request: &canonical::Request, prompt_tokens: u64) -> Needs {
    let images = request.messages.iter().any(|m| {
        m.content.iter().any(|part| match part {
            Part::Image { .. } => true,
            Part::ToolResult {
                content: ToolResultContent::Parts(parts),
                ..
            } => parts.iter().any(|p| matches!(p, Part::Image { .. })),
            _ => false,
        })
    });
    Needs {
        prompt_tokens,
        max_output_tokens: request.max_tokens.unwrap_or(DEFAULT_OUTPUT_TOKENS),
        tools: !request.tools.is_empty(),
        images,
    }
}

/// Longest session id kept (longer ids are cut): budgets are keyed by it.
const MAX_SESSION_ID: usize = 200;

/// The session a request belongs to: the `x-anvil-session` hint, else the session the harness names
/// itself — Claude Code's `x-claude-code-session-id` header or the `session_id` in its
/// `metadata.user_id`, Codex's `session-id` header or `prompt_cache_key`.
pub fn session_id(hints: &Hints, headers: &HeaderMap, json: &Value) -> Option<String> {
    let header = |name: &HeaderName| header_text(headers, name);
    let from_metadata = || {
        let user_id = json.get("metadata")?.get("user_id")?.as_str()?;
        if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(user_id) {
            return fields
                .get("session_id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
        }
        // Older Claude Code: `user_<hash>_account_<uuid>_session_<uuid>`.
        user_id
            .rsplit_once("_session_")
            .map(|(_, session)| session.to_owned())
            .filter(|s| !s.is_empty())
    };
    let mut session = hints
        .session
        .clone()
        .or_else(|| header(&CLAUDE_CODE_SESSION_ID))
        .or_else(|| header(&SESSION_ID))
        .or_else(|| header(&SESSION_ID_UNDERSCORE))
        .or_else(from_metadata)
        .or_else(|| {
            json.get("prompt_cache_key")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })?;
    if session.len() > MAX_SESSION_ID {
        let mut end = MAX_SESSION_ID;
        while !session.is_char_boundary(end) {
            end -= 1;
        }
        session.truncate(end);
    }
    Some(session)
}

/// Resolves intent, classifies and plans.
// Each argument is one borrowed per-request input the plan reads; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub fn route(
    config: &RouterConfig,
    classifier: &anvil_classify::Classifier,
    profile: &Arc<ProfileSnapshot>,
    bound: &[bool],
    model: &str,
    hints: Hints,
    request: &canonical::Request,
    open_breakers: &[String],
    session_budget: Option<SessionBudget>,
    residency: &crate::residency::Snapshot,
) -> Routing {
    let intent = resolve_intent(config, model, &hints);
    let classification = classify(classifier, request);
    // the classifier estimated the prompt's tokens already
    let needs = needs(request, classification.signals.prompt_tokens);
    let plan = plan(&PlanInput {
        config,
        intent: &intent,
        hints: &hints,
        work_class: classification.work_class,
        confidence: classification.confidence,
        needs,
        profile,
        open_breakers,
        resident: residency.resident.as_deref(),
        bound,
        session_budget,
        cold: &residency.cold,
    });
    Routing {
        classification,
        needs,
        plan,
        residency: residency.to_json(),
    }
}

fn classify(
    classifier: &anvil_classify::Classifier,
    request: &canonical::Request,
) -> Classification {
    let verdict = classifier.classify(request);
    Classification {
        work_class: verdict.work_class,
        confidence: verdict.confidence,
        signals: verdict.signals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_static(name),
                    http::HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn every_session_header_harnesses_send_is_read_in_order() {
        let none = serde_json::json!({});
        let session = |pairs: &[(&'static str, &'static str)]| {
            session_id(&Hints::default(), &headers(pairs), &none)
        };
        assert_eq!(
            session(&[("x-claude-code-session-id", "cc")]).as_deref(),
            Some("cc")
        );
        assert_eq!(
            session(&[("session-id", "codex")]).as_deref(),
            Some("codex")
        );
        assert_eq!(
            session(&[("session_id", "under")]).as_deref(),
            Some("under")
        );
        assert_eq!(
            session(&[("session_id", "under"), ("x-claude-code-session-id", "cc")]).as_deref(),
            Some("cc")
        );
        assert_eq!(session(&[("session-id", "  ")]), None);
        let hinted = hints(&headers(&[("x-anvil-session", "mine")]), None).unwrap();
        assert_eq!(
            session_id(&hinted, &headers(&[("session-id", "codex")]), &none).as_deref(),
            Some("mine")
        );
    }

    #[test]
    fn hint_headers_are_read_and_checked() {
        let h = hints(
            &headers(&[
                ("x-anvil-intent", "planning"),
                ("x-anvil-verify", "off"),
                ("x-anvil-max-cost-usd", "0.25"),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(h.intent.as_deref(), Some("planning"));
        assert_eq!(h.verify, Some(false));
        assert_eq!(h.max_cost_usd, Some(0.25));
        let bad = hints(&headers(&[("x-anvil-max-cost-usd", "-1")]), None);
        assert!(bad.is_err());
    }
}
