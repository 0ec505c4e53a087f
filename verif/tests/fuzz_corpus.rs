//! Replays the checked-in fuzz corpus (`fuzz/corpus/<target>/*`) through the same target
//! bodies libFuzzer runs (`fuzz/src/targets.rs`), on stable Rust, in `make test`: every
//! input that once found a bug, and the minimised seeds, must pass. `make fuzz` runs the
//! targets themselves (nightly, cargo-fuzz). The `bus_toml` corpus replays in hbactl's
//! own tests (`host-driver/hbactl/tests/fuzz_corpus.rs`): hbactl sits above verif.

#[path = "../../fuzz/src/targets.rs"]
mod targets;

use std::path::PathBuf;

fn replay(name: &str, f: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    for p in files {
        let data = std::fs::read(&p).expect("corpus file");
        if let Err(e) = std::panic::catch_unwind(|| f(&data)) {
            panic!("{}: {:?}", p.display(), e.downcast_ref::<String>());
        }
    }
}

#[test]
fn cdb() {
    replay("cdb", targets::cdb);
}

#[test]
fn sense() {
    replay("sense", targets::sense);
}

#[test]
fn messages() {
    replay("messages", targets::messages);
}

#[test]
fn completion() {
    replay("completion", targets::completion);
}

#[test]
fn asm() {
    replay("asm", targets::asm);
}

#[test]
fn hcb_cosim() {
    replay("hcb_cosim", targets::hcb_cosim);
}
