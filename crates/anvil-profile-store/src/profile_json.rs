//! `profile.json` in anvil-serving 0.4.0's bootstrap format (reference §6.5).

use anvil_config::WorkClass;
use anvil_policy::profile::{Decision, ProfileEntry};
use serde_json::{Map, Value};
use sqlx::Row;

use crate::{check_score, time, Store, StoreError};

/// The `schema` written when no imported header is on record.
pub const PROFILE_SCHEMA: &str = "anvil-serving.router.profile_bootstrap/v1";

/// The entry keys anvil reads; every other entry key is kept verbatim for export.
const LOADED_KEYS: &[&str] = &[
    "tier_id",
    "work_class",
    "decision",
    "quality_score",
    "sample_n",
    "last_measured",
];

const HEADER_KEY: &str = "profile_json_header";

struct Parsed {
    tier: String,
    work_class: WorkClass,
    entry: ProfileEntry,
    extra: Option<String>,
}

fn parse_entry(i: usize, value: &Value) -> Result<Parsed, StoreError> {
    let bad = |key: &str, msg: &str| StoreError::ProfileJson(format!("entries[{i}].{key}: {msg}"));
    let obj = value
        .as_object()
        .ok_or_else(|| StoreError::ProfileJson(format!("entries[{i}]: not an object")))?;
    let tier = obj
        .get("tier_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("tier_id", "must be a non-empty string"))?;
    let wc = obj
        .get("work_class")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("work_class", "must be a string"))?;
    let work_class = WorkClass::from_name(wc)
        .ok_or_else(|| bad("work_class", &format!("unknown work class {wc:?}")))?;
    let d = obj
        .get("decision")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("decision", "must be a string"))?;
    let decision = Decision::from_name(d).ok_or_else(|| {
        bad(
            "decision",
            &format!("unknown decision {d:?} (allow, allow-with-verify or deny)"),
        )
    })?;
    let score = obj
        .get("quality_score")
        .and_then(Value::as_f64)
        .ok_or_else(|| bad("quality_score", "must be a number"))?;
    check_score(score).map_err(|_| bad("quality_score", "must be within 0..=1"))?;
    let samples = match obj.get("sample_n") {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_u64()
            .ok_or_else(|| bad("sample_n", "must be a non-negative integer"))?,
    };
    let mut extra = Map::new();
    let last_measured = match obj.get("last_measured") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let secs = time::parse_date(s)
                .ok_or_else(|| bad("last_measured", &format!("not a date: {s:?}")))?;
            if time::format_date(secs) != *s {
                // keep the original spelling so an export gives back the same text
                extra.insert("last_measured".to_owned(), Value::String(s.clone()));
            }
            Some(secs)
        }
        Some(_) => return Err(bad("last_measured", "must be a date string or null")),
    };
    for (k, v) in obj {
        if !LOADED_KEYS.contains(&k.as_str()) {
            extra.insert(k.clone(), v.clone());
        }
    }
    Ok(Parsed {
        tier: tier.to_owned(),
        work_class,
        entry: ProfileEntry {
            decision,
            score,
            samples,
            last_measured,
            fingerprint: None,
            stale: false,
        },
        extra: if extra.is_empty() {
            None
        } else {
            Some(Value::Object(extra).to_string())
        },
    })
}

/// Returns `value` with every object's keys sorted (serde_json here preserves insertion order).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

impl Store {
    /// Imports a `profile.json` document: every entry is validated first (nothing is written when
    /// one is malformed), then upserted in one transaction. Imported rows carry no fingerprint and
    /// are not stale; entry keys anvil does not use (`model_label`, `source_evals`, …) and the
    /// document's top-level keys are kept for [`Store::export_profile_json`]. Returns the number of
    /// entries imported.
    pub async fn import_profile_json(&self, text: &str) -> Result<usize, StoreError> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| StoreError::ProfileJson(format!("not JSON: {e}")))?;
        let obj = doc
            .as_object()
            .ok_or_else(|| StoreError::ProfileJson("the document is not an object".to_owned()))?;
        let entries = obj
            .get("entries")
            .and_then(Value::as_array)
            .ok_or_else(|| StoreError::ProfileJson("entries: must be an array".to_owned()))?;
        let parsed = entries
            .iter()
            .enumerate()
            .map(|(i, v)| parse_entry(i, v))
            .collect::<Result<Vec<_>, _>>()?;
        let header: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| k.as_str() != "entries")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut tx = self.pool().begin().await?;
        for p in &parsed {
            self.upsert(
                &mut *tx,
                &p.tier,
                p.work_class,
                &p.entry,
                Some(p.extra.clone()),
            )
            .await?;
        }
        sqlx::query(
            "INSERT INTO profile_meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(HEADER_KEY)
        .bind(Value::Object(header).to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(parsed.len())
    }

    /// Exports every stored row as a `profile.json` document: keys sorted, 2-space indent,
    /// trailing newline, entries sorted by (tier_id, work_class). The top level is the last
    /// imported document's header (else `schema` and `mode: "export"`).
    pub async fn export_profile_json(&self) -> Result<String, StoreError> {
        let header = sqlx::query("SELECT value FROM profile_meta WHERE key = $1")
            .bind(HEADER_KEY)
            .fetch_optional(self.pool())
            .await?;
        let mut doc = match header {
            Some(row) => {
                let text: String = row.try_get("value")?;
                match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(map)) => map,
                    _ => Map::new(),
                }
            }
            None => Map::new(),
        };
        if doc.is_empty() {
            doc.insert("schema".to_owned(), Value::from(PROFILE_SCHEMA));
            doc.insert("mode".to_owned(), Value::from("export"));
        }
        let rows = sqlx::query(
            "SELECT tier, work_class, decision, score, samples, last_measured, extra \
             FROM profile ORDER BY tier, work_class",
        )
        .fetch_all(self.pool())
        .await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            let extra: Option<String> = row.try_get("extra")?;
            let mut entry = match extra.and_then(|t| serde_json::from_str::<Value>(&t).ok()) {
                Some(Value::Object(map)) => map,
                _ => Map::new(),
            };
            let tier: String = row.try_get("tier")?;
            let work_class: String = row.try_get("work_class")?;
            let decision: String = row.try_get("decision")?;
            let score: f64 = row.try_get("score")?;
            let samples: i64 = row.try_get("samples")?;
            let last_measured: Option<i64> = row.try_get("last_measured")?;
            let spelled = entry
                .get("last_measured")
                .and_then(Value::as_str)
                .filter(|s| last_measured.is_some() && time::parse_date(s) == last_measured)
                .map(str::to_owned);
            let last = match (spelled, last_measured) {
                (Some(s), _) => Value::String(s),
                (None, Some(secs)) => Value::String(time::format_date(secs)),
                (None, None) => Value::Null,
            };
            entry.insert("tier_id".to_owned(), Value::String(tier));
            entry.insert("work_class".to_owned(), Value::String(work_class));
            entry.insert("decision".to_owned(), Value::String(decision));
            entry.insert("quality_score".to_owned(), Value::from(score));
            entry.insert("sample_n".to_owned(), Value::from(samples));
            entry.insert("last_measured".to_owned(), last);
            entries.push(Value::Object(entry));
        }
        // sorted here, not by SQL: a Postgres collation may order differently from byte order
        entries.sort_by(|a, b| {
            let key = |v: &Value| {
                (
                    v.get("tier_id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    v.get("work_class")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                )
            };
            key(a).cmp(&key(b))
        });
        doc.insert("entries".to_owned(), Value::Array(entries));
        let mut text = serde_json::to_string_pretty(&sorted(Value::Object(doc)))
            .map_err(|e| StoreError::ProfileJson(e.to_string()))?;
        text.push('\n');
        Ok(text)
    }
}
