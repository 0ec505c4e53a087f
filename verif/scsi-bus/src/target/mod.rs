//! An SPI target: selection, reselection, messages, negotiation, tagged queuing,
//! disconnect/reselect with pointers, and the REQ side of every handshake. Commands go to
//! [`LogicalUnit`]s (disk, tape).

pub mod cdrom;
pub mod common;
pub mod disk;
pub mod legacy;
pub mod processor;
pub mod tape;

use std::collections::VecDeque;

use scsi_defs::{asc, inquiry, msg, opcode, sense_key, status};

use crate::arb::{Pulser, SelState, Selector};
use crate::bus::BusDevice;
use crate::faults::{FaultAction, FaultConfig, FaultCtx, FaultEngine, FaultPoint, Prng};
use crate::monitor::Agreement;
use crate::signals::{ctl, cycles, sync_period_cycles, BusDrive, BusSignals, Phase};
pub use common::{Exec, Ident, LogicalUnit, ResetKind, Response, Sense};

/// Synchronous capability of a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncCaps {
    /// Shortest period factor accepted (e.g. 0x0C = Fast-20, 50 ns).
    pub min_period_factor: u8,
    /// Largest REQ/ACK offset.
    pub max_offset: u8,
}

/// Deliberate protocol errors, for negative tests of the monitor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetQuirks {
    /// Send synchronous REQs without regard to the offset.
    pub ignore_offset: bool,
    /// Send synchronous REQs one cycle faster than the negotiated period.
    pub short_period: bool,
    /// Assert REQ without waiting a bus settle delay after changing phase.
    pub no_phase_settle: bool,
    /// Synchronous DATA IN at the minimum set-up and hold the monitor allows: the data
    /// goes on one cycle before the REQ edge and is replaced by its inverse (parity still
    /// good) two cycles after it, so an initiator that captures late reads wrong data
    /// without a parity error.
    pub min_setup_hold: bool,
    /// DATA IN at a chosen set-up and hold (cycles of the core clock). Synchronous: each
    /// word is valid from `setup` cycles before its REQ edge (0 or 1, the pulser's lead)
    /// until `hold` cycles after it, when it is replaced by its inverse (parity still
    /// good), so an initiator that samples outside the window reads wrong data without
    /// a parity error; overrides `min_setup_hold` (`setup` 1, `hold` 2). Asynchronous
    /// (the window's numbers are not used): valid from the deskew delay before REQ until
    /// the initiator's ACK, then the inverse instead of released lines, the tightest
    /// SPI allows.
    pub data_in_window: Option<DataWindow>,
    /// SCSI-1 style: after selection take only the first MESSAGE OUT byte (IDENTIFY),
    /// then go to COMMAND with ATN still asserted, a microsecond later (an old drive
    /// that decides slowly); MESSAGE OUT again only once a task runs.
    pub ignore_atn_after_identify: bool,
}

/// Where a target's DATA IN word is valid around its REQ edge ([`TargetQuirks`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DataWindow {
    /// Cycles the word is on the bus before REQ is asserted (synchronous: 0 or 1).
    pub setup: u64,
    /// Cycles after REQ is asserted at which the word is replaced by its inverse.
    pub hold: u64,
}

/// Target configuration.
#[derive(Clone, Debug)]
pub struct TargetConfig {
    /// SCSI ID.
    pub id: u8,
    /// Accept WDTR for 16 bits (only on a wide bus).
    pub wide: bool,
    /// Synchronous capability; `None` answers every SDTR with offset 0.
    pub sync: Option<SyncCaps>,
    /// Answer SDTR/WDTR with MESSAGE REJECT.
    pub reject_negotiation: bool,
    /// Start SDTR (and WDTR if wide) itself on the first selection by an initiator.
    pub initiate_negotiation: bool,
    /// With `initiate_negotiation`: start it again on every selection (a drive that
    /// keeps renegotiating; the initiator must answer without looping).
    pub renegotiate_always: bool,
    /// Accept queue tags (else MESSAGE REJECT them).
    pub tagged: bool,
    /// Task set size per LUN; QUEUE FULL beyond it.
    pub queue_depth: usize,
    /// Disconnect after the CDB when the initiator grants it.
    pub disconnect: bool,
    /// While reconnected, disconnect (SAVE DATA POINTER + DISCONNECT) after this many bytes.
    pub chunk: Option<usize>,
    /// Medium access time before a disconnected task reconnects, and between chunks.
    pub access_cycles: u64,
    /// Reselection timeout.
    pub reselect_timeout: u64,
    /// Unit serial number (VPD 0x80) and identifier base (VPD 0x83).
    pub serial: String,
    /// Seed for SIMPLE task reordering.
    pub seed: u64,
    /// Deliberate errors.
    pub quirks: TargetQuirks,
    /// INQUIRY VERSION (5 = SPC-3; 1 = SCSI-1, 2 = SCSI-2; a CCS device reports 1 with
    /// response data format 1).
    pub inquiry_version: u8,
    /// Answer REPORT LUNS (SCSI-1 / CCS devices do not know it: INVALID COMMAND
    /// OPERATION CODE).
    pub report_luns: bool,
    /// Never go to MESSAGE OUT for ATN (an old device without message support).
    pub ignore_atn: bool,
    /// Without IDENTIFY, take the LUN from CDB byte 1, bits 7-5, as SCSI-1 and SCSI-2
    /// define (`inquiry_version` 2 or less); false: LUN 0 whatever the CDB says (a device
    /// that then answers at every LUN as LUN 0).
    pub cdb_lun: bool,
    /// Spin-up: NOT READY until the logical units are started, see [`SpinUp`].
    pub spin_up: Option<SpinUp>,
    /// On a MESSAGE OUT parity error, ask for the whole MESSAGE OUT phase again (REQ in
    /// MESSAGE OUT after ATN went false, SPI-3), up to twice, instead of ending the task
    /// with 47/00.
    pub msg_out_retry: bool,
}

/// A drive that needs START STOP UNIT: after power on (and after a STOP) medium commands
/// get NOT READY "becoming ready" (04/01) for `power_on_cycles`, then "initializing command
/// required" (04/02) until START STOP UNIT with START; then 04/01 again for
/// `start_cycles` (the spindle spinning up), then they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpinUp {
    /// Becoming ready after power on, before the drive asks for START (cycles).
    pub power_on_cycles: u64,
    /// Start-up time after START STOP UNIT (cycles).
    pub start_cycles: u64,
}

impl TargetConfig {
    /// Sensible defaults for ID `id`: async-capable up to Fast-20 offset 15, tagged depth 32,
    /// disconnects, 20 us access time.
    pub fn new(id: u8) -> TargetConfig {
        TargetConfig {
            id,
            wide: false,
            sync: Some(SyncCaps {
                min_period_factor: scsi_defs::spi_timing::PERIOD_FACTOR_FAST20,
                max_offset: 15,
            }),
            reject_negotiation: false,
            initiate_negotiation: false,
            renegotiate_always: false,
            tagged: true,
            queue_depth: 32,
            disconnect: true,
            chunk: None,
            access_cycles: 2_000,
            reselect_timeout: 25_000,
            serial: format!("SN{id:02}"),
            seed: 1,
            quirks: TargetQuirks::default(),
            inquiry_version: 0x05,
            report_luns: true,
            ignore_atn: false,
            cdb_lun: true,
            spin_up: None,
            msg_out_retry: false,
        }
    }
}

/// Counters a test can look at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetStats {
    /// Selections answered.
    pub selections: u64,
    /// Reselections completed.
    pub reselections: u64,
    /// Commands received.
    pub commands: u64,
    /// Order in which tasks started on the medium: (initiator, lun, tag, opcode, LBA).
    /// Kept for the first 100 000 tasks.
    pub service_order: Vec<(u8, u8, Option<u8>, u8, u64)>,
    /// Parity errors the target detected on received bytes.
    pub parity_errors: u64,
    /// Messages received, first byte each.
    pub messages_in: Vec<u8>,
    /// MESSAGE IN bytes sent (acknowledged).
    pub msg_in_bytes: u64,
    /// Tasks aborted by messages or resets.
    pub aborted: u64,
    /// Bus resets seen.
    pub resets: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TPhase {
    Exec,
    DataIn,
    DataOut,
    Status,
}

#[derive(Clone, Debug)]
struct Task {
    id: u64,
    init: u8,
    lun: u8,
    tag: Option<(u8, u8)>,
    cdb: Vec<u8>,
    disc: bool,
    inline: bool,
    queued: bool,
    phase: TPhase,
    data: Vec<u8>,
    need: usize,
    ptr: usize,
    saved: usize,
    resp: Option<Response>,
    ready_at: u64,
    fault: Option<FaultAction>,
    retries: u32,
    residue_pad: bool,
    /// A `BadByte { no_retry }` fault fired: INITIATOR DETECTED ERROR is ignored.
    ignore_ide: bool,
    /// INFORMATION for a fault's sense (the faulty LBA), see `FaultEngine::check_resolved`.
    fault_info: Option<u64>,
}

impl Task {
    fn blank() -> Task {
        Task {
            id: 0,
            init: 0,
            lun: 0,
            tag: None,
            cdb: Vec::new(),
            disc: false,
            inline: true,
            queued: false,
            phase: TPhase::Status,
            data: Vec::new(),
            need: 0,
            ptr: 0,
            saved: 0,
            resp: None,
            ready_at: 0,
            fault: None,
            retries: 0,
            residue_pad: false,
            ignore_ide: false,
            fault_info: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Idle,
    SelSeen { since: u64 },
    Ignoring,
    SelBsy,
    Reselecting(u64),
    Conn,
    Hang,
    Reset,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Neg {
    Sdtr,
    Wdtr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Selected,
    Command,
    Task(u64),
}

/// A transfer run in one phase: `n` transfers, async or sync.
#[derive(Clone, Copy, Debug)]
struct Run {
    phase: Phase,
    n: usize,
    done: usize,
    wide: bool,
    sync: Option<(Pulser, u8)>,
    reqs: usize,
    acks: usize,
    stage: u8,
    t: u64,
    prev_ack: bool,
    stop: bool,
    /// Cycle at which the data window inverts the data of the last REQ.
    junk_at: u64,
    /// Synchronous window with set-up 0: the word (data, parity) of the pulse under
    /// way, put on the bus with its REQ (the inverse is there until then).
    real: Option<(u16, u8)>,
}

#[derive(Clone, Debug, Default)]
struct Conn {
    init: u8,
    identified: bool,
    lun: u8,
    disc: bool,
    tag: Option<(u8, u8)>,
    stage: Option<Stage>,
    msg_in: VecDeque<u8>,
    msg_in_bounds: VecDeque<usize>,
    cur_msg: Vec<u8>,
    cur_left: usize,
    last_msg_in: Vec<u8>,
    reply: bool,
    bus_free_after: bool,
    msg_out: Vec<u8>,
    cdb: Vec<u8>,
    last_phase: Option<Phase>,
    phase_bytes: usize,
    parity_err: bool,
    our_neg: Option<Neg>,
    abort_after: bool,
    /// This connection is a reselection.
    reselected: bool,
    /// Cycle the last MESSAGE OUT byte ended.
    msg_out_end: u64,
    /// Release BSY once the reselection IDENTIFY has gone (fault).
    bus_free_after_identify: bool,
    /// MESSAGE OUT retries asked for in this connection.
    msg_out_retries: u8,
}

/// An SPI target device with up to 8 logical units.
pub struct Target {
    cfg: TargetConfig,
    luns: Vec<Option<Box<dyn LogicalUnit>>>,
    faults: FaultEngine,
    rng: Prng,
    st: St,
    drive: BusDrive,
    phase: Option<Phase>,
    phase_at: u64,
    phase_dirty: bool,
    run: Option<Run>,
    conn: Conn,
    tasks: Vec<Task>,
    next_task_id: u64,
    serving: Option<u64>,
    sel: Option<Selector>,
    agreements: [Agreement; 16],
    negotiated: u16,
    sense: [[Option<Sense>; 8]; 16],
    ua: [[Option<asc::AscAscq>; 8]; 16],
    pending_check: Option<Sense>,
    scratch: Task,
    /// Tag values each initiator has ever used (for a credible bad reselection tag).
    seen_tags: [[u64; 4]; 16],
    /// Counters.
    pub stats: TargetStats,
    /// The running task's fault INFORMATION, for `common_command`.
    fault_info: Option<u64>,
    /// A `HangAfterSelection` fault matched at this selection.
    hang_after_selection: Option<Phase>,
    /// After an OUT -> IN change, DB is not driven before this cycle.
    turnaround_until: u64,
    /// Cycle of the task being started (for spin-up).
    now: u64,
    /// Per LUN spin-up state (with `spin_up`).
    spin: [Spin; 8],
}

const MAX_CDB: usize = 16;

impl Target {
    /// A target with no LUNs yet.
    pub fn new(cfg: TargetConfig) -> Target {
        let rng = Prng::new(cfg.seed);
        let mut t = Target {
            cfg,
            luns: (0..8).map(|_| None).collect(),
            faults: FaultEngine::new(&FaultConfig::default()),
            rng,
            st: St::Idle,
            drive: BusDrive::NONE,
            phase: None,
            phase_at: 0,
            phase_dirty: false,
            run: None,
            conn: Conn::default(),
            tasks: Vec::new(),
            next_task_id: 1,
            serving: None,
            sel: None,
            agreements: [Agreement::default(); 16],
            negotiated: 0,
            sense: [[None; 8]; 16],
            ua: [[None; 8]; 16],
            pending_check: None,
            scratch: Task::blank(),
            seen_tags: [[0; 4]; 16],
            stats: TargetStats::default(),
            fault_info: None,
            hang_after_selection: None,
            turnaround_until: 0,
            now: 0,
            spin: [Spin::Ready; 8],
        };
        if let Some(sp) = t.cfg.spin_up {
            t.spin = [Spin::PowerOn(sp.power_on_cycles); 8];
        }
        t.set_ua_all(asc::POWER_ON_OCCURRED);
        t
    }
    /// Adds a logical unit at `lun` (0..7).
    pub fn with_lun(mut self, lun: u8, lu: impl LogicalUnit) -> Target {
        self.luns[usize::from(lun & 7)] = Some(Box::new(lu));
        self
    }
    /// Installs fault rules.
    pub fn with_faults(mut self, cfg: &FaultConfig) -> Target {
        self.faults = FaultEngine::new(cfg);
        self
    }
    /// Replaces the fault rules while running.
    pub fn set_faults(&mut self, cfg: &FaultConfig) {
        self.faults = FaultEngine::new(cfg);
    }
    /// The fault engine (fire counts).
    pub fn faults(&self) -> &FaultEngine {
        &self.faults
    }
    /// The logical unit at `lun` as its concrete type.
    pub fn lun_mut<T: LogicalUnit>(&mut self, lun: u8) -> Option<&mut T> {
        let lu: &mut dyn LogicalUnit = self.luns.get_mut(usize::from(lun))?.as_deref_mut()?;
        lu.as_any_mut().downcast_mut::<T>()
    }
    /// SCSI ID.
    pub fn id(&self) -> u8 {
        self.cfg.id
    }
    /// Tasks currently in the task set.
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }
    /// The agreement the target holds with an initiator.
    pub fn agreement(&self, init: u8) -> Agreement {
        self.agreements[usize::from(init & 15)]
    }
    /// Clears pending UNIT ATTENTION conditions (as if each initiator had seen them).
    pub fn clear_unit_attention(&mut self) {
        self.ua = [[None; 8]; 16];
    }

    fn set_ua_all(&mut self, a: asc::AscAscq) {
        for i in 0..16 {
            for l in 0..8 {
                self.ua[i][l] = Some(a);
            }
        }
    }

    // ----- the per-cycle engine -----

    fn set_phase(&mut self, c: u64, p: Phase) {
        if p.is_in() && !self.phase.is_some_and(|q| q.is_in()) {
            // OUT -> IN: the initiator may drive DB for a data release delay; drive it
            // only a data release + bus settle delay after I/O (SPI-3 10.3).
            self.turnaround_until = c + cycles::DATA_RELEASE + cycles::SETTLE;
        }
        if self.phase != Some(p) {
            self.phase = Some(p);
            self.phase_at = c;
            self.phase_dirty = true;
            self.conn.phase_bytes = 0;
        }
        self.drive.ctl = (self.drive.ctl & !ctl::PHASE) | p.ctl();
    }

    fn go_bus_free(&mut self) {
        self.drive = BusDrive::NONE;
        self.st = St::Idle;
        self.phase = None;
        self.run = None;
        // A finished or aborted connection task leaves; an interrupted one waits.
        if let Some(Stage::Task(id)) = self.conn.stage {
            if self.conn.abort_after {
                self.remove_task(id);
            }
        }
        self.conn = Conn::default();
    }

    fn remove_task(&mut self, id: u64) {
        self.tasks.retain(|t| t.id != id);
        if self.serving == Some(id) {
            self.serving = None;
        }
    }

    fn reset_all(&mut self, kind: ResetKind) {
        self.stats.aborted += self.tasks.len() as u64;
        self.tasks.clear();
        self.serving = None;
        self.sel = None;
        self.agreements = [Agreement::default(); 16];
        self.negotiated = 0;
        self.sense = [[None; 8]; 16];
        self.set_ua_all(match kind {
            ResetKind::Bus => asc::SCSI_BUS_RESET_OCCURRED,
            ResetKind::Device => asc::BUS_DEVICE_RESET_OCCURRED,
        });
        for l in self.luns.iter_mut().flatten() {
            l.reset(kind);
        }
    }

    /// The synchronous DATA IN window of the quirks, if any (`min_setup_hold` is set-up
    /// 1, hold 2).
    fn data_window(&self) -> Option<DataWindow> {
        let q = &self.cfg.quirks;
        q.data_in_window.or(q.min_setup_hold.then_some(DataWindow {
            setup: cycles::SYNC_SETUP,
            hold: 1 + cycles::SYNC_HOLD,
        }))
    }

    fn start_run(&mut self, c: u64, phase: Phase, n: usize, data: bool) {
        self.set_phase(c, phase);
        let a = self.agreements[usize::from(self.conn.init & 15)];
        let sync = if data && a.offset > 0 {
            let mut p = sync_period_cycles(a.period_factor).unwrap_or(cycles::MIN_SYNC_PERIOD);
            if self.cfg.quirks.short_period {
                p = p.saturating_sub(1).max(1);
            }
            Some((Pulser::new(p), a.offset))
        } else {
            None
        };
        let is_sync = sync.is_some();
        let wide = data && a.wide;
        self.run = Some(Run {
            phase,
            n,
            done: 0,
            wide,
            sync,
            reqs: 0,
            acks: 0,
            stage: 0,
            t: c,
            prev_ack: false,
            stop: false,
            junk_at: 0,
            real: None,
        });
        if phase.is_in() && !is_sync {
            let w = self.src_word(0, wide);
            self.put_word(w, wide, phase, 0);
        }
    }

    /// Word to send for transfer `i` of the current run.
    fn src_word(&mut self, i: usize, wide: bool) -> u16 {
        let phase = self.run.map(|r| r.phase).unwrap_or(Phase::MsgIn);
        match phase {
            Phase::MsgIn => self
                .conn
                .cur_msg
                .get(self.conn.cur_msg.len() - self.conn.cur_left)
                .copied()
                .unwrap_or(0)
                .into(),
            Phase::Status => self
                .cur_task()
                .and_then(|t| t.resp.as_ref())
                .map(|r| r.status)
                .unwrap_or(status::GOOD)
                .into(),
            Phase::DataIn => {
                let Some(t) = self.cur_task() else { return 0 };
                let step = if wide { 2 } else { 1 };
                let p = t.ptr + i * step;
                let lo = t.data.get(p).copied().unwrap_or(0);
                let hi = if wide {
                    t.data.get(p + 1).copied().unwrap_or(0)
                } else {
                    0
                };
                u16::from(lo) | (u16::from(hi) << 8)
            }
            _ => 0,
        }
    }

    fn cur_task_id(&self) -> Option<u64> {
        match self.conn.stage {
            Some(Stage::Task(id)) => Some(id),
            _ => None,
        }
    }
    fn cur_task(&self) -> Option<&Task> {
        let id = self.cur_task_id()?;
        self.tasks.iter().find(|t| t.id == id)
    }
    fn cur_task_mut(&mut self) -> Option<&mut Task> {
        let id = self.cur_task_id()?;
        self.tasks.iter_mut().find(|t| t.id == id)
    }

    /// One transfer of the current run completed (sent or received `w`).
    fn transfer_done(&mut self, c: u64, w: u16, parity_ok: bool, wide: bool) {
        let phase = self.run.map(|r| r.phase).unwrap_or(Phase::MsgIn);
        self.conn.phase_bytes += if wide { 2 } else { 1 };
        match phase {
            Phase::MsgOut => {
                if !parity_ok {
                    self.stats.parity_errors += 1;
                    self.conn.parity_err = true;
                }
                self.conn.msg_out.push(w as u8);
                let m = &self.conn.msg_out;
                if let Some(n) = crate::log::message_len(m) {
                    if m.len() >= n {
                        let m = std::mem::take(&mut self.conn.msg_out);
                        if !self.conn.parity_err {
                            self.message_out(c, &m);
                        }
                    }
                }
            }
            Phase::Command => {
                if !parity_ok {
                    self.stats.parity_errors += 1;
                    self.conn.parity_err = true;
                }
                self.conn.cdb.push(w as u8);
            }
            Phase::DataOut => {
                let step = if wide { 2 } else { 1 };
                if !parity_ok {
                    self.stats.parity_errors += 1;
                    self.conn.parity_err = true;
                }
                if let Some(t) = self.cur_task_mut() {
                    for k in 0..step {
                        if t.ptr < t.need {
                            let b = (w >> (8 * k)) as u8;
                            if t.data.len() <= t.ptr {
                                t.data.resize(t.ptr + 1, 0);
                            }
                            t.data[t.ptr] = b;
                            t.ptr += 1;
                        }
                    }
                }
            }
            Phase::DataIn => {
                let step = if wide { 2 } else { 1 };
                if let Some(t) = self.cur_task_mut() {
                    t.ptr = (t.ptr + step).min(t.data.len());
                }
            }
            Phase::MsgIn => {
                self.stats.msg_in_bytes += 1;
                self.conn.cur_left = self.conn.cur_left.saturating_sub(1);
            }
            Phase::Status | Phase::Reserved => {}
        }
    }

    fn run_tick(&mut self, c: u64, bus: &BusSignals) {
        let Some(mut r) = self.run else { return };
        let ack = bus.has(ctl::ACK);
        match r.sync {
            None => match r.stage {
                // Drive data (IN) and wait set-up / settle, then REQ.
                0 => {
                    if ack {
                        // Wait for the previous ACK to go away first.
                    } else {
                        let settle_ok = self.cfg.quirks.no_phase_settle
                            || !self.phase_dirty
                            || c - self.phase_at >= cycles::SETTLE;
                        let data_ok = !r.phase.is_in()
                            || (c >= self.turnaround_until
                                && c - r.t.max(self.turnaround_until) >= cycles::DESKEW_SKEW);
                        if settle_ok && data_ok && c > r.t {
                            self.phase_dirty = false;
                            self.drive.ctl |= ctl::REQ;
                            r.stage = 1;
                        }
                    }
                }
                1 => {
                    if ack {
                        let ok = bus.parity_ok(r.wide);
                        let w = if r.wide { bus.data } else { bus.data & 0xFF };
                        self.drive.ctl &= !ctl::REQ;
                        if r.phase == Phase::DataIn && self.cfg.quirks.data_in_window.is_some() {
                            // Held exactly until ACK, then the inverse (parity good).
                            self.drive.data ^= if r.wide { 0xFFFF } else { 0xFF };
                        } else if r.phase.is_in() {
                            self.drive.clear_data();
                        }
                        self.run = Some(r);
                        let sent = if r.phase.is_in() {
                            self.src_word(0, r.wide)
                        } else {
                            w
                        };
                        self.transfer_done(c, sent, ok, r.wide);
                        let Some(mut r2) = self.run else { return };
                        r2.stage = 2;
                        self.run = Some(r2);
                        return;
                    }
                }
                _ => {
                    if !ack {
                        r.done += 1;
                        r.stage = 0;
                        r.t = c;
                        if r.done >= r.n || (bus.has(ctl::ATN) && r.phase != Phase::MsgOut) {
                            r.stop = true;
                        } else if r.phase.is_in() {
                            let w = self.src_word(0, r.wide);
                            self.put_word(w, r.wide, r.phase, 0);
                        }
                    }
                }
            },
            Some((mut pulser, offset)) => {
                let ack_edge = ack && !r.prev_ack;
                r.prev_ack = ack;
                if ack_edge {
                    r.acks += 1;
                    if !r.phase.is_in() {
                        let ok = bus.parity_ok(r.wide);
                        self.run = Some(r);
                        self.transfer_done(c, bus.data, ok, r.wide);
                    } else {
                        self.run = Some(r);
                        let w = self.src_word(0, r.wide);
                        self.transfer_done(c, w, true, r.wide);
                    }
                }
                // ATN: send no more REQs; the run ends when the outstanding ones are acked.
                let atn_stop = bus.has(ctl::ATN);
                let settle_ok = (self.cfg.quirks.no_phase_settle
                    || !self.phase_dirty
                    || c - self.phase_at >= cycles::SETTLE)
                    && (!r.phase.is_in() || c >= self.turnaround_until);
                let room = self.cfg.quirks.ignore_offset || r.reqs - r.acks < usize::from(offset);
                let want = settle_ok && !atn_stop && r.reqs < r.n && room;
                let (line, set_data) = pulser.tick(c, want, r.phase.is_in());
                if set_data || (!r.phase.is_in() && line && !self.drive.has(ctl::REQ)) {
                    // A pulse starts now: count it and, for DATA IN, put its data on.
                    let i = r.reqs;
                    r.reqs += 1;
                    if r.phase.is_in() {
                        // src_word for DATA IN is relative to ptr, which advances per ACK.
                        let rel = i - r.acks;
                        let w = self.src_word(rel, r.wide);
                        self.put_word(w, r.wide, r.phase, rel);
                        if self.data_window().is_some_and(|w| w.setup == 0) {
                            r.real = Some((self.drive.data, self.drive.parity));
                            self.drive.data ^= if r.wide { 0xFFFF } else { 0xFF };
                        }
                    }
                }
                if let Some(win) = self.data_window().filter(|_| r.phase.is_in()) {
                    if line && !self.drive.has(ctl::REQ) {
                        if let Some((d, p)) = r.real.take() {
                            self.drive.data = d;
                            self.drive.parity = p;
                        }
                        r.junk_at = c + win.hold;
                    }
                    // Never the next pulse's word, put on this very cycle.
                    if c == r.junk_at && !set_data {
                        // Inverting all bits of a lane keeps its parity right.
                        self.drive.data ^= if r.wide { 0xFFFF } else { 0xFF };
                    }
                }
                if line {
                    self.phase_dirty = false;
                    self.drive.ctl |= ctl::REQ;
                } else {
                    self.drive.ctl &= !ctl::REQ;
                }
                r.sync = Some((pulser, offset));
                // Finish only once the last ACK is gone: phase lines must not move under it.
                if !ack && (r.acks >= r.n || (atn_stop && r.acks >= r.reqs && !pulser.busy())) {
                    r.done = r.acks;
                    r.stop = true;
                }
            }
        }
        if r.stop {
            self.drive.ctl &= !ctl::REQ;
            if r.phase.is_in() {
                self.drive.clear_data();
            }
            self.run = None;
            self.run_finished(c, r, bus);
        } else {
            self.run = Some(r);
        }
    }

    /// Drives transfer `ahead` transfers past the last acknowledged one (synchronous
    /// DATA IN runs ahead by up to the offset), applying byte faults by the byte's
    /// index in the phase.
    fn put_word(&mut self, w: u16, wide: bool, phase: Phase, ahead: usize) {
        if wide {
            self.drive.set_word(w);
        } else {
            self.drive.set_byte(w as u8);
        }
        // Injected bad byte: wrong data and wrong parity.
        if let Some(FaultAction::BadByte {
            phase: p,
            byte,
            no_retry,
            reselected,
        }) = self.cur_task().and_then(|t| t.fault.clone())
        {
            let idx = self.conn.phase_bytes + ahead * if wide { 2 } else { 1 };
            let lane = if wide && byte == idx + 1 { 1 } else { 0 };
            let hit = byte == idx || (wide && byte == idx + 1);
            if p == phase && hit && (self.conn.reselected || !reselected) {
                self.drive.data ^= 0xFF << (8 * lane);
                self.drive.parity ^= if lane == 1 {
                    crate::signals::par::P1
                } else {
                    crate::signals::par::P0
                };
                if let Some(t) = self.cur_task_mut() {
                    t.fault = None;
                    t.ignore_ide = no_retry;
                }
            }
        }
        // Injected parity error on a chosen byte of this phase.
        if let Some(FaultAction::Parity { phase: p, byte }) =
            self.cur_task().and_then(|t| t.fault.clone())
        {
            let idx = self.conn.phase_bytes;
            let hit = if wide {
                byte == idx || byte == idx + 1
            } else {
                byte == idx
            };
            if p == phase && hit {
                self.drive.parity ^= if wide && byte == idx + 1 {
                    crate::signals::par::P1
                } else {
                    crate::signals::par::P0
                };
                // One corrupted byte: the retry after RESTORE POINTERS / resend is clean.
                if let Some(t) = self.cur_task_mut() {
                    t.fault = None;
                }
            }
        }
    }

    fn run_finished(&mut self, c: u64, r: Run, bus: &BusSignals) {
        self.conn.last_phase = Some(r.phase);
        match r.phase {
            Phase::MsgOut => self.conn.msg_out_end = c,
            Phase::Command => {
                let need = self
                    .conn
                    .cdb
                    .first()
                    .map(|&op| opcode::cdb_len(op).unwrap_or(6))
                    .unwrap_or(6);
                if self.conn.cdb.len() >= need.min(MAX_CDB) {
                    self.command_received(c);
                }
            }
            Phase::MsgIn => {
                if self.conn.cur_left == 0 {
                    self.conn.last_msg_in = std::mem::take(&mut self.conn.cur_msg);
                    self.after_msg_in_sent();
                }
            }
            Phase::Status => {
                // Contingent allegiance: the sense REQUEST SENSE returns is the one of
                // the CHECK CONDITION just reported, not of a later tagged task that ran
                // on the medium in between.
                let mut ca = None;
                if let Some(t) = self.cur_task_mut() {
                    t.phase = TPhase::Status;
                    if let Some(r) = t
                        .resp
                        .as_ref()
                        .filter(|r| r.status == status::CHECK_CONDITION)
                    {
                        ca = Some((usize::from(t.init & 15), usize::from(t.lun & 7), r.sense));
                    }
                }
                if let Some((i, l, sn)) = ca {
                    self.sense[i][l] = sn;
                }
                self.queue_msg(&[msg::COMMAND_COMPLETE]);
                self.conn.bus_free_after = true;
                self.conn.abort_after = true;
            }
            Phase::DataIn | Phase::DataOut => {
                if r.phase == Phase::DataOut && self.conn.parity_err {
                    self.conn.parity_err = false;
                    self.data_out_parity_error();
                    return;
                }
                let chunked = self.cfg.chunk.is_some();
                let atn = bus.has(ctl::ATN);
                let ready = c + self.cfg.access_cycles;
                if let Some(t) = self.cur_task_mut() {
                    let total = if r.phase == Phase::DataIn {
                        t.data.len()
                    } else {
                        t.need
                    };
                    let disc = t.disc;
                    if t.ptr < total && chunked && disc && !atn {
                        t.ready_at = ready;
                        self.queue_msg(&[msg::SAVE_DATA_POINTER]);
                        self.queue_msg(&[msg::DISCONNECT]);
                        self.conn.bus_free_after = true;
                    }
                }
            }
            Phase::Reserved => {}
        }
    }

    fn after_msg_in_sent(&mut self) {
        let m = self.conn.last_msg_in.first().copied();
        if self.conn.bus_free_after_identify && m.is_some_and(|b| b & msg::IDENTIFY != 0) {
            if let Some(id) = self.cur_task_id() {
                self.remove_task(id);
                self.stats.aborted += 1;
            }
            self.go_bus_free();
            return;
        }
        if m == Some(msg::SAVE_DATA_POINTER) {
            if let Some(t) = self.cur_task_mut() {
                t.saved = t.ptr;
            }
        }
        if m == Some(msg::RESTORE_POINTERS) {
            if let Some(t) = self.cur_task_mut() {
                t.ptr = t.saved;
            }
        }
    }

    fn queue_msg(&mut self, m: &[u8]) {
        self.conn.msg_in.extend(m.iter().copied());
        self.conn.msg_in_bounds.push_back(m.len());
    }

    fn data_out_parity_error(&mut self) {
        let Some(t) = self.cur_task_mut() else { return };
        t.retries += 1;
        if t.retries <= 2 {
            t.ptr = t.saved;
            self.queue_msg(&[msg::RESTORE_POINTERS]);
        } else {
            t.resp = Some(Response::check(Sense::new(
                sense_key::ABORTED_COMMAND,
                asc::SCSI_PARITY_ERROR,
            )));
            t.phase = TPhase::Status;
        }
    }

    /// Decide the next thing to do while connected and no run is active.
    fn decide(&mut self, c: u64, bus: &BusSignals) {
        let atn = bus.has(ctl::ATN);
        // Send the rest of a message unless the initiator wants to talk.
        if self.conn.cur_left > 0 && !atn {
            self.start_run(c, Phase::MsgIn, 1, false);
            return;
        }
        if self.conn.cur_left > 0 {
            self.conn.last_msg_in = std::mem::take(&mut self.conn.cur_msg);
            self.conn.cur_left = 0;
        }
        if self.conn.reply && !self.conn.msg_in.is_empty() {
            self.next_msg_in(c);
            return;
        }
        self.conn.reply = false;
        let scsi1 = self.cfg.quirks.ignore_atn_after_identify
            && self.conn.identified
            && matches!(
                self.conn.stage,
                None | Some(Stage::Selected) | Some(Stage::Command)
            );
        if atn && scsi1 {
            if c < self.conn.msg_out_end + 100 {
                return; // still deciding: the phase lines stay MESSAGE OUT
            }
        } else if atn && !self.cfg.ignore_atn {
            self.start_run(c, Phase::MsgOut, 1, false);
            return;
        }
        if self.conn.parity_err
            && self.cfg.msg_out_retry
            && self.conn.last_phase == Some(Phase::MsgOut)
            && self.conn.msg_out_retries < 2
        {
            // SPI MESSAGE OUT retry: REQ again in MESSAGE OUT with ATN false; the
            // initiator resends every byte of the phase.
            self.conn.parity_err = false;
            self.conn.msg_out.clear();
            self.conn.msg_out_retries += 1;
            self.start_run(c, Phase::MsgOut, 1, false);
            return;
        }
        if self.conn.parity_err {
            // A bad MESSAGE OUT or COMMAND byte: the task ends ABORTED COMMAND 47/00.
            self.conn.parity_err = false;
            self.conn.msg_out.clear();
            let ck = Sense::new(sense_key::ABORTED_COMMAND, asc::SCSI_PARITY_ERROR);
            if let Some(t) = self.cur_task_mut() {
                // During a task's connection: end it CHECK CONDITION, 47/00.
                t.resp = Some(Response::check(ck));
                t.phase = TPhase::Status;
            } else if self.conn.stage == Some(Stage::Command)
                || self.conn.stage == Some(Stage::Selected)
            {
                self.conn.cdb.clear();
                self.conn.stage = Some(Stage::Command);
                self.conn.msg_in.clear();
                self.pending_check = Some(ck);
            }
        }
        if !self.conn.msg_in.is_empty() {
            self.next_msg_in(c);
            return;
        }
        if self.conn.bus_free_after {
            self.go_bus_free();
            return;
        }
        match self.conn.stage {
            None | Some(Stage::Selected) => {
                self.conn.stage = Some(Stage::Command);
                if !self.conn.identified {
                    // No IDENTIFY: LUN 0, no disconnect privilege (SCSI-1 style selection).
                    self.conn.lun = 0;
                }
                if self.cfg.initiate_negotiation
                    && (self.cfg.renegotiate_always || self.negotiated & (1 << self.conn.init) == 0)
                {
                    self.negotiated |= 1 << self.conn.init;
                    self.target_negotiation(c, true);
                    if !self.conn.msg_in.is_empty() {
                        return self.next_msg_in(c);
                    }
                }
                self.start_run(c, Phase::Command, 1, false);
            }
            Some(Stage::Command) => {
                if self.conn.our_neg.take().is_some() {
                    // The initiator did not answer our negotiation: asynchronous, narrow.
                    self.agreements[usize::from(self.conn.init & 15)].offset = 0;
                }
                self.start_run(c, Phase::Command, 1, false);
            }
            Some(Stage::Task(id)) => self.task_step(c, id),
        }
    }

    fn next_msg_in(&mut self, c: u64) {
        let n = self
            .conn
            .msg_in_bounds
            .pop_front()
            .unwrap_or(self.conn.msg_in.len());
        let n = n.min(self.conn.msg_in.len());
        self.conn.cur_msg = self.conn.msg_in.drain(..n).collect();
        self.conn.cur_left = self.conn.cur_msg.len();
        if self.conn.msg_in.is_empty() {
            self.conn.reply = false;
        }
        if self.phase_fault(c, Phase::MsgIn) {
            return;
        }
        self.start_run(c, Phase::MsgIn, 1, false);
    }

    /// Applies a Hang/BusFree fault on entering `phase`; true when it took over.
    fn phase_fault(&mut self, c: u64, phase: Phase) -> bool {
        let f = self.cur_task().and_then(|t| t.fault.clone());
        match f {
            Some(FaultAction::Hang { phase: p }) if p == phase => {
                self.set_phase(c, phase);
                self.st = St::Hang;
                true
            }
            Some(FaultAction::BusFree { phase: p }) if p == phase => {
                if let Some(id) = self.cur_task_id() {
                    self.remove_task(id);
                    self.stats.aborted += 1;
                }
                self.go_bus_free();
                true
            }
            _ => false,
        }
    }

    fn task_step(&mut self, c: u64, id: u64) {
        let Some(t) = self.tasks.iter().find(|t| t.id == id) else {
            self.go_bus_free();
            return;
        };
        if matches!(t.fault, Some(FaultAction::ReservedPhase)) {
            // REQ follows a bus settle delay later (St::Hang), and stays.
            self.set_phase(c, Phase::Reserved);
            self.st = St::Hang;
            return;
        }
        let (phase, ptr, len, need, pad) = (t.phase, t.ptr, t.data.len(), t.need, t.residue_pad);
        let wide = self.agreements[usize::from(self.conn.init & 15)].wide;
        let chunk =
            self.cfg
                .chunk
                .filter(|_| t.disc)
                .map(|c| if wide { (c & !1).max(2) } else { c.max(1) });
        match phase {
            TPhase::Exec => {
                self.exec_task(c, id);
                self.decide(c, &BusSignals::NONE);
            }
            TPhase::DataIn if ptr < len => {
                if self.phase_fault(c, Phase::DataIn) {
                    return;
                }
                let bytes = chunk.map_or(len - ptr, |k| k.min(len - ptr));
                let n = if wide { bytes.div_ceil(2) } else { bytes };
                if wide && bytes % 2 == 1 && ptr + bytes == len {
                    self.task_mut(id).residue_pad = true;
                }
                self.start_run(c, Phase::DataIn, n, true);
            }
            TPhase::DataIn => {
                if pad {
                    self.task_mut(id).residue_pad = false;
                    self.queue_msg(&[msg::IGNORE_WIDE_RESIDUE, 1]);
                    return self.next_msg_in(c);
                }
                self.task_mut(id).phase = TPhase::Status;
                self.task_step(c, id);
            }
            TPhase::DataOut if ptr < need => {
                if self.phase_fault(c, Phase::DataOut) {
                    return;
                }
                let bytes = chunk.map_or(need - ptr, |k| k.min(need - ptr));
                let n = if wide { bytes.div_ceil(2) } else { bytes };
                self.start_run(c, Phase::DataOut, n, true);
            }
            TPhase::DataOut => {
                let t = self.task_mut(id);
                let cdb = t.cdb.clone();
                let data = std::mem::take(&mut t.data);
                let lun = t.lun;
                let resp = match self.luns.get_mut(usize::from(lun)).and_then(|l| l.as_mut()) {
                    Some(lu) => match lu.execute(&cdb, Some(&data)) {
                        Exec::Done(r) => r,
                        Exec::NeedData(_) => Response::check(Sense::new(
                            sense_key::HARDWARE_ERROR,
                            asc::INTERNAL_TARGET_FAILURE,
                        )),
                    },
                    None => Response::check(Sense::new(
                        sense_key::ILLEGAL_REQUEST,
                        asc::LOGICAL_UNIT_NOT_SUPPORTED,
                    )),
                };
                self.finish_response(id, resp);
                self.task_step(c, id);
            }
            TPhase::Status => {
                if self.phase_fault(c, Phase::Status) {
                    return;
                }
                self.start_run(c, Phase::Status, 1, false);
            }
        }
    }

    /// The task with `id`. A task that vanished (aborted while a step was pending) is
    /// replaced by a scratch slot, so a late write cannot panic and changes nothing.
    fn task_mut(&mut self, id: u64) -> &mut Task {
        match self.tasks.iter().position(|t| t.id == id) {
            Some(i) => &mut self.tasks[i],
            None => {
                self.scratch = Task::blank();
                &mut self.scratch
            }
        }
    }

    fn finish_response(&mut self, id: u64, resp: Response) {
        let resp = self.with_data_fault(id, resp);
        let t = self.task_mut(id);
        t.data = resp.data.clone();
        t.ptr = 0;
        t.saved = 0;
        t.phase = if t.data.is_empty() {
            TPhase::Status
        } else {
            TPhase::DataIn
        };
        t.resp = Some(resp);
    }

    /// Starts a task on the medium: common commands, UNIT ATTENTION, faults, then the LU.
    fn exec_task(&mut self, c: u64, id: u64) {
        let mut ready = c + self.cfg.access_cycles;
        let t = self.task_mut(id);
        if let Some(FaultAction::Delay { cycles, .. }) = t.fault {
            ready += cycles;
        }
        t.ready_at = ready;
        let (init, lun, cdb, fault, tag) = (t.init, t.lun, t.cdb.clone(), t.fault.clone(), t.tag);
        self.fault_info = t.fault_info;
        self.now = c;
        if self.stats.service_order.len() < 100_000 {
            let lba = common::be(&cdb, 2, 4);
            self.stats.service_order.push((
                init,
                lun,
                tag.map(|x| x.1),
                cdb.first().copied().unwrap_or(0),
                lba,
            ));
        }
        let resp = self.common_command(init, lun, &cdb, fault);
        match resp {
            Exec::Done(r) => self.finish_response(id, r),
            Exec::NeedData(n) => {
                let t = self.task_mut(id);
                t.need = n;
                t.data = vec![0; n];
                t.ptr = 0;
                t.saved = 0;
                t.phase = if n == 0 {
                    TPhase::Status
                } else {
                    TPhase::DataOut
                };
                if n == 0 {
                    t.resp = Some(Response::good(Vec::new()));
                }
            }
        }
    }

    fn common_command(
        &mut self,
        init: u8,
        lun: u8,
        cdb: &[u8],
        fault: Option<FaultAction>,
    ) -> Exec {
        let (i, l) = (usize::from(init & 15), usize::from(lun & 7));
        let op = cdb.first().copied().unwrap_or(0);
        let present = self.luns.get(l).is_some_and(|x| x.is_some()) && lun < 8;
        match op {
            opcode::INQUIRY => return Exec::Done(self.inquiry(lun, cdb)),
            opcode::REPORT_LUNS if self.cfg.report_luns => {
                return Exec::Done(self.report_luns(cdb))
            }
            opcode::REQUEST_SENSE => {
                let alloc_len = usize::from(cdb.get(4).copied().unwrap_or(0));
                let s = if !present {
                    Sense::new(sense_key::ILLEGAL_REQUEST, asc::LOGICAL_UNIT_NOT_SUPPORTED)
                } else if let Some(u) = self.ua[i][l].take() {
                    Sense::new(sense_key::UNIT_ATTENTION, u)
                } else {
                    self.sense[i][l].take().unwrap_or_default()
                };
                return Exec::Done(Response::good(common::alloc(s.to_bytes(), alloc_len)));
            }
            _ => {}
        }
        if !present {
            return Exec::Done(Response::check(Sense::new(
                sense_key::ILLEGAL_REQUEST,
                asc::LOGICAL_UNIT_NOT_SUPPORTED,
            )));
        }
        if let Some(u) = self.ua[i][l].take() {
            return Exec::Done(Response::check(Sense::new(sense_key::UNIT_ATTENTION, u)));
        }
        if let Some(r) = self.spin_check(l, cdb) {
            return Exec::Done(r);
        }
        if let Some(r) = self.fault_response(fault.as_ref()) {
            return Exec::Done(r);
        }
        match self.luns[l].as_mut() {
            Some(lu) => lu.execute(cdb, None),
            None => Exec::Done(common::invalid_opcode()),
        }
    }

    fn inquiry(&mut self, lun: u8, cdb: &[u8]) -> Response {
        let evpd = cdb.get(1).copied().unwrap_or(0) & 1 != 0;
        let cmddt = cdb.get(1).copied().unwrap_or(0) & 2 != 0;
        let page = cdb.get(2).copied().unwrap_or(0);
        let alloc_len = common::be(cdb, 3, 2) as usize;
        if cmddt || (!evpd && page != 0) {
            return Response::check(Sense::invalid_field(if cmddt { 1 } else { 2 }));
        }
        let lu = self.luns.get(usize::from(lun)).and_then(|x| x.as_ref());
        let Some(lu) = lu else {
            let mut d = vec![0u8; inquiry::STANDARD_LEN];
            d[0] = inquiry::QUAL_NOT_SUPPORTED | inquiry::TYPE_NO_DEVICE;
            d[4] = (inquiry::STANDARD_LEN - 5) as u8;
            return Response::good(common::alloc(d, alloc_len));
        };
        let id = lu.ident();
        let dt = id.device_type;
        let data = if evpd {
            match page {
                inquiry::VPD_SUPPORTED_PAGES => vec![dt, 0, 0, 3, 0x00, 0x80, 0x83],
                inquiry::VPD_UNIT_SERIAL_NUMBER => {
                    let s = format!("{}L{lun}", self.cfg.serial);
                    let mut d = vec![dt, 0x80, 0, s.len() as u8];
                    d.extend_from_slice(s.as_bytes());
                    d
                }
                inquiry::VPD_DEVICE_IDENTIFICATION => {
                    // One T10 vendor ID designator: vendor + serial.
                    let s = format!("{:<8}{}L{lun}", id.vendor, self.cfg.serial);
                    let mut desc = vec![0x02, 0x01, 0x00, s.len() as u8];
                    desc.extend_from_slice(s.as_bytes());
                    let mut d = vec![dt, 0x83, 0, desc.len() as u8];
                    d.extend(desc);
                    d
                }
                _ => return Response::check(Sense::invalid_field(2)),
            }
        } else {
            let mut d = vec![0u8; inquiry::STANDARD_LEN];
            d[0] = dt;
            d[1] = if id.removable { inquiry::RMB } else { 0 };
            d[2] = self.cfg.inquiry_version; // 5 = SPC-3
                                             // Response data format 2, or 1 (CCS) / 0 (SCSI-1) for old devices.
            d[3] = self.cfg.inquiry_version.min(2);
            d[4] = (inquiry::STANDARD_LEN - 5) as u8;
            d[7] = (if self.cfg.wide {
                inquiry::FLAG_WBUS16
            } else {
                0
            }) | (if self.cfg.sync.is_some() {
                inquiry::FLAG_SYNC
            } else {
                0
            }) | if self.cfg.tagged {
                inquiry::FLAG_CMDQUE
            } else {
                0
            };
            let pad = |s: &str, n: usize| format!("{s:<n$}").into_bytes()[..n].to_vec();
            d[8..16].copy_from_slice(&pad(id.vendor, 8));
            d[16..32].copy_from_slice(&pad(id.product, 16));
            d[32..36].copy_from_slice(&pad(id.revision, 4));
            d
        };
        Response::good(common::alloc(data, alloc_len))
    }

    fn report_luns(&self, cdb: &[u8]) -> Response {
        let alloc_len = common::be(cdb, 6, 4) as usize;
        if alloc_len < 16 && alloc_len != 0 {
            return Response::check(Sense::invalid_field(6));
        }
        let luns: Vec<u8> = (0..8u8)
            .filter(|&l| self.luns[usize::from(l)].is_some())
            .collect();
        let mut d = vec![0u8; 8];
        d[0..4].copy_from_slice(&((luns.len() * 8) as u32).to_be_bytes());
        for l in luns {
            let mut e = [0u8; 8];
            e[1] = l;
            d.extend_from_slice(&e);
        }
        Response::good(common::alloc(d, alloc_len))
    }

    // ----- messages -----

    fn message_out(&mut self, c: u64, m: &[u8]) {
        let b0 = m[0];
        self.stats.messages_in.push(b0);
        let init = usize::from(self.conn.init & 15);
        if b0 & msg::IDENTIFY != 0 {
            self.conn.identified = true;
            self.conn.lun = b0 & msg::IDENTIFY_LUN_MASK;
            self.conn.disc = b0 & msg::IDENTIFY_DISC_PRIV != 0;
            return;
        }
        match b0 {
            msg::SIMPLE_QUEUE_TAG | msg::HEAD_OF_QUEUE_TAG | msg::ORDERED_QUEUE_TAG => {
                let f = self.faults.check(
                    FaultPoint::Message,
                    &FaultCtx {
                        lun: self.conn.lun,
                        ..Default::default()
                    },
                );
                let reject_fault = matches!(f, Some(FaultAction::RejectTag));
                if !self.cfg.tagged || reject_fault || self.conn.stage != Some(Stage::Selected) {
                    self.reply(&[msg::MESSAGE_REJECT]);
                } else {
                    let q = m.get(1).copied().unwrap_or(0);
                    self.conn.tag = Some((b0, q));
                    self.seen_tags[usize::from(self.conn.init & 15)][usize::from(q >> 6)] |=
                        1u64 << (q & 63);
                }
            }
            msg::EXTENDED => self.negotiation_in(c, m),
            msg::NOP => {}
            msg::ABORT_TASK => {
                let id = self.nexus_task();
                if let Some(id) = id {
                    self.remove_task(id);
                    self.stats.aborted += 1;
                }
                self.conn.stage = None;
                self.conn.msg_in.clear();
                self.conn.bus_free_after = true;
            }
            msg::ABORT_TASK_SET | msg::CLEAR_TASK_SET => {
                let (i, lun, ident) = (self.conn.init, self.conn.lun, self.conn.identified);
                let before = self.tasks.len();
                let clear_all = b0 == msg::CLEAR_TASK_SET;
                self.tasks
                    .retain(|t| !((clear_all || t.init == i) && (!ident || t.lun == lun)));
                self.stats.aborted += (before - self.tasks.len()) as u64;
                if self
                    .serving
                    .is_some_and(|s| !self.tasks.iter().any(|t| t.id == s))
                {
                    self.serving = None;
                }
                self.conn.stage = None;
                self.conn.msg_in.clear();
                self.conn.bus_free_after = true;
            }
            msg::TARGET_RESET => {
                self.reset_all(ResetKind::Device);
                self.conn.stage = None;
                self.conn.msg_in.clear();
                self.conn.bus_free_after = true;
            }
            msg::INITIATOR_DETECTED_ERROR => {
                let last = self.conn.last_phase;
                if let Some(t) = self.cur_task_mut() {
                    if t.ignore_ide {
                        // A careless target: carries on as after NO OPERATION.
                        return;
                    }
                    t.retries += 1;
                    if t.retries > 2 {
                        t.resp = Some(Response::check(Sense::new(
                            sense_key::ABORTED_COMMAND,
                            asc::INITIATOR_DETECTED_ERROR_RECEIVED,
                        )));
                        t.phase = TPhase::Status;
                        self.conn.msg_in.clear();
                        self.conn.msg_in_bounds.clear();
                        self.conn.bus_free_after = false;
                        self.conn.abort_after = false;
                    } else {
                        match last {
                            Some(Phase::DataIn) => {
                                t.phase = TPhase::DataIn;
                                self.conn.msg_in.clear();
                                self.conn.msg_in_bounds.clear();
                                self.conn.bus_free_after = false;
                                self.reply(&[msg::RESTORE_POINTERS]);
                            }
                            Some(Phase::Status) => {
                                // Resend the status: drop the pending COMMAND COMPLETE.
                                t.phase = TPhase::Status;
                                self.conn.msg_in.clear();
                                self.conn.msg_in_bounds.clear();
                                self.conn.bus_free_after = false;
                                self.conn.abort_after = false;
                            }
                            _ => {}
                        }
                    }
                }
            }
            msg::MESSAGE_PARITY_ERROR => {
                let last = self.conn.last_msg_in.clone();
                if !last.is_empty() && self.conn.last_phase == Some(Phase::MsgIn) {
                    // Resend the whole last message before anything else.
                    let rest: Vec<u8> = self.conn.msg_in.drain(..).collect();
                    let bounds: Vec<usize> = self.conn.msg_in_bounds.drain(..).collect();
                    self.queue_msg(&last);
                    self.conn.msg_in.extend(rest);
                    self.conn.msg_in_bounds.extend(bounds);
                    // A pending bus free (after COMMAND COMPLETE / DISCONNECT) still follows.
                    self.conn.reply = true;
                } else {
                    self.reply(&[msg::MESSAGE_REJECT]);
                }
            }
            msg::MESSAGE_REJECT => {
                let last = self.conn.last_msg_in.clone();
                match (last.first().copied(), last.get(2).copied()) {
                    (Some(msg::EXTENDED), Some(msg::ext::SDTR)) => {
                        self.agreements[init].offset = 0;
                        self.conn.our_neg = None;
                    }
                    (Some(msg::EXTENDED), Some(msg::ext::WDTR)) => {
                        self.agreements[init].wide = false;
                        self.agreements[init].offset = 0;
                        self.conn.our_neg = None;
                        // Continue with SDTR if we were going to.
                        self.target_negotiation(c, false);
                    }
                    (Some(0x20..=0x22), _) => {
                        // Initiator does not take the tag: abort the task.
                        if let Some(id) = self.cur_task_id() {
                            self.remove_task(id);
                            self.stats.aborted += 1;
                        }
                        self.conn.stage = None;
                        self.conn.bus_free_after = true;
                    }
                    _ => {}
                }
            }
            _ => self.reply(&[msg::MESSAGE_REJECT]),
        }
    }

    fn reply(&mut self, m: &[u8]) {
        self.queue_msg(m);
        self.conn.reply = true;
    }

    /// The task named by the current nexus (I_T_L_Q from IDENTIFY and tag), if any.
    fn nexus_task(&self) -> Option<u64> {
        if let Some(id) = self.cur_task_id() {
            return Some(id);
        }
        let (i, l, tag) = (self.conn.init, self.conn.lun, self.conn.tag.map(|t| t.1));
        self.tasks
            .iter()
            .find(|t| t.init == i && t.lun == l && t.tag.map(|x| x.1) == tag)
            .map(|t| t.id)
    }

    fn negotiation_in(&mut self, c: u64, m: &[u8]) {
        let init = usize::from(self.conn.init & 15);
        let code = m.get(2).copied();
        let f = if matches!(code, Some(msg::ext::SDTR) | Some(msg::ext::WDTR)) {
            self.faults.check(
                FaultPoint::Message,
                &FaultCtx {
                    lun: self.conn.lun,
                    ..Default::default()
                },
            )
        } else {
            None
        };
        let reject =
            self.cfg.reject_negotiation || matches!(f, Some(FaultAction::RejectNegotiation));
        self.negotiated |= 1 << init;
        match (code, m.len()) {
            (Some(msg::ext::SDTR), 5) => {
                let (fac, off) = (m[3], m[4]);
                if self.conn.our_neg == Some(Neg::Sdtr) {
                    // Answer to our SDTR: accept if within our limits.
                    self.conn.our_neg = None;
                    let ok = self.cfg.sync.is_some_and(|s| {
                        off == 0 || (fac >= s.min_period_factor && off <= s.max_offset)
                    });
                    if ok && sync_period_cycles(fac).is_some_and(|p| p >= cycles::MIN_SYNC_PERIOD)
                        || off == 0
                    {
                        self.agreements[init].period_factor = fac;
                        self.agreements[init].offset = off;
                    } else {
                        self.agreements[init].offset = 0;
                        self.reply(&[msg::MESSAGE_REJECT]);
                    }
                    return;
                }
                if reject {
                    self.agreements[init].offset = 0;
                    return self.reply(&[msg::MESSAGE_REJECT]);
                }
                let (rf, ro) = self.sdtr_answer(fac, off);
                self.agreements[init].period_factor = rf;
                self.agreements[init].offset = ro;
                self.reply(&[msg::EXTENDED, msg::ext::SDTR_LEN, msg::ext::SDTR, rf, ro]);
            }
            (Some(msg::ext::WDTR), 4) => {
                let w16 = m[3] >= msg::ext::WIDTH_16 && self.cfg.wide;
                if self.conn.our_neg == Some(Neg::Wdtr) {
                    self.conn.our_neg = None;
                    self.agreements[init].wide = m[3] == msg::ext::WIDTH_16 && self.cfg.wide;
                    self.agreements[init].offset = 0;
                    self.target_negotiation(c, false);
                    return;
                }
                if reject {
                    self.agreements[init].wide = false;
                    self.agreements[init].offset = 0;
                    return self.reply(&[msg::MESSAGE_REJECT]);
                }
                self.agreements[init].wide = w16;
                self.agreements[init].offset = 0;
                let e = if w16 {
                    msg::ext::WIDTH_16
                } else {
                    msg::ext::WIDTH_8
                };
                self.reply(&[msg::EXTENDED, msg::ext::WDTR_LEN, msg::ext::WDTR, e]);
            }
            _ => self.reply(&[msg::MESSAGE_REJECT]),
        }
    }

    /// Our answer to an SDTR: never faster or deeper than we can do (counter-offer).
    fn sdtr_answer(&self, fac: u8, off: u8) -> (u8, u8) {
        let Some(s) = self.cfg.sync else {
            return (fac, 0);
        };
        if off == 0 {
            return (fac, 0);
        }
        let mut f = fac.max(s.min_period_factor).max(0x0A);
        while !matches!(sync_period_cycles(f), Some(p) if p >= cycles::MIN_SYNC_PERIOD) {
            f += 1;
        }
        (f, off.min(s.max_offset))
    }

    /// Target-initiated negotiation: WDTR first (if wide and `first`), then SDTR.
    fn target_negotiation(&mut self, _c: u64, first: bool) {
        if !self.cfg.initiate_negotiation || self.cfg.reject_negotiation {
            return;
        }
        if first && self.cfg.wide {
            self.conn.our_neg = Some(Neg::Wdtr);
            self.queue_msg(&[
                msg::EXTENDED,
                msg::ext::WDTR_LEN,
                msg::ext::WDTR,
                msg::ext::WIDTH_16,
            ]);
            return;
        }
        if let Some(s) = self.cfg.sync {
            let f = s.min_period_factor.max(0x0A);
            self.conn.our_neg = Some(Neg::Sdtr);
            self.queue_msg(&[
                msg::EXTENDED,
                msg::ext::SDTR_LEN,
                msg::ext::SDTR,
                f,
                s.max_offset,
            ]);
        }
    }

    // ----- commands and the task set -----

    fn command_received(&mut self, c: u64) {
        self.stats.commands += 1;
        let cdb = std::mem::take(&mut self.conn.cdb);
        if !self.conn.identified
            && self.cfg.cdb_lun
            && self.cfg.inquiry_version <= 2
            && cdb.len() <= 12
        {
            // No IDENTIFY: a SCSI-1/SCSI-2 target takes the LUN from CDB byte 1, bits 7-5
            // (SCSI-2 7.2.2); a SCSI-3 target has no such field and stays at LUN 0.
            self.conn.lun = cdb.get(1).map_or(0, |b| b >> 5);
        }
        let (init, lun, tag, disc) = (self.conn.init, self.conn.lun, self.conn.tag, self.conn.disc);
        let op = cdb[0];
        let lba = self
            .luns
            .get(usize::from(lun))
            .and_then(|l| l.as_ref())
            .and_then(|l| l.lba_range(&cdb));
        let (fault, fault_info) = self.faults.check_resolved(
            FaultPoint::Command,
            &FaultCtx {
                opcode: Some(op),
                lba,
                lun,
            },
        );
        if let Some(FaultAction::SendMessage { byte }) = fault {
            self.queue_msg(&[byte]);
        }
        let mut fault = fault;
        if let Some(FaultAction::SendBytes { bytes, bad_byte }) = &fault {
            self.queue_msg(bytes);
            // The message is the first MESSAGE IN phase after the CDB.
            fault = bad_byte.map(|byte| FaultAction::BadByte {
                phase: Phase::MsgIn,
                byte,
                no_retry: false,
                reselected: false,
            });
        }
        let id = self.next_task_id;
        self.next_task_id += 1;
        let mut task = Task {
            id,
            init,
            lun,
            tag,
            cdb,
            disc,
            inline: true,
            queued: false,
            phase: TPhase::Exec,
            data: Vec::new(),
            need: 0,
            ptr: 0,
            saved: 0,
            resp: None,
            ready_at: c,
            fault: fault.clone(),
            retries: 0,
            residue_pad: false,
            ignore_ide: false,
            fault_info,
        };
        let status_only = |s: u8| Response {
            status: s,
            data: Vec::new(),
            sense: None,
        };
        let same_nexus = self
            .tasks
            .iter()
            .any(|t| t.init == init && t.lun == lun && t.tag.map(|x| x.1) == tag.map(|x| x.1));
        let lun_tasks = self.tasks.iter().filter(|t| t.lun == lun).count();
        let parity = std::mem::take(&mut self.conn.parity_err);
        let early = if parity {
            Some(Response::check(Sense::new(
                sense_key::ABORTED_COMMAND,
                asc::SCSI_PARITY_ERROR,
            )))
        } else if let Some(s) = self.pending_check.take() {
            Some(Response::check(s))
        } else if matches!(fault, Some(FaultAction::Busy)) {
            Some(status_only(status::BUSY))
        } else if matches!(fault, Some(FaultAction::QueueFull)) {
            Some(status_only(status::QUEUE_FULL))
        } else if same_nexus {
            // Overlapped command: abort the old task(s) of this nexus (SAM-3 5.9.3).
            let before = self.tasks.len();
            self.tasks.retain(|t| {
                !(t.init == init && t.lun == lun && t.tag.map(|x| x.1) == tag.map(|x| x.1))
            });
            self.stats.aborted += (before - self.tasks.len()) as u64;
            if self
                .serving
                .is_some_and(|s| !self.tasks.iter().any(|t| t.id == s))
            {
                self.serving = None;
            }
            Some(Response::check(Sense::new(
                sense_key::ABORTED_COMMAND,
                asc::OVERLAPPED_COMMANDS_ATTEMPTED,
            )))
        } else if lun_tasks >= self.cfg.queue_depth.max(1) {
            Some(status_only(status::QUEUE_FULL))
        } else {
            None
        };
        if let Some(r) = early {
            task.resp = Some(r);
            task.phase = TPhase::Status;
            task.fault = None;
        } else if disc && self.cfg.disconnect {
            task.inline = false;
            task.queued = true;
        }
        task.disc = task.disc && !task.inline;
        if matches!(task.fault, Some(FaultAction::NeverReselect)) && !task.inline {
            // Disconnects like any other task, but is never scheduled again.
            task.queued = false;
            self.tasks.push(task);
            self.queue_msg(&[msg::DISCONNECT]);
            self.conn.bus_free_after = true;
            self.conn.stage = None;
            return;
        }
        let queued = task.queued;
        self.tasks.push(task);
        self.conn.stage = Some(Stage::Task(id));
        if queued {
            self.queue_msg(&[msg::DISCONNECT]);
            self.conn.bus_free_after = true;
            self.conn.stage = None;
        }
    }

    /// Picks the next queued task per SAM task attributes (no allocation: runs while idle).
    fn schedule(&mut self, c: u64) {
        if self.serving.is_some() {
            return;
        }
        let attr = |t: &Task| t.tag.map(|x| x.0).unwrap_or(msg::SIMPLE_QUEUE_TAG);
        let queued = || self.tasks.iter().enumerate().filter(|(_, t)| t.queued);
        let pick = if let Some((i, _)) = queued().find(|(_, t)| attr(t) == msg::HEAD_OF_QUEUE_TAG) {
            i
        } else {
            // SIMPLE tasks older than the first ORDERED one may run in any order; an
            // ORDERED task runs only once everything before it has completed (nothing
            // older is waiting, and nothing is in service when we get here).
            let n = queued().count();
            if n == 0 {
                return;
            }
            let first_ord = queued().position(|(_, t)| attr(t) == msg::ORDERED_QUEUE_TAG);
            let k = match first_ord {
                Some(0) => 0,
                Some(k) => self.rng.below(k as u64) as usize,
                None => self.rng.below(n as u64) as usize,
            };
            match queued().nth(k) {
                Some((i, _)) => i,
                None => return,
            }
        };
        let id = self.tasks[pick].id;
        self.tasks[pick].queued = false;
        self.serving = Some(id);
        self.exec_task(c, id);
    }

    // ----- connection entry points -----

    fn connect(&mut self, c: u64, init: u8) {
        self.st = St::Conn;
        self.conn = Conn {
            init,
            ..Conn::default()
        };
        self.phase = None;
        self.phase_at = c;
        self.drive = BusDrive {
            ctl: ctl::BSY,
            data: 0,
            parity: 0,
        };
    }

    fn reconnected(&mut self, c: u64, id: u64) {
        let t = self.task_mut(id);
        let (init, lun, tag) = (t.init, t.lun, t.tag);
        t.ptr = t.saved; // reselection implies RESTORE POINTERS
        let bad_tag = matches!(t.fault, Some(FaultAction::BadReselectTag));
        if bad_tag {
            t.fault = None;
        }
        if matches!(t.fault, Some(FaultAction::HangOnReselect)) {
            // Hangs as the first MESSAGE IN (IDENTIFY) is due.
            t.fault = Some(FaultAction::Hang {
                phase: Phase::MsgIn,
            });
        }
        self.connect(c, init);
        self.drive.ctl |= ctl::IO;
        self.conn.lun = lun;
        self.conn.reselected = true;
        self.conn.identified = true;
        self.conn.disc = true;
        self.conn.tag = tag;
        self.conn.stage = Some(Stage::Task(id));
        self.queue_msg(&[msg::IDENTIFY | msg::IDENTIFY_DISC_PRIV | lun]);
        if matches!(
            self.task_mut(id).fault,
            Some(FaultAction::BusFreeAfterReselectIdentify)
        ) {
            self.conn.bus_free_after_identify = true;
            return;
        }
        if let Some((ty, q)) = tag {
            let q = if bad_tag {
                // A tag this initiator has never used, so it cannot be outstanding there
                // (falls back to one not outstanding here).
                let seen = self.seen_tags[usize::from(init & 15)];
                (0..=255u8)
                    .rev()
                    .find(|&x| seen[usize::from(x >> 6)] & (1u64 << (x & 63)) == 0)
                    .or_else(|| {
                        (0..=255u8).find(|&x| {
                            !self
                                .tasks
                                .iter()
                                .any(|t| t.init == init && t.tag.map(|y| y.1) == Some(x))
                        })
                    })
                    .unwrap_or(q)
            } else {
                q
            };
            self.queue_msg(&[ty, q]);
        }
        self.stats.reselections += 1;
    }
}

impl BusDevice for Target {
    // Idle with nothing to do, or waiting for a task's seek or reselection delay
    // (`ready_at`), or ignoring a selection that stays on the bus: ticks before then
    // return NONE and change nothing.
    fn idle_until(&self, next: u64, bus: &BusSignals) -> u64 {
        if bus.has(ctl::RST) {
            return next;
        }
        if self.st == St::Ignoring && bus.has(ctl::SEL) {
            return u64::MAX;
        }
        if self.st != St::Idle {
            return next;
        }
        let me = 1u16 << self.cfg.id;
        if bus.has(ctl::SEL) && !bus.any(ctl::BSY | ctl::IO) && bus.data & me != 0 {
            return next;
        }
        if self.tasks.is_empty() {
            return u64::MAX;
        }
        let Some(id) = self.serving else {
            return next;
        };
        match self.tasks.iter().find(|t| t.id == id) {
            Some(t) if t.ready_at > next => t.ready_at,
            _ => next,
        }
    }

    fn tick(&mut self, c: u64, bus: &BusSignals) -> BusDrive {
        if bus.has(ctl::RST) {
            if self.st != St::Reset {
                self.st = St::Reset;
                self.stats.resets += 1;
                self.drive = BusDrive::NONE;
                self.run = None;
                self.phase = None;
                self.conn = Conn::default();
                self.reset_all(ResetKind::Bus);
            }
            return BusDrive::NONE;
        }
        let me = 1u16 << self.cfg.id;
        match self.st {
            St::Reset => {
                self.st = St::Idle;
                BusDrive::NONE
            }
            St::Idle => {
                if bus.has(ctl::SEL) && !bus.any(ctl::BSY | ctl::IO) && bus.data & me != 0 {
                    self.sel = None;
                    self.st = St::SelSeen { since: c };
                    return BusDrive::NONE;
                }
                if self.tasks.is_empty() {
                    return BusDrive::NONE;
                }
                self.schedule(c);
                let Some(id) = self.serving else {
                    return BusDrive::NONE;
                };
                let Some(t) = self.tasks.iter().find(|t| t.id == id) else {
                    self.serving = None;
                    return BusDrive::NONE;
                };
                if t.ready_at > c {
                    return BusDrive::NONE;
                }
                let init = t.init;
                let sel = self.sel.get_or_insert_with(|| {
                    Selector::new(self.cfg.id, init, true, false, self.cfg.reselect_timeout)
                });
                let d = sel.tick(c, bus);
                match sel.state {
                    SelState::Lost | SelState::Timeout => {
                        self.sel = None;
                        BusDrive::NONE
                    }
                    SelState::WaitFree(_) => d,
                    _ => {
                        self.st = St::Reselecting(id);
                        d
                    }
                }
            }
            St::Reselecting(id) => {
                let Some(sel) = self.sel.as_mut() else {
                    self.st = St::Idle;
                    return BusDrive::NONE;
                };
                let d = sel.tick(c, bus);
                match sel.state {
                    SelState::Done => {
                        self.sel = None;
                        self.reconnected(c, id);
                        self.drive = d;
                        self.drive.ctl |= ctl::BSY | ctl::IO;
                        self.decide(c, bus);
                        self.drive
                    }
                    SelState::Lost | SelState::Timeout => {
                        self.sel = None;
                        self.st = St::Idle;
                        if let Some(t) = self.tasks.iter_mut().find(|t| t.id == id) {
                            t.ready_at = c + self.cfg.access_cycles;
                        }
                        BusDrive::NONE
                    }
                    _ => d,
                }
            }
            St::SelSeen { since } => {
                if !(bus.has(ctl::SEL) && !bus.any(ctl::BSY | ctl::IO) && bus.data & me != 0) {
                    self.st = St::Idle;
                    return BusDrive::NONE;
                }
                if c - since + 1 >= cycles::SETTLE {
                    let f = self
                        .faults
                        .check(FaultPoint::Selection, &FaultCtx::default());
                    if matches!(f, Some(FaultAction::NoSelectionResponse)) {
                        self.st = St::Ignoring;
                        return BusDrive::NONE;
                    }
                    self.hang_after_selection = match f {
                        Some(FaultAction::HangAfterSelection { phase }) => Some(phase),
                        _ => None,
                    };
                    let others = bus.data & !me;
                    let init = crate::signals::highest_id(others).unwrap_or(7);
                    self.stats.selections += 1;
                    self.connect(c, init);
                    self.conn.stage = Some(Stage::Selected);
                    self.st = St::SelBsy;
                    return self.drive;
                }
                BusDrive::NONE
            }
            St::Ignoring => {
                if !bus.has(ctl::SEL) {
                    self.st = St::Idle;
                }
                BusDrive::NONE
            }
            St::SelBsy => {
                if !bus.has(ctl::SEL) {
                    self.st = St::Conn;
                    if let Some(p) = self.hang_after_selection.take() {
                        self.set_phase(c, p);
                        self.st = St::Hang;
                        return self.drive;
                    }
                    self.decide(c, bus);
                }
                self.drive
            }
            St::Conn => {
                if self.run.is_some() {
                    self.run_tick(c, bus);
                }
                if self.st == St::Conn && self.run.is_none() {
                    self.decide(c, bus);
                    if self.st == St::Conn && self.run.is_some() {
                        // Start acting on the new run next cycle (phase lines first).
                    }
                }
                let mut d = self.drive;
                if c < self.turnaround_until {
                    d.clear_data();
                }
                d
            }
            St::Hang => {
                if self.phase == Some(Phase::Reserved) && c - self.phase_at >= cycles::SETTLE {
                    self.drive.ctl |= ctl::REQ;
                }
                self.drive
            }
        }
    }
}

impl Target {
    /// The response a command-time fault gives instead of running the command, if any.
    fn fault_response(&self, fault: Option<&FaultAction>) -> Option<Response> {
        let info = self.fault_info;
        match fault? {
            FaultAction::CheckCondition { key, asc, ascq } => Some(Response::check(Sense {
                info: info.and_then(|x| u32::try_from(x).ok()),
                info64: info,
                ..Sense::new(*key, (*asc, *ascq))
            })),
            f @ FaultAction::Sense {
                with_data: false,
                deferred: false,
                ..
            } => fault_sense(f).map(Response::check),
            FaultAction::Status { status } => Some(Response {
                status: *status,
                data: Vec::new(),
                sense: None,
            }),
            _ => None,
        }
    }

    /// A `Sense { with_data: true }` fault turns the command's GOOD into CHECK CONDITION
    /// with its data still transferred (e.g. RECOVERED ERROR). A `deferred` one lets the
    /// command end GOOD and reports the error on the next command (SPC-3 4.5.5).
    fn with_data_fault(&mut self, id: u64, resp: Response) -> Response {
        let f = self
            .tasks
            .iter()
            .find(|t| t.id == id)
            .and_then(|t| t.fault.clone());
        if let (Some(FaultAction::Sense { deferred: true, .. }), status::GOOD) = (&f, resp.status) {
            self.pending_check = f.as_ref().and_then(fault_sense);
            return resp;
        }
        match (&f, resp.status) {
            (
                Some(FaultAction::Sense {
                    with_data: true, ..
                }),
                status::GOOD,
            ) => match f.as_ref().and_then(fault_sense) {
                Some(s) => Response::check_with_data(s, resp.data),
                None => resp,
            },
            _ => resp,
        }
    }
}

/// The sense a `FaultAction::Sense` describes.
fn fault_sense(f: &FaultAction) -> Option<Sense> {
    let FaultAction::Sense {
        key,
        asc,
        ascq,
        info,
        filemark,
        eom,
        ili,
        deferred,
        descriptor,
        ..
    } = *f
    else {
        return None;
    };
    let flags = if filemark {
        scsi_defs::sense::FIXED_FILEMARK
    } else {
        0
    } | if eom { scsi_defs::sense::FIXED_EOM } else { 0 }
        | if ili { scsi_defs::sense::FIXED_ILI } else { 0 };
    Some(Sense {
        info: info.and_then(|x| u32::try_from(x).ok()),
        info64: info,
        flags,
        deferred,
        descriptor,
        ..Sense::new(key, (asc, ascq))
    })
}

/// Spin-up state of one logical unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Spin {
    /// Becoming ready after power on until the cycle, then `Stopped`.
    PowerOn(u64),
    /// Needs START STOP UNIT.
    Stopped,
    /// Spinning up until the cycle.
    Starting(u64),
    /// Running.
    Ready,
}

impl Target {
    /// With `spin_up`: NOT READY 04/01 or 04/02 while the LUN is not spun up; START STOP
    /// UNIT moves it (START: spin up for `start_cycles`; STOP: stopped). `None` = go on.
    fn spin_check(&mut self, l: usize, cdb: &[u8]) -> Option<Response> {
        let sp = self.cfg.spin_up?;
        let now = self.now;
        let st = self.spin.get_mut(l)?;
        if let Spin::PowerOn(t) = *st {
            if now >= t {
                *st = Spin::Stopped;
            }
        }
        if let Spin::Starting(t) = *st {
            if now >= t {
                *st = Spin::Ready;
            }
        }
        let op = cdb.first().copied().unwrap_or(0);
        // START STOP UNIT on a disk (LoEj clear): START bit in byte 4.
        if op == opcode::START_STOP_UNIT && cdb.len() >= 6 && cdb[4] & 0x02 == 0 {
            *st = if cdb[4] & 0x01 != 0 {
                match *st {
                    Spin::Ready => Spin::Ready,
                    Spin::Starting(t) => Spin::Starting(t),
                    _ => Spin::Starting(now + sp.start_cycles),
                }
            } else {
                Spin::Stopped
            };
            return Some(Response::good(Vec::new()));
        }
        let a = match *st {
            Spin::Ready => return None,
            Spin::PowerOn(_) | Spin::Starting(_) => asc::LUN_BECOMING_READY,
            Spin::Stopped => asc::LUN_NOT_READY_INIT_REQUIRED,
        };
        Some(Response::check(Sense::new(sense_key::NOT_READY, a)))
    }
}
