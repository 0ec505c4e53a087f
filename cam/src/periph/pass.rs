//! `pass`: raw CDB pass-through, after FreeBSD scsi_pass.c. Error recovery runs only when
//! the caller asks for it (`CAM_PASS_ERR_RECOVER`); otherwise the status comes back as the
//! SIM left it, and the device queue freeze a failure leaves is released for the caller.

use super::{io_result, Dir, IoId, Outcome, Periph, PeriphCore, PeriphError, PeriphId, Request};
use crate::ccb::Ccb;
use crate::status::Errno;
use crate::xpt::Xpt;
use std::time::Duration;

/// The pass periph's state.
pub struct Pass {
    pub(crate) core: PeriphCore,
}

impl Pass {
    pub(crate) fn new(core: PeriphCore) -> Self {
        Pass { core }
    }

    pub(crate) fn done(&mut self, xpt: &mut Xpt, ccb: Ccb) {
        let outs = self.core.handle_done(xpt, ccb, None);
        self.finish_all(xpt, outs);
    }

    pub(crate) fn finish_all(&mut self, xpt: &mut Xpt, outs: Vec<Outcome>) {
        for o in outs {
            let (req, ccb, e) = match o {
                Outcome::Success(r, c) => (r, Some(c), Errno::Ok),
                Outcome::Failed(r, c, e) => (r, c, e),
            };
            xpt.complete_io(req.io, io_result(ccb.as_deref(), req.dir_len(), e));
        }
    }
}

/// Data for a pass-through command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassData {
    /// No data.
    None,
    /// Read this many bytes.
    In(usize),
    /// Write these bytes.
    Out(Vec<u8>),
}

/// Handle on a `pass` periph.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PassHandle(pub PeriphId);

impl PassHandle {
    /// The `pass` periph attached to a device, if any.
    pub fn for_device(xpt: &Xpt, addr: crate::path::DevAddr) -> Option<Self> {
        xpt.periphs_of(addr)
            .into_iter()
            .find(|(_, k)| *k == super::PeriphKind::Pass)
            .map(|(p, _)| PassHandle(p))
    }

    /// The handle for periph `p`, if it is a `pass`.
    pub fn new(xpt: &Xpt, p: PeriphId) -> Option<Self> {
        (xpt.periph_kind(p) == Some(super::PeriphKind::Pass)).then_some(PassHandle(p))
    }

    /// Send a raw CDB. With `recover`, the periph error recovery (retries, START UNIT...)
    /// applies; without, the first completion is the result.
    pub fn command(
        self,
        xpt: &mut Xpt,
        cdb: &[u8],
        data: PassData,
        timeout: Duration,
        recover: bool,
    ) -> Result<IoId, PeriphError> {
        if cdb.is_empty() || cdb.len() > 255 {
            return Err(PeriphError::BadCdb);
        }
        let dir = match data {
            PassData::None => Dir::None,
            PassData::In(n) => Dir::In(n),
            PassData::Out(v) => Dir::Out(v),
        };
        xpt.periph_call(self.0, |p, x| match p {
            Periph::Pass(d) if d.core.invalid => Err(PeriphError::Invalid),
            Periph::Pass(d) => {
                let io = PeriphCore::new_io(x);
                let mut req = Request::new(io, cdb.to_vec(), dir, 0);
                req.timeout = timeout;
                req.raw = !recover;
                d.core.submit(x, req);
                Ok(io)
            }
            _ => Err(PeriphError::NoPeriph),
        })
        .unwrap_or(Err(PeriphError::NoPeriph))
    }
}
