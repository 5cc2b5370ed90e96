//! A mock model server for anvil's tests.
//!
//! It speaks three wire dialects independently of anvil's own translation code:
//! Anthropic Messages (`POST /v1/messages`, `POST /v1/messages/count_tokens`), OpenAI Chat
//! Completions (`POST /v1/chat/completions`) and OpenAI Responses (`POST /v1/responses`), as JSON
//! or as real SSE streams (one event per body frame, with real delays between events).
//!
//! Behaviour is scripted by `MOCK:` directives in the text of the last user turn (see
//! [Directives](#directives)); every request and notable connection event is recorded and
//! can be read back from `GET /_mock/requests` and `GET /_mock/events` (`POST /_mock/reset` clears
//! both logs).
//!
//! A start-up persona ([`MockState::with_persona`], `--persona NAME`) makes the mock answer Chat
//! Completions from their content, like a healthy or a broken model (see the `persona` module).
//!
//! # Directives
//!
//! `MOCK:tool`, `MOCK:tools2`, `MOCK:reason`, `MOCK:slow=MS:N`, `MOCK:status=CODE`, `MOCK:reset`,
//! `MOCK:hang`, `MOCK:midstream-reset`, `MOCK:midstream-error`, `MOCK:length`,
//! `MOCK:broken=KIND[@MODEL[+MODEL…]]`. Several can be
//! combined in one turn (e.g. `MOCK:reason MOCK:tool`). Tool arguments follow one fixed rule:
//! for every name in the tool schema's `required` list, in that order, the value is the first
//! `enum` entry if the property has one, else by its `type`: string (or no type) `"x ☀"`,
//! integer/number `1`, boolean `true`, array `[]`, object `{}`, null `null`; then `"n": 1` is
//! appended unless `n` is already set, the schema declares `n` with a non-numeric type, or the
//! schema says `additionalProperties: false` without declaring `n`. The arguments JSON is streamed
//! in fragments of 5 characters (never splitting a UTF-8 sequence).
//!
//! `MOCK:broken=KIND[@MODEL[+MODEL…]]` answers (only requests whose `model` is one of the MODELs,
//! when given) with a
//! realistic broken answer named like anvil-verify's checks: `empty`, `truncated` (stops at the
//! length limit mid-sentence), `thinking-starved` (reasoning only, stopped at the limit),
//! `unknown-tool` (calls `run_shell_command`), `tool-args-json` (unterminated arguments to the first
//! offered tool), `tool-args-schema` (the first tool's required properties with wrong types),
//! `tool-call-as-text` (`<tool_call>` markup in the text), `edit-does-not-apply` (an aider
//! SEARCH/REPLACE block for `app.py` whose SEARCH text is `def subtract…`), `code-does-not-parse`
//! (a Python block with a syntax error), `degenerate-repetition` (one line 40 times), `refusal`.
//! Other requests of the same turn (another model) get the normal answer, so a test can break one
//! tier and not the next.
//!
//! Other rules: `MOCK:slow=MS:N` answers `tick1 tick2 … tickN` (one piece per delta; streams send
//! headers and the preamble at once and sleep MS before every content delta; JSON answers after
//! N×MS; `MOCK:slow=0:N` sends the N ticks with no delay at all). `MOCK:tool`/`MOCK:tools2` without any offered tool answer the text
//! `No tools were offered.`. `MOCK:midstream-*` strike after the second content delta (text,
//! reasoning or tool-argument fragment). `MOCK:reset` and `MOCK:midstream-reset` close the socket
//! with `SO_LINGER` 0, so the client sees a real TCP reset. `MOCK:status` wins over every other
//! directive, then `reset`, then `hang`.
//!
//! # Usage numbers
//!
//! Input tokens are 1000 + the whitespace-separated words of the request's text: Anthropic
//! `system` and message text blocks and `tool_result` contents; Chat message `content` (string or
//! `text` parts) of every role, tool messages included; Responses `instructions`, a string
//! `input`, message `content` and `*_output` items' `output`. Tool schemas, tool-call arguments
//! and thinking are not counted. Output tokens are 7 × content deltas + 3 (the same number for
//! the JSON answer). `count_tokens` answers the word count alone (no 1000).
//!
//! # Ids and events
//!
//! Ids derive from the request's sequence number (`msg_mock_0001`, `chatcmpl-mock-0001`,
//! `resp_mock_0001`, tool ids `toolu_mock_0001_<part>` / `call_mock_0001_<part>`); `created` is a
//! fixed timestamp. Model answers carry an `x-mock-seq` header. Events (`seq` is the request's):
//! `completed` (the whole body was handed to hyper, error answers included), `reset`
//! (`MOCK:reset`, `MOCK:midstream-reset`), `client_disconnected` (the peer left before the end:
//! a hung, slow or streaming request). `/_mock/*` requests are not logged; `POST /_mock/reset`
//! clears both logs but sequence numbers keep counting.
//!
//! `anvil-mock-upstream --no-log` (benchmarks) keeps no request or event log: sequence numbers
//! still count, `/_mock/requests` and `/_mock/events` stay empty, and memory stays flat.

mod body;
mod dialect;
mod persona;
mod plan;
mod server;
mod state;

pub use persona::Persona;
pub use server::serve;
pub use state::MockState;
