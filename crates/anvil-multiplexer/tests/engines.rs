//! The multiplexer over real engine processes (the workspace mock upstream), through its HTTP API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use http_body_util::BodyExt;
use serde_json::json;

const START: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_swap_engines_by_model_name() {
    let a = mock_engine("a", &[], START);
    let b = mock_engine("b", &["--start-delay-ms", "300"], START);
    let (mux, url) = serve(vec![a, b]).await;

    let models = get_json(&format!("{url}/v1/models")).await;
    assert_eq!(models["data"][0]["id"], "a");
    assert_eq!(models["data"][1]["resident"], false);
    assert_eq!(
        get_json(&format!("{url}/residency")).await["resident"],
        json!(null)
    );

    let reply = call(
        "POST",
        &format!("{url}/v1/chat/completions"),
        &chat("a", "hi", false),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["object"], "chat.completion");
    let residency = get_json(&format!("{url}/residency")).await;
    assert_eq!(residency["resident"], "a");
    let pid_a = u32::try_from(residency["resident_pid"].as_u64().unwrap()).unwrap();
    assert!(alive(pid_a));

    // Anthropic Messages goes through too, to the engine of its model.
    let messages =
        json!({"model": "b", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]});
    let reply = call("POST", &format!("{url}/v1/messages"), &messages).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["type"], "message");
    let residency = get_json(&format!("{url}/residency")).await;
    assert_eq!(residency["resident"], "b");
    assert_eq!(residency["last_swap"]["from"], "a");
    assert_eq!(residency["last_swap"]["outcome"], "ok");
    // b waited 300 ms before binding; the swap took at least that.
    assert!(
        residency["last_swap"]["duration_ms"].as_u64().unwrap() >= 300,
        "{residency}"
    );
    assert!(!alive(pid_a), "the swapped-out engine is stopped");

    let metrics = call("GET", &format!("{url}/metrics"), &json!(null)).await;
    assert!(
        metrics
            .body
            .contains("anvil_multiplexer_swaps_total{to=\"b\",outcome=\"ok\"} 1"),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains("anvil_multiplexer_swap_duration_seconds_count{outcome=\"ok\"} 2"),
        "{}",
        metrics.body
    );
    assert!(metrics
        .body
        .contains("anvil_multiplexer_requests_total{model=\"a\"} 1"));
    mux.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_pass_through_as_they_come() {
    let (mux, url) = serve(vec![mock_engine("a", &[], START)]).await;
    mux.swap_to("a").await.unwrap();
    let started = Instant::now();
    let response = send(
        "POST",
        &format!("{url}/v1/chat/completions"),
        &chat("a", "MOCK:slow=150:4", true),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut body = response.into_body();
    let mut first_tick = None;
    let mut text = String::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            let chunk = String::from_utf8_lossy(&data).into_owned();
            if first_tick.is_none() && chunk.contains("tick1") {
                first_tick = Some(started.elapsed());
            }
            text.push_str(&chunk);
        }
    }
    let total = started.elapsed();
    let first_tick = first_tick.expect("tick1 never arrived");
    assert!(text.contains("tick4") && text.contains("[DONE]"), "{text}");
    // The first tick arrives about 150 ms in, the end about 600 ms in: not buffered.
    assert!(
        total - first_tick >= Duration::from_millis(400),
        "first tick at {first_tick:?}, end at {total:?}"
    );
    // The lease is released with the stream.
    assert!(
        eventually(Duration::from_secs(5), || mux
            .residency()
            .in_flight
            .is_empty())
        .await
    );
    mux.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_fails_when_swaps_happen_under_load() {
    let a = mock_engine("a", &["--start-delay-ms", "100"], START);
    let b = mock_engine("b", &["--start-delay-ms", "100"], START);
    let (mux, url) = serve(vec![a, b]).await;
    mux.swap_to("a").await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..24 {
        let url = url.clone();
        let model = if i % 3 == 0 { "b" } else { "a" };
        tasks.push(tokio::spawn(async move {
            // Staggered; streaming and non-streaming, each taking ~200 ms on its engine.
            tokio::time::sleep(Duration::from_millis(40 * i)).await;
            let stream = i % 2 == 0;
            let reply = call(
                "POST",
                &format!("{url}/v1/chat/completions"),
                &chat(model, "MOCK:slow=50:4", stream),
            )
            .await;
            (model, stream, reply)
        }));
    }
    for task in tasks {
        let (model, stream, reply) = task.await.unwrap();
        assert_eq!(reply.status, 200, "{model}: {}", reply.body);
        if stream {
            assert!(
                reply.body.contains("tick4") && reply.body.contains("[DONE]"),
                "{}",
                reply.body
            );
        } else {
            let answer = reply.json();
            assert_eq!(
                answer["choices"][0]["message"]["content"],
                "tick1 tick2 tick3 tick4"
            );
        }
    }
    let residency = mux.residency();
    assert!(residency.swaps >= 2, "{residency:?}");
    assert!(residency.in_flight.is_empty());
    assert!(mux
        .metrics()
        .render()
        .contains("anvil_multiplexer_drain_timeouts_total 0"));
    mux.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_crashes_on_start_rolls_back_to_the_previous_one() {
    let a = mock_engine("a", &[], START);
    let bad = mock_engine("bad", &["--crash-on-start"], START);
    let (mux, url) = serve(vec![a, bad]).await;
    mux.swap_to("a").await.unwrap();
    let started = Instant::now();
    let reply = call(
        "POST",
        &format!("{url}/v1/chat/completions"),
        &chat("bad", "hi", false),
    )
    .await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    let error = reply.json();
    assert_eq!(error["error"]["code"], "backend_unavailable");
    assert_eq!(
        error["error"]["message"],
        "model \"bad\" failed to start: the engine exited with status 3 during start-up"
    );
    // Detected from the exit, not after the 20 s deadline.
    assert!(started.elapsed() < Duration::from_secs(10));
    let residency = get_json(&format!("{url}/residency")).await;
    assert_eq!(residency["resident"], "a");
    assert_eq!(residency["last_swap"]["outcome"], "rolled_back");
    assert_eq!(residency["swap"], json!(null));
    let reply = call(
        "POST",
        &format!("{url}/v1/chat/completions"),
        &chat("a", "hi", false),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // Anthropic clients get Anthropic's envelope.
    let messages =
        json!({"model": "bad", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]});
    let reply = call("POST", &format!("{url}/v1/messages"), &messages).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json()["type"], "error");
    assert_eq!(reply.json()["error"]["type"], "overloaded_error");
    mux.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_start_hits_its_deadline_and_the_engine_is_killed() {
    let a = mock_engine("a", &[], START);
    let hung = mock_engine(
        "hung",
        &["--start-delay-ms", "3600000"],
        Duration::from_millis(800),
    );
    let (a_port, hung_port) = (a.port, hung.port);
    let (mux, url) = serve(vec![a, hung]).await;
    mux.swap_to("a").await.unwrap();
    let mut changes = mux.subscribe();
    let watcher = tokio::spawn({
        let mux = mux.clone();
        async move {
            // The hung engine's pid is not published (it never became resident): find it as the
            // multiplexer's child while it starts.
            let mut seen = Vec::new();
            while changes.changed().await.is_ok() {
                let r = mux.residency();
                if let Some(swap) = r.swap {
                    seen.push(serde_json::to_value(swap.phase).unwrap());
                }
                if r.last_swap.is_some_and(|l| l.to == "hung") {
                    break;
                }
            }
            seen
        }
    });
    let started = Instant::now();
    let reply = call("POST", &format!("{url}/swap"), &json!({"model": "hung"})).await;
    let waited = started.elapsed();
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(
        reply.json()["error"]["message"],
        "model \"hung\" failed to start: not healthy within its start timeout of 0.8s"
    );
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    let phases = watcher.await.unwrap();
    // (A watcher may miss the instant phases, draining with nothing in flight and stopping; the
    // slow ones it sees.)
    for phase in ["starting", "rolling_back"] {
        assert!(
            phases.contains(&json!(phase)),
            "{phase} not seen in {phases:?}"
        );
    }
    // The hung engine is gone: no live process runs with its port argument (tests in the same
    // process may have engines of their own, so look for this one by its command line).
    let with_port = |port: u16| -> Vec<u32> {
        let arg = format!("--port\0{port}\0");
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&arg))
            })
            .filter(|pid| alive(*pid))
            .collect()
    };
    assert!(
        with_port(hung_port).is_empty(),
        "{:?}",
        with_port(hung_port)
    );
    let resident = mux.residency().resident_pid.unwrap();
    assert_eq!(with_port(a_port), [resident], "the resident engine runs");
    mux.shutdown().await;
    assert!(eventually(Duration::from_secs(5), || !alive(resident)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engines_own_children_die_with_it() {
    // The engine is a shell that runs the mock as ITS child (as launcher scripts do).
    let port = free_port();
    let script = format!("{} --port {port} & wait", mock_bin().display());
    let wrapped = spec(
        "wrapped",
        port,
        vec!["sh".into(), "-c".into(), script],
        START,
    );
    let other = mock_engine("other", &[], START);
    let (mux, url) = serve(vec![wrapped, other]).await;
    let reply = call("POST", &format!("{url}/swap"), &json!({"model": "wrapped"})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let leader = u32::try_from(reply.json()["resident_pid"].as_u64().unwrap()).unwrap();
    let group = group_members(leader);
    assert_eq!(
        group.len(),
        3,
        "the engine's sh, its mock, the lifeline: {group:?}"
    );
    mux.swap_to("other").await.unwrap();
    assert!(
        eventually(Duration::from_secs(5), || group_members(leader).is_empty()).await,
        "left behind: {:?}",
        group_members(leader)
    );
    mux.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_json_errors() {
    let (mux, url) = serve(vec![mock_engine("a", &[], START)]).await;
    let reply = call(
        "POST",
        &format!("{url}/v1/chat/completions"),
        &chat("nope", "x", false),
    )
    .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"]["code"], "model_not_found");
    assert_eq!(
        reply.json()["error"]["message"],
        "unknown model \"nope\"; known: a"
    );
    let reply = call(
        "POST",
        &format!("{url}/v1/chat/completions"),
        &json!({"messages": []}),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("the body must be a JSON object with a string \"model\""));
    let reply = call("GET", &format!("{url}/nowhere"), &json!(null)).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"]["message"], "no route GET /nowhere");
    let reply = call(
        "GET",
        &format!("{url}/residency?wait_epoch=x"),
        &json!(null),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["error"]["message"],
        "wait_epoch must be an integer, got \"x\""
    );
    // A long poll on the current epoch waits for its timeout; on another epoch it answers at once.
    let epoch = mux.residency().epoch;
    let started = Instant::now();
    let same = get_json(&format!("{url}/residency?wait_epoch={epoch}&timeout_s=0.3")).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(same["epoch"], epoch);
    let started = Instant::now();
    get_json(&format!(
        "{url}/residency?wait_epoch={}&timeout_s=30",
        epoch + 1
    ))
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    // None of that loaded anything.
    assert_eq!(mux.residency().swaps, 0);
    mux.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_counting_never_loads_a_model() {
    let a = mock_engine("a", &[], START);
    let b = mock_engine("b", &[], START);
    let (mux, url) = serve(vec![a, b]).await;
    mux.swap_to("a").await.unwrap();
    let count = |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "one two three"}]});
    let reply = call(
        "POST",
        &format!("{url}/v1/messages/count_tokens"),
        &count("a"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["input_tokens"], 3);
    let reply = call(
        "POST",
        &format!("{url}/v1/messages/count_tokens"),
        &count("b"),
    )
    .await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.json()["type"], "error");
    assert_eq!(
        reply.json()["error"]["message"],
        "model \"b\" is not resident; token counting does not load a model"
    );
    let reply = call(
        "POST",
        &format!("{url}/v1/messages/count_tokens"),
        &count("zz"),
    )
    .await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    let residency = mux.residency();
    assert_eq!(residency.resident.as_deref(), Some("a"));
    assert_eq!(residency.swaps, 1);
    mux.shutdown().await;
}
