//! `sa`: sequential-access (tape) periph, after FreeBSD scsi_sa.c. The stack never
//! re-issues a READ, WRITE, WRITE FILEMARKS: a failed one fails (seed 001: only the owner
//! knows whether a tape command may be retried, and blind retries move the medium). The
//! driver keeps the logical position through errors from the sense INFORMATION field,
//! and when it cannot, asks the drive with READ POSITION, sent as the *resume* command that
//! ends the XPT's post-failure flush.

use super::{io_result, Dir, IoId, Outcome, Periph, PeriphCore, PeriphError, PeriphId, Request};
use crate::ccb::Ccb;
use crate::recovery::SF_NO_RETRY;
use crate::scsi_cmd;
use crate::status::{CamStatus, Errno};
use crate::xpt::Xpt;

const OP_READ: u8 = 1;
const OP_WRITE: u8 = 2;
const OP_WFM: u8 = 3;
const OP_REWIND: u8 = 4;
const OP_RDPOS: u8 = 5;
const OP_TUR: u8 = 6;
/// READ POSITION issued by the driver itself to recover its position.
const OP_RDPOS_INTERNAL: u8 = 7;

/// The tape periph's state.
pub struct Sa {
    pub(crate) core: PeriphCore,
    /// Fixed block size; 0 = variable-block mode.
    block_size: u32,
    /// Logical object position (blocks + filemarks from BOP), when known.
    pos: Option<u64>,
    /// The next command must carry `resume` (seed 001).
    need_resume: bool,
}

impl Sa {
    pub(crate) fn new(core: PeriphCore) -> Self {
        Sa {
            core,
            block_size: 0,
            pos: Some(0),
            need_resume: false,
        }
    }

    fn start(&mut self, xpt: &mut Xpt, mut req: Request) -> IoId {
        if matches!(req.op, OP_READ | OP_WRITE | OP_WFM) {
            // Never retried by the stack, whatever the error.
            req.sf |= SF_NO_RETRY;
            req.retries_left = 0;
        }
        if self.need_resume {
            req.resume = true;
            self.need_resume = false;
        }
        let io = req.io;
        self.core.submit(xpt, req);
        io
    }

    pub(crate) fn done(&mut self, xpt: &mut Xpt, ccb: Ccb) {
        if ccb.scsiio().is_some()
            && !ccb.h.status.is_ok()
            && ccb.h.status.status() != CamStatus::RequeueReq
        {
            // The XPT flushes this device until our resume command (seed 001).
            self.need_resume = true;
        }
        let outs = self.core.handle_done(xpt, ccb, None);
        self.finish_all(xpt, outs);
    }

    /// Advance the position for a (partly) completed READ/WRITE/WFM.
    fn track(&mut self, req: &Request, ccb: Option<&Ccb>, ok: bool) {
        let count = req.arg;
        let sense = ccb.and_then(crate::recovery::ccb_sense);
        match req.op {
            OP_READ | OP_WRITE | OP_WFM if ok && sense.is_none() => {
                self.pos = self.pos.map(|p| {
                    p + if self.block_size == 0 && req.op != OP_WFM {
                        1
                    } else {
                        count
                    }
                });
            }
            OP_READ | OP_WRITE | OP_WFM => {
                let done_objs = match (&sense, self.block_size, req.op) {
                    // Fixed mode / filemarks: INFORMATION is the residue in blocks.
                    (Some(s), bs, o) if (bs != 0 || o == OP_WFM) && s.info.is_some() => {
                        let resid = s.info.unwrap_or(0).min(count);
                        Some(count - resid + s.filemark as u64)
                    }
                    // Variable mode: one block was read (ILI: of another length), or a
                    // filemark was crossed instead.
                    (Some(s), 0, OP_READ) if s.ili || s.filemark => Some(1),
                    (Some(s), 0, OP_WRITE) if s.info.is_some() => Some(0),
                    _ => None,
                };
                match done_objs {
                    Some(n) => self.pos = self.pos.map(|p| p + n),
                    None => self.pos = None,
                }
            }
            _ => {}
        }
    }

    pub(crate) fn finish_all(&mut self, xpt: &mut Xpt, outs: Vec<Outcome>) {
        for o in outs {
            match o {
                Outcome::Success(req, ccb) => {
                    self.track(&req, Some(&ccb), true);
                    let mut r = io_result(Some(&ccb), req.dir_len(), Errno::Ok);
                    match req.op {
                        OP_REWIND => self.pos = Some(0),
                        OP_RDPOS | OP_RDPOS_INTERNAL => {
                            match scsi_cmd::parse_read_position(&r.data) {
                                Ok(p) => self.pos = p,
                                Err(_) => r.status.errno = Errno::Eio,
                            }
                        }
                        OP_READ => {
                            if let Some(s) = &r.sense {
                                // Variable-mode short block: INFORMATION is requested minus actual.
                                if s.ili && self.block_size == 0 {
                                    if let Some(i) = s.info.filter(|i| (*i as i32) >= 0) {
                                        // The SIM's residual may already say so; trust the
                                        // smaller of the two.
                                        let actual = (r.status.buf.requested as usize)
                                            .saturating_sub(i as usize);
                                        r.data.truncate(actual);
                                        r.status.buf.resid =
                                            r.status.buf.requested - r.data.len() as u32;
                                    }
                                }
                            }
                        }
                        _ => {}
                    }
                    if req.op != OP_RDPOS_INTERNAL {
                        xpt.complete_io(req.io, r);
                    } else {
                        xpt.retire_io(req.io);
                    }
                }
                Outcome::Failed(req, ccb, e) => {
                    self.track(&req, ccb.as_deref(), false);
                    if req.op != OP_RDPOS_INTERNAL {
                        xpt.complete_io(req.io, io_result(ccb.as_deref(), req.dir_len(), e));
                    } else {
                        xpt.retire_io(req.io);
                    }
                }
            }
        }
        // Position lost: ask the drive, as the resume command, before anything else.
        if self.pos.is_none() && !self.core.invalid && self.need_resume {
            let io = PeriphCore::new_io(xpt);
            let req = Request::new(
                io,
                scsi_cmd::read_position().to_vec(),
                Dir::In(scsi_cmd::READ_POSITION_SHORT_LEN),
                OP_RDPOS_INTERNAL,
            );
            self.start(xpt, req);
        }
    }
}

/// Handle on an `sa` periph.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SaHandle(pub PeriphId);

impl SaHandle {
    /// The `sa` periph attached to a device, if any.
    pub fn for_device(xpt: &Xpt, addr: crate::path::DevAddr) -> Option<Self> {
        xpt.periphs_of(addr)
            .into_iter()
            .find(|(_, k)| *k == super::PeriphKind::Sa)
            .map(|(p, _)| SaHandle(p))
    }

    /// The handle for periph `p`, if it is an `sa`.
    pub fn new(xpt: &Xpt, p: PeriphId) -> Option<Self> {
        (xpt.periph_kind(p) == Some(super::PeriphKind::Sa)).then_some(SaHandle(p))
    }

    fn with<R>(
        self,
        xpt: &mut Xpt,
        f: impl FnOnce(&mut Sa, &mut Xpt) -> Result<R, PeriphError>,
    ) -> Result<R, PeriphError> {
        xpt.periph_call(self.0, |p, x| match p {
            Periph::Sa(d) if d.core.invalid => Err(PeriphError::Invalid),
            Periph::Sa(d) => f(d, x),
            _ => Err(PeriphError::NoPeriph),
        })
        .unwrap_or(Err(PeriphError::NoPeriph))
    }

    fn go(
        self,
        xpt: &mut Xpt,
        cdb: Vec<u8>,
        dir: Dir,
        opc: u8,
        arg: u64,
    ) -> Result<IoId, PeriphError> {
        self.with(xpt, |s, x| {
            let mut req = Request::new(PeriphCore::new_io(x), cdb, dir, opc);
            req.arg = arg;
            Ok(s.start(x, req))
        })
    }

    /// Set the block size (0 = variable).
    pub fn set_block_size(self, xpt: &mut Xpt, bs: u32) -> Result<(), PeriphError> {
        self.with(xpt, |s, _| {
            s.block_size = bs;
            Ok(())
        })
    }

    /// Logical position, if known.
    pub fn position(self, xpt: &mut Xpt) -> Option<u64> {
        self.with(xpt, |s, _| Ok(s.pos)).ok().flatten()
    }

    /// Read `n` blocks (fixed mode) or one block of up to `n` bytes (variable mode).
    pub fn read(self, xpt: &mut Xpt, n: u32) -> Result<IoId, PeriphError> {
        let bs = self.with(xpt, |s, _| Ok(s.block_size))?;
        let cdb = scsi_cmd::tape_rw6(false, bs != 0, n).ok_or(PeriphError::BadLength)?;
        let bytes = if bs == 0 {
            n as usize
        } else {
            (n as usize)
                .checked_mul(bs as usize)
                .ok_or(PeriphError::BadLength)?
        };
        self.go(xpt, cdb.to_vec(), Dir::In(bytes), OP_READ, n as u64)
    }

    /// Write `data`: whole blocks in fixed mode, one block in variable mode.
    pub fn write(self, xpt: &mut Xpt, data: Vec<u8>) -> Result<IoId, PeriphError> {
        let bs = self.with(xpt, |s, _| Ok(s.block_size))?;
        if data.is_empty() || (bs != 0 && data.len().checked_rem(bs as usize) != Some(0)) {
            return Err(PeriphError::BadLength);
        }
        let n = if bs == 0 {
            data.len()
        } else {
            data.len() / bs as usize
        };
        let cdb = scsi_cmd::tape_rw6(true, bs != 0, n as u32).ok_or(PeriphError::BadLength)?;
        self.go(xpt, cdb.to_vec(), Dir::Out(data), OP_WRITE, n as u64)
    }

    /// WRITE FILEMARKS.
    pub fn write_filemarks(self, xpt: &mut Xpt, n: u32) -> Result<IoId, PeriphError> {
        let cdb = scsi_cmd::write_filemarks(n).ok_or(PeriphError::BadLength)?;
        self.go(xpt, cdb.to_vec(), Dir::None, OP_WFM, n as u64)
    }

    /// REWIND.
    pub fn rewind(self, xpt: &mut Xpt) -> Result<IoId, PeriphError> {
        self.go(xpt, scsi_cmd::rewind().to_vec(), Dir::None, OP_REWIND, 0)
    }

    /// READ POSITION (updates the tracked position).
    pub fn read_position(self, xpt: &mut Xpt) -> Result<IoId, PeriphError> {
        self.go(
            xpt,
            scsi_cmd::read_position().to_vec(),
            Dir::In(scsi_cmd::READ_POSITION_SHORT_LEN),
            OP_RDPOS,
            0,
        )
    }

    /// TEST UNIT READY.
    pub fn tur(self, xpt: &mut Xpt) -> Result<IoId, PeriphError> {
        self.go(xpt, scsi_cmd::tur().to_vec(), Dir::None, OP_TUR, 0)
    }
}
