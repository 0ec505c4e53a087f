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

/// A WRITE longer than the server's payload piece (1 MiB) at an odd offset, read back,
/// on a 4 MiB export (the fuzzer's exports are at most 64 KiB, so it never gets there):
/// the harness's oracle checks the data and the image.
#[test]
fn nbd_write_of_several_payload_pieces_reads_back() {
    use hbactl::nbd::proto as p;
    let req = |ty: u16, off: u64, len: u32| {
        let mut m = p::REQUEST_MAGIC.to_be_bytes().to_vec();
        m.extend_from_slice(&0u16.to_be_bytes());
        m.extend_from_slice(&ty.to_be_bytes());
        m.extend_from_slice(&u64::from(ty).to_be_bytes());
        m.extend_from_slice(&off.to_be_bytes());
        m.extend_from_slice(&len.to_be_bytes());
        m
    };
    // Fixed newstyle, no zeroes; EXPORT_NAME "".
    let mut s = 3u32.to_be_bytes().to_vec();
    s.extend_from_slice(&p::IHAVEOPT.to_be_bytes());
    s.extend_from_slice(&p::OPT_EXPORT_NAME.to_be_bytes());
    s.extend_from_slice(&0u32.to_be_bytes());
    let len = (5 << 20) / 2 + 3;
    s.extend(req(p::CMD_WRITE, 1001, len));
    s.extend((0..len).map(|i| (i % 251) as u8));
    s.extend(req(p::CMD_READ, 1000, len + 2));
    s.extend(req(p::CMD_DISC, 0, 0));
    nbd_target::session_on(false, 512, 8192, &s);
}
