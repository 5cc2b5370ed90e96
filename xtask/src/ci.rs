//! `cargo xtask ci`: format, clippy, cargo-deny, tests, in that order, stopping at the first failure.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// How to get cargo-deny when it is missing.
pub const DENY_INSTALL: &str = "cargo install --locked cargo-deny";

/// The cargo-deny checks `ci` runs. `advisories` is left out on purpose: it fetches the RustSec
/// database from GitHub on every run, so it needs network and its verdict changes from day to day
/// without any change here. Run `cargo deny check advisories` separately where GitHub is reachable.
pub const DENY_CHECKS: &[&str] = &["licenses", "bans", "sources"];

/// Lints silenced on the cargo-deny command line. `unused-wrapper`: deny.toml lists every crate
/// that *may* depend on tokio/hyper/sqlx, including runtime crates that do not exist yet or do not
/// use them yet; a warning per such entry would bury the warnings that matter.
pub const DENY_ALLOWED_LINTS: &[&str] = &["unused-wrapper"];

/// A cargo invocation: `cargo <args>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Arguments after `cargo`.
    pub args: Vec<String>,
}

impl Step {
    fn new(args: &[&str]) -> Self {
        Self {
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cargo {}", self.args.join(" "))
    }
}

/// One entry of the ci plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    /// Run the step; a non-zero exit fails ci.
    Run(Step),
    /// The step's tool is missing and that is allowed here: say so and go on.
    Skip {
        /// The step that would have run.
        step: Step,
        /// Why it did not, and how to make it run.
        reason: String,
    },
    /// The step's tool is missing and that is not allowed here: fail ci at this point.
    Fail {
        /// The step that should have run.
        step: Step,
        /// Why it cannot.
        reason: String,
    },
}

/// Optional tools found on this machine and whether we run under CI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tools {
    /// `cargo nextest` is installed.
    pub nextest: bool,
    /// `cargo deny` is installed.
    pub deny: bool,
    /// The `CI` environment variable is set (non-empty, not `false` or `0`).
    pub ci: bool,
}

impl Tools {
    /// Probes `cargo nextest --version`, `cargo deny --version` and the `CI` variable.
    pub fn detect() -> Self {
        Self {
            nextest: cargo_subcommand_exists("nextest"),
            deny: cargo_subcommand_exists("deny"),
            ci: std::env::var("CI").is_ok_and(|value| is_truthy(&value)),
        }
    }
}

fn is_truthy(value: &str) -> bool {
    !matches!(value.trim(), "" | "0" | "false" | "FALSE" | "False")
}

fn cargo_subcommand_exists(subcommand: &str) -> bool {
    Command::new(crate::cargo())
        .args([subcommand, "--version"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The ci steps, in order, for the given tools.
pub fn plan(tools: Tools) -> Vec<Planned> {
    let mut steps = vec![
        Planned::Run(Step::new(&["fmt", "--all", "--check"])),
        Planned::Run(Step::new(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])),
    ];
    let mut deny = vec!["deny", "check"];
    for lint in DENY_ALLOWED_LINTS {
        deny.extend_from_slice(&["--allow", lint]);
    }
    deny.extend_from_slice(DENY_CHECKS);
    let deny = Step::new(&deny);
    steps.push(match (tools.deny, tools.ci) {
        (true, _) => Planned::Run(deny),
        (false, true) => Planned::Fail {
            step: deny,
            reason: format!(
                "cargo-deny is not installed and CI is set; install it with `{DENY_INSTALL}`"
            ),
        },
        (false, false) => Planned::Skip {
            step: deny,
            reason: format!("cargo-deny is not installed; install it with `{DENY_INSTALL}`"),
        },
    });
    // The end-to-end runs the workspace tests do not cover: the official Python SDKs against the
    // router, and a real llama.cpp model behind it (the Rust black-box tests run with the rest).
    steps.push(Planned::Run(Step::new(&["xtask", "e2e", "--no-tests"])));
    // The benchmark, briefly, so it never rots; no thresholds (CI machines are noisy).
    steps.push(Planned::Run(Step::new(&["xtask", "bench", "--quick"])));
    // The tests run last, so the run's closing lines are the test runner's summary.
    if tools.nextest {
        // nextest does not run doctests.
        steps.push(Planned::Run(Step::new(&["test", "--workspace", "--doc"])));
        steps.push(Planned::Run(Step::new(&["nextest", "run", "--workspace"])));
    } else {
        steps.push(Planned::Run(Step::new(&["test", "--workspace"])));
    }
    steps
}

/// How one step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exited 0.
    Passed,
    /// Skipped, see the plan's reason.
    Skipped,
    /// Failed with this message.
    Failed(String),
}

/// A step that was reached, with its outcome and wall time.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// The command.
    pub step: Step,
    /// How it ended.
    pub outcome: Outcome,
    /// Wall time.
    pub duration: Duration,
}

/// Runs `plan` in `root`, announcing each command on `out` before it runs; stops after the first
/// failure. Returns the reached steps; the last one is the failure if there was one.
pub fn run(root: &Path, plan: &[Planned], out: &mut dyn Write) -> Result<Vec<StepReport>> {
    let mut reports = Vec::new();
    for planned in plan {
        let report = match planned {
            Planned::Run(step) => {
                writeln!(out, "==> {step}")?;
                out.flush()?;
                let start = Instant::now();
                let status = Command::new(crate::cargo())
                    .args(&step.args)
                    .current_dir(root)
                    .status()
                    .with_context(|| format!("cannot start `{step}`"))?;
                let outcome = if status.success() {
                    Outcome::Passed
                } else {
                    Outcome::Failed(format!("`{step}` failed ({status})"))
                };
                StepReport {
                    step: step.clone(),
                    outcome,
                    duration: start.elapsed(),
                }
            }
            Planned::Skip { step, reason } => {
                writeln!(out, "==> skipped `{step}`: {reason}")?;
                StepReport {
                    step: step.clone(),
                    outcome: Outcome::Skipped,
                    duration: Duration::ZERO,
                }
            }
            Planned::Fail { step, reason } => StepReport {
                step: step.clone(),
                outcome: Outcome::Failed(format!("`{step}` cannot run: {reason}")),
                duration: Duration::ZERO,
            },
        };
        let failed = matches!(report.outcome, Outcome::Failed(_));
        reports.push(report);
        if failed {
            break;
        }
    }
    Ok(reports)
}

/// A summary table of the reached steps, one line each.
pub fn summary(reports: &[StepReport]) -> String {
    reports
        .iter()
        .map(|report| {
            let outcome = match &report.outcome {
                Outcome::Passed => "ok",
                Outcome::Skipped => "skipped",
                Outcome::Failed(_) => "FAILED",
            };
            format!(
                "{:>8.1}s  {outcome:<7}  {}\n",
                report.duration.as_secs_f64(),
                report.step
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(plan: &[Planned]) -> Vec<String> {
        plan.iter()
            .map(|planned| match planned {
                Planned::Run(step) => format!("run {step}"),
                Planned::Skip { step, .. } => format!("skip {step}"),
                Planned::Fail { step, .. } => format!("fail {step}"),
            })
            .collect()
    }

    #[test]
    fn plan_depends_on_installed_tools_and_ci() {
        let fmt = "run cargo fmt --all --check";
        let clippy = "run cargo clippy --workspace --all-targets -- -D warnings";
        let nextest = "run cargo nextest run --workspace";
        let doc = "run cargo test --workspace --doc";
        let test = "run cargo test --workspace";
        let deny = "cargo deny check --allow unused-wrapper licenses bans sources";
        let e2e = "run cargo xtask e2e --no-tests";
        let bench = "run cargo xtask bench --quick";
        let cases: [(Tools, Vec<String>); 5] = [
            (
                Tools {
                    nextest: true,
                    deny: true,
                    ci: false,
                },
                vec![
                    fmt.into(),
                    clippy.into(),
                    format!("run {deny}"),
                    e2e.into(),
                    bench.into(),
                    doc.into(),
                    nextest.into(),
                ],
            ),
            (
                Tools {
                    nextest: false,
                    deny: true,
                    ci: true,
                },
                vec![
                    fmt.into(),
                    clippy.into(),
                    format!("run {deny}"),
                    e2e.into(),
                    bench.into(),
                    test.into(),
                ],
            ),
            (
                Tools {
                    nextest: true,
                    deny: false,
                    ci: false,
                },
                vec![
                    fmt.into(),
                    clippy.into(),
                    format!("skip {deny}"),
                    e2e.into(),
                    bench.into(),
                    doc.into(),
                    nextest.into(),
                ],
            ),
            (
                Tools {
                    nextest: true,
                    deny: false,
                    ci: true,
                },
                vec![
                    fmt.into(),
                    clippy.into(),
                    format!("fail {deny}"),
                    e2e.into(),
                    bench.into(),
                    doc.into(),
                    nextest.into(),
                ],
            ),
            (
                Tools {
                    nextest: false,
                    deny: false,
                    ci: false,
                },
                vec![
                    fmt.into(),
                    clippy.into(),
                    format!("skip {deny}"),
                    e2e.into(),
                    bench.into(),
                    test.into(),
                ],
            ),
        ];
        for (tools, expected) in cases {
            assert_eq!(render(&plan(tools)), expected, "{tools:?}");
        }
    }

    #[test]
    fn skip_and_fail_reasons_say_how_to_install_cargo_deny() {
        for ci in [false, true] {
            let plan = plan(Tools {
                nextest: false,
                deny: false,
                ci,
            });
            let reason = plan
                .iter()
                .find_map(|planned| match planned {
                    Planned::Skip { reason, .. } | Planned::Fail { reason, .. } => {
                        Some(reason.clone())
                    }
                    Planned::Run(_) => None,
                })
                .unwrap_or_else(|| panic!("no skipped or failing step in {plan:?}"));
            assert!(reason.contains(DENY_INSTALL), "{reason}");
        }
    }

    #[test]
    fn is_truthy_table() {
        for (value, expected) in [
            ("true", true),
            ("1", true),
            ("yes", true),
            ("", false),
            ("0", false),
            ("false", false),
        ] {
            assert_eq!(is_truthy(value), expected, "{value:?}");
        }
    }

    #[test]
    fn run_announces_each_step_and_stops_at_the_first_failure() {
        let ok = Step::new(&["--version"]);
        let bad = Step::new(&["xtask-no-such-subcommand"]);
        let plan = vec![
            Planned::Run(ok.clone()),
            Planned::Skip {
                step: Step::new(&["deny", "check"]),
                reason: "not installed".into(),
            },
            Planned::Run(bad.clone()),
            Planned::Run(ok.clone()),
        ];
        let mut out = Vec::new();
        let reports = run(&crate::workspace_root(), &plan, &mut out).unwrap();
        let outcomes: Vec<_> = reports.iter().map(|r| r.outcome.clone()).collect();
        assert_eq!(outcomes.len(), 3, "the step after the failure must not run");
        assert_eq!(outcomes[0], Outcome::Passed);
        assert_eq!(outcomes[1], Outcome::Skipped);
        assert!(
            matches!(&outcomes[2], Outcome::Failed(message) if message.starts_with("`cargo xtask-no-such-subcommand` failed")),
            "{outcomes:?}"
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "==> cargo --version\n==> skipped `cargo deny check`: not installed\n==> cargo xtask-no-such-subcommand\n"
        );
        let summary = summary(&reports);
        assert_eq!(summary.lines().count(), 3);
        let last = summary.lines().nth(2).unwrap();
        assert!(
            last.contains(" FAILED ") && last.ends_with(" cargo xtask-no-such-subcommand"),
            "{last:?}"
        );
    }

    #[test]
    fn run_fails_at_a_planned_failure_without_running_anything_after_it() {
        let plan = vec![
            Planned::Fail {
                step: Step::new(&["deny", "check"]),
                reason: "cargo-deny is not installed and CI is set".into(),
            },
            Planned::Run(Step::new(&["--version"])),
        ];
        let mut out = Vec::new();
        let reports = run(&crate::workspace_root(), &plan, &mut out).unwrap();
        assert_eq!(reports.len(), 1);
        assert_eq!(
            reports[0].outcome,
            Outcome::Failed(
                "`cargo deny check` cannot run: cargo-deny is not installed and CI is set".into()
            )
        );
        assert!(out.is_empty());
    }
}
