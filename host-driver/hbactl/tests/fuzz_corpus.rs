//! Replays the checked-in `bus_toml` fuzz corpus (`fuzz/corpus/bus_toml/*`) through the
//! parser the libFuzzer target calls (`fuzz/fuzz_targets/bus_toml.rs`), on stable Rust in
//! `make test`: a description may be refused, never panic.

use std::path::PathBuf;

#[test]
fn bus_toml_corpus_parses_or_is_refused() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/bus_toml");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    for p in files {
        let data = std::fs::read(&p).expect("corpus file");
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        if let Err(e) = std::panic::catch_unwind(|| hbactl::bus::BusDesc::parse(text, "fuzz.toml"))
        {
            panic!("{}: {:?}", p.display(), e.downcast_ref::<String>());
        }
    }
}
