//! The assembler never panics: random bytes, token soup from the real vocabulary,
//! random expressions, and every truncation of a valid program. Thousands of cases run
//! in `cargo test`; `cargo test -- --ignored` runs a longer campaign.

use hba_firmware::asm::{assemble_str, MemResolver, NoIncludes};
use proptest::prelude::*;
use std::path::Path;

const WORDS: &[&str] = &[
    "nop",
    "halt",
    "trap",
    "jmp",
    "call",
    "ret",
    "wait",
    "movi",
    "movhi",
    "addi",
    "subi",
    "andi",
    "ori",
    "xori",
    "shli",
    "shri",
    "add",
    "sub",
    "and",
    "or",
    "xor",
    "shl",
    "shr",
    "mov",
    "ldw",
    "ldb",
    "stw",
    "stb",
    "ldwh",
    "ldbh",
    "stwh",
    "stbh",
    "in",
    "out",
    "beq",
    "bne",
    "bltu",
    "bgeu",
    "bs",
    "bc",
    "bany",
    "bnone",
    "bri",
    "brr",
    "li",
    "outi",
    ".equ",
    ".reg",
    ".include",
    ".word",
    ".org",
    ".align",
    ".set",
    "r0",
    "r1",
    "r7",
    "r15",
    "r16",
    "R3",
    "x",
    "y",
    ".l",
    "top",
    "top.l",
    "EV_REQ",
    "IO_PCMD",
    "HCB_CTRL",
    "IRAM_WORDS",
    "LAYOUT_SQ",
    "0",
    "1",
    "-1",
    "255",
    "256",
    "0xFFFF",
    "0x10000",
    "0xFFFFFFFF",
    "0x7FFFFFFFFFFFFFFF",
    "1023",
    "1024",
    "'A'",
    "'\\n'",
    "\"x.inc\"",
    "\"a.s\"",
    "$",
    ",",
    ":",
    "[",
    "]",
    "(",
    ")",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "|",
    "^",
    "~",
    "<<",
    ">>",
    "=",
    "#",
    ";",
    "\n",
    "\n",
    "\n",
    " ",
    "\t",
    "'",
    "\"",
    "@",
    "ä",
    "\r\n",
];

fn vocab_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..120).prop_map(|v| v.join(" "))
}

fn expr_strategy() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (0u32..70).prop_map(|n| n.to_string()),
        prop::sample::select(vec!["x", "y", "$", "EV_HOST", "top", "und", "r1"])
            .prop_map(String::from),
    ];
    leaf.prop_recursive(6, 64, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]),
                inner.clone()
            )
                .prop_map(|(a, o, b)| format!("({a} {o} {b})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            inner.prop_map(|a| format!("~{a}")),
        ]
    })
}

fn resolver() -> MemResolver {
    MemResolver::new([
        ("x.inc", "x = 1\n.include \"a.s\"\n"),
        ("a.s", "top: nop\n.include \"x.inc\"\n"),
    ])
}

fn check(src: &str) {
    // Either result is fine; a panic fails the test. Errors must carry positions.
    if let Err(e) = assemble_str("a.s", src, &mut resolver()) {
        assert!(!e.0.is_empty());
        for d in &e.0 {
            assert!(d.line >= 1 && d.column >= 1, "{d}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn token_soup_never_panics(src in vocab_soup()) {
        check(&src);
    }

    #[test]
    fn random_expressions_never_panic(e in expr_strategy(), f in expr_strategy()) {
        let src = format!("y = {f}\ntop: li r1, {e}\nmovi r2, {e}\n.word {e}\nx = {e}\nbeq r1, {f}, {e}\n");
        check(&src);
    }
}

#[test]
fn every_truncation_of_a_valid_program_is_handled() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let src = std::fs::read_to_string(root.join("testprog.s")).unwrap();
    let regs = std::fs::read_to_string(root.join("testprog_regs.inc")).unwrap();
    let subs = std::fs::read_to_string(root.join("sub/testprog_subs.inc")).unwrap();
    let mut r = MemResolver::new([
        ("testprog_regs.inc", regs.as_str()),
        ("sub/testprog_subs.inc", subs.as_str()),
    ]);
    assert!(assemble_str("testprog.s", &src, &mut r).is_ok());
    for (i, _) in src.char_indices() {
        let _ = assemble_str("testprog.s", &src[..i], &mut r);
    }
}

#[test]
fn pathological_inputs_are_errors_not_crashes() {
    let deep = format!("movi r1, {}1{}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(assemble_str("t.s", &deep, &mut NoIncludes).is_err());
    let long = format!("movi r1, 1{}", " + 1".repeat(100_000));
    assert!(assemble_str("t.s", &long, &mut NoIncludes).is_err());
    let neg = format!("movi r1, {}1", "-".repeat(100_000));
    assert!(assemble_str("t.s", &neg, &mut NoIncludes).is_err());
    // A long chain of constants, each defined through the next (forward references).
    let mut chain = String::from("movi r1, c0 & 0xFF\n");
    for i in 0..5000 {
        chain.push_str(&format!("c{i} = c{} + 1\n", i + 1));
    }
    chain.push_str("c5000 = 0\n");
    let _ = assemble_str("t.s", &chain, &mut NoIncludes);
    // The same chain defined backwards resolves (each constant is memoised in order).
    let mut chain = String::from("c0 = 0\n");
    for i in 1..5000 {
        chain.push_str(&format!("c{i} = c{} + 1\n", i - 1));
    }
    chain.push_str("li r1, c4999\n");
    assert!(assemble_str("t.s", &chain, &mut NoIncludes).is_ok());
    // Exponential includes are bounded.
    let mut files = Vec::new();
    for i in 0..40 {
        files.push((
            format!("f{i}.s"),
            format!(".include \"f{}.s\"\n.include \"f{}.s\"\n", i + 1, i + 1),
        ));
    }
    let mut r = MemResolver::new(files.iter().map(|(a, b)| (a.as_str(), b.as_str())));
    assert!(assemble_str("f0.s", &files[0].1, &mut r).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200_000, ..ProptestConfig::default() })]

    #[test]
    #[ignore = "long fuzz campaign: cargo test -p hba-firmware --test asm_fuzz -- --ignored"]
    fn long_fuzz(src in prop_oneof![
        vocab_soup(),
        prop::collection::vec(any::<u8>(), 0..2000).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]) {
        check(&src);
    }
}
