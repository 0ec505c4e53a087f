//! Negative tests (deliberately broken timing must be flagged as exactly that rule) and
//! hostile-input property tests (nothing panics).
mod common;
use common::*;
use proptest::prelude::*;
use scsi_bus::arb::TimingQuirks;
use scsi_bus::initiator::{InitiatorConfig, Request};
use scsi_bus::target::disk::Disk;
use scsi_bus::target::tape::Tape;
use scsi_bus::target::{Exec, LogicalUnit, Target, TargetConfig, TargetQuirks};
use scsi_bus::{BusSignals, Monitor, Rule, Width};
use scsi_defs::status;

fn rig(icfg: InitiatorConfig, tq: TargetQuirks) -> Rig {
    let mut tc = TargetConfig::new(2);
    tc.quirks = tq;
    let mut t = Target::new(tc).with_lun(0, Disk::memory(64));
    t.clear_unit_attention();
    Rig::new(Width::Narrow, icfg, vec![t], 30)
}
fn write_read(r: &mut Rig) {
    let d = pattern(1, 2048);
    assert_eq!(
        r.exec(Request::new(2, 0, &write10(0, 4)).data_out(d.clone()))
            .status(),
        Some(status::GOOD)
    );
    assert_eq!(
        r.exec(Request::new(2, 0, &read10(0, 4)).data_in(2048))
            .data_in,
        d
    );
}

#[test]
fn ack_before_deskew_is_flagged_as_deskew() {
    let mut ic = InitiatorConfig::new(7);
    ic.quirks.ack_early = true;
    let mut r = rig(ic, TargetQuirks::default());
    write_read(&mut r);
    r.assert_rules(&[Rule::Deskew]);
}

#[test]
fn arbitration_without_bus_free_delay() {
    let mut ic = InitiatorConfig::new(7);
    ic.quirks.timing = TimingQuirks {
        no_bus_free_delay: true,
        ..TimingQuirks::default()
    };
    let mut r = rig(ic, TargetQuirks::default());
    write_read(&mut r);
    r.assert_rules(&[Rule::BusFreeDelay]);
}

#[test]
fn selection_without_arbitration_delay() {
    let mut ic = InitiatorConfig::new(7);
    ic.quirks.timing = TimingQuirks {
        no_arbitration_delay: true,
        ..TimingQuirks::default()
    };
    let mut r = rig(ic, TargetQuirks::default());
    write_read(&mut r);
    r.assert_rules(&[Rule::ArbitrationDelay]);
}

#[test]
fn selection_without_bus_clear_and_settle() {
    let mut ic = InitiatorConfig::new(7);
    ic.quirks.timing = TimingQuirks {
        no_selection_settle: true,
        ..TimingQuirks::default()
    };
    let mut r = rig(ic, TargetQuirks::default());
    write_read(&mut r);
    r.assert_rules(&[Rule::SelectionSettle]);
}

#[test]
fn req_without_phase_settle_is_flagged_as_bus_settle() {
    let mut r = rig(
        InitiatorConfig::new(7),
        TargetQuirks {
            no_phase_settle: true,
            ..TargetQuirks::default()
        },
    );
    write_read(&mut r);
    r.assert_rules(&[Rule::BusSettle]);
}

fn sync_ic(offset: u8) -> InitiatorConfig {
    let mut ic = InitiatorConfig::new(7);
    ic.negotiate = true;
    ic.sync = Some((0x0C, offset));
    ic
}

#[test]
fn sync_offset_exceeded() {
    let mut ic = sync_ic(2);
    ic.sync_ack_latency = 25;
    let mut r = rig(
        ic,
        TargetQuirks {
            ignore_offset: true,
            ..TargetQuirks::default()
        },
    );
    write_read(&mut r);
    r.assert_rules(&[Rule::SyncOffset]);
}

#[test]
fn sync_period_shorter_than_negotiated() {
    let mut r = rig(
        sync_ic(8),
        TargetQuirks {
            short_period: true,
            ..TargetQuirks::default()
        },
    );
    write_read(&mut r);
    r.assert_rules(&[Rule::SyncPeriod]);
}

#[test]
fn clean_sync_runs_with_small_offsets_and_ack_latency() {
    for (off, lat) in [(1, 0), (1, 25), (4, 25), (15, 3)] {
        let mut ic = sync_ic(off);
        ic.sync_ack_latency = lat;
        let mut r = rig(ic, TargetQuirks::default());
        write_read(&mut r);
        r.assert_clean();
    }
}

#[test]
fn monitor_decodes_reset_hold_and_bus_clear() {
    let mut m = Monitor::new(Width::Narrow);
    let rst = BusSignals {
        ctl: scsi_bus::signals::ctl::RST,
        data: 0,
        parity: 0,
    };
    m.observe(10, rst);
    m.observe(100, BusSignals::NONE); // 900 ns: too short
    let mut stuck = BusSignals::NONE;
    stuck.set_byte(0x40);
    m.observe(200, stuck); // data on a free bus
    m.observe(400, BusSignals::NONE); // held 2 us > bus clear delay
    assert_eq!(m.rules_violated(), vec![Rule::BusClear, Rule::ResetHold]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn disk_and_tape_survive_random_cdbs(cdb in proptest::collection::vec(any::<u8>(), 0..20), data in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let mut d = Disk::memory(32);
        if let Exec::NeedData(n) = d.execute(&cdb, None) {
            prop_assert!(n <= 32 * 512 + 65_536);
            let _ = d.execute(&cdb, Some(&data));
        }
        let mut t = Tape::new(4096);
        if let Exec::NeedData(n) = t.execute(&cdb, None) {
            prop_assert!(n <= 4096);
            let _ = t.execute(&cdb, Some(&data));
        }
    }

    #[test]
    fn monitor_survives_random_bus_states(v in proptest::collection::vec((any::<u16>(), any::<u16>(), any::<u8>(), 1u64..5000), 0..400)) {
        let mut m = Monitor::new(Width::Wide);
        let mut t = 0;
        for (c, d, p, dt) in v {
            t += dt;
            m.observe(t, BusSignals { ctl: c & 0x1FF, data: d, parity: p & 3 });
        }
        let _ = m.log_text();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random CDBs and random message bytes over the bus: the target answers like a
    /// device (status, MESSAGE REJECT, bus free), nothing panics, and the monitor stays
    /// clean because every device still keeps the timing rules.
    #[test]
    fn target_survives_random_cdbs_and_messages_over_the_bus(
        cdb in proptest::collection::vec(any::<u8>(), 1..17),
        msgs in proptest::collection::vec(any::<u8>(), 1..12),
        out in proptest::collection::vec(any::<u8>(), 0..700),
    ) {
        let mut ic = InitiatorConfig::new(7);
        ic.command_timeout = 400_000;
        let mut r = rig(ic, TargetQuirks::default());
        let id = r.ini().submit(Request::new(2, 0, &cdb).data_out(out).data_in(700));
        let mid = r.ini().submit(Request { target: 2, lun: 0, messages: msgs.clone(), ..Request::default() });
        r.run_idle(5_000_000);
        prop_assert!(r.ini().completion(id).is_some());
        prop_assert!(r.ini().completion(mid).is_some());
        let v = r.bus.monitor.violations().to_vec();
        prop_assert!(v.is_empty(), "cdb {:02x?} msgs {:02x?}: {:?}\n{}", cdb, msgs, v, r.tail_log(30));
    }
}

/// Raw waveforms for the selection and handshake rules: a legal arbitration and selection
/// of ID2 by ID7 with ATN, then a test-specific tail; the monitor must flag exactly the
/// broken rule.
mod raw {
    use scsi_bus::signals::ctl::*;
    use scsi_bus::{BusSignals, Monitor, Rule, Width};

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

    /// Feeds `(cycle, value)` pairs after a legal selection; returns the violated rules.
    fn run(resp_at: u64, sel_off_at: u64, ids: u16, tail: &[(u64, BusSignals)]) -> Vec<Rule> {
        let mut m = Monitor::new(Width::Narrow);
        let ids_sel = ids;
        let seq = [
            (200, sig(BSY, Some(0x80), None)),
            (500, sig(BSY | SEL, Some(0x80), None)),
            (700, sig(BSY | SEL | ATN, Some(ids_sel), None)),
            (710, sig(SEL | ATN, Some(ids_sel), None)),
            (resp_at, sig(BSY | SEL | ATN, Some(ids_sel), None)),
            (sel_off_at, sig(BSY | ATN, None, None)),
        ];
        for (t, v) in seq.iter().chain(tail.iter()) {
            m.observe(*t, *v);
        }
        m.rules_violated()
    }

    const OK_IDS: u16 = 0x84;

    #[test]
    fn legal_selection_and_message_byte_is_clean() {
        let tail = [
            (790, sig(BSY | ATN | MSG | CD, None, None)),
            (840, sig(BSY | ATN | MSG | CD | REQ, None, None)),
            (845, sig(BSY | MSG | CD | REQ, None, Some(0x80))),
            (851, sig(BSY | MSG | CD | REQ | ACK, None, Some(0x80))),
            (860, sig(BSY | MSG | CD | ACK, None, Some(0x80))),
            (865, sig(BSY | MSG | CD, None, None)),
        ];
        assert_eq!(run(760, 780, OK_IDS, &tail), vec![]);
    }

    #[test]
    fn early_selection_response() {
        assert_eq!(run(720, 780, OK_IDS, &[]), vec![Rule::SelectionResponse]);
    }

    #[test]
    fn early_sel_release() {
        assert_eq!(run(760, 763, OK_IDS, &[]), vec![Rule::SelectionRelease]);
    }

    #[test]
    fn three_ids_on_selection() {
        assert_eq!(run(760, 780, 0x86, &[]), vec![Rule::Selection]);
    }

    #[test]
    fn ack_without_req() {
        let tail = [
            (790, sig(BSY | ATN | MSG | CD, None, None)),
            (800, sig(BSY | ATN | MSG | CD | ACK, None, None)),
            (810, sig(BSY | ATN | MSG | CD, None, None)),
        ];
        assert_eq!(run(760, 780, OK_IDS, &tail), vec![Rule::HandshakeOrder]);
    }

    #[test]
    fn data_changed_before_ack() {
        let tail = [
            (790, sig(BSY | MSG | CD | IO, None, Some(0x04))),
            (840, sig(BSY | MSG | CD | IO | REQ, None, Some(0x04))),
            (845, sig(BSY | MSG | CD | IO | REQ, None, Some(0x00))),
        ];
        assert_eq!(run(760, 780, OK_IDS, &tail), vec![Rule::DataHold]);
    }
}
