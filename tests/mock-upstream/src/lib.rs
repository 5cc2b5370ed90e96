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
//! # Directives
//!
//! `MOCK:tool`, `MOCK:tools2`, `MOCK:reason`, `MOCK:slow=MS:N`, `MOCK:status=CODE`, `MOCK:reset`,
//! `MOCK:hang`, `MOCK:midstream-reset`, `MOCK:midstream-error`, `MOCK:length`. Several can be
//! combined in one turn (e.g. `MOCK:reason MOCK:tool`). Tool arguments follow one fixed rule:
//! for every name in the tool schema's `required` list, in that order, the value is the first
//! `enum` entry if the property has one, else by its `type`: string (or no type) `"x ☀"`,
//! integer/number `1`, boolean `true`, array `[]`, object `{}`, null `null`; then `"n": 1` is
//! appended unless `n` is already set, the schema declares `n` with a non-numeric type, or the
//! schema says `additionalProperties: false` without declaring `n`. The arguments JSON is streamed
//! in fragments of 5 characters (never splitting a UTF-8 sequence).

mod body;
mod dialect;
mod plan;
mod server;
mod state;

pub use server::serve;
pub use state::MockState;
