//! `cd`: CD-ROM periph, after FreeBSD scsi_cd.c in spirit. 2048-byte blocks, 10/12-byte
//! READs split at the SIM's `maxio`, READ TOC, PREVENT ALLOW MEDIUM REMOVAL, eject/load.
//! Media handling: UNIT ATTENTION 28h (medium may have changed) forgets the capacity and
//! fails the I/O it hit (data from another disc must not be mixed in; READs do not retry
//! UNIT ATTENTION); 3Ah (medium not present) marks the drive empty. Either way reads fail
//! `NoCapacity` until `read_capacity` succeeds on the new disc.

use super::{io_result, Dir, IoId, Outcome, Periph, PeriphCore, PeriphError, PeriphId, Request};
use crate::ccb::Ccb;
use crate::recovery::{ccb_sense, SF_RETRY_UA};
use crate::scsi_cmd::{self, Capacity, Toc};
use crate::status::Errno;
use crate::xpt::Xpt;
use scsi_defs::sense_key as sk;
use std::time::Duration;

const OP_READ: u8 = 1;
const OP_RC: u8 = 2;
const OP_TOC: u8 = 3;
const OP_PREVENT: u8 = 4;
const OP_START_STOP: u8 = 5;
const OP_TUR: u8 = 6;

/// CD-ROM logical block size (Mode 1 / Mode 2 Form 1 user data).
pub const CD_BLOCK_SIZE: u32 = 2048;
/// Default cd command timeout (FreeBSD scsi_cd.c uses 30 s for reads).
pub const CD_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout of eject/load (the tray moves).
const CD_EJECT_TIMEOUT: Duration = Duration::from_secs(50);
/// Largest TOC (100 tracks of 8 bytes, header, lead-out).
const TOC_ALLOC: u16 = 4 + 101 * 8;

/// The CD-ROM periph's state.
pub struct Cd {
    pub(crate) core: PeriphCore,
    cap: Option<Capacity>,
    toc: Option<Toc>,
    /// Bumped on every media change seen.
    media_gen: u64,
    /// The drive reported no medium (3Ah) and no disc was seen since.
    no_medium: bool,
    /// Medium removal prevented by us.
    prevented: bool,
}

impl Cd {
    pub(crate) fn new(core: PeriphCore) -> Self {
        Cd {
            core,
            cap: None,
            toc: None,
            media_gen: 0,
            no_medium: false,
            prevented: false,
        }
    }

    pub(crate) fn done(&mut self, xpt: &mut Xpt, ccb: Ccb) {
        if let Some(s) = ccb_sense(&ccb) {
            match (s.key, s.asc) {
                // Medium may have changed: whatever we knew is about another disc.
                (sk::UNIT_ATTENTION, 0x28) => {
                    self.cap = None;
                    self.toc = None;
                    self.media_gen += 1;
                    self.no_medium = false;
                }
                (sk::NOT_READY | sk::UNIT_ATTENTION, 0x3a) => {
                    self.cap = None;
                    self.toc = None;
                    self.no_medium = true;
                }
                _ => {}
            }
        }
        let outs = self.core.handle_done(xpt, ccb, None);
        self.finish_all(xpt, outs);
    }

    pub(crate) fn finish_all(&mut self, xpt: &mut Xpt, outs: Vec<Outcome>) {
        for o in outs {
            match o {
                Outcome::Success(req, mut ccb) => {
                    let mut r = io_result(Some(&mut ccb), req.dir_len(), Errno::Ok);
                    match req.op {
                        OP_RC => match parse_cd_capacity(&r.data) {
                            Some(c) => {
                                self.cap = Some(c);
                                self.no_medium = false;
                            }
                            None => r.status.errno = Errno::Eio,
                        },
                        OP_TOC => match scsi_cmd::parse_read_toc(&r.data, req.arg != 0) {
                            Ok(t) => self.toc = Some(t),
                            Err(_) => r.status.errno = Errno::Eio,
                        },
                        // A short read failed, whatever the status said (as in da).
                        OP_READ if r.status.buf.resid != 0 => r.status.errno = Errno::Eio,
                        OP_PREVENT => self.prevented = req.cdb[4] & 1 != 0,
                        OP_START_STOP if req.cdb[4] & 3 == 2 => {
                            // Ejected: the disc is gone.
                            self.cap = None;
                            self.toc = None;
                            self.no_medium = true;
                        }
                        _ => {}
                    }
                    xpt.complete_io(req.io, r);
                }
                Outcome::Failed(req, mut ccb, e) => {
                    xpt.complete_io(req.io, io_result(ccb.as_deref_mut(), req.dir_len(), e));
                }
            }
        }
    }
}

/// READ CAPACITY data of a CD: drives that report the raw sector size (2340/2352) or 0
/// still serve 2048-byte reads (as FreeBSD's cd does).
fn parse_cd_capacity(b: &[u8]) -> Option<Capacity> {
    if b.len() < 8 {
        return None;
    }
    let last = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64;
    let bl = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
    let block_len = match bl {
        0 | 2340 | 2352 => CD_BLOCK_SIZE,
        n => n,
    };
    Some(Capacity {
        last_lba: last,
        block_len,
    })
}

/// Handle on a `cd` periph.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CdHandle(pub PeriphId);

impl CdHandle {
    /// The `cd` periph attached to a device, if any.
    pub fn for_device(xpt: &Xpt, addr: crate::path::DevAddr) -> Option<Self> {
        xpt.periphs_of(addr)
            .into_iter()
            .find(|(_, k)| *k == super::PeriphKind::Cd)
            .map(|(p, _)| CdHandle(p))
    }

    /// The handle for periph `p`, if it is a `cd`.
    pub fn new(xpt: &Xpt, p: PeriphId) -> Option<Self> {
        (xpt.periph_kind(p) == Some(super::PeriphKind::Cd)).then_some(CdHandle(p))
    }

    fn with<R>(
        self,
        xpt: &mut Xpt,
        f: impl FnOnce(&mut Cd, &mut Xpt) -> Result<R, PeriphError>,
    ) -> Result<R, PeriphError> {
        xpt.periph_call(self.0, |p, x| match p {
            Periph::Cd(d) if d.core.invalid => Err(PeriphError::Invalid),
            Periph::Cd(d) => f(d, x),
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
        retry_ua: bool,
    ) -> Result<IoId, PeriphError> {
        self.with(xpt, |d, x| {
            let io = PeriphCore::new_io(x);
            let mut q = Request::new(io, cdb, dir, opc);
            q.timeout = if opc == OP_START_STOP {
                CD_EJECT_TIMEOUT
            } else {
                CD_TIMEOUT
            };
            if !retry_ua {
                q.sf &= !SF_RETRY_UA;
            }
            d.core.submit(x, q);
            Ok(io)
        })
    }

    /// READ CAPACITY(10) of the disc in the drive.
    pub fn read_capacity(self, xpt: &mut Xpt) -> Result<IoId, PeriphError> {
        let cdb = scsi_cmd::read_capacity10().to_vec();
        self.go(xpt, cdb, Dir::In(8), OP_RC, true)
    }

    /// Known capacity of the current disc (block length 2048).
    pub fn capacity(self, xpt: &mut Xpt) -> Option<Capacity> {
        self.with(xpt, |d, _| Ok(d.cap)).ok().flatten()
    }

    /// Read `count` 2048-byte blocks at `lba` with READ(10)/(12), split at `maxio`.
    pub fn read(self, xpt: &mut Xpt, lba: u64, count: u64) -> Result<IoId, PeriphError> {
        self.with(xpt, |d, x| {
            let cap = d.cap.ok_or(PeriphError::NoCapacity)?;
            if count == 0 || !matches!(lba.checked_add(count), Some(e) if e <= cap.blocks()) {
                return Err(PeriphError::BadLength);
            }
            let bl = cap.block_len.max(1) as u64;
            let per = x
                .bus_maxio(d.core.addr.bus)
                .map_or(u64::MAX, |m| (m as u64 / bl).max(1))
                .min(u32::MAX as u64);
            let mut parts = Vec::new();
            let mut at = 0;
            while at < count {
                let n = per.min(count - at);
                let bytes = n.checked_mul(bl).filter(|b| *b <= u32::MAX as u64);
                let bytes = bytes.ok_or(PeriphError::BadLength)? as usize;
                // FreeBSD's cd never uses 6-byte READs.
                let cdb = scsi_cmd::read_write(false, lba + at, n as u32, 10)
                    .ok_or(PeriphError::BadLength)?;
                parts.push((cdb, bytes));
                at += n;
            }
            let (ios, parent) = if parts.len() == 1 {
                let io = PeriphCore::new_io(x);
                (vec![io], io)
            } else {
                let (p, kids) = x.new_split(parts.len());
                (kids, p)
            };
            for ((cdb, bytes), io) in parts.into_iter().zip(ios) {
                let mut q = Request::new(io, cdb, Dir::In(bytes), OP_READ);
                q.timeout = CD_TIMEOUT;
                // A media change under a read fails it rather than mixing discs.
                q.sf &= !SF_RETRY_UA;
                d.core.submit(x, q);
            }
            Ok(parent)
        })
    }

    /// READ TOC (format 0) from track 1, LBA or MSF addresses; `toc` has it afterwards.
    pub fn read_toc(self, xpt: &mut Xpt, msf: bool) -> Result<IoId, PeriphError> {
        let cdb = scsi_cmd::read_toc(msf, 1, TOC_ALLOC).to_vec();
        self.with(xpt, |d, x| {
            let io = PeriphCore::new_io(x);
            let mut q = Request::new(io, cdb, Dir::In(TOC_ALLOC as usize), OP_TOC);
            q.arg = msf as u64;
            q.timeout = CD_TIMEOUT;
            d.core.submit(x, q);
            Ok(io)
        })
    }

    /// The last TOC read from the current disc.
    pub fn toc(self, xpt: &mut Xpt) -> Option<Toc> {
        self.with(xpt, |d, _| Ok(d.toc.clone())).ok().flatten()
    }

    /// PREVENT (true) or ALLOW (false) MEDIUM REMOVAL.
    pub fn prevent_removal(self, xpt: &mut Xpt, prevent: bool) -> Result<IoId, PeriphError> {
        let cdb = scsi_cmd::prevent_allow(prevent).to_vec();
        self.go(xpt, cdb, Dir::None, OP_PREVENT, true)
    }

    /// Eject the disc (START STOP UNIT, LoEj, stop). A drive with removal prevented
    /// refuses (ILLEGAL REQUEST 53h/02h); allow removal first.
    pub fn eject(self, xpt: &mut Xpt) -> Result<IoId, PeriphError> {
        let cdb = scsi_cmd::start_stop_unit(false, true, false).to_vec();
        self.go(xpt, cdb, Dir::None, OP_START_STOP, true)
    }

    /// Load the tray (START STOP UNIT, LoEj, start).
    pub fn load(self, xpt: &mut Xpt) -> Result<IoId, PeriphError> {
        let cdb = scsi_cmd::start_stop_unit(true, true, false).to_vec();
        self.go(xpt, cdb, Dir::None, OP_START_STOP, true)
    }

    /// TEST UNIT READY (UNIT ATTENTION not retried: it tells of a media change).
    pub fn tur(self, xpt: &mut Xpt) -> Result<IoId, PeriphError> {
        self.go(xpt, scsi_cmd::tur().to_vec(), Dir::None, OP_TUR, false)
    }

    /// Media changes seen so far (UNIT ATTENTION 28h).
    pub fn media_generation(self, xpt: &mut Xpt) -> Option<u64> {
        self.with(xpt, |d, _| Ok(d.media_gen)).ok()
    }

    /// Whether the drive last said it holds no medium.
    pub fn no_medium(self, xpt: &mut Xpt) -> Option<bool> {
        self.with(xpt, |d, _| Ok(d.no_medium)).ok()
    }

    /// Whether we prevented medium removal.
    pub fn removal_prevented(self, xpt: &mut Xpt) -> Option<bool> {
        self.with(xpt, |d, _| Ok(d.prevented)).ok()
    }
}
