//! The decision log: one record per request, written off the hot path.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;
use tokio::sync::mpsc;

use crate::{Backend, Store, StoreError};

/// JSON kept as its text. The router serializes a record's signals and plan once, straight from
/// its own types, and the writer stores that text as is: no `Value` tree is built, cloned or
/// printed per request. A record made on the request path can defer even that to the writer's
/// thread ([`JsonText::deferred`]). Readers parse it on demand with [`JsonText::value`]; equality
/// compares the parsed JSON, so key order and spacing do not matter.
#[derive(Clone)]
pub struct JsonText {
    text: OnceLock<Box<RawValue>>,
    /// What `text` is serialized from on first read, for a [`JsonText::deferred`].
    source: Option<Arc<dyn Source>>,
}

/// A value a [`JsonText`] serializes on first read.
trait Source: Send + Sync {
    fn to_raw(&self) -> Box<RawValue>;
}

impl<T: Serialize + Send + Sync> Source for T {
    fn to_raw(&self) -> Box<RawValue> {
        serde_json::value::to_raw_value(self).unwrap_or_else(|_| RawValue::NULL.to_owned())
    }
}

impl JsonText {
    fn ready(raw: Box<RawValue>) -> JsonText {
        JsonText {
            text: OnceLock::from(raw),
            source: None,
        }
    }

    /// Serializes `value` (a type of the caller's, or a [`Value`]).
    pub fn to_text<T: Serialize + ?Sized>(value: &T) -> JsonText {
        JsonText::ready(
            serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned()),
        )
    }

    /// Keeps `value` and serializes it on first read: on the decision writer's thread, for a
    /// record made on the request path (a classifier's signals were 5,700 instructions of a 2 KB
    /// request's path).
    pub fn deferred<T: Serialize + Send + Sync + 'static>(value: T) -> JsonText {
        JsonText {
            text: OnceLock::new(),
            source: Some(Arc::new(value)),
        }
    }

    /// Keeps `text` when it is JSON; other text is stored as a JSON string.
    pub fn from_text(text: String) -> JsonText {
        if serde_json::from_str::<serde::de::IgnoredAny>(&text).is_err() {
            return JsonText::to_text(&text);
        }
        JsonText::ready(RawValue::from_string(text).unwrap_or_else(|_| RawValue::NULL.to_owned()))
    }

    fn raw(&self) -> &RawValue {
        self.text.get_or_init(|| {
            self.source
                .as_ref()
                .map_or_else(|| RawValue::NULL.to_owned(), |source| source.to_raw())
        })
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.raw().get()
    }

    /// The parsed JSON.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.get()).unwrap_or(Value::Null)
    }
}

impl Default for JsonText {
    /// `null`.
    fn default() -> Self {
        JsonText::ready(RawValue::NULL.to_owned())
    }
}

impl std::fmt::Debug for JsonText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("JsonText").field(&self.get()).finish()
    }
}

impl Serialize for JsonText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(JsonText::ready)
    }
}

impl PartialEq for JsonText {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get() || self.value() == other.value()
    }
}

impl From<Value> for JsonText {
    fn from(value: Value) -> Self {
        JsonText::to_text(&value)
    }
}

/// One routing decision and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// The request id (the `x-anvil-request-id` header).
    pub request_id: String,
    /// When the request arrived, Unix milliseconds.
    pub unix_ms: i64,
    /// Where the intent came from (`preset`, `pin`, `header`, `body`, `tier0`, …).
    pub intent_source: String,
    /// The work class; `None` for a custom preset without one.
    pub work_class: Option<String>,
    /// The classifier's (or the hint's) confidence, 0..=1.
    pub confidence: f64,
    /// The signals the classifier used, as JSON.
    pub signals: JsonText,
    /// The plan: ordered candidates and the reason for every dropped tier, as JSON.
    pub plan: JsonText,
    /// The tier that served; `None` when nothing did.
    pub served_tier: Option<String>,
    /// Upstream attempts made.
    pub attempts: u32,
    /// The HTTP status the client got.
    pub status: u16,
    /// Total latency, milliseconds.
    pub latency_ms: u64,
    /// Prompt tokens.
    pub tokens_in: u64,
    /// Completion tokens.
    pub tokens_out: u64,
    /// Estimated cost, USD.
    pub cost_usd: f64,
    /// Every attempt in order, as JSON: `[{"tier", "outcome", "checks", "tokens_in",
    /// "tokens_out", "cost_usd", "ms"}]` (`checks`: the failed verification checks and reasons).
    #[serde(default)]
    pub attempt_log: JsonText,
    /// Prompt tokens spent on attempts that did not serve (failed verification, broken streams).
    #[serde(default)]
    pub failed_tokens_in: u64,
    /// Completion tokens spent on attempts that did not serve.
    #[serde(default)]
    pub failed_tokens_out: u64,
    /// Estimated USD spent on attempts that did not serve: the cost of escalation.
    #[serde(default)]
    pub failed_cost_usd: f64,
    /// The prompt text, only when the operator opted in (stripped otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
}

/// Per work class aggregates of the decision log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkClassStats {
    /// The work class (`None`: no work class).
    pub work_class: Option<String>,
    /// Number of records.
    pub count: u64,
    /// Served tiers with their counts, most used first (`None`: nothing served).
    pub tiers: Vec<(Option<String>, u64)>,
    /// Mean confidence.
    pub mean_confidence: f64,
}

/// Settings of a [`DecisionLog`].
#[derive(Debug, Clone)]
pub struct DecisionLogConfig {
    /// Channel capacity; records beyond it are dropped and counted. Default 1024.
    ///
    /// The queue only fills when the writer cannot run (see [`DecisionLogConfig::idle`]): at
    /// 1,000 requests a second a 20 ms `linger` leaves 20 records waiting, and a CPU-only model
    /// server that keeps every core busy at one request a second starves the writer for 17
    /// minutes before a record is lost. A queued record takes about 2 KiB (its strings, signals,
    /// plan and attempt log), and the allocator keeps the queue's high-water mark for reuse:
    /// 4,096 (the earlier default) held up to 8 MiB, which a 200k-request saturating soak showed
    /// as RSS moving by −14 % to +15 % from run to run; 1024 holds 2 MiB (−2.3 % to −1.2 %), at
    /// the price of more records dropped in that soak (9–32 % against 0–16 %).
    pub capacity: usize,
    /// Most records written per batch. Default 256.
    pub batch: usize,
    /// Also append each record as one JSON line to this file.
    pub jsonl: Option<PathBuf>,
    /// Keep the prompt text (the operator opted in). Default false: prompts are stripped.
    pub keep_prompt: bool,
    /// After a commit that did not fill a batch, wait this long before the next one, so that
    /// under load one commit carries many records instead of one each. A record reaches the
    /// store at most this much later; a full batch (a backlog) is written at once. Default
    /// 20 ms; zero commits each record as it comes.
    pub linger: Duration,
    /// The nice value of the writer's threads (Linux): 10 by default. 0 keeps the process's.
    pub nice: i32,
    /// Run the writer's threads under `SCHED_IDLE` (Linux; default true): the kernel gives them
    /// a CPU only when nothing else wants it, and a waking request preempts them at once. A
    /// nice value alone was not enough: a commit (about 1.5 ms of SQLite work every 20 ms at
    /// concurrency 1) still delayed the request that woke on its CPU, which set the bench's
    /// p99 (median of four a-2k runs: added p99 235 µs at nice 10, 175 µs idle). The price: on
    /// a machine kept saturated for seconds the writer barely runs, and past `capacity` records
    /// are dropped and counted rather than requests slowed (the bench's 200k soak, which keeps
    /// both CPUs busy for 14 s, drops a tenth to a third). When the policy cannot be set, `nice`
    /// applies.
    pub idle: bool,
}

impl Default for DecisionLogConfig {
    fn default() -> Self {
        Self {
            capacity: 1024,
            batch: 256,
            jsonl: None,
            keep_prompt: false,
            linger: Duration::from_millis(20),
            nice: 10,
            idle: true,
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    overflowing: AtomicBool,
}

/// The request-side handle: [`DecisionLog::record`] never blocks. Cheap to clone; the writer
/// stops once every clone is dropped and the channel is drained.
#[derive(Debug, Clone)]
pub struct DecisionLog {
    tx: mpsc::Sender<DecisionRecord>,
    counters: Arc<Counters>,
    keep_prompt: bool,
}

/// The writer thread; await [`DecisionLogWriter::finished`] after dropping every
/// [`DecisionLog`] to flush what is queued.
#[derive(Debug)]
pub struct DecisionLogWriter {
    done: tokio::sync::oneshot::Receiver<()>,
}

impl DecisionLogWriter {
    /// Waits until the writer has drained the channel and stopped.
    pub async fn finished(self) {
        if self.done.await.is_err() {
            tracing::warn!("decision log writer stopped abnormally");
        }
    }
}

impl DecisionLog {
    /// Starts the writer on a thread of its own (`anvil-decisions`, with its own connection
    /// to the store and its own single-threaded runtime, at [`DecisionLogConfig::idle`] and `nice`), so
    /// that its work never occupies a worker of the caller's runtime. `store` may be `None`
    /// (no database: only the JSONL file, if any, receives records).
    pub fn spawn(
        store: Option<Store>,
        config: DecisionLogConfig,
    ) -> (DecisionLog, DecisionLogWriter) {
        let (tx, rx) = mpsc::channel(config.capacity.max(1));
        let counters = Arc::new(Counters::default());
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let work = writer(
            rx,
            store,
            config.jsonl,
            config.batch.max(1),
            config.linger,
            Arc::clone(&counters),
        );
        let (nice, idle) = (config.nice, config.idle);
        let started = std::thread::Builder::new()
            .name("anvil-decisions".into())
            .spawn(move || {
                lower_priority(nice, idle);
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(work),
                    // rx is dropped with `work`: records are counted as dropped
                    Err(e) => tracing::error!(error = %e, "decision log: cannot start its writer"),
                }
                let _ = done_tx.send(());
            });
        if let Err(e) = started {
            tracing::error!(error = %e, "decision log: cannot start its writer thread");
        }
        (
            DecisionLog {
                tx,
                counters,
                keep_prompt: config.keep_prompt,
            },
            DecisionLogWriter { done },
        )
    }

    /// Queues a record without waiting. Returns false when it was dropped (channel full or the
    /// writer gone); the first drop of a burst is logged, every drop is counted.
    pub fn record(&self, mut record: DecisionRecord) -> bool {
        if !self.keep_prompt {
            record.prompt = None;
        }
        match self.tx.try_send(record) {
            Ok(()) => {
                self.counters.overflowing.store(false, Ordering::Relaxed);
                true
            }
            Err(e) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                if !self.counters.overflowing.swap(true, Ordering::Relaxed) {
                    let why = match e {
                        mpsc::error::TrySendError::Full(_) => "the queue is full",
                        mpsc::error::TrySendError::Closed(_) => "the writer has stopped",
                    };
                    tracing::warn!("decision log: dropping records: {why}");
                }
                false
            }
        }
    }

    /// Records dropped before reaching the writer.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Record writes that failed, counted per sink (database, JSONL file).
    pub fn failed(&self) -> u64 {
        self.counters.failed.load(Ordering::Relaxed)
    }

    /// Records written to the database (or, without one, to the JSONL file).
    pub fn written(&self) -> u64 {
        self.counters.written.load(Ordering::Relaxed)
    }

    /// A handle on the counters that does not keep the writer alive (e.g. for a metrics endpoint
    /// or for reading the totals after shutdown).
    pub fn counters(&self) -> DecisionLogCounters {
        DecisionLogCounters(Arc::clone(&self.counters))
    }
}

/// The counters of a [`DecisionLog`], readable after every [`DecisionLog`] is dropped.
#[derive(Debug, Clone)]
pub struct DecisionLogCounters(Arc<Counters>);

impl DecisionLogCounters {
    /// Records dropped before reaching the writer.
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }

    /// Record writes that failed, counted per sink (database, JSONL file).
    pub fn failed(&self) -> u64 {
        self.0.failed.load(Ordering::Relaxed)
    }

    /// Records written to the database (or, without one, to the JSONL file).
    pub fn written(&self) -> u64 {
        self.0.written.load(Ordering::Relaxed)
    }
}

async fn writer(
    mut rx: mpsc::Receiver<DecisionRecord>,
    store: Option<Store>,
    jsonl: Option<PathBuf>,
    batch: usize,
    linger: Duration,
    counters: Arc<Counters>,
) {
    // A connection of the writer's own, opened from its thread (see `DecisionLog::spawn`).
    let store = match store {
        Some(shared) => match shared.dedicated().await {
            Ok(own) => Some(own),
            Err(e) => {
                tracing::warn!(error = %e, "decision log: no connection of its own, sharing the pool");
                Some(shared)
            }
        },
        None => None,
    };
    let mut db_failing = false;
    let mut file_failing = false;
    let mut buf = Vec::with_capacity(batch);
    while rx.recv_many(&mut buf, batch).await > 0 {
        let n = buf.len() as u64;
        let mut written = false;
        if let Some(store) = &store {
            match store.insert_decisions(&buf).await {
                Ok(()) => {
                    written = true;
                    db_failing = false;
                }
                Err(e) => {
                    counters.failed.fetch_add(n, Ordering::Relaxed);
                    if !db_failing {
                        tracing::warn!(error = %e, "decision log: database write failed");
                    }
                    db_failing = true;
                }
            }
        }
        if let Some(path) = &jsonl {
            match append_jsonl(path, &buf) {
                Ok(()) => {
                    written |= store.is_none();
                    file_failing = false;
                }
                Err(e) => {
                    counters.failed.fetch_add(n, Ordering::Relaxed);
                    if !file_failing {
                        tracing::warn!(error = %e, path = %path.display(), "decision log: file write failed");
                    }
                    file_failing = true;
                }
            }
        }
        if written {
            counters.written.fetch_add(n, Ordering::Relaxed);
        } else if store.is_none() && jsonl.is_none() {
            // No sink at all (the store could not be opened): the records are lost, and counted.
            counters.failed.fetch_add(n, Ordering::Relaxed);
        }
        let backlog = buf.len() == batch;
        buf.clear();
        // A commit costs nearly the same for one record as for a hundred (a transaction on
        // SQLite's worker thread: a hand-off each for begin, commit and each 64-row insert). Records that come while this sleeps queue in
        // the channel and go in the next commit; the channel holds thousands, and a backlog is
        // written without waiting.
        if !backlog && !linger.is_zero() {
            tokio::time::sleep(linger).await;
        }
    }
}

fn append_jsonl(path: &std::path::Path, records: &[DecisionRecord]) -> std::io::Result<()> {
    let mut out = Vec::new();
    for r in records {
        serde_json::to_writer(&mut out, r)?;
        out.push(b'\n');
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(&out)
}

/// The decision columns, in the order [`Store::insert_decisions`] binds them.
const DECISION_COLUMNS: [&str; 19] = [
    "request_id",
    "unix_ms",
    "intent_source",
    "work_class",
    "confidence",
    "signals",
    "plan",
    "served_tier",
    "attempts",
    "status",
    "latency_ms",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "prompt",
    "attempt_log",
    "failed_tokens_in",
    "failed_tokens_out",
    "failed_cost_usd",
];

/// Rows per `INSERT` statement: one statement is one hand-off to SQLite's connection thread (or one
/// round trip to Postgres) instead of one per row; 64 rows bind 1,216 parameters, far below either
/// database's limit.
const ROWS_PER_INSERT: usize = 64;

/// Splits `rows` into the row counts of the `INSERT` statements that write them: as many of
/// [`ROWS_PER_INSERT`] as fit, then the rest as powers of two, largest first (100 rows: 64, 32,
/// 4). sqlx prepares each distinct statement once and keeps it on the connection, and a
/// statement's text depends on its row count: with the rest written as one statement, every
/// batch size from 1 to 63 left a prepared statement of its own, each holding a compiled program
/// for up to 1,197 parameters, and the writer's memory crept up through a long run as new batch
/// sizes came (2.3 MiB in SQLite's heap over the bench's 200k-request soak). Powers of two
/// keep it to seven statements, at the price of at most six hand-offs for a batch's rest.
fn insert_chunks(rows: usize) -> impl Iterator<Item = usize> {
    let full = rows / ROWS_PER_INSERT;
    let rest = rows % ROWS_PER_INSERT;
    std::iter::repeat_n(ROWS_PER_INSERT, full).chain(
        (0..ROWS_PER_INSERT.trailing_zeros())
            .rev()
            .map(|bit| 1 << bit)
            .filter(move |size| rest & size != 0),
    )
}

/// `INSERT INTO decisions (…) VALUES (…), …` for `rows` rows, written into `out`. Postgres reads
/// numbered placeholders (`$1`); SQLite gets anonymous ones (`?`), because for named or numbered
/// ones sqlx looks each parameter's name up with `sqlite3_bind_parameter_name`, a linear scan:
/// quadratic in the parameter count, and most of the writer's time for a 64-row statement.
fn insert_sql(rows: usize, backend: Backend, out: &mut String) {
    use std::fmt::Write as _;
    out.clear();
    out.push_str("INSERT INTO decisions (");
    out.push_str(&DECISION_COLUMNS.join(", "));
    out.push_str(") VALUES ");
    let mut n = 0;
    for row in 0..rows {
        out.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..DECISION_COLUMNS.len() {
            n += 1;
            if column > 0 {
                out.push_str(", ");
            }
            match backend {
                Backend::Sqlite => out.push('?'),
                Backend::Postgres => {
                    let _ = write!(out, "${n}");
                }
            }
        }
        out.push(')');
    }
}

/// Lowers the calling thread's priority: `SCHED_IDLE` when `idle`, and the nice value `nice`
/// (on Linux both are per thread, and threads started from this one — SQLite's connection
/// thread — inherit them).
fn lower_priority(nice: i32, idle: bool) {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadPriority, ThreadSchedulePolicy,
        };
        // first: setting the policy also sets the nice value (to 0 for SCHED_IDLE)
        if idle {
            let policy = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
            if let Err(e) =
                set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, policy)
            {
                tracing::debug!(error = ?e, "decision log: cannot run the writer under SCHED_IDLE");
            }
        }
        if nice != 0 {
            if let Err(e) = rustix::process::setpriority_process(None, nice) {
                tracing::debug!(error = %e, nice, "decision log: cannot lower the writer's priority");
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (nice, idle);
}

fn to_i64(x: u64) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

fn decode_record(row: &AnyRow) -> Result<DecisionRecord, StoreError> {
    let json = |col: &str| -> Result<JsonText, StoreError> {
        let text: String = row.try_get(col)?;
        Ok(JsonText::from_text(text))
    };
    let attempts: i64 = row.try_get("attempts")?;
    let status: i64 = row.try_get("status")?;
    let latency: i64 = row.try_get("latency_ms")?;
    let tin: i64 = row.try_get("tokens_in")?;
    let tout: i64 = row.try_get("tokens_out")?;
    let ftin: i64 = row.try_get("failed_tokens_in")?;
    let ftout: i64 = row.try_get("failed_tokens_out")?;
    let attempt_log: Option<String> = row.try_get("attempt_log")?;
    Ok(DecisionRecord {
        request_id: row.try_get("request_id")?,
        unix_ms: row.try_get("unix_ms")?,
        intent_source: row.try_get("intent_source")?,
        work_class: row.try_get("work_class")?,
        confidence: row.try_get("confidence")?,
        signals: json("signals")?,
        plan: json("plan")?,
        served_tier: row.try_get("served_tier")?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        status: u16::try_from(status).unwrap_or(0),
        latency_ms: u64::try_from(latency).unwrap_or(0),
        tokens_in: u64::try_from(tin).unwrap_or(0),
        tokens_out: u64::try_from(tout).unwrap_or(0),
        cost_usd: row.try_get("cost_usd")?,
        attempt_log: attempt_log.map(JsonText::from_text).unwrap_or_default(),
        failed_tokens_in: u64::try_from(ftin).unwrap_or(0),
        failed_tokens_out: u64::try_from(ftout).unwrap_or(0),
        failed_cost_usd: row.try_get("failed_cost_usd")?,
        prompt: row.try_get("prompt")?,
    })
}

impl Store {
    /// Inserts decision records in one transaction (the [`DecisionLog`] writer's batch). One
    /// statement per row, on purpose: it is prepared once per connection and each row is a
    /// short step. A many-row statement was tried: binding a whole batch in one step held the
    /// thread that ran it for about a millisecond.
    pub async fn insert_decisions(&self, records: &[DecisionRecord]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let mut sql = String::new();
        let mut remaining = records;
        for rows in insert_chunks(records.len()) {
            let (chunk, rest) = remaining.split_at(rows);
            remaining = rest;
            insert_sql(rows, self.backend(), &mut sql);
            let mut query = sqlx::query(&sql);
            for r in chunk {
                query = query
                    .bind(r.request_id.as_str())
                    .bind(r.unix_ms)
                    .bind(r.intent_source.as_str())
                    .bind(r.work_class.as_deref())
                    .bind(r.confidence)
                    .bind(r.signals.get())
                    .bind(r.plan.get())
                    .bind(r.served_tier.as_deref())
                    .bind(i64::from(r.attempts))
                    .bind(i64::from(r.status))
                    .bind(to_i64(r.latency_ms))
                    .bind(to_i64(r.tokens_in))
                    .bind(to_i64(r.tokens_out))
                    .bind(r.cost_usd)
                    .bind(r.prompt.as_deref())
                    .bind(Some(r.attempt_log.get()).filter(|log| *log != "null"))
                    .bind(to_i64(r.failed_tokens_in))
                    .bind(to_i64(r.failed_tokens_out))
                    .bind(r.failed_cost_usd);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The last `n` decision records, oldest first.
    pub async fn tail(&self, n: u32) -> Result<Vec<DecisionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT request_id, unix_ms, intent_source, work_class, confidence, signals, plan, \
             served_tier, attempts, status, latency_ms, tokens_in, tokens_out, cost_usd, prompt, \
             attempt_log, failed_tokens_in, failed_tokens_out, failed_cost_usd \
             FROM decisions ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(n))
        .fetch_all(self.pool())
        .await?;
        let mut out = rows
            .iter()
            .map(decode_record)
            .collect::<Result<Vec<_>, _>>()?;
        out.reverse();
        Ok(out)
    }

    /// Aggregates per work class (sorted by work class, `None` last): record count, the served
    /// tiers with their counts (most used first, then by name), and the mean confidence.
    pub async fn stats(&self) -> Result<Vec<WorkClassStats>, StoreError> {
        let rows = sqlx::query(
            "SELECT work_class, served_tier, COUNT(*) AS n, SUM(confidence) AS conf \
             FROM decisions GROUP BY work_class, served_tier",
        )
        .fetch_all(self.pool())
        .await?;
        // key: (no work class sorts last, work class); value: the stats and the confidence sum
        let mut by_class: BTreeMap<(bool, String), (WorkClassStats, f64)> = BTreeMap::new();
        for row in &rows {
            let work_class: Option<String> = row.try_get("work_class")?;
            let tier: Option<String> = row.try_get("served_tier")?;
            let n: i64 = row.try_get("n")?;
            let conf: f64 = row.try_get("conf")?;
            let n = u64::try_from(n).unwrap_or(0);
            let key = (work_class.is_none(), work_class.clone().unwrap_or_default());
            let (stats, sum) = by_class.entry(key).or_insert_with(|| {
                let stats = WorkClassStats {
                    work_class,
                    count: 0,
                    tiers: Vec::new(),
                    mean_confidence: 0.0,
                };
                (stats, 0.0)
            });
            stats.count += n;
            stats.tiers.push((tier, n));
            *sum += conf;
        }
        Ok(by_class
            .into_values()
            .map(|(mut stats, sum)| {
                stats
                    .tiers
                    .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                if stats.count > 0 {
                    stats.mean_confidence = sum / stats.count as f64;
                }
                stats
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::{insert_chunks, ROWS_PER_INSERT};
    use std::collections::BTreeSet;

    #[test]
    fn a_batch_of_any_size_is_written_by_at_most_seven_statement_shapes() {
        let mut shapes = BTreeSet::new();
        for rows in 0..=1_000 {
            let chunks: Vec<usize> = insert_chunks(rows).collect();
            assert_eq!(chunks.iter().sum::<usize>(), rows, "{rows}: {chunks:?}");
            assert!(
                chunks
                    .windows(2)
                    .all(|w| w[0] > w[1] || w[0] == ROWS_PER_INSERT),
                "{rows}: full statements first, then the rest largest first: {chunks:?}"
            );
            let rest = &chunks[rows / ROWS_PER_INSERT..];
            assert!(rest.len() <= 6, "{rows}: {chunks:?}");
            shapes.extend(chunks);
        }
        assert_eq!(
            shapes.into_iter().collect::<Vec<_>>(),
            [1, 2, 4, 8, 16, 32, 64]
        );
        assert_eq!(insert_chunks(100).collect::<Vec<_>>(), [64, 32, 4]);
        assert_eq!(insert_chunks(0).count(), 0);
    }
}
