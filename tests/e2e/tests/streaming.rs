//! Streaming through the router: real-time delivery, mid-stream upstream failures, many
//! concurrent streams, clients that go away, and SIGTERM during a stream.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns fail loudly, like the tests"
)]

use std::time::{Duration, Instant};

use anvil_e2e::config::{tier, TIERS};
use anvil_e2e::scenario::{
    client_disconnect, exchange, midstream_failure, streams_in_real_time, MOCK_TEXT,
};
use anvil_e2e::{Dialect, Knobs, Stack};

macro_rules! real_time {
    ($($name:ident: $inbound:ident -> $tier:literal;)*) => {$(
        #[tokio::test]
        async fn $name() {
            let stack = Stack::start().unwrap();
            let tier = tier($tier).unwrap();
            if let Err(error) = streams_in_real_time(&stack, Dialect::$inbound, tier).await {
                panic!("{}", stack.diagnose(&error));
            }
        }
    )*};
}

real_time! {
    real_time_anthropic_to_oa: Anthropic -> "oa";
    real_time_anthropic_to_an: Anthropic -> "an";
    real_time_anthropic_to_rs: Anthropic -> "rs";
    real_time_chat_to_oa: Chat -> "oa";
    real_time_chat_to_an: Chat -> "an";
    real_time_chat_to_rs: Chat -> "rs";
    real_time_responses_to_oa: Responses -> "oa";
    real_time_responses_to_an: Responses -> "an";
    real_time_responses_to_rs: Responses -> "rs";
}

async fn midstream_all_tiers(inbound: Dialect, directive: &str) {
    let stack = Stack::start().unwrap();
    for tier in TIERS {
        if let Err(error) = midstream_failure(&stack, inbound, tier, directive).await {
            panic!("{}", stack.diagnose(&error));
        }
    }
}

#[tokio::test]
async fn midstream_reset_becomes_an_error_event_for_anthropic_clients() {
    midstream_all_tiers(Dialect::Anthropic, "MOCK:midstream-reset").await;
}

#[tokio::test]
async fn midstream_reset_becomes_an_error_chunk_for_chat_clients() {
    midstream_all_tiers(Dialect::Chat, "MOCK:midstream-reset").await;
}

#[tokio::test]
async fn midstream_reset_becomes_an_error_event_for_responses_clients() {
    midstream_all_tiers(Dialect::Responses, "MOCK:midstream-reset").await;
}

#[tokio::test]
async fn midstream_upstream_error_events_reach_every_client_dialect() {
    for inbound in Dialect::ALL {
        midstream_all_tiers(inbound, "MOCK:midstream-error").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_slow_streams_all_complete() {
    let stack = std::sync::Arc::new(
        Stack::start_with(&Knobs {
            max_concurrency: 1024,
            log_filter: Some("info".to_owned()),
            ..Knobs::default()
        })
        .unwrap(),
    );
    let started = Instant::now();
    let tasks: Vec<_> = (0..500)
        .map(|i| {
            let stack = std::sync::Arc::clone(&stack);
            tokio::spawn(async move {
                let inbound = Dialect::ALL[i % 3];
                let tier = TIERS[(i / 3) % 3];
                let body = inbound.text_request(tier.id, "slowly MOCK:slow=100:10", true);
                let streamed = exchange(&stack, inbound, &body).await?;
                anyhow::ensure!(
                    streamed.reply.completed && streamed.reply.error.is_none(),
                    "stream {i} ({} → {}): {}",
                    inbound.name(),
                    tier.id,
                    streamed.text()
                );
                anyhow::ensure!(
                    streamed.reply.content_events >= 5,
                    "stream {i}: {}",
                    streamed.text()
                );
                Ok(())
            })
        })
        .collect();
    let mut failures = Vec::new();
    for task in tasks {
        if let Err(error) = task.await.unwrap() {
            failures.push(format!("{error:#}"));
        }
    }
    let elapsed = started.elapsed();
    assert!(
        failures.is_empty(),
        "{} of 500 streams failed, first: {}\n{}",
        failures.len(),
        failures[0],
        stack.diagnose(&anyhow::anyhow!("concurrency"))
    );
    // Serially this would take 500 × 1 s; concurrently about 1 s plus overhead (30 s: slow CI).
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
}

#[tokio::test]
async fn a_client_that_disconnects_mid_stream_cancels_the_upstream_stream() {
    let stack = Stack::start().unwrap();
    for (inbound, tier) in [
        (Dialect::Chat, TIERS[0]),
        (Dialect::Anthropic, TIERS[1]),
        (Dialect::Responses, TIERS[2]),
        (Dialect::Anthropic, TIERS[0]),
        (Dialect::Chat, TIERS[2]),
    ] {
        if let Err(error) = client_disconnect(&stack, inbound, tier).await {
            panic!("{}", stack.diagnose(&error));
        }
    }
}

#[tokio::test]
async fn sigterm_during_a_stream_lets_it_finish_and_exits_zero() {
    let mut stack = Stack::start_with(&Knobs {
        shutdown_grace_s: 15.0,
        ..Knobs::default()
    })
    .unwrap();
    let inbound = Dialect::Anthropic;
    let body = inbound.text_request("oa", "slowly MOCK:slow=200:10", true);
    let mut streaming = stack.open(inbound, &body).await.unwrap();
    assert_eq!(streaming.status, 200);
    let mut events = Vec::new();
    loop {
        let timed = streaming.next_event().await.unwrap().unwrap();
        let content = inbound.is_content_event(&timed.event);
        events.push(timed.event);
        if content {
            break;
        }
    }
    stack.router.terminate().unwrap();
    let finished = streaming.finish().await;
    events.extend(finished.sse());
    let reply = inbound.stream_reply(&events);
    assert!(
        finished.error.is_none() && reply.completed && reply.error.is_none(),
        "{:?} {reply:?}\n{}",
        finished.error,
        stack.diagnose(&anyhow::anyhow!("stream cut by SIGTERM"))
    );
    assert!(reply.content_events >= 10, "{reply:?}");
    let status = stack.router.wait_exit(Duration::from_secs(20)).unwrap();
    assert_eq!(status.code(), Some(0), "{}", stack.router.logs());
}

#[tokio::test]
async fn the_default_answer_streams_whole_through_every_pair() {
    let stack = Stack::start().unwrap();
    for inbound in Dialect::ALL {
        for tier in TIERS {
            let body = inbound.text_request(tier.id, "hello", true);
            match exchange(&stack, inbound, &body).await {
                Ok(streamed) => assert_eq!(
                    streamed.reply.text,
                    MOCK_TEXT,
                    "{} → {}: {}",
                    inbound.name(),
                    tier.id,
                    streamed.text()
                ),
                Err(error) => panic!("{}", stack.diagnose(&error)),
            }
        }
    }
}
