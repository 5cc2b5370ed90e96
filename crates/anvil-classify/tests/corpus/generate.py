#!/usr/bin/env python3
"""Writes corpus.json: the labeled Tier-0 classifier corpus.

Each case names a real client capture (tests/fixtures/clients/<base>, repo root) and the modifications
that turn it into a new request: JSON-pointer `set`s, `truncate`s and `append`s on its `body_json`.
Strings may be built with {"$concat": [...]} and {"$repeat": s, "times": n} so huge pasted logs stay
small here. The label next to each variation is the work class a human would give the request; it is
written by hand and never derived from the classifier.

Deterministic: no randomness, no clock. Run from anywhere:
    python3 crates/anvil-classify/tests/corpus/generate.py
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "..", ".."))
CAPTURES = os.path.join(ROOT, "tests", "fixtures", "clients")

CHAT, EDIT, REFACTOR, PLAN, REVIEW, LONG = (
    "chat",
    "bounded-edit",
    "multi-file-refactor",
    "planning",
    "review",
    "long-context",
)

CASES = []


def case(name, base, label, ops):
    assert label in (CHAT, EDIT, REFACTOR, PLAN, REVIEW, LONG), label
    assert os.path.exists(os.path.join(CAPTURES, base)), base
    CASES.append({"id": f"{len(CASES) + 1:03d}-{name}", "base": base, "label": label, "ops": ops})


def repeat(s, times):
    return {"$repeat": s, "times": times}


def concat(*parts):
    return {"$concat": list(parts)}


# ---------------------------------------------------------------------------------------------
# The human texts, by the label a human gives them.

CHAT_TEXTS = [
    "what does the `?` operator do in Rust?",
    "explain the difference between Arc and Rc",
    "why is my docker build slow? just curious what usually causes it",
    "hello there, write me a haiku",
    "thanks, that's all for now",
    "how does the borrow checker handle two-phase borrows?",
    "what's the difference between a process and a thread?",
    "can you tell me what this repo is about?",
    "tell me a joke about compilers",
    "What is the meaning of `#[repr(C)]`?",
    "how do I exit vim",
    "which is better for a small lookup table, a BTreeMap or a HashMap?",
    "what time zone does the CI runner use?",
    "good morning! ready to start?",
    "describe what the main function does",
    "is there a way to see which features a crate enables?",
    "what are green threads?",
    "who maintains the tokio project?",
    "hi",
    "what does EXPLAIN ANALYZE tell me in postgres?",
]

EDIT_TEXTS = [
    "fix the off-by-one error in src/pagination.rs",
    "add a --verbose flag to the CLI in main.py",
    "rename the variable `tmp` to `buffer` in parse_header",
    "change the default port from 8080 to 3000 in config.toml",
    "the login handler crashes when the email is empty; fix it",
    "make it say hey",
    "add a unit test for the slugify function",
    "fix the typo in README.md: 'recieve' should be 'receive'",
    "update the timeout in http_client.go to 30 seconds",
    "remove the unused import in utils.ts",
    "write a function in durations.py that parses ISO-8601 durations",
    "handle the None case in get_user so it returns 404 instead of raising",
    "bump the version in Cargo.toml to 0.3.1",
    "replace the println! in this function with a tracing::debug! call",
    "the date formatting in report.py is wrong, it should be YYYY-MM-DD instead of MM/DD/YYYY",
    "add retry with exponential backoff to fetch_page in scraper.py",
    "make the save button on the settings page blue instead of grey",
    "change the log level of the cache miss message to debug",
    "delete the deprecated `legacy_mode` parameter from the Parser constructor",
    "implement the missing __repr__ for the Point class in geometry.py",
]

REFACTOR_TEXTS = [
    "refactor the error handling across the whole codebase to use thiserror instead of string errors",
    "rename the `User` model to `Account` everywhere, including the migrations, the API handlers and the tests",
    "split the 2000-line server.py into separate modules: routes, models, services and db",
    "migrate all the handlers from the callback API to async/await",
    "replace every usage of the deprecated `request.get_json()` helper in all endpoints",
    "move the validation logic out of the controllers into a new module and update all call sites",
    "convert the whole project from CommonJS require() to ES modules",
    "extract the database access from api/users.ts, api/orders.ts, api/invoices.ts and api/products.ts into a repository layer",
    "restructure the crates so the HTTP types live in their own crate, and update every crate that uses them",
    "reorganize the tests: move the integration tests into tests/ and share the fixtures between all the test files",
    "change the logger interface and update all callers",
    "switch the project from unittest to pytest, converting all the test files",
    "we're dropping Python 3.8 support; update the type hints across the codebase to the new syntax",
    "consolidate the three duplicated retry helpers into one and use it in every module",
    "rename the `ctx` parameter to `context` in every file under src/handlers",
    "apply the new lint rules repo-wide and fix every warning",
    "remove the globals in app.py, worker.py, cli.py and scheduler.py and pass a Config object through instead",
    "port all the React class components to function components with hooks",
    "introduce a Clock trait and thread it through the scheduler, the cache and the rate limiter modules",
    "refactor: replace the hand-rolled JSON encoding in all the serializers with serde",
]

PLAN_TEXTS = [
    "write a plan for migrating our storage layer from MySQL to Postgres. no code yet",
    "how should we structure the plugin system? give me a design with the trade-offs before writing any code",
    "outline the steps to add multi-tenancy to this app",
    "break down the auth rewrite into milestones we can ship separately",
    "propose an architecture for the new notification service",
    "I want to add offline support to the mobile app. think through the approach and the risks first",
    "draft a roadmap for getting the CLI to 1.0",
    "what would be the best way to structure the caching layer? compare the options for invalidation and recommend one",
    "plan the work for supporting Windows; don't write any code, just the task list",
    "design the database schema for a booking system with recurring events",
    "create an implementation plan for the rate limiter, with phases and tests for each phase",
    "We need to split the monolith. Come up with a migration strategy",
    "think through how we'd add a plugin API; list the options for isolation and the trade-offs",
    "write an RFC for adding streaming responses to the API",
    "Before we start on the search feature, outline the approach: indexing, ranking, and how to test it",
    "How should I approach upgrading from Django 3 to 5? Give me a step-by-step plan",
    "sketch the design for a job queue with retries and dead-lettering",
    "estimate the scope of moving CI from Jenkins to GitHub Actions and plan it in phases",
    "I'd like a plan for improving test coverage on the payments module",
    "lay out a strategy for deprecating the v1 API without breaking customers",
]

DIFF = (
    "diff --git a/src/cache.rs b/src/cache.rs\n"
    "index 3f2a1c0..9b7d4e2 100644\n"
    "--- a/src/cache.rs\n"
    "+++ b/src/cache.rs\n"
    "@@ -41,9 +41,14 @@ impl Cache {\n"
    "     pub fn get(&self, key: &str) -> Option<Entry> {\n"
    "-        let map = self.map.lock().unwrap();\n"
    "-        map.get(key).cloned()\n"
    "+        let mut map = self.map.lock().unwrap();\n"
    "+        match map.get(key) {\n"
    "+            Some(e) if e.expires_at > Instant::now() => Some(e.clone()),\n"
    "+            Some(_) => { map.remove(key); None }\n"
    "+            None => None,\n"
    "+        }\n"
    "     }\n"
)

CODE = (
    "def binary_search(xs, target):\n"
    "    lo, hi = 0, len(xs)\n"
    "    while lo < hi:\n"
    "        mid = (lo + hi) // 2\n"
    "        if xs[mid] < target:\n"
    "            lo = mid + 1\n"
    "        else:\n"
    "            hi = mid\n"
    "    return lo if lo < len(xs) and xs[lo] == target else -1\n"
)

REVIEW_TEXTS = [
    "review my changes before I commit",
    "can you review PR #142? the diff is in the branch feature/cache",
    "look over the last commit and tell me if anything is wrong",
    "please do a code review of src/auth/, focus on security issues",
    "critique this implementation of the LRU cache in lru.py",
    "sanity check my migration before I merge it",
    "review the staged changes",
    "any bugs in this patch?\n\n" + DIFF,
    "go over the changes on this branch compared to main and flag anything risky",
    "audit the error handling in the payment service",
    "give me feedback on this function's design:\n\n```python\n" + CODE + "```",
    "double check the SQL in the last commit for injection problems",
    "Here's a diff from a contributor. Would you merge it?\n\n" + DIFF,
    "review the pull request for the new caching layer",
    "check my implementation of the binary search for edge cases:\n\n```python\n" + CODE + "```",
    "nitpick this before I send it out:\n\n```python\n" + CODE + "```",
    "what do you think of this patch?\n\n" + DIFF,
    "do a review pass over the changes in the working tree",
    "I rewrote the retry loop, can you review it for race conditions?",
    "review this diff for performance regressions\n\n" + DIFF,
]

LOG_BLOCK = (
    "2026-11-28T23:14:{s:02d}.118Z INFO  api::handler request_id=7f3a path=/v1/orders status=200 latency_ms=41\n"
    "2026-11-28T23:14:{s:02d}.120Z DEBUG db::pool checkout conn=12 wait_ms=0\n"
    "2026-11-28T23:14:{s:02d}.233Z WARN  api::handler request_id=7f3b slow upstream inventory latency_ms=1830\n"
    "2026-11-28T23:14:{s:02d}.240Z INFO  worker::sync batch=5521 items=250 ok=249 failed=1\n"
    "2026-11-28T23:14:{s:02d}.241Z ERROR worker::sync item=88123 error=\"deadlock detected\" retry=1\n"
)


def log(kib):
    """About `kib` KiB of a service log."""
    block = "".join(LOG_BLOCK.format(s=s) for s in range(0, 60, 7))
    return repeat(block, max(1, kib * 1024 // len(block)))


SOURCE_BLOCK = (
    "    def handle_{i}(self, request):\n"
    "        payload = self.decode(request.body)\n"
    "        if not payload.get('id'):\n"
    "            raise ValidationError('missing id')\n"
    "        record = self.store.fetch(payload['id'])\n"
    "        return self.render(record, status=200)\n\n"
)


def source(kib):
    block = "".join(SOURCE_BLOCK.format(i=i) for i in range(10))
    return repeat(block, max(1, kib * 1024 // len(block)))


LONG_TEXTS = [
    ("here's the full log from last night's failed deploy, what went wrong?\n\n", log, 160),
    ("summarize this log: what happened between 23:00 and 23:30?\n\n", log, 120),
    ("find the first error in these logs and tell me what caused it\n\n", log, 200),
    ("read this whole file and tell me what it does\n\n", source, 110),
    ("which of these handlers never validate their input?\n\n", source, 140),
    ("this is the entire log of the flaky CI run. why did it time out?\n\n", log, 240),
]

# ---------------------------------------------------------------------------------------------
# How to put a human text into each base capture.

CC_MAIN = "claude-code-2.1.197_interactive_main-turn.json"
CC_SDK = "claude-code-2.1.197_p-hello_api-key.json"
CC_SDK2 = "claude-code-2.1.197_p-hello_auth-token_model-planning.json"
CC_LOOP = "claude-code-2.1.197_tool-loop_2-with-tool-result.json"
CC_SUB = "claude-code-2.1.197_subagent_sub-model.json"
CC_TITLE = "claude-code-2.1.197_interactive_title-generation.json"
CODEX = "codex-0.171.0_exec-hello_custom-provider-responses.json"
CODEX_LOOP = "codex-0.171.0_exec-tool-loop_2-with-function-call-output.json"
AIDER = "aider-0.86.2_main-model-stream.json"
AIDER_COMMIT = "aider-0.86.2_weak-model-commit-message.json"
SDK_ANTHROPIC = "anthropic-python-2.14.0_messages-create.json"
SDK_THINKING = "anthropic-python-2.14.0_thinking-stream.json"
SDK_OPENAI = "openai-python-3.57.0_chat-stream-include-usage.json"
SDK_RESPONSES = "openai-python-3.57.0_responses-stream.json"
LITELLM_ANTHROPIC = "litellm-1.110.2_anthropic-provider.json"
LITELLM_RESPONSES = "litellm-1.110.2_responses.json"


def cc_human(text, base=CC_MAIN):
    """Claude Code main loop / subagent: the first user turn is [system-reminder, human text]."""
    return [{"truncate": "/messages", "len": 2}, {"set": "/messages/0/content/1/text", "value": text}]


def codex_human(text):
    return [{"truncate": "/input", "len": 4}, {"set": "/input/3/content/0/text", "value": text}]


with open(os.path.join(CAPTURES, AIDER)) as f:
    _aider = json.load(f)["body_json"]["messages"]
AIDER_WHOLE_SYSTEM = _aider[0]["content"]
AIDER_WHOLE_REMINDER = _aider[9]["content"][len("make it say hey"):]

AIDER_DIFF_SYSTEM = (
    "Act as an expert software developer.\n"
    "Always use best practices when coding.\n"
    "Respect and use existing conventions, libraries, etc that are already present in the code base.\n"
    "Reply in English.\n\n"
    "Take requests for changes to the supplied code.\n"
    "If the request is ambiguous, ask questions.\n\n"
    "Once you understand the request you MUST:\n\n"
    "1. Decide if you need to propose *SEARCH/REPLACE* edits to any files that haven't been added to the chat.\n"
    "2. Think step-by-step and explain the needed changes in a few short sentences.\n"
    "3. Describe each change with a *SEARCH/REPLACE block* per the examples below.\n\n"
    "All changes to files must use this *SEARCH/REPLACE block* format.\n"
    "ONLY EVER RETURN CODE IN A *SEARCH/REPLACE BLOCK*!\n\n"
    "# *SEARCH/REPLACE block* Rules:\n\n"
    "Every *SEARCH/REPLACE block* must use this format:\n"
    "1. The *FULL* file path alone on a line, verbatim.\n"
    "2. The opening fence and code language, eg: ```python\n"
    "3. The start of search block: <<<<<<< SEARCH\n"
    "4. A contiguous chunk of lines to search for in the existing source code\n"
    "5. The dividing line: =======\n"
    "6. The lines to replace into the source code\n"
    "7. The end of the replace block: >>>>>>> REPLACE\n"
    "8. The closing fence: ```\n"
)
AIDER_DIFF_REMINDER = (
    "\n\n# *SEARCH/REPLACE block* Rules:\n\n"
    "Every *SEARCH/REPLACE block* must use this format:\n"
    "1. The *FULL* file path alone on a line, verbatim.\n"
    "...\n"
    "ONLY EVER RETURN CODE IN A *SEARCH/REPLACE BLOCK*!\n"
)
AIDER_UDIFF_SYSTEM = (
    "Act as an expert software developer.\n"
    "You are diligent and tireless!\n"
    "You NEVER leave comments describing code without implementing it!\n"
    "You always COMPLETELY IMPLEMENT the needed code!\n\n"
    "Always use best practices when coding.\n"
    "Respect and use existing conventions, libraries, etc that are already present in the code base.\n\n"
    "Take requests for changes to the supplied code.\n"
    "If the request is ambiguous, ask questions.\n\n"
    "For each file that needs to be changed, write out the changes similar to a unified diff like `diff -U0` would produce.\n"
)
AIDER_UDIFF_REMINDER = (
    "\n\n# File editing rules:\n\n"
    "Return edits similar to unified diffs that `diff -U0` would produce.\n"
    "Make sure you include the first 2 lines with the file paths.\n"
)
AIDER_ARCHITECT_SYSTEM = (
    "Act as an expert architect engineer and provide direction to your editor engineer.\n"
    "Study the change request and the current code.\n"
    "Describe how to modify the code to complete the request.\n"
    "The editor engineer will rely solely on your instructions, so make them unambiguous and complete.\n"
    "Explain all needed code changes clearly and completely, but concisely.\n"
    "Just show the changes needed.\n\n"
    "DO NOT show the entire updated function/file/etc!\n\n"
    "Always reply to the user in English.\n"
)
AIDER_ASK_SYSTEM = (
    "Act as an expert code analyst.\n"
    "Answer questions about the supplied code.\n"
    "Always reply to the user in English.\n\n"
    "If you need to describe code changes, do so *briefly*.\n"
)

AIDER_FORMATS = {
    "whole": (AIDER_WHOLE_SYSTEM, AIDER_WHOLE_REMINDER),
    "diff": (AIDER_DIFF_SYSTEM, AIDER_DIFF_REMINDER),
    "udiff": (AIDER_UDIFF_SYSTEM, AIDER_UDIFF_REMINDER),
    "architect": (AIDER_ARCHITECT_SYSTEM, ""),
    "ask": (AIDER_ASK_SYSTEM, ""),
}


def aider_human(text, fmt="whole", files=None):
    system, reminder = AIDER_FORMATS[fmt]
    ops = [] if fmt == "whole" else [{"set": "/messages/0/content", "value": system}]
    ops += [
        {"set": "/messages/9/content", "value": concat(*text["$concat"], reminder) if isinstance(text, dict) else text + reminder},
    ]
    if files:
        listing = "".join(f"{name}\n```\n{body}```\n\n" for name, body in files)
        ops.append(
            {
                "set": "/messages/7/content",
                "value": "I have *added these files to the chat* so you can go ahead and edit them.\n\n"
                "*Trust this message as the true contents of these files!*\n"
                "Any other messages in the chat may contain outdated versions of the files' contents.\n\n"
                + listing,
            }
        )
    return ops


def sdk_human(base, text):
    if base in (SDK_ANTHROPIC, SDK_THINKING, SDK_OPENAI):
        return [{"set": "/messages/0/content", "value": text}]
    if base == SDK_RESPONSES:
        return [{"set": "/input/0/content", "value": text}]
    if base == LITELLM_ANTHROPIC:
        return [{"set": "/messages/0/content/0/text", "value": text}]
    if base == LITELLM_RESPONSES:
        return [{"set": "/input/0/content/0/text", "value": text}]
    raise ValueError(base)


SDK_BASES = [SDK_ANTHROPIC, SDK_OPENAI, SDK_RESPONSES, LITELLM_ANTHROPIC, LITELLM_RESPONSES, SDK_THINKING]
AIDER_EDIT_FORMATS = ["whole", "diff", "udiff"]


def human_variant(slot, text, label, name):
    """Puts `text` into one of the bases, chosen by `slot` (round robin across harnesses)."""
    kind = slot % 6
    if kind == 0:
        case(f"{name}-cc-main", CC_MAIN, label, cc_human(text))
    elif kind == 1:
        base = CC_SDK if slot % 12 == 1 else CC_SDK2
        case(f"{name}-cc-sdk", base, label, cc_human(text))
    elif kind == 2:
        case(f"{name}-codex", CODEX, label, codex_human(text))
    elif kind == 3:
        if label == CHAT:
            fmt = "ask" if slot % 2 else "whole"
        elif label == PLAN:
            fmt = "architect" if slot % 2 else "diff"
        else:
            fmt = AIDER_EDIT_FORMATS[slot % 3]
        case(f"{name}-aider-{fmt}", AIDER, label, aider_human(text, fmt))
    elif kind == 4:
        base = SDK_BASES[(slot // 6) % len(SDK_BASES)]
        case(f"{name}-sdk", base, label, sdk_human(base, text))
    else:
        case(f"{name}-cc-sub", CC_SUB, label, cc_human(text))


# ---------------------------------------------------------------------------------------------
# Tool-use history builders (Anthropic for Claude Code, Responses for Codex).

class Ids:
    def __init__(self):
        self.n = 0

    def next(self, prefix):
        self.n += 1
        return f"{prefix}{self.n:024x}"


def cc_turn(ids, calls, results=None, text=None):
    """An assistant turn with tool calls and the user turn answering them."""
    content = []
    if text:
        content.append({"type": "text", "text": text})
    uses = []
    for name, inp in calls:
        tid = ids.next("toolu_")
        uses.append(tid)
        content.append({"type": "tool_use", "id": tid, "name": name, "input": inp})
    results = results or ["ok"] * len(calls)
    return [
        {"role": "assistant", "content": content},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": t, "content": r} for t, r in zip(uses, results)
            ],
        },
    ]


def cc_edit(path, old="old", new="new"):
    return ("Edit", {"file_path": path, "old_string": old, "new_string": new, "replace_all": False})


def cc_write(path, content="pub fn f() {}\n"):
    return ("Write", {"file_path": path, "content": content})


def cc_read(path):
    return ("Read", {"file_path": path})


def cc_bash(cmd, desc="Run a command"):
    return ("Bash", {"command": cmd, "description": desc})


def cc_history(text, turns):
    """Claude Code main loop: a human text, then `turns` (lists of messages) appended."""
    items = []
    for t in turns:
        items.extend(t)
    return cc_human(text) + [{"append": "/messages", "items": items}]


def codex_call(ids, name, args, output):
    cid = ids.next("call_")
    return [
        {"type": "function_call", "name": name, "arguments": json.dumps(args), "call_id": cid},
        {"type": "function_call_output", "call_id": cid, "output": output},
    ]


def codex_patch(ids, files):
    body = "".join(f"*** Update File: {f}\n@@\n-old\n+new\n" for f in files)
    cmd = "apply_patch <<'EOF'\n*** Begin Patch\n" + body + "*** End Patch\nEOF\n"
    return codex_call(ids, "exec_command", {"cmd": cmd}, "Success. Updated the following files:\n" + "\n".join(f"M {f}" for f in files))


def codex_exec(ids, cmd, output):
    return codex_call(ids, "exec_command", {"cmd": cmd}, output)


def codex_history(text, items):
    return codex_human(text) + [{"append": "/input", "items": items}]


# ---------------------------------------------------------------------------------------------
# 1. Every human text on every kind of harness (round robin).

for label, texts in (
    (CHAT, CHAT_TEXTS),
    (EDIT, EDIT_TEXTS),
    (REFACTOR, REFACTOR_TEXTS),
    (PLAN, PLAN_TEXTS),
    (REVIEW, REVIEW_TEXTS),
):
    for i, text in enumerate(texts):
        human_variant(i, text, label, label)

# 2. Claude Code main loop mid-task: the last turn is tool results, the task is further back.
RS = "/home/dev/project/src"
for i, text in enumerate(EDIT_TEXTS[:10]):
    ids = Ids()
    f = f"{RS}/file{i}.rs"
    turns = [cc_turn(ids, [cc_read(f)], ["     1\u2192fn main() {}\n"])]
    if i % 2 == 0:
        turns.append(cc_turn(ids, [cc_edit(f)], [f"The file {f} has been updated."]))
    case(f"edit-midtask-{i}", CC_MAIN if i % 3 else CC_LOOP, EDIT, cc_history(text, turns))

for i, text in enumerate(REFACTOR_TEXTS[:12]):
    ids = Ids()
    files = [f"{RS}/mod{j}.rs" for j in range(3 + i % 4)]
    turns = [cc_turn(ids, [("Grep", {"pattern": "Config", "output_mode": "files_with_matches"})], ["\n".join(files)])]
    if i % 3 == 0:
        turns.append(cc_turn(ids, [("TaskCreate", {"subject": "Update call sites", "description": "in every module"})], ["Task #1 created"]))
    for f in files:
        turns.append(cc_turn(ids, [cc_edit(f)], [f"The file {f} has been updated."]))
    case(f"refactor-midtask-{i}", CC_SDK if i % 2 else CC_MAIN, REFACTOR, cc_history(text, turns))

# Planning in progress: plan mode, tasks, read-only exploration.
for i, text in enumerate(PLAN_TEXTS[:10]):
    ids = Ids()
    turns = [cc_turn(ids, [("EnterPlanMode", {})], ["Entered plan mode."])] if i % 2 == 0 else []
    turns.append(cc_turn(ids, [cc_read(f"{RS}/lib.rs"), cc_read(f"{RS}/db.rs")], ["     1\u2192mod db;\n", "     1\u2192pub struct Pool;\n"]))
    if i % 3 == 1:
        turns.append(cc_turn(ids, [("TaskCreate", {"subject": "Phase 1", "description": "schema"})], ["Task #1 created"]))
    case(f"plan-midtask-{i}", CC_MAIN, PLAN, cc_history(text, turns))

# Review in progress: the assistant ran git diff.
for i, text in enumerate(REVIEW_TEXTS[:8]):
    if "diff --git" in text or "```" in text:
        continue
    ids = Ids()
    cmd = ["git diff", "git diff --staged", "git show HEAD", "gh pr diff 142"][i % 4]
    turns = [cc_turn(ids, [cc_bash(cmd, "Show the changes")], [DIFF])]
    case(f"review-midtask-{i}", CC_MAIN, REVIEW, cc_history(text, turns))

# Vague follow-ups whose meaning is the session's activity.
for i in range(4):
    ids = Ids()
    files = [f"{RS}/h{j}.rs" for j in range(4)]
    turns = [cc_turn(ids, [cc_edit(f)]) for f in files[: 2 + i % 3]]
    first = cc_history(REFACTOR_TEXTS[i], turns)
    follow = ["continue", "keep going", "ok, next", "go on with the rest"][i]
    more = [cc_turn(ids, [cc_edit(f)]) for f in files]
    items = [{"role": "assistant", "content": [{"type": "text", "text": "Updated the first files."}]},
             {"role": "user", "content": [{"type": "text", "text": follow}]}]
    for t in more:
        items.extend(t)
    case(f"refactor-continue-{i}", CC_MAIN, REFACTOR, first + [{"append": "/messages", "items": items}])

# A finished refactor, then a plain question: chat.
for i, q in enumerate(["thanks! what does the `?` in the new code do?", "why did you pick thiserror over anyhow?"]):
    ids = Ids()
    turns = [cc_turn(ids, [cc_edit(f"{RS}/m{j}.rs")]) for j in range(4)]
    items = [{"role": "assistant", "content": [{"type": "text", "text": "Done: all four modules now use the new error type."}]},
             {"role": "user", "content": [{"type": "text", "text": q}]}]
    case(f"chat-after-refactor-{i}", CC_MAIN, CHAT, cc_history(REFACTOR_TEXTS[0], turns) + [{"append": "/messages", "items": items}])

# 3. Codex mid-task.
for i, text in enumerate(EDIT_TEXTS[10:16]):
    ids = Ids()
    items = codex_exec(ids, "sed -n 1,80p src/lib.rs", "fn main() {}\n") + codex_patch(ids, [f"src/f{i}.rs"])
    case(f"edit-codex-midtask-{i}", CODEX_LOOP if i % 2 else CODEX, EDIT, codex_history(text, items))
for i, text in enumerate(REFACTOR_TEXTS[10:16]):
    ids = Ids()
    files = [f"src/m{j}.py" for j in range(3 + i % 3)]
    items = codex_exec(ids, "rg -l Logger", "\n".join(files))
    items += codex_patch(ids, files[:2]) + codex_patch(ids, files[2:])
    case(f"refactor-codex-midtask-{i}", CODEX, REFACTOR, codex_history(text, items))
for i, text in enumerate(["review the changes on this branch", "look over my last commit for bugs", "review the staged changes before I push"]):
    ids = Ids()
    items = codex_exec(ids, ["git diff main", "git show HEAD", "git diff --cached"][i], DIFF)
    case(f"review-codex-midtask-{i}", CODEX, REVIEW, codex_history(text, items))
for i, text in enumerate(PLAN_TEXTS[10:14]):
    ids = Ids()
    items = codex_exec(ids, "ls -R src | head -50", "src/\nsrc/lib.rs\nsrc/db.rs\n")
    case(f"plan-codex-midtask-{i}", CODEX, PLAN, codex_history(text, items))

# 4. Subagents: the prompt the main agent wrote for them.
SUB_TASKS = [
    ("Review the changes in src/auth/ for security issues and report your findings with file and line.", REVIEW),
    ("Plan the implementation of the export feature: read the relevant code and return a step-by-step plan. Do not write code.", PLAN),
    ("Update all imports of old_utils to new_utils across the repository and run the tests.", REFACTOR),
    ("Fix the failing test test_parse_empty in tests/test_parser.py.", EDIT),
    ("Explain how the session cookie is validated; answer in two sentences.", CHAT),
    ("Design the module layout for the new billing service and propose the interfaces between the modules.", PLAN),
]
for i, (text, label) in enumerate(SUB_TASKS):
    case(f"subagent-{i}", CC_SUB, label, cc_human(text))

# 5. Background calls: title generation, topic detection, aider commit messages: chat.
TITLE_TAIL = "\n</session>\n\nWrite the title in the language the user wrote in, regardless of the language of the examples above."
for i, text in enumerate([PLAN_TEXTS[0], REFACTOR_TEXTS[0], REVIEW_TEXTS[0], EDIT_TEXTS[0], CHAT_TEXTS[1], PLAN_TEXTS[5]]):
    case(f"title-{i}", CC_TITLE, CHAT, [{"set": "/messages/0/content/0/text", "value": "<session>\n" + text + TITLE_TAIL}])
TOPIC_SYSTEM = (
    "Analyze if this message indicates a new conversation topic. If it does, extract a 2-3 word title "
    "that captures the new topic. Format your response as a JSON object with two fields: 'isNewTopic' "
    "(boolean) and 'title' (string, or null if isNewTopic is false). Only include these fields, no other text."
)
for i, text in enumerate([REFACTOR_TEXTS[3], PLAN_TEXTS[2], EDIT_TEXTS[4]]):
    case(f"topic-{i}", CC_TITLE, CHAT, [
        {"set": "/system/2/text", "value": TOPIC_SYSTEM},
        {"set": "/messages/0/content/0/text", "value": text},
    ])
for i, (path, before, after) in enumerate([
    ("src/server.py", "port = 8080", "port = 3000"),
    ("api/users.ts", "throw 'bad'", "throw new ValidationError('bad')"),
    ("README.md", "recieve", "receive"),
    ("lib/db.go", "timeout := 5", "timeout := 30"),
]):
    diff = (f"\nUSER: update it\n\nASSISTANT: done\n\n# Diffs:\ndiff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
            f"@@ -1 +1 @@\n-{before}\n+{after}")
    case(f"aider-commit-{i}", AIDER_COMMIT, CHAT, [{"set": "/messages/1/content", "value": diff}])

# 6. Images.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
CC_IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
for i, (text, label) in enumerate([
    ("what's in this screenshot?", CHAT),
    ("the header overlaps the sidebar, see the screenshot. fix the CSS in header.css", EDIT),
    ("make the login page look like this mockup; it touches the layout, the theme and every form component", REFACTOR),
    ("review this UI against the screenshot from the designer and list what is off", REVIEW),
]):
    case(f"image-cc-{i}", CC_MAIN, label, cc_human(text) + [{"append": "/messages/0/content", "items": [CC_IMAGE]}])
for i, (text, label) in enumerate([("explain this error screenshot", CHAT), ("change the chart colors to match this screenshot in chart.js", EDIT)]):
    case(f"image-openai-{i}", SDK_OPENAI, label, [{"set": "/messages/0/content", "value": [
        {"type": "text", "text": text},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG}},
    ]}])

# 7. Long context: huge pasted logs and files, long read-heavy sessions.
for i, (text, body, kib) in enumerate(LONG_TEXTS):
    pasted = concat(text, body(kib))
    case(f"long-cc-{i}", CC_MAIN, LONG, cc_human(pasted))
    case(f"long-codex-{i}", CODEX, LONG, codex_human(pasted))
    base = SDK_BASES[i % len(SDK_BASES)]
    case(f"long-sdk-{i}", base, LONG, sdk_human(base, pasted))
for i, text in enumerate(LONG_TEXTS[:4]):
    case(f"long-aider-{i}", AIDER, LONG, aider_human(concat(text[0], text[1](text[2])), "diff"))
for i in range(4):
    ids = Ids()
    turns = [cc_turn(ids, [cc_read(f"{RS}/big{j}.py")], [source(40 + 10 * i)]) for j in range(3)]
    case(f"long-cc-reads-{i}", CC_MAIN, LONG, cc_history(
        ["read the three biggest modules and tell me how they interact",
         "go through the generated parsers and tell me where the time goes",
         "what does each of these legacy files do?",
         "read every handler and list the ones that skip auth"][i], turns))
for i in range(2):
    ids = Ids()
    items = codex_exec(ids, "cat logs/app.log", concat("Output:\n", log(150 + 50 * i)))
    case(f"long-codex-cat-{i}", CODEX, LONG, codex_history(
        ["what went wrong in the app log?", "find when the deadlocks started in the log"][i], items))
# Big, but not long: a pasted stack trace with a bounded fix.
for i in range(2):
    trace = repeat("  at com.example.orders.OrderService.submit(OrderService.java:142)\n", 60 + 40 * i)
    case(f"edit-with-trace-{i}", CC_MAIN, EDIT, cc_human(concat(
        "fix this NullPointerException in OrderService.java\n\n", trace)))


# 8. Round two: texts written after the first cue table was frozen, phrased without reusing the
# texts above. On first contact the classifier got 24 of these 44 right; the cue table was then
# broadened with them, so they are no longer held out (section 9 is).
ROUND_TWO = {
    CHAT: [
        "is `Vec::with_capacity` worth it for 10 elements?",
        "remind me what the `--locked` flag to cargo install does",
        "quick question: does postgres index foreign keys automatically?",
        "ok cool",
        "what's our current test command? I forgot",
        "can a trait object be Sized?",
        "how many goroutines is too many?",
        "where is the config file read from by default?",
    ],
    EDIT: [
        "the `parse_args` function ignores `--quiet`, wire it up",
        "tests/test_api.py::test_create_order fails with a KeyError on 'total', sort it out",
        "make `retry_count` default to 3 instead of 5",
        "swap the sort order on the orders list so newest is first",
        "log the request id when the upload fails",
        "add type hints to the helpers in text_utils.py",
        "the spinner never stops after an error; stop it in the catch block",
        "increase the max upload size to 50MB",
    ],
    REFACTOR: [
        "we're moving from `log` to `tracing`; convert the whole workspace",
        "pull the shared DTOs out of the web and worker services into a common package and point both at it",
        "get rid of the `utils` grab-bag module: distribute its functions to the modules that use them",
        "make every public function in the sdk crate return our Error type instead of anyhow::Error",
        "change the ID type from i32 to Uuid in the models, the repositories, the API layer and the migrations",
        "standardize on snake_case JSON field names in all API responses and fix the clients accordingly",
        "kill the singleton DatabaseManager, inject the connection into every service that uses it",
        "upgrade to SQLAlchemy 2.0 style queries throughout the app",
    ],
    PLAN: [
        "I'm thinking about adding SSO. what pieces would we need and in what order?",
        "how would you go about making the build reproducible? don't change anything yet",
        "we have two weeks to ship audit logging. what's a realistic breakdown?",
        "sketch out how a plugin marketplace could work for this editor",
        "what's the right sequence for moving off the legacy queue without downtime?",
        "write up the steps we'd take to shard the users table",
        "put together a proposal for how we version the public API going forward",
        "help me scope a v2 of the importer: what to keep, what to rewrite",
    ],
    REVIEW: [
        "take a look at what I changed in handlers.go and tell me if it's safe",
        "is this PR ready to merge?",
        "could you check the last three commits for anything I missed?",
        "read through my changes to the retry logic and point out problems",
        "does this look right to you?\n\n" + DIFF,
        "second pair of eyes on the migration in 0042_add_index.sql please",
        "what would you flag in a code review of the new upload endpoint?",
        "go through the staged changes and tell me what you'd push back on",
    ],
}
for label, texts in ROUND_TWO.items():
    for i, text in enumerate(texts):
        human_variant(i + 1, text, label, f"round2-{label}")
for i, (text, body, kib) in enumerate([
    ("here's a core dump analysis output, anything stand out?\n\n", log, 130),
    ("attached is the whole CHANGELOG since 2019, when did we drop Python 2?\n\n", log, 170),
    ("the test output is below; which tests are flaky?\n\n", log, 180),
    ("this generated file is huge; where does it define the routes?\n\n", source, 150),
]):
    base = [CC_MAIN, CODEX, SDK_OPENAI, CC_SDK][i]
    pasted = concat(text, body(kib))
    ops = cc_human(pasted) if base in (CC_MAIN, CC_SDK) else codex_human(pasted) if base == CODEX else sdk_human(base, pasted)
    case(f"round2-{LONG}-{i}", base, LONG, ops)

# 9. Held out: written after the cue table was final and never used to tune it. The test reports
# their accuracy separately, as the honest estimate on phrasings the cues were not written from.
HELD_OUT = {
    CHAT: [
        "what's a good name for a function that both validates and normalizes an email?",
        "does rustfmt support formatting code inside doc comments?",
        "I keep seeing 'Send' errors with tokio::spawn, what does that mean in general?",
        "nice, that worked",
        "are there any downsides to using SQLite in production for a small app?",
        "what version of node does this project need?",
        "summarize what you just did in one sentence",
        "difference between `git rebase` and `git merge`?",
    ],
    EDIT: [
        "the footer year is hardcoded to 2023, make it dynamic",
        "escape the HTML in the comment preview, it's rendering raw tags",
        "in cli.rs, print the help text when no subcommand is given",
        "add an index on orders.created_at in the next migration",
        "our health check returns 500 when redis is down; return 503 instead",
        "sort the imports in app/main.py",
        "the csv export is missing the header row, can you add it?",
        "cap the number of retries at 10 in the uploader",
    ],
    REFACTOR: [
        "every service constructs its own HTTP client; centralize that in one factory and use it everywhere",
        "rename the `customer_id` column to `client_id` and update the ORM models, queries and API schemas that reference it",
        "move all the feature flags from env vars into the new settings module and update the code that reads them",
        "turn the synchronous database layer async, all the way up through the request handlers",
        "split the giant utils.js into smaller modules by domain and fix up the imports",
        "replace moment.js with date-fns across the frontend",
        "adopt the new error codes in all our microservices and the shared client library",
        "the `Result<T, String>` pattern is all over the code; introduce proper error enums per module",
    ],
    PLAN: [
        "we want to let customers export their data. how should this work end to end?",
        "what would a phased rollout of the new billing system look like?",
        "I need to decide between Kafka and a Postgres-backed queue for our event pipeline. lay out the considerations",
        "help me plan the refactor of the order module before we touch anything",
        "what are the main risks in moving our auth to a third-party provider, and how would we mitigate them?",
        "give me a high-level design for caching the search results",
        "how do we get from 40% to 80% test coverage in a quarter? I want a concrete plan",
        "list the steps to containerize this app and deploy it on k8s, no implementation yet",
    ],
    REVIEW: [
        "can you look at my last commit? I'm not sure about the locking",
        "here's my change, be critical:\n\n" + DIFF,
        "check whether the new endpoint validates its inputs properly",
        "I'd like a review of the error handling in the uploader before release",
        "anything you'd change in this diff?\n\n" + DIFF,
        "look at the open PR and tell me whether the tests cover the edge cases",
        "is there anything dangerous in the commits since v1.2?",
        "please go through src/payments and look for bugs, don't fix them, just report",
    ],
}
for label, texts in HELD_OUT.items():
    for i, text in enumerate(texts):
        human_variant(i + 2, text, label, f"heldout-{label}")
for i, (text, kib) in enumerate([
    ("the whole heap profile is pasted below, what's eating memory?\n\n", 150),
    ("full output of the migration dry run below, is it safe to apply?\n\n", 140),
]):
    case(f"heldout-{LONG}-{i}", [CC_SDK2, SDK_RESPONSES][i], LONG,
         cc_human(concat(text, log(kib))) if i == 0 else sdk_human(SDK_RESPONSES, concat(text, log(kib))))

def main():
    counts = {}
    for c in CASES:
        counts[c["label"]] = counts.get(c["label"], 0) + 1
    out = os.path.join(HERE, "corpus.json")
    with open(out, "w") as f:
        f.write('{"cases": [\n')
        for i, c in enumerate(CASES):
            f.write(json.dumps(c, ensure_ascii=False, sort_keys=True))
            f.write(",\n" if i + 1 < len(CASES) else "\n")
        f.write("]}\n")
    print(f"wrote {len(CASES)} cases to {out}: {counts}")


if __name__ == "__main__":
    main()
