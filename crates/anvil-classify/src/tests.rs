use super::*;
use anvil_dialects::canonical::{Message, Role, SystemPart};

const CC_MAIN: &[&str] = &[
    "x-anthropic-billing-header: cc_version=2.1.197.00b; cc_entrypoint=cli;",
    "You are Claude Code, Anthropic's official CLI for Claude.",
    "\nYou are an interactive agent that helps users with software engineering tasks.",
];

fn text(t: &str) -> Part {
    Part::Text {
        text: t.to_owned(),
        cache_control: None,
    }
}

fn call(name: &str, args: &str) -> Part {
    Part::ToolUse {
        id: "toolu_1".into(),
        name: name.into(),
        arguments: args.into(),
        cache_control: None,
    }
}

fn result(t: &str) -> Part {
    Part::ToolResult {
        tool_use_id: "toolu_1".into(),
        content: ToolResultContent::Text(t.into()),
        is_error: false,
        cache_control: None,
    }
}

fn req(system: &[&str], turns: Vec<(Role, Vec<Part>)>) -> Request {
    Request {
        system: system
            .iter()
            .map(|t| SystemPart {
                text: (*t).to_owned(),
                cache_control: None,
            })
            .collect(),
        messages: turns
            .into_iter()
            .map(|(role, content)| Message { role, content })
            .collect(),
        ..Request::default()
    }
}

fn edit(path: &str) -> Part {
    call(
        "Edit",
        &format!(r#"{{"file_path":"{path}","old_string":"a","new_string":"b"}}"#),
    )
}

#[test]
fn signals_of_conversations() {
    struct Case {
        name: &'static str,
        request: Request,
        class: WorkClass,
        check: fn(&Signals) -> bool,
    }
    let reminder = "<system-reminder>\ncontext\n</system-reminder>";
    let cases = vec![
        Case {
            name: "looks back past tool results to the task",
            request: req(
                CC_MAIN,
                vec![
                    (Role::User, vec![text(reminder), text("fix the off by one in parser.rs")]),
                    (Role::Assistant, vec![call("Read", r#"{"file_path":"/p/parser.rs"}"#)]),
                    (Role::User, vec![result("1\tfn parse() {}")]),
                    (Role::Assistant, vec![edit("/p/parser.rs")]),
                    (Role::User, vec![result("ok")]),
                ],
            ),
            class: WorkClass::BoundedEdit,
            check: |s| {
                s.harness == Harness::ClaudeCodeMain
                    && s.human_turns == 1
                    && s.edits_since_human == 1
                    && s.files_edited == 1
                    && s.tool_calls_since_human == 2
                    && s.intent == Some("bounded-edit")
            },
        },
        Case {
            name: "a run of edits over many files",
            request: req(
                CC_MAIN,
                vec![
                    (Role::User, vec![text("rename Config to Settings")]),
                    (Role::Assistant, vec![edit("/p/a.rs"), edit("/p/b.rs")]),
                    (Role::User, vec![result("ok"), result("ok")]),
                    (Role::Assistant, vec![edit("/p/c.rs"), edit("/p/a.rs")]),
                    (Role::User, vec![result("ok"), result("ok")]),
                ],
            ),
            class: WorkClass::MultiFileRefactor,
            check: |s| s.edits_since_human == 4 && s.files_edited_since_human == 3,
        },
        Case {
            name: "plan mode",
            request: req(
                CC_MAIN,
                vec![
                    (Role::User, vec![text("let's add rate limiting")]),
                    (Role::Assistant, vec![call("EnterPlanMode", "{}")]),
                    (Role::User, vec![result("entered plan mode")]),
                ],
            ),
            class: WorkClass::Planning,
            check: |s| s.plan_mode && s.plan_calls == 1,
        },
        Case {
            name: "reading a diff",
            request: req(
                CC_MAIN,
                vec![
                    (Role::User, vec![text("what do you think of my branch")]),
                    (Role::Assistant, vec![call("Bash", r#"{"command":"git diff main...HEAD"}"#)]),
                    (Role::User, vec![result("diff --git a/x.rs b/x.rs\n--- a/x.rs\n+++ b/x.rs\n")]),
                ],
            ),
            class: WorkClass::Review,
            check: |s| s.reviewing_diff && s.edits_since_human == 0,
        },
        Case {
            name: "no cue at all",
            request: req(CC_MAIN, vec![(Role::User, vec![text(reminder), text("x")])]),
            class: WorkClass::Chat,
            check: |s| s.intent.is_none() && s.intent_cues == 0 && s.human_text_bytes == 1,
        },
        Case {
            name: "a title call is chat whatever it summarizes",
            request: req(
                &[
                    "x-anthropic-billing-header: cc_version=2.1.197.d55; cc_entrypoint=cli;",
                    "You are Claude Code, Anthropic's official CLI for Claude.",
                    "Generate a concise, sentence-case title (3-7 words)",
                ],
                vec![(Role::User, vec![text("<session>\nplan the whole migration across every module\n</session>")])],
            ),
            class: WorkClass::Chat,
            check: |s| {
                s.harness
                    == Harness::ClaudeCodeUtility {
                        utility: Utility::Title,
                    }
            },
        },
        Case {
            name: "codex apply_patch through exec_command",
            request: req(
                &["You are a coding agent running in the Codex CLI, a terminal-based coding assistant."],
                vec![
                    (Role::User, vec![text("<environment_context>\n</environment_context>"), text("update the handlers")]),
                    (
                        Role::Assistant,
                        vec![call(
                            "exec_command",
                            r#"{"cmd":"apply_patch <<'EOF'\n*** Begin Patch\n*** Update File: src/a.rs\n@@\n*** Update File: src/b.rs\n@@\n*** Add File: src/c.rs\n+x\n*** End Patch\nEOF"}"#,
                        )],
                    ),
                    (Role::User, vec![result("Success")]),
                ],
            ),
            class: WorkClass::MultiFileRefactor,
            check: |s| s.harness == Harness::Codex && s.files_edited == 3 && s.edits_since_human == 1,
        },
        Case {
            name: "images and thinking are recorded",
            request: {
                let mut r = req(
                    &["be brief"],
                    vec![(
                        Role::User,
                        vec![
                            Part::Image {
                                source: MediaSource::Url("https://example.com/a.png".into()),
                                detail: None,
                                cache_control: None,
                            },
                            text("what is in this screenshot?"),
                        ],
                    )],
                );
                r.thinking = Some(ThinkingConfig::Adaptive);
                r
            },
            class: WorkClass::Chat,
            check: |s| s.images == 1 && s.thinking && s.harness == Harness::Sdk,
        },
    ];
    for case in cases {
        let c = classify(&case.request);
        assert_eq!(c.work_class, case.class, "{}: {c:?}", case.name);
        assert!((case.check)(&c.signals), "{}: {:?}", case.name, c.signals);
        assert!((0.0..=1.0).contains(&c.confidence), "{}", case.name);
    }
}

#[test]
fn confidence_bands() {
    let one = |t: &str| req(&[], vec![(Role::User, vec![text(t)])]);
    // (text, class, confident?)
    let cases = [
        ("x", WorkClass::Chat, false),
        (
            "Write an implementation plan for the new cache; no code yet",
            WorkClass::Planning,
            true,
        ),
        (
            "Refactor the logging across the whole codebase",
            WorkClass::MultiFileRefactor,
            true,
        ),
        (
            "Please review this pull request before I merge it",
            WorkClass::Review,
            true,
        ),
        ("hello there, write me a haiku", WorkClass::Chat, true),
    ];
    for (t, class, confident) in cases {
        let c = classify(&one(t));
        assert_eq!(c.work_class, class, "{t}");
        if confident {
            assert!(c.confidence >= 0.7, "{t}: {}", c.confidence);
        } else {
            assert!(c.confidence < AMBIGUOUS_BELOW, "{t}: {}", c.confidence);
        }
    }
}

#[test]
fn long_context_by_size() {
    let log = "2026-11-29T10:00:00Z INFO request served in 12ms\n".repeat(2_000);
    let r = req(
        CC_MAIN,
        vec![(Role::User, vec![text(&log), text("why does this fail?")])],
    );
    let c = classify(&r);
    assert_eq!(c.work_class, WorkClass::LongContext);
    assert!(c.signals.conversation_tokens >= LONG_CONTEXT_CONVERSATION_TOKENS);
    assert_eq!(c.signals.prompt_tokens, estimate_prompt_tokens(&r));
}

#[test]
fn estimates_tokens() {
    let mut r = req(
        &["abcd".repeat(10).as_str()],
        vec![(Role::User, vec![text("abcdefgh")])],
    );
    assert_eq!(estimate_prompt_tokens(&r), 10 + 2);
    r.messages[0].content.push(Part::Image {
        source: MediaSource::Url("u".into()),
        detail: None,
        cache_control: None,
    });
    assert_eq!(estimate_prompt_tokens(&r), 12 + MEDIA_TOKENS);
    let v =
        serde_json::json!({"type":"object","properties":{"a":{"type":"string"}},"required":["a"]});
    let real = serde_json::to_string(&v)
        .map(|s| s.len() as u64)
        .unwrap_or(0);
    let approx = json_len(&v);
    assert!(approx.abs_diff(real) * 5 <= real, "{approx} vs {real}");
}

#[test]
fn signals_serialize() {
    let c = classify(&req(
        &["Act as an expert software developer.\n*SEARCH/REPLACE block*"],
        vec![(Role::User, vec![text("fix it")])],
    ));
    let v = serde_json::to_value(&c.signals).unwrap_or_default();
    assert_eq!(
        v["harness"],
        serde_json::json!({"kind": "aider", "edit_format": "search-replace"})
    );
    assert_eq!(v["intent"], serde_json::json!("bounded-edit"));
}

#[test]
fn the_memo_gives_what_classify_gives_and_reads_each_text_once() {
    // a tool loop: the same long ask, then more tool calls and results under it each turn
    let code = "fn parse(path: &Path) -> Result<Config> {\n    toml::from_str(&read(path)?)\n}\n";
    let ask = |verb: &str| {
        format!(
            "Here is the function:\n\n```rust\n{}```\n\n{verb} the parser in src/config.rs and src/main.rs.",
            code.repeat(12)
        )
    };
    let turn = |ask: &str, tools: usize| {
        let mut turns = vec![(Role::User, vec![text(ask)])];
        for n in 0..tools {
            turns.push((Role::Assistant, vec![edit(&format!("src/f{n}.rs"))]));
            turns.push((Role::User, vec![result("ok")]));
        }
        req(CC_MAIN, turns)
    };
    let fix = ask("Edit");
    // the same length, one cue apart: the memo must not confuse the two
    let plan = ask("Plan");
    assert_eq!(fix.len(), plan.len());
    assert!(fix.len() >= MEMO_MIN_BYTES);
    let short = req(CC_MAIN, vec![(Role::User, vec![text("fix the typo")])]);

    let classifier = Classifier::new();
    let requests = [
        turn(&fix, 0),
        turn(&fix, 1),
        turn(&fix, 3),
        turn(&plan, 0),
        turn(&plan, 2),
        short.clone(),
        short,
        turn(&fix, 4),
    ];
    for request in &requests {
        assert_eq!(classifier.classify(request), classify(request));
    }
    assert_ne!(
        classify(&turn(&fix, 0)).signals.intent,
        classify(&turn(&plan, 0)).signals.intent
    );
    // each long text read once (four requests ask `fix`, two `plan`); the short one is never
    // remembered
    assert_eq!(classifier.memo_hits(), 3 + 1);
}
