//! `hbactl image`: copy a disk or a CD-ROM to an image file the way GNU ddrescue does,
//! keeping a ddrescue mapfile (same format, so `ddrescuelog` reads it) that lets a later
//! run resume and retry only what failed. A CD-ROM is read in its 2048-byte blocks and
//! sized by the lead-out in its TOC; tapes go file by file (`tapeimg`).
//!
//! Phases, each over the areas the map gives the matching status:
//! 1. copying `?` (non-tried) in large reads; a failed read marks its area `*`;
//! 2. trimming `*` (non-trimmed): single blocks forwards from its start and backwards
//!    from its end until each meets a bad block (`-`); the middle becomes `/`;
//! 3. scraping `/` (non-scraped): block by block;
//! 4. retrying `-` (bad sector) block by block, `--retries` passes.
//!
//! Reads go through the `pass` periph without recovery, so each is one attempt: the
//! retries are the map's business, as in ddrescue. The mapfile is rewritten (via a
//! temporary file and rename) after every phase and every 64 reads.

use crate::error::{Error, Result};
use crate::hba::{Hba, HbaTransport};
use crate::scsi::bytes_bar;
use hba_cam::periph::pass::PassData;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Status of an area, as ddrescue's block status characters.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum St {
    /// `?` non-tried.
    NonTried,
    /// `*` failed in a large read, not trimmed yet.
    NonTrimmed,
    /// `/` trimmed, not scraped yet.
    NonScraped,
    /// `-` bad sector(s).
    Bad,
    /// `+` finished (copied).
    Finished,
}

impl St {
    fn ch(self) -> char {
        match self {
            St::NonTried => '?',
            St::NonTrimmed => '*',
            St::NonScraped => '/',
            St::Bad => '-',
            St::Finished => '+',
        }
    }
    fn from_ch(c: &str) -> Option<St> {
        Some(match c {
            "?" => St::NonTried,
            "*" => St::NonTrimmed,
            "/" => St::NonScraped,
            "-" => St::Bad,
            "+" => St::Finished,
            _ => return None,
        })
    }
}

/// A ddrescue map: contiguous, non-overlapping areas covering `[0, size)` in bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Map {
    /// Areas (pos, size, status), sorted, adjacent equal statuses merged.
    pub areas: Vec<(u64, u64, St)>,
    /// Status line: current position.
    pub current_pos: u64,
    /// Status line: phase character (`?`, `*`, `/`, `-`, `+`).
    pub current_status: char,
    /// Status line: pass.
    pub current_pass: u32,
}

/// A C++-style integer as ddrescue accepts it: 0x hex, leading-0 octal, decimal.
fn parse_num(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

impl Map {
    /// A map of `size` bytes, all non-tried.
    pub fn new(size: u64) -> Map {
        Map {
            areas: vec![(0, size, St::NonTried)],
            current_pos: 0,
            current_status: '?',
            current_pass: 1,
        }
    }

    /// Total size covered.
    pub fn size(&self) -> u64 {
        self.areas.last().map_or(0, |a| a.0 + a.1)
    }

    /// Parses a mapfile; every malformed line is an error naming it.
    pub fn parse(text: &str) -> std::result::Result<Map, String> {
        let mut status: Option<(u64, char, u32)> = None;
        let mut areas: Vec<(u64, u64, St)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            // '#' at the start or after whitespace starts a comment.
            let line = match raw.find('#') {
                Some(p) if p == 0 || raw[..p].ends_with(char::is_whitespace) => &raw[..p],
                _ => raw,
            };
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.is_empty() {
                continue;
            }
            if status.is_none() {
                let pos = f.first().and_then(|s| parse_num(s));
                let ch = f.get(1).filter(|c| c.len() == 1 && "?*/-FG+".contains(**c));
                let pass = match f.get(2) {
                    None => Some(1),
                    Some(p) => p.parse::<u32>().ok().filter(|&p| p > 0),
                };
                match (pos, ch, pass, f.len() <= 3) {
                    (Some(p), Some(c), Some(pass), true) => {
                        status = Some((p, c.chars().next().expect("one char"), pass))
                    }
                    _ => return Err(format!("line {n}: bad status line `{raw}`")),
                }
                continue;
            }
            let (pos, size, st) = match f.as_slice() {
                [p, s, c] => (parse_num(p), parse_num(s), St::from_ch(c)),
                _ => (None, None, None),
            };
            let (Some(pos), Some(size), Some(st)) = (pos, size, st) else {
                return Err(format!("line {n}: bad data block line `{raw}`"));
            };
            let expect = areas.last().map_or(0, |a| a.0 + a.1);
            if pos != expect {
                return Err(format!(
                    "line {n}: block at {pos:#x} does not follow the previous one (ends at {expect:#x})"
                ));
            }
            if size == 0 || pos.checked_add(size).is_none() {
                return Err(format!("line {n}: bad block size {size:#x}"));
            }
            areas.push((pos, size, st));
        }
        let (current_pos, current_status, current_pass) =
            status.ok_or_else(|| "no status line".to_string())?;
        if areas.is_empty() {
            return Err("no data blocks".into());
        }
        let mut m = Map {
            areas,
            current_pos,
            current_status,
            current_pass,
        };
        m.merge();
        Ok(m)
    }

    fn merge(&mut self) {
        let mut out: Vec<(u64, u64, St)> = Vec::with_capacity(self.areas.len());
        for a in self.areas.drain(..) {
            match out.last_mut() {
                Some(l) if l.2 == a.2 && l.0 + l.1 == a.0 => l.1 += a.1,
                _ => out.push(a),
            }
        }
        self.areas = out;
    }

    /// Sets `[pos, pos+size)` to `st`.
    pub fn set(&mut self, pos: u64, size: u64, st: St) {
        let end = pos + size;
        let mut out = Vec::with_capacity(self.areas.len() + 2);
        for &(p, s, old) in &self.areas {
            let e = p + s;
            if e <= pos || p >= end {
                out.push((p, s, old));
                continue;
            }
            if p < pos {
                out.push((p, pos - p, old));
            }
            out.push((p.max(pos), e.min(end) - p.max(pos), st));
            if e > end {
                out.push((end, e - end, old));
            }
        }
        self.areas = out;
        self.merge();
    }

    /// Areas of status `st`.
    pub fn with(&self, st: St) -> Vec<(u64, u64)> {
        self.areas
            .iter()
            .filter(|a| a.2 == st)
            .map(|a| (a.0, a.1))
            .collect()
    }

    /// Bytes of status `st`.
    pub fn bytes(&self, st: St) -> u64 {
        self.with(st).iter().map(|a| a.1).sum()
    }

    /// The mapfile text, in ddrescue's layout.
    pub fn render(&self, cmdline: &str) -> String {
        let mut s = String::new();
        s.push_str("# Mapfile. Created by hbactl (GNU ddrescue format)\n");
        s.push_str(&format!("# Command line: {cmdline}\n"));
        s.push_str("# current_pos  current_status  current_pass\n");
        s.push_str(&format!(
            "{:#012x}     {}               {}\n",
            self.current_pos, self.current_status, self.current_pass
        ));
        s.push_str("#      pos        size  status\n");
        for &(p, z, st) in &self.areas {
            s.push_str(&format!("{p:#012x}  {z:#012x}  {}\n", st.ch()));
        }
        s
    }
}

/// Options of `image`.
pub struct ImageArgs<'a> {
    /// Image file.
    pub out: &'a Path,
    /// Mapfile (disks and CD-ROMs).
    pub map: Option<&'a Path>,
    /// Retry passes over bad sectors.
    pub retries: u32,
    /// Blocks per read while copying.
    pub cluster: u64,
    /// Picture of the map.
    pub png: Option<&'a Path>,
}

struct Ctx<'a, T: HbaTransport> {
    h: &'a mut Hba<T>,
    dev: hba_cam::xpt::DeviceInfo,
    bl: u64,
    img: std::fs::File,
    map: Map,
    a: &'a ImageArgs<'a>,
    map_path: &'a Path,
    cmdline: String,
    reads: u64,
    read_bytes: u64,
    errors: u64,
}

impl<T: HbaTransport> Ctx<'_, T> {
    fn save(&self) -> Result<()> {
        let map = self.map_path;
        let tmp = map.with_extension("map.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::file(&tmp, e))?;
        f.write_all(self.map.render(&self.cmdline).as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| Error::file(&tmp, e))?;
        std::fs::rename(&tmp, map).map_err(|e| Error::file(map, e))
    }

    /// One read attempt of `[pos, pos+size)` (bytes, whole blocks); true if copied.
    fn read(&mut self, pos: u64, size: u64) -> Result<bool> {
        let lba = pos / self.bl;
        let n = (size / self.bl) as u32;
        let cdb = hba_cam::scsi_cmd::read_write(false, lba, n, 10)
            .ok_or_else(|| Error::Input(format!("no READ CDB for LBA {lba}+{n}")))?;
        let r = self.h.raw(&self.dev, &cdb, PassData::In(size as usize))?;
        self.reads += 1;
        self.read_bytes += size;
        if self.reads.is_multiple_of(64) {
            self.save()?;
        }
        if r.is_ok() && r.data.len() as u64 == size {
            self.img
                .write_all_at(&r.data, pos)
                .map_err(|e| Error::file(self.a.out, e))?;
            Ok(true)
        } else {
            self.errors += 1;
            Ok(false)
        }
    }

    fn phase(&mut self, st: St, ch: char, pass: u32, name: &str) -> indicatif::ProgressBar {
        self.map.current_status = ch;
        self.map.current_pass = pass;
        let pb = bytes_bar(self.map.bytes(st), name);
        pb.set_message(name.to_string());
        pb
    }
}

/// Runs `image` on the disk, CD-ROM or tape at `dev`.
pub fn run<T: HbaTransport>(h: &mut Hba<T>, dev: &str, a: &ImageArgs<'_>) -> Result<()> {
    if a.cluster == 0 || a.cluster > 128 {
        return Err(Error::Usage("--cluster must be 1..128 blocks".into()));
    }
    let d = h.device(dev)?;
    if hba_cam::SaHandle::for_device(&h.stack.xpt, d.addr).is_some() {
        if a.map.is_some() || a.png.is_some() {
            return Err(Error::Usage(
                "a tape is imaged file by file into the --out folder: --map and --png are for disks and CD-ROMs".into(),
            ));
        }
        return crate::tapeimg::image(h, dev, a.out);
    }
    let map_path = a
        .map
        .ok_or_else(|| Error::Usage("imaging a disk or CD-ROM needs --map FILE".into()))?;
    let (d, bdev, cap) = h.block_device(dev)?;
    let kind = if bdev.read_only() { "CD-ROM" } else { "disk" };
    let bl = u64::from(cap.block_len);
    let size = cap.blocks() * bl;
    let map = if map_path.exists() {
        let text = std::fs::read_to_string(map_path).map_err(|e| Error::file(map_path, e))?;
        let m = Map::parse(&text)
            .map_err(|e| Error::Input(format!("mapfile {}: {e}", map_path.display())))?;
        if m.size() != size {
            return Err(Error::Input(format!(
                "mapfile {} covers {} bytes, the {kind} has {size}",
                map_path.display(),
                m.size()
            )));
        }
        if m.areas.iter().any(|&(p, s, _)| p % bl != 0 || s % bl != 0) {
            return Err(Error::Input(format!(
                "mapfile {}: areas are not whole {bl}-byte blocks",
                map_path.display()
            )));
        }
        m
    } else {
        Map::new(size)
    };
    let img = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(a.out)
        .map_err(|e| Error::file(a.out, e))?;
    let len = img.metadata().map_err(|e| Error::file(a.out, e))?.len();
    if len < size {
        img.set_len(size).map_err(|e| Error::file(a.out, e))?;
    }
    let cmdline = std::env::args().collect::<Vec<_>>().join(" ");
    let mut c = Ctx {
        h,
        dev: d,
        bl,
        img,
        map,
        a,
        map_path,
        cmdline,
        reads: 0,
        read_bytes: 0,
        errors: 0,
    };

    // 1. Copying: large reads over the non-tried areas.
    let pb = c.phase(St::NonTried, '?', 1, "copying");
    for (p, s) in c.map.with(St::NonTried) {
        let mut at = p;
        while at < p + s {
            let n = (a.cluster * bl).min(p + s - at);
            c.map.current_pos = at;
            let ok = c.read(at, n)?;
            c.map
                .set(at, n, if ok { St::Finished } else { St::NonTrimmed });
            at += n;
            pb.inc(n);
            pb.set_message(format!("copying, {} errors", c.errors));
        }
    }
    pb.finish_and_clear();
    c.save()?;

    // 2. Trimming: from each edge of a failed area inwards until a bad block.
    let pb = c.phase(St::NonTrimmed, '*', 1, "trimming");
    for (p, s) in c.map.with(St::NonTrimmed) {
        let end = p + s;
        let mut lo = p;
        while lo < end {
            c.map.current_pos = lo;
            let ok = c.read(lo, bl)?;
            c.map.set(lo, bl, if ok { St::Finished } else { St::Bad });
            lo += bl;
            pb.inc(bl);
            if !ok {
                break;
            }
        }
        let mut hi = end;
        while hi > lo {
            c.map.current_pos = hi;
            let ok = c.read(hi - bl, bl)?;
            c.map
                .set(hi - bl, bl, if ok { St::Finished } else { St::Bad });
            hi -= bl;
            pb.inc(bl);
            if !ok {
                break;
            }
        }
        if hi > lo {
            c.map.set(lo, hi - lo, St::NonScraped);
            pb.inc(hi - lo);
        }
    }
    pb.finish_and_clear();
    c.save()?;

    // 3. Scraping: block by block through what trimming left.
    let pb = c.phase(St::NonScraped, '/', 1, "scraping");
    for (p, s) in c.map.with(St::NonScraped) {
        let mut at = p;
        while at < p + s {
            c.map.current_pos = at;
            let ok = c.read(at, bl)?;
            c.map.set(at, bl, if ok { St::Finished } else { St::Bad });
            at += bl;
            pb.inc(bl);
        }
    }
    pb.finish_and_clear();
    c.save()?;

    // 4. Retrying the bad sectors.
    for pass in 1..=a.retries {
        let pb = c.phase(St::Bad, '-', pass, "retrying");
        for (p, s) in c.map.with(St::Bad) {
            let mut at = p;
            while at < p + s {
                c.map.current_pos = at;
                if c.read(at, bl)? {
                    c.map.set(at, bl, St::Finished);
                }
                at += bl;
                pb.inc(bl);
            }
        }
        pb.finish_and_clear();
        c.save()?;
    }
    c.map.current_status = '+';
    c.map.current_pos = 0;
    c.map.current_pass = 1;
    c.img.sync_all().map_err(|e| Error::file(a.out, e))?;
    c.save()?;
    if let Some(p) = a.png {
        std::fs::write(p, crate::png::map_png(&c.map, bl)).map_err(|e| Error::file(p, e))?;
        println!("map picture {}", p.display());
    }
    let bad = c.map.bytes(St::Bad);
    println!(
        "{}: {} bytes, {} reads of {} bytes, {} read errors; rescued {} bytes, bad {} bytes in {} area(s)",
        c.dev.addr,
        size,
        c.reads,
        c.read_bytes,
        c.errors,
        c.map.bytes(St::Finished),
        bad,
        c.map.with(St::Bad).len()
    );
    println!("image {}, mapfile {}", a.out.display(), map_path.display());
    if bad > 0 {
        return Err(Error::Device {
            what: "image".into(),
            detail: format!("{bad} bytes could not be read (listed as `-` in the mapfile)"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_splits_and_merges() {
        let mut m = Map::new(0x1000);
        m.set(0x200, 0x200, St::Bad);
        assert_eq!(
            m.areas,
            vec![
                (0, 0x200, St::NonTried),
                (0x200, 0x200, St::Bad),
                (0x400, 0xc00, St::NonTried)
            ]
        );
        m.set(0, 0x200, St::Finished);
        m.set(0x400, 0xc00, St::Finished);
        m.set(0x200, 0x200, St::Finished);
        assert_eq!(m.areas, vec![(0, 0x1000, St::Finished)]);
    }

    #[test]
    fn render_and_parse_round_trip() {
        let mut m = Map::new(0x10000);
        m.set(0x400, 0x600, St::Bad);
        m.set(0x3000, 0x200, St::NonScraped);
        m.current_status = '-';
        m.current_pass = 2;
        m.current_pos = 0x400;
        let t = m.render("hbactl image 0");
        assert!(
            t.contains(
                "# current_pos  current_status  current_pass\n0x0000000400     -               2\n"
            ),
            "{t}"
        );
        assert!(t.contains("0x0000000400  0x0000000600  -\n"), "{t}");
        assert_eq!(Map::parse(&t).unwrap(), m);
    }

    #[test]
    fn ddrescue_written_maps_parse() {
        let t = "# Mapfile. Created by GNU ddrescue version 1.27\n# current_pos  current_status  current_pass\n0x00970000     ?               1\n#      pos        size  status\n0x00000000  0x02200000  +\n0x02200000  0x00000200  -  # a comment\n0x02200200  01000  ?\n";
        let m = Map::parse(t).unwrap();
        assert_eq!(m.areas.len(), 3);
        assert_eq!(m.areas[2], (0x2200200, 0o1000, St::NonTried));
    }

    #[test]
    fn bad_maps_are_errors() {
        let good = "0 + 1\n0 0x200 +\n0x200 0x200 -\n";
        assert!(Map::parse(good).is_ok());
        for bad in [
            "",
            "# only comments\n",
            "0 +\n",
            "zz + 1\n0 0x200 +\n",
            "0 + 1\n0 0x200 x\n",
            "0 + 1\n0x200 0x200 +\n",
            "0 + 1\n0 0 +\n",
            "0 + 1\n0 0xffffffffffffffff +\n1 1 +\n",
            "0 + 1 extra\n0 1 +\n",
            "0 + 0\n0 1 +\n",
        ] {
            assert!(Map::parse(bad).is_err(), "{bad:?}");
        }
    }
}
