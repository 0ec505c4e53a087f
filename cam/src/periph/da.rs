//! `da`: direct-access (disk) periph, after FreeBSD scsi_da.c. READ/WRITE 6/10/12/16 chosen
//! by LBA and count, READ CAPACITY(10) then (16) for big disks, SYNCHRONIZE CACHE, and the
//! 6-byte fallback when a device rejects READ(6)/WRITE(6).

use super::{
    io_result, Dir, IoId, Outcome, Override, Periph, PeriphCore, PeriphError, PeriphId, Request,
};
use crate::ccb::Ccb;
use crate::recovery::ccb_sense;
use crate::scsi_cmd::{self, Capacity};
use crate::status::Errno;
use crate::xpt::Xpt;
use scsi_defs::opcode as op;

const OP_READ: u8 = 1;
const OP_WRITE: u8 = 2;
const OP_RC10: u8 = 3;
const OP_RC16: u8 = 4;
const OP_SYNC: u8 = 5;
const OP_TUR: u8 = 6;
/// START STOP UNIT sent by the driver itself (quirk): no caller waits for it.
const OP_START_INTERNAL: u8 = 7;
const OP_START: u8 = 8;

/// The disk periph's state.
pub struct Da {
    pub(crate) core: PeriphCore,
    /// Smallest READ/WRITE CDB to use (6 until the device rejects 6-byte commands).
    pub(crate) min_cdb: u8,
    cap: Option<Capacity>,
    /// Timeout of READ/WRITE and friends (FreeBSD `kern.cam.da.default_timeout`).
    timeout: std::time::Duration,
}

/// Default da command timeout (FreeBSD `DA_DEFAULT_TIMEOUT`, 60 s).
pub const DA_DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl Da {
    pub(crate) fn new(core: PeriphCore) -> Self {
        Da {
            core,
            min_cdb: 6,
            cap: None,
            timeout: DA_DEFAULT_TIMEOUT,
        }
    }

    /// Send START STOP UNIT (start) on the driver's own behalf (start-unit quirk).
    pub(crate) fn start_internal(&mut self, xpt: &mut Xpt) {
        let io = PeriphCore::new_io(xpt);
        let cdb = scsi_cmd::start_stop_unit(true, false, false).to_vec();
        let mut q = Request::new(io, cdb, Dir::None, OP_START_INTERNAL);
        q.timeout = super::START_UNIT_TIMEOUT;
        self.core.submit(xpt, q);
    }

    pub(crate) fn done(&mut self, xpt: &mut Xpt, ccb: Ccb) {
        let req = self.core.peek(ccb.h.id).cloned();
        let over = req.and_then(|req| self.cmd6_workaround(&req, &ccb));
        let outs = self.core.handle_done(xpt, ccb, over);
        self.finish_all(xpt, outs);
    }

    /// FreeBSD's cmd6workaround: ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE on a
    /// 6-byte READ/WRITE means the device wants 10-byte commands from now on.
    fn cmd6_workaround(&mut self, req: &Request, ccb: &Ccb) -> Option<Override> {
        if !matches!(req.cdb[0], op::READ_6 | op::WRITE_6) || self.min_cdb >= 10 {
            return None;
        }
        let s = ccb_sense(ccb)?;
        if s.key != scsi_defs::sense_key::ILLEGAL_REQUEST
            || s.asc_ascq() != scsi_defs::asc::INVALID_COMMAND_OPERATION_CODE
        {
            return None;
        }
        self.min_cdb = 10;
        let (w, lba, n) = scsi_cmd::decode_rw(&req.cdb)?;
        scsi_cmd::read_write(w, lba, n, 10).map(Override::RetryWith)
    }

    pub(crate) fn finish_all(&mut self, xpt: &mut Xpt, outs: Vec<Outcome>) {
        for o in outs {
            match o {
                Outcome::Success(req, mut ccb) => {
                    let mut r = io_result(Some(&mut ccb), req.dir_len(), Errno::Ok);
                    match req.op {
                        OP_RC10 => match scsi_cmd::parse_read_capacity10(&r.data) {
                            // 0xFFFFFFFF: too big for 10 bytes, ask with READ CAPACITY(16).
                            Ok(c) if c.last_lba == 0xffff_ffff => {
                                let q = Request::new(
                                    req.io,
                                    scsi_cmd::read_capacity16(32).to_vec(),
                                    Dir::In(32),
                                    OP_RC16,
                                );
                                self.core.submit(xpt, q);
                                continue;
                            }
                            Ok(c) => self.cap = Some(c),
                            Err(_) => r.status.errno = Errno::Eio,
                        },
                        OP_RC16 => match scsi_cmd::parse_read_capacity16(&r.data) {
                            Ok(c) => self.cap = Some(c),
                            Err(_) => r.status.errno = Errno::Eio,
                        },
                        OP_START_INTERNAL => {
                            xpt.retire_io(req.io);
                            continue;
                        }
                        // A block transfer that moved less than asked failed, whatever
                        // the status said (FreeBSD's dadone sets BIO_ERROR on a residual):
                        // CHECK CONDITION with NO SENSE, or GOOD after a short data phase,
                        // must not acknowledge a write that never reached the medium.
                        OP_READ | OP_WRITE if r.status.buf.resid != 0 => {
                            r.status.errno = Errno::Eio
                        }
                        _ => {}
                    }
                    xpt.complete_io(req.io, r);
                }
                Outcome::Failed(req, _, _) if req.op == OP_START_INTERNAL => xpt.retire_io(req.io),
                Outcome::Failed(req, mut ccb, e) => {
                    xpt.complete_io(req.io, io_result(ccb.as_deref_mut(), req.dir_len(), e));
                }
            }
        }
    }
}

impl Request {
    pub(crate) fn dir_len(&self) -> usize {
        match &self.dir {
            Dir::None => 0,
            Dir::In(n) => *n,
            Dir::Out(v) => v.len(),
        }
    }
}

/// Handle on a `da` periph.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DaHandle(pub PeriphId);

impl DaHandle {
    /// The `da` periph attached to a device, if any.
    pub fn for_device(xpt: &Xpt, addr: crate::path::DevAddr) -> Option<Self> {
        xpt.periphs_of(addr)
            .into_iter()
            .find(|(_, k)| *k == super::PeriphKind::Da)
            .map(|(p, _)| DaHandle(p))
    }

    /// The handle for periph `p`, if it is a `da`.
    pub fn new(xpt: &Xpt, p: PeriphId) -> Option<Self> {
        (xpt.periph_kind(p) == Some(super::PeriphKind::Da)).then_some(DaHandle(p))
    }

    fn with<R>(
        self,
        xpt: &mut Xpt,
        f: impl FnOnce(&mut Da, &mut Xpt) -> Result<R, PeriphError>,
    ) -> Result<R, PeriphError> {
        xpt.periph_call(self.0, |p, x| match p {
            Periph::Da(d) if d.core.invalid => Err(PeriphError::Invalid),
            Periph::Da(d) => f(d, x),
            _ => Err(PeriphError::NoPeriph),
        })
        .unwrap_or(Err(PeriphError::NoPeriph))
    }

    fn start(self, xpt: &mut Xpt, cdb: Vec<u8>, dir: Dir, opc: u8) -> Result<IoId, PeriphError> {
        self.with(xpt, |d, x| {
            let io = PeriphCore::new_io(x);
            let mut q = Request::new(io, cdb, dir, opc);
            q.timeout = d.timeout;
            d.core.submit(x, q);
            Ok(io)
        })
    }

    /// Known capacity (after `read_capacity` completed).
    pub fn capacity(self, xpt: &mut Xpt) -> Option<Capacity> {
        self.with(xpt, |d, _| Ok(d.cap)).ok().flatten()
    }

    /// READ CAPACITY(10), continuing with (16) when the disk is too big.
    pub fn read_capacity(self, xpt: &mut Xpt) -> Result<IoId, PeriphError> {
        self.start(
            xpt,
            scsi_cmd::read_capacity10().to_vec(),
            Dir::In(8),
            OP_RC10,
        )
    }

    /// TEST UNIT READY.
    pub fn tur(self, xpt: &mut Xpt) -> Result<IoId, PeriphError> {
        self.start(xpt, scsi_cmd::tur().to_vec(), Dir::None, OP_TUR)
    }

    /// START STOP UNIT with START set (IMMED clear: ends when the unit is ready).
    pub fn start_unit(self, xpt: &mut Xpt) -> Result<IoId, PeriphError> {
        self.with(xpt, |d, x| {
            let io = PeriphCore::new_io(x);
            let cdb = scsi_cmd::start_stop_unit(true, false, false).to_vec();
            let mut q = Request::new(io, cdb, Dir::None, OP_START);
            q.timeout = super::START_UNIT_TIMEOUT;
            d.core.submit(x, q);
            Ok(io)
        })
    }

    /// SYNCHRONIZE CACHE(10).
    pub fn sync_cache(self, xpt: &mut Xpt) -> Result<IoId, PeriphError> {
        self.start(xpt, scsi_cmd::sync_cache10().to_vec(), Dir::None, OP_SYNC)
    }

    fn rw_cdb(d: &Da, write: bool, lba: u64, count: u64) -> Result<(Vec<u8>, usize), PeriphError> {
        let cap = d.cap.ok_or(PeriphError::NoCapacity)?;
        let count32 = u32::try_from(count).map_err(|_| PeriphError::BadLength)?;
        if count == 0 || !matches!(lba.checked_add(count), Some(end) if end <= cap.blocks()) {
            return Err(PeriphError::BadLength);
        }
        let bytes = count
            .checked_mul(cap.block_len as u64)
            .filter(|b| *b <= u32::MAX as u64)
            .ok_or(PeriphError::BadLength)?;
        let cdb =
            scsi_cmd::read_write(write, lba, count32, d.min_cdb).ok_or(PeriphError::BadLength)?;
        Ok((cdb, bytes as usize))
    }

    /// Blocks per command the SIM takes (PATH_INQ `maxio`), at least one.
    fn max_blocks(d: &Da, x: &Xpt) -> u64 {
        let bl = d.cap.map_or(512, |c| c.block_len.max(1)) as u64;
        x.bus_maxio(d.core.addr.bus)
            .map_or(u64::MAX, |m| (m as u64 / bl).max(1))
    }

    /// Start a READ or WRITE of `count` blocks at `lba`, split at the SIM's `maxio` into
    /// commands issued together; the request completes once, as a whole.
    fn rw(
        d: &mut Da,
        x: &mut Xpt,
        write: bool,
        lba: u64,
        count: u64,
        data: Option<Vec<u8>>,
    ) -> Result<IoId, PeriphError> {
        // Validate the whole range first: a split must not fail half-way at submission.
        let (cdb, bytes) = Self::rw_cdb(d, write, lba, count)?;
        let per = Self::max_blocks(d, x);
        let opc = if write { OP_WRITE } else { OP_READ };
        if count <= per {
            let io = PeriphCore::new_io(x);
            let dir = match data {
                Some(v) => Dir::Out(v),
                None => Dir::In(bytes),
            };
            let mut q = Request::new(io, cdb, dir, opc);
            q.timeout = d.timeout;
            d.core.submit(x, q);
            return Ok(io);
        }
        let bl = bytes / count as usize;
        let mut parts = Vec::new();
        let mut at = 0u64;
        while at < count {
            let n = per.min(count - at);
            let (cdb, b) = Self::rw_cdb(d, write, lba + at, n)?;
            let dir = match &data {
                Some(v) => {
                    let off = at as usize * bl;
                    Dir::Out(v[off..off + b].to_vec())
                }
                None => Dir::In(b),
            };
            parts.push((cdb, dir));
            at += n;
        }
        let (parent, kids) = x.new_split(parts.len());
        for ((cdb, dir), io) in parts.into_iter().zip(kids) {
            let mut q = Request::new(io, cdb, dir, opc);
            q.timeout = d.timeout;
            d.core.submit(x, q);
        }
        Ok(parent)
    }

    /// Read `count` blocks at `lba` (split at the SIM's `maxio` when larger).
    pub fn read(self, xpt: &mut Xpt, lba: u64, count: u64) -> Result<IoId, PeriphError> {
        self.with(xpt, |d, x| Self::rw(d, x, false, lba, count, None))
    }

    /// Write `data` (a whole number of blocks) at `lba` (split at `maxio` when larger).
    pub fn write(self, xpt: &mut Xpt, lba: u64, data: Vec<u8>) -> Result<IoId, PeriphError> {
        self.with(xpt, |d, x| {
            let bl = d.cap.ok_or(PeriphError::NoCapacity)?.block_len as usize;
            if data.is_empty() || data.len().checked_rem(bl) != Some(0) {
                return Err(PeriphError::BadLength);
            }
            let n = (data.len() / bl) as u64;
            Self::rw(d, x, true, lba, n, Some(data))
        })
    }

    /// Set the command timeout for requests started from now on (default 60 s).
    pub fn set_timeout(self, xpt: &mut Xpt, t: std::time::Duration) -> Result<(), PeriphError> {
        self.with(xpt, |d, _| {
            d.timeout = t;
            Ok(())
        })
    }

    /// Smallest READ/WRITE CDB in use (6, or 10 after the 6-byte fallback).
    pub fn min_cdb(self, xpt: &mut Xpt) -> Option<u8> {
        self.with(xpt, |d, _| Ok(d.min_cdb)).ok()
    }
}
