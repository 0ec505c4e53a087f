//! `stats`: per-device I/O statistics from CAM's devstat (FreeBSD devstat(9), what
//! `iostat -x` shows): commands by direction, bytes, errors, busy time, mean latency and
//! the latency histogram. Times are on the stack's clock (simulated time in
//! co-simulation, wall time on a board).

use crate::error::Result;
use crate::hba::{periph, type_name, Hba, HbaTransport};
use crate::scsi::print_json;
use hba_cam::devstat::{DevStat, LATENCY_BUCKETS};
use hba_cam::xpt::DeviceInfo;
use serde::Serialize;

/// One device's figures as printed.
#[derive(Serialize)]
struct Row {
    addr: String,
    kind: String,
    reads: u64,
    writes: u64,
    other: u64,
    bytes_read: u64,
    bytes_written: u64,
    errors: u64,
    busy_us: u128,
    mean_latency_us: Option<u128>,
    /// Bucket `i`: latencies below 2^i µs (the last: all longer).
    latency_hist: Vec<u64>,
}

fn row(d: &DeviceInfo, s: &DevStat) -> Row {
    Row {
        addr: d.addr.to_string(),
        kind: type_name(d),
        reads: s.reads,
        writes: s.writes,
        other: s.other,
        bytes_read: s.bytes_read,
        bytes_written: s.bytes_written,
        errors: s.errors,
        busy_us: s.busy_time.as_micros(),
        mean_latency_us: s.mean_latency().map(|l| l.as_micros()),
        latency_hist: s.latency_hist.to_vec(),
    }
}

/// The histogram's non-empty buckets as "<2^i us: n".
fn hist_text(h: &[u64]) -> String {
    h.iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(i, n)| {
            if i + 1 == LATENCY_BUCKETS {
                format!(">={}us:{n}", 1u64 << (i - 1))
            } else {
                format!("<{}us:{n}", 1u64 << i)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads `blocks` blocks from the start of a disk or CD-ROM (at most what it has).
fn exercise<T: HbaTransport>(h: &mut Hba<T>, d: &DeviceInfo, blocks: u64) -> Result<()> {
    let (_, bdev, cap) = h.block_device(&d.addr.to_string())?;
    let n = blocks.min(cap.blocks());
    let per = (crate::scsi::CHUNK as u64 / u64::from(cap.block_len.max(1))).max(1);
    let mut at = 0;
    while at < n {
        let k = per.min(n - at);
        let io = bdev
            .read(&mut h.stack.xpt, at, k)
            .map_err(|e| periph("READ", e))?;
        h.wait_ok(io, "READ")?;
        at += k;
    }
    Ok(())
}

/// Runs `stats` for `dev` (or every device).
pub fn run<T: HbaTransport>(
    h: &mut Hba<T>,
    dev: Option<&str>,
    exercise_blocks: u64,
    json: bool,
) -> Result<()> {
    let devs = match dev {
        Some(s) => vec![h.device(s)?],
        None => h.stack.devices(),
    };
    if exercise_blocks > 0 {
        for d in &devs {
            let blockdev = hba_cam::DaHandle::for_device(&h.stack.xpt, d.addr).is_some()
                || hba_cam::CdHandle::for_device(&h.stack.xpt, d.addr).is_some();
            if blockdev {
                exercise(h, d, exercise_blocks)?;
            } else if dev.is_some() {
                return Err(crate::hba::wrong_type(d, "disk or CD-ROM (for --exercise)"));
            }
        }
    }
    let rows: Vec<Row> = devs
        .iter()
        .filter_map(|d| h.stack.xpt.dev_stats(d.addr).map(|s| row(d, &s)))
        .collect();
    if json {
        print_json(&rows);
        return Ok(());
    }
    println!(
        "{:<8} {:<8} {:>7} {:>7} {:>6} {:>11} {:>11} {:>6} {:>10} {:>9}  latency histogram",
        "device",
        "kind",
        "reads",
        "writes",
        "other",
        "bytes in",
        "bytes out",
        "errors",
        "busy us",
        "mean us"
    );
    for r in &rows {
        println!(
            "{:<8} {:<8} {:>7} {:>7} {:>6} {:>11} {:>11} {:>6} {:>10} {:>9}  {}",
            r.addr,
            r.kind,
            r.reads,
            r.writes,
            r.other,
            r.bytes_read,
            r.bytes_written,
            r.errors,
            r.busy_us,
            r.mean_latency_us.map_or("-".into(), |m| m.to_string()),
            hist_text(&r.latency_hist)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn histogram_text_names_the_bucket_bounds() {
        let mut h = vec![0u64; super::LATENCY_BUCKETS];
        h[0] = 1;
        h[10] = 3;
        h[super::LATENCY_BUCKETS - 1] = 2;
        assert_eq!(
            super::hist_text(&h),
            format!(
                "<1us:1 <1024us:3 >={}us:2",
                1u64 << (super::LATENCY_BUCKETS - 2)
            )
        );
    }
}
