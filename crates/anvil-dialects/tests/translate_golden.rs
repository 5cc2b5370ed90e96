//! Golden tests over real client captures and recorded upstream streams, across all three dialects.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail loudly by design"
)]

mod common;
mod wire_check;

use anvil_dialects::canonical::LossyNotes;
use anvil_dialects::translate::{stream_decoder, AnyRequest, StreamTranslator};
use anvil_dialects::{Dialect, EncodeContext, StreamEvent};
use common::{captures, check_canonical, recorded_streams, summarize, summarize_stream};
use proptest::prelude::*;
use serde::Serialize;

fn ctx() -> EncodeContext {
    EncodeContext {
        id: "resp_test0001".into(),
        model: "planning".into(),
        created: 1_800_000_000,
        include_usage: true,
    }
}

/// Acceptance 2: every capture parses and re-encodes in its own dialect to an equal JSON value.
#[test]
fn every_capture_reencodes_to_an_equal_value() {
    for capture in captures() {
        let bytes = serde_json::to_vec(&capture.body).unwrap();
        let parsed = AnyRequest::parse(capture.dialect, &bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", capture.name));
        assert_eq!(parsed.to_json(), capture.body, "{}", capture.name);
    }
}

/// JSON that decodes only when no object in it repeats a key.
struct NoDuplicateKeys;

impl<'de> serde::Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = NoDuplicateKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
                Ok(NoDuplicateKeys)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut seen = std::collections::HashSet::new();
                while let Some(key) = map.next_key::<String>()? {
                    if !seen.insert(key.clone()) {
                        return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
                    }
                    map.next_value::<NoDuplicateKeys>()?;
                }
                Ok(NoDuplicateKeys)
            }
        }
        d.deserialize_any(Visit)
    }
}

/// `to_vec` (what the router sends upstream for a translated request) writes the JSON `to_json`
/// builds, and no object in it repeats a key (a tagged block's `type` is written once), for every
/// capture in its own dialect and translated into each other one.
#[test]
fn to_vec_writes_what_to_json_builds_without_repeated_keys() {
    for capture in captures() {
        let bytes = serde_json::to_vec(&capture.body).unwrap();
        let source = AnyRequest::parse(capture.dialect, &bytes).unwrap();
        let mut requests = vec![(capture.dialect, source.clone())];
        for to in Dialect::ALL.into_iter().filter(|d| *d != capture.dialect) {
            requests.push((to, source.translate(to, &mut Vec::new())));
        }
        for (dialect, request) in requests {
            let written = request.to_vec().unwrap();
            serde_json::from_slice::<NoDuplicateKeys>(&written)
                .unwrap_or_else(|e| panic!("{} as {dialect:?}: {e}", capture.name));
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&written).unwrap(),
                request.to_json(),
                "{} as {dialect:?}",
                capture.name
            );
        }
    }
}

#[derive(Serialize)]
struct RoundTrip<'a> {
    to: &'a str,
    there: &'a LossyNotes,
    back: &'a LossyNotes,
}

/// A loss is acceptable only when a lossy note reports it: a whole content block dropped (a thinking
/// block whose signature the other dialect cannot carry) or a tool dropped (a tool only the source
/// dialect knows). When the notes account for exactly what is missing, the summary is restored.
fn accept_noted_losses(
    original: &common::RequestSummary,
    summary: &mut common::RequestSummary,
    there: &LossyNotes,
    back: &LossyNotes,
) {
    let dropped = |pattern: &dyn Fn(&str) -> bool| {
        there
            .iter()
            .chain(back)
            .filter(|n| n.kind == anvil_dialects::canonical::LossKind::Dropped && pattern(&n.path))
            .count()
    };
    let whole_blocks = dropped(&|p: &str| p.ends_with(']') && p.contains(".content["));
    let missing_thinking = original
        .thinking
        .len()
        .saturating_sub(summary.thinking.len());
    if missing_thinking > 0
        && missing_thinking <= whole_blocks
        && summary
            .thinking
            .iter()
            .all(|t| original.thinking.contains(t))
    {
        summary.thinking = original.thinking.clone();
    }
    let tools = dropped(&|p: &str| p.starts_with("tools[") && p.ends_with(']'));
    if original.native_tools.saturating_sub(summary.native_tools) == tools {
        summary.native_tools = original.native_tools;
    }
}

/// Acceptance 3: each capture translated to each other dialect and back keeps text, tools, tool calls
/// and results, images, thinking and stop settings; what did not survive is pinned per fixture.
#[test]
fn every_capture_survives_a_round_trip_through_each_other_dialect() {
    let mut failures = Vec::new();
    for capture in captures() {
        let bytes = serde_json::to_vec(&capture.body).unwrap();
        let source = AnyRequest::parse(capture.dialect, &bytes).unwrap();
        let mut ignored = Vec::new();
        let original = summarize(&source.to_canonical(&mut ignored));
        let mut pinned = Vec::new();
        for to in Dialect::ALL.into_iter().filter(|d| *d != capture.dialect) {
            let mut there = Vec::new();
            let translated = source.translate(to, &mut there);
            // The translated request must itself be a valid request of the target dialect.
            let wire = serde_json::to_vec(&translated.to_json()).unwrap();
            let reparsed = AnyRequest::parse(to, &wire)
                .unwrap_or_else(|e| panic!("{} → {to:?} does not reparse: {e}", capture.name));
            let mut back = Vec::new();
            let returned = reparsed.translate(capture.dialect, &mut back);
            let mut ignored = Vec::new();
            let mut summary = summarize(&returned.to_canonical(&mut ignored));
            accept_noted_losses(&original, &mut summary, &there, &back);
            if summary != original {
                failures.push(format!(
                    "{} → {to:?} → back:{}",
                    capture.name,
                    common::summary_diff(&original, &summary)
                ));
            }
            pinned.push((to, there, back));
        }
        let snapshot: Vec<_> = pinned
            .iter()
            .map(|(to, there, back)| RoundTrip {
                to: to.as_str(),
                there,
                back,
            })
            .collect();
        insta::assert_json_snapshot!(format!("lossy__{}", capture.name), snapshot);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn decode_all(dialect: Dialect, bytes: &[u8]) -> Vec<StreamEvent> {
    let mut sse = anvil_dialects::sse::SseDecoder::new();
    let mut events = Vec::new();
    sse.push(bytes, &mut events).unwrap();
    sse.finish(&mut events);
    let mut decoder = stream_decoder(dialect);
    let mut out = Vec::new();
    for event in &events {
        decoder.decode(event, &mut out).unwrap();
    }
    decoder.finish(&mut out).unwrap();
    out
}

fn translate_all(from: Dialect, to: Dialect, pieces: &[&[u8]]) -> Vec<u8> {
    translate_with_notes(from, to, pieces).0
}

/// The translated bytes and what the translator reports it dropped or approximated.
fn translate_with_notes(from: Dialect, to: Dialect, pieces: &[&[u8]]) -> (Vec<u8>, LossyNotes) {
    let mut translator = StreamTranslator::new(from, to, ctx());
    let mut out = Vec::new();
    for piece in pieces {
        translator.push(piece, &mut out).unwrap();
    }
    translator.finish(&mut out).unwrap();
    (out, translator.notes())
}

/// Acceptance 4: recorded streams of every dialect translate into valid streams of every dialect that
/// keep text, thinking, tool calls (arguments byte for byte), stop reason and usage; what did not
/// survive is reported by the translator and pinned per (source file, target dialect).
#[test]
fn recorded_streams_translate_in_every_direction() {
    for (from, name, bytes) in recorded_streams() {
        let source_events = decode_all(from, &bytes);
        check_canonical(&source_events).unwrap_or_else(|e| panic!("{from:?}/{name}: {e}"));
        let expected = summarize_stream(&source_events);
        assert!(expected.ended, "{from:?}/{name}");
        for to in Dialect::ALL {
            let (out, notes) = translate_with_notes(from, to, &[&bytes]);
            let stem = name.trim_end_matches(".sse");
            insta::assert_json_snapshot!(
                format!("stream_notes__{}_{stem}__to_{}", from.as_str(), to.as_str()),
                notes
            );
            if from == Dialect::Anthropic && name == "web_search.sse" {
                for path in ["content_block[0].server_tool_use", "delta.citations_delta"] {
                    assert!(
                        notes.iter().any(|n| n.path == path),
                        "{name} → {to:?}: no note for {path}: {notes:?}"
                    );
                }
            }
            wire_check::check_wire(to, &out).unwrap_or_else(|e| {
                panic!(
                    "{from:?}/{name} → {to:?} is not a valid stream: {e}\n{}",
                    String::from_utf8_lossy(&out)
                )
            });
            let translated = decode_all(to, &out);
            check_canonical(&translated)
                .unwrap_or_else(|e| panic!("{from:?}/{name} → {to:?}: {e}"));
            let got = summarize_stream(&translated);
            assert_eq!(got.text, expected.text, "{from:?}/{name} → {to:?}: text");
            assert_eq!(
                got.thinking, expected.thinking,
                "{from:?}/{name} → {to:?}: thinking"
            );
            assert_eq!(
                got.tool_calls, expected.tool_calls,
                "{from:?}/{name} → {to:?}: tool calls"
            );
            assert_eq!(
                got.stop_reason, expected.stop_reason,
                "{from:?}/{name} → {to:?}: stop"
            );
            // A source without usage (an OpenAI stream without include_usage) may come out with the
            // zeros a target wire requires; real numbers must come out unchanged.
            if expected.output_tokens.is_some() {
                assert_eq!(
                    got.output_tokens, expected.output_tokens,
                    "{from:?}/{name} → {to:?}: usage"
                );
                assert_eq!(
                    got.input_tokens_total, expected.input_tokens_total,
                    "{from:?}/{name} → {to:?}: input usage"
                );
            }
        }
    }
}

/// The streams include the hard cases the issue names.
#[test]
fn recorded_streams_cover_split_arguments_and_parallel_calls() {
    for dialect in Dialect::ALL {
        let streams: Vec<_> = recorded_streams()
            .into_iter()
            .filter(|(d, _, _)| *d == dialect)
            .collect();
        let summaries: Vec<_> = streams
            .iter()
            .map(|(d, _, b)| (decode_all(*d, b), summarize_stream(&decode_all(*d, b))))
            .collect();
        assert!(
            summaries.iter().any(|(_, s)| s.tool_calls.len() >= 2),
            "{dialect:?}: no recorded stream with parallel tool calls"
        );
        assert!(
            summaries.iter().any(|(events, _)| {
                events
                    .iter()
                    .filter(|e| {
                        matches!(
                            e,
                            StreamEvent::Delta {
                                delta: anvil_dialects::canonical::Delta::ToolArguments(_),
                                ..
                            }
                        )
                    })
                    .count()
                    >= 3
            }),
            "{dialect:?}: no recorded stream with arguments split over several deltas"
        );
        assert!(
            summaries.iter().any(|(_, s)| !s.thinking.is_empty()),
            "{dialect:?}: no recorded stream with reasoning"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Acceptance 4: any split of the upstream bytes gives byte-identical translated output.
    #[test]
    fn any_split_translates_identically(
        which in any::<prop::sample::Index>(),
        to in prop::sample::select(Dialect::ALL.to_vec()),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..24),
    ) {
        let streams = recorded_streams();
        let (from, _, bytes) = &streams[which.index(streams.len())];
        let whole = translate_all(*from, to, &[bytes]);
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for p in points {
            pieces.push(&bytes[start..p]);
            start = p;
        }
        pieces.push(&bytes[start..]);
        prop_assert_eq!(translate_all(*from, to, &pieces), whole);
    }
}

/// Found by the `request_parse` fuzz target: a long number must parse back to the same value after
/// re-encoding (serde_json's `float_roundtrip`; without it `1…12` with 80 digits drifts by one ulp).
#[test]
fn numbers_reencode_to_the_same_value() {
    for digits in 20..100 {
        let number = format!("{}2", "1".repeat(digits - 1));
        let body = format!(
            r#"{{"model":"m","messages":[],"temperature":0.30000000000000004,"x":{number}}}"#
        );
        for dialect in Dialect::ALL {
            let first = AnyRequest::parse(dialect, body.as_bytes())
                .unwrap()
                .to_json();
            let again = AnyRequest::parse(dialect, first.to_string().as_bytes())
                .unwrap()
                .to_json();
            assert_eq!(again, first, "{dialect:?}, {digits} digits");
        }
    }
}

/// An upstream error ends the stream with the open block still open, in every dialect: a client
/// that sees the block closed first takes the partial block as a final answer (Claude Code then gives
/// up instead of retrying), which is how Anthropic's own streams behave.
#[test]
fn an_upstream_error_leaves_the_open_block_open() {
    let streams: [(Dialect, &str); 3] = [
        (
            Dialect::Responses,
            "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1,\"status\":\"in_progress\",\"model\":\"m\",\"output\":[]}}\n\n\
             event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":1,\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":\"msg_1\",\"role\":\"assistant\",\"status\":\"in_progress\",\"content\":[]}}\n\n\
             event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":2,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hel\"}\n\n\
             event: error\ndata: {\"type\":\"error\",\"sequence_number\":3,\"code\":\"server_error\",\"message\":\"boom\",\"param\":null}\n\n",
        ),
        (
            Dialect::Anthropic,
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":0}}}\n\n\
             event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
             event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n\
             event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"boom\"}}\n\n",
        ),
        (
            Dialect::OpenAiChat,
            "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n\
             data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n",
        ),
    ];
    for (dialect, stream) in streams {
        let mut sse = anvil_dialects::sse::SseDecoder::new();
        let mut events = Vec::new();
        sse.push(stream.as_bytes(), &mut events).unwrap();
        sse.finish(&mut events);
        let mut decoder = stream_decoder(dialect);
        let mut out = Vec::new();
        for event in &events {
            decoder.decode(event, &mut out).unwrap();
        }
        let tail: Vec<_> = out.iter().rev().take(2).rev().collect();
        assert!(
            matches!(
                tail.as_slice(),
                [StreamEvent::Delta { .. }, StreamEvent::Error { message, .. }] if message == "boom"
            ),
            "{dialect:?}: {out:?}"
        );
    }
}
