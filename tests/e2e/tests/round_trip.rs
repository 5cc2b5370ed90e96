//! Every inbound dialect × every tier dialect × whole/streamed, each a full tool round trip
//! through the router (see `anvil_e2e::scenario::tool_round_trip` for what is checked).
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns fail loudly, like the tests"
)]

use anvil_e2e::config::tier;
use anvil_e2e::scenario::tool_round_trip;
use anvil_e2e::{Dialect, Stack};

macro_rules! round_trips {
    ($($name:ident: $inbound:ident -> $tier:literal, stream = $stream:literal;)*) => {$(
        #[tokio::test]
        async fn $name() {
            let stack = Stack::start().unwrap();
            let tier = tier($tier).unwrap();
            if let Err(error) = tool_round_trip(&stack, Dialect::$inbound, tier, $stream).await {
                panic!("{}", stack.diagnose(&error));
            }
        }
    )*};
}

round_trips! {
    anthropic_to_oa_whole: Anthropic -> "oa", stream = false;
    anthropic_to_oa_stream: Anthropic -> "oa", stream = true;
    anthropic_to_an_whole: Anthropic -> "an", stream = false;
    anthropic_to_an_stream: Anthropic -> "an", stream = true;
    anthropic_to_rs_whole: Anthropic -> "rs", stream = false;
    anthropic_to_rs_stream: Anthropic -> "rs", stream = true;
    chat_to_oa_whole: Chat -> "oa", stream = false;
    chat_to_oa_stream: Chat -> "oa", stream = true;
    chat_to_an_whole: Chat -> "an", stream = false;
    chat_to_an_stream: Chat -> "an", stream = true;
    chat_to_rs_whole: Chat -> "rs", stream = false;
    chat_to_rs_stream: Chat -> "rs", stream = true;
    responses_to_oa_whole: Responses -> "oa", stream = false;
    responses_to_oa_stream: Responses -> "oa", stream = true;
    responses_to_an_whole: Responses -> "an", stream = false;
    responses_to_an_stream: Responses -> "an", stream = true;
    responses_to_rs_whole: Responses -> "rs", stream = false;
    responses_to_rs_stream: Responses -> "rs", stream = true;
}
