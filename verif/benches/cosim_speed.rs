//! Co-simulation speed of the core, measured side by side in one run for each way of
//! running a tick ([`Eval::Reference`], the scheduling Verilator gives,
//! [`Eval::LazyEdge`], [`Eval::FastForward`], the lazy edge with idle time
//! fast-forwarded, all three through Verilator's `eval`, and the fast-forward with the
//! direct tick, [`ModelOptions::direct`], which bypasses the scheduler): idle cycles, an AXI4-Lite read loop, the firmware on a busy bus
//! (64 KiB Fast-20 READ(10)s) and the whole stack (CAM + SIM + transport + core + bus +
//! disk + monitor, 64 KiB reads at QD1). Each figure is the median of `REPS` runs
//! (default 5) with their minimum and maximum; the modes alternate run by run, each run
//! starting at the next mode, so that load from other processes and a mode's place in
//! the process fall on all.
//!
//! The `busy` workload (one run, lazy edge and fast-forward only: the reference tick
//! would take minutes) is a `da` read that the disk answers with BUSY once: the periph
//! retries after its 1 s BUSY delay, 100 M cycles of simulated idle.
//!
//! `CYCLES` sets the idle length (default 4 M; the AXI loop runs a quarter of it);
//! `MODES=reference`, `MODES=lazy`, `MODES=fast` or `MODES=direct` runs one mode only and
//! `WORKLOADS=idle,axi,fw,stack,busy,quiet` a subset (for callgrind: `REPS=1
//! CYCLES=100000 MODES=lazy WORKLOADS=idle`).

use hba_abi::layout;
use hba_verif::fwrig::{disk_target, FwRig};
use hba_verif::host::Hcb;
use hba_verif::model::{Eval, ModelOptions};
use hba_verif::rig::{pattern, rw10};
use hba_verif::simrig::{disk, SimRig};
use hba_verif::Model;
use scsi_bus::faults::{FaultAction, FaultConfig, FaultRule};
use scsi_bus::target::TargetConfig;
use scsi_bus::Width;
use std::time::Instant;

const LEN: u32 = 64 * 1024;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Core cycles per wall second of `f` (which returns the cycles it ran).
fn rate(f: impl FnOnce() -> u64) -> f64 {
    let t = Instant::now();
    let cycles = f();
    cycles as f64 / t.elapsed().as_secs_f64()
}

fn idle(cycles: u64) -> f64 {
    let mut m = Model::new();
    rate(|| {
        m.idle(cycles);
        cycles
    })
}

fn axi_reads(cycles: u64) -> f64 {
    let mut m = Model::new();
    rate(|| {
        let start = m.cycle();
        while m.cycle() - start < cycles {
            let _ = m.axil_read(hba_abi::regs::SCRATCH);
        }
        m.cycle() - start
    })
}

/// The firmware on a narrow Fast-20 bus: 64 KiB READ(10)s from a disk that does not
/// disconnect, polled every 20 cycles (the data phase keeps REQ/ACK toggling).
fn firmware_reads(n: u32) -> f64 {
    let id = 3u32;
    let mut c = TargetConfig::new(id as u8);
    c.disconnect = false;
    let mut rig = FwRig::new(Width::Narrow, vec![disk_target(c, 1024)]);
    rig.set_goal(id, 0x0C, 15, false);
    rig.submit(&[(1, Hcb::new(id, 0, &[0, 0, 0, 0, 0, 0], 0, 0, false))]);
    rig.entries(2, 10_000_000);
    let data = pattern(9, LEN as usize);
    rig.write_buf(layout::DATA, &data);
    let w = Hcb::new(id, 0, &rw10(0x2A, 0, 128), layout::DATA, LEN, false);
    assert_eq!(rig.run(2, &w).hba_status(), 0);
    let (s0, t0) = (rig.m.cycles_skipped(), rig.m.cycle());
    let r = rate(|| {
        let c0 = rig.m.cycle();
        for k in 0..n {
            let h = Hcb::new(id, 0, &rw10(0x28, 0, 128), layout::DATA, LEN, true);
            rig.submit(&[(3 + k % 8, h)]);
            let e = loop {
                if let Some(e) = rig.host.poll(&mut rig.m).unwrap() {
                    break e;
                }
                rig.m.idle(20);
            };
            assert_eq!((e.hba_status(), e.scsi_status()), (0, 0), "{e:x?}");
        }
        rig.m.cycle() - c0
    });
    let share = (rig.m.cycles_skipped() - s0) as f64 / (rig.m.cycle() - t0) as f64;
    SKIPPED.with(|s| s.borrow_mut()[0] = share);
    assert_eq!(rig.read_buf(layout::DATA, LEN as usize), data);
    rig.assert_monitor_clean();
    LAST_RECORD.with(|l| *l.borrow_mut() = rig.m.take_record());
    r
}

/// The whole stack: `da` reads of 64 KiB at QD1 from a Fast-20 disk through the SIM and
/// the XDMA cost model. Returns (cycles/s, wall ms per read).
fn stack_reads(n: usize) -> (f64, f64) {
    let mut c = TargetConfig::new(0);
    c.access_cycles = 0;
    let mut r = SimRig::new(Width::Narrow, vec![disk(c, 1024)], SimRig::cfg()).unwrap();
    r.scan();
    let da = r.da(0);
    let data = pattern(3, LEN as usize);
    let io = da.write(&mut r.stack.xpt, 0, data.clone()).unwrap();
    assert!(r.wait(io).is_ok());
    let c0 = r.cycles();
    let s0 = r.model(|m| m.cycles_skipped());
    let t = Instant::now();
    for _ in 0..n {
        let io = da.read(&mut r.stack.xpt, 0, 128).unwrap();
        let res = r.wait(io);
        assert!(res.is_ok(), "{:?}", res.status);
        assert_eq!(res.data, data);
    }
    let wall = t.elapsed().as_secs_f64();
    let cycles = (r.cycles() - c0) as f64;
    let skipped = r.model(|m| m.cycles_skipped()) - s0;
    SKIPPED.with(|s| s.borrow_mut()[1] = skipped as f64 / cycles);
    r.check(true);
    LAST_RECORD.with(|l| *l.borrow_mut() = r.model(|m| m.take_record()));
    (cycles / wall, wall * 1e3 / n as f64)
}

/// The whole stack: one `da` read of 4 KiB that the disk answers with BUSY first; the
/// periph retries after its BUSY delay (1 s). Returns (wall s, simulated s, cycles/s).
fn busy_retry() -> (f64, f64, f64) {
    let mut c = TargetConfig::new(0);
    c.access_cycles = 0;
    let mut r = SimRig::new(Width::Narrow, vec![disk(c, 1024)], SimRig::cfg()).unwrap();
    r.scan();
    let da = r.da(0);
    r.target(0, |t| {
        t.set_faults(&FaultConfig {
            seed: 1,
            // Any opcode: da reads this small with READ(6), and nothing else is issued.
            rules: vec![FaultRule {
                opcode: None,
                lba: None,
                lun: None,
                every_nth: None,
                first_n: Some(1),
                probability: None,
                action: FaultAction::Busy,
            }],
            bus_reset_at_ns: vec![],
        })
    });
    let c0 = r.cycles();
    let t = Instant::now();
    let io = da.read(&mut r.stack.xpt, 0, 8).unwrap();
    // Longer than `SimRig::wait`'s limit: the retry comes a second later.
    let res = r
        .stack
        .wait(io, std::time::Duration::from_secs(5))
        .expect("the retried read completes");
    let wall = t.elapsed().as_secs_f64();
    assert!(res.is_ok(), "{:?}", res.status);
    let cycles = (r.cycles() - c0) as f64;
    assert!(cycles >= 1e8, "no BUSY delay: {cycles} cycles");
    r.check(true);
    (wall, cycles * 1e-8, cycles / wall)
}

/// The pin record of [`firmware_reads`] (one read).
fn quiet_firmware() -> Vec<(u64, u64)> {
    let _ = firmware_reads(1);
    LAST_RECORD.with(|r| r.take())
}

/// The pin record of [`stack_reads`] (one read).
fn quiet_stack() -> Vec<(u64, u64)> {
    let _ = stack_reads(1);
    LAST_RECORD.with(|r| r.take())
}

thread_local! {
    /// Share of cycles fast-forward skipped in the last firmware and whole-stack runs.
    static SKIPPED: std::cell::RefCell<[f64; 2]> = const { std::cell::RefCell::new([0.0; 2]) };
    static LAST_RECORD: std::cell::RefCell<Vec<(u64, u64)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Median, minimum and maximum.
fn spread(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    let cycles = env("CYCLES", 4_000_000);
    let reps = env("REPS", 5).max(1) as usize;
    let only = std::env::var("MODES").unwrap_or_default();
    // (evaluation, direct tick, column): the fast-forward through Verilator's `eval`, as
    // it was, beside the same with the direct tick (the default now).
    let modes = [
        (Eval::Reference, false, "reference tick"),
        (Eval::LazyEdge, false, "lazy edge"),
        (Eval::FastForward, false, "fast-forward"),
        (Eval::FastForward, true, "fast-forward + direct tick"),
    ];
    let run_mode = |e: Eval, direct: bool| match only.as_str() {
        "reference" => e == Eval::Reference,
        "lazy" => e == Eval::LazyEdge,
        "fast" => e == Eval::FastForward && !direct,
        "direct" => e == Eval::FastForward && direct,
        _ => true,
    };
    let workloads =
        std::env::var("WORKLOADS").unwrap_or_else(|_| "idle,axi,fw,stack,busy,quiet".into());
    let on = |w: &str| workloads.split(',').any(|x| x == w);
    // [mode][workload][rep]; NaN where not run.
    let mut res = vec![vec![Vec::new(); 5]; modes.len()];
    let mut shares = Vec::new();
    for rep in 0..reps {
        // Each run starts the round at another mode: a mode's place in the process (what
        // ran before it) then falls on every mode alike.
        for k in 0..modes.len() {
            let i = (rep + k) % modes.len();
            let (eval, direct, _) = modes[i];
            let opts = ModelOptions {
                eval,
                direct,
                ..ModelOptions::default()
            };
            let skip = !run_mode(eval, direct);
            Model::with_options(opts, || {
                let nan = f64::NAN;
                let r = &mut res[i];
                r[0].push(if skip || !on("idle") {
                    nan
                } else {
                    idle(cycles)
                });
                r[1].push(if skip || !on("axi") {
                    nan
                } else {
                    axi_reads(cycles / 4)
                });
                r[2].push(if skip || !on("fw") {
                    nan
                } else {
                    firmware_reads(4)
                });
                let (s, ms) = if skip || !on("stack") {
                    (nan, nan)
                } else {
                    stack_reads(2)
                };
                if eval == Eval::FastForward && direct && !skip {
                    let [fw, st] = SKIPPED.with(|s| *s.borrow());
                    shares.push((fw, st));
                }
                r[3].push(s);
                r[4].push(ms);
            });
        }
    }
    println!(
        "co-simulation speed, M cycles/s of core time per wall second: median [min-max] of \
         {reps} runs (lazy edge built: {})",
        Model::lazy_edge_available()
    );
    let names = [
        "idle",
        "AXI reads",
        "busy: firmware 64 KiB Fast-20 reads",
        "whole stack: da 64 KiB reads QD1",
        "whole stack: wall ms per 64 KiB read",
    ];
    print!("{:40}", "");
    for (_, _, col) in &modes {
        print!(" {col:>26}");
    }
    println!(" {:>10} {:>10}", "direct/ff", "direct/ref");
    for (w, name) in names.iter().enumerate() {
        let scale = if w == 4 { 1.0 } else { 1e-6 };
        // For make bench's report (BENCH_JSON): every run of every mode.
        let unit = if w == 4 { "ms" } else { "M cycles/s" };
        let mut row = format!("{name:40}");
        let mut med = Vec::new();
        for (m, (_, _, col)) in modes.iter().enumerate() {
            let v = res[m][w].iter().map(|x| x * scale);
            let f = hba_bench::Figure::new("cosim", "Verilator (our model)", name, col, unit);
            hba_bench::record(&f.values(v));
            let (a, a0, a1) = spread(&mut res[m][w]);
            row += &format!(
                " {:>10.2} [{:>6.2}-{:>6.2}]",
                a * scale,
                a0 * scale,
                a1 * scale
            );
            med.push(a);
        }
        print!("{row}");
        // Speed-up ratios (for the wall ms row, the inverse).
        let ratio = |x: f64, y: f64| if w == 4 { y / x } else { x / y };
        println!(
            " {:>9.2}x {:>9.2}x",
            ratio(med[3], med[2]),
            ratio(med[3], med[0])
        );
    }
    if let Some((fw, st)) = shares.last() {
        println!(
            "fast-forward, share of cycles skipped (last run): firmware reads {:.1} %, whole stack {:.1} %",
            fw * 100.0,
            st * 100.0
        );
    }
    if on("busy") {
        for eval in [Eval::LazyEdge, Eval::FastForward] {
            if !run_mode(eval, eval == Eval::FastForward) {
                continue;
            }
            let opts = ModelOptions {
                eval,
                ..ModelOptions::default()
            };
            let (wall, sim, rate) = Model::with_options(opts, busy_retry);
            println!(
                "one BUSY + 1 s retry delay, {eval:?}: {wall:.2} s wall for {sim:.3} s simulated ({:.2} M cycles/s)",
                rate * 1e-6
            );
            let col = if eval == Eval::FastForward {
                "fast-forward"
            } else {
                "lazy edge"
            };
            let f = hba_bench::Figure::new(
                "cosim",
                "Verilator (our model)",
                "whole stack: one BUSY + 1 s retry, wall s",
                col,
                "s",
            );
            hba_bench::record(&f.values([wall]));
        }
    }
    if on("quiet") {
        // How much an idle fast-forward could skip at most: ticks whose pins (every input
        // and output of the core) equal the previous tick's.
        let opts = ModelOptions {
            eval: Eval::LazyEdge,
            record: true,
            ..ModelOptions::default()
        };
        for (name, pins) in [
            (
                "idle",
                Model::with_options(opts, || {
                    let mut m = Model::new();
                    m.idle(100_000);
                    m.take_record()
                }),
            ),
            (
                "busy: firmware reads",
                Model::with_options(opts, quiet_firmware),
            ),
            ("whole stack", Model::with_options(opts, quiet_stack)),
        ] {
            // Run-length encoded: a run of n cycles has n - 1 repeats.
            let ticks: u64 = pins.iter().map(|r| r.1).sum();
            let same = ticks - pins.len() as u64;
            println!(
                "pins unchanged from the previous tick, {name:22}: {:5.1} % of {ticks} ticks",
                100.0 * same as f64 / ticks.max(1) as f64,
            );
        }
    }
    let (verilate, total) = hba_verif::BUILD_TIMES_MS;
    println!("model build (build script): verilate+C++ {verilate} ms, with runtime {total} ms");
}
