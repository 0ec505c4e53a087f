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

    let started = Instant::now();
    let verilog = hba_rtl::verilog();
    let vfile = out_dir.join("hba_core.v");
    std::fs::write(&vfile, verilog).unwrap_or_else(|e| fail(&format!("write {vfile:?}: {e}")));

    let bin = verilator();
    let root = verilator_root(&bin);
    let mdir = out_dir.join("obj_dir");
    let _ = std::fs::remove_dir_all(&mdir);
    let jobs = std::env::var("NUM_JOBS").unwrap_or_else(|_| "2".into());
    let status = Command::new(&bin)
        .args(["--cc", "--build", "-j", &jobs])
        .arg(&vfile)
        .args(["--top-module", hba_rtl::TOP_MODULE, "--prefix", "Vhba"])
        .arg("-Mdir")
        .arg(&mdir)
        // Speed: -O3 through OPT_FAST/OPT_GLOBAL (the default -Os wins over -CFLAGS),
        // fast X handling, no threads, no -fPIC.
        .args(["-O3", "--x-assign", "fast", "--x-initial", "fast"])
        .args(["-MAKEFLAGS", "OPT_FAST=-O3 OPT_GLOBAL=-O3"])
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
