//! A direct-access block device (SBC-2) backed by an image file or by memory.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use scsi_defs::{asc, inquiry, mode_page, opcode, sense_key};

use super::common::{
    alloc, be, invalid_opcode, Exec, Ident, LogicalUnit, ResetKind, Response, Sense,
};

/// MISCOMPARE DURING VERIFY OPERATION (SPC-3 annex D); not in scsi-defs.
const ASC_MISCOMPARE_DURING_VERIFY: asc::AscAscq = (0x1D, 0x00);
/// SAVING PARAMETERS NOT SUPPORTED (SPC-3 annex D); not in scsi-defs.
const ASC_SAVING_PARAMETERS_NOT_SUPPORTED: asc::AscAscq = (0x39, 0x00);

/// Errors opening a disk image.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The image could not be opened, created or sized.
    #[error("disk image {path}: {source}")]
    Io {
        /// Image path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The image is not a whole number of blocks.
    #[error("disk image {0} is not a multiple of the block size")]
    Size(String),
}

enum Backing {
    Memory(Vec<u8>),
    File(File),
}

/// A disk logical unit.
pub struct Disk {
    backing: Backing,
    block_size: u32,
    blocks: u64,
    read_only: bool,
    started: bool,
    prevent: bool,
    wce: bool,
    /// Control mode page byte 3 (QERR etc.) as last set by MODE SELECT.
    control_b3: u8,
    /// SYNCHRONIZE CACHE calls that flushed the image file.
    pub flushes: u64,
    /// Commands executed, per opcode.
    pub counts: std::collections::BTreeMap<u8, u64>,
}

impl Disk {
    /// An in-memory disk of `blocks` blocks of 512 bytes, zero-filled.
    pub fn memory(blocks: u64) -> Disk {
        Disk::with_backing(
            Backing::Memory(vec![0; (blocks * 512) as usize]),
            blocks,
            false,
        )
    }
    /// A disk on an image file of `blocks` 512-byte blocks, created sparse if missing.
    pub fn image(path: &Path, blocks: u64, read_only: bool) -> Result<Disk, DiskError> {
        let err = |source| DiskError::Io {
            path: path.display().to_string(),
            source,
        };
        let exists = path.exists();
        let f = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .create(!read_only && !exists)
            .truncate(false)
            .open(path)
            .map_err(err)?;
        let len = f.metadata().map_err(err)?.len();
        let blocks = if exists && len > 0 {
            if len % 512 != 0 {
                return Err(DiskError::Size(path.display().to_string()));
            }
            len / 512
        } else {
            // Sparse: set_len allocates nothing.
            f.set_len(blocks * 512).map_err(err)?;
            blocks
        };
        Ok(Disk::with_backing(Backing::File(f), blocks, read_only))
    }
    fn with_backing(backing: Backing, blocks: u64, read_only: bool) -> Disk {
        Disk {
            backing,
            block_size: 512,
            blocks,
            read_only,
            started: true,
            prevent: false,
            wce: true,
            control_b3: 0,
            flushes: 0,
            counts: Default::default(),
        }
    }
    /// Number of blocks.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }
    /// Reads blocks directly (for test checks).
    pub fn read_blocks(&self, lba: u64, n: u64) -> Vec<u8> {
        let mut b = vec![0u8; (n * 512) as usize];
        self.read_at(lba * 512, &mut b);
        b
    }
    /// Medium removal prevented.
    pub fn prevented(&self) -> bool {
        self.prevent
    }
    /// Write cache enabled (caching mode page WCE).
    pub fn write_cache(&self) -> bool {
        self.wce
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> bool {
        match &self.backing {
            Backing::Memory(m) => {
                let s = off as usize;
                buf.copy_from_slice(&m[s..s + buf.len()]);
                true
            }
            Backing::File(f) => f.read_exact_at(buf, off).is_ok(),
        }
    }
    fn write_at(&mut self, off: u64, buf: &[u8]) -> bool {
        match &mut self.backing {
            Backing::Memory(m) => {
                let s = off as usize;
                m[s..s + buf.len()].copy_from_slice(buf);
                true
            }
            Backing::File(f) => f.write_all_at(buf, off).is_ok(),
        }
    }

    /// (LBA, blocks) of a READ/WRITE/VERIFY CDB; `None` if not a block command.
    fn rw_fields(cdb: &[u8]) -> Option<(u64, u64)> {
        let op = *cdb.first()?;
        Some(match op {
            opcode::READ_6 | opcode::WRITE_6 => {
                let lba = be(cdb, 1, 3) & 0x1F_FFFF;
                let n = be(cdb, 4, 1);
                (lba, if n == 0 { 256 } else { n })
            }
            opcode::READ_10 | opcode::WRITE_10 | opcode::VERIFY_10 => {
                (be(cdb, 2, 4), be(cdb, 7, 2))
            }
            opcode::READ_12 | opcode::WRITE_12 | opcode::VERIFY_12 => {
                (be(cdb, 2, 4), be(cdb, 6, 4))
            }
            opcode::READ_16 | opcode::WRITE_16 | opcode::VERIFY_16 => {
                (be(cdb, 2, 8), be(cdb, 10, 4))
            }
            _ => return None,
        })
    }

    fn not_ready(&self) -> Option<Response> {
        (!self.started).then(|| {
            Response::check(Sense::new(
                sense_key::NOT_READY,
                asc::LUN_NOT_READY_INIT_REQUIRED,
            ))
        })
    }

    fn check_range(&self, lba: u64, n: u64) -> Option<Response> {
        (!matches!(lba.checked_add(n), Some(e) if e <= self.blocks)).then(|| {
            Response::check(Sense {
                info: u32::try_from(lba).ok(),
                ..Sense::new(sense_key::ILLEGAL_REQUEST, asc::LBA_OUT_OF_RANGE)
            })
        })
    }

    fn read(&mut self, cdb: &[u8]) -> Exec {
        let Some((lba, n)) = Self::rw_fields(cdb) else {
            return Exec::Done(invalid_opcode());
        };
        if let Some(r) = self.not_ready().or_else(|| self.check_range(lba, n)) {
            return Exec::Done(r);
        }
        let mut buf = vec![0u8; (n * 512) as usize];
        if !self.read_at(lba * 512, &mut buf) {
            return Exec::Done(Response::check(Sense::new(
                sense_key::MEDIUM_ERROR,
                asc::UNRECOVERED_READ_ERROR,
            )));
        }
        Exec::Done(Response::good(buf))
    }

    fn write(&mut self, cdb: &[u8], data: Option<&[u8]>) -> Exec {
        let Some((lba, n)) = Self::rw_fields(cdb) else {
            return Exec::Done(invalid_opcode());
        };
        if let Some(r) = self.not_ready().or_else(|| self.check_range(lba, n)) {
            return Exec::Done(r);
        }
        if self.read_only {
            return Exec::Done(Response::check(Sense::new(
                sense_key::DATA_PROTECT,
                asc::WRITE_PROTECTED,
            )));
        }
        let len = (n * 512) as usize;
        let Some(d) = data else {
            return Exec::NeedData(len);
        };
        if d.len() < len || !self.write_at(lba * 512, &d[..len]) {
            return Exec::Done(Response::check(Sense::new(
                sense_key::MEDIUM_ERROR,
                asc::WRITE_ERROR,
            )));
        }
        Exec::Done(Response::good(Vec::new()))
    }

    fn verify(&mut self, cdb: &[u8], data: Option<&[u8]>) -> Exec {
        let Some((lba, n)) = Self::rw_fields(cdb) else {
            return Exec::Done(invalid_opcode());
        };
        if let Some(r) = self.not_ready().or_else(|| self.check_range(lba, n)) {
            return Exec::Done(r);
        }
        let bytchk = cdb.get(1).copied().unwrap_or(0) & 0x02 != 0;
        if !bytchk {
            return Exec::Done(Response::good(Vec::new()));
        }
        let len = (n * 512) as usize;
        let Some(d) = data else {
            return Exec::NeedData(len);
        };
        let have = self.read_blocks(lba, n);
        match have.iter().zip(d).position(|(a, b)| a != b) {
            None => Exec::Done(Response::good(Vec::new())),
            Some(off) => Exec::Done(Response::check(Sense {
                info: u32::try_from(off).ok(),
                ..Sense::new(sense_key::MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY)
            })),
        }
    }

    /// Mode page bytes for page `p` and page control `pc` (0 current, 1 changeable, 2 default).
    fn mode_page(&self, p: u8, pc: u8) -> Option<Vec<u8>> {
        match p {
            mode_page::CACHING => {
                let mut d = vec![0u8; 20];
                d[0] = mode_page::CACHING;
                d[1] = 18;
                d[2] = match pc {
                    1 => 0x04,
                    2 => 0x04,
                    _ => {
                        if self.wce {
                            0x04
                        } else {
                            0
                        }
                    }
                };
                Some(d)
            }
            mode_page::CONTROL => {
                let mut d = vec![0u8; 12];
                d[0] = mode_page::CONTROL;
                d[1] = 10;
                // QUEUE ALGORITHM MODIFIER (byte 3 bits 7..4): 1 = unrestricted reordering.
                d[3] = match pc {
                    1 => 0xF0,
                    2 => 0x10,
                    _ => self.control_b3,
                };
                Some(d)
            }
            _ => None,
        }
    }

    fn mode_sense(&mut self, cdb: &[u8]) -> Exec {
        let ten = cdb[0] == opcode::MODE_SENSE_10;
        let dbd = cdb.get(1).copied().unwrap_or(0) & 0x08 != 0;
        let pc = cdb.get(2).copied().unwrap_or(0) >> 6;
        let page = cdb.get(2).copied().unwrap_or(0) & 0x3F;
        let alloc_len = if ten { be(cdb, 7, 2) } else { be(cdb, 4, 1) } as usize;
        if pc == 3 {
            return Exec::Done(Response::check(Sense {
                field: Some(2),
                ..Sense::new(
                    sense_key::ILLEGAL_REQUEST,
                    ASC_SAVING_PARAMETERS_NOT_SUPPORTED,
                )
            }));
        }
        let pages: Vec<u8> = match page {
            mode_page::ALL_PAGES => [mode_page::CACHING, mode_page::CONTROL]
                .iter()
                .filter_map(|&p| self.mode_page(p, pc))
                .flatten()
                .collect(),
            p => match self.mode_page(p, pc) {
                Some(d) => d,
                None => return Exec::Done(Response::check(Sense::invalid_field(2))),
            },
        };
        let mut bd = Vec::new();
        if !dbd {
            bd.extend_from_slice(&(self.blocks.min(0xFFFF_FFFF) as u32).to_be_bytes());
            bd.extend_from_slice(&self.block_size.to_be_bytes());
            bd[4] = 0; // density code
        }
        let wp = if self.read_only { 0x80 } else { 0 };
        let mut d = if ten {
            let mut h = vec![0u8; 8];
            h[3] = wp;
            h[7] = bd.len() as u8;
            h
        } else {
            vec![0, 0, wp, bd.len() as u8]
        };
        d.extend(bd);
        d.extend(pages);
        let total = d.len();
        if ten {
            d[0..2].copy_from_slice(&((total - 2) as u16).to_be_bytes());
        } else {
            d[0] = (total - 1) as u8;
        }
        Exec::Done(Response::good(alloc(d, alloc_len)))
    }

    fn mode_select(&mut self, cdb: &[u8], data: Option<&[u8]>) -> Exec {
        let ten = cdb[0] == opcode::MODE_SELECT_10;
        let b1 = cdb.get(1).copied().unwrap_or(0);
        if b1 & 0x01 != 0 {
            // SP: we cannot save pages.
            return Exec::Done(Response::check(Sense::invalid_field(1)));
        }
        let len = if ten { be(cdb, 7, 2) } else { be(cdb, 4, 1) } as usize;
        if len == 0 {
            return Exec::Done(Response::good(Vec::new()));
        }
        let Some(d) = data else {
            return Exec::NeedData(len);
        };
        let bad_param = || {
            Exec::Done(Response::check(Sense::new(
                sense_key::ILLEGAL_REQUEST,
                asc::INVALID_FIELD_IN_PARAMETER_LIST,
            )))
        };
        let hlen = if ten { 8 } else { 4 };
        if d.len() < hlen {
            return Exec::Done(Response::check(Sense::new(
                sense_key::ILLEGAL_REQUEST,
                asc::PARAMETER_LIST_LENGTH_ERROR,
            )));
        }
        let bdl = if ten {
            be(d, 6, 2) as usize
        } else {
            usize::from(d[3])
        };
        let mut i = hlen;
        if bdl > 0 {
            if bdl != 8 || d.len() < i + 8 {
                return bad_param();
            }
            let bl = be(d, i + 5, 3) as u32;
            if bl != self.block_size {
                return bad_param();
            }
            i += 8;
        }
        let (mut wce, mut cb3) = (self.wce, self.control_b3);
        while i + 2 <= d.len() {
            let (p, plen) = (d[i] & 0x3F, usize::from(d[i + 1]));
            let Some(body) = d.get(i..i + 2 + plen) else {
                return bad_param();
            };
            let Some(changeable) = self.mode_page(p, 1) else {
                return bad_param();
            };
            if changeable.len() != body.len() {
                return bad_param();
            }
            let current = self.mode_page(p, 0).unwrap_or_default();
            // Only changeable bits may differ from the current value.
            for k in 2..body.len() {
                if (body[k] ^ current[k]) & !changeable[k] != 0 {
                    return bad_param();
                }
            }
            match p {
                mode_page::CACHING => wce = body[2] & 0x04 != 0,
                mode_page::CONTROL => cb3 = body[3],
                _ => return bad_param(),
            }
            i += 2 + plen;
        }
        self.wce = wce;
        self.control_b3 = cb3;
        Exec::Done(Response::good(Vec::new()))
    }

    fn read_capacity(&mut self, cdb: &[u8]) -> Exec {
        if let Some(r) = self.not_ready() {
            return Exec::Done(r);
        }
        let last = self.blocks.saturating_sub(1);
        if cdb[0] == opcode::READ_CAPACITY_10 {
            let mut d = (last.min(0xFFFF_FFFF) as u32).to_be_bytes().to_vec();
            d.extend_from_slice(&self.block_size.to_be_bytes());
            return Exec::Done(Response::good(d));
        }
        let alloc_len = be(cdb, 10, 4) as usize;
        let mut d = vec![0u8; 32];
        d[0..8].copy_from_slice(&last.to_be_bytes());
        d[8..12].copy_from_slice(&self.block_size.to_be_bytes());
        Exec::Done(Response::good(alloc(d, alloc_len)))
    }

    fn sync_cache(&mut self, cdb: &[u8]) -> Exec {
        let (lba, n) = if cdb[0] == opcode::SYNCHRONIZE_CACHE_10 {
            (be(cdb, 2, 4), be(cdb, 7, 2))
        } else {
            (be(cdb, 2, 8), be(cdb, 10, 4))
        };
        if let Some(r) = self.not_ready() {
            return Exec::Done(r);
        }
        if n != 0 {
            if let Some(r) = self.check_range(lba, n) {
                return Exec::Done(r);
            }
        }
        if let Backing::File(f) = &self.backing {
            if f.sync_data().is_err() {
                return Exec::Done(Response::check(Sense::new(
                    sense_key::MEDIUM_ERROR,
                    asc::WRITE_ERROR,
                )));
            }
        }
        self.flushes += 1;
        Exec::Done(Response::good(Vec::new()))
    }
}

impl LogicalUnit for Disk {
    fn ident(&self) -> Ident {
        Ident {
            device_type: inquiry::TYPE_DIRECT_ACCESS,
            removable: false,
            vendor: "OPENHBA",
            product: "SIM DISK",
            revision: "0001",
        }
    }

    fn execute(&mut self, cdb: &[u8], data: Option<&[u8]>) -> Exec {
        let Some(&op) = cdb.first() else {
            return Exec::Done(invalid_opcode());
        };
        if data.is_none() {
            *self.counts.entry(op).or_default() += 1;
        }
        match op {
            opcode::TEST_UNIT_READY => Exec::Done(
                self.not_ready()
                    .unwrap_or_else(|| Response::good(Vec::new())),
            ),
            opcode::READ_CAPACITY_10 => self.read_capacity(cdb),
            opcode::SERVICE_ACTION_IN_16
                if cdb.get(1).map(|b| b & 0x1F) == Some(opcode::SAI_READ_CAPACITY_16) =>
            {
                self.read_capacity(cdb)
            }
            opcode::READ_6 | opcode::READ_10 | opcode::READ_12 | opcode::READ_16 => self.read(cdb),
            opcode::WRITE_6 | opcode::WRITE_10 | opcode::WRITE_12 | opcode::WRITE_16 => {
                self.write(cdb, data)
            }
            opcode::VERIFY_10 | opcode::VERIFY_12 | opcode::VERIFY_16 => self.verify(cdb, data),
            opcode::MODE_SENSE_6 | opcode::MODE_SENSE_10 => self.mode_sense(cdb),
            opcode::MODE_SELECT_6 | opcode::MODE_SELECT_10 => self.mode_select(cdb, data),
            opcode::START_STOP_UNIT => {
                let b4 = cdb.get(4).copied().unwrap_or(0);
                if b4 >> 4 != 0 {
                    // POWER CONDITION values are not supported.
                    return Exec::Done(Response::check(Sense::invalid_field(4)));
                }
                if b4 & 0x02 != 0 && b4 & 0x01 == 0 && self.prevent {
                    // Eject while removal is prevented.
                    return Exec::Done(Response::check(Sense::new(
                        sense_key::ILLEGAL_REQUEST,
                        (0x53, 0x02),
                    )));
                }
                self.started = b4 & 0x01 != 0;
                Exec::Done(Response::good(Vec::new()))
            }
            opcode::SYNCHRONIZE_CACHE_10 | opcode::SYNCHRONIZE_CACHE_16 => self.sync_cache(cdb),
            opcode::PREVENT_ALLOW_MEDIUM_REMOVAL => {
                let p = cdb.get(4).copied().unwrap_or(0) & 0x03;
                if p > 1 {
                    return Exec::Done(Response::check(Sense::invalid_field(4)));
                }
                self.prevent = p == 1;
                Exec::Done(Response::good(Vec::new()))
            }
            _ => Exec::Done(invalid_opcode()),
        }
    }

    fn reset(&mut self, _kind: ResetKind) {
        // Removal prevention is released by any reset (SBC-2 5.x).
        self.prevent = false;
    }

    fn lba_range(&self, cdb: &[u8]) -> Option<(u64, u64)> {
        Self::rw_fields(cdb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_past_end_is_lba_out_of_range() {
        let mut d = Disk::memory(16);
        let r = d.execute(&[opcode::READ_10, 0, 0, 0, 0, 15, 0, 0, 2, 0], None);
        let Exec::Done(r) = r else {
            panic!("no data expected")
        };
        assert_eq!(
            r.sense.map(|s| (s.key, s.asc)),
            Some((sense_key::ILLEGAL_REQUEST, 0x21))
        );
    }

    #[test]
    fn mode_select_rejects_unchangeable_bits() {
        let mut d = Disk::memory(16);
        let mut page = d.mode_page(mode_page::CACHING, 0).unwrap_or_default();
        page[3] = 0xFF; // not changeable
        let mut p = vec![0, 0, 0, 0];
        p.extend(page);
        let cdb = [opcode::MODE_SELECT_6, 0x10, 0, 0, p.len() as u8, 0];
        assert_eq!(d.execute(&cdb, None), Exec::NeedData(p.len()));
        let Exec::Done(r) = d.execute(&cdb, Some(&p)) else {
            panic!("done expected")
        };
        assert_eq!(r.sense.map(|s| s.asc), Some(0x26));
    }
}
