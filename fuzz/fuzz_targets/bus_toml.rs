//! libFuzzer entry: a bus description in TOML through hbactl's own parser
//! (`BusDesc::parse`); the corpus replays in host-driver/hbactl/tests/fuzz_corpus.rs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = hbactl::bus::BusDesc::parse(text, "fuzz.toml");
    }
});
