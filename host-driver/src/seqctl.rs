//! Sequencer bring-up over any [`Transport`]: status with the trap decoded, halt, run,
//! single-step, breakpoint, loading an image with its checksum verified, reading the
//! instruction RAM back.

use crate::transport::{Transport, TransportError};
use hba_abi::isa;
use hba_abi::regs::{self, seq_ctrl, seq_status};
use std::fmt;

/// What can go wrong driving the sequencer.
#[derive(Debug, thiserror::Error)]
pub enum SeqError {
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The image does not fit the instruction RAM.
    #[error("image has {0} words; the instruction RAM holds {max}", max = isa::IRAM_WORDS)]
    TooLong(usize),
    /// An image file is not a whole number of 32-bit words.
    #[error("image is {0} bytes, not a multiple of 4")]
    Ragged(usize),
    /// The hardware checksum does not match the image written.
    #[error("instruction RAM checksum {got:#010x}, image {want:#010x}")]
    Checksum { got: u32, want: u32 },
    /// The checksum engine never finished.
    #[error("checksum still busy after {0} polls")]
    ChecksumStuck(u32),
    /// A step did not complete (the instruction is blocked in WAIT or the sequencer trapped).
    #[error("step did not complete: {0}")]
    Step(String),
}

/// The sequencer's state as read from its registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqState {
    /// Running.
    pub running: bool,
    /// Trapped.
    pub trapped: bool,
    /// Stopped at the breakpoint.
    pub at_break: bool,
    /// Blocked in WAIT.
    pub waiting: bool,
    /// Call stack depth.
    pub depth: u32,
    /// Program counter.
    pub pc: u32,
    /// Raw SEQ_TRAP.
    pub trap: u32,
    /// Raw SEQ_BRK.
    pub brk: u32,
}

impl SeqState {
    /// PC of the last trap.
    pub fn trap_pc(&self) -> u32 {
        self.trap & (isa::IRAM_WORDS - 1)
    }
    /// Cause of the last trap (`isa::trap`).
    pub fn trap_cause(&self) -> u32 {
        (self.trap >> 16) & 0xFF
    }
    /// Code of a TRAP instruction.
    pub fn trap_code(&self) -> u32 {
        self.trap >> 24
    }
}

impl fmt::Display for SeqState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.trapped {
            "trapped"
        } else if self.at_break {
            "at breakpoint"
        } else if self.running && self.waiting {
            "running (in WAIT)"
        } else if self.running {
            "running"
        } else {
            "halted"
        };
        write!(
            f,
            "{state}, pc {:#05x}, stack depth {}",
            self.pc, self.depth
        )?;
        if self.brk & (1 << 31) != 0 {
            write!(
                f,
                ", breakpoint at {:#05x}",
                self.brk & (isa::IRAM_WORDS - 1)
            )?;
        }
        if self.trapped {
            write!(
                f,
                "; trap: {} at {:#05x}",
                isa::trap::name(self.trap_cause()),
                self.trap_pc()
            )?;
            if self.trap_cause() == isa::trap::SOFTWARE {
                write!(f, " (code {})", self.trap_code())?;
            }
        }
        Ok(())
    }
}

/// Reads the sequencer's state.
pub fn state(t: &mut dyn Transport) -> Result<SeqState, SeqError> {
    let st = t.reg_read(regs::SEQ_STATUS)?;
    Ok(SeqState {
        running: st & seq_status::RUNNING != 0,
        trapped: st & seq_status::TRAPPED != 0,
        at_break: st & seq_status::AT_BREAK != 0,
        waiting: st & seq_status::WAITING != 0,
        depth: (st >> seq_status::DEPTH_SHIFT) & 0xF,
        pc: t.reg_read(regs::SEQ_PC)?,
        trap: t.reg_read(regs::SEQ_TRAP)?,
        brk: t.reg_read(regs::SEQ_BRK)?,
    })
}

/// Halts after the current instruction.
pub fn halt(t: &mut dyn Transport) -> Result<(), SeqError> {
    Ok(t.reg_write(regs::SEQ_CTRL, 0)?)
}

/// Runs from the current PC.
pub fn run(t: &mut dyn Transport) -> Result<(), SeqError> {
    Ok(t.reg_write(regs::SEQ_CTRL, seq_ctrl::RUN)?)
}

/// Sets the PC to 0, empties the stack, clears a trap, and runs (or stays halted).
pub fn restart(t: &mut dyn Transport, run: bool) -> Result<(), SeqError> {
    let v = seq_ctrl::PC_RESET | if run { seq_ctrl::RUN } else { 0 };
    Ok(t.reg_write(regs::SEQ_CTRL, v)?)
}

/// Executes `n` instructions while halted; returns the state after the last.
pub fn step(t: &mut dyn Transport, n: u32) -> Result<SeqState, SeqError> {
    halt(t)?;
    let mut s = state(t)?;
    for _ in 0..n {
        let before = s.pc;
        t.reg_write(regs::SEQ_CTRL, seq_ctrl::STEP)?;
        s = state(t)?;
        if s.trapped {
            return Ok(s);
        }
        if s.waiting && s.pc == before {
            return Err(SeqError::Step(format!("blocked in WAIT at {before:#05x}")));
        }
    }
    Ok(s)
}

/// Sets (`Some(addr)`) or clears the breakpoint.
pub fn set_break(t: &mut dyn Transport, addr: Option<u32>) -> Result<(), SeqError> {
    let v = match addr {
        Some(a) => (1 << 31) | (a & (isa::IRAM_WORDS - 1)),
        None => 0,
    };
    Ok(t.reg_write(regs::SEQ_BRK, v)?)
}

/// The hardware checksum of the whole instruction RAM. A running sequencer keeps running
/// (every `SEQ_CTRL` write also sets RUN, so RUN is written back as it was).
pub fn checksum(t: &mut dyn Transport) -> Result<u32, SeqError> {
    let running = t.reg_read(regs::SEQ_STATUS)? & seq_status::RUNNING != 0;
    let run = if running { seq_ctrl::RUN } else { 0 };
    t.reg_write(regs::SEQ_CTRL, seq_ctrl::CSUM_START | run)?;
    for _ in 0..1000 {
        if t.reg_read(regs::SEQ_STATUS)? & seq_status::CSUM_BUSY == 0 {
            return Ok(t.reg_read(regs::SEQ_CSUM)?);
        }
    }
    Err(SeqError::ChecksumStuck(1000))
}

/// Halts the sequencer, writes `image` (zero-filled to the RAM size), verifies the
/// hardware checksum, and restarts at PC 0 when `start`. Returns the checksum.
pub fn load(t: &mut dyn Transport, image: &[u32], start: bool) -> Result<u32, SeqError> {
    if image.len() > isa::IRAM_WORDS as usize {
        return Err(SeqError::TooLong(image.len()));
    }
    halt(t)?;
    t.reg_write(regs::SEQ_IADDR, 0)?;
    for i in 0..isa::IRAM_WORDS as usize {
        t.reg_write(regs::SEQ_IDATA, image.get(i).copied().unwrap_or(0))?;
    }
    let got = checksum(t)?;
    let want = isa::checksum(image);
    if got != want {
        return Err(SeqError::Checksum { got, want });
    }
    restart(t, start)?;
    Ok(got)
}

/// Reads the instruction RAM back.
pub fn read_image(t: &mut dyn Transport) -> Result<Vec<u32>, SeqError> {
    t.reg_write(regs::SEQ_IADDR, 0)?;
    let mut v = Vec::with_capacity(isa::IRAM_WORDS as usize);
    for _ in 0..isa::IRAM_WORDS {
        v.push(t.reg_read(regs::SEQ_IDATA)?);
    }
    Ok(v)
}

/// Parses an image file: little-endian 32-bit words.
pub fn parse_image(bytes: &[u8]) -> Result<Vec<u32>, SeqError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(SeqError::Ragged(bytes.len()));
    }
    let words: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if words.len() > isa::IRAM_WORDS as usize {
        return Err(SeqError::TooLong(words.len()));
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_files_are_checked() {
        assert!(matches!(parse_image(&[1, 2, 3]), Err(SeqError::Ragged(3))));
        let big = vec![0u8; 4 * (isa::IRAM_WORDS as usize + 1)];
        assert!(matches!(parse_image(&big), Err(SeqError::TooLong(_))));
        assert_eq!(
            parse_image(&[1, 0, 0, 0, 0, 0, 0, 0x80]).unwrap(),
            vec![1, 0x8000_0000]
        );
    }

    #[test]
    fn state_renders_the_trap() {
        let s = SeqState {
            running: false,
            trapped: true,
            at_break: false,
            waiting: false,
            depth: 2,
            pc: 0x12,
            trap: (7 << 24) | (isa::trap::SOFTWARE << 16) | 0x11,
            brk: 0,
        };
        let txt = s.to_string();
        assert!(txt.contains("software trap at 0x011"), "{txt}");
        assert!(txt.contains("code 7"), "{txt}");
    }
}
