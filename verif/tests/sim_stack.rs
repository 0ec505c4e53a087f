//! The whole stack on the co-simulated card: periph → XPT → SIM → rings → sequencer →
//! pin-level bus → target models, and back. Every test ends with the invariants of
//! `SimRig::check` (nothing lost or completed twice, every freeze released).

use hba_verif::rig::pattern;
use hba_verif::simrig::{disk, tape, SimRig};
use scsi_bus::target::TargetConfig;
use scsi_bus::Width;
use scsi_defs::inquiry;

fn two_disks_and_a_tape() -> SimRig {
    let mut r = SimRig::new(
        Width::Narrow,
        vec![
            disk(TargetConfig::new(0), 4096),
            disk(TargetConfig::new(1), 4096),
            tape(TargetConfig::new(4), 1 << 20),
        ],
        SimRig::cfg(),
    )
    .expect("attach");
    let devs = r.scan();
    let types: Vec<(u32, u8)> = devs
        .iter()
        .map(|d| {
            (
                d.addr.target,
                d.inquiry.as_ref().expect("inquiry").device_type,
            )
        })
        .collect();
    assert_eq!(
        types,
        vec![
            (0, inquiry::TYPE_DIRECT_ACCESS),
            (1, inquiry::TYPE_DIRECT_ACCESS),
            (4, inquiry::TYPE_SEQUENTIAL_ACCESS)
        ],
        "{devs:#?}"
    );
    r
}

#[test]
fn scan_finds_two_disks_and_a_tape() {
    let mut r = two_disks_and_a_tape();
    // The probe negotiated Fast-20 with the disks (targets allow offset 15).
    let cur = r.stack.report().current.clone();
    assert_eq!(cur[0].period, 0x0C, "{cur:?}");
    assert_eq!(cur[0].offset, 15);
    r.check(true);
}

#[test]
fn verified_reads_and_writes_at_queue_depth_one() {
    let mut r = two_disks_and_a_tape();
    for id in [0u32, 1] {
        let da = r.da(id);
        let data = pattern(id + 7, 8 * 512);
        let io = da.write(&mut r.stack.xpt, 100, data.clone()).unwrap();
        assert!(r.wait(io).is_ok());
        assert_eq!(r.disk_blocks(id as u8, 100, 8), data, "on the medium");
        let io = da.read(&mut r.stack.xpt, 100, 8).unwrap();
        let res = r.wait(io);
        assert!(res.is_ok(), "{:?}", res.status);
        assert_eq!(res.data, data, "read back through the stack");
    }
    r.check(true);
}
