//! Sense data decoding, fixed (0x70/0x71) and descriptor (0x72/0x73) formats, as
//! FreeBSD's scsi_extract_sense_len. Hostile input returns an error, never panics.

use scsi_defs::sense as sd;

/// Error decoding sense bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SenseError {
    /// Fewer bytes than the format's minimum.
    #[error("sense data too short: {0} bytes")]
    TooShort(usize),
    /// Response code is not 0x70..=0x73.
    #[error("unknown sense response code {0:#04x}")]
    BadResponseCode(u8),
}

/// Decoded sense data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sense {
    /// Response code (0x70..=0x73).
    pub response_code: u8,
    /// Whether this reports a deferred error.
    pub deferred: bool,
    /// Sense key.
    pub key: u8,
    /// Additional sense code.
    pub asc: u8,
    /// Additional sense code qualifier.
    pub ascq: u8,
    /// INFORMATION field, when valid.
    pub info: Option<u64>,
    /// FILEMARK bit (fixed format, or stream-commands descriptor).
    pub filemark: bool,
    /// EOM bit.
    pub eom: bool,
    /// ILI bit.
    pub ili: bool,
    /// Sense-key-specific bytes, when SKSV is set.
    pub sks: Option<[u8; 3]>,
}

impl Sense {
    /// Decode sense bytes (only the bytes actually returned: `sense_len - sense_resid`).
    pub fn parse(b: &[u8]) -> Result<Sense, SenseError> {
        let first = *b.first().ok_or(SenseError::TooShort(0))?;
        let code = first & 0x7f;
        match code {
            sd::RESPONSE_FIXED_CURRENT | sd::RESPONSE_FIXED_DEFERRED => Self::parse_fixed(b, code),
            sd::RESPONSE_DESC_CURRENT | sd::RESPONSE_DESC_DEFERRED => Self::parse_desc(b, code),
            _ => Err(SenseError::BadResponseCode(first)),
        }
    }

    fn parse_fixed(b: &[u8], code: u8) -> Result<Sense, SenseError> {
        // Byte 2 (key) is the minimum that makes fixed sense useful.
        if b.len() < 3 {
            return Err(SenseError::TooShort(b.len()));
        }
        let mut s = Sense {
            response_code: code,
            deferred: code == sd::RESPONSE_FIXED_DEFERRED,
            key: b[2] & 0x0f,
            filemark: b[2] & sd::FIXED_FILEMARK != 0,
            eom: b[2] & sd::FIXED_EOM != 0,
            ili: b[2] & sd::FIXED_ILI != 0,
            ..Default::default()
        };
        // Additional length limits what the target claims; we trust the smaller.
        let avail = if b.len() >= 8 {
            b.len().min(8 + b[7] as usize)
        } else {
            b.len()
        };
        if b[0] & sd::FIXED_VALID != 0 && avail >= 7 {
            s.info = Some(u32::from_be_bytes([b[3], b[4], b[5], b[6]]) as u64);
        }
        if avail >= 13 {
            s.asc = b[12];
        }
        if avail >= 14 {
            s.ascq = b[13];
        }
        if avail >= 18 && b[15] & 0x80 != 0 {
            s.sks = Some([b[15] & 0x7f, b[16], b[17]]);
        }
        Ok(s)
    }

    fn parse_desc(b: &[u8], code: u8) -> Result<Sense, SenseError> {
        if b.len() < 8 {
            return Err(SenseError::TooShort(b.len()));
        }
        let mut s = Sense {
            response_code: code,
            deferred: code == sd::RESPONSE_DESC_DEFERRED,
            key: b[1] & 0x0f,
            asc: b[2],
            ascq: b[3],
            ..Default::default()
        };
        let end = b.len().min(8 + b[7] as usize);
        let mut i = 8;
        // Walk descriptors; a truncated descriptor ends the walk rather than failing.
        while i + 2 <= end {
            let ty = b[i];
            let len = b[i + 1] as usize;
            let d = match b.get(i + 2..i + 2 + len) {
                Some(d) if i + 2 + len <= end => d,
                _ => break,
            };
            match ty {
                sd::DESC_INFORMATION if d.len() >= 10 && d[0] & 0x80 != 0 => {
                    let mut v = [0u8; 8];
                    v.copy_from_slice(&d[2..10]);
                    s.info = Some(u64::from_be_bytes(v));
                }
                sd::DESC_SENSE_KEY_SPECIFIC if d.len() >= 5 && d[2] & 0x80 != 0 => {
                    s.sks = Some([d[2] & 0x7f, d[3], d[4]]);
                }
                sd::DESC_STREAM_COMMANDS if d.len() >= 2 => {
                    s.filemark = d[1] & 0x80 != 0;
                    s.eom = d[1] & 0x40 != 0;
                    s.ili = d[1] & 0x20 != 0;
                }
                sd::DESC_BLOCK_COMMANDS if d.len() >= 2 => {
                    s.ili = d[1] & 0x20 != 0;
                }
                _ => {}
            }
            i += 2 + len;
        }
        Ok(s)
    }

    /// ASC/ASCQ as a pair, for table lookups.
    pub fn asc_ascq(&self) -> (u8, u8) {
        (self.asc, self.ascq)
    }

    /// Build fixed-format sense bytes (for SIMs and test targets).
    pub fn fixed_bytes(key: u8, asc: u8, ascq: u8, info: Option<u32>, bits: u8) -> Vec<u8> {
        let mut b = vec![0u8; sd::FIXED_LEN];
        b[0] = sd::RESPONSE_FIXED_CURRENT | if info.is_some() { sd::FIXED_VALID } else { 0 };
        b[2] = (key & 0x0f) | (bits & 0xe0);
        if let Some(i) = info {
            b[3..7].copy_from_slice(&i.to_be_bytes());
        }
        b[7] = (sd::FIXED_LEN - 8) as u8;
        b[12] = asc;
        b[13] = ascq;
        b
    }
}
