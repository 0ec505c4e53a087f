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

/// 32 commands in flight across two disks (16 each, tagged, disconnecting), writes then
/// reads, every byte verified against the media. 32 x 4 KiB does not fit the card's data
/// area at once, so the SIM also runs out of card memory, freezes its queue and releases
/// it on a completion.
#[test]
fn verified_io_at_queue_depth_32_across_two_disks() {
    let mut r = two_disks_and_a_tape();
    let das = [r.da(0), r.da(1)];
    let mut ios = Vec::new();
    for i in 0..32u32 {
        let d = (i % 2) as usize;
        let data = pattern(1000 + i, 4096);
        let io = das[d]
            .write(&mut r.stack.xpt, u64::from(i / 2) * 8, data.clone())
            .unwrap();
        ios.push((d, i, io, data));
    }
    let mut written = Vec::new();
    for (d, i, io, data) in ios {
        let res = r.wait(io);
        assert!(res.is_ok(), "write {i}: {:?}", res.status);
        written.push((d, i, data));
    }
    for (d, i, data) in &written {
        assert_eq!(
            &r.disk_blocks(*d as u8, u64::from(i / 2) * 8, 8),
            data,
            "medium, write {i}"
        );
    }
    let ios: Vec<_> = written
        .iter()
        .map(|(d, i, data)| {
            let io = das[*d]
                .read(&mut r.stack.xpt, u64::from(i / 2) * 8, 8)
                .unwrap();
            (io, data.clone())
        })
        .collect();
    for (io, data) in ios {
        let res = r.wait(io);
        assert!(res.is_ok(), "{:?}", res.status);
        assert_eq!(res.data, data);
    }
    // The targets really held several tagged commands at once and disconnected.
    for id in [0u8, 1] {
        let st = r.target(id, |t| t.stats.clone());
        assert!(st.reselections >= 16, "target {id}: {st:?}");
        let tags: std::collections::BTreeSet<_> =
            st.service_order.iter().filter_map(|s| s.2).collect();
        assert!(
            tags.len() > 4,
            "several tags in use on target {id}: {tags:?}"
        );
    }
    let c = r.stack.report().counters.clone();
    assert!(
        c.shortages >= 1,
        "card memory ran out at QD32 x 4 KiB: {c:?}"
    );
    assert!(c.doorbells < c.submitted, "one doorbell per batch: {c:?}");
    r.check(true);
}

/// 64 KiB reads: one fits the data area, two do not. The second is turned back with the
/// SIM queue frozen and goes out once the first completes.
#[test]
fn shortage_of_card_memory_freezes_and_releases_the_sim_queue() {
    let mut r = two_disks_and_a_tape();
    let da = r.da(0);
    let data = pattern(5, 4 * 65536);
    let io = da
        .write(&mut r.stack.xpt, 0, data[..65536].to_vec())
        .unwrap();
    assert!(r.wait(io).is_ok());
    let ios: Vec<_> = (0..4u64)
        .map(|k| {
            da.write(
                &mut r.stack.xpt,
                128 * k,
                data[k as usize * 65536..][..65536].to_vec(),
            )
            .unwrap()
        })
        .collect();
    for io in ios {
        let res = r.wait(io);
        assert!(res.is_ok(), "{:?}", res.status);
    }
    assert_eq!(r.disk_blocks(0, 0, 512), data);
    let c = r.stack.report().counters.clone();
    assert!(c.shortages >= 1, "{c:?}");
    assert!(r.stack.report().log.iter().any(|l| matches!(
        l,
        hba_host_driver::sim::SimLog::Shortage {
            what: "card memory"
        }
    )));
    r.check(true);
}

/// A drive that starts SDTR on every selection: the SIM answers through the firmware and
/// never rewrites its goal, so no negotiation of the initiator's own follows.
#[test]
fn a_target_that_keeps_renegotiating_causes_no_loop() {
    let mut cfg = TargetConfig::new(2);
    cfg.initiate_negotiation = true;
    cfg.renegotiate_always = true;
    let mut r = SimRig::new(Width::Narrow, vec![disk(cfg, 1024)], SimRig::cfg()).unwrap();
    r.scan();
    let da = r.da(2);
    let before = r.stack.report().counters.clone();
    let goal0 = r.stack.report().goal[2];
    for k in 0..10u64 {
        let io = da.read(&mut r.stack.xpt, k, 1).unwrap();
        assert!(r.wait(io).is_ok());
    }
    let after = r.stack.report().counters.clone();
    assert_eq!(r.stack.report().goal[2], goal0, "the goal never moved");
    // Every command costs one selection; the messages the HBA sent stay one
    // IDENTIFY (+ tag) per selection plus the SDTR answers the target asked for.
    let sel = r.target(2, |t| t.stats.selections);
    assert!(sel >= 10);
    assert_eq!(after.submitted - before.submitted, 10);
    let log = r.log(400);
    let sdtr_from_target = log.matches("ID2->ID7 MSG IN 01 03 01").count();
    assert!(
        sdtr_from_target >= 10,
        "the target renegotiated every time:\n{log}"
    );
    r.check(true);
}

/// Injected parity errors in DATA IN at Fast-20: after the threshold the SIM lowers the
/// goal (offset, then period), the firmware renegotiates, and the transfers go on slower
/// with the right data.
#[test]
fn repeated_parity_errors_step_the_rate_down() {
    use scsi_bus::faults::{FaultAction, FaultConfig, FaultRule};
    use scsi_bus::Phase;
    let mut r = two_disks_and_a_tape();
    let da = r.da(0);
    let data = pattern(9, 4096);
    let io = da.write(&mut r.stack.xpt, 8, data.clone()).unwrap();
    assert!(r.wait(io).is_ok());
    let start = r.stack.report().current[0];
    assert_eq!(start.period, 0x0C);
    let faults = FaultConfig {
        seed: 3,
        rules: vec![FaultRule {
            // da reads with READ(6) here; match the blocks, not the opcode.
            opcode: None,
            lba: Some([8, 16]),
            lun: None,
            every_nth: None,
            first_n: Some(9),
            probability: None,
            action: FaultAction::Parity {
                phase: Phase::DataIn,
                byte: 100,
            },
        }],
        bus_reset_at_ns: vec![],
    };
    r.target(0, |t| t.set_faults(&faults));
    for _ in 0..9 {
        let io = da.read(&mut r.stack.xpt, 8, 8).unwrap();
        let res = r.wait(io);
        if res.is_ok() {
            assert_eq!(res.data, data);
        }
    }
    let rep = r.stack.report();
    let falls: Vec<_> = rep
        .log
        .iter()
        .filter(|l| {
            matches!(
                l,
                hba_host_driver::sim::SimLog::RateFallback { target: 0, .. }
            )
        })
        .collect();
    assert!(falls.len() >= 2, "{:?}", rep.log);
    let now = rep.current[0];
    drop(rep);
    assert!(
        now.period > start.period || now.offset < start.offset,
        "slower than {start:?}: {now:?}"
    );
    let io = da.read(&mut r.stack.xpt, 8, 8).unwrap();
    let res = r.wait(io);
    assert!(res.is_ok());
    assert_eq!(res.data, data);
    r.check(false);
}

/// PATH_INQ answers what the card does; requests it cannot carry are refused with the
/// CAM status FreeBSD uses, before anything reaches the card.
#[test]
fn path_inquiry_and_invalid_requests() {
    use hba_cam::ccb::{pi, Cdb, DataBuf, DataXfer};
    use hba_cam::xpt::Completion;
    use hba_cam::{CamStatus, Ccb, DevAddr};
    use std::time::Duration;
    let mut r = SimRig::new(
        Width::Narrow,
        vec![disk(TargetConfig::new(0), 1024)],
        SimRig::cfg(),
    )
    .unwrap();
    let p = r.stack.xpt.path_inq(r.stack.bus).expect("PATH_INQ");
    assert_eq!(p.initiator_id, 7);
    assert_eq!(p.max_target, 7);
    assert_eq!(p.max_lun, 7);
    assert_eq!(p.maxio, 64 * 1024);
    assert_eq!(p.hba_inquiry & pi::PI_WIDE_16, 0, "narrow bus");
    assert_ne!(p.hba_inquiry & pi::PI_SDTR_ABLE, 0);
    assert_ne!(p.hba_inquiry & pi::PI_TAG_ABLE, 0);
    let bus = r.stack.bus;
    let cases = [
        (DevAddr::new(bus, 7, 0), 512, CamStatus::TidInvalid),
        (DevAddr::new(bus, 9, 0), 512, CamStatus::TidInvalid),
        (DevAddr::new(bus, 0, 8), 512, CamStatus::LunInvalid),
        (DevAddr::new(bus, 0, 0), 128 * 1024, CamStatus::ReqTooBig),
    ];
    let before = r.stack.report().counters.submitted;
    for (addr, len, want) in cases {
        let c = Ccb::scsi_io(
            addr.path(),
            Cdb::new(&hba_verif::rig::rw10(0x28, 0, (len / 512) as u16)).unwrap(),
            DataXfer::In(DataBuf::Sg(vec![vec![0; len / 2], vec![0; len / 2]])),
            Duration::from_secs(1),
        );
        let id = r.stack.xpt.submit(c, Completion::Queue);
        let got = r.wait_ccb(id, Duration::from_millis(10));
        assert_eq!(got.h.status.status(), want, "{addr}");
    }
    assert_eq!(
        r.stack.report().counters.submitted,
        before,
        "nothing reached the card"
    );
    r.check(true);
}

/// With interrupts off the SIM polls, and an S/G read scatters into its segments.
#[test]
fn polling_without_interrupts_and_scatter_gather() {
    use hba_cam::ccb::{CcbBody, Cdb, DataBuf, DataXfer};
    use hba_cam::xpt::Completion;
    use hba_cam::Ccb;
    use std::time::Duration;
    let cfg = hba_host_driver::sim::SimConfig {
        interrupts: false,
        ..SimRig::cfg()
    };
    let mut r = SimRig::new(Width::Narrow, vec![disk(TargetConfig::new(0), 1024)], cfg).unwrap();
    r.scan();
    let msi0 = r.model(|m| m.msi_sent());
    let c = Ccb::scsi_io(
        r.addr(0).path(),
        Cdb::new(&hba_verif::rig::rw10(0x28, 3, 4)).unwrap(),
        DataXfer::In(DataBuf::Sg(vec![vec![0; 100], vec![0; 1948]])),
        Duration::from_secs(1),
    );
    let id = r.stack.xpt.submit(c, Completion::Queue);
    let c = r.wait_ccb(id, Duration::from_millis(20));
    assert!(c.h.status.is_ok(), "{:?}", c.h.status);
    let CcbBody::ScsiIo(io) = c.body else {
        panic!()
    };
    let DataXfer::In(DataBuf::Sg(segs)) = io.data else {
        panic!()
    };
    assert_eq!((segs[0].len(), segs[1].len()), (100, 1948));
    assert_eq!(segs.concat(), r.disk_blocks(0, 3, 4));
    assert_eq!(r.model(|m| m.msi_sent()), msi0, "no interrupt was raised");
    r.check(true);
}

/// A wide bus: WDTR then SDTR to Fast-20 wide (40 MB/s), data verified.
#[test]
fn wide_bus_negotiates_fast20_wide() {
    let mut cfg = TargetConfig::new(9);
    cfg.wide = true;
    let mut r = SimRig::new(Width::Wide, vec![disk(cfg, 2048)], SimRig::cfg()).unwrap();
    let p = r.stack.xpt.path_inq(r.stack.bus).unwrap();
    assert_eq!(p.max_target, 15);
    assert_ne!(p.hba_inquiry & hba_cam::ccb::pi::PI_WIDE_16, 0);
    let devs = r.scan();
    assert_eq!(devs.len(), 1);
    assert_eq!(devs[0].addr.target, 9);
    let cur = r.stack.report().current[9];
    assert!(cur.wide && cur.period == 0x0C, "{cur:?}");
    let da = r.da(9);
    let data = pattern(77, 16 * 512);
    let io = da.write(&mut r.stack.xpt, 32, data.clone()).unwrap();
    assert!(r.wait(io).is_ok());
    let io = da.read(&mut r.stack.xpt, 32, 16).unwrap();
    let res = r.wait(io);
    assert_eq!(res.data, data);
    r.check(true);
}

/// A request larger than the card's maxio (64 KiB) is split by `da` at the limit the
/// SIM reports, and completes once as a whole with every byte right.
#[test]
fn a_large_read_is_split_at_the_sims_maxio() {
    let mut r = two_disks_and_a_tape();
    let da = r.da(1);
    let data = pattern(21, 256 * 1024);
    let io = da.write(&mut r.stack.xpt, 1000, data.clone()).unwrap();
    assert!(r.wait(io).is_ok());
    let before = r.stack.report().counters.submitted;
    let io = da.read(&mut r.stack.xpt, 1000, 512).unwrap();
    let res = r.wait(io);
    assert!(res.is_ok(), "{:?}", res.status);
    assert_eq!(res.data, data);
    assert_eq!(
        r.stack.report().counters.submitted - before,
        4,
        "four 64 KiB commands"
    );
    r.check(true);
}
