//! Prometheus metrics of the multiplexer (`GET /metrics`, text exposition format).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// The multiplexer's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    /// Finished swaps by target model and outcome (`ok`, `failed`).
    pub swaps: Family<Labels, Counter>,
    /// Swap durations in seconds, by outcome.
    pub swap_seconds: Family<Labels, Histogram>,
    /// Duration of the last finished swap, in seconds.
    pub last_swap_seconds: Gauge<f64, AtomicU64>,
    /// Swaps whose target failed and that brought the previous model back.
    pub rollbacks: Counter,
    /// Swaps that stopped the resident model with requests still in flight (drain timeout).
    pub drain_timeouts: Counter,
    /// Requests that gave up waiting for their model to become resident.
    pub load_wait_timeouts: Counter,
    /// 1 for the resident model, 0 for the others.
    pub resident: Family<Labels, Gauge>,
    /// Requests being served by the resident engine.
    pub in_flight: Gauge,
    /// 1 while a swap is in progress.
    pub swapping: Gauge,
    /// Requests forwarded, by model.
    pub requests: Family<Labels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh metrics, registered under the `anvil_multiplexer` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("anvil_multiplexer");
        let swaps = Family::<Labels, Counter>::default();
        registry.register(
            "swaps",
            "Finished swaps by target model and outcome",
            swaps.clone(),
        );
        let swap_seconds = Family::<Labels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.25, 2.0, 14))
        });
        registry.register(
            "swap_duration_seconds",
            "Swap durations (drain, stop, start, health), by outcome",
            swap_seconds.clone(),
        );
        let last_swap_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "last_swap_duration_seconds",
            "Duration of the last finished swap",
            last_swap_seconds.clone(),
        );
        let rollbacks = Counter::default();
        registry.register(
            "rollbacks",
            "Failed swaps that brought the previous model back",
            rollbacks.clone(),
        );
        let drain_timeouts = Counter::default();
        registry.register(
            "drain_timeouts",
            "Swaps that stopped the resident model with requests still in flight",
            drain_timeouts.clone(),
        );
        let load_wait_timeouts = Counter::default();
        registry.register(
            "load_wait_timeouts",
            "Requests that gave up waiting for their model to become resident",
            load_wait_timeouts.clone(),
        );
        let resident = Family::<Labels, Gauge>::default();
        registry.register(
            "resident",
            "1 for the resident model, 0 for the others",
            resident.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "in_flight_requests",
            "Requests being served by the resident engine",
            in_flight.clone(),
        );
        let swapping = Gauge::default();
        registry.register(
            "swap_in_progress",
            "1 while a swap is in progress",
            swapping.clone(),
        );
        let requests = Family::<Labels, Counter>::default();
        registry.register("requests", "Requests forwarded, by model", requests.clone());
        Self {
            registry,
            swaps,
            swap_seconds,
            last_swap_seconds,
            rollbacks,
            drain_timeouts,
            load_wait_timeouts,
            resident,
            in_flight,
            swapping,
            requests,
        }
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
