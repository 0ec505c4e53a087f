//! XPT mechanisms: queues, freezes, openings, priorities, XPT_ABORT, XPT_REL_SIMQ, async
//! events, immediate function codes, bus scan and probe.

use super::*;
use crate::async_event::*;
use crate::ccb::*;
use crate::devq::FreezeError;
use crate::path::Path;
use crate::status::{CamStatus, CAM_SIM_QUEUED};
use crate::testing::Fault;
use crate::xpt::{Completion, XptError, XptLog};
use scsi_defs::opcode as op;
use std::time::Duration;

fn tur_ccb(a: DevAddr) -> Ccb {
    Ccb::scsi_io(
        a.path(),
        Cdb::new(&crate::scsi_cmd::tur()).unwrap(),
        DataXfer::None,
        Duration::from_secs(5),
    )
}

fn done_ids(r: &mut Rig) -> Vec<(CcbId, CamStatus)> {
    r.xpt
        .take_completed()
        .into_iter()
        .map(|c| (c.h.id, c.h.status.status()))
        .collect()
}

#[test]
fn release_never_goes_below_zero() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(10, 512))]);
    let a = r.addr(0);
    assert_eq!(r.xpt.freeze_devq(a, 2), Ok(2));
    assert_eq!(
        r.xpt.release_devq(a, 3),
        Err(XptError::Freeze(FreezeError::Underflow {
            requested: 3,
            present: 2
        }))
    );
    assert_eq!(r.xpt.devq_frozen(a), 2);
    assert_eq!(r.xpt.release_devq(a, 2), Ok(0));
    assert!(r.xpt.release_simq(r.bus, 1).is_err());
    assert_eq!(r.xpt.freeze_simq(r.bus, 1), Ok(1));
    assert_eq!(r.xpt.release_simq(r.bus, 1), Ok(0));
}

#[test]
fn frozen_devq_holds_normal_but_passes_priority_and_recovery() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(10, 512))]);
    let a = r.addr(0);
    r.xpt.freeze_devq(a, 1).unwrap();
    let n = r.xpt.submit(tur_ccb(a), Completion::Queue);
    let mut p = tur_ccb(a);
    p.h.class = DispatchClass::Priority;
    let p = r.xpt.submit(p, Completion::Queue);
    let mut q = tur_ccb(a);
    q.h.class = DispatchClass::Recovery;
    let q = r.xpt.submit(q, Completion::Queue);
    r.xpt.run_until_idle();
    let got: Vec<CcbId> = done_ids(&mut r).into_iter().map(|x| x.0).collect();
    assert_eq!(
        got,
        vec![q, p],
        "recovery first, then priority; normal held"
    );
    r.xpt.release_devq(a, 1).unwrap();
    r.xpt.run_until_idle();
    assert_eq!(done_ids(&mut r), vec![(n, CamStatus::ReqCmp)]);
    // Same through a frozen SIM queue.
    r.xpt.freeze_simq(r.bus, 1).unwrap();
    let n = r.xpt.submit(tur_ccb(a), Completion::Queue);
    let mut p = tur_ccb(a);
    p.h.class = DispatchClass::Priority;
    let p = r.xpt.submit(p, Completion::Queue);
    r.xpt.run_until_idle();
    assert_eq!(done_ids(&mut r), vec![(p, CamStatus::ReqCmp)]);
    r.xpt.release_simq(r.bus, 1).unwrap();
    r.xpt.run_until_idle();
    assert_eq!(done_ids(&mut r), vec![(n, CamStatus::ReqCmp)]);
    assert_eq!(r.xpt.stats().frozen_violations, 0);
}

#[test]
fn priorities_order_dispatch_and_openings_limit_it() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(10, 512))]);
    r.mock.borrow_mut().latency = Duration::from_millis(1);
    let a = r.addr(0);
    r.xpt.set_dev_openings(a, 1).unwrap();
    let mut ids = Vec::new();
    for pr in [
        priority::CAM_PRIORITY_NORMAL,
        priority::CAM_PRIORITY_DEV,
        priority::CAM_PRIORITY_NORMAL,
        priority::CAM_PRIORITY_HOST,
    ] {
        let mut c = tur_ccb(a);
        c.h.priority = pr;
        ids.push(r.xpt.submit(c, Completion::Queue));
    }
    r.xpt.run_until_idle();
    assert_eq!(r.mock.borrow().in_flight(), 1, "one opening");
    r.xpt.run_until_quiescent(100);
    let order: Vec<CcbId> = r.mock.borrow().issued.iter().map(|i| i.id).collect();
    // All were queued before the first dispatch: by priority, FIFO within a priority.
    assert_eq!(order, vec![ids[3], ids[1], ids[0], ids[2]]);
}

#[test]
fn tagged_devices_get_more_openings() {
    let mut r = rig(vec![
        (0, 0, MockDevice::disk(10, 512)),
        (1, 0, {
            let mut d = MockDevice::disk(10, 512);
            d.inq_flags = 0;
            d
        }),
    ]);
    r.scan();
    assert_eq!(r.xpt.dev_openings(r.addr(0)), Some(16));
    assert_eq!(r.xpt.dev_openings(r.addr(1)), Some(1));
    r.mock.borrow_mut().latency = Duration::from_millis(1);
    for t in [0, 1] {
        for _ in 0..5 {
            r.xpt.submit(tur_ccb(r.addr(t)), Completion::Queue);
        }
    }
    r.xpt.run_until_idle();
    assert_eq!(r.mock.borrow().in_flight(), 6);
    r.xpt.run_until_quiescent(100);
    assert_eq!(r.xpt.take_completed().len(), 10);
    r.assert_quiescent();
}

#[test]
fn abort_of_ccb_in_xpt_queue_and_at_sim() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(10, 512))]);
    let a = r.addr(0);
    r.xpt.freeze_devq(a, 1).unwrap();
    let victim = r.xpt.submit(tur_ccb(a), Completion::Queue);
    let ab = r.xpt.submit(
        Ccb::new(a.path(), CcbBody::Abort(Abort { abort_ccb: victim })),
        Completion::Queue,
    );
    r.xpt.run_until_idle();
    let done = r.xpt.take_completed();
    let got: Vec<(CcbId, CamStatus)> = done.iter().map(|c| (c.h.id, c.h.status.status())).collect();
    assert_eq!(
        got,
        vec![(victim, CamStatus::ReqAborted), (ab, CamStatus::ReqCmp)]
    );
    // FreeBSD: the victim comes back CAM_REQ_ABORTED|CAM_DEV_QFRZN with its devq frozen.
    assert!(done[0].h.status.has(crate::status::CAM_DEV_QFRZN));
    assert_eq!(r.xpt.devq_frozen(a), 2, "our freeze and the abort's");
    r.xpt.release_devq(a, 1).unwrap();
    // The victim's owner releases the abort's freeze.
    r.xpt.release_devq(a, 1).unwrap();
    assert_eq!(r.xpt.devq_frozen(a), 0);
    // At the SIM: forwarded.
    r.mock
        .borrow_mut()
        .rule(Some(0), Some(op::TEST_UNIT_READY), Fault::Lose, 1);
    let victim = r.xpt.submit(tur_ccb(a), Completion::Queue);
    r.xpt.run_until_idle();
    let ab = r.xpt.submit(
        Ccb::new(a.path(), CcbBody::Abort(Abort { abort_ccb: victim })),
        Completion::Queue,
    );
    r.xpt.run_until_idle();
    let d = done_ids(&mut r);
    assert!(d.contains(&(victim, CamStatus::ReqAborted)) && d.contains(&(ab, CamStatus::ReqCmp)));
    // Unknown CCB.
    let ab = r.xpt.submit(
        Ccb::new(
            a.path(),
            CcbBody::Abort(Abort {
                abort_ccb: CcbId(999_999),
            }),
        ),
        Completion::Queue,
    );
    r.xpt.run_until_idle();
    assert_eq!(done_ids(&mut r), vec![(ab, CamStatus::UaAbort)]);
    // The lost TUR left a devq freeze from the SIM's error; release it as its owner.
    r.xpt.release_devq(a, 1).unwrap();
    r.assert_quiescent();
}

fn relsim(r: &mut Rig, a: DevAddr, flags: u32, openings: u32, timeout: u32) -> (CamStatus, u32) {
    let id = r.xpt.submit(
        Ccb::new(
            a.path(),
            CcbBody::RelSim(RelSim {
                release_flags: flags,
                openings,
                release_timeout: timeout,
                qfrozen_cnt: 0,
            }),
        ),
        Completion::Queue,
    );
    r.xpt.run_until_idle();
    let c = r
        .xpt
        .take_completed()
        .into_iter()
        .find(|c| c.h.id == id)
        .unwrap();
    let CcbBody::RelSim(rs) = c.body else {
        panic!()
    };
    (c.h.status.status(), rs.qfrozen_cnt)
}

#[test]
fn rel_simq_variants() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(10, 512))]);
    let a = r.addr(0);
    r.xpt.freeze_devq(a, 1).unwrap();
    // Immediate release, plus openings.
    assert_eq!(
        relsim(&mut r, a, relsim::RELSIM_ADJUST_OPENINGS, 7, 0),
        (CamStatus::ReqCmp, 0)
    );
    assert_eq!(r.xpt.dev_openings(a), Some(7));
    // Nothing frozen: refused, count stays 0.
    assert_eq!(relsim(&mut r, a, 0, 0, 0), (CamStatus::ReqInvalid, 0));
    // Openings only, nothing frozen: accepted (camcontrol tags), count stays 0.
    assert_eq!(
        relsim(&mut r, a, relsim::RELSIM_ADJUST_OPENINGS, 3, 0),
        (CamStatus::ReqCmp, 0)
    );
    assert_eq!(r.xpt.dev_openings(a), Some(3));
    // After timeout.
    r.xpt.freeze_devq(a, 1).unwrap();
    assert_eq!(
        relsim(&mut r, a, relsim::RELSIM_RELEASE_AFTER_TIMEOUT, 0, 500),
        (CamStatus::ReqCmp, 1)
    );
    r.clock.advance(Duration::from_millis(499));
    r.xpt.run_until_idle();
    assert_eq!(r.xpt.devq_frozen(a), 1);
    r.clock.advance(Duration::from_millis(1));
    r.xpt.run_until_idle();
    assert_eq!(r.xpt.devq_frozen(a), 0);
    // After command complete / queue empty, with two commands outstanding.
    r.mock.borrow_mut().latency = Duration::from_millis(10);
    r.xpt.set_dev_openings(a, 4).unwrap();
    r.xpt.submit(tur_ccb(a), Completion::Queue);
    r.xpt.submit(tur_ccb(a), Completion::Queue);
    r.xpt.run_until_idle();
    r.xpt.freeze_devq(a, 2).unwrap();
    assert_eq!(
        relsim(&mut r, a, relsim::RELSIM_RELEASE_AFTER_CMDCMPLT, 0, 0).1,
        2
    );
    assert_eq!(
        relsim(&mut r, a, relsim::RELSIM_RELEASE_AFTER_QEMPTY, 0, 0).1,
        2
    );
    r.clock.advance(Duration::from_millis(10));
    r.xpt.run_until_idle();
    assert_eq!(r.xpt.devq_frozen(a), 0);
    assert_eq!(r.xpt.take_completed().len(), 2);
    // QEMPTY with nothing active releases at once.
    r.xpt.freeze_devq(a, 1).unwrap();
    assert_eq!(
        relsim(&mut r, a, relsim::RELSIM_RELEASE_AFTER_QEMPTY, 0, 0),
        (CamStatus::ReqCmp, 0)
    );
    r.assert_quiescent();
}

#[test]
fn async_events_are_delivered_by_mask_and_path() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let mut r = rig(vec![
        (0, 0, MockDevice::disk(10, 512)),
        (2, 0, MockDevice::disk(10, 512)),
    ]);
    let seen: Rc<RefCell<Vec<(u32, Path)>>> = Default::default();
    let s2 = seen.clone();
    let h = r.xpt.register_async(
        Path::wildcard(),
        AC_FOUND_DEVICE | AC_TRANSFER_NEG | AC_BUS_RESET | AC_SENT_BDR,
        Box::new(move |e| s2.borrow_mut().push((e.code, e.path))),
    );
    let only2: Rc<RefCell<u32>> = Default::default();
    let o2 = only2.clone();
    r.xpt.register_async(
        Path::device(r.bus, 2, 0),
        AC_ALL,
        Box::new(move |_| *o2.borrow_mut() += 1),
    );
    r.scan();
    let codes: Vec<u32> = seen.borrow().iter().map(|x| x.0).collect();
    assert_eq!(
        codes,
        vec![
            AC_TRANSFER_NEG,
            AC_FOUND_DEVICE,
            AC_TRANSFER_NEG,
            AC_FOUND_DEVICE
        ]
    );
    // AC_PATH_REGISTERED (bus-wide) plus target 2's own two events; not target 0's.
    assert_eq!(*only2.borrow(), 3, "only target 2's events");
    // Bus reset through XPT_RESET_BUS: AC_BUS_RESET on the bus wildcard.
    r.xpt.submit(
        Ccb::new(Path::bus(r.bus), CcbBody::ResetBus),
        Completion::Queue,
    );
    r.xpt.run_until_idle();
    assert_eq!(
        seen.borrow().last().unwrap(),
        &(AC_BUS_RESET, Path::bus(r.bus))
    );
    assert_eq!(
        *only2.borrow(),
        4,
        "bus-wide event reaches a device registration"
    );
    // XPT_RESET_DEV: AC_SENT_BDR.
    r.xpt.submit(
        Ccb::new(r.addr(0).path(), CcbBody::ResetDev),
        Completion::Queue,
    );
    r.xpt.run_until_idle();
    assert_eq!(seen.borrow().last().unwrap().0, AC_SENT_BDR);
    // XPT_SASYNC_CB with mask 0 removes the registration.
    let id = r.xpt.submit(
        Ccb::new(
            Path::wildcard(),
            CcbBody::SetAsync(SetAsync {
                event_enable: 0,
                handle: h,
            }),
        ),
        Completion::Queue,
    );
    r.xpt.run_until_idle();
    assert!(r
        .xpt
        .take_completed()
        .iter()
        .any(|c| c.h.id == id && c.h.status.is_ok()));
    let before = seen.borrow().len();
    r.xpt.submit(
        Ccb::new(Path::bus(r.bus), CcbBody::ResetBus),
        Completion::Queue,
    );
    r.xpt.run_until_idle();
    assert_eq!(seen.borrow().len(), before);
}

#[test]
fn bus_reset_requeues_outstanding_as_innocent_bystanders() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(100, 512))]);
    r.scan();
    let da = r.da(0);
    r.mock.borrow_mut().latency = Duration::from_millis(5);
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    r.xpt.run_until_idle();
    assert_eq!(r.mock.borrow().in_flight(), 1);
    r.xpt.submit(
        Ccb::new(Path::bus(r.bus), CcbBody::ResetBus),
        Completion::Queue,
    );
    let res = r.xpt.wait_io(io).unwrap();
    assert!(res.is_ok(), "{res:?}");
    let reads = r
        .mock
        .borrow()
        .issued
        .iter()
        .filter(|i| i.cdb[0] == op::READ_6)
        .count();
    assert_eq!(reads, 2);
    r.xpt.take_completed();
    r.assert_quiescent();
}

#[test]
fn immediate_codes_path_inq_geometry_tran_settings() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(10, 512))]);
    let pi = r.xpt.path_inq(r.bus).unwrap();
    assert_eq!((pi.max_target, pi.initiator_id), (7, 7));
    let mut g = CalcGeometry {
        block_size: 512,
        volume_size: 4 * 1024 * 1024,
        ..Default::default()
    };
    let id = r.xpt.submit(
        Ccb::new(r.addr(0).path(), CcbBody::CalcGeometry(g)),
        Completion::Queue,
    );
    r.xpt.run_until_idle();
    let c = r
        .xpt
        .take_completed()
        .into_iter()
        .find(|c| c.h.id == id)
        .unwrap();
    let CcbBody::CalcGeometry(out) = c.body else {
        panic!()
    };
    assert!(g.compute(true));
    assert_eq!(
        (out.heads, out.secs_per_track, out.cylinders),
        (255, 63, g.cylinders)
    );
    let mut small = CalcGeometry {
        block_size: 512,
        volume_size: 2048,
        ..Default::default()
    };
    assert!(small.compute(true));
    assert_eq!(
        (small.heads, small.secs_per_track, small.cylinders),
        (64, 32, 1)
    );
    let set = TranSettings {
        kind: TranType::Current,
        spi: SpiSettings {
            sync_offset: Some(8),
            ..Default::default()
        },
        tq_enb: Some(false),
    };
    r.xpt.submit(
        Ccb::new(r.addr(0).path(), CcbBody::SetTranSettings(set)),
        Completion::Queue,
    );
    let id = r.xpt.submit(
        Ccb::new(
            r.addr(0).path(),
            CcbBody::GetTranSettings(TranSettings::default()),
        ),
        Completion::Queue,
    );
    r.xpt.run_until_idle();
    let c = r
        .xpt
        .take_completed()
        .into_iter()
        .find(|c| c.h.id == id)
        .unwrap();
    assert_eq!(c.body, CcbBody::GetTranSettings(set));
    // Wildcard path on a dev-queued code is refused.
    let id = r.xpt.submit(
        Ccb::scsi_io(
            Path::bus(r.bus),
            Cdb::new(&[0; 6]).unwrap(),
            DataXfer::None,
            Duration::from_secs(1),
        ),
        Completion::Queue,
    );
    r.xpt.run_until_idle();
    assert_eq!(done_ids(&mut r), vec![(id, CamStatus::PathInvalid)]);
}

#[test]
fn probe_report_luns_negotiation_and_absent_targets() {
    let mut d1 = MockDevice::disk(10, 512);
    d1.serial = "L2".into();
    let mut r = rig(vec![
        (0, 0, MockDevice::disk(10, 512)),
        (0, 2, d1),
        (4, 0, MockDevice::tape()),
    ]);
    r.scan();
    let addrs: Vec<DevAddr> = r.xpt.devices().iter().map(|d| d.addr).collect();
    assert_eq!(
        addrs,
        vec![
            DevAddr::new(r.bus, 0, 0),
            DevAddr::new(r.bus, 0, 2),
            DevAddr::new(r.bus, 4, 0)
        ]
    );
    let issued = r.mock.borrow().issued.clone();
    let rl: Vec<u32> = issued
        .iter()
        .filter(|i| i.cdb[0] == op::REPORT_LUNS)
        .map(|i| i.addr.target)
        .collect();
    assert_eq!(rl, vec![0], "REPORT LUNS only for the SCSI-3 disk's LUN 0");
    let devs = r.xpt.devices();
    assert_eq!(devs[1].serial.as_deref(), Some("L2"));
    // Negotiation: the disk supports wide/sync/tags, the tape is narrow and untagged.
    let t0 = devs[0].tran.unwrap();
    assert_eq!(
        (t0.spi.bus_width, t0.spi.sync_offset, t0.tq_enb),
        (Some(1), Some(15), Some(true))
    );
    let t4 = devs[2].tran.unwrap();
    assert_eq!((t4.spi.bus_width, t4.tq_enb), (Some(0), Some(false)));
    // No device: selection timeout ends the probe of a target after TUR.
    assert!(!issued.iter().any(|i| i.addr.target == 5));
    r.assert_quiescent();
}

#[test]
fn rescan_reports_lost_device_and_invalidates_periphs() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let mut r = rig(vec![
        (0, 0, MockDevice::disk(10, 512)),
        (1, 0, MockDevice::disk(10, 512)),
    ]);
    r.scan();
    let da = r.da(1);
    let lost: Rc<RefCell<Vec<Path>>> = Default::default();
    let l2 = lost.clone();
    r.xpt.register_async(
        Path::wildcard(),
        AC_LOST_DEVICE,
        Box::new(move |e| l2.borrow_mut().push(e.path)),
    );
    r.mock.borrow_mut().devices.remove(&(1, 0));
    r.scan();
    assert_eq!(lost.borrow().as_slice(), &[r.addr(1).path()]);
    assert!(r
        .xpt
        .devices()
        .iter()
        .any(|d| d.addr == r.addr(1) && d.lost));
    assert_eq!(
        da.read(&mut r.xpt, 0, 1),
        Err(crate::periph::PeriphError::Invalid)
    );
    assert!(r.xpt.periphs_of(r.addr(1)).is_empty());
    // It comes back: a rescan attaches fresh periphs; the old handle stays invalid.
    r.mock.borrow_mut().add(1, 0, MockDevice::disk(10, 512));
    r.scan();
    assert!(r
        .xpt
        .devices()
        .iter()
        .any(|d| d.addr == r.addr(1) && !d.lost));
    let da2 = r.da(1);
    assert_ne!(da2, da);
    let io = da2.read(&mut r.xpt, 0, 1).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    assert_eq!(
        da.read(&mut r.xpt, 0, 1),
        Err(crate::periph::PeriphError::Invalid)
    );
    r.assert_quiescent();
}

#[test]
fn resource_shortage_requeues_below_owner_and_releases_simq() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(10, 512))]);
    let a = r.addr(0);
    r.mock
        .borrow_mut()
        .rule(Some(0), Some(op::TEST_UNIT_READY), Fault::Shortage, 1);
    let id = r.xpt.submit(tur_ccb(a), Completion::Queue);
    r.xpt.run_until_quiescent(10);
    let done = r.xpt.take_completed();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].h.id, id);
    assert!(done[0].h.status.is_ok() && done[0].h.status.has(CAM_SIM_QUEUED));
    assert!(r
        .xpt
        .log()
        .contains(&XptLog::RequeuedNeverIssued { id, addr: a }));
    assert_eq!(
        r.mock.borrow().issued.len(),
        1,
        "issued to the adapter once"
    );
    r.assert_quiescent();
}

#[test]
fn xpt_requeue_of_unissued_ccbs_is_bounded() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(10, 512))]);
    r.mock
        .borrow_mut()
        .rule(Some(0), None, Fault::TurnBack, 1000);
    let id = r.xpt.submit(tur_ccb(r.addr(0)), Completion::Queue);
    // Paced on the clock (see requeue_is_paced_on_the_clock): let time pass.
    r.xpt.run_until_quiescent(1000);
    assert_eq!(done_ids(&mut r), vec![(id, CamStatus::RequeueReq)]);
    let left = r.mock.borrow().rules[0].times;
    assert_eq!(1000 - left, crate::xpt::XPT_REQUEUE_LIMIT + 1);
    assert!(r.mock.borrow().issued.is_empty());
}

#[test]
fn dis_autosense_leaves_sense_unread() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(10, 512))]);
    r.mock.borrow_mut().rule(
        Some(0),
        None,
        Fault::Check {
            key: 3,
            asc: 0x11,
            ascq: 0,
        },
        2,
    );
    let mut c = tur_ccb(r.addr(0));
    c.h.dis_autosense = true;
    r.xpt.submit(c, Completion::Queue);
    r.xpt.submit(tur_ccb(r.addr(0)), Completion::Queue);
    r.xpt.run_until_idle();
    r.xpt.release_devq(r.addr(0), 1).unwrap();
    r.xpt.run_until_idle();
    r.xpt.release_devq(r.addr(0), 1).unwrap();
    let done = r.xpt.take_completed();
    assert!(
        !done[0].h.status.has(crate::status::CAM_AUTOSNS_VALID)
            && done[0].scsiio().unwrap().sense.is_empty()
    );
    assert!(done[1].h.status.has(crate::status::CAM_AUTOSNS_VALID));
    assert_eq!(crate::recovery::ccb_sense(&done[1]).unwrap().asc, 0x11);
    assert_eq!(
        done[0].flags_word() & flags::CAM_DIS_AUTOSENSE,
        flags::CAM_DIS_AUTOSENSE
    );
}

#[test]
fn simq_size_bounds_concurrency_across_devices() {
    let params = crate::sim::SimParams {
        simq_size: 3,
        max_tagged_dev_transactions: 8,
        ..Default::default()
    };
    let mut r = rig_with(
        vec![
            (0, 0, MockDevice::disk(10, 512)),
            (1, 0, MockDevice::disk(10, 512)),
        ],
        params,
    );
    r.scan();
    assert_eq!(r.xpt.dev_openings(r.addr(0)), Some(8));
    r.mock.borrow_mut().latency = Duration::from_millis(1);
    for i in 0..8 {
        r.xpt.submit(tur_ccb(r.addr(i % 2)), Completion::Queue);
    }
    r.xpt.run_until_idle();
    assert_eq!(r.mock.borrow().in_flight(), 3);
    // Round robin between the devices.
    let t: Vec<u32> = r
        .mock
        .borrow()
        .issued
        .iter()
        .rev()
        .take(3)
        .map(|i| i.addr.target)
        .collect();
    assert!(t.contains(&0) && t.contains(&1));
    r.xpt.run_until_quiescent(100);
    assert_eq!(r.xpt.take_completed().len(), 8);
    assert!(crate::periph::da::DaHandle::for_device(&r.xpt, r.addr(0)).is_some());
    assert!(crate::periph::sa::SaHandle::for_device(&r.xpt, r.addr(0)).is_none());
    assert!(crate::periph::pass::PassHandle::for_device(&r.xpt, r.addr(1)).is_some());
    r.assert_quiescent();
}

#[test]
fn take_completed_id_takes_one_ccb_and_leaves_the_others_queued() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(10, 512))]);
    r.scan();
    let a = r.addr(0);
    let tur = || {
        Ccb::scsi_io(
            a.path(),
            Cdb::new(&crate::scsi_cmd::tur()).unwrap(),
            DataXfer::None,
            Duration::from_secs(5),
        )
    };
    let first = r.xpt.submit(tur(), Completion::Queue);
    let second = r.xpt.submit(tur(), Completion::Queue);
    r.xpt.run_until_idle();
    assert!(r.xpt.take_completed_id(CcbId(u64::MAX)).is_none());
    let c = r.xpt.take_completed_id(second).expect("second done");
    assert_eq!(c.h.id, second);
    assert!(r.xpt.take_completed_id(second).is_none(), "taken once");
    let rest = r.xpt.take_completed();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].h.id, first, "the other CCB stayed for its owner");
    r.assert_quiescent();
}
