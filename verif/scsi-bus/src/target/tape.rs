//! A sequential-access device (SSC-2) with an in-memory medium of records and filemarks.

use std::collections::BTreeMap;

use scsi_defs::{asc, inquiry, opcode, sense, sense_key};

use super::common::{
    alloc, be, invalid_opcode, Exec, Ident, LogicalUnit, ResetKind, Response, Sense,
};

/// One thing on the tape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A data block.
    Data(Vec<u8>),
    /// A filemark.
    Filemark,
}

/// Largest block the drive accepts (READ BLOCK LIMITS).
pub const MAX_BLOCK: usize = 0x1_0000;
/// Device configuration mode page.
const PAGE_DEVICE_CONFIGURATION: u8 = scsi_defs::mode_page::DEVICE_CONFIGURATION;

/// A tape logical unit.
pub struct Tape {
    medium: Vec<Record>,
    pos: usize,
    block_len: u32,
    capacity: usize,
    early_warning: usize,
    /// How many times each opcode took effect on the medium (a tape command must never run
    /// twice by accident; tests check these counts).
    pub counts: BTreeMap<u8, u64>,
}

impl Tape {
    /// A blank tape holding `capacity` bytes, early warning 1/16 before the end.
    pub fn new(capacity: usize) -> Tape {
        Tape {
            medium: Vec::new(),
            pos: 0,
            block_len: 0,
            capacity,
            early_warning: capacity / 16,
            counts: BTreeMap::new(),
        }
    }
    /// A tape already written: `medium` at BOP, the drive in `block_len` mode (0 =
    /// variable), holding `capacity` bytes (a loaded tape image).
    pub fn with_medium(capacity: usize, medium: Vec<Record>, block_len: u32) -> Tape {
        Tape {
            medium,
            block_len: block_len.min(MAX_BLOCK as u32),
            ..Tape::new(capacity)
        }
    }
    /// The records on the medium.
    pub fn medium(&self) -> &[Record] {
        &self.medium
    }
    /// Current position (records from BOP).
    pub fn position(&self) -> usize {
        self.pos
    }
    fn used(&self) -> usize {
        self.medium[..self.pos]
            .iter()
            .map(|r| match r {
                Record::Data(d) => d.len(),
                Record::Filemark => 1,
            })
            .sum()
    }
    fn s(key: u8, a: asc::AscAscq, flags: u8, info: Option<i64>) -> Sense {
        Sense {
            flags,
            info: info.map(|i| i as i32 as u32),
            ..Sense::new(key, a)
        }
    }

    fn read(&mut self, cdb: &[u8]) -> Response {
        let fixed = cdb.get(1).copied().unwrap_or(0) & 1 != 0;
        let sili = cdb.get(1).copied().unwrap_or(0) & 2 != 0;
        let len = be(cdb, 2, 3) as usize;
        if fixed && sili {
            return Response::check(Sense::invalid_field(1));
        }
        if fixed && self.block_len == 0 {
            return Response::check(Sense::invalid_field(1));
        }
        if len == 0 {
            return Response::good(Vec::new());
        }
        if !fixed {
            return match self.medium.get(self.pos).cloned() {
                None => Response::check(Self::s(
                    sense_key::BLANK_CHECK,
                    asc::END_OF_DATA_DETECTED,
                    0,
                    Some(len as i64),
                )),
                Some(Record::Filemark) => {
                    self.pos += 1;
                    Response::check(Self::s(
                        sense_key::NO_SENSE,
                        asc::FILEMARK_DETECTED,
                        sense::FIXED_FILEMARK,
                        Some(len as i64),
                    ))
                }
                Some(Record::Data(d)) => {
                    self.pos += 1;
                    let n = d.len().min(len);
                    let data = d[..n].to_vec();
                    if d.len() == len || (sili && d.len() < len) {
                        Response::good(data)
                    } else {
                        // ILI: INFORMATION = requested minus actual (negative if longer).
                        let s = Self::s(
                            sense_key::NO_SENSE,
                            asc::NO_ADDITIONAL_SENSE,
                            sense::FIXED_ILI,
                            Some(len as i64 - d.len() as i64),
                        );
                        Response::check_with_data(s, data)
                    }
                }
            };
        }
        let bl = self.block_len as usize;
        let mut out = Vec::with_capacity((len * bl).min(1 << 20));
        for i in 0..len {
            let left = (len - i) as i64;
            match self.medium.get(self.pos).cloned() {
                None => {
                    return Response::check_with_data(
                        Self::s(
                            sense_key::BLANK_CHECK,
                            asc::END_OF_DATA_DETECTED,
                            0,
                            Some(left),
                        ),
                        out,
                    )
                }
                Some(Record::Filemark) => {
                    self.pos += 1;
                    return Response::check_with_data(
                        Self::s(
                            sense_key::NO_SENSE,
                            asc::FILEMARK_DETECTED,
                            sense::FIXED_FILEMARK,
                            Some(left),
                        ),
                        out,
                    );
                }
                Some(Record::Data(d)) => {
                    self.pos += 1;
                    if d.len() != bl {
                        let mut d = d;
                        d.resize(bl, 0);
                        out.extend(d);
                        return Response::check_with_data(
                            Self::s(
                                sense_key::NO_SENSE,
                                asc::NO_ADDITIONAL_SENSE,
                                sense::FIXED_ILI,
                                Some(left),
                            ),
                            out,
                        );
                    }
                    out.extend(d);
                }
            }
        }
        Response::good(out)
    }

    fn write(&mut self, cdb: &[u8], data: Option<&[u8]>) -> Exec {
        let fixed = cdb.get(1).copied().unwrap_or(0) & 1 != 0;
        let len = be(cdb, 2, 3) as usize;
        if fixed && self.block_len == 0 {
            return Exec::Done(Response::check(Sense::invalid_field(1)));
        }
        let bytes = if fixed {
            len * self.block_len as usize
        } else {
            len
        };
        if !fixed && len > MAX_BLOCK {
            return Exec::Done(Response::check(Sense::invalid_field(2)));
        }
        if bytes == 0 {
            return Exec::Done(Response::good(Vec::new()));
        }
        let used = self.used();
        if used + bytes > self.capacity {
            return Exec::Done(Response::check(Self::s(
                sense_key::VOLUME_OVERFLOW,
                asc::END_OF_PARTITION_MEDIUM_DETECTED,
                sense::FIXED_EOM,
                Some(len as i64),
            )));
        }
        let Some(d) = data else {
            return Exec::NeedData(bytes);
        };
        self.medium.truncate(self.pos);
        if fixed {
            for c in d[..bytes.min(d.len())].chunks(self.block_len as usize) {
                self.medium.push(Record::Data(c.to_vec()));
            }
        } else {
            self.medium
                .push(Record::Data(d[..bytes.min(d.len())].to_vec()));
        }
        self.pos = self.medium.len();
        if used + bytes > self.capacity - self.early_warning {
            return Exec::Done(Response::check(Self::s(
                sense_key::NO_SENSE,
                asc::END_OF_PARTITION_MEDIUM_DETECTED,
                sense::FIXED_EOM,
                Some(0),
            )));
        }
        Exec::Done(Response::good(Vec::new()))
    }

    fn space(&mut self, cdb: &[u8]) -> Response {
        let code = cdb.get(1).copied().unwrap_or(0) & 0x0F;
        let raw = be(cdb, 2, 3) as i64;
        let count = if raw & 0x80_0000 != 0 {
            raw - 0x100_0000
        } else {
            raw
        };
        match code {
            0 | 1 => {
                let marks = code == 1;
                let mut left = count.abs();
                if count >= 0 {
                    while left > 0 {
                        match self.medium.get(self.pos) {
                            None => {
                                return Response::check(Self::s(
                                    sense_key::BLANK_CHECK,
                                    asc::END_OF_DATA_DETECTED,
                                    0,
                                    Some(left),
                                ))
                            }
                            Some(Record::Filemark) => {
                                self.pos += 1;
                                if marks {
                                    left -= 1;
                                } else {
                                    return Response::check(Self::s(
                                        sense_key::NO_SENSE,
                                        asc::FILEMARK_DETECTED,
                                        sense::FIXED_FILEMARK,
                                        Some(left),
                                    ));
                                }
                            }
                            Some(Record::Data(_)) => {
                                self.pos += 1;
                                if !marks {
                                    left -= 1;
                                }
                            }
                        }
                    }
                } else {
                    while left > 0 {
                        if self.pos == 0 {
                            return Response::check(Self::s(
                                sense_key::NO_SENSE,
                                asc::BEGINNING_OF_PARTITION_MEDIUM_DETECTED,
                                sense::FIXED_EOM,
                                Some(-left),
                            ));
                        }
                        self.pos -= 1;
                        match self.medium[self.pos] {
                            Record::Filemark if marks => left -= 1,
                            Record::Filemark => {
                                // Stop on the BOP side of the filemark.
                                return Response::check(Self::s(
                                    sense_key::NO_SENSE,
                                    asc::FILEMARK_DETECTED,
                                    sense::FIXED_FILEMARK,
                                    Some(-left),
                                ));
                            }
                            Record::Data(_) if !marks => left -= 1,
                            Record::Data(_) => {}
                        }
                    }
                }
                Response::good(Vec::new())
            }
            3 => {
                self.pos = self.medium.len();
                Response::good(Vec::new())
            }
            _ => Response::check(Sense::invalid_field(1)),
        }
    }

    fn mode_sense(&self, cdb: &[u8]) -> Response {
        let dbd = cdb.get(1).copied().unwrap_or(0) & 0x08 != 0;
        let page = cdb.get(2).copied().unwrap_or(0) & 0x3F;
        let alloc_len = usize::from(cdb.get(4).copied().unwrap_or(0));
        let pages = match page {
            0 => Vec::new(),
            PAGE_DEVICE_CONFIGURATION | 0x3F => {
                let mut p = vec![0u8; 16];
                p[0] = PAGE_DEVICE_CONFIGURATION;
                p[1] = 14;
                p
            }
            _ => return Response::check(Sense::invalid_field(2)),
        };
        let mut d = vec![0u8, 0, 0x10, if dbd { 0 } else { 8 }]; // 0x10: buffered mode 1
        if !dbd {
            d.extend_from_slice(&[0, 0, 0, 0, 0]);
            d.extend_from_slice(&self.block_len.to_be_bytes()[1..]);
        }
        d.extend(pages);
        d[0] = (d.len() - 1) as u8;
        Response::good(alloc(d, alloc_len))
    }

    fn mode_select(&mut self, cdb: &[u8], data: Option<&[u8]>) -> Exec {
        let len = usize::from(cdb.get(4).copied().unwrap_or(0));
        if len == 0 {
            return Exec::Done(Response::good(Vec::new()));
        }
        let Some(d) = data else {
            return Exec::NeedData(len);
        };
        let bad = || {
            Exec::Done(Response::check(Sense::new(
                sense_key::ILLEGAL_REQUEST,
                asc::INVALID_FIELD_IN_PARAMETER_LIST,
            )))
        };
        if d.len() < 4 {
            return Exec::Done(Response::check(Sense::new(
                sense_key::ILLEGAL_REQUEST,
                asc::PARAMETER_LIST_LENGTH_ERROR,
            )));
        }
        if d[3] == 8 {
            if d.len() < 12 {
                return bad();
            }
            let bl = be(d, 9, 3) as usize;
            if bl > MAX_BLOCK {
                return bad();
            }
            self.block_len = bl as u32;
        } else if d[3] != 0 {
            return bad();
        }
        Exec::Done(Response::good(Vec::new()))
    }
}

impl LogicalUnit for Tape {
    fn ident(&self) -> Ident {
        Ident {
            device_type: inquiry::TYPE_SEQUENTIAL_ACCESS,
            removable: true,
            vendor: "OPENHBA",
            product: "SIM TAPE",
            revision: "0001",
        }
    }

    fn execute(&mut self, cdb: &[u8], data: Option<&[u8]>) -> Exec {
        let Some(&op) = cdb.first() else {
            return Exec::Done(invalid_opcode());
        };
        let r = match op {
            opcode::TEST_UNIT_READY => Exec::Done(Response::good(Vec::new())),
            opcode::READ_6 => Exec::Done(self.read(cdb)),
            opcode::WRITE_6 => self.write(cdb, data),
            opcode::WRITE_FILEMARKS_6 => {
                let n = be(cdb, 2, 3) as usize;
                if self.used() + n > self.capacity {
                    Exec::Done(Response::check(Self::s(
                        sense_key::VOLUME_OVERFLOW,
                        asc::END_OF_PARTITION_MEDIUM_DETECTED,
                        sense::FIXED_EOM,
                        Some(n as i64),
                    )))
                } else if n == 0 {
                    // A count of zero only flushes buffered data (SSC-3 6.13): the
                    // medium after the position stays.
                    Exec::Done(Response::good(Vec::new()))
                } else {
                    self.medium.truncate(self.pos);
                    self.medium.extend((0..n).map(|_| Record::Filemark));
                    self.pos = self.medium.len();
                    Exec::Done(Response::good(Vec::new()))
                }
            }
            opcode::SPACE_6 => Exec::Done(self.space(cdb)),
            opcode::REWIND => {
                self.pos = 0;
                Exec::Done(Response::good(Vec::new()))
            }
            opcode::READ_BLOCK_LIMITS => {
                let mut d = vec![0u8; 6];
                d[1..4].copy_from_slice(&(MAX_BLOCK as u32).to_be_bytes()[1..]);
                d[4..6].copy_from_slice(&1u16.to_be_bytes());
                Exec::Done(Response::good(d))
            }
            opcode::READ_POSITION => {
                let sa = cdb.get(1).copied().unwrap_or(0) & 0x1F;
                if sa > 1 {
                    return Exec::Done(Response::check(Sense::invalid_field(1)));
                }
                let mut d = vec![0u8; 20];
                d[0] = if self.pos == 0 { 0x80 } else { 0 }
                    | if self.used() > self.capacity - self.early_warning {
                        0x40
                    } else {
                        0
                    };
                d[4..8].copy_from_slice(&(self.pos as u32).to_be_bytes());
                d[8..12].copy_from_slice(&(self.pos as u32).to_be_bytes());
                Exec::Done(Response::good(d))
            }
            opcode::MODE_SENSE_6 => Exec::Done(self.mode_sense(cdb)),
            opcode::MODE_SELECT_6 => self.mode_select(cdb, data),
            opcode::LOAD_UNLOAD => {
                self.pos = 0;
                Exec::Done(Response::good(Vec::new()))
            }
            opcode::PREVENT_ALLOW_MEDIUM_REMOVAL => Exec::Done(Response::good(Vec::new())),
            _ => Exec::Done(invalid_opcode()),
        };
        if matches!(r, Exec::Done(_)) {
            *self.counts.entry(op).or_default() += 1;
        }
        r
    }

    fn reset(&mut self, _kind: ResetKind) {}
}
