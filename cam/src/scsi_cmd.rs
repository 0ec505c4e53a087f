//! CDB builders and parsers for the data the stack reads from targets (INQUIRY, REPORT
//! LUNS, READ CAPACITY), as FreeBSD's scsi_all.c / scsi_da.c. Parsers never panic.

use scsi_defs::{inquiry as inq, opcode as op};

/// Error parsing target-supplied data.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer bytes than needed.
    #[error("{what}: need {need} bytes, got {got}")]
    TooShort {
        /// What was parsed.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        got: usize,
    },
    /// A field holds an impossible value.
    #[error("{0}")]
    Invalid(&'static str),
}

fn need(what: &'static str, b: &[u8], n: usize) -> Result<(), ParseError> {
    if b.len() < n {
        Err(ParseError::TooShort {
            what,
            need: n,
            got: b.len(),
        })
    } else {
        Ok(())
    }
}

/// Standard INQUIRY data, the fields the stack uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InquiryData {
    /// Peripheral qualifier (top 3 bits of byte 0, already shifted into place as 0x00/0x20/0x60).
    pub qualifier: u8,
    /// Peripheral device type.
    pub device_type: u8,
    /// Removable medium.
    pub removable: bool,
    /// VERSION byte (3 = SPC, 5 = SPC-3 ...).
    pub version: u8,
    /// Response data format.
    pub response_format: u8,
    /// Supports 16-bit wide transfers.
    pub wbus16: bool,
    /// Supports synchronous transfers.
    pub sync: bool,
    /// Supports tagged command queuing.
    pub cmdque: bool,
    /// T10 vendor (trimmed).
    pub vendor: String,
    /// Product (trimmed).
    pub product: String,
    /// Revision (trimmed).
    pub revision: String,
}

fn ascii(b: &[u8]) -> String {
    b.iter()
        .map(|&c| {
            if (0x20..0x7f).contains(&c) {
                c as char
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim_end()
        .to_string()
}

impl InquiryData {
    /// Parse standard INQUIRY data; at least 5 bytes are needed, the rest is optional.
    pub fn parse(b: &[u8]) -> Result<InquiryData, ParseError> {
        need("INQUIRY", b, 5)?;
        let get = |r: std::ops::Range<usize>| b.get(r.start..r.end.min(b.len())).unwrap_or(&[]);
        let flags7 = b.get(7).copied().unwrap_or(0);
        Ok(InquiryData {
            qualifier: b[0] & 0xe0,
            device_type: b[0] & 0x1f,
            removable: b[1] & inq::RMB != 0,
            version: b[2],
            response_format: b[3] & 0x0f,
            wbus16: flags7 & inq::FLAG_WBUS16 != 0,
            sync: flags7 & inq::FLAG_SYNC != 0,
            cmdque: flags7 & inq::FLAG_CMDQUE != 0,
            vendor: ascii(get(8..16)),
            product: ascii(get(16..32)),
            revision: ascii(get(32..36)),
        })
    }
    /// Whether a logical unit is present (qualifier 000 and not type 0x1f).
    pub fn lun_present(&self) -> bool {
        self.qualifier == inq::QUAL_CONNECTED && self.device_type != inq::TYPE_NO_DEVICE
    }
    /// Whether REPORT LUNS is worth trying (SCSI-3 or later, as FreeBSD's probe).
    pub fn scsi3(&self) -> bool {
        self.version >= 3
    }
}

/// Parse Unit Serial Number VPD page (0x80): the serial as a string.
pub fn parse_serial_vpd(b: &[u8]) -> Result<String, ParseError> {
    need("VPD 0x80", b, 4)?;
    if b[1] != inq::VPD_UNIT_SERIAL_NUMBER {
        return Err(ParseError::Invalid("VPD page code is not 0x80"));
    }
    let len = (b[3] as usize).min(b.len() - 4);
    Ok(ascii(&b[4..4 + len]).trim().to_string())
}

/// Parse REPORT LUNS data into LUN numbers (flat/peripheral addressing decoded; other
/// methods passed through as the 64-bit value).
pub fn parse_report_luns(b: &[u8]) -> Result<Vec<u64>, ParseError> {
    need("REPORT LUNS", b, 8)?;
    let list_len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if list_len & 7 != 0 {
        return Err(ParseError::Invalid(
            "REPORT LUNS list length not a multiple of 8",
        ));
    }
    // The list may be truncated by our allocation length; use what we have.
    let n = list_len.min(b.len() - 8) / 8;
    let mut luns = Vec::with_capacity(n);
    for i in 0..n {
        let e = &b[8 + i * 8..16 + i * 8];
        let lun = match e[0] >> 6 {
            // Peripheral device addressing, bus 0: LUN in byte 1.
            0 => e[1] as u64,
            // Flat space addressing.
            1 => (((e[0] & 0x3f) as u64) << 8) | e[1] as u64,
            _ => u64::from_be_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]),
        };
        luns.push(lun);
    }
    Ok(luns)
}

/// Capacity of a direct-access device.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    /// Last LBA.
    pub last_lba: u64,
    /// Block length in bytes.
    pub block_len: u32,
}

impl Capacity {
    /// Number of blocks.
    pub fn blocks(&self) -> u64 {
        self.last_lba.saturating_add(1)
    }
}

/// Parse READ CAPACITY(10) data. A last LBA of 0xFFFFFFFF means "use READ CAPACITY(16)".
pub fn parse_read_capacity10(b: &[u8]) -> Result<Capacity, ParseError> {
    need("READ CAPACITY(10)", b, 8)?;
    let c = Capacity {
        last_lba: u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64,
        block_len: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
    };
    if c.block_len == 0 {
        return Err(ParseError::Invalid("block length 0"));
    }
    Ok(c)
}

/// Parse READ CAPACITY(16) data.
pub fn parse_read_capacity16(b: &[u8]) -> Result<Capacity, ParseError> {
    need("READ CAPACITY(16)", b, 12)?;
    let mut l = [0u8; 8];
    l.copy_from_slice(&b[0..8]);
    let c = Capacity {
        last_lba: u64::from_be_bytes(l),
        block_len: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
    };
    if c.block_len == 0 {
        return Err(ParseError::Invalid("block length 0"));
    }
    Ok(c)
}

/// TEST UNIT READY.
pub fn tur() -> [u8; 6] {
    [op::TEST_UNIT_READY, 0, 0, 0, 0, 0]
}

/// INQUIRY, standard data or a VPD page.
pub fn inquiry(evpd_page: Option<u8>, alloc: u8) -> [u8; 6] {
    match evpd_page {
        Some(p) => [op::INQUIRY, 1, p, 0, alloc, 0],
        None => [op::INQUIRY, 0, 0, 0, alloc, 0],
    }
}

/// REPORT LUNS.
pub fn report_luns(alloc: u32) -> [u8; 12] {
    let a = alloc.to_be_bytes();
    [op::REPORT_LUNS, 0, 0, 0, 0, 0, a[0], a[1], a[2], a[3], 0, 0]
}

/// READ CAPACITY(10).
pub fn read_capacity10() -> [u8; 10] {
    [op::READ_CAPACITY_10, 0, 0, 0, 0, 0, 0, 0, 0, 0]
}

/// READ CAPACITY(16) (SERVICE ACTION IN(16)).
pub fn read_capacity16(alloc: u32) -> [u8; 16] {
    let a = alloc.to_be_bytes();
    let mut c = [0u8; 16];
    c[0] = op::SERVICE_ACTION_IN_16;
    c[1] = op::SAI_READ_CAPACITY_16;
    c[10..14].copy_from_slice(&a);
    c
}

/// START STOP UNIT with START=1 (or 0).
pub fn start_stop(start: bool) -> [u8; 6] {
    [op::START_STOP_UNIT, 0, 0, 0, start as u8, 0]
}

/// START STOP UNIT: START, LOEJ (load/eject the medium) and IMMED bits.
pub fn start_stop_unit(start: bool, load_eject: bool, immed: bool) -> [u8; 6] {
    [
        op::START_STOP_UNIT,
        immed as u8,
        0,
        0,
        (start as u8) | ((load_eject as u8) << 1),
        0,
    ]
}

/// SYNCHRONIZE CACHE(10) for the whole medium.
pub fn sync_cache10() -> [u8; 10] {
    [op::SYNCHRONIZE_CACHE_10, 0, 0, 0, 0, 0, 0, 0, 0, 0]
}

/// Build a READ or WRITE CDB of the smallest size that fits `lba`/`count` and is at least
/// `min_len` (6, 10, 12 or 16), as FreeBSD's scsi_read_write. Returns `None` if the count
/// is zero.
pub fn read_write(write: bool, lba: u64, count: u32, min_len: u8) -> Option<Vec<u8>> {
    if count == 0 {
        return None;
    }
    // 6-byte: 21-bit LBA and a count that fits 8 bits without using 0 (which means 256).
    if min_len <= 6 && lba < (1 << 21) && count <= 0xff {
        let o = if write { op::WRITE_6 } else { op::READ_6 };
        return Some(vec![
            o,
            ((lba >> 16) & 0x1f) as u8,
            (lba >> 8) as u8,
            lba as u8,
            count as u8,
            0,
        ]);
    }
    if min_len <= 10 && lba <= u32::MAX as u64 && count <= 0xffff {
        let o = if write { op::WRITE_10 } else { op::READ_10 };
        let l = (lba as u32).to_be_bytes();
        let c = (count as u16).to_be_bytes();
        return Some(vec![o, 0, l[0], l[1], l[2], l[3], 0, c[0], c[1], 0]);
    }
    if min_len <= 12 && lba <= u32::MAX as u64 {
        let o = if write { op::WRITE_12 } else { op::READ_12 };
        let l = (lba as u32).to_be_bytes();
        let c = count.to_be_bytes();
        return Some(vec![
            o, 0, l[0], l[1], l[2], l[3], c[0], c[1], c[2], c[3], 0, 0,
        ]);
    }
    let o = if write { op::WRITE_16 } else { op::READ_16 };
    let mut v = vec![o, 0];
    v.extend_from_slice(&lba.to_be_bytes());
    v.extend_from_slice(&count.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    Some(v)
}

/// Decode LBA and block count from a READ/WRITE 6/10/12/16 CDB (for SIMs and targets).
pub fn decode_rw(cdb: &[u8]) -> Option<(bool, u64, u32)> {
    let o = *cdb.first()?;
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    match o {
        op::READ_6 | op::WRITE_6 if cdb.len() >= 6 => {
            let lba = (((cdb[1] & 0x1f) as u64) << 16) | ((cdb[2] as u64) << 8) | cdb[3] as u64;
            let n = if cdb[4] == 0 { 256 } else { cdb[4] as u32 };
            Some((o == op::WRITE_6, lba, n))
        }
        op::READ_10 | op::WRITE_10 if cdb.len() >= 10 => Some((
            o == op::WRITE_10,
            be32(&cdb[2..6]) as u64,
            u16::from_be_bytes([cdb[7], cdb[8]]) as u32,
        )),
        op::READ_12 | op::WRITE_12 if cdb.len() >= 12 => Some((
            o == op::WRITE_12,
            be32(&cdb[2..6]) as u64,
            be32(&cdb[6..10]),
        )),
        op::READ_16 | op::WRITE_16 if cdb.len() >= 16 => {
            let mut l = [0u8; 8];
            l.copy_from_slice(&cdb[2..10]);
            Some((o == op::WRITE_16, u64::from_be_bytes(l), be32(&cdb[10..14])))
        }
        _ => None,
    }
}

/// READ POSITION opcode's short form data length.
pub const READ_POSITION_SHORT_LEN: usize = 20;
/// READ POSITION "block position unknown" bit.
const RP_BPU: u8 = 0x04;

/// READ POSITION (short form).
pub fn read_position() -> [u8; 10] {
    [op::READ_POSITION, 0, 0, 0, 0, 0, 0, 0, 0, 0]
}

/// Parse short-form READ POSITION data: the first block location, or `None` when the
/// drive says the position is unknown (BPU).
pub fn parse_read_position(b: &[u8]) -> Result<Option<u64>, ParseError> {
    need("READ POSITION", b, 8)?;
    if b[0] & RP_BPU != 0 {
        return Ok(None);
    }
    Ok(Some(u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as u64))
}

/// Tape READ(6)/WRITE(6): `fixed` counts blocks, otherwise `len` is bytes (24 bits).
pub fn tape_rw6(write: bool, fixed: bool, len: u32) -> Option<[u8; 6]> {
    if len == 0 || len > 0x00ff_ffff {
        return None;
    }
    let l = len.to_be_bytes();
    Some([
        if write { op::WRITE_6 } else { op::READ_6 },
        fixed as u8,
        l[1],
        l[2],
        l[3],
        0,
    ])
}

/// WRITE FILEMARKS(6).
pub fn write_filemarks(n: u32) -> Option<[u8; 6]> {
    if n > 0x00ff_ffff {
        return None;
    }
    let l = n.to_be_bytes();
    Some([op::WRITE_FILEMARKS_6, 0, l[1], l[2], l[3], 0])
}

/// REWIND.
pub fn rewind() -> [u8; 6] {
    [op::REWIND, 0, 0, 0, 0, 0]
}

/// READ TOC/PMA/ATIP (MMC); scsi-defs has no constant for it.
pub const READ_TOC: u8 = 0x43;

/// READ TOC, format 0 (TOC), from `track`, LBA or MSF addresses.
pub fn read_toc(msf: bool, track: u8, alloc: u16) -> [u8; 10] {
    let a = alloc.to_be_bytes();
    [READ_TOC, (msf as u8) << 1, 0, 0, 0, 0, track, a[0], a[1], 0]
}

/// One READ TOC track descriptor.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TocEntry {
    /// Track number (0xAA = lead-out).
    pub track: u8,
    /// ADR field (high nibble of byte 1).
    pub adr: u8,
    /// CONTROL field (low nibble of byte 1; bit 2 = data track).
    pub control: u8,
    /// Start address as an LBA (MSF converted: (M*60+S)*75+F-150).
    pub lba: i64,
}

/// Parsed READ TOC (format 0) data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Toc {
    /// First track number.
    pub first_track: u8,
    /// Last track number.
    pub last_track: u8,
    /// Track descriptors, lead-out included.
    pub entries: Vec<TocEntry>,
}

/// Lead-out track number in a TOC.
pub const TOC_LEADOUT: u8 = 0xaa;

/// Parse READ TOC format 0 data; `msf` says how the addresses were asked for. The list is
/// cut to what the TOC data length and the buffer both hold.
pub fn parse_read_toc(b: &[u8], msf: bool) -> Result<Toc, ParseError> {
    need("READ TOC", b, 4)?;
    let data_len = u16::from_be_bytes([b[0], b[1]]) as usize;
    if data_len < 2 {
        return Err(ParseError::Invalid("READ TOC data length below 2"));
    }
    let avail = (data_len - 2).min(b.len() - 4);
    let mut entries = Vec::with_capacity(avail / 8);
    for d in b[4..4 + avail].chunks_exact(8) {
        let lba = if msf {
            ((d[5] as i64) * 60 + d[6] as i64) * 75 + d[7] as i64 - 150
        } else {
            i32::from_be_bytes([d[4], d[5], d[6], d[7]]) as i64
        };
        entries.push(TocEntry {
            track: d[2],
            adr: d[1] >> 4,
            control: d[1] & 0x0f,
            lba,
        });
    }
    Ok(Toc {
        first_track: b[2],
        last_track: b[3],
        entries,
    })
}

/// PREVENT ALLOW MEDIUM REMOVAL.
pub fn prevent_allow(prevent: bool) -> [u8; 6] {
    [op::PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, prevent as u8, 0]
}

/// SPACE(6) codes (SSC): what `count` counts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SpaceCode {
    /// Logical blocks (code 0).
    Blocks = 0,
    /// Filemarks (code 1).
    Filemarks = 1,
    /// End of data (code 3; count ignored).
    EndOfData = 3,
}

/// SPACE(6): `count` is a 24-bit two's-complement number (negative = toward BOP).
pub fn space(code: SpaceCode, count: i32) -> Option<[u8; 6]> {
    if !(-(1 << 23)..(1 << 23)).contains(&count) {
        return None;
    }
    let c = count.to_be_bytes();
    Some([op::SPACE_6, code as u8, c[1], c[2], c[3], 0])
}

/// LOCATE(10) to logical object `block` (partition 0).
pub fn locate10(block: u32) -> [u8; 10] {
    let b = block.to_be_bytes();
    [op::LOCATE_10, 0, 0, b[0], b[1], b[2], b[3], 0, 0, 0]
}

/// ERASE(6); `long` erases to the end of the partition (LONG bit).
pub fn erase(long: bool) -> [u8; 6] {
    [op::ERASE_6, long as u8, 0, 0, 0, 0]
}

/// MODE SELECT(6) with a block descriptor setting the tape block size (0 = variable):
/// the CDB and its 12-byte parameter list (header + one descriptor, buffered mode 1).
pub fn mode_select_block_size(bs: u32) -> Option<([u8; 6], Vec<u8>)> {
    if bs > 0x00ff_ffff {
        return None;
    }
    let b = bs.to_be_bytes();
    // PF = 1 (byte 1 bit 4): the list follows the SCSI-2 page format.
    let cdb = [op::MODE_SELECT_6, 0x10, 0, 0, 12, 0];
    let list = vec![0, 0, 0x10, 8, 0, 0, 0, 0, 0, b[1], b[2], b[3]];
    Some((cdb, list))
}

/// Block length of a MODE SELECT/SENSE(6) parameter list's first block descriptor.
pub fn parse_mode6_block_len(b: &[u8]) -> Result<u32, ParseError> {
    need("MODE(6) header", b, 4)?;
    if b[3] < 8 {
        return Err(ParseError::Invalid("no block descriptor"));
    }
    need("MODE(6) block descriptor", b, 12)?;
    Ok(u32::from_be_bytes([0, b[9], b[10], b[11]]))
}
