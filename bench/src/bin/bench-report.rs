//! `make bench`'s collector and report writer.
//!
//! - `bench-report mark NAME`: records the load average and the time (start and end of
//!   the run; the report gives both and the elapsed time).
//! - `bench-report rss ROW -- CMD ARGS...`: runs `CMD` under `/usr/bin/time -v` and
//!   records its peak resident memory and wall time (it must exit 0).
//! - `bench-report callgrind OUT [CYCLES]`: runs `callgrind_annotate` on a profile and
//!   records the share of instructions in each part of the stack (and per core cycle when
//!   `CYCLES` is given).
//! - `bench-report report JSONL DIR`: writes `DIR/results.json` and `DIR/REPORT.md`.
//!
//! `mark`, `rss` and `callgrind` append to `BENCH_JSON` like every benchmark.

use hba_bench::{read_lines, record, Better, Figure, Spread};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, ExitCode};

fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(f64::NAN)
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(f64::NAN)
}

fn mark(name: &str) {
    record(&Figure::new("machine", "run", name, "load average (1 min)", "").values([load1()]));
    record(&Figure::new("machine", "run", name, "unix time", "s").values([unix_now()]));
}

/// The `Maximum resident set size (kbytes)` and `Elapsed (wall clock) time` lines of
/// `/usr/bin/time -v`; `None` when either is missing or malformed.
fn parse_time_v(text: &str) -> Option<(f64, f64)> {
    let mut kb = None;
    let mut wall = None;
    for l in text.lines() {
        let l = l.trim();
        if let Some(v) = l.strip_prefix("Maximum resident set size (kbytes):") {
            kb = v.trim().parse::<f64>().ok();
        } else if let Some(v) = l.strip_prefix("Elapsed (wall clock) time (h:mm:ss or m:ss):") {
            // m:ss.ss or h:mm:ss
            let mut secs = 0.0;
            for p in v.trim().split(':') {
                secs = secs * 60.0 + p.parse::<f64>().ok()?;
            }
            wall = Some(secs);
        }
    }
    Some((kb? / 1024.0, wall?))
}

fn rss(row: &str, cmd: &[String]) -> Result<(), String> {
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .args(cmd)
        .output()
        .map_err(|e| format!("/usr/bin/time: {e} (apt-get install time)"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "{row}: {:?} failed: {}\n{}",
            cmd,
            out.status,
            err.lines().rev().take(30).collect::<Vec<_>>().join("\n")
        ));
    }
    let (mib, wall) =
        parse_time_v(&err).ok_or_else(|| format!("{row}: no /usr/bin/time -v figures"))?;
    let t = "peak resident memory (/usr/bin/time -v)";
    record(&Figure::new("memory", t, row, "peak RSS MiB", "MiB").values([mib]));
    record(&Figure::new("memory", t, row, "wall s", "s").values([wall]));
    Ok(())
}

/// Parts of the stack, matched on callgrind's `file:function` text, first match wins.
const PARTS: [(&str, &[&str]); 8] = [
    (
        "Verilator eval (the core's logic)",
        &["___024root", "Vhba", "verilated"],
    ),
    (
        "FFI (cxx bridge, C++ wrapper)",
        &["cxxbridge", "cxx::", "model.cpp", "HbaModel"],
    ),
    ("bus monitor", &["scsi_bus::monitor", "scsi_bus::log"]),
    ("bus and target models", &["scsi_bus::"]),
    ("host stack (CAM, SIM)", &["hba_cam::", "hba_host_driver::"]),
    (
        "model glue and transport (hba-verif)",
        &["hba_verif::", "stack_rates::"],
    ),
    (
        "allocator, memcpy (libc)",
        &["malloc", "free", "memcpy", "memmove", "memset", "realloc"],
    ),
    ("other", &[""]),
];

/// Sums `callgrind_annotate` self costs into [`PARTS`]; returns (part, instructions).
fn parts(annotate: &str) -> Vec<(&'static str, f64)> {
    let mut sums = vec![0.0; PARTS.len()];
    // Only the table of functions: after its "file:function" header, up to the next
    // rule or blank line (annotated source listings follow it and repeat the counts).
    let mut in_table = false;
    for l in annotate.lines() {
        if l.contains("file:function") {
            in_table = true;
            continue;
        }
        if !in_table || l.starts_with("---") {
            continue;
        }
        if l.trim().is_empty() {
            break;
        }
        let l = l.trim_start();
        let Some((num, rest)) = l.split_once(' ') else {
            continue;
        };
        let Ok(ir) = num.replace(',', "").parse::<f64>() else {
            continue;
        };
        // Lines are "IR (PCT%)  file:function [object]" or "IR  file:function".
        let rest = rest.trim_start();
        let rest = match rest.strip_prefix('(') {
            Some(r) => r.split_once(')').map_or(r, |(_, x)| x),
            None => rest,
        };
        // Match on file:function, not on the object's path.
        let rest = rest.rsplit_once(" [").map_or(rest, |(f, _)| f);
        if !rest.contains(':') {
            continue;
        }
        let i = PARTS
            .iter()
            .position(|(_, pats)| pats.iter().any(|p| rest.contains(p)))
            .expect("the last part matches everything");
        sums[i] += ir;
    }
    PARTS.iter().map(|(n, _)| *n).zip(sums).collect()
}

fn callgrind(out: &str, cycles: Option<f64>) -> Result<(), String> {
    let o = Command::new("callgrind_annotate")
        .args(["--threshold=100", "--inclusive=no", "--auto=no", out])
        .output()
        .map_err(|e| format!("callgrind_annotate: {e} (apt-get install valgrind)"))?;
    if !o.status.success() {
        return Err(format!(
            "callgrind_annotate failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&o.stdout);
    let p = parts(&text);
    let total: f64 = p.iter().map(|(_, v)| v).sum();
    if total <= 0.0 {
        return Err(format!("{out}: no instructions collected"));
    }
    let t = "where the wall time goes (callgrind, whole stack, 4 KiB reads QD8 on two disks)";
    for (name, ir) in &p {
        record(
            &Figure::new("profile", t, name, "% of instructions", "%").values([100.0 * ir / total]),
        );
        if let Some(c) = cycles {
            record(
                &Figure::new("profile", t, name, "instructions per core cycle", "")
                    .values([ir / c]),
            );
        }
    }
    record(&Figure::new("profile", t, "total", "% of instructions", "%").values([100.0]));
    if let Some(c) = cycles {
        record(
            &Figure::new("profile", t, "total", "instructions per core cycle", "")
                .values([total / c]),
        );
    }
    Ok(())
}

/// Three significant digits, no exponent for the sizes a report shows.
fn num(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let a = x.abs();
    let d = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else if a >= 0.01 {
        3
    } else {
        5
    };
    format!("{x:.d$}")
}

fn cell(s: &Spread) -> String {
    if s.n == 0 {
        "-".into()
    } else if s.n == 1 || s.min == s.max {
        num(s.median)
    } else {
        format!("{} [{}–{}]", num(s.median), num(s.min), num(s.max))
    }
}

const SECTIONS: [(&str, &str); 6] = [
    ("cosim", "1. Co-simulation speed (wall clock)"),
    ("profile", "1b. Where the wall time goes"),
    ("bus", "2. Bus efficiency (simulated time, whole stack)"),
    (
        "iops",
        "3. IOPS (simulated time, whole stack, XDMA cost model)",
    ),
    ("host", "4. Host stack cost (wall clock, one core)"),
    ("memory", "5. Memory"),
];

/// Tables of one section in first-seen order: table -> (rows, cols, cells).
type Tables<'a> = Vec<(
    &'a str,
    Vec<&'a str>,
    Vec<&'a str>,
    BTreeMap<(usize, usize), &'a Figure>,
)>;

fn tables<'a>(figs: &'a [Figure], section: &str) -> Tables<'a> {
    let mut out: Tables<'a> = Vec::new();
    for f in figs.iter().filter(|f| f.section == section) {
        let ti = match out.iter().position(|t| t.0 == f.table) {
            Some(i) => i,
            None => {
                out.push((&f.table, Vec::new(), Vec::new(), BTreeMap::new()));
                out.len() - 1
            }
        };
        let t = &mut out[ti];
        let r = t.1.iter().position(|x| *x == f.row).unwrap_or_else(|| {
            t.1.push(&f.row);
            t.1.len() - 1
        });
        let c = t.2.iter().position(|x| *x == f.col).unwrap_or_else(|| {
            t.2.push(&f.col);
            t.2.len() - 1
        });
        t.3.insert((r, c), f);
    }
    out
}

fn markdown(figs: &[Figure], head: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# make bench report\n\n{head}");
    for (sec, title) in SECTIONS {
        let _ = writeln!(s, "\n## {title}\n");
        let ts = tables(figs, sec);
        if ts.is_empty() {
            let _ = writeln!(s, "(not measured in this run)");
        }
        for (name, rows, cols, cells) in ts {
            let unit = cells.values().next().map_or("", |f| f.unit.as_str());
            let _ = writeln!(s, "**{name}** ({unit}; median [min–max] where repeated)\n");
            let _ = writeln!(s, "| | {} |", cols.join(" | "));
            let _ = writeln!(s, "|---|{}", "---|".repeat(cols.len()));
            for (ri, r) in rows.iter().enumerate() {
                let cs: Vec<String> = (0..cols.len())
                    .map(|ci| {
                        cells.get(&(ri, ci)).map_or("".into(), |f| {
                            let mut c = cell(&f.spread());
                            if let Some(e) = f.efficiency() {
                                let _ = write!(c, " ({:.0} %)", 100.0 * e);
                            }
                            c
                        })
                    })
                    .collect();
                let _ = writeln!(s, "| {r} | {} |", cs.join(" | "));
            }
            let _ = writeln!(s);
        }
    }
    let _ = writeln!(s, "\n## Largest gaps to the theoretical limits\n");
    let mut gaps: Vec<(&Figure, f64)> = figs
        .iter()
        .filter_map(|f| f.efficiency().map(|e| (f, e)))
        .collect();
    gaps.sort_by(|a, b| a.1.total_cmp(&b.1));
    if gaps.is_empty() {
        let _ = writeln!(s, "(no figure with a limit in this run)");
    }
    let _ = writeln!(
        s,
        "Figures with a limit, lowest fraction of it first (a percentage in the tables above is \
         the same fraction):\n"
    );
    for (f, e) in gaps.iter().take(8) {
        let lim = f.limit.unwrap_or(f64::NAN);
        let rel = match f.better {
            Better::Higher => "ceiling",
            Better::Lower => "floor",
        };
        let _ = writeln!(
            s,
            "- **{} / {} / {}**: {} {} against a {rel} of {} = {:.1} %.{}",
            f.table,
            f.row,
            f.col,
            num(f.spread().median),
            f.unit,
            num(lim),
            100.0 * e,
            f.why.as_ref().map_or(String::new(), |w| format!(" {w}."))
        );
    }
    s
}

/// One figure per cell: records of the same section, table, row and column (a benchmark
/// that records each repetition as it runs) pool their values, in order.
fn merge(figs: Vec<Figure>) -> Vec<Figure> {
    let mut out: Vec<Figure> = Vec::new();
    for f in figs {
        let same = |g: &&mut Figure| {
            (&g.section, &g.table, &g.row, &g.col) == (&f.section, &f.table, &f.row, &f.col)
        };
        match out.iter_mut().find(|g| same(g)) {
            Some(g) => g.values.extend(f.values),
            None => out.push(f),
        }
    }
    out
}

fn report(jsonl: &str, dir: &str) -> Result<(), String> {
    let figs = merge(read_lines(Path::new(jsonl)).map_err(|e| e.to_string())?);
    let marks: Vec<&Figure> = figs.iter().filter(|f| f.section == "machine").collect();
    let get = |row: &str, col: &str| {
        marks
            .iter()
            .rev()
            .find(|f| f.row == row && f.col == col)
            .map(|f| f.spread().median)
            .unwrap_or(f64::NAN)
    };
    let elapsed = get("end", "unix time") - get("start", "unix time");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let head = format!(
        "Written by `make bench` (`bench-report report`) from `{jsonl}`; raw figures with every \
         repetition in `results.json`. Machine: {cores} cores, load average (1 min) {} at the \
         start and {} at the end (above 1, other jobs shared the machine; each benchmark runs \
         on one core); the benchmarks took {:.0} s after the build.{} Wall-clock figures \
         (sections 1 and 4) move with that load; simulated-time figures (2, 3) and \
         instruction counts (1b) do not. A percentage after a figure is its fraction of the \
         theoretical limit.",
        num(get("start", "load average (1 min)")),
        num(get("end", "load average (1 min)")),
        elapsed,
        // BENCH_NOTE: what else ran, for the reader of a noisy run.
        std::env::var("BENCH_NOTE")
            .map(|n| format!(" {n}"))
            .unwrap_or_default(),
    );
    let md = markdown(&figs, &head);
    let out: Vec<serde_json::Value> = figs
        .iter()
        .map(|f| {
            let s = f.spread();
            let mut v = serde_json::to_value(f).expect("figure serialises");
            v["median"] = s.median.into();
            v["min"] = s.min.into();
            v["max"] = s.max.into();
            v["n"] = s.n.into();
            if let Some(e) = f.efficiency() {
                v["fraction_of_limit"] = e.into();
            }
            v
        })
        .collect();
    let json = serde_json::to_string_pretty(&serde_json::json!({ "figures": out })).expect("json");
    let d = Path::new(dir);
    std::fs::create_dir_all(d).map_err(|e| format!("{dir}: {e}"))?;
    std::fs::write(d.join("results.json"), json + "\n")
        .map_err(|e| format!("results.json: {e}"))?;
    std::fs::write(d.join("REPORT.md"), md).map_err(|e| format!("REPORT.md: {e}"))?;
    println!(
        "bench-report: wrote {dir}/REPORT.md and {dir}/results.json ({} figures)",
        figs.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    let a: Vec<String> = std::env::args().collect();
    let r = match a.get(1).map(String::as_str) {
        Some("mark") if a.len() == 3 => {
            mark(&a[2]);
            Ok(())
        }
        Some("rss") if a.len() > 4 && a[3] == "--" => rss(&a[2], &a[4..]),
        Some("callgrind") if a.len() == 3 || a.len() == 4 => {
            callgrind(&a[2], a.get(3).and_then(|c| c.parse().ok()))
        }
        Some("report") if a.len() == 4 => report(&a[2], &a[3]),
        _ => Err("usage: bench-report mark NAME | rss ROW -- CMD... | callgrind OUT [CYCLES] | report JSONL DIR".into()),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-report: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_v_lines() {
        let t = "\tMaximum resident set size (kbytes): 20480\n\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02.50\n";
        assert_eq!(parse_time_v(t), Some((20.0, 62.5)));
        assert_eq!(
            parse_time_v("Maximum resident set size (kbytes): x\n"),
            None
        );
        assert_eq!(parse_time_v(""), None);
    }

    #[test]
    fn callgrind_parts() {
        let a = "\
--------------------------------------------------------------------------------
1,000 (100.0%)  PROGRAM TOTALS

--------------------------------------------------------------------------------
Ir                    file:function
--------------------------------------------------------------------------------
600 (60.00%)  ???:Vhba___024root___ico_comb(Vhba___024root*) [/x/stack_rates]
100 (10.00%)  ???:scsi_bus::monitor::Monitor::observe [/x/stack_rates]
 50 ( 5.00%)  ???:scsi_bus::target::Target::tick [/x/stack_rates]
 40 ( 4.00%)  ???:hba_cam::xpt::Xpt::step [/x/stack_rates]
 10 ( 1.00%)  ./malloc/malloc.c:_int_malloc [/usr/lib/libc.so.6]
  5 ( 0.50%)  verif/src/model/mod.rs:hba_verif::model::Model::tick [/x/scsi_bus::fake]

--------------------------------------------------------------------------------
-- Auto-annotated source: verif/scsi-bus/src/monitor.rs
--------------------------------------------------------------------------------
900 (90.0%)      let x = scsi_bus::monitor::observe(a, b);
";
        let p: BTreeMap<&str, f64> = parts(a).into_iter().collect();
        assert_eq!(p["Verilator eval (the core's logic)"], 600.0);
        assert_eq!(p["bus monitor"], 100.0);
        assert_eq!(p["bus and target models"], 50.0);
        assert_eq!(p["host stack (CAM, SIM)"], 40.0);
        assert_eq!(p["allocator, memcpy (libc)"], 10.0);
        assert_eq!(p["model glue and transport (hba-verif)"], 5.0);
        assert_eq!(p["other"], 0.0);
    }

    #[test]
    fn repeated_records_pool_their_values() {
        let f = |col: &str, v: f64| Figure::new("iops", "t", "r", col, "IOPS").values([v]);
        let m = merge(vec![f("a", 1.0), f("b", 5.0), f("a", 3.0), f("a", 2.0)]);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].values, vec![1.0, 3.0, 2.0]);
        assert_eq!(m[0].spread().median, 2.0);
        assert_eq!(m[1].values, vec![5.0]);
    }

    #[test]
    fn tables_side_by_side_and_gaps() {
        let f = |row: &str, col: &str, v: &[f64]| {
            Figure::new("bus", "t", row, col, "MB/s").values(v.iter().copied())
        };
        let figs = vec![
            f("a", "read", &[10.0, 8.0, 12.0])
                .limit(20.0, Better::Higher)
                .why("slow"),
            f("a", "write", &[19.0]).limit(20.0, Better::Higher),
            f("b", "read", &[5.0]),
        ];
        let md = markdown(&figs, "");
        assert!(md.contains("| | read | write |"), "{md}");
        assert!(
            md.contains("| a | 10.0 [8.00–12.0] (50 %) | 19.0 (95 %) |"),
            "{md}"
        );
        assert!(md.contains("| b | 5.00 |  |"), "{md}");
        // The largest gap comes first.
        let gap = md.split("Largest gaps").nth(1).unwrap();
        assert!(
            gap.find("/ a / read").unwrap() < gap.find("/ a / write").unwrap(),
            "{md}"
        );
        assert!(gap.contains("slow"), "{md}");
    }
}
