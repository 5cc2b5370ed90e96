//! The swap state machine over a fake backend, on a paused tokio clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::config::Launch;

/// How a fake engine behaves once started.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// Healthy this long after start.
    Up(Duration),
    /// Its process exits this long after start.
    Crash(Duration),
    /// Never healthy.
    Hang,
}

#[derive(Debug, Default)]
struct Log {
    events: Vec<String>,
    alive: HashSet<String>,
    max_alive: usize,
}

#[derive(Clone, Default)]
struct Fake {
    behaviour: Arc<Mutex<BTreeMap<String, Behaviour>>>,
    occupied: Arc<Mutex<HashSet<String>>>,
    log: Arc<Mutex<Log>>,
}

struct FakeRunning {
    name: String,
    started: Instant,
    behaviour: Behaviour,
}

impl Fake {
    fn set(&self, name: &str, b: Behaviour) {
        self.behaviour.lock().unwrap().insert(name.to_owned(), b);
    }
    fn events(&self) -> Vec<String> {
        self.log.lock().unwrap().events.clone()
    }
    fn max_alive(&self) -> usize {
        self.log.lock().unwrap().max_alive
    }
    fn alive(&self) -> Vec<String> {
        let mut v: Vec<_> = self.log.lock().unwrap().alive.iter().cloned().collect();
        v.sort();
        v
    }
}

impl Backend for Fake {
    type Running = FakeRunning;

    async fn start(&self, engine: &EngineSpec) -> Result<FakeRunning, String> {
        let behaviour = self.behaviour.lock().unwrap()[&engine.name];
        let mut log = self.log.lock().unwrap();
        log.events.push(format!("start {}", engine.name));
        log.alive.insert(engine.name.clone());
        log.max_alive = log.max_alive.max(log.alive.len());
        Ok(FakeRunning {
            name: engine.name.clone(),
            started: Instant::now(),
            behaviour,
        })
    }

    async fn probe(&self, _engine: &EngineSpec, running: &mut FakeRunning) -> Probe {
        let up = running.started.elapsed();
        match running.behaviour {
            Behaviour::Up(d) if up >= d => Probe::Healthy,
            Behaviour::Crash(d) if up >= d => Probe::Exited("exited with status 1".into()),
            _ => Probe::NotYet,
        }
    }

    async fn occupied(&self, engine: &EngineSpec) -> bool {
        self.occupied.lock().unwrap().contains(&engine.name)
    }

    async fn stop(&self, engine: &EngineSpec, running: FakeRunning) {
        assert_eq!(engine.name, running.name);
        // Stopping takes a second of (paused) time.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut log = self.log.lock().unwrap();
        log.events.push(format!("stop {}", engine.name));
        log.alive.remove(&engine.name);
    }

    fn pid(&self, _running: &FakeRunning) -> Option<u32> {
        Some(4242)
    }
}

fn spec(name: &str, start_timeout_s: u64) -> EngineSpec {
    EngineSpec {
        name: name.to_owned(),
        launch: Launch::Command(vec!["fake".into()]),
        port: 1,
        health_url: "http://127.0.0.1:1/health".into(),
        base_url: "http://127.0.0.1:1".into(),
        gpu_memory_gb: Some(8.0),
        start_timeout: Duration::from_secs(start_timeout_s),
        stop_grace: Duration::from_secs(5),
        env: BTreeMap::new(),
        cwd: None,
    }
}

const SETTINGS: Settings = Settings {
    load_wait: Duration::from_secs(120),
    drain_timeout: Duration::from_secs(30),
    health_interval: Duration::from_millis(500),
};

fn mux(settings: Settings) -> (Multiplexer<Fake>, Fake) {
    let fake = Fake::default();
    fake.set("a", Behaviour::Up(Duration::from_secs(10)));
    fake.set("b", Behaviour::Up(Duration::from_secs(20)));
    let engines = vec![spec("a", 60), spec("b", 60), spec("c", 60)];
    (Multiplexer::new(fake.clone(), engines, settings), fake)
}

/// Lets spawned tasks run until they block on the (paused) clock or on each other.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn the_first_request_loads_its_model_and_later_ones_reuse_it() {
    let (mux, fake) = mux(SETTINGS);
    let t0 = Instant::now();
    let lease = mux.acquire("a").await.unwrap();
    // Health probes every 500 ms; "a" is healthy 10 s after its start.
    assert_eq!(t0.elapsed(), Duration::from_secs(10));
    assert_eq!(lease.model(), "a");
    let r = mux.residency();
    assert_eq!(r.resident.as_deref(), Some("a"));
    assert_eq!(r.resident_pid, Some(4242));
    assert_eq!(r.in_flight.get("a"), Some(&1));
    let last = r.last_swap.unwrap();
    assert_eq!((last.from, last.to.as_str()), (None, "a"));
    assert_eq!(last.outcome, Outcome::Ok);
    assert_eq!(last.duration_ms, 10_000);
    drop(lease);
    assert!(mux.residency().in_flight.is_empty());
    let t1 = Instant::now();
    drop(mux.acquire("a").await.unwrap());
    assert_eq!(
        t1.elapsed(),
        Duration::ZERO,
        "a resident model is not restarted"
    );
    assert_eq!(fake.events(), ["start a"]);
    assert_eq!(mux.residency().swaps, 1);
}

#[tokio::test(start_paused = true)]
async fn a_swap_stops_the_resident_engine_before_starting_the_next() {
    let (mux, fake) = mux(SETTINGS);
    mux.swap_to("a").await.unwrap();
    let t0 = Instant::now();
    mux.swap_to("b").await.unwrap();
    // 1 s to stop "a", 20 s for "b" to come up.
    assert_eq!(t0.elapsed(), Duration::from_secs(21));
    assert_eq!(fake.events(), ["start a", "stop a", "start b"]);
    assert_eq!(fake.max_alive(), 1, "never two engines at once");
    let r = mux.residency();
    assert_eq!(r.resident.as_deref(), Some("b"));
    let last = r.last_swap.unwrap();
    assert_eq!((last.from.as_deref(), last.to.as_str()), (Some("a"), "b"));
    assert_eq!(last.duration_ms, 21_000);
    let metrics = mux.metrics().render();
    assert!(
        metrics.contains("anvil_multiplexer_swaps_total{to=\"b\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("anvil_multiplexer_last_swap_duration_seconds 21.0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("anvil_multiplexer_swap_duration_seconds_count{outcome=\"ok\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("anvil_multiplexer_resident{model=\"b\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("anvil_multiplexer_resident{model=\"a\"} 0"),
        "{metrics}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_swap_waits_for_in_flight_requests_and_the_residency_shows_each_phase() {
    let (mux, fake) = mux(SETTINGS);
    let lease = mux.acquire("a").await.unwrap();
    let generation = mux.residency().generation;
    let swapper = tokio::spawn({
        let mux = mux.clone();
        async move { mux.acquire("b").await.map(|l| l.model().to_owned()) }
    });
    settle().await;
    tokio::time::advance(Duration::from_secs(5)).await;
    settle().await;
    let r = mux.residency();
    assert!(r.generation > generation);
    let swap = r.swap.clone().unwrap();
    assert_eq!(swap.phase, Phase::Draining);
    assert_eq!((swap.from.as_deref(), swap.to.as_str()), (Some("a"), "b"));
    assert_eq!(swap.elapsed_ms, 5_000);
    assert_eq!(r.resident.as_deref(), Some("a"));
    assert_eq!(
        fake.events(),
        ["start a"],
        "a is not stopped under a request"
    );
    // New requests for "a" wait behind the swap instead of extending the drain.
    let late = tokio::spawn({
        let mux = mux.clone();
        async move { mux.acquire("a").await.map(|l| l.model().to_owned()) }
    });
    settle().await;
    assert_eq!(mux.residency().in_flight.get("a"), Some(&1));
    drop(lease);
    settle().await;
    tokio::time::advance(Duration::from_secs(2)).await;
    settle().await;
    let r = mux.residency();
    assert_eq!(r.swap.as_ref().map(|s| s.phase), Some(Phase::Starting));
    assert_eq!(r.resident, None);
    assert_eq!(swapper.await.unwrap().unwrap(), "b");
    assert_eq!(mux.residency().resident.as_deref(), Some("b"));
    // The late request for "a" swaps back once "b" is up.
    assert_eq!(late.await.unwrap().unwrap(), "a");
    assert_eq!(
        fake.events(),
        ["start a", "stop a", "start b", "stop b", "start a"]
    );
    assert_eq!(fake.max_alive(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_drain_is_bounded_by_its_timeout() {
    let (mux, fake) = mux(SETTINGS);
    let stuck = mux.acquire("a").await.unwrap();
    let t0 = Instant::now();
    mux.swap_to("b").await.unwrap();
    // 30 s drain timeout + 1 s stop + 20 s start.
    assert_eq!(t0.elapsed(), Duration::from_secs(51));
    assert_eq!(fake.events(), ["start a", "stop a", "start b"]);
    assert!(mux
        .metrics()
        .render()
        .contains("anvil_multiplexer_drain_timeouts_total 1"));
    drop(stuck);
    assert!(mux.residency().in_flight.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_failed_start_rolls_back_to_the_previous_model() {
    let (mux, fake) = mux(SETTINGS);
    fake.set("c", Behaviour::Crash(Duration::from_secs(3)));
    mux.swap_to("a").await.unwrap();
    let t0 = Instant::now();
    let err = mux.acquire("c").await.unwrap_err();
    assert_eq!(
        err,
        MuxError::StartFailed {
            model: "c".into(),
            message: "the engine exited with status 1 during start-up".into()
        }
    );
    // stop a (1 s), c crashes after 3 s, stop c (1 s), a back up (10 s).
    assert_eq!(t0.elapsed(), Duration::from_secs(15));
    assert_eq!(
        fake.events(),
        ["start a", "stop a", "start c", "stop c", "start a"]
    );
    assert_eq!(fake.alive(), ["a"]);
    let r = mux.residency();
    assert_eq!(r.resident.as_deref(), Some("a"));
    assert!(r.swap.is_none());
    let last = r.last_swap.unwrap();
    assert_eq!(last.outcome, Outcome::RolledBack);
    assert_eq!(last.duration_ms, 15_000);
    assert_eq!(
        last.error.as_deref(),
        Some("the engine exited with status 1 during start-up")
    );
    let metrics = mux.metrics().render();
    assert!(
        metrics.contains("anvil_multiplexer_rollbacks_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("anvil_multiplexer_swaps_total{to=\"c\",outcome=\"failed\"} 1"),
        "{metrics}"
    );
    // The rolled-back model serves at once.
    let t1 = Instant::now();
    drop(mux.acquire("a").await.unwrap());
    assert_eq!(t1.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_hung_start_hits_its_deadline() {
    let (mux, fake) = mux(SETTINGS);
    fake.set("c", Behaviour::Hang);
    mux.swap_to("a").await.unwrap();
    let t0 = Instant::now();
    let err = mux.swap_to("c").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "model \"c\" failed to start: not healthy within its start timeout of 60s"
    );
    // stop a 1 s, 60 s deadline, stop c 1 s, a back 10 s.
    assert_eq!(t0.elapsed(), Duration::from_secs(72));
    assert_eq!(fake.alive(), ["a"]);
    assert_eq!(mux.residency().resident.as_deref(), Some("a"));
}

#[tokio::test(start_paused = true)]
async fn with_nothing_to_roll_back_to_nothing_is_resident() {
    let (mux, fake) = mux(SETTINGS);
    fake.set("c", Behaviour::Crash(Duration::ZERO));
    assert!(matches!(
        mux.swap_to("c").await,
        Err(MuxError::StartFailed { .. })
    ));
    let r = mux.residency();
    assert_eq!(r.resident, None);
    assert_eq!(r.last_swap.unwrap().outcome, Outcome::Failed);
    assert!(fake.alive().is_empty());
}

#[tokio::test(start_paused = true)]
async fn requests_waiting_for_a_failing_model_share_one_start_attempt() {
    let (mux, fake) = mux(SETTINGS);
    fake.set("c", Behaviour::Crash(Duration::from_secs(2)));
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let mux = mux.clone();
            tokio::spawn(async move { mux.acquire("c").await.map(drop) })
        })
        .collect();
    for w in waiters {
        assert!(matches!(
            w.await.unwrap(),
            Err(MuxError::StartFailed { .. })
        ));
    }
    assert_eq!(fake.events(), ["start c", "stop c"]);
    // A later request tries again.
    assert!(mux.swap_to("c").await.is_err());
    assert_eq!(fake.events().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn requests_for_the_model_being_loaded_wait_and_all_get_it() {
    let (mux, fake) = mux(SETTINGS);
    let t0 = Instant::now();
    let waiters: Vec<_> = (0..8)
        .map(|_| {
            let mux = mux.clone();
            tokio::spawn(async move { mux.acquire("b").await.map(|l| l.model().to_owned()) })
        })
        .collect();
    for w in waiters {
        assert_eq!(w.await.unwrap().unwrap(), "b");
    }
    assert_eq!(t0.elapsed(), Duration::from_secs(20));
    assert_eq!(fake.events(), ["start b"]);
}

#[tokio::test(start_paused = true)]
async fn the_wait_for_a_load_is_bounded_and_the_load_goes_on() {
    let settings = Settings {
        load_wait: Duration::from_secs(5),
        ..SETTINGS
    };
    let (mux, _fake) = mux(settings);
    let t0 = Instant::now();
    let err = mux.acquire("b").await.unwrap_err();
    assert_eq!(t0.elapsed(), Duration::from_secs(5));
    assert!(
        matches!(&err, MuxError::LoadTimeout { model, waited_s } if model == "b" && *waited_s == 5.0),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "model \"b\" is still loading after 5s; retry later"
    );
    assert_eq!(mux.residency().swap.map(|s| s.phase), Some(Phase::Starting));
    tokio::time::advance(Duration::from_secs(16)).await;
    settle().await;
    assert_eq!(mux.residency().resident.as_deref(), Some("b"));
    assert!(mux
        .metrics()
        .render()
        .contains("anvil_multiplexer_load_wait_timeouts_total 1"));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_request_does_not_cancel_its_swap() {
    let (mux, _fake) = mux(SETTINGS);
    let request = tokio::spawn({
        let mux = mux.clone();
        async move { mux.acquire("b").await.map(drop) }
    });
    settle().await;
    tokio::time::advance(Duration::from_secs(3)).await;
    request.abort();
    tokio::time::advance(Duration::from_secs(20)).await;
    settle().await;
    assert_eq!(mux.residency().resident.as_deref(), Some("b"));
}

#[tokio::test(start_paused = true)]
async fn another_process_on_the_port_is_not_taken_for_the_engine() {
    let (mux, fake) = mux(SETTINGS);
    fake.occupied.lock().unwrap().insert("a".into());
    let err = mux.swap_to("a").await.unwrap_err().to_string();
    assert!(
        err.contains("already answers before the engine was started"),
        "{err}"
    );
    assert!(fake.events().is_empty());
}

#[tokio::test(start_paused = true)]
async fn unknown_models_touch_nothing() {
    let (mux, fake) = mux(SETTINGS);
    assert_eq!(
        mux.acquire("zzz").await.unwrap_err().to_string(),
        "unknown model \"zzz\"; known: a, b, c"
    );
    assert!(fake.events().is_empty());
    assert_eq!(mux.residency().generation, 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_the_resident_engine_and_refuses_requests() {
    let (mux, fake) = mux(SETTINGS);
    mux.swap_to("a").await.unwrap();
    mux.shutdown().await;
    assert!(fake.alive().is_empty());
    assert_eq!(fake.events(), ["start a", "stop a"]);
    assert_eq!(mux.acquire("a").await.unwrap_err(), MuxError::ShuttingDown);
    assert_eq!(mux.residency().resident, None);
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_a_start_cancels_it() {
    let (mux, fake) = mux(SETTINGS);
    let request = tokio::spawn({
        let mux = mux.clone();
        async move { mux.acquire("b").await.map(drop) }
    });
    settle().await;
    tokio::time::advance(Duration::from_secs(3)).await;
    settle().await;
    assert_eq!(fake.alive(), ["b"]);
    mux.shutdown().await;
    assert_eq!(request.await.unwrap(), Err(MuxError::ShuttingDown));
    // The fake's drop does not log; the real backend's drop kills the process group.
    let r = mux.residency();
    assert_eq!((r.resident, r.swap), (None, None));
}

#[tokio::test(start_paused = true)]
async fn a_long_poll_returns_when_residency_changes_not_when_requests_come_and_go() {
    let (mux, _fake) = mux(SETTINGS);
    mux.swap_to("a").await.unwrap();
    let epoch = mux.residency().epoch;
    // Requests starting and ending change the generation, not the epoch.
    drop(mux.acquire("a").await.unwrap());
    assert_eq!(mux.residency().epoch, epoch);
    let t0 = Instant::now();
    let r = mux.residency_after(epoch, Duration::from_secs(30)).await;
    assert_eq!((r.epoch, t0.elapsed()), (epoch, Duration::from_secs(30)));
    // A swap wakes the poll at once, with the swap under way.
    let poll = tokio::spawn({
        let mux = mux.clone();
        async move { mux.residency_after(epoch, Duration::from_secs(30)).await }
    });
    settle().await;
    let swap = tokio::spawn({
        let mux = mux.clone();
        async move { mux.swap_to("b").await }
    });
    let t1 = Instant::now();
    let r = poll.await.unwrap();
    assert_eq!(t1.elapsed(), Duration::ZERO);
    assert!(r.epoch > epoch);
    assert_eq!(r.swap.map(|s| s.to), Some("b".to_owned()));
    swap.await.unwrap().unwrap();
    // Already different: no wait.
    let t2 = Instant::now();
    assert_eq!(
        mux.residency_after(epoch, Duration::from_secs(30))
            .await
            .resident
            .as_deref(),
        Some("b")
    );
    assert_eq!(t2.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn closing_ends_long_polls() {
    let (mux, _fake) = mux(SETTINGS);
    let epoch = mux.residency().epoch;
    let poll = tokio::spawn({
        let mux = mux.clone();
        async move { mux.residency_after(epoch, Duration::from_secs(30)).await }
    });
    settle().await;
    let t0 = Instant::now();
    mux.close();
    poll.await.unwrap();
    assert_eq!(t0.elapsed(), Duration::ZERO);
}
