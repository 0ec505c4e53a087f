//! A program builder for the sequencer: one method per instruction, forward and
//! backward labels, and a checked image. Tests and the default image use it; the text
//! assembler (issue 5) will emit through the same encoders (`hba_abi::isa`).

use hba_abi::isa::{self, cond, enc_bri, enc_brr, enc_i, enc_j, op, IRAM_WORDS};
use std::collections::HashMap;

/// A register `r0..r15`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct R(pub u32);

/// What can go wrong when building an image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A branch names a label that was never placed.
    #[error("undefined label `{0}`")]
    UndefinedLabel(String),
    /// A label was placed twice.
    #[error("label `{0}` placed twice")]
    DuplicateLabel(String),
    /// The image does not fit the instruction RAM.
    #[error("program has {0} words; the instruction RAM holds {IRAM_WORDS}")]
    TooLong(usize),
    /// An immediate does not fit its field.
    #[error("immediate {value:#x} does not fit {bits} bits at word {at}")]
    ImmRange { value: u32, bits: u32, at: usize },
}

/// A program under construction.
#[derive(Default, Debug)]
pub struct Program {
    words: Vec<u32>,
    labels: HashMap<String, u32>,
    fixups: Vec<(usize, String)>,
    errors: Vec<BuildError>,
}

impl Program {
    /// An empty program.
    pub fn new() -> Self {
        Self::default()
    }

    /// Address of the next instruction.
    pub fn here(&self) -> u32 {
        self.words.len() as u32
    }

    /// Places `name` at the next instruction.
    pub fn label(&mut self, name: &str) -> &mut Self {
        if self.labels.insert(name.into(), self.here()).is_some() {
            self.errors.push(BuildError::DuplicateLabel(name.into()));
        }
        self
    }

    fn push(&mut self, w: u32) -> &mut Self {
        self.words.push(w);
        self
    }

    fn imm(&mut self, v: u32, bits: u32) -> u32 {
        if bits < 32 && v >> bits != 0 {
            self.errors.push(BuildError::ImmRange {
                value: v,
                bits,
                at: self.words.len(),
            });
        }
        v
    }

    fn target(&mut self, w: u32, label: &str) -> &mut Self {
        self.fixups.push((self.words.len(), label.into()));
        self.push(w)
    }

    /// `op rd, rs, imm16` for any I-format opcode.
    pub fn i(&mut self, opcode: u32, rd: R, rs: R, imm16: u32) -> &mut Self {
        let v = self.imm(imm16, 16);
        self.push(enc_i(opcode, rd.0, rs.0, v))
    }

    /// NOP.
    pub fn nop(&mut self) -> &mut Self {
        self.push(enc_i(op::NOP, 0, 0, 0))
    }
    /// HALT.
    pub fn halt(&mut self) -> &mut Self {
        self.push(enc_i(op::HALT, 0, 0, 0))
    }
    /// TRAP #code.
    pub fn trap(&mut self, code: u32) -> &mut Self {
        let v = self.imm(code, 8);
        self.push(enc_i(op::TRAP, 0, 0, v))
    }
    /// JMP label.
    pub fn jmp(&mut self, label: &str) -> &mut Self {
        self.target(enc_j(op::JMP, 0), label)
    }
    /// CALL label.
    pub fn call(&mut self, label: &str) -> &mut Self {
        self.target(enc_j(op::CALL, 0), label)
    }
    /// RET.
    pub fn ret(&mut self) -> &mut Self {
        self.push(enc_j(op::RET, 0))
    }
    /// WAIT rd, #mask: block until an event in `mask`; rd = events.
    pub fn wait(&mut self, rd: R, mask: u32) -> &mut Self {
        self.i(op::WAIT, rd, R(0), mask)
    }
    /// MOVI rd, imm16.
    pub fn movi(&mut self, rd: R, imm16: u32) -> &mut Self {
        self.i(op::MOVI, rd, R(0), imm16)
    }
    /// Loads a 32-bit constant (MOVI, and MOVHI when the upper half is not 0).
    pub fn li(&mut self, rd: R, v: u32) -> &mut Self {
        self.movi(rd, v & 0xFFFF);
        if v >> 16 != 0 {
            self.i(op::MOVHI, rd, R(0), v >> 16);
        }
        self
    }
    /// IN rd, port.
    pub fn inp(&mut self, rd: R, port: u32) -> &mut Self {
        self.i(op::IN, rd, R(0), port)
    }
    /// OUT port, rs.
    pub fn out(&mut self, port: u32, rs: R) -> &mut Self {
        self.i(op::OUT, R(0), rs, port)
    }
    /// OUT of a constant through a scratch register.
    pub fn outi(&mut self, port: u32, tmp: R, v: u32) -> &mut Self {
        self.li(tmp, v);
        self.out(port, tmp)
    }
    /// BRI: branch to `label` if `c(rd, imm8)`.
    pub fn bri(&mut self, c: u32, rd: R, imm8: u32, label: &str) -> &mut Self {
        let v = self.imm(imm8, 8);
        self.target(enc_bri(c, rd.0, v, 0), label)
    }
    /// BRR: branch to `label` if `c(rd, rs)`.
    pub fn brr(&mut self, c: u32, rd: R, rs: R, label: &str) -> &mut Self {
        self.target(enc_brr(c, rd.0, rs.0, 0), label)
    }
    /// Branch if bit `bit` of `rd` is set.
    pub fn bs(&mut self, rd: R, bit: u32, label: &str) -> &mut Self {
        self.bri(cond::BS, rd, bit, label)
    }
    /// Branch if bit `bit` of `rd` is clear.
    pub fn bc(&mut self, rd: R, bit: u32, label: &str) -> &mut Self {
        self.bri(cond::BC, rd, bit, label)
    }
    /// Branch if `rd == imm8`.
    pub fn beq(&mut self, rd: R, imm8: u32, label: &str) -> &mut Self {
        self.bri(cond::EQ, rd, imm8, label)
    }
    /// Branch if `rd != imm8`.
    pub fn bne(&mut self, rd: R, imm8: u32, label: &str) -> &mut Self {
        self.bri(cond::NE, rd, imm8, label)
    }

    /// The finished image, labels resolved and checked.
    pub fn build(&self) -> Result<Vec<u32>, BuildError> {
        if let Some(e) = self.errors.first() {
            return Err(e.clone());
        }
        if self.words.len() > IRAM_WORDS as usize {
            return Err(BuildError::TooLong(self.words.len()));
        }
        let mut w = self.words.clone();
        for (at, name) in &self.fixups {
            let t = *self
                .labels
                .get(name)
                .ok_or_else(|| BuildError::UndefinedLabel(name.clone()))?;
            w[*at] |= t & (IRAM_WORDS - 1);
        }
        Ok(w)
    }

    /// Every label with its address, sorted by address (a symbol map).
    pub fn symbols(&self) -> Vec<(u32, String)> {
        let mut v: Vec<(u32, String)> = self.labels.iter().map(|(k, a)| (*a, k.clone())).collect();
        v.sort();
        v
    }

    /// `label+offset` for an instruction address, from the nearest label at or below it.
    pub fn describe(&self, pc: u32) -> String {
        match self.symbols().into_iter().rev().find(|(a, _)| *a <= pc) {
            Some((a, n)) if a == pc => n,
            Some((a, n)) => format!("{n}+{}", pc - a),
            None => format!("{pc:#x}"),
        }
    }

    /// Address of a placed label.
    pub fn addr_of(&self, name: &str) -> Option<u32> {
        self.labels.get(name).copied()
    }
}

/// The register named by index, for readability in programs.
pub const fn r(n: u32) -> R {
    R(n % isa::NUM_REGS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hba_abi::isa::decode;

    #[test]
    fn labels_resolve_forward_and_backward() {
        let mut p = Program::new();
        p.label("top")
            .nop()
            .jmp("end")
            .jmp("top")
            .label("end")
            .halt();
        let img = p.build().unwrap();
        assert_eq!(decode(img[1]).target, 3);
        assert_eq!(decode(img[2]).target, 0);
    }

    #[test]
    fn errors_are_reported_not_panicked() {
        let mut p = Program::new();
        p.jmp("nowhere");
        assert_eq!(p.build(), Err(BuildError::UndefinedLabel("nowhere".into())));
        let mut p = Program::new();
        p.movi(r(1), 0x1_0000);
        assert!(matches!(p.build(), Err(BuildError::ImmRange { .. })));
        let mut p = Program::new();
        p.label("a").label("a");
        assert!(matches!(p.build(), Err(BuildError::DuplicateLabel(_))));
        let mut p = Program::new();
        for _ in 0..=IRAM_WORDS {
            p.nop();
        }
        assert_eq!(p.build(), Err(BuildError::TooLong(IRAM_WORDS as usize + 1)));
    }

    #[test]
    fn li_uses_movhi_only_when_needed() {
        let mut p = Program::new();
        p.li(r(2), 0x1234).li(r(3), 0xDEAD_BEEF);
        let img = p.build().unwrap();
        assert_eq!(img.len(), 3);
        assert_eq!(decode(img[2]).op, op::MOVHI);
        assert_eq!(decode(img[2]).imm16, 0xDEAD);
    }
}
