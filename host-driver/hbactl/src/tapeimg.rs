//! Tape images: `hbactl image` on a tape copies it file by file into a folder, one data
//! file per tape file plus `index.json` (file numbers, the size of every record as runs,
//! the block sizes seen, record counts, filemark positions, read errors), and the same
//! folder loads back as a tape for `--backend sim` (`image = "folder"` on a tape in the
//! bus TOML), so an image taken can be imaged again and compared.
//!
//! Records are read through `sa` in variable-block mode, each READ(6) asking for the
//! largest block the drive takes, so each returns exactly one record and (from the ILI
//! sense of a shorter one) its true length; a drive in fixed-block mode is switched to
//! variable for the copy and back afterwards, and the block size it was in is kept in
//! the index. A record that cannot be read is listed with its position and sense and
//! skipped with SPACE 1 record; the copy goes on. `sa` rather than `pass`: after a
//! failed command the XPT flushes a tape's queue until `sa`'s resume command (seed 001),
//! which only `sa` knows to send.

use crate::error::{Error, Result};
use crate::hba::{describe_failure, passed, periph, Hba, HbaTransport};
use hba_cam::periph::pass::PassData;
use hba_cam::xpt::DeviceInfo;
use hba_cam::SaHandle;
use scsi_bus::target::tape::{Record, MAX_BLOCK};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `format` string of an index this version writes and reads.
pub const FORMAT: &str = "hbactl tape image 1";
/// Name of the index in an image folder.
pub const INDEX: &str = "index.json";
/// Consecutive unreadable records after which the copy stops (a dead drive or tape).
const MAX_CONSECUTIVE_ERRORS: u32 = 8;
/// Records read at most (every record is at least a byte; a bound for the loop).
const MAX_RECORDS: u64 = 1 << 24;

/// `index.json` of a tape image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TapeIndex {
    /// [`FORMAT`].
    pub format: String,
    /// Block size the drive was in: 0 = variable-block mode.
    pub block_size: u32,
    /// The tape files in order.
    pub files: Vec<TapeFile>,
    /// Why the copy ended: "end of data", "errors" after too many unreadable records in
    /// a row, or "record limit" (2^24 records read).
    pub end: String,
}

/// One tape file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TapeFile {
    /// File number from the beginning of the tape (0-based).
    pub file: u32,
    /// Data file in the folder: the records' bytes back to back.
    pub data: String,
    /// Bytes in `data`.
    pub bytes: u64,
    /// Records read.
    pub record_count: u64,
    /// Every record's size, in order, as runs of equal sizes.
    pub records: Vec<RecordRun>,
    /// The distinct record sizes seen, ascending.
    pub block_sizes: Vec<u32>,
    /// Position (block address from BOP, filemarks counted as SSC does) of the first
    /// record.
    pub start: u64,
    /// Position of the filemark ending the file; `None` when end of data ends it.
    pub filemark: Option<u64>,
    /// Records that could not be read (not in `data`).
    pub errors: Vec<TapeError>,
}

/// `count` records of `size` bytes in a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRun {
    /// Bytes per record.
    pub size: u32,
    /// Records.
    pub count: u64,
}

/// A record that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TapeError {
    /// Its position.
    pub position: u64,
    /// CAM status and decoded sense.
    pub detail: String,
}

impl TapeFile {
    fn new(file: u32, start: u64) -> TapeFile {
        TapeFile {
            file,
            data: format!("file{file:04}.bin"),
            bytes: 0,
            record_count: 0,
            records: Vec::new(),
            block_sizes: Vec::new(),
            start,
            filemark: None,
            errors: Vec::new(),
        }
    }

    fn push(&mut self, size: u32) {
        match self.records.last_mut() {
            Some(r) if r.size == size => r.count += 1,
            _ => self.records.push(RecordRun { size, count: 1 }),
        }
        if let Err(i) = self.block_sizes.binary_search(&size) {
            self.block_sizes.insert(i, size);
        }
        self.record_count += 1;
        self.bytes += u64::from(size);
    }
}

/// MODE SENSE(6), page 0, with the block descriptor.
const MODE_SENSE_BD: [u8; 6] = [scsi_defs::opcode::MODE_SENSE_6, 0, 0, 0, 12, 0];

fn set_mode<T: HbaTransport>(h: &mut Hba<T>, sa: SaHandle, bs: u32) -> Result<()> {
    let io = sa
        .set_block_mode(&mut h.stack.xpt, bs)
        .map_err(|e| periph("MODE SELECT", e))?;
    h.wait_ok(io, "MODE SELECT (block size)")?;
    Ok(())
}

/// The drive's block size from the MODE SENSE block descriptor (0 = variable).
fn block_size<T: HbaTransport>(h: &mut Hba<T>, d: &DeviceInfo) -> Result<u32> {
    let r = h.raw(d, &MODE_SENSE_BD, PassData::In(12))?;
    if !passed(&r) {
        return Err(Error::Device {
            what: "MODE SENSE".into(),
            detail: describe_failure(&r),
        });
    }
    let b = &r.data;
    if b.len() < 12 || b[3] < 8 {
        return Err(Error::Device {
            what: "MODE SENSE".into(),
            detail: format!("no block descriptor in {} bytes", b.len()),
        });
    }
    Ok(u32::from_be_bytes([0, b[9], b[10], b[11]]))
}

/// Images the tape at `dev` into the folder `out` (created; an existing one must be
/// empty, so an earlier image is never overwritten).
pub fn image<T: HbaTransport>(h: &mut Hba<T>, dev: &str, out: &Path) -> Result<()> {
    let (d, sa) = h.tape(dev)?;
    match std::fs::read_dir(out) {
        Ok(mut it) => {
            if it.next().is_some() {
                return Err(Error::Input(format!(
                    "{}: the folder is not empty (a tape image goes into a new or empty folder)",
                    out.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(out).map_err(|e| Error::file(out, e))?
        }
        Err(e) => return Err(Error::file(out, e)),
    }
    let io = sa
        .rewind(&mut h.stack.xpt)
        .map_err(|e| periph("REWIND", e))?;
    h.wait_ok(io, "REWIND")?;
    let bs = block_size(h, &d)?;
    if bs != 0 {
        set_mode(h, sa, 0)?;
    }
    let mut idx = TapeIndex {
        format: FORMAT.into(),
        block_size: bs,
        files: Vec::new(),
        end: "end of data".into(),
    };
    let pb = crate::scsi::bytes_bar(0, "tape");
    let mut pos = 0u64;
    let mut cur = TapeFile::new(0, 0);
    let mut data = Vec::new();
    let mut consecutive = 0;
    let mut errors = 0usize;
    let flush_file = |cur: &TapeFile, data: &[u8]| -> Result<()> {
        let p = out.join(&cur.data);
        std::fs::write(&p, data).map_err(|e| Error::file(&p, e))
    };
    idx.end = "record limit".into();
    for _ in 0..MAX_RECORDS {
        let io = sa
            .read(&mut h.stack.xpt, MAX_BLOCK as u32)
            .map_err(|e| periph("READ", e))?;
        let r = h.wait(io)?;
        let s = r.sense.clone().unwrap_or_default();
        // A shorter record comes with ILI and a positive INFORMATION (requested minus
        // actual); `sa` has cut the data to it. A longer one (negative) is an error.
        let short = r.is_ok() && s.ili && !s.filemark && s.info.is_some_and(|i| (i as i32) >= 0);
        if passed(&r) || short {
            let n = r.data.len();
            data.extend_from_slice(&r.data);
            cur.push(n as u32);
            pos += 1;
            consecutive = 0;
            pb.inc(n as u64);
            continue;
        }
        if s.filemark {
            cur.filemark = Some(pos);
            pos += 1;
            flush_file(&cur, &data)?;
            let next = cur.file + 1;
            idx.files
                .push(std::mem::replace(&mut cur, TapeFile::new(next, pos)));
            data.clear();
            consecutive = 0;
            continue;
        }
        if s.key == scsi_defs::sense_key::BLANK_CHECK || s.eom {
            idx.end = "end of data".into();
            break;
        }
        // An unreadable record, or one longer than the drive's largest block: list it
        // and step over it. The longer one (ILI) was read past already; a medium error
        // leaves the tape before the record, so SPACE over it.
        errors += 1;
        consecutive += 1;
        cur.errors.push(TapeError {
            position: pos,
            detail: describe_failure(&r),
        });
        if !s.ili {
            let io = sa
                .space_blocks(&mut h.stack.xpt, 1)
                .map_err(|e| periph("SPACE", e))?;
            h.wait(io)?;
        }
        pos += 1;
        if consecutive >= MAX_CONSECUTIVE_ERRORS {
            idx.end = "errors".into();
            break;
        }
    }
    pb.finish_and_clear();
    // What follows the last filemark is a file only if it holds something.
    if cur.record_count > 0 || !cur.errors.is_empty() {
        flush_file(&cur, &data)?;
        idx.files.push(cur);
    }
    if bs != 0 {
        set_mode(h, sa, bs)?;
        // Leave the drive as it was found, and make sure of it.
        let now = block_size(h, &d)?;
        if now != bs {
            return Err(Error::Device {
                what: "MODE SELECT".into(),
                detail: format!("the drive stayed at block size {now}, not its {bs}"),
            });
        }
    }
    let io = sa
        .rewind(&mut h.stack.xpt)
        .map_err(|e| periph("REWIND", e))?;
    h.wait_ok(io, "REWIND")?;
    let p = out.join(INDEX);
    let text = serde_json::to_string_pretty(&idx).expect("the index serialises");
    std::fs::write(&p, text + "\n").map_err(|e| Error::file(&p, e))?;
    let records: u64 = idx.files.iter().map(|f| f.record_count).sum();
    let bytes: u64 = idx.files.iter().map(|f| f.bytes).sum();
    println!(
        "{}: {} file(s), {records} record(s), {bytes} bytes, {errors} unreadable record(s); block size {}",
        d.addr,
        idx.files.len(),
        if bs == 0 {
            "variable".to_string()
        } else {
            bs.to_string()
        }
    );
    println!("tape image {}, index {}", out.display(), p.display());
    if errors > 0 {
        return Err(Error::Device {
            what: "image".into(),
            detail: format!("{errors} record(s) could not be read (listed in {INDEX})"),
        });
    }
    Ok(())
}

/// A tape image folder read back: the medium (records and filemarks) and the drive's
/// block size.
pub struct LoadedTape {
    /// Records and filemarks from the beginning of the tape.
    pub medium: Vec<Record>,
    /// Block size (0 = variable).
    pub block_size: u32,
    /// Bytes on the medium as the drive counts them (a filemark counts one).
    pub used: usize,
}

/// Reads a tape image folder; every inconsistency is an error naming the file.
pub fn load(dir: &Path) -> Result<LoadedTape> {
    let ip = dir.join(INDEX);
    let text = std::fs::read_to_string(&ip).map_err(|e| Error::file(&ip, e))?;
    let bad = |m: String| Error::Input(format!("tape image {}: {m}", ip.display()));
    let idx: TapeIndex = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if idx.format != FORMAT {
        return Err(bad(format!("format `{}`, expected `{FORMAT}`", idx.format)));
    }
    if idx.block_size as usize > MAX_BLOCK {
        return Err(bad(format!("block size {} > {MAX_BLOCK}", idx.block_size)));
    }
    let mut medium = Vec::new();
    let mut used = 0usize;
    let mut lost = 0u64;
    for (i, f) in idx.files.iter().enumerate() {
        let n = f.file;
        if n as usize != i {
            return Err(bad(format!("file {i} is numbered {n}")));
        }
        // Only a plain name: the index must not reach outside its folder.
        if f.data.is_empty() || f.data.contains('/') || f.data.contains('\\') || f.data == ".." {
            return Err(bad(format!(
                "file {n}: data `{}` is not a file name",
                f.data
            )));
        }
        if f.filemark.is_none() && i + 1 != idx.files.len() {
            return Err(bad(format!(
                "file {n}: only the last file may lack a filemark"
            )));
        }
        let dp = dir.join(&f.data);
        let bytes = std::fs::read(&dp).map_err(|e| Error::file(&dp, e))?;
        let mut want = 0u64;
        let mut count = 0u64;
        for r in &f.records {
            if r.size == 0 || r.size as usize > MAX_BLOCK || r.count == 0 {
                return Err(bad(format!(
                    "file {n}: a run of {} records of {} bytes",
                    r.count, r.size
                )));
            }
            want = r
                .count
                .checked_mul(u64::from(r.size))
                .and_then(|b| b.checked_add(want))
                .ok_or_else(|| bad(format!("file {n}: record sizes overflow")))?;
            count = count.saturating_add(r.count);
        }
        if want != bytes.len() as u64 || want != f.bytes || count != f.record_count {
            return Err(bad(format!(
                "file {n}: {} holds {} bytes, the index says {} bytes ({want} by its records) in {} records ({count} by its runs)",
                f.data,
                bytes.len(),
                f.bytes,
                f.record_count
            )));
        }
        // Positions count the unreadable records too (the copy stepped over them), but
        // those are not in the image: every later position is `lost` further on.
        if f.start != medium.len() as u64 + lost {
            return Err(bad(format!(
                "file {n}: starts at {}, the files before it end at {}",
                f.start,
                medium.len() as u64 + lost
            )));
        }
        let mut at = 0usize;
        for r in &f.records {
            for _ in 0..r.count {
                let e = at + r.size as usize;
                medium.push(Record::Data(bytes[at..e].to_vec()));
                at = e;
            }
        }
        used += bytes.len();
        lost += f.errors.len() as u64;
        if let Some(fm) = f.filemark {
            if fm != medium.len() as u64 + lost {
                return Err(bad(format!(
                    "file {n}: filemark at {fm}, its records end at {}",
                    medium.len() as u64 + lost
                )));
            }
            medium.push(Record::Filemark);
            used += 1;
        }
    }
    Ok(LoadedTape {
        medium,
        block_size: idx.block_size,
        used,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The data files go under their usual names whatever the (maybe broken) index says.
    fn write_image(dir: &Path, idx: &TapeIndex, files: &[&[u8]]) {
        for (i, b) in files.iter().enumerate() {
            std::fs::write(dir.join(format!("file{i:04}.bin")), b).unwrap();
        }
        std::fs::write(dir.join(INDEX), serde_json::to_string(idx).unwrap()).unwrap();
    }

    fn two_files() -> (TapeIndex, Vec<Vec<u8>>) {
        let mut f0 = TapeFile::new(0, 0);
        f0.push(3);
        f0.push(3);
        f0.push(5);
        f0.filemark = Some(3);
        let mut f1 = TapeFile::new(1, 4);
        f1.push(2);
        let idx = TapeIndex {
            format: FORMAT.into(),
            block_size: 0,
            files: vec![f0, f1],
            end: "end of data".into(),
        };
        (idx, vec![b"aaabbbccccc".to_vec(), b"zz".to_vec()])
    }

    #[test]
    fn runs_and_sizes_are_kept_in_order() {
        let (idx, _) = two_files();
        assert_eq!(
            idx.files[0].records,
            vec![
                RecordRun { size: 3, count: 2 },
                RecordRun { size: 5, count: 1 }
            ]
        );
        assert_eq!(idx.files[0].block_sizes, vec![3, 5]);
        assert_eq!(idx.files[0].bytes, 11);
    }

    #[test]
    fn a_folder_loads_as_records_and_filemarks() {
        let t = tempfile::tempdir().unwrap();
        let (idx, files) = two_files();
        write_image(t.path(), &idx, &[&files[0], &files[1]]);
        let l = load(t.path()).unwrap();
        assert_eq!(
            l.medium,
            vec![
                Record::Data(b"aaa".to_vec()),
                Record::Data(b"bbb".to_vec()),
                Record::Data(b"ccccc".to_vec()),
                Record::Filemark,
                Record::Data(b"zz".to_vec()),
            ]
        );
        assert_eq!(l.used, 14);
    }

    #[test]
    fn inconsistent_folders_are_errors() {
        let (good, files) = two_files();
        type Change = Box<dyn Fn(&mut TapeIndex)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|i| i.format = "x".into()), "format"),
            (Box::new(|i| i.files[1].file = 3), "numbered"),
            (
                Box::new(|i| i.files[0].data = "../x".into()),
                "not a file name",
            ),
            (Box::new(|i| i.files[0].bytes = 12), "holds 11 bytes"),
            (
                Box::new(|i| i.files[0].records[0].count = 3),
                "holds 11 bytes",
            ),
            (Box::new(|i| i.files[0].records[0].size = 0), "run of"),
            (Box::new(|i| i.files[1].start = 5), "starts at 5"),
            (Box::new(|i| i.files[0].filemark = None), "lack a filemark"),
            (Box::new(|i| i.files[0].filemark = Some(9)), "filemark at 9"),
            (Box::new(|i| i.block_size = 1 << 20), "block size"),
        ];
        for (change, want) in cases {
            let t = tempfile::tempdir().unwrap();
            let mut idx = good.clone();
            change(&mut idx);
            write_image(t.path(), &idx, &[&files[0], &files[1]]);
            let e = load(t.path()).err().expect(want).to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join(INDEX), "{").unwrap();
        assert!(load(t.path()).is_err());
    }
}
