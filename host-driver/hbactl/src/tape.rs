//! `tape`: mt(1)-style operations on a tape, run in order in one invocation (a
//! co-simulated tape lives in memory, so a sequence is how to use it): `rewind`,
//! `weof N`, `fsf N`/`bsf N` (filemarks), `fsr N`/`bsr N` (records), `eod`, `status`,
//! `write FILE` (variable 32 KiB records), `read FILE` (records up to the next filemark).
//! The sequence stops at the first failure.

use crate::error::{Error, Result};
use crate::hba::{describe_failure, passed, periph, Hba, HbaTransport};
use crate::scsi::print_json;
use hba_cam::periph::pass::PassData;
use hba_cam::SaHandle;
use std::path::PathBuf;

/// Record size of `write` (variable-block mode).
pub const RECORD: usize = 32 * 1024;

/// One operation.
#[derive(Debug, PartialEq, Eq)]
pub enum TapeOp {
    /// REWIND.
    Rewind,
    /// WRITE FILEMARKS n.
    Weof(u32),
    /// SPACE n filemarks (negative: backwards).
    SpaceFm(i32),
    /// SPACE n records (negative: backwards).
    SpaceRec(i32),
    /// SPACE to end of data.
    Eod,
    /// Position and readiness.
    Status,
    /// Write a file as records.
    Write(PathBuf),
    /// Read records up to a filemark into a file.
    Read(PathBuf),
}

/// Parses the operation words.
pub fn parse_ops(words: &[String]) -> Result<Vec<TapeOp>> {
    let mut out = Vec::new();
    let mut it = words.iter();
    let count = |w: &str, n: Option<&String>| -> Result<i32> {
        match n {
            None => Ok(1),
            Some(s) => s
                .parse::<i32>()
                .ok()
                .filter(|v| (1..=0x7f_ffff).contains(v))
                .ok_or_else(|| Error::Usage(format!("`{w} {s}`: count must be 1..8388607"))),
        }
    };
    while let Some(w) = it.next() {
        let takes_count = matches!(w.as_str(), "weof" | "fsf" | "bsf" | "fsr" | "bsr");
        let n = if takes_count {
            // The count is optional (1), as in mt.
            let peek = it.clone().next();
            if peek.is_some_and(|p| p.parse::<i64>().is_ok()) {
                count(w, it.next())?
            } else {
                1
            }
        } else {
            0
        };
        let file = |it: &mut std::slice::Iter<'_, String>| {
            it.next()
                .map(PathBuf::from)
                .ok_or_else(|| Error::Usage(format!("`{w}` needs a file")))
        };
        out.push(match w.as_str() {
            "rewind" => TapeOp::Rewind,
            "weof" => TapeOp::Weof(n as u32),
            "fsf" => TapeOp::SpaceFm(n),
            "bsf" => TapeOp::SpaceFm(-n),
            "fsr" => TapeOp::SpaceRec(n),
            "bsr" => TapeOp::SpaceRec(-n),
            "eod" => TapeOp::Eod,
            "status" => TapeOp::Status,
            "write" => TapeOp::Write(file(&mut it)?),
            "read" => TapeOp::Read(file(&mut it)?),
            other => {
                return Err(Error::Usage(format!(
                    "unknown tape operation `{other}` (rewind, weof, fsf, bsf, fsr, bsr, eod, status, write, read)"
                )))
            }
        });
    }
    if out.is_empty() {
        out.push(TapeOp::Status);
    }
    Ok(out)
}

fn space_cdb(code: u8, n: i32) -> [u8; 6] {
    let v = (n as u32) & 0xff_ffff;
    [
        scsi_defs::opcode::SPACE_6,
        code,
        (v >> 16) as u8,
        (v >> 8) as u8,
        v as u8,
        0,
    ]
}

/// A TEST UNIT READY through `sa` before a pass-through command. After a command `sa`
/// saw fail (a READ that met a filemark), the XPT flushes the tape's queue until `sa`'s
/// next command, which carries the resume flag (seed 001); pass never sends one, so
/// without this its SPACE would be flushed.
fn settle<T: HbaTransport>(h: &mut Hba<T>, sa: SaHandle) -> Result<()> {
    let io = sa
        .tur(&mut h.stack.xpt)
        .map_err(|e| periph("TEST UNIT READY", e))?;
    h.wait(io)?;
    Ok(())
}

/// Runs the operations on the tape at `dev`.
pub fn run<T: HbaTransport>(h: &mut Hba<T>, dev: &str, ops: &[TapeOp], json: bool) -> Result<()> {
    let (d, sa) = h.tape(dev)?;
    for op in ops {
        match op {
            TapeOp::Rewind => {
                let io = sa
                    .rewind(&mut h.stack.xpt)
                    .map_err(|e| periph("REWIND", e))?;
                h.wait_ok(io, "REWIND")?;
                println!("rewound");
            }
            TapeOp::Weof(n) => {
                let io = sa
                    .write_filemarks(&mut h.stack.xpt, *n)
                    .map_err(|e| periph("WRITE FILEMARKS", e))?;
                h.wait_ok(io, "WRITE FILEMARKS")?;
                println!("wrote {n} filemark(s)");
            }
            TapeOp::SpaceFm(n) | TapeOp::SpaceRec(n) => {
                settle(h, sa)?;
                let code = u8::from(matches!(op, TapeOp::SpaceFm(_)));
                let r = h.raw(&d, &space_cdb(code, *n), PassData::None)?;
                if !passed(&r) {
                    return Err(Error::Device {
                        what: format!(
                            "SPACE {n} {}",
                            if code == 1 { "filemarks" } else { "records" }
                        ),
                        detail: describe_failure(&r),
                    });
                }
                println!(
                    "spaced {n} {}",
                    if code == 1 {
                        "filemark(s)"
                    } else {
                        "record(s)"
                    }
                );
            }
            TapeOp::Eod => {
                settle(h, sa)?;
                let r = h.raw(&d, &space_cdb(3, 0), PassData::None)?;
                if !passed(&r) {
                    return Err(Error::Device {
                        what: "SPACE to end of data".into(),
                        detail: describe_failure(&r),
                    });
                }
                println!("at end of data");
            }
            TapeOp::Status => {
                let tur = {
                    let io = sa
                        .tur(&mut h.stack.xpt)
                        .map_err(|e| periph("TEST UNIT READY", e))?;
                    h.wait(io)?
                };
                let ready = passed(&tur);
                let io = sa
                    .read_position(&mut h.stack.xpt)
                    .map_err(|e| periph("READ POSITION", e))?;
                let r = h.wait_ok(io, "READ POSITION")?;
                let bop = r.data.first().is_some_and(|b| b & 0x80 != 0);
                let pos = sa.position(&mut h.stack.xpt);
                if json {
                    print_json(&serde_json::json!({
                        "addr": d.addr.to_string(),
                        "ready": ready,
                        "position": pos,
                        "bop": bop,
                    }));
                } else {
                    println!(
                        "{}: {}, position {}{}",
                        d.addr,
                        if ready {
                            "ready".to_string()
                        } else {
                            format!("not ready ({})", describe_failure(&tur))
                        },
                        pos.map_or("unknown".into(), |p| p.to_string()),
                        if bop { " (beginning of partition)" } else { "" }
                    );
                }
            }
            TapeOp::Write(p) => {
                let data = std::fs::read(p).map_err(|e| Error::file(p, e))?;
                if data.is_empty() {
                    return Err(Error::Input(format!("{}: empty file", p.display())));
                }
                for rec in data.chunks(RECORD) {
                    let io = sa
                        .write(&mut h.stack.xpt, rec.to_vec())
                        .map_err(|e| periph("WRITE", e))?;
                    h.wait_ok(io, "WRITE")?;
                }
                println!(
                    "wrote {} bytes in {} record(s) from {}",
                    data.len(),
                    data.len().div_ceil(RECORD),
                    p.display()
                );
            }
            TapeOp::Read(p) => {
                let mut out = Vec::new();
                let mut records = 0;
                // Bounded: a tape holds at most its capacity, in records of >= 1 byte.
                for _ in 0..1_000_000 {
                    let io = sa
                        .read(&mut h.stack.xpt, RECORD as u32)
                        .map_err(|e| periph("READ", e))?;
                    let r = h.wait(io)?;
                    let s = r.sense.clone().unwrap_or_default();
                    if s.filemark {
                        break;
                    }
                    if !r.is_ok() && !s.ili {
                        if s.key == scsi_defs::sense_key::BLANK_CHECK && records > 0 {
                            break;
                        }
                        return Err(Error::Device {
                            what: "READ".into(),
                            detail: describe_failure(&r),
                        });
                    }
                    out.extend_from_slice(&r.data);
                    records += 1;
                }
                std::fs::write(p, &out).map_err(|e| Error::file(p, e))?;
                println!(
                    "read {} bytes in {records} record(s) into {}",
                    out.len(),
                    p.display()
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn operation_words() {
        assert_eq!(
            parse_ops(&w("weof 2 rewind fsf bsr 3 status")).unwrap(),
            vec![
                TapeOp::Weof(2),
                TapeOp::Rewind,
                TapeOp::SpaceFm(1),
                TapeOp::SpaceRec(-3),
                TapeOp::Status
            ]
        );
        assert!(parse_ops(&w("fsf 0")).is_err());
        assert!(parse_ops(&w("spin")).is_err());
        assert!(parse_ops(&w("write")).is_err());
        assert_eq!(space_cdb(1, -1), [0x11, 1, 0xff, 0xff, 0xff, 0]);
    }
}
