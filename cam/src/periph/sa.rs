//! `sa`: sequential-access (tape) periph, after FreeBSD scsi_sa.c. The stack never
//! re-issues a command that moves the medium (READ, WRITE, WRITE FILEMARKS, SPACE, LOCATE,
//! ERASE): a failed one fails (seed 001: only the owner knows whether a tape command may
//! be retried, and blind retries move the medium). Fixed and variable block modes are set
//! on the drive with MODE SELECT. A WRITE that meets the early-warning end of medium
//! succeeds; the next WRITE then fails ENOSPC once without being sent (as FreeBSD sa
//! reports EOM), after which writing may go on toward the physical end. The
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
const OP_SPACE: u8 = 8;
const OP_LOCATE: u8 = 9;
const OP_ERASE: u8 = 10;
const OP_MODE: u8 = 11;

/// Timeout of commands that may wind the whole tape (FreeBSD sa: SPACE/ERASE hours).
const SA_LONG_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4 * 3600);

/// The tape periph's state.
pub struct Sa {
    pub(crate) core: PeriphCore,
    /// Fixed block size; 0 = variable-block mode.
    block_size: u32,
    /// Logical object position (blocks + filemarks from BOP), when known.
    pos: Option<u64>,
    /// The next command must carry `resume` (seed 001).
    need_resume: bool,
    /// Position to be re-read from the drive (after SPACE filemarks / end of data).
    want_pos: bool,
    /// The early-warning end of medium was met by a WRITE.
    early_warning: bool,
    /// ENOSPC for the early warning already reported to the caller.
    ew_reported: bool,
}

impl Sa {
    pub(crate) fn new(core: PeriphCore) -> Self {
        Sa {
            core,
            block_size: 0,
            pos: Some(0),
            need_resume: false,
            want_pos: false,
            early_warning: false,
            ew_reported: false,
        }
    }

    fn start(&mut self, xpt: &mut Xpt, mut req: Request) -> IoId {
        if matches!(
            req.op,
            OP_READ | OP_WRITE | OP_WFM | OP_SPACE | OP_LOCATE | OP_ERASE
        ) {
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
        // NO SENSE with only EOM set: the early warning; the command itself completed.
        let clean = sense.as_ref().is_none_or(|s| {
            s.key == scsi_defs::sense_key::NO_SENSE && !s.filemark && !s.ili && s.info.is_none()
        });
        match req.op {
            OP_READ | OP_WRITE | OP_WFM if ok && clean => {
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
                Outcome::Success(req, mut ccb) => {
                    self.track(&req, Some(&ccb), true);
                    let mut r = io_result(Some(&mut ccb), req.dir_len(), Errno::Ok);
                    if matches!(req.op, OP_WRITE | OP_WFM)
                        && r.sense.as_ref().is_some_and(|s| s.eom)
                    {
                        self.early_warning = true;
                    }
                    match req.op {
                        OP_REWIND => {
                            self.pos = Some(0);
                            self.early_warning = false;
                            self.ew_reported = false;
                        }
                        OP_LOCATE => {
                            self.pos = Some(req.arg);
                            self.early_warning = false;
                            self.ew_reported = false;
                        }
                        OP_SPACE if req.cdb[1] & 7 == 0 && r.sense.is_none() => {
                            let n = req.arg as i64;
                            self.pos = self.pos.and_then(|p| p.checked_add_signed(n));
                        }
                        OP_SPACE => {
                            // Filemarks / end of data, or stopped early (a filemark, BOP):
                            // how far the tape moved is the drive's to say.
                            self.pos = None;
                            self.want_pos = true;
                        }
                        OP_MODE => self.block_size = req.arg as u32,
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
                Outcome::Failed(req, mut ccb, e) => {
                    self.track(&req, ccb.as_deref(), false);
                    if matches!(req.op, OP_SPACE | OP_LOCATE | OP_ERASE) {
                        // Where a failed positioning command left the tape: ask the drive.
                        self.pos = None;
                    }
                    if req.op != OP_RDPOS_INTERNAL {
                        xpt.complete_io(req.io, io_result(ccb.as_deref_mut(), req.dir_len(), e));
                    } else {
                        xpt.retire_io(req.io);
                    }
                }
            }
        }
        // Position lost: ask the drive (as the resume command after a failure).
        if self.pos.is_none() && !self.core.invalid && (self.need_resume || self.want_pos) {
            self.want_pos = false;
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

fn tape_cdb(write: bool, fixed: bool, n: u32) -> Result<Vec<u8>, PeriphError> {
    scsi_cmd::tape_rw6(write, fixed, n)
        .map(|c| c.to_vec())
        .ok_or(PeriphError::BadLength)
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

    /// Read `n` blocks (fixed mode, split at `maxio`) or one block of up to `n` bytes
    /// (variable mode; a block cannot be split, so `n` must fit `maxio`).
    pub fn read(self, xpt: &mut Xpt, n: u32) -> Result<IoId, PeriphError> {
        let bs = self.with(xpt, |s, _| Ok(s.block_size))?;
        if n == 0 || (n as u64).saturating_mul(bs.max(1) as u64) > u32::MAX as u64 {
            return Err(PeriphError::BadLength);
        }
        if bs != 0 {
            return self.go_fixed(xpt, false, bs, n, None);
        }
        self.check_variable(xpt, n as usize)?;
        self.go(
            xpt,
            tape_cdb(false, false, n)?,
            Dir::In(n as usize),
            OP_READ,
            n as u64,
        )
    }

    /// A variable-mode block must fit one command.
    fn check_variable(self, xpt: &mut Xpt, len: usize) -> Result<(), PeriphError> {
        self.with(xpt, |s, x| match x.bus_maxio(s.core.addr.bus) {
            Some(m) if len > m as usize => Err(PeriphError::BadLength),
            _ => Ok(()),
        })
    }

    /// A fixed-mode READ/WRITE of `n` blocks, split at the SIM's `maxio` into commands
    /// queued in order (a part that stops short or fails makes the XPT flush the rest,
    /// seed 001, so nothing is read past a filemark or re-issued); one result as a whole.
    fn go_fixed(
        self,
        xpt: &mut Xpt,
        write: bool,
        bs: u32,
        n: u32,
        data: Option<Vec<u8>>,
    ) -> Result<IoId, PeriphError> {
        self.with(xpt, |s, x| {
            let per = x
                .bus_maxio(s.core.addr.bus)
                .map_or(u32::MAX, |m| (m / bs).max(1));
            let opc = if write { OP_WRITE } else { OP_READ };
            let mut parts = Vec::new();
            let mut at = 0u32;
            while at < n {
                let k = per.min(n - at);
                let bytes = k as usize * bs as usize;
                let dir = match &data {
                    Some(v) => {
                        let off = at as usize * bs as usize;
                        Dir::Out(v[off..off + bytes].to_vec())
                    }
                    None => Dir::In(bytes),
                };
                parts.push((tape_cdb(write, true, k)?, dir, k));
                at += k;
            }
            let (ios, parent) = if parts.len() == 1 {
                let io = PeriphCore::new_io(x);
                (vec![io], io)
            } else {
                let (p, kids) = x.new_split(parts.len());
                (kids, p)
            };
            for ((cdb, dir, k), io) in parts.into_iter().zip(ios) {
                let mut req = Request::new(io, cdb, dir, opc);
                req.arg = k as u64;
                s.start(x, req);
            }
            Ok(parent)
        })
    }

    /// Write `data`: whole blocks in fixed mode, one block in variable mode. After the
    /// early-warning end of medium, the next write fails ENOSPC once, unsent.
    pub fn write(self, xpt: &mut Xpt, data: Vec<u8>) -> Result<IoId, PeriphError> {
        let bs = self.with(xpt, |s, _| Ok(s.block_size))?;
        if data.is_empty() || (bs != 0 && data.len().checked_rem(bs as usize) != Some(0)) {
            return Err(PeriphError::BadLength);
        }
        let eom = self.with(xpt, |s, x| {
            if s.early_warning && !s.ew_reported {
                s.ew_reported = true;
                let io = PeriphCore::new_io(x);
                let mut r = super::io_result(None, data.len(), Errno::Enospc);
                r.status.cam = crate::status::CcbStatus::new(CamStatus::ReqCmp, 0);
                x.complete_io(io, r);
                return Ok(Some(io));
            }
            Ok(None)
        })?;
        if let Some(io) = eom {
            return Ok(io);
        }
        let n = if bs == 0 {
            data.len()
        } else {
            data.len() / bs as usize
        };
        if bs != 0 {
            return self.go_fixed(xpt, true, bs, n as u32, Some(data));
        }
        self.check_variable(xpt, data.len())?;
        let cdb = tape_cdb(true, false, n as u32)?;
        self.go(xpt, cdb, Dir::Out(data), OP_WRITE, n as u64)
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

    fn go_long(
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
            req.timeout = SA_LONG_TIMEOUT;
            Ok(s.start(x, req))
        })
    }

    /// SPACE over `n` blocks (negative: toward BOP). Stops at a filemark (CHECK CONDITION,
    /// position re-read from the drive).
    pub fn space_blocks(self, xpt: &mut Xpt, n: i32) -> Result<IoId, PeriphError> {
        let cdb = scsi_cmd::space(scsi_cmd::SpaceCode::Blocks, n).ok_or(PeriphError::BadLength)?;
        self.go_long(xpt, cdb.to_vec(), Dir::None, OP_SPACE, n as i64 as u64)
    }

    /// SPACE over `n` filemarks (negative: toward BOP).
    pub fn space_filemarks(self, xpt: &mut Xpt, n: i32) -> Result<IoId, PeriphError> {
        let cdb =
            scsi_cmd::space(scsi_cmd::SpaceCode::Filemarks, n).ok_or(PeriphError::BadLength)?;
        self.go_long(xpt, cdb.to_vec(), Dir::None, OP_SPACE, n as i64 as u64)
    }

    /// SPACE to end of data (to append).
    pub fn space_eod(self, xpt: &mut Xpt) -> Result<IoId, PeriphError> {
        let cdb = scsi_cmd::space(scsi_cmd::SpaceCode::EndOfData, 0).expect("0 fits");
        self.go_long(xpt, cdb.to_vec(), Dir::None, OP_SPACE, 0)
    }

    /// LOCATE(10) to logical object `block` (blocks and filemarks counted from BOP).
    pub fn locate(self, xpt: &mut Xpt, block: u32) -> Result<IoId, PeriphError> {
        let cdb = scsi_cmd::locate10(block).to_vec();
        self.go_long(xpt, cdb, Dir::None, OP_LOCATE, block as u64)
    }

    /// ERASE from the current position (`long`: to the end of the partition).
    pub fn erase(self, xpt: &mut Xpt, long: bool) -> Result<IoId, PeriphError> {
        self.go_long(xpt, scsi_cmd::erase(long).to_vec(), Dir::None, OP_ERASE, 0)
    }

    /// Put the drive in fixed (`bs` > 0) or variable (`bs` = 0) block mode with MODE
    /// SELECT(6); the driver follows once the drive has accepted it.
    pub fn set_block_mode(self, xpt: &mut Xpt, bs: u32) -> Result<IoId, PeriphError> {
        let (cdb, list) = scsi_cmd::mode_select_block_size(bs).ok_or(PeriphError::BadLength)?;
        self.go(xpt, cdb.to_vec(), Dir::Out(list), OP_MODE, bs as u64)
    }

    /// Whether a WRITE met the early-warning end of medium (cleared by REWIND / LOCATE).
    pub fn at_early_warning(self, xpt: &mut Xpt) -> Option<bool> {
        self.with(xpt, |s, _| Ok(s.early_warning)).ok()
    }
}
