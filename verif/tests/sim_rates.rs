//! Whole-stack rates in simulated time (periph `da` → XPT → SIM → XDMA cost model → core
//! → Fast-20 bus → two disks), with the wall-clock co-simulation speed of each run. Run
//! by `make bench` (ignored in `make test`); it also checks every byte read.

use hba_verif::rig::pattern;
use hba_verif::simrig::{disk, SimRig};
use scsi_bus::target::TargetConfig;
use scsi_bus::Width;
use std::time::Instant;

fn run(qd: usize, bytes: usize, n: usize) -> (f64, f64, f64) {
    let mut cfgs = Vec::new();
    for id in [0u8, 1] {
        let mut c = TargetConfig::new(id);
        c.access_cycles = 0;
        cfgs.push(disk(c, 8192));
    }
    let mut r = SimRig::new(Width::Narrow, cfgs, SimRig::cfg()).unwrap();
    r.scan();
    let das = [r.da(0), r.da(1)];
    let blocks = (bytes / 512) as u64;
    let data = pattern(1, bytes);
    for (d, da) in das.iter().enumerate() {
        for k in 0..(qd as u64).div_ceil(2).max(1) {
            let io = da
                .write(&mut r.stack.xpt, k * blocks, data.clone())
                .unwrap();
            assert!(r.wait(io).is_ok(), "disk {d}");
        }
    }
    let t0 = r.stack.now();
    let c0 = r.cycles();
    let w0 = Instant::now();
    let mut inflight = std::collections::VecDeque::new();
    let mut issued = 0;
    let slots = (qd as u64).div_ceil(2).max(1);
    while issued < n || !inflight.is_empty() {
        while issued < n && inflight.len() < qd {
            let d = issued % 2;
            let lba = ((issued / 2) as u64 % slots) * blocks;
            inflight.push_back(das[d].read(&mut r.stack.xpt, lba, blocks).unwrap());
            issued += 1;
        }
        let io = inflight.pop_front().unwrap();
        let res = r.wait(io);
        assert!(res.is_ok(), "{:?}", res.status);
        assert_eq!(res.data, data);
    }
    let sim_s = (r.stack.now().0 - t0.0) as f64 * 1e-9;
    let wall = w0.elapsed().as_secs_f64();
    let cycles = (r.cycles() - c0) as f64;
    r.check(true);
    (
        n as f64 / sim_s,
        (n * bytes) as f64 / sim_s / 1e6,
        cycles / wall / 1e6,
    )
}

#[test]
#[ignore = "benchmark: make bench runs it"]
fn whole_stack_rates() {
    println!("| QD | size | commands/s | MB/s | co-sim M cycles/s (wall) |");
    println!("|---|---|---|---|---|");
    for (qd, bytes, n) in [
        (1, 4096, 16),
        (32, 4096, 96),
        (1, 65536, 4),
        (32, 65536, 12),
    ] {
        let (iops, mbs, speed) = run(qd, bytes, n);
        println!(
            "| {qd} | {} KiB | {iops:.0} | {mbs:.2} | {speed:.2} |",
            bytes / 1024
        );
        assert!(iops > 0.0 && mbs > 0.0);
    }
}
