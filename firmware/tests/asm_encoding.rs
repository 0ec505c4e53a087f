//! Every instruction form encodes exactly as the `hba_abi::isa` encoders, and decodes back.

use hba_abi::isa::{cond, decode, enc_bri, enc_brr, enc_i, enc_j, op};
use hba_firmware::asm::{assemble_str, NoIncludes};

fn one(src: &str) -> u32 {
    let a = assemble_str("t.s", src, &mut NoIncludes).unwrap_or_else(|e| panic!("{src}: {e}"));
    assert_eq!(a.words.len(), 1, "{src}");
    a.words[0]
}

#[test]
fn every_mnemonic_encodes_like_the_abi_encoders() {
    let cases: Vec<(&str, u32)> = vec![
        ("nop", enc_i(op::NOP, 0, 0, 0)),
        ("halt", enc_i(op::HALT, 0, 0, 0)),
        ("trap 0xAB", enc_i(op::TRAP, 0, 0, 0xAB)),
        ("jmp 0x3FF", enc_j(op::JMP, 0x3FF)),
        ("call 17", enc_j(op::CALL, 17)),
        ("ret", enc_j(op::RET, 0)),
        ("wait r7, 0xFFFF", enc_i(op::WAIT, 7, 0, 0xFFFF)),
        ("movi r15, 0x1234", enc_i(op::MOVI, 15, 0, 0x1234)),
        ("movhi r1, 0xBEEF", enc_i(op::MOVHI, 1, 0, 0xBEEF)),
        ("addi r1, r2, 3", enc_i(op::ADDI, 1, 2, 3)),
        ("subi r3, r4, 0xFFFF", enc_i(op::SUBI, 3, 4, 0xFFFF)),
        ("andi r5, r6, 0xF0", enc_i(op::ANDI, 5, 6, 0xF0)),
        ("ori r7, r8, 1", enc_i(op::ORI, 7, 8, 1)),
        ("xori r9, r10, 2", enc_i(op::XORI, 9, 10, 2)),
        ("shli r11, r12, 31", enc_i(op::SHLI, 11, 12, 31)),
        ("shri r13, r14, 0", enc_i(op::SHRI, 13, 14, 0)),
        ("add r1, r2", enc_i(op::ADD, 1, 2, 0)),
        ("sub r3, r4", enc_i(op::SUB, 3, 4, 0)),
        ("and r5, r6", enc_i(op::AND, 5, 6, 0)),
        ("or r7, r8", enc_i(op::OR, 7, 8, 0)),
        ("xor r9, r10", enc_i(op::XOR, 9, 10, 0)),
        ("shl r11, r12", enc_i(op::SHL, 11, 12, 0)),
        ("shr r13, r14", enc_i(op::SHR, 13, 14, 0)),
        ("mov r15, r0", enc_i(op::MOV, 15, 0, 0)),
        ("ldw r1, [r2 + 0x10]", enc_i(op::LDW, 1, 2, 0x10)),
        ("ldw r1, [r2]", enc_i(op::LDW, 1, 2, 0)),
        ("ldw r1, [0x10 + r2 + 4]", enc_i(op::LDW, 1, 2, 0x14)),
        ("ldb r3, [r4 + 1]", enc_i(op::LDB, 3, 4, 1)),
        ("stw r5, [r6 + 0xFFFC]", enc_i(op::STW, 5, 6, 0xFFFC)),
        ("stb r7, [r8 - 0 + 3]", enc_i(op::STB, 7, 8, 3)),
        ("ldwh r1, [HCB_DATA_LEN]", enc_i(op::LDWH, 1, 0, 8)),
        ("ldbh r2, [HCB_CDB + 3]", enc_i(op::LDBH, 2, 0, 0x13)),
        ("stwh r3, [HCB_FW_STATE]", enc_i(op::STWH, 3, 0, 0x24)),
        ("stbh r4, [127]", enc_i(op::STBH, 4, 0, 127)),
        ("in r1, IO_MAILBOX", enc_i(op::IN, 1, 0, 0x17)),
        ("out IO_EV_CLEAR, r2", enc_i(op::OUT, 0, 2, 1)),
        ("beq r1, 255, 9", enc_bri(cond::EQ, 1, 255, 9)),
        ("bne r1, 0, 9", enc_bri(cond::NE, 1, 0, 9)),
        ("bltu r2, 7, 1", enc_bri(cond::LTU, 2, 7, 1)),
        ("bgeu r3, 8, 2", enc_bri(cond::GEU, 3, 8, 2)),
        ("bs r4, 31, 3", enc_bri(cond::BS, 4, 31, 3)),
        ("bc r5, 0, 4", enc_bri(cond::BC, 5, 0, 4)),
        ("bany r6, 0x81, 5", enc_bri(cond::ANY, 6, 0x81, 5)),
        ("bnone r7, 0x7E, 6", enc_bri(cond::NONE, 7, 0x7E, 6)),
        ("beq r1, r2, 1023", enc_brr(cond::EQ, 1, 2, 1023)),
        ("bne r3, r4, 0", enc_brr(cond::NE, 3, 4, 0)),
        ("bltu r5, r6, 7", enc_brr(cond::LTU, 5, 6, 7)),
        ("bgeu r7, r8, 8", enc_brr(cond::GEU, 7, 8, 8)),
        ("bs r9, r10, 9", enc_brr(cond::BS, 9, 10, 9)),
        ("bc r11, r12, 10", enc_brr(cond::BC, 11, 12, 10)),
        ("bany r13, r14, 11", enc_brr(cond::ANY, 13, 14, 11)),
        ("bnone r15, r0, 12", enc_brr(cond::NONE, 15, 0, 12)),
        ("bri COND_GEU, r1, 200, 5", enc_bri(cond::GEU, 1, 200, 5)),
        ("brr COND_ANY, r1, r9, 5", enc_brr(cond::ANY, 1, 9, 5)),
        ("li r3, 0xFFFF", enc_i(op::MOVI, 3, 0, 0xFFFF)),
        // Case-insensitive mnemonics and registers; `#` immediates as in ISA.md.
        ("ADDI R1, r2, #3", enc_i(op::ADDI, 1, 2, 3)),
        ("MovI r1, #'A'", enc_i(op::MOVI, 1, 0, 65)),
    ];
    for (src, want) in &cases {
        let got = one(src);
        assert_eq!(got, *want, "{src}: got {got:#010x}, want {want:#010x}");
    }
}

#[test]
fn decode_round_trip_for_each_mnemonic() {
    let f = decode(one("ldw r9, [r3 + 0x1234]"));
    assert_eq!((f.op, f.rd, f.rs, f.imm16), (op::LDW, 9, 3, 0x1234));
    let f = decode(one("out IO_PCMD, r11"));
    assert_eq!((f.op, f.rd, f.rs, f.imm16), (op::OUT, 0, 11, 2));
    let f = decode(one("in r11, IO_PCMD"));
    assert_eq!((f.op, f.rd, f.imm16), (op::IN, 11, 2));
    let f = decode(one("bgeu r4, 0x99, 0x155"));
    assert_eq!(
        (f.op, f.rd, f.rs, f.bri_imm, f.target),
        (op::BRI, 4, cond::GEU, 0x99, 0x155)
    );
    let f = decode(one("bnone r4, r13, 0x2AA"));
    assert_eq!(
        (f.op, f.rd, f.rs, f.brr_cond, f.target),
        (op::BRR, 4, 13, cond::NONE, 0x2AA)
    );
    let f = decode(one("call 0x200"));
    assert_eq!((f.op, f.target), (op::CALL, 0x200));
    let f = decode(one("trap 7"));
    assert_eq!((f.op, f.imm16), (op::TRAP, 7));
    for (m, o) in [
        ("addi", op::ADDI),
        ("subi", op::SUBI),
        ("andi", op::ANDI),
        ("ori", op::ORI),
        ("xori", op::XORI),
    ] {
        let f = decode(one(&format!("{m} r14, r6, 0xA5A5")));
        assert_eq!((f.op, f.rd, f.rs, f.imm16), (o, 14, 6, 0xA5A5), "{m}");
    }
    for (m, o) in [
        ("add", op::ADD),
        ("sub", op::SUB),
        ("and", op::AND),
        ("or", op::OR),
        ("xor", op::XOR),
        ("shl", op::SHL),
        ("shr", op::SHR),
        ("mov", op::MOV),
    ] {
        let f = decode(one(&format!("{m} r2, r12")));
        assert_eq!((f.op, f.rd, f.rs), (o, 2, 12), "{m}");
    }
    for (m, o) in [
        ("ldwh", op::LDWH),
        ("ldbh", op::LDBH),
        ("stwh", op::STWH),
        ("stbh", op::STBH),
    ] {
        let f = decode(one(&format!("{m} r5, [0x44]")));
        assert_eq!((f.op, f.rd, f.imm16), (o, 5, 0x44), "{m}");
    }
    for (m, o) in [("movi", op::MOVI), ("movhi", op::MOVHI), ("wait", op::WAIT)] {
        let f = decode(one(&format!("{m} r8, 0x8001")));
        assert_eq!((f.op, f.rd, f.imm16), (o, 8, 0x8001), "{m}");
    }
    for (m, o) in [("nop", op::NOP), ("halt", op::HALT), ("ret", op::RET)] {
        assert_eq!(decode(one(m)).op, o, "{m}");
    }
    for (m, o) in [("shli", op::SHLI), ("shri", op::SHRI)] {
        let f = decode(one(&format!("{m} r1, r2, 17")));
        assert_eq!((f.op, f.imm16), (o, 17), "{m}");
    }
}

#[test]
fn pseudo_instructions() {
    let a = assemble_str(
        "t.s",
        "li r1, 0x1234\nli r2, 0x12345678\nli r3, -1\nouti IO_PCMD, r4, 0x10000\nouti IO_TIMER, r5, 9\n",
        &mut NoIncludes,
    )
    .unwrap();
    assert_eq!(
        a.words,
        vec![
            enc_i(op::MOVI, 1, 0, 0x1234),
            enc_i(op::MOVI, 2, 0, 0x5678),
            enc_i(op::MOVHI, 2, 0, 0x1234),
            enc_i(op::MOVI, 3, 0, 0xFFFF),
            enc_i(op::MOVHI, 3, 0, 0xFFFF),
            enc_i(op::MOVI, 4, 0, 0),
            enc_i(op::MOVHI, 4, 0, 1),
            enc_i(op::OUT, 0, 4, 2),
            enc_i(op::MOVI, 5, 0, 9),
            enc_i(op::OUT, 0, 5, 0x16),
        ]
    );
}
