//! anvil's quality profile store and decision log.
//!
//! [`Store`] keeps the quality profile — per (tier, work class): decision, quality score, sample
//! count, last measured, serve fingerprint, stale — and the decision records, in SQLite (a file in
//! the config's data directory, by default) or Postgres (a `postgres://` URL). The schema migrations
//! are embedded and run on [`Store::open`].
//!
//! The router never waits on the database: a [`Refresher`] reloads the profile into a
//! [`SharedSnapshot`] in the background, and the router reads the snapshot (an `Arc` clone), while
//! [`DecisionLog`] hands records to a writer task through a bounded channel (`try_send`, never
//! blocking; overflow and write failures are counted).
//!
//! `profile.json` in anvil-serving 0.4.0's bootstrap format imports and exports
//! ([`Store::import_profile_json`], [`Store::export_profile_json`]).

use std::path::{Path, PathBuf};

use anvil_config::WorkClass;
use anvil_policy::profile::{Decision, ProfileEntry, ProfileSnapshot};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

mod log;
mod profile_json;
mod refresh;
pub mod time;

pub use log::{
    DecisionLog, DecisionLogConfig, DecisionLogCounters, DecisionLogWriter, DecisionRecord,
    JsonText, WorkClassStats,
};
pub use refresh::{Refresher, SharedSnapshot, DEFAULT_REFRESH_INTERVAL};

/// The database file name inside the data directory.
pub const DB_FILE_NAME: &str = "anvil.db";

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A `profile.json` document is malformed; the message names the offending key.
    #[error("profile.json: {0}")]
    ProfileJson(String),
    /// An argument is out of range (e.g. a score outside 0..=1).
    #[error("{0}")]
    Invalid(String),
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A Postgres server.
    Postgres,
}

/// The default database location for a config's `router.data_dir`: `~` (alone or as `~/…`) is
/// expanded with `home` (normally `$HOME`), then [`DB_FILE_NAME`] is appended.
///
/// ```
/// use std::path::PathBuf;
/// assert_eq!(
///     anvil_profile_store::default_db_path("~/.local/share/anvil", Some("/home/me")),
///     PathBuf::from("/home/me/.local/share/anvil/anvil.db"),
/// );
/// assert_eq!(
///     anvil_profile_store::default_db_path("/var/lib/anvil", None),
///     PathBuf::from("/var/lib/anvil/anvil.db"),
/// );
/// ```
pub fn default_db_path(data_dir: &str, home: Option<&str>) -> PathBuf {
    let dir = match (data_dir.strip_prefix('~'), home) {
        (Some(""), Some(home)) => PathBuf::from(home),
        (Some(rest), Some(home)) if rest.starts_with('/') => {
            Path::new(home).join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(data_dir),
    };
    dir.join(DB_FILE_NAME)
}

/// The connection URL and backend for [`Store::open`]'s argument.
fn location_url(url_or_path: &str) -> (String, Backend) {
    if url_or_path.starts_with("postgres://") || url_or_path.starts_with("postgresql://") {
        (url_or_path.to_owned(), Backend::Postgres)
    } else if url_or_path.starts_with("sqlite:") {
        (url_or_path.to_owned(), Backend::Sqlite)
    } else {
        (format!("sqlite://{url_or_path}?mode=rwc"), Backend::Sqlite)
    }
}

const SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS anvil_schema (\
    version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)";

/// The embedded migrations: version, then statements; `{serial}` is the backend's auto-increment
/// primary key.
const MIGRATIONS: &[(i64, &[&str])] = &[
    (
        1,
        &[
            "CREATE TABLE IF NOT EXISTS profile (\
            tier TEXT NOT NULL, \
            work_class TEXT NOT NULL, \
            decision TEXT NOT NULL, \
            score DOUBLE PRECISION NOT NULL, \
            samples BIGINT NOT NULL, \
            last_measured BIGINT, \
            fingerprint TEXT, \
            stale BIGINT NOT NULL DEFAULT 0, \
            extra TEXT, \
            updated_ms BIGINT NOT NULL, \
            PRIMARY KEY (tier, work_class))",
            "CREATE TABLE IF NOT EXISTS profile_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS decisions (\
            id {serial}, \
            request_id TEXT NOT NULL, \
            unix_ms BIGINT NOT NULL, \
            intent_source TEXT NOT NULL, \
            work_class TEXT, \
            confidence DOUBLE PRECISION NOT NULL, \
            signals TEXT NOT NULL, \
            plan TEXT NOT NULL, \
            served_tier TEXT, \
            attempts BIGINT NOT NULL, \
            status BIGINT NOT NULL, \
            latency_ms BIGINT NOT NULL, \
            tokens_in BIGINT NOT NULL, \
            tokens_out BIGINT NOT NULL, \
            cost_usd DOUBLE PRECISION NOT NULL, \
            prompt TEXT)",
            "CREATE INDEX IF NOT EXISTS decisions_unix_ms ON decisions (unix_ms)",
        ],
    ),
    (
        2,
        &[
            "ALTER TABLE decisions ADD COLUMN attempt_log TEXT",
            "ALTER TABLE decisions ADD COLUMN failed_tokens_in BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE decisions ADD COLUMN failed_tokens_out BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE decisions ADD COLUMN failed_cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0",
        ],
    ),
];

const PROFILE_COLUMNS: &str =
    "tier, work_class, decision, score, samples, last_measured, fingerprint, stale";

/// Pool settings: `max` connections; on SQLite every connection commits with
/// `synchronous=NORMAL`.
fn pool_options(backend: Backend, max: u32) -> AnyPoolOptions {
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(std::time::Duration::from_secs(10));
    if backend != Backend::Sqlite {
        return pool;
    }
    // The decision log commits a transaction per batch of requests. With SQLite's defaults
    // (rollback journal, synchronous=FULL) each commit creates, syncs and deletes a journal
    // file: two fsyncs per request at low load, a third of the router's CPU in the benchmark.
    // In WAL mode with synchronous=NORMAL a commit is one append to the log, and the database
    // cannot be corrupted by a crash or a power cut; a power cut may lose the last commits
    // (decision records and profile edits of the last moment), which a router's log can
    // afford. `synchronous` is per connection, so it is set on each.
    pool.after_connect(|conn, _meta| {
        Box::pin(async move {
            sqlx::query("PRAGMA synchronous = NORMAL")
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    })
}

/// The quality profile store and decision-record table. Cheap to clone (a connection pool).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The connection URL, for [`Store::dedicated`]. It may hold a password: never printed.
    url: std::sync::Arc<str>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("pool", &self.pool)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// One stored profile row with its key.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRow {
    /// The tier id.
    pub tier: String,
    /// The work class.
    pub work_class: WorkClass,
    /// The row.
    pub entry: ProfileEntry,
}

impl Store {
    /// Opens (creating it if needed) the store at `url_or_path` and runs the embedded migrations:
    /// a `postgres://` or `postgresql://` URL is a Postgres server; a `sqlite:` URL is used as is;
    /// anything else is a SQLite file path, whose parent directories are created.
    pub async fn open(url_or_path: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, backend) = location_url(url_or_path);
        if backend == Backend::Sqlite && !url_or_path.starts_with("sqlite:") {
            let path = Path::new(url_or_path);
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|source| StoreError::DataDir {
                    path: parent.to_owned(),
                    source,
                })?;
            }
        }
        // parse first: a malformed URL is an immediate error, not a connect timeout
        let options: sqlx::any::AnyConnectOptions = url.parse()?;
        let pool = pool_options(backend, 4).connect_with(options).await?;
        let store = Store {
            pool,
            backend,
            url: url.into(),
        };
        if backend == Backend::Sqlite {
            store.use_wal().await;
        }
        store.migrate().await?;
        Ok(store)
    }

    /// The same database through one connection of its own, opened (and, for SQLite, its
    /// connection thread started) by the calling thread and kept open: for the decision log's
    /// writer, which must neither wait behind the shared pool nor hold it. An in-memory SQLite
    /// database cannot be opened twice; its store shares this pool.
    pub async fn dedicated(&self) -> Result<Store, StoreError> {
        if self.backend == Backend::Sqlite
            && (self.url.contains(":memory:") || self.url.contains("mode=memory"))
        {
            return Ok(self.clone());
        }
        let options: sqlx::any::AnyConnectOptions = self.url.parse()?;
        let pool = pool_options(self.backend, 1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        Ok(Store {
            pool,
            backend: self.backend,
            url: std::sync::Arc::clone(&self.url),
        })
    }

    /// Switches a SQLite file to write-ahead logging (a setting stored in the file, so the
    /// substrate's edits and the router share it). A database that cannot use WAL (an
    /// in-memory one, a file system without shared memory) keeps its journal: slower commits,
    /// same data, so this warns rather than fails.
    async fn use_wal(&self) {
        match sqlx::query("PRAGMA journal_mode = WAL")
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get::<String, _>(0))
        {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") || mode.eq_ignore_ascii_case("memory") => {
            }
            Ok(mode) => {
                tracing::warn!(journal_mode = %mode, "the SQLite store could not switch to WAL; commits will be slower")
            }
            Err(e) => {
                tracing::warn!(error = %e, "the SQLite store could not switch to WAL; commits will be slower")
            }
        }
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::query(SCHEMA_TABLE).execute(&self.pool).await?;
        let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM anvil_schema")
            .fetch_one(&self.pool)
            .await?
            .try_get("v")?;
        let serial = match self.backend {
            Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Backend::Postgres => "BIGSERIAL PRIMARY KEY",
        };
        for (version, statements) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            let mut tx = self.pool.begin().await?;
            for statement in *statements {
                sqlx::query(&statement.replace("{serial}", serial))
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO anvil_schema (version, applied_ms) VALUES ($1, $2) \
                 ON CONFLICT (version) DO NOTHING",
            )
            .bind(*version)
            .bind(time::now_ms())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// The schema version after migrations.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM anvil_schema")
                .fetch_one(&self.pool)
                .await?
                .try_get("v")?,
        )
    }

    /// Every stored profile row, sorted by tier then work class. Rows whose work class or
    /// decision this build does not know are skipped with a warning.
    pub async fn rows(&self) -> Result<Vec<StoredRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {PROFILE_COLUMNS} FROM profile ORDER BY tier, work_class"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            match decode_row(row)? {
                Some(stored) => out.push(stored),
                None => {
                    tracing::warn!("profile: skipping a row with an unknown work class or decision")
                }
            }
        }
        out.sort_by(|a, b| {
            (a.tier.as_str(), a.work_class.as_str()).cmp(&(b.tier.as_str(), b.work_class.as_str()))
        });
        Ok(out)
    }

    /// The profile as the policy reads it: every stored row (never-measured rows fall back to the
    /// seed table inside [`ProfileSnapshot::entry`]).
    pub async fn snapshot(&self) -> Result<ProfileSnapshot, StoreError> {
        let mut snapshot = ProfileSnapshot::new();
        for row in self.rows().await? {
            snapshot.insert(row.tier, row.work_class, row.entry);
        }
        Ok(snapshot)
    }

    /// The stored row for (tier, work class), if any.
    pub async fn get(
        &self,
        tier: &str,
        work_class: WorkClass,
    ) -> Result<Option<ProfileEntry>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {PROFILE_COLUMNS} FROM profile WHERE tier = $1 AND work_class = $2"
        ))
        .bind(tier)
        .bind(work_class.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => decode_row(&row)?.map(|r| r.entry),
            None => None,
        })
    }

    /// An operator's verdict: sets the decision (and the score, when given) of a row and clears
    /// its staleness. A new row without a score gets the seed rule's score for that decision
    /// (tier anchor for `allow`, anchor − 0.10 for `allow-with-verify`, 0.20 for `deny`) and
    /// zero samples. Returns the row as stored.
    pub async fn set(
        &self,
        tier: &str,
        work_class: WorkClass,
        decision: Decision,
        score: Option<f64>,
    ) -> Result<ProfileEntry, StoreError> {
        if let Some(s) = score {
            check_score(s)?;
        }
        let existing = self.get(tier, work_class).await?;
        let entry = match existing {
            Some(mut e) => {
                e.decision = decision;
                if let Some(s) = score {
                    e.score = s;
                }
                e.stale = false;
                e
            }
            None => ProfileEntry {
                decision,
                score: score.unwrap_or_else(|| default_score(tier, decision)),
                samples: 0,
                last_measured: None,
                fingerprint: None,
                stale: false,
            },
        };
        self.upsert(&self.pool, tier, work_class, &entry, None)
            .await?;
        Ok(entry)
    }

    /// Folds one graded sample into a row (reference §6.4 `record_grade`). A new row takes the
    /// given decision or the fail-closed default (`deny` for planning and multi-file-refactor,
    /// else `allow-with-verify`), the score rounded to 4 places and `samples = max(1, weight)`.
    /// An existing row takes the weighted mean `round((old·n + score·w) / max(1, n + w), 4)`
    /// (weight clamped at 0); the decision and `last_measured` change only when given; staleness
    /// is cleared unless `submitted_fingerprint` is given and differs from the row's fingerprint.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_grade(
        &self,
        tier: &str,
        work_class: WorkClass,
        score: f64,
        decision: Option<Decision>,
        last_measured: Option<i64>,
        weight: i64,
        submitted_fingerprint: Option<&str>,
    ) -> Result<ProfileEntry, StoreError> {
        check_score(score)?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {PROFILE_COLUMNS} FROM profile WHERE tier = $1 AND work_class = $2"
        ))
        .bind(tier)
        .bind(work_class.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let existing = match row {
            Some(row) => decode_row(&row)?.map(|r| r.entry),
            None => None,
        };
        let entry = match existing {
            None => ProfileEntry {
                decision: decision.unwrap_or(match work_class {
                    WorkClass::Planning | WorkClass::MultiFileRefactor => Decision::Deny,
                    _ => Decision::AllowWithVerify,
                }),
                score: round4(score),
                samples: u64::try_from(weight.max(1)).unwrap_or(1),
                last_measured,
                fingerprint: None,
                stale: false,
            },
            Some(mut e) => {
                let n = i64::try_from(e.samples).unwrap_or(i64::MAX);
                let w = weight.max(0);
                let new_n = n.saturating_add(w).max(1);
                e.score = round4((e.score * n as f64 + score * w as f64) / new_n as f64);
                e.samples = u64::try_from(new_n).unwrap_or(1);
                if let Some(d) = decision {
                    e.decision = d;
                }
                if last_measured.is_some() {
                    e.last_measured = last_measured;
                }
                let superseded = matches!(
                    (submitted_fingerprint, e.fingerprint.as_deref()),
                    (Some(sub), current) if Some(sub) != current
                );
                if !superseded {
                    e.stale = false;
                }
                e
            }
        };
        self.upsert(&mut *tx, tier, work_class, &entry, None)
            .await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// Records the tier's current serve fingerprint (reference §6.4): rows without one adopt it,
    /// equal rows are untouched, rows measured against another fingerprint take it and turn
    /// stale. Returns the work classes newly marked stale, in [`WorkClass::ALL`] order.
    pub async fn apply_fingerprint(
        &self,
        tier: &str,
        fingerprint: &str,
    ) -> Result<Vec<WorkClass>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(&format!(
            "SELECT {PROFILE_COLUMNS} FROM profile WHERE tier = $1"
        ))
        .bind(tier)
        .fetch_all(&mut *tx)
        .await?;
        let mut newly_stale = Vec::new();
        for row in &rows {
            let Some(mut stored) = decode_row(row)? else {
                continue;
            };
            match stored.entry.fingerprint.as_deref() {
                Some(current) if current == fingerprint => continue,
                Some(_) => {
                    if !stored.entry.stale {
                        newly_stale.push(stored.work_class);
                    }
                    stored.entry.stale = true;
                }
                None => {}
            }
            stored.entry.fingerprint = Some(fingerprint.to_owned());
            sqlx::query(
                "UPDATE profile SET fingerprint = $1, stale = $2, updated_ms = $3 \
                 WHERE tier = $4 AND work_class = $5",
            )
            .bind(fingerprint)
            .bind(i64::from(stored.entry.stale))
            .bind(time::now_ms())
            .bind(tier)
            .bind(stored.work_class.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        newly_stale.sort_by_key(|wc| WorkClass::ALL.iter().position(|w| w == wc));
        Ok(newly_stale)
    }

    /// Deletes a stored row (the seed applies again). Returns whether a row existed.
    pub async fn remove(&self, tier: &str, work_class: WorkClass) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM profile WHERE tier = $1 AND work_class = $2")
            .bind(tier)
            .bind(work_class.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn upsert<'e, E>(
        &self,
        executor: E,
        tier: &str,
        work_class: WorkClass,
        entry: &ProfileEntry,
        extra: Option<Option<String>>,
    ) -> Result<(), StoreError>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        // `extra` (the 0.4.0 keys anvil does not use) is replaced only on import.
        let keep_extra = extra.is_none();
        let sql = format!(
            "INSERT INTO profile ({PROFILE_COLUMNS}, extra, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (tier, work_class) DO UPDATE SET decision = excluded.decision, \
             score = excluded.score, samples = excluded.samples, \
             last_measured = excluded.last_measured, fingerprint = excluded.fingerprint, \
             stale = excluded.stale, updated_ms = excluded.updated_ms{}",
            if keep_extra {
                ""
            } else {
                ", extra = excluded.extra"
            }
        );
        sqlx::query(&sql)
            .bind(tier)
            .bind(work_class.as_str())
            .bind(entry.decision.as_str())
            .bind(entry.score)
            .bind(i64::try_from(entry.samples).unwrap_or(i64::MAX))
            .bind(entry.last_measured)
            .bind(entry.fingerprint.as_deref())
            .bind(i64::from(entry.stale))
            .bind(extra.flatten())
            .bind(time::now_ms())
            .execute(executor)
            .await?;
        Ok(())
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

fn check_score(score: f64) -> Result<(), StoreError> {
    if (0.0..=1.0).contains(&score) {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "score {score} is outside 0..=1"
        )))
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The seed rule's score for a decision on a tier (reference §6.3), for rows an operator creates
/// without a score.
fn default_score(tier: &str, decision: Decision) -> f64 {
    let anchor = match tier {
        "cloud" => 0.95,
        "heavy-local" => 0.80,
        "fast-local" => 0.65,
        _ => 0.5,
    };
    match decision {
        Decision::Allow => anchor,
        Decision::AllowWithVerify => ((anchor - 0.10) * 100.0_f64).round() / 100.0,
        Decision::Deny => 0.20,
    }
}

fn decode_row(row: &AnyRow) -> Result<Option<StoredRow>, StoreError> {
    let tier: String = row.try_get("tier")?;
    let work_class: String = row.try_get("work_class")?;
    let decision: String = row.try_get("decision")?;
    let (Some(work_class), Some(decision)) = (
        WorkClass::from_name(&work_class),
        Decision::from_name(&decision),
    ) else {
        return Ok(None);
    };
    let samples: i64 = row.try_get("samples")?;
    let stale: i64 = row.try_get("stale")?;
    Ok(Some(StoredRow {
        tier,
        work_class,
        entry: ProfileEntry {
            decision,
            score: row.try_get("score")?,
            samples: u64::try_from(samples).unwrap_or(0),
            last_measured: row.try_get("last_measured")?,
            fingerprint: row.try_get("fingerprint")?,
            stale: stale != 0,
        },
    }))
}

#[cfg(test)]
mod tests;
