//! Periph error recovery decisions, after FreeBSD's `cam_periph_error` and scsi_all.c's
//! `scsi_error_action` table: from a completed CCB to an action (done, retry, active
//! recovery, fail). Pure functions; the periph core carries the actions out.

use crate::ccb::Ccb;
use crate::sense::Sense;
use crate::status::{CamStatus, Errno, CAM_AUTOSNS_VALID};
use scsi_defs::{sense_key as sk, status as ss};
use std::time::Duration;

/// Retry UNIT ATTENTION conditions (`SF_RETRY_UA`, cam.h).
pub const SF_RETRY_UA: u32 = 0x01;
/// Never print error status.
pub const SF_NO_PRINT: u32 = 0x02;
/// Quiet about ILLEGAL REQUEST.
pub const SF_QUIET_IR: u32 = 0x04;
/// Always print error status.
pub const SF_PRINT_ALWAYS: u32 = 0x08;
/// No active error recovery (no START UNIT, TUR wait, reset).
pub const SF_NO_RECOVERY: u32 = 0x10;
/// No retries of any kind.
pub const SF_NO_RETRY: u32 = 0x20;
/// Retry BUSY status.
pub const SF_RETRY_BUSY: u32 = 0x40;

/// Delay before retrying after BUSY, QUEUE FULL or resource shortage (FreeBSD: 1 s / next
/// completion).
pub const BUSY_DELAY: Duration = Duration::from_millis(1000);
/// Innocent-bystander requeues (bus reset, BDR, CAM_REQUEUE_REQ) allowed per request: they
/// do not burn retries, but a bus that resets forever must not loop forever.
pub const BYSTANDER_LIMIT: u32 = 16;

/// Active recovery that needs the per-bus gauntlet (seed 003).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// Send START STOP UNIT (start), then retry (NOT READY, initializing command required).
    StartUnit,
    /// Wait and poll with TEST UNIT READY until ready, then retry (becoming ready).
    TurWait,
    /// The command may still be on the target: BUS DEVICE RESET, then retry.
    Reset,
}

/// What to do with a failed (or successful) CCB.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ErrorAction {
    /// Treat as success.
    Done,
    /// Send again. `burn` says whether it uses up a retry (false: innocent bystander).
    Retry {
        /// Hold the device queue this long first.
        delay: Option<Duration>,
        /// Counts against the retry budget.
        burn: bool,
        /// Lower the device's openings first (QUEUE FULL).
        reduce_openings: bool,
    },
    /// Active recovery through the bus gauntlet, then retry.
    Recover(Recovery),
    /// Give up with this errno.
    Fail(Errno),
    /// The device is gone: fail ENXIO and announce AC_LOST_DEVICE.
    LostDevice,
}

/// Budget and policy for one decision.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ErrorCtx {
    /// Retries left.
    pub retries_left: u32,
    /// Innocent-bystander requeues left.
    pub bystander_left: u32,
    /// SF_* flags.
    pub sf: u32,
    /// The periph was invalidated.
    pub invalid: bool,
}

/// What the sense table says (scsi_all.c `SS_*` actions).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SenseAction {
    /// No error (`SS_NOP`).
    Nop,
    /// Retry (`SS_RDEF`/`SS_RETRY`).
    Retry,
    /// Retry only if the caller asked for UA retries, else fail EIO (UNIT ATTENTION).
    RetryUa,
    /// Send START UNIT (`SS_START`).
    Start,
    /// Wait, then TEST UNIT READY (`SS_WAIT`).
    Wait,
    /// Fail with errno (`SS_FATAL|errno`).
    Fail(Errno),
}

/// One row of the sense table: key, ASC, ASCQ (`None` = any), action.
type Row = (u8, Option<u8>, Option<u8>, SenseAction);

/// Sense key / ASC / ASCQ to action; first match wins, key defaults last.
const SENSE_TABLE: &[Row] = &[
    // NOT READY
    (sk::NOT_READY, Some(0x04), Some(0x01), SenseAction::Wait), // becoming ready
    (sk::NOT_READY, Some(0x04), Some(0x02), SenseAction::Start), // init command required
    (
        sk::NOT_READY,
        Some(0x04),
        Some(0x03),
        SenseAction::Fail(Errno::Enxio),
    ), // manual intervention
    (
        sk::NOT_READY,
        Some(0x3a),
        None,
        SenseAction::Fail(Errno::Enxio),
    ), // medium not present
    (sk::NOT_READY, None, None, SenseAction::Retry),
    // ILLEGAL REQUEST
    (
        sk::ILLEGAL_REQUEST,
        Some(0x25),
        Some(0x00),
        SenseAction::Fail(Errno::Enxio),
    ), // LUN not supported
    (
        sk::ILLEGAL_REQUEST,
        None,
        None,
        SenseAction::Fail(Errno::Einval),
    ),
    // UNIT ATTENTION
    (
        sk::UNIT_ATTENTION,
        Some(0x3a),
        None,
        SenseAction::Fail(Errno::Enxio),
    ), // medium removed
    (sk::UNIT_ATTENTION, None, None, SenseAction::RetryUa),
    // Others
    (sk::NO_SENSE, None, None, SenseAction::Nop),
    (sk::RECOVERED_ERROR, None, None, SenseAction::Nop),
    (sk::MEDIUM_ERROR, None, None, SenseAction::Retry),
    (sk::HARDWARE_ERROR, None, None, SenseAction::Retry),
    (
        sk::DATA_PROTECT,
        None,
        None,
        SenseAction::Fail(Errno::Eacces),
    ),
    (sk::BLANK_CHECK, None, None, SenseAction::Fail(Errno::Eio)),
    (sk::ABORTED_COMMAND, None, None, SenseAction::Retry),
    (
        sk::VOLUME_OVERFLOW,
        None,
        None,
        SenseAction::Fail(Errno::Enospc),
    ),
    (sk::MISCOMPARE, None, None, SenseAction::Fail(Errno::Eio)),
];

/// Look sense up in the table (unknown keys fail EIO).
pub fn sense_action(s: &Sense) -> SenseAction {
    SENSE_TABLE
        .iter()
        .find(|(k, a, q, _)| {
            *k == s.key && (a.is_none() || *a == Some(s.asc)) && (q.is_none() || *q == Some(s.ascq))
        })
        .map(|r| r.3)
        .unwrap_or(SenseAction::Fail(Errno::Eio))
}

/// The autosense data of a CCB, if valid and decodable.
pub fn ccb_sense(ccb: &Ccb) -> Option<Sense> {
    let io = ccb.scsiio()?;
    if !ccb.h.status.has(CAM_AUTOSNS_VALID) {
        return None;
    }
    Sense::parse(&io.sense).ok()
}

/// Whether the command is known to be cleanly off the adapter and target (seed 003). After
/// a timeout, an unexpected bus free or a failed abort the target may still hold it.
pub fn cleanly_off(status: CamStatus) -> bool {
    !matches!(
        status,
        CamStatus::CmdTimeout | CamStatus::UnexpBusfree | CamStatus::UaAbort | CamStatus::UaTermio
    )
}

/// The raw decision, before budgets are applied.
fn raw_action(ccb: &Ccb, sf: u32) -> ErrorAction {
    use CamStatus as C;
    let retry = |burn| ErrorAction::Retry {
        delay: None,
        burn,
        reduce_openings: false,
    };
    match ccb.h.status.status() {
        C::ReqCmp => ErrorAction::Done,
        C::ScsiStatusError => {
            let st = ccb
                .scsiio()
                .map(|io| io.scsi_status)
                .unwrap_or(ss::CHECK_CONDITION);
            match st {
                ss::GOOD
                | ss::CONDITION_MET
                | ss::INTERMEDIATE
                | ss::INTERMEDIATE_CONDITION_MET => ErrorAction::Done,
                ss::CHECK_CONDITION | ss::COMMAND_TERMINATED => match ccb_sense(ccb) {
                    // No usable sense: FreeBSD retries as a generic error.
                    None => retry(true),
                    Some(s) => match sense_action(&s) {
                        SenseAction::Nop => ErrorAction::Done,
                        SenseAction::Retry => retry(true),
                        SenseAction::RetryUa if sf & SF_RETRY_UA != 0 => retry(true),
                        SenseAction::RetryUa => ErrorAction::Fail(Errno::Eio),
                        SenseAction::Start => ErrorAction::Recover(Recovery::StartUnit),
                        SenseAction::Wait => ErrorAction::Recover(Recovery::TurWait),
                        SenseAction::Fail(e) => ErrorAction::Fail(e),
                    },
                },
                // QUEUE FULL: fewer openings, retry when something completes; not the
                // command's fault, so no retry burnt (bounded as a bystander).
                ss::QUEUE_FULL => ErrorAction::Retry {
                    delay: None,
                    burn: false,
                    reduce_openings: true,
                },
                ss::BUSY => ErrorAction::Retry {
                    delay: Some(BUSY_DELAY),
                    burn: true,
                    reduce_openings: false,
                },
                ss::TASK_ABORTED => retry(true),
                ss::RESERVATION_CONFLICT => ErrorAction::Fail(Errno::Eio),
                _ => ErrorAction::Fail(Errno::Eio),
            }
        }
        // Innocent bystanders: the command was fine, something else reset it.
        C::ScsiBusReset | C::BdrSent | C::RequeueReq => retry(false),
        C::SelTimeout => ErrorAction::LostDevice,
        C::DevNotThere | C::PathInvalid | C::NoHba | C::TidInvalid | C::LunInvalid => {
            ErrorAction::Fail(Errno::Enxio)
        }
        C::ReqInvalid | C::ReqTooBig | C::FuncNotavail | C::CcbLenErr | C::ProvideFail => {
            ErrorAction::Fail(Errno::Einval)
        }
        // Flushed by the XPT (seed 001) or terminated by the host: not retried.
        C::ReqTermio => ErrorAction::Fail(Errno::Enxio),
        C::ReqAborted => ErrorAction::Fail(Errno::Eio),
        C::Busy | C::ResrcUnavail | C::ScsiBusy => ErrorAction::Retry {
            delay: Some(BUSY_DELAY),
            burn: true,
            reduce_openings: false,
        },
        C::CmdTimeout | C::UnexpBusfree | C::UaAbort | C::UaTermio => {
            ErrorAction::Recover(Recovery::Reset)
        }
        _ => retry(true),
    }
}

/// `cam_periph_error`: decide, then apply the retry budgets and SF_* policy.
pub fn periph_error(ccb: &Ccb, cx: &ErrorCtx) -> ErrorAction {
    let a = raw_action(ccb, cx.sf);
    match a {
        ErrorAction::Done => a,
        _ if cx.invalid => ErrorAction::Fail(Errno::Enxio),
        ErrorAction::Retry { .. } | ErrorAction::Recover(_) if cx.sf & SF_NO_RETRY != 0 => {
            ErrorAction::Fail(default_errno(ccb))
        }
        ErrorAction::Recover(_) if cx.sf & SF_NO_RECOVERY != 0 => ErrorAction::Fail(Errno::Eio),
        ErrorAction::Recover(_) if cx.retries_left == 0 => ErrorAction::Fail(Errno::Eio),
        ErrorAction::Retry { burn: true, .. } if cx.retries_left == 0 => {
            ErrorAction::Fail(default_errno(ccb))
        }
        ErrorAction::Retry { burn: false, .. } if cx.bystander_left == 0 => {
            ErrorAction::Fail(Errno::Eio)
        }
        _ => a,
    }
}

/// errno for a failed CCB when no table entry says otherwise (seed 001: the failed
/// command is EIO, flushed ones ENXIO).
pub fn default_errno(ccb: &Ccb) -> Errno {
    match raw_action(ccb, 0) {
        ErrorAction::Fail(e) => e,
        ErrorAction::LostDevice => Errno::Enxio,
        ErrorAction::Done => Errno::Ok,
        _ => Errno::Eio,
    }
}
