//! Whole programs: labels, includes, constants, ABI symbols, `li` sizes, outputs, the
//! CLI, and the test program (`hba_firmware::testprog`) against the builder.

use hba_abi::isa::{self, enc_i, enc_j, op, IRAM_WORDS};
use hba_abi::layout;
use hba_firmware::asm::{
    abi_symbols, assemble_file, assemble_str, MemResolver, NoIncludes, SymbolMap,
};
use std::collections::HashSet;
use std::path::Path;

fn words(src: &str) -> Vec<u32> {
    assemble_str("t.s", src, &mut NoIncludes)
        .unwrap_or_else(|e| panic!("{e}"))
        .words
}

fn errors(src: &str) -> Vec<String> {
    match assemble_str("t.s", src, &mut NoIncludes) {
        Ok(_) => panic!("assembled: {src}"),
        Err(e) => e.lines(),
    }
}

#[test]
fn labels_forward_backward_and_local() {
    let src = "
top:    nop
        jmp end
        jmp top
.back:  beq r1, 0, .back    ; top.back
end:    bne r1, r2, .back   ; end.back
.back:  jmp top.back
";
    let w = words(src);
    assert_eq!(w[1], enc_j(op::JMP, 4));
    assert_eq!(w[2], enc_j(op::JMP, 0));
    assert_eq!(isa::decode(w[3]).target, 3);
    assert_eq!(isa::decode(w[4]).target, 5);
    assert_eq!(isa::decode(w[5]).target, 3);
    let a = assemble_str("t.s", src, &mut NoIncludes).unwrap();
    assert_eq!(a.symbols.addr_of("top.back"), Some(3));
    assert_eq!(a.symbols.addr_of("end.back"), Some(5));
    assert_eq!(a.symbols.describe(4), "end");
    assert_eq!(a.symbols.describe(5), "end.back");
    assert_eq!(a.symbols.describe(9), "end.back+4");
}

#[test]
fn constants_expressions_and_here() {
    let w = words(
        "
A = 3
.equ B, A * (2 + 1) - 1        ; 8
.equ C, later + 1              ; forward reference to a label
.equ D, E << 2                 ; forward reference to a constant
E = 0x10 | 0b1 ^ 'A' & 0o7     ; 0x10 | (1 ^ (65 & 7)) = 0x10
        movi r1, B
        movi r2, C
        movi r3, D
        movi r4, ~0 & 0xFFFF
        movi r5, -(-7) % 4 + 100 / 7
        jmp $
later:  .word $, -1, 0xFFFFFFFF
",
    );
    assert_eq!(w[0], enc_i(op::MOVI, 1, 0, 8));
    assert_eq!(w[1], enc_i(op::MOVI, 2, 0, 7));
    assert_eq!(w[2], enc_i(op::MOVI, 3, 0, 0x40));
    assert_eq!(w[3], enc_i(op::MOVI, 4, 0, 0xFFFF));
    assert_eq!(w[4], enc_i(op::MOVI, 5, 0, 3 + 14));
    assert_eq!(w[5], enc_j(op::JMP, 5));
    assert_eq!(&w[6..], &[6, 0xFFFF_FFFF, 0xFFFF_FFFF]);
}

#[test]
fn li_size_rule() {
    // Known from above and fitting 16 bits: one word. Forward reference: always two.
    let a = assemble_str(
        "t.s",
        "K = 5\nli r1, K\nli r2, 0x10000\nli r3, fwd\nli r4, LATER\nfwd: nop\nLATER = 1\n",
        &mut NoIncludes,
    )
    .unwrap();
    assert_eq!(a.symbols.addr_of("fwd"), Some(1 + 2 + 2 + 2));
    assert_eq!(
        a.words,
        vec![
            enc_i(op::MOVI, 1, 0, 5),
            enc_i(op::MOVI, 2, 0, 0),
            enc_i(op::MOVHI, 2, 0, 1),
            enc_i(op::MOVI, 3, 0, 7),
            enc_i(op::MOVHI, 3, 0, 0),
            enc_i(op::MOVI, 4, 0, 1),
            enc_i(op::MOVHI, 4, 0, 0),
            enc_i(op::NOP, 0, 0, 0),
        ]
    );
}

#[test]
fn org_align_and_register_aliases() {
    let w = words(".reg ev, r3\n.reg tmp, ev\nwait ev, 1\n.align 4\nmov tmp, r1\n.org 8\nhalt\n");
    assert_eq!(w.len(), 9);
    assert_eq!(w[0], enc_i(op::WAIT, 3, 0, 1));
    assert_eq!(&w[1..4], &[0, 0, 0]);
    assert_eq!(w[4], enc_i(op::MOV, 3, 1, 0));
    assert_eq!(w[8], enc_i(op::HALT, 0, 0, 0));
}

#[test]
fn abi_symbols_come_from_hba_abi() {
    let syms = abi_symbols();
    let mut seen = HashSet::new();
    for (n, _) in &syms {
        assert!(seen.insert(*n), "duplicate predefined symbol {n}");
    }
    let get = |n: &str| syms.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
    let spot: &[(&str, u32)] = &[
        ("IO_EVENTS", isa::io::EVENTS),
        ("IO_MAILBOX", isa::io::MAILBOX),
        ("IO_CQ_POST", isa::io::CQ_POST),
        ("EV_REQ", isa::ev::REQ),
        ("EV_STICKY", isa::ev::STICKY),
        ("EV_PHASE_SHIFT", isa::ev::PHASE_SHIFT),
        ("EV_HOST_BIT", isa::ev::HOST.trailing_zeros()),
        ("PCMD_SELECT", isa::pcmd::SELECT),
        ("PCMD_F_ATN", isa::pcmd::F_ATN),
        ("PCMD_F_ATN_BEFORE_ACK", isa::pcmd::F_ATN_BEFORE_ACK),
        ("PHASE_MSG_IN", isa::phase::MSG_IN),
        ("XMODE_WIDE", isa::xmode::WIDE),
        ("XMODE_MAX_OFFSET", isa::xmode::MAX_OFFSET),
        ("WINDOW_SENSE", isa::window::SENSE),
        ("TRAP_SOFTWARE", isa::trap::SOFTWARE),
        ("COND_NONE", isa::cond::NONE),
        ("OP_BRR", isa::op::BRR),
        ("IRAM_WORDS", isa::IRAM_WORDS),
        ("HCB_CTRL", layout::hcb::CTRL),
        ("HCB_SENSE_MAX", layout::hcb::SENSE_MAX),
        ("HCB_CTRL_DIR_IN", layout::hcb::ctrl::DIR_IN),
        ("HCB_CTRL_CDB_LEN_SHIFT", layout::hcb::ctrl::CDB_LEN_SHIFT),
        ("TAG_SIMPLE", layout::hcb::tag::SIMPLE),
        ("TGT_GOAL", layout::target::GOAL),
        ("TGT_TAGGED", layout::target::TAGGED),
        ("CQE_PHASE", layout::cqe::PHASE),
        ("CQE_KIND_COMPLETION", layout::cqe::kind::COMPLETION),
        ("CQE_KIND_UNKNOWN_RESEL", layout::cqe::kind::UNKNOWN_RESEL),
        ("CQE_KIND_TRAP", layout::cqe::kind::TRAP),
        ("HBA_STATUS_SEL_TIMEOUT", layout::hba_status::SEL_TIMEOUT),
        ("HBA_STATUS_PROTOCOL", layout::hba_status::PROTOCOL),
        ("CHECK_BAD_SLOT", layout::check::BAD_SLOT),
        ("CHECK_BUSY", layout::check::BUSY),
        ("LAYOUT_SQ", layout::SQ),
        ("LAYOUT_NUM_SLOTS", layout::NUM_SLOTS),
        ("LAYOUT_HCB_BYTES", layout::HCB_BYTES),
        ("LAYOUT_DATA_BYTES", layout::DATA_BYTES),
        ("CARD_MEM_BYTES", hba_abi::mem::CARD_MEM_BYTES),
    ];
    for (n, v) in spot {
        assert_eq!(get(n), Some(i64::from(*v)), "{n}");
    }
}

/// Every `pub const NAME: u32|u64` of `rtl/abi/src/{isa,layout,mem}.rs` (nested modules
/// included) has its predefined symbol, named by the documented scheme: adding a
/// constant to the ABI without adding it to the assembler's table fails here.
#[test]
fn abi_symbol_table_covers_every_public_constant() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rtl/abi/src");
    let prefix_of = |file: &str, mods: &[String]| -> String {
        let m: Vec<&str> = mods.iter().map(String::as_str).collect();
        match (file, m.as_slice()) {
            ("isa", []) | ("mem", []) => String::new(),
            ("isa", ["io"]) => "IO_".into(),
            ("isa", ["ev"]) => "EV_".into(),
            ("isa", ["pcmd"]) => "PCMD_".into(),
            ("isa", ["phase"]) => "PHASE_".into(),
            ("isa", ["xmode"]) => "XMODE_".into(),
            ("isa", ["window"]) => "WINDOW_".into(),
            ("isa", ["trap"]) => "TRAP_".into(),
            ("isa", ["cond"]) => "COND_".into(),
            ("isa", ["op"]) => "OP_".into(),
            ("layout", []) => "LAYOUT_".into(),
            ("layout", ["hcb"]) => "HCB_".into(),
            ("layout", ["hcb", "ctrl"]) => "HCB_CTRL_".into(),
            ("layout", ["hcb", "tag"]) => "TAG_".into(),
            ("layout", ["target"]) => "TGT_".into(),
            ("layout", ["cqe"]) => "CQE_".into(),
            ("layout", ["cqe", "kind"]) => "CQE_KIND_".into(),
            ("layout", ["hba_status"]) => "HBA_STATUS_".into(),
            ("layout", ["check"]) => "CHECK_".into(),
            ("layout", ["mailbox"]) => "MBOX_".into(),
            other => panic!("no naming rule for module {other:?}: extend the assembler"),
        }
    };
    let names: HashSet<&str> = abi_symbols().into_iter().map(|(n, _)| n).collect();
    let mut checked = 0;
    for file in ["isa", "layout", "mem"] {
        let text = std::fs::read_to_string(root.join(format!("{file}.rs"))).unwrap();
        let mut mods: Vec<(String, usize)> = Vec::new();
        let mut depth = 0usize;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with("//") {
                continue;
            }
            if let Some(rest) = t.strip_prefix("pub mod ") {
                if let Some(name) = rest.strip_suffix(" {") {
                    mods.push((name.to_string(), depth));
                }
            }
            if let Some(rest) = t.strip_prefix("pub const ") {
                if !rest.starts_with("fn ") {
                    let name = rest.split(':').next().unwrap().trim();
                    let m: Vec<String> = mods.iter().map(|(n, _)| n.clone()).collect();
                    let want = format!("{}{name}", prefix_of(file, &m));
                    assert!(
                        names.contains(want.as_str()),
                        "missing predefined symbol {want}"
                    );
                    checked += 1;
                }
            }
            depth += t.matches('{').count();
            depth = depth.saturating_sub(t.matches('}').count());
            while mods.last().is_some_and(|(_, d)| depth <= *d) {
                mods.pop();
            }
        }
    }
    assert!(checked > 150, "only {checked} constants found");
}

#[test]
fn includes_nested_relative_and_cycles() {
    let mut r = MemResolver::new([
        ("src/main.s", ".include \"inc/a.inc\"\njmp start\n"),
        ("src/inc/a.inc", "X = 1\n.include \"../common/b.inc\"\n"),
        ("src/common/b.inc", "start: movi r1, X\n"),
    ]);
    let a = assemble_str("src/main.s", ".include \"inc/a.inc\"\njmp start\n", &mut r).unwrap();
    assert_eq!(a.words, vec![enc_i(op::MOVI, 1, 0, 1), enc_j(op::JMP, 0)]);
    assert_eq!(a.listing[3].file, "src/common/b.inc");
    assert_eq!(a.listing[3].text, "start: movi r1, X");

    let mut r = MemResolver::new([
        ("a.s", "nop\n.include \"b.s\"\n"),
        ("b.s", "\n  .include \"c.s\"\n"),
        ("c.s", ".include \"a.s\"\n"),
    ]);
    let e = assemble_str("a.s", "nop\n.include \"b.s\"\n", &mut r).unwrap_err();
    assert_eq!(
        e.lines(),
        vec!["c.s:1:10: error: include cycle: a.s -> b.s -> c.s -> a.s"]
    );
    assert_eq!(
        e.0[0].notes,
        vec!["included from b.s:2:12", "included from a.s:2:10"]
    );
    let mut r = MemResolver::new([("self.s", ".include \"self.s\"\n")]);
    let e = assemble_str("self.s", ".include \"self.s\"\n", &mut r).unwrap_err();
    assert_eq!(
        e.lines(),
        vec!["self.s:1:10: error: include cycle: self.s -> self.s"]
    );
    // Including the same file twice (not a cycle) is fine: its labels collide, though.
    let mut r = MemResolver::new([("k.inc", "nop\n")]);
    let a = assemble_str("m.s", ".include \"k.inc\"\n.include \"k.inc\"\n", &mut r).unwrap();
    assert_eq!(a.words.len(), 2);
}

#[test]
fn includes_from_the_file_system() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("lib")).unwrap();
    std::fs::write(
        dir.path().join("main.s"),
        ".include \"lib/x.inc\"\nloop: jmp loop\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("lib/x.inc"),
        ".include \"y.inc\"\nmovi r1, Y\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("lib/y.inc"), "Y = 42\n").unwrap();
    let a = assemble_file(dir.path().join("main.s")).unwrap();
    assert_eq!(a.words, vec![enc_i(op::MOVI, 1, 0, 42), enc_j(op::JMP, 1)]);
    std::fs::write(dir.path().join("lib/y.inc"), ".include \"../main.s\"\n").unwrap();
    let e = assemble_file(dir.path().join("main.s")).unwrap_err();
    assert!(e.0[0].message.starts_with("include cycle: "), "{e}");
    assert!(assemble_file(dir.path().join("missing.s")).is_err());
}

#[test]
fn error_kinds_with_exact_positions() {
    let cases: &[(&str, &str)] = &[
        ("  frob r1", "t.s:1:3: error: unknown instruction `frob`"),
        ("  .frob 1", "t.s:1:3: error: unknown directive `.frob`"),
        ("nop\n  jmp nowhere", "t.s:2:7: error: undefined symbol `nowhere`"),
        ("a: nop\na: nop", "t.s:2:1: error: `a` is already defined"),
        ("EV_REQ = 3", "t.s:1:1: error: `EV_REQ` is a predefined ABI symbol and cannot be redefined"),
        ("r3: nop", "t.s:1:1: error: `r3` is a register name"),
        ("movi r1, 0x10000", "t.s:1:10: error: value 65536 (0x10000) does not fit imm16 (16 bits, 0..=65535)"),
        ("addi r1, r1, -1", "t.s:1:14: error: value -1 (0xffffffffffffffff) does not fit imm16 (16 bits, 0..=65535)"),
        ("beq r1, 256, 0", "t.s:1:9: error: value 256 (0x100) does not fit imm8 (8 bits, 0..=255)"),
        ("in r1, 0x100", "t.s:1:8: error: value 256 (0x100) does not fit a port number (8 bits, 0..=255)"),
        ("jmp 1024", "t.s:1:5: error: branch/jump target 1024 is out of range (0..=1023)"),
        ("bs r1, 32, 0", "t.s:1:8: error: bit number 32 is out of range (0..=31)"),
        ("shli r1, r1, 32", "t.s:1:14: error: shift amount 32 is out of range (0..=31)"),
        ("ldwh r1, [128]", "t.s:1:11: error: HCB offset 128 is out of range (0..=127)"),
        ("li r1, 0x100000000", "t.s:1:8: error: value 4294967296 (0x100000000) does not fit a 32-bit value (32 bits, -2147483648..=4294967295)"),
        ("movi r1, 1 / (2 - 2)", "t.s:1:12: error: division by zero"),
        ("movi r1, 0x7FFFFFFFFFFFFFFF * 2", "t.s:1:29: error: arithmetic overflow in multiplication"),
        ("movi r1, 1 << 64", "t.s:1:12: error: shift amount 64 is not in 0..=63"),
        ("addi r1, r2", "t.s:1:1: error: `addi` takes 3 operands (addi rd, rs, imm16), found 2"),
        ("add r1, 5", "t.s:1:9: error: expected a register (r0..r15 or a .reg alias), found an expression"),
        ("wait 5, 1", "t.s:1:6: error: expected a register (r0..r15 or a .reg alias), found an expression"),
        ("movi r1, r2", "t.s:1:10: error: expected a value, found register `r2`"),
        ("ldw r1, [4]", "t.s:1:9: error: expected a base register: [rs + offset]"),
        ("ldw r1, r2", "t.s:1:9: error: expected a memory operand [rs + offset]"),
        ("ldw r1, [r2 + r3]", "t.s:1:9: error: more than one register in a memory operand"),
        ("ldw r1, [4 - r2]", "t.s:1:9: error: a register in a memory operand must be added: [rs + offset]"),
        ("ldwh r1, [r2]", "t.s:1:10: error: HCB-relative accesses take no register: [offset]"),
        ("movi r1, r2 + 1", "t.s:1:10: error: register `r2` cannot be used in an expression here"),
        ("movi r1, (1", "t.s:1:12: error: expected `)`, found end of line"),
        ("movi r1, 1 2", "t.s:1:12: error: expected `,` or end of line, found number 2"),
        ("movi r1, @", "t.s:1:10: error: unexpected character '@'"),
        ("A = B\nB = A", "t.s:2:5: error: circular definition of `A`"),
        (".org later\nlater:", "t.s:1:6: error: the value of `.org` must be computable here (no forward references, no errors)"),
        ("nop\n.org 0", "t.s:2:6: error: `.org 0` must be between the current address 1 and 1024"),
        (".align 3", "t.s:1:8: error: `.align 3` must be a power of two up to 1024"),
        (".include \"x.s\"", "t.s:1:10: error: cannot include `x.s`: includes are not available here"),
        (".reg x, 5", "t.s:1:1: error: `.reg` takes an alias and a register: .reg NAME, rN"),
        (".word", "t.s:1:1: error: `.word` needs at least one value"),
        (".word 0x100000000", "t.s:1:7: error: value 4294967296 (0x100000000) does not fit a word (32 bits, -2147483648..=4294967295)"),
        ("X = 1 / 0\nmovi r1, X", "t.s:1:7: error: division by zero"),
        ("trap 256", "t.s:1:6: error: value 256 (0x100) does not fit a trap code (8 bits, 0..=255)"),
        (".reg x, r1\nx: nop", "t.s:2:1: error: `x` is already a register alias (defined at t.s:1:6)"),
        ("bri 8, r1, 0, 0", "t.s:1:5: error: branch condition 8 is out of range (0..=7)"),
    ];
    let mut bad = Vec::new();
    for (src, want) in cases {
        let got = errors(src);
        if got != vec![want.to_string()] {
            bad.push(format!("{src:?}:\n  got  {got:?}\n  want {want:?}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn many_errors_are_collected_in_source_order() {
    let e = errors("jmp a\nmovi r1, 0x10000\nfrob\n  jmp b\n");
    assert_eq!(
        e,
        vec![
            "t.s:1:5: error: undefined symbol `a`",
            "t.s:2:10: error: value 65536 (0x10000) does not fit imm16 (16 bits, 0..=65535)",
            "t.s:3:1: error: unknown instruction `frob`",
            "t.s:4:7: error: undefined symbol `b`",
        ]
    );
    let mut r = MemResolver::new([("inc/e.inc", "\n  halt 3\n")]);
    let e = assemble_str("m.s", "nop\n.include \"inc/e.inc\"\n", &mut r).unwrap_err();
    assert_eq!(
        e.to_string(),
        "inc/e.inc:2:3: error: `halt` takes 0 operands, found 1"
    );
}

#[test]
fn image_must_fit_the_instruction_ram() {
    let ok = "nop\n".repeat(IRAM_WORDS as usize);
    assert_eq!(words(&ok).len(), IRAM_WORDS as usize);
    let too_long = format!("{ok}li r1, 0x12345678\nnop\n");
    assert_eq!(
        errors(&too_long),
        vec!["t.s:1025:1: error: program does not fit the instruction RAM: this line ends at word 1026, the RAM holds 1024"]
    );
    assert_eq!(
        errors(".org 1023\nli r1, 0x10000"),
        vec!["t.s:2:1: error: program does not fit the instruction RAM: this line ends at word 1025, the RAM holds 1024"]
    );
}

#[test]
fn listing_and_symbol_map() {
    let a = assemble_str(
        "t.s",
        "; hi\nstart: li r1, 0x12345\n  jmp start\n",
        &mut NoIncludes,
    )
    .unwrap();
    let l = a.listing_text();
    assert_eq!(
        l,
        "0000            t.s:1            ; hi\n\
         0000  20402345  t.s:2            start: li r1, 0x12345\n\
         0001  24400001\n\
         0002  10000000  t.s:3              jmp start\n"
    );
    assert_eq!(a.symbol_map_text(), "0x0000 start\n");
    let m = SymbolMap::parse(&a.symbol_map_text()).unwrap();
    assert_eq!(m, a.symbols);
    assert_eq!(m.describe(2), "start+2");
    assert_eq!(
        a.image_bytes(),
        vec![0x45, 0x23, 0x40, 0x20, 1, 0, 0x40, 0x24, 0, 0, 0, 0x10]
    );
    assert_eq!(a.checksum(), isa::checksum(&a.words));
}

use hba_firmware::testprog;

#[test]
fn testprog_source_assembles_to_the_builder_image() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/testprog.s");
    let a = assemble_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let p = testprog::program();
    let want = p.build().unwrap();
    assert_eq!(a.words.len(), want.len());
    for (i, (g, w)) in a.words.iter().zip(want.iter()).enumerate() {
        assert_eq!(
            g,
            w,
            "word {i} ({}): {g:#010x} != {w:#010x}",
            p.describe(i as u32)
        );
    }
    // Labels land where the builder put them (renamed ones mapped).
    for (addr, name) in p.symbols() {
        let asm_name = match name.as_str() {
            "chk" => "check_wait",
            "overrun" => "do_data.overrun",
            "fast20" => "msg_ext.fast20",
            "fast10" => "msg_ext.fast10",
            n => n,
        };
        assert_eq!(a.symbols.addr_of(asm_name), Some(addr), "{name}");
    }
    assert!(a
        .listing
        .iter()
        .any(|l| l.file.ends_with("sub/testprog_subs.inc")));
}

// ------------------------------------------------------------------ CLI

#[test]
fn cli_writes_image_listing_and_symbols() {
    let exe = env!("CARGO_BIN_EXE_hba-asm");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("fw.s");
    std::fs::write(&src, "top: wait r0, EV_HOST\n  jmp top\n").unwrap();
    let img = dir.path().join("fw.bin");
    let lst = dir.path().join("fw.lst");
    let sym = dir.path().join("fw.sym");
    let out = std::process::Command::new(exe)
        .arg(&src)
        .arg("-o")
        .arg(&img)
        .arg("--listing")
        .arg(&lst)
        .arg("--symbols")
        .arg(&sym)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let w = [enc_i(op::WAIT, 0, 0, isa::ev::HOST), enc_j(op::JMP, 0)];
    assert!(stdout.contains("2 words of 1024"), "{stdout}");
    assert!(
        stdout.contains(&format!("{:#010x}", isa::checksum(&w))),
        "{stdout}"
    );
    let bytes = std::fs::read(&img).unwrap();
    let got: Vec<u32> = bytes
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(got, w);
    assert!(std::fs::read_to_string(&lst).unwrap().contains("jmp top"));
    assert_eq!(std::fs::read_to_string(&sym).unwrap(), "0x0000 top\n");

    // Assembly errors: exit 1, every error on stderr.
    std::fs::write(&src, "jmp a\njmp b\n").unwrap();
    let out = std::process::Command::new(exe)
        .arg(&src)
        .arg("-o")
        .arg(&img)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fw.s:1:5: error: undefined symbol `a`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("fw.s:2:5: error: undefined symbol `b`"),
        "{stderr}"
    );
    // Usage and I/O errors: exit 2.
    let out = std::process::Command::new(exe).arg(&src).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = std::process::Command::new(exe)
        .arg(dir.path().join("missing.s"))
        .arg("-o")
        .arg(&img)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
