//! Issue 13 monitor rules: each broken on purpose (raw waveforms, or drives fed to
//! `observe_drivers`) and flagged as exactly its rule, next to the same waveform done
//! right, which stays clean.
use scsi_bus::signals::ctl::*;
use scsi_bus::signals::{cycles, Phase};
use scsi_bus::{BusSignals, Monitor, Rule, Width};
use scsi_defs::msg;

/// A raw waveform builder: one initiator (ID7), one target (ID2), async handshakes.
struct W {
    m: Monitor,
    t: u64,
    ph: u16,
    atn: bool,
}

fn sig(ctl: u16, ids: Option<u16>, byte: Option<u8>) -> BusSignals {
    let mut s = BusSignals {
        ctl,
        data: 0,
        parity: 0,
    };
    if let Some(i) = ids {
        s.set_byte_ids(i);
    }
    if let Some(b) = byte {
        s.set_byte(b);
    }
    s
}

impl W {
    fn new() -> W {
        W {
            m: Monitor::new(Width::Narrow),
            t: 100,
            ph: 0,
            atn: false,
        }
    }
    fn at(&mut self, dt: u64, v: BusSignals) {
        self.t += dt;
        self.m.observe(self.t, v);
    }
    fn base(&self) -> u16 {
        BSY | self.ph | if self.atn { ATN } else { 0 }
    }
    /// Arbitration by `me` and (re)selection of `other`, up to the connection.
    fn select_ids(&mut self, me: u16, other: u16, resel: bool, atn: bool) {
        let io = if resel { IO } else { 0 };
        let a = if atn { ATN } else { 0 };
        self.at(200, sig(BSY, Some(me), None));
        self.at(300, sig(BSY | SEL, Some(me), None));
        self.at(200, sig(BSY | SEL | a | io, Some(me | other), None));
        self.at(10, sig(SEL | a | io, Some(me | other), None));
        self.at(50, sig(BSY | SEL | a | io, Some(me | other), None));
        self.at(20, sig(BSY | a | io, None, None));
        self.atn = atn;
        self.ph = io;
    }
    fn select(&mut self, atn: bool) {
        self.select_ids(0x80, 0x04, false, atn);
    }
    fn reselect(&mut self) {
        self.select_ids(0x04, 0x80, true, false);
    }
    fn phase(&mut self, p: Phase) {
        self.ph = p.ctl();
        let b = self.base();
        self.at(5, sig(b, None, None));
        self.t += cycles::SETTLE;
    }
    /// One asynchronous byte in the current phase.
    fn byte(&mut self, b: u8) {
        let base = self.base();
        if self.ph & IO != 0 {
            self.at(1, sig(base, None, Some(b)));
            self.at(6, sig(base | REQ, None, Some(b)));
            self.at(5, sig(base | REQ | ACK, None, Some(b)));
            self.at(5, sig(base | ACK, None, Some(b)));
            self.at(5, sig(base, None, None));
        } else {
            self.at(1, sig(base | REQ, None, None));
            self.at(1, sig(base | REQ, None, Some(b)));
            self.at(6, sig(base | REQ | ACK, None, Some(b)));
            self.at(5, sig(base | ACK, None, Some(b)));
            self.at(5, sig(base, None, None));
        }
    }
    /// MESSAGE OUT of `m`: ATN negated with the last byte's data, before its ACK.
    fn msg_out(&mut self, m: &[u8]) {
        self.phase(Phase::MsgOut);
        for (i, &b) in m.iter().enumerate() {
            let base = self.base();
            let last = i + 1 == m.len();
            self.at(1, sig(base | REQ, None, None));
            if last {
                self.atn = false;
            }
            let base = self.base();
            self.at(1, sig(base | REQ, None, Some(b)));
            self.at(10, sig(base | REQ | ACK, None, Some(b)));
            self.at(5, sig(base | ACK, None, Some(b)));
            self.at(5, sig(base, None, None));
        }
    }
    fn msg_in(&mut self, m: &[u8]) {
        self.phase(Phase::MsgIn);
        for &b in m {
            self.byte(b);
        }
    }
    fn bus_free(&mut self) {
        self.atn = false;
        self.ph = 0;
        self.at(5, BusSignals::NONE);
        self.t += 200;
    }
    /// A complete untagged TEST UNIT READY: IDENTIFY, CDB, STATUS GOOD, COMMAND COMPLETE.
    fn tur(&mut self) {
        self.select(true);
        self.msg_out(&[0x80]);
        self.phase(Phase::Command);
        for _ in 0..6 {
            self.byte(0);
        }
        self.phase(Phase::Status);
        self.byte(0);
        self.msg_in(&[msg::COMMAND_COMPLETE]);
        self.bus_free();
    }
    fn rules(&self) -> Vec<Rule> {
        self.m.rules_violated()
    }
    fn detail(&self) -> String {
        self.m
            .violations()
            .iter()
            .map(|v| format!("{v}\n"))
            .collect()
    }
}

#[test]
fn builder_waveforms_are_clean() {
    let mut w = W::new();
    w.tur();
    w.tur();
    assert_eq!(w.rules(), vec![], "{}", w.detail());
}

// ----- REQ/ACK widths -----

/// SDTR Fast-20 offset 15 agreed, then 4 synchronous DATA IN bytes one `period` apart,
/// REQ held `req_w` cycles, each ACK 2 cycles from the REQ's fall. Simulated cycle by
/// cycle (the monitor ignores unchanged values).
fn sync_data_in(req_w: u64, period: u64) -> W {
    let mut w = W::new();
    w.select(true);
    w.msg_out(&[0x80, msg::EXTENDED, 3, msg::ext::SDTR, 0x0C, 15]);
    w.msg_in(&[msg::EXTENDED, 3, msg::ext::SDTR, 0x0C, 15]);
    w.phase(Phase::DataIn);
    let base = w.base();
    let t0 = w.t;
    let n = 4u64;
    for c in 0..n * period + 10 {
        let k = c / period;
        let o = c % period;
        let mut v = base;
        let mut data = None;
        if k < n {
            data = Some(0x10 + k as u8);
            if (1..1 + req_w).contains(&o) {
                v |= REQ;
            }
        }
        // ACK of byte j: from 1 + req_w to 3 + req_w after its start.
        let j = c.saturating_sub(1 + req_w) / period;
        let oj = c.saturating_sub(1 + req_w) % period;
        if c > req_w && j < n && oj < 2 {
            v |= ACK;
        }
        w.m.observe(t0 + c, sig(v, None, data));
    }
    w.t = t0 + n * period + 10;
    w
}

#[test]
fn sync_req_pulse_of_10ns_at_fast20_is_flagged() {
    // 20 ns REQ, 50 ns period: clean.
    let ok = sync_data_in(2, 5);
    assert_eq!(ok.rules(), vec![], "{}", ok.detail());
    // 10 ns REQ at Fast-20 (minimum 15 ns).
    let bad = sync_data_in(1, 5);
    assert_eq!(bad.rules(), vec![Rule::ReqAckWidth], "{}", bad.detail());
    assert!(bad.detail().contains("REQ asserted 10 ns (minimum 15 ns)"));
}

#[test]
fn sync_widths_follow_the_rate_class() {
    use scsi_bus::monitor::sync_min_widths_ns;
    assert_eq!(sync_min_widths_ns(0x32), (80, 80));
    assert_eq!(sync_min_widths_ns(0x19), (30, 30));
    assert_eq!(sync_min_widths_ns(0x0C), (15, 15));
    assert_eq!(sync_min_widths_ns(0x0A), (8, 8));
}

// ----- ATN -----

#[test]
fn atn_negated_while_ack_asserted_in_message_out() {
    let mut w = W::new();
    w.select(true);
    w.phase(Phase::MsgOut);
    let b = w.base();
    w.at(1, sig(b | REQ, None, None));
    w.at(1, sig(b | REQ, None, Some(0x80)));
    w.at(10, sig(b | REQ | ACK, None, Some(0x80)));
    // ATN dropped under ACK.
    w.at(3, sig((b & !ATN) | REQ | ACK, None, Some(0x80)));
    w.atn = false;
    let b = w.base();
    w.at(5, sig(b | ACK, None, Some(0x80)));
    w.at(5, sig(b, None, None));
    assert_eq!(w.rules(), vec![Rule::Atn], "{}", w.detail());
}

#[test]
fn atn_raised_too_late_before_ack_negated() {
    for (hold, flagged) in [(3u64, true), (9, false)] {
        let mut w = W::new();
        w.select(true);
        w.msg_out(&[0x80]);
        w.phase(Phase::MsgIn);
        let b = w.base();
        w.at(1, sig(b, None, Some(0x23)));
        w.at(6, sig(b | REQ, None, Some(0x23)));
        // ACK and ATN together (the initiator rejects the message) ...
        w.at(5, sig(b | REQ | ACK | ATN, None, Some(0x23)));
        w.at(2, sig(b | ACK | ATN, None, Some(0x23)));
        // ... ACK negated `hold` cycles after ATN went up.
        w.at(hold - 2, sig(b | ATN, None, None));
        w.atn = true;
        w.msg_out(&[msg::MESSAGE_REJECT]);
        let want = if flagged { vec![Rule::Atn] } else { vec![] };
        assert_eq!(w.rules(), want, "hold {hold}: {}", w.detail());
    }
}

// ----- phase sequences -----

fn after_status(next: Phase) -> W {
    let mut w = W::new();
    w.select(true);
    w.msg_out(&[0x80]);
    w.phase(Phase::Command);
    for _ in 0..6 {
        w.byte(0);
    }
    w.phase(Phase::Status);
    w.byte(0);
    w.phase(next);
    w.byte(0);
    w
}

#[test]
fn command_or_data_after_status_is_flagged() {
    for p in [Phase::Command, Phase::DataIn, Phase::DataOut] {
        let w = after_status(p);
        assert_eq!(
            w.rules(),
            vec![Rule::PhaseSequence],
            "{p:?}: {}",
            w.detail()
        );
        assert!(w.detail().contains("after STATUS"), "{}", w.detail());
    }
    let ok = after_status(Phase::MsgIn);
    assert_eq!(ok.rules(), vec![]);
}

#[test]
fn message_in_must_end_in_bus_free() {
    // A phase after COMMAND COMPLETE.
    let mut w = W::new();
    w.select(true);
    w.msg_out(&[0x80]);
    w.phase(Phase::Command);
    for _ in 0..6 {
        w.byte(0);
    }
    w.phase(Phase::Status);
    w.byte(0);
    w.msg_in(&[msg::COMMAND_COMPLETE]);
    w.phase(Phase::DataIn);
    w.byte(1);
    assert_eq!(w.rules(), vec![Rule::PhaseSequence], "{}", w.detail());
    assert!(
        w.detail().contains("after COMMAND COMPLETE"),
        "{}",
        w.detail()
    );
    // MSG IN left in the middle of an extended message, without ATN.
    let mut w = W::new();
    w.select(true);
    w.msg_out(&[0x80]);
    w.msg_in(&[msg::EXTENDED, 3]);
    w.phase(Phase::Command);
    w.byte(0);
    assert_eq!(w.rules(), vec![Rule::PhaseSequence], "{}", w.detail());
    assert!(w.detail().contains("mid") || w.detail().contains("byte(s) of a message"));
}

/// Selected with ATN, `identify` taken in MESSAGE OUT, `n` COMMAND bytes `b` sent.
fn in_command(identify: u8, n: usize, b: u8) -> W {
    let mut w = W::new();
    w.select(true);
    w.msg_out(&[identify]);
    w.phase(Phase::Command);
    for _ in 0..n {
        w.byte(b);
    }
    w
}

/// Both reserved encodings (MSG alone, MSG with I/O) are no phase of SPI: a REQ in
/// either is flagged, right after COMMAND where DATA IN would be legal.
#[test]
fn reserved_phase_is_flagged() {
    for raw in [MSG, MSG | IO] {
        let mut w = in_command(0x80, 6, 0);
        w.ph = raw;
        let b = w.base();
        w.at(5, sig(b, None, None));
        w.t += cycles::SETTLE;
        w.byte(0);
        assert_eq!(
            w.rules(),
            vec![Rule::PhaseSequence],
            "{raw:#x}: {}",
            w.detail()
        );
        assert!(w.detail().contains("reserved phase"), "{}", w.detail());
    }
}

#[test]
fn reselection_must_start_with_message_in() {
    let mut w = W::new();
    w.reselect();
    w.phase(Phase::DataIn);
    w.byte(0);
    assert_eq!(w.rules(), vec![Rule::PhaseSequence], "{}", w.detail());
    let mut ok = W::new();
    ok.reselect();
    ok.msg_in(&[0x80]);
    ok.phase(Phase::DataIn);
    ok.byte(0);
    assert_eq!(ok.rules(), vec![], "{}", ok.detail());
}

// ----- selection time-out, abort, response -----

/// A selection nobody answers; IDs released at `ids_off`, SEL at `sel_off` (cycles after
/// BSY was released).
fn abandoned(ids_off: u64, sel_off: u64) -> W {
    let mut w = W::new();
    w.at(200, sig(BSY, Some(0x80), None));
    w.at(300, sig(BSY | SEL, Some(0x80), None));
    w.at(200, sig(BSY | SEL | ATN, Some(0x84), None));
    w.at(10, sig(SEL | ATN, Some(0x84), None));
    if ids_off < sel_off {
        w.at(ids_off, sig(SEL | ATN, None, None));
        w.at(sel_off - ids_off, BusSignals::NONE);
    } else {
        w.at(sel_off, BusSignals::NONE);
    }
    w
}

#[test]
fn selection_abort_procedure() {
    let to = 25_000;
    let ok = abandoned(to, to + cycles::SELECTION_ABORT);
    assert_eq!(ok.rules(), vec![], "{}", ok.detail());
    let together = abandoned(to, to);
    assert_eq!(together.rules(), vec![Rule::SelectionAbort]);
    assert!(together.detail().contains("released together"));
    let short = abandoned(to, to + 1000);
    assert_eq!(short.rules(), vec![Rule::SelectionAbort]);
    // The time-out delay itself, when configured (SPI recommends 250 ms).
    let mut w = W::new();
    w.m.min_selection_timeout = scsi_bus::signals::ns_to_cycles(250_000_000);
    w.at(200, sig(BSY, Some(0x80), None));
    w.at(300, sig(BSY | SEL, Some(0x80), None));
    w.at(200, sig(BSY | SEL | ATN, Some(0x84), None));
    w.at(10, sig(SEL | ATN, Some(0x84), None));
    w.at(to, sig(SEL | ATN, None, None));
    w.at(cycles::SELECTION_ABORT, BusSignals::NONE);
    assert_eq!(w.rules(), vec![Rule::SelectionAbort], "{}", w.detail());
    assert!(w.detail().contains("abandoned after 250 us"));
}

#[test]
fn test_initiator_times_out_with_the_abort_procedure() {
    use scsi_bus::initiator::{InitiatorConfig, Outcome, Request, TestInitiator};
    use scsi_bus::Bus;
    let mut bus = Bus::new(Width::Narrow);
    let h = bus.add(TestInitiator::new(InitiatorConfig::new(7)));
    let id = bus
        .device(h)
        .submit(Request::new(3, 0, &[0, 0, 0, 0, 0, 0]));
    assert!(bus.run_until(2_000_000, |b| b.device(h).idle()));
    assert_eq!(
        bus.device(h).completion(id).map(|c| c.outcome.clone()),
        Some(Outcome::SelectionTimeout)
    );
    assert_eq!(bus.monitor.violations(), &[]);
    assert!(bus.monitor.log_text().contains("SELECTION TIMEOUT"));
}

#[test]
fn late_selection_response_is_flagged() {
    for (resp, flagged) in [(cycles::SELECTION_ABORT + 50, true), (5_000, false)] {
        let mut w = W::new();
        w.at(200, sig(BSY, Some(0x80), None));
        w.at(300, sig(BSY | SEL, Some(0x80), None));
        w.at(200, sig(BSY | SEL | ATN, Some(0x84), None));
        w.at(10, sig(SEL | ATN, Some(0x84), None));
        w.at(resp, sig(BSY | SEL | ATN, Some(0x84), None));
        w.at(20, sig(BSY | ATN, None, None));
        let want = if flagged {
            vec![Rule::ResponseTime]
        } else {
            vec![]
        };
        assert_eq!(w.rules(), want, "{}", w.detail());
    }
    // Reselection answered late by the initiator.
    let mut w = W::new();
    w.at(200, sig(BSY, Some(0x04), None));
    w.at(300, sig(BSY | SEL, Some(0x04), None));
    w.at(200, sig(BSY | SEL | IO, Some(0x84), None));
    w.at(10, sig(SEL | IO, Some(0x84), None));
    w.at(
        cycles::SELECTION_ABORT + 1,
        sig(BSY | SEL | IO, Some(0x84), None),
    );
    assert_eq!(w.rules(), vec![Rule::ResponseTime]);
    assert!(w.detail().contains("reselection"));
}

// ----- arbitration: bus set delay, disconnection delay -----

#[test]
fn late_arbitration_joiner_is_flagged() {
    for (join, flagged) in [(cycles::BUS_SET + 20, true), (100, false)] {
        let mut w = W::new();
        w.at(200, sig(BSY, Some(0x04), None));
        w.at(join, sig(BSY, Some(0x84), None));
        w.at(250, sig(BSY | SEL, Some(0x84), None));
        let want = if flagged { vec![Rule::BusSet] } else { vec![] };
        assert_eq!(w.rules(), want, "{}", w.detail());
    }
}

#[test]
fn target_arbitrates_inside_the_disconnection_delay() {
    for (gap, flagged) in [(1_000, true), (cycles::DISCONNECTION + 10, false)] {
        let mut w = in_command(0xC0, 10, 0x28);
        w.atn = true;
        let b = w.base();
        w.at(3, sig(b, None, None));
        w.msg_out(&[msg::DISCONNECT]);
        w.msg_in(&[msg::DISCONNECT]);
        w.bus_free();
        w.at(gap, sig(BSY, Some(0x04), None));
        w.at(250, sig(BSY | SEL, Some(0x04), None));
        let want = if flagged {
            vec![Rule::DisconnectionDelay]
        } else {
            vec![]
        };
        assert_eq!(w.rules(), want, "{}", w.detail());
    }
}

// ----- unexpected BUS FREE -----

#[test]
fn unexpected_bus_free_is_blamed_on_the_side_that_caused_it() {
    // Target: BUS FREE after STATUS, no COMMAND COMPLETE.
    let mut w = W::new();
    w.select(true);
    w.msg_out(&[0x80]);
    w.phase(Phase::Command);
    for _ in 0..6 {
        w.byte(0);
    }
    w.phase(Phase::Status);
    w.byte(0);
    w.bus_free();
    assert_eq!(w.rules(), vec![Rule::UnexpectedBusFree]);
    assert!(
        w.detail().contains("after STATUS (target error)"),
        "{}",
        w.detail()
    );
    // Initiator: a message that makes the target give up (here, MESSAGE REJECT of an
    // IDENTIFY would be fine; INITIATOR DETECTED ERROR with nothing to retry is not).
    let mut w = W::new();
    w.select(true);
    w.msg_out(&[0x80, msg::INITIATOR_DETECTED_ERROR]);
    w.bus_free();
    assert_eq!(w.rules(), vec![Rule::UnexpectedBusFree]);
    assert!(
        w.detail().contains("caused by initiator ID7"),
        "{}",
        w.detail()
    );
    // Expected BUS FREEs: after ABORT TASK and after DISCONNECT.
    let mut w = W::new();
    w.select(true);
    w.msg_out(&[0x80, msg::ABORT_TASK]);
    w.bus_free();
    w.reselect();
    w.msg_in(&[0x80, msg::DISCONNECT]);
    w.bus_free();
    assert_eq!(w.rules(), vec![], "{}", w.detail());
}

// ----- negotiation loops -----

#[test]
fn sdtr_ping_pong_within_one_connection_is_flagged() {
    let sdtr = [msg::EXTENDED, 3, msg::ext::SDTR, 0x0C, 15];
    let mut w = W::new();
    w.select(true);
    w.msg_out(&[&[0x80u8][..], &sdtr].concat());
    w.msg_in(&sdtr);
    w.atn = true;
    w.msg_out(&sdtr);
    w.msg_in(&sdtr);
    assert_eq!(w.rules(), vec![Rule::NegotiationLoop], "{}", w.detail());
}

#[test]
fn negotiation_every_selection_without_data_is_flagged_past_the_limit() {
    let sdtr = [msg::EXTENDED, 3, msg::ext::SDTR, 0x0C, 15];
    let conn = |w: &mut W| {
        w.select(true);
        w.msg_out(&[&[0x80u8][..], &sdtr].concat());
        w.msg_in(&sdtr);
        w.phase(Phase::Command);
        for _ in 0..6 {
            w.byte(0);
        }
        w.phase(Phase::Status);
        w.byte(0);
        w.msg_in(&[msg::COMMAND_COMPLETE]);
        w.bus_free();
    };
    let mut w = W::new();
    w.m.negotiation_limit = 3;
    for _ in 0..3 {
        conn(&mut w);
    }
    assert_eq!(w.rules(), vec![], "{}", w.detail());
    conn(&mut w);
    assert_eq!(w.rules(), vec![Rule::NegotiationLoop], "{}", w.detail());
}

#[test]
fn target_renegotiating_on_every_selection_with_data_is_clean() {
    use scsi_bus::initiator::{InitiatorConfig, Request, TestInitiator};
    use scsi_bus::target::disk::Disk;
    use scsi_bus::target::{Target, TargetConfig};
    use scsi_bus::Bus;
    for negotiate in [false, true] {
        let mut tc = TargetConfig::new(2);
        tc.initiate_negotiation = true;
        tc.renegotiate_always = true;
        let mut t = Target::new(tc).with_lun(0, Disk::memory(64));
        t.clear_unit_attention();
        // With `negotiate` the initiator also negotiates on its first command: in that
        // connection the initiator's exchange is followed by the target's own (two exchanges
        // begun by different sides: not a loop).
        let mut ic = InitiatorConfig::new(7);
        ic.sync = Some((0x0C, 15));
        ic.negotiate = negotiate;
        let mut bus = Bus::new(Width::Narrow);
        let h = bus.add(TestInitiator::new(ic));
        bus.add(t);
        for k in 0..12u8 {
            bus.device(h)
                .submit(Request::new(2, 0, &[0x28, 0, 0, 0, 0, k, 0, 0, 1, 0]).data_in(512));
        }
        assert!(bus.run_until(20_000_000, |b| b.device(h).idle()));
        assert_eq!(bus.monitor.violations(), &[]);
        let n = bus.monitor.log_text().matches("(SDTR").count();
        assert!(n >= 24, "negotiated on each selection: {n}");
    }
}

// ----- per-driver contention -----

/// A connected monitor in `phase` (after a selection with ATN and a MSG OUT byte); the
/// drives teach it who is the initiator (device 0) and the target (device 1).
fn connected(phase: Phase) -> W {
    let mut w = W::new();
    w.select(true);
    w.msg_out(&[0x80]);
    w.phase(phase);
    w
}

#[test]
fn two_devices_driving_db_is_flagged() {
    let mut w = connected(Phase::DataIn);
    let b = w.base();
    let mut tgt = sig(b, None, Some(0x11));
    tgt.ctl = BSY | Phase::DataIn.ctl();
    let init = sig(ACK, None, None);
    w.m.observe_drivers(w.t, &[init, tgt], BusSignals::NONE);
    assert_eq!(w.rules(), vec![]);
    let mut third = BusSignals::NONE;
    third.set_byte(0x22);
    w.m.observe_drivers(w.t + 1, &[init, tgt], third);
    assert_eq!(w.rules(), vec![Rule::Contention], "{}", w.detail());
    assert!(w
        .detail()
        .contains("device 1 and external drive DB at once"));
}

#[test]
fn initiator_not_releasing_db_after_io_is_flagged() {
    let mut w = connected(Phase::Command);
    // The initiator (ATN/ACK driver) keeps a byte on DB into DATA IN.
    let mut init = sig(ACK, None, Some(0x28));
    let tgt = sig(BSY | Phase::Command.ctl(), None, None);
    w.m.observe_drivers(w.t, &[init, tgt], BusSignals::NONE);
    init.ctl = 0;
    w.at(1, sig(BSY | Phase::DataIn.ctl(), None, Some(0x28)));
    let tgt = sig(BSY | Phase::DataIn.ctl(), None, None);
    w.m.observe_drivers(w.t + 10, &[init, tgt], BusSignals::NONE);
    assert_eq!(w.rules(), vec![], "within the data release delay");
    w.m.observe_drivers(
        w.t + cycles::DATA_RELEASE + 5,
        &[init, tgt],
        BusSignals::NONE,
    );
    assert_eq!(w.rules(), vec![Rule::DataRelease], "{}", w.detail());
}

#[test]
fn target_driving_db_in_an_out_phase_is_flagged() {
    let mut w = connected(Phase::DataOut);
    let init = sig(ATN, None, None);
    let mut tgt = sig(BSY | REQ, None, Some(0x5A));
    tgt.ctl |= Phase::DataOut.ctl();
    w.m.observe_drivers(
        w.t + cycles::DATA_RELEASE + 1,
        &[init, tgt],
        BusSignals::NONE,
    );
    assert_eq!(w.rules(), vec![Rule::Contention], "{}", w.detail());
    assert!(w
        .detail()
        .contains("target (device 1) drives DB in DATA OUT"));
}

#[test]
fn reselection_time_out_uses_the_abort_procedure_too() {
    // The target (ID2) reselects ID7, nobody answers: IDs released, SEL kept 200 us.
    let resel = |ids_then_sel: Option<u64>| {
        let mut w = W::new();
        w.at(200, sig(BSY, Some(0x04), None));
        w.at(300, sig(BSY | SEL, Some(0x04), None));
        w.at(200, sig(BSY | SEL | IO, Some(0x84), None));
        w.at(10, sig(SEL | IO, Some(0x84), None));
        match ids_then_sel {
            Some(gap) => {
                w.at(25_000, sig(SEL | IO, None, None));
                w.at(gap, BusSignals::NONE);
            }
            None => w.at(25_000, BusSignals::NONE),
        }
        w
    };
    assert_eq!(resel(Some(cycles::SELECTION_ABORT)).rules(), vec![]);
    assert_eq!(resel(None).rules(), vec![Rule::SelectionAbort]);
    assert_eq!(resel(Some(100)).rules(), vec![Rule::SelectionAbort]);
}

mod hostile {
    use proptest::prelude::*;
    use scsi_bus::{BusSignals, Monitor, Width};

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Random bus values and random per-driver drives: the new rules never panic.
        #[test]
        fn monitor_survives_random_drives(v in proptest::collection::vec((any::<u16>(), any::<u16>(), any::<u8>(), 0u64..3000, proptest::collection::vec((any::<u16>(), any::<u16>(), any::<u8>()), 0..4)), 0..300)) {
            let mut m = Monitor::new(Width::Wide);
            m.min_selection_timeout = 1000;
            m.negotiation_limit = 2;
            let mut t = 0;
            for (c, d, p, dt, drives) in v {
                t += dt;
                let value = BusSignals { ctl: c & 0x1FF, data: d, parity: p & 3 };
                m.observe(t, value);
                let ds: Vec<BusSignals> = drives
                    .iter()
                    .map(|&(c, d, p)| BusSignals { ctl: c & 0x1FF, data: d, parity: p & 3 })
                    .collect();
                if m.wants_drivers() {
                    m.observe_drivers(t, &ds, value);
                }
            }
            let _ = m.log_text();
        }
    }
}
