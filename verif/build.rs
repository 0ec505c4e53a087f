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
    let jobs = std::env::var("NUM_JOBS").unwrap_or_else(|_| "2".into());
    // Two models of the same Verilog: `Vhba` without tracing, which every tick runs (no
    // trace code lets Verilator keep the combinational temporaries in locals, about
    // 10 % fewer instructions), and `VhbaT` with FST tracing, which takes over from it
    // while a trace is open (`cpp/model.cpp`, a state copy generated below).
    let mdir = out_dir.join("obj_dir");
    let tdir = out_dir.join("obj_dir_trace");
    verilate(&bin, &vfile, &mdir, "Vhba", false);
    verilate(&bin, &vfile, &tdir, "VhbaT", true);
    let (lazy, direct) = patch_lazy_edge(&mdir);
    if lazy {
        println!("cargo:rustc-cfg=hba_lazy_edge");
    } else {
        println!(
            "cargo:warning=hba-verif: this Verilator's scheduler does not match the lazy-edge \
             patch (written for 5.006); the model runs with the reference two-eval tick"
        );
    }
    if lazy && !direct {
        println!(
            "cargo:warning=hba-verif: this Verilator's scheduler does not match the direct \
             tick (written for 5.006); the lazy edge ticks through `eval`"
        );
    }
    let copy = state_copy(&mdir, &tdir).unwrap_or_else(|e| fail(&e));
    let copy_h = out_dir.join("hba_state_copy.h");
    std::fs::write(&copy_h, copy).unwrap_or_else(|e| fail(&format!("write {copy_h:?}: {e}")));
    for (dir, prefix, lib) in [(&mdir, "Vhba", "vhba"), (&tdir, "VhbaT", "vhbat")] {
        let status = Command::new("make")
            .arg("-C")
            .arg(dir)
            .args([
                "-f",
                &format!("{prefix}.mk"),
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
        // Cargo links archives named lib<name>.a.
        let archive = dir.join(format!("{prefix}__ALL.a"));
        let a = dir.join(format!("lib{lib}.a"));
        std::fs::copy(&archive, &a).unwrap_or_else(|e| fail(&format!("copy {archive:?}: {e}")));
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=static={lib}");
    }
    let verilated_ms = started.elapsed().as_millis();

    let inc = root.join("include");
    let rt = |f: &str| -> PathBuf { inc.join(f) };
    let mut b = cxx_build::bridge("src/model/ffi.rs");
    b.file("cpp/model.cpp")
        .file(rt("verilated.cpp"))
        .file(rt("verilated_threads.cpp"))
        .file(rt("verilated_fst_c.cpp"))
        .include(&mdir)
        .include(&tdir)
        .include(&out_dir)
        .include(&inc)
        .include(inc.join("vltstd"))
        .define("VM_TRACE", "1")
        .define("VM_TRACE_FST", "1")
        .define("HBA_LAZY_EDGE", if lazy { "1" } else { "0" })
        .define("HBA_DIRECT_TICK", if direct { "1" } else { "0" })
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

/// Runs Verilator (C++ only) on `vfile` into `mdir` with the speed flags, as model
/// `prefix`, with FST tracing compiled in or not.
fn verilate(bin: &str, vfile: &std::path::Path, mdir: &std::path::Path, prefix: &str, trace: bool) {
    let _ = std::fs::remove_dir_all(mdir);
    let mut cmd = Command::new(bin);
    cmd.args(["--cc"])
        .arg(vfile)
        .args(["--top-module", hba_rtl::TOP_MODULE, "--prefix", prefix])
        .arg("-Mdir")
        .arg(mdir)
        // Speed: -O3 through OPT_FAST/OPT_GLOBAL (the default -Os wins over -CFLAGS),
        // fast X handling, no threads, no -fPIC.
        .args(["-O3", "--x-assign", "fast", "--x-initial", "fast"])
        // rust-hdl emits 32/64-bit literals whatever the target width.
        // rust-hdl emits one combinational block per module, so a parent that feeds a
        // child and reads its outputs looks circular at block granularity (UNOPTFLAT is
        // a scheduling warning, not a loop; `make lint` runs yosys `check -assert`,
        // which fails on a real combinational loop).
        .args(["-Wno-WIDTH", "-Wno-DECLFILENAME", "-Wno-UNOPTFLAT"]);
    if trace {
        cmd.arg("--trace-fst");
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run {bin}: {e}")));
    if !status.success() {
        fail("verilator failed on the emitted Verilog (see the output above)");
    }
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
/// (false, false), leaving the files untouched, unless every pattern matched exactly
/// once; then whether [`direct_tick`] was appended too.
fn patch_lazy_edge(mdir: &std::path::Path) -> (bool, bool) {
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
        return (false, false);
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
            return (false, false);
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
        return (false, false);
    }
    let header = edits
        .iter()
        .find(|(p, _)| p.ends_with("Vhba___024root.h"))
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    let mut direct = false;
    for (_, out) in edits.iter_mut() {
        if let Some(d) = direct_tick(out, &header) {
            *out = d;
            direct = true;
        }
    }
    for (p, out) in edits {
        std::fs::write(&p, out).unwrap_or_else(|e| fail(&format!("write {p:?}: {e}")));
    }
    (true, direct)
}

/// The scheduler functions the direct tick replaces, exactly as Verilator 5.006 writes
/// them for this design without tracing (after the lazy-edge patch): the input region runs the input
/// sequential block on its first pass and the one combinational function on every pass,
/// the active region only re-runs that function, the NBA region updates the flip-flops.
const EVAL_ICO: &str = "void Vhba___024root___eval_ico(Vhba___024root* vlSelf) {
    if (false && vlSelf) {}  // Prevent unused
    Vhba__Syms* const __restrict vlSymsp VL_ATTR_UNUSED = vlSelf->vlSymsp;
    VL_DEBUG_IF(VL_DBG_MSGF(\"+    Vhba___024root___eval_ico\\n\"); );
    // Body
    if (vlSelf->__VicoTriggered.at(0U)) {
        Vhba___024root___ico_sequent__TOP__0(vlSelf);
    }
    if ((vlSelf->__VicoTriggered.at(0U) | vlSelf->__VicoTriggered.at(1U))) {
        Vhba___024root___ico_comb__TOP__0(vlSelf);
    }
}
";
const EVAL_ACT: &str = "void Vhba___024root___eval_act(Vhba___024root* vlSelf) {
    if (false && vlSelf) {}  // Prevent unused
    Vhba__Syms* const __restrict vlSymsp VL_ATTR_UNUSED = vlSelf->vlSymsp;
    VL_DEBUG_IF(VL_DBG_MSGF(\"+    Vhba___024root___eval_act\\n\"); );
    // Body
    if (vlSelf->__VactTriggered.at(0U)) {
        Vhba___024root___ico_comb__TOP__0(vlSelf);
    }
}
";
const EVAL_NBA: &str = "void Vhba___024root___eval_nba(Vhba___024root* vlSelf) {
    if (false && vlSelf) {}  // Prevent unused
    Vhba__Syms* const __restrict vlSymsp VL_ATTR_UNUSED = vlSelf->vlSymsp;
    VL_DEBUG_IF(VL_DBG_MSGF(\"+    Vhba___024root___eval_nba\\n\"); );
    // Body
    if (vlSelf->__VnbaTriggered.at(1U)) {
        Vhba___024root___nba_sequent__TOP__0(vlSelf);
    }
    if ((vlSelf->__VnbaTriggered.at(0U) | vlSelf->__VnbaTriggered.at(1U)) & !vlSelf->hba_lazy_edge) {
        Vhba___024root___ico_comb__TOP__0(vlSelf);
    }
}
";

/// The direct tick, appended to the file that holds the scheduler (`cpp/model.cpp` calls
/// it when the lazy edge is on and no trace is open). It does what the two `eval`s of a
/// lazy tick do for this design, without the generic trigger machinery (about 500
/// instructions a tick): clock low, the input region's passes until the signals Verilator
/// cut to break rust-hdl's block-level loops stop changing (its own trigger function
/// decides); clock high, the flip-flops only. The edge and trigger bookkeeping is kept as
/// `eval` keeps it, so an ordinary `eval` may follow at any time.
const DIRECT_TICK: &str = "
// hba-verif direct tick (build.rs `direct_tick`).
void hba_direct_low(Vhba___024root* vlSelf) {
    vlSelf->clock = 0U;
    vlSelf->__VicoIterCount = 1U;
    Vhba___024root___ico_sequent__TOP__0(vlSelf);
    Vhba___024root___ico_comb__TOP__0(vlSelf);
    for (;;) {
        Vhba___024root___eval_triggers__ico(vlSelf);
        if (!vlSelf->__VicoTriggered.any()) break;
        if (VL_UNLIKELY((0x64U < vlSelf->__VicoIterCount))) {
            VL_FATAL_MT(__FILE__, __LINE__, \"\", \"Input combinational region did not converge.\");
        }
        ++vlSelf->__VicoIterCount;
        Vhba___024root___ico_comb__TOP__0(vlSelf);
    }
    vlSelf->__Vtrigrprev__TOP__clock = 0U;
}

void hba_direct_high(Vhba___024root* vlSelf) {
    vlSelf->clock = 1U;
    Vhba___024root___nba_sequent__TOP__0(vlSelf);
    vlSelf->__Vtrigrprev__TOP__clock = 1U;
}
";

/// `text` with the direct tick appended, if it is the scheduler's file and its regions
/// are exactly [`EVAL_ICO`], [`EVAL_ACT`] and [`EVAL_NBA`]; `None` leaves the file as it
/// is (the model then ticks through `eval`).
/// `header` (the root class) must name two triggers per region: the cut signals' change
/// and the clock's rising edge, nothing else.
fn direct_tick(text: &str, header: &str) -> Option<String> {
    let holds = |t: &str, s: &str| t.matches(s).count() == 1;
    let ok = [EVAL_ICO, EVAL_ACT, EVAL_NBA]
        .iter()
        .all(|s| holds(text, s))
        && holds(
            text,
            "void Vhba___024root___eval_triggers__ico(Vhba___024root* vlSelf);",
        )
        && ["__VicoTriggered", "__VactTriggered", "__VnbaTriggered"]
            .iter()
            .all(|v| holds(header, &format!("VlTriggerVec<2> {v};")))
        && holds(header, "CData/*0:0*/ __Vtrigrprev__TOP__clock;");
    ok.then(|| format!("{text}{DIRECT_TICK}"))
}

/// The members of a Verilated root class (`<prefix>___024root.h`): every signal, memory
/// and scheduler variable, by name. Pointers and the lazy-edge flag are left out.
fn root_members(header: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in header.lines() {
        let t = line.trim();
        // Ports: VL_IN8(name,msb,lsb); VL_OUT16(...); VL_IN(...); VL_OUTW(...).
        if let Some(rest) = t.strip_prefix("VL_IN").or_else(|| t.strip_prefix("VL_OUT")) {
            if let Some(open) = rest.find('(') {
                let name = rest[open + 1..].split(',').next().unwrap_or("").trim();
                out.push(name.to_string());
            }
            continue;
        }
        let is_data = [
            "CData",
            "SData",
            "IData",
            "QData",
            "VlWide<",
            "VlUnpacked<",
            "VlTriggerVec<",
        ]
        .iter()
        .any(|p| t.starts_with(p));
        if !is_data || !t.ends_with(';') || t.contains('(') || t.contains('=') {
            continue;
        }
        if let Some(name) = t.trim_end_matches(';').split_whitespace().last() {
            out.push(name.to_string());
        }
    }
    out
}

/// `hba_state_copy.h`: copies the whole state between the untraced model (`Vhba`) and the
/// traced one (`VhbaT`), both ways. Every member of the untraced root must exist in the
/// traced root (tracing only adds members: the temporaries it keeps, its activity
/// flags); the traced root's extra members are combinational temporaries, which the next
/// clock-low `eval` recomputes, and are not copied.
fn state_copy(mdir: &std::path::Path, tdir: &std::path::Path) -> Result<String, String> {
    let read = |p: PathBuf| std::fs::read_to_string(&p).map_err(|e| format!("read {p:?}: {e}"));
    let fast = root_members(&read(mdir.join("Vhba___024root.h"))?);
    let traced = root_members(&read(tdir.join("VhbaT___024root.h"))?);
    let in_traced: std::collections::HashSet<&str> = traced.iter().map(|s| s.as_str()).collect();
    let missing: Vec<&str> = fast
        .iter()
        .map(|s| s.as_str())
        .filter(|m| !in_traced.contains(m))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the untraced model has members the traced one lacks ({}); the state copy \
             between them cannot be generated",
            missing.join(", ")
        ));
    }
    if fast.len() < 100 {
        return Err(format!(
            "found only {} members in Vhba___024root.h: this Verilator writes its root class \
             in another form",
            fast.len()
        ));
    }
    let mut h = String::from(
        "// Generated by verif/build.rs (`state_copy`): the untraced and the traced model's\n\
         // whole state, copied member by member.\n#pragma once\n#include \"Vhba___024root.h\"\n\
         #include \"VhbaT___024root.h\"\n\n",
    );
    for (f, d, s) in [
        ("hba_copy_to_traced", "VhbaT___024root", "Vhba___024root"),
        ("hba_copy_to_fast", "Vhba___024root", "VhbaT___024root"),
    ] {
        h += &format!("inline void {f}({d}* d, const {s}* s) {{\n");
        for m in &fast {
            h += &format!("    d->{m} = s->{m};\n");
        }
        h += "}\n\n";
    }
    Ok(h)
}
