//! The bus description for `--backend sim`: a TOML file naming the targets on the
//! co-simulated SCSI bus (device type, image file, negotiation abilities, queuing,
//! delays, fault rules). Unknown keys are refused; every error names the line and key.
//!
//! ```toml
//! width = "narrow"          # or "wide" (16 IDs, WDTR)
//! own_id = 7                # the HBA's SCSI ID
//!
//! [[target]]
//! id = 0
//! type = "disk"
//! image = "disk0.img"       # relative to this file's folder; created sparse if missing
//! blocks = 4096             # size when the image is created (an existing image keeps its size)
//! ```
//!
//! See `examples/*.toml` for every key of each device type.

use crate::error::{Error, Result};
use hba_abi::CORE_CLOCK_NS;
use scsi_bus::faults::FaultConfig;
use scsi_bus::target::cdrom::CdRom;
use scsi_bus::target::disk::Disk;
use scsi_bus::target::processor::{Processor, Scanner};
use scsi_bus::target::tape::Tape;
use scsi_bus::target::{legacy, SyncCaps, Target, TargetConfig};
use scsi_bus::{Bus, Width};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Bus width as written in the TOML.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BusWidth {
    /// 8 bits, IDs 0..7.
    #[default]
    Narrow,
    /// 16 bits, IDs 0..15.
    Wide,
}

/// The whole description.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusDesc {
    /// Bus width.
    #[serde(default)]
    pub width: BusWidth,
    /// The HBA's own SCSI ID.
    #[serde(default = "default_own_id")]
    pub own_id: Spanned<u8>,
    /// The targets.
    #[serde(default, rename = "target")]
    pub targets: Vec<TargetDesc>,
}

fn default_own_id() -> Spanned<u8> {
    Spanned::new(0..0, 7)
}

/// Kind of device behind a target.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DevType {
    /// Direct access on an image file.
    Disk,
    /// Sequential access in memory.
    Tape,
    /// CD-ROM (2048-byte blocks): `image` (read into memory) or a blank `blocks`-sized
    /// disc; `empty = true` has no disc in the tray.
    Cdrom,
    /// Processor device (type 3) with SEND / RECEIVE of vendor data.
    Processor,
    /// Scanner-like device (type 6): SET WINDOW, then READ streams the image slower than
    /// the bus.
    Scanner,
}

/// An old device's defaults (scsi-bus `target::legacy`), which the other keys then
/// refine.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum Preset {
    /// SCSI-1 / CCS disk: INQUIRY version 1 (response format 1), no REPORT LUNS, no
    /// tags, no WDTR, synchronous at most Fast-5 offset 8.
    #[serde(rename = "scsi1")]
    Scsi1,
    /// The same as a SCSI-2 disk (INQUIRY version 2).
    #[serde(rename = "scsi2")]
    Scsi2,
    /// A SCSI-1 device that ignores ATN: never goes to MESSAGE OUT, so it never sees
    /// IDENTIFY (LUN 0, no disconnection) nor any negotiation; asynchronous.
    #[serde(rename = "ignores-atn")]
    IgnoresAtn,
    /// A SCSI-2 device that answers every extended message (SDTR, WDTR, PPR, MODIFY
    /// DATA POINTER) with MESSAGE REJECT.
    #[serde(rename = "rejects-extended")]
    RejectsExtended,
}

/// Synchronous abilities of a target.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncDesc {
    /// Shortest period factor accepted (0x0C = Fast-20, 0x19 = Fast-10, 0x32 = Fast-5).
    pub period: u8,
    /// Largest REQ/ACK offset (0 = asynchronous only).
    pub offset: u8,
}

/// One target.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetDesc {
    /// SCSI ID.
    pub id: Spanned<u8>,
    /// Device type.
    #[serde(rename = "type")]
    pub ty: DevType,
    /// Old-device defaults (`scsi1`, `scsi2`, `ignores-atn`, `rejects-extended`).
    pub preset: Option<Preset>,
    /// Disk: LUNs 0..luns-1 on this target (1..=8), each on its own image: `image`
    /// must then contain `{lun}`.
    pub luns: Option<Spanned<u8>>,
    /// INQUIRY VERSION (1 = SCSI-1/CCS, 2 = SCSI-2, 3..=7 = SPC..SPC-5).
    pub inquiry_version: Option<Spanned<u8>>,
    /// Answer REPORT LUNS (SCSI-1/CCS devices do not know it).
    pub report_luns: Option<bool>,
    /// Never go to MESSAGE OUT when the initiator raises ATN.
    pub ignore_atn: Option<bool>,
    /// Without IDENTIFY, take the LUN from CDB byte 1 (SCSI-1/SCSI-2 devices).
    pub cdb_lun: Option<bool>,
    /// Disk: image file; CD-ROM: disc image; tape: a tape image folder (`hbactl image`
    /// of a tape); relative to the TOML's folder.
    pub image: Option<Spanned<PathBuf>>,
    /// Disk: blocks of 512 bytes when the image is created.
    pub blocks: Option<Spanned<u64>>,
    /// Disk: refuse writes (DATA PROTECT).
    #[serde(default)]
    pub read_only: bool,
    /// Tape: capacity in bytes.
    pub capacity: Option<Spanned<usize>>,
    /// CD-ROM: no disc in the tray.
    #[serde(default)]
    pub empty: bool,
    /// Synchronous abilities; absent = Fast-20 offset 15; `offset = 0` = async only.
    pub sync: Option<SyncDesc>,
    /// Accept WDTR for 16 bits (wide bus only).
    pub wide: Option<bool>,
    /// Answer SDTR/WDTR with MESSAGE REJECT.
    pub reject_negotiation: Option<bool>,
    /// Start negotiation itself on the first selection.
    pub initiate_negotiation: Option<bool>,
    /// Accept queue tags.
    pub tagged: Option<bool>,
    /// Task set size (QUEUE FULL beyond it).
    #[serde(default = "default_depth")]
    pub queue_depth: Spanned<usize>,
    /// Disconnect after the CDB when allowed.
    pub disconnect: Option<bool>,
    /// Medium access time before reconnecting, in microseconds.
    #[serde(default = "default_access")]
    pub access_us: u64,
    /// Disconnect after this many bytes while reconnected.
    pub chunk: Option<usize>,
    /// Unit serial number (VPD 0x80).
    pub serial: Option<String>,
    /// Fault rules (`seed`, `[[target.faults.rule]]`).
    pub faults: Option<FaultConfig>,
}

fn default_depth() -> Spanned<usize> {
    Spanned::new(0..0, 32)
}
fn default_access() -> u64 {
    20
}

/// The bus the tool co-simulates when no TOML is given: two disks and a tape.
pub const DEFAULT_BUS: &str = r#"
width = "narrow"
own_id = 7

[[target]]
id = 0
type = "disk"
image = "disk0.img"
blocks = 8192

[[target]]
id = 1
type = "disk"
image = "disk1.img"
blocks = 8192

[[target]]
id = 4
type = "tape"
capacity = 1048576

[[target]]
id = 5
type = "cdrom"
image = "disc.iso"
"#;

/// A built bus: the pin-level bus with its targets, and facts the tool needs.
pub struct BuiltBus {
    /// The bus, ready for `Model::attach_bus`.
    pub bus: Bus,
    /// 16-bit bus.
    pub wide: bool,
    /// The HBA's own ID.
    pub own_id: u8,
    /// Image files of the disks, by SCSI ID.
    pub images: Vec<(u8, PathBuf)>,
}

/// 1-based line of a byte offset in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl BusDesc {
    /// Parses a description; `name` is used in messages.
    pub fn parse(text: &str, name: &str) -> Result<BusDesc> {
        let d: BusDesc = toml::from_str(text).map_err(|e| Error::Bus {
            path: name.to_string(),
            // toml's message already says "TOML parse error at line L, column C" with
            // the offending line and the key.
            msg: e.to_string().trim_end().to_string(),
        })?;
        d.validate(text, name)?;
        Ok(d)
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<BusDesc> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, e))?;
        BusDesc::parse(&text, &path.display().to_string())
    }

    fn validate(&self, text: &str, name: &str) -> Result<()> {
        let err = |span: std::ops::Range<usize>, key: &str, msg: String| Error::Bus {
            path: name.to_string(),
            msg: if span.is_empty() {
                format!("`{key}`: {msg}")
            } else {
                format!("line {}, key `{key}`: {msg}", line_of(text, span.start))
            },
        };
        let max = match self.width {
            BusWidth::Narrow => 8,
            BusWidth::Wide => 16,
        };
        let own = *self.own_id.get_ref();
        if own >= max {
            return Err(err(
                self.own_id.span(),
                "own_id",
                format!("ID {own} does not exist on a {max}-ID bus"),
            ));
        }
        let mut seen = Vec::new();
        for t in &self.targets {
            let id = *t.id.get_ref();
            if id >= max {
                return Err(err(
                    t.id.span(),
                    "id",
                    format!("target ID {id} does not exist on a {max}-ID bus"),
                ));
            }
            if id == own {
                return Err(err(
                    t.id.span(),
                    "id",
                    format!("target ID {id} is the HBA's own ID"),
                ));
            }
            if seen.contains(&id) {
                return Err(err(
                    t.id.span(),
                    "id",
                    format!("target ID {id} appears twice"),
                ));
            }
            seen.push(id);
            if *t.queue_depth.get_ref() == 0 {
                return Err(err(
                    t.queue_depth.span(),
                    "queue_depth",
                    "must be at least 1".into(),
                ));
            }
            if t.faults
                .as_ref()
                .is_some_and(|f| !f.bus_reset_at_ns.is_empty())
            {
                // A third-party reset is a bus device of its own, which hbactl does not
                // put on the bus: refuse rather than silently ignore it.
                return Err(err(
                    t.id.span(),
                    "faults.bus_reset_at_ns",
                    format!("target ID {id}: third-party bus resets are not supported by hbactl"),
                ));
            }
            if let Some(v) = &t.inquiry_version {
                if !(1..=7).contains(v.get_ref()) {
                    return Err(err(
                        v.span(),
                        "inquiry_version",
                        format!("{} is not in 1..=7", v.get_ref()),
                    ));
                }
            }
            if let Some(l) = &t.luns {
                if t.ty != DevType::Disk {
                    return Err(err(
                        l.span(),
                        "luns",
                        "only disks have several LUNs here".into(),
                    ));
                }
                if !(1..=8).contains(l.get_ref()) {
                    return Err(err(
                        l.span(),
                        "luns",
                        format!("{} is not in 1..=8", l.get_ref()),
                    ));
                }
                let has_lun = t
                    .image
                    .as_ref()
                    .is_some_and(|i| i.get_ref().to_string_lossy().contains("{lun}"));
                if *l.get_ref() > 1 && !has_lun {
                    return Err(err(
                        l.span(),
                        "luns",
                        "several LUNs need one image each: put `{lun}` in `image`".into(),
                    ));
                }
            }
            match t.ty {
                DevType::Disk => {
                    if t.image.is_none() {
                        return Err(err(
                            t.id.span(),
                            "image",
                            format!("disk at ID {id} needs an image file"),
                        ));
                    }
                    if let Some(b) = &t.blocks {
                        // 2^32 blocks keeps READ CAPACITY(10) meaningful and the sparse
                        // file within what every file system allows.
                        if *b.get_ref() == 0 || *b.get_ref() > u64::from(u32::MAX) {
                            return Err(err(
                                b.span(),
                                "blocks",
                                format!("{} is not in 1..=4294967295", b.get_ref()),
                            ));
                        }
                    }
                    if let Some(c) = &t.capacity {
                        return Err(err(c.span(), "capacity", "only tapes have one".into()));
                    }
                }
                DevType::Cdrom | DevType::Processor | DevType::Scanner => {
                    if let Some(c) = &t.capacity {
                        return Err(err(c.span(), "capacity", "only tapes have one".into()));
                    }
                    if t.ty != DevType::Cdrom {
                        if let Some(i) = &t.image {
                            return Err(err(
                                i.span(),
                                "image",
                                "only disks and CD-ROMs have one".into(),
                            ));
                        }
                    }
                }
                DevType::Tape => {
                    if let Some(b) = &t.blocks {
                        return Err(err(
                            b.span(),
                            "blocks",
                            "tapes are in memory: give `capacity` instead".into(),
                        ));
                    }
                    if let Some(c) = &t.capacity {
                        if *c.get_ref() == 0 || *c.get_ref() > 1 << 30 {
                            return Err(err(
                                c.span(),
                                "capacity",
                                "must be 1 byte to 1 GiB".into(),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Builds the bus; image paths are resolved against `base`.
    pub fn build(&self, base: &Path) -> Result<BuiltBus> {
        let width = match self.width {
            BusWidth::Narrow => Width::Narrow,
            BusWidth::Wide => Width::Wide,
        };
        let mut bus = Bus::new(width);
        let mut images = Vec::new();
        for t in &self.targets {
            let id = *t.id.get_ref();
            let mut cfg = match t.preset {
                None => TargetConfig::new(id),
                Some(Preset::Scsi1) => legacy::old_disk_config(id, 1),
                Some(Preset::Scsi2) => legacy::old_disk_config(id, 2),
                Some(Preset::IgnoresAtn) => legacy::ignores_atn_config(id),
                Some(Preset::RejectsExtended) => legacy::rejects_extended_config(id),
            };
            if let Some(s) = t.sync {
                cfg.sync = (s.offset > 0).then_some(SyncCaps {
                    min_period_factor: s.period,
                    max_offset: s.offset,
                });
            }
            // Keys given override the preset's (or the modern default's) values.
            let set = |dst: &mut bool, v: Option<bool>| {
                if let Some(v) = v {
                    *dst = v;
                }
            };
            set(&mut cfg.wide, t.wide);
            set(&mut cfg.reject_negotiation, t.reject_negotiation);
            set(&mut cfg.initiate_negotiation, t.initiate_negotiation);
            set(&mut cfg.tagged, t.tagged);
            set(&mut cfg.disconnect, t.disconnect);
            set(&mut cfg.report_luns, t.report_luns);
            set(&mut cfg.ignore_atn, t.ignore_atn);
            set(&mut cfg.cdb_lun, t.cdb_lun);
            if let Some(v) = &t.inquiry_version {
                cfg.inquiry_version = *v.get_ref();
            }
            cfg.queue_depth = *t.queue_depth.get_ref();
            cfg.access_cycles = t.access_us.saturating_mul(1000) / CORE_CLOCK_NS;
            cfg.chunk = t.chunk;
            if let Some(s) = &t.serial {
                cfg.serial = s.clone();
            }
            let mut tg = Target::new(cfg);
            let mut tg = match t.ty {
                DevType::Disk => {
                    let rel = t.image.as_ref().expect("validated").get_ref();
                    let blocks = t.blocks.as_ref().map(|b| *b.get_ref()).unwrap_or(0);
                    let luns = t.luns.as_ref().map_or(1, |l| *l.get_ref());
                    for lun in 0..luns {
                        let name = rel.to_string_lossy().replace("{lun}", &lun.to_string());
                        let path = base.join(name);
                        if blocks == 0 && !path.exists() {
                            return Err(Error::Input(format!(
                                "disk at ID {id}: image {} does not exist and no `blocks` says how big to create it",
                                path.display()
                            )));
                        }
                        let disk = Disk::image(&path, blocks, t.read_only)
                            .map_err(|e| Error::Input(crate::error::report(&e)))?;
                        images.push((id, path));
                        tg = tg.with_lun(lun, disk);
                    }
                    tg
                }
                DevType::Tape => {
                    let cap = t.capacity.as_ref().map(|c| *c.get_ref());
                    match &t.image {
                        None => tg.with_lun(0, Tape::new(cap.unwrap_or(1 << 20))),
                        Some(rel) => {
                            let dir = base.join(rel.get_ref());
                            let l = crate::tapeimg::load(&dir)?;
                            // Room for what is on it and 1 MiB more unless told.
                            let cap = cap.unwrap_or(l.used + (1 << 20));
                            if cap < l.used {
                                return Err(Error::Input(format!(
                                    "tape at ID {id}: {} holds {} bytes, more than `capacity` {cap}",
                                    dir.display(),
                                    l.used
                                )));
                            }
                            tg.with_lun(0, Tape::with_medium(cap, l.medium, l.block_size))
                        }
                    }
                }
                DevType::Cdrom => {
                    let cd = if t.empty {
                        CdRom::empty()
                    } else if let Some(rel) = &t.image {
                        let path = base.join(rel.get_ref());
                        let bytes = std::fs::read(&path).map_err(|e| {
                            Error::Input(format!("CD-ROM at ID {id}: {}: {e}", path.display()))
                        })?;
                        if bytes.is_empty() || bytes.len() % 2048 != 0 {
                            return Err(Error::Input(format!(
                                "CD-ROM at ID {id}: {} is {} bytes, not a whole number of 2048-byte blocks",
                                path.display(),
                                bytes.len()
                            )));
                        }
                        CdRom::with_image(bytes)
                    } else {
                        CdRom::with_disc(t.blocks.as_ref().map_or(1024, |b| *b.get_ref()))
                    };
                    tg.with_lun(0, cd)
                }
                DevType::Processor => tg.with_lun(0, Processor::new()),
                DevType::Scanner => tg.with_lun(0, Scanner::new(scsi_defs::inquiry::TYPE_SCANNER)),
            };
            if let Some(f) = &t.faults {
                tg = tg.with_faults(f);
            }
            // As verif's SimRig: the power-on UNIT ATTENTION would only make the first
            // command of every invocation fail.
            tg.clear_unit_attention();
            bus.add(tg);
        }
        Ok(BuiltBus {
            bus,
            wide: width == Width::Wide,
            own_id: *self.own_id.get_ref(),
            images,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_bus_parses() {
        let d = BusDesc::parse(DEFAULT_BUS, "default").unwrap();
        assert_eq!(d.targets.len(), 4);
        assert_eq!(d.targets[2].ty, DevType::Tape);
        assert_eq!(d.targets[3].ty, DevType::Cdrom);
    }

    #[test]
    fn unknown_keys_name_the_line_and_key() {
        let t = "own_id = 7\n[[target]]\nid = 0\ntype = \"disk\"\nimage = \"a\"\nspeed = 3\n";
        let e = BusDesc::parse(t, "x.toml").unwrap_err().to_string();
        assert!(e.contains("line 6") && e.contains("speed"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_line_and_key() {
        let t = "[[target]]\nid = 0\ntype = \"tape\"\n\n[[target]]\nid = 0\ntype = \"tape\"\n";
        let e = BusDesc::parse(t, "x.toml").unwrap_err().to_string();
        assert!(e.contains("line 6, key `id`") && e.contains("twice"), "{e}");
        let t = "[[target]]\nid = 7\ntype = \"tape\"\n";
        let e = BusDesc::parse(t, "x.toml").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("own ID"), "{e}");
        let t = "[[target]]\nid = 9\ntype = \"tape\"\n";
        let e = BusDesc::parse(t, "x.toml").unwrap_err().to_string();
        assert!(e.contains("8-ID bus"), "{e}");
        let t = "[[target]]\nid = 1\ntype = \"disk\"\n";
        let e = BusDesc::parse(t, "x.toml").unwrap_err().to_string();
        assert!(e.contains("needs an image"), "{e}");
    }

    #[test]
    fn fault_rules_come_from_the_toml() {
        let t = r#"
[[target]]
id = 2
type = "disk"
image = "d.img"
blocks = 64
[target.faults]
seed = 3
[[target.faults.rule]]
lba = [10, 12]
action = { kind = "check_condition", key = 3, asc = 0x11 }
"#;
        let d = BusDesc::parse(t, "x").unwrap();
        let f = d.targets[0].faults.as_ref().unwrap();
        assert_eq!(f.rules.len(), 1);
        assert_eq!(f.rules[0].lba, Some([10, 12]));
    }

    #[test]
    fn old_device_keys_are_checked_with_line_and_key() {
        let disk = "[[target]]\nid = 2\ntype = \"disk\"\nimage = \"a.img\"\nblocks = 8\n";
        for (extra, line, key, what) in [
            ("luns = 3\n", 6, "luns", "`{lun}`"),
            ("luns = 9\n", 6, "luns", "1..=8"),
            ("inquiry_version = 0\n", 6, "inquiry_version", "1..=7"),
        ] {
            let e = BusDesc::parse(&format!("{disk}{extra}"), "x.toml")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("line {line}, key `{key}`")) && e.contains(what),
                "{extra}: {e}"
            );
        }
        let e = BusDesc::parse("[[target]]\nid = 2\ntype = \"tape\"\nluns = 2\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 4, key `luns`") && e.contains("only disks"),
            "{e}"
        );
        let e = BusDesc::parse(&format!("{disk}preset = \"scsi3\"\n"), "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 6") && e.contains("scsi1"), "{e}");
        let d = BusDesc::parse(
            &format!("{disk}preset = \"scsi1\"\ntagged = true\nluns = 1\n"),
            "x.toml",
        )
        .unwrap();
        assert_eq!(d.targets[0].preset, Some(Preset::Scsi1));
        assert_eq!(d.targets[0].tagged, Some(true), "a key refines the preset");
    }

    #[test]
    fn the_documented_examples_parse() {
        let doc = include_str!("../../../docs/bus-toml.md");
        let mut n = 0;
        for block in doc.split("```toml\n").skip(1) {
            let text = block.split("```").next().expect("closed block");
            BusDesc::parse(text, "docs/bus-toml.md").unwrap_or_else(|e| panic!("{e}\n{text}"));
            n += 1;
        }
        assert_eq!(
            n, 5,
            "the page has one example per device type and the old devices"
        );
        // The page's error example is the parser's message.
        let e = BusDesc::parse(
            "[[target]]\nid = 2\ntype = \"disk\"\nimage = \"a.img\"\nblocks = 8\nluns = 3\n",
            "bus.toml",
        )
        .unwrap_err();
        assert!(doc.contains(&format!("hbactl: {e}")), "{e}");
        let e = BusDesc::parse(
            "[[target]]\nid = 2\ntype = \"tape\"\n[target.faults]\nbus_reset_at_ns = [5]\n",
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("bus_reset_at_ns") && e.contains("not supported"),
            "{e}"
        );
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        for t in [
            "\u{0}",
            "[[target]]",
            "width = 3",
            "[[target]]\nid = -1",
            "own_id = 300",
        ] {
            assert!(BusDesc::parse(t, "x").is_err(), "{t:?}");
        }
    }
}
