//! Fuzz target bodies (in `targets`), shared with the corpus replay test of `make test`
//! (verif/tests/fuzz_corpus.rs). The `bus_toml` target calls hbactl's library directly.

pub mod targets;
