//! Error handling and host requests in the firmware: abort in each state (queued,
//! connected, disconnected, completed), BUS DEVICE RESET, bus reset, parity errors
//! (injected with scsi-bus faults), unknown reselection nexus.

use hba_abi::layout::{self, cqe, cqe::kind, hba_status, hcb, mailbox};
use hba_abi::regs;
use hba_verif::fwrig::{disk_target, FwRig};
use hba_verif::host::{Entry, Hcb};
use hba_verif::rig::{pattern, rw10};
use scsi_bus::faults::{FaultAction, FaultConfig, FaultRule};
use scsi_bus::target::TargetConfig;
use scsi_bus::{Phase, Rule, Width};

const BUF: u32 = layout::DATA;
const DISK: u32 = 2;

const ST_ISSUED: u32 = 2;
const ST_DISC: u32 = 3;

fn rig_with(cfg: impl FnOnce(&mut TargetConfig), faults: Option<FaultConfig>) -> FwRig {
    let mut c = TargetConfig::new(DISK as u8);
    cfg(&mut c);
    let mut t = disk_target(c, 4096);
    if let Some(f) = faults {
        t = t.with_faults(&f);
    }
    FwRig::new(Width::Narrow, vec![t])
}

fn tagged(h: Hcb) -> Hcb {
    let mut h = h;
    h.ctrl |= layout::hcb::tag::SIMPLE << hcb::ctrl::TAG_SHIFT;
    h
}

fn status(e: &Entry) -> (u32, u32, u8) {
    (e.kind(), e.hba_status(), e.scsi_status())
}

/// Runs the model until `slot`'s FW_STATE low byte is `state`.
fn wait_state(rig: &mut FwRig, slot: u32, state: u32) {
    for _ in 0..200_000 {
        if rig.fw_state(slot) & 0xFF == state {
            return;
        }
        rig.m.idle(20);
    }
    panic!("slot {slot} never reached state {state}\n{}", rig.diag(30));
}

/// Nothing arrives in the completion ring for `cycles`.
fn assert_quiet(rig: &mut FwRig, cycles: u64) {
    let end = rig.m.cycle() + cycles;
    while rig.m.cycle() < end {
        if let Some(e) = rig.host.poll(&mut rig.m).unwrap() {
            panic!("unexpected entry {e:x?}");
        }
        rig.m.idle(500);
    }
}

#[test]
fn abort_queued_slot() {
    let mut rig = rig_with(|c| c.disconnect = false, None);
    let long = Hcb::new(DISK, 0, &rw10(0x28, 0, 32), BUF, 16384, true);
    let b = Hcb::new(DISK, 0, &rw10(0x28, 100, 1), BUF + 0x8000, 512, true);
    let c = Hcb::new(DISK, 0, &rw10(0x28, 200, 1), BUF + 0x9000, 512, true);
    rig.submit(&[(1, long)]);
    wait_state(&mut rig, 1, ST_ISSUED);
    rig.submit(&[(2, b), (3, c)]);
    rig.mailbox(mailbox::word(mailbox::ABORT, 3));
    let es = rig.entries(3, 50_000_000);
    let mut got: Vec<(u32, u32, u32)> = es
        .iter()
        .map(|e| (e.slot(), e.hba_status(), e.residual()))
        .collect();
    got.sort_unstable();
    assert_eq!(
        got,
        vec![(1, 0, 0), (2, 0, 0), (3, hba_status::ABORTED, 512)],
        "{es:x?}"
    );
    assert!(
        !rig.log(1000).contains("COMMAND 28 00 00 00 00 c8"),
        "slot 3 must not run"
    );
    rig.assert_monitor_clean();
}

#[test]
fn abort_connected_slot() {
    let mut rig = rig_with(|c| c.chunk = Some(2048), None);
    let h = tagged(Hcb::new(DISK, 0, &rw10(0x28, 0, 32), BUF, 16384, true));
    rig.submit(&[(4, h)]);
    // Connected in its data phase (reconnected after the first disconnect).
    wait_state(&mut rig, 4, ST_DISC);
    wait_state(&mut rig, 4, ST_ISSUED);
    rig.mailbox(mailbox::word(mailbox::ABORT, 4));
    let e = rig.next_entry(50_000_000);
    assert_eq!(
        status(&e),
        (kind::COMPLETION, hba_status::ABORTED, 0),
        "{e:x?}\n{}",
        rig.log(30)
    );
    assert_eq!(e.slot(), 4);
    assert!(e.residual() > 0 && e.residual() <= 16384, "{e:x?}");
    assert!(rig.log(40).contains("ABORT TASK"), "{}", rig.log(30));
    let t = rig.target(DISK as u8);
    assert_eq!(rig.bus().device(t).task_count(), 0);
    // The target works afterwards.
    let e = rig.run(5, &Hcb::new(DISK, 0, &rw10(0x28, 0, 1), BUF, 512, true));
    assert_eq!((e.hba_status(), e.scsi_status()), (0, 0), "{e:x?}");
    rig.assert_monitor_clean();
}

#[test]
fn abort_disconnected_slot() {
    let mut rig = rig_with(|c| c.access_cycles = 3_000_000, None);
    let h = tagged(Hcb::new(DISK, 0, &rw10(0x28, 0, 4), BUF, 2048, true));
    rig.submit(&[(6, h)]);
    wait_state(&mut rig, 6, ST_DISC);
    rig.mailbox(mailbox::word(mailbox::ABORT, 6));
    let e = rig.next_entry(50_000_000);
    assert_eq!(
        status(&e),
        (kind::COMPLETION, hba_status::ABORTED, 0),
        "{e:x?}\n{}",
        rig.log(30)
    );
    assert_eq!((e.slot(), e.residual()), (6, 2048), "{e:x?}");
    assert!(rig.log(20).contains("ABORT TASK"), "{}", rig.diag(20));
    let t = rig.target(DISK as u8);
    assert_eq!(rig.bus().device(t).task_count(), 0);
    assert_quiet(&mut rig, 4_000_000);
    rig.assert_monitor_clean();
}

#[test]
fn abort_completed_slot_does_nothing() {
    let mut rig = rig_with(|_| {}, None);
    let e = rig.run(7, &Hcb::new(DISK, 0, &rw10(0x28, 0, 1), BUF, 512, true));
    assert_eq!(e.hba_status(), 0);
    rig.mailbox(mailbox::word(mailbox::ABORT, 7));
    assert_quiet(&mut rig, 200_000);
    let e = rig.run(8, &Hcb::new(DISK, 0, &rw10(0x28, 0, 1), BUF, 512, true));
    assert_eq!((e.slot(), e.hba_status()), (8, 0));
    rig.assert_monitor_clean();
}

#[test]
fn bus_device_reset_ends_the_targets_slots() {
    let mut rig = rig_with(|c| c.access_cycles = 3_000_000, None);
    let a = tagged(Hcb::new(DISK, 0, &rw10(0x28, 0, 4), BUF, 2048, true));
    let b = tagged(Hcb::new(
        DISK,
        0,
        &rw10(0x28, 8, 4),
        BUF + 0x1000,
        2048,
        true,
    ));
    rig.submit(&[(10, a), (11, b)]);
    wait_state(&mut rig, 10, ST_DISC);
    wait_state(&mut rig, 11, ST_DISC);
    rig.mailbox(mailbox::word(mailbox::BUS_DEVICE_RESET, DISK));
    let es = rig.entries(3, 50_000_000);
    for e in &es[..2] {
        assert_eq!(
            status(e),
            (kind::COMPLETION, hba_status::BDR_SENT, 0),
            "{e:x?}"
        );
    }
    // Then the agreement reset is reported: asynchronous, narrow.
    assert_eq!(es[2].kind(), kind::NEGOTIATED, "{:x?}", es[2]);
    assert_eq!(es[2].words[3], DISK, "{:x?}", es[2]);
    assert!(rig.log(20).contains("BUS DEVICE RESET"), "{}", rig.log(20));
    assert_quiet(&mut rig, 4_000_000);
    // The next command sees the UNIT ATTENTION (29/03) through autosense.
    let e = rig.run(12, &Hcb::new(DISK, 0, &rw10(0x28, 0, 1), BUF, 512, true));
    assert_eq!(e.scsi_status(), 2, "{e:x?}");
    assert!(e.words[2] & cqe::SENSE_VALID != 0);
    let s = rig.sense(12, 18);
    assert_eq!((s[2] & 0xF, s[12]), (6, 0x29), "{s:x?}");
    rig.assert_monitor_clean();
}

#[test]
fn bus_reset_completes_disconnected_slots() {
    let mut rig = rig_with(|c| c.access_cycles = 3_000_000, None);
    rig.set_goal(DISK, 0x19, 8, false);
    let a = tagged(Hcb::new(DISK, 0, &rw10(0x28, 0, 4), BUF, 2048, true));
    rig.submit(&[(20, a)]);
    let e = rig.next_entry(10_000_000);
    assert_eq!(e.kind(), kind::NEGOTIATED, "{e:x?}");
    wait_state(&mut rig, 20, ST_DISC);
    rig.m
        .axil_write(regs::SCSI_CTRL, regs::scsi_ctrl::BUS_RESET)
        .unwrap();
    let es = rig.entries(2, 10_000_000);
    assert_eq!(
        status(&es[0]),
        (kind::COMPLETION, hba_status::BUS_RESET, 0),
        "{es:x?}"
    );
    assert_eq!((es[0].slot(), es[0].residual()), (20, 2048), "{es:x?}");
    assert_eq!(es[1].kind(), kind::BUS_RESET, "{es:x?}");
    assert_eq!(rig.current(DISK), 0);
    // Renegotiates on the next command; the UNIT ATTENTION (29/02) comes back as sense.
    let h = Hcb::new(DISK, 0, &rw10(0x28, 0, 1), BUF, 512, true);
    rig.submit(&[(21, h)]);
    let es = rig.entries(2, 50_000_000);
    assert_eq!(es[0].kind(), kind::NEGOTIATED, "{es:x?}");
    assert_eq!(es[1].scsi_status(), 2, "{es:x?}");
    assert_eq!(rig.sense(21, 13)[12], 0x29);
    rig.assert_monitor_clean();
}

/// A fault set of one rule.
fn one_rule(rule: FaultRule) -> FaultConfig {
    FaultConfig {
        seed: 1,
        rules: vec![rule],
        bus_reset_at_ns: vec![],
    }
}

/// `action` on the first READ(10).
fn on_first_read(action: FaultAction) -> FaultConfig {
    one_rule(FaultRule {
        opcode: Some(0x28),
        lba: None,
        lun: None,
        every_nth: None,
        first_n: Some(1),
        probability: None,
        action,
    })
}

/// A bad byte: wrong parity *and* inverted data, so that taking it shows wrong data
/// (a parity-only fault leaves the data right and proves nothing about the retry).
fn parity_rule(phase: Phase, byte: usize) -> FaultConfig {
    on_first_read(FaultAction::BadByte {
        phase,
        byte,
        no_retry: false,
        reselected: false,
    })
}

fn only_parity_violations(rig: &mut FwRig) {
    let v = rig.bus().monitor.violations().to_vec();
    assert!(!v.is_empty(), "the injected parity error was not seen");
    assert!(v.iter().all(|v| v.rule == Rule::Parity), "{v:#?}");
}

fn parity_case(phase: Phase, byte: usize, expect_msg: &str) {
    let mut rig = rig_with(|_| {}, Some(parity_rule(phase, byte)));
    let data = pattern(42, 2048);
    rig.write_buf(BUF, &data);
    let e = rig.run(1, &Hcb::new(DISK, 0, &rw10(0x2A, 0, 4), BUF, 2048, false));
    assert_eq!(e.hba_status(), 0, "{e:x?}");
    let e = rig.run(
        2,
        &Hcb::new(DISK, 0, &rw10(0x28, 0, 4), BUF + 0x1000, 2048, true),
    );
    assert_eq!(
        status(&e),
        (kind::COMPLETION, 0, 0),
        "{e:x?}\n{}",
        rig.log(30)
    );
    assert_eq!(e.residual(), 0);
    assert_eq!(rig.read_buf(BUF + 0x1000, 2048), data);
    assert!(rig.log(40).contains(expect_msg), "{}", rig.log(30));
    only_parity_violations(&mut rig);
}

#[test]
fn parity_error_in_data_in_is_retried() {
    parity_case(Phase::DataIn, 700, "INITIATOR DETECTED ERROR");
}

#[test]
fn parity_error_in_status_is_retried() {
    parity_case(Phase::Status, 0, "INITIATOR DETECTED ERROR");
}

#[test]
fn parity_error_in_message_in_is_retried() {
    parity_case(Phase::MsgIn, 0, "MESSAGE PARITY ERROR");
}

#[test]
fn unknown_reselection_nexus_is_reported_and_aborted() {
    let f = on_first_read(FaultAction::BadReselectTag);
    let mut rig = rig_with(|_| {}, Some(f));
    let h = tagged(Hcb::new(DISK, 0, &rw10(0x28, 0, 4), BUF, 2048, true));
    rig.submit(&[(3, h)]);
    let e = rig.next_entry(20_000_000);
    assert_eq!(e.kind(), kind::UNKNOWN_RESEL, "{e:x?}\n{}", rig.diag(30));
    assert_eq!(e.words[3] & 0xF, DISK, "{e:x?}");
    assert_eq!(e.words[3] >> 16 & 0xFF, 255, "{e:x?}");
    rig.m.idle(100_000);
    assert!(rig.log(30).contains("ABORT TASK"), "{}", rig.log(30));
    // The real task died with the ABORT TASK: the host aborts its slot.
    rig.mailbox(mailbox::word(mailbox::ABORT, 3));
    let e = rig.next_entry(20_000_000);
    assert_eq!(
        (e.slot(), e.hba_status()),
        (3, hba_status::ABORTED),
        "{e:x?}\n{}",
        rig.log(30)
    );
    let e = rig.run(4, &Hcb::new(DISK, 0, &rw10(0x28, 0, 1), BUF, 512, true));
    assert_eq!((e.hba_status(), e.scsi_status()), (0, 0), "{e:x?}");
    rig.assert_monitor_clean();
}

#[test]
fn unexpected_bus_free_is_reported() {
    let f = on_first_read(FaultAction::BusFree {
        phase: Phase::DataIn,
    });
    let mut rig = rig_with(|c| c.disconnect = false, Some(f));
    let e = rig.run(5, &Hcb::new(DISK, 0, &rw10(0x28, 0, 4), BUF, 2048, true));
    assert_eq!(
        status(&e),
        (kind::COMPLETION, hba_status::UNEXP_BUS_FREE, 0),
        "{e:x?}\n{}",
        rig.log(20)
    );
    assert_eq!((e.slot(), e.residual()), (5, 2048), "{e:x?}");
    let e = rig.run(6, &Hcb::new(DISK, 0, &rw10(0x28, 0, 4), BUF, 2048, true));
    assert_eq!((e.hba_status(), e.scsi_status()), (0, 0), "{e:x?}");
    // The injected BUS FREE is the target's protocol error: the monitor flags that and
    // nothing else.
    rig.m
        .assert_bus_only(scsi_bus::Rule::UnexpectedBusFree, "target error");
}

#[test]
fn parity_error_in_synchronous_data_in_is_retried() {
    let mut rig = rig_with(|_| {}, Some(parity_rule(Phase::DataIn, 1000)));
    rig.set_goal(DISK, 0x19, 8, false);
    let data = pattern(43, 4096);
    rig.write_buf(BUF, &data);
    let es = {
        rig.submit(&[(1, Hcb::new(DISK, 0, &rw10(0x2A, 0, 8), BUF, 4096, false))]);
        rig.entries(2, 50_000_000)
    };
    assert_eq!(es[0].kind(), kind::NEGOTIATED, "{es:x?}");
    assert_eq!(es[1].hba_status(), 0, "{es:x?}");
    let e = rig.run(
        2,
        &Hcb::new(DISK, 0, &rw10(0x28, 0, 8), BUF + 0x2000, 4096, true),
    );
    assert_eq!(
        status(&e),
        (kind::COMPLETION, 0, 0),
        "{e:x?}\n{}",
        rig.log(30)
    );
    assert_eq!(e.residual(), 0);
    assert_eq!(rig.read_buf(BUF + 0x2000, 4096), data);
    assert!(
        rig.log(40).contains("INITIATOR DETECTED ERROR"),
        "{}",
        rig.log(30)
    );
    only_parity_violations(&mut rig);
}

#[test]
fn autosense_after_a_tagged_check_condition() {
    let mut rig = rig_with(|_| {}, None);
    let h = tagged(Hcb::new(DISK, 0, &rw10(0x28, 9000, 1), BUF, 512, true));
    let e = rig.run(30, &h);
    assert_eq!(
        status(&e),
        (kind::COMPLETION, 0, 2),
        "{e:x?}\n{}",
        rig.log(30)
    );
    assert!(
        e.words[2] & cqe::SENSE_VALID != 0,
        "{e:x?}\n{}",
        rig.log(30)
    );
    let s = rig.sense(30, 18);
    assert_eq!((s[2] & 0xF, s[12]), (5, 0x21), "{s:x?}");
    rig.assert_monitor_clean();
}

/// The REQUEST SENSE cannot be delivered (the target does not answer its selection: a
/// fault on every second selection, and the READ is the first): the command completes
/// with its own CHECK CONDITION status, AUTOSENSE_FAILED and no sense.
#[test]
fn autosense_failure_is_reported() {
    let faults = one_rule(FaultRule {
        opcode: None,
        lba: None,
        lun: None,
        every_nth: Some(2),
        first_n: None,
        probability: None,
        action: FaultAction::NoSelectionResponse,
    });
    let mut rig = rig_with(|_| {}, Some(faults));
    let h = Hcb::new(DISK, 0, &rw10(0x28, 9000, 1), BUF, 512, true);
    let e = rig.run(31, &h);
    assert_eq!(
        status(&e),
        (kind::COMPLETION, 0, 2),
        "{e:x?}\n{}",
        rig.log(30)
    );
    assert!(
        e.words[2] & cqe::AUTOSENSE_FAILED != 0,
        "{e:x?}\n{}",
        rig.log(30)
    );
    assert_eq!(e.words[2] & cqe::SENSE_VALID, 0, "{e:x?}");
    // The third selection is answered: the bus and the firmware carry on.
    let e = rig.run(32, &Hcb::new(DISK, 0, &[0; 6], 0, 0, false));
    assert_eq!(
        status(&e),
        (kind::COMPLETION, 0, 0),
        "{e:x?}\n{}",
        rig.log(30)
    );
    rig.assert_monitor_clean();
}

/// A message the firmware does not support (LINKED COMMAND COMPLETE, 0x0A, sent by a
/// fault right after the CDB) is answered with MESSAGE REJECT and the command goes on.
#[test]
fn unsupported_message_is_rejected_and_the_command_completes() {
    let faults = on_first_read(FaultAction::SendMessage { byte: 0x0A });
    let mut rig = rig_with(|c| c.disconnect = false, Some(faults));
    let data = rig.disk_blocks(DISK as u8, 0, 2);
    let e = rig.run(5, &Hcb::new(DISK, 0, &rw10(0x28, 0, 2), BUF, 1024, true));
    assert_eq!(
        status(&e),
        (kind::COMPLETION, 0, 0),
        "{e:x?}\n{}",
        rig.log(30)
    );
    assert_eq!(e.residual(), 0);
    assert_eq!(rig.read_buf(BUF, 1024), data);
    let log = rig.log(30);
    assert!(log.contains("MSG IN 0a"), "{log}");
    assert!(
        log.contains("MSG OUT 07"),
        "MESSAGE REJECT expected:\n{log}"
    );
    let h = rig.target(DISK as u8);
    let msgs = rig.bus().device(h).stats.messages_in.clone();
    assert!(msgs.contains(&0x07), "{msgs:x?}");
    rig.assert_monitor_clean();
}

/// BUS DEVICE RESET to a target with no command still gets an answer in the ring: the
/// NEGOTIATED event of its reset agreement.
#[test]
fn bus_device_reset_of_an_idle_target_is_answered() {
    let mut rig = rig_with(|_| {}, None);
    rig.mailbox(mailbox::word(mailbox::BUS_DEVICE_RESET, DISK));
    let e = rig.next_entry(5_000_000);
    assert_eq!(e.kind(), kind::NEGOTIATED, "{e:x?}\n{}", rig.log(20));
    assert_eq!(e.words[3], DISK);
    assert!(rig.log(20).contains("BUS DEVICE RESET"), "{}", rig.log(20));
    rig.assert_monitor_clean();
}
