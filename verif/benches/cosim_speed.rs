//! Co-simulation speed of the core: idle cycles per second, and the same with an
//! AXI4-Lite read loop, measured side by side in one run.

use hba_verif::Model;
use std::time::Instant;

fn main() {
    let cycles: u64 = std::env::var("CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000_000);
    let mut m = Model::new();
    let t = Instant::now();
    m.idle(cycles);
    let idle = cycles as f64 / t.elapsed().as_secs_f64();

    let start = m.cycle();
    let t = Instant::now();
    let mut reads = 0u64;
    while m.cycle() - start < cycles / 4 {
        let _ = m.axil_read(hba_abi::regs::SCRATCH);
        reads += 1;
    }
    let busy = (m.cycle() - start) as f64 / t.elapsed().as_secs_f64();
    let (verilate, total) = hba_verif::BUILD_TIMES_MS;
    println!(
        "cosim idle:        {:>8.2} M cycles/s ({cycles} cycles)",
        idle / 1e6
    );
    println!(
        "cosim AXI reads:   {:>8.2} M cycles/s ({reads} reads)",
        busy / 1e6
    );
    println!("ratio busy/idle:   {:>8.2}", busy / idle);
    println!("model build (build script): verilate+C++ {verilate} ms, with runtime {total} ms");
}
