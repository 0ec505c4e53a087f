//! Builds the co-simulation model: rust-hdl emits the core's Verilog, Verilator turns it
//! into C++ with the speed flags of TOOLCHAIN-NOTES, and cxx_build compiles the Verilator
//! runtime and our wrapper into the crate. The model is linked statically (no -fPIC).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

fn fail(msg: &str) -> ! {
    // A build script's panic output is hard to read; say what to do instead.
    eprintln!("\nhba-verif build: {msg}\n");
    std::process::exit(1);
}

fn verilator() -> String {
    std::env::var("VERILATOR").unwrap_or_else(|_| "verilator".into())
}

fn verilator_root(bin: &str) -> PathBuf {
    if let Ok(root) = std::env::var("VERILATOR_ROOT") {
        return PathBuf::from(root);
    }
    let out = Command::new(bin)
        .arg("--getenv")
        .arg("VERILATOR_ROOT")
        .output()
        .unwrap_or_else(|e| {
            fail(&format!(
                "cannot run `{bin}` ({e}). Install Verilator: `make setup` \
                 (or `apt-get install verilator`), or set VERILATOR."
            ))
        });
    if !out.status.success() {
        fail(&format!("`{bin} --getenv VERILATOR_ROOT` failed"));
    }
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn main() {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed=cpp/model.h");
    println!("cargo:rerun-if-changed=cpp/model.cpp");
    println!("cargo:rerun-if-changed=src/model/ffi.rs");
    println!("cargo:rerun-if-env-changed=VERILATOR");
    println!("cargo:rerun-if-env-changed=VERILATOR_ROOT");
    println!("cargo:rustc-check-cfg=cfg(hba_lazy_edge)");

    let started = Instant::now();
    let verilog = hba_rtl::verilog();
    let vfile = out_dir.join("hba_core.v");
    std::fs::write(&vfile, verilog).unwrap_or_else(|e| fail(&format!("write {vfile:?}: {e}")));

    let bin = verilator();
    let root = verilator_root(&bin);
    let mdir = out_dir.join("obj_dir");
    let _ = std::fs::remove_dir_all(&mdir);
    let jobs = std::env::var("NUM_JOBS").unwrap_or_else(|_| "2".into());
    // Verilate (C++ only), patch the scheduler for the lazy edge, then compile with make.
    let status = Command::new(&bin)
        .args(["--cc"])
        .arg(&vfile)
        .args(["--top-module", hba_rtl::TOP_MODULE, "--prefix", "Vhba"])
        .arg("-Mdir")
        .arg(&mdir)
        // Speed: -O3 through OPT_FAST/OPT_GLOBAL (the default -Os wins over -CFLAGS),
        // fast X handling, no threads, no -fPIC.
        .args(["-O3", "--x-assign", "fast", "--x-initial", "fast"])
        .arg("--trace-fst")
        // rust-hdl emits 32/64-bit literals whatever the target width.
        // rust-hdl emits one combinational block per module, so a parent that feeds a
        // child and reads its outputs looks circular at block granularity (UNOPTFLAT is
        // a scheduling warning, not a loop; `make lint` runs yosys `check -assert`,
        // which fails on a real combinational loop).
        .args(["-Wno-WIDTH", "-Wno-DECLFILENAME", "-Wno-UNOPTFLAT"])
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run {bin}: {e}")));
    if !status.success() {
        fail("verilator failed on the emitted Verilog (see the output above)");
    }
    let lazy = patch_lazy_edge(&mdir);
    if lazy {
        println!("cargo:rustc-cfg=hba_lazy_edge");
    } else {
        println!(
            "cargo:warning=hba-verif: this Verilator's scheduler does not match the lazy-edge \
             patch (written for 5.006); the model runs with the reference two-eval tick"
        );
    }
    let status = Command::new("make")
        .arg("-C")
        .arg(&mdir)
        .args([
            "-f",
            "Vhba.mk",
            "-j",
            &jobs,
            "OPT_FAST=-O3",
            "OPT_GLOBAL=-O3",
        ])
        .arg(format!("VERILATOR_ROOT={}", root.display()))
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run make: {e}")));
    if !status.success() {
        fail("compiling the Verilated model failed (see the output above)");
    }
    let verilated_ms = started.elapsed().as_millis();

    // Cargo links archives named lib<name>.a.
    let archive = mdir.join("Vhba__ALL.a");
    let lib = mdir.join("libvhba.a");
    std::fs::copy(&archive, &lib).unwrap_or_else(|e| fail(&format!("copy {archive:?}: {e}")));
    println!("cargo:rustc-link-search=native={}", mdir.display());
    println!("cargo:rustc-link-lib=static=vhba");

    let inc = root.join("include");
    let rt = |f: &str| -> PathBuf { inc.join(f) };
    let mut b = cxx_build::bridge("src/model/ffi.rs");
    b.file("cpp/model.cpp")
        .file(rt("verilated.cpp"))
        .file(rt("verilated_threads.cpp"))
        .file(rt("verilated_fst_c.cpp"))
        .include(&mdir)
        .include(&inc)
        .include(inc.join("vltstd"))
        .define("VM_TRACE", "1")
        .define("VM_TRACE_FST", "1")
        .define("HBA_LAZY_EDGE", if lazy { "1" } else { "0" })
        .flag_if_supported("-std=c++17")
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-sign-compare")
        .flag_if_supported("-Wno-unused-variable")
        .flag_if_supported("-Wno-unused-but-set-variable")
        .flag_if_supported("-Wno-shadow")
        .opt_level(3);
    b.compile("hba_model");
    println!("cargo:rustc-link-lib=dylib=z");
    println!("cargo:rustc-link-lib=dylib=pthread");

    println!("cargo:rustc-env=HBA_VERILATE_MS={verilated_ms}");
    println!(
        "cargo:rustc-env=HBA_MODEL_BUILD_MS={}",
        started.elapsed().as_millis()
    );
}

/// The lazy edge: Verilator 5.006 evaluates the design's one combinational function
/// three times per `tick` (input region of the clock-low `eval`, input region of the
/// clock-high `eval`, and after the flip-flops update). The wrapper (`cpp/model.cpp`)
/// needs it once: settled with the new inputs before the edge. This patch gives the root
/// a flag `hba_lazy_edge`; while it is set, an `eval` runs neither the input region's
/// first pass nor the combinational function after the flip-flops, so the rising-edge
/// `eval` only updates the flip-flops (from the `$d` values settled before it). The next
/// clock-low `eval` settles everything from the new state and inputs, which is the same
/// fixed point (the logic is acyclic: yosys `check -assert` in `make lint`). Returns
/// false, leaving the files untouched, unless every pattern matched exactly once.
fn patch_lazy_edge(mdir: &std::path::Path) -> bool {
    const ICO: &str = "vlSelf->__VicoTriggered.at(0U) = (0U == vlSelf->__VicoIterCount);";
    const ICO_NEW: &str = "vlSelf->__VicoTriggered.at(0U) = ((0U == vlSelf->__VicoIterCount) \
                           & !vlSelf->hba_lazy_edge);";
    const NBA: &str =
        "if ((vlSelf->__VnbaTriggered.at(0U) | vlSelf->__VnbaTriggered.at(1U))) {\n        \
                       Vhba___024root___ico_comb__TOP__0(vlSelf);";
    const NBA_NEW: &str = "if ((vlSelf->__VnbaTriggered.at(0U) | vlSelf->__VnbaTriggered.at(1U)) \
                           & !vlSelf->hba_lazy_edge) {\n        \
                           Vhba___024root___ico_comb__TOP__0(vlSelf);";
    const HDR: &str = "class Vhba___024root final : public VerilatedModule {\n  public:\n";
    const HDR_NEW: &str = "class Vhba___024root final : public VerilatedModule {\n  public:\n    \
                           // hba-verif lazy edge (build.rs): skip combinational passes.\n    \
                           CData hba_lazy_edge = 0;\n";
    let Ok(dir) = std::fs::read_dir(mdir) else {
        return false;
    };
    let mut edits: Vec<(PathBuf, String)> = Vec::new();
    let (mut ico, mut nba, mut hdr) = (0, 0, 0);
    for e in dir.flatten() {
        let p = e.path();
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let is_dep = name.starts_with("Vhba___024root__DepSet_") && !name.contains("Slow");
        let is_hdr = name == "Vhba___024root.h";
        if !(is_dep || is_hdr) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&p) else {
            return false;
        };
        let (i, n, h) = (
            text.matches(ICO).count(),
            text.matches(NBA).count(),
            text.matches(HDR).count(),
        );
        if i + n + h == 0 {
            continue;
        }
        ico += i;
        nba += n;
        hdr += h;
        let out = text
            .replace(ICO, ICO_NEW)
            .replace(NBA, NBA_NEW)
            .replace(HDR, HDR_NEW);
        edits.push((p, out));
    }
    if (ico, nba, hdr) != (1, 1, 1) {
        return false;
    }
    for (p, out) in edits {
        std::fs::write(&p, out).unwrap_or_else(|e| fail(&format!("write {p:?}: {e}")));
    }
    true
}
