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
