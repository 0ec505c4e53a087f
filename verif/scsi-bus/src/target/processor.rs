//! Processor devices (peripheral type 3, SPC-3 / SCSI-2 processor commands) and a
//! scanner-like model: SEND and RECEIVE of vendor data, and SET WINDOW / READ of a
//! generated image. Many SCSI scanners present themselves as processor devices; this one
//! can report either type. A scanner streams image data slower than the bus: give its
//! [`Target`](super::Target) [`scanner_target_config`] so it disconnects every few
//! kilobytes for the scan time of those lines.

use scsi_defs::{asc, inquiry, opcode, sense, sense_key};

use super::common::{be, invalid_opcode, Exec, Ident, LogicalUnit, Response, Sense};
use super::TargetConfig;

/// SEND (SCSI-2 processor, 0Ah).
pub const SEND: u8 = 0x0A;
/// RECEIVE (SCSI-2 processor, 08h).
pub const RECEIVE: u8 = 0x08;
/// SET WINDOW (SCSI-2 scanner, 24h); not in scsi-defs.
pub const SET_WINDOW: u8 = 0x24;
/// SCAN (SCSI-2 scanner, 1Bh).
pub const SCAN: u8 = 0x1B;
/// Largest SEND / RECEIVE this model accepts (bytes).
pub const MAX_TRANSFER: usize = 1 << 20;

/// A processor device: what the host SENDs is kept in order; what the device has for the
/// host (queued with [`Processor::queue_for_host`]) is returned by RECEIVE.
#[derive(Default)]
pub struct Processor {
    /// Every SEND's data, in order.
    pub sent: Vec<Vec<u8>>,
    to_host: std::collections::VecDeque<u8>,
}

impl Processor {
    /// An idle processor device.
    pub fn new() -> Processor {
        Processor::default()
    }
    /// Data the device will return to RECEIVE.
    pub fn queue_for_host(&mut self, d: &[u8]) {
        self.to_host.extend(d.iter().copied());
    }
}

fn short_read(data: Vec<u8>, residue: usize, eom: bool) -> Response {
    Response::check_with_data(
        Sense {
            info: u32::try_from(residue).ok(),
            flags: sense::FIXED_ILI | if eom { sense::FIXED_EOM } else { 0 },
            ..Sense::new(sense_key::NO_SENSE, asc::NO_ADDITIONAL_SENSE)
        },
        data,
    )
}

impl LogicalUnit for Processor {
    fn ident(&self) -> Ident {
        Ident {
            device_type: inquiry::TYPE_PROCESSOR,
            removable: false,
            vendor: "OPENHBA",
            product: "SIM PROCESSOR",
            revision: "0001",
        }
    }
    fn execute(&mut self, cdb: &[u8], data: Option<&[u8]>) -> Exec {
        let Some(&op) = cdb.first() else {
            return Exec::Done(invalid_opcode());
        };
        if cdb.len() < 6 {
            return Exec::Done(Response::check(Sense::invalid_field(0)));
        }
        let n = be(cdb, 2, 3) as usize;
        match op {
            opcode::TEST_UNIT_READY => Exec::Done(Response::good(Vec::new())),
            SEND => {
                if n > MAX_TRANSFER {
                    return Exec::Done(Response::check(Sense::invalid_field(2)));
                }
                match data {
                    None if n > 0 => Exec::NeedData(n),
                    d => {
                        self.sent.push(d.unwrap_or(&[]).to_vec());
                        Exec::Done(Response::good(Vec::new()))
                    }
                }
            }
            RECEIVE => {
                if n > MAX_TRANSFER {
                    return Exec::Done(Response::check(Sense::invalid_field(2)));
                }
                let k = n.min(self.to_host.len());
                let d: Vec<u8> = self.to_host.drain(..k).collect();
                if k < n {
                    // Less than asked for: ILI with the residue (SCSI-2 12.2.2).
                    Exec::Done(short_read(d, n - k, false))
                } else {
                    Exec::Done(Response::good(d))
                }
            }
            _ => Exec::Done(invalid_opcode()),
        }
    }
}

/// A scan window (SCSI-2 scanner window descriptor, the fields this model uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Resolution, pixels per inch (X, Y).
    pub res: (u16, u16),
    /// Width and length in 1/1200 inch.
    pub size: (u32, u32),
    /// Bits per pixel (1, 8 or 24).
    pub bits_per_pixel: u8,
}

impl Window {
    /// Bytes per scan line.
    pub fn line_bytes(&self) -> usize {
        let ppl = u64::from(self.size.0) * u64::from(self.res.0) / 1200;
        (ppl * u64::from(self.bits_per_pixel)).div_ceil(8) as usize
    }
    /// Scan lines.
    pub fn lines(&self) -> usize {
        (u64::from(self.size.1) * u64::from(self.res.1) / 1200) as usize
    }
    /// Image bytes.
    pub fn image_bytes(&self) -> usize {
        self.line_bytes().saturating_mul(self.lines())
    }
}

/// Largest image the model will produce (bytes): windows beyond it are refused.
pub const MAX_IMAGE: usize = 64 << 20;

/// A scanner: SET WINDOW, SCAN, READ (data type 0, image) of a generated image where
/// byte `i` of line `y` is `(y * 7 + i) as u8`. Past the end of the image READ returns
/// what is left with EOM and ILI and the residue in INFORMATION.
pub struct Scanner {
    device_type: u8,
    window: Option<Window>,
    scanning: bool,
    pos: usize,
    /// READs that returned data.
    pub reads: u64,
}

impl Scanner {
    /// A scanner reporting peripheral type `device_type` (3 processor, as many scanners
    /// do, or 6 scanner).
    pub fn new(device_type: u8) -> Scanner {
        Scanner {
            device_type,
            window: None,
            scanning: false,
            pos: 0,
            reads: 0,
        }
    }
    /// The window in force.
    pub fn window(&self) -> Option<Window> {
        self.window
    }
    /// The image byte at offset `i` of the image for window `w`.
    pub fn image_byte(w: &Window, i: usize) -> u8 {
        let lb = w.line_bytes().max(1);
        let (y, x) = (i / lb, i % lb);
        (y.wrapping_mul(7).wrapping_add(x)) as u8
    }

    fn set_window(&mut self, cdb: &[u8], data: Option<&[u8]>) -> Exec {
        let n = be(cdb, 6, 3) as usize;
        if n > 4096 {
            return Exec::Done(Response::check(Sense::invalid_field(6)));
        }
        let Some(d) = data else {
            return if n == 0 {
                Exec::Done(Response::good(Vec::new()))
            } else {
                Exec::NeedData(n)
            };
        };
        // Header (8 bytes, window descriptor length in 6..8), then one descriptor.
        let bad = || {
            Exec::Done(Response::check(Sense::new(
                sense_key::ILLEGAL_REQUEST,
                asc::INVALID_FIELD_IN_PARAMETER_LIST,
            )))
        };
        if d.len() < 8 {
            return Exec::Done(Response::check(Sense::new(
                sense_key::ILLEGAL_REQUEST,
                asc::PARAMETER_LIST_LENGTH_ERROR,
            )));
        }
        let wdl = be(d, 6, 2) as usize;
        if wdl < 27 || d.len() < 8 + 27 {
            return bad();
        }
        let w = &d[8..];
        let win = Window {
            res: (be(w, 2, 2) as u16, be(w, 4, 2) as u16),
            size: (be(w, 14, 4) as u32, be(w, 18, 4) as u32),
            bits_per_pixel: w[26],
        };
        if !matches!(win.bits_per_pixel, 1 | 8 | 24)
            || win.res.0 == 0
            || win.res.1 == 0
            || win.image_bytes() == 0
            || win.image_bytes() > MAX_IMAGE
        {
            return bad();
        }
        self.window = Some(win);
        self.scanning = false;
        self.pos = 0;
        Exec::Done(Response::good(Vec::new()))
    }

    fn read(&mut self, cdb: &[u8]) -> Response {
        if cdb.len() < 10 {
            return Response::check(Sense::invalid_field(0));
        }
        if cdb[2] != 0 {
            // Only data type code 0 (image).
            return Response::check(Sense::invalid_field(2));
        }
        let n = be(cdb, 6, 3) as usize;
        let Some(w) = self.window.filter(|_| self.scanning) else {
            return Response::check(Sense::new(
                sense_key::ILLEGAL_REQUEST,
                asc::COMMAND_SEQUENCE_ERROR,
            ));
        };
        let total = w.image_bytes();
        let k = n.min(total - self.pos);
        let d: Vec<u8> = (self.pos..self.pos + k)
            .map(|i| Scanner::image_byte(&w, i))
            .collect();
        self.pos += k;
        self.reads += 1;
        if k < n {
            self.scanning = false;
            return short_read(d, n - k, true);
        }
        Response::good(d)
    }
}

impl LogicalUnit for Scanner {
    fn ident(&self) -> Ident {
        Ident {
            device_type: self.device_type,
            removable: false,
            vendor: "OPENHBA",
            product: "SIM SCANNER",
            revision: "0001",
        }
    }
    fn execute(&mut self, cdb: &[u8], data: Option<&[u8]>) -> Exec {
        let Some(&op) = cdb.first() else {
            return Exec::Done(invalid_opcode());
        };
        let r = match op {
            opcode::TEST_UNIT_READY => Response::good(Vec::new()),
            SET_WINDOW if cdb.len() >= 10 => return self.set_window(cdb, data),
            SCAN if cdb.len() >= 6 => {
                if self.window.is_none() {
                    Response::check(Sense::new(
                        sense_key::ILLEGAL_REQUEST,
                        asc::COMMAND_SEQUENCE_ERROR,
                    ))
                } else {
                    // One window: the window list (byte 4) is not read.
                    self.scanning = true;
                    self.pos = 0;
                    Response::good(Vec::new())
                }
            }
            opcode::READ_10 => self.read(cdb),
            SET_WINDOW | SCAN => Response::check(Sense::invalid_field(0)),
            _ => invalid_opcode(),
        };
        Exec::Done(r)
    }
}

/// A target configuration for a scanner that streams slower than the bus: no tags, no
/// synchronous or wide transfers (as most SCSI scanners), and a disconnect every `chunk`
/// bytes for `line_cycles` of scan time.
pub fn scanner_target_config(id: u8, chunk: usize, line_cycles: u64) -> TargetConfig {
    let mut c = TargetConfig::new(id);
    c.sync = None;
    c.wide = false;
    c.tagged = false;
    c.chunk = Some(chunk.max(1));
    c.access_cycles = line_cycles;
    c
}
