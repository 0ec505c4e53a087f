//! Simulated throughput of the firmware: 64 KiB READ(10) and WRITE(10) at async,
//! Fast-10 and Fast-20, narrow and wide, against the nominal bus rate; and the bus
//! time per command outside the data phase. Prints a table (`--nocapture`).

use hba_abi::layout::{self, cqe::kind};
use hba_verif::fwrig::{disk_target, FwRig};
use hba_verif::host::Hcb;
use hba_verif::rig::{pattern, rw10};
use scsi_bus::target::TargetConfig;
use scsi_bus::Width;

const LEN: u32 = 64 * 1024;
const BUF: u32 = layout::DATA;

/// From the decoded log, in us: start of the last connection we made (our ARBITRATION),
/// the last BUS FREE, and the time spent in data phases between them.
fn data_phase_us(log: &str) -> (f64, f64, f64) {
    let lines: Vec<&str> = log.lines().collect();
    let t = |l: &str| -> f64 {
        l.strip_prefix("t=")
            .and_then(|r| r.split("us").next())
            .and_then(|x| x.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let first = lines
        .iter()
        .rposition(|l| l.contains("ARBITRATION won by ID7"))
        .unwrap();
    let last = lines.iter().rposition(|l| l.contains("BUS FREE")).unwrap();
    if std::env::var("FW_RATES_LOG").is_ok() {
        eprintln!(
            "first {first} {:?} last {last} {:?} of {}",
            lines[first],
            lines[last],
            lines.len()
        );
    }
    let mut data = 0.0;
    for i in first..last {
        if lines[i].contains("DATA IN") || lines[i].contains("DATA OUT") {
            data += t(lines[i + 1]) - t(lines[i]);
        }
    }
    (t(lines[first]), t(lines[last]), data)
}

struct Row {
    mode: &'static str,
    wide: bool,
    write: bool,
    total_us: f64,
    data_us: f64,
    bus_us: f64,
}

fn measure(period: u32, offset: u32, wide: bool, write: bool) -> Row {
    let id = 3u32;
    let mut c = TargetConfig::new(id as u8);
    c.wide = wide;
    c.disconnect = false;
    let width = if wide { Width::Wide } else { Width::Narrow };
    let mut rig = FwRig::new(width, vec![disk_target(c, 1024)]);
    rig.set_goal(id, period, offset, wide);
    // Warm-up command: negotiation happens here, not in the measured one.
    rig.submit(&[(1, Hcb::new(id, 0, &[0, 0, 0, 0, 0, 0], 0, 0, false))]);
    let n = if period != 0 && wide {
        3
    } else if period != 0 || wide {
        2
    } else {
        1
    };
    let es = rig.entries(n, 10_000_000);
    assert_eq!(es.last().unwrap().kind(), kind::COMPLETION, "{es:x?}");
    rig.m.idle(50_000);
    assert!(rig.host.poll(&mut rig.m).unwrap().is_none());
    let data = pattern(period + 10 * u32::from(wide), LEN as usize);
    if !write {
        rig.write_buf(BUF, &data);
        let e = rig.run(2, &Hcb::new(id, 0, &rw10(0x2A, 0, 128), BUF, LEN, false));
        assert_eq!((e.hba_status(), e.scsi_status()), (0, 0));
        rig.write_buf(BUF, &vec![0; LEN as usize]);
    } else {
        rig.write_buf(BUF, &data);
    }
    let op = if write { 0x2A } else { 0x28 };
    let t0 = rig.m.cycle();
    let h = Hcb::new(id, 0, &rw10(op, 0, 128), BUF, LEN, !write);
    rig.submit(&[(3, h)]);
    // Poll often so the measured time is the firmware's, not the poll interval's.
    let e = loop {
        if let Some(e) = rig.host.poll(&mut rig.m).unwrap() {
            break e;
        }
        rig.m.idle(20);
        assert!(rig.m.cycle() - t0 < 100_000_000, "{}", rig.diag(20));
    };
    let total_us = (rig.m.cycle() - t0) as f64 / 100.0;
    assert_eq!(
        (e.slot(), e.hba_status(), e.scsi_status(), e.residual()),
        (3, 0, 0, 0),
        "{e:x?}"
    );
    if write {
        assert_eq!(rig.disk_blocks(id as u8, 0, 128), data);
    } else {
        assert_eq!(rig.read_buf(BUF, LEN as usize), data);
    }
    rig.assert_monitor_clean();
    rig.m.idle(10_000);
    let log = rig.log(1_000_000);
    if std::env::var("FW_RATES_LOG").is_ok() {
        eprintln!("{}", rig.log(12));
    }
    let (a, b, d) = data_phase_us(&log);
    let mode = match period {
        0 => "async",
        0x19 => "Fast-10",
        _ => "Fast-20",
    };
    Row {
        mode,
        wide,
        write,
        total_us,
        data_us: d,
        bus_us: b - a,
    }
}

#[test]
fn rates_64k_reads_and_writes() {
    let mut rows = Vec::new();
    for &(p, o) in &[(0u32, 0u32), (0x19, 15), (0x0C, 15)] {
        for &wide in &[false, true] {
            for &write in &[false, true] {
                rows.push(measure(p, o, wide, write));
            }
        }
    }
    eprintln!(
        "{:8} {:6} {:5} | {:>9} {:>8} | {:>9} {:>8} | {:>7} | {:>12}",
        "mode", "width", "dir", "total us", "MB/s", "data us", "MB/s", "bus MB/s", "non-data us"
    );
    for r in &rows {
        let nominal = match (r.mode, r.wide) {
            ("async", _) => "-".to_string(),
            ("Fast-10", w) => format!("{}", if w { 20 } else { 10 }),
            (_, w) => format!("{}", if w { 40 } else { 20 }),
        };
        let mb = |us: f64| LEN as f64 / us; // bytes per us = MB/s
        eprintln!(
            "{:8} {:6} {:5} | {:9.1} {:8.2} | {:9.1} {:8.2} | {:>7} | {:12.1}",
            r.mode,
            if r.wide { "wide" } else { "narrow" },
            if r.write { "write" } else { "read" },
            r.total_us,
            mb(r.total_us),
            r.data_us,
            mb(r.data_us),
            nominal,
            r.bus_us - r.data_us
        );
    }
}
