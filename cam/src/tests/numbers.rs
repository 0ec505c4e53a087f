//! Pins every FreeBSD number the stack exposes (sys/cam/cam.h, cam_ccb.h).

use crate::async_event::*;
use crate::ccb::{flags::*, func::*, priority::*, relsim::*, FuncCode, TagAction};
use crate::recovery::*;
use crate::status::*;

#[test]
fn cam_status_values_match_cam_h() {
    use CamStatus::*;
    let want: &[(CamStatus, u32)] = &[
        (ReqInprog, 0x00),
        (ReqCmp, 0x01),
        (ReqAborted, 0x02),
        (UaAbort, 0x03),
        (ReqCmpErr, 0x04),
        (Busy, 0x05),
        (ReqInvalid, 0x06),
        (PathInvalid, 0x07),
        (DevNotThere, 0x08),
        (UaTermio, 0x09),
        (SelTimeout, 0x0a),
        (CmdTimeout, 0x0b),
        (ScsiStatusError, 0x0c),
        (MsgRejectRec, 0x0d),
        (ScsiBusReset, 0x0e),
        (UncorParity, 0x0f),
        (AutosenseFail, 0x10),
        (NoHba, 0x11),
        (DataRunErr, 0x12),
        (UnexpBusfree, 0x13),
        (SequenceFail, 0x14),
        (CcbLenErr, 0x15),
        (ProvideFail, 0x16),
        (BdrSent, 0x17),
        (ReqTermio, 0x18),
        (UnrecHbaError, 0x19),
        (ReqTooBig, 0x1a),
        (RequeueReq, 0x1b),
        (AtaStatusError, 0x1c),
        (ScsiItNexusLost, 0x1d),
        (SmpStatusError, 0x1e),
        (ReqSofttimeout, 0x1f),
        (Ide, 0x33),
        (ResrcUnavail, 0x34),
        (UnackedEvent, 0x35),
        (MessageRecv, 0x36),
        (InvalidCdb, 0x37),
        (LunInvalid, 0x38),
        (TidInvalid, 0x39),
        (FuncNotavail, 0x3a),
        (NoNexus, 0x3b),
        (IidInvalid, 0x3c),
        (CdbRecvd, 0x3d),
        (LunAlrdyEna, 0x3e),
        (ScsiBusy, 0x3f),
    ];
    for (s, v) in want {
        assert_eq!(s.code(), *v, "{s:?}");
        assert_eq!(CamStatus::from_raw(*v), Some(*s));
    }
    assert_eq!(CamStatus::from_raw(0x20), None);
    assert_eq!(CAM_STATUS_MASK, 0x3f);
    assert_eq!(CAM_DEV_QFRZN, 0x40);
    assert_eq!(CAM_AUTOSNS_VALID, 0x80);
    assert_eq!(CAM_RELEASE_SIMQ, 0x100);
    assert_eq!(CAM_SIM_QUEUED, 0x200);
    assert_eq!(CAM_QOS_VALID, 0x400);
    let w = CcbStatus::new(CamStatus::RequeueReq, CAM_DEV_QFRZN);
    assert_eq!(w.raw(), 0x5b);
    assert_eq!(
        CcbStatus::from_raw(0x24b).unwrap().status(),
        CamStatus::CmdTimeout
    );
}

#[test]
fn function_codes_match_cam_ccb_h() {
    assert_eq!(XPT_FC_QUEUED, 0x100);
    assert_eq!(XPT_FC_USER_CCB, 0x200);
    assert_eq!(XPT_FC_XPT_ONLY, 0x400);
    assert_eq!(XPT_FC_DEV_QUEUED, 0x900);
    assert_eq!(XPT_NOOP, 0x00);
    assert_eq!(XPT_SCSI_IO, 0x901);
    assert_eq!(XPT_SCSI_IO & 0xff, 0x01);
    assert_eq!(XPT_PATH_INQ, 0x04);
    assert_eq!(XPT_REL_SIMQ, 0x05);
    assert_eq!(XPT_SASYNC_CB, 0x06);
    assert_eq!(XPT_SCAN_BUS, 0x708);
    assert_eq!(XPT_ABORT, 0x10);
    assert_eq!(XPT_RESET_BUS, 0x411);
    assert_eq!(XPT_RESET_DEV, 0x912);
    assert_eq!(XPT_GET_TRAN_SETTINGS, 0x15);
    assert_eq!(XPT_SET_TRAN_SETTINGS, 0x16);
    assert_eq!(XPT_CALC_GEOMETRY, 0x17);
    // Issue 14 additions (cam_ccb.h `xpt_opcode`).
    assert_eq!(XPT_GDEV_TYPE, 0x02);
    assert_eq!(XPT_GDEVLIST, 0x03);
    assert_eq!(XPT_SDEV_TYPE, 0x07);
    assert_eq!(XPT_DEV_MATCH, 0x409);
    assert_eq!(XPT_DEBUG, 0x0a);
    assert_eq!(XPT_PATH_STATS, 0x0b);
    assert_eq!(XPT_GDEV_STATS, 0x0c);
    assert_eq!(XPT_TERM_IO, 0x13);
    assert_eq!(XPT_SCAN_LUN, 0x714);
    assert_eq!(FuncCode::ScanBus as u32, 0x708);
    assert_eq!(FuncCode::ScanLun as u32, 0x714);
    assert_eq!(FuncCode::DevMatch as u32, 0x409);
    assert!(!FuncCode::ScanLun.is_dev_queued());
    assert!(!FuncCode::TermIo.is_dev_queued());
    assert_eq!(crate::ccb::GdevListStatus::LastDevice as u32, 0);
    assert_eq!(crate::ccb::GdevListStatus::ListChanged as u32, 1);
    assert_eq!(crate::ccb::GdevListStatus::MoreDevs as u32, 2);
    assert_eq!(crate::ccb::GdevListStatus::Error as u32, 3);
    assert_eq!(FuncCode::ScsiIo as u32, 0x901);
    assert!(FuncCode::ScsiIo.is_dev_queued());
    assert!(FuncCode::ResetDev.is_dev_queued());
    assert!(!FuncCode::ResetBus.is_dev_queued());
    assert!(!FuncCode::PathInq.is_dev_queued());
}

#[test]
fn ccb_flags_match_cam_ccb_h() {
    assert_eq!(CAM_CDB_POINTER, 0x01);
    assert_eq!(CAM_DIS_AUTOSENSE, 0x20);
    assert_eq!(CAM_DIR_BOTH, 0x00);
    assert_eq!(CAM_DIR_IN, 0x40);
    assert_eq!(CAM_DIR_OUT, 0x80);
    assert_eq!(CAM_DIR_NONE, 0xc0);
    assert_eq!(CAM_DIR_MASK, 0xc0);
    assert_eq!(CAM_SCATTER_VALID, 0x10);
    assert_eq!(CAM_DATA_SG, 0x40000);
    assert_eq!(CAM_DEV_QFRZDIS, 0x400);
    assert_eq!(CAM_DEV_QFREEZE, 0x800);
    assert_eq!(CAM_TAG_ACTION_VALID, 0x8000);
    assert_eq!(CAM_PASS_ERR_RECOVER, 0x10000);
    assert_eq!(CAM_DIS_DISCONNECT, 0x20000);
    assert_eq!(TagAction::None.code(), 0x00);
    assert_eq!(TagAction::Simple.code(), 0x20);
    assert_eq!(TagAction::HeadOfQueue.code(), 0x21);
    assert_eq!(TagAction::Ordered.code(), 0x22);
}

#[test]
fn async_codes_match_cam_ccb_h() {
    assert_eq!(AC_BUS_RESET, 0x001);
    assert_eq!(AC_UNSOL_RESEL, 0x002);
    assert_eq!(AC_SCSI_AEN, 0x008);
    assert_eq!(AC_SENT_BDR, 0x010);
    assert_eq!(AC_PATH_REGISTERED, 0x020);
    assert_eq!(AC_PATH_DEREGISTERED, 0x040);
    assert_eq!(AC_FOUND_DEVICE, 0x080);
    assert_eq!(AC_LOST_DEVICE, 0x100);
    assert_eq!(AC_TRANSFER_NEG, 0x200);
    assert_eq!(AC_INQ_CHANGED, 0x400);
    assert_eq!(AC_GETDEV_CHANGED, 0x800);
    assert_eq!(AC_CONTRACT, 0x1000);
    assert_eq!(AC_ADVINFO_CHANGED, 0x2000);
    assert_eq!(AC_UNIT_ATTENTION, 0x4000);
}

#[test]
fn relsim_priority_and_sf_values() {
    assert_eq!(RELSIM_ADJUST_OPENINGS, 0x01);
    assert_eq!(RELSIM_RELEASE_AFTER_TIMEOUT, 0x02);
    assert_eq!(RELSIM_RELEASE_AFTER_CMDCMPLT, 0x04);
    assert_eq!(RELSIM_RELEASE_AFTER_QEMPTY, 0x08);
    assert_eq!(CAM_PRIORITY_HOST, 0x080);
    assert_eq!(CAM_PRIORITY_BUS, 0x180);
    assert_eq!(CAM_PRIORITY_XPT, 0x280);
    assert_eq!(CAM_PRIORITY_DEV, 0x380);
    assert_eq!(CAM_PRIORITY_OOB, 0x300);
    assert_eq!(CAM_PRIORITY_NORMAL, 0x480);
    assert_eq!(CAM_PRIORITY_NONE, 0xffff_ffff);
    assert_eq!(SF_RETRY_UA, 0x01);
    assert_eq!(SF_NO_PRINT, 0x02);
    assert_eq!(SF_QUIET_IR, 0x04);
    assert_eq!(SF_PRINT_ALWAYS, 0x08);
    assert_eq!(SF_NO_RECOVERY, 0x10);
    assert_eq!(SF_NO_RETRY, 0x20);
    assert_eq!(SF_RETRY_BUSY, 0x40);
    assert_eq!(crate::path::CAM_TARGET_WILDCARD, 0xffff_ffff);
    assert_eq!(crate::path::CAM_LUN_WILDCARD, 0xffff_ffff);
    assert_eq!(Errno::Eio as i32, 5);
    assert_eq!(Errno::Enxio as i32, 6);
}

#[test]
fn flags_word_is_derived_from_body() {
    use crate::ccb::*;
    use crate::path::{BusId, Path};
    let p = Path::device(BusId(0), 1, 0);
    let mut c = Ccb::scsi_io(
        p,
        Cdb::new(&[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]).unwrap(),
        DataXfer::In(DataBuf::Sg(vec![vec![0; 256], vec![0; 256]])),
        std::time::Duration::from_secs(1),
    );
    c.h.dis_disconnect = true;
    c.h.tag_action = TagAction::Simple;
    assert_eq!(
        c.flags_word(),
        CAM_DIR_IN | CAM_DATA_SG | CAM_DIS_DISCONNECT | CAM_TAG_ACTION_VALID
    );
    let c2 = Ccb::scsi_io(
        p,
        Cdb::by_ref(vec![0u8; 32].into()).unwrap(),
        DataXfer::None,
        std::time::Duration::from_secs(1),
    );
    assert_eq!(c2.flags_word(), CAM_DIR_NONE | CAM_CDB_POINTER);
    assert_eq!(c2.func_code(), FuncCode::ScsiIo);
    assert_eq!(Cdb::new(&[]), Err(CcbError::CdbLen(0)));
    assert_eq!(Cdb::new(&[0; 17]), Err(CcbError::CdbLen(17)));
}
