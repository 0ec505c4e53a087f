//! The whole-stack fault campaign (TigerBeetle's VOPR in spirit): one seed decides a bus
//! (disks, SCSI-1/CCS disks, a tape, a CD-ROM, narrow or wide, tags on or off,
//! synchronous or not), a workload through `da`, `sa`, `cd` and raw CCBs (SIMPLE, ORDERED
//! and HEAD OF QUEUE tags), and faults from every class the target models inject, plus
//! host-side aborts, device and bus resets, firmware traps, short timeouts placed to race
//! completions, and faults of the host link itself ([`FaultyTransport`]: DMA errors and
//! timeouts, lost and merged interrupts, completion entries corrupted in transit, surprise
//! removal). The invariants are checked on every seed; a failing seed replays exactly, and
//! [`shrink`] cuts its workload to the shortest prefix that still fails.

use crate::faulty_transport::{Corruption, FaultyTransport, TransportFault};
use crate::simrig::{disk, tape, SimRig};
use hba_cam::ccb::{Abort, CcbBody, Cdb, DataBuf, DataXfer, TagAction};
use hba_cam::periph::cd::CdHandle;
use hba_cam::periph::da::DaHandle;
use hba_cam::periph::sa::SaHandle;
use hba_cam::scsi_cmd::InquiryData;
use hba_cam::status::CAM_DEV_QFRZN;
use hba_cam::xpt::XptLog;
use hba_cam::CamStatus;
use hba_cam::{Ccb, CcbId, IoId};
use hba_host_driver::sim::SimConfig;
use scsi_bus::faults::{FaultAction, FaultConfig, FaultRule, Prng, ResetInjector};
use scsi_bus::target::cdrom::CdRom;
use scsi_bus::target::disk::Disk;
use scsi_bus::target::legacy::old_disk_config;
use scsi_bus::target::tape::{Record, Tape};
use scsi_bus::target::{SyncCaps, TargetConfig};
use scsi_bus::{Phase, Width};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};
pub use summary::{Summary, SummaryError};

/// Blocks per campaign disk.
const DISK_BLOCKS: u64 = 1024;
/// Blocks at the top of each disk only the ORDERED and HEAD OF QUEUE reads touch, one LBA
/// each, so that the target's service log names them without doubt.
const RESERVED: u64 = 64;
/// 2048-byte blocks on the campaign's CD-ROM.
const CD_BLOCKS: u64 = 256;
/// SCSI ID of the tape and of the CD-ROM.
const TAPE_ID: u8 = 5;
const CD_ID: u8 = 6;
/// Opcode of the raw reads (READ(12): `da` never uses it, so the service log tells the
/// raw CCBs apart from the periph's).
const RAW_READ: u8 = 0xA8;

/// The rig of the campaign: the co-simulated stack over the fault-injecting transport.
pub type Rig = SimRig<FaultyTransport>;

/// One step of a workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `da` write of `blocks` at `lba` on disk `d` (data tagged with the op's index).
    Write { d: usize, lba: u64, blocks: u64 },
    /// `da` read.
    Read { d: usize, lba: u64, blocks: u64 },
    /// A raw READ(12) CCB of one block with tag `tag`, a short timeout when asked,
    /// aborted by the host when `abort`.
    RawRead {
        d: usize,
        lba: u64,
        abort: bool,
        timeout_us: u64,
        tag: TagAction,
    },
    /// A raw INQUIRY (36 bytes) of disk `d`: small data-in, which the SIM reads through
    /// the BAR, not by DMA; GOOD must bring the data the scan saw.
    Inquiry { d: usize },
    /// `cd` read of `blocks` 2048-byte blocks at `lba` on the CD-ROM.
    CdRead { lba: u64, blocks: u64 },
    /// Tape: write a record (tagged).
    TapeWrite { len: usize },
    /// XPT_RESET_DEV on disk `d`.
    ResetDev { d: usize },
    /// XPT_RESET_BUS.
    ResetBus,
    /// Corrupt the firmware's main loop (the SIM must re-initialise the card).
    Trap,
    /// Wait for everything in flight.
    Drain,
}

mod summary;

/// Fault classes, for the summary.
pub const CLASSES: &[&str] = &[
    "medium error",
    "busy",
    "queue full",
    "no selection response",
    "bus free",
    "parity",
    "hang",
    "bad reselect tag",
    "third-party reset",
    "host abort",
    "device reset",
    "bus reset",
    "firmware trap",
    "short timeout",
];

/// Kinds of device and bus set-up, for the summary (seeds with each).
pub const BUS_KINDS: &[&str] = &[
    "wide bus",
    "tagged disk",
    "untagged disk",
    "async disk",
    "SCSI-1/CCS disk",
    "tape",
    "CD-ROM",
    "ORDERED tag",
    "HEAD OF QUEUE tag",
];

/// What one seed is: the bus, the faults and the workload.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The seed.
    pub seed: u64,
    /// Wide bus.
    pub wide: bool,
    /// Disk target configurations with their fault rules.
    pub disks: Vec<(TargetConfig, FaultConfig)>,
    /// A tape on ID 5.
    pub tape: bool,
    /// A CD-ROM with a disc on ID 6.
    pub cdrom: bool,
    /// Host-link faults, in ns from the start of the workload.
    pub transport: Vec<(u64, TransportFault)>,
    /// Set-up kinds present (for the summary).
    pub bus: BTreeMap<&'static str, u64>,
    /// Third-party resets, in ns from the start of the workload.
    pub resets_at_ns: Vec<u64>,
    /// The workload.
    pub ops: Vec<Op>,
    /// Fault classes injected (counts).
    pub injected: BTreeMap<&'static str, u64>,
}

/// Outcome of one seed.
#[derive(Clone, Debug, Default)]
pub struct SeedReport {
    /// The seed.
    pub seed: u64,
    /// Periph requests and raw CCBs issued.
    pub commands: u64,
    /// Of which failed (allowed under faults).
    pub failed: u64,
    /// Fault classes injected (host-link faults: those that fired).
    pub injected: BTreeMap<&'static str, u64>,
    /// Host-link faults planned, per class.
    pub planned: BTreeMap<&'static str, u64>,
    /// Set-up kinds present.
    pub bus: BTreeMap<&'static str, u64>,
    /// Completion entries the SIM refused (corrupted in transit or otherwise).
    pub bad_entries: u64,
    /// SIM recoveries: timeouts, BDRs, bus resets, re-initialisations.
    pub rungs: [u64; 4],
    /// Invariant violations (must be empty).
    pub violations: Vec<String>,
    /// Simulated core cycles.
    pub cycles: u64,
    /// Wall time.
    pub wall: Duration,
}

fn pick(p: &mut Prng, n: u64) -> u64 {
    p.below(n)
}

fn chance(p: &mut Prng, per_mille: u64) -> bool {
    p.below(1000) < per_mille
}

/// A fault rule that matches every command (narrow it with struct update syntax).
pub fn rule(action: FaultAction) -> FaultRule {
    FaultRule {
        opcode: None,
        lba: None,
        lun: None,
        every_nth: None,
        first_n: None,
        probability: None,
        action,
    }
}

impl Scenario {
    /// The scenario of `seed` (deterministic).
    pub fn new(seed: u64) -> Scenario {
        let mut p = Prng::new(seed ^ 0x5eed_ca4e);
        let wide = chance(&mut p, 300);
        let ndisks = 1 + pick(&mut p, 2) as usize;
        let mut injected: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut disks = Vec::new();
        let clean = chance(&mut p, 200);
        let mut bus: BTreeMap<&'static str, u64> = BTreeMap::new();
        for i in 0..ndisks {
            // A SCSI-1 or CCS disk (untagged, narrow, Fast-5 at most, no REPORT LUNS).
            let old = chance(&mut p, 200);
            let mut c = if old {
                old_disk_config(i as u8, 1 + pick(&mut p, 2) as u8)
            } else {
                TargetConfig::new(i as u8)
            };
            c.seed = p.next_u64();
            if !old {
                c.tagged = chance(&mut p, 700);
                c.wide = wide && chance(&mut p, 700);
            }
            c.disconnect = chance(&mut p, 850);
            c.access_cycles = pick(&mut p, 20_000);
            if chance(&mut p, 250) {
                c.sync = None;
            } else if !old && chance(&mut p, 300) {
                c.sync = Some(SyncCaps {
                    min_period_factor: 0x19,
                    max_offset: 8,
                });
            }
            let kinds = [
                (old, "SCSI-1/CCS disk"),
                (c.tagged, "tagged disk"),
                (!c.tagged, "untagged disk"),
                (c.sync.is_none(), "async disk"),
            ];
            for (on, k) in kinds {
                if on {
                    *bus.entry(k).or_default() += 1;
                }
            }
            let mut rules = Vec::new();
            if !clean {
                let mut add = |p: &mut Prng, name: &'static str, r: FaultRule, pm: u64| {
                    if chance(p, pm) {
                        *injected.entry(name).or_default() += 1;
                        rules.push(r);
                    }
                };
                let lo = pick(&mut p, DISK_BLOCKS - 8);
                add(
                    &mut p,
                    "medium error",
                    FaultRule {
                        lba: Some([lo, lo + 1 + lo % 4]),
                        ..rule(FaultAction::CheckCondition {
                            key: 0x3,
                            asc: 0x11,
                            ascq: 0,
                        })
                    },
                    400,
                );
                // BUSY costs the periph's 1 s retry delay of simulated idle time: rare.
                add(
                    &mut p,
                    "busy",
                    FaultRule {
                        first_n: Some(1),
                        ..rule(FaultAction::Busy)
                    },
                    60,
                );
                add(
                    &mut p,
                    "queue full",
                    FaultRule {
                        probability: Some(0.05),
                        ..rule(FaultAction::QueueFull)
                    },
                    300,
                );
                add(
                    &mut p,
                    "no selection response",
                    FaultRule {
                        first_n: Some(1 + lo % 2),
                        ..rule(FaultAction::NoSelectionResponse)
                    },
                    200,
                );
                add(
                    &mut p,
                    "bus free",
                    FaultRule {
                        probability: Some(0.03),
                        ..rule(FaultAction::BusFree {
                            phase: Phase::DataIn,
                        })
                    },
                    250,
                );
                let byte = pick(&mut p, 512) as usize;
                add(
                    &mut p,
                    "parity",
                    FaultRule {
                        probability: Some(0.05),
                        ..rule(FaultAction::Parity {
                            phase: Phase::DataIn,
                            byte,
                        })
                    },
                    300,
                );
                add(
                    &mut p,
                    "hang",
                    FaultRule {
                        first_n: Some(1),
                        opcode: Some(0x28),
                        ..rule(FaultAction::Hang {
                            phase: Phase::DataIn,
                        })
                    },
                    120,
                );
                add(
                    &mut p,
                    "bad reselect tag",
                    FaultRule {
                        first_n: Some(1),
                        ..rule(FaultAction::BadReselectTag)
                    },
                    150,
                );
            }
            disks.push((
                c,
                FaultConfig {
                    seed: p.next_u64(),
                    rules,
                    bus_reset_at_ns: vec![],
                },
            ));
        }
        let tape = chance(&mut p, 400);
        let cdrom = chance(&mut p, 300);
        let mut resets_at_ns = Vec::new();
        if !clean && chance(&mut p, 200) {
            resets_at_ns.push(50_000 + pick(&mut p, 2_000_000));
            *injected.entry("third-party reset").or_default() += 1;
        }
        // Host-link faults: each class now and then, at a time within the workload.
        let mut transport = Vec::new();
        if !clean {
            let corruption = [
                Corruption::Kind,
                Corruption::Status,
                Corruption::Slot,
                Corruption::Phase,
            ][pick(&mut p, 4) as usize];
            let faults = [
                (TransportFault::DmaError, 120),
                (TransportFault::DmaTimeout, 100),
                (TransportFault::LostIrq, 150),
                (TransportFault::MergedIrq, 150),
                (TransportFault::CorruptEntry(corruption), 150),
                (TransportFault::Removal, 30),
            ];
            // Half the removals come the moment an entry has been read, before its data:
            // drawn from a stream of its own, so every other draw of a seed stays as it was.
            let after_entry = Prng::new(seed ^ 0x7e30_7a1e).next_u64() & 1 == 1;
            for (f, pm) in faults {
                if chance(&mut p, pm) {
                    let f = match f {
                        TransportFault::Removal if after_entry => TransportFault::RemovalAfterEntry,
                        f => f,
                    };
                    transport.push((20_000 + pick(&mut p, 3_000_000), f));
                }
            }
        }
        if wide {
            *bus.entry("wide bus").or_default() += 1;
        }
        if tape {
            *bus.entry("tape").or_default() += 1;
        }
        if cdrom {
            *bus.entry("CD-ROM").or_default() += 1;
        }
        let nops = 8 + pick(&mut p, 24) as usize;
        let mut ops = Vec::new();
        let mut reserved_next = vec![DISK_BLOCKS - RESERVED; ndisks];
        for _ in 0..nops {
            let d = pick(&mut p, ndisks as u64) as usize;
            let blocks = 1 + pick(&mut p, 16);
            let lba = pick(&mut p, DISK_BLOCKS - RESERVED - blocks);
            let r = pick(&mut p, 100);
            let op = match r {
                0..=34 => Op::Write { d, lba, blocks },
                35..=69 => Op::Read { d, lba, blocks },
                70..=79 => {
                    let abort = !clean && chance(&mut p, 400);
                    let short = !clean && chance(&mut p, 300);
                    if abort {
                        *injected.entry("host abort").or_default() += 1;
                    }
                    if short {
                        *injected.entry("short timeout").or_default() += 1;
                    }
                    // One raw read in three carries an ORDERED or HEAD OF QUEUE tag, on a
                    // reserved block of its own (while one is left).
                    let tag = match pick(&mut p, 6) {
                        0 => TagAction::Ordered,
                        1 => TagAction::HeadOfQueue,
                        _ => TagAction::Simple,
                    };
                    let (tag, lba) = if tag != TagAction::Simple && reserved_next[d] < DISK_BLOCKS {
                        reserved_next[d] += 1;
                        let k = if tag == TagAction::Ordered {
                            "ORDERED tag"
                        } else {
                            "HEAD OF QUEUE tag"
                        };
                        *bus.entry(k).or_default() += 1;
                        (tag, reserved_next[d] - 1)
                    } else {
                        (TagAction::Simple, lba)
                    };
                    Op::RawRead {
                        d,
                        lba,
                        abort,
                        timeout_us: if short {
                            50 + pick(&mut p, 400)
                        } else {
                            500_000
                        },
                        tag,
                    }
                }
                80..=87 if tape => Op::TapeWrite {
                    len: 512 * (1 + pick(&mut p, 4) as usize),
                },
                80..=87 if cdrom => {
                    let blocks = 1 + pick(&mut p, 8);
                    Op::CdRead {
                        lba: pick(&mut p, CD_BLOCKS - blocks),
                        blocks,
                    }
                }
                88..=90 if !clean => {
                    *injected.entry("device reset").or_default() += 1;
                    Op::ResetDev { d }
                }
                91..=92 if !clean => {
                    *injected.entry("bus reset").or_default() += 1;
                    Op::ResetBus
                }
                93 if !clean => {
                    *injected.entry("firmware trap").or_default() += 1;
                    Op::Trap
                }
                _ => Op::Drain,
            };
            ops.push(op);
        }
        // Now and then an INQUIRY after an op, drawn from a stream of its own (the draws
        // above stay as they were).
        let mut q = Prng::new(seed ^ 0x1ac0_1e55);
        let mut ops: Vec<Op> = ops
            .into_iter()
            .flat_map(|op| {
                let inq = chance(&mut q, 150).then(|| Op::Inquiry {
                    d: pick(&mut q, ndisks as u64) as usize,
                });
                std::iter::once(op).chain(inq)
            })
            .collect();
        ops.push(Op::Drain);
        Scenario {
            seed,
            wide,
            disks,
            tape,
            cdrom,
            transport,
            bus,
            resets_at_ns,
            ops,
            injected,
        }
    }

    /// Whether no fault at all is injected (then every command must succeed).
    pub fn clean(&self) -> bool {
        self.injected.is_empty() && self.transport.is_empty()
    }
}

/// Data of op `i` for `len` bytes: tagged with the seed and the op so that a transfer
/// into the wrong buffer or onto the wrong blocks is caught.
fn tagged(seed: u64, i: usize, len: usize) -> Vec<u8> {
    let mut p = Prng::new(seed.wrapping_mul(31) ^ (i as u64) << 20);
    let mut v: Vec<u8> = (0..len).map(|_| p.next_u64() as u8).collect();
    for (k, chunk) in v.chunks_mut(512).enumerate() {
        chunk[..8].copy_from_slice(&((i as u64) << 16 | k as u64).to_le_bytes());
    }
    v
}

enum Pending {
    Da {
        io: IoId,
        d: usize,
        lba: u64,
        blocks: u64,
        write: Option<Vec<u8>>,
        /// Submitted after the card was removed: must not succeed.
        gone: bool,
    },
    Cd {
        io: IoId,
        lba: u64,
        blocks: u64,
        gone: bool,
    },
    Tape {
        io: IoId,
        data: Vec<u8>,
    },
    Raw {
        id: CcbId,
        d: usize,
        lba: u64,
        gone: bool,
        /// The campaign sent an XPT_ABORT for it.
        aborted: bool,
    },
    Mgmt {
        id: CcbId,
    },
    Inquiry {
        id: CcbId,
        d: usize,
        gone: bool,
    },
}

type RawDone = Rc<RefCell<Vec<Ccb>>>;

/// Submits a raw CCB whose owner is the campaign: like a periph, it releases a device
/// queue freeze the moment the CCB comes back, then keeps the CCB for [`wait_raw`].
fn submit_raw(r: &mut Rig, c: Ccb, done: &RawDone) -> CcbId {
    let done = done.clone();
    r.stack.xpt.submit_cb(c, move |x, c| {
        if c.h.status.has(CAM_DEV_QFRZN) {
            if let Some(a) = c.h.path.addr() {
                let _ = x.release_devq(a, 1);
            }
        }
        done.borrow_mut().push(c);
    })
}

/// Runs the loop until raw CCB `id` is back.
fn wait_raw(r: &mut Rig, id: CcbId, done: &RawDone, limit: Duration) -> Option<Ccb> {
    let d = done.clone();
    let ok = r
        .stack
        .run_until("raw CCB", limit, move |_| {
            d.borrow().iter().any(|c| c.h.id == id)
        })
        .is_ok();
    let mut v = done.borrow_mut();
    let i = v.iter().position(|c| c.h.id == id);
    match (ok, i) {
        (_, Some(i)) => Some(v.remove(i)),
        _ => None,
    }
}

/// One entry of a target's service log: (initiator, LUN, tag, opcode, LBA).
pub type Served = (u8, u8, Option<u8>, u8, u64);

/// Where ORDERED commands lost their order: `issued` is the host's submission order of
/// commands with `opcode` to one device, as (LBA, tag); `service` the target's log of the
/// order tasks started. An ORDERED command must start after every command submitted
/// before it and before every one submitted after it but HEAD OF QUEUE ones (first
/// starts: a retry may come later); commands that never started are skipped, and LBAs
/// must tell them apart.
pub fn ordered_violations(
    service: &[Served],
    issued: &[(u64, TagAction)],
    opcode: u8,
) -> Vec<String> {
    let first = |lba: u64| {
        service
            .iter()
            .position(|&(init, lun, _, op, l)| init == 7 && lun == 0 && op == opcode && l == lba)
    };
    let mut out = Vec::new();
    for (k, &(lba, tag)) in issued.iter().enumerate() {
        if tag != TagAction::Ordered {
            continue;
        }
        let Some(at) = first(lba) else { continue };
        for &(e, _) in &issued[..k] {
            if first(e).is_some_and(|x| x > at) {
                out.push(format!(
                    "ORDERED read of {lba} started before the earlier read of {e}"
                ));
            }
        }
        for &(l, t) in &issued[k + 1..] {
            // HEAD OF QUEUE goes to the front, past an ORDERED task too (SAM-5 8.6).
            if t == TagAction::HeadOfQueue || issued[..=k].iter().any(|&(e, _)| e == l) {
                continue;
            }
            if first(l).is_some_and(|x| x < at) {
                out.push(format!(
                    "read of {l} submitted after the ORDERED read of {lba} started before it"
                ));
            }
        }
    }
    out
}

/// What a seed knows of its media while it runs, kept apart from its report.
struct Books {
    /// Each disk's shadow: Some(content) where known, None where a failed or racing
    /// write leaves it unknown.
    shadow: Vec<Vec<Option<Vec<u8>>>>,
    /// Requests in flight per disk block (a new request waits for an overlapping one).
    busy: Vec<Vec<u32>>,
    /// Tape records acknowledged as written, in order.
    tape_written: Vec<Vec<u8>>,
}

/// Runs a scenario, with its workload cut to `ops` steps when given.
pub fn run(sc: &Scenario, ops: Option<usize>) -> SeedReport {
    let w0 = Instant::now();
    let mut rep = SeedReport {
        seed: sc.seed,
        injected: sc.injected.clone(),
        bus: sc.bus.clone(),
        ..Default::default()
    };
    let width = if sc.wide { Width::Wide } else { Width::Narrow };
    let mut targets = Vec::new();
    for (c, _) in &sc.disks {
        targets.push(disk(c.clone(), DISK_BLOCKS));
    }
    if sc.tape {
        targets.push(tape(TargetConfig::new(TAPE_ID), 1 << 20));
    }
    if sc.cdrom {
        let mut t = scsi_bus::target::Target::new(TargetConfig::new(CD_ID))
            .with_lun(0, CdRom::with_disc(CD_BLOCKS));
        t.clear_unit_attention();
        targets.push(t);
    }
    let cfg = SimConfig {
        sel_timeout: Duration::from_micros(200),
        ..SimConfig::cosim()
    };
    let mut r = match SimRig::over(FaultyTransport::new(), width, targets, cfg) {
        Ok(r) => r,
        Err(e) => {
            rep.violations.push(format!("attach: {e}"));
            return rep;
        }
    };
    let scan = r.stack.scan(Duration::from_secs(1));
    if let Err(e) = scan {
        rep.violations.push(format!("scan: {e}"));
        return rep;
    }
    let nd = sc.disks.len();
    // What each disk's INQUIRY said at the scan, before any fault was armed.
    let seen = r.stack.devices();
    let inq_seen: Vec<Option<InquiryData>> = (0..nd)
        .map(|d| {
            let a = r.addr(d as u32);
            seen.iter()
                .find(|i| i.addr == a)
                .and_then(|i| i.inquiry.clone())
        })
        .collect();
    let mut das = Vec::new();
    for d in 0..nd {
        let a = r.addr(d as u32);
        let Some(da) = DaHandle::for_device(&r.stack.xpt, a) else {
            rep.violations
                .push(format!("disk {d} not found by the scan"));
            return rep;
        };
        let io = da.read_capacity(&mut r.stack.xpt).expect("read capacity");
        match r.stack.wait(io, Duration::from_millis(100)) {
            Ok(res) if res.is_ok() => {}
            other => {
                rep.violations
                    .push(format!("disk {d} READ CAPACITY: {other:?}"));
                return rep;
            }
        }
        // Short command timeouts so that a lost command is recovered in milliseconds.
        let _ = da.set_timeout(&mut r.stack.xpt, Duration::from_millis(20));
        das.push(da);
    }
    let sa = if sc.tape {
        SaHandle::for_device(&r.stack.xpt, r.addr(u32::from(TAPE_ID)))
    } else {
        None
    };
    let cd = if sc.cdrom {
        let Some(cd) = CdHandle::for_device(&r.stack.xpt, r.addr(u32::from(CD_ID))) else {
            rep.violations.push("CD-ROM not found by the scan".into());
            return rep;
        };
        let io = cd
            .read_capacity(&mut r.stack.xpt)
            .expect("cd read capacity");
        match r.stack.wait(io, Duration::from_millis(100)) {
            Ok(res) if res.is_ok() => {}
            other => {
                rep.violations
                    .push(format!("CD-ROM READ CAPACITY: {other:?}"));
                return rep;
            }
        }
        Some(cd)
    } else {
        None
    };
    // Faults go live only now: scan and capacity were clean.
    for (d, (_, f)) in sc.disks.iter().enumerate() {
        r.target(d as u8, |t| t.set_faults(f));
    }
    let now = r.cycles();
    if !sc.resets_at_ns.is_empty() {
        let at: Vec<u64> = sc.resets_at_ns.iter().map(|n| now + n / 10).collect();
        r.model(|m| m.bus().expect("bus").add(ResetInjector::new(at)));
    }
    let c0 = r.cycles();
    {
        let t0 = r.model(|m| m.time_ns());
        r.stack.with_transport(|t| {
            for (at, f) in &sc.transport {
                t.plan(t0 + at, *f);
            }
        });
    }
    for (_, f) in &sc.transport {
        *rep.planned.entry(f.class()).or_default() += 1;
    }
    // Raw reads in the order the campaign submitted them, per disk: (LBA, tag).
    let mut issued: Vec<Vec<(u64, TagAction)>> = vec![Vec::new(); nd];
    let mut books = Books {
        shadow: (0..nd)
            .map(|_| vec![Some(vec![0u8; 512]); DISK_BLOCKS as usize])
            .collect(),
        busy: (0..nd).map(|_| vec![0; DISK_BLOCKS as usize]).collect(),
        tape_written: Vec::new(),
    };
    let mut pending: Vec<Pending> = Vec::new();
    let limit = ops.unwrap_or(sc.ops.len()).min(sc.ops.len());
    // Long enough for a BUSY retry delay (1 s) and a recovery ladder.
    let wait = Duration::from_millis(1500);
    macro_rules! violation {
        ($($t:tt)*) => { rep.violations.push(format!($($t)*)) };
    }
    let raw_done: RawDone = Rc::new(RefCell::new(Vec::new()));
    let finish = |r: &mut Rig, p: Pending, rep: &mut SeedReport, books: &mut Books| {
        match p {
            Pending::Da {
                io,
                d,
                lba,
                blocks,
                write,
                gone,
            } => {
                let res = match r.stack.wait(io, wait) {
                    Ok(res) => res,
                    Err(e) => {
                        let x = &r.stack.xpt;
                        let rp = r.stack.report();
                        rep.violations.push(format!(
                            "request {io:?} on disk {d} never completed: {e} (SIM queue frozen {}, device queue frozen {}, XPT outstanding {}, SIM outstanding {}, SIM dead {})",
                            x.simq_frozen(r.stack.bus),
                            x.devq_frozen(r.addr(d as u32)),
                            x.outstanding(),
                            rp.outstanding,
                            rp.dead
                        ));
                        return;
                    }
                };
                for b in lba..lba + blocks {
                    books.busy[d][b as usize] -= 1;
                }
                if !res.is_ok() {
                    rep.failed += 1;
                } else if gone {
                    rep.violations.push(format!(
                        "request {io:?} on disk {d} submitted after the card was removed succeeded"
                    ));
                }
                match write {
                    Some(data) => {
                        for (k, b) in (lba..lba + blocks).enumerate() {
                            books.shadow[d][b as usize] = if res.is_ok() {
                                Some(data[k * 512..][..512].to_vec())
                            } else {
                                None
                            };
                        }
                    }
                    None if res.is_ok() => {
                        if res.data.len() != (blocks * 512) as usize {
                            rep.violations.push(format!(
                                "disk {d} read {lba}+{blocks}: {} bytes",
                                res.data.len()
                            ));
                            return;
                        }
                        for (k, b) in (lba..lba + blocks).enumerate() {
                            if let Some(want) = &books.shadow[d][b as usize] {
                                if &res.data[k * 512..][..512] != want.as_slice() {
                                    rep.violations.push(format!(
                                        "disk {d} block {b}: read GOOD with wrong data (tag {:x?})",
                                        &res.data[k * 512..][..8]
                                    ));
                                    return;
                                }
                            }
                        }
                    }
                    None => {}
                }
            }
            Pending::Tape { io, data } => match r.stack.wait(io, wait) {
                Ok(res) if res.is_ok() => books.tape_written.push(data),
                Ok(_) => rep.failed += 1,
                Err(e) => rep
                    .violations
                    .push(format!("tape write never completed: {e}")),
            },
            Pending::Cd {
                io,
                lba,
                blocks,
                gone,
            } => match r.stack.wait(io, wait) {
                Ok(res) if res.is_ok() => {
                    if gone {
                        rep.violations.push(format!(
                            "CD read {io:?} submitted after the card was removed succeeded"
                        ));
                    }
                    // The disc's pattern: bytes 0..8 of each block its LBA, then 0xCD.
                    let want: Vec<u8> = (lba..lba + blocks)
                        .flat_map(|b| {
                            let mut v = vec![0xCDu8; 2048];
                            v[..8].copy_from_slice(&b.to_be_bytes());
                            v
                        })
                        .collect();
                    if res.data != want {
                        rep.violations.push(format!(
                            "CD read {lba}+{blocks}: GOOD with wrong data ({} bytes)",
                            res.data.len()
                        ));
                    }
                }
                Ok(_) => rep.failed += 1,
                Err(e) => rep.violations.push(format!("CD read never completed: {e}")),
            },
            Pending::Raw {
                id,
                d,
                lba,
                gone,
                aborted,
            } => {
                let Some(c) = wait_raw(r, id, &raw_done, wait) else {
                    rep.violations
                        .push(format!("raw CCB {id:?} never completed"));
                    return;
                };
                books.busy[d][lba as usize] -= 1;
                // After a removal: CAM_NO_HBA, or CAM_REQ_ABORTED when our XPT_ABORT took
                // it off the queue before it reached the SIM (seed 1010).
                let st = c.h.status.status();
                if gone && st != CamStatus::NoHba && !(aborted && st == CamStatus::ReqAborted) {
                    rep.violations.push(format!(
                        "raw CCB {id:?} submitted after the card was removed ended {:?}, not CAM_NO_HBA",
                        c.h.status
                    ));
                }
                if !c.h.status.is_ok() {
                    rep.failed += 1;
                } else if let (CcbBody::ScsiIo(io), Some(want)) =
                    (&c.body, &books.shadow[d][lba as usize])
                {
                    if let DataXfer::In(b) = &io.data {
                        if &b.to_vec() != want {
                            rep.violations.push(format!(
                                "disk {d} block {lba}: raw read GOOD with wrong data"
                            ));
                        }
                    }
                }
            }
            Pending::Mgmt { id } => {
                if wait_raw(r, id, &raw_done, wait).is_none() {
                    rep.violations
                        .push(format!("management CCB {id:?} never completed"));
                }
            }
            Pending::Inquiry { id, d, gone } => {
                let Some(c) = wait_raw(r, id, &raw_done, wait) else {
                    rep.violations
                        .push(format!("INQUIRY {id:?} never completed"));
                    return;
                };
                let st = c.h.status.status();
                if gone && st != CamStatus::NoHba {
                    rep.violations.push(format!(
                        "INQUIRY {id:?} submitted after the card was removed ended {:?}, not CAM_NO_HBA",
                        c.h.status
                    ));
                }
                if !c.h.status.is_ok() {
                    rep.failed += 1;
                } else if let Some(io) = c.scsiio() {
                    let got = InquiryData::parse(&io.data_in()).ok();
                    if got.is_none() || got != inq_seen[d] {
                        rep.violations.push(format!(
                            "disk {d}: INQUIRY GOOD with other data than the scan's: {got:?}"
                        ));
                    }
                }
            }
        }
    };
    for (i, op) in sc.ops.iter().take(limit).enumerate() {
        let gone = r.stack.with_transport(|t| t.removed());
        // Keep a few requests in flight; wait for the oldest beyond that.
        while pending.len() >= 6 {
            let p = pending.remove(0);
            finish(&mut r, p, &mut rep, &mut books);
        }
        match op {
            Op::Write { d, lba, blocks } | Op::Read { d, lba, blocks } => {
                let (d, lba, blocks) = (*d, *lba, *blocks);
                while (lba..lba + blocks).any(|b| books.busy[d][b as usize] > 0)
                    && !pending.is_empty()
                {
                    let p = pending.remove(0);
                    finish(&mut r, p, &mut rep, &mut books);
                }
                for b in lba..lba + blocks {
                    books.busy[d][b as usize] += 1;
                }
                rep.commands += 1;
                let write = matches!(op, Op::Write { .. })
                    .then(|| tagged(sc.seed, i, (blocks * 512) as usize));
                let io = match &write {
                    Some(data) => das[d].write(&mut r.stack.xpt, lba, data.clone()),
                    None => das[d].read(&mut r.stack.xpt, lba, blocks),
                };
                match io {
                    Ok(io) => pending.push(Pending::Da {
                        io,
                        d,
                        lba,
                        blocks,
                        write,
                        gone,
                    }),
                    Err(e) => {
                        // The periph was invalidated (a device lost after faults).
                        for b in lba..lba + blocks {
                            books.busy[d][b as usize] -= 1;
                        }
                        rep.failed += 1;
                        let _ = e;
                    }
                }
            }
            Op::RawRead {
                d,
                lba,
                abort,
                timeout_us,
                tag,
            } => {
                let (d, lba) = (*d, *lba);
                while books.busy[d][lba as usize] > 0 && !pending.is_empty() {
                    let p = pending.remove(0);
                    finish(&mut r, p, &mut rep, &mut books);
                }
                books.busy[d][lba as usize] += 1;
                rep.commands += 1;
                let l = (lba as u32).to_be_bytes();
                let mut c = Ccb::scsi_io(
                    r.addr(d as u32).path(),
                    Cdb::new(&[RAW_READ, 0, l[0], l[1], l[2], l[3], 0, 0, 0, 1, 0, 0])
                        .expect("cdb"),
                    DataXfer::In(DataBuf::Single(vec![0; 512])),
                    Duration::from_micros(*timeout_us),
                );
                c.h.tag_action = *tag;
                let id = submit_raw(&mut r, c, &raw_done);
                issued[d].push((lba, *tag));
                pending.push(Pending::Raw {
                    id,
                    d,
                    lba,
                    gone,
                    aborted: *abort,
                });
                if *abort {
                    r.stack.xpt.step();
                    let ab = Ccb::new(
                        r.addr(d as u32).path(),
                        CcbBody::Abort(Abort { abort_ccb: id }),
                    );
                    let aid = submit_raw(&mut r, ab, &raw_done);
                    pending.push(Pending::Mgmt { id: aid });
                }
            }
            Op::Inquiry { d } => {
                rep.commands += 1;
                let c = Ccb::scsi_io(
                    r.addr(*d as u32).path(),
                    Cdb::new(&hba_cam::scsi_cmd::inquiry(None, 36)).expect("cdb"),
                    DataXfer::In(DataBuf::Single(vec![0; 36])),
                    Duration::from_millis(500),
                );
                let id = submit_raw(&mut r, c, &raw_done);
                pending.push(Pending::Inquiry { id, d: *d, gone });
            }
            Op::TapeWrite { len } => {
                if let Some(sa) = sa {
                    rep.commands += 1;
                    let data = tagged(sc.seed, i, *len);
                    if let Ok(io) = sa.write(&mut r.stack.xpt, data.clone()) {
                        pending.push(Pending::Tape { io, data });
                    }
                }
            }
            Op::CdRead { lba, blocks } => {
                if let Some(cd) = cd {
                    rep.commands += 1;
                    match cd.read(&mut r.stack.xpt, *lba, *blocks) {
                        Ok(io) => pending.push(Pending::Cd {
                            io,
                            lba: *lba,
                            blocks: *blocks,
                            gone,
                        }),
                        Err(_) => rep.failed += 1,
                    }
                }
            }
            Op::ResetDev { d } => {
                rep.commands += 1;
                let c = Ccb::new(r.addr(*d as u32).path(), CcbBody::ResetDev);
                let id = submit_raw(&mut r, c, &raw_done);
                pending.push(Pending::Mgmt { id });
            }
            Op::ResetBus => {
                rep.commands += 1;
                let c = Ccb::new(hba_cam::Path::bus(r.stack.bus), CcbBody::ResetBus);
                let id = submit_raw(&mut r, c, &raw_done);
                pending.push(Pending::Mgmt { id });
            }
            Op::Trap => {
                let main = hba_firmware::asm::SymbolMap::parse(hba_firmware::DEFAULT_SYMBOLS)
                    .ok()
                    .and_then(|m| m.addr_of("main"))
                    .unwrap_or(0);
                r.model(|m| {
                    let _ = m.axil_write(hba_abi::regs::SEQ_IADDR, main);
                    let _ = m.axil_write(hba_abi::regs::SEQ_IDATA, u32::MAX);
                });
            }
            Op::Drain => {
                for p in std::mem::take(&mut pending) {
                    finish(&mut r, p, &mut rep, &mut books);
                }
            }
        }
    }
    for p in std::mem::take(&mut pending) {
        finish(&mut r, p, &mut rep, &mut books);
    }
    if let Err(e) = r.stack.drain(wait) {
        violation!("not quiescent: {e}");
    }
    // Invariants at quiescence.
    let x = &r.stack.xpt;
    let s = x.stats();
    if x.outstanding() != 0 || s.submitted != s.completed {
        violation!(
            "CCBs not completed exactly once: {s:?}, {} outstanding",
            x.outstanding()
        );
    }
    if s.duplicate_io_results != 0 {
        violation!("{} requests completed twice", s.duplicate_io_results);
    }
    let spurious = x
        .log()
        .iter()
        .filter(|l| matches!(l, XptLog::SpuriousDone { .. }))
        .count();
    if spurious != 0 {
        violation!("{spurious} CCBs handed back twice by the SIM");
    }
    if s.frozen_violations != 0 {
        violation!("{} dispatches into a frozen queue", s.frozen_violations);
    }
    if x.simq_frozen(r.stack.bus) != 0 {
        violation!("SIM queue left frozen");
    }
    for d in x.devices() {
        if x.devq_frozen(d.addr) != 0 {
            violation!(
                "device queue of {} left frozen ({})",
                d.addr,
                x.devq_frozen(d.addr)
            );
        }
    }
    if x.log()
        .iter()
        .any(|l| matches!(l, XptLog::ReleaseUnderflow { .. }))
    {
        violation!("a queue release underflowed");
    }
    {
        let rp = r.stack.report();
        if rp.outstanding != 0 {
            violation!("the SIM still holds {} commands", rp.outstanding);
        }
        let c = &rp.counters;
        rep.bad_entries = c.bad_entries;
        let fired = r.stack.with_transport(|t| t.fired().clone());
        let n = |k: &str| fired.get(k).copied().unwrap_or(0);
        if n("surprise removal") > 0 && !rp.dead {
            violation!("the card was removed but the SIM did not give up on it");
        }
        let detectable = sc
            .transport
            .iter()
            .any(|(_, f)| matches!(f, TransportFault::CorruptEntry(c) if *c != Corruption::Phase));
        if detectable
            && n("corrupted completion entry") > 0
            && (c.bad_entries == 0 || c.reinits == 0)
        {
            violation!(
                "a corrupted completion entry was not refused ({} bad entries, {} re-initialisations)",
                c.bad_entries,
                c.reinits
            );
        }
        if n("DMA error") + n("DMA timeout") > 0 && c.reinits == 0 && !rp.dead {
            violation!("a failed DMA call did not re-initialise the card");
        }
        for (k, v) in fired {
            *rep.injected.entry(k).or_default() += v;
        }
        rep.rungs = [
            c.timeouts,
            c.bdrs,
            c.bus_resets.saturating_sub(1),
            c.reinits,
        ];
    }
    // ORDERED tags keep their order: in the target's service log, a raw ORDERED read
    // starts after every raw read to that disk submitted before it and before every one
    // submitted after it (the first time each started: a retry may come later). Only
    // where no target fault may requeue a command ahead of it (QUEUE FULL, BUSY, lost
    // connections): those reorder by design.
    for (d, ((cfg, faults), issued)) in sc.disks.iter().zip(&issued).enumerate() {
        let requeues = faults
            .rules
            .iter()
            .any(|f| !matches!(f.action, FaultAction::CheckCondition { .. }));
        let (service, msgs) = r.target(d as u8, |t| {
            (t.stats.service_order.clone(), t.stats.messages_in.clone())
        });
        let first = |lba: u64| {
            service.iter().position(|&(init, lun, _, op, l)| {
                init == 7 && lun == 0 && op == RAW_READ && l == lba
            })
        };
        if !requeues {
            for v in ordered_violations(&service, issued, RAW_READ) {
                violation!("disk {d}: {v}");
            }
        }
        // A tagged disk that served an ORDERED or HEAD OF QUEUE read got its message.
        if cfg.tagged {
            for (tag, code, name) in [
                (TagAction::Ordered, 0x22u8, "ORDERED QUEUE TAG"),
                (TagAction::HeadOfQueue, 0x21, "HEAD OF QUEUE TAG"),
            ] {
                let served = issued.iter().any(|&(l, t)| t == tag && first(l).is_some());
                if served && !msgs.contains(&code) {
                    violation!("disk {d}: a read tagged {name} was served without that message");
                }
            }
        }
    }
    // The media: what the books.shadow knows is there, block for block.
    for (d, sh) in books.shadow.iter().enumerate() {
        let media = r.target(d as u8, |t| {
            t.lun_mut::<Disk>(0)
                .map(|dk| dk.read_blocks(0, DISK_BLOCKS))
                .unwrap_or_default()
        });
        for (b, want) in sh.iter().enumerate() {
            if let Some(w) = want {
                if &media[b * 512..][..512] != w.as_slice() {
                    violation!("disk {d} block {b}: medium differs from what was acknowledged");
                    break;
                }
            }
        }
    }
    // The tape: every acknowledged record once, in order, nothing twice.
    if sc.tape {
        let recs: Vec<Vec<u8>> = r.target(TAPE_ID, |t| {
            t.lun_mut::<Tape>(0)
                .map(|tp| {
                    tp.medium()
                        .iter()
                        .filter_map(|x| match x {
                            Record::Data(v) => Some(v.clone()),
                            Record::Filemark => None,
                        })
                        .collect()
                })
                .unwrap_or_default()
        });
        for (k, rec) in recs.iter().enumerate() {
            if recs[..k].contains(rec) {
                violation!("tape record written twice");
            }
        }
        let acked: Vec<&Vec<u8>> = recs
            .iter()
            .filter(|x| books.tape_written.contains(x))
            .collect();
        if acked.len() != books.tape_written.len() {
            violation!(
                "tape: {} records acknowledged, {} on the medium",
                books.tape_written.len(),
                acked.len()
            );
        }
    }
    if sc.clean() && rep.failed != 0 {
        violation!("{} commands failed with no fault injected", rep.failed);
    }
    // The monitor: protocol violations by anyone count when no bus fault was injected
    // (faults such as parity or a hang are the target's own violations).
    // A card removed mid-connection leaves the bus as it was: a host-link fault counts.
    let bus_faults = sc.disks.iter().any(|(_, f)| !f.rules.is_empty())
        || !sc.resets_at_ns.is_empty()
        || !sc.transport.is_empty();
    if !bus_faults {
        let v = r.model(|m| {
            m.bus()
                .map(|b| b.monitor.violations().to_vec())
                .unwrap_or_default()
        });
        if !v.is_empty() {
            violation!("bus monitor: {:?}", &v[..v.len().min(3)]);
        }
    }
    rep.cycles = r.cycles() - c0;
    rep.wall = w0.elapsed();
    if !rep.violations.is_empty() && std::env::var_os("CAMPAIGN_TRACE").is_some() {
        let x = &r.stack.xpt;
        let xl = x.log();
        eprintln!(
            "seed {} trace\nperiph recovery {:?}\ngauntlet {:?}\nXPT stats {:?}, outstanding {}, SIM counters {:?}\nSIM log: {:#?}\nXPT log (last 30): {:#?}\nSIM queue frozen {}; device queues {:?}\nbus log:\n{}",
            sc.seed,
            (0..8).map(|p| x.periph_recovery(hba_cam::PeriphId(p))).collect::<Vec<_>>(),
            x.gauntlet(r.stack.bus).map(|g| (g.active(), g.waiting(), g.completed)),
            x.stats(),
            x.outstanding(),
            r.stack.report().counters,
            r.stack.report().log,
            &xl[xl.len().saturating_sub(30)..],
            x.simq_frozen(r.stack.bus),
            x.devices().iter().map(|d| (d.addr.target, x.devq_frozen(d.addr))).collect::<Vec<_>>(),
            r.log(
                std::env::var("CAMPAIGN_TRACE")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(60)
            )
        );
    }
    rep
}

/// The shortest workload prefix of a failing scenario that still fails (binary search
/// over prefix lengths, then one step at a time).
pub fn shrink(sc: &Scenario) -> usize {
    let mut lo = 0;
    let mut hi = sc.ops.len();
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if run(sc, Some(mid)).violations.is_empty() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// The summary table of a campaign.
pub fn table(reps: &[SeedReport]) -> String {
    Summary::of(reps).table()
}
