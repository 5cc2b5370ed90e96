use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anvil_config::WorkClass::{self, *};
use anvil_policy::profile::Decision::{self, Allow, AllowWithVerify as Verify, Deny};
use serde_json::{json, Value};

use super::*;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A fresh directory under the system temp dir (removed on drop).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "anvil-profile-store-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn open_temp() -> (TempDir, Store) {
    let dir = TempDir::new();
    let path = dir.0.join("nested").join(DB_FILE_NAME);
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    (dir, store)
}

fn record(i: u32, work_class: Option<&str>, tier: Option<&str>, confidence: f64) -> DecisionRecord {
    DecisionRecord {
        request_id: format!("req-{i}"),
        unix_ms: 1_700_000_000_000 + i64::from(i),
        intent_source: "tier0".to_owned(),
        work_class: work_class.map(str::to_owned),
        confidence,
        // half the records serialize their signals on the writer's thread, as the router's do
        signals: if i.is_multiple_of(2) {
            JsonText::deferred(Signals {
                harness: "claude-code",
                files: i,
            })
        } else {
            json!({"harness": "claude-code", "files": i}).into()
        },
        plan: json!({"candidates": [{"tier": "fast-local", "decision": "allow"}],
                     "dropped": [{"tier": "cloud", "reason": "metered"}]})
        .into(),
        served_tier: tier.map(str::to_owned),
        attempts: 1,
        status: 200,
        latency_ms: 42,
        tokens_in: 1000,
        tokens_out: 200,
        cost_usd: 0.0105,
        prompt: Some("secret prompt".to_owned()),
        attempt_log: if i % 2 == 1 {
            json!([{"tier": "fast-local", "outcome": "verify-failed(refusal)", "tokens_in": 900,
                    "tokens_out": 12, "cost_usd": 0.0}, {"tier": "cloud", "outcome": "ok"}])
            .into()
        } else {
            JsonText::default()
        },
        failed_tokens_in: u64::from(i % 2) * 900,
        failed_tokens_out: u64::from(i % 2) * 12,
        failed_cost_usd: f64::from(i % 2) * 0.25,
    }
}

/// A caller's own type for [`JsonText::deferred`].
#[derive(serde::Serialize)]
struct Signals {
    harness: &'static str,
    files: u32,
}

#[test]
fn deferred_json_text_serializes_on_first_read_and_equals_the_eager_one() {
    let deferred = JsonText::deferred(Signals {
        harness: "codex",
        files: 3,
    });
    let copy = deferred.clone();
    let eager = JsonText::to_text(&json!({"harness": "codex", "files": 3}));
    assert_eq!(deferred.get(), r#"{"harness":"codex","files":3}"#);
    assert_eq!(
        copy, eager,
        "a copy taken before the first read serializes too"
    );
    assert_eq!(deferred.value(), json!({"harness": "codex", "files": 3}));
    assert_eq!(
        serde_json::to_string(&copy).unwrap(),
        r#"{"harness":"codex","files":3}"#
    );
    assert_eq!(format!("{deferred:?}"), format!("{eager:?}"));
    let back: JsonText = serde_json::from_str(r#" {"files": 3, "harness": "codex"} "#).unwrap();
    assert_eq!(back, deferred, "equality is of the JSON, not the text");
}

#[tokio::test]
async fn open_creates_directories_and_migrates_idempotently() {
    let (dir, store) = open_temp().await;
    assert_eq!(store.backend(), Backend::Sqlite);
    assert_eq!(store.schema_version().await.unwrap(), 2);
    assert!(dir.0.join("nested").join(DB_FILE_NAME).is_file());
    store
        .set("fast-local", Chat, Deny, Some(0.1))
        .await
        .unwrap();
    drop(store);
    let again = Store::open(dir.0.join("nested").join(DB_FILE_NAME).to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(again.schema_version().await.unwrap(), 2);
    assert_eq!(
        again
            .get("fast-local", Chat)
            .await
            .unwrap()
            .unwrap()
            .decision,
        Deny
    );
}

#[tokio::test]
async fn open_on_an_unwritable_path_is_an_error_not_a_panic() {
    let err = Store::open("/proc/anvil-no-such-dir/anvil.db")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DataDir { .. }), "{err}");
}

#[test]
fn default_db_path_expands_home() {
    let cases = [
        (
            "~/.local/share/anvil",
            Some("/h"),
            "/h/.local/share/anvil/anvil.db",
        ),
        ("~", Some("/h"), "/h/anvil.db"),
        ("~other/x", Some("/h"), "~other/x/anvil.db"),
        ("~/x", None, "~/x/anvil.db"),
        ("/var/lib/anvil", Some("/h"), "/var/lib/anvil/anvil.db"),
        ("rel/dir", Some("/h"), "rel/dir/anvil.db"),
    ];
    for (dir, home, want) in cases {
        assert_eq!(default_db_path(dir, home), PathBuf::from(want), "{dir}");
    }
}

#[tokio::test]
async fn set_creates_and_updates_rows_and_the_snapshot_sees_them() {
    let (_dir, store) = open_temp().await;
    let cases: &[(&str, WorkClass, Decision, Option<f64>, f64)] = &[
        ("fast-local", Planning, Allow, None, 0.65),
        ("heavy-local", Review, Verify, None, 0.70),
        ("gpu0", Chat, Deny, None, 0.20),
        ("gpu0", BoundedEdit, Allow, Some(0.91), 0.91),
    ];
    for &(tier, wc, decision, score, want_score) in cases {
        let entry = store.set(tier, wc, decision, score).await.unwrap();
        assert_eq!(
            (entry.decision, entry.score, entry.samples),
            (decision, want_score, 0)
        );
    }
    let snapshot = store.snapshot().await.unwrap();
    assert_eq!(snapshot.rows().count(), cases.len());
    assert_eq!(
        snapshot.entry("fast-local", Planning, false).decision,
        Allow
    );
    // unmeasured rows still come from the seed table
    assert_eq!(
        snapshot
            .entry("fast-local", MultiFileRefactor, false)
            .decision,
        Deny
    );

    // an update keeps samples and the score unless a new one is given
    store
        .record_grade("gpu0", Chat, 0.5, None, None, 3, None)
        .await
        .unwrap();
    let updated = store.set("gpu0", Chat, Allow, None).await.unwrap();
    assert_eq!(
        (updated.decision, updated.score, updated.samples),
        (Allow, 0.5, 3)
    );

    for bad in [-0.1, 1.5, f64::NAN] {
        let err = store.set("gpu0", Chat, Allow, Some(bad)).await.unwrap_err();
        assert!(err.to_string().contains("outside 0..=1"), "{err}");
    }
}

#[tokio::test]
async fn record_grade_follows_the_reference_semantics() {
    let (_dir, store) = open_temp().await;
    // new rows: fail-closed default decision, score rounded, samples = max(1, weight)
    let e = store
        .record_grade("t", Planning, 0.912345, None, None, 0, None)
        .await
        .unwrap();
    assert_eq!((e.decision, e.score, e.samples), (Deny, 0.9123, 1));
    let e = store
        .record_grade("t", Chat, 0.8, None, Some(86_400), 3, None)
        .await
        .unwrap();
    assert_eq!(
        (e.decision, e.samples, e.last_measured),
        (Verify, 3, Some(86_400))
    );
    let e = store
        .record_grade("t", Review, 0.8, Some(Allow), None, 1, None)
        .await
        .unwrap();
    assert_eq!(e.decision, Allow);

    // existing rows: weighted mean; degenerate weights never corrupt it
    let cases: &[(f64, i64, f64, u64)] = &[
        (0.4, 1, 0.7, 4),  // (0.8*3 + 0.4) / 4
        (0.0, 0, 0.7, 4),  // weight 0: unchanged
        (0.0, -5, 0.7, 4), // negative weight clamps to 0
        (1.0, 4, 0.85, 8), // (0.7*4 + 4) / 8
    ];
    for &(score, weight, want, n) in cases {
        let e = store
            .record_grade("t", Chat, score, None, None, weight, None)
            .await
            .unwrap();
        assert_eq!(
            (e.score, e.samples),
            (want, n),
            "score {score} weight {weight}"
        );
        assert_eq!(e.decision, Verify);
        assert_eq!(e.last_measured, Some(86_400));
    }

    // staleness: a grade from a superseded serve does not clear it, a current one does
    store
        .record_grade("t", Chat, 0.9, Some(Allow), None, 1, None)
        .await
        .unwrap();
    store.apply_fingerprint("t", "fp1").await.unwrap();
    assert_eq!(
        store.apply_fingerprint("t", "fp2").await.unwrap(),
        vec![Chat, Planning, Review]
    );
    let e = store
        .record_grade("t", Chat, 0.9, None, None, 1, Some("fp1"))
        .await
        .unwrap();
    assert!(e.stale);
    assert_eq!(e.effective_decision(), Verify);
    let e = store
        .record_grade("t", Chat, 0.9, None, None, 1, Some("fp2"))
        .await
        .unwrap();
    assert!(!e.stale);
    let e = store
        .record_grade("t", Review, 0.9, None, None, 1, None)
        .await
        .unwrap();
    assert!(!e.stale);
}

#[tokio::test]
async fn apply_fingerprint_adopts_ignores_and_marks_stale() {
    let (_dir, store) = open_temp().await;
    store
        .set("heavy-local", Chat, Allow, Some(0.9))
        .await
        .unwrap();
    store
        .set("heavy-local", Review, Deny, Some(0.1))
        .await
        .unwrap();
    store
        .set("fast-local", Chat, Allow, Some(0.9))
        .await
        .unwrap();
    // no fingerprint yet: adopt, nothing stale
    assert!(store
        .apply_fingerprint("heavy-local", "aaa")
        .await
        .unwrap()
        .is_empty());
    // same: no-op
    assert!(store
        .apply_fingerprint("heavy-local", "aaa")
        .await
        .unwrap()
        .is_empty());
    // changed: both rows of that tier stale, the other tier untouched
    assert_eq!(
        store.apply_fingerprint("heavy-local", "bbb").await.unwrap(),
        vec![Chat, Review]
    );
    // already stale: not newly stale
    assert!(store
        .apply_fingerprint("heavy-local", "ccc")
        .await
        .unwrap()
        .is_empty());
    let snapshot = store.snapshot().await.unwrap();
    let chat = snapshot.stored("heavy-local", Chat).unwrap();
    assert_eq!(
        (chat.stale, chat.fingerprint.as_deref()),
        (true, Some("ccc"))
    );
    assert_eq!(chat.effective_decision(), Verify);
    assert_eq!(
        snapshot
            .stored("heavy-local", Review)
            .unwrap()
            .effective_decision(),
        Deny
    );
    let fast = snapshot.stored("fast-local", Chat).unwrap();
    assert_eq!((fast.stale, fast.fingerprint.as_deref()), (false, None));
    // an operator's set clears staleness
    assert!(
        !store
            .set("heavy-local", Chat, Allow, None)
            .await
            .unwrap()
            .stale
    );
}

fn bootstrap_doc() -> Value {
    json!({
        "schema": "anvil-serving.router.profile_bootstrap/v1",
        "mode": "replay",
        "eval_max": 25.0,
        "entries": [
            {"tier_id": "cloud", "work_class": "planning", "model_label": "frontier",
             "decision": "allow", "quality_score": 0.99, "sample_n": 4, "eval_total_avg": 24.75,
             "eval_max": 25.0, "last_measured": "2026-06-28",
             "source_evals": ["2026-06-28-planning-capability"]},
            {"tier_id": "fast-local", "work_class": "planning", "model_label": "fast",
             "decision": "deny", "quality_score": 0.64, "sample_n": 4, "eval_total_avg": 16.0,
             "eval_max": 25.0, "last_measured": "2026-06-28T10:00:00+00:00",
             "source_evals": ["2026-06-28-planning-capability"]},
            {"tier_id": "heavy-local", "work_class": "planning", "model_label": "heavy",
             "decision": "deny", "quality_score": 0.53, "sample_n": 4, "eval_total_avg": 13.25,
             "eval_max": 25.0, "last_measured": null,
             "source_evals": ["2026-06-28-planning-capability"]}
        ]
    })
}

#[tokio::test]
async fn profile_json_round_trips() {
    let (_dir, store) = open_temp().await;
    let doc = bootstrap_doc();
    let n = store.import_profile_json(&doc.to_string()).await.unwrap();
    assert_eq!(n, 3);
    let snapshot = store.snapshot().await.unwrap();
    let cloud = snapshot.stored("cloud", Planning).unwrap();
    assert_eq!(
        (
            cloud.decision,
            cloud.score,
            cloud.samples,
            cloud.last_measured
        ),
        (Allow, 0.99, 4, Some(1_782_604_800))
    );
    assert_eq!(
        snapshot
            .stored("fast-local", Planning)
            .unwrap()
            .last_measured,
        Some(1_782_640_800)
    );

    let text = store.export_profile_json().await.unwrap();
    let exported: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(exported, doc);
    // sorted keys, 2-space indent, trailing newline
    assert!(text.ends_with("}\n"));
    assert!(
        text.starts_with("{\n  \"entries\": [\n    {\n      \"decision\""),
        "{text}"
    );
    fn keys_sorted(v: &Value) -> bool {
        match v {
            Value::Object(m) => {
                let keys: Vec<&String> = m.keys().collect();
                keys.windows(2).all(|w| w[0] < w[1]) && m.values().all(keys_sorted)
            }
            Value::Array(a) => a.iter().all(keys_sorted),
            _ => true,
        }
    }
    assert!(keys_sorted(&exported));

    // a changed row exports its new verdict and keeps its extra keys
    store
        .set("heavy-local", Planning, Verify, Some(0.75))
        .await
        .unwrap();
    let exported: Value =
        serde_json::from_str(&store.export_profile_json().await.unwrap()).unwrap();
    let heavy = &exported["entries"][2];
    assert_eq!(heavy["decision"], "allow-with-verify");
    assert_eq!(heavy["quality_score"], 0.75);
    assert_eq!(heavy["model_label"], "heavy");
}

#[tokio::test]
async fn export_of_an_operator_profile_uses_the_default_header() {
    let (_dir, store) = open_temp().await;
    store.set("b-tier", Chat, Allow, Some(0.9)).await.unwrap();
    store.set("a-tier", Review, Deny, Some(0.2)).await.unwrap();
    let exported: Value =
        serde_json::from_str(&store.export_profile_json().await.unwrap()).unwrap();
    assert_eq!(
        exported,
        json!({"entries": [
            {"decision": "deny", "last_measured": null, "quality_score": 0.2, "sample_n": 0,
             "tier_id": "a-tier", "work_class": "review"},
            {"decision": "allow", "last_measured": null, "quality_score": 0.9, "sample_n": 0,
             "tier_id": "b-tier", "work_class": "chat"}],
         "mode": "export", "schema": "anvil-serving.router.profile_bootstrap/v1"})
    );
}

#[tokio::test]
async fn malformed_profile_json_is_rejected_whole() {
    let (_dir, store) = open_temp().await;
    let entry = |decision: &str, wc: &str, score: Value| {
        json!({"entries": [
            {"tier_id": "cloud", "work_class": "chat", "decision": "allow", "quality_score": 0.9},
            {"tier_id": "x", "work_class": wc, "decision": decision, "quality_score": score}]})
        .to_string()
    };
    let cases = [
        (
            entry("DENY", "chat", json!(0.5)),
            "entries[1].decision: unknown decision",
        ),
        (
            entry("deny", "quick-edit", json!(0.5)),
            "entries[1].work_class: unknown work class",
        ),
        (
            entry("deny", "chat", json!(1.5)),
            "entries[1].quality_score: must be within",
        ),
        (
            entry("deny", "chat", json!("high")),
            "entries[1].quality_score: must be a number",
        ),
        ("{\"entries\": 3}".to_owned(), "entries: must be an array"),
        ("[]".to_owned(), "not an object"),
        ("{".to_owned(), "not JSON"),
    ];
    for (text, want) in cases {
        let err = store.import_profile_json(&text).await.unwrap_err();
        assert!(err.to_string().contains(want), "{err} (wanted {want})");
    }
    assert!(
        store.rows().await.unwrap().is_empty(),
        "a rejected import writes nothing"
    );
}

#[tokio::test]
async fn refresher_picks_up_changes_without_blocking_readers() {
    let (_dir, store) = open_temp().await;
    let shared = SharedSnapshot::new(store.snapshot().await.unwrap());
    let _refresher = Refresher::spawn(store.clone(), shared.clone(), Duration::from_millis(20));
    assert!(shared.load().stored("fast-local", Planning).is_none());
    store
        .set("fast-local", Planning, Allow, Some(0.9))
        .await
        .unwrap();
    let mut seen = false;
    for _ in 0..200 {
        if shared
            .load()
            .stored("fast-local", Planning)
            .map(|e| e.decision)
            == Some(Allow)
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen, "the refresher never installed the new row");
}

#[tokio::test]
async fn decision_log_writes_tails_and_aggregates() {
    let (dir, store) = open_temp().await;
    let jsonl = dir.0.join("decisions.jsonl");
    let (log, writer) = DecisionLog::spawn(
        Some(store.clone()),
        DecisionLogConfig {
            jsonl: Some(jsonl.clone()),
            ..DecisionLogConfig::default()
        },
    );
    let inputs = [
        (Some("chat"), Some("fast-local"), 0.9),
        (Some("chat"), Some("fast-local"), 0.7),
        (Some("chat"), Some("heavy-local"), 0.8),
        (Some("planning"), None, 0.6),
        (None, Some("cloud"), 1.0),
    ];
    for (i, (wc, tier, conf)) in inputs.iter().enumerate() {
        assert!(log.record(record(i as u32, *wc, *tier, *conf)));
    }
    let counters = log.counters();
    drop(log);
    writer.finished().await;
    assert_eq!(
        (counters.written(), counters.dropped(), counters.failed()),
        (5, 0, 0)
    );

    let tail = store.tail(2).await.unwrap();
    assert_eq!(tail.len(), 2);
    let mut want = record(3, Some("planning"), None, 0.6);
    want.prompt = None; // not opted in: stripped
    assert_eq!(tail[0], want);
    assert_eq!(tail[1].request_id, "req-4");
    assert_eq!(store.tail(100).await.unwrap().len(), 5);

    let stats = store.stats().await.unwrap();
    type Row<'a> = (Option<&'a str>, u64, Vec<(Option<&'a str>, u64)>, f64);
    let got: Vec<Row<'_>> = stats
        .iter()
        .map(|s| {
            (
                s.work_class.as_deref(),
                s.count,
                s.tiers.iter().map(|(t, n)| (t.as_deref(), *n)).collect(),
                (s.mean_confidence * 1000.0).round() / 1000.0,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                Some("chat"),
                3,
                vec![(Some("fast-local"), 2), (Some("heavy-local"), 1)],
                0.8
            ),
            (Some("planning"), 1, vec![(None, 1)], 0.6),
            (None, 1, vec![(Some("cloud"), 1)], 1.0),
        ]
    );

    let lines: Vec<DecisionRecord> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[3], want);
}

#[tokio::test]
async fn a_batch_keeps_every_row_and_field_in_order() {
    let (_dir, store) = open_temp().await;
    // 123 rows in one transaction: six INSERT statements (64, 32, 16, 8, 2 and 1 rows)
    let records: Vec<DecisionRecord> = (0..123)
        .map(|i| record(i, Some("chat"), Some("fast-local"), f64::from(i) / 200.0))
        .collect();
    store.insert_decisions(&records).await.unwrap();
    assert_eq!(store.tail(1000).await.unwrap(), records);
}

#[tokio::test]
async fn a_sqlite_file_store_uses_write_ahead_logging() {
    let (_dir, store) = open_temp().await;
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(mode.to_ascii_lowercase(), "wal");
    // per connection: every pooled connection commits without a sync per transaction
    for _ in 0..4 {
        let mut conn = store.pool().acquire().await.unwrap();
        let level: i64 = sqlx::query("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(level, 1, "synchronous=NORMAL is 1");
    }
}

#[tokio::test]
async fn a_burst_larger_than_a_batch_is_written_whole() {
    let (_dir, store) = open_temp().await;
    let (log, writer) = DecisionLog::spawn(Some(store.clone()), DecisionLogConfig::default());
    let counters = log.counters();
    for i in 0..1000 {
        assert!(log.record(record(i, Some("chat"), Some("fast-local"), 0.5)));
    }
    drop(log);
    writer.finished().await;
    assert_eq!((counters.written(), counters.failed()), (1000, 0));
    let tail = store.tail(1000).await.unwrap();
    assert_eq!(tail.len(), 1000);
    assert_eq!(tail[999].request_id, "req-999");
}

/// The writer and its SQLite connection thread run at the configured nice value and under
/// `SCHED_IDLE`, on threads of their own (Linux: in `/proc/self/task/*/stat` field 19 is the nice
/// value and field 41 the policy, 5 for `SCHED_IDLE`; `comm` keeps 15 bytes).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_writer_and_its_connection_run_at_a_lower_priority() {
    fn threads_at(name_prefix: &str, nice: i64, policy: i64) -> usize {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(Result::ok)
            .filter(|task| {
                let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
                let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
                // the fields after the parenthesised name: state is field 3, nice field 19
                let after = stat.rsplit(')').next().unwrap_or_default();
                let field = |n: usize| -> Option<i64> {
                    after
                        .split_whitespace()
                        .nth(n - 3)
                        .and_then(|v| v.parse().ok())
                };
                comm.starts_with(name_prefix)
                    && field(19) == Some(nice)
                    && field(41) == Some(policy)
            })
            .count()
    }
    async fn wait_for_one_written(counters: &DecisionLogCounters) {
        for _ in 0..2000 {
            if counters.written() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(counters.written(), 1);
    }
    let (_dir, store) = open_temp().await;
    let (log, writer) = DecisionLog::spawn(
        Some(store.clone()),
        DecisionLogConfig {
            nice: 7,
            ..DecisionLogConfig::default()
        },
    );
    let counters = log.counters();
    assert!(log.record(record(1, Some("chat"), Some("fast-local"), 0.9)));
    // written means the thread started, lowered its priority and opened its connection
    wait_for_one_written(&counters).await;
    const SCHED_OTHER: i64 = 0;
    const SCHED_IDLE: i64 = 5;
    assert_eq!(threads_at("anvil-decisions", 7, SCHED_IDLE), 1);
    assert!(
        threads_at("sqlx-sqlite-wor", 7, SCHED_IDLE) >= 1,
        "the connection thread inherits the policy and the nice value"
    );
    drop(log);
    writer.finished().await;
    assert_eq!(store.tail(1).await.unwrap()[0].request_id, "req-1");

    // without `idle`, the nice value alone
    let (log, writer) = DecisionLog::spawn(
        Some(store.clone()),
        DecisionLogConfig {
            nice: 6,
            idle: false,
            ..DecisionLogConfig::default()
        },
    );
    let counters = log.counters();
    assert!(log.record(record(2, Some("chat"), Some("fast-local"), 0.9)));
    wait_for_one_written(&counters).await;
    assert_eq!(threads_at("anvil-decisions", 6, SCHED_OTHER), 1);
    assert!(threads_at("sqlx-sqlite-wor", 6, SCHED_OTHER) >= 1);
    drop(log);
    writer.finished().await;
}

#[tokio::test]
async fn prompts_are_kept_only_when_opted_in() {
    let (_dir, store) = open_temp().await;
    let (log, writer) = DecisionLog::spawn(
        Some(store.clone()),
        DecisionLogConfig {
            keep_prompt: true,
            ..DecisionLogConfig::default()
        },
    );
    assert!(log.record(record(1, Some("chat"), Some("fast-local"), 0.9)));
    drop(log);
    writer.finished().await;
    assert_eq!(
        store.tail(1).await.unwrap()[0].prompt.as_deref(),
        Some("secret prompt")
    );
}

#[tokio::test]
async fn overflow_is_counted_and_never_blocks() {
    // current-thread runtime: the writer cannot run until this test yields
    let (_dir, store) = open_temp().await;
    let (log, writer) = DecisionLog::spawn(
        Some(store.clone()),
        DecisionLogConfig {
            capacity: 2,
            ..DecisionLogConfig::default()
        },
    );
    let accepted: Vec<bool> = (0..5)
        .map(|i| log.record(record(i, Some("chat"), None, 0.5)))
        .collect();
    assert_eq!(accepted, vec![true, true, false, false, false]);
    assert_eq!(log.dropped(), 3);
    let counters = log.counters();
    drop(log);
    writer.finished().await;
    assert_eq!((counters.written(), counters.failed()), (2, 0));
    assert_eq!(store.tail(10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn write_failures_are_counted_and_requests_keep_flowing() {
    let (_dir, store) = open_temp().await;
    // the database refuses every insert (as on a full or read-only disk) and the JSONL file
    // cannot be created
    sqlx::query("DROP TABLE decisions")
        .execute(store.pool())
        .await
        .unwrap();
    let (log, writer) = DecisionLog::spawn(
        Some(store.clone()),
        DecisionLogConfig {
            jsonl: Some(PathBuf::from("/proc/anvil-no-such-dir/decisions.jsonl")),
            ..DecisionLogConfig::default()
        },
    );
    for i in 0..3 {
        assert!(log.record(record(i, Some("chat"), Some("fast-local"), 0.9)));
        tokio::task::yield_now().await;
    }
    let counters = log.counters();
    drop(log);
    writer.finished().await;
    assert_eq!(counters.written(), 0);
    assert_eq!(counters.failed(), 6, "3 records × 2 sinks");
    assert!(store.tail(1).await.is_err());
    // the profile side still answers
    assert!(store.snapshot().await.is_ok());
}

#[tokio::test]
async fn a_log_without_a_store_writes_the_file() {
    let dir = TempDir::new();
    std::fs::create_dir_all(&dir.0).unwrap();
    let jsonl = dir.0.join("d.jsonl");
    let (log, writer) = DecisionLog::spawn(
        None,
        DecisionLogConfig {
            jsonl: Some(jsonl.clone()),
            ..Default::default()
        },
    );
    assert!(log.record(record(7, Some("review"), Some("cloud"), 0.4)));
    let counters = log.counters();
    drop(log);
    writer.finished().await;
    assert_eq!(counters.written(), 1);
    let line: DecisionRecord =
        serde_json::from_str(std::fs::read_to_string(&jsonl).unwrap().trim_end()).unwrap();
    assert_eq!(line.request_id, "req-7");
}

/// Runs against a real Postgres server when `ANVIL_TEST_POSTGRES_URL` names one (a scratch
/// database: the test drops anvil's tables first). CI has no server, so there it only checks
/// that Postgres URLs are recognised.
#[tokio::test]
async fn postgres_backend_when_a_server_is_available() {
    let cases = [
        ("postgres://u@h/db", "postgres://u@h/db", Backend::Postgres),
        (
            "postgresql://u@h/db",
            "postgresql://u@h/db",
            Backend::Postgres,
        ),
        ("sqlite::memory:", "sqlite::memory:", Backend::Sqlite),
        (
            "/var/lib/anvil/anvil.db",
            "sqlite:///var/lib/anvil/anvil.db?mode=rwc",
            Backend::Sqlite,
        ),
    ];
    for (input, url, backend) in cases {
        assert_eq!(location_url(input), (url.to_owned(), backend), "{input}");
    }
    let Ok(url) = std::env::var("ANVIL_TEST_POSTGRES_URL") else {
        eprintln!("ANVIL_TEST_POSTGRES_URL is not set: the Postgres round trip did not run");
        return;
    };
    let store = Store::open(&url).await.unwrap();
    for table in ["decisions", "profile", "profile_meta", "anvil_schema"] {
        sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
            .execute(store.pool())
            .await
            .unwrap();
    }
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    assert_eq!(store.schema_version().await.unwrap(), 2);

    store
        .set("fast-local", Planning, Allow, Some(0.9))
        .await
        .unwrap();
    let e = store
        .record_grade("fast-local", Planning, 0.5, None, Some(86_400), 1, None)
        .await
        .unwrap();
    assert_eq!((e.score, e.samples), (0.5, 1));
    assert_eq!(
        store.apply_fingerprint("fast-local", "a").await.unwrap(),
        Vec::<WorkClass>::new()
    );
    assert_eq!(
        store.apply_fingerprint("fast-local", "b").await.unwrap(),
        vec![Planning]
    );
    let snapshot = store.snapshot().await.unwrap();
    assert_eq!(
        snapshot
            .stored("fast-local", Planning)
            .unwrap()
            .effective_decision(),
        Verify
    );

    let doc = bootstrap_doc();
    store.import_profile_json(&doc.to_string()).await.unwrap();
    store.remove("fast-local", Planning).await.unwrap();
    store.import_profile_json(&doc.to_string()).await.unwrap();
    let exported: Value =
        serde_json::from_str(&store.export_profile_json().await.unwrap()).unwrap();
    assert_eq!(exported, doc);

    let (log, writer) = DecisionLog::spawn(Some(store.clone()), DecisionLogConfig::default());
    let counters = log.counters();
    for i in 0..3 {
        assert!(log.record(record(i, Some("chat"), Some("fast-local"), 0.5)));
    }
    assert!(log.record(record(3, None, None, 1.0)));
    drop(log);
    writer.finished().await;
    assert_eq!((counters.written(), counters.failed()), (4, 0));
    let tail = store.tail(2).await.unwrap();
    assert_eq!(
        tail.iter()
            .map(|r| r.request_id.as_str())
            .collect::<Vec<_>>(),
        ["req-2", "req-3"]
    );
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.len(), 2);
    assert_eq!((stats[0].count, stats[0].mean_confidence), (3, 0.5));
    assert_eq!(stats[1].work_class, None);

    // a batch longer than one INSERT statement, every field back as written
    let records: Vec<DecisionRecord> = (10..150)
        .map(|i| record(i, Some("review"), Some("fast-local"), f64::from(i) / 200.0))
        .collect();
    store.insert_decisions(&records).await.unwrap();
    assert_eq!(store.tail(140).await.unwrap(), records);
}

#[tokio::test]
async fn a_read_only_database_keeps_serving_snapshots_and_counts_failed_writes() {
    let (dir, store) = open_temp().await;
    store
        .set("fast-local", Chat, Deny, Some(0.1))
        .await
        .unwrap();
    drop(store);
    let path = dir.0.join("nested").join(DB_FILE_NAME);
    let read_only = Store::open(&format!("sqlite://{}?mode=ro", path.display()))
        .await
        .unwrap();
    let snapshot = read_only.snapshot().await.unwrap();
    assert_eq!(snapshot.stored("fast-local", Chat).unwrap().decision, Deny);
    assert!(read_only
        .set("fast-local", Chat, Allow, None)
        .await
        .is_err());

    let (log, writer) = DecisionLog::spawn(Some(read_only.clone()), DecisionLogConfig::default());
    let counters = log.counters();
    for i in 0..4 {
        assert!(log.record(record(i, Some("chat"), Some("fast-local"), 0.9)));
    }
    drop(log);
    writer.finished().await;
    assert_eq!(
        (counters.written(), counters.failed(), counters.dropped()),
        (0, 4, 0)
    );
    assert!(read_only.tail(10).await.unwrap().is_empty());
}
