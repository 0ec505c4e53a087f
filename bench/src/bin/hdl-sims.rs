//! The emitted core under the simulators a user could pick instead of Verilator, on the
//! stimulus of `verif/benches/cosim_speed.rs` (reset for 4 cycles, then idle cycles, or
//! AXI4-Lite reads of SCRATCH back to back as `Model::axil_read` drives them):
//!
//! - rust-hdl's own simulator on `HbaCore::default()` (the module `make verilog` emits),
//!   `simulate()` called twice per cycle in a plain loop as `rtl/tests` do;
//! - Icarus Verilog (`iverilog`/`vvp`) on `build/hba_core.v` with `bench/iverilog/tb.v`.
//!
//! Both print the reads they completed; the counts must equal Verilator's (one read per
//! three cycles), so the three run the same stimulus. Figures go to `BENCH_JSON`.
//! Usage: `hdl-sims VERILOG_FILE TESTBENCH [CYCLES_RUSTHDL] [CYCLES_ICARUS] [REPS]`.

use hba_abi::regs;
use hba_bench::{record, Figure};
use hba_rtl::HbaCore;
use rust_hdl::prelude::*;
use std::process::Command;
use std::time::Instant;

/// Outputs sampled at clock low (before the edge), then the rising edge: the tick of
/// `Model::tick`.
fn tick(uut: &mut HbaCore) -> (bool, bool) {
    uut.clock.next = Clock { clk: false };
    assert!(simulate(uut, 200), "rust-hdl: no fixed point");
    let o = (uut.s_axil_arready.val(), uut.s_axil_rvalid.val());
    uut.clock.next = Clock { clk: true };
    assert!(simulate(uut, 200), "rust-hdl: no fixed point");
    o
}

/// Runs `cycles` idle cycles or AXI reads on rust-hdl; returns (cycles/s, reads).
fn rust_hdl(cycles: u64, axi: bool) -> (f64, u64) {
    let mut uut = HbaCore::default();
    uut.connect_all();
    uut.reset.next = true;
    for _ in 0..4 {
        tick(&mut uut);
    }
    uut.reset.next = false;
    tick(&mut uut);
    let t = Instant::now();
    let (mut n, mut reads) = (0, 0);
    while n < cycles {
        if !axi {
            tick(&mut uut);
            n += 1;
            continue;
        }
        uut.s_axil_araddr.next = (regs::SCRATCH as u64).to_bits();
        uut.s_axil_arvalid.next = true;
        uut.s_axil_rready.next = true;
        loop {
            let (arready, rvalid) = tick(&mut uut);
            n += 1;
            if arready {
                uut.s_axil_arvalid.next = false;
            }
            if rvalid {
                uut.s_axil_rready.next = false;
                reads += 1;
                break;
            }
        }
    }
    (n as f64 / t.elapsed().as_secs_f64(), reads)
}

/// Wall seconds of one `vvp` run and the reads it printed.
fn vvp(image: &str, cycles: u64, axi: bool) -> (f64, u64) {
    let mut c = Command::new("vvp");
    c.arg("-n").arg(image).arg(format!("+CYCLES={cycles}"));
    if axi {
        c.arg("+AXI");
    }
    let t = Instant::now();
    let out = c.output().expect("vvp runs (apt-get install iverilog)");
    let secs = t.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "vvp failed: {text}");
    // "cycles N reads R last X"
    let w: Vec<&str> = text.split_whitespace().collect();
    let pos = w
        .iter()
        .position(|x| *x == "reads")
        .expect("vvp printed its counts");
    (secs, w[pos + 1].parse().expect("read count"))
}

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let verilog = args.get(1).map_or("build/hba_core.v", |s| s.as_str());
    let tb = args.get(2).map_or("bench/iverilog/tb.v", |s| s.as_str());
    let rh_cycles = arg(3, 3000);
    let iv_cycles = arg(4, 3000);
    let reps = arg(5, 3).max(1);
    let table = "core alone, same emitted design and stimulus";
    let col = |w: &str| format!("{w}, M cycles/s");

    let mut rh = [Vec::new(), Vec::new()];
    for _ in 0..reps {
        for (i, axi) in [false, true].into_iter().enumerate() {
            let (rate, reads) = rust_hdl(rh_cycles, axi);
            if axi {
                // Same handshake as Model::axil_read: one read per three cycles.
                assert_eq!(reads, rh_cycles.div_ceil(3), "rust-hdl AXI reads");
            }
            rh[i].push(rate / 1e6);
        }
    }

    let image = std::env::temp_dir().join(format!("hba-bench-tb-{}.vvp", std::process::id()));
    let image_s = image.to_string_lossy().to_string();
    let st = Command::new("iverilog")
        .args(["-g2012", "-o", &image_s, "-s", "tb", tb, verilog])
        .status()
        .expect("iverilog runs (apt-get install iverilog)");
    assert!(st.success(), "iverilog could not compile {verilog}");
    // Start-up (loading and elaborating the design) is timed apart and taken off.
    let mut iv = [Vec::new(), Vec::new()];
    for _ in 0..reps {
        let (t0, _) = vvp(&image_s, 0, false);
        for (i, axi) in [false, true].into_iter().enumerate() {
            let (t, reads) = vvp(&image_s, iv_cycles, axi);
            if axi {
                assert_eq!(reads, iv_cycles.div_ceil(3), "Icarus AXI reads");
            }
            iv[i].push(iv_cycles as f64 / (t - t0).max(1e-6) / 1e6);
        }
    }
    let _ = std::fs::remove_file(&image);
    for (i, w) in ["idle", "AXI reads"].into_iter().enumerate() {
        record(
            &Figure::new(
                "cosim",
                table,
                "rust-hdl simulator (simulate() loop)",
                &col(w),
                "M cycles/s",
            )
            .values(rh[i].clone()),
        );
        record(
            &Figure::new(
                "cosim",
                table,
                "Icarus Verilog 11 (vvp)",
                &col(w),
                "M cycles/s",
            )
            .values(iv[i].clone()),
        );
    }
}
