//! libFuzzer entry for `hba_fuzz::nbd::session`: a whole NBD session of hbactl's server
//! against an in-memory export (the body is shared with the corpus replay in
//! host-driver/hbactl/tests/fuzz_corpus.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hba_fuzz::nbd::session(data));
