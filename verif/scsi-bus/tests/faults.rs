//! Every fault action through the test initiator, with the monitor on.
mod common;
use common::*;
use scsi_bus::faults::{FaultAction, FaultConfig, ResetInjector};
use scsi_bus::initiator::{InitiatorConfig, Outcome, Request, TagKind, FAST20_OFFSET15};
use scsi_bus::target::disk::Disk;
use scsi_bus::target::{Target, TargetConfig};
use scsi_bus::{Phase, Rule, Width};
use scsi_defs::{msg, opcode as op, sense_key as sk, status};

fn rig_with(toml_rules: &str, tcfg: TargetConfig, icfg: InitiatorConfig) -> Rig {
    let faults: FaultConfig = toml::from_str(toml_rules).expect("fault rules parse");
    let mut t = Target::new(tcfg)
        .with_lun(0, Disk::memory(256))
        .with_faults(&faults);
    t.clear_unit_attention();
    let mut r = Rig::new(Width::Narrow, icfg, vec![t], faults.seed);
    let h = r.bus.add(ResetInjector::from_config(&faults));
    let _ = h;
    r
}
fn rig(toml_rules: &str) -> Rig {
    rig_with(toml_rules, TargetConfig::new(2), InitiatorConfig::new(7))
}
fn tur() -> Request {
    Request::new(2, 0, &[op::TEST_UNIT_READY, 0, 0, 0, 0, 0])
}

#[test]
fn toml_rules_parse_every_field() {
    let cfg: FaultConfig = toml::from_str(
        r#"
        seed = 42
        bus_reset_at_ns = [1000000]
        [[rule]]
        opcode = 0x28
        lba = [100, 200]
        lun = 0
        every_nth = 2
        first_n = 10
        probability = 0.5
        action = { kind = "check_condition", key = 3, asc = 0x11, ascq = 0 }
        [[rule]]
        action = { kind = "hang", phase = "data_in" }
        [[rule]]
        action = { kind = "parity", phase = "msg_in", byte = 1 }
        [[rule]]
        action = { kind = "no_selection_response" }
        "#,
    )
    .expect("parse");
    assert_eq!(cfg.seed, 42);
    assert_eq!(cfg.rules.len(), 4);
    assert_eq!(cfg.rules[0].lba, Some([100, 200]));
    assert_eq!(
        cfg.rules[1].action,
        FaultAction::Hang {
            phase: Phase::DataIn
        }
    );
    assert_eq!(
        cfg.rules[2].action,
        FaultAction::Parity {
            phase: Phase::MsgIn,
            byte: 1
        }
    );
    assert!(
        toml::from_str::<FaultConfig>("[[rule]]\nbogus = 1\naction = { kind = \"busy\" }").is_err()
    );
}

#[test]
fn medium_error_at_lbas_only() {
    let mut r = rig(r#"
        [[rule]]
        opcode = 0x28
        lba = [10, 20]
        action = { kind = "check_condition", key = 3, asc = 0x11 }
    "#);
    let c = r.exec(Request::new(2, 0, &read10(12, 1)).data_in(512));
    assert_eq!(c.sense_key(), Some((sk::MEDIUM_ERROR, 0x11, 0)));
    assert_eq!(
        r.exec(Request::new(2, 0, &read10(8, 2)).data_in(1024))
            .status(),
        Some(status::GOOD)
    );
    assert_eq!(
        r.exec(Request::new(2, 0, &read10(9, 2)).data_in(1024))
            .sense_key()
            .map(|s| s.0),
        Some(sk::MEDIUM_ERROR)
    );
    assert_eq!(
        r.exec(Request::new(2, 0, &write10(12, 1)).data_out(vec![0; 512]))
            .status(),
        Some(status::GOOD)
    );
    r.assert_clean();
}

#[test]
fn not_ready_becoming_ready_then_every_nth_aborted_command() {
    let mut r = rig(r#"
        [[rule]]
        opcode = 0
        first_n = 2
        action = { kind = "check_condition", key = 2, asc = 4, ascq = 1 }
        [[rule]]
        opcode = 0x25
        every_nth = 3
        action = { kind = "check_condition", key = 0x0b, asc = 0x47 }
    "#);
    assert_eq!(r.exec(tur()).sense_key(), Some((sk::NOT_READY, 0x04, 0x01)));
    assert_eq!(r.exec(tur()).sense_key(), Some((sk::NOT_READY, 0x04, 0x01)));
    assert_eq!(r.exec(tur()).status(), Some(status::GOOD));
    let rc = || Request::new(2, 0, &[op::READ_CAPACITY_10, 0, 0, 0, 0, 0, 0, 0, 0, 0]).data_in(8);
    let s: Vec<Option<u8>> = (0..6).map(|_| r.exec(rc()).status()).collect();
    let check = Some(status::CHECK_CONDITION);
    let good = Some(status::GOOD);
    assert_eq!(s, vec![good, good, check, good, good, check]);
    assert_eq!(r.tgt(0).faults().fired, vec![2, 2]);
    r.assert_clean();
}

#[test]
fn busy_and_queue_full_status() {
    let mut r = rig(r#"
        [[rule]]
        opcode = 0
        first_n = 1
        action = { kind = "busy" }
        [[rule]]
        opcode = 0
        first_n = 1
        action = { kind = "queue_full" }
    "#);
    assert_eq!(r.exec(tur()).status(), Some(status::BUSY));
    assert_eq!(
        r.exec(tur().tagged(TagKind::Simple)).status(),
        Some(status::QUEUE_FULL)
    );
    assert_eq!(r.exec(tur()).status(), Some(status::GOOD));
    r.assert_clean();
}

#[test]
fn no_answer_to_selection_times_out() {
    let mut r = rig("[[rule]]\nfirst_n = 1\naction = { kind = \"no_selection_response\" }\n");
    let c = r.exec(tur());
    assert_eq!(c.outcome, Outcome::SelectionTimeout);
    assert_eq!(r.exec(tur()).status(), Some(status::GOOD));
    assert!(r.bus.monitor.log_text().contains("SELECTION TIMEOUT"));
    r.assert_clean();
}

#[test]
fn hang_in_data_in_then_initiator_resets_the_bus() {
    let mut ic = InitiatorConfig::new(7);
    ic.command_timeout = 200_000;
    let mut r = rig_with(
        "[[rule]]\nopcode = 0x28\naction = { kind = \"hang\", phase = \"data_in\" }\n",
        TargetConfig::new(2),
        ic,
    );
    let c = r.exec(Request::new(2, 0, &read10(0, 1)).data_in(512));
    assert_eq!(c.outcome, Outcome::TimedOut);
    assert_eq!(r.tgt(0).stats.resets, 1);
    assert!(r.bus.monitor.log_text().contains("BUS RESET"));
    // The next command sees the reset as UNIT ATTENTION.
    assert_eq!(
        r.exec(tur()).sense_key(),
        Some((sk::UNIT_ATTENTION, 0x29, 0x02))
    );
    r.assert_clean();
}

#[test]
fn unexpected_bus_free_in_status() {
    let mut r = rig(
        "[[rule]]\nopcode = 0\nfirst_n = 1\naction = { kind = \"bus_free\", phase = \"status\" }\n",
    );
    let c = r.exec(tur().disconnect(false));
    assert_eq!(c.outcome, Outcome::UnexpectedBusFree);
    assert_eq!(r.exec(tur()).status(), Some(status::GOOD));
    // The monitor names the injected BUS FREE (on entering STATUS) as the target's error.
    r.assert_rules(&[Rule::UnexpectedBusFree]);
    let v = r.bus.monitor.violations();
    assert_eq!(v.len(), 1);
    assert!(
        v[0].detail.contains("after COMMAND (target error)"),
        "{}",
        v[0]
    );
}

#[test]
fn parity_error_in_data_in_recovered_with_restore_pointers() {
    let mut cfg = TargetConfig::new(2);
    cfg.chunk = Some(1024);
    let mut r = rig_with("[[rule]]\nopcode = 0x28\naction = { kind = \"parity\", phase = \"data_in\", byte = 700 }\n", cfg, InitiatorConfig::new(7));
    let data = pattern(4, 2048);
    assert_eq!(
        r.exec(Request::new(2, 0, &write10(0, 4)).data_out(data.clone()))
            .status(),
        Some(status::GOOD)
    );
    let c = r.exec(Request::new(2, 0, &read10(0, 4)).data_in(2048));
    assert_eq!(c.status(), Some(status::GOOD));
    assert_eq!(c.data_in, data);
    let log = r.bus.monitor.log_text();
    assert!(log.contains("INITIATOR DETECTED ERROR"), "{log}");
    assert!(log.contains("(RESTORE POINTERS)"), "{log}");
    r.assert_rules(&[Rule::Parity]);
    assert_eq!(r.bus.monitor.violations().len(), 1);
}

#[test]
fn parity_error_in_message_in_resent_after_message_parity_error() {
    let mut r =
        rig("[[rule]]\nopcode = 0\naction = { kind = \"parity\", phase = \"msg_in\", byte = 0 }\n");
    let c = r.exec(tur());
    assert_eq!(c.status(), Some(status::GOOD));
    let log = r.bus.monitor.log_text();
    // The first MSG IN byte of the task's connection is IDENTIFY after reselection.
    assert!(log.contains("MSG OUT 09 (MESSAGE PARITY ERROR)"), "{log}");
    assert_eq!(
        log.matches("MSG IN c0 (IDENTIFY lun0 disc)").count(),
        2,
        "{log}"
    );
    r.assert_rules(&[Rule::Parity]);
}

#[test]
fn parity_error_in_status_resent_after_initiator_detected_error() {
    let mut r =
        rig("[[rule]]\nopcode = 0\naction = { kind = \"parity\", phase = \"status\", byte = 0 }\n");
    let c = r.exec(tur().disconnect(false));
    assert_eq!(c.status(), Some(status::GOOD));
    let log = r.bus.monitor.log_text();
    assert!(
        log.contains("MSG OUT 05 (INITIATOR DETECTED ERROR)"),
        "{log}"
    );
    assert_eq!(log.matches("STATUS 00 (GOOD)").count(), 2, "{log}");
    r.assert_rules(&[Rule::Parity]);
}

#[test]
fn data_out_parity_error_detected_by_target() {
    let mut ic = InitiatorConfig::new(7);
    ic.quirks.bad_parity_data_out = Some(100);
    let mut r = rig_with("", TargetConfig::new(2), ic);
    let data = pattern(6, 1024);
    let c = r.exec(Request::new(2, 0, &write10(3, 2)).data_out(data.clone()));
    assert_eq!(c.status(), Some(status::GOOD));
    assert_eq!(r.tgt(0).stats.parity_errors, 1);
    assert!(r
        .bus
        .monitor
        .log_text()
        .contains("MSG IN 03 (RESTORE POINTERS)"));
    let c = r.exec(Request::new(2, 0, &read10(3, 2)).data_in(1024));
    assert_eq!(c.data_in, data);
    r.assert_rules(&[Rule::Parity]);
}

#[test]
fn message_reject_of_tag_runs_untagged() {
    let mut r = rig("[[rule]]\naction = { kind = \"reject_tag\" }\n");
    let c = r.exec(
        Request::new(2, 0, &read10(0, 1))
            .data_in(512)
            .tagged(TagKind::Ordered),
    );
    assert_eq!(c.status(), Some(status::GOOD));
    assert!(c.tag_rejected);
    assert!(r
        .ini()
        .events
        .iter()
        .any(|e| e.contains("MESSAGE REJECT of ORDERED QUEUE TAG")));
    r.assert_clean();
}

#[test]
fn message_reject_of_negotiation() {
    let mut ic = InitiatorConfig::new(7);
    ic.negotiate = true;
    ic.sync = Some(FAST20_OFFSET15);
    let mut r = rig_with(
        "[[rule]]\nfirst_n = 1\naction = { kind = \"reject_negotiation\" }\n",
        TargetConfig::new(2),
        ic,
    );
    let c = r.exec(Request::new(2, 0, &read10(0, 4)).data_in(2048));
    assert_eq!(c.status(), Some(status::GOOD));
    assert_eq!(r.bus.monitor.agreement(7, 2).offset, 0);
    assert!(r
        .bus
        .monitor
        .log_text()
        .contains("DATA IN 2048 bytes async"));
    r.assert_clean();
}

#[test]
fn reselection_with_a_tag_not_outstanding() {
    let mut ic = InitiatorConfig::new(7);
    ic.command_timeout = 300_000;
    let mut r = rig_with(
        "[[rule]]\nopcode = 0x28\nfirst_n = 1\naction = { kind = \"bad_reselect_tag\" }\n",
        TargetConfig::new(2),
        ic,
    );
    let c = r.exec(
        Request::new(2, 0, &read10(0, 1))
            .data_in(512)
            .tagged(TagKind::Simple),
    );
    // The initiator answers the unknown tag with ABORT TASK; the target drops the task,
    // so the command never completes and times out.
    assert_eq!(c.outcome, Outcome::TimedOut);
    assert!(
        r.ini()
            .events
            .iter()
            .any(|e| e.contains("unknown tag 0xff")),
        "{:?}",
        r.ini().events
    );
    let log = r.bus.monitor.log_text();
    assert!(
        log.contains("MSG IN c0 20 ff (IDENTIFY lun0 disc; SIMPLE QUEUE TAG ff)"),
        "{log}"
    );
    assert!(log.contains("MSG OUT 0d (ABORT TASK)"), "{log}");
    assert_eq!(r.tgt(0).stats.aborted, 1);
    r.assert_clean();
}

#[test]
fn third_party_bus_reset_during_a_command() {
    let mut cfg = TargetConfig::new(2);
    cfg.access_cycles = 100_000;
    let mut r = rig_with("bus_reset_at_ns = [300000]\n", cfg, InitiatorConfig::new(7));
    let c = r.exec(Request::new(2, 0, &read10(0, 1)).data_in(512));
    assert_eq!(c.outcome, Outcome::BusReset);
    assert_eq!(r.tgt(0).task_count(), 0);
    assert_eq!(
        r.exec(tur()).sense_key(),
        Some((sk::UNIT_ATTENTION, 0x29, 0x02))
    );
    r.assert_clean();
}

#[test]
fn probability_is_seeded_and_reproducible() {
    let fired = |seed: u64| {
        let mut r = rig(&format!("seed = {seed}\n[[rule]]\nopcode = 0\nprobability = 0.3\naction = {{ kind = \"busy\" }}\n"));
        let s: Vec<u8> = (0..30)
            .map(|_| r.exec(tur()).status().unwrap_or(0xFF))
            .collect();
        r.assert_clean();
        s
    };
    let a = fired(7);
    assert_eq!(a, fired(7), "same seed, same run");
    let busy = a.iter().filter(|&&s| s == status::BUSY).count();
    assert!((3..=18).contains(&busy), "about 30%: {busy}");
    assert!(a.iter().all(|&s| s == status::BUSY || s == status::GOOD));
}

#[test]
fn messages_from_the_initiator_the_target_cannot_take() {
    // MESSAGE PARITY ERROR with no message to resend, and an unknown extended message.
    let mut r = rig("");
    let c = r.exec(Request {
        target: 2,
        lun: 0,
        messages: vec![
            msg::MESSAGE_PARITY_ERROR,
            1,
            2,
            0x77,
            0,
            msg::ABORT_TASK_SET,
        ],
        ..Request::default()
    });
    assert_eq!(c.outcome, Outcome::MessageDelivered);
    assert_eq!(
        r.bus.monitor.log_text().matches("(MESSAGE REJECT)").count(),
        2
    );
    r.assert_clean();
}

#[test]
fn command_parity_error_detected_by_target() {
    let mut ic = InitiatorConfig::new(7);
    ic.quirks.bad_parity_command = Some(2);
    let mut r = rig_with("", TargetConfig::new(2), ic);
    let c = r.exec(Request::new(2, 0, &read10(0, 1)).data_in(512));
    assert_eq!(
        c.sense_key(),
        Some((sk::ABORTED_COMMAND, 0x47, 0x00)),
        "{c:?}"
    );
    assert_eq!(r.tgt(0).stats.parity_errors, 1);
    assert_eq!(
        r.exec(Request::new(2, 0, &read10(0, 1)).data_in(512))
            .status(),
        Some(status::GOOD)
    );
    r.assert_rules(&[Rule::Parity]);
}

/// Contingent allegiance with tagged queuing: two queued tasks both end CHECK CONDITION,
/// each with its own sense, and each REQUEST SENSE returns the sense of the CHECK CONDITION
/// just reported. The model once kept the sense of the last task to run on the medium, so
/// the first task's REQUEST SENSE got the second's (or NO SENSE), which let a SIM
/// acknowledge a write that never reached the medium (campaign seeds 28 and 937).
#[test]
fn each_check_condition_of_queued_tasks_gets_its_own_sense() {
    let mut tcfg = TargetConfig::new(2);
    // Both tasks run on the medium before the first reconnects with its status.
    tcfg.access_cycles = 50_000;
    let mut r = rig_with(
        r#"
        [[rule]]
        opcode = 0x28
        lba = [5, 6]
        action = { kind = "check_condition", key = 3, asc = 0x11 }
        [[rule]]
        opcode = 0x28
        lba = [9, 10]
        action = { kind = "check_condition", key = 5, asc = 0x21 }
        "#,
        tcfg,
        InitiatorConfig::new(7),
    );
    let a = r.ini().submit(
        Request::new(2, 0, &read10(5, 1))
            .data_in(512)
            .tagged(TagKind::Simple),
    );
    let b = r.ini().submit(
        Request::new(2, 0, &read10(9, 1))
            .data_in(512)
            .tagged(TagKind::Simple),
    );
    r.run_idle(20_000_000);
    let sa = r.ini().completion(a).and_then(|c| c.sense_key());
    let sb = r.ini().completion(b).and_then(|c| c.sense_key());
    assert_eq!(sa, Some((sk::MEDIUM_ERROR, 0x11, 0)), "{}", r.tail_log(40));
    assert_eq!(
        sb,
        Some((sk::ILLEGAL_REQUEST, 0x21, 0)),
        "{}",
        r.tail_log(40)
    );
    r.assert_clean();
}
