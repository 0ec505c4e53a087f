//! Whole-stack rates in simulated time, for `make bench`'s report (issue 18):
//! periph `da` → XPT → SIM → XDMA cost model → Verilated core → pin-level bus → disk
//! models, with the protocol monitor checking every run.
//!
//! - **bus**: MB/s of 4 KiB, 64 KiB and 1 MiB sequential reads and writes (QD1) at
//!   async, Fast-10 and Fast-20, narrow and wide, against the bus rate; the bus time per
//!   command outside the data phase (from the monitor's log) against the minimum the SPI
//!   timing values allow ([`spi_min_overhead_ns`]).
//! - **iops**: 512 B and 4 KiB random reads at QD 1, 8, 32 and 64 on one and two disks,
//!   the bus-limited ceilings beside them and where the time went (transport calls, the
//!   card and bus, from a counting wrapper around the transport).
//!
//! Simulated time is deterministic: the bus figures repeat exactly and run once; the
//! random reads run `REPS` seeds (default 2) so their spread is over LBA patterns. The
//! wall-clock co-simulation speed of each run is recorded too (section cosim).
//! `SECTIONS=bus,iops` picks sections; `PROFILE=1` runs only the short whole-stack run
//! that `make bench` profiles with callgrind ([`profiled_workload`]).

use hba_bench::{record, Better, Figure};
use hba_cam::periph::da::DaHandle;
use hba_cam::{IoId, IoResult};
use hba_host_driver::sim::tran::Xfer;
use hba_host_driver::sim::SimConfig;
use hba_host_driver::stack::Stack;
use hba_host_driver::transport::LinkCost;
use hba_host_driver::{Transport, TransportError};
use hba_verif::rig::pattern;
use hba_verif::simrig::disk;
use hba_verif::SimTransport;
use scsi_bus::target::TargetConfig;
use scsi_bus::{Bus, Width};
use scsi_defs::spi_timing as spi;
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Where simulated time went, summed over transport calls (ns).
#[derive(Clone, Copy, Default, Debug)]
struct Spent {
    bar_read: u64,
    bar_write: u64,
    dma: u64,
    /// Waiting for an interrupt (the card and the bus working, the host idle), including
    /// the modelled wake-up.
    wait: u64,
}

/// The co-simulation transport with a tally of the simulated time each kind of call took.
struct Counting {
    t: SimTransport,
    spent: Rc<Cell<Spent>>,
}

impl Counting {
    fn time<R>(
        &mut self,
        f: impl FnOnce(&mut SimTransport) -> R,
        add: impl Fn(&mut Spent, u64),
    ) -> R {
        let t0 = self.t.now();
        let r = f(&mut self.t);
        let dt = (self.t.now() - t0).as_nanos() as u64;
        let mut s = self.spent.get();
        add(&mut s, dt);
        self.spent.set(s);
        r
    }
}

impl Transport for Counting {
    fn reg_read(&mut self, offset: u32) -> Result<u32, TransportError> {
        self.time(|t| t.reg_read(offset), |s, d| s.bar_read += d)
    }
    fn reg_write(&mut self, offset: u32, value: u32) -> Result<(), TransportError> {
        self.time(|t| t.reg_write(offset, value), |s, d| s.bar_write += d)
    }
    fn dma_write(&mut self, card_addr: u64, data: &[u8]) -> Result<(), TransportError> {
        self.time(|t| t.dma_write(card_addr, data), |s, d| s.dma += d)
    }
    fn dma_read(&mut self, card_addr: u64, buf: &mut [u8]) -> Result<(), TransportError> {
        self.time(|t| t.dma_read(card_addr, buf), |s, d| s.dma += d)
    }
    fn wait_irq(&mut self, timeout: Duration) -> Result<bool, TransportError> {
        self.time(|t| t.wait_irq(timeout), |s, d| s.wait += d)
    }
    fn now(&self) -> Duration {
        self.t.now()
    }
    fn name(&self) -> String {
        "sim (counting)".into()
    }
    fn link_cost(&self) -> LinkCost {
        self.t.link_cost()
    }
}

/// The whole stack over the counting transport.
struct Rig {
    stack: Stack<Counting>,
    spent: Rc<Cell<Spent>>,
}

/// Simulated time one request may take before the bench gives up.
const LIMIT: Duration = Duration::from_secs(2);

impl Rig {
    fn new(width: Width, targets: Vec<TargetConfig>, blocks: u64, user: Xfer) -> Rig {
        let mut t = SimTransport::new();
        let mut bus = Bus::new(width);
        for c in targets {
            bus.add(disk(c, blocks));
        }
        t.model().attach_bus(bus);
        let spent = Rc::new(Cell::new(Spent::default()));
        let cfg = SimConfig {
            wide: matches!(width, Width::Wide),
            user,
            ..SimConfig::cosim()
        };
        let c = Counting {
            t,
            spent: spent.clone(),
        };
        let mut stack = Stack::open(c, cfg).expect("attach");
        stack.scan(Duration::from_secs(2)).expect("scan");
        Rig { stack, spent }
    }

    fn da(&mut self, id: u32) -> DaHandle {
        let a = hba_cam::DevAddr::new(self.stack.bus, id, 0);
        let da = DaHandle::for_device(&self.stack.xpt, a).expect("da attached");
        let io = da
            .read_capacity(&mut self.stack.xpt)
            .expect("read capacity");
        assert!(self.wait(io).is_ok());
        da
    }

    fn wait(&mut self, io: IoId) -> IoResult {
        let r = self.stack.wait(io, LIMIT).expect("request finished");
        assert!(r.is_ok(), "{:?}", r.status);
        r
    }

    fn cycles(&self) -> u64 {
        self.stack.with_transport(|t| t.t.model().cycle())
    }

    fn commands(&self) -> u64 {
        self.stack.report().counters.submitted
    }

    /// Bus occupancy between two cycles, from the monitor's decoded log: (cycles the bus
    /// was not free, cycles in DATA IN / DATA OUT).
    fn bus_time(&self, c0: u64, c1: u64) -> (u64, u64) {
        self.stack.with_transport(|t| {
            let m = t.t.model();
            // A phase run is logged when it ends, stamped with its start: order by time.
            let mut log = m.bus().expect("bus").monitor.log().to_vec();
            log.sort_by_key(|l| l.cycle);
            let (mut busy, mut data) = (0, 0);
            let mut since: Option<u64> = None;
            for (i, l) in log.iter().enumerate() {
                let end = log.get(i + 1).map_or(c1, |n| n.cycle).min(c1);
                let start = l.cycle.max(c0);
                if l.cycle >= c1 {
                    break;
                }
                if l.text.starts_with("BUS FREE") {
                    if let Some(s) = since.take() {
                        busy += start.saturating_sub(s);
                    }
                } else if since.is_none() {
                    since = Some(start);
                }
                if (l.text.contains(" DATA IN ") || l.text.contains(" DATA OUT ")) && end > start {
                    data += end - start;
                }
            }
            if let Some(s) = since {
                busy += c1.saturating_sub(s);
            }
            (busy, data)
        })
    }

    /// Every CCB completed once, nothing left frozen or outstanding, a clean monitor.
    fn check(&mut self) {
        self.stack
            .drain(Duration::from_millis(200))
            .expect("drained");
        let s = self.stack.xpt.stats();
        assert_eq!(s.submitted, s.completed);
        assert_eq!(s.duplicate_io_results, 0);
        assert_eq!(self.stack.xpt.simq_frozen(self.stack.bus), 0);
        self.stack
            .with_transport(|t| t.t.model().assert_bus_clean());
    }
}

/// Nanoseconds per core cycle.
const NS: f64 = hba_abi::CORE_CLOCK_NS as f64;

/// Shortest asynchronous transfer of one byte (or wide word) the SPI timing values
/// allow: data set-up before the REQ/ACK edge (deskew + cable skew) and hold after it.
/// SPI bounds neither device's response to the other's edge; this is the floor.
const SPI_ASYNC_XFER_NS: u64 = spi::DESKEW_DELAY_NS + spi::CABLE_SKEW_DELAY_NS + spi::HOLD_TIME_NS;

/// The minimum bus time of one command outside its data phase from the SPI timing
/// values (`scsi_defs::spi_timing`, SPI-3's table). Per connection (a selection, or a
/// reselection after a disconnect): bus free delay, arbitration delay, bus clear + bus
/// settle after winning, (re)selection (two deskew delays after the other ID, a bus
/// settle delay after releasing BSY, two deskew delays after the answering BSY). Per
/// information phase: a bus settle delay before its first REQ. Every message, command
/// and status byte asynchronous at [`SPI_ASYNC_XFER_NS`]. Returned with its itemisation.
fn spi_min_overhead_ns(connections: u64, bytes: u64, phases: u64) -> (u64, String) {
    let items = [
        ("bus free delay", connections * spi::BUS_FREE_DELAY_NS),
        ("arbitration delay", connections * spi::ARBITRATION_DELAY_NS),
        (
            "bus clear + bus settle",
            connections * (spi::BUS_CLEAR_DELAY_NS + spi::BUS_SETTLE_DELAY_NS),
        ),
        (
            "selection: 4 deskew + bus settle",
            connections * (4 * spi::DESKEW_DELAY_NS + spi::BUS_SETTLE_DELAY_NS),
        ),
        ("a bus settle per phase", phases * spi::BUS_SETTLE_DELAY_NS),
        ("async bytes", bytes * SPI_ASYNC_XFER_NS),
    ];
    let total = items.iter().map(|(_, v)| v).sum();
    let text = items
        .iter()
        .map(|(n, v)| format!("{n} {v} ns"))
        .collect::<Vec<_>>()
        .join(" + ");
    (
        total,
        format!(
            "{connections} connection(s), {phases} phases, {bytes} bytes x {SPI_ASYNC_XFER_NS} ns: {text}"
        ),
    )
}

/// No disconnect: MSG OUT (IDENTIFY + SIMPLE tag), a 10-byte CDB, STATUS, COMMAND
/// COMPLETE; five phases with the data phase.
const NO_DISCONNECT: (u64, u64, u64) = (1, 3 + 10 + 1 + 1, 5);
/// With a disconnect after the CDB: MSG OUT (3), COMMAND (10), MSG IN DISCONNECT (1);
/// reselection, MSG IN IDENTIFY + tag (3), DATA, STATUS (1), COMMAND COMPLETE (1).
const DISCONNECTED: (u64, u64, u64) = (2, 3 + 10 + 1 + 3 + 1 + 1, 7);

/// Data-phase rate of a mode in MB/s: the SDTR period, or the async floor.
fn bus_rate(period: u8, offset: u8, wide: bool) -> f64 {
    let ns = if offset == 0 {
        SPI_ASYNC_XFER_NS as f64
    } else {
        spi::period_ps(period).expect("valid period") as f64 / 1000.0
    };
    let bytes = if wide { 2.0 } else { 1.0 };
    bytes * 1000.0 / ns
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Cosim speed of one run, recorded under the whole-stack table.
fn record_speed(row: &str, cycles: u64, wall: f64) {
    record(
        &Figure::new(
            "cosim",
            "whole stack by workload",
            row,
            "M cycles/s",
            "M cycles/s",
        )
        .values([cycles as f64 / wall / 1e6]),
    );
}

fn bus_section() {
    let modes: [(&str, u8, u8); 3] = [
        ("async", 0, 0),
        ("Fast-10", spi::PERIOD_FACTOR_FAST10, 15),
        ("Fast-20", spi::PERIOD_FACTOR_FAST20, 15),
    ];
    for (mode, period, offset) in modes {
        for wide in [false, true] {
            let width = if wide { Width::Wide } else { Width::Narrow };
            let wname = if wide { "wide" } else { "narrow" };
            let mut c = TargetConfig::new(0);
            c.wide = wide;
            c.disconnect = false;
            c.access_cycles = 0;
            let user = Xfer {
                period,
                offset,
                wide,
            };
            let w0 = Instant::now();
            let mut r = Rig::new(width, vec![c], 4096, user);
            let da = r.da(0);
            let rate = bus_rate(period, offset, wide);
            let mut cyc = r.cycles();
            for (size, label, reps) in [
                (4096usize, "4 KiB", 8u64),
                (65536, "64 KiB", 4),
                (1 << 20, "1 MiB", 1),
            ] {
                let blocks = (size / 512) as u64;
                let data = pattern(size as u32 + u32::from(period), size);
                for write in [true, false] {
                    let dir = if write { "write" } else { "read" };
                    let t0 = r.stack.now();
                    let c0 = r.cycles();
                    let n0 = r.commands();
                    let s0 = r.spent.get();
                    for k in 0..reps {
                        let lba = k * blocks;
                        let io = if write {
                            da.write(&mut r.stack.xpt, lba, data.clone()).unwrap()
                        } else {
                            da.read(&mut r.stack.xpt, lba, blocks).unwrap()
                        };
                        let res = r.wait(io);
                        if !write {
                            assert_eq!(res.data, data, "{mode} {wname} {label}");
                        }
                    }
                    let ns = (r.stack.now().0 - t0.0) as f64;
                    let c1 = r.cycles();
                    let cmds = r.commands() - n0;
                    let s1 = r.spent.get();
                    let (busy, dphase) = r.bus_time(c0, c1);
                    let bytes = (size as u64 * reps) as f64;
                    let mbs = bytes / ns * 1e3;
                    let per_cmd_us = |cycles: u64| cycles as f64 * NS / 1e3 / cmds as f64;
                    let nondata_us = per_cmd_us(busy - dphase);
                    let data_us = per_cmd_us(dphase);
                    let total_us = ns / 1e3 / cmds as f64;
                    let host_us = (ns - (s1.wait - s0.wait) as f64) / 1e3 / cmds as f64;
                    let (spi_ns, spi_text) = {
                        let (c, b, p) = NO_DISCONNECT;
                        spi_min_overhead_ns(c, b, p)
                    };
                    let row = format!("{mode} {wname} {label}");
                    let why = format!(
                        "per command ({cmds} commands of {} KiB): {total_us:.1} us, of which data phase {data_us:.1} us, bus outside data {nondata_us:.1} us (SPI minimum {:.1} us), host in transport calls {host_us:.1} us; the rest the card between bus and host",
                        size as u64 * reps / cmds / 1024,
                        spi_ns as f64 / 1e3
                    );
                    record(
                        &Figure::new(
                            "bus",
                            "sequential MB/s (QD1)",
                            &row,
                            &format!("{dir} MB/s"),
                            "MB/s",
                        )
                        .values([mbs])
                        .limit(rate, Better::Higher)
                        .why(why),
                    );
                    if !write {
                        record(
                            &Figure::new("bus", "sequential MB/s (QD1)", &row, "bus MB/s", "MB/s")
                                .values([rate]),
                        );
                        record(
                            &Figure::new(
                                "bus",
                                "sequential MB/s (QD1)",
                                &row,
                                "data phase MB/s (read)",
                                "MB/s",
                            )
                            .values([bytes / (dphase as f64 * NS) * 1e3])
                            .limit(rate, Better::Higher),
                        );
                        record(
                            &Figure::new(
                                "bus",
                                "bus time per command outside the data phase",
                                &row,
                                "read us",
                                "us",
                            )
                            .values([nondata_us])
                            .limit(spi_ns as f64 / 1e3, Better::Lower)
                            .why(format!("SPI minimum: {spi_text}")),
                        );
                        record(
                            &Figure::new(
                                "bus",
                                "bus time per command outside the data phase",
                                &row,
                                "SPI minimum us",
                                "us",
                            )
                            .values([spi_ns as f64 / 1e3]),
                        );
                    } else {
                        record(
                            &Figure::new(
                                "bus",
                                "bus time per command outside the data phase",
                                &row,
                                "write us",
                                "us",
                            )
                            .values([nondata_us])
                            .limit(spi_ns as f64 / 1e3, Better::Lower),
                        );
                    }
                }
            }
            r.check();
            cyc = r.cycles() - cyc;
            record_speed(
                &format!("bus {mode} {wname} (sequential da reads/writes)"),
                cyc,
                w0.elapsed().as_secs_f64(),
            );
        }
    }
}

/// A seeded LCG: the random LBAs repeat run for run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// One IOPS run: random reads of `bytes` at `qd` spread over `disks`. Returns
/// (IOPS, time spent, commands, bus busy cycles, data cycles, simulated ns).
fn iops_run(bytes: usize, qd: usize, disks: u32, seed: u64) -> (f64, Spent, u64, u64, u64, f64) {
    const BLOCKS: u64 = 8192;
    let cfgs = (0..disks as u8)
        .map(|id| {
            let mut c = TargetConfig::new(id);
            c.access_cycles = 0;
            c.queue_depth = 64;
            c
        })
        .collect();
    let user = SimConfig::cosim().user;
    let w0 = Instant::now();
    let mut r = Rig::new(Width::Narrow, cfgs, BLOCKS, user);
    let das: Vec<DaHandle> = (0..disks).map(|d| r.da(d)).collect();
    let blocks = (bytes / 512) as u64;
    let n = (4 * qd).max(48);
    let mut rng = Lcg(seed);
    let t0 = r.stack.now();
    let c0 = r.cycles();
    let n0 = r.commands();
    let s0 = r.spent.get();
    let mut inflight = std::collections::VecDeque::new();
    let mut issued = 0;
    while issued < n || !inflight.is_empty() {
        while issued < n && inflight.len() < qd {
            let d = issued % disks as usize;
            let lba = rng.next() % (BLOCKS / blocks) * blocks;
            inflight.push_back(das[d].read(&mut r.stack.xpt, lba, blocks).unwrap());
            issued += 1;
        }
        let io = inflight.pop_front().unwrap();
        let res = r.wait(io);
        assert_eq!(res.data.len(), bytes);
    }
    let ns = (r.stack.now().0 - t0.0) as f64;
    let c1 = r.cycles();
    let cmds = r.commands() - n0;
    let s1 = r.spent.get();
    let (busy, data) = r.bus_time(c0, c1);
    r.check();
    record_speed(
        &format!("iops {} B QD{qd} {disks} disk(s)", bytes),
        r.cycles(),
        w0.elapsed().as_secs_f64(),
    );
    let spent = Spent {
        bar_read: s1.bar_read - s0.bar_read,
        bar_write: s1.bar_write - s0.bar_write,
        dma: s1.dma - s0.dma,
        wait: s1.wait - s0.wait,
    };
    (cmds as f64 / ns * 1e9, spent, cmds, busy, data, ns)
}

fn iops_section() {
    let reps = env("REPS", 2).max(1);
    // The ceiling: every command tagged and disconnected ([`DISCONNECTED`]), the data at
    // Fast-20 narrow, one bus shared by both disks.
    for bytes in [512usize, 4096] {
        let rate = bus_rate(spi::PERIOD_FACTOR_FAST20, 15, false);
        let (c, b, p) = DISCONNECTED;
        let (min_ns, _) = spi_min_overhead_ns(c, b, p);
        let bus_ns = min_ns as f64 + bytes as f64 / rate * 1e3;
        let ceiling = 1e9 / bus_ns;
        for disks in [1u32, 2] {
            for qd in [1usize, 8, 32, 64] {
                let row = format!(
                    "{bytes} B, {disks} disk{}, QD{qd}",
                    if disks > 1 { "s" } else { "" }
                );
                let mut iops = Vec::new();
                let mut last = None;
                for seed in 0..reps {
                    let (v, s, cmds, busy, data, ns) = iops_run(bytes, qd, disks, 1 + seed);
                    iops.push(v);
                    last = Some((s, cmds, busy, data, ns));
                }
                let (s, cmds, busy, data, ns) = last.unwrap();
                let per = |x: f64| x / cmds as f64 / 1e3;
                let bus_us = per(busy as f64 * NS);
                let measured_ceiling = 1e6 / bus_us;
                let why = format!(
                    "per command {:.1} us: bus busy {bus_us:.1} us (data {:.1}), waiting on the card {:.1} us, BAR reads {:.1} us, BAR writes {:.1} us, DMA {:.1} us; bus utilisation {:.0} %",
                    per(ns),
                    per(data as f64 * NS),
                    per(s.wait as f64),
                    per(s.bar_read as f64),
                    per(s.bar_write as f64),
                    per(s.dma as f64),
                    100.0 * busy as f64 * NS / ns
                );
                let t = "random reads, IOPS (XDMA cost model)";
                record(
                    &Figure::new("iops", t, &row, "IOPS", "IOPS")
                        .values(iops)
                        .limit(ceiling, Better::Higher)
                        .why(why),
                );
                record(&Figure::new("iops", t, &row, "SPI bus ceiling", "IOPS").values([ceiling]));
                record(
                    &Figure::new("iops", t, &row, "ceiling at measured bus time", "IOPS")
                        .values([measured_ceiling]),
                );
                let w = "where the time goes, us per command (last seed)";
                for (col, v) in [
                    ("total", per(ns)),
                    ("bus busy", bus_us),
                    ("card (host waits)", per(s.wait as f64)),
                    ("BAR reads", per(s.bar_read as f64)),
                    ("BAR writes", per(s.bar_write as f64)),
                    ("DMA", per(s.dma as f64)),
                ] {
                    record(&Figure::new("iops", w, &row, col, "us").values([v]));
                }
            }
        }
    }
}

/// The short whole-stack run `make bench` profiles (callgrind collects inside this
/// function only): 4 KiB reads at QD8 on two disks, after the scan.
#[inline(never)]
fn profiled_workload(r: &mut Rig, das: &[DaHandle], n: usize) {
    let mut inflight = std::collections::VecDeque::new();
    let mut issued = 0;
    while issued < n || !inflight.is_empty() {
        while issued < n && inflight.len() < 8 {
            let d = issued % das.len();
            inflight.push_back(
                das[d]
                    .read(&mut r.stack.xpt, (issued as u64 % 64) * 8, 8)
                    .unwrap(),
            );
            issued += 1;
        }
        let io = inflight.pop_front().unwrap();
        r.wait(io);
    }
}

fn profile() {
    let cfgs = (0..2u8)
        .map(|id| {
            let mut c = TargetConfig::new(id);
            c.access_cycles = 0;
            c
        })
        .collect();
    let mut r = Rig::new(Width::Narrow, cfgs, 1024, SimConfig::cosim().user);
    let das = [r.da(0), r.da(1)];
    let c0 = r.cycles();
    profiled_workload(&mut r, &das, env("PROFILE_READS", 16) as usize);
    println!("profiled cycles: {}", r.cycles() - c0);
    r.check();
}

fn main() {
    if env("PROFILE", 0) == 1 {
        profile();
        return;
    }
    let sections = std::env::var("SECTIONS").unwrap_or_else(|_| "bus,iops".into());
    let on = |s: &str| sections.split(',').any(|x| x == s);
    if on("bus") {
        bus_section();
    }
    if on("iops") {
        iops_section();
    }
}
