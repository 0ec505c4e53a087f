//! Periph error recovery: the sense table, cam_periph_error's status handling, and the
//! active recoveries (START UNIT, TUR wait, reset) run through the gauntlet.

use super::*;
use crate::async_event::{AC_LOST_DEVICE, AC_UNIT_ATTENTION};
use crate::ccb::{Ccb, Cdb, DataXfer};
use crate::path::Path;
use crate::recovery::*;
use crate::sense::Sense;
use crate::status::{CamStatus, Errno, CAM_AUTOSNS_VALID};
use crate::testing::Fault;
use scsi_defs::{opcode as op, sense_key as sk, status as ss};
use std::time::Duration;

fn sense(key: u8, asc: u8, ascq: u8) -> Sense {
    Sense::parse(&Sense::fixed_bytes(key, asc, ascq, None, 0)).unwrap()
}

#[test]
fn sense_table_actions() {
    assert_eq!(
        sense_action(&sense(sk::NOT_READY, 0x04, 0x01)),
        SenseAction::Wait
    );
    assert_eq!(
        sense_action(&sense(sk::NOT_READY, 0x04, 0x02)),
        SenseAction::Start
    );
    assert_eq!(
        sense_action(&sense(sk::NOT_READY, 0x3a, 0x00)),
        SenseAction::Fail(Errno::Enxio)
    );
    assert_eq!(
        sense_action(&sense(sk::NOT_READY, 0x04, 0x00)),
        SenseAction::Retry
    );
    assert_eq!(
        sense_action(&sense(sk::MEDIUM_ERROR, 0x11, 0x00)),
        SenseAction::Retry
    );
    assert_eq!(
        sense_action(&sense(sk::ILLEGAL_REQUEST, 0x24, 0x00)),
        SenseAction::Fail(Errno::Einval)
    );
    assert_eq!(
        sense_action(&sense(sk::ILLEGAL_REQUEST, 0x25, 0x00)),
        SenseAction::Fail(Errno::Enxio)
    );
    assert_eq!(
        sense_action(&sense(sk::UNIT_ATTENTION, 0x29, 0x00)),
        SenseAction::RetryUa
    );
    assert_eq!(
        sense_action(&sense(sk::DATA_PROTECT, 0x27, 0x00)),
        SenseAction::Fail(Errno::Eacces)
    );
    assert_eq!(
        sense_action(&sense(sk::RECOVERED_ERROR, 0x17, 0x00)),
        SenseAction::Nop
    );
    assert_eq!(
        sense_action(&sense(sk::VOLUME_OVERFLOW, 0, 0)),
        SenseAction::Fail(Errno::Enospc)
    );
    assert_eq!(
        sense_action(&sense(0x0c, 0, 0)),
        SenseAction::Fail(Errno::Eio)
    );
}

fn ccb_with(status: CamStatus, scsi: u8, s: Option<Sense>) -> Ccb {
    let mut c = Ccb::scsi_io(
        Path::device(crate::path::BusId(0), 0, 0),
        Cdb::new(&[0; 6]).unwrap(),
        DataXfer::None,
        Duration::from_secs(1),
    );
    let mut f = 0;
    if let Some(s) = s {
        c.scsiio_mut().unwrap().sense = Sense::fixed_bytes(s.key, s.asc, s.ascq, None, 0);
        f = CAM_AUTOSNS_VALID;
    }
    c.scsiio_mut().unwrap().scsi_status = scsi;
    c.set_status(status, f);
    c
}

#[test]
fn periph_error_status_handling_and_budgets() {
    let cx = ErrorCtx {
        retries_left: 2,
        bystander_left: 2,
        sf: SF_RETRY_UA,
        invalid: false,
    };
    let busy = ccb_with(CamStatus::ScsiStatusError, ss::BUSY, None);
    assert_eq!(
        periph_error(&busy, &cx),
        ErrorAction::Retry {
            delay: Some(BUSY_DELAY),
            burn: true,
            reduce_openings: false
        }
    );
    let qf = ccb_with(CamStatus::ScsiStatusError, ss::QUEUE_FULL, None);
    assert_eq!(
        periph_error(&qf, &cx),
        ErrorAction::Retry {
            delay: None,
            burn: false,
            reduce_openings: true
        }
    );
    let reset = ccb_with(CamStatus::ScsiBusReset, 0, None);
    assert_eq!(
        periph_error(&reset, &cx),
        ErrorAction::Retry {
            delay: None,
            burn: false,
            reduce_openings: false
        }
    );
    assert_eq!(
        periph_error(
            &reset,
            &ErrorCtx {
                bystander_left: 0,
                ..cx
            }
        ),
        ErrorAction::Fail(Errno::Eio)
    );
    assert_eq!(
        periph_error(
            &busy,
            &ErrorCtx {
                retries_left: 0,
                ..cx
            }
        ),
        ErrorAction::Fail(Errno::Eio)
    );
    assert_eq!(
        periph_error(&ccb_with(CamStatus::SelTimeout, 0, None), &cx),
        ErrorAction::LostDevice
    );
    assert_eq!(
        periph_error(&ccb_with(CamStatus::CmdTimeout, 0, None), &cx),
        ErrorAction::Recover(Recovery::Reset)
    );
    let nr = ccb_with(
        CamStatus::ScsiStatusError,
        ss::CHECK_CONDITION,
        Some(sense(sk::NOT_READY, 4, 2)),
    );
    assert_eq!(
        periph_error(&nr, &cx),
        ErrorAction::Recover(Recovery::StartUnit)
    );
    assert_eq!(
        periph_error(
            &nr,
            &ErrorCtx {
                sf: SF_NO_RECOVERY,
                ..cx
            }
        ),
        ErrorAction::Fail(Errno::Eio)
    );
    assert_eq!(
        periph_error(
            &reset,
            &ErrorCtx {
                sf: SF_NO_RETRY,
                ..cx
            }
        ),
        ErrorAction::Fail(Errno::Eio)
    );
    let ua = ccb_with(
        CamStatus::ScsiStatusError,
        ss::CHECK_CONDITION,
        Some(sense(sk::UNIT_ATTENTION, 0x29, 0)),
    );
    assert_eq!(
        periph_error(&ua, &ErrorCtx { sf: 0, ..cx }),
        ErrorAction::Fail(Errno::Eio)
    );
    assert!(matches!(
        periph_error(&ua, &cx),
        ErrorAction::Retry { burn: true, .. }
    ));
    assert_eq!(
        periph_error(
            &ua,
            &ErrorCtx {
                invalid: true,
                ..cx
            }
        ),
        ErrorAction::Fail(Errno::Enxio)
    );
    assert_eq!(
        periph_error(
            &ccb_with(CamStatus::ReqCmp, 0, None),
            &ErrorCtx {
                invalid: true,
                ..cx
            }
        ),
        ErrorAction::Done
    );
    assert_eq!(
        periph_error(&ccb_with(CamStatus::ReqTermio, 0, None), &cx),
        ErrorAction::Fail(Errno::Enxio)
    );
    assert!(!cleanly_off(CamStatus::CmdTimeout) && cleanly_off(CamStatus::ScsiStatusError));
}

fn disk_rig() -> (Rig, crate::periph::da::DaHandle) {
    let mut r = rig(vec![(0, 0, MockDevice::disk(100, 512))]);
    r.scan();
    let da = r.da(0);
    (r, da)
}

fn count(r: &Rig, opc: u8) -> usize {
    r.mock
        .borrow()
        .issued
        .iter()
        .filter(|i| i.cdb.first() == Some(&opc))
        .count()
}

#[test]
fn busy_holds_the_queue_one_second_then_retries() {
    let (mut r, da) = disk_rig();
    r.mock
        .borrow_mut()
        .rule(Some(0), Some(op::READ_6), Fault::Busy, 1);
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    r.xpt.run_until_idle();
    assert!(r.xpt.take_io(io).is_none());
    assert_eq!(r.xpt.devq_frozen(r.addr(0)), 1);
    r.clock.advance(Duration::from_millis(999));
    r.xpt.run_until_idle();
    assert_eq!(count(&r, op::READ_6), 1);
    r.clock.advance(Duration::from_millis(1));
    r.xpt.run_until_idle();
    assert!(r.xpt.take_io(io).unwrap().is_ok());
    r.assert_quiescent();
}

#[test]
fn queue_full_lowers_openings_and_burns_no_retries() {
    let (mut r, da) = disk_rig();
    assert_eq!(r.xpt.dev_openings(r.addr(0)), Some(16));
    r.mock
        .borrow_mut()
        .rule(Some(0), Some(op::READ_6), Fault::QueueFull, 6);
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    assert!(
        r.xpt.wait_io(io).unwrap().is_ok(),
        "6 QUEUE FULLs exceed 4 retries but are bystanders"
    );
    assert_eq!(r.xpt.dev_openings(r.addr(0)), Some(1));
    r.assert_quiescent();
}

#[test]
fn bystander_requeues_are_bounded() {
    let (mut r, da) = disk_rig();
    r.mock.borrow_mut().rule(
        Some(0),
        Some(op::READ_6),
        Fault::Status(CamStatus::ScsiBusReset),
        1000,
    );
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.status.errno, Errno::Eio);
    assert_eq!(count(&r, op::READ_6), 1 + BYSTANDER_LIMIT as usize);
    r.assert_quiescent();
}

#[test]
fn selection_timeout_loses_the_device() {
    use std::cell::Cell;
    use std::rc::Rc;
    let (mut r, da) = disk_rig();
    let lost = Rc::new(Cell::new(0));
    let l2 = lost.clone();
    r.xpt.register_async(
        Path::wildcard(),
        AC_LOST_DEVICE,
        Box::new(move |_| l2.set(l2.get() + 1)),
    );
    r.mock.borrow_mut().rule(
        Some(0),
        Some(op::READ_6),
        Fault::Status(CamStatus::SelTimeout),
        1,
    );
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    assert_eq!(r.xpt.wait_io(io).unwrap().status.errno, Errno::Enxio);
    assert_eq!(lost.get(), 1);
    assert_eq!(
        da.read(&mut r.xpt, 0, 1),
        Err(crate::periph::PeriphError::Invalid)
    );
    r.assert_quiescent();
}

#[test]
fn start_unit_recovery() {
    let (mut r, da) = disk_rig();
    r.mock.borrow_mut().rule(
        Some(0),
        Some(op::READ_6),
        Fault::Check {
            key: sk::NOT_READY,
            asc: 4,
            ascq: 2,
        },
        1,
    );
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    let seq: Vec<u8> = r
        .mock
        .borrow()
        .issued
        .iter()
        .rev()
        .take(3)
        .map(|i| i.cdb[0])
        .collect();
    assert_eq!(seq, vec![op::READ_6, op::START_STOP_UNIT, op::READ_6]);
    assert_eq!(r.xpt.gauntlet(r.bus).unwrap().completed, 1);
    r.assert_quiescent();
}

#[test]
fn becoming_ready_waits_with_tur() {
    let (mut r, da) = disk_rig();
    {
        let mut m = r.mock.borrow_mut();
        m.rule(
            Some(0),
            Some(op::READ_6),
            Fault::Check {
                key: sk::NOT_READY,
                asc: 4,
                ascq: 1,
            },
            1,
        );
        m.rule(
            Some(0),
            Some(op::TEST_UNIT_READY),
            Fault::Check {
                key: sk::NOT_READY,
                asc: 4,
                ascq: 1,
            },
            2,
        );
    }
    let t0 = r.xpt.now();
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    assert!(r.xpt.now().as_nanos() - t0.as_nanos() >= 3_000_000_000);
    assert_eq!(
        count(&r, op::TEST_UNIT_READY),
        3 + 2,
        "2 probe TURs + 3 recovery TURs"
    );
    r.assert_quiescent();
}

#[test]
fn lost_command_resets_device_before_retry() {
    let (mut r, da) = disk_rig();
    r.mock
        .borrow_mut()
        .rule(Some(0), Some(op::READ_6), Fault::Lose, 1);
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    let seq: Vec<Vec<u8>> = r
        .mock
        .borrow()
        .issued
        .iter()
        .rev()
        .take(3)
        .map(|i| i.cdb.clone())
        .collect();
    assert_eq!(seq[2][0], op::READ_6);
    assert!(seq[1].is_empty(), "XPT_RESET_DEV carries no CDB");
    assert_eq!(seq[0][0], op::READ_6);
    r.assert_quiescent();
}

#[test]
fn one_recovery_at_a_time_per_periph() {
    let (mut r, da) = disk_rig();
    r.mock.borrow_mut().latency = Duration::from_millis(1);
    r.mock.borrow_mut().rule(
        Some(0),
        Some(op::READ_6),
        Fault::Check {
            key: sk::NOT_READY,
            asc: 4,
            ascq: 2,
        },
        2,
    );
    let a = da.read(&mut r.xpt, 0, 1).unwrap();
    let b = da.read(&mut r.xpt, 1, 1).unwrap();
    assert!(r.xpt.wait_io(a).unwrap().is_ok());
    assert!(r.xpt.wait_io(b).unwrap().is_ok());
    let seq: Vec<(u64, u8)> = r
        .mock
        .borrow()
        .issued
        .iter()
        .map(|i| (i.id.0, i.cdb.first().copied().unwrap_or(0xff)))
        .collect();
    assert_eq!(count(&r, op::START_STOP_UNIT), 1, "{seq:?}");
    r.assert_quiescent();
}

#[test]
fn unit_attention_is_announced_and_retried() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let (mut r, da) = disk_rig();
    let ua: Rc<RefCell<Vec<crate::async_event::AsyncArg>>> = Default::default();
    let u2 = ua.clone();
    r.xpt.register_async(
        Path::wildcard(),
        AC_UNIT_ATTENTION,
        Box::new(move |e| u2.borrow_mut().push(e.arg.clone())),
    );
    r.mock.borrow_mut().rule(
        Some(0),
        Some(op::READ_6),
        Fault::Check {
            key: sk::UNIT_ATTENTION,
            asc: 0x29,
            ascq: 2,
        },
        1,
    );
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    assert_eq!(
        ua.borrow().as_slice(),
        &[crate::async_event::AsyncArg::UnitAttention { asc: 0x29, ascq: 2 }]
    );
    r.assert_quiescent();
}
