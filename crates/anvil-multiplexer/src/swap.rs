//! The swap state machine: one engine resident at a time, swaps serialized.
//!
//! A request takes a [`Lease`] on its model with [`Multiplexer::acquire`]. If the model is
//! resident and no swap is under way, that is immediate. Otherwise the request queues (FIFO) for
//! the swap slot; once it holds it, and if its model is still not resident, it swaps:
//!
//! 1. **drain**: new requests for the resident model wait; in-flight ones get up to
//!    `drain_timeout` to finish (their streams included);
//! 2. **stop** the resident engine (SIGTERM, grace, SIGKILL);
//! 3. **start** the new one and probe its health until it answers or its `start_timeout` passes
//!    (an engine whose process exits fails at once; one whose health URL already answered before
//!    it was started is refused, since that is another process on its port);
//! 4. on failure **roll back**: start the previous model again. The requests that asked for the
//!    failed model get the start error, not another attempt each.
//!
//! The swap runs in its own task, so a client that disconnects mid-swap does not cancel it.
//! Requests wait at most `load_wait` in all. Every state change bumps a generation counter and is
//! visible in [`Multiplexer::residency`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::{watch, OwnedMutexGuard};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::backend::{Backend, Probe};
use crate::config::{EngineSpec, Settings};
use crate::metrics::Metrics;

/// Why a request could not get its model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MuxError {
    /// No engine of that name is registered.
    #[error("unknown model {model:?}; known: {known}")]
    UnknownModel {
        /// The requested name.
        model: String,
        /// The registered names, comma-separated.
        known: String,
    },
    /// The model did not become resident within `load_wait`.
    #[error("model {model:?} is still loading after {waited_s:.0}s; retry later")]
    LoadTimeout {
        /// The requested name.
        model: String,
        /// How long the request waited.
        waited_s: f64,
    },
    /// The engine failed to start (the previous model was brought back if possible).
    #[error("model {model:?} failed to start: {message}")]
    StartFailed {
        /// The requested name.
        model: String,
        /// What went wrong.
        message: String,
    },
    /// The multiplexer is shutting down.
    #[error("the multiplexer is shutting down")]
    ShuttingDown,
}

/// Phase of a swap in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Waiting for in-flight requests of the resident model.
    Draining,
    /// Stopping the resident engine.
    Stopping,
    /// Starting the target engine and waiting for its health.
    Starting,
    /// The target failed; starting the previous model again.
    RollingBack,
}

/// A swap in progress, as reported by `GET /residency`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwapInProgress {
    /// The model being replaced, if any.
    pub from: Option<String>,
    /// The model being loaded.
    pub to: String,
    /// Current phase.
    pub phase: Phase,
    /// Wall-clock start, milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    /// Time since the swap started.
    pub elapsed_ms: u64,
    #[serde(skip)]
    started: Instant,
}

/// Outcome of a finished swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The target is resident.
    Ok,
    /// The target failed; the previous model is resident again.
    RolledBack,
    /// The target failed and nothing is resident.
    Failed,
}

/// The last finished swap.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwapReport {
    /// The model replaced, if any.
    pub from: Option<String>,
    /// The model asked for.
    pub to: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Wall time from the swap's start to its end (drain, stop, start, health, rollback).
    pub duration_ms: u64,
    /// The start error, for a failed swap.
    pub error: Option<String>,
    /// Wall-clock end, milliseconds since the Unix epoch.
    pub finished_unix_ms: u64,
}

/// One registered engine, as listed by `GET /residency`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineInfo {
    /// Its model name.
    pub name: String,
    /// Its port.
    pub port: u16,
    /// Its expected GPU memory.
    pub gpu_memory_gb: Option<f64>,
}

/// The residency report (`GET /residency`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Residency {
    /// The resident model, if any.
    pub resident: Option<String>,
    /// When it became resident, milliseconds since the Unix epoch.
    pub resident_since_unix_ms: Option<u64>,
    /// Process id of the resident engine, if it is a child process.
    pub resident_pid: Option<u32>,
    /// The swap in progress, if any.
    pub swap: Option<SwapInProgress>,
    /// The last finished swap, if any.
    pub last_swap: Option<SwapReport>,
    /// Requests in flight, by model.
    pub in_flight: HashMap<String, usize>,
    /// Finished swaps since start.
    pub swaps: u64,
    /// Bumped on every state change (requests starting and ending included).
    pub generation: u64,
    /// Bumped when the resident model or the swap under way (its target or phase) changes: what
    /// a router polling residency cares about (`GET /residency?wait_epoch=N` waits for it).
    pub epoch: u64,
    /// The registry, in configuration order.
    pub engines: Vec<EngineInfo>,
}

#[derive(Debug, Default)]
struct State {
    resident: Option<String>,
    resident_since_unix_ms: Option<u64>,
    resident_pid: Option<u32>,
    swap: Option<SwapInProgress>,
    last_swap: Option<SwapReport>,
    in_flight: HashMap<String, usize>,
    swaps: u64,
    /// Per model: the swap count at which its last start failed, and the error.
    failures: HashMap<String, (u64, String)>,
    closing: bool,
    generation: u64,
    epoch: u64,
}

impl State {
    /// What a residency reader cares about.
    fn residency_key(&self) -> (Option<String>, Option<(String, Phase)>) {
        (
            self.resident.clone(),
            self.swap.as_ref().map(|s| (s.to.clone(), s.phase)),
        )
    }
}

/// The part of the multiplexer a [`Lease`] needs.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    metrics: Metrics,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `f` to the state, bumps the generation and wakes every waiter.
    fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let (out, generation) = {
            let mut st = self.lock();
            let before = st.residency_key();
            let out = f(&mut st);
            if st.residency_key() != before {
                st.epoch += 1;
            }
            st.generation += 1;
            (out, st.generation)
        };
        self.changed.send_replace(generation);
        out
    }
}

/// A request's hold on the resident model: while any lease on it lives, a swap waits (up to its
/// drain timeout) before stopping the engine. Keep it alive until the response body is done.
#[derive(Debug)]
pub struct Lease {
    shared: Arc<Shared>,
    model: String,
}

impl Lease {
    /// The leased model.
    pub fn model(&self) -> &str {
        &self.model
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.shared.update(|st| {
            if let Some(n) = st.in_flight.get_mut(&self.model) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    st.in_flight.remove(&self.model);
                }
            }
        });
        self.shared.metrics.in_flight.dec();
    }
}

struct Slot<R> {
    current: Option<(Arc<EngineSpec>, R)>,
}

struct Inner<B: Backend> {
    backend: B,
    engines: Vec<Arc<EngineSpec>>,
    settings: Settings,
    shared: Arc<Shared>,
    slot: Arc<tokio::sync::Mutex<Slot<B::Running>>>,
    swap_task: Mutex<Option<AbortHandle>>,
}

/// The multiplexer: a registry of engines, at most one resident. Cheap to clone.
pub struct Multiplexer<B: Backend> {
    inner: Arc<Inner<B>>,
}

impl<B: Backend> Clone for Multiplexer<B> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl<B: Backend> Multiplexer<B> {
    /// A multiplexer over `engines` (nothing resident yet).
    pub fn new(backend: B, engines: Vec<EngineSpec>, settings: Settings) -> Self {
        let metrics = Metrics::new();
        for e in &engines {
            metrics
                .resident
                .get_or_create(&vec![("model", e.name.clone())])
                .set(0);
        }
        Self {
            inner: Arc::new(Inner {
                backend,
                engines: engines.into_iter().map(Arc::new).collect(),
                settings,
                shared: Arc::new(Shared {
                    state: Mutex::new(State::default()),
                    changed: watch::channel(0).0,
                    metrics,
                }),
                slot: Arc::new(tokio::sync::Mutex::new(Slot { current: None })),
                swap_task: Mutex::new(None),
            }),
        }
    }

    /// The registered engines, in configuration order.
    pub fn engines(&self) -> impl Iterator<Item = &EngineSpec> {
        self.inner.engines.iter().map(AsRef::as_ref)
    }

    /// The engine named `model`.
    pub fn engine(&self, model: &str) -> Option<&EngineSpec> {
        self.engines().find(|e| e.name == model)
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.shared.metrics
    }

    /// A receiver that sees every state change (its value is the generation).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.shared.changed.subscribe()
    }

    /// The residency once its epoch differs from `epoch`, or after `timeout`, or once the
    /// multiplexer is closing (a long poll).
    pub async fn residency_after(&self, epoch: u64, timeout: Duration) -> Residency {
        let deadline = Instant::now() + timeout;
        let mut changes = self.subscribe();
        loop {
            changes.borrow_and_update();
            {
                let st = self.inner.shared.lock();
                // Closing: a long poll must not hold the shutdown's drain.
                if st.epoch != epoch || st.closing {
                    break;
                }
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => break,
            }
        }
        self.residency()
    }

    /// The residency report.
    pub fn residency(&self) -> Residency {
        let st = self.inner.shared.lock();
        Residency {
            resident: st.resident.clone(),
            resident_since_unix_ms: st.resident_since_unix_ms,
            resident_pid: st.resident_pid,
            swap: st.swap.clone().map(|mut s| {
                s.elapsed_ms = ms(s.started.elapsed());
                s
            }),
            last_swap: st.last_swap.clone(),
            in_flight: st.in_flight.clone(),
            swaps: st.swaps,
            generation: st.generation,
            epoch: st.epoch,
            engines: self
                .inner
                .engines
                .iter()
                .map(|e| EngineInfo {
                    name: e.name.clone(),
                    port: e.port,
                    gpu_memory_gb: e.gpu_memory_gb,
                })
                .collect(),
        }
    }

    pub(crate) fn unknown(&self, model: &str) -> MuxError {
        MuxError::UnknownModel {
            model: model.to_owned(),
            known: self
                .inner
                .engines
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Makes `model` resident (swapping if needed, waiting at most `load_wait`) and returns a lease
    /// on it.
    pub async fn acquire(&self, model: &str) -> Result<Lease, MuxError> {
        let engine = self
            .inner
            .engines
            .iter()
            .find(|e| e.name == model)
            .cloned()
            .ok_or_else(|| self.unknown(model))?;
        let started = Instant::now();
        let deadline = started + self.inner.settings.load_wait;
        let shared = &self.inner.shared;
        let asked_at = shared.lock().swaps;
        let timeout = || {
            shared.metrics.load_wait_timeouts.inc();
            MuxError::LoadTimeout {
                model: model.to_owned(),
                waited_s: started.elapsed().as_secs_f64(),
            }
        };
        loop {
            if let Some(lease) = self.try_lease(model, asked_at)? {
                return Ok(lease);
            }
            let slot = tokio::time::timeout_at(deadline, Arc::clone(&self.inner.slot).lock_owned())
                .await
                .map_err(|_| timeout())?;
            // Someone else may have loaded it (or failed to) while we queued.
            if let Some(lease) = self.try_lease(model, asked_at)? {
                return Ok(lease);
            }
            let this = self.clone();
            let target = Arc::clone(&engine);
            let task = tokio::spawn(async move { this.swap(slot, target).await });
            *self
                .inner
                .swap_task
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(task.abort_handle());
            match tokio::time::timeout_at(deadline, task).await {
                Err(_) => return Err(timeout()),
                Ok(Err(_cancelled)) => return Err(MuxError::ShuttingDown),
                Ok(Ok(Err(e))) => return Err(e),
                Ok(Ok(Ok(()))) => {}
            }
        }
    }

    /// A lease if `model` is resident and no swap is under way; the start error if `model` failed
    /// to start since `asked_at`.
    fn try_lease(&self, model: &str, asked_at: u64) -> Result<Option<Lease>, MuxError> {
        let shared = &self.inner.shared;
        {
            let mut st = shared.lock();
            if st.closing {
                return Err(MuxError::ShuttingDown);
            }
            if st.resident.as_deref() != Some(model) || st.swap.is_some() {
                return match st.failures.get(model) {
                    Some((at, message)) if *at > asked_at => Err(MuxError::StartFailed {
                        model: model.to_owned(),
                        message: message.clone(),
                    }),
                    _ => Ok(None),
                };
            }
            // In the same critical section as the check: a swap that starts draining after this
            // sees the lease.
            *st.in_flight.entry(model.to_owned()).or_default() += 1;
            st.generation += 1;
            shared.changed.send_replace(st.generation);
        }
        shared.metrics.in_flight.inc();
        Ok(Some(Lease {
            shared: Arc::clone(shared),
            model: model.to_owned(),
        }))
    }

    /// A lease on `model` if it is resident now and no swap is under way; never swaps or waits
    /// (for requests not worth a model load, such as token counting).
    pub fn lease_if_resident(&self, model: &str) -> Option<Lease> {
        self.try_lease(model, u64::MAX).ok().flatten()
    }

    /// Makes `model` resident without keeping a lease (`POST /swap`, preload).
    pub async fn swap_to(&self, model: &str) -> Result<(), MuxError> {
        self.acquire(model).await.map(drop)
    }

    fn set_phase(&self, phase: Phase) {
        self.inner.shared.update(|st| {
            if let Some(s) = st.swap.as_mut() {
                s.phase = phase;
            }
        });
    }

    async fn swap(
        &self,
        mut slot: OwnedMutexGuard<Slot<B::Running>>,
        target: Arc<EngineSpec>,
    ) -> Result<(), MuxError> {
        let shared = &self.inner.shared;
        let started = Instant::now();
        let from = slot.current.as_ref().map(|(e, _)| Arc::clone(e));
        let from_name = from.as_ref().map(|e| e.name.clone());
        shared.update(|st| {
            st.swap = Some(SwapInProgress {
                from: from_name.clone(),
                to: target.name.clone(),
                phase: Phase::Draining,
                started_unix_ms: unix_ms(SystemTime::now()),
                elapsed_ms: 0,
                started,
            });
        });
        shared.metrics.swapping.set(1);
        tracing::info!(from = ?from_name, to = %target.name, "swap started");

        if let Some(old) = &from {
            self.drain(&old.name).await;
        }
        self.set_phase(Phase::Stopping);
        if let Some((engine, running)) = slot.current.take() {
            self.inner.backend.stop(&engine, running).await;
        }
        shared.update(|st| {
            st.resident = None;
            st.resident_since_unix_ms = None;
            st.resident_pid = None;
        });
        if let Some(old) = &from {
            shared
                .metrics
                .resident
                .get_or_create(&vec![("model", old.name.clone())])
                .set(0);
        }

        self.set_phase(Phase::Starting);
        let result = match self.start_healthy(&target).await {
            Ok(running) => {
                self.make_resident(&mut slot, &target, running);
                Ok(())
            }
            Err(message) => {
                tracing::warn!(engine = %target.name, error = %message, "engine failed to start");
                let mut restored = false;
                if let Some(old) = &from {
                    self.set_phase(Phase::RollingBack);
                    match self.start_healthy(old).await {
                        Ok(running) => {
                            self.make_resident(&mut slot, old, running);
                            shared.metrics.rollbacks.inc();
                            restored = true;
                        }
                        Err(e) => {
                            tracing::error!(engine = %old.name, error = %e, "rollback failed: nothing is resident");
                        }
                    }
                }
                Err((message, restored))
            }
        };

        let duration = started.elapsed();
        let (outcome, error) = match &result {
            Ok(()) => (Outcome::Ok, None),
            Err((m, true)) => (Outcome::RolledBack, Some(m.clone())),
            Err((m, false)) => (Outcome::Failed, Some(m.clone())),
        };
        let label = match outcome {
            Outcome::Ok => "ok",
            Outcome::RolledBack | Outcome::Failed => "failed",
        };
        shared
            .metrics
            .swaps
            .get_or_create(&vec![
                ("to", target.name.clone()),
                ("outcome", label.into()),
            ])
            .inc();
        shared
            .metrics
            .swap_seconds
            .get_or_create(&vec![("outcome", label.into())])
            .observe(duration.as_secs_f64());
        shared.metrics.last_swap_seconds.set(duration.as_secs_f64());
        shared.metrics.swapping.set(0);
        shared.update(|st| {
            st.swaps += 1;
            if let Some(message) = &error {
                st.failures
                    .insert(target.name.clone(), (st.swaps, message.clone()));
            }
            st.swap = None;
            st.last_swap = Some(SwapReport {
                from: from_name.clone(),
                to: target.name.clone(),
                outcome,
                duration_ms: ms(duration),
                error: error.clone(),
                finished_unix_ms: unix_ms(SystemTime::now()),
            });
        });
        tracing::info!(from = ?from_name, to = %target.name, ?outcome, duration_ms = ms(duration), "swap finished");
        result.map_err(|(message, _)| MuxError::StartFailed {
            model: target.name.clone(),
            message,
        })
    }

    fn make_resident(
        &self,
        slot: &mut Slot<B::Running>,
        engine: &Arc<EngineSpec>,
        running: B::Running,
    ) {
        let pid = self.inner.backend.pid(&running);
        slot.current = Some((Arc::clone(engine), running));
        self.inner.shared.update(|st| {
            st.resident = Some(engine.name.clone());
            st.resident_since_unix_ms = Some(unix_ms(SystemTime::now()));
            st.resident_pid = pid;
        });
        self.inner
            .shared
            .metrics
            .resident
            .get_or_create(&vec![("model", engine.name.clone())])
            .set(1);
    }

    /// Waits until no request of `model` is in flight, at most `drain_timeout`.
    async fn drain(&self, model: &str) {
        let deadline = Instant::now() + self.inner.settings.drain_timeout;
        let mut changes = self.subscribe();
        loop {
            changes.borrow_and_update();
            let busy = self
                .inner
                .shared
                .lock()
                .in_flight
                .get(model)
                .copied()
                .unwrap_or(0);
            if busy == 0 {
                return;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    tracing::warn!(%model, busy, "drain timeout: stopping with requests in flight");
                    self.inner.shared.metrics.drain_timeouts.inc();
                    return;
                }
            }
        }
    }

    /// Starts `engine` and probes it until healthy, its process exits, or its start timeout.
    async fn start_healthy(&self, engine: &EngineSpec) -> Result<B::Running, String> {
        let backend = &self.inner.backend;
        if backend.occupied(engine).await {
            return Err(format!(
                "{} already answers before the engine was started: another process holds port {}",
                engine.health_url, engine.port
            ));
        }
        let deadline = Instant::now() + engine.start_timeout;
        let mut running = backend.start(engine).await?;
        loop {
            match tokio::time::timeout_at(deadline, backend.probe(engine, &mut running)).await {
                Ok(Probe::Healthy) => return Ok(running),
                Ok(Probe::Exited(how)) => {
                    backend.stop(engine, running).await;
                    return Err(format!("the engine {how} during start-up"));
                }
                Ok(Probe::NotYet) | Err(_) => {}
            }
            let now = Instant::now();
            if now >= deadline {
                backend.stop(engine, running).await;
                return Err(format!(
                    "not healthy within its start timeout of {}s",
                    engine.start_timeout.as_secs_f64()
                ));
            }
            tokio::time::sleep_until(deadline.min(now + self.inner.settings.health_interval)).await;
        }
    }

    /// Refuses new leases and cancels a swap in progress (its waiters get
    /// [`MuxError::ShuttingDown`]); requests already served by the resident engine go on.
    pub fn close(&self) {
        self.inner.shared.update(|st| st.closing = true);
        let task = self
            .inner
            .swap_task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            // A cancelled start drops its engine, which kills the engine's process group.
            task.abort();
        }
    }

    /// [`Self::close`], then stops the resident engine.
    pub async fn shutdown(&self) {
        self.close();
        let mut slot = Arc::clone(&self.inner.slot).lock_owned().await;
        if let Some((engine, running)) = slot.current.take() {
            tracing::info!(engine = %engine.name, "stopping the resident engine");
            self.inner.backend.stop(&engine, running).await;
        }
        self.inner.shared.update(|st| {
            st.resident = None;
            st.resident_since_unix_ms = None;
            st.resident_pid = None;
            st.swap = None;
        });
    }
}

#[cfg(test)]
mod tests;
