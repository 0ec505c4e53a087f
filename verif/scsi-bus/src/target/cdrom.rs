//! A CD-ROM logical unit (peripheral device type 5, MMC-2 subset): 2048-byte blocks from
//! an in-memory disc image, READ(10)/(12), READ CAPACITY, READ TOC (formats 0 and 1, LBA
//! or MSF), MODE SENSE(6)/(10) with the pages a CD drive reports (01h read error
//! recovery, 0Dh CD device parameters, 0Eh CD audio control, 2Ah capabilities and
//! mechanical status), PREVENT ALLOW MEDIUM REMOVAL, START STOP UNIT with eject / load,
//! no medium (3Ah) and media change (UNIT ATTENTION 28h/00h).

use scsi_defs::{asc, inquiry, mode_page, opcode, sense_key};

use super::common::{
    alloc, be, invalid_opcode, Exec, Ident, LogicalUnit, ResetKind, Response, Sense,
};

/// CD-ROM block size (MMC-2, mode 1 user data).
pub const CD_BLOCK: usize = 2048;
/// READ TOC/PMA/ATIP (MMC-2 6.1.34); not in scsi-defs.
pub const READ_TOC: u8 = 0x43;
/// MEDIUM NOT PRESENT - TRAY OPEN (SPC-3 annex D); not in scsi-defs.
const ASC_MEDIUM_NOT_PRESENT_TRAY_OPEN: asc::AscAscq = (0x3A, 0x02);
/// MEDIUM REMOVAL PREVENTED (SPC-3 annex D); not in scsi-defs.
const ASC_MEDIUM_REMOVAL_PREVENTED: asc::AscAscq = (0x53, 0x02);
/// CD device parameters page (MMC-2).
const PAGE_CD_DEVICE_PARAMETERS: u8 = 0x0D;
/// CD audio control page (MMC-2).
const PAGE_CD_AUDIO_CONTROL: u8 = 0x0E;
/// CD capabilities and mechanical status page (MMC-2).
const PAGE_CD_CAPABILITIES: u8 = 0x2A;
/// Frames before LBA 0 in MSF addressing (2 s pregap, 75 frames/s).
const MSF_OFFSET: u64 = 150;

/// A CD-ROM drive with an optional disc.
pub struct CdRom {
    disc: Option<Vec<u8>>,
    tray_open: bool,
    prevented: bool,
    /// A media change the initiator has not been told of (UNIT ATTENTION 28/00).
    changed: bool,
    stopped: bool,
}

impl CdRom {
    /// A drive holding a disc of `blocks` 2048-byte blocks, each block filled with a
    /// pattern of its LBA (bytes 0..8 = LBA big-endian, then `0xCD`).
    pub fn with_disc(blocks: u64) -> CdRom {
        let mut d = vec![0xCDu8; blocks as usize * CD_BLOCK];
        for (i, b) in d.chunks_mut(CD_BLOCK).enumerate() {
            b[..8].copy_from_slice(&(i as u64).to_be_bytes());
        }
        CdRom::with_image(d)
    }
    /// A drive holding this image (cut to whole blocks).
    pub fn with_image(mut image: Vec<u8>) -> CdRom {
        image.truncate(image.len() / CD_BLOCK * CD_BLOCK);
        CdRom {
            disc: Some(image),
            tray_open: false,
            prevented: false,
            changed: false,
            stopped: false,
        }
    }
    /// An empty drive, tray closed.
    pub fn empty() -> CdRom {
        CdRom {
            disc: None,
            tray_open: false,
            prevented: false,
            changed: false,
            stopped: false,
        }
    }
    /// The operator inserts a disc (the tray closes): the next command gets UNIT ATTENTION
    /// 28/00 (NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED).
    pub fn insert(&mut self, image: Vec<u8>) {
        let mut image = image;
        image.truncate(image.len() / CD_BLOCK * CD_BLOCK);
        self.disc = Some(image);
        self.tray_open = false;
        self.changed = true;
        self.stopped = false;
    }
    /// The operator presses eject; refused (false) while removal is prevented.
    pub fn eject_button(&mut self) -> bool {
        if self.prevented {
            return false;
        }
        self.disc = None;
        self.tray_open = true;
        true
    }
    /// Whether a disc is in the drive.
    pub fn has_disc(&self) -> bool {
        self.disc.is_some()
    }
    /// Whether PREVENT ALLOW MEDIUM REMOVAL currently prevents removal.
    pub fn removal_prevented(&self) -> bool {
        self.prevented
    }
    fn blocks(&self) -> u64 {
        self.disc
            .as_ref()
            .map_or(0, |d| (d.len() / CD_BLOCK) as u64)
    }
    fn not_ready(&self) -> Option<Response> {
        if self.disc.is_none() {
            let a = if self.tray_open {
                ASC_MEDIUM_NOT_PRESENT_TRAY_OPEN
            } else {
                asc::MEDIUM_NOT_PRESENT
            };
            return Some(Response::check(Sense::new(sense_key::NOT_READY, a)));
        }
        if self.stopped {
            return Some(Response::check(Sense::new(
                sense_key::NOT_READY,
                asc::LUN_NOT_READY_INIT_REQUIRED,
            )));
        }
        None
    }

    fn read(&mut self, cdb: &[u8]) -> Response {
        let twelve = cdb[0] == opcode::READ_12;
        if cdb.len() < if twelve { 12 } else { 10 } {
            return Response::check(Sense::invalid_field(0));
        }
        let lba = be(cdb, 2, 4);
        let n = if twelve { be(cdb, 6, 4) } else { be(cdb, 7, 2) };
        if !matches!(lba.checked_add(n), Some(e) if e <= self.blocks()) {
            return Response::check(Sense {
                info: u32::try_from(lba).ok(),
                ..Sense::new(sense_key::ILLEGAL_REQUEST, asc::LBA_OUT_OF_RANGE)
            });
        }
        let Some(d) = self.disc.as_ref() else {
            return Response::check(Sense::new(sense_key::NOT_READY, asc::MEDIUM_NOT_PRESENT));
        };
        let (s, e) = (lba as usize * CD_BLOCK, (lba + n) as usize * CD_BLOCK);
        Response::good(d[s..e].to_vec())
    }

    fn read_toc(&self, cdb: &[u8]) -> Response {
        if cdb.len() < 10 {
            return Response::check(Sense::invalid_field(0));
        }
        let msf = cdb[1] & 0x02 != 0;
        // SFF-8020 drives put the format in byte 9 bits 7..6 when byte 2 is zero.
        let format = match cdb[2] & 0x0F {
            0 => cdb[9] >> 6,
            f => f,
        };
        let track = cdb[6];
        let alloc_len = be(cdb, 7, 2) as usize;
        let addr = |lba: u64| -> [u8; 4] {
            if msf {
                let f = lba + MSF_OFFSET;
                [
                    0,
                    (f / (75 * 60)) as u8,
                    ((f / 75) % 60) as u8,
                    (f % 75) as u8,
                ]
            } else {
                (lba as u32).to_be_bytes()
            }
        };
        let mut d = vec![0u8, 0, 1, 1];
        match format {
            0 => {
                // One data track (ADR 1, CONTROL 4: data, copy not permitted) and the
                // lead-out (AAh). Starting track AAh asks for the lead-out alone.
                if track > 1 && track != 0xAA {
                    return Response::check(Sense::invalid_field(6));
                }
                if track <= 1 {
                    d.extend_from_slice(&[0, 0x14, 1, 0]);
                    d.extend_from_slice(&addr(0));
                }
                d.extend_from_slice(&[0, 0x14, 0xAA, 0]);
                d.extend_from_slice(&addr(self.blocks()));
            }
            1 => {
                // Session information: first and last session 1, first track of the last
                // session.
                d.extend_from_slice(&[0, 0x14, 1, 0]);
                d.extend_from_slice(&addr(0));
            }
            _ => return Response::check(Sense::invalid_field(2)),
        }
        let len = (d.len() - 2) as u16;
        d[..2].copy_from_slice(&len.to_be_bytes());
        Response::good(alloc(d, alloc_len))
    }

    fn mode_page(&self, p: u8, pc: u8) -> Option<Vec<u8>> {
        // pc 1 = changeable values: nothing is changeable here.
        let ch = pc == 1;
        let v = |x: u8| if ch { 0 } else { x };
        Some(match p {
            mode_page::READ_WRITE_ERROR_RECOVERY => vec![0x01, 0x06, v(0x20), v(5), 0, 0, 0, 0],
            PAGE_CD_DEVICE_PARAMETERS => vec![0x0D, 0x06, 0, v(0x0B), 0, v(60), 0, v(75)],
            PAGE_CD_AUDIO_CONTROL => {
                let mut b = vec![0x0E, 0x0E, v(0x04), 0, 0, 0, 0, 0];
                b.extend_from_slice(&[v(1), v(0xFF), v(2), v(0xFF), 0, 0, 0, 0]);
                b
            }
            PAGE_CD_CAPABILITIES => {
                let mut b = vec![0x2A, 0x12];
                // Reads CD-R/RW media, audio play, lock, eject, tray loader; 8x.
                b.extend_from_slice(&[v(0x03), 0, v(0x71), v(0x03), v(0x29), v(0x03)]);
                b.extend_from_slice(&[0x05, 0x83, 0x01, 0x00, 0x00, 0x40, 0x05, 0x83]);
                b.extend_from_slice(&[0, 0, 0, 0]);
                b
            }
            _ => return None,
        })
    }

    fn mode_sense(&self, cdb: &[u8]) -> Response {
        let ten = cdb[0] == opcode::MODE_SENSE_10;
        if cdb.len() < if ten { 10 } else { 6 } {
            return Response::check(Sense::invalid_field(0));
        }
        let dbd = cdb[1] & 0x08 != 0;
        let pc = cdb[2] >> 6;
        let page = cdb[2] & 0x3F;
        let alloc_len = if ten { be(cdb, 7, 2) } else { be(cdb, 4, 1) } as usize;
        if pc == 3 {
            return Response::check(Sense::invalid_field(2));
        }
        let pages: Vec<u8> = match page {
            mode_page::ALL_PAGES => [
                mode_page::READ_WRITE_ERROR_RECOVERY,
                PAGE_CD_DEVICE_PARAMETERS,
                PAGE_CD_AUDIO_CONTROL,
                PAGE_CD_CAPABILITIES,
            ]
            .iter()
            .filter_map(|&p| self.mode_page(p, pc))
            .flatten()
            .collect(),
            p => match self.mode_page(p, pc) {
                Some(d) => d,
                None => return Response::check(Sense::invalid_field(2)),
            },
        };
        let mut bd = Vec::new();
        if !dbd {
            bd.extend_from_slice(&(self.blocks().min(0xFF_FFFF) as u32).to_be_bytes());
            bd[0] = 0; // density code: default
            bd.extend_from_slice(&(CD_BLOCK as u32).to_be_bytes());
        }
        // Medium type: 0 (door closed / unknown), 0x71 when the tray is open (MMC-1).
        let mt = if self.tray_open { 0x71 } else { 0 };
        let mut d = if ten {
            vec![0, 0, mt, 0, 0, 0, 0, bd.len() as u8]
        } else {
            vec![0, mt, 0, bd.len() as u8]
        };
        d.extend(bd);
        d.extend(pages);
        if ten {
            let n = (d.len() - 2) as u16;
            d[..2].copy_from_slice(&n.to_be_bytes());
        } else {
            d[0] = (d.len() - 1).min(255) as u8;
        }
        Response::good(alloc(d, alloc_len))
    }

    fn start_stop(&mut self, cdb: &[u8]) -> Response {
        if cdb.len() < 6 {
            return Response::check(Sense::invalid_field(0));
        }
        let (loej, start) = (cdb[4] & 0x02 != 0, cdb[4] & 0x01 != 0);
        match (loej, start) {
            (true, false) => {
                if self.prevented {
                    return Response::check(Sense::new(
                        sense_key::ILLEGAL_REQUEST,
                        ASC_MEDIUM_REMOVAL_PREVENTED,
                    ));
                }
                self.disc = None;
                self.tray_open = true;
            }
            (true, true) => {
                // Load: closes the tray; a disc left in it is there again.
                self.tray_open = false;
                self.stopped = false;
            }
            (false, s) => {
                if self.disc.is_none() {
                    return Response::check(Sense::new(
                        sense_key::NOT_READY,
                        asc::MEDIUM_NOT_PRESENT,
                    ));
                }
                self.stopped = !s;
            }
        }
        Response::good(Vec::new())
    }
}

impl LogicalUnit for CdRom {
    fn ident(&self) -> Ident {
        Ident {
            device_type: inquiry::TYPE_CDROM,
            removable: true,
            vendor: "OPENHBA",
            product: "SIM CD-ROM",
            revision: "0001",
        }
    }

    fn execute(&mut self, cdb: &[u8], _data: Option<&[u8]>) -> Exec {
        let Some(&op) = cdb.first() else {
            return Exec::Done(invalid_opcode());
        };
        // A media change is reported once, to the first medium command after it.
        if self.changed && op != opcode::PREVENT_ALLOW_MEDIUM_REMOVAL {
            self.changed = false;
            return Exec::Done(Response::check(Sense::new(
                sense_key::UNIT_ATTENTION,
                asc::NOT_READY_TO_READY_CHANGE,
            )));
        }
        let r = match op {
            opcode::TEST_UNIT_READY => self
                .not_ready()
                .unwrap_or_else(|| Response::good(Vec::new())),
            opcode::READ_CAPACITY_10 => match self.not_ready() {
                Some(r) => r,
                None => {
                    let mut d = (self.blocks().saturating_sub(1).min(0xFFFF_FFFF) as u32)
                        .to_be_bytes()
                        .to_vec();
                    d.extend_from_slice(&(CD_BLOCK as u32).to_be_bytes());
                    Response::good(d)
                }
            },
            opcode::READ_10 | opcode::READ_12 => match self.not_ready() {
                Some(r) => r,
                None => self.read(cdb),
            },
            READ_TOC => match self.not_ready() {
                Some(r) => r,
                None => self.read_toc(cdb),
            },
            opcode::MODE_SENSE_6 | opcode::MODE_SENSE_10 => self.mode_sense(cdb),
            opcode::START_STOP_UNIT => self.start_stop(cdb),
            opcode::PREVENT_ALLOW_MEDIUM_REMOVAL => {
                if cdb.len() < 6 {
                    Response::check(Sense::invalid_field(0))
                } else {
                    self.prevented = cdb[4] & 0x01 != 0;
                    Response::good(Vec::new())
                }
            }
            _ => invalid_opcode(),
        };
        Exec::Done(r)
    }

    fn reset(&mut self, _kind: ResetKind) {
        // A bus or device reset releases the medium removal prevention (SPC-3 6.13).
        self.prevented = false;
    }

    fn lba_range(&self, cdb: &[u8]) -> Option<(u64, u64)> {
        match cdb.first().copied()? {
            opcode::READ_10 if cdb.len() >= 10 => Some((be(cdb, 2, 4), be(cdb, 7, 2))),
            opcode::READ_12 if cdb.len() >= 12 => Some((be(cdb, 2, 4), be(cdb, 6, 4))),
            _ => None,
        }
    }
}
