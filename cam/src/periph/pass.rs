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
            let (req, mut ccb, e) = match o {
                Outcome::Success(r, c) => (r, Some(c), Errno::Ok),
                Outcome::Failed(r, c, e) => (r, c, e),
            };
            xpt.complete_io(req.io, io_result(ccb.as_deref_mut(), req.dir_len(), e));
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

    /// Like `command`, for a READ/WRITE(6/10/12/16) CDB of `block_len`-byte blocks: when
    /// the data is larger than the SIM's `maxio` the caller allows the command to be
    /// split into several of the same opcode size (LBA and count adjusted), issued in
    /// order; one result as a whole. Other CDBs go as they are.
    pub fn command_split(
        self,
        xpt: &mut Xpt,
        cdb: &[u8],
        data: PassData,
        timeout: Duration,
        recover: bool,
        block_len: u32,
    ) -> Result<IoId, PeriphError> {
        let maxio = self.addr(xpt).and_then(|a| xpt.bus_maxio(a.bus));
        let len = match &data {
            PassData::None => 0,
            PassData::In(n) => *n,
            PassData::Out(v) => v.len(),
        };
        let rw = crate::scsi_cmd::decode_rw(cdb);
        let (Some(maxio), Some((write, lba, n))) = (maxio, rw) else {
            return self.command(xpt, cdb, data, timeout, recover);
        };
        if len <= maxio as usize || block_len == 0 {
            return self.command(xpt, cdb, data, timeout, recover);
        }
        if len != n as usize * block_len as usize || write != matches!(data, PassData::Out(_)) {
            return Err(PeriphError::BadLength);
        }
        let per = (maxio / block_len).max(1);
        let mut parts = Vec::new();
        let mut at = 0u32;
        while at < n {
            let k = per.min(n - at);
            let c = crate::scsi_cmd::read_write(write, lba + at as u64, k, cdb.len() as u8)
                .filter(|c| c.len() == cdb.len())
                .ok_or(PeriphError::BadLength)?;
            let bytes = k as usize * block_len as usize;
            let dir = match &data {
                PassData::Out(v) => {
                    let off = at as usize * block_len as usize;
                    Dir::Out(v[off..off + bytes].to_vec())
                }
                _ => Dir::In(bytes),
            };
            parts.push((c, dir));
            at += k;
        }
        xpt.periph_call(self.0, |p, x| match p {
            Periph::Pass(d) if d.core.invalid => Err(PeriphError::Invalid),
            Periph::Pass(d) => {
                let (parent, kids) = x.new_split(parts.len());
                for ((c, dir), io) in parts.into_iter().zip(kids) {
                    let mut req = Request::new(io, c, dir, 0);
                    req.timeout = timeout;
                    req.raw = !recover;
                    d.core.submit(x, req);
                }
                Ok(parent)
            }
            _ => Err(PeriphError::NoPeriph),
        })
        .unwrap_or(Err(PeriphError::NoPeriph))
    }

    fn addr(self, xpt: &mut Xpt) -> Option<crate::path::DevAddr> {
        xpt.periph_call(self.0, |p, _| match p {
            Periph::Pass(d) => Some(d.core.addr),
            _ => None,
        })
        .flatten()
    }
}
