//! Residency of the tiers served by an `anvil-substrate multiplexer` (`multiplexer = URL` on a
//! tier): which model each multiplexer has loaded, so the policy prefers a warm tier over one that
//! would trigger a slow swap.
//!
//! A background task per multiplexer long-polls its `GET /residency?wait_epoch=N` (the answer comes
//! as soon as the resident model or the swap under way changes, so the router learns of a swap
//! within milliseconds, not a poll interval); a multiplexer that does not answer is retried every
//! [`POLL_INTERVAL`]. The hot path only clones an `Arc` ([`Residency::load`]) and never waits on a
//! poll. A tier is
//! * `resident`: its model is loaded and no swap is under way;
//! * `loading`: a swap to its model is under way (requests for it wait there; counts as warm);
//! * `cold`: the multiplexer has another model resident or loading — serving this tier swaps;
//! * `unknown`: not polled yet, or the multiplexer did not answer (counts as warm: with no
//!   residency known the policy ranks as it always did).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use anvil_config::RouterConfig;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How often a multiplexer is polled when long polling is not possible (it did not answer, or
/// reports no `epoch`).
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How long one long poll may wait at the multiplexer.
const LONG_POLL: Duration = Duration::from_secs(20);

/// A tier's residency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TierState {
    /// Loaded, no swap under way.
    Resident,
    /// A swap to its model is under way.
    Loading,
    /// Another model is resident or loading: serving this tier swaps.
    Cold,
    /// Not known (not polled yet, or the multiplexer is unreachable).
    Unknown,
}

/// One tier behind a multiplexer, as the policy and the decision record see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierResidency {
    /// The tier id.
    pub tier: String,
    /// The engine name the multiplexer routes by (the tier's `model`).
    pub model: String,
    /// Its state.
    pub state: TierState,
    /// The model the multiplexer has resident, if known.
    pub resident: Option<String>,
}

/// What the policy reads for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Per config tier: whether serving it means a swap.
    pub cold: Vec<bool>,
    /// The first tier whose model is resident, if any.
    pub resident: Option<String>,
    /// Every tier behind a multiplexer, in config order.
    pub tiers: Vec<TierResidency>,
}

impl Snapshot {
    /// The residency for the decision record: `null` when no tier sits behind a multiplexer.
    pub fn to_json(&self) -> Value {
        if self.tiers.is_empty() {
            Value::Null
        } else {
            serde_json::to_value(&self.tiers).unwrap_or(Value::Null)
        }
    }
}

/// The fields of a multiplexer's `GET /residency` the router reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Report {
    /// The resident model.
    pub resident: Option<String>,
    /// The swap under way.
    pub swap: Option<SwapReport>,
    /// Changes with the resident model or the swap under way.
    #[serde(default)]
    pub epoch: Option<u64>,
}

/// A swap under way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SwapReport {
    /// The model being loaded.
    pub to: String,
}

/// Builds the snapshot from the latest report of each multiplexer (`None`: unknown).
pub fn snapshot(config: &RouterConfig, reports: &BTreeMap<String, Option<Report>>) -> Snapshot {
    let mut out = Snapshot {
        cold: vec![false; config.tiers.len()],
        ..Snapshot::default()
    };
    for (i, tier) in config.tiers.iter().enumerate() {
        let (Some(url), Some(model)) = (&tier.multiplexer, &tier.model) else {
            continue;
        };
        let report = reports.get(url).and_then(Option::as_ref);
        let state = match report {
            None => TierState::Unknown,
            Some(r) => match &r.swap {
                Some(swap) if &swap.to == model => TierState::Loading,
                Some(_) => TierState::Cold,
                None if r.resident.as_ref() == Some(model) => TierState::Resident,
                None => TierState::Cold,
            },
        };
        out.cold[i] = state == TierState::Cold;
        if state == TierState::Resident && out.resident.is_none() {
            out.resident = Some(tier.id.clone());
        }
        out.tiers.push(TierResidency {
            tier: tier.id.clone(),
            model: model.clone(),
            state,
            resident: report.and_then(|r| r.resident.clone()),
        });
    }
    out
}

/// The shared snapshot: replaced whole by the pollers, read with one `Arc` clone.
#[derive(Debug, Clone, Default)]
pub struct Residency(Arc<RwLock<Arc<Snapshot>>>);

impl Residency {
    /// The current snapshot.
    pub fn load(&self) -> Arc<Snapshot> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Installs a new snapshot.
    pub fn replace(&self, snapshot: Snapshot) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
    }
}

/// The polling tasks; dropping this stops them.
#[derive(Debug)]
pub struct Pollers(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Pollers {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Starts one poller per distinct multiplexer of `config`, each updating `residency` every
/// `interval`. Must be called within a tokio runtime. No tier behind a multiplexer: no task.
pub fn spawn(config: &RouterConfig, residency: &Residency, interval: Duration) -> Pollers {
    let urls: Vec<String> = {
        let mut urls: Vec<String> = config
            .tiers
            .iter()
            .filter_map(|t| t.multiplexer.clone())
            .collect();
        urls.sort();
        urls.dedup();
        urls
    };
    let reports: Arc<Mutex<BTreeMap<String, Option<Report>>>> =
        Arc::new(Mutex::new(urls.iter().map(|u| (u.clone(), None)).collect()));
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(Duration::from_secs(2)));
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    let config = Arc::new(config.clone());
    let tasks = urls
        .into_iter()
        .map(|url| {
            let (client, reports, config, residency) = (
                client.clone(),
                Arc::clone(&reports),
                Arc::clone(&config),
                residency.clone(),
            );
            tokio::spawn(async move {
                let mut reachable = None;
                let mut epoch: Option<u64> = None;
                loop {
                    let (query, timeout) = match epoch {
                        Some(e) => (
                            format!("?wait_epoch={e}&timeout_s={}", LONG_POLL.as_secs()),
                            LONG_POLL + Duration::from_secs(5),
                        ),
                        None => (String::new(), interval.max(Duration::from_secs(2))),
                    };
                    let asked = tokio::time::Instant::now();
                    let report = poll(&client, &url, &query, timeout).await;
                    match (&report, reachable) {
                        (Err(e), Some(true) | None) => {
                            tracing::warn!(multiplexer = %url, error = %e, "multiplexer residency unknown");
                        }
                        (Ok(_), Some(false) | None) => {
                            tracing::info!(multiplexer = %url, "multiplexer residency known");
                        }
                        _ => {}
                    }
                    reachable = Some(report.is_ok());
                    let next = report.as_ref().ok().and_then(|r| r.epoch);
                    let snapshot = {
                        let mut reports = reports.lock().unwrap_or_else(PoisonError::into_inner);
                        reports.insert(url.clone(), report.ok());
                        snapshot(&config, &reports)
                    };
                    residency.replace(snapshot);
                    // Long-poll again at once; but pace the loop when there is nothing to
                    // long-poll on (an error, no epoch) or the multiplexer answered an unchanged
                    // epoch at once (it does not wait: an older multiplexer).
                    let unchanged_at_once = next.is_some()
                        && next == epoch
                        && asked.elapsed() < Duration::from_millis(100);
                    epoch = next;
                    if next.is_none() || unchanged_at_once {
                        tokio::time::sleep(interval).await;
                    }
                }
            })
        })
        .collect();
    Pollers(tasks)
}

async fn poll(
    client: &Client<HttpConnector, Empty<Bytes>>,
    base: &str,
    query: &str,
    timeout: Duration,
) -> Result<Report, String> {
    let uri: http::Uri = format!("{base}/residency{query}")
        .parse()
        .map_err(|e| format!("bad URL: {e}"))?;
    let fetch = async {
        let response = client.get(uri).await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("GET /residency answered {}", response.status()));
        }
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        serde_json::from_slice::<Report>(&body).map_err(|e| format!("bad /residency body: {e}"))
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| format!("no answer within {}s", timeout.as_secs_f64()))?
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const CONFIG: &str = r#"
[router]
mapping_version = "v1"

[[router.tiers]]
id = "fast-local"
base_url = "http://127.0.0.1:8100/v1"
dialect = "openai"
context_limit = 32768
privacy = "local"
tool_support = true
model = "fast"
multiplexer = "http://127.0.0.1:8100"

[[router.tiers]]
id = "heavy-local"
base_url = "http://127.0.0.1:8100/v1"
dialect = "openai"
context_limit = 32768
privacy = "local"
tool_support = true
model = "heavy"
multiplexer = "http://127.0.0.1:8100"

[[router.tiers]]
id = "other"
base_url = "http://127.0.0.1:9000/v1"
dialect = "openai"
context_limit = 32768
privacy = "local"
tool_support = true
"#;

    fn report(resident: Option<&str>, to: Option<&str>) -> Option<Report> {
        Some(Report {
            resident: resident.map(str::to_owned),
            swap: to.map(|t| SwapReport { to: t.to_owned() }),
            epoch: Some(1),
        })
    }

    fn states(reports: Option<Report>) -> (Vec<bool>, Option<String>, Vec<TierState>) {
        let config = anvil_config::parse(CONFIG).unwrap().router;
        let map = BTreeMap::from([("http://127.0.0.1:8100".to_owned(), reports)]);
        let s = snapshot(&config, &map);
        (
            s.cold,
            s.resident,
            s.tiers.iter().map(|t| t.state).collect(),
        )
    }

    #[test]
    fn tiers_take_their_state_from_their_multiplexer() {
        use TierState::*;
        assert_eq!(
            states(report(Some("fast"), None)),
            (
                vec![false, true, false],
                Some("fast-local".into()),
                vec![Resident, Cold]
            )
        );
        assert_eq!(
            states(report(Some("fast"), Some("heavy"))),
            (vec![true, false, false], None, vec![Cold, Loading])
        );
        assert_eq!(
            states(report(None, None)),
            (vec![true, true, false], None, vec![Cold, Cold])
        );
        // Unknown residency is warm: the policy ranks as without residency.
        assert_eq!(
            states(None),
            (vec![false, false, false], None, vec![Unknown, Unknown])
        );
    }

    #[test]
    fn the_record_names_each_tier_behind_a_multiplexer() {
        let config = anvil_config::parse(CONFIG).unwrap().router;
        let map = BTreeMap::from([(
            "http://127.0.0.1:8100".to_owned(),
            report(Some("heavy"), None),
        )]);
        assert_eq!(
            snapshot(&config, &map).to_json(),
            serde_json::json!([
                {"tier": "fast-local", "model": "fast", "state": "cold", "resident": "heavy"},
                {"tier": "heavy-local", "model": "heavy", "state": "resident", "resident": "heavy"},
            ])
        );
        assert_eq!(Snapshot::default().to_json(), Value::Null);
    }

    #[test]
    fn the_multiplexers_report_parses() {
        let body = r#"{"resident":"a","resident_since_unix_ms":1,"swap":{"from":"a","to":"b","phase":"starting","started_unix_ms":2,"elapsed_ms":3},"last_swap":null,"in_flight":{},"swaps":1,"generation":4,"epoch":7,"engines":[]}"#;
        assert_eq!(
            serde_json::from_str::<Report>(body).unwrap(),
            Report {
                resident: Some("a".into()),
                swap: Some(SwapReport { to: "b".into() }),
                epoch: Some(7),
            }
        );
    }
}
