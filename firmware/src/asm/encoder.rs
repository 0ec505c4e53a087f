//! The instruction set as the assembler sees it: mnemonics, operand shapes, sizes and
//! the encoding through `hba_abi::isa::{enc_i, enc_j, enc_bri, enc_brr}`.

use hba_abi::isa::{cond, enc_bri, enc_brr, enc_i, enc_j, op};

/// The operand shape (and encoding) of a mnemonic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// `nop`, `halt`: `enc_i(op, 0, 0, 0)`.
    Bare(u32),
    /// `ret`: `enc_j(RET, 0)`.
    Ret,
    /// `trap code` (8 bits).
    Trap,
    /// `jmp target`, `call target`.
    Jump(u32),
    /// `wait rd, mask16`.
    Wait,
    /// `movi rd, imm16`, `movhi rd, imm16`.
    MovI(u32),
    /// `addi rd, rs, imm16` (and the other immediate ALU ops); `shift` limits to 0..=31.
    AluI { op: u32, shift: bool },
    /// `add rd, rs` (and the other register ALU ops, `mov`).
    AluR(u32),
    /// `ldw rd, [rs + imm16]`.
    Mem(u32),
    /// `ldwh rd, [imm]` (HCB-relative, offset below `HCB_BYTES`).
    MemH(u32),
    /// `in rd, port`.
    In,
    /// `out port, rs`.
    Out,
    /// `beq rd, imm8|rs, target`: BRI or BRR by the second operand; `bit` limits the
    /// immediate to 0..=31.
    Branch { cond: u32, bit: bool },
    /// `bri cond, rd, imm8, target`.
    Bri,
    /// `brr cond, rd, rs, target`.
    Brr,
    /// `li rd, imm32`: MOVI, plus MOVHI when needed (see ASM.md for the size rule).
    Li,
    /// `outi port, rtmp, imm32`: `li rtmp, imm32` then `out port, rtmp`.
    Outi,
}

/// Every mnemonic (lower case) and its form.
pub(crate) const MNEMONICS: &[(&str, Form)] = &[
    ("nop", Form::Bare(op::NOP)),
    ("halt", Form::Bare(op::HALT)),
    ("trap", Form::Trap),
    ("jmp", Form::Jump(op::JMP)),
    ("call", Form::Jump(op::CALL)),
    ("ret", Form::Ret),
    ("wait", Form::Wait),
    ("movi", Form::MovI(op::MOVI)),
    ("movhi", Form::MovI(op::MOVHI)),
    (
        "addi",
        Form::AluI {
            op: op::ADDI,
            shift: false,
        },
    ),
    (
        "subi",
        Form::AluI {
            op: op::SUBI,
            shift: false,
        },
    ),
    (
        "andi",
        Form::AluI {
            op: op::ANDI,
            shift: false,
        },
    ),
    (
        "ori",
        Form::AluI {
            op: op::ORI,
            shift: false,
        },
    ),
    (
        "xori",
        Form::AluI {
            op: op::XORI,
            shift: false,
        },
    ),
    (
        "shli",
        Form::AluI {
            op: op::SHLI,
            shift: true,
        },
    ),
    (
        "shri",
        Form::AluI {
            op: op::SHRI,
            shift: true,
        },
    ),
    ("add", Form::AluR(op::ADD)),
    ("sub", Form::AluR(op::SUB)),
    ("and", Form::AluR(op::AND)),
    ("or", Form::AluR(op::OR)),
    ("xor", Form::AluR(op::XOR)),
    ("shl", Form::AluR(op::SHL)),
    ("shr", Form::AluR(op::SHR)),
    ("mov", Form::AluR(op::MOV)),
    ("ldw", Form::Mem(op::LDW)),
    ("ldb", Form::Mem(op::LDB)),
    ("stw", Form::Mem(op::STW)),
    ("stb", Form::Mem(op::STB)),
    ("ldwh", Form::MemH(op::LDWH)),
    ("ldbh", Form::MemH(op::LDBH)),
    ("stwh", Form::MemH(op::STWH)),
    ("stbh", Form::MemH(op::STBH)),
    ("in", Form::In),
    ("out", Form::Out),
    (
        "beq",
        Form::Branch {
            cond: cond::EQ,
            bit: false,
        },
    ),
    (
        "bne",
        Form::Branch {
            cond: cond::NE,
            bit: false,
        },
    ),
    (
        "bltu",
        Form::Branch {
            cond: cond::LTU,
            bit: false,
        },
    ),
    (
        "bgeu",
        Form::Branch {
            cond: cond::GEU,
            bit: false,
        },
    ),
    (
        "bs",
        Form::Branch {
            cond: cond::BS,
            bit: true,
        },
    ),
    (
        "bc",
        Form::Branch {
            cond: cond::BC,
            bit: true,
        },
    ),
    (
        "bany",
        Form::Branch {
            cond: cond::ANY,
            bit: false,
        },
    ),
    (
        "bnone",
        Form::Branch {
            cond: cond::NONE,
            bit: false,
        },
    ),
    ("bri", Form::Bri),
    ("brr", Form::Brr),
    ("li", Form::Li),
    ("outi", Form::Outi),
];

/// The form of a (lower-case) mnemonic.
pub(crate) fn lookup(mnemonic: &str) -> Option<Form> {
    MNEMONICS
        .iter()
        .find(|(m, _)| *m == mnemonic)
        .map(|(_, f)| *f)
}

/// What kind each operand must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A register.
    Reg,
    /// An expression.
    Imm,
    /// A register or an expression.
    RegOrImm,
    /// `[rs + expr]`.
    MemRel,
    /// `[expr]`.
    MemAbs,
}

/// The operand kinds of a form, and its human-readable syntax.
pub(crate) fn shape(form: Form) -> (&'static [Kind], &'static str) {
    use Kind::*;
    match form {
        Form::Bare(_) | Form::Ret => (&[], ""),
        Form::Trap => (&[Imm], "code"),
        Form::Jump(_) => (&[Imm], "target"),
        Form::Wait => (&[Reg, Imm], "rd, mask"),
        Form::MovI(_) => (&[Reg, Imm], "rd, imm16"),
        Form::AluI { .. } => (&[Reg, Reg, Imm], "rd, rs, imm16"),
        Form::AluR(_) => (&[Reg, Reg], "rd, rs"),
        Form::Mem(_) => (&[Reg, MemRel], "rd, [rs + offset]"),
        Form::MemH(_) => (&[Reg, MemAbs], "rd, [hcb_offset]"),
        Form::In => (&[Reg, Imm], "rd, port"),
        Form::Out => (&[Imm, Reg], "port, rs"),
        Form::Branch { .. } => (&[Reg, RegOrImm, Imm], "rd, imm8|rs, target"),
        Form::Bri => (&[Imm, Reg, Imm, Imm], "cond, rd, imm8, target"),
        Form::Brr => (&[Imm, Reg, Reg, Imm], "cond, rd, rs, target"),
        Form::Li => (&[Reg, Imm], "rd, imm32"),
        Form::Outi => (&[Imm, Reg, Imm], "port, rtmp, imm32"),
    }
}

/// Size in words of `li` for a value: known and fitting 16 bits -> 1, else 2.
pub(crate) fn li_size(known: Option<u32>) -> u32 {
    match known {
        Some(v) if v >> 16 == 0 => 1,
        _ => 2,
    }
}

/// `li rd, v` in exactly `size` words (1 or 2).
pub(crate) fn li_words(rd: u32, v: u32, size: u32) -> Vec<u32> {
    let mut w = vec![enc_i(op::MOVI, rd, 0, v & 0xFFFF)];
    if size > 1 {
        w.push(enc_i(op::MOVHI, rd, 0, v >> 16));
    }
    w
}

/// Encodes the one-word forms from checked field values.
pub(crate) fn encode_simple(form: Form, rd: u32, rs: u32, imm: u32) -> u32 {
    match form {
        Form::Bare(o) => enc_i(o, 0, 0, 0),
        Form::Ret => enc_j(op::RET, 0),
        Form::Trap => enc_i(op::TRAP, 0, 0, imm),
        Form::Jump(o) => enc_j(o, imm),
        Form::Wait => enc_i(op::WAIT, rd, 0, imm),
        Form::MovI(o) => enc_i(o, rd, 0, imm),
        Form::AluI { op: o, .. } => enc_i(o, rd, rs, imm),
        Form::AluR(o) => enc_i(o, rd, rs, 0),
        Form::Mem(o) => enc_i(o, rd, rs, imm),
        Form::MemH(o) => enc_i(o, rd, 0, imm),
        Form::In => enc_i(op::IN, rd, 0, imm),
        Form::Out => enc_i(op::OUT, 0, rs, imm),
        // Branches, li and outi are encoded by their callers.
        Form::Branch { .. } | Form::Bri | Form::Brr | Form::Li | Form::Outi => 0,
    }
}

/// The second operand of a branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rhs {
    /// A register: `BRR`.
    Reg(u32),
    /// An 8-bit immediate: `BRI`.
    Imm(u32),
}

/// `BRI` / `BRR`.
pub(crate) fn encode_branch(c: u32, rd: u32, b: Rhs, target: u32) -> u32 {
    match b {
        Rhs::Reg(rs) => enc_brr(c, rd, rs, target),
        Rhs::Imm(imm8) => enc_bri(c, rd, imm8, target),
    }
}
