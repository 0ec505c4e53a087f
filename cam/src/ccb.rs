//! CAM control blocks (FreeBSD `union ccb`, sys/cam/cam_ccb.h): a common header and one
//! typed body per function code. The function code is derived from the body, and the data
//! direction from the data, so the two can never disagree.

use crate::clock::CamTime;
use crate::path::Path;
use crate::status::{CamStatus, CcbStatus};
use std::sync::Arc;
use std::time::Duration;

/// XPT function codes and their flag bits (`xpt_opcode`), values as in cam_ccb.h.
pub mod func {
    /// Non-immediate function code.
    pub const XPT_FC_QUEUED: u32 = 0x100;
    /// May be issued from user space.
    pub const XPT_FC_USER_CCB: u32 = 0x200;
    /// Only for the transport layer.
    pub const XPT_FC_XPT_ONLY: u32 = 0x400;
    /// Passes through the device queues.
    pub const XPT_FC_DEV_QUEUED: u32 = 0x800 | XPT_FC_QUEUED;
    /// Execute nothing.
    pub const XPT_NOOP: u32 = 0x00;
    /// Execute a SCSI I/O.
    pub const XPT_SCSI_IO: u32 = 0x01 | XPT_FC_DEV_QUEUED;
    /// Path routing inquiry.
    pub const XPT_PATH_INQ: u32 = 0x04;
    /// Release a frozen device queue.
    pub const XPT_REL_SIMQ: u32 = 0x05;
    /// Set asynchronous callback parameters.
    pub const XPT_SASYNC_CB: u32 = 0x06;
    /// Alias used by the issue text for XPT_SASYNC_CB.
    pub const XPT_SET_ASYNC_CB: u32 = XPT_SASYNC_CB;
    /// (Re)scan the bus.
    pub const XPT_SCAN_BUS: u32 = 0x08 | XPT_FC_QUEUED | XPT_FC_USER_CCB | XPT_FC_XPT_ONLY;
    /// Abort a CCB.
    pub const XPT_ABORT: u32 = 0x10;
    /// Reset the bus.
    pub const XPT_RESET_BUS: u32 = 0x11 | XPT_FC_XPT_ONLY;
    /// Bus device reset.
    pub const XPT_RESET_DEV: u32 = 0x12 | XPT_FC_DEV_QUEUED;
    /// Get transfer settings.
    pub const XPT_GET_TRAN_SETTINGS: u32 = 0x15;
    /// Set transfer settings.
    pub const XPT_SET_TRAN_SETTINGS: u32 = 0x16;
    /// Calculate disk geometry.
    pub const XPT_CALC_GEOMETRY: u32 = 0x17;
    /// Get type information for a device.
    pub const XPT_GDEV_TYPE: u32 = 0x02;
    /// Get a list of peripheral devices.
    pub const XPT_GDEVLIST: u32 = 0x03;
    /// Set device type information.
    pub const XPT_SDEV_TYPE: u32 = 0x07;
    /// Get EDT entries matching the given pattern.
    pub const XPT_DEV_MATCH: u32 = 0x09 | XPT_FC_XPT_ONLY;
    /// Turn on debugging for a bus, target or LUN.
    pub const XPT_DEBUG: u32 = 0x0a;
    /// Path statistics (error counts, etc.).
    pub const XPT_PATH_STATS: u32 = 0x0b;
    /// Device statistics (error counts, etc.).
    pub const XPT_GDEV_STATS: u32 = 0x0c;
    /// Terminate the I/O process.
    pub const XPT_TERM_IO: u32 = 0x13;
    /// Scan a logical unit.
    pub const XPT_SCAN_LUN: u32 = 0x14 | XPT_FC_QUEUED | XPT_FC_USER_CCB | XPT_FC_XPT_ONLY;
}

/// CCB header flag bits (`ccb_flags`), values as in cam_ccb.h.
pub mod flags {
    /// CDB is given by reference.
    pub const CAM_CDB_POINTER: u32 = 0x0000_0001;
    /// Disable autosense.
    pub const CAM_DIS_AUTOSENSE: u32 = 0x0000_0020;
    /// Data in and out.
    pub const CAM_DIR_BOTH: u32 = 0x0000_0000;
    /// Data in (target to initiator).
    pub const CAM_DIR_IN: u32 = 0x0000_0040;
    /// Data out.
    pub const CAM_DIR_OUT: u32 = 0x0000_0080;
    /// No data.
    pub const CAM_DIR_NONE: u32 = 0x0000_00c0;
    /// Direction mask.
    pub const CAM_DIR_MASK: u32 = 0x0000_00c0;
    /// Scatter/gather list (FreeBSD >= 10 `CAM_DATA_SG`).
    pub const CAM_DATA_SG: u32 = 0x0004_0000;
    /// Legacy (FreeBSD <= 9, the seed's era) name for "data is an S/G list".
    pub const CAM_SCATTER_VALID: u32 = 0x0000_0010;
    /// Disable device queue freezing on error.
    pub const CAM_DEV_QFRZDIS: u32 = 0x0000_0400;
    /// Freeze the device queue on execution.
    pub const CAM_DEV_QFREEZE: u32 = 0x0000_0800;
    /// Use the tag action in this CCB.
    pub const CAM_TAG_ACTION_VALID: u32 = 0x0000_8000;
    /// The pass driver should do error recovery.
    pub const CAM_PASS_ERR_RECOVER: u32 = 0x0001_0000;
    /// Disable disconnect.
    pub const CAM_DIS_DISCONNECT: u32 = 0x0002_0000;
}

/// CCB priorities (`cam_pinfo`), lower is more urgent; values as in cam.h.
pub mod priority {
    /// Host-level (run level 0).
    pub const CAM_PRIORITY_HOST: u32 = 0x80;
    /// Bus-level.
    pub const CAM_PRIORITY_BUS: u32 = (1 << 8) + 0x80;
    /// Transport (probe).
    pub const CAM_PRIORITY_XPT: u32 = (2 << 8) + 0x80;
    /// Device-level.
    pub const CAM_PRIORITY_DEV: u32 = (3 << 8) + 0x80;
    /// Out of band (recovery).
    pub const CAM_PRIORITY_OOB: u32 = 3 << 8;
    /// Normal I/O.
    pub const CAM_PRIORITY_NORMAL: u32 = (4 << 8) + 0x80;
    /// No priority.
    pub const CAM_PRIORITY_NONE: u32 = u32::MAX;
}

/// The function code of a CCB, numerically FreeBSD's.
#[repr(u32)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FuncCode {
    /// XPT_NOOP.
    Noop = func::XPT_NOOP,
    /// XPT_SCSI_IO.
    ScsiIo = func::XPT_SCSI_IO,
    /// XPT_PATH_INQ.
    PathInq = func::XPT_PATH_INQ,
    /// XPT_REL_SIMQ.
    RelSimq = func::XPT_REL_SIMQ,
    /// XPT_SASYNC_CB.
    SetAsyncCb = func::XPT_SASYNC_CB,
    /// XPT_ABORT.
    Abort = func::XPT_ABORT,
    /// XPT_RESET_BUS.
    ResetBus = func::XPT_RESET_BUS,
    /// XPT_RESET_DEV.
    ResetDev = func::XPT_RESET_DEV,
    /// XPT_GET_TRAN_SETTINGS.
    GetTranSettings = func::XPT_GET_TRAN_SETTINGS,
    /// XPT_SET_TRAN_SETTINGS.
    SetTranSettings = func::XPT_SET_TRAN_SETTINGS,
    /// XPT_CALC_GEOMETRY.
    CalcGeometry = func::XPT_CALC_GEOMETRY,
    /// XPT_GDEV_TYPE.
    GdevType = func::XPT_GDEV_TYPE,
    /// XPT_GDEVLIST.
    GdevList = func::XPT_GDEVLIST,
    /// XPT_SDEV_TYPE.
    SdevType = func::XPT_SDEV_TYPE,
    /// XPT_SCAN_BUS.
    ScanBus = func::XPT_SCAN_BUS,
    /// XPT_DEV_MATCH.
    DevMatch = func::XPT_DEV_MATCH,
    /// XPT_DEBUG.
    Debug = func::XPT_DEBUG,
    /// XPT_PATH_STATS.
    PathStats = func::XPT_PATH_STATS,
    /// XPT_GDEV_STATS.
    GdevStats = func::XPT_GDEV_STATS,
    /// XPT_TERM_IO.
    TermIo = func::XPT_TERM_IO,
    /// XPT_SCAN_LUN.
    ScanLun = func::XPT_SCAN_LUN,
}

impl FuncCode {
    /// Whether CCBs of this code go through the device queues (`XPT_FC_IS_DEV_QUEUED`).
    pub fn is_dev_queued(self) -> bool {
        (self as u32 & func::XPT_FC_DEV_QUEUED) == func::XPT_FC_DEV_QUEUED
    }
}

/// Tag action (`tag_action`): SCSI queue tag message codes, or none.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum TagAction {
    /// Untagged (`CAM_TAG_ACTION_NONE`).
    #[default]
    None,
    /// SIMPLE QUEUE TAG.
    Simple,
    /// HEAD OF QUEUE TAG.
    HeadOfQueue,
    /// ORDERED QUEUE TAG.
    Ordered,
}

impl TagAction {
    /// The message code (`CAM_TAG_ACTION_NONE` is 0x00).
    pub fn code(self) -> u8 {
        use scsi_defs::msg;
        match self {
            TagAction::None => 0x00,
            TagAction::Simple => msg::SIMPLE_QUEUE_TAG,
            TagAction::HeadOfQueue => msg::HEAD_OF_QUEUE_TAG,
            TagAction::Ordered => msg::ORDERED_QUEUE_TAG,
        }
    }
}

/// How a CCB may pass frozen queues (seeds 003/004). Ordered: recovery first.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DispatchClass {
    /// Error-recovery I/O: dispatches through frozen queues (seed 004 "recovery I/O").
    Recovery,
    /// Flagged priority: dispatches through frozen queues (seed 004 "priority flag").
    Priority,
    /// Ordinary I/O: held by any freeze.
    #[default]
    Normal,
}

/// Identity of a CCB inside the XPT, assigned at submission.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CcbId(pub u64);

/// Common CCB header (`struct ccb_hdr`).
#[derive(Clone, Debug)]
pub struct CcbHeader {
    /// Assigned by the XPT when submitted.
    pub id: CcbId,
    /// Path of the request (may hold wildcards for bus-wide codes).
    pub path: Path,
    /// Status word, written by the SIM/XPT.
    pub status: CcbStatus,
    /// Hard timeout; the SIM enforces it.
    pub timeout: Duration,
    /// Disable autosense (`CAM_DIS_AUTOSENSE`).
    pub dis_autosense: bool,
    /// Disable disconnect (`CAM_DIS_DISCONNECT`).
    pub dis_disconnect: bool,
    /// Ask the pass driver for error recovery (`CAM_PASS_ERR_RECOVER`).
    pub pass_err_recover: bool,
    /// Do not leave the devq frozen on error (`CAM_DEV_QFRZDIS`).
    pub dev_qfrzdis: bool,
    /// Tag action; `CAM_TAG_ACTION_VALID` is set when not `None`.
    pub tag_action: TagAction,
    /// Priority (lower first).
    pub priority: u32,
    /// Retries left (kept for FreeBSD compatibility; periphs count their own).
    pub retry_count: u32,
    /// Frozen-queue class (seed 004).
    pub class: DispatchClass,
    /// First command of the owner's recovery after a flush (seed 001 `SC_RESUME`).
    pub resume: bool,
    /// SIM-private words.
    pub sim_priv: [u64; 2],
    /// Periph-private words.
    pub periph_priv: [u64; 2],
    /// When the XPT handed the CCB to the SIM.
    pub dispatched_at: Option<CamTime>,
}

impl CcbHeader {
    /// A header for `path` with FreeBSD-like defaults (normal priority, 60 s timeout).
    pub fn new(path: Path) -> Self {
        CcbHeader {
            id: CcbId(0),
            path,
            status: CcbStatus::default(),
            timeout: Duration::from_secs(60),
            dis_autosense: false,
            dis_disconnect: false,
            pass_err_recover: false,
            dev_qfrzdis: false,
            tag_action: TagAction::None,
            priority: priority::CAM_PRIORITY_NORMAL,
            retry_count: 0,
            class: DispatchClass::Normal,
            resume: false,
            sim_priv: [0; 2],
            periph_priv: [0; 2],
            dispatched_at: None,
        }
    }
}

/// Error building a CCB.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CcbError {
    /// CDB length is zero or too long.
    #[error("bad CDB length {0}")]
    CdbLen(usize),
}

/// The CDB, inline (up to 16 bytes, `cdb_bytes`) or by reference (`CAM_CDB_POINTER`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cdb {
    /// Stored in the CCB.
    Inline {
        /// Bytes (only `len` used).
        bytes: [u8; 16],
        /// Length.
        len: u8,
    },
    /// Shared buffer, up to 255 bytes.
    Ref(Arc<[u8]>),
}

impl Cdb {
    /// An inline CDB of 1..=16 bytes.
    pub fn new(b: &[u8]) -> Result<Cdb, CcbError> {
        if b.is_empty() || b.len() > 16 {
            return Err(CcbError::CdbLen(b.len()));
        }
        let mut bytes = [0u8; 16];
        bytes[..b.len()].copy_from_slice(b);
        Ok(Cdb::Inline {
            bytes,
            len: b.len() as u8,
        })
    }
    /// A CDB by reference of 1..=255 bytes.
    pub fn by_ref(b: Arc<[u8]>) -> Result<Cdb, CcbError> {
        if b.is_empty() || b.len() > 255 {
            return Err(CcbError::CdbLen(b.len()));
        }
        Ok(Cdb::Ref(b))
    }
    /// The CDB bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Cdb::Inline { bytes, len } => &bytes[..*len as usize],
            Cdb::Ref(b) => b,
        }
    }
    /// The operation code.
    pub fn opcode(&self) -> u8 {
        self.bytes()[0]
    }
}

/// A data buffer: one contiguous buffer, or a scatter/gather list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataBuf {
    /// One buffer.
    Single(Vec<u8>),
    /// Scatter/gather segments, in order.
    Sg(Vec<Vec<u8>>),
}

impl DataBuf {
    /// Total length (`dxfer_len`).
    pub fn len(&self) -> usize {
        match self {
            DataBuf::Single(v) => v.len(),
            DataBuf::Sg(s) => s.iter().map(Vec::len).sum(),
        }
    }
    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copy `src` into the buffer starting at `offset`; returns bytes copied.
    pub fn write_at(&mut self, mut offset: usize, mut src: &[u8]) -> usize {
        let mut n = 0;
        let segs: Vec<&mut Vec<u8>> = match self {
            DataBuf::Single(v) => vec![v],
            DataBuf::Sg(s) => s.iter_mut().collect(),
        };
        for seg in segs {
            if src.is_empty() {
                break;
            }
            if offset >= seg.len() {
                offset -= seg.len();
                continue;
            }
            let k = (seg.len() - offset).min(src.len());
            seg[offset..offset + k].copy_from_slice(&src[..k]);
            src = &src[k..];
            n += k;
            offset = 0;
        }
        n
    }
    /// The contents as one vector.
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            DataBuf::Single(v) => v.clone(),
            DataBuf::Sg(s) => s.concat(),
        }
    }
    /// Consume into one vector.
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            DataBuf::Single(v) => v,
            DataBuf::Sg(s) => s.concat(),
        }
    }
}

/// Data phase of a SCSI I/O: direction and buffer together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DataXfer {
    /// No data (`CAM_DIR_NONE`).
    #[default]
    None,
    /// Data in, into this buffer (`CAM_DIR_IN`).
    In(DataBuf),
    /// Data out, from this buffer (`CAM_DIR_OUT`).
    Out(DataBuf),
}

impl DataXfer {
    /// Bytes to move (`dxfer_len`).
    pub fn len(&self) -> usize {
        match self {
            DataXfer::None => 0,
            DataXfer::In(b) | DataXfer::Out(b) => b.len(),
        }
    }
    /// Whether no data moves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Direction flag bits.
    pub fn dir_flags(&self) -> u32 {
        match self {
            DataXfer::None => flags::CAM_DIR_NONE,
            DataXfer::In(_) => flags::CAM_DIR_IN,
            DataXfer::Out(_) => flags::CAM_DIR_OUT,
        }
    }
    /// Whether the buffer is a scatter/gather list.
    pub fn is_sg(&self) -> bool {
        matches!(
            self,
            DataXfer::In(DataBuf::Sg(_)) | DataXfer::Out(DataBuf::Sg(_))
        )
    }
}

/// Default sense buffer size (FreeBSD `SSD_FULL_SIZE` is 252; 64 covers fixed + descriptors
/// a parallel SCSI target sends).
pub const DEFAULT_SENSE_LEN: u8 = 64;

/// SCSI I/O body (`struct ccb_scsiio`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScsiIo {
    /// The CDB.
    pub cdb: Cdb,
    /// Data direction and buffer.
    pub data: DataXfer,
    /// Autosense bytes returned (valid when `CAM_AUTOSNS_VALID`).
    pub sense: Vec<u8>,
    /// Sense buffer capacity.
    pub sense_len: u8,
    /// Sense bytes not returned.
    pub sense_resid: u8,
    /// Data bytes not transferred.
    pub resid: u32,
    /// SCSI status byte.
    pub scsi_status: u8,
    /// Tag ID the SIM used.
    pub tag_id: u32,
}

impl ScsiIo {
    /// The bytes a data-in transfer brought: the buffer less the residual (empty for
    /// other directions).
    pub fn data_in(&self) -> Vec<u8> {
        match &self.data {
            DataXfer::In(b) => {
                let mut v = b.to_vec();
                v.truncate(v.len().saturating_sub(self.resid as usize));
                v
            }
            _ => Vec::new(),
        }
    }
    /// A SCSI I/O with the given CDB and data.
    pub fn new(cdb: Cdb, data: DataXfer) -> Self {
        ScsiIo {
            cdb,
            data,
            sense: Vec::new(),
            sense_len: DEFAULT_SENSE_LEN,
            sense_resid: 0,
            resid: 0,
            scsi_status: 0,
            tag_id: 0,
        }
    }
}

/// `hba_inquiry` bits of PATH_INQ (PI_*), as in cam_ccb.h.
pub mod pi {
    /// Supports MDP message.
    pub const PI_MDP_ABLE: u8 = 0x40;
    /// Supports 32-bit wide SCSI.
    pub const PI_WIDE_32: u8 = 0x20;
    /// Supports 16-bit wide SCSI.
    pub const PI_WIDE_16: u8 = 0x10;
    /// Supports SDTR message.
    pub const PI_SDTR_ABLE: u8 = 0x08;
    /// Supports linked CDBs.
    pub const PI_LINKED_CDB: u8 = 0x04;
    /// Supports tag queue messages.
    pub const PI_TAG_ABLE: u8 = 0x02;
    /// Supports soft reset.
    pub const PI_SOFT_RST: u8 = 0x01;
}

/// Path inquiry body (`struct ccb_pathinq`), filled by the SIM.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathInq {
    /// CAM version.
    pub version_num: u8,
    /// PI_* capability bits.
    pub hba_inquiry: u8,
    /// Highest target ID.
    pub max_target: u32,
    /// Highest LUN.
    pub max_lun: u64,
    /// Initiator's own ID.
    pub initiator_id: u32,
    /// SIM vendor.
    pub sim_vid: String,
    /// HBA vendor.
    pub hba_vid: String,
    /// Base transfer speed, KB/s.
    pub base_transfer_speed: u32,
    /// Largest single transfer, bytes.
    pub maxio: u32,
}

/// Which transfer settings (`cts_type`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum TranType {
    /// What is in effect now (`CTS_TYPE_CURRENT_SETTINGS`).
    #[default]
    Current,
    /// The user's limits/goal (`CTS_TYPE_USER_SETTINGS`).
    User,
}

/// SPI transport settings (`struct ccb_trans_settings_spi`); `None` means "not valid".
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SpiSettings {
    /// Sync period factor (`CTS_SPI_VALID_SYNC_RATE`).
    pub sync_period: Option<u8>,
    /// Sync offset, 0 = async (`CTS_SPI_VALID_SYNC_OFFSET`).
    pub sync_offset: Option<u8>,
    /// Bus width exponent: 0 = 8 bit, 1 = 16 bit (`CTS_SPI_VALID_BUS_WIDTH`).
    pub bus_width: Option<u8>,
    /// Disconnection enabled (`CTS_SPI_VALID_DISC`).
    pub disc_enb: Option<bool>,
    /// PPR options.
    pub ppr_options: Option<u8>,
}

/// Transfer settings body (`struct ccb_trans_settings`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct TranSettings {
    /// Current or user.
    pub kind: TranType,
    /// SPI fields.
    pub spi: SpiSettings,
    /// Tagged queuing enabled (`CTS_SCSI_VALID_TQ`).
    pub tq_enb: Option<bool>,
}

/// XPT_REL_SIMQ release flags, as in cam_ccb.h.
pub mod relsim {
    /// Set the device's openings.
    pub const RELSIM_ADJUST_OPENINGS: u32 = 0x01;
    /// Release after `release_timeout` ms.
    pub const RELSIM_RELEASE_AFTER_TIMEOUT: u32 = 0x02;
    /// Release after the next command completes.
    pub const RELSIM_RELEASE_AFTER_CMDCMPLT: u32 = 0x04;
    /// Release when the device has nothing outstanding.
    pub const RELSIM_RELEASE_AFTER_QEMPTY: u32 = 0x08;
}

/// Release-queue body (`struct ccb_relsim`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct RelSim {
    /// RELSIM_* flags.
    pub release_flags: u32,
    /// New openings for RELSIM_ADJUST_OPENINGS.
    pub openings: u32,
    /// Milliseconds for RELSIM_RELEASE_AFTER_TIMEOUT.
    pub release_timeout: u32,
    /// Returned: device queue freeze count afterwards.
    pub qfrozen_cnt: u32,
}

/// Async-callback registration body (`struct ccb_setasync`); the callback itself is
/// registered with `Xpt::register_async`, this CCB changes its event mask.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SetAsync {
    /// AC_* mask; 0 removes the registration.
    pub event_enable: u32,
    /// The registration to change.
    pub handle: crate::async_event::AsyncHandle,
}

/// Geometry body (`struct ccb_calc_geometry`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct CalcGeometry {
    /// Block size in bytes.
    pub block_size: u32,
    /// Volume size in blocks.
    pub volume_size: u64,
    /// Returned cylinders.
    pub cylinders: u32,
    /// Returned heads.
    pub heads: u8,
    /// Returned sectors per track.
    pub secs_per_track: u8,
}

impl CalcGeometry {
    /// FreeBSD's `cam_calc_geometry`: 64/32 translation, or 255/63 extended translation for
    /// volumes over 1 GiB. Returns false if the cylinder count does not fit.
    pub fn compute(&mut self, extended: bool) -> bool {
        if self.block_size == 0 {
            return false;
        }
        let size_mb = self.volume_size.saturating_mul(self.block_size as u64) / (1024 * 1024);
        let (heads, spt) = if size_mb > 1024 && extended {
            (255u8, 63u8)
        } else {
            (64, 32)
        };
        let secs_per_cyl = heads as u64 * spt as u64;
        let cyl = self.volume_size / secs_per_cyl;
        self.heads = heads;
        self.secs_per_track = spt;
        match u32::try_from(cyl) {
            Ok(c) => {
                self.cylinders = c;
                true
            }
            Err(_) => false,
        }
    }
}

/// Abort body (`struct ccb_abort`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Abort {
    /// The CCB to abort.
    pub abort_ccb: CcbId,
}

/// XPT_GDEV_TYPE body (`struct ccb_getdev`): what the probe learned about a device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetDev {
    /// Returned INQUIRY data.
    pub inquiry: Option<crate::scsi_cmd::InquiryData>,
    /// Returned unit serial number.
    pub serial: Option<String>,
    /// Returned negotiated transfer settings.
    pub tran: Option<TranSettings>,
}

/// `ccb_getdevlist` list status (`CAM_GDEVLIST_*`, cam_ccb.h).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum GdevListStatus {
    /// This was the last periph of the device (`CAM_GDEVLIST_LAST_DEVICE` = 0).
    #[default]
    LastDevice = 0,
    /// The list changed since `generation` (`CAM_GDEVLIST_LIST_CHANGED` = 1).
    ListChanged = 1,
    /// More periphs follow (`CAM_GDEVLIST_MORE_DEVS` = 2).
    MoreDevs = 2,
    /// Bad index (`CAM_GDEVLIST_ERROR` = 3).
    Error = 3,
}

/// XPT_GDEVLIST body (`struct ccb_getdevlist`): the `index`th periph of the device at the
/// CCB's path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetDevList {
    /// Which periph (0-based); the caller increments it while `status` is `MoreDevs`.
    pub index: u32,
    /// Returned periph name ("da", "sa", "cd", "pass").
    pub periph_name: String,
    /// Returned periph unit number.
    pub unit_number: u32,
    /// Periph list generation the caller saw (0 = first call); returned: current.
    pub generation: u32,
    /// Returned list status.
    pub status: GdevListStatus,
}

/// One XPT_DEV_MATCH pattern (`struct dev_match_pattern`, simplified): every `Some` field
/// must match; an empty pattern list matches everything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevMatchPattern {
    /// Bus/target/LUN, wildcards allowed.
    pub path: Path,
    /// INQUIRY vendor prefix.
    pub vendor: Option<String>,
    /// INQUIRY product prefix.
    pub product: Option<String>,
    /// Peripheral device type.
    pub device_type: Option<u8>,
    /// Only devices with a periph of this name ("da", "sa", "cd", "pass").
    pub periph_name: Option<String>,
}

impl DevMatchPattern {
    /// A pattern matching every device under `path`.
    pub fn path(path: Path) -> Self {
        DevMatchPattern {
            path,
            vendor: None,
            product: None,
            device_type: None,
            periph_name: None,
        }
    }
}

/// One XPT_DEV_MATCH result (`struct dev_match_result`, device and periph entries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DevMatchResult {
    /// A device (`DEV_MATCH_DEVICE`).
    Device {
        /// Address.
        addr: crate::path::DevAddr,
        /// INQUIRY data.
        inquiry: Option<crate::scsi_cmd::InquiryData>,
        /// The device went away.
        lost: bool,
    },
    /// A periph on that device (`DEV_MATCH_PERIPH`).
    Periph {
        /// Address.
        addr: crate::path::DevAddr,
        /// Periph name.
        name: String,
        /// Unit number.
        unit: u32,
    },
}

/// XPT_DEV_MATCH body (`struct ccb_dev_match`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DevMatch {
    /// Patterns (OR of patterns; empty = all).
    pub patterns: Vec<DevMatchPattern>,
    /// Returned matches, devices each followed by their periphs.
    pub matches: Vec<DevMatchResult>,
}

/// XPT_GDEV_STATS body (`struct ccb_getdevstats`) plus devstat-style I/O statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetDevStats {
    /// Returned openings.
    pub dev_openings: u32,
    /// Returned transactions at the SIM.
    pub dev_active: u32,
    /// Returned CCBs queued in the XPT.
    pub queued: u32,
    /// Returned device queue freeze count.
    pub qfrozen_cnt: u32,
    /// Returned maximum tags (openings when tagged).
    pub maxtags: u32,
    /// Returned minimum tags.
    pub mintags: u32,
    /// Returned I/O statistics (`devstat`).
    pub devstat: crate::devstat::DevStat,
}

/// The function-specific part of a CCB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CcbBody {
    /// XPT_NOOP.
    Noop,
    /// XPT_SCSI_IO.
    ScsiIo(ScsiIo),
    /// XPT_PATH_INQ.
    PathInq(PathInq),
    /// XPT_REL_SIMQ.
    RelSim(RelSim),
    /// XPT_SASYNC_CB.
    SetAsync(SetAsync),
    /// XPT_ABORT.
    Abort(Abort),
    /// XPT_RESET_BUS.
    ResetBus,
    /// XPT_RESET_DEV.
    ResetDev,
    /// XPT_GET_TRAN_SETTINGS.
    GetTranSettings(TranSettings),
    /// XPT_SET_TRAN_SETTINGS.
    SetTranSettings(TranSettings),
    /// XPT_CALC_GEOMETRY.
    CalcGeometry(CalcGeometry),
    /// XPT_GDEV_TYPE.
    GdevType(GetDev),
    /// XPT_GDEVLIST.
    GdevList(GetDevList),
    /// XPT_SDEV_TYPE (represented; the XPT answers CAM_FUNC_NOTAVAIL).
    SdevType,
    /// XPT_SCAN_BUS: scan the CCB's bus; completes when the scan ends.
    ScanBus,
    /// XPT_DEV_MATCH.
    DevMatch(DevMatch),
    /// XPT_DEBUG (represented; the XPT answers CAM_FUNC_NOTAVAIL).
    Debug,
    /// XPT_PATH_STATS (represented; the XPT answers CAM_FUNC_NOTAVAIL).
    PathStats,
    /// XPT_GDEV_STATS.
    GdevStats(GetDevStats),
    /// XPT_TERM_IO: like XPT_ABORT, passed to the SIM for a CCB it holds.
    TermIo(Abort),
    /// XPT_SCAN_LUN: probe the one LUN at the CCB's path; completes when done.
    ScanLun,
}

/// A CAM control block.
#[derive(Clone, Debug)]
pub struct Ccb {
    /// Header.
    pub h: CcbHeader,
    /// Function-specific body.
    pub body: CcbBody,
}

impl Ccb {
    /// A CCB for `path` with `body`.
    pub fn new(path: Path, body: CcbBody) -> Self {
        Ccb {
            h: CcbHeader::new(path),
            body,
        }
    }
    /// A SCSI I/O CCB.
    pub fn scsi_io(path: Path, cdb: Cdb, data: DataXfer, timeout: Duration) -> Self {
        let mut c = Ccb::new(path, CcbBody::ScsiIo(ScsiIo::new(cdb, data)));
        c.h.timeout = timeout;
        c
    }
    /// The function code implied by the body.
    pub fn func_code(&self) -> FuncCode {
        match self.body {
            CcbBody::Noop => FuncCode::Noop,
            CcbBody::ScsiIo(_) => FuncCode::ScsiIo,
            CcbBody::PathInq(_) => FuncCode::PathInq,
            CcbBody::RelSim(_) => FuncCode::RelSimq,
            CcbBody::SetAsync(_) => FuncCode::SetAsyncCb,
            CcbBody::Abort(_) => FuncCode::Abort,
            CcbBody::ResetBus => FuncCode::ResetBus,
            CcbBody::ResetDev => FuncCode::ResetDev,
            CcbBody::GetTranSettings(_) => FuncCode::GetTranSettings,
            CcbBody::SetTranSettings(_) => FuncCode::SetTranSettings,
            CcbBody::CalcGeometry(_) => FuncCode::CalcGeometry,
            CcbBody::GdevType(_) => FuncCode::GdevType,
            CcbBody::GdevList(_) => FuncCode::GdevList,
            CcbBody::SdevType => FuncCode::SdevType,
            CcbBody::ScanBus => FuncCode::ScanBus,
            CcbBody::DevMatch(_) => FuncCode::DevMatch,
            CcbBody::Debug => FuncCode::Debug,
            CcbBody::PathStats => FuncCode::PathStats,
            CcbBody::GdevStats(_) => FuncCode::GdevStats,
            CcbBody::TermIo(_) => FuncCode::TermIo,
            CcbBody::ScanLun => FuncCode::ScanLun,
        }
    }
    /// The full FreeBSD `ccb_flags` word, derived from header and body.
    pub fn flags_word(&self) -> u32 {
        let mut f = 0;
        if self.h.dis_autosense {
            f |= flags::CAM_DIS_AUTOSENSE;
        }
        if self.h.dis_disconnect {
            f |= flags::CAM_DIS_DISCONNECT;
        }
        if self.h.pass_err_recover {
            f |= flags::CAM_PASS_ERR_RECOVER;
        }
        if self.h.dev_qfrzdis {
            f |= flags::CAM_DEV_QFRZDIS;
        }
        if self.h.tag_action != TagAction::None {
            f |= flags::CAM_TAG_ACTION_VALID;
        }
        if let CcbBody::ScsiIo(io) = &self.body {
            f |= io.data.dir_flags();
            if matches!(io.cdb, Cdb::Ref(_)) {
                f |= flags::CAM_CDB_POINTER;
            }
            if io.data.is_sg() {
                f |= flags::CAM_DATA_SG;
            }
        } else {
            f |= flags::CAM_DIR_NONE;
        }
        f
    }
    /// The status word.
    pub fn status(&self) -> CcbStatus {
        self.h.status
    }
    /// Set the status number and flags (SIM side).
    pub fn set_status(&mut self, s: CamStatus, flag_bits: u32) {
        self.h.status = CcbStatus::new(s, flag_bits);
    }
    /// The SCSI I/O body, if this is one.
    pub fn scsiio(&self) -> Option<&ScsiIo> {
        match &self.body {
            CcbBody::ScsiIo(io) => Some(io),
            _ => None,
        }
    }
    /// The SCSI I/O body, mutably.
    pub fn scsiio_mut(&mut self) -> Option<&mut ScsiIo> {
        match &mut self.body {
            CcbBody::ScsiIo(io) => Some(io),
            _ => None,
        }
    }
}
