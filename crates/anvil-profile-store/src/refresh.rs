//! The in-memory profile snapshot the router reads, and the task that keeps it fresh.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anvil_policy::profile::ProfileSnapshot;

use crate::Store;

/// Default interval between snapshot reloads.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(2);

/// A shared, swappable profile snapshot. Readers get an `Arc` clone and never wait on the
/// database; the lock is held only to clone or replace the `Arc`, never across an await.
///
/// ```
/// use anvil_policy::profile::ProfileSnapshot;
/// use anvil_profile_store::SharedSnapshot;
///
/// let shared = SharedSnapshot::new(ProfileSnapshot::new());
/// let before = shared.load();
/// shared.replace(ProfileSnapshot::new());
/// assert!(before.rows().next().is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct SharedSnapshot(Arc<RwLock<Arc<ProfileSnapshot>>>);

impl SharedSnapshot {
    /// A handle holding `snapshot`.
    pub fn new(snapshot: ProfileSnapshot) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(snapshot))))
    }

    /// The current snapshot.
    pub fn load(&self) -> Arc<ProfileSnapshot> {
        match self.0.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Installs a new snapshot; readers holding the old one keep it until they drop it.
    pub fn replace(&self, snapshot: ProfileSnapshot) {
        let snapshot = Arc::new(snapshot);
        match self.0.write() {
            Ok(mut guard) => *guard = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }
}

/// A background task reloading the store's profile into a [`SharedSnapshot`] every interval.
/// A failed reload keeps the previous snapshot and is logged once until a reload succeeds again.
/// Dropping the `Refresher` stops the task.
#[derive(Debug)]
pub struct Refresher {
    task: tokio::task::JoinHandle<()>,
}

impl Refresher {
    /// Spawns the task on the current tokio runtime. The first reload happens after one
    /// interval (load the initial snapshot with [`Store::snapshot`] before serving).
    pub fn spawn(store: Store, shared: SharedSnapshot, every: Duration) -> Refresher {
        let every = every.max(Duration::from_millis(10));
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                ticker.tick().await;
                match store.snapshot().await {
                    Ok(snapshot) => {
                        if failing {
                            tracing::info!("profile refresh: the store answers again");
                        }
                        failing = false;
                        shared.replace(snapshot);
                    }
                    Err(e) => {
                        if !failing {
                            tracing::warn!(error = %e, "profile refresh failed; keeping the previous snapshot");
                        }
                        failing = true;
                    }
                }
            }
        });
        Refresher { task }
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.task.abort();
    }
}
