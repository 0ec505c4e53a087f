//! The generated reference in docs/ must match the code: the contract has one source.

use std::path::PathBuf;

#[test]
fn docs_reference_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/abi.md");
    let want = hba_abi::reference_markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).expect("write docs/abi.md");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/abi.md is out of date with rtl/abi; regenerate it with \
         `UPDATE_DOCS=1 cargo test -p hba-abi --test reference`"
    );
}
