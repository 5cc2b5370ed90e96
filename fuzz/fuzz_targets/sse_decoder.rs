//! Fuzzes `SseDecoder`: arbitrary bytes, pushed in arbitrary splits, must decode to exactly what
//! one push gives (events, comment count, line-limit error), and decoded events must survive a
//! round trip through the encoder.
//!
//! Input layout: byte 0 selects the line limit (high bit set: `byte & 0x3f` bytes, else
//! unlimited); byte 1 is the number of cuts (mod 8); then two bytes per cut (a little-endian
//! position, taken modulo the stream length); the rest is the SSE stream.

#![no_main]

use anvil_dialects::sse::{encode_event, SseDecoder};
use anvil_dialects::SseEvent;
use libfuzzer_sys::fuzz_target;

/// Events, comment count and whether the line limit was hit.
type Outcome = (Vec<SseEvent>, u64, bool);

fn decode(stream: &[u8], cuts: &[usize], limit: usize) -> Outcome {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    points.push(0);
    points.push(stream.len());
    points.sort_unstable();
    let mut decoder = SseDecoder::with_max_line_len(limit);
    let mut out = Vec::new();
    let mut failed = false;
    for pair in points.windows(2) {
        if decoder.push(&stream[pair[0]..pair[1]], &mut out).is_err() {
            failed = true;
            break;
        }
    }
    let comments = decoder.comments();
    decoder.finish(&mut out);
    (out, comments, failed)
}

fuzz_target!(|data: &[u8]| {
    let Some((&limit_byte, rest)) = data.split_first() else {
        return;
    };
    let limit = if limit_byte & 0x80 != 0 {
        usize::from(limit_byte & 0x3f)
    } else {
        usize::MAX
    };
    let Some((&ncuts, rest)) = rest.split_first() else {
        return;
    };
    let ncuts = usize::from(ncuts % 8).min(rest.len() / 2);
    let (cut_bytes, stream) = rest.split_at(ncuts * 2);
    let cuts: Vec<usize> = cut_bytes
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])))
        .collect();

    let whole = decode(stream, &[], limit);
    assert_eq!(decode(stream, &cuts, limit), whole, "split changed the result");
    let bytewise: Vec<usize> = (0..stream.len()).collect();
    assert_eq!(decode(stream, &bytewise, limit), whole, "bytewise changed the result");

    // Decoded events re-encode to a stream that decodes to the same events.
    let mut wire = Vec::new();
    for event in &whole.0 {
        encode_event(event, &mut wire);
    }
    assert_eq!(decode(&wire, &[], usize::MAX).0, whole.0, "round trip changed the events");
});
