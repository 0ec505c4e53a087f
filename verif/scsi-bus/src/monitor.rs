//! Protocol monitor: checks SPI timing and handshake rules on the resolved bus value and
//! decodes the traffic into a transaction log. Work is done only when the value changes,
//! because every rule is about edges and how long the previous value lasted.

use scsi_defs::msg;

use crate::bus::Width;
use crate::log::{self, LogLine};
use crate::signals::{
    ctl, cycles, highest_id, sync_period_cycles, BusDrive, BusSignals, Phase, CYCLE_NS,
};

/// The rules the monitor checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// REQ asserted less than a bus settle delay after the phase lines changed.
    BusSettle,
    /// Other signals still asserted more than a bus clear delay into BUS FREE or RESET.
    BusClear,
    /// Arbitration started less than settle + bus free delay after BUS FREE began.
    BusFreeDelay,
    /// SEL asserted less than an arbitration delay after the winner's ID appeared.
    ArbitrationDelay,
    /// The winner changed signals less than bus clear + bus settle after asserting SEL.
    SelectionSettle,
    /// Selection/reselection not carrying exactly two IDs, or SEL without arbitration.
    Selection,
    /// BSY answered a selection less than a bus settle delay after it became valid.
    SelectionResponse,
    /// SEL released less than two deskew delays after the response BSY.
    SelectionRelease,
    /// Asynchronous data not set up a deskew + cable skew before REQ/ACK.
    Deskew,
    /// Asynchronous data changed while the receiver may still be sampling it.
    DataHold,
    /// REQ/ACK interlock broken, or phase lines changed during a handshake.
    HandshakeOrder,
    /// More unacknowledged synchronous REQs than the negotiated offset.
    SyncOffset,
    /// Synchronous REQ or ACK edges closer than the negotiated period.
    SyncPeriod,
    /// Synchronous data not stable one cycle before and after its edge.
    SyncSetupHold,
    /// A transferred byte (or selection ID) with even parity.
    Parity,
    /// RST held shorter than the reset hold time.
    ResetHold,
    /// A synchronous REQ or ACK pulse asserted or negated shorter than the SPI-2/SPI-3
    /// assertion / negation period for the negotiated rate.
    ReqAckWidth,
    /// ATN negated while ACK is asserted in MESSAGE OUT, or asserted less than two deskew
    /// delays before the ACK it should be honoured at is negated.
    Atn,
    /// An illegal phase sequence (COMMAND or DATA after STATUS, a phase other than MESSAGE
    /// IN after STATUS, anything but BUS FREE after COMMAND COMPLETE / DISCONNECT, MESSAGE
    /// IN left in mid-message, a reselection not starting with MESSAGE IN, a REQ in one
    /// of the two reserved phases).
    PhaseSequence,
    /// Selection time-out procedure: SEL and the IDs released together, SEL released less
    /// than a selection abort time after the IDs, or (when configured) the selection
    /// abandoned before the selection time-out delay.
    SelectionAbort,
    /// (Re)selection answered later than a selection abort time.
    ResponseTime,
    /// A device joined arbitration more than a bus set delay after BUS FREE was last seen.
    BusSet,
    /// The initiator still drove DB more than a data release delay after I/O asserted.
    DataRelease,
    /// A target arbitrated less than a disconnection delay after a DISCONNECT message from
    /// the initiator ended the connection.
    DisconnectionDelay,
    /// BUS FREE without COMMAND COMPLETE, DISCONNECT or a message that ends the nexus; the
    /// detail names the side that caused it.
    UnexpectedBusFree,
    /// The same SDTR/WDTR negotiation repeated within one connection, or more than
    /// [`Monitor::negotiation_limit`] exchanges for a pair with no data between.
    NegotiationLoop,
    /// Two devices driving DB at once, or a device driving DB in the wrong direction for
    /// the phase (seen per driver, through [`Monitor::observe_drivers`]).
    Contention,
}

/// One rule violation, with the cycle it was detected at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Core cycle.
    pub cycle: u64,
    /// Which rule.
    pub rule: Rule,
    /// What was seen.
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "t={} {:?}: {}",
            crate::signals::fmt_time(self.cycle),
            self.rule,
            self.detail
        )
    }
}

/// Negotiated transfer agreement for one initiator/target pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Agreement {
    /// SDTR period factor (meaningful when `offset > 0`).
    pub period_factor: u8,
    /// REQ/ACK offset; 0 = asynchronous.
    pub offset: u8,
    /// 16-bit data phases.
    pub wide: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Free,
    Arbitration,
    SelAsserted { at: u64, winner: u8 },
    Selecting { bsy_off: u64 },
    Responded { at: u64 },
    Connected,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NegKind {
    Sdtr(u8, u8),
    Wdtr(bool),
}

struct Run {
    phase: Phase,
    start: u64,
    bytes: Vec<u8>,
    count: u64,
    sync: Option<(u64, u8)>,
    /// Period factor in force when the run started (for the log line).
    factor: u8,
    wide: bool,
}

/// The bus monitor. Feed it every resolved cycle with [`Monitor::observe`].
pub struct Monitor {
    width: Width,
    prev: BusSignals,
    stage: Stage,
    free_since: u64,
    id_seen: [u64; 16],
    data_changed: u64,
    phase_changed: u64,
    phase_dirty: bool,
    reset_at: Option<u64>,
    init: u8,
    target: u8,
    reqs: u64,
    acks: u64,
    last_req: Option<u64>,
    last_ack: Option<u64>,
    agreements: Vec<Agreement>,
    pending_neg: Option<(NegKind, bool)>,
    msg_buf: Vec<u8>,
    run: Option<Run>,
    violations: Vec<Violation>,
    lines: Vec<LogLine>,
    /// Keep at most this many log lines (violations are always kept).
    pub log_limit: usize,
    dropped_lines: u64,
    last_t: u64,
    /// Flag a selection abandoned less than this many cycles after it began (the SPI
    /// selection time-out delay is a recommendation, 250 ms); 0 = not checked.
    pub min_selection_timeout: u64,
    /// Flag more than this many SDTR/WDTR exchanges for one pair with no data phase
    /// between them (0 = not checked). A target that negotiates at every selection and
    /// moves data in between is fine.
    pub negotiation_limit: u32,
    x: Ext,
}

const RUN_BYTES_KEPT: usize = 64;

impl Monitor {
    /// A monitor for a bus of the given width.
    pub fn new(width: Width) -> Monitor {
        Monitor {
            width,
            prev: BusSignals::NONE,
            stage: Stage::Free,
            free_since: 0,
            id_seen: [0; 16],
            data_changed: 0,
            phase_changed: 0,
            phase_dirty: false,
            reset_at: None,
            init: 0,
            target: 0,
            reqs: 0,
            acks: 0,
            last_req: None,
            last_ack: None,
            agreements: vec![Agreement::default(); 256],
            pending_neg: None,
            msg_buf: Vec::with_capacity(16),
            run: None,
            violations: Vec::new(),
            lines: Vec::new(),
            log_limit: 200_000,
            dropped_lines: 0,
            last_t: 0,
            min_selection_timeout: 0,
            negotiation_limit: 8,
            x: Ext::default(),
        }
    }

    /// Violations seen so far.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }
    /// Takes the violations, leaving none.
    pub fn take_violations(&mut self) -> Vec<Violation> {
        std::mem::take(&mut self.violations)
    }
    /// The distinct rules violated so far, sorted.
    pub fn rules_violated(&self) -> Vec<Rule> {
        let mut r: Vec<Rule> = self.violations.iter().map(|v| v.rule).collect();
        r.sort();
        r.dedup();
        r
    }
    /// Decoded log lines so far (the current phase run appears once it ends).
    pub fn log(&self) -> &[LogLine] {
        &self.lines
    }
    /// The log as text, one line per entry.
    pub fn log_text(&self) -> String {
        let mut s: String = self.lines.iter().map(|l| format!("{l}\n")).collect();
        if self.dropped_lines > 0 {
            s.push_str(&format!("({} lines dropped)\n", self.dropped_lines));
        }
        s
    }
    /// The agreement the monitor has decoded for a pair.
    pub fn agreement(&self, initiator: u8, target: u8) -> Agreement {
        self.agreements[usize::from(initiator & 15) * 16 + usize::from(target & 15)]
    }

    fn violate(&mut self, cycle: u64, rule: Rule, detail: String) {
        self.violations.push(Violation {
            cycle,
            rule,
            detail,
        });
    }
    fn line(&mut self, cycle: u64, text: String) {
        if self.lines.len() < self.log_limit {
            self.lines.push(LogLine { cycle, text });
        } else {
            self.dropped_lines += 1;
        }
    }
    fn pair(&self) -> usize {
        usize::from(self.init & 15) * 16 + usize::from(self.target & 15)
    }
    fn id_mask(&self) -> u16 {
        match self.width {
            Width::Narrow => 0x00FF,
            Width::Wide => 0xFFFF,
        }
    }

    /// Observe the bus value resolved at `cycle`.
    #[inline]
    pub fn observe(&mut self, cycle: u64, v: BusSignals) {
        if v == self.prev {
            return;
        }
        // Time never runs backwards here, so every stored time is <= the current one.
        let cycle = cycle.max(self.last_t);
        self.last_t = cycle;
        let old = self.prev;
        self.prev = v;
        self.change(cycle, old, v);
    }

    fn change(&mut self, t: u64, old: BusSignals, new: BusSignals) {
        let rose = !old.ctl & new.ctl;
        let fell = old.ctl & !new.ctl;

        // Reset overrides everything.
        if rose & ctl::RST != 0 {
            self.flush_run(t);
            self.line(t, "BUS RESET".into());
            self.reset_at = Some(t);
            self.x.conn_reset();
            self.x.sel_began = None;
            self.stage = Stage::Free;
            self.pending_neg = None;
            self.agreements
                .iter_mut()
                .for_each(|a| *a = Agreement::default());
        }
        if let Some(r) = self.reset_at {
            if fell & ctl::RST != 0 {
                self.reset_at = None;
                if t - r < cycles::RESET_HOLD {
                    self.violate(
                        t,
                        Rule::ResetHold,
                        format!("RST held {} ns", (t - r) * CYCLE_NS),
                    );
                }
                if old.ctl & !ctl::RST != 0 || old.data != 0 {
                    self.violate(
                        t,
                        Rule::BusClear,
                        "signals still asserted when RST negated".into(),
                    );
                }
                self.free_since = t;
            }
            return;
        }

        self.ext_change(t, old, new, rose, fell);
        let was_free = old.ctl & (ctl::BSY | ctl::SEL) == 0;
        let is_free = new.ctl & (ctl::BSY | ctl::SEL) == 0;
        if was_free {
            let others = old.ctl & !(ctl::BSY | ctl::SEL | ctl::RST) != 0 || old.data != 0;
            if others && t.saturating_sub(1) > self.free_since + cycles::BUS_CLEAR {
                self.violate(
                    t,
                    Rule::BusClear,
                    format!(
                        "signals {:#05x} data {:#06x} asserted during BUS FREE",
                        old.ctl, old.data
                    ),
                );
            }
        }
        if !was_free && is_free {
            self.flush_run(t);
            if self.stage == Stage::Connected {
                self.line(t, "BUS FREE".into());
                if let Some((k, _)) = self.pending_neg.take() {
                    self.line(t, format!("negotiation {k:?} left unanswered"));
                }
            } else if matches!(self.stage, Stage::Selecting { .. }) {
                self.line(t, "SELECTION TIMEOUT (abandoned)".into());
            }
            self.stage = Stage::Free;
            self.free_since = t;
            return;
        }

        match self.stage {
            Stage::Free => {
                if rose & ctl::SEL != 0 {
                    self.violate(
                        t,
                        Rule::Selection,
                        "SEL asserted without arbitration".into(),
                    );
                    self.stage = Stage::SelAsserted {
                        at: t,
                        winner: highest_id(new.data).unwrap_or(0),
                    };
                } else if rose & ctl::BSY != 0 {
                    let since = t - self.free_since;
                    if since < cycles::SETTLE + cycles::BUS_FREE {
                        self.violate(
                            t,
                            Rule::BusFreeDelay,
                            format!("arbitration {} ns after BUS FREE", since * CYCLE_NS),
                        );
                    }
                    self.stage = Stage::Arbitration;
                    self.note_ids(t, 0, new.data);
                }
            }
            Stage::Arbitration => {
                self.note_ids(t, old.data, new.data);
                if rose & ctl::SEL != 0 {
                    let winner = highest_id(new.data & self.id_mask()).unwrap_or(0);
                    let waited = t - self.id_seen[usize::from(winner)];
                    if waited < cycles::ARBITRATION {
                        self.violate(
                            t,
                            Rule::ArbitrationDelay,
                            format!(
                                "ID{winner} asserted SEL {} ns after arbitrating",
                                waited * CYCLE_NS
                            ),
                        );
                    }
                    self.line(t, format!("ARBITRATION won by ID{winner}"));
                    self.stage = Stage::SelAsserted { at: t, winner };
                }
            }
            Stage::SelAsserted { at, winner } => {
                let early = t < at + cycles::BUS_CLEAR + cycles::SETTLE;
                let added = (!old.data & new.data) != 0 || rose & (ctl::ATN | ctl::IO) != 0;
                if early && (added || fell & ctl::BSY != 0) {
                    self.violate(
                        t,
                        Rule::SelectionSettle,
                        format!("signals changed {} ns after SEL", (t - at) * CYCLE_NS),
                    );
                }
                if fell & ctl::BSY != 0 && new.has(ctl::SEL) {
                    let ids = new.data & self.id_mask();
                    let other = ids & !(1 << winner);
                    if ids.count_ones() != 2 || ids & (1 << winner) == 0 {
                        self.violate(t, Rule::Selection, format!("selection IDs {ids:#06x}"));
                    }
                    if !new.parity_ok(self.width == Width::Wide) {
                        self.violate(t, Rule::Parity, "selection ID byte parity".into());
                    }
                    let other_id = highest_id(other).unwrap_or(0);
                    let resel = new.has(ctl::IO);
                    if resel {
                        self.target = winner;
                        self.init = other_id;
                    } else {
                        self.init = winner;
                        self.target = other_id;
                    }
                    self.stage = Stage::Selecting { bsy_off: t };
                }
            }
            Stage::Selecting { bsy_off } => {
                if rose & ctl::BSY != 0 {
                    if t - bsy_off < cycles::SETTLE {
                        self.violate(
                            t,
                            Rule::SelectionResponse,
                            format!(
                                "BSY answered {} ns after selection",
                                (t - bsy_off) * CYCLE_NS
                            ),
                        );
                    }
                    let resel = new.has(ctl::IO);
                    let text = if resel {
                        format!("RESELECTION ID{}->ID{}", self.target, self.init)
                    } else {
                        let atn = if new.has(ctl::ATN) { " ATN" } else { "" };
                        format!("SELECTION ID{}->ID{}{}", self.init, self.target, atn)
                    };
                    self.line(bsy_off, text);
                    self.stage = Stage::Responded { at: t };
                }
            }
            Stage::Responded { at } => {
                if fell & ctl::SEL != 0 {
                    if t - at < cycles::TWO_DESKEW {
                        self.violate(
                            t,
                            Rule::SelectionRelease,
                            format!("SEL released {} ns after BSY", (t - at) * CYCLE_NS),
                        );
                    }
                    self.stage = Stage::Connected;
                    self.phase_changed = t;
                    self.phase_dirty = true;
                    self.data_changed = t;
                    self.reqs = 0;
                    self.acks = 0;
                    self.last_req = None;
                    self.last_ack = None;
                }
            }
            Stage::Connected => self.info_transfer(t, old, new, rose, fell),
        }
    }

    fn note_ids(&mut self, t: u64, old: u16, new: u16) {
        let up = !old & new;
        for i in 0..16 {
            if up & (1 << i) != 0 {
                self.id_seen[i] = t;
            }
        }
    }

    fn sync_params(&self, phase: Phase) -> Option<(u64, u8)> {
        let a = self.agreements[self.pair()];
        if phase.is_data() && a.offset > 0 {
            Some((sync_period_cycles(a.period_factor).unwrap_or(1), a.offset))
        } else {
            None
        }
    }

    fn info_transfer(&mut self, t: u64, old: BusSignals, new: BusSignals, rose: u16, fell: u16) {
        let phase = new.phase();
        let sync = self.run.as_ref().and_then(|r| r.sync);
        if (old.ctl ^ new.ctl) & ctl::PHASE != 0 {
            if old.any(ctl::REQ | ctl::ACK) && new.any(ctl::REQ | ctl::ACK) {
                self.violate(
                    t,
                    Rule::HandshakeOrder,
                    "phase lines changed during REQ/ACK".into(),
                );
            }
            if self.reqs != self.acks {
                self.violate(
                    t,
                    Rule::HandshakeOrder,
                    format!(
                        "phase changed with {} REQs and {} ACKs",
                        self.reqs, self.acks
                    ),
                );
            }
            self.phase_changed = t;
            self.phase_dirty = true;
            self.reqs = 0;
            self.acks = 0;
            self.last_req = None;
            self.last_ack = None;
        }
        let data_changed = old.data != new.data || old.parity != new.parity;
        if data_changed {
            match sync {
                Some(_) => {
                    let edge = if new.phase().is_in() {
                        self.last_req
                    } else {
                        self.last_ack
                    };
                    if edge.is_some_and(|e| t < e + 1 + cycles::SYNC_HOLD) {
                        self.violate(
                            t,
                            Rule::SyncSetupHold,
                            "data changed within hold time".into(),
                        );
                    }
                }
                None => {
                    let in_hold = if old.phase().is_in() {
                        old.has(ctl::REQ) && !old.has(ctl::ACK) && new.has(ctl::REQ)
                    } else {
                        old.has(ctl::REQ) && old.has(ctl::ACK)
                    };
                    if in_hold && (old.ctl ^ new.ctl) & ctl::PHASE == 0 {
                        self.violate(t, Rule::DataHold, "data changed during handshake".into());
                    }
                }
            }
            self.data_changed = t;
        }
        if rose & ctl::REQ != 0 {
            let run_matches = self.run.as_ref().is_some_and(|r| r.phase == phase);
            if !run_matches {
                self.flush_run(t);
                let sync = self.sync_params(phase);
                let wide = phase.is_data() && self.agreements[self.pair()].wide;
                self.run = Some(Run {
                    phase,
                    start: t,
                    bytes: Vec::new(),
                    count: 0,
                    sync,
                    factor: self.agreements[self.pair()].period_factor,
                    wide,
                });
            }
            if self.phase_dirty {
                self.phase_dirty = false;
                if t - self.phase_changed < cycles::SETTLE {
                    self.violate(
                        t,
                        Rule::BusSettle,
                        format!(
                            "REQ {} ns after phase change",
                            (t - self.phase_changed) * CYCLE_NS
                        ),
                    );
                }
            }
            let sync = self.run.as_ref().and_then(|r| r.sync);
            match sync {
                Some((period, offset)) => {
                    self.reqs += 1;
                    if self.reqs - self.acks.min(self.reqs) > u64::from(offset) {
                        self.violate(
                            t,
                            Rule::SyncOffset,
                            format!(
                                "{} REQs outstanding, offset {offset}",
                                self.reqs - self.acks
                            ),
                        );
                    }
                    if self.last_req.is_some_and(|e| t - e < period) {
                        self.violate(
                            t,
                            Rule::SyncPeriod,
                            format!(
                                "REQ period {} ns",
                                (t - self.last_req.unwrap_or(0)) * CYCLE_NS
                            ),
                        );
                    }
                    self.last_req = Some(t);
                    if phase.is_in() {
                        if t - self.data_changed < cycles::SYNC_SETUP {
                            self.violate(
                                t,
                                Rule::SyncSetupHold,
                                "data not set up before REQ".into(),
                            );
                        }
                        self.capture(t, new);
                    }
                }
                None => {
                    if old.has(ctl::ACK) {
                        self.violate(
                            t,
                            Rule::HandshakeOrder,
                            "REQ asserted while ACK asserted".into(),
                        );
                    }
                    if phase.is_in() {
                        if t - self.data_changed < cycles::DESKEW_SKEW {
                            self.violate(
                                t,
                                Rule::Deskew,
                                format!(
                                    "data set up {} ns before REQ",
                                    (t - self.data_changed) * CYCLE_NS
                                ),
                            );
                        }
                        self.capture(t, new);
                    }
                }
            }
        }
        if rose & ctl::ACK != 0 {
            let sync = self.run.as_ref().and_then(|r| r.sync);
            match sync {
                Some((period, _)) => {
                    self.acks += 1;
                    if self.acks > self.reqs {
                        self.violate(
                            t,
                            Rule::HandshakeOrder,
                            "synchronous ACK without REQ".into(),
                        );
                    }
                    if self.last_ack.is_some_and(|e| t - e < period) {
                        self.violate(
                            t,
                            Rule::SyncPeriod,
                            format!(
                                "ACK period {} ns",
                                (t - self.last_ack.unwrap_or(0)) * CYCLE_NS
                            ),
                        );
                    }
                    self.last_ack = Some(t);
                    if !phase.is_in() {
                        if t - self.data_changed < cycles::SYNC_SETUP {
                            self.violate(
                                t,
                                Rule::SyncSetupHold,
                                "data not set up before ACK".into(),
                            );
                        }
                        self.capture(t, new);
                    }
                }
                None => {
                    if !new.has(ctl::REQ) {
                        self.violate(t, Rule::HandshakeOrder, "ACK asserted without REQ".into());
                    } else if !phase.is_in() {
                        if t - self.data_changed < cycles::DESKEW_SKEW {
                            self.violate(
                                t,
                                Rule::Deskew,
                                format!(
                                    "data set up {} ns before ACK",
                                    (t - self.data_changed) * CYCLE_NS
                                ),
                            );
                        }
                        self.capture(t, new);
                    }
                }
            }
        }
        if sync.is_none() || !phase.is_data() {
            if fell & ctl::REQ != 0 && !old.has(ctl::ACK) {
                self.violate(t, Rule::HandshakeOrder, "REQ negated before ACK".into());
            }
            if fell & ctl::ACK != 0 && new.has(ctl::REQ) {
                self.violate(t, Rule::HandshakeOrder, "ACK negated before REQ".into());
            }
        }
    }

    fn capture(&mut self, t: u64, v: BusSignals) {
        let Some(run) = self.run.as_mut() else { return };
        let wide = run.wide;
        let bytes: &[u8] = if wide {
            &[v.data as u8, (v.data >> 8) as u8]
        } else {
            &[v.data as u8]
        };
        let phase = run.phase;
        if phase.is_data() {
            let p = usize::from(self.init & 15) * 16 + usize::from(self.target & 15);
            self.x.neg_since_data[p] = 0;
        }
        let Some(run) = self.run.as_mut() else { return };
        for &b in bytes {
            run.count += 1;
            if run.bytes.len() < RUN_BYTES_KEPT {
                run.bytes.push(b);
            }
        }
        if !v.parity_ok(wide) {
            let n = run.count;
            self.violate(
                t,
                Rule::Parity,
                format!("{} byte {} parity error", phase.name(), n),
            );
        }
        if matches!(phase, Phase::MsgIn | Phase::MsgOut) {
            self.msg_byte(t, phase == Phase::MsgOut, v.data as u8);
        }
    }

    /// Tracks SDTR/WDTR exchanges (the reply fixes the agreement) and resets.
    fn msg_byte(&mut self, _t: u64, from_init: bool, b: u8) {
        self.msg_buf.push(b);
        let Some(n) = log::message_len(&self.msg_buf) else {
            return;
        };
        if self.msg_buf.len() < n {
            return;
        }
        let m = std::mem::take(&mut self.msg_buf);
        self.ext_message(_t, from_init, &m);
        let pair = self.pair();
        let kind = match (m[0], m.get(2).copied()) {
            (msg::EXTENDED, Some(msg::ext::SDTR)) if m.len() >= 5 => {
                Some(NegKind::Sdtr(m[3], m[4]))
            }
            (msg::EXTENDED, Some(msg::ext::WDTR)) if m.len() >= 4 => {
                Some(NegKind::Wdtr(m[3] == msg::ext::WIDTH_16))
            }
            _ => None,
        };
        match (kind, self.pending_neg) {
            (Some(k), Some((pk, pfrom)))
                if pfrom != from_init
                    && std::mem::discriminant(&k) == std::mem::discriminant(&pk) =>
            {
                let a = &mut self.agreements[pair];
                match k {
                    NegKind::Sdtr(f, o) => {
                        a.period_factor = f;
                        a.offset = o;
                    }
                    NegKind::Wdtr(w) => {
                        a.wide = w && self.width == Width::Wide;
                        a.offset = 0;
                    }
                }
                self.pending_neg = None;
            }
            (Some(k), _) => self.pending_neg = Some((k, from_init)),
            (None, Some((pk, pfrom))) if m[0] == msg::MESSAGE_REJECT && pfrom != from_init => {
                let a = &mut self.agreements[pair];
                match pk {
                    NegKind::Sdtr(..) => a.offset = 0,
                    NegKind::Wdtr(_) => {
                        a.wide = false;
                        a.offset = 0;
                    }
                }
                self.pending_neg = None;
            }
            (None, _) if from_init && m[0] == msg::TARGET_RESET => {
                let tgt = usize::from(self.target & 15);
                for i in 0..16 {
                    self.agreements[i * 16 + tgt] = Agreement::default();
                }
            }
            _ => {}
        }
        self.msg_buf = m;
        self.msg_buf.clear();
    }

    fn flush_run(&mut self, _t: u64) {
        self.msg_buf.clear();
        let Some(run) = self.run.take() else { return };
        let (from, to) = if run.phase.is_in() {
            (self.target, self.init)
        } else {
            (self.init, self.target)
        };
        let text = if run.phase.is_data() {
            let mode = match run.sync {
                Some((_, off)) => {
                    let ns =
                        scsi_defs::spi_timing::period_ps(run.factor).unwrap_or(0) as f64 / 1000.0;
                    format!("sync {ns}ns off {off}")
                }
                None => "async".into(),
            };
            let w = if run.wide { " wide" } else { "" };
            format!(
                "ID{from}->ID{to} {} {} bytes {mode}{w}",
                run.phase.name(),
                run.count
            )
        } else {
            let d = log::describe_run(run.phase, &run.bytes);
            format!(
                "ID{from}->ID{to} {} {} ({d})",
                run.phase.name(),
                log::hex(&run.bytes, 16)
            )
        };
        self.line(run.start, text);
    }
}

/// What the connection did last (for the BUS FREE and phase sequence rules).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Ev {
    #[default]
    None,
    MsgIn(u8),
    MsgOut(u8),
    Phase(Phase),
}

/// State of the rules added in issue 13 (kept apart so the older rules read as before).
struct Ext {
    // Per connection.
    conn_phase: Option<Phase>,
    had_data: bool,
    had_status: bool,
    last_event: Ev,
    last_msg_in: Option<u8>,
    resel: bool,
    neg_in_conn: [u8; 2],
    /// Per kind (SDTR, WDTR): whether the initiator began the last exchange.
    neg_starter: [Option<bool>; 2],
    init_disconnect: bool,
    /// The initiator sent a message that ends the nexus (ABORT TASK, ...).
    nexus_ended: bool,
    init_dev: Option<usize>,
    target_dev: Option<usize>,
    flag_contention: bool,
    flag_release: bool,
    // Handshake edges in the current phase.
    req_rose: Option<u64>,
    req_fell: Option<u64>,
    ack_rose: Option<u64>,
    ack_fell: Option<u64>,
    atn_under_ack: Option<u64>,
    io_rose: u64,
    io_fell: u64,
    // Arbitration and selection.
    arb_start: u64,
    sel_began: Option<u64>,
    ids_released: Option<u64>,
    sel_timeout_checked: bool,
    /// Per ID: no arbitration before this cycle (initiator-requested disconnect).
    disc_until: [u64; 16],
    /// Per pair: SDTR/WDTR exchanges since the last data byte.
    neg_since_data: Vec<u32>,
}

impl Default for Ext {
    fn default() -> Ext {
        Ext {
            conn_phase: None,
            had_data: false,
            had_status: false,
            last_event: Ev::None,
            last_msg_in: None,
            resel: false,
            neg_in_conn: [0; 2],
            neg_starter: [None; 2],
            init_disconnect: false,
            nexus_ended: false,
            init_dev: None,
            target_dev: None,
            flag_contention: false,
            flag_release: false,
            req_rose: None,
            req_fell: None,
            ack_rose: None,
            ack_fell: None,
            atn_under_ack: None,
            io_rose: 0,
            io_fell: 0,
            arb_start: 0,
            sel_began: None,
            ids_released: None,
            sel_timeout_checked: false,
            disc_until: [0; 16],
            neg_since_data: vec![0; 256],
        }
    }
}

impl Ext {
    fn conn_reset(&mut self) {
        self.conn_phase = None;
        self.had_data = false;
        self.had_status = false;
        self.last_event = Ev::None;
        self.last_msg_in = None;
        self.neg_in_conn = [0; 2];
        self.neg_starter = [None; 2];
        self.init_disconnect = false;
        self.nexus_ended = false;
        self.init_dev = None;
        self.target_dev = None;
        self.phase_reset();
    }
    fn phase_reset(&mut self) {
        self.req_rose = None;
        self.req_fell = None;
        self.ack_rose = None;
        self.ack_fell = None;
        self.flag_contention = false;
        self.flag_release = false;
    }
}

/// SPI-2 / SPI-3 synchronous REQ/ACK assertion and negation periods (ns) for a transfer
/// period factor: Fast-5 80/80, Fast-10 30/30, Fast-20 15/15, Fast-40 8/8 (SPI-3 table
/// "Fast-40 timing", single transition). `scsi_defs::spi_timing` does not carry these.
pub fn sync_min_widths_ns(factor: u8) -> (u64, u64) {
    use scsi_defs::spi_timing::*;
    if factor >= PERIOD_FACTOR_FAST5 {
        (80, 80)
    } else if factor >= PERIOD_FACTOR_FAST10 {
        (30, 30)
    } else if factor >= PERIOD_FACTOR_FAST20 {
        (15, 15)
    } else {
        (8, 8)
    }
}

fn ends_nexus(b: u8) -> bool {
    matches!(
        b,
        msg::ABORT_TASK
            | msg::ABORT_TASK_SET
            | msg::CLEAR_TASK_SET
            | msg::TARGET_RESET
            | msg::CLEAR_ACA
            | msg::LOGICAL_UNIT_RESET
            | msg::DISCONNECT
    )
}

impl Monitor {
    /// Whether [`Monitor::observe_drivers`] has anything to check now (a connection is
    /// up); the bus skips collecting drives otherwise.
    #[inline]
    pub fn wants_drivers(&self) -> bool {
        self.stage == Stage::Connected
    }

    /// Per-driver checks for the cycle just observed: `drives` are the devices' drives,
    /// `external` the drive from outside the bus (an RTL initiator; reported as device
    /// `drives.len()`). Flags two devices driving DB at once, the initiator still driving
    /// DB a data release delay after I/O asserted, and the target driving DB in an OUT
    /// phase.
    pub fn observe_drivers(&mut self, cycle: u64, drives: &[BusDrive], external: BusDrive) {
        if self.stage != Stage::Connected {
            return;
        }
        let t = cycle.max(self.last_t);
        let v = self.prev;
        let n = drives.len();
        let mut on_db = [usize::MAX; 2];
        let mut k = 0;
        for (i, d) in drives.iter().chain(std::iter::once(&external)).enumerate() {
            if d.ctl & (ctl::REQ | ctl::PHASE) != 0 {
                self.x.target_dev = Some(i);
            }
            if d.ctl & (ctl::ACK | ctl::ATN) != 0 {
                self.x.init_dev = Some(i);
            }
            if d.data != 0 || d.parity != 0 {
                if k < 2 {
                    on_db[k] = i;
                }
                k += 1;
            }
        }
        let name = |i: usize| {
            if i == n {
                "external".to_string()
            } else {
                format!("device {i}")
            }
        };
        let phase = v.phase().name();
        if k >= 2 && !self.x.flag_contention {
            self.x.flag_contention = true;
            let d = format!(
                "{} and {} drive DB at once in {phase}",
                name(on_db[0]),
                name(on_db[1])
            );
            self.violate(t, Rule::Contention, d);
        }
        for &i in on_db.iter().take(k.min(2)) {
            if v.has(ctl::IO)
                && Some(i) == self.x.init_dev
                && Some(i) != self.x.target_dev
                && t - self.x.io_rose > cycles::DATA_RELEASE
                && !self.x.flag_release
            {
                self.x.flag_release = true;
                let d = format!(
                    "initiator ({}) drives DB {} ns after I/O asserted ({phase})",
                    name(i),
                    (t - self.x.io_rose) * CYCLE_NS
                );
                self.violate(t, Rule::DataRelease, d);
            }
            if !v.has(ctl::IO)
                && Some(i) == self.x.target_dev
                && Some(i) != self.x.init_dev
                && t - self.x.io_fell > cycles::DATA_RELEASE
                && !self.x.flag_contention
            {
                self.x.flag_contention = true;
                let d = format!("target ({}) drives DB in {phase}", name(i));
                self.violate(t, Rule::Contention, d);
            }
        }
    }

    fn check_disc_delay(&mut self, t: u64, ids: u16) {
        for id in 0..16 {
            if ids & (1 << id) != 0 && t < self.x.disc_until[id] {
                let waited = t + cycles::DISCONNECTION - self.x.disc_until[id];
                self.violate(
                    t,
                    Rule::DisconnectionDelay,
                    format!(
                        "ID{id} arbitrated {} ns after disconnecting on the initiator's DISCONNECT",
                        waited * CYCLE_NS
                    ),
                );
                self.x.disc_until[id] = 0;
            }
        }
    }

    /// Rules added in issue 13, run on every change before the older rules (so
    /// `self.stage` is still the stage the change happened in).
    fn ext_change(&mut self, t: u64, old: BusSignals, new: BusSignals, rose: u16, fell: u16) {
        let mask = self.id_mask();
        let was_free = old.ctl & (ctl::BSY | ctl::SEL) == 0;
        let is_free = new.ctl & (ctl::BSY | ctl::SEL) == 0;
        match self.stage {
            Stage::Free => {
                if rose & ctl::BSY != 0 {
                    self.x.arb_start = t;
                    self.check_disc_delay(t, new.data & mask);
                }
            }
            Stage::Arbitration => {
                let up = !old.data & new.data & mask;
                if up != 0 && new.has(ctl::BSY) && !new.has(ctl::SEL) {
                    if t > self.x.arb_start + cycles::BUS_SET {
                        self.violate(
                            t,
                            Rule::BusSet,
                            format!(
                                "ID bits {up:#06x} joined arbitration {} ns after BUS FREE was last seen",
                                (t - self.x.arb_start) * CYCLE_NS
                            ),
                        );
                    }
                    self.check_disc_delay(t, up);
                }
            }
            Stage::SelAsserted { .. } => {
                if fell & ctl::BSY != 0 && new.has(ctl::SEL) {
                    self.x.sel_began = Some(t);
                    self.x.ids_released = None;
                    self.x.sel_timeout_checked = false;
                    self.x.resel = new.has(ctl::IO);
                }
            }
            Stage::Selecting { bsy_off } => {
                let min = self.min_selection_timeout;
                if rose & ctl::BSY != 0 {
                    if t - bsy_off > cycles::SELECTION_ABORT {
                        self.violate(
                            t,
                            Rule::ResponseTime,
                            format!(
                                "{} answered {} us after the selection became valid (limit {} us)",
                                if self.x.resel {
                                    "reselection"
                                } else {
                                    "selection"
                                },
                                (t - bsy_off) * CYCLE_NS / 1000,
                                cycles::SELECTION_ABORT * CYCLE_NS / 1000
                            ),
                        );
                    }
                } else if is_free && !was_free {
                    match self.x.ids_released {
                        None => self.violate(
                            t,
                            Rule::SelectionAbort,
                            "SEL and the IDs released together at selection time-out".into(),
                        ),
                        Some(r) if t - r < cycles::SELECTION_ABORT => self.violate(
                            t,
                            Rule::SelectionAbort,
                            format!(
                                "SEL released {} us after the IDs (selection abort time {} us)",
                                (t - r) * CYCLE_NS / 1000,
                                cycles::SELECTION_ABORT * CYCLE_NS / 1000
                            ),
                        ),
                        Some(_) => {}
                    }
                    if min > 0 && !self.x.sel_timeout_checked && t - bsy_off < min {
                        self.violate(
                            t,
                            Rule::SelectionAbort,
                            format!(
                                "selection abandoned after {} us",
                                (t - bsy_off) * CYCLE_NS / 1000
                            ),
                        );
                    }
                } else if old.data & mask != 0
                    && new.data & mask == 0
                    && new.has(ctl::SEL)
                    && self.x.ids_released.is_none()
                {
                    self.x.ids_released = Some(t);
                    if min > 0 && t - bsy_off < min {
                        self.x.sel_timeout_checked = true;
                        self.violate(
                            t,
                            Rule::SelectionAbort,
                            format!(
                                "selection abandoned after {} us (time-out delay {} us)",
                                (t - bsy_off) * CYCLE_NS / 1000,
                                min * CYCLE_NS / 1000
                            ),
                        );
                    }
                }
            }
            Stage::Responded { .. } => {
                if fell & ctl::SEL != 0 {
                    self.x.conn_reset();
                    self.x.io_rose = t;
                    self.x.io_fell = t;
                }
            }
            Stage::Connected => {
                if !was_free && is_free {
                    self.classify_bus_free(t);
                    return;
                }
                self.ext_connected(t, old, new, rose, fell);
            }
        }
    }

    fn classify_bus_free(&mut self, t: u64) {
        let (ev, last_in) = (self.x.last_event, self.x.last_msg_in);
        let expected = match ev {
            Ev::MsgIn(b) => b == msg::COMMAND_COMPLETE || b == msg::DISCONNECT,
            Ev::MsgOut(b) if ends_nexus(b) => true,
            // The initiator rejected what ends or names the nexus: the target gives up.
            Ev::MsgOut(msg::MESSAGE_REJECT) => matches!(
                last_in,
                Some(msg::COMMAND_COMPLETE | msg::DISCONNECT | msg::IDENTIFY | 0x20..=0x22)
            ),
            _ => false,
        } || self.x.nexus_ended;
        if self.x.init_disconnect
            && matches!(ev, Ev::MsgOut(msg::DISCONNECT) | Ev::MsgIn(msg::DISCONNECT))
        {
            self.x.disc_until[usize::from(self.target & 15)] = t + cycles::DISCONNECTION;
        }
        if !expected {
            let detail = match ev {
                Ev::MsgOut(b) => format!(
                    "ID{} released BSY after the initiator's {} (caused by initiator ID{})",
                    self.target,
                    log::describe_message(&[b]),
                    self.init
                ),
                Ev::MsgIn(b) => format!(
                    "ID{} released BSY after sending {} (target error)",
                    self.target,
                    log::describe_message(&[b])
                ),
                Ev::Phase(p) => format!(
                    "ID{} released BSY after {} (target error)",
                    self.target,
                    p.name()
                ),
                Ev::None => format!(
                    "ID{} released BSY before any information transfer (target error)",
                    self.target
                ),
            };
            self.violate(t, Rule::UnexpectedBusFree, detail);
        }
        self.x.conn_reset();
    }

    fn ext_connected(&mut self, t: u64, old: BusSignals, new: BusSignals, rose: u16, fell: u16) {
        if (old.ctl ^ new.ctl) & ctl::PHASE != 0 {
            self.x.phase_reset();
        }
        if rose & ctl::IO != 0 {
            self.x.io_rose = t;
        }
        if fell & ctl::IO != 0 {
            self.x.io_fell = t;
        }
        // ATN.
        if fell & ctl::ATN != 0 && old.has(ctl::ACK) && old.phase() == Phase::MsgOut {
            self.violate(
                t,
                Rule::Atn,
                "ATN negated while ACK asserted in MESSAGE OUT".into(),
            );
        }
        // ATN raised during an asynchronous handshake (with or after its ACK) must be up
        // two deskew delays before that ACK is negated.
        if rose & ctl::ATN != 0 && new.has(ctl::ACK) && self.sync_params(new.phase()).is_none() {
            self.x.atn_under_ack = Some(t);
        }
        if fell & ctl::ACK != 0 {
            if let Some(a) = self.x.atn_under_ack.take() {
                if t - a < cycles::TWO_DESKEW && new.has(ctl::ATN) {
                    self.violate(
                        t,
                        Rule::Atn,
                        format!(
                            "ATN asserted {} ns before ACK negated (two deskew delays needed)",
                            (t - a) * CYCLE_NS
                        ),
                    );
                }
            }
        }
        // Synchronous REQ/ACK widths.
        let phase = new.phase();
        if let Some(_sync) = self.sync_params(phase) {
            let (amin, nmin) = sync_min_widths_ns(self.agreements[self.pair()].period_factor);
            let edges = [
                (ctl::REQ, "REQ", self.x.req_rose, self.x.req_fell),
                (ctl::ACK, "ACK", self.x.ack_rose, self.x.ack_fell),
            ];
            for (bit, nm, r, f) in edges {
                if rose & bit != 0 {
                    if let Some(f) = f.filter(|&f| (t - f) * CYCLE_NS < nmin) {
                        self.violate(
                            t,
                            Rule::ReqAckWidth,
                            format!("{nm} negated {} ns (minimum {nmin} ns)", (t - f) * CYCLE_NS),
                        );
                    }
                }
                if fell & bit != 0 {
                    if let Some(r) = r.filter(|&r| (t - r) * CYCLE_NS < amin) {
                        self.violate(
                            t,
                            Rule::ReqAckWidth,
                            format!(
                                "{nm} asserted {} ns (minimum {amin} ns)",
                                (t - r) * CYCLE_NS
                            ),
                        );
                    }
                }
            }
        }
        if rose & ctl::REQ != 0 {
            self.x.req_rose = Some(t);
        }
        if fell & ctl::REQ != 0 {
            self.x.req_fell = Some(t);
        }
        if rose & ctl::ACK != 0 {
            self.x.ack_rose = Some(t);
        }
        if fell & ctl::ACK != 0 {
            self.x.ack_fell = Some(t);
        }
        // Phase sequence, at the first REQ of each new phase.
        if rose & ctl::REQ != 0 && self.x.conn_phase != Some(phase) {
            self.phase_sequence(t, phase);
        }
    }

    fn phase_sequence(&mut self, t: u64, p: Phase) {
        let last = self.x.conn_phase;
        // Leaving STATUS: INTERMEDIATE (linked commands) does not end the command.
        if last == Some(Phase::Status) {
            let st = self
                .run
                .as_ref()
                .filter(|r| r.phase == Phase::Status)
                .and_then(|r| r.bytes.first().copied());
            if !matches!(st, Some(0x10 | 0x14)) {
                self.x.had_status = true;
            }
        }
        let why = if p == Phase::Reserved {
            // MSG without C/D (100, 101): no phase of SPI, whatever came before.
            Some("REQ in a reserved phase (MSG without C/D)".to_string())
        } else if last.is_none() && self.x.resel && p != Phase::MsgIn {
            Some(format!("reselection began with {}", p.name()))
        } else if last == Some(Phase::MsgIn) && !self.msg_buf.is_empty() && p != Phase::MsgOut {
            Some(format!(
                "MSG IN left after {} byte(s) of a message, for {}",
                self.msg_buf.len(),
                p.name()
            ))
        } else if matches!(
            self.x.last_event,
            Ev::MsgIn(msg::COMMAND_COMPLETE | msg::DISCONNECT)
        ) && p != Phase::MsgOut
        {
            let b = match self.x.last_event {
                Ev::MsgIn(b) => b,
                _ => 0,
            };
            Some(format!(
                "{} after {} (BUS FREE expected)",
                p.name(),
                log::describe_message(&[b])
            ))
        } else if p == Phase::Command && (self.x.had_data || self.x.had_status) {
            Some(format!(
                "COMMAND after {}",
                if self.x.had_status { "STATUS" } else { "DATA" }
            ))
        } else if (p.is_data() && self.x.had_status)
            || (last == Some(Phase::Status) && !matches!(p, Phase::MsgIn | Phase::MsgOut))
        {
            Some(format!("{} after STATUS", p.name()))
        } else {
            None
        };
        if let Some(w) = why {
            self.violate(t, Rule::PhaseSequence, w);
        }
        if p.is_data() {
            self.x.had_data = true;
        }
        if !matches!(p, Phase::MsgIn | Phase::MsgOut) {
            self.x.last_event = Ev::Phase(p);
        }
        self.x.conn_phase = Some(p);
    }

    fn ext_message(&mut self, t: u64, from_init: bool, m: &[u8]) {
        let Some(&b0) = m.first() else { return };
        let b = if b0 & msg::IDENTIFY != 0 {
            msg::IDENTIFY
        } else {
            b0
        };
        if from_init {
            self.x.last_event = Ev::MsgOut(b);
            if ends_nexus(b) && b != msg::DISCONNECT {
                self.x.nexus_ended = true;
            }
            if b == msg::DISCONNECT {
                self.x.init_disconnect = true;
            }
        } else {
            self.x.last_event = Ev::MsgIn(b);
            self.x.last_msg_in = Some(b);
            if b == msg::MESSAGE_REJECT {
                // The target did not honour our DISCONNECT (or anything else).
                self.x.init_disconnect = false;
            }
            if matches!(
                b,
                msg::LINKED_COMMAND_COMPLETE | msg::LINKED_COMMAND_COMPLETE_FLAG
            ) {
                self.x.had_status = false;
                self.x.had_data = false;
            }
        }
        let kind = match (b, m.get(2).copied()) {
            (msg::EXTENDED, Some(msg::ext::SDTR)) => 0,
            (msg::EXTENDED, Some(msg::ext::WDTR)) => 1,
            _ => return,
        };
        let name = if kind == 0 { "SDTR" } else { "WDTR" };
        let answers = self.pending_neg.is_some_and(|(k, from)| {
            from != from_init && matches!(k, NegKind::Wdtr(_)) == (kind == 1)
        });
        if answers {
            // A completed exchange. Within one connection, an exchange begun by the same
            // side as the previous one (an answer taken for a new negotiation) or a third
            // one is a loop; the initiator's exchange followed by the target's own is not
            // (a message resent after a parity error is no exchange either).
            let starter = !from_init;
            let k = kind;
            self.x.neg_in_conn[k] = self.x.neg_in_conn[k].saturating_add(1);
            let same_side = self.x.neg_starter[k] == Some(starter);
            self.x.neg_starter[k] = Some(starter);
            if (same_side && self.x.neg_in_conn[k] == 2) || self.x.neg_in_conn[k] == 3 {
                self.violate(
                    t,
                    Rule::NegotiationLoop,
                    format!("{name} exchanged again within one connection"),
                );
            }
            let p = self.pair();
            self.x.neg_since_data[p] = self.x.neg_since_data[p].saturating_add(1);
            let lim = self.negotiation_limit;
            if lim > 0 && self.x.neg_since_data[p] == lim + 1 {
                self.violate(
                    t,
                    Rule::NegotiationLoop,
                    format!(
                        "{} SDTR/WDTR exchanges between ID{} and ID{} with no data between",
                        lim + 1,
                        self.init,
                        self.target
                    ),
                );
            }
        }
    }
}
