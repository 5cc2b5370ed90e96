use super::*;

/// A minimal valid file; cases below replace or append lines, so positions are easy to read.
const BASE: &str = r#"[router]
mapping_version = "v1"

[[router.tiers]]
id = "fast-local"
base_url = "http://127.0.0.1:30001/v1"
dialect = "openai"
context_limit = 32768
privacy = "local"
tool_support = true
"#;

/// BASE with line `n` (1-based) replaced by `text`.
fn replace(n: usize, text: &str) -> String {
    let mut lines: Vec<&str> = BASE.lines().collect();
    lines[n - 1] = text;
    lines.join("\n") + "\n"
}

/// BASE with `text` appended (its first line is line 11).
fn append(text: &str) -> String {
    format!("{BASE}{text}\n")
}

/// `text` followed by BASE.
fn prepend(text: &str) -> String {
    format!("{text}\n{BASE}")
}

const SECOND_TIER: &str = r#"[[router.tiers]]
id = "heavy-local"
base_url = "http://127.0.0.1:30000/v1"
dialect = "openai"
context_limit = 131072
privacy = "local"
tool_support = true"#;

/// (line, column, dotted key, substring of the message)
type Expected = (usize, usize, &'static str, &'static str);

fn check(src: &str, expected: &[Expected]) {
    let errs = match parse(src) {
        Ok(cfg) => panic!("expected errors {expected:?}, parsed fine: {cfg:?}\n--- source\n{src}"),
        Err(e) => e,
    };
    let got: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        errs.len(),
        expected.len(),
        "wrong number of errors: {got:#?}\n--- source\n{src}"
    );
    for (d, (line, col, key, msg)) in errs.iter().zip(expected) {
        assert_eq!(
            (d.line, d.column, d.key.as_str()),
            (*line, *col, *key),
            "location of {d}\n--- source\n{src}"
        );
        assert!(d.message.contains(msg), "message of {d} lacks {msg:?}");
    }
}

#[test]
fn single_errors_are_located_by_line_column_and_dotted_key() {
    let cases: Vec<(String, Vec<Expected>)> = vec![
        // --- unknown keys, with suggestions
        (prepend("colour = 1"), vec![(1, 1, "colour", "unknown key \"colour\"")]),
        (
            prepend("mapping_version = \"v\""),
            vec![(1, 1, "mapping_version", "put it under [router]")],
        ),
        (
            replace(3, "claude_logs = \"~/logs\""),
            vec![(3, 1, "router.claude_logs", "substrate keys go at the top")],
        ),
        (
            append("dialekt = \"openai\""),
            vec![(11, 1, "router.tiers[0].dialekt", "did you mean \"dialect\"?")],
        ),
        (
            append("[router.limit]\nmax_concurrency = 4"),
            vec![(11, 9, "router.limit", "did you mean \"limits\"?")],
        ),
        (
            replace(2, "mapping_version = \"v1\"\nprofile_refresh_s = 0"),
            vec![(3, 21, "router.profile_refresh_s", "must be a positive number of seconds")],
        ),
        (
            replace(2, "mapping_version = \"v1\"\ndatabase_url = \" \""),
            vec![(3, 16, "router.database_url", "must not be empty")],
        ),
        (
            append("[router.timeouts]\nidle = 5"),
            vec![(12, 1, "router.timeouts.idle", "did you mean \"idle_s\"?")],
        ),
        (
            replace(10, "tool_sopport = true"),
            vec![
                (4, 1, "router.tiers[0].tool_support", "missing required key"),
                (10, 1, "router.tiers[0].tool_sopport", "did you mean \"tool_support\"?"),
            ],
        ),
        (
            replace(2, "mapping_versoin = \"v1\""),
            vec![
                (1, 1, "router.mapping_version", "missing required key"),
                (2, 1, "router.mapping_versoin", "did you mean \"mapping_version\"?"),
            ],
        ),
        // --- [router] scalars
        (replace(2, ""), vec![(1, 1, "router.mapping_version", "missing required key")]),
        (
            replace(2, "mapping_version = \"\""),
            vec![(2, 19, "router.mapping_version", "must not be empty")],
        ),
        (
            replace(2, "mapping_version = 7"),
            vec![(2, 19, "router.mapping_version", "expected a string, found an integer")],
        ),
        (
            replace(3, "exhaustion_status = 200"),
            vec![(3, 21, "router.exhaustion_status", "400–599")],
        ),
        (
            replace(3, "exhaustion_status = true"),
            vec![(3, 21, "router.exhaustion_status", "expected an integer, found a boolean")],
        ),
        (
            replace(3, "cost_sync = \"yes\""),
            vec![(3, 13, "router.cost_sync", "expected a boolean")],
        ),
        (
            replace(3, "data_dir = \"\""),
            vec![(3, 12, "router.data_dir", "must not be empty")],
        ),
        (
            replace(3, "metered_cloud = [\"quick-edit\"]"),
            vec![(
                3,
                18,
                "router.metered_cloud[0]",
                "\"quick-edit\" is a preset; metered_cloud takes work classes: use \"bounded-edit\"",
            )],
        ),
        (
            replace(3, "metered_cloud = [\"planning\", \"planing\"]"),
            vec![(3, 30, "router.metered_cloud[1]", "did you mean \"planning\"?")],
        ),
        (
            replace(3, "metered_cloud = [\"chat\", \"chat\"]"),
            vec![(3, 26, "router.metered_cloud[1]", "duplicate work class")],
        ),
        (
            replace(3, "metered_cloud = \"planning\""),
            vec![(3, 17, "router.metered_cloud", "expected an array of strings, found a string")],
        ),
        (
            replace(3, "metered_cloud = [\"planning\", 3]"),
            vec![(3, 30, "router.metered_cloud[1]", "expected a string, found an integer")],
        ),
        // --- [router.listen]
        (
            append("[router.listen]\nport = 70000"),
            vec![(12, 8, "router.listen.port", "0–65535")],
        ),
        (
            append("[router.listen]\nhost = \"http://x\""),
            vec![(12, 8, "router.listen.host", "not a host name or IP address")],
        ),
        (
            replace(3, "listen = \"127.0.0.1:8000\""),
            vec![(3, 10, "router.listen", "expected a table, found a string")],
        ),
        // --- [router.timeouts]
        (
            append("[router.timeouts]\nfirst_byte_s = 0"),
            vec![(12, 16, "router.timeouts.first_byte_s", "positive number of seconds")],
        ),
        (
            append("[router.timeouts]\nconnect_s = -1.5"),
            vec![(12, 13, "router.timeouts.connect_s", "positive number of seconds")],
        ),
        (
            append("[router.timeouts]\nidle_s = \"60\""),
            vec![(12, 10, "router.timeouts.idle_s", "expected a number, found a string")],
        ),
        (
            append("[router.timeouts]\nfirst_byte_s = 4000"),
            vec![(12, 16, "router.timeouts.first_byte_s", "must not exceed total_s (1800 s)")],
        ),
        (
            append("[router.timeouts]\ntotal_s = 100"),
            vec![(12, 11, "router.timeouts.total_s", "first_byte_s (300 s) must not exceed")],
        ),
        // --- [router.limits]
        (
            append("[router.limits]\nmax_body_bytes = -1"),
            vec![(12, 18, "router.limits.max_body_bytes", "positive integer")],
        ),
        (
            append("[router.limits]\nmax_concurrency = 0"),
            vec![(12, 19, "router.limits.max_concurrency", "positive integer")],
        ),
        (
            append("[router.limits]\nshutdown_grace_s = -1"),
            vec![(12, 20, "router.limits.shutdown_grace_s", "≥ 0")],
        ),
        // --- [[router.tiers]] fields
        (
            replace(5, "id = \"Fast\""),
            vec![(5, 6, "router.tiers[0].id", "invalid tier id \"Fast\"")],
        ),
        (
            replace(5, "id = \"\""),
            vec![(5, 6, "router.tiers[0].id", "invalid tier id")],
        ),
        (
            replace(6, "base_url = \"ftp://example.com\""),
            vec![(6, 12, "router.tiers[0].base_url", "scheme must be http or https")],
        ),
        (
            replace(6, "base_url = \"127.0.0.1:30001\""),
            vec![(6, 12, "router.tiers[0].base_url", "not a URL")],
        ),
        (
            replace(6, "base_url = \"http://\""),
            vec![(6, 12, "router.tiers[0].base_url", "not a URL: missing host")],
        ),
        (
            replace(6, "base_url = \"http://h:99999/v1\""),
            vec![(6, 12, "router.tiers[0].base_url", "not a URL: bad port")],
        ),
        (
            replace(6, "base_url = \"https://user:pw@example.com\""),
            vec![(6, 12, "router.tiers[0].base_url", "must not contain credentials")],
        ),
        (
            replace(6, "base_url = 5"),
            vec![(6, 12, "router.tiers[0].base_url", "expected a string, found an integer")],
        ),
        (
            replace(7, "dialect = \"gemini\""),
            vec![(
                7,
                11,
                "router.tiers[0].dialect",
                "unknown dialect \"gemini\" (valid: openai, anthropic, responses)",
            )],
        ),
        (
            replace(8, "context_limit = 0"),
            vec![(8, 17, "router.tiers[0].context_limit", "positive integer")],
        ),
        (
            replace(8, "context_limit = 1.5"),
            vec![(8, 17, "router.tiers[0].context_limit", "expected an integer, found a float")],
        ),
        (
            replace(9, "privacy = \"public\""),
            vec![(9, 11, "router.tiers[0].privacy", "(valid: local, cloud)")],
        ),
        (
            replace(9, "privacy = \"cloud\""),
            vec![(4, 1, "router.tiers[0].auth_env", "required for a cloud tier")],
        ),
        (
            replace(10, "tool_support = \"yes\""),
            vec![(10, 16, "router.tiers[0].tool_support", "expected a boolean")],
        ),
        (
            append("vision = 1"),
            vec![(11, 10, "router.tiers[0].vision", "expected a boolean")],
        ),
        (
            append("model = 3"),
            vec![(11, 9, "router.tiers[0].model", "expected a string")],
        ),
        (
            append("auth_env = \"my_key\""),
            vec![(11, 12, "router.tiers[0].auth_env", "not an environment variable name")],
        ),
        (
            append("auth_env = \"1KEY\""),
            vec![(11, 12, "router.tiers[0].auth_env", "not an environment variable name")],
        ),
        (
            append("auth_env = \"sk-ant-api03-abcdef\""),
            vec![(11, 12, "router.tiers[0].auth_env", "looks like a secret")],
        ),
        (
            append("auth_env = \"AKIAIOSFODNN7EXAMPLE\""),
            vec![(11, 12, "router.tiers[0].auth_env", "looks like a secret")],
        ),
        (
            append("cost_input_per_mtok = -1"),
            vec![(11, 23, "router.tiers[0].cost_input_per_mtok", "≥ 0")],
        ),
        (
            append("cost_output_per_mtok = true"),
            vec![(11, 24, "router.tiers[0].cost_output_per_mtok", "expected a number, found a boolean")],
        ),
        (
            append("cost_output_per_mtok = nan"),
            vec![(11, 24, "router.tiers[0].cost_output_per_mtok", "expected a number, found a float")],
        ),
        // --- tier list shape and cross-checks
        (
            append(&SECOND_TIER.replace("heavy-local", "fast-local")),
            vec![(12, 6, "router.tiers[1].id", "duplicate tier id \"fast-local\" (first declared at router.tiers[0])")],
        ),
        (
            "[router]\nmapping_version = \"v\"\n".to_owned(),
            vec![(1, 1, "router.tiers", "at least one tier is required")],
        ),
        (
            "[router]\nmapping_version = \"v\"\ntiers = []\n".to_owned(),
            vec![(3, 9, "router.tiers", "at least one tier is required")],
        ),
        (
            "[router]\nmapping_version = \"v\"\ntiers = \"fast\"\n".to_owned(),
            vec![(3, 9, "router.tiers", "expected an array of tables, found a string")],
        ),
        (
            "[router]\nmapping_version = \"v\"\ntiers = [1]\n".to_owned(),
            vec![(3, 10, "router.tiers[0]", "expected a table, found an integer")],
        ),
        // --- [router.presets]
        (
            append("[router.presets]\nchat = [\"fast-local\", \"heavy-local\"]"),
            vec![(12, 23, "router.presets.chat[1]", "unknown tier \"heavy-local\" (declared tiers: fast-local)")],
        ),
        (
            append("[router.presets]\nchat = [\"fast-locl\"]"),
            vec![(12, 9, "router.presets.chat[0]", "did you mean \"fast-local\"?")],
        ),
        (
            append("[router.presets]\nchat = [\"fast-local\", \"fast-local\"]"),
            vec![(12, 23, "router.presets.chat[1]", "duplicate tier \"fast-local\"")],
        ),
        (
            append("[router.presets]\nchat = []"),
            vec![(12, 8, "router.presets.chat", "must name at least one tier")],
        ),
        (
            append("[router.presets]\nchat = \"fast-local\""),
            vec![(12, 8, "router.presets.chat", "expected an array of tier ids, found a string")],
        ),
        (
            append("[router.presets]\nchat = [1]"),
            vec![(12, 9, "router.presets.chat[0]", "expected a tier id string, found an integer")],
        ),
        (
            append("[router.presets]\nchat = [\"fast-local\"]\nChat = [\"fast-local\"]"),
            vec![(13, 1, "router.presets.Chat", "match case-insensitively")],
        ),
        (
            append("[router.presets]\n\"my preset\" = [\"nope\"]"),
            vec![(12, 16, "router.presets.\"my preset\"[0]", "unknown tier \"nope\"")],
        ),
        (
            replace(3, "presets = [\"chat\"]"),
            vec![(3, 11, "router.presets", "expected a table, found an array")],
        ),
        // --- substrate keys
        (prepend("gpu_index = -1"), vec![(1, 13, "gpu_index", "non-negative integer")]),
        (
            prepend("hf_extra_roots = [\"é\", 1]"),
            // column counts characters, not bytes
            vec![(1, 24, "hf_extra_roots[1]", "expected a string, found an integer")],
        ),
        (
            prepend("model_dirs = \"/models\""),
            vec![(1, 14, "model_dirs", "expected an array of strings")],
        ),
        (prepend("served_model_name = \"\""), vec![(1, 21, "served_model_name", "must not be empty")]),
        (prepend("claude_logs = false"), vec![(1, 15, "claude_logs", "expected a string")]),
        // --- the document itself
        ("claude_logs = \"x\"\n".to_owned(), vec![(1, 1, "router", "missing required table [router]")]),
        ("router = 5\n".to_owned(), vec![(1, 10, "router", "expected a table, found an integer")]),
        ("[router\n".to_owned(), vec![(1, 8, "", "invalid TOML")]),
        (
            "[router]\nmapping_version = \"a\"\nmapping_version = \"b\"\n".to_owned(),
            vec![(3, 1, "", "invalid TOML: duplicate key")],
        ),
    ];
    for (src, expected) in &cases {
        check(src, expected);
    }
}

#[test]
fn secret_values_are_never_echoed() {
    for secret in [
        "sk-ant-api03-abcdef",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_abcdef0123456789",
    ] {
        let errs = parse(&append(&format!("auth_env = \"{secret}\""))).unwrap_err();
        let text = errs.to_string();
        assert!(text.contains("looks like a secret"), "{text}");
        assert!(!text.contains(secret), "secret echoed: {text}");
    }
    let url = "https://user:hunter2@example.com";
    let errs = parse(&replace(6, &format!("base_url = \"{url}\""))).unwrap_err();
    assert!(!errs.to_string().contains("hunter2"), "{errs}");
}

#[test]
fn all_errors_are_reported_at_once() {
    let src = r#"gpu_index = "zero"
[router]
mapping_version = "v1"
metered_cloud = ["quick-edit"]
exhaustion_status = 99

[[router.tiers]]
id = "fast-local"
base_url = "localhost:30001"
dialect = "openai"
context_limit = 32768
privacy = "local"
tool_support = true
colour = "red"

[[router.tiers]]
id = "fast-local"
base_url = "https://api.anthropic.com"
dialect = "claude"
context_limit = 200000
privacy = "cloud"
tool_support = true
auth_env = "sk-ant-secret-value"

[router.presets]
chat = ["fast-local", "cloud"]
"#;
    check(
        src,
        &[
            (1, 13, "gpu_index", "expected an integer, found a string"),
            (4, 18, "router.metered_cloud[0]", "use \"bounded-edit\""),
            (5, 21, "router.exhaustion_status", "400–599"),
            (9, 12, "router.tiers[0].base_url", "not a URL"),
            (14, 1, "router.tiers[0].colour", "unknown key \"colour\""),
            (17, 6, "router.tiers[1].id", "duplicate tier id"),
            (
                19,
                11,
                "router.tiers[1].dialect",
                "unknown dialect \"claude\"",
            ),
            (23, 12, "router.tiers[1].auth_env", "looks like a secret"),
            (26, 23, "router.presets.chat[1]", "unknown tier \"cloud\""),
        ],
    );
}

#[test]
fn display_is_line_col_key_message() {
    let errs = parse(&replace(7, "dialect = \"gemini\"")).unwrap_err();
    assert_eq!(
        errs.to_string(),
        "7:11: router.tiers[0].dialect: unknown dialect \"gemini\" (valid: openai, anthropic, responses)"
    );
    let errs = parse("[router\n").unwrap_err();
    let text = errs.to_string();
    assert!(text.starts_with("1:8: invalid TOML: "), "{text}");
    assert!(!text.contains('\n'), "one line per error: {text:?}");
}

#[test]
fn minimal_file_gets_defaults() {
    let cfg = parse(BASE).unwrap();
    let r = &cfg.router;
    assert_eq!(r.mapping_version, "v1");
    assert_eq!(r.exhaustion_status, 503);
    assert!(!r.cost_sync);
    assert!(r.metered_cloud.is_empty());
    assert_eq!(
        r.listen,
        Listen {
            host: "127.0.0.1".into(),
            port: 8000
        }
    );
    assert_eq!(r.data_dir, "~/.local/share/anvil");
    assert_eq!(r.database_url, None);
    assert_eq!(r.profile_refresh, Duration::from_secs(2));
    assert_eq!(r.decision_log_jsonl, None);
    assert!(!r.decision_log_prompts);
    assert_eq!(
        r.timeouts,
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(300),
            idle: Duration::from_secs(120),
            total: Duration::from_secs(1800),
        }
    );
    assert_eq!(
        r.limits,
        Limits {
            max_body_bytes: 33_554_432,
            max_concurrency: 64,
            shutdown_grace: Duration::from_secs(30),
            max_attempts: 3,
        }
    );
    assert!(r.presets.is_empty());
    assert_eq!(
        r.tiers,
        vec![Tier {
            id: "fast-local".into(),
            base_url: "http://127.0.0.1:30001/v1".into(),
            dialect: Dialect::OpenAi,
            model: None,
            context_limit: 32768,
            privacy: Privacy::Local,
            tool_support: true,
            vision: false,
            auth_env: None,
            cost_input_per_mtok: None,
            cost_output_per_mtok: None,
        }]
    );
    assert_eq!(
        cfg.substrate,
        SubstrateConfig {
            claude_logs: "~/.claude/projects".into(),
            hf_extra_roots: vec![],
            model_dirs: vec![],
            gpu_index: 0,
            served_model_name: "local-specialist".into(),
        }
    );
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}

#[test]
fn every_key_is_read() {
    let src = r#"claude_logs = "/data/claude"
hf_extra_roots = ["/mnt/hf"]
model_dirs = ["/models", "/more"]
gpu_index = 1
served_model_name = "coder"

[router]
mapping_version = "2026-06-30.0"
metered_cloud = ["planning", "bounded-edit"]
exhaustion_status = 424
cost_sync = true
data_dir = "/var/lib/anvil"
listen = { host = "::1", port = 0 }

[router.timeouts]
connect_s = 2.5
first_byte_s = 60
idle_s = 30
total_s = 600

[router.limits]
max_body_bytes = 1048576
max_concurrency = 8
shutdown_grace_s = 0

[[router.tiers]]
id = "local.a_1"
base_url = "http://[::1]:30001/v1"
dialect = "responses"
model = ""
context_limit = 8192
privacy = "local"
tool_support = false
auth_env = "_LOCAL_KEY"

[[router.tiers]]
id = "cloud"
base_url = "HTTPS://api.anthropic.com"
dialect = "anthropic"
model = "claude-sonnet-4-5"
context_limit = 200000
privacy = "cloud"
tool_support = true
vision = true
auth_env = "ANTHROPIC_API_KEY"
cost_input_per_mtok = 3
cost_output_per_mtok = 15.0

[router.presets]
planning = ["cloud"]
my-custom = ["local.a_1", "cloud"]
"#;
    let cfg = parse(src).unwrap();
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    assert_eq!(
        cfg.substrate,
        SubstrateConfig {
            claude_logs: "/data/claude".into(),
            hf_extra_roots: vec!["/mnt/hf".into()],
            model_dirs: vec!["/models".into(), "/more".into()],
            gpu_index: 1,
            served_model_name: "coder".into(),
        }
    );
    let r = &cfg.router;
    assert_eq!(
        r.metered_cloud,
        vec![WorkClass::Planning, WorkClass::BoundedEdit]
    );
    assert_eq!(r.exhaustion_status, 424);
    assert!(r.cost_sync);
    assert_eq!(r.data_dir, "/var/lib/anvil");
    assert_eq!(
        r.listen,
        Listen {
            host: "::1".into(),
            port: 0
        }
    );
    assert_eq!(r.timeouts.connect, Duration::from_millis(2500));
    assert_eq!(r.timeouts.first_byte, Duration::from_secs(60));
    assert_eq!(r.timeouts.idle, Duration::from_secs(30));
    assert_eq!(r.timeouts.total, Duration::from_secs(600));
    assert_eq!(
        r.limits,
        Limits {
            max_body_bytes: 1_048_576,
            max_concurrency: 8,
            shutdown_grace: Duration::ZERO,
            max_attempts: 3,
        }
    );
    let local = r.tier("local.a_1").unwrap();
    assert_eq!(local.dialect, Dialect::Responses);
    assert_eq!(local.model, None, "empty model means none");
    assert_eq!(local.auth_env.as_deref(), Some("_LOCAL_KEY"));
    assert!(!local.tool_support && !local.vision && !local.is_cloud());
    let cloud = r.tier("cloud").unwrap();
    assert_eq!(
        cloud,
        &Tier {
            id: "cloud".into(),
            base_url: "HTTPS://api.anthropic.com".into(),
            dialect: Dialect::Anthropic,
            model: Some("claude-sonnet-4-5".into()),
            context_limit: 200_000,
            privacy: Privacy::Cloud,
            tool_support: true,
            vision: true,
            auth_env: Some("ANTHROPIC_API_KEY".into()),
            cost_input_per_mtok: Some(3.0),
            cost_output_per_mtok: Some(15.0),
        }
    );
    assert_eq!(
        r.presets,
        vec![
            Preset {
                name: "planning".into(),
                tiers: vec!["cloud".into()]
            },
            Preset {
                name: "my-custom".into(),
                tiers: vec!["local.a_1".into(), "cloud".into()]
            },
        ]
    );
    assert_eq!(
        r.preset("MY-CUSTOM").map(|p| p.name.as_str()),
        Some("my-custom")
    );
    assert!(r.preset("review").is_none());
}

#[test]
fn inline_and_dotted_tables_are_accepted() {
    let src = r#"[router]
mapping_version = "v"
timeouts.total_s = 900
tiers = [
  { id = "a", base_url = "http://localhost:1", dialect = "openai", context_limit = 1, privacy = "local", tool_support = true },
]
presets = { chat = ["a"] }
"#;
    let cfg = parse(src).unwrap();
    assert_eq!(cfg.router.timeouts.total, Duration::from_secs(900));
    assert_eq!(cfg.router.tiers[0].id, "a");
    assert_eq!(cfg.router.presets[0].tiers, vec!["a".to_owned()]);

    // errors inside inline tables are located too
    check(
        &src.replace("dialect = \"openai\"", "dialect = \"x\""),
        &[(5, 58, "router.tiers[0].dialect", "unknown dialect")],
    );
}

#[test]
fn warnings_do_not_fail_the_parse() {
    // metered class but no cloud tier
    let cfg = parse(&replace(3, "metered_cloud = [\"planning\"]")).unwrap();
    let w: Vec<String> = cfg.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        vec!["3:18: router.metered_cloud[0]: work class \"planning\" is metered but no tier has privacy = \"cloud\""]
    );

    // cloud tier without a model; over plain http
    let src = replace(9, "privacy = \"cloud\"") + "auth_env = \"KEY\"\n";
    let cfg = parse(&src).unwrap();
    let w: Vec<(usize, usize, &str)> = cfg
        .warnings
        .iter()
        .map(|d| (d.line, d.column, d.key.as_str()))
        .collect();
    assert_eq!(
        w,
        vec![
            (4, 1, "router.tiers[0].model"),
            (6, 12, "router.tiers[0].base_url")
        ]
    );

    // a tier id that shadows a preset name
    let src = replace(5, "id = \"chat\"") + "[router.presets]\nchat = [\"chat\"]\n";
    let cfg = parse(&src).unwrap();
    assert_eq!(cfg.warnings.len(), 1, "{:?}", cfg.warnings);
    assert!(cfg.warnings[0].message.contains("tier:chat"));
    assert_eq!((cfg.warnings[0].line, cfg.warnings[0].column), (5, 6));
}

#[test]
fn shipped_example_is_local_only() {
    let cfg = parse(include_str!("../../../configs/example.toml")).unwrap();
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    let r = &cfg.router;
    assert_eq!(r.mapping_version, "2026-06-30.0");
    assert!(r.metered_cloud.is_empty());
    assert!(r.tiers.iter().all(|t| !t.is_cloud()));
    let ids: Vec<&str> = r.tiers.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["fast-local", "heavy-local"]);
    assert!(r.tiers.iter().all(|t| t.dialect == Dialect::OpenAi));
    let presets: Vec<(&str, Vec<&str>)> = r
        .presets
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.tiers.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        presets,
        vec![
            ("chat", vec!["fast-local", "heavy-local"]),
            ("quick-edit", vec!["fast-local", "heavy-local"]),
            ("review", vec!["heavy-local"]),
            ("planning", vec!["heavy-local"]),
            ("long-context", vec!["heavy-local"]),
        ]
    );
    // the commented-out tables document the defaults
    assert_eq!(r.timeouts, Timeouts::default());
    assert_eq!(r.limits, Limits::default());
}

#[test]
fn shipped_cloud_example_names_its_model() {
    let cfg = parse(include_str!("../../../configs/example-with-cloud.toml")).unwrap();
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    let r = &cfg.router;
    assert_eq!(r.metered_cloud, vec![WorkClass::Planning]);
    let cloud = r.tier("cloud").unwrap();
    assert_eq!(cloud.privacy, Privacy::Cloud);
    assert_eq!(cloud.dialect, Dialect::Anthropic);
    assert_eq!(cloud.base_url, "https://api.anthropic.com");
    assert_eq!(cloud.auth_env.as_deref(), Some("ANTHROPIC_API_KEY"));
    assert_eq!(cloud.model.as_deref(), Some("claude-sonnet-4-5"));
    assert_eq!(cloud.cost_input_per_mtok, Some(3.0));
    assert_eq!(cloud.cost_output_per_mtok, Some(15.0));
    let presets: Vec<(&str, Vec<&str>)> = r
        .presets
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.tiers.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        presets,
        vec![
            ("chat", vec!["fast-local", "cloud"]),
            ("quick-edit", vec!["fast-local", "heavy-local", "cloud"]),
            ("review", vec!["heavy-local", "cloud"]),
            ("planning", vec!["cloud"]),
            ("long-context", vec!["heavy-local", "cloud"]),
        ]
    );
}

#[test]
fn base_url_check() {
    let cases: &[(&str, Result<(), &str>)] = &[
        ("http://127.0.0.1:30001/v1", Ok(())),
        ("https://api.anthropic.com", Ok(())),
        ("HTTP://Example.COM/", Ok(())),
        ("http://[::1]:8080/v1", Ok(())),
        ("http://my-host.internal:1/a/b", Ok(())),
        ("ftp://x", Err("scheme must be http or https")),
        ("file:///etc/passwd", Err("scheme must be http or https")),
        ("javascript:alert(1)", Err("not a URL")),
        ("gopher://x", Err("scheme must be http or https")),
        ("//x", Err("not a URL: expected scheme://host")),
        ("1http://x", Err("not a URL: bad scheme")),
        ("http://", Err("not a URL: missing host")),
        ("http:///v1", Err("not a URL: missing host")),
        ("http://:80", Err("not a URL: missing host")),
        ("http://ho st", Err("not a URL: contains whitespace")),
        ("http://h_st", Err("not a URL: bad host")),
        ("http://h:", Err("not a URL: bad port")),
        ("http://h:x", Err("not a URL: bad port")),
        ("http://[::1", Err("not a URL: unclosed")),
        ("http://[zz]:1", Err("not a URL: bad IPv6")),
        ("http://h/v1?x=1", Err("query or fragment")),
        ("http://u@h", Err("credentials")),
    ];
    for (url, want) in cases {
        match (check_base_url(url), want) {
            (Ok(()), Ok(())) => {}
            (Err(got), Err(w)) => assert!(got.contains(w), "{url}: {got} lacks {w}"),
            (got, w) => panic!("{url}: got {got:?}, want {w:?}"),
        }
    }
}

#[test]
fn env_name_check() {
    let cases: &[(&str, Option<&str>)] = &[
        ("ANTHROPIC_API_KEY", None),
        ("_X", None),
        ("A1", None),
        (
            "anthropic_api_key",
            Some("not an environment variable name"),
        ),
        ("1A", Some("not an environment variable name")),
        ("", Some("not an environment variable name")),
        ("A-B", Some("not an environment variable name")),
        ("sk-proj-abcdef", Some("looks like a secret")),
        ("sk_live_abcdef", Some("looks like a secret")),
        ("AKIAABCDEFGHIJKLMNOP", Some("looks like a secret")),
        ("ASIA0123456789ABCDEF", Some("looks like a secret")),
        ("AIzaSyA1234567890", Some("looks like a secret")),
        ("Bearer abcdef", Some("looks like a secret")),
        ("xoxb-123", Some("looks like a secret")),
        ("hf_abcdef", Some("looks like a secret")),
        (
            "ABCDEF0123456789ABCDEF0123456789",
            Some("looks like a secret"),
        ),
        ("AKIA_KEY", None),
    ];
    for (name, want) in cases {
        match (check_env_name(name), want) {
            (Ok(()), None) => {}
            (Err(got), Some(w)) => assert!(got.contains(w), "{name}: {got} lacks {w}"),
            (got, w) => panic!("{name:?}: got {got:?}, want {w:?}"),
        }
    }
}

#[test]
fn suggestions() {
    let cases: &[(&str, &[&str], Option<&str>)] = &[
        ("dialekt", TIER_KEYS, Some("dialect")),
        ("BASE_URL", TIER_KEYS, Some("base_url")),
        ("contextlimit", TIER_KEYS, Some("context_limit")),
        ("colour", TIER_KEYS, None),
        ("x", TIER_KEYS, None),
        ("timeout", ROUTER_KEYS, Some("timeouts")),
    ];
    for (s, cands, want) in cases {
        assert_eq!(closest(s, cands), *want, "{s}");
    }
    assert_eq!(levenshtein("kitten", "sitting"), 3);
    assert_eq!(levenshtein("", "abc"), 3);
    assert_eq!(levenshtein("same", "same"), 0);
}

#[test]
fn enum_spellings_round_trip() {
    for d in Dialect::ALL {
        assert_eq!(Dialect::from_name(d.as_str()), Some(d));
    }
    for p in Privacy::ALL {
        assert_eq!(Privacy::from_name(p.as_str()), Some(p));
    }
    for w in WorkClass::ALL {
        assert_eq!(WorkClass::from_name(&w.to_string()), Some(w));
    }
    assert_eq!(Dialect::from_name("OpenAI"), None);
    assert_eq!(WorkClass::from_name("quick-edit"), None);
}

/// Every diagnostic points inside the source and its line/column agree with its span.
fn assert_located(src: &str, diags: &[Diagnostic]) {
    let line_count = src.lines().count().max(1);
    for d in diags {
        assert!(d.span.start <= src.len(), "{d} span out of range");
        assert!(
            d.line >= 1 && d.line <= line_count + 1,
            "{d} line out of range"
        );
        assert!(d.column >= 1, "{d}");
        let before = &src[..d.span.start];
        assert_eq!(d.line, before.matches('\n').count() + 1, "{d}");
    }
}

#[test]
fn deleting_any_line_of_the_cloud_example_never_panics_and_stays_located() {
    let src = include_str!("../../../configs/example-with-cloud.toml");
    let lines: Vec<&str> = src.lines().collect();
    let mut failures = 0;
    for skip in 0..lines.len() {
        let mutated: String = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        match parse(&mutated) {
            Ok(cfg) => assert_located(&mutated, &cfg.warnings),
            Err(e) => {
                failures += 1;
                assert_located(&mutated, &e.errors);
            }
        }
    }
    // Removing a required key, a header or a preset's tier breaks the file; comments do not.
    assert!(
        failures > 10 && failures < lines.len(),
        "{failures} of {}",
        lines.len()
    );
}

proptest::proptest! {
    #[test]
    fn arbitrary_input_never_panics(src in "(\\[router\\]\n|\\[\\[router.tiers\\]\\]\n|[a-z_]{1,12} = (\"[a-zé:/.0-9]{0,12}\"|-?[0-9]{1,6}|true|\\[\"[a-z-]{0,10}\"\\]|\\{ [a-z_]{1,8} = 1 \\})\n|# é\n){0,20}") {
        match parse(&src) {
            Ok(cfg) => assert_located(&src, &cfg.warnings),
            Err(e) => {
                proptest::prop_assert!(!e.is_empty());
                assert_located(&src, &e.errors);
            }
        }
    }

    #[test]
    fn any_single_unknown_tier_key_is_named(key in "[a-z][a-z_]{0,15}") {
        proptest::prop_assume!(!TIER_KEYS.contains(&key.as_str()));
        let errs = parse(&append(&format!("{key} = 1"))).unwrap_err();
        proptest::prop_assert_eq!(errs.len(), 1);
        let d = &errs.errors[0];
        proptest::prop_assert_eq!((d.line, d.column), (11, 1));
        proptest::prop_assert_eq!(d.key.clone(), format!("router.tiers[0].{key}"));
    }
}

#[test]
fn fallback_sections_are_read() {
    let src = append(
        r#"[router.limits]
max_attempts = 2

[router.verify]
enabled = true
logprob_floor = -2.5
[router.verify.checks]
refusal = false
code-does-not-parse = ["bounded-edit", "multi-file-refactor"]
empty = true

[router.commit_window]
max_bytes = 65536
max_s = 30
on_exceeded = "fail-over"
keepalive_s = 2.5

[router.budgets]
session_usd = 1.5
session_idle_s = 600"#,
    );
    let router = parse(&src).unwrap().router;
    assert_eq!(router.limits.max_attempts, 2);
    assert_eq!(router.verify.logprob_floor, Some(-2.5));
    assert!(!router.verify.check_enabled("refusal", WorkClass::Chat));
    assert!(router
        .verify
        .check_enabled("code-does-not-parse", WorkClass::BoundedEdit));
    assert!(!router
        .verify
        .check_enabled("code-does-not-parse", WorkClass::Chat));
    assert!(router.verify.check_enabled("empty", WorkClass::Planning));
    assert!(router
        .verify
        .check_enabled("tool-args-schema", WorkClass::Planning));
    assert_eq!(
        router.commit_window,
        CommitWindow {
            max_bytes: 65536,
            max_duration: Duration::from_secs(30),
            on_exceeded: OnExceeded::FailOver,
            keepalive: Duration::from_millis(2500),
        }
    );
    assert_eq!(router.budgets.session_usd, Some(1.5));
    assert_eq!(router.budgets.session_idle, Duration::from_secs(600));

    let defaults = parse(BASE).unwrap().router;
    assert!(defaults.verify.enabled);
    assert_eq!(defaults.limits.max_attempts, 3);
    assert_eq!(defaults.commit_window, CommitWindow::default());
    assert_eq!(
        defaults.commit_window.on_exceeded,
        OnExceeded::CommitUnverified
    );
    assert_eq!(defaults.budgets.session_usd, None);
}

#[test]
fn fallback_section_errors_are_located() {
    check(
        &append("[router.verify.checks]\nrefusals = false\ncode-does-not-parse = [\"edits\"]\nempty = 3"),
        &[
            (12, 1, "router.verify.checks.refusals", "did you mean \"refusal\""),
            (13, 24, "router.verify.checks.code-does-not-parse[0]", "unknown work class"),
            (14, 9, "router.verify.checks.empty", "expected true, false or an array"),
        ],
    );
    check(
        &append("[router.commit_window]\nkeepalive_s = 30\non_exceeded = \"drop\""),
        &[
            (
                12,
                15,
                "router.commit_window.keepalive_s",
                "at most 10 seconds",
            ),
            (
                13,
                15,
                "router.commit_window.on_exceeded",
                "commit-unverified",
            ),
        ],
    );
    check(
        &append("[router.budgets]\nsession_usd = -1\n[router.verify]\nlogprob_floor = 0.5"),
        &[
            (12, 15, "router.budgets.session_usd", "≥ 0"),
            (14, 17, "router.verify.logprob_floor", "negative"),
        ],
    );
}
