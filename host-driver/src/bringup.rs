//! Bring-up operations on any [`Transport`]: a decoded register dump and a self-test of
//! identification, registers, card memory (by BAR and by DMA) and the interrupt path.
//!
//! Every step records what it read, so a failure on a new board says what the card
//! answered, not only that it was wrong.

use crate::transport::{Transport, TransportError};
use hba_abi::{mem, regs, version_word, MAGIC};
use std::fmt::Write;
use std::time::Duration;

/// How long the self-test waits for the test interrupt.
pub const IRQ_WAIT: Duration = Duration::from_millis(100);

/// One register as read, with its fields decoded.
#[derive(Clone, Debug)]
pub struct RegDump {
    /// The register's description from the contract.
    pub reg: &'static regs::Reg,
    /// The value read, or the error that prevented it.
    pub value: Result<u32, String>,
}

impl RegDump {
    /// True when the register could not be read (a register skipped on purpose is not
    /// a failure).
    pub fn failed(&self) -> bool {
        self.value.is_err() && self.reg.offset != regs::SEQ_IDATA
    }

    /// One line per register plus one per field, e.g. `0x020 IRQ_CAUSE = 0x80000000`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        match &self.value {
            Ok(v) => {
                let _ = write!(
                    s,
                    "{:#05x} {:<15} {:<3} = {:#010x}",
                    self.reg.offset,
                    self.reg.name,
                    self.reg.access.name(),
                    v
                );
                if self.reg.access == regs::Access::Wo {
                    s.push_str("  (write-only, reads 0)");
                }
                for f in self.reg.fields {
                    let _ = write!(s, "\n        {:<12} = {:#x}", f.name, f.extract(*v));
                }
            }
            Err(e) => {
                let _ = write!(
                    s,
                    "{:#05x} {:<15} error: {e}",
                    self.reg.offset, self.reg.name
                );
            }
        }
        s
    }
}

/// Reads every register of the contract. Errors are kept per register, so one bad
/// register does not hide the others. `SEQ_IDATA` is not read: reading it advances
/// `SEQ_IADDR`, and a dump must not change the card.
pub fn dump_registers(t: &mut dyn Transport) -> Vec<RegDump> {
    regs::REGISTERS
        .iter()
        .map(|reg| RegDump {
            reg,
            value: if reg.offset == regs::SEQ_IDATA {
                Err("not read (a read advances SEQ_IADDR)".into())
            } else {
                t.reg_read(reg.offset).map_err(|e| e.to_string())
            },
        })
        .collect()
}

/// Outcome of one self-test step.
#[derive(Clone, Debug)]
pub struct Step {
    /// Short name of the step.
    pub name: &'static str,
    /// Whether it passed.
    pub pass: bool,
    /// What was read or observed.
    pub detail: String,
}

/// The outcome of a whole self-test.
#[derive(Clone, Debug, Default)]
pub struct SelfTest {
    /// Steps in the order run.
    pub steps: Vec<Step>,
}

impl SelfTest {
    /// True when every step passed.
    pub fn passed(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.pass)
    }

    fn record(&mut self, name: &'static str, r: Result<String, String>) -> bool {
        let pass = r.is_ok();
        let detail = r.unwrap_or_else(|e| e);
        self.steps.push(Step { name, pass, detail });
        pass
    }
}

type StepResult = Result<String, String>;

fn io<T>(r: Result<T, TransportError>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

fn step_identity(t: &mut dyn Transport) -> StepResult {
    let id = io(t.reg_read(regs::ID))?;
    let ver = io(t.reg_read(regs::VERSION))?;
    let caps = io(t.reg_read(regs::CAPS))?;
    let msg = format!("ID={id:#010x} VERSION={ver:#010x} CAPS={caps:#010x}");
    if id != MAGIC {
        return Err(format!("{msg}: ID should be {MAGIC:#010x}"));
    }
    if ver >> 16 != version_word() >> 16 {
        return Err(format!(
            "{msg}: major version should be {}",
            version_word() >> 16
        ));
    }
    Ok(msg)
}

fn step_scratch(t: &mut dyn Transport) -> StepResult {
    let mut patterns: Vec<u32> = (0..32).map(|i| 1u32 << i).collect();
    patterns.extend((0..32).map(|i| !(1u32 << i)));
    patterns.extend([0, u32::MAX, 0xA5A5_5A5A, 0x5A5A_A5A5]);
    for &p in &patterns {
        io(t.reg_write(regs::SCRATCH, p))?;
        let got = io(t.reg_read(regs::SCRATCH))?;
        if got != p {
            return Err(format!("wrote {p:#010x}, read {got:#010x}"));
        }
    }
    Ok(format!(
        "{} patterns (walking ones, walking zeros, fixed) read back",
        patterns.len()
    ))
}

// A pattern that differs at every word and in every byte, so address and lane faults show.
fn pattern(seed: u32, words: usize) -> Vec<u32> {
    (0..words as u32)
        .map(|i| (i.wrapping_mul(0x9E37_79B9) ^ seed).rotate_left(i % 32))
        .collect()
}

fn to_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn first_mismatch(want: &[u32], got: &[u32]) -> Option<(usize, u32, u32)> {
    want.iter()
        .zip(got)
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| (i, *a, *b))
}

// Writes `words` at `addr` one way and reads them back the other way.
fn step_mem(t: &mut dyn Transport, write_by_dma: bool, read_by_dma: bool) -> StepResult {
    const WORDS: usize = 256;
    let seed = (u32::from(write_by_dma) << 1 | u32::from(read_by_dma)) * 0x1111_1111 + 7;
    // Spread the four combinations over card memory, including its last bytes.
    let region = (seed as u64 % 4) * 4096;
    let addrs = [region, u64::from(mem::CARD_MEM_BYTES) - (WORDS as u64 * 4)];
    for (k, &addr) in addrs.iter().enumerate() {
        let want = pattern(seed.wrapping_add(k as u32), WORDS);
        if write_by_dma {
            io(t.dma_write(addr, &to_bytes(&want)))?;
        } else {
            for (i, w) in want.iter().enumerate() {
                io(t.reg_write(mem::CARD_MEM_WINDOW + addr as u32 + 4 * i as u32, *w))?;
            }
        }
        let got: Vec<u32> = if read_by_dma {
            let mut buf = vec![0u8; WORDS * 4];
            io(t.dma_read(addr, &mut buf))?;
            buf.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        } else {
            let mut v = Vec::with_capacity(WORDS);
            for i in 0..WORDS {
                v.push(io(
                    t.reg_read(mem::CARD_MEM_WINDOW + addr as u32 + 4 * i as u32)
                )?);
            }
            v
        };
        if let Some((i, a, b)) = first_mismatch(&want, &got) {
            return Err(format!(
                "card address {:#x}: wrote {a:#010x}, read {b:#010x}",
                addr + 4 * i as u64
            ));
        }
    }
    Ok(format!(
        "{WORDS} words at {:#x} and {:#x} read back",
        addrs[0], addrs[1]
    ))
}

fn step_irq(t: &mut dyn Transport) -> StepResult {
    let test = regs::irq::TEST;
    io(t.reg_write(regs::IRQ_ENABLE, 0))?;
    io(t.reg_write(regs::IRQ_CAUSE, regs::irq::ALL))?;
    // Drain any interrupt left over from before the test.
    while io(t.wait_irq(Duration::ZERO))? {}
    let raised_before = io(t.reg_read(regs::CNT_IRQ_RAISED))?;
    io(t.reg_write(regs::IRQ_ENABLE, test))?;
    io(t.reg_write(regs::IRQ_SET, test))?;
    let seen = io(t.wait_irq(IRQ_WAIT))?;
    let cause = io(t.reg_read(regs::IRQ_CAUSE))?;
    let status = io(t.reg_read(regs::STATUS))?;
    if !seen {
        return Err(format!(
            "no interrupt within {IRQ_WAIT:?} (IRQ_CAUSE={cause:#010x} STATUS={status:#010x})"
        ));
    }
    if cause & test == 0 || status & regs::status::IRQ_REQ == 0 {
        return Err(format!(
            "interrupt seen but IRQ_CAUSE={cause:#010x} STATUS={status:#010x}"
        ));
    }
    io(t.reg_write(regs::IRQ_CAUSE, test))?;
    let cause_after = io(t.reg_read(regs::IRQ_CAUSE))?;
    let status_after = io(t.reg_read(regs::STATUS))?;
    let raised = io(t.reg_read(regs::CNT_IRQ_RAISED))?.wrapping_sub(raised_before);
    let acked = io(t.reg_read(regs::CNT_IRQ_ACKED))?;
    io(t.reg_write(regs::IRQ_ENABLE, 0))?;
    let msg = format!(
        "raised: seen, IRQ_CAUSE={cause:#010x}; cleared: IRQ_CAUSE={cause_after:#010x} \
         STATUS={status_after:#010x}; CNT_IRQ_RAISED +{raised}, CNT_IRQ_ACKED={acked}"
    );
    if cause_after & test != 0 || status_after & regs::status::IRQ_REQ != 0 {
        return Err(format!("{msg}: cause or request still set after W1C"));
    }
    if raised != 1 {
        return Err(format!("{msg}: expected exactly one interrupt raised"));
    }
    Ok(msg)
}

/// Runs the whole self-test. It stops early only when identification fails (nothing
/// else can be trusted then); otherwise every step runs and reports.
pub fn self_test(t: &mut dyn Transport) -> SelfTest {
    let mut st = SelfTest::default();
    if !st.record("identification", step_identity(t)) {
        return st;
    }
    st.record("scratch walking ones/zeros", step_scratch(t));
    // Card memory is the firmware's too (scratch, HCB state, rings): halt it while the
    // patterns are written, and restart it afterwards on clean memory.
    st.record("halt the sequencer", step_halt(t));
    st.record(
        "card memory: BAR write, BAR read",
        step_mem(t, false, false),
    );
    st.record("card memory: DMA write, DMA read", step_mem(t, true, true));
    st.record("card memory: BAR write, DMA read", step_mem(t, false, true));
    st.record("card memory: DMA write, BAR read", step_mem(t, true, false));
    st.record("interrupt raise, seen, cleared", step_irq(t));
    st.record("restore: clear card memory, soft reset", step_restore(t));
    st
}

fn step_halt(t: &mut dyn Transport) -> StepResult {
    io(t.reg_write(regs::SEQ_CTRL, 0))?;
    for _ in 0..1000 {
        if io(t.reg_read(regs::SEQ_STATUS))? & regs::seq_status::RUNNING == 0 {
            return Ok("SEQ_STATUS.RUNNING = 0".into());
        }
    }
    Err("the sequencer did not halt".into())
}

/// Zeroes card memory (one DMA) and soft-resets the card: rings, counters and the
/// sequencer start again, and the firmware re-initialises its state.
fn step_restore(t: &mut dyn Transport) -> StepResult {
    io(t.dma_write(0, &vec![0u8; mem::CARD_MEM_BYTES as usize]))?;
    io(t.reg_write(regs::CONTROL, regs::control::SOFT_RESET))?;
    let st = io(t.reg_read(regs::SEQ_STATUS))?;
    if st & regs::seq_status::RUNNING == 0 {
        return Err(format!(
            "sequencer not running after soft reset: SEQ_STATUS={st:#x}"
        ));
    }
    Ok(format!(
        "card memory zeroed, soft reset, SEQ_STATUS={st:#x}"
    ))
}
