//! Issue 13 defects: each test fails on the old behaviour.
mod common;
use common::*;
use scsi_bus::initiator::{Completion, InitiatorConfig, Request};
use scsi_bus::target::tape::{Record, Tape};
use scsi_bus::target::{Target, TargetConfig};
use scsi_bus::Width;
use scsi_defs::{opcode as op, status};

fn good(c: &Completion) {
    assert_eq!(c.status(), Some(status::GOOD), "{c:?}");
}

fn tape_write(n: u32) -> Vec<u8> {
    let b = n.to_be_bytes();
    vec![op::WRITE_6, 0, b[1], b[2], b[3], 0]
}

#[test]
fn write_filemarks_zero_only_flushes() {
    let mut t = Target::new(TargetConfig::new(4)).with_lun(0, Tape::new(64 * 1024));
    t.clear_unit_attention();
    let mut r = Rig::new(Width::Narrow, InitiatorConfig::new(7), vec![t], 13);
    for k in 0..3 {
        good(&r.exec(Request::new(4, 0, &tape_write(64)).data_out(pattern(k, 64))));
    }
    good(&r.exec(Request::new(4, 0, &[op::REWIND, 0, 0, 0, 0, 0])));
    good(&r.exec(Request::new(4, 0, &[op::SPACE_6, 0, 0, 0, 1, 0])));
    good(&r.exec(Request::new(4, 0, &[op::WRITE_FILEMARKS_6, 0, 0, 0, 0, 0])));
    let h = r.targets[0];
    let (len, pos, fm) = r
        .bus
        .device(h)
        .lun_mut::<Tape>(0)
        .map(|t| {
            let fm = t
                .medium()
                .iter()
                .filter(|x| matches!(x, Record::Filemark))
                .count();
            (t.medium().len(), t.position(), fm)
        })
        .unwrap_or_default();
    assert_eq!(
        (len, pos, fm),
        (3, 1, 0),
        "count 0 must not truncate or write"
    );
    // A count of 1 still writes (and truncates after) the position.
    good(&r.exec(Request::new(4, 0, &[op::WRITE_FILEMARKS_6, 0, 0, 0, 1, 0])));
    let len = r.bus.device(h).lun_mut::<Tape>(0).map(|t| t.medium().len());
    assert_eq!(len, Some(2));
    r.assert_clean();
}

#[test]
fn bus_free_after_reselection_identify_is_tied_to_the_command() {
    use scsi_bus::faults::FaultConfig;
    use scsi_bus::initiator::{Outcome, TagKind};
    use scsi_bus::target::disk::Disk;
    for tagged in [false, true] {
        let faults: FaultConfig = toml::from_str(
            "[[rule]]\nopcode = 0x28\nfirst_n = 1\naction = { kind = \"bus_free_after_reselect_identify\" }\n",
        )
        .expect("parse");
        let mut t = Target::new(TargetConfig::new(2))
            .with_lun(0, Disk::memory(64))
            .with_faults(&faults);
        t.clear_unit_attention();
        let mut r = Rig::new(Width::Narrow, InitiatorConfig::new(7), vec![t], 21);
        let req = Request::new(2, 0, &read10(0, 1)).data_in(512);
        let req = if tagged {
            req.tagged(TagKind::Simple)
        } else {
            req
        };
        let start = r.bus.cycle();
        let c = r.exec(req);
        assert_eq!(c.outcome, Outcome::UnexpectedBusFree, "tagged {tagged}");
        assert!(
            c.cycle - start < 100_000,
            "tied at once, not after the command timeout: {}",
            c.cycle - start
        );
        assert!(r
            .ini()
            .events
            .iter()
            .any(|e| e.contains("after reselection IDENTIFY")));
        assert!(r.bus.monitor.log_text().contains("RESELECTION"));
        assert!(!r.bus.monitor.log_text().contains("BUS RESET"));
        // The target dropped the task; the next command works.
        let c = r.exec(Request::new(2, 0, &read10(0, 1)).data_in(512));
        good(&c);
        // The monitor blames the target for the BUS FREE, and nothing else.
        r.assert_rules(&[scsi_bus::Rule::UnexpectedBusFree]);
        let v = r.bus.monitor.violations();
        assert_eq!(v.len(), 1, "{v:?}");
        let d = &v[0].detail;
        assert!(
            d.contains("after sending IDENTIFY") && d.contains("(target error)"),
            "{d}"
        );
    }
}

#[test]
fn initiator_sdtr_and_wdtr_do_not_ping_pong() {
    use scsi_bus::initiator::Outcome;
    use scsi_bus::target::disk::Disk;
    use scsi_defs::msg;
    for (width, m) in [
        (
            Width::Narrow,
            vec![msg::EXTENDED, 3, msg::ext::SDTR, 0x0c, 15],
        ),
        (
            Width::Wide,
            vec![msg::EXTENDED, 2, msg::ext::WDTR, msg::ext::WIDTH_16],
        ),
    ] {
        let mut tc = TargetConfig::new(2);
        tc.wide = width == Width::Wide;
        let mut t = Target::new(tc).with_lun(0, Disk::memory(64));
        t.clear_unit_attention();
        let mut ic = InitiatorConfig::new(7);
        ic.sync = Some((0x0c, 15));
        ic.wide = width == Width::Wide;
        let mut r = Rig::new(width, ic, vec![t], 22);
        let req = Request {
            target: 2,
            messages: m.clone(),
            ..Request::default()
        };
        let c = r.exec(req);
        assert_eq!(c.outcome, Outcome::MessageDelivered, "{m:02x?}");
        let log = r.bus.monitor.log_text();
        let name = if m[2] == msg::ext::SDTR {
            "(SDTR"
        } else {
            "(WDTR"
        };
        let n = log
            .lines()
            .filter(|l| l.contains(name) || l.contains(&format!("; {}", &name[1..])))
            .count();
        assert_eq!(n, 2, "one message and one answer:\n{log}");
        let a = r.ini().agreement(2);
        if m[2] == msg::ext::SDTR {
            assert_eq!((a.period_factor, a.offset), (0x0c, 15));
        } else {
            assert!(a.wide);
        }
        good(&r.exec(Request::new(2, 0, &read10(0, 2)).data_in(1024)));
        // No NegotiationLoop (the old ping-pong was flagged by it, see tests/rules.rs).
        r.assert_clean();
    }
}
