//! A test initiator: arbitrates, selects with ATN, sends IDENTIFY (+ tag) and the CDB,
//! moves data asynchronously or synchronous/wide after negotiation, follows
//! disconnect/reselect with SAVE DATA POINTER / RESTORE POINTERS, and collects status.
//! It obeys the SPI timing rules unless a quirk tells it not to.

use std::collections::VecDeque;

use scsi_defs::{msg, opcode, spi_timing, status};

use crate::arb::{Pulser, SelState, Selector, TimingQuirks};
use crate::bus::BusDevice;
use crate::monitor::Agreement;
use crate::signals::{ctl, cycles, sync_period_cycles, BusDrive, BusSignals, Phase};

/// Queue tag type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagKind {
    /// SIMPLE QUEUE TAG.
    Simple,
    /// ORDERED QUEUE TAG.
    Ordered,
    /// HEAD OF QUEUE TAG.
    HeadOfQueue,
}

impl TagKind {
    fn code(self) -> u8 {
        match self {
            TagKind::Simple => msg::SIMPLE_QUEUE_TAG,
            TagKind::Ordered => msg::ORDERED_QUEUE_TAG,
            TagKind::HeadOfQueue => msg::HEAD_OF_QUEUE_TAG,
        }
    }
}

/// A command (or a message-only nexus such as ABORT TASK) to send.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Target ID.
    pub target: u8,
    /// LUN.
    pub lun: u8,
    /// CDB (empty for message-only requests).
    pub cdb: Vec<u8>,
    /// DATA OUT bytes.
    pub data_out: Vec<u8>,
    /// DATA IN buffer size.
    pub data_in_len: usize,
    /// Queue tag, `None` for untagged.
    pub tag: Option<TagKind>,
    /// Grant disconnect privilege in IDENTIFY.
    pub disconnect: bool,
    /// Messages sent after IDENTIFY (+ tag) instead of a command (ABORT TASK, ...).
    pub messages: Vec<u8>,
    /// For message-only requests: the tag value to name (ABORT TASK of a tagged task).
    pub tag_value: Option<u8>,
}

impl Request {
    /// A command with no data.
    pub fn new(target: u8, lun: u8, cdb: &[u8]) -> Request {
        Request {
            target,
            lun,
            cdb: cdb.to_vec(),
            disconnect: true,
            ..Request::default()
        }
    }
    /// Expect up to `n` bytes of DATA IN.
    pub fn data_in(mut self, n: usize) -> Request {
        self.data_in_len = n;
        self
    }
    /// Send these DATA OUT bytes.
    pub fn data_out(mut self, d: Vec<u8>) -> Request {
        self.data_out = d;
        self
    }
    /// Use a queue tag.
    pub fn tagged(mut self, k: TagKind) -> Request {
        self.tag = Some(k);
        self
    }
    /// Grant (or not) disconnect privilege.
    pub fn disconnect(mut self, d: bool) -> Request {
        self.disconnect = d;
        self
    }
}

/// How a request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Status byte received and COMMAND COMPLETE.
    Status(u8),
    /// The message-only request was delivered and the target went BUS FREE.
    MessageDelivered,
    /// No BSY within the selection timeout.
    SelectionTimeout,
    /// The target went BUS FREE without COMMAND COMPLETE or DISCONNECT.
    UnexpectedBusFree,
    /// A bus reset ended the command.
    BusReset,
    /// The command timed out; the initiator reset the bus.
    TimedOut,
    /// Aborted by ABORT TASK / ABORT TASK SET / BUS DEVICE RESET from this initiator.
    Aborted,
}

/// A finished request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Id returned by [`TestInitiator::submit`].
    pub id: u64,
    /// Target ID.
    pub target: u8,
    /// LUN.
    pub lun: u8,
    /// How it ended.
    pub outcome: Outcome,
    /// DATA IN received (up to the highest byte written).
    pub data_in: Vec<u8>,
    /// DATA OUT bytes the target took (high-water mark).
    pub data_out_moved: usize,
    /// Autosense data after CHECK CONDITION (when autosense is on).
    pub sense: Option<Vec<u8>>,
    /// The queue tag was rejected and the command ran untagged.
    pub tag_rejected: bool,
    /// Cycle of completion.
    pub cycle: u64,
}

impl Completion {
    /// The status byte, if the command got one.
    pub fn status(&self) -> Option<u8> {
        match self.outcome {
            Outcome::Status(s) => Some(s),
            _ => None,
        }
    }
    /// (sense key, ASC, ASCQ) from autosense.
    pub fn sense_key(&self) -> Option<(u8, u8, u8)> {
        let s = self.sense.as_ref()?;
        Some((s.get(2)? & 0xF, *s.get(12)?, *s.get(13)?))
    }
}

/// Deliberate errors, for negative tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InitiatorQuirks {
    /// Arbitration/selection timing errors.
    pub timing: TimingQuirks,
    /// Assert ACK in the same cycle as the DATA OUT/COMMAND/MSG OUT byte (no deskew).
    pub ack_early: bool,
    /// Corrupt the parity of this DATA OUT byte once.
    pub bad_parity_data_out: Option<usize>,
    /// Corrupt the parity of this CDB byte once.
    pub bad_parity_command: Option<usize>,
    /// Answer target SDTR/WDTR with MESSAGE REJECT.
    pub reject_negotiation: bool,
    /// Corrupt the parity of this MESSAGE OUT byte (counted over the run) once.
    pub bad_parity_msg_out: Option<usize>,
}

/// Initiator configuration.
#[derive(Clone, Debug)]
pub struct InitiatorConfig {
    /// SCSI ID.
    pub id: u8,
    /// Negotiate on the first command to each target.
    pub negotiate: bool,
    /// Ask for 16-bit transfers (WDTR).
    pub wide: bool,
    /// Ask for synchronous transfers: (period factor, offset).
    pub sync: Option<(u8, u8)>,
    /// Selection timeout in cycles (SPI recommends 250 ms; simulations may shorten it).
    pub selection_timeout: u64,
    /// Per-command timeout in cycles; on expiry the initiator resets the bus.
    pub command_timeout: u64,
    /// Send REQUEST SENSE after CHECK CONDITION and attach the data.
    pub autosense: bool,
    /// Cycles between seeing a synchronous REQ and answering it with ACK (pipeline
    /// latency of a real adapter; lets the target run ahead up to the offset).
    pub sync_ack_latency: u64,
    /// Deliberate errors.
    pub quirks: InitiatorQuirks,
}

impl InitiatorConfig {
    /// ID 7, async narrow, autosense, 250 us selection timeout, 20 ms command timeout.
    pub fn new(id: u8) -> InitiatorConfig {
        InitiatorConfig {
            id,
            negotiate: false,
            wide: false,
            sync: None,
            selection_timeout: crate::signals::ns_to_cycles(250_000),
            command_timeout: crate::signals::ns_to_cycles(20_000_000),
            autosense: true,
            sync_ack_latency: 0,
            quirks: InitiatorQuirks::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CState {
    Queued,
    Active,
    Disconnected,
}

#[derive(Clone, Debug)]
struct Cmd {
    id: u64,
    req: Request,
    tag: Option<u8>,
    state: CState,
    started: u64,
    data_in: Vec<u8>,
    in_hwm: usize,
    out_hwm: usize,
    ptr: usize,
    saved: usize,
    status: Option<u8>,
    sense_for: Option<Completion>,
    tag_rejected: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hs {
    WaitReq,
    AckOut(u64),
    AckHeld,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Neg {
    Sdtr,
    Wdtr,
}

#[derive(Clone, Debug)]
struct ISync {
    pulser: Pulser,
    phase: Phase,
    reqs: u64,
    acks: u64,
    prev_req: bool,
    wide: bool,
    /// REQ edge times not yet answered (bounded by the offset in a correct run).
    req_times: VecDeque<u64>,
}

#[derive(Clone, Debug, Default)]
struct IConn {
    target: u8,
    cmd: Option<u64>,
    resel: bool,
    resel_lun: Option<u8>,
    msg_in: Vec<u8>,
    msg_out: VecDeque<u8>,
    out_bounds: VecDeque<usize>,
    cur_out: Vec<u8>,
    cur_out_left: usize,
    last_out: Vec<u8>,
    cmd_ptr: usize,
    got_cc: bool,
    got_disc: bool,
    neg: Option<Neg>,
    want_sdtr_after_wdtr: bool,
    pending_ide: bool,
    msg_only: bool,
    aborting: bool,
    in_parity_err: bool,
    /// Bytes sent in the current MESSAGE OUT phase (resent on a target's retry request).
    phase_out: Vec<u8>,
}

#[derive(Clone, Debug)]
enum St {
    Idle,
    Selecting(Selector, u64),
    ReselSeen(u64),
    ReselBsy,
    Conn,
    Resetting(u64),
}

/// The test initiator. Add it to a [`crate::bus::Bus`] or tick it yourself.
pub struct TestInitiator {
    cfg: InitiatorConfig,
    st: St,
    drive: BusDrive,
    hs: Hs,
    sync: Option<ISync>,
    conn: IConn,
    cmds: Vec<Cmd>,
    next_id: u64,
    done: Vec<Completion>,
    agree: [Agreement; 16],
    negotiated: u16,
    bad_parity_done: bool,
    reset_request: bool,
    /// Per target, LUNs that rejected a queue tag: later commands go untagged (as CAM
    /// and Linux do), one at a time per I_T_L.
    notag: [u8; 16],
    /// Events worth asserting on (MESSAGE REJECT received, ABORT TASK sent, ...).
    pub events: Vec<String>,
    /// Current cycle (for when ATN went up).
    now: u64,
    /// Cycle ATN was last asserted: an ACK it should be honoured at stays asserted two
    /// deskew delays after it (SPI-3 ATTENTION condition).
    atn_at: u64,
    /// MESSAGE OUT bytes sent so far (for `bad_parity_msg_out`).
    msg_out_sent: usize,
}

impl TestInitiator {
    /// A new initiator.
    pub fn new(cfg: InitiatorConfig) -> TestInitiator {
        TestInitiator {
            cfg,
            st: St::Idle,
            drive: BusDrive::NONE,
            hs: Hs::WaitReq,
            sync: None,
            conn: IConn::default(),
            cmds: Vec::new(),
            next_id: 1,
            done: Vec::new(),
            agree: [Agreement::default(); 16],
            negotiated: 0,
            bad_parity_done: false,
            reset_request: false,
            notag: [0; 16],
            events: Vec::new(),
            now: 0,
            atn_at: 0,
            msg_out_sent: 0,
        }
    }
    /// Queues a request; returns its id.
    pub fn submit(&mut self, req: Request) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.push_cmd(id, req, false);
        id
    }
    fn push_cmd(&mut self, id: u64, req: Request, front: bool) {
        let data_in = vec![0u8; req.data_in_len];
        let c = Cmd {
            id,
            req,
            tag: None,
            state: CState::Queued,
            started: 0,
            data_in,
            in_hwm: 0,
            out_hwm: 0,
            ptr: 0,
            saved: 0,
            status: None,
            sense_for: None,
            tag_rejected: false,
        };
        if front {
            self.cmds.insert(0, c);
        } else {
            self.cmds.push(c);
        }
    }
    /// Sends ABORT TASK for a tagged command that is outstanding at the target.
    pub fn abort_task(&mut self, id: u64) -> Option<u64> {
        let c = self
            .cmds
            .iter()
            .find(|c| c.id == id && c.state != CState::Queued)?;
        let req = Request {
            target: c.req.target,
            lun: c.req.lun,
            messages: vec![msg::ABORT_TASK],
            tag_value: c.tag,
            tag: c.req.tag.filter(|_| !c.tag_rejected),
            ..Request::default()
        };
        Some(self.submit(req))
    }
    /// Sends ABORT TASK SET to a LUN.
    pub fn abort_task_set(&mut self, target: u8, lun: u8) -> u64 {
        self.submit(Request {
            target,
            lun,
            messages: vec![msg::ABORT_TASK_SET],
            ..Request::default()
        })
    }
    /// Sends BUS DEVICE RESET to a target.
    pub fn bus_device_reset(&mut self, target: u8) -> u64 {
        self.submit(Request {
            target,
            lun: 0,
            messages: vec![msg::BUS_DEVICE_RESET],
            ..Request::default()
        })
    }
    /// Resets the bus (asserts RST for the reset hold time) as soon as possible.
    pub fn reset_bus(&mut self) {
        self.reset_request = true;
    }
    /// Completions so far.
    pub fn completions(&self) -> &[Completion] {
        &self.done
    }
    /// The completion of request `id`, if finished.
    pub fn completion(&self, id: u64) -> Option<&Completion> {
        self.done.iter().find(|c| c.id == id)
    }
    /// Nothing queued or outstanding.
    pub fn idle(&self) -> bool {
        self.cmds.is_empty() && matches!(self.st, St::Idle)
    }
    /// Requests outstanding (queued, connected or disconnected).
    pub fn outstanding(&self) -> usize {
        self.cmds.len()
    }
    /// The agreement the initiator holds with a target.
    pub fn agreement(&self, target: u8) -> Agreement {
        self.agree[usize::from(target & 15)]
    }
    /// Configuration.
    pub fn config(&self) -> &InitiatorConfig {
        &self.cfg
    }

    fn complete(&mut self, c: u64, id: u64, outcome: Outcome) {
        let Some(i) = self.cmds.iter().position(|x| x.id == id) else {
            return;
        };
        let cmd = self.cmds.remove(i);
        let mut data_in = cmd.data_in;
        data_in.truncate(cmd.in_hwm);
        let comp = Completion {
            id: cmd.id,
            target: cmd.req.target,
            lun: cmd.req.lun,
            outcome: outcome.clone(),
            data_in,
            data_out_moved: cmd.out_hwm,
            sense: None,
            tag_rejected: cmd.tag_rejected,
            cycle: c,
        };
        if let Some(mut orig) = cmd.sense_for {
            // This was autosense for `orig`.
            if outcome == Outcome::Status(status::GOOD) {
                // OVERLAPPED COMMANDS ATTEMPTED: the target aborted the other untagged
                // task of this I_T_L (SAM-3 5.9.3); it will never reconnect.
                if comp.data_in.get(12) == Some(&0x4E) {
                    let (t, l) = (orig.target, orig.lun);
                    let victims: Vec<u64> = self
                        .cmds
                        .iter()
                        .filter(|y| {
                            y.state == CState::Disconnected
                                && y.req.target == t
                                && y.req.lun == l
                                && y.tag.is_none()
                        })
                        .map(|y| y.id)
                        .collect();
                    for v in victims {
                        self.complete(c, v, Outcome::Aborted);
                    }
                }
                orig.sense = Some(comp.data_in);
            }
            self.done.push(orig);
            return;
        }
        let is_cmd = !cmd.req.cdb.is_empty();
        if self.cfg.autosense
            && is_cmd
            && outcome == Outcome::Status(status::CHECK_CONDITION)
            && cmd.req.cdb[0] != opcode::REQUEST_SENSE
        {
            let id = self.next_id;
            self.next_id += 1;
            let req = Request::new(
                cmd.req.target,
                cmd.req.lun,
                &[opcode::REQUEST_SENSE, 0, 0, 0, 252, 0],
            )
            .data_in(252)
            .disconnect(false);
            // A tagged command's sense is fetched HEAD OF QUEUE so it cannot overlap an
            // untagged task of the same I_T_L; an untagged one's nexus is free now.
            let req = if cmd.tag.is_some() {
                req.tagged(TagKind::HeadOfQueue)
            } else {
                req
            };
            self.push_cmd(id, req, true);
            self.cmds[0].sense_for = Some(comp);
            return;
        }
        self.done.push(comp);
    }

    fn cmd_mut(&mut self, id: Option<u64>) -> Option<&mut Cmd> {
        let id = id?;
        self.cmds.iter_mut().find(|c| c.id == id)
    }

    fn fail_all(&mut self, c: u64, outcome: Outcome, timed_out: Option<u64>) {
        let ids: Vec<u64> = self
            .cmds
            .iter()
            .filter(|x| x.state != CState::Queued || Some(x.id) == timed_out)
            .map(|x| x.id)
            .collect();
        for id in ids {
            let o = if Some(id) == timed_out {
                Outcome::TimedOut
            } else {
                outcome.clone()
            };
            // No autosense after a reset: complete directly.
            let save = self.cfg.autosense;
            self.cfg.autosense = false;
            self.complete(c, id, o);
            self.cfg.autosense = save;
        }
        // Autosense requests queued for commands that no longer matter stay; fine.
        self.agree = [Agreement::default(); 16];
        self.negotiated = 0;
    }

    // A reselection found its task: the implied RESTORE POINTERS, and it is connected again.
    fn resume_after_reselection(&mut self, i: usize) {
        self.cmds[i].state = CState::Active;
        self.cmds[i].ptr = self.cmds[i].saved;
        self.conn.cmd = Some(self.cmds[i].id);
    }

    fn queue_out(&mut self, m: &[u8]) {
        self.conn.msg_out.extend(m.iter().copied());
        self.conn.out_bounds.push_back(m.len());
        if !self.drive.has(ctl::ATN) {
            self.atn_at = self.now;
        }
        self.drive.ctl |= ctl::ATN;
    }

    fn start_selection(&mut self) -> bool {
        // First queued command whose nexus is free (one untagged per I_T_L).
        let busy = |cmds: &[Cmd], t: u8, l: u8| {
            cmds.iter().any(|x| {
                x.state != CState::Queued && x.req.target == t && x.req.lun == l && x.tag.is_none()
            })
        };
        let Some(i) = (0..self.cmds.len()).find(|&i| {
            let x = &self.cmds[i];
            // Autosense goes out at once: it is part of the failed command's recovery.
            let tagged = x.req.tag.is_some()
                && self.notag[usize::from(x.req.target & 15)] & (1 << (x.req.lun & 7)) == 0;
            x.state == CState::Queued
                && (tagged
                    || x.req.cdb.is_empty()
                    || (x.sense_for.is_some() && x.req.tag.is_none())
                    || !busy(&self.cmds, x.req.target, x.req.lun))
        }) else {
            return false;
        };
        let (target, id) = (self.cmds[i].req.target, self.cmds[i].id);
        let mut s = Selector::new(self.cfg.id, target, false, true, self.cfg.selection_timeout);
        s.quirks = self.cfg.quirks.timing;
        self.st = St::Selecting(s, id);
        true
    }

    fn begin_connection(&mut self, c: u64, id: u64) {
        let Some(i) = self.cmds.iter().position(|x| x.id == id) else {
            return;
        };
        let target = self.cmds[i].req.target;
        // Tag: the smallest value not outstanding to this target.
        let used: Vec<u8> = self
            .cmds
            .iter()
            .filter(|x| x.req.target == target && x.state != CState::Queued)
            .filter_map(|x| x.tag)
            .collect();
        let notag = self.notag[usize::from(target & 15)] & (1 << (self.cmds[i].req.lun & 7)) != 0;
        let cmd = &mut self.cmds[i];
        cmd.state = CState::Active;
        if notag && cmd.req.tag.is_some() && !cmd.req.cdb.is_empty() {
            cmd.req.tag = None;
            cmd.tag_rejected = true;
        }
        cmd.started = c;
        let msg_only = cmd.req.cdb.is_empty();
        if !msg_only {
            cmd.tag = cmd
                .req
                .tag
                .map(|_| (0..=255u8).find(|t| !used.contains(t)).unwrap_or(0));
        } else {
            cmd.tag = cmd.req.tag_value;
        }
        let ident = msg::IDENTIFY
            | if cmd.req.disconnect && !msg_only {
                msg::IDENTIFY_DISC_PRIV
            } else {
                0
            }
            | (cmd.req.lun & 7);
        let tagmsg = match (cmd.req.tag, cmd.tag) {
            (Some(k), Some(t)) => Some([k.code(), t]),
            _ => None,
        };
        let msgs = cmd.req.messages.clone();
        self.conn = IConn {
            target,
            cmd: Some(id),
            msg_only,
            ..IConn::default()
        };
        self.drive = BusDrive {
            ctl: ctl::ATN,
            data: 0,
            parity: 0,
        };
        self.hs = Hs::WaitReq;
        self.sync = None;
        self.queue_out(&[ident]);
        if let Some(t) = tagmsg {
            self.queue_out(&t);
        }
        if msg_only {
            self.conn.aborting = true;
            for m in crate::log::split_messages(&msgs) {
                // A negotiation we start: the target's SDTR/WDTR is its answer, not a
                // target-initiated negotiation to answer again (no ping-pong).
                match (m.first().copied(), m.get(2).copied()) {
                    (Some(msg::EXTENDED), Some(msg::ext::SDTR)) => self.conn.neg = Some(Neg::Sdtr),
                    (Some(msg::EXTENDED), Some(msg::ext::WDTR)) => self.conn.neg = Some(Neg::Wdtr),
                    _ => {}
                }
                self.queue_out(m);
            }
            return;
        }
        if self.cfg.negotiate && self.negotiated & (1 << target) == 0 {
            self.negotiated |= 1 << target;
            if self.cfg.wide {
                self.conn.neg = Some(Neg::Wdtr);
                self.conn.want_sdtr_after_wdtr = self.cfg.sync.is_some();
                self.queue_out(&[
                    msg::EXTENDED,
                    msg::ext::WDTR_LEN,
                    msg::ext::WDTR,
                    msg::ext::WIDTH_16,
                ]);
            } else if let Some((f, o)) = self.cfg.sync {
                self.conn.neg = Some(Neg::Sdtr);
                self.queue_out(&[msg::EXTENDED, msg::ext::SDTR_LEN, msg::ext::SDTR, f, o]);
            }
        }
    }

    fn queue_sdtr(&mut self) {
        if let Some((f, o)) = self.cfg.sync {
            self.conn.neg = Some(Neg::Sdtr);
            self.queue_out(&[msg::EXTENDED, msg::ext::SDTR_LEN, msg::ext::SDTR, f, o]);
        }
    }

    /// A complete MESSAGE IN message.
    fn message_in(&mut self, c: u64, m: &[u8]) {
        let t = usize::from(self.conn.target & 15);
        let b0 = m[0];
        if b0 & msg::IDENTIFY != 0 {
            if self.conn.resel {
                self.conn.resel_lun = Some(b0 & 7);
            }
            return;
        }
        match b0 {
            msg::COMMAND_COMPLETE => self.conn.got_cc = true,
            msg::DISCONNECT => self.conn.got_disc = true,
            msg::SAVE_DATA_POINTER => {
                if let Some(x) = self.cmd_mut(self.conn.cmd) {
                    x.saved = x.ptr;
                }
            }
            msg::RESTORE_POINTERS => {
                if let Some(x) = self.cmd_mut(self.conn.cmd) {
                    x.ptr = x.saved;
                }
            }
            msg::SIMPLE_QUEUE_TAG | msg::ORDERED_QUEUE_TAG | msg::HEAD_OF_QUEUE_TAG
                if self.conn.resel =>
            {
                let (lun, tag) = (
                    self.conn.resel_lun.unwrap_or(0),
                    m.get(1).copied().unwrap_or(0),
                );
                let target = self.conn.target;
                let found = self.cmds.iter().position(|x| {
                    x.state == CState::Disconnected
                        && x.req.target == target
                        && x.req.lun == lun
                        && x.tag == Some(tag)
                        && !x.tag_rejected
                });
                match found {
                    Some(i) => self.resume_after_reselection(i),
                    None => {
                        self.events.push(format!(
                            "reselection with unknown tag {tag:#04x}: ABORT TASK"
                        ));
                        self.conn.aborting = true;
                        self.queue_out(&[msg::ABORT_TASK]);
                    }
                }
            }
            msg::IGNORE_WIDE_RESIDUE => {
                let n = usize::from(m.get(1).copied().unwrap_or(0)).min(1);
                if let Some(x) = self.cmd_mut(self.conn.cmd) {
                    x.ptr = x.ptr.saturating_sub(n);
                    x.in_hwm = x.in_hwm.min(x.ptr);
                }
            }
            msg::MESSAGE_REJECT => {
                let last = self.conn.last_out.clone();
                self.events.push(format!(
                    "MESSAGE REJECT of {}",
                    crate::log::describe_message(&last)
                ));
                match (last.first().copied(), last.get(2).copied()) {
                    (Some(msg::EXTENDED), Some(msg::ext::SDTR)) => {
                        self.agree[t].offset = 0;
                        self.conn.neg = None;
                    }
                    (Some(msg::EXTENDED), Some(msg::ext::WDTR)) => {
                        self.agree[t].wide = false;
                        self.agree[t].offset = 0;
                        self.conn.neg = None;
                        if self.conn.want_sdtr_after_wdtr {
                            self.conn.want_sdtr_after_wdtr = false;
                            self.queue_sdtr();
                        }
                    }
                    (Some(0x20..=0x22), _) => {
                        if let Some(x) = self.cmd_mut(self.conn.cmd) {
                            x.tag_rejected = true;
                            x.tag = None;
                            let (tt, l) = (usize::from(x.req.target & 15), x.req.lun & 7);
                            self.notag[tt] |= 1 << l;
                        }
                    }
                    _ => {}
                }
            }
            msg::EXTENDED => self.negotiation_in(c, m),
            _ => {
                self.events.push(format!("rejected message {b0:#04x}"));
                self.queue_out(&[msg::MESSAGE_REJECT]);
            }
        }
    }

    fn negotiation_in(&mut self, _c: u64, m: &[u8]) {
        let t = usize::from(self.conn.target & 15);
        match (m.get(2).copied(), m.len()) {
            (Some(msg::ext::SDTR), 5) => {
                let (f, o) = (m[3], m[4]);
                if self.conn.neg == Some(Neg::Sdtr) {
                    self.conn.neg = None;
                    let (mf, mo) = self.cfg.sync.unwrap_or((0xFF, 0));
                    if o == 0 || (f >= mf && o <= mo && sync_period_cycles(f).is_some()) {
                        self.agree[t].period_factor = f;
                        self.agree[t].offset = o;
                    } else {
                        self.agree[t].offset = 0;
                        self.queue_out(&[msg::MESSAGE_REJECT]);
                    }
                    return;
                }
                // Target-initiated: answer within our limits.
                self.negotiated |= 1 << t;
                if self.cfg.quirks.reject_negotiation {
                    self.agree[t].offset = 0;
                    return self.queue_out(&[msg::MESSAGE_REJECT]);
                }
                let (rf, ro) = match self.cfg.sync {
                    Some((mf, mo)) if o > 0 => (f.max(mf), o.min(mo)),
                    _ => (f, 0),
                };
                self.agree[t].period_factor = rf;
                self.agree[t].offset = ro;
                self.queue_out(&[msg::EXTENDED, msg::ext::SDTR_LEN, msg::ext::SDTR, rf, ro]);
            }
            (Some(msg::ext::WDTR), 4) => {
                let w = m[3] == msg::ext::WIDTH_16;
                if self.conn.neg == Some(Neg::Wdtr) {
                    self.conn.neg = None;
                    self.agree[t].wide = w && self.cfg.wide;
                    self.agree[t].offset = 0;
                    if self.conn.want_sdtr_after_wdtr {
                        self.conn.want_sdtr_after_wdtr = false;
                        self.queue_sdtr();
                    }
                    return;
                }
                self.negotiated |= 1 << t;
                if self.cfg.quirks.reject_negotiation {
                    self.agree[t].wide = false;
                    return self.queue_out(&[msg::MESSAGE_REJECT]);
                }
                let mine = w && self.cfg.wide;
                self.agree[t].wide = mine;
                self.agree[t].offset = 0;
                self.queue_out(&[
                    msg::EXTENDED,
                    msg::ext::WDTR_LEN,
                    msg::ext::WDTR,
                    if mine { 1 } else { 0 },
                ]);
            }
            _ => self.queue_out(&[msg::MESSAGE_REJECT]),
        }
    }

    /// The byte(s) for an OUT transfer in `phase`.
    fn out_word(&mut self, phase: Phase, wide: bool) -> u16 {
        match phase {
            Phase::MsgOut => {
                self.conn.msg_in.clear();
                self.conn.in_parity_err = false;
                if self.conn.cur_out_left == 0
                    && self.conn.msg_out.is_empty()
                    && !self.drive.has(ctl::ATN)
                    && !self.conn.phase_out.is_empty()
                {
                    // REQ in MESSAGE OUT after ATN went false: the target asks for the
                    // whole phase again (SPI-3 MESSAGE OUT retry).
                    let again = std::mem::take(&mut self.conn.phase_out);
                    self.events.push("MESSAGE OUT retry".into());
                    for m in crate::log::split_messages(&again) {
                        self.queue_out(m);
                    }
                }
                if self.conn.cur_out_left == 0 {
                    let n = self
                        .conn
                        .out_bounds
                        .pop_front()
                        .unwrap_or(self.conn.msg_out.len())
                        .min(self.conn.msg_out.len());
                    if n == 0 {
                        self.conn.cur_out = vec![msg::NOP];
                    } else {
                        self.conn.cur_out = self.conn.msg_out.drain(..n).collect();
                    }
                    self.conn.cur_out_left = self.conn.cur_out.len();
                }
                let b = self.conn.cur_out[self.conn.cur_out.len() - self.conn.cur_out_left];
                self.conn.cur_out_left -= 1;
                self.conn.phase_out.push(b);
                if self.conn.cur_out_left == 0 {
                    self.conn.last_out = self.conn.cur_out.clone();
                    if self.conn.msg_out.is_empty() {
                        // Negate ATN before ACK of the last message byte.
                        self.drive.ctl &= !ctl::ATN;
                    }
                }
                u16::from(b)
            }
            Phase::Command => {
                self.conn.phase_out.clear();
                let p = self.conn.cmd_ptr;
                self.conn.cmd_ptr += 1;
                let cdb = self
                    .cmd_mut(self.conn.cmd)
                    .map(|x| x.req.cdb.get(p).copied().unwrap_or(0));
                u16::from(cdb.unwrap_or(0))
            }
            Phase::DataOut => {
                self.conn.phase_out.clear();
                let Some(x) = self.cmd_mut(self.conn.cmd) else {
                    return 0;
                };
                let lo = x.req.data_out.get(x.ptr).copied().unwrap_or(0);
                let hi = if wide {
                    x.req.data_out.get(x.ptr + 1).copied().unwrap_or(0)
                } else {
                    0
                };
                x.ptr += if wide { 2 } else { 1 };
                x.out_hwm = x.out_hwm.max(x.ptr.min(x.req.data_out.len()));
                u16::from(lo) | (u16::from(hi) << 8)
            }
            _ => 0,
        }
    }

    /// An IN transfer in `phase` carried `w`.
    fn in_word(&mut self, c: u64, phase: Phase, w: u16, parity_ok: bool, wide: bool) {
        self.conn.phase_out.clear();
        match phase {
            Phase::DataIn => {
                if !parity_ok {
                    self.request_ide();
                }
                if let Some(x) = self.cmd_mut(self.conn.cmd) {
                    let n = if wide { 2 } else { 1 };
                    for k in 0..n {
                        if x.ptr < x.data_in.len() {
                            x.data_in[x.ptr] = (w >> (8 * k)) as u8;
                            x.ptr += 1;
                            x.in_hwm = x.in_hwm.max(x.ptr);
                        } else {
                            x.ptr += 1;
                        }
                    }
                }
            }
            Phase::Status => {
                if !parity_ok {
                    self.request_ide();
                }
                if let Some(x) = self.cmd_mut(self.conn.cmd) {
                    x.status = Some(w as u8);
                }
            }
            Phase::MsgIn => {
                if !parity_ok {
                    // Ask for the whole message again at once (ATN before this ACK ends);
                    // the target abandons the message and resends it after MESSAGE
                    // PARITY ERROR. The partial message is dropped when MSG OUT starts.
                    if !self.conn.in_parity_err {
                        self.conn.in_parity_err = true;
                        self.events
                            .push("MSG IN parity error: MESSAGE PARITY ERROR".into());
                        self.queue_out(&[msg::MESSAGE_PARITY_ERROR]);
                    }
                    self.conn.msg_in.push(w as u8);
                    return;
                }
                if self.conn.in_parity_err {
                    // Rest of a message already being retried: ignore.
                    return;
                }
                self.conn.msg_in.push(w as u8);
                let m = self.conn.msg_in.clone();
                if let Some(n) = crate::log::message_len(&m) {
                    if m.len() >= n {
                        self.conn.msg_in.clear();
                        self.message_in(c, &m);
                    }
                }
            }
            _ => {}
        }
    }

    fn request_ide(&mut self) {
        if !self.conn.pending_ide {
            self.conn.pending_ide = true;
            self.events
                .push("parity error: INITIATOR DETECTED ERROR".into());
            self.queue_out(&[msg::INITIATOR_DETECTED_ERROR]);
        }
    }

    fn bus_free(&mut self, c: u64) {
        let conn = std::mem::take(&mut self.conn);
        self.drive = BusDrive::NONE;
        self.hs = Hs::WaitReq;
        self.sync = None;
        self.st = St::Idle;
        let Some(id) = conn.cmd.or_else(|| self.reselection_nexus(&conn)) else {
            return;
        };
        if conn.msg_only || conn.aborting {
            // What we asked the target to drop is gone.
            let Some(x) = self.cmds.iter().find(|x| x.id == id) else {
                return;
            };
            let (t, l, tag) = (x.req.target, x.req.lun, x.tag);
            let m = x.req.messages.first().copied();
            let victims: Vec<u64> = match m {
                Some(msg::ABORT_TASK) => self
                    .cmds
                    .iter()
                    .filter(|y| {
                        y.id != id
                            && y.state != CState::Queued
                            && y.req.target == t
                            && y.req.lun == l
                            && y.tag == tag
                    })
                    .map(|y| y.id)
                    .collect(),
                Some(msg::ABORT_TASK_SET) => self
                    .cmds
                    .iter()
                    .filter(|y| {
                        y.id != id
                            && y.state != CState::Queued
                            && y.req.target == t
                            && y.req.lun == l
                    })
                    .map(|y| y.id)
                    .collect(),
                Some(msg::BUS_DEVICE_RESET) => self
                    .cmds
                    .iter()
                    .filter(|y| y.id != id && y.state != CState::Queued && y.req.target == t)
                    .map(|y| y.id)
                    .collect(),
                _ => Vec::new(),
            };
            if m == Some(msg::BUS_DEVICE_RESET) {
                self.agree[usize::from(t & 15)] = Agreement::default();
                self.negotiated &= !(1 << t);
            }
            for v in victims {
                self.complete(c, v, Outcome::Aborted);
            }
            if conn.msg_only {
                self.complete(c, id, Outcome::MessageDelivered);
            } else {
                // We aborted a task we could not identify (bad reselection tag).
                if let Some(x) = self.cmd_mut(Some(id)) {
                    x.state = CState::Disconnected;
                }
            }
            return;
        }
        let st = self.cmds.iter().find(|x| x.id == id).and_then(|x| x.status);
        if conn.got_cc {
            self.complete(c, id, Outcome::Status(st.unwrap_or(0xFF)));
        } else if conn.got_disc {
            if let Some(x) = self.cmd_mut(Some(id)) {
                x.state = CState::Disconnected;
            }
        } else {
            self.complete(c, id, Outcome::UnexpectedBusFree);
        }
    }

    /// Information transfer, one cycle.
    fn conn_tick(&mut self, c: u64, bus: &BusSignals) {
        if !bus.has(ctl::BSY) {
            self.bus_free(c);
            return;
        }
        let t = usize::from(self.conn.target & 15);
        if let Some(mut s) = self.sync.take() {
            if bus.phase() != s.phase || !bus.has(ctl::BSY) {
                self.sync = None;
                self.drive.ctl &= !ctl::ACK;
                self.drive.clear_data();
            } else {
                let req = bus.has(ctl::REQ);
                if req && !s.prev_req {
                    s.reqs += 1;
                    s.req_times.push_back(c);
                    if s.phase.is_in() {
                        let w = if s.wide { bus.data } else { bus.data & 0xFF };
                        self.in_word(c, s.phase, w, bus.parity_ok(s.wide), s.wide);
                    }
                }
                s.prev_req = req;
                let lat = self.cfg.sync_ack_latency;
                let want = s.req_times.front().is_some_and(|&t| c >= t + lat);
                let was_on = self.drive.has(ctl::ACK);
                let (line, set_data) = s.pulser.tick(c, want, !s.phase.is_in());
                if set_data {
                    let w = self.out_word(s.phase, s.wide);
                    self.put_out(w, s.wide, s.phase);
                }
                if line {
                    if !was_on {
                        s.acks += 1;
                        s.req_times.pop_front();
                    }
                    self.drive.ctl |= ctl::ACK;
                } else {
                    self.drive.ctl &= !ctl::ACK;
                }
                self.sync = Some(s);
                return;
            }
        }
        match self.hs {
            Hs::WaitReq => {
                if !bus.has(ctl::REQ) {
                    return;
                }
                let phase = bus.phase();
                if phase == Phase::Reserved {
                    return;
                }
                // The first REQ of a reselection with no tag message names the untagged nexus.
                if self.conn.resel
                    && self.conn.cmd.is_none()
                    && !self.conn.aborting
                    && phase != Phase::MsgIn
                {
                    self.resolve_untagged();
                }
                let a = self.agree[t];
                if phase.is_data() && a.offset > 0 {
                    let p = sync_period_cycles(a.period_factor).unwrap_or(cycles::MIN_SYNC_PERIOD);
                    let req_times = VecDeque::with_capacity(usize::from(a.offset) + 4);
                    self.sync = Some(ISync {
                        pulser: Pulser::new(p),
                        phase,
                        reqs: 0,
                        acks: 0,
                        prev_req: false,
                        wide: a.wide,
                        req_times,
                    });
                    self.conn_tick(c, bus);
                    return;
                }
                let wide = phase.is_data() && a.wide;
                if phase.is_in() {
                    let w = if wide { bus.data } else { bus.data & 0xFF };
                    self.in_word(c, phase, w, bus.parity_ok(wide), wide);
                    self.drive.ctl |= ctl::ACK;
                    self.hs = Hs::AckHeld;
                } else {
                    let w = self.out_word(phase, wide);
                    self.put_out(w, wide, phase);
                    if self.cfg.quirks.ack_early {
                        self.drive.ctl |= ctl::ACK;
                        self.hs = Hs::AckHeld;
                    } else {
                        self.hs = Hs::AckOut(c);
                    }
                }
            }
            Hs::AckOut(at) => {
                if c - at >= cycles::DESKEW_SKEW {
                    self.drive.ctl |= ctl::ACK;
                    self.hs = Hs::AckHeld;
                }
            }
            Hs::AckHeld => {
                let atn_young = self.drive.has(ctl::ATN) && c < self.atn_at + cycles::TWO_DESKEW;
                if !bus.has(ctl::REQ) && !atn_young {
                    self.drive.ctl &= !ctl::ACK;
                    self.drive.clear_data();
                    self.hs = Hs::WaitReq;
                }
            }
        }
    }

    fn put_out(&mut self, w: u16, wide: bool, phase: Phase) {
        if wide {
            self.drive.set_word(w);
        } else {
            self.drive.set_byte(w as u8);
        }
        if phase == Phase::Command
            && !self.bad_parity_done
            && self.cfg.quirks.bad_parity_command == Some(self.conn.cmd_ptr.saturating_sub(1))
        {
            self.drive.parity ^= crate::signals::par::P0;
            self.bad_parity_done = true;
        }
        if phase == Phase::MsgOut {
            if self.cfg.quirks.bad_parity_msg_out == Some(self.msg_out_sent) {
                self.drive.parity ^= crate::signals::par::P0;
            }
            self.msg_out_sent += 1;
        }
        if phase == Phase::DataOut && !self.bad_parity_done {
            if let (Some(k), Some(x)) = (
                self.cfg.quirks.bad_parity_data_out,
                self.cmd_mut(self.conn.cmd),
            ) {
                let first = x.ptr.saturating_sub(if wide { 2 } else { 1 });
                if k >= first && k < x.ptr {
                    self.drive.parity ^= crate::signals::par::P0;
                    self.bad_parity_done = true;
                }
            }
        }
    }

    fn resolve_untagged(&mut self) {
        let (t, l) = (self.conn.target, self.conn.resel_lun.unwrap_or(0));
        let found = self.cmds.iter().position(|x| {
            x.state == CState::Disconnected
                && x.req.target == t
                && x.req.lun == l
                && x.tag.is_none()
        });
        match found {
            Some(i) => self.resume_after_reselection(i),
            None => {
                self.events.push(format!(
                    "reselection by ID{t} lun{l} with no untagged task: ABORT TASK SET"
                ));
                self.conn.aborting = true;
                self.queue_out(&[msg::ABORT_TASK_SET]);
            }
        }
    }

    fn check_timeouts(&mut self, c: u64) -> bool {
        let limit = self.cfg.command_timeout;
        let late = self
            .cmds
            .iter()
            .find(|x| x.state != CState::Queued && c.saturating_sub(x.started) > limit)
            .map(|x| x.id);
        if let Some(id) = late {
            self.events
                .push(format!("command {id} timed out: bus reset"));
            self.fail_all(c, Outcome::BusReset, Some(id));
            self.st = St::Resetting(c);
            self.conn = IConn::default();
            self.sync = None;
            self.hs = Hs::WaitReq;
            return true;
        }
        false
    }
}

impl BusDevice for TestInitiator {
    fn tick(&mut self, c: u64, bus: &BusSignals) -> BusDrive {
        self.now = c;
        if let St::Resetting(at) = self.st {
            if c - at < cycles::RESET_HOLD {
                return BusDrive {
                    ctl: ctl::RST,
                    data: 0,
                    parity: 0,
                };
            }
            self.st = St::Idle;
            self.drive = BusDrive::NONE;
            return self.drive;
        }
        if self.reset_request {
            self.reset_request = false;
            self.fail_all(c, Outcome::BusReset, None);
            self.conn = IConn::default();
            self.st = St::Resetting(c);
            return BusDrive {
                ctl: ctl::RST,
                data: 0,
                parity: 0,
            };
        }
        if bus.has(ctl::RST) {
            if !matches!(self.st, St::Idle) || self.cmds.iter().any(|x| x.state != CState::Queued) {
                self.fail_all(c, Outcome::BusReset, None);
                for x in self.cmds.iter_mut() {
                    x.state = CState::Queued;
                }
            }
            self.st = St::Idle;
            self.conn = IConn::default();
            self.drive = BusDrive::NONE;
            self.sync = None;
            self.hs = Hs::WaitReq;
            self.agree = [Agreement::default(); 16];
            self.negotiated = 0;
            return BusDrive::NONE;
        }
        if c & 1023 == 0 && !self.cmds.is_empty() && self.check_timeouts(c) {
            return BusDrive {
                ctl: ctl::RST,
                data: 0,
                parity: 0,
            };
        }
        let me = 1u16 << self.cfg.id;
        let resel_cond = bus.has(ctl::SEL | ctl::IO) && !bus.has(ctl::BSY) && bus.data & me != 0;
        match std::mem::replace(&mut self.st, St::Idle) {
            St::Idle => {
                if resel_cond {
                    self.st = St::ReselSeen(c);
                    return BusDrive::NONE;
                }
                if !self.cmds.is_empty() && self.start_selection() {
                    return self.tick_selecting(c, bus);
                }
                BusDrive::NONE
            }
            St::Selecting(s, id) => {
                self.st = St::Selecting(s, id);
                self.tick_selecting(c, bus)
            }
            St::ReselSeen(since) => {
                if !resel_cond {
                    return BusDrive::NONE;
                }
                if c - since + 1 >= cycles::SETTLE {
                    self.st = St::ReselBsy;
                    let others = bus.data & !me;
                    let target = crate::signals::highest_id(others).unwrap_or(0);
                    self.conn = IConn {
                        target,
                        resel: true,
                        ..IConn::default()
                    };
                    self.drive = BusDrive {
                        ctl: ctl::BSY,
                        data: 0,
                        parity: 0,
                    };
                    return self.drive;
                }
                self.st = St::ReselSeen(since);
                BusDrive::NONE
            }
            St::ReselBsy => {
                if bus.has(ctl::SEL) {
                    self.st = St::ReselBsy;
                    return self.drive;
                }
                // The target holds BSY now.
                self.drive.ctl &= !ctl::BSY;
                self.hs = Hs::WaitReq;
                self.sync = None;
                self.st = St::Conn;
                self.drive
            }
            St::Conn => {
                self.st = St::Conn;
                self.conn_tick(c, bus);
                self.drive
            }
            St::Resetting(_) => BusDrive::NONE,
        }
    }
}

impl TestInitiator {
    fn tick_selecting(&mut self, c: u64, bus: &BusSignals) -> BusDrive {
        let St::Selecting(mut s, id) = std::mem::replace(&mut self.st, St::Idle) else {
            return BusDrive::NONE;
        };
        let me = 1u16 << self.cfg.id;
        // A reselection for us wins over our own pending arbitration.
        if matches!(s.state, SelState::WaitFree(_))
            && bus.has(ctl::SEL | ctl::IO)
            && !bus.has(ctl::BSY)
            && bus.data & me != 0
        {
            self.st = St::ReselSeen(c);
            return BusDrive::NONE;
        }
        let d = s.tick(c, bus);
        match s.state {
            SelState::Done => {
                self.begin_connection(c, id);
                self.st = St::Conn;
                self.drive.ctl |= d.ctl & ctl::ATN;
                self.drive
            }
            SelState::Lost => BusDrive::NONE,
            SelState::Timeout => {
                let save = self.cfg.autosense;
                self.complete(c, id, Outcome::SelectionTimeout);
                self.cfg.autosense = save;
                BusDrive::NONE
            }
            _ => {
                self.st = St::Selecting(s, id);
                d
            }
        }
    }
}

/// Default SDTR offer of the test initiator: Fast-20, offset 15.
pub const FAST20_OFFSET15: (u8, u8) = (spi_timing::PERIOD_FACTOR_FAST20, 15);

impl TestInitiator {
    /// A reselection ended (BUS FREE) after IDENTIFY but before a queue tag or the first
    /// information phase named the task: the nexus is the I_T_L. It belongs to that
    /// LUN's untagged task, or to its only disconnected task; with several tagged tasks
    /// outstanding it cannot be told (none is blamed, each keeps its own timeout).
    fn reselection_nexus(&mut self, conn: &IConn) -> Option<u64> {
        if !conn.resel || conn.aborting {
            return None;
        }
        let (t, l) = (conn.target, conn.resel_lun?);
        let on_itl: Vec<&Cmd> = self
            .cmds
            .iter()
            .filter(|x| x.state == CState::Disconnected && x.req.target == t && x.req.lun == l)
            .collect();
        let pick = on_itl
            .iter()
            .find(|x| x.tag.is_none())
            .or(if on_itl.len() == 1 {
                on_itl.first()
            } else {
                None
            })
            .map(|x| x.id);
        match pick {
            Some(id) => self.events.push(format!(
                "unexpected BUS FREE after reselection IDENTIFY by ID{t} lun{l}: command {id}"
            )),
            None => self.events.push(format!(
                "unexpected BUS FREE after reselection IDENTIFY by ID{t} lun{l}: nexus unknown"
            )),
        }
        pick
    }
}
