//! The scenarios, run against direct (the mock), the floor and anvil with identical requests, and
//! the report: added latency over direct, throughput, time to first byte, RSS, and every figure as
//! a ratio to the floor measured in the same run.
//!
//! Latency measurements alternate between the targets in rounds (direct, floor, anvil, direct, …)
//! so that a background load that comes and goes hits all three alike; each target's rounds are
//! merged into one histogram. "Added" is a percentile through the proxy minus the same percentile
//! direct.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::fixtures;
use crate::load::{self, Mode, OpenStreams, Recorder, RequestSpec, Target};
use crate::rss::{self, Watch};

/// The processes and addresses under test.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The mock upstream.
    pub direct: Target,
    /// The floor proxy in front of the mock.
    pub floor: Target,
    /// anvil in front of the mock.
    pub anvil: Target,
    /// anvil's process id (for RSS).
    pub anvil_pid: u32,
    /// The floor's process id (for RSS).
    pub floor_pid: u32,
    /// Short runs of every scenario.
    pub quick: bool,
    /// What scenario (d) measures (the router's verify path as built now).
    pub verify_note: String,
    /// Run only the scenarios whose id starts with one of these (all when empty).
    pub only: Vec<String>,
}

impl Setup {
    fn wants(&self, scenario: &str) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|only| scenario.starts_with(only.as_str()))
    }
}

/// The tier ids of the generated router config the scenarios pin (`model` = tier id).
pub mod tiers {
    /// Anthropic dialect, `allow` for every work class.
    pub const SAME: &str = "an";
    /// OpenAI Chat dialect, `allow` for every work class (Anthropic clients are translated).
    pub const TRANSLATED: &str = "oa";
    /// Anthropic dialect, `allow-with-verify` for every work class.
    pub const VERIFY: &str = "an-verify";
}

/// Run sizes.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sizes {
    /// Interleaved rounds per fixed-rate and closed-loop measurement.
    pub rounds: u32,
    /// Interleaved rounds per concurrency-1 measurement (requests and streams). Concurrency 1 is
    /// the most sensitive to where the scheduler happens to put the client, the proxy and the mock
    /// on two cores, and a placement lasts a while: many short rounds average over placements
    /// that three long ones each caught one of (the floor's added p50 ranged 59-87 µs between
    /// runs of three rounds).
    pub c1_rounds: u32,
    /// Warm-up requests per target before each scenario.
    pub warmup: u64,
    /// Concurrency-1 requests per target, 2 KB request.
    pub c1_small: u64,
    /// Concurrency-1 requests per target, 200 KB request.
    pub c1_large: u64,
    /// Streams per target at concurrency 1.
    pub c1_streams: u64,
    /// Fixed-rate run length per target, seconds.
    pub rate_s: f64,
    /// Closed-loop requests per target, 2 KB request.
    pub saturation_small: u64,
    /// Closed-loop requests per target, 200 KB request.
    pub saturation_large: u64,
    /// Concurrent streams held open (scenario e).
    pub open_streams: usize,
    /// Milliseconds between the 100 chunks of each held stream.
    pub open_stream_chunk_ms: u64,
    /// Soak requests (scenario f).
    pub soak: u64,
}

impl Sizes {
    /// The full run (a few minutes) or `--quick` (well under two).
    pub fn new(quick: bool) -> Self {
        if quick {
            Self {
                rounds: 2,
                c1_rounds: 4,
                warmup: 50,
                c1_small: 1_000,
                c1_large: 100,
                c1_streams: 60,
                rate_s: 1.0,
                saturation_small: 4_000,
                saturation_large: 90,
                open_streams: 1_000,
                open_stream_chunk_ms: 5,
                soak: 5_000,
            }
        } else {
            Self {
                rounds: 3,
                c1_rounds: 15,
                warmup: 300,
                c1_small: 6_000,
                c1_large: 900,
                c1_streams: 450,
                rate_s: 6.0,
                saturation_small: 24_000,
                saturation_large: 900,
                open_streams: 1_000,
                open_stream_chunk_ms: 20,
                soak: 200_000,
            }
        }
    }
}

/// Connections of the closed-loop and fixed-rate runs.
pub const CONNECTIONS: usize = 32;
/// Connections of the soak.
pub const SOAK_CONNECTIONS: usize = 8;
/// The most warm-up parts of the soak, each a tenth of it (see [`warmed_up`]).
pub const SOAK_WARMUP_PARTS: u32 = 4;
/// A warm-up part after which anvil's RSS at rest is lower than before it by more than this
/// (percent) is followed by another: memory an earlier scenario left is still being returned.
pub const SOAK_SETTLED_DROP_PCT: f64 = 2.0;
/// Fixed rates (requests per second): 2 KB same dialect, 200 KB, 2 KB translated.
pub const RATE_SMALL: u64 = 500;
/// Fixed rate of the 200 KB request.
pub const RATE_LARGE: u64 = 40;
/// Chunks of the streaming scenarios.
pub const STREAM_CHUNKS: u32 = 200;

/// Latency figures of one target, in microseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Requests answered 2xx.
    pub ok: u64,
    /// Requests that failed.
    pub failed: u64,
    /// The first failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Whole-request latency percentiles (µs).
    pub p50_us: f64,
    /// 99th percentile (µs).
    pub p99_us: f64,
    /// 99.9th percentile (µs).
    pub p999_us: f64,
    /// Largest (µs).
    pub max_us: f64,
    /// Time to first body byte, median (µs).
    pub ttfb_p50_us: f64,
    /// Time to first body byte, 99th percentile (µs).
    pub ttfb_p99_us: f64,
    /// Streams: gap between consecutive SSE events, 99th percentile (µs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap_p99_us: Option<f64>,
    /// Streams: mean time per chunk within a stream, median over streams (µs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_chunk_p50_us: Option<f64>,
    /// Streams: the fewest events seen in one answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_events: Option<u64>,
    /// Answered requests per second of wall time.
    pub throughput_rps: f64,
    /// anvil's `x-anvil-decision` values seen.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub decisions: BTreeMap<String, u64>,
    /// Peak RSS during the measurement (floor and anvil), MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_peak_mib: Option<f64>,
}

fn us(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    if histogram.is_empty() {
        return 0.0;
    }
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

impl Stats {
    fn from(recorder: &Recorder, stream: bool, busy: Duration) -> Self {
        Self {
            ok: recorder.ok,
            failed: recorder.failed,
            first_error: recorder.first_error.clone(),
            p50_us: us(&recorder.latency, 0.5),
            p99_us: us(&recorder.latency, 0.99),
            p999_us: us(&recorder.latency, 0.999),
            max_us: recorder.latency.max() as f64 / 1000.0,
            ttfb_p50_us: us(&recorder.ttfb, 0.5),
            ttfb_p99_us: us(&recorder.ttfb, 0.99),
            gap_p99_us: stream.then(|| us(&recorder.gaps, 0.99)),
            per_chunk_p50_us: stream.then(|| us(&recorder.per_chunk, 0.5)),
            min_events: recorder.min_events,
            throughput_rps: if busy.is_zero() {
                0.0
            } else {
                recorder.ok as f64 / busy.as_secs_f64()
            },
            decisions: recorder.decisions.clone(),
            rss_peak_mib: None,
        }
    }
}

/// A proxy's figures minus direct's (µs).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Added {
    /// Added median latency.
    pub p50_us: f64,
    /// Added 99th percentile.
    pub p99_us: f64,
    /// Added 99.9th percentile.
    pub p999_us: f64,
    /// Added median time to first byte.
    pub ttfb_p50_us: f64,
    /// Added 99th percentile time to first byte.
    pub ttfb_p99_us: f64,
    /// Streams: added 99th percentile of the gap between events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap_p99_us: Option<f64>,
    /// Streams: added median time per chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_chunk_p50_us: Option<f64>,
}

impl Added {
    fn over(proxy: &Stats, direct: &Stats) -> Self {
        let minus = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a - b);
        Self {
            p50_us: proxy.p50_us - direct.p50_us,
            p99_us: proxy.p99_us - direct.p99_us,
            p999_us: proxy.p999_us - direct.p999_us,
            ttfb_p50_us: proxy.ttfb_p50_us - direct.ttfb_p50_us,
            ttfb_p99_us: proxy.ttfb_p99_us - direct.ttfb_p99_us,
            gap_p99_us: minus(proxy.gap_p99_us, direct.gap_p99_us),
            per_chunk_p50_us: minus(proxy.per_chunk_p50_us, direct.per_chunk_p50_us),
        }
    }
}

/// anvil's figures over the floor's (added latency over added latency; throughput over
/// throughput). `None` where the floor's figure is not positive (noise ate it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ratio {
    /// anvil added p50 / floor added p50.
    pub p50: Option<f64>,
    /// anvil added p99 / floor added p99.
    pub p99: Option<f64>,
    /// anvil added p99.9 / floor added p99.9.
    pub p999: Option<f64>,
    /// anvil added TTFB p50 / floor added TTFB p50.
    pub ttfb_p50: Option<f64>,
    /// anvil throughput / floor throughput.
    pub throughput: Option<f64>,
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0 && a.is_finite()).then(|| a / b)
}

impl Ratio {
    fn of(anvil: &Added, floor: &Added, anvil_stats: &Stats, floor_stats: &Stats) -> Self {
        Self {
            p50: ratio(anvil.p50_us, floor.p50_us),
            p99: ratio(anvil.p99_us, floor.p99_us),
            p999: ratio(anvil.p999_us, floor.p999_us),
            ttfb_p50: ratio(anvil.ttfb_p50_us, floor.ttfb_p50_us),
            throughput: ratio(anvil_stats.throughput_rps, floor_stats.throughput_rps),
        }
    }
}

/// The lowest, median and highest of a figure over rounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Lowest.
    pub min: f64,
    /// Median (the lower middle value for an even count).
    pub median: f64,
    /// Highest.
    pub max: f64,
    /// Rounds with a value.
    pub rounds: usize,
}

impl Spread {
    /// `None` for fewer than three values: two rounds show no spread worth a name.
    fn of(values: impl IntoIterator<Item = Option<f64>>) -> Option<Self> {
        let mut values: Vec<f64> = values.into_iter().flatten().collect();
        if values.len() < 3 {
            return None;
        }
        values.sort_by(f64::total_cmp);
        Some(Self {
            min: values[0],
            median: values[(values.len() - 1) / 2],
            max: values[values.len() - 1],
            rounds: values.len(),
        })
    }
}

/// [`Ratio`]'s latency figures computed round by round (each round's anvil and floor added over
/// that round's direct), as a spread.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundRatios {
    /// anvil added p50 / floor added p50.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50: Option<Spread>,
    /// anvil added TTFB p50 / floor added TTFB p50.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttfb_p50: Option<Spread>,
}

impl RoundRatios {
    fn of(rounds: &[[Stats; 3]]) -> Option<Self> {
        let ratios: Vec<Ratio> = rounds
            .iter()
            .map(|[direct, floor, anvil]| {
                Ratio::of(
                    &Added::over(anvil, direct),
                    &Added::over(floor, direct),
                    anvil,
                    floor,
                )
            })
            .collect();
        let out = Self {
            p50: Spread::of(ratios.iter().map(|r| r.p50)),
            ttfb_p50: Spread::of(ratios.iter().map(|r| r.ttfb_p50)),
        };
        (out.p50.is_some() || out.ttfb_p50.is_some()).then_some(out)
    }
}

/// One measurement of one scenario against the three targets.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// Scenario id: `a-2k`, `a-200k`, `b-translate`, `c-stream`, `d-verify`, `e-streams`.
    pub scenario: String,
    /// `c1`, `rate`, `saturation`, `stream`, `open-streams`.
    pub measure: String,
    /// How it was driven.
    pub load: String,
    /// The mock answering directly.
    pub direct: Stats,
    /// Through the floor.
    pub floor: Stats,
    /// Through anvil.
    pub anvil: Stats,
    /// The floor's added figures.
    pub floor_added: Added,
    /// anvil's added figures.
    pub anvil_added: Added,
    /// anvil over the floor.
    pub ratio: Ratio,
    /// The same ratios round by round (measurements of three rounds or more): how far the
    /// placement noise moves them, next to the merged figure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round_ratios: Option<RoundRatios>,
    /// Streams held open at once (open-streams only): direct, floor, anvil.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_open: Option<[usize; 3]>,
}

impl Measurement {
    /// The three targets' figures, with the proxies' added figures and anvil's ratios to the floor.
    fn new(
        scenario: &str,
        measure: &str,
        load: String,
        [direct, floor, anvil]: [Stats; 3],
    ) -> Self {
        let floor_added = Added::over(&floor, &direct);
        let anvil_added = Added::over(&anvil, &direct);
        Self {
            scenario: scenario.to_owned(),
            measure: measure.to_owned(),
            load,
            ratio: Ratio::of(&anvil_added, &floor_added, &anvil, &floor),
            direct,
            floor,
            anvil,
            floor_added,
            anvil_added,
            round_ratios: None,
            peak_open: None,
        }
    }
}

/// RSS figures (MiB).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Memory {
    /// anvil at rest, before any request.
    pub anvil_idle_mib: Option<f64>,
    /// The floor at rest.
    pub floor_idle_mib: Option<f64>,
    /// anvil's peak under the saturation runs.
    pub anvil_load_peak_mib: Option<f64>,
    /// The floor's peak under the saturation runs.
    pub floor_load_peak_mib: Option<f64>,
    /// anvil's peak holding the open streams (scenario e).
    pub anvil_open_streams_peak_mib: Option<f64>,
    /// The floor's peak holding the open streams.
    pub floor_open_streams_peak_mib: Option<f64>,
}

/// Scenario (f).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Soak {
    /// Requests sent.
    pub requests: u64,
    /// Answered 2xx.
    pub ok: u64,
    /// Failed.
    pub failed: u64,
    /// The first failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Warm-up parts run, each a tenth of the soak's requests (see [`warmed_up`]).
    pub warmup_parts: u32,
    /// anvil's RSS after the warm-up, at rest (see [`at_rest`]), MiB.
    pub rss_after_warmup_mib: Option<f64>,
    /// anvil's RSS after the soak, at rest, MiB.
    pub rss_after_mib: Option<f64>,
    /// (after − after warm-up) / after warm-up, both at rest, percent: the acceptance figure.
    pub rss_growth_pct: Option<f64>,
    /// The same two samples taken the moment each part's last answer arrived, with the decision
    /// log's queue in whatever state the load left it, MiB.
    pub rss_under_load_mib: Option<[f64; 2]>,
    /// The decision log's counters after the soak, as `/healthz` reports them (`None`: no log).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_log: Option<serde_json::Value>,
    /// Throughput over the soak.
    pub throughput_rps: f64,
    /// Latency p50 / p99 / p99.9 over the soak (µs).
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
}

/// One acceptance figure of issue 6, as measured (informative: nothing fails on it).
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What is compared.
    pub name: String,
    /// Measured value.
    pub value: Option<f64>,
    /// The target, in words.
    pub target: String,
    /// Whether the value meets it (`None` when it could not be measured).
    pub met: Option<bool>,
    /// For a ratio measured in rounds: the same ratio round by round.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounds: Option<Spread>,
}

/// The whole report, written to `target/bench/report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `--quick`.
    pub quick: bool,
    /// Logical CPUs.
    pub cpus: usize,
    /// Wall time of the run, seconds.
    pub duration_s: f64,
    /// Run sizes.
    pub sizes: Sizes,
    /// Every measurement.
    pub measurements: Vec<Measurement>,
    /// RSS figures.
    pub memory: Memory,
    /// Scenario (f).
    pub soak: Soak,
    /// The acceptance figures.
    pub checks: Vec<Check>,
    /// Failed requests across the whole run.
    pub failed_requests: u64,
    /// Notes on what was measured.
    pub notes: Vec<String>,
}

type Targets<'a> = [&'a Target; 3];

/// Runs `mode` for each target in `rounds` interleaved rounds; returns the merged recorders and,
/// per target, the busy time (sum of the rounds' wall times) and RSS peak; and each round's own
/// figures (direct, floor, anvil), for the spread of the ratios over rounds.
async fn interleaved(
    targets: Targets<'_>,
    spec: &Arc<RequestSpec>,
    rounds: u32,
    mode: impl Fn(u32) -> Mode,
    watch: &Watch,
    pids: [Option<u32>; 3],
) -> Result<([(Recorder, Duration, Option<u64>); 3], Vec<[Stats; 3]>)> {
    let mut out: [(Recorder, Duration, Option<u64>); 3] = Default::default();
    let mut per_round = Vec::with_capacity(rounds as usize);
    for round in 0..rounds {
        let mut this_round: [Stats; 3] = Default::default();
        for (i, target) in targets.iter().enumerate() {
            if let Some(pid) = pids[i] {
                let _ = watch.take_peak(pid);
            }
            let recorder = load::run(target, spec, mode(round)).await?;
            this_round[i] = Stats::from(&recorder, spec.stream, recorder.elapsed);
            out[i].1 += recorder.elapsed;
            out[i].0.merge(&recorder);
            if let Some(pid) = pids[i] {
                out[i].2 = out[i].2.max(watch.take_peak(pid));
            }
        }
        per_round.push(this_round);
    }
    Ok((out, per_round))
}

fn share(n: u64, rounds: u32) -> u64 {
    (n / u64::from(rounds.max(1))).max(1)
}

struct Runner<'a> {
    setup: &'a Setup,
    sizes: Sizes,
    watch: Watch,
    measurements: Vec<Measurement>,
    progress: &'a mut dyn FnMut(&str),
}

impl Runner<'_> {
    fn targets(&self) -> Targets<'_> {
        [&self.setup.direct, &self.setup.floor, &self.setup.anvil]
    }

    fn pids(&self) -> [Option<u32>; 3] {
        [None, Some(self.setup.floor_pid), Some(self.setup.anvil_pid)]
    }

    async fn warm(&self, spec: &Arc<RequestSpec>) -> Result<()> {
        for target in self.targets() {
            load::run(
                target,
                spec,
                Mode::Closed {
                    connections: 4,
                    n: self.sizes.warmup,
                },
            )
            .await?;
        }
        Ok(())
    }

    async fn measure(
        &mut self,
        scenario: &str,
        measure: &str,
        load_text: String,
        spec: &Arc<RequestSpec>,
        rounds: u32,
        mode: impl Fn(u32) -> Mode,
    ) -> Result<Measurement> {
        (self.progress)(&format!("{scenario} {measure}: {load_text}"));
        let (results, per_round) =
            interleaved(self.targets(), spec, rounds, mode, &self.watch, self.pids()).await?;
        let round_ratios = RoundRatios::of(&per_round);
        let stats = results.map(|(recorder, busy, peak)| {
            let mut stats = Stats::from(&recorder, spec.stream, busy);
            stats.rss_peak_mib = peak.map(rss::mib);
            stats
        });
        let measurement = Measurement {
            round_ratios,
            ..Measurement::new(scenario, measure, load_text, stats)
        };
        self.measurements.push(measurement.clone());
        Ok(measurement)
    }

    /// c1, fixed rate and saturation for a non-streaming request.
    async fn whole(
        &mut self,
        scenario: &str,
        spec: RequestSpec,
        c1: u64,
        rate: u64,
        saturation: u64,
    ) -> Result<()> {
        let spec = Arc::new(spec);
        let rounds = self.sizes.rounds;
        let c1_rounds = self.sizes.c1_rounds;
        self.warm(&spec).await?;
        self.measure(
            scenario,
            "c1",
            format!("concurrency 1, {c1} requests"),
            &spec,
            c1_rounds,
            |_| Mode::Sequential {
                n: share(c1, c1_rounds),
            },
        )
        .await?;
        let duration = Duration::from_secs_f64(self.sizes.rate_s / f64::from(rounds));
        self.measure(
            scenario,
            "rate",
            format!(
                "open loop {rate} req/s for {}s over {CONNECTIONS} connections",
                self.sizes.rate_s
            ),
            &spec,
            rounds,
            |_| Mode::Rate {
                rate,
                duration,
                connections: CONNECTIONS,
            },
        )
        .await?;
        self.measure(
            scenario,
            "saturation",
            format!("closed loop, {CONNECTIONS} connections, {saturation} requests"),
            &spec,
            rounds,
            |_| Mode::Closed {
                connections: CONNECTIONS,
                n: share(saturation, rounds),
            },
        )
        .await?;
        Ok(())
    }

    async fn streams(&mut self, scenario: &str, spec: RequestSpec, n: u64) -> Result<()> {
        let spec = Arc::new(spec);
        let rounds = self.sizes.c1_rounds;
        self.warm(&spec).await?;
        self.measure(
            scenario,
            "stream",
            format!("concurrency 1, {n} streams of {STREAM_CHUNKS} chunks"),
            &spec,
            rounds,
            |_| Mode::Sequential {
                n: share(n, rounds),
            },
        )
        .await?;
        Ok(())
    }

    async fn open_streams(&mut self, spec: RequestSpec) -> Result<Measurement> {
        let spec = Arc::new(spec);
        let n = self.sizes.open_streams;
        let load_text = format!(
            "{n} streams at once, 100 chunks {} ms apart",
            self.sizes.open_stream_chunk_ms
        );
        (self.progress)(&format!("e-streams open-streams: {load_text}"));
        let mut stats: [Stats; 3] = Default::default();
        let mut peaks = [0usize; 3];
        let pids = self.pids();
        for (i, target) in self.targets().iter().enumerate() {
            if let Some(pid) = pids[i] {
                let _ = self.watch.take_peak(pid);
            }
            let open = Arc::new(OpenStreams::default());
            let recorder =
                load::run_with(target, &spec, Mode::Burst { n }, Some(Arc::clone(&open))).await?;
            stats[i] = Stats::from(&recorder, true, recorder.elapsed);
            stats[i].rss_peak_mib = pids[i]
                .and_then(|pid| self.watch.take_peak(pid))
                .map(rss::mib);
            peaks[i] = open.peak();
        }
        let measurement = Measurement {
            peak_open: Some(peaks),
            ..Measurement::new("e-streams", "open-streams", load_text, stats)
        };
        self.measurements.push(measurement.clone());
        Ok(measurement)
    }

    async fn soak(&mut self, spec: RequestSpec) -> Result<Soak> {
        let spec = Arc::new(spec);
        let total = self.sizes.soak;
        let warm = (total / 10).max(1);
        (self.progress)(&format!(
            "f-soak: {total} requests through anvil, closed loop over {SOAK_CONNECTIONS} connections"
        ));
        let mode = |n| Mode::Closed {
            connections: SOAK_CONNECTIONS,
            n,
        };
        // The baseline is taken once warm: a part whose RSS at rest fell is followed by another.
        let mut before = rss::rss_kib(self.setup.anvil_pid);
        let mut first = load::Recorder::default();
        let mut warm_elapsed = Duration::ZERO;
        let mut parts = 0;
        let (loaded_after_warmup, after_warmup) = loop {
            let part = load::run(&self.setup.anvil, &spec, mode(warm)).await?;
            first.merge(&part);
            warm_elapsed += part.elapsed;
            parts += 1;
            let loaded = rss::rss_kib(self.setup.anvil_pid);
            at_rest(&self.setup.anvil).await?;
            let after = rss::rss_kib(self.setup.anvil_pid);
            if parts == SOAK_WARMUP_PARTS || warmed_up(before, after) {
                break (loaded, after);
            }
            before = after;
        };
        let rest = load::run(&self.setup.anvil, &spec, mode(total - warm)).await?;
        let loaded_after = rss::rss_kib(self.setup.anvil_pid);
        let decision_log = at_rest(&self.setup.anvil).await?;
        let after = rss::rss_kib(self.setup.anvil_pid);
        let mut all = first.clone();
        all.merge(&rest);
        let busy = warm_elapsed + rest.elapsed;
        Ok(Soak {
            requests: total + (u64::from(parts) - 1) * warm,
            ok: all.ok,
            failed: all.failed,
            first_error: all.first_error.clone(),
            warmup_parts: parts,
            rss_after_warmup_mib: after_warmup.map(rss::mib),
            rss_after_mib: after.map(rss::mib),
            rss_growth_pct: after_warmup.zip(after).map(|(a, b)| change_pct(a, b)),
            rss_under_load_mib: loaded_after_warmup
                .zip(loaded_after)
                .map(|(a, b)| [rss::mib(a), rss::mib(b)]),
            decision_log,
            throughput_rps: all.ok as f64 / busy.as_secs_f64().max(1e-9),
            p50_us: us(&all.latency, 0.5),
            p99_us: us(&all.latency, 0.99),
            p999_us: us(&all.latency, 0.999),
        })
    }
}

/// The change from `from` to `to`, in percent of `from`.
fn change_pct(from: u64, to: u64) -> f64 {
    (to as f64 - from as f64) / from as f64 * 100.0
}

/// Whether a warm-up part left anvil warm: its RSS at rest did not fall by more than
/// [`SOAK_SETTLED_DROP_PCT`] from before the part. The soak follows the 1,000 open streams, and the
/// allocator returns what they held only as later requests allocate: one run sampled 92.8 MiB
/// after the first tenth, 42.2 after the soak, a baseline under which growth would hide. Without
/// an RSS reading there is nothing to wait for.
fn warmed_up(before: Option<u64>, after: Option<u64>) -> bool {
    match (before, after) {
        (Some(before), Some(after)) if before > 0 => {
            -change_pct(before, after) <= SOAK_SETTLED_DROP_PCT
        }
        _ => true,
    }
}

/// Waits until anvil is at rest after a load: its decision log has written (or dropped) every
/// record the load left queued, which `/healthz` shows as counters that stopped moving. The
/// soak's RSS is sampled there, so that both samples see an empty queue; sampled the moment a
/// load stops, RSS swings by several MiB with the queue's fill (up to its capacity of records,
/// when a saturating load starves the idle-priority writer). Returns the counters (`None` when
/// the router keeps no decision log). Gives up waiting after 10 s.
async fn at_rest(anvil: &Target) -> Result<Option<serde_json::Value>> {
    const POLL: Duration = Duration::from_millis(50);
    let counters = || async {
        let text = load::get(anvil.addr, "/healthz").await?;
        let health: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("anvil's /healthz is not JSON: {text}"))?;
        anyhow::Ok(health.get("decision_log").filter(|v| !v.is_null()).cloned())
    };
    let mut last = counters().await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while last.is_some() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
        let now = counters().await?;
        if now == last {
            break;
        }
        last = now;
    }
    Ok(last)
}

fn anthropic(body: bytes::Bytes, stream: bool) -> RequestSpec {
    RequestSpec {
        path: "/v1/messages?beta=true".to_owned(),
        headers: fixtures::anthropic_headers(),
        body,
        stream,
    }
}

/// Runs every scenario and returns the report. `progress` receives one line per measurement.
pub async fn run(root: &Path, setup: &Setup, progress: &mut dyn FnMut(&str)) -> Result<Report> {
    let started = Instant::now();
    let sizes = Sizes::new(setup.quick);
    let watch = Watch::start(&[setup.anvil_pid, setup.floor_pid]);
    let mut memory = Memory {
        anvil_idle_mib: rss::rss_kib(setup.anvil_pid).map(rss::mib),
        floor_idle_mib: rss::rss_kib(setup.floor_pid).map(rss::mib),
        ..Memory::default()
    };
    let mut runner = Runner {
        setup,
        sizes,
        watch,
        measurements: Vec::new(),
        progress,
    };
    let stream_directive = format!("MOCK:slow=0:{STREAM_CHUNKS}");

    // (a) same dialect, allow tier: 2 KB and 200 KB
    if setup.wants("a-2k") {
        runner
            .whole(
                "a-2k",
                anthropic(fixtures::small(tiers::SAME, "", false), false),
                sizes.c1_small,
                RATE_SMALL,
                sizes.saturation_small,
            )
            .await?;
    }
    if setup.wants("a-200k") {
        runner
            .whole(
                "a-200k",
                anthropic(fixtures::large(root, tiers::SAME, "", false)?, false),
                sizes.c1_large,
                RATE_LARGE,
                sizes.saturation_large,
            )
            .await?;
    }
    // (b) Anthropic client, OpenAI tier
    if setup.wants("b-translate") {
        runner
            .whole(
                "b-translate",
                anthropic(fixtures::small(tiers::TRANSLATED, "", false), false),
                sizes.c1_small,
                RATE_SMALL,
                sizes.saturation_small,
            )
            .await?;
    }
    // (c) streaming, 200 chunks, same dialect and translated
    if setup.wants("c-stream") && !setup.only.iter().any(|o| o == "c-stream-translate") {
        runner
            .streams(
                "c-stream",
                anthropic(fixtures::small(tiers::SAME, &stream_directive, true), true),
                sizes.c1_streams,
            )
            .await?;
    }
    if setup.wants("c-stream-translate") {
        runner
            .streams(
                "c-stream-translate",
                anthropic(
                    fixtures::small(tiers::TRANSLATED, &stream_directive, true),
                    true,
                ),
                sizes.c1_streams,
            )
            .await?;
    }
    // (d) allow-with-verify
    if setup.wants("d-verify") {
        runner
            .streams(
                "d-verify",
                anthropic(
                    fixtures::small(tiers::VERIFY, &stream_directive, true),
                    true,
                ),
                sizes.c1_streams,
            )
            .await?;
    }
    // (e) open streams
    if setup.wants("e-streams") {
        let held = format!("MOCK:slow={}:100", sizes.open_stream_chunk_ms);
        runner
            .open_streams(anthropic(fixtures::small(tiers::SAME, &held, true), true))
            .await?;
    }
    // (f) soak
    let soak = if setup.wants("f-soak") {
        runner
            .soak(anthropic(fixtures::small(tiers::SAME, "", false), false))
            .await?
    } else {
        Soak::default()
    };

    let pick = |scenario: &str, measure: &str| {
        runner
            .measurements
            .iter()
            .find(|m| m.scenario == scenario && m.measure == measure)
    };
    memory.anvil_load_peak_mib = peak_of(&runner.measurements, |m| m.anvil.rss_peak_mib);
    memory.floor_load_peak_mib = peak_of(&runner.measurements, |m| m.floor.rss_peak_mib);
    if let Some(open) = pick("e-streams", "open-streams") {
        memory.anvil_open_streams_peak_mib = open.anvil.rss_peak_mib;
        memory.floor_open_streams_peak_mib = open.floor.rss_peak_mib;
    }
    let checks = checks(&runner.measurements, &memory, &soak);
    let failed_requests = runner
        .measurements
        .iter()
        .map(|m| m.direct.failed + m.floor.failed + m.anvil.failed)
        .sum::<u64>()
        + soak.failed;
    let mut notes = vec![
        "added = percentile through the proxy − the same percentile direct to the mock, all three measured in interleaved rounds of the same run".to_owned(),
        "ratio = anvil's added figure / the floor's added figure (throughput: anvil / floor); null where the floor's figure was not positive".to_owned(),
        "the load generator, the mock, the floor and anvil share this machine's CPUs".to_owned(),
    ];
    notes.push(setup.verify_note.clone());
    Ok(Report {
        quick: setup.quick,
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        duration_s: started.elapsed().as_secs_f64(),
        sizes,
        measurements: runner.measurements,
        memory,
        soak,
        checks,
        failed_requests,
        notes,
    })
}

fn peak_of(measurements: &[Measurement], get: impl Fn(&Measurement) -> Option<f64>) -> Option<f64> {
    measurements
        .iter()
        .filter(|m| m.measure == "saturation")
        .filter_map(get)
        .reduce(f64::max)
}

fn check(name: &str, value: Option<f64>, target: &str, met: impl Fn(f64) -> bool) -> Check {
    Check {
        name: name.to_owned(),
        value,
        target: target.to_owned(),
        met: value.map(met),
        rounds: None,
    }
}

impl Check {
    fn with_rounds(self, rounds: Option<Spread>) -> Self {
        Self { rounds, ..self }
    }
}

/// Issue 6's acceptance figures, from one run.
pub fn checks(measurements: &[Measurement], memory: &Memory, soak: &Soak) -> Vec<Check> {
    let pick = |scenario: &str, measure: &str| {
        measurements
            .iter()
            .find(|m| m.scenario == scenario && m.measure == measure)
    };
    let c1 = pick("a-2k", "c1");
    let mut out = vec![
        check(
            "a-2k c1: anvil added p50 / floor added p50",
            c1.and_then(|m| m.ratio.p50),
            "≤ 1.5",
            |v| v <= 1.5,
        )
        .with_rounds(c1.and_then(|m| m.round_ratios.as_ref()?.p50)),
        check(
            "a-2k c1: anvil added p99 / floor added p99",
            c1.and_then(|m| m.ratio.p99),
            "≤ 2",
            |v| v <= 2.0,
        ),
        check(
            "a-2k c1: anvil added p99 (µs)",
            c1.map(|m| m.anvil_added.p99_us),
            "< 150",
            |v| v < 150.0,
        ),
        check(
            "a-2k saturation: anvil / floor throughput",
            pick("a-2k", "saturation").and_then(|m| m.ratio.throughput),
            "≥ 0.60",
            |v| v >= 0.6,
        ),
        check(
            "b-translate saturation: anvil / floor throughput",
            pick("b-translate", "saturation").and_then(|m| m.ratio.throughput),
            "≥ 0.45",
            |v| v >= 0.45,
        ),
    ];
    let stream = pick("c-stream", "stream");
    out.push(
        check(
            "c-stream: anvil added TTFB p50 / floor added TTFB p50",
            stream.and_then(|m| m.ratio.ttfb_p50),
            "≤ 1.5",
            |v| v <= 1.5,
        )
        .with_rounds(stream.and_then(|m| m.round_ratios.as_ref()?.ttfb_p50)),
    );
    out.push(check(
        "c-stream: anvil added per-chunk gap p99 (µs)",
        stream.and_then(|m| m.anvil_added.gap_p99_us),
        "≤ 100",
        |v| v <= 100.0,
    ));
    let open = pick("e-streams", "open-streams");
    out.push(check(
        "e-streams: streams anvil held open at once",
        open.and_then(|m| m.peak_open).map(|p| p[2] as f64),
        "1000",
        |v| v >= 1000.0,
    ));
    out.push(check(
        "e-streams: anvil RSS peak (MiB)",
        memory.anvil_open_streams_peak_mib,
        "≤ 150",
        |v| v <= 150.0,
    ));
    out.push(check(
        "anvil idle RSS (MiB)",
        memory.anvil_idle_mib,
        "≤ 30",
        |v| v <= 30.0,
    ));
    out.push(check(
        "f-soak: anvil RSS growth after warm-up (%)",
        soak.rss_growth_pct,
        "≤ 5",
        |v| v <= 5.0,
    ));
    out.push(check(
        "f-soak: failed requests",
        (soak.requests > 0).then_some(soak.failed as f64),
        "0",
        |v| v == 0.0,
    ));
    out
}

fn f(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}"))
}

/// The report as Markdown tables (printed, and pasted into docs/BENCHMARKS.md).
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    out.push_str("Latency (µs): direct = the mock alone; floor / anvil = added over direct (p50 / p99 / p99.9); ratio = anvil added / floor added.\n\n");
    out.push_str("| scenario | load | direct p50 / p99 / p99.9 | floor added | anvil added | ratio p50 / p99 |\n|---|---|---|---|---|---|\n");
    for m in report
        .measurements
        .iter()
        .filter(|m| m.measure == "c1" || m.measure == "rate")
    {
        out.push_str(&format!(
            "| {} {} | {} | {} / {} / {} | {} / {} / {} | {} / {} / {} | {} / {} |\n",
            m.scenario,
            m.measure,
            m.load,
            f(m.direct.p50_us),
            f(m.direct.p99_us),
            f(m.direct.p999_us),
            f(m.floor_added.p50_us),
            f(m.floor_added.p99_us),
            f(m.floor_added.p999_us),
            f(m.anvil_added.p50_us),
            f(m.anvil_added.p99_us),
            f(m.anvil_added.p999_us),
            opt(m.ratio.p50),
            opt(m.ratio.p99),
        ));
    }
    out.push_str("\nSaturation (closed loop), answered requests per second:\n\n| scenario | load | direct | floor | anvil | anvil / floor |\n|---|---|---|---|---|---|\n");
    for m in report
        .measurements
        .iter()
        .filter(|m| m.measure == "saturation")
    {
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {} |\n",
            m.scenario,
            m.load,
            m.direct.throughput_rps,
            m.floor.throughput_rps,
            m.anvil.throughput_rps,
            opt(m.ratio.throughput),
        ));
    }
    out.push_str("\nStreams (µs): time to first byte (p50 / p99), gap between events (p99), median time per chunk; floor / anvil added over direct.\n\n| scenario | load | direct TTFB | floor added TTFB | anvil added TTFB | TTFB ratio p50 | gap p99 direct / +floor / +anvil | per chunk direct / +floor / +anvil |\n|---|---|---|---|---|---|---|---|\n");
    for m in report
        .measurements
        .iter()
        .filter(|m| m.measure == "stream" || m.measure == "open-streams")
    {
        let g = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), f);
        out.push_str(&format!(
            "| {} | {} | {} / {} | {} / {} | {} / {} | {} | {} / {} / {} | {} / {} / {} |\n",
            m.scenario,
            m.load,
            f(m.direct.ttfb_p50_us),
            f(m.direct.ttfb_p99_us),
            f(m.floor_added.ttfb_p50_us),
            f(m.floor_added.ttfb_p99_us),
            f(m.anvil_added.ttfb_p50_us),
            f(m.anvil_added.ttfb_p99_us),
            opt(m.ratio.ttfb_p50),
            g(m.direct.gap_p99_us),
            g(m.floor_added.gap_p99_us),
            g(m.anvil_added.gap_p99_us),
            g(m.direct.per_chunk_p50_us),
            g(m.floor_added.per_chunk_p50_us),
            g(m.anvil_added.per_chunk_p50_us),
        ));
    }
    let mib = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"));
    let m = &report.memory;
    out.push_str(&format!(
        "\nRSS (MiB): anvil idle {}, under saturation {}, holding the open streams {}; floor idle {}, under saturation {}, holding the open streams {}.\n",
        mib(m.anvil_idle_mib),
        mib(m.anvil_load_peak_mib),
        mib(m.anvil_open_streams_peak_mib),
        mib(m.floor_idle_mib),
        mib(m.floor_load_peak_mib),
        mib(m.floor_open_streams_peak_mib),
    ));
    if let Some(open) = report
        .measurements
        .iter()
        .find(|m| m.measure == "open-streams")
    {
        if let Some([d, fl, a]) = open.peak_open {
            out.push_str(&format!(
                "Open streams held at once: direct {d}, floor {fl}, anvil {a} (failed: {} / {} / {}).\n",
                open.direct.failed, open.floor.failed, open.anvil.failed
            ));
        }
    }
    let s = &report.soak;
    if s.requests > 0 {
        out.push_str(&format!(
        "\nSoak: {} requests through anvil, {} failed, {:.0} req/s, p50 / p99 / p99.9 {} / {} / {} µs; RSS at rest after warm-up ({} part{} of a tenth) {}, after the soak {} ({}%); the moment each load stopped {} and {}; decision log {}.\n",
        s.requests,
        s.failed,
        s.throughput_rps,
        f(s.p50_us),
        f(s.p99_us),
        f(s.p999_us),
        s.warmup_parts,
        if s.warmup_parts == 1 { "" } else { "s" },
        mib(s.rss_after_warmup_mib),
        mib(s.rss_after_mib),
        s.rss_growth_pct.map_or_else(|| "–".to_owned(), |v| format!("{v:+.1}")),
        mib(s.rss_under_load_mib.map(|[a, _]| a)),
        mib(s.rss_under_load_mib.map(|[_, b]| b)),
        s.decision_log.as_ref().map_or_else(|| "off".to_owned(), |v| v.to_string()),
    ));
    }
    out.push_str("\nIssue 6 acceptance figures (this run; for a ratio measured in rounds, the same ratio round by round: lowest – median – highest):\n\n| figure | value | target | met |\n|---|---|---|---|\n");
    for c in &report.checks {
        let value = c.value.map_or_else(|| "–".to_owned(), f);
        let value = match c.rounds {
            Some(r) => format!(
                "{value} (rounds {} – {} – {})",
                f(r.min),
                f(r.median),
                f(r.max)
            ),
            None => value,
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            c.name,
            value,
            c.target,
            match c.met {
                Some(true) => "yes",
                Some(false) => "no",
                None => "–",
            }
        ));
    }
    if report.failed_requests > 0 {
        out.push_str(&format!(
            "\n**{} requests failed in this run** (see report.json for the first error of each measurement).\n",
            report.failed_requests
        ));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn added_and_ratios_are_differences_and_quotients() {
        let direct = Stats {
            p50_us: 100.0,
            p99_us: 200.0,
            throughput_rps: 1000.0,
            ..Stats::default()
        };
        let floor = Stats {
            p50_us: 130.0,
            p99_us: 260.0,
            throughput_rps: 800.0,
            ..Stats::default()
        };
        let anvil = Stats {
            p50_us: 145.0,
            p99_us: 290.0,
            throughput_rps: 600.0,
            ..Stats::default()
        };
        let fa = Added::over(&floor, &direct);
        let aa = Added::over(&anvil, &direct);
        assert_eq!((fa.p50_us, fa.p99_us), (30.0, 60.0));
        let r = Ratio::of(&aa, &fa, &anvil, &floor);
        assert_eq!(r.p50, Some(1.5));
        assert_eq!(r.p99, Some(1.5));
        assert_eq!(r.throughput, Some(0.75));
        // a floor that measured no added time gives no ratio rather than infinity
        let r = Ratio::of(&aa, &Added::default(), &anvil, &floor);
        assert_eq!(r.p50, None);
    }

    /// A round's (direct, floor, anvil) with these p50s and TTFB p50s.
    fn round(p50: [f64; 3], ttfb: [f64; 3]) -> [Stats; 3] {
        [0, 1, 2].map(|i| Stats {
            p50_us: p50[i],
            ttfb_p50_us: ttfb[i],
            ..Stats::default()
        })
    }

    #[test]
    fn round_ratios_are_each_rounds_own_ratio_spread_low_median_high() {
        // added p50: floor 20/40/10/30, anvil 30/40/20/30 → 1.5, 1.0, 2.0, 1.0
        let rounds = [
            round([100.0, 120.0, 130.0], [0.0; 3]),
            round([90.0, 130.0, 130.0], [0.0; 3]),
            round([100.0, 110.0, 120.0], [0.0; 3]),
            round([100.0, 130.0, 130.0], [0.0; 3]),
        ];
        let spread = RoundRatios::of(&rounds).unwrap();
        let p50 = spread.p50.unwrap();
        assert_eq!(
            (p50.min, p50.median, p50.max, p50.rounds),
            (1.0, 1.0, 2.0, 4)
        );
        // no TTFB measured (a floor with no added time has no ratio): no spread, not zeros
        assert_eq!(spread.ttfb_p50, None);
        // two rounds are not a spread
        assert_eq!(RoundRatios::of(&rounds[..2]), None);
    }

    #[test]
    fn the_acceptance_table_shows_a_ratios_rounds_beside_it() {
        let rounds = [
            round([100.0, 120.0, 130.0], [50.0, 60.0, 65.0]),
            round([100.0, 120.0, 140.0], [50.0, 60.0, 70.0]),
            round([100.0, 120.0, 150.0], [50.0, 60.0, 75.0]),
        ];
        let c1 = Measurement {
            round_ratios: RoundRatios::of(&rounds),
            ..Measurement::new(
                "a-2k",
                "c1",
                String::new(),
                round([100.0, 120.0, 140.0], [50.0, 60.0, 70.0]),
            )
        };
        let checks = checks(&[c1], &Memory::default(), &Soak::default());
        assert_eq!(checks[0].value, Some(2.0));
        let rounds = checks[0].rounds.unwrap();
        assert_eq!((rounds.min, rounds.median, rounds.max), (1.5, 2.0, 2.5));
        let report = Report {
            quick: true,
            cpus: 2,
            duration_s: 0.0,
            sizes: Sizes::new(true),
            measurements: Vec::new(),
            memory: Memory::default(),
            soak: Soak::default(),
            checks,
            failed_requests: 0,
            notes: Vec::new(),
        };
        let table = markdown(&report);
        assert!(
            table.contains("| a-2k c1: anvil added p50 / floor added p50 | 2.0 (rounds 1.5 – 2.0 – 2.5) | ≤ 1.5 | no |"),
            "{table}"
        );
    }

    #[test]
    fn the_soak_warms_up_until_rss_at_rest_stops_falling() {
        // the run that prompted it: memory of the open streams still being returned
        assert!(!super::warmed_up(Some(100 * 1024), Some(92 * 1024)));
        assert!(!super::warmed_up(Some(92 * 1024), Some(43 * 1024)));
        // settled: within the allowance either way, or growing
        assert!(super::warmed_up(Some(43 * 1024), Some(42 * 1024 + 600)));
        assert!(super::warmed_up(Some(43 * 1024), Some(44 * 1024)));
        // a drop just past the allowance is not settled
        assert!(!super::warmed_up(Some(1000), Some(979)));
        assert!(super::warmed_up(Some(1000), Some(980)));
        // no reading (not Linux, the process gone): nothing to wait for
        assert!(super::warmed_up(None, Some(1)));
        assert!(super::warmed_up(Some(1), None));
    }

    #[test]
    fn checks_report_unmeasured_figures_as_unknown() {
        let checks = checks(&[], &Memory::default(), &Soak::default());
        let first = &checks[0];
        assert_eq!(first.value, None);
        assert_eq!(first.met, None);
        // a soak that did not run (--only) is not a soak without failures
        let failed = checks.iter().find(|c| c.name.contains("failed")).unwrap();
        assert_eq!(failed.met, None);
        let soak = Soak {
            requests: 10,
            ok: 10,
            ..Soak::default()
        };
        let checks = super::checks(&[], &Memory::default(), &soak);
        let failed = checks.iter().find(|c| c.name.contains("failed")).unwrap();
        assert_eq!(failed.met, Some(true));
    }
}
