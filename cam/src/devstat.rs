//! Per-device I/O statistics in the spirit of FreeBSD's devstat(9): operation counts, bytes,
//! errors, busy time and a latency histogram, kept by the XPT for every SCSI I/O a SIM
//! completes and read with XPT_GDEV_STATS or `Xpt::dev_stats` (what `iostat` shows).

use crate::clock::CamTime;
use std::time::Duration;

/// Latency histogram buckets: bucket `i` counts latencies below `2^i` µs (the last one
/// everything longer), so bucket 0 is "< 1 µs" and bucket 20 "< ~1 s".
pub const LATENCY_BUCKETS: usize = 24;

/// Statistics of one device (`struct devstat`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DevStat {
    /// Completed data-in commands (`DEVSTAT_READ`).
    pub reads: u64,
    /// Completed data-out commands (`DEVSTAT_WRITE`).
    pub writes: u64,
    /// Completed commands without data (`DEVSTAT_NO_DATA`).
    pub other: u64,
    /// Bytes transferred in.
    pub bytes_read: u64,
    /// Bytes transferred out.
    pub bytes_written: u64,
    /// Commands that completed with an error status.
    pub errors: u64,
    /// Time with at least one command at the SIM.
    pub busy_time: Duration,
    /// Sum of latencies (dispatch to completion), for the mean.
    pub total_latency: Duration,
    /// Latency histogram, see `LATENCY_BUCKETS`.
    pub latency_hist: [u64; LATENCY_BUCKETS],
}

impl DevStat {
    /// Completed commands of every kind.
    pub fn ops(&self) -> u64 {
        self.reads + self.writes + self.other
    }
    /// Mean latency, if any command completed.
    pub fn mean_latency(&self) -> Option<Duration> {
        let n = self.ops();
        (n > 0).then(|| self.total_latency / n.min(u32::MAX as u64) as u32)
    }
}

/// Direction of a completed command, for the counters.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum StatDir {
    In,
    Out,
    None,
}

/// The running accumulator the XPT keeps per device.
#[derive(Clone, Debug, Default)]
pub(crate) struct DevStatAcc {
    pub stat: DevStat,
    busy_since: Option<CamTime>,
}

/// Histogram bucket of a latency.
pub(crate) fn bucket(lat: Duration) -> usize {
    let us = lat.as_micros();
    // Smallest i with us < 2^i.
    let i = (u128::BITS - us.leading_zeros()) as usize;
    i.min(LATENCY_BUCKETS - 1)
}

impl DevStatAcc {
    /// A command went to the SIM; `active_before` were there already.
    pub fn start(&mut self, active_before: u32, now: CamTime) {
        if active_before == 0 {
            self.busy_since = Some(now);
        }
    }
    /// A command came back; `active_after` remain at the SIM.
    pub fn end(&mut self, active_after: u32, now: CamTime) {
        if active_after == 0 {
            if let Some(t) = self.busy_since.take() {
                self.stat.busy_time += now.since(t);
            }
        }
    }
    /// Count a completed command.
    pub fn record(&mut self, dir: StatDir, bytes: u64, error: bool, latency: Duration) {
        let s = &mut self.stat;
        match dir {
            StatDir::In => {
                s.reads += 1;
                s.bytes_read += bytes;
            }
            StatDir::Out => {
                s.writes += 1;
                s.bytes_written += bytes;
            }
            StatDir::None => s.other += 1,
        }
        if error {
            s.errors += 1;
        }
        s.total_latency += latency;
        s.latency_hist[bucket(latency)] += 1;
    }
    /// A snapshot, counting a busy period still open up to `now`.
    pub fn snapshot(&self, now: CamTime) -> DevStat {
        let mut s = self.stat.clone();
        if let Some(t) = self.busy_since {
            s.busy_time += now.since(t);
        }
        s
    }
}
