//! Issue 13 faults: full sense from fault rules (INFORMATION, FILEMARK/EOM/ILI, data
//! returned, deferred, descriptor format), status faults, never reselect, seeded delay,
//! hangs right after selection. Each test fails on the old behaviour.
mod common;
use common::*;
use scsi_bus::faults::{FaultConfig, ResetInjector};
use scsi_bus::initiator::{InitiatorConfig, Outcome, Request};
use scsi_bus::target::disk::Disk;
use scsi_bus::target::{Target, TargetConfig};
use scsi_bus::Width;
use scsi_defs::{opcode as op, sense_key as sk, status};

fn rig_with(toml_rules: &str, tcfg: TargetConfig, icfg: InitiatorConfig) -> Rig {
    let faults: FaultConfig = toml::from_str(toml_rules).expect("fault rules parse");
    let mut t = Target::new(tcfg)
        .with_lun(0, Disk::memory(256))
        .with_faults(&faults);
    t.clear_unit_attention();
    let mut r = Rig::new(Width::Narrow, icfg, vec![t], faults.seed);
    r.bus.add(ResetInjector::from_config(&faults));
    r
}
fn rig(toml_rules: &str) -> Rig {
    rig_with(toml_rules, TargetConfig::new(2), InitiatorConfig::new(7))
}
fn tur() -> Request {
    Request::new(2, 0, &[op::TEST_UNIT_READY, 0, 0, 0, 0, 0])
}
fn info(s: &[u8]) -> u32 {
    u32::from_be_bytes([s[3], s[4], s[5], s[6]])
}

#[test]
fn medium_error_at_lba_reports_valid_information() {
    let mut r = rig(
        "[[rule]]\nopcode = 0x28\nlba = [10, 20]\naction = { kind = \"check_condition\", key = 3, asc = 0x11 }\n",
    );
    // READ 5..13 touches the bad range first at LBA 10.
    let c = r.exec(Request::new(2, 0, &read10(5, 8)).data_in(8 * 512));
    assert_eq!(c.sense_key(), Some((sk::MEDIUM_ERROR, 0x11, 0)));
    let s = c.sense.clone().expect("sense");
    assert_eq!(s[0], 0xF0, "VALID, current, fixed");
    assert_eq!(info(&s), 10);
    let c = r.exec(Request::new(2, 0, &read10(12, 2)).data_in(2 * 512));
    assert_eq!(info(c.sense.as_deref().expect("sense")), 12);
    // No LBA condition: nothing to report, VALID stays 0.
    let mut r = rig("[[rule]]\nopcode = 0\naction = { kind = \"check_condition\", key = 2, asc = 4, ascq = 1 }\n");
    let s = r.exec(tur()).sense.expect("sense");
    assert_eq!(s[0], 0x70);
    r.assert_clean();
}

#[test]
fn sense_rule_sets_information_and_flags() {
    let mut r = rig(
        "[[rule]]\nopcode = 0\naction = { kind = \"sense\", key = 0, asc = 0, ascq = 1, info = 77, filemark = true, eom = true, ili = true }\n",
    );
    let c = r.exec(tur());
    assert_eq!(c.status(), Some(status::CHECK_CONDITION));
    let s = c.sense.expect("sense");
    assert_eq!(s[0], 0xF0);
    assert_eq!(s[2], 0xE0, "FILEMARK EOM ILI, NO SENSE");
    assert_eq!(info(&s), 77);
    assert_eq!((s[12], s[13]), (0, 1));
    r.assert_clean();
}

#[test]
fn recovered_error_returns_the_data() {
    let mut r = rig(
        "[[rule]]\nopcode = 0x28\nlba = [3, 4]\naction = { kind = \"sense\", key = 1, asc = 0x18, ascq = 0, with_data = true }\n",
    );
    let data = pattern(5, 4 * 512);
    let w = r.exec(Request::new(2, 0, &write10(0, 4)).data_out(data.clone()));
    assert_eq!(w.status(), Some(status::GOOD));
    let c = r.exec(Request::new(2, 0, &read10(0, 4)).data_in(4 * 512));
    assert_eq!(c.sense_key(), Some((sk::RECOVERED_ERROR, 0x18, 0)));
    assert_eq!(c.data_in, data, "the data comes with the RECOVERED ERROR");
    assert_eq!(info(c.sense.as_deref().expect("sense")), 3);
    r.assert_clean();
}

#[test]
fn descriptor_and_deferred_sense() {
    let mut r = rig(
        "[[rule]]\nopcode = 0x28\nlba = [0, 1]\naction = { kind = \"sense\", key = 3, asc = 0x11, descriptor = true }\n\
         [[rule]]\nopcode = 0x2a\nfirst_n = 1\naction = { kind = \"sense\", key = 3, asc = 0x0c, ascq = 2, deferred = true }\n",
    );
    let c = r.exec(Request::new(2, 0, &read10(0, 1)).data_in(512));
    assert_eq!(c.status(), Some(status::CHECK_CONDITION));
    let s = c.sense.expect("sense");
    assert_eq!(&s[..4], &[0x72, sk::MEDIUM_ERROR, 0x11, 0]);
    // Information descriptor: type 0, length 0Ah, VALID, 8-byte LBA 0.
    assert_eq!(s[7], 12);
    assert_eq!(&s[8..12], &[0, 0x0A, 0x80, 0]);
    assert_eq!(&s[12..20], &[0; 8]);
    // Deferred: the write ends GOOD, the next command reports 71h.
    let w = r.exec(Request::new(2, 0, &write10(8, 1)).data_out(vec![1; 512]));
    assert_eq!(w.status(), Some(status::GOOD));
    let c = r.exec(tur());
    let s = c.sense.clone().expect("sense");
    assert_eq!(s[0] & 0x7F, 0x71, "deferred error");
    assert_eq!(c.sense_key(), Some((sk::MEDIUM_ERROR, 0x0C, 2)));
    assert_eq!(r.exec(tur()).status(), Some(status::GOOD));
    r.assert_clean();
}

#[test]
fn reservation_conflict_and_task_aborted_status() {
    let mut r = rig(
        "[[rule]]\nopcode = 0\nfirst_n = 1\naction = { kind = \"status\", status = 0x18 }\n\
         [[rule]]\nopcode = 0x28\nfirst_n = 1\naction = { kind = \"status\", status = 0x40 }\n",
    );
    assert_eq!(r.exec(tur()).status(), Some(status::RESERVATION_CONFLICT));
    let c = r.exec(Request::new(2, 0, &read10(0, 1)).data_in(512));
    assert_eq!(c.status(), Some(status::TASK_ABORTED));
    assert!(c.data_in.is_empty());
    assert_eq!(r.exec(tur()).status(), Some(status::GOOD));
    r.assert_clean();
}

#[test]
fn disconnect_and_never_reselect_times_out() {
    let mut ic = InitiatorConfig::new(7);
    ic.command_timeout = 300_000;
    let mut r = rig_with(
        "[[rule]]\nopcode = 0x28\naction = { kind = \"never_reselect\" }\n",
        TargetConfig::new(2),
        ic,
    );
    let c = r.exec(Request::new(2, 0, &read10(0, 1)).data_in(512));
    assert_eq!(c.outcome, Outcome::TimedOut);
    assert!(r.bus.monitor.log_text().contains("MSG IN 04 (DISCONNECT)"));
    assert!(!r.bus.monitor.log_text().contains("RESELECTION"));
    r.assert_clean();
}

fn delayed_read_time(seed: u64) -> u64 {
    let mut r = rig(&format!(
        "seed = {seed}\n[[rule]]\nopcode = 0x28\naction = {{ kind = \"delay\", cycles = 50000, jitter = 40000 }}\n"
    ));
    let start = r.bus.cycle();
    let c = r.exec(Request::new(2, 0, &read10(0, 1)).data_in(512));
    assert_eq!(c.status(), Some(status::GOOD));
    r.assert_clean();
    c.cycle - start
}

#[test]
fn per_command_delay_with_seeded_jitter() {
    let mut plain = rig("");
    let c = plain.exec(Request::new(2, 0, &read10(0, 1)).data_in(512));
    let base = c.cycle;
    let times: Vec<u64> = (1..=4).map(delayed_read_time).collect();
    for &t in &times {
        assert!(
            t >= base + 50_000 && t <= base + 90_000 + 2_000,
            "{t} vs {base}"
        );
    }
    assert_eq!(delayed_read_time(3), times[2], "same seed, same delay");
    let mut d = times.clone();
    d.dedup();
    assert!(d.len() > 1, "jitter varies with the seed: {times:?}");
}

#[test]
fn hang_in_command_and_in_message_out() {
    for phase in ["command", "msg_out"] {
        let mut ic = InitiatorConfig::new(7);
        ic.command_timeout = 200_000;
        let mut r = rig_with(
            &format!("[[rule]]\nfirst_n = 1\naction = {{ kind = \"hang_after_selection\", phase = \"{phase}\" }}\n"),
            TargetConfig::new(2),
            ic,
        );
        let c = r.exec(tur());
        assert_eq!(c.outcome, Outcome::TimedOut, "{phase}");
        assert_eq!(r.tgt(0).stats.resets, 1);
        assert!(!r.bus.monitor.log_text().contains("COMMAND 00"), "{phase}");
        // After the reset the target works again.
        assert_eq!(
            r.exec(tur()).sense_key(),
            Some((sk::UNIT_ATTENTION, 0x29, 0x02))
        );
        r.assert_clean();
    }
}

#[test]
fn spin_up_needs_start_stop_unit_and_takes_start_up_time() {
    use scsi_bus::target::SpinUp;
    let mut tc = TargetConfig::new(2);
    tc.spin_up = Some(SpinUp {
        power_on_cycles: 100_000,
        start_cycles: 300_000,
    });
    let mut r = rig_with("", tc, InitiatorConfig::new(7));
    let not_ready = |c: &scsi_bus::initiator::Completion, ascq: u8| {
        assert_eq!(c.sense_key(), Some((sk::NOT_READY, 0x04, ascq)), "{c:?}");
    };
    not_ready(&r.exec(tur()), 0x01);
    r.bus.run(100_000);
    not_ready(&r.exec(tur()), 0x02);
    not_ready(
        &r.exec(Request::new(2, 0, &read10(0, 1)).data_in(512)),
        0x02,
    );
    // INQUIRY works on a stopped drive.
    let c = r.exec(Request::new(2, 0, &[op::INQUIRY, 0, 0, 0, 36, 0]).data_in(36));
    assert_eq!(c.status(), Some(status::GOOD));
    let start = [op::START_STOP_UNIT, 0, 0, 0, 1, 0];
    assert_eq!(
        r.exec(Request::new(2, 0, &start)).status(),
        Some(status::GOOD)
    );
    not_ready(&r.exec(tur()), 0x01);
    r.bus.run(300_000);
    assert_eq!(r.exec(tur()).status(), Some(status::GOOD));
    let c = r.exec(Request::new(2, 0, &read10(0, 1)).data_in(512));
    assert_eq!(c.status(), Some(status::GOOD));
    // STOP: initializing command required again.
    let stop = [op::START_STOP_UNIT, 0, 0, 0, 0, 0];
    assert_eq!(
        r.exec(Request::new(2, 0, &stop)).status(),
        Some(status::GOOD)
    );
    not_ready(&r.exec(tur()), 0x02);
    r.assert_clean();
}

#[test]
fn message_out_parity_error_is_retried() {
    use scsi_bus::Rule;
    for sdtr in [false, true] {
        // Corrupt the IDENTIFY (byte 0) or the SDTR's period byte (byte 4).
        let mut ic = InitiatorConfig::new(7);
        ic.quirks.bad_parity_msg_out = Some(if sdtr { 4 } else { 0 });
        if sdtr {
            ic.negotiate = true;
            ic.sync = Some((0x0C, 15));
        }
        let mut tc = TargetConfig::new(2);
        tc.msg_out_retry = true;
        let mut r = rig_with("", tc, ic);
        let c = r.exec(Request::new(2, 0, &read10(0, 1)).data_in(512));
        assert_eq!(c.status(), Some(status::GOOD), "{c:?}");
        assert!(r.ini().events.iter().any(|e| e == "MESSAGE OUT retry"));
        assert_eq!(r.tgt(0).stats.parity_errors, 1);
        if sdtr {
            assert_eq!(r.ini().agreement(2).offset, 15, "SDTR agreed on the retry");
        }
        r.assert_rules(&[Rule::Parity]);
    }
    // A target without the retry ends the task ABORTED COMMAND, SCSI PARITY ERROR.
    let mut ic = InitiatorConfig::new(7);
    ic.quirks.bad_parity_msg_out = Some(0);
    let mut r = rig_with("", TargetConfig::new(2), ic);
    let c = r.exec(Request::new(2, 0, &read10(0, 1)).data_in(512));
    assert_eq!(c.sense_key(), Some((sk::ABORTED_COMMAND, 0x47, 0)));
}
