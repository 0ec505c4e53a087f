//! Negotiation by the firmware: WDTR then SDTR from the host's goal, counter-offers,
//! MESSAGE REJECT, target-initiated negotiation; the NEGOTIATED events, CURRENT and
//! the monitor's view of the agreement; data moved at the agreed rate.

use hba_abi::layout::{self, cqe::kind, target};
use hba_verif::fwrig::{disk_target, FwRig, OWN_ID};
use hba_verif::host::{Entry, Hcb};
use hba_verif::rig::{pattern, rw10};
use scsi_bus::target::TargetConfig;
use scsi_bus::Width;

const BUF: u32 = layout::DATA;

fn good(e: &Entry, slot: u32) {
    assert_eq!(e.kind(), kind::COMPLETION, "{e:x?}");
    assert_eq!(
        (e.hba_status(), e.scsi_status(), e.slot(), e.residual()),
        (0, 0, slot, 0),
        "{e:x?}"
    );
}

/// Runs one request, returning the NEGOTIATED events seen before its completion.
fn run_collect(rig: &mut FwRig, slot: u32, h: &Hcb) -> (Vec<Entry>, Entry) {
    rig.submit(&[(slot, h.clone())]);
    let mut neg = Vec::new();
    loop {
        let e = rig.next_entry(100_000_000);
        if e.kind() == kind::NEGOTIATED {
            neg.push(e);
        } else {
            return (neg, e);
        }
    }
}

#[test]
fn fast20_wide_then_64k_read() {
    let id = 12u32;
    let mut c = TargetConfig::new(id as u8);
    c.wide = true;
    let mut rig = FwRig::new(Width::Wide, vec![disk_target(c, 4096)]);
    rig.set_goal(id, 0x0C, 16, true);
    let len = 64 * 1024u32;
    let data = pattern(77, len as usize);
    rig.write_buf(BUF, &data);
    let (neg, e) = run_collect(
        &mut rig,
        1,
        &Hcb::new(id, 0, &rw10(0x2A, 10, 128), BUF, len, false),
    );
    good(&e, 1);
    // WDTR first (wide, async), then SDTR: Fast-20, the target's offset 15 (< our 16).
    assert_eq!(neg.len(), 2, "{neg:x?}\n{}", rig.log(30));
    assert_eq!(neg[0].words[3], id | (1 << 24), "{:x?}", neg[0]);
    assert_eq!(
        neg[1].words[3],
        id | (0x0C << 8) | (15 << 16) | (1 << 24),
        "{:x?}",
        neg[1]
    );
    let ag = rig.bus().monitor.agreement(OWN_ID as u8, id as u8);
    assert_eq!(
        (ag.period_factor, ag.offset, ag.wide),
        (0x0C, 15, true),
        "{ag:?}"
    );
    assert_eq!(rig.current(id), 0x0C | (15 << 8) | target::WIDE);
    assert_eq!(rig.disk_blocks(id as u8, 10, 128), data);
    // 64 KiB read back at Fast-20 wide, no new negotiation.
    rig.write_buf(BUF, &vec![0u8; len as usize]);
    let (neg, e) = run_collect(
        &mut rig,
        2,
        &Hcb::new(id, 0, &rw10(0x28, 10, 128), BUF, len, true),
    );
    good(&e, 2);
    assert!(neg.is_empty(), "{neg:x?}");
    assert_eq!(rig.read_buf(BUF, len as usize), data);
    assert!(
        rig.log(40)
            .contains("DATA IN 65536 bytes sync 50ns off 15 wide"),
        "{}",
        rig.log(20)
    );
    rig.assert_monitor_clean();
}

#[test]
fn fast10_narrow_with_odd_length_and_counter_offer() {
    let mut c = TargetConfig::new(3);
    c.sync = Some(scsi_bus::target::SyncCaps {
        min_period_factor: 0x19,
        max_offset: 8,
    });
    let mut rig = FwRig::new(Width::Narrow, vec![disk_target(c, 4096)]);
    rig.set_goal(3, 0x0C, 16, false);
    let data = pattern(5, 4096);
    rig.write_buf(BUF, &data);
    let (neg, e) = run_collect(
        &mut rig,
        1,
        &Hcb::new(3, 0, &rw10(0x2A, 0, 8), BUF, 4096, false),
    );
    good(&e, 1);
    assert_eq!(neg.len(), 1, "{neg:x?}");
    assert_eq!(
        neg[0].words[3],
        3 | (0x19 << 8) | (8 << 16),
        "{:x?}",
        neg[0]
    );
    let ag = rig.bus().monitor.agreement(OWN_ID as u8, 3);
    assert_eq!(
        (ag.period_factor, ag.offset, ag.wide),
        (0x19, 8, false),
        "{ag:?}"
    );
    let (_, e) = run_collect(
        &mut rig,
        2,
        &Hcb::new(3, 0, &rw10(0x28, 0, 8), BUF + 0x8000, 4096, true),
    );
    good(&e, 2);
    assert_eq!(rig.read_buf(BUF + 0x8000, 4096), data);
    rig.assert_monitor_clean();
}

#[test]
fn odd_length_wide_read_ignore_wide_residue() {
    let id = 9u32;
    let mut c = TargetConfig::new(id as u8);
    c.wide = true;
    let mut rig = FwRig::new(Width::Wide, vec![disk_target(c, 64)]);
    rig.set_goal(id, 0x19, 8, true);
    // INQUIRY with an odd allocation length: the target ends on an odd byte.
    let (_, e) = run_collect(
        &mut rig,
        1,
        &Hcb::new(id, 0, &[0x12, 0, 0, 0, 35, 0], BUF, 35, true),
    );
    good(&e, 1);
    let inq = rig.read_buf(BUF, 35);
    assert_eq!(inq[0], 0, "{inq:x?}");
    // A longer buffer than the data: residual, even with wide transfers.
    let (_, e) = run_collect(
        &mut rig,
        2,
        &Hcb::new(id, 0, &[0x12, 0, 0, 0, 35, 0], BUF, 100, true),
    );
    assert_eq!(
        (e.hba_status(), e.residual()),
        (0, 65),
        "{e:x?}\n{}",
        rig.log(20)
    );
    rig.assert_monitor_clean();
}

#[test]
fn message_reject_means_async_narrow() {
    let id = 5u32;
    let mut c = TargetConfig::new(id as u8);
    c.reject_negotiation = true;
    c.wide = true;
    let mut rig = FwRig::new(Width::Wide, vec![disk_target(c, 64)]);
    rig.set_goal(id, 0x0C, 15, true);
    let (neg, e) = run_collect(
        &mut rig,
        1,
        &Hcb::new(id, 0, &rw10(0x28, 0, 2), BUF, 1024, true),
    );
    good(&e, 1);
    assert!(!neg.is_empty(), "{}", rig.log(20));
    for n in &neg {
        assert_eq!(n.words[3], id, "{n:x?}");
    }
    assert_eq!(rig.current(id), 0);
    let ag = rig.bus().monitor.agreement(OWN_ID as u8, id as u8);
    assert_eq!((ag.offset, ag.wide), (0, false));
    // No renegotiation for the same goal.
    let (neg, e) = run_collect(
        &mut rig,
        2,
        &Hcb::new(id, 0, &rw10(0x28, 0, 2), BUF, 1024, true),
    );
    good(&e, 2);
    assert!(neg.is_empty());
    rig.assert_monitor_clean();
}

#[test]
fn target_initiated_negotiation_is_answered_within_the_goal() {
    let id = 10u32;
    let mut c = TargetConfig::new(id as u8);
    c.initiate_negotiation = true;
    c.wide = true;
    let mut rig = FwRig::new(Width::Wide, vec![disk_target(c, 64)]);
    // The host allows Fast-10 offset 8, narrow only.
    rig.set_goal(id, 0x19, 8, false);
    let data = pattern(9, 2048);
    rig.write_buf(BUF, &data);
    let (neg, e) = run_collect(
        &mut rig,
        1,
        &Hcb::new(id, 0, &rw10(0x2A, 0, 4), BUF, 2048, false),
    );
    good(&e, 1);
    eprintln!("{}", rig.log(20));
    assert!(!neg.is_empty());
    let ag = rig.bus().monitor.agreement(OWN_ID as u8, id as u8);
    assert_eq!(
        (ag.period_factor, ag.offset, ag.wide),
        (0x19, 8, false),
        "{ag:?}"
    );
    let (_, e) = run_collect(
        &mut rig,
        2,
        &Hcb::new(id, 0, &rw10(0x28, 0, 4), BUF + 0x1000, 2048, true),
    );
    good(&e, 2);
    assert_eq!(rig.read_buf(BUF + 0x1000, 2048), data);
    rig.assert_monitor_clean();
}
