//! Host-side helpers over the co-simulated core: load a sequencer program and verify its
//! checksum, write HCBs, ring the doorbell, collect completion entries.
//!
//! Card memory is written through the BRAM port (what XDMA's H2C DMA does) and registers
//! through AXI4-Lite (the user BAR), so these helpers exercise the same paths as the
//! host driver.

use crate::model::{Model, ModelError};
use hba_abi::isa;
use hba_abi::layout::{self, cqe, hcb};
use hba_abi::regs;

/// A request as the host writes it into an HCB slot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hcb {
    /// CTRL word (`layout::hcb::ctrl`); the CDB length is filled in from `cdb`.
    pub ctrl: u32,
    /// Card-memory address of the data buffer.
    pub data_addr: u32,
    /// Data buffer length.
    pub data_len: u32,
    /// Sense bytes wanted.
    pub sense_len: u32,
    /// The CDB (at most 16 bytes).
    pub cdb: Vec<u8>,
}

impl Hcb {
    /// A request to `target`/`lun` with `cdb`, moving `data_len` bytes at `data_addr`
    /// in direction `dir_in` (device to card) unless `data_len` is 0.
    pub fn new(
        target: u32,
        lun: u32,
        cdb: &[u8],
        data_addr: u32,
        data_len: u32,
        dir_in: bool,
    ) -> Hcb {
        let mut ctrl = (target & hcb::ctrl::TARGET_MASK) | ((lun & 7) << hcb::ctrl::LUN_SHIFT);
        if data_len > 0 {
            ctrl |= if dir_in {
                hcb::ctrl::DIR_IN
            } else {
                hcb::ctrl::DIR_OUT
            };
        }
        Hcb {
            ctrl,
            data_addr,
            data_len,
            sense_len: hcb::SENSE_MAX,
            cdb: cdb.to_vec(),
        }
    }

    /// The HCB's request words (CTRL .. CDB), CDB length included in CTRL.
    pub fn words(&self) -> [u32; 8] {
        let mut w = [0u32; 8];
        w[0] = self.ctrl | ((self.cdb.len() as u32 & 0xFF) << hcb::ctrl::CDB_LEN_SHIFT);
        w[1] = self.data_addr;
        w[2] = self.data_len;
        w[3] = self.sense_len;
        for (i, b) in self.cdb.iter().take(16).enumerate() {
            w[4 + i / 4] |= u32::from(*b) << (8 * (i % 4));
        }
        w
    }
}

/// A decoded completion/event entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Ring index it was read from.
    pub index: u32,
    /// The four raw words.
    pub words: [u32; 4],
}

impl Entry {
    /// Phase bit.
    pub fn phase(&self) -> bool {
        self.words[0] & cqe::PHASE != 0
    }
    /// Entry type (`cqe::kind`).
    pub fn kind(&self) -> u32 {
        (self.words[0] >> cqe::TYPE_SHIFT) & cqe::TYPE_MASK
    }
    /// HBA status (`layout::hba_status`).
    pub fn hba_status(&self) -> u32 {
        (self.words[0] >> cqe::HBA_STATUS_SHIFT) & 0xFF
    }
    /// SCSI status byte.
    pub fn scsi_status(&self) -> u8 {
        (self.words[0] >> cqe::SCSI_STATUS_SHIFT) as u8
    }
    /// Slot.
    pub fn slot(&self) -> u32 {
        self.words[0] & cqe::SLOT_MASK
    }
    /// Residual byte count.
    pub fn residual(&self) -> u32 {
        self.words[1]
    }
}

/// Host state over a model: ring indices and the expected completion phase.
#[derive(Debug)]
pub struct Host {
    /// Next submission ring index.
    pub sq_pi: u32,
    /// Next completion ring index to read.
    pub cq_ci: u32,
    /// Phase the next new entry carries.
    pub cq_phase: bool,
}

impl Default for Host {
    fn default() -> Self {
        Host {
            sq_pi: 0,
            cq_ci: 0,
            cq_phase: true,
        }
    }
}

/// Loads `image` into the instruction RAM (zero-filled to its size), checks the hardware
/// checksum against [`isa::checksum`], resets the PC and starts the sequencer.
pub fn load_program(m: &mut Model, image: &[u32]) -> Result<(), String> {
    let e = |e: ModelError| e.to_string();
    m.axil_write(regs::SEQ_CTRL, 0).map_err(e)?;
    m.axil_write(regs::SEQ_IADDR, 0).map_err(e)?;
    for i in 0..isa::IRAM_WORDS as usize {
        m.axil_write(regs::SEQ_IDATA, image.get(i).copied().unwrap_or(0))
            .map_err(e)?;
    }
    m.axil_write(regs::SEQ_CTRL, regs::seq_ctrl::CSUM_START)
        .map_err(e)?;
    let mut spins = 0;
    while m.axil_read(regs::SEQ_STATUS).map_err(e)? & regs::seq_status::CSUM_BUSY != 0 {
        spins += 1;
        if spins > 10_000 {
            return Err("checksum never finished".into());
        }
    }
    let got = m.axil_read(regs::SEQ_CSUM).map_err(e)?;
    let want = isa::checksum(image);
    if got != want {
        return Err(format!(
            "instruction RAM checksum {got:#010x}, image {want:#010x}"
        ));
    }
    m.axil_write(
        regs::SEQ_CTRL,
        regs::seq_ctrl::PC_RESET | regs::seq_ctrl::RUN,
    )
    .map_err(e)?;
    Ok(())
}

impl Host {
    /// Writes `h` into slot `slot`.
    pub fn write_hcb(&self, m: &mut Model, slot: u32, h: &Hcb) {
        m.bram_write(layout::hcb_addr(slot), &h.words());
    }

    /// Posts `slots` on the submission ring and rings the doorbell once.
    pub fn submit(&mut self, m: &mut Model, slots: &[u32]) -> Result<(), ModelError> {
        for s in slots {
            m.bram_write(layout::SQ + 4 * (self.sq_pi % layout::SQ_ENTRIES), &[*s]);
            self.sq_pi = (self.sq_pi + 1) % layout::SQ_ENTRIES;
        }
        m.axil_write(regs::SQ_DOORBELL, self.sq_pi)
    }

    /// The next entry, if the core has written it (phase check on word 0).
    pub fn poll(&mut self, m: &mut Model) -> Result<Option<Entry>, ModelError> {
        let mut w = [0u32; 4];
        m.bram_read(layout::cqe_addr(self.cq_ci), &mut w);
        if (w[0] & cqe::PHASE != 0) != self.cq_phase {
            return Ok(None);
        }
        let e = Entry {
            index: self.cq_ci,
            words: w,
        };
        self.cq_ci = (self.cq_ci + 1) % layout::CQ_ENTRIES;
        if self.cq_ci == 0 {
            self.cq_phase = !self.cq_phase;
        }
        m.axil_write(regs::CQ_CONSUMER, self.cq_ci)?;
        Ok(Some(e))
    }

    /// Runs the model until an entry arrives (checking every `step` cycles) or `max`
    /// cycles pass.
    pub fn wait_entry(&mut self, m: &mut Model, max: u64) -> Result<Option<Entry>, ModelError> {
        let end = m.cycle() + max;
        while m.cycle() < end {
            if let Some(e) = self.poll(m)? {
                return Ok(Some(e));
            }
            m.idle(200);
        }
        Ok(None)
    }
}
