//! The anvil router daemon: the front door that speaks Anthropic Messages, OpenAI Chat Completions
//! and the OpenAI Responses API, and forwards each request to a tier.
//!
//! [`serve`] binds, announces `listening on http://HOST:PORT` through a callback, and serves until the
//! shutdown future resolves; then it stops accepting and lets in-flight requests and streams finish
//! within the configured grace period.

mod body;
mod forward;
mod handler;
pub mod idle;
mod models;
mod raw_body;
mod repoll;
pub mod residency;
mod respond;
mod route;
mod sse_frame;
mod walk;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anvil_backends::Upstream;
use anvil_config::RouterConfig;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Everything a request handler needs, shared by all connections.
pub struct AppState {
    config: RouterConfig,
    /// One slot per configured tier, in config order; `None` when the tier could not be bound.
    upstreams: Vec<Option<Upstream>>,
    /// Per configured tier: whether it is bound (the policy drops unbound tiers with a reason).
    bound: Vec<bool>,
    /// The Tier-0 classifier, with its memo of recent human texts.
    classifier: anvil_classify::Classifier,
    /// The quality profile the policy reads: swapped whole by a background refresher, never awaited.
    profile: SharedProfile,
    /// Per-tier circuit breakers: a tier that keeps failing is skipped until it half-opens.
    breakers: anvil_fallback::Breakers,
    /// Dollars each session spent on metered tiers (`[router.budgets]`).
    budgets: anvil_fallback::SessionBudgets,
    /// Which model each multiplexer has loaded: replaced by pollers, read with one `Arc` clone.
    residency: residency::Residency,
    /// Where decision records go (a bounded channel to a writer task); `None` keeps none.
    decisions: Option<anvil_profile_store::DecisionLog>,
    permits: Arc<Semaphore>,
    requests: AtomicU64,
    id_prefix: u64,
}

/// A tier that could not be bound at startup, and why.
#[derive(Debug)]
pub struct Unbound {
    /// Tier id.
    pub tier: String,
    /// Why (never contains a secret).
    pub reason: String,
}

impl AppState {
    /// Binds every tier of `config`; `env` looks up environment variables. Tiers that cannot be bound
    /// (a cloud tier without its key) are reported and skipped; it is an error only when none can be.
    pub fn new(
        config: RouterConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<(Self, Vec<Unbound>)> {
        let mut upstreams = Vec::with_capacity(config.tiers.len());
        let mut unbound = Vec::new();
        for tier in &config.tiers {
            match Upstream::bind(tier, config.timeouts, env) {
                Ok(upstream) => upstreams.push(Some(upstream)),
                Err(e) => {
                    unbound.push(Unbound {
                        tier: tier.id.clone(),
                        reason: e.to_string(),
                    });
                    upstreams.push(None);
                }
            }
        }
        if upstreams.iter().all(Option::is_none) {
            let reasons: Vec<String> = unbound.iter().map(|u| u.reason.clone()).collect();
            anyhow::bail!("no serviceable tiers: {}", reasons.join("; "));
        }
        let bound = upstreams.iter().map(Option::is_some).collect();
        let breaker_config = breaker_config(&config.breakers);
        let budget_config = anvil_fallback::BudgetConfig {
            idle_ttl: config.budgets.session_idle,
            ..anvil_fallback::BudgetConfig::default()
        };
        let permits = Arc::new(Semaphore::new(config.limits.max_concurrency as usize));
        let id_prefix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Ok((
            Self {
                config,
                upstreams,
                bound,
                classifier: anvil_classify::Classifier::new(),
                profile: SharedProfile::default(),
                residency: residency::Residency::default(),
                decisions: None,
                breakers: anvil_fallback::Breakers::new(breaker_config),
                budgets: anvil_fallback::SessionBudgets::new(budget_config),
                permits,
                requests: AtomicU64::new(0),
                id_prefix,
            },
            unbound,
        ))
    }

    /// The profile handle, to share with a refresher that replaces the snapshot.
    pub fn profile_handle(&self) -> SharedProfile {
        self.profile.clone()
    }

    /// Starts polling the multiplexers of the config's tiers (`multiplexer = URL`); the policy
    /// reads what they report. Dropping the returned pollers stops them.
    pub fn poll_residency(&self) -> residency::Pollers {
        residency::spawn(&self.config, &self.residency, residency::POLL_INTERVAL)
    }

    /// Sends a decision record for every request to `log` (never blocking a request).
    pub fn set_decision_log(&mut self, log: anvil_profile_store::DecisionLog) {
        self.decisions = Some(log);
    }

    /// Queues a decision record; a full channel drops it (counted by the log).
    fn record(&self, record: anvil_profile_store::DecisionRecord) {
        if let Some(log) = &self.decisions {
            log.record(record);
        }
    }

    /// A fresh request id: unique within this process, and across restarts.
    fn request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        // `req_{:016x}{:08x}`, written by hand: `format!` was 1,400 instructions per request
        let mut id = String::with_capacity(28);
        id.push_str("req_");
        push_hex(&mut id, self.id_prefix, 16);
        push_hex(&mut id, n, 8);
        id
    }
}

/// Appends `value` in lowercase hex, zero-padded to at least `width` digits (`{:0width$x}`).
fn push_hex(out: &mut String, value: u64, width: u32) {
    let digits = (u64::BITS - value.leading_zeros()).div_ceil(4).max(width);
    for shift in (0..digits).rev() {
        let nibble = (value >> (shift * 4)) & 0xf;
        out.push(char::from(b"0123456789abcdef"[nibble as usize]));
    }
}

/// The wire name of a tier's dialect, as `/v1/route` reports it.
fn dialect_name(tier: &anvil_config::Tier) -> &'static str {
    anvil_backends::dialect_of(tier).as_str()
}

pub use anvil_profile_store::SharedSnapshot as SharedProfile;

/// The breaker settings from `[router.breakers]`; disabled breakers never open.
fn breaker_config(config: &anvil_config::Breakers) -> anvil_fallback::BreakerConfig {
    let defaults = anvil_fallback::BreakerConfig::default();
    if config.enabled {
        anvil_fallback::BreakerConfig {
            consecutive_failures: config.consecutive_failures,
            cool_down: config.cooldown,
            ..defaults
        }
    } else {
        anvil_fallback::BreakerConfig {
            consecutive_failures: u32::MAX,
            min_samples: usize::MAX,
            ..defaults
        }
    }
}

/// Serves until `shutdown` resolves, then drains: no new connections, in-flight requests and streams
/// get up to `limits.shutdown_grace` to finish. `on_listening` receives the bound address.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let state = Arc::new(state);
    let grace = state.config.limits.shutdown_grace;
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: keep serving the connections we have.
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, %peer, "TCP_NODELAY not set");
        }
        let state = Arc::clone(&state);
        let service = service_fn(move |request| handler::handle(Arc::clone(&state), request));
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        // see `repoll`: the connection's own wakes during a poll are answered in place
        let connection = repoll::Repoll::new(graceful.watch(connection.into_owned()));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(
        grace_s = grace.as_secs_f64(),
        "shutting down: draining in-flight requests"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over with requests still in flight; closing them");
    }
    Ok(())
}

/// Binds the listener for `host:port` (`port` 0 picks a free one).
pub async fn bind(host: &str, port: u16) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind((host, port)).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

#[cfg(test)]
mod tests {
    #[test]
    fn push_hex_writes_what_format_writes() {
        for value in [
            0,
            1,
            0xf,
            0x10,
            0xdead_beef,
            0x1_0000_0000,
            u64::MAX >> 1,
            u64::MAX,
        ] {
            for width in [1, 8, 16] {
                let mut out = String::new();
                super::push_hex(&mut out, value, width);
                assert_eq!(out, format!("{value:0w$x}", w = width as usize));
            }
        }
    }
}
