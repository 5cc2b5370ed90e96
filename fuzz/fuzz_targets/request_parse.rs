//! Request parsing of all three dialects on arbitrary bytes.
//!
//! The first byte picks the dialect; the rest is the body. For every body that parses: re-encoding
//! gives a value that parses to the same request (nothing a client sent is lost), and translating it
//! to every dialect yields a request that re-encodes and parses again. Nothing may panic.
#![no_main]

use anvil_dialects::translate::AnyRequest;
use anvil_dialects::Dialect;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let dialect = Dialect::ALL[usize::from(selector) % Dialect::ALL.len()];
    let Ok(request) = AnyRequest::parse(dialect, body) else {
        return;
    };
    let json = request.to_json();
    let again = AnyRequest::parse(dialect, json.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("re-encoded {dialect:?} request does not parse: {e}\n{json}"));
    assert_eq!(again.to_json(), json, "re-encoding is not stable");
    for to in Dialect::ALL {
        let mut notes = Vec::new();
        let translated = request.translate(to, &mut notes).to_json();
        if let Err(e) = AnyRequest::parse(to, translated.to_string().as_bytes()) {
            panic!("{dialect:?} → {to:?} does not parse: {e}\n{translated}");
        }
    }
});
