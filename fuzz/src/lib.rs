//! Fuzz target bodies (in `targets`), shared with the corpus replay test of `make test`
//! (verif/tests/fuzz_corpus.rs). The `bus_toml` target calls hbactl's library directly; the
//! `nbd` body (in `nbd`) is replayed by hbactl's tests (host-driver/hbactl/tests/fuzz_corpus.rs).

pub mod nbd;
pub mod targets;
