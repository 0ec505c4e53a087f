//! What every logical unit shares: the command interface, sense data, CDB field helpers.

use scsi_defs::{asc, sense, sense_key, status};

use crate::bus::AsAny;

/// Sense data for one CHECK CONDITION (fixed format, SPC-3 4.5.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sense {
    /// Sense key.
    pub key: u8,
    /// ASC.
    pub asc: u8,
    /// ASCQ.
    pub ascq: u8,
    /// INFORMATION field, when valid.
    pub info: Option<u32>,
    /// Byte 2 flags: FILEMARK, EOM, ILI.
    pub flags: u8,
    /// Sense-key specific field pointer (byte of the CDB in error), SKSV set when `Some`.
    pub field: Option<u16>,
    /// A deferred error (response code 71h / 73h) rather than a current one.
    pub deferred: bool,
    /// Descriptor format (72h / 73h, SPC-3 4.5.2) instead of fixed.
    pub descriptor: bool,
    /// A 64-bit INFORMATION value (descriptor format; in fixed format it is used when it
    /// fits 32 bits and `info` is `None`).
    pub info64: Option<u64>,
}

impl Sense {
    /// Sense from a key and an ASC/ASCQ pair.
    pub fn new(key: u8, a: asc::AscAscq) -> Sense {
        Sense {
            key,
            asc: a.0,
            ascq: a.1,
            ..Sense::default()
        }
    }
    /// ILLEGAL REQUEST, INVALID FIELD IN CDB, pointing at CDB byte `byte`.
    pub fn invalid_field(byte: u16) -> Sense {
        Sense {
            field: Some(byte),
            ..Sense::new(sense_key::ILLEGAL_REQUEST, asc::INVALID_FIELD_IN_CDB)
        }
    }
    /// Fixed-format bytes (18), or descriptor format when `descriptor` is set.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.descriptor {
            return self.to_descriptor_bytes();
        }
        let info = self
            .info
            .or_else(|| self.info64.and_then(|x| u32::try_from(x).ok()));
        let mut b = vec![0u8; sense::FIXED_LEN];
        b[0] = if self.deferred {
            sense::RESPONSE_FIXED_DEFERRED
        } else {
            sense::RESPONSE_FIXED_CURRENT
        } | if info.is_some() {
            sense::FIXED_VALID
        } else {
            0
        };
        b[2] = (self.key & 0xF) | self.flags;
        b[3..7].copy_from_slice(&info.unwrap_or(0).to_be_bytes());
        b[7] = (sense::FIXED_LEN - 8) as u8;
        b[12] = self.asc;
        b[13] = self.ascq;
        if let Some(f) = self.field {
            // SKSV, C/D = 1 (error in the CDB), field pointer.
            b[15] = 0xC0;
            b[16..18].copy_from_slice(&f.to_be_bytes());
        }
        b
    }
}

impl Sense {
    /// Descriptor-format bytes (SPC-3 4.5.2): header, then an information descriptor,
    /// a stream commands descriptor (FILEMARK/EOM/ILI) and a sense-key specific
    /// descriptor (field pointer) where they apply.
    pub fn to_descriptor_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; 8];
        b[0] = if self.deferred {
            sense::RESPONSE_DESC_DEFERRED
        } else {
            sense::RESPONSE_DESC_CURRENT
        };
        b[1] = self.key & 0xF;
        b[2] = self.asc;
        b[3] = self.ascq;
        if let Some(i) = self.info64.or(self.info.map(u64::from)) {
            b.extend_from_slice(&[sense::DESC_INFORMATION, 0x0A, 0x80, 0]);
            b.extend_from_slice(&i.to_be_bytes());
        }
        if self.flags & (sense::FIXED_FILEMARK | sense::FIXED_EOM | sense::FIXED_ILI) != 0 {
            b.extend_from_slice(&[sense::DESC_STREAM_COMMANDS, 0x02, 0, self.flags & 0xE0]);
        }
        if let Some(f) = self.field {
            let p = f.to_be_bytes();
            b.extend_from_slice(&[
                sense::DESC_SENSE_KEY_SPECIFIC,
                0x06,
                0,
                0,
                0xC0,
                p[0],
                p[1],
                0,
            ]);
        }
        b[7] = (b.len() - 8) as u8;
        b
    }
}

/// The result of a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status byte.
    pub status: u8,
    /// DATA IN bytes (already cut to the allocation length).
    pub data: Vec<u8>,
    /// Sense for CHECK CONDITION.
    pub sense: Option<Sense>,
}

impl Response {
    /// GOOD with data.
    pub fn good(data: Vec<u8>) -> Response {
        Response {
            status: status::GOOD,
            data,
            sense: None,
        }
    }
    /// CHECK CONDITION with sense and no data.
    pub fn check(s: Sense) -> Response {
        Response {
            status: status::CHECK_CONDITION,
            data: Vec::new(),
            sense: Some(s),
        }
    }
    /// CHECK CONDITION after some data was transferred (e.g. ILI, filemark).
    pub fn check_with_data(s: Sense, data: Vec<u8>) -> Response {
        Response {
            status: status::CHECK_CONDITION,
            data,
            sense: Some(s),
        }
    }
}

/// What a logical unit answers to a CDB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exec {
    /// Needs this many DATA OUT bytes; call again with them.
    NeedData(usize),
    /// Finished.
    Done(Response),
}

/// Identity strings for standard INQUIRY data.
#[derive(Clone, Debug)]
pub struct Ident {
    /// Peripheral device type.
    pub device_type: u8,
    /// Removable medium.
    pub removable: bool,
    /// Vendor (8 chars).
    pub vendor: &'static str,
    /// Product (16 chars).
    pub product: &'static str,
    /// Revision (4 chars).
    pub revision: &'static str,
}

/// Why a logical unit is being reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetKind {
    /// SCSI bus reset (RST).
    Bus,
    /// BUS DEVICE RESET message.
    Device,
}

/// A logical unit behind a target: a disk, a tape. The target handles INQUIRY, REQUEST
/// SENSE, REPORT LUNS and UNIT ATTENTION; everything else comes here.
pub trait LogicalUnit: AsAny {
    /// INQUIRY identity.
    fn ident(&self) -> Ident;
    /// Executes `cdb`; `data_out` is `Some` on the second call after [`Exec::NeedData`].
    /// Must not panic on any input.
    fn execute(&mut self, cdb: &[u8], data_out: Option<&[u8]>) -> Exec;
    /// A reset happened (bus reset or BUS DEVICE RESET).
    fn reset(&mut self, _kind: ResetKind) {}
    /// The LBA range touched by a CDB, for fault matching.
    fn lba_range(&self, _cdb: &[u8]) -> Option<(u64, u64)> {
        None
    }
}

/// Big-endian field of `n` bytes at `off`, zero if the CDB is short (never panics).
pub fn be(cdb: &[u8], off: usize, n: usize) -> u64 {
    (0..n).fold(0u64, |acc, i| {
        (acc << 8) | u64::from(cdb.get(off + i).copied().unwrap_or(0))
    })
}

/// Cuts `data` to the allocation length.
pub fn alloc(mut data: Vec<u8>, len: usize) -> Vec<u8> {
    data.truncate(len);
    data
}

/// INVALID COMMAND OPERATION CODE.
pub fn invalid_opcode() -> Response {
    Response::check(Sense {
        field: Some(0),
        ..Sense::new(
            sense_key::ILLEGAL_REQUEST,
            asc::INVALID_COMMAND_OPERATION_CODE,
        )
    })
}
