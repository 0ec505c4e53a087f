//! The seeds' recovery models, one test (or more) each.

use super::*;
use crate::ccb::{Ccb, Cdb, DataXfer, DispatchClass};
use crate::devq::FreezeError;
use crate::gauntlet::{Gauntlet, GauntletError, GauntletJob};
use crate::periph::PeriphId;
use crate::sim::{SimCtx, SimRecovery, SimRecoveryError};
use crate::simq::FreezeOwner;
use crate::status::{CamStatus, Errno, CAM_DEV_QFRZN, CAM_SIM_QUEUED};
use crate::testing::{Fault, TapeObj};
use crate::xpt::{Completion, XptError, XptLog};
use scsi_defs::{opcode as op, sense_key as sk};
use std::time::Duration;

fn tur(a: DevAddr) -> Ccb {
    Ccb::scsi_io(
        a.path(),
        Cdb::new(&crate::scsi_cmd::tur()).unwrap(),
        DataXfer::None,
        Duration::from_secs(5),
    )
}

// ------------------------------------------------------------------ seed 000

#[test]
fn seed000_sim_recovery_freezes_turns_back_requeues_and_releases() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(100, 512))]);
    r.scan();
    let da = r.da(0);
    r.mock.borrow_mut().latency = Duration::from_millis(5);
    let ios: Vec<_> = (0..3).map(|i| da.read(&mut r.xpt, i, 1).unwrap()).collect();
    r.xpt.run_until_idle();
    assert_eq!(r.mock.borrow().in_flight(), 3);
    r.mock
        .borrow_mut()
        .start_recovery(Duration::from_millis(20), false);
    r.xpt.run_until_idle();
    // SIMQ frozen, outstanding commands back in the XPT, nothing at the SIM.
    assert!(r.mock.borrow().in_recovery());
    assert_eq!(r.xpt.simq_frozen(r.bus), 1);
    assert_eq!(r.mock.borrow().in_flight(), 0);
    // A priority CCB passes the frozen SIMQ (seed 004) and is turned back by the SIM
    // (seed 000): REQUEUE_REQ|DEV_QFRZN, never issued, so the XPT holds it (seed 001).
    let mut p = tur(r.addr(0));
    p.h.class = DispatchClass::Priority;
    let pid = r.xpt.submit(p, Completion::Queue);
    r.xpt.run_until_idle();
    assert!(r.xpt.log().contains(&XptLog::RequeuedNeverIssued {
        id: pid,
        addr: r.addr(0)
    }));
    assert_eq!(
        r.xpt.devq_frozen(r.addr(0)),
        0,
        "turn-back freezes released by their owners"
    );
    r.xpt.run_until_quiescent(100);
    assert!(!r.mock.borrow().in_recovery());
    for io in ios {
        assert!(r.xpt.take_io(io).unwrap().is_ok());
    }
    let done = r.xpt.take_completed();
    assert!(done.iter().any(|c| c.h.id == pid && c.h.status.is_ok()));
    r.assert_quiescent();
}

#[test]
fn seed000_give_up_invalidates_periphs_with_nothing_in_flight() {
    let mut r = rig(vec![
        (0, 0, MockDevice::disk(100, 512)),
        (1, 0, MockDevice::disk(100, 512)),
    ]);
    r.scan();
    let da = r.da(0);
    r.mock.borrow_mut().latency = Duration::from_millis(5);
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    r.xpt.run_until_idle();
    r.mock
        .borrow_mut()
        .start_recovery(Duration::from_millis(20), true);
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.status.errno, Errno::Enxio);
    assert_eq!(r.mock.borrow().in_flight(), 0);
    assert!(r.xpt.devices().iter().all(|d| d.lost));
    assert_eq!(
        da.read(&mut r.xpt, 0, 1),
        Err(crate::periph::PeriphError::Invalid)
    );
    r.assert_quiescent();
}

#[test]
fn seed000_protocol_rules() {
    let mut ops = Vec::new();
    {
        let mut ctx = SimCtx {
            now: Default::default(),
            bus: crate::path::BusId(0),
            ops: &mut ops,
        };
        let mut rec = SimRecovery::default();
        assert_eq!(rec.exit(&mut ctx), Err(SimRecoveryError::NotActive));
        rec.enter(&mut ctx).unwrap();
        assert_eq!(rec.enter(&mut ctx), Err(SimRecoveryError::AlreadyActive));
        let mut c = tur(DevAddr::new(crate::path::BusId(0), 1, 0));
        c.h.status.set(CAM_SIM_QUEUED);
        rec.requeue(c, &mut ctx);
        assert_eq!(rec.give_up(2, &mut ctx), Err(SimRecoveryError::InFlight(2)));
        rec.exit(&mut ctx).unwrap();
    }
    let done: Vec<_> = ops
        .iter()
        .filter_map(|o| match o {
            crate::sim::SimOp::Done(c) => Some(c.h.status),
            _ => None,
        })
        .collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].status(), CamStatus::RequeueReq);
    assert!(done[0].has(CAM_DEV_QFRZN) && done[0].has(CAM_SIM_QUEUED));
    assert!(matches!(ops[0], crate::sim::SimOp::FreezeSimq(1)));
    assert!(matches!(ops[1], crate::sim::SimOp::FreezeDevq(_, 1)));
    assert!(matches!(
        ops.last().unwrap(),
        crate::sim::SimOp::ReleaseSimq(1)
    ));
}

// ------------------------------------------------------------------ seed 001

#[test]
fn seed001_tape_command_that_reached_adapter_is_not_retried() {
    let mut r = rig(vec![(3, 0, MockDevice::tape())]);
    r.scan();
    let sa = r.sa(3);
    // Requeue asked for a command the adapter had: only the owner may decide; sa fails it.
    r.mock.borrow_mut().rule(
        Some(3),
        Some(op::WRITE_6),
        Fault::Status(CamStatus::RequeueReq),
        1,
    );
    let io = sa.write(&mut r.xpt, vec![1; 512]).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.status.errno, Errno::Eio);
    assert_eq!(
        r.mock
            .borrow()
            .issued
            .iter()
            .filter(|i| i.cdb[0] == op::WRITE_6)
            .count(),
        1
    );
    // One that never reached the adapter is retried below the owner, and logged.
    r.mock
        .borrow_mut()
        .rule(Some(3), Some(op::WRITE_6), Fault::Shortage, 1);
    let io = sa.write(&mut r.xpt, vec![2; 512]).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    assert!(r
        .xpt
        .log()
        .iter()
        .any(|l| matches!(l, XptLog::RequeuedNeverIssued { .. })));
    assert_eq!(
        r.mock.borrow().tape(3).unwrap(),
        &vec![TapeObj::Block(vec![2; 512])]
    );
    r.assert_quiescent();
}

#[test]
fn seed001_flush_until_resume_eio_then_enxio() {
    let mut r = rig(vec![(3, 0, MockDevice::tape())]);
    r.scan();
    let sa = r.sa(3);
    r.mock.borrow_mut().latency = Duration::from_millis(1);
    r.mock.borrow_mut().rule(
        Some(3),
        Some(op::WRITE_6),
        Fault::Check {
            key: sk::MEDIUM_ERROR,
            asc: 0x0c,
            ascq: 0,
        },
        1,
    );
    let a = sa.write(&mut r.xpt, vec![1; 100]).unwrap();
    let b = sa.write(&mut r.xpt, vec![2; 100]).unwrap();
    let c = sa.write(&mut r.xpt, vec![3; 100]).unwrap();
    let ra = r.xpt.wait_io(a).unwrap();
    let rb = r.xpt.wait_io(b).unwrap();
    let rc = r.xpt.wait_io(c).unwrap();
    assert_eq!(
        (ra.status.errno, rb.status.errno, rc.status.errno),
        (Errno::Eio, Errno::Enxio, Errno::Enxio)
    );
    assert_eq!(rb.status.cam.status(), CamStatus::ReqTermio);
    // sa lost its position and asked the drive, as the resume command.
    r.xpt.run_until_quiescent(100);
    assert!(!r.xpt.is_flushing(r.addr(3)));
    assert!(r.xpt.log().contains(&XptLog::Resumed { addr: r.addr(3) }));
    assert_eq!(
        r.mock.borrow().issued.last().unwrap().cdb[0],
        op::READ_POSITION
    );
    assert_eq!(sa.position(&mut r.xpt), Some(0));
    let d = sa.write(&mut r.xpt, vec![4; 100]).unwrap();
    assert!(r.xpt.wait_io(d).unwrap().is_ok());
    assert_eq!(sa.position(&mut r.xpt), Some(1));
    r.assert_quiescent();
}

#[test]
fn seed001_flush_policy_at_the_xpt() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(10, 512))]);
    let a = r.addr(0);
    r.xpt.set_flush_policy(a, true).unwrap();
    r.mock.borrow_mut().rule(
        Some(0),
        None,
        Fault::Check {
            key: sk::HARDWARE_ERROR,
            asc: 0x44,
            ascq: 0,
        },
        1,
    );
    let bad = r.xpt.submit(tur(a), Completion::Queue);
    r.xpt.run_until_idle();
    assert!(r.xpt.is_flushing(a));
    // The owner looks at the failure and releases the error freeze.
    r.xpt.release_devq(a, 1).unwrap();
    let flushed = r.xpt.submit(tur(a), Completion::Queue);
    let mut res = tur(a);
    res.h.resume = true;
    let resumed = r.xpt.submit(res, Completion::Queue);
    let after = r.xpt.submit(tur(a), Completion::Queue);
    r.xpt.run_until_idle();
    let done = r.xpt.take_completed();
    let got: Vec<_> = done.iter().map(|c| (c.h.id, c.h.status.status())).collect();
    assert_eq!(
        got,
        vec![
            (bad, CamStatus::ScsiStatusError),
            (flushed, CamStatus::ReqTermio),
            (resumed, CamStatus::ReqCmp),
            (after, CamStatus::ReqCmp),
        ]
    );
    // At the errno layer: the failed command EIO, the flushed one ENXIO.
    let errnos: Vec<Errno> = done[..2]
        .iter()
        .map(crate::recovery::default_errno)
        .collect();
    assert_eq!(errnos, vec![Errno::Eio, Errno::Enxio]);
    r.assert_quiescent();
}

// ------------------------------------------------------------------ seed 003

#[test]
fn seed003_gauntlet_serialises_recovery_on_a_bus_and_suspends_io() {
    let mut r = rig(vec![
        (0, 0, MockDevice::disk(100, 512)),
        (1, 0, MockDevice::disk(100, 512)),
    ]);
    r.scan();
    let d0 = r.da(0);
    let d1 = r.da(1);
    {
        let mut m = r.mock.borrow_mut();
        m.latency = Duration::from_millis(1);
        m.rule(
            None,
            Some(op::READ_6),
            Fault::Check {
                key: sk::NOT_READY,
                asc: 4,
                ascq: 2,
            },
            2,
        );
        m.rule(
            None,
            Some(op::START_STOP_UNIT),
            Fault::Delay(Duration::from_millis(50)),
            2,
        );
    }
    let a = d0.read(&mut r.xpt, 0, 1).unwrap();
    let b = d1.read(&mut r.xpt, 0, 1).unwrap();
    r.xpt.run_until_idle();
    r.clock.advance(Duration::from_millis(1));
    r.xpt.run_until_idle();
    let g = r.xpt.gauntlet(r.bus).unwrap();
    let active = g.active().expect("one job runs");
    assert_eq!(g.waiting(), 1, "the other waits its turn");
    assert!(active.cleanly_off);
    assert_eq!(
        r.mock
            .borrow()
            .issued
            .iter()
            .filter(|i| i.cdb.first() == Some(&op::START_STOP_UNIT))
            .count(),
        1
    );
    // Both devices' I/O is suspended while queued or running.
    assert!(r.xpt.devq_frozen(r.addr(0)) >= 1 && r.xpt.devq_frozen(r.addr(1)) >= 1);
    let other = d1.read(&mut r.xpt, 5, 1).unwrap();
    r.xpt.run_until_idle();
    assert!(r.xpt.take_io(other).is_none());
    r.xpt.run_until_quiescent(100);
    for io in [a, b, other] {
        assert!(r.xpt.take_io(io).unwrap().is_ok());
    }
    assert_eq!(r.xpt.gauntlet(r.bus).unwrap().completed, 2);
    r.assert_quiescent();
}

#[test]
fn seed003_not_cleanly_off_means_reset_before_retry() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(100, 512))]);
    r.scan();
    let da = r.da(0);
    r.mock
        .borrow_mut()
        .rule(Some(0), Some(op::READ_6), Fault::Lose, 1);
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    let job = r.xpt.gauntlet(r.bus).unwrap().last_ended.unwrap();
    assert!(!job.cleanly_off);
    let last: Vec<Vec<u8>> = r
        .mock
        .borrow()
        .issued
        .iter()
        .rev()
        .take(2)
        .map(|i| i.cdb.clone())
        .collect();
    assert!(last[1].is_empty(), "BUS DEVICE RESET precedes the retry");
    r.assert_quiescent();
}

#[test]
fn seed003_gauntlet_ends_explicitly_and_only_by_its_job() {
    let mut g = Gauntlet::default();
    let a = DevAddr::new(crate::path::BusId(0), 0, 0);
    let j1 = GauntletJob {
        periph: PeriphId(1),
        addr: a,
        cleanly_off: true,
    };
    let j2 = GauntletJob {
        periph: PeriphId(2),
        addr: a,
        cleanly_off: false,
    };
    g.queue.push_back(j1);
    g.queue.push_back(j2);
    assert_eq!(g.start_next(), Some(j1));
    assert_eq!(g.start_next(), None, "serialised");
    assert_eq!(g.end(PeriphId(2), a), Err(GauntletError::NotRunning));
    assert_eq!(g.end(PeriphId(1), a), Ok(j1));
    assert_eq!(g.start_next(), Some(j2));
}

// ------------------------------------------------------------------ seed 004

#[test]
fn seed004_application_freeze_auto_releases_after_10s() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(10, 512))]);
    let owner = FreezeOwner(42);
    r.xpt.app_freeze_simq(r.bus, owner).unwrap();
    let id = r.xpt.submit(tur(r.addr(0)), Completion::Queue);
    r.clock.advance(Duration::from_millis(9_999));
    r.xpt.run_until_idle();
    assert!(r.xpt.take_completed().is_empty());
    assert_eq!(r.xpt.simq_frozen(r.bus), 1);
    r.clock.advance(Duration::from_millis(1));
    r.xpt.run_until_idle();
    assert_eq!(r.xpt.simq_frozen(r.bus), 0);
    assert_eq!(r.xpt.take_completed()[0].h.id, id);
    assert!(r
        .xpt
        .log()
        .contains(&XptLog::AppFreezeExpired { bus: r.bus }));
    // The owner's late thaw finds nothing and changes nothing.
    assert_eq!(
        r.xpt.app_release_simq(r.bus, owner),
        Err(XptError::Freeze(FreezeError::NoSuchFreeze))
    );
    assert_eq!(r.xpt.simq_frozen(r.bus), 0);
}

#[test]
fn seed004_only_the_owner_may_thaw() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(10, 512))]);
    r.xpt.app_freeze_simq(r.bus, FreezeOwner(1)).unwrap();
    assert_eq!(
        r.xpt.app_release_simq(r.bus, FreezeOwner(2)),
        Err(XptError::Freeze(FreezeError::NotOwner))
    );
    assert_eq!(r.xpt.simq_frozen(r.bus), 1);
    assert_eq!(r.xpt.app_release_simq(r.bus, FreezeOwner(1)), Ok(0));
    // The pending auto-release timer must not release anything any more.
    r.clock.advance(Duration::from_secs(11));
    r.xpt.run_until_idle();
    assert_eq!(r.xpt.simq_frozen(r.bus), 0);
    assert!(!r
        .xpt
        .log()
        .iter()
        .any(|l| matches!(l, XptLog::AppFreezeExpired { .. })));
}

#[test]
fn seed004_priority_and_recovery_ccbs_dispatch_through_frozen_queue() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(10, 512))]);
    r.xpt.app_freeze_simq(r.bus, FreezeOwner(1)).unwrap();
    let n = r.xpt.submit(tur(r.addr(0)), Completion::Queue);
    let mut p = tur(r.addr(0));
    p.h.class = DispatchClass::Priority;
    let p = r.xpt.submit(p, Completion::Queue);
    let mut q = tur(r.addr(0));
    q.h.class = DispatchClass::Recovery;
    let q = r.xpt.submit(q, Completion::Queue);
    r.xpt.run_until_idle();
    let ids: Vec<_> = r.xpt.take_completed().into_iter().map(|c| c.h.id).collect();
    assert_eq!(ids, vec![q, p]);
    r.xpt.app_release_simq(r.bus, FreezeOwner(1)).unwrap();
    r.xpt.run_until_idle();
    assert_eq!(r.xpt.take_completed()[0].h.id, n);
}

#[test]
fn seed004_layered_status_is_checked_in_order() {
    use crate::status::StatusLayer;
    let mut r = rig(vec![
        (0, 0, MockDevice::disk(100, 512)),
        (3, 0, MockDevice::tape()),
    ]);
    r.scan();
    let da = r.da(0);
    r.mock.borrow_mut().rule(
        Some(0),
        Some(op::READ_6),
        Fault::Check {
            key: sk::ILLEGAL_REQUEST,
            asc: 0x24,
            ascq: 0,
        },
        1,
    );
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.status.first_error(), Some(StatusLayer::Errno));
    assert_eq!(res.status.errno, Errno::Einval);
    assert_eq!(res.status.cam.status(), CamStatus::ScsiStatusError);
    assert_eq!(res.status.scsi, Some(scsi_defs::status::CHECK_CONDITION));
    // A tape read that hits a filemark: errno fine, buffer layer reports the short read.
    let sa = r.sa(3);
    let w = sa.write_filemarks(&mut r.xpt, 1).unwrap();
    assert!(r.xpt.wait_io(w).unwrap().is_ok());
    let rw = sa.rewind(&mut r.xpt).unwrap();
    assert!(r.xpt.wait_io(rw).unwrap().is_ok());
    let rd = sa.read(&mut r.xpt, 512).unwrap();
    let res = r.xpt.wait_io(rd).unwrap();
    assert_eq!(res.status.errno, Errno::Ok);
    assert_eq!(res.status.first_error(), Some(StatusLayer::Buffer));
    assert!(res.sense.unwrap().filemark);
    r.xpt.run_until_quiescent(100);
    r.assert_quiescent();
}
