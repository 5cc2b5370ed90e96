//! Purity: the pure crates' *normal* dependency closure holds no async runtime, HTTP stack or SQL.
//!
//! The closure is computed from `cargo metadata --format-version 1 --all-features`: starting at a
//! pure crate, follow only edges that have a normal (non-dev, non-build) dependency kind. The
//! resolve graph is the workspace-wide, feature-unified one, so the check is conservative: a shared
//! dependency that another member builds with a tokio feature counts against the pure crate too,
//! because inside this workspace it really is compiled that way.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// Crates that must stay free of I/O runtimes. Crates missing from the workspace are skipped.
pub const PURE_CRATES: &[&str] = &[
    "anvil-dialects",
    "anvil-config",
    "anvil-classify",
    "anvil-policy",
    "anvil-verify",
];

/// Crates no pure crate may reach. A crate whose name has one of these as a `-`/`_` separated
/// segment (`tokio-util`, `sqlx-core`, `hyper-rustls`, `tokio_macros`) is forbidden as well.
pub const FORBIDDEN: &[&str] = &["tokio", "hyper", "hyper-util", "sqlx", "reqwest", "mio"];

/// Whether `name` is a forbidden crate or a crate that names one.
pub fn is_forbidden(name: &str) -> bool {
    FORBIDDEN.iter().any(|forbidden| {
        name == *forbidden || name.split(['-', '_']).any(|segment| segment == *forbidden)
    })
}

/// The subset of `cargo metadata --format-version 1` output the check reads.
#[derive(Debug, Deserialize)]
pub struct Metadata {
    /// Every package in the graph.
    pub packages: Vec<Package>,
    /// Package ids of the workspace members.
    pub workspace_members: Vec<String>,
    /// The resolved graph; absent only with `--no-deps`.
    pub resolve: Option<Resolve>,
}

/// A package in the metadata.
#[derive(Debug, Deserialize)]
pub struct Package {
    /// Opaque package id.
    pub id: String,
    /// Crate name as published.
    pub name: String,
}

/// The resolved dependency graph.
#[derive(Debug, Deserialize)]
pub struct Resolve {
    /// One node per package.
    pub nodes: Vec<Node>,
}

/// A package and its resolved dependencies.
#[derive(Debug, Deserialize)]
pub struct Node {
    /// Package id of this node.
    pub id: String,
    /// Resolved dependency edges.
    #[serde(default)]
    pub deps: Vec<NodeDep>,
}

/// One resolved dependency edge.
#[derive(Debug, Deserialize)]
pub struct NodeDep {
    /// Package id of the dependency.
    pub pkg: String,
    /// The kinds this edge has (normal, dev, build), possibly several.
    #[serde(default)]
    pub dep_kinds: Vec<DepKind>,
}

/// A dependency kind: `null` for normal, `"dev"` or `"build"`.
#[derive(Debug, Deserialize)]
pub struct DepKind {
    /// `None` means a normal dependency.
    pub kind: Option<String>,
}

impl NodeDep {
    fn is_normal(&self) -> bool {
        self.dep_kinds.iter().any(|kind| kind.kind.is_none())
    }
}

/// A forbidden crate reached from a pure crate, with the path that brings it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Crate names from the pure crate to the forbidden crate, both included.
    pub path: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let forbidden = self.path.last().map_or("?", String::as_str);
        let root = self.path.first().map_or("?", String::as_str);
        write!(
            f,
            "{root} depends on forbidden crate {forbidden}: {}",
            self.path.join(" -> ")
        )
    }
}

/// Outcome of the purity check over a workspace.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Pure crates found in the workspace and checked.
    pub checked: Vec<String>,
    /// Pure crates not (yet) in the workspace.
    pub missing: Vec<String>,
    /// Every forbidden crate reached, each once, by a shortest path.
    pub violations: Vec<Violation>,
}

/// Runs `cargo metadata` on the workspace at `root` and parses it.
pub fn load_metadata(root: &Path) -> Result<Metadata> {
    let output = Command::new(crate::cargo())
        .args(["metadata", "--format-version", "1", "--all-features"])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .output()
        .context("cannot run `cargo metadata`")?;
    if !output.status.success() {
        bail!(
            "`cargo metadata` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    serde_json::from_slice(&output.stdout).context("cannot parse `cargo metadata` output")
}

/// Checks every crate of `pure` that is a workspace member of `metadata`.
pub fn check(metadata: &Metadata, pure: &[&str]) -> Result<Report> {
    let resolve = metadata
        .resolve
        .as_ref()
        .context("`cargo metadata` output has no resolve graph")?;
    let names: HashMap<&str, &str> = metadata
        .packages
        .iter()
        .map(|package| (package.id.as_str(), package.name.as_str()))
        .collect();
    let nodes: HashMap<&str, &Node> = resolve
        .nodes
        .iter()
        .map(|node| (node.id.as_str(), node))
        .collect();

    let mut report = Report::default();
    for &crate_name in pure {
        let member = metadata
            .workspace_members
            .iter()
            .find(|id| names.get(id.as_str()) == Some(&crate_name));
        match member {
            None => report.missing.push(crate_name.to_owned()),
            Some(id) => {
                report.checked.push(crate_name.to_owned());
                report
                    .violations
                    .extend(closure_violations(id, &nodes, &names)?);
            }
        }
    }
    Ok(report)
}

/// Breadth-first walk of the normal-dependency closure of `root`; returns one shortest path to each
/// forbidden crate. The walk does not continue below a forbidden crate: its own dependencies (mio
/// under tokio) would only repeat the same finding.
fn closure_violations(
    root: &str,
    nodes: &HashMap<&str, &Node>,
    names: &HashMap<&str, &str>,
) -> Result<Vec<Violation>> {
    let name_of = |id: &str| -> Result<String> {
        names
            .get(id)
            .map(|name| (*name).to_owned())
            .with_context(|| format!("package `{id}` is in the resolve graph but not in packages"))
    };
    // Parent of each visited id, on a shortest path from root; BTreeMap keeps output stable.
    let mut parent: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    parent.insert(root, None);
    let mut queue = VecDeque::from([root]);
    let mut found = Vec::new();
    while let Some(id) = queue.pop_front() {
        let node = nodes
            .get(id)
            .with_context(|| format!("package `{id}` has no node in the resolve graph"))?;
        for dep in node.deps.iter().filter(|dep| dep.is_normal()) {
            let dep_id = dep.pkg.as_str();
            if parent.contains_key(dep_id) {
                continue;
            }
            parent.insert(dep_id, Some(id));
            if is_forbidden(&name_of(dep_id)?) {
                found.push(dep_id);
            } else {
                queue.push_back(dep_id);
            }
        }
    }
    found
        .into_iter()
        .map(|leaf| {
            let mut path = Vec::new();
            let mut cursor = Some(leaf);
            while let Some(id) = cursor {
                path.push(name_of(id)?);
                cursor = parent.get(id).copied().flatten();
            }
            path.reverse();
            Ok(Violation { path })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn is_forbidden_matches_names_and_name_segments() {
        let cases = [
            ("tokio", true),
            ("hyper", true),
            ("hyper-util", true),
            ("sqlx", true),
            ("reqwest", true),
            ("mio", true),
            ("tokio-util", true),
            ("tokio_macros", true),
            ("sqlx-core", true),
            ("hyper-rustls", true),
            ("reqwest-eventsource", true),
            ("serde", false),
            ("hyperlocal", false),
            ("miow", false),
            ("tokenizers", false),
            ("bytes", false),
        ];
        for (name, expected) in cases {
            assert_eq!(is_forbidden(name), expected, "{name}");
        }
    }

    /// A synthetic graph given as (name, [(dep name, kinds)]) where kind `None` is normal.
    type Edge = (&'static str, &'static [Option<&'static str>]);

    fn metadata(members: &[&str], graph: &[(&str, &[Edge])]) -> Metadata {
        let id = |name: &str| format!("registry+synthetic#{name}@1.0.0");
        let value = json!({
            "packages": graph.iter().map(|(name, _)| json!({"id": id(name), "name": name})).collect::<Vec<_>>(),
            "workspace_members": members.iter().map(|name| id(name)).collect::<Vec<_>>(),
            "resolve": {
                "nodes": graph.iter().map(|(name, deps)| json!({
                    "id": id(name),
                    "deps": deps.iter().map(|(dep, kinds)| json!({
                        "name": dep.replace('-', "_"),
                        "pkg": id(dep),
                        "dep_kinds": kinds.iter().map(|kind| json!({"kind": kind, "target": null})).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            },
        });
        serde_json::from_value(value).unwrap()
    }

    const NORMAL: &[Option<&str>] = &[None];
    const DEV: &[Option<&str>] = &[Some("dev")];
    const BUILD: &[Option<&str>] = &[Some("build")];
    const DEV_AND_NORMAL: &[Option<&str>] = &[Some("dev"), None];

    fn paths(report: &Report) -> Vec<String> {
        report
            .violations
            .iter()
            .map(|v| v.path.join(" -> "))
            .collect()
    }

    #[test]
    fn check_finds_forbidden_crates_in_the_normal_closure_only() {
        struct Case {
            name: &'static str,
            graph: &'static [(&'static str, &'static [Edge])],
            expected: &'static [&'static str],
        }
        let cases = [
            Case {
                name: "clean",
                graph: &[("pure", &[("serde", NORMAL)]), ("serde", &[])],
                expected: &[],
            },
            Case {
                name: "direct",
                graph: &[("pure", &[("tokio", NORMAL)]), ("tokio", &[])],
                expected: &["pure -> tokio"],
            },
            Case {
                name: "transitive, shortest path, not below the forbidden crate",
                graph: &[
                    ("pure", &[("a", NORMAL), ("b", NORMAL)]),
                    ("a", &[("b", NORMAL)]),
                    ("b", &[("c", NORMAL)]),
                    ("c", &[("tokio", NORMAL)]),
                    ("tokio", &[("mio", NORMAL)]),
                    ("mio", &[]),
                ],
                expected: &["pure -> b -> c -> tokio"],
            },
            Case {
                name: "crate that names a forbidden one",
                graph: &[
                    ("pure", &[("a", NORMAL)]),
                    ("a", &[("sqlx-core", NORMAL)]),
                    ("sqlx-core", &[]),
                ],
                expected: &["pure -> a -> sqlx-core"],
            },
            Case {
                name: "dev and build edges are ignored, also below the root",
                graph: &[
                    ("pure", &[("tokio", DEV), ("a", NORMAL), ("hyper", BUILD)]),
                    ("a", &[("reqwest", DEV), ("mio", BUILD)]),
                    ("tokio", &[]),
                    ("hyper", &[]),
                    ("reqwest", &[]),
                    ("mio", &[]),
                ],
                expected: &[],
            },
            Case {
                name: "an edge that is both dev and normal counts",
                graph: &[("pure", &[("hyper", DEV_AND_NORMAL)]), ("hyper", &[])],
                expected: &["pure -> hyper"],
            },
            Case {
                name: "several forbidden crates, each reported once",
                graph: &[
                    ("pure", &[("a", NORMAL), ("b", NORMAL)]),
                    ("a", &[("tokio", NORMAL)]),
                    ("b", &[("tokio", NORMAL), ("reqwest", NORMAL)]),
                    ("tokio", &[]),
                    ("reqwest", &[("tokio", NORMAL)]),
                ],
                expected: &["pure -> a -> tokio", "pure -> b -> reqwest"],
            },
        ];
        for case in cases {
            let report = check(&metadata(&["pure"], case.graph), &["pure"]).unwrap();
            assert_eq!(report.checked, vec!["pure".to_owned()], "{}", case.name);
            assert_eq!(paths(&report), case.expected, "{}", case.name);
        }
    }

    #[test]
    fn check_skips_missing_crates_and_ignores_non_members() {
        // `pure` exists only as a registry package, not a workspace member: not checked.
        let graph: &[(&str, &[Edge])] = &[
            ("member", &[("pure", NORMAL)]),
            ("pure", &[("tokio", NORMAL)]),
            ("tokio", &[]),
        ];
        let report = check(&metadata(&["member"], graph), &["pure", "absent"]).unwrap();
        assert_eq!(
            report,
            Report {
                checked: vec![],
                missing: vec!["pure".to_owned(), "absent".to_owned()],
                violations: vec![],
            }
        );
    }

    #[test]
    fn violation_display_names_root_crate_and_path() {
        let violation = Violation {
            path: vec!["anvil-policy".into(), "a".into(), "tokio".into()],
        };
        assert_eq!(
            violation.to_string(),
            "anvil-policy depends on forbidden crate tokio: anvil-policy -> a -> tokio"
        );
    }

    #[test]
    fn check_rejects_metadata_without_resolve() {
        let metadata: Metadata = serde_json::from_value(
            json!({"packages": [], "workspace_members": [], "resolve": null}),
        )
        .unwrap();
        let error = check(&metadata, PURE_CRATES).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`cargo metadata` output has no resolve graph"
        );
    }
}
