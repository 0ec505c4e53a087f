//! The SIM for our HBA (FreeBSD `cam_sim` in the manner of `sys/dev/aic7xxx`): CCBs from
//! the XPT become HCBs in card memory and slots on the submission ring; completions come
//! back on the phase-bit ring and go to the XPT with their CAM status. It owns timeouts
//! and the recovery ladder (abort, BUS DEVICE RESET, bus reset, controller
//! re-initialisation) with seed 000's protocol around every reset, negotiation per
//! target (user / goal / current), and resource shortage (freeze the SIM queue, return
//! `CAM_REQUEUE_REQ`, release with `CAM_RELEASE_SIMQ`).
//!
//! It runs over any [`Transport`]: the XDMA character devices on a board, the Verilator
//! model in co-simulation. Nothing here depends on which.

pub mod alloc;
pub mod card;
pub mod status;
pub mod tran;

use crate::seqctl::{self, SeqError};
use crate::transport::{Transport, TransportError};
use alloc::{Buf, BufAlloc};
use card::CardHandle;
use hba_abi::layout::{self, hba_status, hcb};
use hba_abi::{mem, regs, CORE_CLOCK_NS, MAGIC};
use hba_cam::async_event::{
    AsyncArg, AC_BUS_RESET, AC_PATH_DEREGISTERED, AC_SENT_BDR, AC_TRANSFER_NEG,
};
use hba_cam::ccb::{pi, CcbBody, DataXfer, PathInq, TagAction, TranType};
use hba_cam::path::{Bus, Lun, Target};
use hba_cam::sim::SimRecovery;
use hba_cam::status::{CAM_AUTOSNS_VALID, CAM_DEV_QFRZN, CAM_RELEASE_SIMQ, CAM_SIM_QUEUED};
use hba_cam::{CamStatus, CamTime, Ccb, CcbId, DevAddr, Path, Sim, SimCtx, SimParams};
use status::{Entry, Event};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;
use tran::{TargetTran, Xfer, ENGINE_MIN_FACTOR};

/// How the SIM attaches and behaves. Defaults suit a board; co-simulation shortens the
/// selection timeout and the recovery timers (never the bus protocol's own delays).
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The HBA's SCSI ID.
    pub own_id: u8,
    /// The bus is 16 bits wide (16 IDs, WDTR allowed).
    pub wide: bool,
    /// Reset the bus at attach.
    pub reset_bus: bool,
    /// Firmware image to load and verify at attach (and at every re-initialisation);
    /// `None` keeps the running image (its checksum is still read and reported).
    pub firmware: Option<Vec<u32>>,
    /// Selection timeout (SPI recommends 250 ms).
    pub sel_timeout: Duration,
    /// Use the interrupt; without it the SIM polls every `poll_interval`.
    pub interrupts: bool,
    /// Polling period with interrupts off.
    pub poll_interval: Duration,
    /// With interrupts on, look at the ring at least this often anyway (a lost MSI must
    /// not lose a completion).
    pub safety_poll: Duration,
    /// How long an ABORT may take before the target gets a BUS DEVICE RESET.
    pub abort_timeout: Duration,
    /// How long a BUS DEVICE RESET may take before the bus is reset.
    pub bdr_timeout: Duration,
    /// How long a bus reset may take before the controller is re-initialised.
    pub reset_timeout: Duration,
    /// The user's transfer limits for every target (clipped to the engine).
    pub user: Xfer,
    /// Tagged queuing allowed.
    pub tags: bool,
    /// Disconnection allowed.
    pub disconnect: bool,
    /// Parity errors within `parity_window` that make a target's rate step down.
    pub parity_threshold: usize,
    /// Window for `parity_threshold`.
    pub parity_window: Duration,
    /// Controller re-initialisations in a row (without a good completion between them)
    /// before the SIM gives up on the card.
    pub max_reinits: u32,
    /// How long a connected target may stay silent before the firmware gives up on it
    /// (resets the bus, the command ends `CAM_CMD_TIMEOUT`); `None`: the firmware's
    /// default (1 s).
    pub connect_timeout: Option<Duration>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            own_id: 7,
            wide: false,
            reset_bus: true,
            firmware: Some(hba_firmware::default_image()),
            sel_timeout: Duration::from_millis(250),
            interrupts: true,
            poll_interval: Duration::from_micros(20),
            safety_poll: Duration::from_millis(10),
            abort_timeout: Duration::from_secs(1),
            bdr_timeout: Duration::from_secs(2),
            reset_timeout: Duration::from_secs(3),
            // Fast-20: the board delays DB/DBP 2.4 ns at the pads so that DATA IN
            // capture keeps SPI's hold (docs/timing.md); parity errors step a marginal
            // target down.
            user: Xfer {
                period: ENGINE_MIN_FACTOR,
                offset: hba_abi::isa::xmode::MAX_OFFSET as u8,
                wide: true,
            },
            tags: true,
            disconnect: true,
            parity_threshold: 3,
            parity_window: Duration::from_secs(10),
            max_reinits: 3,
            connect_timeout: None,
        }
    }
}

impl SimConfig {
    /// Settings for co-simulation: short selection timeout and recovery timers, so that
    /// fault scenarios run in milliseconds of simulated time.
    pub fn cosim() -> Self {
        SimConfig {
            sel_timeout: Duration::from_millis(1),
            safety_poll: Duration::from_millis(2),
            abort_timeout: Duration::from_millis(3),
            bdr_timeout: Duration::from_millis(3),
            reset_timeout: Duration::from_millis(3),
            ..Default::default()
        }
    }

    fn engine(&self) -> Xfer {
        Xfer {
            period: ENGINE_MIN_FACTOR,
            offset: hba_abi::isa::xmode::MAX_OFFSET as u8,
            wide: self.wide,
        }
    }
}

/// Why attach failed.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Not our card: the identification register does not hold the magic.
    #[error("not an HBA core: ID register reads {read:#010x}, expected {expected:#010x} (\"SCSI\"){hint}")]
    NotOurCard {
        /// Value read.
        read: u32,
        /// The magic.
        expected: u32,
        /// A hint for common values.
        hint: &'static str,
    },
    /// The core speaks another major version of the contract.
    #[error("core contract version {major}.{minor}.{patch}, this driver needs {want}.x")]
    Version {
        /// Core's major.
        major: u8,
        /// Core's minor.
        minor: u8,
        /// Core's patch.
        patch: u8,
        /// Driver's major.
        want: u8,
    },
    /// The core lacks a block this driver needs.
    #[error("core capabilities {caps:#x} lack {missing:#x} (card memory, interrupt, SCSI)")]
    Caps {
        /// CAPS read.
        caps: u32,
        /// Missing bits.
        missing: u32,
    },
    /// Card memory of another size.
    #[error("card memory is {0} bytes, the contract says {want}", want = mem::CARD_MEM_BYTES)]
    MemSize(u32),
    /// Loading or verifying the firmware failed.
    #[error("firmware: {0}")]
    Firmware(#[from] SeqError),
    /// The firmware did not reach its idle loop.
    #[error("firmware did not start: SEQ_STATUS {0:#x}")]
    FirmwareStart(u32),
    /// The bus reset at attach was not answered by the firmware.
    #[error("bus reset at attach not reported by the firmware within {0:?}")]
    ResetTimeout(Duration),
    /// A ring entry at attach was not what the contract allows.
    #[error("bad ring entry at attach: {0}")]
    Entry(String),
}

/// What the core told at identification.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CoreInfo {
    /// VERSION register.
    pub version: u32,
    /// CAPS register.
    pub caps: u32,
    /// Checksum of the instruction RAM after attach.
    pub fw_checksum: u32,
}

/// Something the SIM did or saw that a person debugging wants to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimLog {
    /// A ring entry failed validation (the card is reset after it).
    BadEntry(String),
    /// A reselection by a nexus with no command (the firmware aborted it).
    UnknownResel {
        /// Target.
        target: u32,
        /// LUN.
        lun: u32,
        /// Tag.
        tag: u32,
    },
    /// The sequencer trapped (`SEQ_TRAP` value).
    Trap(u32),
    /// A command timed out; an ABORT was sent.
    Timeout {
        /// Slot.
        slot: u32,
        /// CCB.
        ccb: CcbId,
    },
    /// An abort stuck; the target gets a BUS DEVICE RESET.
    EscalateBdr {
        /// Target.
        target: u32,
    },
    /// A device reset stuck (or was asked for); the bus is reset.
    BusReset {
        /// Why.
        why: &'static str,
    },
    /// The controller was re-initialised (soft reset, firmware reload, bus reset).
    Reinit {
        /// Why.
        why: String,
    },
    /// The card is gone or unrecoverable: every periph was invalidated.
    GaveUp(String),
    /// A new agreement with a target.
    Negotiated {
        /// Target.
        target: u32,
        /// The agreement.
        xfer: Xfer,
    },
    /// Parity errors made the SIM lower a target's goal.
    RateFallback {
        /// Target.
        target: u32,
        /// Old goal.
        from: Xfer,
        /// New goal.
        to: Xfer,
    },
    /// Slots or card memory ran out: the SIM queue was frozen.
    Shortage {
        /// What ran out.
        what: &'static str,
    },
    /// A transport error.
    Transport(String),
}

/// Counters of the SIM's work.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimCounters {
    /// SCSI I/O CCBs sent to the card.
    pub submitted: u64,
    /// SCSI I/O CCBs returned to the XPT (every path).
    pub returned: u64,
    /// Doorbell writes.
    pub doorbells: u64,
    /// Ring walks (cause and ring read).
    pub services: u64,
    /// Entries read from the ring.
    pub entries: u64,
    /// Interrupt hints taken.
    pub irqs: u64,
    /// Commands that timed out.
    pub timeouts: u64,
    /// Mailbox requests written.
    pub mailbox: u64,
    /// BUS DEVICE RESETs sent.
    pub bdrs: u64,
    /// Bus resets asserted by the SIM.
    pub bus_resets: u64,
    /// Controller re-initialisations.
    pub reinits: u64,
    /// Completions for a slot with no command (a second answer): refused.
    pub late: u64,
    /// Bad entries seen.
    pub bad_entries: u64,
    /// Resource shortages (SIM queue frozen).
    pub shortages: u64,
    /// Bytes staged to the card by BAR / by DMA, and read back by BAR / by DMA.
    pub staged_bytes: u64,
}

/// What tests and tools can see of a registered SIM (it lives inside the XPT).
#[derive(Debug, Default)]
pub struct SimReport {
    /// Events, oldest first (bounded).
    pub log: Vec<SimLog>,
    /// Counters.
    pub counters: SimCounters,
    /// Set by a tool to detach: the SIM returns everything and stops.
    pub detach: bool,
    /// The SIM gave up on the card (or detached).
    pub dead: bool,
    /// CCBs outstanding on the card.
    pub outstanding: usize,
    /// In seed 000 recovery (the SIM queue frozen by the SIM) or waiting for a bus reset
    /// to be reported: not quiescent even with nothing outstanding.
    pub recovering: bool,
    /// Current agreement per target.
    pub current: Vec<Xfer>,
    /// Goal per target.
    pub goal: Vec<Xfer>,
}

/// Entries kept in the report's log.
pub const LOG_CAP: usize = 4096;

/// Why a command is being aborted.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum AbortWhy {
    Timeout,
    Host,
    Requeue,
}

struct Active {
    ccb: Ccb,
    buf: Option<Buf>,
    len: u32,
    dir_in: bool,
    target: u32,
    lun: u32,
    untagged: bool,
    sense_len: u32,
    deadline: CamTime,
    abort: Option<AbortWhy>,
}

/// A slot's CCB goes back only once the card has answered for it (or was reset), so
/// the buffer is never reused while the card may still move data into it.
enum Slot {
    Free,
    Busy(Box<Active>),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Mbox {
    Abort(u32),
    Bdr(u32),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Ladder {
    Idle,
    Aborting(CamTime),
    Bdr(CamTime),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum ResetWhy {
    Host,
    Ladder,
    Reinit,
}

enum Mgmt {
    Abort { ccb: Ccb, slot: u32, victim: CcbId },
    ResetDev { ccb: Ccb, target: u32 },
    ResetBus { ccb: Ccb },
}

/// The SIM. Build it with [`HbaSim::attach`], register it with the XPT using
/// [`HbaSim::params`], and drive the XPT with a [`card::CardClock`] over the same card.
pub struct HbaSim<T: Transport> {
    card: CardHandle<T>,
    cfg: SimConfig,
    info: CoreInfo,
    report: Rc<RefCell<SimReport>>,
    slots: Vec<Slot>,
    bufs: BufAlloc,
    sq_pi: u32,
    cq_ci: u32,
    cq_phase: bool,
    doorbell_due: bool,
    mbox_q: VecDeque<Mbox>,
    mbox_live: Option<Mbox>,
    tran: Vec<TargetTran>,
    ladder: Vec<Ladder>,
    mgmt: Vec<Mgmt>,
    reset: Option<(ResetWhy, CamTime)>,
    recovery: SimRecovery,
    shortage: bool,
    next_look: CamTime,
    moderation: (u32, u32),
    parity_seen: u32,
    reinits_in_row: u32,
    dead: bool,
}

/// Mailbox word with no request: overwrites a request the firmware has not taken yet.
const MBOX_NOP: u32 = 0;

fn dur_cycles(d: Duration) -> u32 {
    (d.as_nanos() / u128::from(CORE_CLOCK_NS)).clamp(1, u128::from(u32::MAX)) as u32
}

impl<T: Transport> HbaSim<T> {
    /// Attaches to the card: identification, firmware load and checksum, rings, goals,
    /// interrupts, and a bus reset unless the configuration says not to.
    pub fn attach(card: CardHandle<T>, cfg: SimConfig) -> Result<Self, AttachError> {
        let user = cfg.user.clip(cfg.engine());
        let mut sim = HbaSim {
            card,
            info: CoreInfo {
                version: 0,
                caps: 0,
                fw_checksum: 0,
            },
            report: Rc::new(RefCell::new(SimReport::default())),
            slots: (0..layout::NUM_SLOTS).map(|_| Slot::Free).collect(),
            bufs: BufAlloc::default(),
            sq_pi: 0,
            cq_ci: 0,
            cq_phase: true,
            doorbell_due: false,
            mbox_q: VecDeque::new(),
            mbox_live: None,
            tran: (0..layout::NUM_TARGETS)
                .map(|_| TargetTran::new(user, cfg.tags, cfg.disconnect))
                .collect(),
            ladder: vec![Ladder::Idle; layout::NUM_TARGETS as usize],
            mgmt: Vec::new(),
            reset: None,
            recovery: SimRecovery::default(),
            shortage: false,
            next_look: CamTime(0),
            moderation: (u32::MAX, u32::MAX),
            parity_seen: 0,
            reinits_in_row: 0,
            dead: false,
            cfg,
        };
        sim.info = identify(&mut sim.card.borrow_mut().t)?;
        sim.init_card()?;
        if sim.cfg.reset_bus {
            sim.reset_at_attach()?;
        }
        sim.publish();
        Ok(sim)
    }

    /// Registration parameters: the real limits (slots, tags, one untagged command per
    /// device).
    pub fn params(&self) -> SimParams {
        SimParams {
            name: "hba".into(),
            unit: 0,
            simq_size: layout::NUM_SLOTS,
            max_dev_transactions: 1,
            max_tagged_dev_transactions: layout::NUM_SLOTS,
        }
    }

    /// What the core told at identification.
    pub fn info(&self) -> CoreInfo {
        self.info
    }

    /// The report shared with tools and tests.
    pub fn report(&self) -> Rc<RefCell<SimReport>> {
        self.report.clone()
    }

    /// Largest transfer: the largest power of two that fits the card's data area.
    pub fn maxio() -> u32 {
        1 << (31 - layout::DATA_BYTES.leading_zeros())
    }

    fn max_target(&self) -> u32 {
        if self.cfg.wide {
            15
        } else {
            7
        }
    }

    fn now(&self) -> CamTime {
        self.card.borrow().now()
    }

    fn log(&self, e: SimLog) {
        let mut r = self.report.borrow_mut();
        if r.log.len() < LOG_CAP {
            r.log.push(e);
        }
    }

    fn count(&self, f: impl FnOnce(&mut SimCounters)) {
        f(&mut self.report.borrow_mut().counters);
    }

    fn publish(&self) {
        let mut r = self.report.borrow_mut();
        r.outstanding = self.busy_slots();
        r.recovering = !self.dead && (self.recovery.in_recovery() || self.reset.is_some());
        r.current = self.tran.iter().map(|t| t.current).collect();
        r.goal = self.tran.iter().map(|t| t.goal).collect();
        r.dead = self.dead;
    }

    /// Slots with a command on the card.
    fn busy_slots(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, Slot::Busy(_)))
            .count()
    }

    /// Writes a target's goal word (the firmware negotiates when it differs from what it
    /// last negotiated for); a transport error is logged, the next service notices more.
    fn write_goal(&self, target: u32, word: u32) {
        let r = self.card.borrow_mut().mem_write_words(
            layout::TARGETS + target * layout::TARGET_BYTES + layout::target::GOAL,
            &[word],
        );
        if let Err(e) = r {
            self.log(SimLog::Transport(e.to_string()));
        }
    }

    /// Every management CCB waiting on the card completes with `status` (the card was
    /// reset or is gone, so nothing more will answer them).
    fn finish_mgmt(&mut self, status: CamStatus, ctx: &mut SimCtx<'_>) {
        for m in std::mem::take(&mut self.mgmt) {
            let (Mgmt::Abort { mut ccb, .. }
            | Mgmt::ResetDev { mut ccb, .. }
            | Mgmt::ResetBus { mut ccb }) = m;
            ccb.set_status(status, 0);
            ctx.done(ccb);
        }
    }

    fn reg_w(&self, off: u32, v: u32) -> Result<(), TransportError> {
        self.card.borrow_mut().t.reg_write(off, v)
    }

    fn reg_r(&self, off: u32) -> Result<u32, TransportError> {
        self.card.borrow_mut().t.reg_read(off)
    }

    // ------------------------------------------------------------------ bring-up

    /// Halt, clean rings, firmware, soft reset, registers, goals, interrupts.
    fn init_card(&mut self) -> Result<(), AttachError> {
        let wide = if self.cfg.wide { 1 << 8 } else { 0 };
        {
            let mut c = self.card.borrow_mut();
            c.t.reg_write(regs::IRQ_ENABLE, 0)?;
            seqctl::halt(&mut c.t)?;
            // Stale entries of an earlier run must never read as new.
            let zero = vec![0u8; (layout::CQ_ENTRIES * layout::CQ_ENTRY_BYTES) as usize];
            c.mem_write(layout::CQ, &zero)?;
            let sum = match &self.cfg.firmware {
                Some(img) => seqctl::load(&mut c.t, img, false)?,
                None => seqctl::checksum(&mut c.t)?,
            };
            self.info.fw_checksum = sum;
            c.t.reg_write(regs::SCSI_ID, u32::from(self.cfg.own_id) | wide)?;
            c.t.reg_write(regs::TIM_SEL_TIMEOUT, dur_cycles(self.cfg.sel_timeout))?;
            // Soft reset: rings empty, sequencer from PC 0 with the verified image.
            c.t.reg_write(regs::CONTROL, regs::control::SOFT_RESET)?;
            let mut st = 0;
            let mut ready = false;
            for _ in 0..2000 {
                st = c.t.reg_read(regs::SEQ_STATUS)?;
                if st & regs::seq_status::TRAPPED != 0 {
                    break;
                }
                if st & regs::seq_status::RUNNING != 0 && st & regs::seq_status::WAITING != 0 {
                    ready = true;
                    break;
                }
            }
            if !ready {
                return Err(AttachError::FirmwareStart(st));
            }
        }
        self.sq_pi = 0;
        self.cq_ci = 0;
        self.cq_phase = true;
        self.moderation = (u32::MAX, u32::MAX);
        self.parity_seen = self.reg_r(regs::CNT_PARITY_ERRORS)?;
        for (i, t) in self.tran.iter_mut().enumerate() {
            t.current = Xfer::ASYNC;
            t.written = None;
            let w = t.goal_word_if_changed().unwrap_or(0);
            let limit = self.cfg.connect_timeout.map_or(0, dur_cycles);
            let base = layout::TARGETS + i as u32 * layout::TARGET_BYTES;
            let mut c = self.card.borrow_mut();
            c.mem_write_words(base + layout::target::GOAL, &[w])?;
            c.mem_write_words(base + layout::target::TIMEOUT, &[limit])?;
        }
        let en = if self.cfg.interrupts {
            regs::irq::CQ | regs::irq::FATAL | regs::irq::BUS_RESET
        } else {
            0
        };
        self.reg_w(regs::IRQ_CAUSE, regs::irq::ALL)?;
        self.reg_w(regs::IRQ_ENABLE, en)?;
        self.set_moderation(1)?;
        Ok(())
    }

    /// The bus reset at attach, answered synchronously (nothing is outstanding yet).
    fn reset_at_attach(&mut self) -> Result<(), AttachError> {
        self.reg_w(regs::SCSI_CTRL, regs::scsi_ctrl::BUS_RESET)?;
        self.count(|c| c.bus_resets += 1);
        let start = self.now();
        let limit = start.after(self.cfg.reset_timeout);
        loop {
            for e in self.fetch_entries()? {
                match e.decode() {
                    Ok(Event::BusReset) => {
                        self.write_consumer()?;
                        return Ok(());
                    }
                    Ok(Event::Negotiated { target, word }) => {
                        self.tran[target as usize].current = Xfer::from_word(word)
                    }
                    Ok(other) => return Err(AttachError::Entry(format!("{other:?}"))),
                    Err(b) => return Err(AttachError::Entry(b.to_string())),
                }
            }
            let now = self.now();
            if now >= limit {
                return Err(AttachError::ResetTimeout(self.cfg.reset_timeout));
            }
            let mut c = self.card.borrow_mut();
            c.t.wait_irq(Duration::from_nanos((limit.0 - now.0).min(100_000)))?;
        }
    }

    fn set_moderation(&mut self, outstanding: usize) -> Result<(), TransportError> {
        // Many commands in flight: one interrupt per few completions, bounded in time;
        // one command: every completion at once (latency matters more).
        let count = (outstanding as u32 / 4).clamp(1, 8);
        let time = if count > 1 { 2_000 } else { 0 };
        if (count, time) != self.moderation {
            self.reg_w(regs::IRQ_MOD_COUNT, count)?;
            self.reg_w(regs::IRQ_MOD_TIME, time)?;
            self.moderation = (count, time);
        }
        Ok(())
    }

    // ------------------------------------------------------------------ rings

    /// New entries according to CQ_PRODUCER, read by BAR or DMA, each checked for the
    /// phase the host expects (stops before an entry that is not there yet).
    fn fetch_entries(&mut self) -> Result<Vec<Entry>, TransportError> {
        let p = self.reg_r(regs::CQ_PRODUCER)?;
        if p == u32::MAX {
            return Err(TransportError::Protocol(
                "CQ_PRODUCER reads all ones: the card is not answering".into(),
            ));
        }
        let pi = p & 0xFF;
        let pphase = p & (1 << 31) != 0;
        let mut n = (pi + layout::CQ_ENTRIES - self.cq_ci) % layout::CQ_ENTRIES;
        if n == 0 && pphase != self.cq_phase {
            n = layout::CQ_ENTRIES;
        }
        let mut out = Vec::with_capacity(n as usize);
        let mut idx = self.cq_ci;
        let mut left = n;
        while left > 0 {
            let run = left.min(layout::CQ_ENTRIES - idx);
            let bytes = self.card.borrow_mut().mem_read(
                layout::cqe_addr(idx),
                (run * layout::CQ_ENTRY_BYTES) as usize,
            )?;
            for (k, e) in bytes.chunks_exact(16).enumerate() {
                let mut w = [0u32; 4];
                for (j, c) in e.chunks_exact(4).enumerate() {
                    w[j] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
                out.push(Entry {
                    index: idx + k as u32,
                    w,
                });
            }
            idx = (idx + run) % layout::CQ_ENTRIES;
            left -= run;
        }
        // Keep the entries the phase says are new; advance our index over them.
        let mut kept = Vec::with_capacity(out.len());
        for e in out {
            let phase = e.w[0] & layout::cqe::PHASE != 0;
            if phase != self.cq_phase {
                break;
            }
            kept.push(e);
            self.cq_ci = (self.cq_ci + 1) % layout::CQ_ENTRIES;
            if self.cq_ci == 0 {
                self.cq_phase = !self.cq_phase;
            }
        }
        self.count(|c| c.entries += kept.len() as u64);
        Ok(kept)
    }

    fn write_consumer(&self) -> Result<(), TransportError> {
        self.reg_w(regs::CQ_CONSUMER, self.cq_ci)
    }

    // ------------------------------------------------------------------ submission

    fn action_scsiio(&mut self, mut ccb: Ccb, ctx: &mut SimCtx<'_>) {
        // The entry race: a CCB no longer in progress (aborted on the way) goes back.
        if ccb.h.status.status() != CamStatus::ReqInprog {
            return ctx.done(ccb);
        }
        if self.dead {
            ccb.set_status(CamStatus::NoHba, 0);
            return ctx.done(ccb);
        }
        if self.recovery.in_recovery() {
            return self.recovery.requeue(ccb, ctx);
        }
        let Some(addr) = ccb.h.path.addr() else {
            ccb.set_status(CamStatus::PathInvalid, 0);
            return ctx.done(ccb);
        };
        if addr.target > self.max_target() || addr.target == u32::from(self.cfg.own_id) {
            ccb.set_status(CamStatus::TidInvalid, 0);
            return ctx.done(ccb);
        }
        if addr.lun > u64::from(hcb::ctrl::LUN_MASK) {
            ccb.set_status(CamStatus::LunInvalid, 0);
            return ctx.done(ccb);
        }
        let io = ccb.scsiio().expect("SCSI I/O");
        let cdb = io.cdb.bytes().to_vec();
        if cdb.is_empty() || cdb.len() > hcb::CDB_MAX as usize {
            ccb.set_status(CamStatus::ReqInvalid, 0);
            return ctx.done(ccb);
        }
        let len = io.data.len();
        if len > Self::maxio() as usize {
            ccb.set_status(CamStatus::ReqTooBig, 0);
            return ctx.done(ccb);
        }
        let (dir_in, out_data) = match &io.data {
            DataXfer::None => (false, None),
            DataXfer::In(_) => (true, None),
            DataXfer::Out(b) => (false, Some(b.to_vec())),
        };
        let t = &self.tran[addr.target as usize];
        let tag = if t.goal_tags {
            ccb.h.tag_action
        } else {
            TagAction::None
        };
        let untagged = tag == TagAction::None;
        let lun = addr.lun as u32;
        let itl_busy = untagged
            && self.slots.iter().any(|s| {
                matches!(s, Slot::Busy(a) if a.untagged && a.target == addr.target && a.lun == lun)
            });
        // Resources: a slot, a buffer, and the one untagged command per device.
        let slot = self.slots.iter().position(|s| matches!(s, Slot::Free));
        let buf = if len > 0 && slot.is_some() && !itl_busy {
            self.bufs.alloc(len as u32)
        } else {
            None
        };
        let short = if itl_busy {
            Some("untagged command in flight")
        } else if slot.is_none() {
            Some("HCB slots")
        } else if len > 0 && buf.is_none() {
            Some("card memory")
        } else {
            None
        };
        if let Some(what) = short {
            if let Some(b) = buf {
                self.bufs.free(b);
            }
            return self.shortage(ccb, what, ctx);
        }
        let slot = slot.expect("checked") as u32;
        let sense_len = if ccb.h.dis_autosense {
            0
        } else {
            u32::from(io.sense_len).min(hcb::SENSE_MAX)
        };
        let mut ctrl = addr.target | (lun << hcb::ctrl::LUN_SHIFT);
        if len > 0 {
            ctrl |= if dir_in {
                hcb::ctrl::DIR_IN
            } else {
                hcb::ctrl::DIR_OUT
            };
        }
        if ccb.h.dis_disconnect || !t.goal_disc {
            ctrl |= hcb::ctrl::NO_DISCONNECT;
        }
        if ccb.h.dis_autosense {
            ctrl |= hcb::ctrl::NO_AUTOSENSE;
        }
        let tag_bits = match tag {
            TagAction::None => hcb::tag::NONE,
            TagAction::Simple => hcb::tag::SIMPLE,
            TagAction::Ordered => hcb::tag::ORDERED,
            TagAction::HeadOfQueue => hcb::tag::HEAD,
        };
        ctrl |= tag_bits << hcb::ctrl::TAG_SHIFT;
        ctrl |= (cdb.len() as u32) << hcb::ctrl::CDB_LEN_SHIFT;
        let mut words = [0u32; 8];
        words[0] = ctrl;
        words[1] = buf.map_or(0, |b| b.addr);
        words[2] = len as u32;
        words[3] = sense_len;
        for (i, b) in cdb.iter().enumerate() {
            words[4 + i / 4] |= u32::from(*b) << (8 * (i % 4));
        }
        let res = (|| -> Result<(), TransportError> {
            let mut c = self.card.borrow_mut();
            if let (Some(d), Some(b)) = (&out_data, buf) {
                c.mem_write(b.addr, d)?;
            }
            c.mem_write_words(layout::hcb_addr(slot), &words)?;
            c.mem_write_words(layout::SQ + 4 * (self.sq_pi % layout::SQ_ENTRIES), &[slot])?;
            Ok(())
        })();
        if let Err(e) = res {
            if let Some(b) = buf {
                self.bufs.free(b);
            }
            self.log(SimLog::Transport(e.to_string()));
            ccb.set_status(CamStatus::UnrecHbaError, 0);
            ctx.done(ccb);
            return self.reinit(format!("transport error at submission: {e}"), ctx);
        }
        self.count(|c| {
            c.submitted += 1;
            c.staged_bytes += out_data.as_ref().map_or(0, |d| d.len() as u64);
        });
        self.sq_pi = (self.sq_pi + 1) % layout::SQ_ENTRIES;
        self.doorbell_due = true;
        ccb.h.status.set(CAM_SIM_QUEUED);
        ccb.scsiio_mut().expect("SCSI I/O").tag_id = slot;
        let deadline = self.now().after(ccb.h.timeout);
        self.slots[slot as usize] = Slot::Busy(Box::new(Active {
            ccb,
            buf,
            len: len as u32,
            dir_in,
            target: addr.target,
            lun,
            untagged,
            sense_len,
            deadline,
            abort: None,
        }));
    }

    /// Resource shortage: freeze the SIM queue once and turn the CCB back; the next CCB
    /// that completes carries `CAM_RELEASE_SIMQ`.
    fn shortage(&mut self, mut ccb: Ccb, what: &'static str, ctx: &mut SimCtx<'_>) {
        if !self.shortage {
            self.shortage = true;
            ctx.freeze_simq(1);
            self.log(SimLog::Shortage { what });
            self.count(|c| c.shortages += 1);
        }
        ccb.set_status(CamStatus::RequeueReq, 0);
        ctx.done(ccb);
        // Nothing outstanding would ever release it: release now (only zombies hold
        // resources, and those are freed by the card's answer or a reset).
        if !self.slots.iter().any(|s| matches!(s, Slot::Busy(_))) && self.reset.is_none() {
            self.shortage = false;
            ctx.release_simq(1);
        }
    }

    /// Hands a finished SCSI I/O back, with the SIM queue release if one is owed.
    fn give_back(&mut self, mut ccb: Ccb, ctx: &mut SimCtx<'_>) {
        if self.shortage {
            self.shortage = false;
            ccb.h.status.set(CAM_RELEASE_SIMQ);
        }
        self.count(|c| c.returned += 1);
        ctx.done(ccb);
    }

    // ------------------------------------------------------------------ completion

    fn on_completion(&mut self, e: Event, ctx: &mut SimCtx<'_>) -> Result<(), String> {
        let Event::Completion {
            slot,
            hba,
            scsi,
            resid,
            sense,
            sense_failed,
            detail,
        } = e
        else {
            unreachable!()
        };
        let entry_slot = std::mem::replace(&mut self.slots[slot as usize], Slot::Free);
        let a = match entry_slot {
            // Nothing is outstanding there: a second answer for a command (or garbage).
            Slot::Free => {
                self.count(|c| c.late += 1);
                return Err(format!(
                    "completion (status {hba:#x}) for slot {slot}, which has no command"
                ));
            }
            Slot::Busy(a) => a,
        };
        if resid > a.len || sense.is_some_and(|n| u32::from(n) > a.sense_len) {
            self.slots[slot as usize] = Slot::Busy(a);
            return Err(format!(
                "slot {slot}: residual {resid} or sense {sense:?} beyond the request"
            ));
        }
        let mut a = a;
        let mut ccb = std::mem::replace(&mut a.ccb, Ccb::new(Path::wildcard(), CcbBody::Noop));
        let addr = DevAddr::new(ctx.bus(), a.target, u64::from(a.lun));
        // Data in: whatever moved, up to the residual, goes back into the CCB.
        let moved = a.len - resid;
        // A failed read of card memory (a DMA error or timeout) leaves the command on
        // its slot, so that the re-initialisation the error causes returns it once;
        // dropped here, its CCB would never complete.
        if a.dir_in && moved > 0 {
            let b = a.buf.expect("data in has a buffer");
            let read = self.card.borrow_mut().mem_read(b.addr, moved as usize);
            let bytes = match read {
                Ok(v) => v,
                Err(e) => {
                    a.ccb = ccb;
                    self.slots[slot as usize] = Slot::Busy(a);
                    return Err(format!("reading data back: {e}"));
                }
            };
            if let Some(DataXfer::In(d)) = ccb.scsiio_mut().map(|io| &mut io.data) {
                d.write_at(0, &bytes);
            }
        }
        let mut flags = CAM_SIM_QUEUED;
        if let Some(n) = sense {
            let read = self
                .card
                .borrow_mut()
                .mem_read(layout::hcb_addr(slot) + hcb::SENSE, usize::from(n));
            let bytes = match read {
                Ok(v) => v,
                Err(e) => {
                    a.ccb = ccb;
                    self.slots[slot as usize] = Slot::Busy(a);
                    return Err(format!("reading sense: {e}"));
                }
            };
            let io = ccb.scsiio_mut().expect("SCSI I/O");
            io.sense = bytes;
            io.sense_resid = (a.sense_len - u32::from(n)) as u8;
            flags |= CAM_AUTOSNS_VALID;
        }
        let mut st = status::cam_status(hba, scsi);
        if st == CamStatus::ScsiStatusError
            && scsi == scsi_defs::status::CHECK_CONDITION
            && sense_failed
        {
            st = CamStatus::AutosenseFail;
        }
        if hba == hba_status::BAD_HCB {
            self.log(SimLog::BadEntry(format!(
                "slot {slot}: the card refused the HCB (check code {detail})"
            )));
        }
        match a.abort {
            Some(AbortWhy::Timeout)
                if matches!(
                    hba,
                    hba_status::ABORTED | hba_status::BDR_SENT | hba_status::BUS_RESET
                ) =>
            {
                st = CamStatus::CmdTimeout
            }
            Some(AbortWhy::Requeue) if hba == hba_status::ABORTED => st = CamStatus::RequeueReq,
            _ => {}
        }
        {
            let io = ccb.scsiio_mut().expect("SCSI I/O");
            io.resid = resid;
            io.scsi_status = scsi;
        }
        // Errors freeze the device queue until the periph has looked (CAM_DEV_QFRZN).
        if !matches!(
            st,
            CamStatus::ReqCmp | CamStatus::RequeueReq | CamStatus::ReqAborted
        ) {
            flags |= CAM_DEV_QFRZN;
            ctx.freeze_devq(addr, 1);
        }
        ccb.h.status = hba_cam::CcbStatus::new(st, flags);
        if let Some(b) = a.buf {
            self.bufs.free(b);
        }
        self.answer_mailbox(slot, hba)?;
        // A host XPT_ABORT waiting on this victim.
        let victim = ccb.h.id;
        let mut i = 0;
        while i < self.mgmt.len() {
            if matches!(&self.mgmt[i], Mgmt::Abort { slot: s, victim: v, .. } if *s == slot && *v == victim)
            {
                let Mgmt::Abort { mut ccb, .. } = self.mgmt.remove(i) else {
                    unreachable!()
                };
                let s = if hba == hba_status::ABORTED {
                    CamStatus::ReqCmp
                } else {
                    CamStatus::UaAbort
                };
                ccb.set_status(s, 0);
                ctx.done(ccb);
            } else {
                i += 1;
            }
        }
        if st == CamStatus::ReqCmp {
            self.reinits_in_row = 0;
        }
        // Errors that leave the device in doubt: return its commands still queued on
        // the card for requeue rather than let each meet the same fate.
        if matches!(
            hba,
            hba_status::SEL_TIMEOUT
                | hba_status::UNEXP_BUS_FREE
                | hba_status::PARITY
                | hba_status::PROTOCOL
                | hba_status::TIMEOUT
        ) {
            self.abort_siblings(a.target, a.lun, AbortWhy::Requeue);
        }
        if hba == hba_status::PARITY {
            self.note_parity(a.target, 1);
        }
        self.give_back(ccb, ctx);
        Ok(())
    }

    /// A completion for `slot` answers an ABORT for it; if the firmware had not taken
    /// the request yet, it is overwritten so it cannot hit the slot's next command.
    fn answer_mailbox(&mut self, slot: u32, hba: u32) -> Result<(), String> {
        self.mbox_q.retain(|m| *m != Mbox::Abort(slot));
        if self.mbox_live == Some(Mbox::Abort(slot)) {
            self.mbox_live = None;
            if hba != hba_status::ABORTED {
                self.reg_w(regs::SEQ_MAILBOX, MBOX_NOP)
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    fn abort_siblings(&mut self, target: u32, lun: u32, why: AbortWhy) {
        for i in 0..self.slots.len() {
            if let Slot::Busy(a) = &mut self.slots[i] {
                if a.target == target && a.lun == lun && a.abort.is_none() {
                    a.abort = Some(why);
                    self.mbox_q.push_back(Mbox::Abort(i as u32));
                }
            }
        }
    }

    fn note_parity(&mut self, target: u32, n: u32) {
        let now = self.now().0;
        let window = self.cfg.parity_window.as_nanos() as u64;
        let t = &mut self.tran[target as usize];
        for _ in 0..n {
            t.parity.push(now);
        }
        t.parity.retain(|&x| x + window >= now);
        if t.parity.len() < self.cfg.parity_threshold {
            return;
        }
        t.parity.clear();
        let from = t.goal;
        if let Some(to) = from.step_down() {
            t.goal = to;
            if let Some(w) = t.goal_word_if_changed() {
                self.write_goal(target, w);
            }
            self.log(SimLog::RateFallback { target, from, to });
        }
    }

    fn on_negotiated(&mut self, target: u32, word: u32, ctx: &mut SimCtx<'_>) {
        let x = Xfer::from_word(word);
        let t = &mut self.tran[target as usize];
        t.negotiations += 1;
        let changed = t.current != x;
        t.current = x;
        // The answer to a BUS DEVICE RESET: the agreement was reset.
        if self.mbox_live == Some(Mbox::Bdr(target)) {
            self.mbox_live = None;
            self.ladder[target as usize] = Ladder::Idle;
            let path = Path {
                bus: Bus::Id(ctx.bus()),
                target: Target::Id(target),
                lun: Lun::Wildcard,
            };
            ctx.async_event(AC_SENT_BDR, path, AsyncArg::None);
            let mut i = 0;
            while i < self.mgmt.len() {
                if matches!(&self.mgmt[i], Mgmt::ResetDev { target: t, .. } if *t == target) {
                    let Mgmt::ResetDev { mut ccb, .. } = self.mgmt.remove(i) else {
                        unreachable!()
                    };
                    ccb.set_status(CamStatus::ReqCmp, 0);
                    ctx.done(ccb);
                } else {
                    i += 1;
                }
            }
        }
        if changed {
            self.log(SimLog::Negotiated { target, xfer: x });
            let disc = self.tran[target as usize].goal_disc;
            let tags = self.tran[target as usize].goal_tags;
            let path = Path {
                bus: Bus::Id(ctx.bus()),
                target: Target::Id(target),
                lun: Lun::Wildcard,
            };
            ctx.async_event(
                AC_TRANSFER_NEG,
                path,
                AsyncArg::Transfer(hba_cam::ccb::TranSettings {
                    kind: TranType::Current,
                    spi: x.spi(disc),
                    tq_enb: Some(tags),
                }),
            );
        }
    }

    fn on_bus_reset(&mut self, ctx: &mut SimCtx<'_>) {
        for t in &mut self.tran {
            t.current = Xfer::ASYNC;
        }
        ctx.async_event(AC_BUS_RESET, Path::bus(ctx.bus()), AsyncArg::None);
        if let Some((why, _)) = self.reset.take() {
            for l in &mut self.ladder {
                *l = Ladder::Idle;
            }
            // A BUS DEVICE RESET still waiting is moot now.
            if matches!(self.mbox_live, Some(Mbox::Bdr(_))) {
                self.mbox_live = None;
            }
            self.mbox_q.retain(|m| !matches!(m, Mbox::Bdr(_)));
            let mut keep = Vec::new();
            for m in std::mem::take(&mut self.mgmt) {
                match m {
                    Mgmt::ResetBus { mut ccb } | Mgmt::ResetDev { mut ccb, .. } => {
                        ccb.set_status(CamStatus::ReqCmp, 0);
                        ctx.done(ccb);
                    }
                    other => keep.push(other),
                }
            }
            self.mgmt = keep;
            let _ = why;
            if self.recovery.in_recovery() {
                let _ = self.recovery.exit(ctx);
            }
        }
    }

    // ------------------------------------------------------------------ servicing

    /// Cause register and ring, then timeouts, mailbox and doorbell.
    fn service(&mut self, ctx: &mut SimCtx<'_>) {
        let errs = std::mem::take(&mut self.card.borrow_mut().wait_errors);
        for e in errs {
            self.log(SimLog::Transport(e.to_string()));
        }
        if self.dead {
            return;
        }
        let now = self.now();
        let irq = std::mem::take(&mut self.card.borrow_mut().irq_seen);
        if irq || now >= self.next_look || !self.cfg.interrupts {
            if irq {
                self.count(|c| c.irqs += 1);
            }
            if let Err(e) = self.walk(ctx) {
                return self.fail(e, ctx);
            }
            let iv = if self.cfg.interrupts {
                self.cfg.safety_poll
            } else {
                self.cfg.poll_interval
            };
            self.next_look = self.now().after(iv);
        }
        if self.dead {
            return;
        }
        self.timeouts(ctx);
        if let Err(e) = self.kick() {
            self.fail(e.to_string(), ctx);
        }
        self.publish();
    }

    /// Reads the cause (a hint), clears it, then walks the ring.
    fn walk(&mut self, ctx: &mut SimCtx<'_>) -> Result<(), String> {
        self.count(|c| c.services += 1);
        let cause = self.reg_r(regs::IRQ_CAUSE).map_err(|e| e.to_string())?;
        if cause == u32::MAX {
            let id = self.reg_r(regs::ID).unwrap_or(u32::MAX);
            if id != MAGIC {
                self.give_up(format!("card gone: ID reads {id:#010x}"), ctx);
                return Ok(());
            }
        }
        if cause & regs::irq::ALL != 0 {
            self.reg_w(regs::IRQ_CAUSE, cause & regs::irq::ALL)
                .map_err(|e| e.to_string())?;
        }
        let entries = self.fetch_entries().map_err(|e| e.to_string())?;
        let mut targets_done = Vec::new();
        let had = !entries.is_empty();
        for e in entries {
            let ev = match e.decode() {
                Ok(ev) => ev,
                Err(b) => {
                    self.write_consumer().ok();
                    self.count(|c| c.bad_entries += 1);
                    self.log(SimLog::BadEntry(b.to_string()));
                    self.reinit(format!("bad ring entry: {b}"), ctx);
                    return Ok(());
                }
            };
            match ev {
                Event::Completion { slot, .. } => {
                    if let Slot::Busy(a) = &self.slots[slot as usize] {
                        targets_done.push(a.target);
                    }
                    if let Err(msg) = self.on_completion(ev, ctx) {
                        self.write_consumer().ok();
                        self.count(|c| c.bad_entries += 1);
                        self.log(SimLog::BadEntry(msg.clone()));
                        self.reinit(format!("bad completion: {msg}"), ctx);
                        return Ok(());
                    }
                }
                Event::Negotiated { target, word } => self.on_negotiated(target, word, ctx),
                Event::BusReset => self.on_bus_reset(ctx),
                Event::UnknownResel { target, lun, tag } => {
                    self.log(SimLog::UnknownResel { target, lun, tag })
                }
                Event::Trap(v) => {
                    self.write_consumer().ok();
                    self.log(SimLog::Trap(v));
                    self.reinit(format!("sequencer trap {v:#010x}"), ctx);
                    return Ok(());
                }
            }
        }
        if had {
            self.write_consumer().map_err(|e| e.to_string())?;
            // Parity errors the firmware recovered from still say the rate is marginal;
            // they are the target's when only one target finished commands meanwhile.
            let p = self
                .reg_r(regs::CNT_PARITY_ERRORS)
                .map_err(|e| e.to_string())?;
            let delta = p.wrapping_sub(self.parity_seen);
            self.parity_seen = p;
            targets_done.dedup();
            if delta > 0 && delta < 1 << 16 && targets_done.len() == 1 {
                self.note_parity(targets_done[0], delta);
            }
        }
        if cause & regs::irq::FATAL != 0 && !self.dead {
            let st = self.reg_r(regs::SEQ_STATUS).map_err(|e| e.to_string())?;
            if st & regs::seq_status::TRAPPED != 0 {
                let trap = self.reg_r(regs::SEQ_TRAP).unwrap_or(0);
                self.log(SimLog::Trap(trap));
                self.reinit(
                    format!("sequencer trapped (FATAL), SEQ_TRAP {trap:#010x}"),
                    ctx,
                );
            }
        }
        Ok(())
    }

    /// Doorbell, then mailbox: a request about a just-submitted slot must find it on
    /// the card (the firmware drains the submission ring before it reads the mailbox).
    fn kick(&mut self) -> Result<(), TransportError> {
        if self.doorbell_due {
            self.set_moderation(self.busy_slots())?;
            self.reg_w(regs::SQ_DOORBELL, self.sq_pi)?;
            self.doorbell_due = false;
            self.count(|c| c.doorbells += 1);
        }
        if self.mbox_live.is_none() {
            if let Some(m) = self.mbox_q.pop_front() {
                let w = match m {
                    Mbox::Abort(s) => layout::mailbox::word(layout::mailbox::ABORT, s),
                    Mbox::Bdr(t) => {
                        self.count(|c| c.bdrs += 1);
                        layout::mailbox::word(layout::mailbox::BUS_DEVICE_RESET, t)
                    }
                };
                self.reg_w(regs::SEQ_MAILBOX, w)?;
                self.count(|c| c.mailbox += 1);
                self.mbox_live = Some(m);
            }
        }
        Ok(())
    }

    /// Command timeouts and the recovery ladder.
    fn timeouts(&mut self, ctx: &mut SimCtx<'_>) {
        let now = self.now();
        for i in 0..self.slots.len() {
            let Slot::Busy(a) = &mut self.slots[i] else {
                continue;
            };
            if a.abort == Some(AbortWhy::Timeout) || a.deadline > now {
                continue;
            }
            // A command already being aborted (by the host, or as a sibling) has its
            // ABORT queued; its own timeout still starts the ladder.
            let queued = a.abort.is_some();
            a.abort = Some(AbortWhy::Timeout);
            let (target, lun, id) = (a.target, a.lun, a.ccb.h.id);
            if !queued {
                self.mbox_q.push_back(Mbox::Abort(i as u32));
            }
            self.log(SimLog::Timeout {
                slot: i as u32,
                ccb: id,
            });
            self.count(|c| c.timeouts += 1);
            // Siblings on the same device are requeued behind it.
            self.abort_siblings(target, lun, AbortWhy::Requeue);
            let l = &mut self.ladder[target as usize];
            if *l == Ladder::Idle {
                *l = Ladder::Aborting(now.after(self.cfg.abort_timeout));
            }
        }
        for t in 0..self.ladder.len() {
            let pending = self
                .slots
                .iter()
                .any(|s| matches!(s, Slot::Busy(a) if a.target == t as u32 && a.abort.is_some()));
            match self.ladder[t] {
                Ladder::Aborting(_) if !pending => self.ladder[t] = Ladder::Idle,
                Ladder::Aborting(until) if now >= until => {
                    // The abort stuck: BUS DEVICE RESET, ahead of anything else queued;
                    // a mailbox request still unanswered is overwritten.
                    self.log(SimLog::EscalateBdr { target: t as u32 });
                    let tt = t as u32;
                    let mine: Vec<bool> = self
                        .mbox_q
                        .iter()
                        .map(|m| matches!(m, Mbox::Abort(s) if self.slot_target(*s) == Some(tt)))
                        .collect();
                    let mut k = 0;
                    self.mbox_q.retain(|_| {
                        k += 1;
                        !mine[k - 1]
                    });
                    // An unanswered request for this target is overwritten by the BDR.
                    if let Some(Mbox::Abort(s)) = self.mbox_live {
                        if self.slot_target(s) == Some(tt) {
                            self.mbox_live = None;
                        }
                    }
                    self.mbox_q.push_front(Mbox::Bdr(tt));
                    self.ladder[t] = Ladder::Bdr(now.after(self.cfg.bdr_timeout));
                }
                Ladder::Bdr(until) if now >= until => {
                    self.ladder[t] = Ladder::Idle;
                    if self.reset.is_none() {
                        self.start_bus_reset(ResetWhy::Ladder, "a BUS DEVICE RESET stuck", ctx);
                    }
                }
                _ => {}
            }
        }
        // Host RESET_DEV waits too: escalate when its BDR is not answered.
        if let Some((_, until)) = self.reset {
            if now >= until {
                self.reset = None;
                self.reinit("a bus reset was not answered".into(), ctx);
            }
        }
    }

    fn slot_target(&self, s: u32) -> Option<u32> {
        match self.slots.get(s as usize) {
            Some(Slot::Busy(a)) => Some(a.target),
            _ => None,
        }
    }

    /// Seed 000 around a bus reset: freeze the SIM queue, turn back arrivals, reset; the
    /// firmware ends the connected and disconnected commands (each returned with its
    /// status) and reports the reset, which releases the queue.
    fn start_bus_reset(&mut self, why: ResetWhy, what: &'static str, ctx: &mut SimCtx<'_>) {
        if !self.recovery.in_recovery() {
            let _ = self.recovery.enter(ctx);
        }
        self.log(SimLog::BusReset { why: what });
        self.count(|c| c.bus_resets += 1);
        if let Err(e) = self.reg_w(regs::SCSI_CTRL, regs::scsi_ctrl::BUS_RESET) {
            return self.fail(e.to_string(), ctx);
        }
        self.reset = Some((why, self.now().after(self.cfg.reset_timeout)));
    }

    /// Controller re-initialisation: every outstanding CCB back exactly once (timed-out
    /// ones as CMD_TIMEOUT, the rest for requeue), soft reset, firmware reload and
    /// verify, bus reset; the SIM queue stays frozen until the reset is reported.
    fn reinit(&mut self, why: String, ctx: &mut SimCtx<'_>) {
        self.log(SimLog::Reinit { why: why.clone() });
        self.count(|c| c.reinits += 1);
        self.reinits_in_row += 1;
        if !self.recovery.in_recovery() {
            let _ = self.recovery.enter(ctx);
        }
        self.return_all(ctx, |a| match a.abort {
            Some(AbortWhy::Timeout) => Some(CamStatus::CmdTimeout),
            _ => None,
        });
        self.finish_mgmt(CamStatus::ReqCmp, ctx);
        self.mbox_q.clear();
        self.mbox_live = None;
        self.doorbell_due = false;
        for l in &mut self.ladder {
            *l = Ladder::Idle;
        }
        self.reset = None;
        if self.reinits_in_row > self.cfg.max_reinits {
            return self.give_up(
                format!("{} re-initialisations in a row: {why}", self.reinits_in_row),
                ctx,
            );
        }
        if let Err(e) = self.init_card() {
            return self.give_up(format!("re-initialisation failed: {e}"), ctx);
        }
        self.start_bus_reset(ResetWhy::Reinit, "controller re-initialisation", ctx);
    }

    /// Returns every outstanding CCB once: `special` picks a status, else the seed 000
    /// requeue (`CAM_REQUEUE_REQ|CAM_DEV_QFRZN`). Buffers are forgotten (the card state
    /// is gone).
    fn return_all(&mut self, ctx: &mut SimCtx<'_>, special: impl Fn(&Active) -> Option<CamStatus>) {
        for i in 0..self.slots.len() {
            match std::mem::replace(&mut self.slots[i], Slot::Free) {
                Slot::Busy(a) => {
                    let addr = DevAddr::new(ctx.bus(), a.target, u64::from(a.lun));
                    let st = special(&a);
                    let mut ccb = a.ccb;
                    match st {
                        // The card is gone: nothing to examine before the next command.
                        Some(CamStatus::NoHba) => {
                            ccb.set_status(CamStatus::NoHba, CAM_SIM_QUEUED);
                            self.give_back(ccb, ctx);
                        }
                        Some(s) => {
                            ccb.set_status(s, CAM_SIM_QUEUED | CAM_DEV_QFRZN);
                            ctx.freeze_devq(addr, 1);
                            self.give_back(ccb, ctx);
                        }
                        None => {
                            self.count(|c| c.returned += 1);
                            self.recovery.requeue(ccb, ctx);
                        }
                    }
                }
                Slot::Free => {}
            }
        }
        self.bufs.reset();
        if self.shortage {
            self.shortage = false;
            ctx.release_simq(1);
        }
    }

    /// The card cannot be used: everything outstanding back with `CAM_NO_HBA`, periphs
    /// invalidated (seed 000's last step), later CCBs refused.
    fn give_up(&mut self, why: String, ctx: &mut SimCtx<'_>) {
        self.log(SimLog::GaveUp(why));
        self.return_all(ctx, |_| Some(CamStatus::NoHba));
        self.finish_mgmt(CamStatus::NoHba, ctx);
        self.dead = true;
        self.reset = None;
        if !self.recovery.in_recovery() {
            let _ = self.recovery.enter(ctx);
        }
        let _ = self.recovery.give_up(0, ctx);
        self.publish();
    }

    fn fail(&mut self, e: String, ctx: &mut SimCtx<'_>) {
        self.log(SimLog::Transport(e.clone()));
        self.reinit(format!("transport error: {e}"), ctx);
    }

    fn detach(&mut self, ctx: &mut SimCtx<'_>) {
        // Stop the card first so that no DMA lands in a buffer after its CCB went back.
        let _ = self.reg_w(regs::IRQ_ENABLE, 0);
        let _ = seqctl::halt(&mut self.card.borrow_mut().t);
        let _ = self.reg_w(regs::CONTROL, regs::control::SOFT_RESET);
        let _ = seqctl::halt(&mut self.card.borrow_mut().t);
        self.give_up("detached".into(), ctx);
        ctx.async_event(AC_PATH_DEREGISTERED, Path::bus(ctx.bus()), AsyncArg::None);
    }

    // ------------------------------------------------------------------ management

    fn path_inq(&self) -> PathInq {
        let mut inq = pi::PI_SDTR_ABLE | pi::PI_TAG_ABLE;
        if self.cfg.wide {
            inq |= pi::PI_WIDE_16;
        }
        PathInq {
            version_num: 1,
            hba_inquiry: inq,
            max_target: self.max_target(),
            max_lun: u64::from(hcb::ctrl::LUN_MASK),
            initiator_id: u32::from(self.cfg.own_id),
            sim_vid: "FreeBSD".into(),
            hba_vid: "open-hba".into(),
            // Asynchronous narrow, as FreeBSD's SPI SIMs report (KB/s).
            base_transfer_speed: 3300,
            maxio: Self::maxio(),
        }
    }

    fn target_of(&self, ccb: &Ccb) -> Result<u32, CamStatus> {
        match ccb.h.path.target {
            Target::Id(t) if t <= self.max_target() && t != u32::from(self.cfg.own_id) => Ok(t),
            _ => Err(CamStatus::TidInvalid),
        }
    }

    fn action_mgmt(&mut self, mut ccb: Ccb, ctx: &mut SimCtx<'_>) {
        let engine = self.cfg.engine();
        let tgt = self.target_of(&ccb);
        let status = match &mut ccb.body {
            CcbBody::PathInq(p) => {
                *p = self.path_inq();
                CamStatus::ReqCmp
            }
            CcbBody::CalcGeometry(g) => {
                if g.compute(true) {
                    CamStatus::ReqCmp
                } else {
                    CamStatus::ReqInvalid
                }
            }
            CcbBody::GetTranSettings(ts) => match tgt {
                Ok(t) => {
                    *ts = self.tran[t as usize].get(ts.kind);
                    CamStatus::ReqCmp
                }
                Err(s) => s,
            },
            CcbBody::SetTranSettings(ts) => {
                let ts = *ts;
                match tgt {
                    Ok(t) => {
                        if let Some(w) = self.tran[t as usize].set(&ts, engine) {
                            self.write_goal(t, w);
                        }
                        CamStatus::ReqCmp
                    }
                    Err(s) => s,
                }
            }
            CcbBody::Abort(a) => {
                let victim = a.abort_ccb;
                let found = self
                    .slots
                    .iter()
                    .position(|s| matches!(s, Slot::Busy(x) if x.ccb.h.id == victim));
                match found {
                    Some(i) if !self.dead => {
                        if let Slot::Busy(x) = &mut self.slots[i] {
                            if x.abort.is_none() {
                                x.abort = Some(AbortWhy::Host);
                                self.mbox_q.push_back(Mbox::Abort(i as u32));
                            }
                        }
                        self.mgmt.push(Mgmt::Abort {
                            ccb,
                            slot: i as u32,
                            victim,
                        });
                        return;
                    }
                    _ => CamStatus::UaAbort,
                }
            }
            CcbBody::ResetDev => match tgt {
                Ok(_) if self.dead => CamStatus::NoHba,
                Ok(t) => {
                    if self.recovery.in_recovery() {
                        return self.recovery.requeue(ccb, ctx);
                    }
                    self.mbox_q.push_back(Mbox::Bdr(t));
                    self.mgmt.push(Mgmt::ResetDev { ccb, target: t });
                    self.ladder[t as usize] = Ladder::Bdr(self.now().after(self.cfg.bdr_timeout));
                    return;
                }
                Err(s) => s,
            },
            CcbBody::ResetBus => {
                if self.dead {
                    CamStatus::NoHba
                } else {
                    self.mgmt.push(Mgmt::ResetBus { ccb });
                    if self.reset.is_none() {
                        self.start_bus_reset(ResetWhy::Host, "XPT_RESET_BUS", ctx);
                    }
                    return;
                }
            }
            _ => CamStatus::ReqInvalid,
        };
        ccb.set_status(status, 0);
        ctx.done(ccb);
    }
}

/// Identification: the magic, a major version this driver speaks, the blocks it needs.
/// Never relies on an error for an unmapped register (a board reads all ones there).
pub fn identify(t: &mut dyn Transport) -> Result<CoreInfo, AttachError> {
    let id = t.reg_read(regs::ID)?;
    if id != MAGIC {
        let hint = match id {
            u32::MAX => ": all ones, as a board reads with no core behind the BAR or the link down",
            0 => ": zero, an empty or unprogrammed BAR",
            _ => "",
        };
        return Err(AttachError::NotOurCard {
            read: id,
            expected: MAGIC,
            hint,
        });
    }
    let version = t.reg_read(regs::VERSION)?;
    let (major, minor, patch) = ((version >> 16) as u8, (version >> 8) as u8, version as u8);
    if major != hba_abi::VERSION.0 || (major == 0 && minor != hba_abi::VERSION.1) {
        return Err(AttachError::Version {
            major,
            minor,
            patch,
            want: hba_abi::VERSION.0,
        });
    }
    let caps = t.reg_read(regs::CAPS)?;
    let missing = regs::caps::PRESENT & !caps;
    if missing != 0 {
        return Err(AttachError::Caps { caps, missing });
    }
    let size = t.reg_read(regs::MEM_SIZE)?;
    if size != mem::CARD_MEM_BYTES {
        return Err(AttachError::MemSize(size));
    }
    Ok(CoreInfo {
        version,
        caps,
        fw_checksum: 0,
    })
}

impl<T: Transport> Sim for HbaSim<T> {
    fn action(&mut self, ccb: Ccb, ctx: &mut SimCtx<'_>) {
        match ccb.body {
            CcbBody::ScsiIo(_) => self.action_scsiio(ccb, ctx),
            _ => self.action_mgmt(ccb, ctx),
        }
        self.publish();
    }

    fn poll(&mut self, ctx: &mut SimCtx<'_>) {
        if self.report.borrow().detach && !self.dead {
            self.detach(ctx);
            return;
        }
        if self.dead {
            return;
        }
        let now = self.now();
        let irq = self.card.borrow().irq_seen;
        let due = irq
            || self.doorbell_due
            || (self.mbox_live.is_none() && !self.mbox_q.is_empty())
            || self.next_deadline().is_some_and(|d| d <= now);
        if due {
            self.service(ctx);
        }
    }

    fn next_deadline(&self) -> Option<CamTime> {
        if self.dead {
            return None;
        }
        let now = self
            .card
            .try_borrow()
            .map(|c| c.now())
            .unwrap_or(CamTime(0));
        if self.doorbell_due || (self.mbox_live.is_none() && !self.mbox_q.is_empty()) {
            return Some(now);
        }
        let mut d: Option<CamTime> = None;
        let mut min = |t: CamTime| d = Some(d.map_or(t, |x: CamTime| x.min(t)));
        let mut live = false;
        for s in &self.slots {
            match s {
                Slot::Busy(a) => {
                    live = true;
                    if a.abort.is_none() {
                        min(a.deadline);
                    }
                }
                Slot::Free => {}
            }
        }
        for l in &self.ladder {
            match l {
                Ladder::Aborting(t) | Ladder::Bdr(t) => min(*t),
                Ladder::Idle => {}
            }
        }
        if let Some((_, t)) = self.reset {
            min(t);
            live = true;
        }
        if live || !self.mgmt.is_empty() {
            min(self.next_look.max(now));
        }
        d
    }
}
