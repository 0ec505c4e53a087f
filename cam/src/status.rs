//! CAM status (FreeBSD `cam_status`, sys/cam/cam.h), its flag bits, the errno layer and
//! the layered status report of seed 004 (errno, buffer, CAM, SCSI).

/// CAM status codes; numeric values are FreeBSD's `cam.h`.
#[repr(u32)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum CamStatus {
    /// CCB request is in progress.
    ReqInprog = 0x00,
    /// CCB request completed without error.
    ReqCmp = 0x01,
    /// CCB request aborted by the host.
    ReqAborted = 0x02,
    /// Unable to abort CCB request.
    UaAbort = 0x03,
    /// CCB request completed with an error.
    ReqCmpErr = 0x04,
    /// CAM subsystem is busy.
    Busy = 0x05,
    /// CCB request was invalid.
    ReqInvalid = 0x06,
    /// Supplied path ID is invalid.
    PathInvalid = 0x07,
    /// SCSI device not installed/there.
    DevNotThere = 0x08,
    /// Unable to terminate I/O CCB request.
    UaTermio = 0x09,
    /// Target selection timeout.
    SelTimeout = 0x0a,
    /// Command timeout.
    CmdTimeout = 0x0b,
    /// SCSI error, look at the SCSI status.
    ScsiStatusError = 0x0c,
    /// Message reject received.
    MsgRejectRec = 0x0d,
    /// SCSI bus reset sent/received.
    ScsiBusReset = 0x0e,
    /// Uncorrectable parity error.
    UncorParity = 0x0f,
    /// Autosense: REQUEST SENSE failed.
    AutosenseFail = 0x10,
    /// No HBA detected.
    NoHba = 0x11,
    /// Data overrun/underrun.
    DataRunErr = 0x12,
    /// Unexpected bus free.
    UnexpBusfree = 0x13,
    /// Target bus phase sequence failure.
    SequenceFail = 0x14,
    /// CCB length inadequate.
    CcbLenErr = 0x15,
    /// Unable to provide requested capability.
    ProvideFail = 0x16,
    /// A BUS DEVICE RESET was sent to the target.
    BdrSent = 0x17,
    /// CCB request terminated by the host.
    ReqTermio = 0x18,
    /// Unrecoverable HBA error.
    UnrecHbaError = 0x19,
    /// Request too large for this host.
    ReqTooBig = 0x1a,
    /// Requeue to preserve transaction ordering.
    RequeueReq = 0x1b,
    /// ATA error, look at the error code (`CAM_ATA_STATUS_ERROR`).
    AtaStatusError = 0x1c,
    /// Initiator/target nexus lost.
    ScsiItNexusLost = 0x1d,
    /// SMP error, look at the SMP function result (`CAM_SMP_STATUS_ERROR`).
    SmpStatusError = 0x1e,
    /// Completed but exceeded the soft timeout.
    ReqSofttimeout = 0x1f,
    /// Initiator detected error.
    Ide = 0x33,
    /// Resource unavailable.
    ResrcUnavail = 0x34,
    /// Unacknowledged event by host.
    UnackedEvent = 0x35,
    /// Message received in host target mode.
    MessageRecv = 0x36,
    /// Invalid CDB received in host target mode.
    InvalidCdb = 0x37,
    /// LUN supplied is invalid.
    LunInvalid = 0x38,
    /// Target ID supplied is invalid.
    TidInvalid = 0x39,
    /// Requested function not available.
    FuncNotavail = 0x3a,
    /// Nexus is not established.
    NoNexus = 0x3b,
    /// Initiator ID is invalid.
    IidInvalid = 0x3c,
    /// CDB received.
    CdbRecvd = 0x3d,
    /// LUN already enabled for target mode.
    LunAlrdyEna = 0x3e,
    /// SCSI bus busy.
    ScsiBusy = 0x3f,
}

/// Mask of the status number within the status word.
pub const CAM_STATUS_MASK: u32 = 0x3f;
/// The device queue is frozen with this error.
pub const CAM_DEV_QFRZN: u32 = 0x40;
/// Autosense data valid for target.
pub const CAM_AUTOSNS_VALID: u32 = 0x80;
/// SIM ready to take more commands (release the SIM queue once).
pub const CAM_RELEASE_SIMQ: u32 = 0x100;
/// SIM has this command in its queue (it reached the adapter).
pub const CAM_SIM_QUEUED: u32 = 0x200;
/// Quality-of-service data valid.
pub const CAM_QOS_VALID: u32 = 0x400;
/// All flag bits the status word may carry.
const FLAG_BITS: u32 =
    CAM_DEV_QFRZN | CAM_AUTOSNS_VALID | CAM_RELEASE_SIMQ | CAM_SIM_QUEUED | CAM_QOS_VALID;

const ALL: &[CamStatus] = {
    use CamStatus::*;
    &[
        ReqInprog,
        ReqCmp,
        ReqAborted,
        UaAbort,
        ReqCmpErr,
        Busy,
        ReqInvalid,
        PathInvalid,
        DevNotThere,
        UaTermio,
        SelTimeout,
        CmdTimeout,
        ScsiStatusError,
        MsgRejectRec,
        ScsiBusReset,
        UncorParity,
        AutosenseFail,
        NoHba,
        DataRunErr,
        UnexpBusfree,
        SequenceFail,
        CcbLenErr,
        ProvideFail,
        BdrSent,
        ReqTermio,
        UnrecHbaError,
        ReqTooBig,
        RequeueReq,
        AtaStatusError,
        ScsiItNexusLost,
        SmpStatusError,
        ReqSofttimeout,
        Ide,
        ResrcUnavail,
        UnackedEvent,
        MessageRecv,
        InvalidCdb,
        LunInvalid,
        TidInvalid,
        FuncNotavail,
        NoNexus,
        IidInvalid,
        CdbRecvd,
        LunAlrdyEna,
        ScsiBusy,
    ]
};

impl CamStatus {
    /// The status number for a raw status word (flags ignored); `None` if unassigned.
    pub fn from_raw(raw: u32) -> Option<CamStatus> {
        let n = raw & CAM_STATUS_MASK;
        ALL.iter().copied().find(|s| *s as u32 == n)
    }
    /// Numeric value.
    pub fn code(self) -> u32 {
        self as u32
    }
}

/// The CCB status word: a status number plus flag bits. Built only from a `CamStatus`, so
/// the number is always a valid one.
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct CcbStatus(u32);

impl std::fmt::Debug for CcbStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.status())?;
        for (bit, name) in [
            (CAM_DEV_QFRZN, "DEV_QFRZN"),
            (CAM_AUTOSNS_VALID, "AUTOSNS_VALID"),
            (CAM_RELEASE_SIMQ, "RELEASE_SIMQ"),
            (CAM_SIM_QUEUED, "SIM_QUEUED"),
        ] {
            if self.0 & bit != 0 {
                write!(f, "|{name}")?;
            }
        }
        Ok(())
    }
}

impl Default for CcbStatus {
    fn default() -> Self {
        CcbStatus(CamStatus::ReqInprog as u32)
    }
}

impl From<CamStatus> for CcbStatus {
    fn from(s: CamStatus) -> Self {
        CcbStatus(s as u32)
    }
}

impl CcbStatus {
    /// Status word from a status and flag bits (unknown flag bits are dropped).
    pub fn new(s: CamStatus, flags: u32) -> Self {
        CcbStatus(s as u32 | (flags & FLAG_BITS))
    }
    /// Parse a raw word as a SIM or user might hand it over; `None` if the number is unassigned.
    pub fn from_raw(raw: u32) -> Option<Self> {
        CamStatus::from_raw(raw).map(|s| CcbStatus::new(s, raw))
    }
    /// The raw 32-bit word, as FreeBSD's `ccb_h.status`.
    pub fn raw(self) -> u32 {
        self.0
    }
    /// The status number (`status & CAM_STATUS_MASK`).
    pub fn status(self) -> CamStatus {
        CamStatus::from_raw(self.0).expect("CcbStatus always holds a valid number")
    }
    /// Replace the status number, keeping the flags.
    pub fn set_status(&mut self, s: CamStatus) {
        self.0 = (self.0 & !CAM_STATUS_MASK) | s as u32;
    }
    /// Whether a flag bit is set.
    pub fn has(self, flag: u32) -> bool {
        self.0 & flag != 0
    }
    /// Set a flag bit.
    pub fn set(&mut self, flag: u32) {
        self.0 |= flag & FLAG_BITS;
    }
    /// Clear a flag bit.
    pub fn clear(&mut self, flag: u32) {
        self.0 &= !flag;
    }
    /// Whether the status number is CAM_REQ_CMP.
    pub fn is_ok(self) -> bool {
        self.status() == CamStatus::ReqCmp
    }
}

/// errno values for the top status layer; numbers are the same on FreeBSD and Linux.
#[repr(i32)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Errno {
    /// Success.
    Ok = 0,
    /// I/O error: the failed command itself (seed 001).
    Eio = 5,
    /// No such device: flushed commands (seed 001) and lost devices.
    Enxio = 6,
    /// Permission denied (write protected).
    Eacces = 13,
    /// Device busy.
    Ebusy = 16,
    /// Invalid argument (ILLEGAL REQUEST).
    Einval = 22,
    /// No space left (volume overflow / end of medium).
    Enospc = 28,
}

/// Buffer layer of the status: how much of the caller's buffer moved.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct BufStatus {
    /// Bytes requested.
    pub requested: u32,
    /// Bytes not transferred (residual).
    pub resid: u32,
}

impl BufStatus {
    /// Bytes actually transferred.
    pub fn transferred(&self) -> u32 {
        self.requested.saturating_sub(self.resid)
    }
}

/// Seed 004's layered status, to be checked in this order: errno, buffer, CAM, SCSI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayeredStatus {
    /// Transport/file-system layer.
    pub errno: Errno,
    /// Buffer layer.
    pub buf: BufStatus,
    /// CAM status word of the last CCB.
    pub cam: CcbStatus,
    /// SCSI status byte, when the target returned one.
    pub scsi: Option<u8>,
}

/// Which layer first reports a problem (see `LayeredStatus::first_error`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StatusLayer {
    /// errno layer.
    Errno,
    /// Short transfer.
    Buffer,
    /// CAM status not REQ_CMP.
    Cam,
    /// SCSI status not GOOD.
    Scsi,
}

impl LayeredStatus {
    /// Check the layers in seed 004's order and name the first that reports trouble.
    pub fn first_error(&self) -> Option<StatusLayer> {
        if self.errno != Errno::Ok {
            Some(StatusLayer::Errno)
        } else if self.buf.resid != 0 {
            Some(StatusLayer::Buffer)
        } else if !self.cam.is_ok() {
            Some(StatusLayer::Cam)
        } else if self.scsi.is_some_and(|s| s != scsi_defs::status::GOOD) {
            Some(StatusLayer::Scsi)
        } else {
            None
        }
    }
}
