//! An open HBA: the stack over either backend, the devices its scan found, and the
//! helpers every subcommand uses (address parsing, waiting with a limit, turning a
//! failed request into a message, CCBs for the XPT/SIM functions).

use crate::bus::BuiltBus;
use crate::error::{Error, Result};
use crate::sense;
use hba_cam::ccb::{CcbBody, TranSettings, TranType};
use hba_cam::periph::pass::PassData;
use hba_cam::periph::PeriphError;
use hba_cam::scsi_cmd::Capacity;
use hba_cam::xpt::DeviceInfo;
use hba_cam::{
    Ccb, CcbStatus, CdHandle, Completion, DaHandle, DevAddr, IoId, IoResult, PassHandle, Path,
};
use hba_host_driver::sim::SimConfig;
use hba_host_driver::stack::Stack;
use hba_host_driver::transport::xdma::XdmaTransport;
use hba_host_driver::Transport;
use hba_verif::SimTransport;
use std::time::Duration;

/// A transport the tool can open a stack on; co-simulation also gives its model.
pub trait HbaTransport: Transport + 'static {
    /// The co-simulated core, if this is co-simulation.
    fn cosim(&mut self) -> Option<&mut hba_verif::Model> {
        None
    }
    /// How long one request may take on the stack's clock before the tool gives up.
    fn io_limit(&self) -> Duration;
}

impl HbaTransport for SimTransport {
    fn cosim(&mut self) -> Option<&mut hba_verif::Model> {
        Some(self.model())
    }
    fn io_limit(&self) -> Duration {
        // Simulated time: a healthy command takes well under a millisecond; recovery
        // (abort, BDR, bus reset) with SimConfig::cosim's timers takes a few.
        Duration::from_millis(400)
    }
}

impl HbaTransport for XdmaTransport {
    fn io_limit(&self) -> Duration {
        // Wall time on a board: longer than the CCB timeout ladder.
        Duration::from_secs(120)
    }
}

/// An open HBA with its stack.
pub struct Hba<T: HbaTransport> {
    /// XPT + SIM + transport.
    pub stack: Stack<T>,
    limit: Duration,
}

/// Opens the co-simulated HBA on `bus`, with an FST trace when asked.
pub fn open_sim(b: BuiltBus, trace: Option<&std::path::Path>) -> Result<Hba<SimTransport>> {
    let mut t = SimTransport::new();
    if let Some(p) = trace {
        t.model().trace_to(p)?;
    }
    t.model().attach_bus(b.bus);
    let cfg = SimConfig {
        wide: b.wide,
        own_id: b.own_id,
        ..SimConfig::cosim()
    };
    let limit = t.io_limit();
    Ok(Hba {
        stack: Stack::open(t, cfg)?,
        limit,
    })
}

/// Opens a board through XDMA.
pub fn open_xdma(device: &std::path::Path) -> Result<Hba<XdmaTransport>> {
    let stack = hba_host_driver::stack::open_xdma(device, SimConfig::default())?;
    let limit = stack.with_transport(|t| t.io_limit());
    Ok(Hba { stack, limit })
}

/// One warning per target whose LUNs above 0 answer exactly as its LUN 0 does (the same
/// INQUIRY data and unit serial number): most likely one unit that ignores the LUN (no
/// IDENTIFY, nor the CDB's LUN field), where a write to any LUN lands on LUN 0.
pub fn phantom_luns(devs: &[DeviceInfo]) -> Vec<String> {
    let mut out = Vec::new();
    for d0 in devs.iter().filter(|d| d.addr.lun == 0 && !d.lost) {
        let (Some(inq), Some(serial)) = (&d0.inquiry, &d0.serial) else {
            continue;
        };
        if serial.trim().is_empty() {
            continue;
        }
        let same: Vec<u64> = devs
            .iter()
            .filter(|d| d.addr.bus == d0.addr.bus && d.addr.target == d0.addr.target)
            .filter(|d| d.addr.lun > 0 && !d.lost)
            .filter(|d| d.inquiry.as_ref() == Some(inq) && d.serial.as_ref() == Some(serial))
            .map(|d| d.addr.lun)
            .collect();
        let (Some(first), Some(last)) = (same.first(), same.last()) else {
            continue;
        };
        // A pattern that reads back as typed in single quotes: `?` for the separators and
        // for a quote (the strings are the device's, printable ASCII only).
        let pat = |s: &str| s.replace(['/', '=', '\''], "?");
        let luns = if first == last {
            format!("LUN {first}")
        } else {
            format!("LUNs {first}-{last}")
        };
        out.push(format!(
            "{}:{}: {luns} answer as LUN 0 (the same INQUIRY data and serial {serial:?}), \
             likely one unit that ignores the LUN: a write to any of them lands on LUN 0; \
             --quirk '{}/{}/{}=no-luns' scans LUN 0 only",
            d0.addr.bus.0,
            d0.addr.target,
            pat(&inq.vendor),
            pat(&inq.product),
            pat(&inq.revision),
        ));
    }
    out
}

/// A device address as typed: `T`, `T:L` or `B:T:L` (camcontrol's order).
pub fn parse_addr(s: &str) -> Result<(Option<u32>, u32, u64)> {
    let bad = || {
        Error::Usage(format!(
            "`{s}` is not a device address (TARGET, TARGET:LUN or BUS:TARGET:LUN)"
        ))
    };
    let parts: Vec<&str> = s.split(':').collect();
    let num = |p: &str| p.trim().parse::<u64>().map_err(|_| bad());
    let (b, t, l) = match parts.as_slice() {
        [t] => (None, num(t)?, 0),
        [t, l] => (None, num(t)?, num(l)?),
        [b, t, l] => (Some(num(b)?), num(t)?, num(l)?),
        _ => return Err(bad()),
    };
    let t = u32::try_from(t).map_err(|_| bad())?;
    let b = b.map(u32::try_from).transpose().map_err(|_| bad())?;
    Ok((b, t, l))
}

/// Parses hex bytes: "12 00 00 00 24 00", "120000002400" or "0x12,0x00".
pub fn parse_hex(s: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for tok in s.split(|c: char| c.is_whitespace() || c == ',' || c == ':') {
        let tok = tok
            .strip_prefix("0x")
            .or_else(|| tok.strip_prefix("0X"))
            .unwrap_or(tok);
        if tok.is_empty() {
            continue;
        }
        if tok.len() % 2 != 0 || !tok.is_ascii() {
            return Err(Error::Input(format!(
                "`{tok}` is not whole hex bytes (two digits each)"
            )));
        }
        for i in (0..tok.len()).step_by(2) {
            let b = u8::from_str_radix(&tok[i..i + 2], 16)
                .map_err(|_| Error::Input(format!("`{}` is not a hex byte", &tok[i..i + 2])))?;
            out.push(b);
        }
    }
    Ok(out)
}

/// Hex bytes separated by spaces.
pub fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a request fully succeeded: errno layer ok *and* CAM status REQ_CMP. A CHECK
/// CONDITION with NO SENSE (a filemark met by SPACE) maps to errno ok but is still an
/// exception the user must see, and the XPT treats it as a failure (tape flush).
pub fn passed(r: &IoResult) -> bool {
    r.is_ok() && r.status.cam.is_ok()
}

/// A failed request as "CAM status, SCSI status, sense" for messages.
pub fn describe_failure(r: &IoResult) -> String {
    let mut s = format!(
        "errno {}; CAM status {}",
        errno_name(r.status.errno),
        cam_name(r.status.cam)
    );
    if let Some(st) = r.status.scsi {
        s.push_str(&format!(", SCSI status {}", scsi_defs::status::name(st)));
    }
    if let Some(se) = &r.sense {
        s.push_str(&format!(", sense {}", sense::describe(se)));
    }
    if r.status.buf.resid != 0 {
        s.push_str(&format!(
            ", {} of {} bytes moved",
            r.status.buf.transferred(),
            r.status.buf.requested
        ));
    }
    s
}

/// The errno layer's name.
pub fn errno_name(e: hba_cam::Errno) -> &'static str {
    use hba_cam::Errno::*;
    match e {
        Ok => "ok",
        Eio => "EIO",
        Enxio => "ENXIO",
        Eacces => "EACCES",
        Ebusy => "EBUSY",
        Einval => "EINVAL",
        Enospc => "ENOSPC",
    }
}

/// The CAM status number's name (FreeBSD's CAM_* without the prefix), with flags.
pub fn cam_name(s: CcbStatus) -> String {
    let mut n = format!("{:?}", s.status());
    if s.has(hba_cam::status::CAM_AUTOSNS_VALID) {
        n.push_str("+AUTOSNS_VALID");
    }
    n
}

impl<T: HbaTransport> Hba<T> {
    /// Quirk entries for the scan to come, before the built-in ones.
    pub fn add_quirks(&mut self, quirks: &[hba_cam::quirks::QuirkEntry]) {
        for q in quirks {
            self.stack.xpt.add_quirk(q.clone());
        }
    }

    /// Scans the bus and returns what answered; warns (stderr) of LUNs that look like
    /// one unit seen again ([`phantom_luns`]).
    pub fn scan(&mut self) -> Result<Vec<DeviceInfo>> {
        let devs = self.stack.scan(self.limit * 8)?;
        for w in phantom_luns(&devs) {
            eprintln!("hbactl: warning: {w}");
        }
        Ok(devs)
    }

    /// Waits for a request.
    pub fn wait(&mut self, io: IoId) -> Result<IoResult> {
        Ok(self.stack.wait(io, self.limit)?)
    }

    /// Waits and turns a failure into [`Error::Device`].
    pub fn wait_ok(&mut self, io: IoId, what: &str) -> Result<IoResult> {
        let r = self.wait(io)?;
        if passed(&r) {
            Ok(r)
        } else {
            Err(Error::Device {
                what: what.to_string(),
                detail: describe_failure(&r),
            })
        }
    }

    /// The device at an address typed by the user.
    pub fn device(&self, s: &str) -> Result<DeviceInfo> {
        let (b, t, l) = parse_addr(s)?;
        if b.is_some_and(|b| b != self.stack.bus.0) {
            return Err(Error::NoDevice(format!(
                "{s} (this HBA is bus {})",
                self.stack.bus.0
            )));
        }
        let a = DevAddr::new(self.stack.bus, t, l);
        self.stack
            .devices()
            .into_iter()
            .find(|d| d.addr == a)
            .ok_or_else(|| Error::NoDevice(a.to_string()))
    }

    /// The tape at `s` with its `sa` periph.
    pub fn tape(&self, s: &str) -> Result<(DeviceInfo, hba_cam::SaHandle)> {
        let d = self.device(s)?;
        let sa = hba_cam::SaHandle::for_device(&self.stack.xpt, d.addr)
            .ok_or_else(|| wrong_type(&d, "tape"))?;
        Ok((d, sa))
    }

    /// The disk at `s` with its capacity read.
    pub fn disk(&mut self, s: &str) -> Result<(DeviceInfo, DaHandle, hba_cam::scsi_cmd::Capacity)> {
        let d = self.device(s)?;
        let da =
            DaHandle::for_device(&self.stack.xpt, d.addr).ok_or_else(|| wrong_type(&d, "disk"))?;
        let io = da
            .read_capacity(&mut self.stack.xpt)
            .map_err(|e| periph("READ CAPACITY", e))?;
        self.wait_ok(io, "READ CAPACITY")?;
        let cap = da
            .capacity(&mut self.stack.xpt)
            .ok_or_else(|| Error::Device {
                what: "READ CAPACITY".into(),
                detail: "no capacity reported".into(),
            })?;
        Ok((d, da, cap))
    }

    /// The CD-ROM at `s` with its capacity read and its TOC checked: the disc's size is
    /// the lead-out's start in the TOC (READ CAPACITY of CD-Rs is known to be off by a
    /// few blocks), and an empty drive is a clear error.
    pub fn cdrom(&mut self, s: &str) -> Result<(DeviceInfo, CdHandle, Capacity)> {
        let d = self.device(s)?;
        let cd = CdHandle::for_device(&self.stack.xpt, d.addr)
            .ok_or_else(|| wrong_type(&d, "CD-ROM"))?;
        let io = cd
            .read_capacity(&mut self.stack.xpt)
            .map_err(|e| periph("READ CAPACITY", e))?;
        let r = self.wait(io)?;
        if !passed(&r) {
            let no_medium = r.sense.as_ref().is_some_and(|s| s.asc == 0x3a);
            return Err(Error::Device {
                what: "READ CAPACITY".into(),
                detail: if no_medium {
                    format!(
                        "no medium in the CD-ROM drive at {} ({})",
                        d.addr,
                        describe_failure(&r)
                    )
                } else {
                    describe_failure(&r)
                },
            });
        }
        let mut cap = cd
            .capacity(&mut self.stack.xpt)
            .ok_or_else(|| Error::Device {
                what: "READ CAPACITY".into(),
                detail: "no capacity reported".into(),
            })?;
        let io = cd
            .read_toc(&mut self.stack.xpt, false)
            .map_err(|e| periph("READ TOC", e))?;
        self.wait_ok(io, "READ TOC")?;
        let toc = cd.toc(&mut self.stack.xpt).unwrap_or_default();
        let leadout = toc
            .entries
            .iter()
            .find(|e| e.track == hba_cam::scsi_cmd::TOC_LEADOUT)
            .map(|e| e.lba)
            .filter(|&l| l > 0)
            .ok_or_else(|| Error::Device {
                what: "READ TOC".into(),
                detail: "the TOC has no lead-out track".into(),
            })?;
        let leadout = leadout as u64;
        if leadout != cap.blocks() {
            eprintln!(
                "hbactl: {}: READ CAPACITY says {} blocks, the TOC's lead-out {}: using the TOC",
                d.addr,
                cap.blocks(),
                leadout
            );
            cap.last_lba = leadout - 1;
        }
        Ok((d, cd, cap))
    }

    /// The disk or CD-ROM at `s`, as a block device with its capacity.
    pub fn block_device(&mut self, s: &str) -> Result<(DeviceInfo, BlockDev, Capacity)> {
        let d = self.device(s)?;
        if CdHandle::for_device(&self.stack.xpt, d.addr).is_some() {
            let (d, cd, cap) = self.cdrom(s)?;
            Ok((d, BlockDev::Cd(cd), cap))
        } else {
            let (d, da, cap) = self.disk(s)?;
            Ok((d, BlockDev::Da(da), cap))
        }
    }

    /// The pass-through handle of a device.
    pub fn pass(&self, d: &DeviceInfo) -> Result<PassHandle> {
        PassHandle::for_device(&self.stack.xpt, d.addr)
            .ok_or_else(|| Error::NoDevice(format!("{} (no pass periph)", d.addr)))
    }

    /// Sends a raw CDB through `pass` without recovery and waits (failures are returned,
    /// not turned into errors: the caller decides).
    pub fn raw(&mut self, d: &DeviceInfo, cdb: &[u8], data: PassData) -> Result<IoResult> {
        let p = self.pass(d)?;
        let io = p
            .command(
                &mut self.stack.xpt,
                cdb,
                data,
                Duration::from_secs(10),
                false,
            )
            .map_err(|e| periph("pass-through", e))?;
        self.wait(io)
    }

    /// Submits a non-I/O CCB and runs the loop until it completes.
    pub fn ccb(&mut self, path: Path, body: CcbBody, what: &'static str) -> Result<Ccb> {
        let id = self
            .stack
            .xpt
            .submit(Ccb::new(path, body), Completion::Queue);
        let mut out = None;
        // Only our CCB: other queued completions stay for whoever submitted them.
        self.stack.run_until(what, self.limit * 4, |x| {
            out = x.take_completed_id(id);
            out.is_some()
        })?;
        let c = out.expect("run_until returned on the completion");
        if c.h.status.is_ok() {
            Ok(c)
        } else {
            Err(Error::Device {
                what: what.into(),
                detail: format!("CAM status {}", cam_name(c.h.status)),
            })
        }
    }

    /// XPT_GET_TRAN_SETTINGS of `kind` for a device.
    pub fn tran(&mut self, a: DevAddr, kind: TranType) -> Result<TranSettings> {
        let c = self.ccb(
            a.path(),
            CcbBody::GetTranSettings(TranSettings {
                kind,
                ..Default::default()
            }),
            "XPT_GET_TRAN_SETTINGS",
        )?;
        match c.body {
            CcbBody::GetTranSettings(t) => Ok(t),
            _ => unreachable!("the body kind is kept"),
        }
    }

    /// Core cycles of the co-simulated card (0 on a board).
    pub fn cycles(&self) -> u64 {
        self.stack
            .with_transport(|t| t.cosim().map(|m| m.cycle()))
            .unwrap_or(0)
    }

    /// The whole decoded bus log of the co-simulation, if any.
    pub fn bus_log(&self) -> Option<String> {
        self.stack.with_transport(|t| {
            t.cosim()
                .and_then(|m| m.bus().map(|b| b.monitor.log_text()))
        })
    }

    /// Protocol violations the co-simulation's bus monitor saw.
    pub fn violations(&self) -> usize {
        self.stack.with_transport(|t| {
            t.cosim()
                .and_then(|m| m.bus().map(|b| b.monitor.violations().len()))
                .unwrap_or(0)
        })
    }

    /// Detaches the SIM (flushes nothing: callers sync what they wrote first).
    pub fn close(mut self) -> Result<()> {
        let l = self.limit;
        self.stack.detach(l)?;
        Ok(())
    }
}

/// A device read by LBA: a disk through `da` (read-write) or a CD-ROM through `cd`
/// (read-only).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BlockDev {
    /// A disk.
    Da(DaHandle),
    /// A CD-ROM.
    Cd(CdHandle),
}

impl BlockDev {
    /// Reads `count` blocks at `lba`.
    pub fn read(
        self,
        xpt: &mut hba_cam::Xpt,
        lba: u64,
        count: u64,
    ) -> std::result::Result<IoId, PeriphError> {
        match self {
            BlockDev::Da(d) => d.read(xpt, lba, count),
            BlockDev::Cd(c) => c.read(xpt, lba, count),
        }
    }

    /// Whether the medium can only be read.
    pub fn read_only(self) -> bool {
        matches!(self, BlockDev::Cd(_))
    }
}

/// "`d` is not a `want`".
pub fn wrong_type(d: &DeviceInfo, want: &'static str) -> Error {
    Error::WrongType {
        addr: d.addr.to_string(),
        want,
        is: type_name(d),
    }
}

/// A periph refusal as an error.
pub fn periph(what: &str, e: hba_cam::periph::PeriphError) -> Error {
    Error::Periph {
        what: what.to_string(),
        source: e,
    }
}

/// "disk", "tape" or the peripheral type number.
pub fn type_name(d: &DeviceInfo) -> String {
    match d.inquiry.as_ref().map(|i| i.device_type) {
        Some(scsi_defs::inquiry::TYPE_DIRECT_ACCESS) => "disk".into(),
        Some(scsi_defs::inquiry::TYPE_SEQUENTIAL_ACCESS) => "tape".into(),
        Some(scsi_defs::inquiry::TYPE_CDROM) => "CD-ROM".into(),
        Some(t) => format!("type {t:#04x}"),
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(parse_addr("3").unwrap(), (None, 3, 0));
        assert_eq!(parse_addr("3:1").unwrap(), (None, 3, 1));
        assert_eq!(parse_addr("0:3:1").unwrap(), (Some(0), 3, 1));
        for bad in ["", "a", "1:2:3:4", "-1", "99999999999", "1:"] {
            assert!(parse_addr(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hex_bytes() {
        assert_eq!(
            parse_hex("12 00 0x24,ff").unwrap(),
            vec![0x12, 0, 0x24, 0xff]
        );
        assert_eq!(parse_hex("120000").unwrap(), vec![0x12, 0, 0]);
        for bad in ["1", "zz", "12 3", "é1"] {
            assert!(parse_hex(bad).is_err(), "{bad:?}");
        }
    }

    /// The warning's suggested entry, typed back, matches the device whatever its strings
    /// hold; LUNs with serials of their own, or another INQUIRY, are no phantoms.
    #[test]
    fn phantom_lun_warning_suggests_an_entry_that_matches() {
        use hba_cam::path::{BusId, DevAddr};
        use hba_cam::scsi_cmd::InquiryData;
        let inq = InquiryData {
            vendor: "A/B=C".into(),
            product: "IT'S / X=Y".into(),
            revision: "1'0".into(),
            ..Default::default()
        };
        let dev = |lun: u64, serial: &str, inq: &InquiryData| DeviceInfo {
            addr: DevAddr::new(BusId(0), 3, lun),
            inquiry: Some(inq.clone()),
            serial: Some(serial.into()),
            tran: None,
            periphs: Vec::new(),
            lost: false,
        };
        let mut other = inq.clone();
        other.revision = "2".into();
        let devs = vec![
            dev(0, "S1", &inq),
            dev(1, "S1", &inq),
            dev(2, "S1", &inq),
            dev(3, "S2", &inq),
            dev(4, "S1", &other),
        ];
        let w = phantom_luns(&devs);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("0:3: LUNs 1-2 answer as LUN 0"), "{w:?}");
        let entry = w[0]
            .split("--quirk '")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .unwrap();
        let e: hba_cam::quirks::QuirkEntry = entry.parse().unwrap();
        assert!(
            e.matches(&inq.vendor, &inq.product, &inq.revision),
            "{entry}"
        );
        assert!(e.quirks.no_luns);
        // Each unit its own serial: nothing to say.
        let devs: Vec<DeviceInfo> = (0..3).map(|l| dev(l, &format!("S{l}"), &inq)).collect();
        assert!(phantom_luns(&devs).is_empty());
    }
}
