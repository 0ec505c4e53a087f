//! The main job (`make run`, `hbactl run`): boot the co-simulated HBA on the default bus
//! (two disks, a tape and a CD-ROM on fresh image files), scan, run a verified mixed
//! workload through the `da`, `sa` and `cd` periphs, and print a summary in simulated time.

use crate::bus::{BusDesc, DEFAULT_BUS};
use crate::error::{Error, Result};
use crate::hba::{self, describe_failure, periph};
use crate::scsi::print_devlist;
use hba_cam::{CdHandle, DaHandle, IoId, SaHandle};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of the main job.
pub struct JobArgs {
    /// Work folder for images, the bus log and the trace.
    pub workdir: PathBuf,
    /// Disk operations per disk.
    pub ops: u32,
    /// FST waveform file.
    pub trace: Option<PathBuf>,
    /// Seed of the workload.
    pub seed: u64,
}

/// Small deterministic PRNG (splitmix64), so every run issues the same workload.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The main job's disc image, in the work folder.
const DISC_IMAGE: &str = "disc.iso";
/// CD-ROM block length.
const CD_BLOCK: usize = 2048;
/// Size of the disc image in blocks (512 KiB).
const DISC_BLOCKS: u64 = 256;
/// Blocks per CD-ROM read request (64 KiB).
const CD_READ_BLOCKS: u64 = 32;

/// Data of a write: deterministic from (disk, op) so a mismatch is reproducible.
fn pattern(seed: u64, n: usize) -> Vec<u8> {
    let mut r = Rng(seed);
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        v.extend_from_slice(&r.next().to_le_bytes());
    }
    v.truncate(n);
    v
}

struct Inflight {
    io: IoId,
    disk: usize,
    lba: u64,
    n: u64,
    write: bool,
}

/// Workload figures.
#[derive(Default)]
struct Tally {
    requests: u64,
    errors: u64,
    mismatches: u64,
    bytes_read: u64,
    bytes_written: u64,
}

/// Runs the main job; returns an error (exit 2) if any request failed or any byte differed.
pub fn run(a: &JobArgs) -> Result<()> {
    let wall0 = Instant::now();
    std::fs::create_dir_all(&a.workdir).map_err(|e| Error::file(&a.workdir, e))?;
    // Fresh images every run: the verification below assumes zeroed disks.
    for f in ["disk0.img", "disk1.img"] {
        let p = a.workdir.join(f);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| Error::file(&p, e))?;
        }
    }
    // The disc: a fresh image of known content, read back through `cd` and compared.
    let disc_path = a.workdir.join(DISC_IMAGE);
    let disc = pattern(a.seed ^ 0xc0de, DISC_BLOCKS as usize * CD_BLOCK);
    std::fs::write(&disc_path, &disc).map_err(|e| Error::file(&disc_path, e))?;
    let desc = BusDesc::parse(DEFAULT_BUS, "built-in bus")?;
    let built = desc.build(&a.workdir)?;
    let images = built.images.clone();
    println!("hbactl: booting the co-simulated HBA (Verilated RTL, pin-level SCSI bus)");
    let mut h = hba::open_sim(built, a.trace.as_deref())?;
    let info = h.stack.info();
    println!(
        "attached: core version {:#010x}, caps {:#x}, firmware checksum {:#010x}",
        info.version, info.caps, info.fw_checksum
    );
    let devs = h.scan()?;
    println!("scan found {} device(s):", devs.len());
    print_devlist(&devs, false);

    let mut disks = Vec::new();
    for d in &devs {
        if let Some(da) = DaHandle::for_device(&h.stack.xpt, d.addr) {
            let (_, da2, cap) = h.disk(&d.addr.target.to_string())?;
            debug_assert_eq!(da, da2);
            disks.push((d.addr.target as u8, da, cap.blocks()));
        }
    }
    let tape = devs
        .iter()
        .find_map(|d| SaHandle::for_device(&h.stack.xpt, d.addr));
    let cdrom = devs
        .iter()
        .find_map(|d| CdHandle::for_device(&h.stack.xpt, d.addr).map(|_| d.addr));
    let (Some(tape), Some(cdrom)) = (tape, cdrom) else {
        return Err(Error::Device {
            what: "scan".into(),
            detail:
                "the default bus has two disks, a tape and a CD-ROM; the scan did not find them"
                    .into(),
        });
    };
    if disks.len() != 2 {
        return Err(Error::Device {
            what: "scan".into(),
            detail: format!(
                "the default bus has two disks; the scan found {}",
                disks.len()
            ),
        });
    }
    let (_, cd, cd_cap) = h.cdrom(&cdrom.target.to_string())?;
    if cd_cap.blocks() != DISC_BLOCKS {
        return Err(Error::Device {
            what: "CD-ROM READ CAPACITY".into(),
            detail: format!(
                "{} blocks, the disc image has {DISC_BLOCKS}",
                cd_cap.blocks()
            ),
        });
    }

    let t0 = h.stack.now();
    let c0 = h.cycles();
    let w0 = Instant::now();
    let mut tally = Tally::default();
    let tape_records = 8u64;
    let cd_reads = DISC_BLOCKS.div_ceil(CD_READ_BLOCKS);
    let total = u64::from(a.ops) * disks.len() as u64 + tape_records * 2 + 2 + cd_reads;
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template(
            "{msg:12} [{bar:40}] {pos}/{len} requests, {elapsed} wall, eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_message("disks");
    let failed = |r: &hba_cam::IoResult, what: String| {
        eprintln!("hbactl: {what}: {}", describe_failure(r));
    };

    // Disks: a shadow copy of each medium; writes update it, reads are checked against
    // it. Up to 4 requests per disk in flight (tagged, so the target may reorder): a
    // request never overlaps one in flight, which keeps the expected data unambiguous.
    let mut shadow: Vec<Vec<u8>> = disks
        .iter()
        .map(|(_, _, b)| vec![0u8; (*b * 512) as usize])
        .collect();
    let mut rng = Rng(a.seed);
    let mut q: VecDeque<Inflight> = VecDeque::new();
    let mut issued = vec![0u32; disks.len()];
    let mut pending_data: Vec<(IoId, Vec<u8>)> = Vec::new();
    loop {
        let can_issue = issued.iter().any(|&n| n < a.ops);
        if !can_issue && q.is_empty() {
            break;
        }
        let mut issued_now = false;
        if can_issue && q.len() < 4 * disks.len() {
            let d = (rng.below(disks.len() as u64)) as usize;
            let d = if issued[d] < a.ops { d } else { 1 - d };
            let (_, da, blocks) = disks[d];
            // Sizes from 1 block to 64 KiB; a third of the requests are large.
            let n = if rng.below(3) == 0 {
                32 + rng.below(97)
            } else {
                1 + rng.below(16)
            };
            let n = n.min(128);
            // Reads of never-written blocks check the zeros of the fresh image.
            let write = rng.below(2) == 0;
            let lba = rng.below(blocks - n);
            let overlap = q
                .iter()
                .any(|f| f.disk == d && f.lba < lba + n && lba < f.lba + f.n);
            // At most 4 in flight on one disk (its tagged queue depth here).
            let busy = q.iter().filter(|f| f.disk == d).count() >= 4;
            if !overlap && !busy {
                let io = if write {
                    let data = pattern(
                        a.seed ^ (d as u64) << 32 ^ u64::from(issued[d]),
                        (n * 512) as usize,
                    );
                    let io = da
                        .write(&mut h.stack.xpt, lba, data.clone())
                        .map_err(|e| periph("WRITE", e))?;
                    pending_data.push((io, data));
                    io
                } else {
                    da.read(&mut h.stack.xpt, lba, n)
                        .map_err(|e| periph("READ", e))?
                };
                q.push_back(Inflight {
                    io,
                    disk: d,
                    lba,
                    n,
                    write,
                });
                issued[d] += 1;
                tally.requests += 1;
                issued_now = true;
            }
        }
        if issued_now && q.len() < 4 * disks.len() && issued.iter().any(|&n| n < a.ops) {
            continue;
        }
        let Some(f) = q.pop_front() else { continue };
        let r = h.wait(f.io)?;
        let off = (f.lba * 512) as usize;
        let len = (f.n * 512) as usize;
        if !r.is_ok() {
            tally.errors += 1;
            failed(
                &r,
                format!(
                    "{} disk {} LBA {}+{}",
                    if f.write { "WRITE" } else { "READ" },
                    disks[f.disk].0,
                    f.lba,
                    f.n
                ),
            );
        } else if f.write {
            let i = pending_data
                .iter()
                .position(|(io, _)| *io == f.io)
                .expect("kept");
            let (_, data) = pending_data.swap_remove(i);
            shadow[f.disk][off..off + len].copy_from_slice(&data);
            tally.bytes_written += len as u64;
        } else {
            tally.bytes_read += len as u64;
            if r.data != shadow[f.disk][off..off + len] {
                tally.mismatches += 1;
                eprintln!(
                    "hbactl: READ disk {} LBA {}+{}: data differs from what was written",
                    disks[f.disk].0, f.lba, f.n
                );
            }
        }
        pb.inc(1);
    }
    for (id, da, _) in &disks {
        let io = da
            .sync_cache(&mut h.stack.xpt)
            .map_err(|e| periph("SYNCHRONIZE CACHE", e))?;
        let r = h.wait(io)?;
        tally.requests += 1;
        if !r.is_ok() {
            tally.errors += 1;
            failed(&r, format!("SYNCHRONIZE CACHE disk {id}"));
        }
        pb.inc(1);
    }

    // Tape: records of several sizes, a filemark, rewind, read back and compare.
    pb.set_message("tape");
    let sa = tape;
    let mut recs = Vec::new();
    for k in 0..tape_records {
        let len = 512 + (rng.below(24) * 1024) as usize;
        let data = pattern(a.seed ^ 0x7a9e ^ k, len);
        let io = sa
            .write(&mut h.stack.xpt, data.clone())
            .map_err(|e| periph("tape WRITE", e))?;
        let r = h.wait(io)?;
        tally.requests += 1;
        if r.is_ok() {
            tally.bytes_written += len as u64;
        } else {
            tally.errors += 1;
            failed(&r, format!("tape WRITE record {k}"));
        }
        recs.push(data);
        pb.inc(1);
    }
    for (what, io) in [
        ("WRITE FILEMARKS", sa.write_filemarks(&mut h.stack.xpt, 1)),
        ("REWIND", sa.rewind(&mut h.stack.xpt)),
    ] {
        let io = io.map_err(|e| periph(what, e))?;
        let r = h.wait(io)?;
        tally.requests += 1;
        if !r.is_ok() {
            tally.errors += 1;
            failed(&r, format!("tape {what}"));
        }
    }
    for (k, want) in recs.iter().enumerate() {
        let io = sa
            .read(&mut h.stack.xpt, 32 * 1024)
            .map_err(|e| periph("tape READ", e))?;
        let r = h.wait(io)?;
        tally.requests += 1;
        // A record shorter than asked for comes back with ILI: not an error here.
        if !r.is_ok() && !r.sense.as_ref().is_some_and(|s| s.ili) {
            tally.errors += 1;
            failed(&r, format!("tape READ record {k}"));
        } else {
            tally.bytes_read += r.data.len() as u64;
            if &r.data != want {
                tally.mismatches += 1;
                eprintln!("hbactl: tape record {k} differs from what was written");
            }
        }
        pb.inc(1);
    }
    // CD-ROM: the whole disc in 64 KiB reads (cd splits at the SIM's maxio), compared.
    pb.set_message("cd-rom");
    let mut lba = 0;
    while lba < DISC_BLOCKS {
        let n = CD_READ_BLOCKS.min(DISC_BLOCKS - lba);
        let io = cd
            .read(&mut h.stack.xpt, lba, n)
            .map_err(|e| periph("CD-ROM READ", e))?;
        let r = h.wait(io)?;
        tally.requests += 1;
        if !r.is_ok() {
            tally.errors += 1;
            failed(&r, format!("CD-ROM READ LBA {lba}+{n}"));
        } else {
            tally.bytes_read += r.data.len() as u64;
            let off = lba as usize * CD_BLOCK;
            if r.data != disc[off..off + n as usize * CD_BLOCK] {
                tally.mismatches += 1;
                eprintln!("hbactl: CD-ROM READ LBA {lba}+{n}: data differs from the disc image");
            }
        }
        lba += n;
        pb.inc(1);
    }
    pb.finish_and_clear();
    let sim = h.stack.now().0 - t0.0;
    let cycles = h.cycles() - c0;
    let wall = w0.elapsed();

    // The media themselves: every image file must equal the shadow copy.
    for (i, (id, _, _)) in disks.iter().enumerate() {
        let p = &images.iter().find(|(t, _)| t == id).expect("disk image").1;
        let on_file = std::fs::read(p).map_err(|e| Error::file(p, e))?;
        if on_file != shadow[i] {
            tally.mismatches += 1;
            eprintln!(
                "hbactl: image {} differs from the data written",
                p.display()
            );
        }
    }

    let log_path = a.workdir.join("bus.log");
    let log = h.bus_log().unwrap_or_default();
    std::fs::write(&log_path, &log).map_err(|e| Error::file(&log_path, e))?;
    let violations = h.violations();
    let counters = h.stack.report().counters.clone();
    let secs = sim as f64 / 1e9;
    let bytes = tally.bytes_read + tally.bytes_written;
    println!();
    let disk_reqs = u64::from(a.ops) * disks.len() as u64 + 2;
    println!(
        "workload: {} requests ({} disk, {} tape, {} CD-ROM) through da/sa/cd, queue depth up to 4 per disk",
        tally.requests,
        disk_reqs,
        tally.requests - disk_reqs - cd_reads,
        cd_reads
    );
    println!(
        "  errors {}, data mismatches {}, bus protocol violations {}",
        tally.errors, tally.mismatches, violations
    );
    println!(
        "  {:.2} MB read, {:.2} MB written in {:.3} ms simulated: {:.2} MB/s, {:.0} IOPS",
        tally.bytes_read as f64 / 1e6,
        tally.bytes_written as f64 / 1e6,
        secs * 1e3,
        bytes as f64 / 1e6 / secs,
        tally.requests as f64 / secs
    );
    println!(
        "  SIM: {} CCBs to the card, {} doorbells, {} interrupts, {} card-memory shortages",
        counters.submitted, counters.doorbells, counters.irqs, counters.shortages
    );
    println!(
        "co-simulation: {} core cycles in {:.1} s wall = {:.2} M cycles/s ({:.1} ms simulated per wall second); whole run {:.1} s",
        cycles,
        wall.as_secs_f64(),
        cycles as f64 / wall.as_secs_f64() / 1e6,
        secs * 1e3 / wall.as_secs_f64(),
        wall0.elapsed().as_secs_f64()
    );
    println!(
        "images: {}",
        images
            .iter()
            .map(|(_, p)| p.display().to_string())
            .chain([format!("{} (CD-ROM)", disc_path.display())])
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "decoded bus log: {} ({} lines)",
        log_path.display(),
        log.lines().count()
    );
    match &a.trace {
        Some(p) => println!("waveform (FST): {}", p.display()),
        None => println!("waveform: not written (add --trace FILE.fst)"),
    }
    h.close()?;
    if tally.errors > 0 || tally.mismatches > 0 || violations > 0 {
        return Err(Error::Device {
            what: "main job".into(),
            detail: format!(
                "{} failed requests, {} mismatches, {} protocol violations",
                tally.errors, tally.mismatches, violations
            ),
        });
    }
    println!("main job: PASS");
    Ok(())
}

/// The default work folder (`build/run` under the current directory).
pub fn default_workdir() -> PathBuf {
    Path::new("build").join("run")
}
