//! libFuzzer entry for `hba_fuzz::targets::asm` (the body is shared with the corpus
//! replay test of `make test`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hba_fuzz::targets::asm(data));
