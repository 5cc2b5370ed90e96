//! Property tests for the SSE decoder and encoder: encoded events survive any split of the byte
//! stream and any mix of line endings, and arbitrary bytes decode the same however they are split.

use anvil_dialects::sse::{encode_comment, encode_event, SseDecoder, SseError};
use anvil_dialects::SseEvent;
use proptest::prelude::*;

/// Text drawn from characters that matter to the wire format.
fn text() -> impl Strategy<Value = String> {
    let chars = prop::sample::select(vec![
        'a', 'Z', ' ', ':', '\n', '\r', '\0', 'é', '→', '😀', '\u{FEFF}', '{', '"',
    ]);
    prop::collection::vec(chars, 0..12).prop_map(|cs| cs.into_iter().collect())
}

fn event() -> impl Strategy<Value = SseEvent> {
    (
        prop::option::of(text()),
        text(),
        prop::option::of(text()),
        prop::option::of(any::<u64>()),
    )
        .prop_map(|(event, data, id, retry)| SseEvent {
            event,
            data,
            id,
            retry,
        })
}

/// What a reader gets back for `ev` after `encode_event`: line breaks in `event` and `id` become
/// spaces, an empty name is no name, an id with NUL is ignored, the data's CRLF and CR read as LF.
fn expected(ev: &SseEvent) -> SseEvent {
    let flatten = |s: &str| s.replace(['\n', '\r'], " ");
    SseEvent {
        event: ev.event.as_deref().map(flatten).filter(|e| !e.is_empty()),
        data: ev.data.replace("\r\n", "\n").replace('\r', "\n"),
        id: ev
            .id
            .as_deref()
            .map(flatten)
            .filter(|id| !id.contains('\0')),
        retry: ev.retry,
    }
}

/// Decodes `bytes` cut at `cuts` (positions taken modulo the length, in any order).
fn decode_split(bytes: &[u8], cuts: &[usize], max_line_len: usize) -> (Vec<SseEvent>, u64, bool) {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| {
            if bytes.is_empty() {
                0
            } else {
                c % (bytes.len() + 1)
            }
        })
        .collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    let mut decoder = SseDecoder::with_max_line_len(max_line_len);
    let mut out = Vec::new();
    let mut failed = false;
    for pair in points.windows(2) {
        match decoder.push(&bytes[pair[0]..pair[1]], &mut out) {
            Ok(()) => {}
            Err(SseError::LineTooLong { limit }) => {
                assert_eq!(limit, max_line_len);
                failed = true;
                break;
            }
        }
    }
    let comments = decoder.comments();
    decoder.finish(&mut out);
    (out, comments, failed)
}

/// Rewrites every LF (all of them are line endings in encoder output) as LF, CRLF or CR, never
/// putting an LF right after a lone CR.
fn vary_line_endings(bytes: &[u8], choices: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    let mut n = 0;
    for &b in bytes {
        if b == b'\n' {
            let choice = if choices.is_empty() {
                0
            } else {
                choices[n % choices.len()] % 3
            };
            n += 1;
            // A lone CR followed by an LF would read as one CRLF ending, merging two line endings.
            let choice = if choice == 0 && out.last() == Some(&b'\r') {
                2
            } else {
                choice
            };
            match choice {
                0 => out.push(b'\n'),
                1 => out.extend_from_slice(b"\r\n"),
                _ => out.push(b'\r'),
            }
        } else {
            out.push(b);
        }
    }
    out
}

/// Bytes biased towards line endings, colons, field names and pieces of UTF-8 and the BOM.
fn wire_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        prop::sample::select(vec![
            b"\n".to_vec(),
            b"\r".to_vec(),
            b"\r\n".to_vec(),
            b":".to_vec(),
            b" ".to_vec(),
            b"data".to_vec(),
            b"event".to_vec(),
            b"id".to_vec(),
            b"retry".to_vec(),
            b"123".to_vec(),
            b"\0".to_vec(),
            vec![0xEF, 0xBB, 0xBF],
            vec![0xEF, 0xBB],
            "é😀".as_bytes().to_vec(),
            vec![0xF0, 0x9F],
        ]),
    ];
    prop::collection::vec(piece, 0..64).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn encoded_events_decode_the_same_under_any_split(
        events in prop::collection::vec(event(), 0..6),
        comments in prop::collection::vec(prop::option::of(text()), 0..6),
        bom in any::<bool>(),
        endings in prop::collection::vec(any::<u8>(), 0..8),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut wire = Vec::new();
        if bom {
            wire.extend_from_slice(&[0xEF, 0xBB, 0xBF]);
        }
        for (i, ev) in events.iter().enumerate() {
            if let Some(Some(comment)) = comments.get(i) {
                encode_comment(comment, &mut wire);
            }
            encode_event(ev, &mut wire);
        }
        let want: Vec<SseEvent> = events.iter().map(expected).collect();

        let (whole, whole_comments, failed) = decode_split(&wire, &[], usize::MAX);
        prop_assert!(!failed);
        prop_assert_eq!(&whole, &want);

        let (split, split_comments, _) = decode_split(&wire, &cuts, usize::MAX);
        prop_assert_eq!(&split, &want);
        prop_assert_eq!(split_comments, whole_comments);

        let varied = vary_line_endings(&wire, &endings);
        let (varied_whole, varied_comments, _) = decode_split(&varied, &[], usize::MAX);
        prop_assert_eq!(&varied_whole, &want);
        prop_assert_eq!(varied_comments, whole_comments);
        let (varied_split, _, _) = decode_split(&varied, &cuts, usize::MAX);
        prop_assert_eq!(&varied_split, &want);
    }

    #[test]
    fn arbitrary_bytes_decode_the_same_under_any_split(
        bytes in wire_bytes(),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
        limit in prop_oneof![Just(usize::MAX), 0usize..24],
    ) {
        let whole = decode_split(&bytes, &[], limit);
        let split = decode_split(&bytes, &cuts, limit);
        prop_assert_eq!(&split, &whole);
        let bytewise: Vec<usize> = (0..bytes.len()).collect();
        prop_assert_eq!(&decode_split(&bytes, &bytewise, limit), &whole);

        // Whatever was decoded re-encodes to a stream that decodes to the same events.
        let mut wire = Vec::new();
        for event in &whole.0 {
            encode_event(event, &mut wire);
        }
        prop_assert_eq!(&decode_split(&wire, &cuts, usize::MAX).0, &whole.0);
    }

    #[test]
    fn fully_random_bytes_never_panic_and_ignore_splits(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let whole = decode_split(&bytes, &[], usize::MAX);
        prop_assert_eq!(decode_split(&bytes, &cuts, usize::MAX), whole);
    }
}
