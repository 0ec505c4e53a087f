//! SCSI subcommands in the manner of camcontrol/sg3_utils: devlist, inquiry (standard and
//! VPD 0x80/0x83), tur, readcap, read, write, cmd (raw CDB), sense (decode bytes).

use crate::error::{Error, Result};
use crate::hba::{describe_failure, hex, passed, periph, type_name, Hba, HbaTransport};
use crate::sense::{self, SenseJson};
use hba_cam::periph::pass::PassData;
use hba_cam::sense::Sense;
use hba_cam::xpt::DeviceInfo;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::io::{Read, Write};
use std::path::Path;

/// Largest transfer per command the tool issues (fits the card's data area).
pub const CHUNK: usize = 32 * 1024;

/// A device as listed by `devlist`.
#[derive(Serialize)]
pub struct DevJson {
    /// "bus:target:lun".
    pub addr: String,
    /// SCSI ID.
    pub target: u32,
    /// LUN.
    pub lun: u64,
    /// "disk", "tape", ...
    pub kind: String,
    /// Vendor.
    pub vendor: String,
    /// Product.
    pub product: String,
    /// Revision.
    pub revision: String,
    /// Unit serial number.
    pub serial: Option<String>,
    /// Negotiated sync period factor (0 = async).
    pub sync_period: Option<u8>,
    /// Negotiated offset.
    pub sync_offset: Option<u8>,
    /// 16-bit transfers.
    pub wide: bool,
    /// Tagged queuing in use.
    pub tagged: bool,
}

/// The listing of one device.
pub fn dev_json(d: &DeviceInfo) -> DevJson {
    let inq = d.inquiry.clone().unwrap_or_default();
    let spi = d.tran.map(|t| t.spi).unwrap_or_default();
    DevJson {
        addr: format!("{}:{}:{}", d.addr.bus.0, d.addr.target, d.addr.lun),
        target: d.addr.target,
        lun: d.addr.lun,
        kind: type_name(d),
        vendor: inq.vendor,
        product: inq.product,
        revision: inq.revision,
        serial: d.serial.clone(),
        sync_period: spi.sync_period,
        sync_offset: spi.sync_offset,
        wide: spi.bus_width == Some(1),
        tagged: d.tran.and_then(|t| t.tq_enb).unwrap_or(false),
    }
}

/// Prints JSON (pretty, one document).
pub fn print_json<S: Serialize>(v: &S) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).expect("plain data serialises")
    );
}

/// The device list, camcontrol devlist style.
pub fn print_devlist(devs: &[DeviceInfo], json: bool) {
    let v: Vec<DevJson> = devs.iter().map(dev_json).collect();
    if json {
        return print_json(&v);
    }
    for d in &v {
        let rate = match (d.sync_period, d.sync_offset) {
            (Some(p), Some(o)) if o > 0 => format!("sync factor {p:#04x} offset {o}"),
            _ => "async".into(),
        };
        println!(
            "<{:<8} {:<16} {:<4}>  at {:<7} {:<4} serial {:<8} {}{}{}",
            d.vendor,
            d.product,
            d.revision,
            d.addr,
            d.kind,
            d.serial.as_deref().unwrap_or("-"),
            rate,
            if d.wide { ", wide" } else { "" },
            if d.tagged { ", tagged" } else { "" },
        );
    }
}

/// `inquiry`: standard data, serial number (VPD 0x80) and device identification (0x83).
pub fn inquiry<T: HbaTransport>(h: &mut Hba<T>, dev: &str, json: bool) -> Result<()> {
    let d = h.device(dev)?;
    let std_r = h.raw(&d, &hba_cam::scsi_cmd::inquiry(None, 96), PassData::In(96))?;
    ok_or_device(&std_r, "INQUIRY")?;
    let std = hba_cam::scsi_cmd::InquiryData::parse(&std_r.data).map_err(|e| Error::Device {
        what: "INQUIRY".into(),
        detail: e.to_string(),
    })?;
    let mut vpd = Vec::new();
    for page in [
        scsi_defs::inquiry::VPD_SUPPORTED_PAGES,
        scsi_defs::inquiry::VPD_UNIT_SERIAL_NUMBER,
        scsi_defs::inquiry::VPD_DEVICE_IDENTIFICATION,
    ] {
        let r = h.raw(
            &d,
            &hba_cam::scsi_cmd::inquiry(Some(page), 252),
            PassData::In(252),
        )?;
        vpd.push((page, r));
    }
    let serial = vpd
        .iter()
        .find(|(p, r)| *p == 0x80 && r.is_ok())
        .and_then(|(_, r)| hba_cam::scsi_cmd::parse_serial_vpd(&r.data).ok());
    let ids = vpd
        .iter()
        .find(|(p, r)| *p == 0x83 && r.is_ok())
        .map(|(_, r)| parse_devid_vpd(&r.data))
        .unwrap_or_default();
    let pages = vpd
        .iter()
        .find(|(p, r)| *p == 0 && r.is_ok())
        .map(|(_, r)| {
            let n = r.data.get(3).copied().unwrap_or(0) as usize;
            r.data.iter().skip(4).take(n).copied().collect::<Vec<u8>>()
        })
        .unwrap_or_default();
    if json {
        #[derive(Serialize)]
        struct J<'a> {
            addr: String,
            device_type: u8,
            removable: bool,
            version: u8,
            vendor: &'a str,
            product: &'a str,
            revision: &'a str,
            wbus16: bool,
            sync: bool,
            cmdque: bool,
            vpd_pages: Vec<u8>,
            serial: Option<String>,
            identifiers: &'a [DevId],
        }
        print_json(&J {
            addr: d.addr.to_string(),
            device_type: std.device_type,
            removable: std.removable,
            version: std.version,
            vendor: &std.vendor,
            product: &std.product,
            revision: &std.revision,
            wbus16: std.wbus16,
            sync: std.sync,
            cmdque: std.cmdque,
            vpd_pages: pages,
            serial,
            identifiers: &ids,
        });
        return Ok(());
    }
    println!(
        "{}: <{} {} {}>",
        d.addr, std.vendor, std.product, std.revision
    );
    println!(
        "  type {:#04x} ({}), {}removable, SPC version {}, response format {}",
        std.device_type,
        type_name(&d),
        if std.removable { "" } else { "not " },
        std.version,
        std.response_format
    );
    println!(
        "  wide16 {}, sync {}, tagged queuing {}",
        yn(std.wbus16),
        yn(std.sync),
        yn(std.cmdque)
    );
    println!("  VPD pages: {}", hex(&pages));
    println!(
        "  serial number (VPD 0x80): {}",
        serial.as_deref().unwrap_or("-")
    );
    for id in &ids {
        println!(
            "  identifier (VPD 0x83): {} {}: {}",
            id.code_set, id.designator_type, id.value
        );
    }
    Ok(())
}

fn yn(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// One designator of VPD page 0x83.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct DevId {
    /// "binary" / "ascii" / "utf-8".
    pub code_set: &'static str,
    /// "vendor-specific", "T10 vendor ID", "EUI-64", "NAA", ...
    pub designator_type: &'static str,
    /// Text or hex.
    pub value: String,
}

/// Parses the designators of a Device Identification VPD page; a truncated designator
/// ends the list (hostile input never panics).
pub fn parse_devid_vpd(b: &[u8]) -> Vec<DevId> {
    let mut out = Vec::new();
    if b.len() < 4 || b[1] != 0x83 {
        return out;
    }
    let end = b.len().min(4 + u16::from_be_bytes([b[2], b[3]]) as usize);
    let mut i = 4;
    while i + 4 <= end {
        let len = b[i + 3] as usize;
        let Some(v) = b.get(i + 4..i + 4 + len).filter(|_| i + 4 + len <= end) else {
            break;
        };
        let code = b[i] & 0x0f;
        let ty = b[i + 1] & 0x0f;
        let code_set = match code {
            1 => "binary",
            2 => "ascii",
            3 => "utf-8",
            _ => "reserved",
        };
        let designator_type = match ty {
            0 => "vendor-specific",
            1 => "T10 vendor ID",
            2 => "EUI-64",
            3 => "NAA",
            4 => "relative target port",
            5 => "target port group",
            6 => "logical unit group",
            7 => "MD5 logical unit",
            8 => "SCSI name string",
            _ => "reserved",
        };
        let value = if code == 2 || code == 3 {
            String::from_utf8_lossy(v).trim().to_string()
        } else {
            hex(v)
        };
        out.push(DevId {
            code_set,
            designator_type,
            value,
        });
        i += 4 + len;
    }
    out
}

fn ok_or_device(r: &hba_cam::IoResult, what: &str) -> Result<()> {
    if passed(r) {
        Ok(())
    } else {
        Err(Error::Device {
            what: what.into(),
            detail: describe_failure(r),
        })
    }
}

/// `tur`: TEST UNIT READY through pass, without recovery (a UNIT ATTENTION shows).
pub fn tur<T: HbaTransport>(h: &mut Hba<T>, dev: &str, json: bool) -> Result<()> {
    let d = h.device(dev)?;
    let r = h.raw(&d, &hba_cam::scsi_cmd::tur(), PassData::None)?;
    if json {
        print_json(&serde_json::json!({
            "addr": d.addr.to_string(),
            "ready": passed(&r),
            "sense": r.sense.as_ref().map(SenseJson::from),
        }));
    } else if passed(&r) {
        println!("{}: unit is ready", d.addr);
    }
    ok_or_device(&r, "TEST UNIT READY")
}

/// `readcap`: READ CAPACITY.
pub fn readcap<T: HbaTransport>(h: &mut Hba<T>, dev: &str, json: bool) -> Result<()> {
    let (d, _, cap) = h.disk(dev)?;
    let bytes = cap.blocks() * u64::from(cap.block_len);
    if json {
        print_json(&serde_json::json!({
            "addr": d.addr.to_string(),
            "last_lba": cap.last_lba,
            "blocks": cap.blocks(),
            "block_len": cap.block_len,
            "bytes": bytes,
        }));
    } else {
        println!(
            "{}: last LBA {}, block length {}, {} blocks, {} bytes ({:.1} MiB)",
            d.addr,
            cap.last_lba,
            cap.block_len,
            cap.blocks(),
            bytes,
            bytes as f64 / 1048576.0
        );
    }
    Ok(())
}

/// A progress bar on stderr for `total` bytes (hidden when stderr is not a terminal).
pub fn bytes_bar(total: u64, msg: &str) -> ProgressBar {
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template(
            "{msg:10} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_message(msg.to_string());
    pb
}

fn check_range(lba: u64, count: u64, blocks: u64) -> Result<()> {
    match lba.checked_add(count) {
        Some(end) if count > 0 && end <= blocks => Ok(()),
        _ => Err(Error::Usage(format!(
            "LBA range {lba}+{count} is outside the disk (blocks 0..{blocks})"
        ))),
    }
}

/// `read`: `count` blocks at `lba` into `out`.
pub fn read<T: HbaTransport>(
    h: &mut Hba<T>,
    dev: &str,
    lba: u64,
    count: u64,
    out: &Path,
) -> Result<()> {
    let (_, da, cap) = h.disk(dev)?;
    check_range(lba, count, cap.blocks())?;
    let bl = u64::from(cap.block_len);
    let mut f = std::fs::File::create(out).map_err(|e| Error::file(out, e))?;
    let per = (CHUNK as u64 / bl).max(1);
    let pb = bytes_bar(count * bl, "read");
    let mut at = lba;
    while at < lba + count {
        let n = per.min(lba + count - at);
        let io = da
            .read(&mut h.stack.xpt, at, n)
            .map_err(|e| periph("READ", e))?;
        let r = h.wait_ok(io, &format!("READ at LBA {at}"))?;
        f.write_all(&r.data).map_err(|e| Error::file(out, e))?;
        at += n;
        pb.inc(n * bl);
    }
    pb.finish_and_clear();
    eprintln!("read {count} blocks at LBA {lba} into {}", out.display());
    Ok(())
}

/// `write`: the file `input` (whole blocks) at `lba`, then SYNCHRONIZE CACHE.
pub fn write<T: HbaTransport>(h: &mut Hba<T>, dev: &str, lba: u64, input: &Path) -> Result<()> {
    // The file is checked before anything touches the disk.
    let data = std::fs::read(input).map_err(|e| Error::file(input, e))?;
    let (_, da, cap) = h.disk(dev)?;
    let bl = cap.block_len as usize;
    if data.is_empty() || data.len() % bl != 0 {
        return Err(Error::Input(format!(
            "{}: {} bytes is not a whole number of {bl}-byte blocks",
            input.display(),
            data.len()
        )));
    }
    let count = (data.len() / bl) as u64;
    check_range(lba, count, cap.blocks())?;
    let pb = bytes_bar(data.len() as u64, "write");
    for (k, chunk) in data.chunks(CHUNK / bl * bl).enumerate() {
        let at = lba + (k * (CHUNK / bl)) as u64;
        let io = da
            .write(&mut h.stack.xpt, at, chunk.to_vec())
            .map_err(|e| periph("WRITE", e))?;
        h.wait_ok(io, &format!("WRITE at LBA {at}"))?;
        pb.inc(chunk.len() as u64);
    }
    let io = da
        .sync_cache(&mut h.stack.xpt)
        .map_err(|e| periph("SYNCHRONIZE CACHE", e))?;
    h.wait_ok(io, "SYNCHRONIZE CACHE")?;
    pb.finish_and_clear();
    eprintln!("wrote {count} blocks at LBA {lba} from {}", input.display());
    Ok(())
}

/// Options of `cmd`.
pub struct CmdArgs<'a> {
    /// CDB hex.
    pub cdb: &'a str,
    /// Bytes to read (data in).
    pub data_in: Option<usize>,
    /// Where data in goes (stdout as hex without).
    pub out: Option<&'a Path>,
    /// Data out from this file.
    pub data_out: Option<&'a Path>,
}

/// `cmd`: a raw CDB through pass, without recovery; status and decoded sense shown.
pub fn cmd<T: HbaTransport>(h: &mut Hba<T>, dev: &str, a: &CmdArgs<'_>, json: bool) -> Result<()> {
    let cdb = crate::hba::parse_hex(a.cdb)?;
    if cdb.is_empty() || cdb.len() > 16 {
        return Err(Error::Input(format!(
            "a CDB is 1 to 16 bytes, this one has {}",
            cdb.len()
        )));
    }
    if let Some(want) = scsi_defs::opcode::cdb_len(cdb[0]) {
        if want != cdb.len() {
            return Err(Error::Input(format!(
                "opcode {:#04x} takes a {want}-byte CDB, {} bytes given",
                cdb[0],
                cdb.len()
            )));
        }
    }
    let data = match (a.data_in, a.data_out) {
        (Some(_), Some(_)) => {
            return Err(Error::Usage(
                "give data in (--in) or data out (--out-file), not both".into(),
            ))
        }
        (Some(n), None) => PassData::In(n),
        (None, Some(p)) => {
            let mut v = Vec::new();
            std::fs::File::open(p)
                .and_then(|mut f| f.read_to_end(&mut v))
                .map_err(|e| Error::file(p, e))?;
            PassData::Out(v)
        }
        (None, None) => PassData::None,
    };
    let d = h.device(dev)?;
    let r = h.raw(&d, &cdb, data)?;
    if let Some(p) = a.out {
        std::fs::write(p, &r.data).map_err(|e| Error::file(p, e))?;
    }
    if json {
        print_json(&serde_json::json!({
            "addr": d.addr.to_string(),
            "cdb": hex(&cdb),
            "ok": passed(&r),
            "errno": crate::hba::errno_name(r.status.errno),
            "cam_status": crate::hba::cam_name(r.status.cam),
            "scsi_status": r.status.scsi,
            "transferred": r.status.buf.transferred(),
            "resid": r.status.buf.resid,
            "data": if a.out.is_none() { Some(hex(&r.data)) } else { None },
            "sense": r.sense.as_ref().map(SenseJson::from),
        }));
    } else {
        println!(
            "{}: CDB {} -> {}",
            d.addr,
            hex(&cdb),
            if passed(&r) {
                "ok".to_string()
            } else {
                describe_failure(&r)
            }
        );
        if a.data_in.is_some() {
            println!("  {} bytes in", r.data.len());
            if a.out.is_none() {
                for (i, line) in r.data.chunks(16).enumerate() {
                    println!("  {:04x}: {}", i * 16, hex(line));
                }
            }
        }
    }
    ok_or_device(&r, &format!("CDB {}", hex(&cdb)))
}

/// What `start`, `stop` and `eject` send.
#[derive(Copy, Clone, Debug)]
pub enum Power {
    /// START=1.
    Start,
    /// START=0.
    Stop,
    /// START=0, LOEJ=1.
    Eject,
}

/// `start` / `stop` / `eject`: START STOP UNIT.
pub fn start_stop<T: HbaTransport>(h: &mut Hba<T>, dev: &str, p: Power) -> Result<()> {
    let d = h.device(dev)?;
    let b4 = match p {
        Power::Start => 0x01,
        Power::Stop => 0x00,
        Power::Eject => 0x02,
    };
    let cdb = [scsi_defs::opcode::START_STOP_UNIT, 0, 0, 0, b4, 0];
    let r = h.raw(&d, &cdb, PassData::None)?;
    ok_or_device(&r, "START STOP UNIT")?;
    println!(
        "{}: {}",
        d.addr,
        match p {
            Power::Start => "started",
            Power::Stop => "stopped",
            Power::Eject => "ejected",
        }
    );
    Ok(())
}

/// `sense`: decode sense bytes given as hex.
pub fn sense(bytes: &str, json: bool) -> Result<()> {
    let b = crate::hba::parse_hex(bytes)?;
    let s = Sense::parse(&b).map_err(|e| Error::Input(format!("sense data: {e}")))?;
    if json {
        print_json(&SenseJson::from(&s));
    } else {
        println!("{}", sense::describe(&s));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_identification_parses_and_survives_truncation() {
        let mut p = vec![0, 0x83, 0, 0];
        p.extend([0x02, 0x01, 0, 8]);
        p.extend(b"OPENHBA ");
        p.extend([0x01, 0x03, 0, 8, 0x50, 1, 2, 3, 4, 5, 6, 7]);
        let n = (p.len() - 4) as u16;
        p[2..4].copy_from_slice(&n.to_be_bytes());
        let ids = parse_devid_vpd(&p);
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[0].value, "OPENHBA");
        assert_eq!(ids[1].designator_type, "NAA");
        for cut in 0..p.len() {
            let _ = parse_devid_vpd(&p[..cut]);
        }
        let mut lie = p.clone();
        lie[2] = 0xff;
        assert_eq!(parse_devid_vpd(&lie).len(), 2);
    }

    #[test]
    fn ranges() {
        assert!(check_range(0, 10, 10).is_ok());
        assert!(check_range(1, 10, 10).is_err());
        assert!(check_range(u64::MAX, 2, 10).is_err());
        assert!(check_range(0, 0, 10).is_err());
    }
}
