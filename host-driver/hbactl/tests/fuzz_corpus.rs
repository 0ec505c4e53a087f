//! Replays the checked-in `bus_toml` and `nbd` fuzz corpora (`fuzz/corpus/<target>/*`)
//! through what the libFuzzer targets call (`fuzz/fuzz_targets/bus_toml.rs`: the parser;
//! `fuzz/fuzz_targets/nbd.rs`: the session body in `fuzz/src/nbd.rs`, included here), on
//! stable Rust in `make test`: a description may be refused, never panic; an NBD session
//! keeps the target's invariants.

#[path = "../../../fuzz/src/nbd.rs"]
mod nbd_target;

use std::path::PathBuf;

/// The corpus files of `target`, sorted; an empty or missing corpus fails.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    files
}

#[test]
fn bus_toml_corpus_parses_or_is_refused() {
    for p in corpus("bus_toml") {
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

#[test]
fn nbd_corpus_sessions_keep_the_invariants() {
    for p in corpus("nbd") {
        let data = std::fs::read(&p).expect("corpus file");
        if let Err(e) = std::panic::catch_unwind(|| nbd_target::session(&data)) {
            // assert! with arguments panics with a String, a plain one with a &str.
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("{}: {:?}", p.display(), msg);
        }
    }
}
