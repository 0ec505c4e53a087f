//! User-space CAM stack in the FreeBSD mould: CCBs, the transport layer (XPT) with device
//! and SIM queues and freeze counts, async events, bus scan and probe, the `da`/`sa`/`cd`/
//! `pass` periphs and periph error recovery, quirks and devstat. Pure Rust, no I/O,
//! deterministic: one thread drives `Xpt::step` and a `Clock` carries all time.
//!
//! Map to FreeBSD: `ccb` = cam_ccb.h, `status` = cam.h, `xpt` = cam_xpt.c, `devq`/`simq` =
//! cam_queue.c, `probe` = scsi_xpt.c, `periph` = cam_periph.c with `da`/`sa`/`cd`/`pass` =
//! scsi_da.c/scsi_sa.c/scsi_cd.c/scsi_pass.c, `quirks` = the quirk tables, `devstat` =
//! devstat(9), `recovery` = cam_periph_error + scsi_error_action,
//! `sense`/`scsi_cmd` = scsi_all.c. Seed models: `sim::SimRecovery` (000), XPT flush/resume
//! and never-issued requeue (001), `gauntlet` (003), priority classes, owner freezes and
//! `status::LayeredStatus` (004).

#![warn(missing_docs)]

pub mod async_event;
pub mod ccb;
pub mod clock;
pub mod devq;
pub mod devstat;
pub mod gauntlet;
pub mod path;
pub mod periph;
mod probe;
pub mod quirks;
pub mod recovery;
pub mod scsi_cmd;
pub mod sense;
pub mod sim;
pub mod simq;
pub mod status;
pub mod xpt;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod tests;

pub use ccb::{Ccb, CcbBody, CcbHeader, CcbId, Cdb, DataBuf, DataXfer, DispatchClass, FuncCode};
pub use clock::{CamTime, Clock, MonotonicClock, SimClock};
pub use path::{BusId, DevAddr, Path};
pub use periph::{
    cd::CdHandle, da::DaHandle, pass::PassHandle, sa::SaHandle, IoId, IoResult, PeriphId,
    PeriphKind,
};
pub use sim::{Sim, SimCtx, SimParams};
pub use status::{CamStatus, CcbStatus, Errno, LayeredStatus};
pub use xpt::{Completion, Xpt};
