//! The quality profile: per (tier, work class), a measured verdict.

use std::collections::HashMap;

use anvil_config::WorkClass;

/// What a tier may do for a work class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Serve it; stream straight through.
    Allow,
    /// Serve it, but verify the answer before the client sees it.
    AllowWithVerify,
    /// Never serve it.
    Deny,
}

impl Decision {
    /// The wire/file spelling: `allow`, `allow-with-verify`, `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::AllowWithVerify => "allow-with-verify",
            Decision::Deny => "deny",
        }
    }

    /// Parses the exact spelling.
    pub fn from_name(s: &str) -> Option<Self> {
        [Decision::Allow, Decision::AllowWithVerify, Decision::Deny]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// One measured (or seeded) profile row.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileEntry {
    /// The verdict.
    pub decision: Decision,
    /// Quality score in 0..=1 (higher is better).
    pub score: f64,
    /// How many graded samples the score stands on.
    pub samples: u64,
    /// When it was last measured (Unix seconds); `None` for seed rows.
    pub last_measured: Option<i64>,
    /// The serve fingerprint (model + server + settings) the measurement was made against.
    pub fingerprint: Option<String>,
    /// The tier's serve changed since the measurement.
    pub stale: bool,
}

impl ProfileEntry {
    /// The decision to act on: a stale `allow` only earns `allow-with-verify`.
    pub fn effective_decision(&self) -> Decision {
        match (self.decision, self.stale) {
            (Decision::Allow, true) => Decision::AllowWithVerify,
            (decision, _) => decision,
        }
    }
}

/// An in-memory copy of the profile, as the policy reads it. Rows never measured fall back to the
/// 0.4.0 seed table ([`seed_entry`]).
///
/// Lookups by `&str` do not allocate (the policy runs per request).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileSnapshot {
    entries: HashMap<String, [Option<ProfileEntry>; WorkClass::ALL.len()]>,
}

/// The position of a work class in [`WorkClass::ALL`].
fn slot(work_class: WorkClass) -> usize {
    WorkClass::ALL
        .iter()
        .position(|w| *w == work_class)
        .unwrap_or_default()
}

impl ProfileSnapshot {
    /// An empty snapshot: every lookup answers from the seed table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a row.
    pub fn insert(&mut self, tier: impl Into<String>, work_class: WorkClass, entry: ProfileEntry) {
        self.entries.entry(tier.into()).or_default()[slot(work_class)] = Some(entry);
    }

    /// The stored row, if any.
    pub fn stored(&self, tier: &str, work_class: WorkClass) -> Option<&ProfileEntry> {
        self.entries.get(tier)?[slot(work_class)].as_ref()
    }

    /// The row the policy uses: the stored one, else the seed.
    pub fn entry(&self, tier: &str, work_class: WorkClass, is_cloud: bool) -> ProfileEntry {
        self.stored(tier, work_class)
            .cloned()
            .unwrap_or_else(|| seed_entry(tier, work_class, is_cloud))
    }

    /// The decision to act on ([`ProfileEntry::effective_decision`]: a stale `allow` is
    /// `allow-with-verify`) and the quality score of the row the policy uses, without copying it.
    pub fn verdict(&self, tier: &str, work_class: WorkClass, is_cloud: bool) -> (Decision, f64) {
        match self.stored(tier, work_class) {
            Some(entry) => (entry.effective_decision(), entry.score),
            None => {
                let seed = seed_entry(tier, work_class, is_cloud);
                (seed.effective_decision(), seed.score)
            }
        }
    }

    /// Every stored row, in no particular order.
    pub fn rows(&self) -> impl Iterator<Item = (&str, WorkClass, &ProfileEntry)> {
        self.entries.iter().flat_map(|(tier, row)| {
            WorkClass::ALL
                .iter()
                .zip(row.iter())
                .filter_map(move |(work_class, entry)| {
                    entry
                        .as_ref()
                        .map(|entry| (tier.as_str(), *work_class, entry))
                })
        })
    }
}

/// The 0.4.0 seed table (reference §6.3), for rows never measured: cloud tiers are allowed
/// everything; a local tier is denied `planning` and `multi-file-refactor` unless it is the
/// `heavy-local` tier (verify for refactors), allowed `chat`/`bounded-edit`, and so on. Tiers with other
/// ids get the 0.4.0 defaults: deny the high-risk classes, verify the rest.
pub fn seed_entry(tier: &str, work_class: WorkClass, is_cloud: bool) -> ProfileEntry {
    use Decision::{Allow, AllowWithVerify as Verify, Deny};
    use WorkClass::*;
    let decision = if is_cloud {
        Allow
    } else {
        match (tier, work_class) {
            ("fast-local", Planning | MultiFileRefactor | LongContext) => Deny,
            ("fast-local", Review) => Verify,
            ("fast-local", BoundedEdit | Chat) => Allow,
            ("heavy-local", Planning) => Deny,
            ("heavy-local", MultiFileRefactor) => Verify,
            ("heavy-local", LongContext | Review | BoundedEdit | Chat) => Allow,
            (_, Planning | MultiFileRefactor) => Deny,
            _ => Verify,
        }
    };
    let anchor = if is_cloud {
        0.95
    } else {
        match tier {
            "heavy-local" => 0.80,
            "fast-local" => 0.65,
            _ => 0.5,
        }
    };
    let score = match decision {
        Allow => anchor,
        Verify => ((anchor - 0.10) * 100.0_f64).round() / 100.0,
        Deny => 0.20,
    };
    ProfileEntry {
        decision,
        score,
        samples: 1,
        last_measured: None,
        fingerprint: None,
        stale: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::{Allow, AllowWithVerify as Verify, Deny};
    use WorkClass::*;

    #[test]
    fn seed_table_matches_the_reference() {
        let cases = [
            ("fast-local", Planning, false, Deny, 0.20),
            ("fast-local", Review, false, Verify, 0.55),
            ("fast-local", Chat, false, Allow, 0.65),
            ("heavy-local", MultiFileRefactor, false, Verify, 0.70),
            ("heavy-local", LongContext, false, Allow, 0.80),
            ("cloud", Planning, true, Allow, 0.95),
            ("gpu0", Planning, false, Deny, 0.20),
            ("gpu0", Chat, false, Verify, 0.40),
        ];
        for (tier, wc, cloud, decision, score) in cases {
            let entry = seed_entry(tier, wc, cloud);
            assert_eq!(
                (entry.decision, entry.score),
                (decision, score),
                "{tier} {wc:?}"
            );
        }
    }

    #[test]
    fn stale_allow_is_verified_and_stored_rows_win() {
        let mut snapshot = ProfileSnapshot::new();
        let mut entry = seed_entry("fast-local", Chat, false);
        entry.stale = true;
        assert_eq!(entry.effective_decision(), Verify);
        entry.decision = Deny;
        assert_eq!(entry.effective_decision(), Deny);
        snapshot.insert("fast-local", Planning, seed_entry("cloud", Planning, true));
        assert_eq!(
            snapshot.entry("fast-local", Planning, false).decision,
            Allow
        );
        assert_eq!(snapshot.entry("fast-local", Review, false).decision, Verify);
        assert_eq!(
            snapshot.verdict("fast-local", Planning, false),
            (Allow, 0.95)
        );
        assert_eq!(
            snapshot.verdict("fast-local", Review, false),
            (Verify, 0.55)
        );
        let mut stale = seed_entry("heavy-local", Chat, false);
        stale.stale = true;
        snapshot.insert("heavy-local", Chat, stale.clone());
        assert_eq!(snapshot.verdict("heavy-local", Chat, false), (Verify, 0.80));
        let mut rows: Vec<_> = snapshot
            .rows()
            .map(|(tier, wc, entry)| (tier.to_owned(), wc, entry.clone()))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            rows,
            vec![
                (
                    "fast-local".to_owned(),
                    Planning,
                    seed_entry("cloud", Planning, true)
                ),
                ("heavy-local".to_owned(), Chat, stale),
            ]
        );
        assert_eq!(Decision::from_name("allow-with-verify"), Some(Verify));
        assert_eq!(Decision::from_name("Allow"), None);
    }
}
