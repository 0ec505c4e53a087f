//! The lazy edge ([`Eval::LazyEdge`], one evaluation of the combinational logic per
//! tick; through Verilator's `eval` and through the direct tick that bypasses its
//! scheduler) and the fast-forward of idle time ([`Eval::FastForward`], one clock standing
//! for many quiet cycles) against Verilator's own scheduling ([`Eval::Reference`]): each
//! scenario runs four times, once per mode, from the same seeds, and must give
//! - the same pins, cycle for cycle: a digest of every input and output pin of the core
//!   at every cycle (AXI4-Lite, BRAM port, interrupt request/acknowledge, every SCSI
//!   signal), from power-up to the end, run-length encoded so that a fast-forward clock
//!   and the cycles it stands for compare equal;
//! - the same host-visible event trace: completion entries, MSIs, register reads, data
//!   read back, CAM results and the SIM's log;
//! - the same bus monitor log (every line carries its time), and the same violations.

use hba_abi::layout::{self, hcb, mailbox};
use hba_abi::regs;
use hba_firmware::builder::{r, Program};
use hba_verif::fwrig::{disk_target, FwRig};
use hba_verif::host::{load_program, Hcb};
use hba_verif::model::{Eval, ModelOptions};
use hba_verif::rig::{pattern, rw10};
use hba_verif::simrig::{disk, SimRig};
use hba_verif::Model;
use scsi_bus::faults::{FaultAction, FaultConfig, FaultRule};
use scsi_bus::target::TargetConfig;
use scsi_bus::{Phase, Width};

/// What one run of a scenario shows.
#[derive(Debug, PartialEq)]
struct Run {
    /// Per-cycle digest of all the core's pins, as (digest, cycles) runs.
    pins: Vec<(u64, u64)>,
    /// Cycles that fast-forward clocks stood for beyond one each (not compared).
    skipped: u64,
    /// Host-visible events, in order.
    events: Vec<String>,
    /// The bus monitor's decoded log.
    bus_log: String,
    /// The monitor's violations.
    violations: String,
}

thread_local! {
    /// Where `stack_scan_io_reset` writes a trace of its middle part, if anywhere.
    static TRACE_WINDOW: std::cell::RefCell<Option<std::path::PathBuf>> =
        const { std::cell::RefCell::new(None) };
}

fn in_mode(eval: Eval, direct: bool, scenario: fn() -> Run) -> Run {
    let opts = ModelOptions {
        eval,
        record: true,
        direct,
    };
    Model::with_options(opts, scenario)
}

fn fingerprint(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn cycles(pins: &[(u64, u64)]) -> u64 {
    pins.iter().map(|r| r.1).sum()
}

/// Panics at the first cycle where the two records differ.
fn same_pins(name: &str, mode: &str, a: &[(u64, u64)], b: &[(u64, u64)]) {
    if let Some(i) = a.iter().zip(b).position(|(x, y)| x != y) {
        panic!(
            "{name}: {mode}: the pins differ first in run {i} of {}, at cycle {} (runs {:x?} / {:x?})",
            a.len(),
            cycles(&a[..i]),
            a[i],
            b[i]
        );
    }
    assert_eq!(a.len(), b.len(), "{name}: {mode}: record lengths differ");
}

fn check(name: &str, scenario: fn() -> Run) {
    if !Model::lazy_edge_available() {
        eprintln!("{name}: this build has no lazy edge; it falls back to the reference tick");
    }
    // Both scheduler patches are written for the same Verilator output: one without the
    // other means the generated scheduler changed shape (build.rs `direct_tick`).
    assert_eq!(
        Model::direct_tick_available(),
        Model::lazy_edge_available(),
        "{name}: the build has the lazy edge but not the direct tick (see its build warning)"
    );
    let a = in_mode(Eval::Reference, false, scenario);
    let total = cycles(&a.pins);
    assert!(total > 10_000, "{name}: only {total} cycles");
    assert!(!a.bus_log.is_empty() || name.starts_with("core_"));
    for (mode, eval, direct) in [
        ("lazy edge through eval", Eval::LazyEdge, false),
        ("lazy edge, direct tick", Eval::LazyEdge, true),
        ("fast-forward, direct tick", Eval::FastForward, true),
    ] {
        let b = in_mode(eval, direct, scenario);
        same_pins(name, mode, &a.pins, &b.pins);
        assert_eq!(
            a.events, b.events,
            "{name}: {mode}: host-visible events differ"
        );
        assert_eq!(a.bus_log, b.bus_log, "{name}: {mode}: bus logs differ");
        assert_eq!(
            a.violations, b.violations,
            "{name}: {mode}: monitor violations differ"
        );
        if eval == Eval::FastForward {
            // The mode must have been exercised, not just agreed with.
            assert!(b.skipped > 0, "{name}: fast-forward never skipped a cycle");
        } else {
            assert_eq!(b.skipped, 0, "{name}: {mode} skipped cycles");
        }
        eprintln!(
            "{name}: {mode}: {total} cycles ({} skipped), {} events, {} bus log lines: identical",
            b.skipped,
            a.events.len(),
            a.bus_log.lines().count()
        );
    }
}

fn fw_run(rig: &mut FwRig, mut events: Vec<String>) -> Run {
    for r in [
        regs::SEQ_STATUS,
        regs::SEQ_PC,
        regs::CNT_CYCLES,
        regs::CNT_IRQ_RAISED,
        regs::CNT_SUBMITTED,
        regs::CNT_COMPLETED,
        regs::CNT_PARITY_ERRORS,
        regs::CNT_SEL_TIMEOUTS,
        regs::IRQ_CAUSE,
    ] {
        events.push(format!("reg {r:#x} = {:#x}", rig.m.axil_read(r).unwrap()));
    }
    events.push(format!("msi {}", rig.m.msi_sent()));
    let bus = rig.bus();
    let bus_log = bus.monitor.log_text();
    let violations = format!("{:?}", bus.monitor.violations());
    Run {
        pins: rig.m.take_record(),
        skipped: rig.m.cycles_skipped(),
        events,
        bus_log,
        violations,
    }
}

/// Firmware, async narrow bus, a disk that disconnects every 1536 bytes (SAVE DATA
/// POINTER, reselection): WRITE(10) then READ(10) of 16 blocks, interrupts enabled.
fn fw_disconnects() -> Run {
    let mut c = TargetConfig::new(2);
    c.chunk = Some(1536);
    let mut rig = FwRig::new(Width::Narrow, vec![disk_target(c, 4096)]);
    rig.m.axil_write(regs::IRQ_ENABLE, 0xFFFF_FFFF).unwrap();
    let mut ev = Vec::new();
    let data = pattern(11, 16 * 512);
    rig.write_buf(layout::DATA, &data);
    let w = Hcb::new(2, 0, &rw10(0x2A, 40, 16), layout::DATA, 8192, false);
    ev.push(format!("{:x?}", rig.run(3, &w)));
    let r = Hcb::new(
        2,
        0,
        &rw10(0x28, 40, 16),
        layout::DATA + 0x10000,
        8192,
        true,
    );
    ev.push(format!("{:x?}", rig.run(4, &r)));
    let back = rig.read_buf(layout::DATA + 0x10000, 8192);
    ev.push(format!(
        "read back {:x} equal {}",
        fingerprint(&back),
        back == data
    ));
    ev.push(format!("irq {}", rig.m.take_msi()));
    fw_run(&mut rig, ev)
}

/// Firmware, wide bus, two disks at Fast-20 wide: negotiation (WDTR + SDTR), then eight
/// tagged reads queued across both in one doorbell.
fn fw_wide_fast20_tagged() -> Run {
    let mut targets = Vec::new();
    for id in [1u8, 4] {
        let mut c = TargetConfig::new(id);
        c.wide = true;
        targets.push(disk_target(c, 2048));
    }
    let mut rig = FwRig::new(Width::Wide, targets);
    for id in [1, 4] {
        rig.set_goal(id, 0x0C, 15, true);
    }
    let mut ev = Vec::new();
    let reqs: Vec<(u32, Hcb)> = (0..8u32)
        .map(|k| {
            let id = if k % 2 == 0 { 1 } else { 4 };
            let mut h = Hcb::new(
                id,
                0,
                &rw10(0x28, 8 * k, 8),
                layout::DATA + k * 0x1000,
                4096,
                true,
            );
            h.ctrl |= layout::hcb::tag::SIMPLE << hcb::ctrl::TAG_SHIFT;
            (10 + k, h)
        })
        .collect();
    rig.submit(&reqs);
    for e in rig.entries(10, 100_000_000) {
        ev.push(format!("{e:x?}"));
    }
    for id in [1, 4] {
        ev.push(format!("current {id}: {:#x}", rig.current(id)));
    }
    let back = rig.read_buf(layout::DATA, 8 * 4096);
    ev.push(format!("data {:x}", fingerprint(&back)));
    fw_run(&mut rig, ev)
}

/// Firmware error paths: a parity error injected in DATA IN (retried), a selection
/// timeout, and an abort through the mailbox of a queued command.
fn fw_errors() -> Run {
    let f = FaultConfig {
        seed: 7,
        rules: vec![FaultRule {
            opcode: Some(0x28),
            lba: None,
            lun: None,
            every_nth: None,
            first_n: Some(1),
            probability: None,
            action: FaultAction::Parity {
                phase: Phase::DataIn,
                byte: 700,
            },
        }],
        bus_reset_at_ns: vec![],
    };
    let mut c = TargetConfig::new(2);
    c.disconnect = false;
    let t = disk_target(c, 4096).with_faults(&f);
    let mut rig = FwRig::new(Width::Narrow, vec![t]);
    let mut ev = Vec::new();
    let data = pattern(5, 2048);
    rig.write_buf(layout::DATA, &data);
    let w = Hcb::new(2, 0, &rw10(0x2A, 0, 4), layout::DATA, 2048, false);
    ev.push(format!("{:x?}", rig.run(1, &w)));
    let r = Hcb::new(2, 0, &rw10(0x28, 0, 4), layout::DATA + 0x1000, 2048, true);
    ev.push(format!("{:x?}", rig.run(2, &r)));
    let nobody = Hcb::new(5, 0, &rw10(0x28, 0, 1), layout::DATA, 512, true);
    ev.push(format!("{:x?}", rig.run(3, &nobody)));
    let long = Hcb::new(2, 0, &rw10(0x28, 0, 32), layout::DATA, 16384, true);
    let b = Hcb::new(2, 0, &rw10(0x28, 100, 1), layout::DATA + 0x8000, 512, true);
    rig.submit(&[(4, long), (5, b)]);
    rig.mailbox(mailbox::word(mailbox::ABORT, 5));
    for e in rig.entries(2, 50_000_000) {
        ev.push(format!("{e:x?}"));
    }
    fw_run(&mut rig, ev)
}

/// The whole stack (CAM da → XPT → SIM → SimTransport → core → bus → two disks): scan,
/// capacity, writes and reads at QD4, a third-party bus reset in the middle.
fn stack_scan_io_reset() -> Run {
    let mut cfgs = Vec::new();
    for id in [0u8, 1] {
        let mut c = TargetConfig::new(id);
        c.access_cycles = 2_000;
        cfgs.push(disk(c, 4096));
    }
    let mut r = SimRig::new(Width::Narrow, cfgs, SimRig::cfg()).unwrap();
    let mut ev = Vec::new();
    for d in r.scan() {
        ev.push(format!("found {d:?}"));
    }
    let das = [r.da(0), r.da(1)];
    // A command lost to the reset (a target's stale reselection is aborted) is recovered
    // by its timeout inside the scenario rather than after da's default minute.
    for da in das {
        da.set_timeout(&mut r.stack.xpt, std::time::Duration::from_millis(20))
            .unwrap();
    }
    let data = pattern(21, 16 * 512);
    for (k, da) in das.iter().enumerate() {
        let io = da
            .write(&mut r.stack.xpt, k as u64 * 16, data.clone())
            .unwrap();
        ev.push(format!("write {:?}", r.wait(io).status));
    }
    // With TRACE_WINDOW set, an FST trace runs from here until two reads have completed:
    // the traced model takes the state over mid-run and hands it back.
    let trace = TRACE_WINDOW.with(|t| t.borrow().clone());
    if let Some(path) = &trace {
        r.model(|m| m.trace_to(path)).unwrap();
    }
    let at = r.cycles() + 5_000;
    r.model(|m| {
        m.bus()
            .unwrap()
            .add(scsi_bus::faults::ResetInjector::new(vec![at]))
    });
    let ios: Vec<_> = (0..4)
        .map(|k| {
            das[k % 2]
                .read(&mut r.stack.xpt, (k % 2) as u64 * 16, 16)
                .unwrap()
        })
        .collect();
    for (k, io) in ios.into_iter().enumerate() {
        let res = r.wait(io);
        ev.push(format!(
            "read {:?} {:?} data {:x}",
            res.status,
            res.sense,
            fingerprint(&res.data)
        ));
        if k == 1 && trace.is_some() {
            r.model(|m| m.end_trace());
        }
    }
    r.check(false);
    let rep = r.stack.report();
    ev.push(format!("sim log {:?}", rep.log));
    ev.push(format!("sim counters {:?}", rep.counters));
    drop(rep);
    ev.push(format!("now {:?}", r.stack.now()));
    let (pins, skipped, bus_log, violations, msi) = r.model(|m| {
        let msi = m.msi_sent();
        let pins = m.take_record();
        let skipped = m.cycles_skipped();
        let bus = m.bus().unwrap();
        (
            pins,
            skipped,
            bus.monitor.log_text(),
            format!("{:?}", bus.monitor.violations()),
            msi,
        )
    });
    ev.push(format!("msi {msi}"));
    Run {
        pins,
        skipped,
        events: ev,
        bus_log,
        violations,
    }
}

/// A run of the core without a bus.
fn core_run(m: &mut Model, events: Vec<String>) -> Run {
    Run {
        pins: m.take_record(),
        skipped: m.cycles_skipped(),
        events,
        bus_log: String::new(),
        violations: String::new(),
    }
}

/// The core without a bus: registers, the interrupt path (raise, acknowledge, clear,
/// raise again while pending), card memory by BAR window and BRAM port.
fn core_registers_and_interrupts() -> Run {
    let mut m = Model::new();
    let mut ev = Vec::new();
    for r in [regs::ID, regs::VERSION, regs::CAPS, regs::MEM_SIZE] {
        ev.push(format!("{r:#x} {:#x?}", m.axil_read(r)));
    }
    for k in 0..32 {
        m.axil_write(regs::SCRATCH, 1 << k).unwrap();
        ev.push(format!("scratch {:#x?}", m.axil_read(regs::SCRATCH)));
    }
    ev.push(format!("bad write {:?}", m.axil_write(0x3FC, 1)));
    m.axil_write(regs::IRQ_ENABLE, regs::irq::TEST).unwrap();
    for _ in 0..3 {
        m.axil_write(regs::IRQ_SET, regs::irq::TEST).unwrap();
        m.idle(40);
        ev.push(format!("req {} msi {}", m.irq_req(), m.take_msi()));
        m.axil_write(regs::IRQ_SET, regs::irq::TEST).unwrap();
        m.axil_write(regs::IRQ_CAUSE, regs::irq::TEST).unwrap();
        m.idle(40);
        ev.push(format!(
            "cause {:#x?} msi {}",
            m.axil_read(regs::IRQ_CAUSE),
            m.msi_sent()
        ));
    }
    let words: Vec<u32> = (0..256).map(|i| i * 0x0101_0101).collect();
    m.bram_write(0x4000, &words);
    let mut back = vec![0u32; 256];
    m.bram_read(0x4000, &mut back);
    ev.push(format!("bram {}", back == words));
    m.idle(20_000);
    ev.push(format!("cycles {:#x?}", m.axil_read(regs::CNT_CYCLES)));
    core_run(&mut m, ev)
}

/// The core's own deadlines while the host waits (what a fast-forward jumps to): a
/// program that arms the firmware timer with delays from 1 to 60,000 cycles, blocks in a
/// WAIT on it, and posts a completion entry each time; the interrupt moderation time
/// threshold (3,000 cycles, the count threshold out of reach) raises the interrupt, and
/// the host looks every 25,000 cycles, clearing the cause.
fn core_timers_while_waiting() -> Run {
    use hba_abi::isa::{ev, io};
    let mut m = Model::new();
    m.axil_write(regs::IRQ_MOD_COUNT, 100).unwrap();
    m.axil_write(regs::IRQ_MOD_TIME, 3_000).unwrap();
    m.axil_write(regs::IRQ_ENABLE, regs::irq::CQ).unwrap();
    let mut p = Program::new();
    for (k, delay) in [1u32, 2, 3, 7, 500, 2_999, 3_001, 17_000, 60_000, 2]
        .into_iter()
        .enumerate()
    {
        p.li(r(1), delay).out(io::TIMER, r(1));
        p.wait(r(2), ev::TIMER);
        p.outi(io::EV_CLEAR, r(3), ev::TIMER);
        p.li(r(1), k as u32).out(io::CQ_W1, r(1));
        p.out(io::CQ_POST, r(2));
    }
    p.halt();
    load_program(&mut m, &p.build().unwrap()).unwrap();
    let mut ev = Vec::new();
    for _ in 0..8 {
        m.idle(25_000);
        let cause = m.axil_read(regs::IRQ_CAUSE).unwrap();
        m.axil_write(regs::IRQ_CAUSE, cause).unwrap();
        ev.push(format!(
            "cycle {} cause {cause:#x} msi {} cq_pi {:#x?} cycles {:#x?} status {:#x?}",
            m.cycle(),
            m.take_msi(),
            m.axil_read(regs::CQ_PRODUCER),
            m.axil_read(regs::CNT_CYCLES),
            m.axil_read(regs::SEQ_STATUS)
        ));
    }
    core_run(&mut m, ev)
}

#[test]
fn all_modes_equal_reference_core_timers_while_waiting() {
    check("core_timers_while_waiting", core_timers_while_waiting);
}

#[test]
fn all_modes_equal_reference_firmware_disconnects() {
    check("fw_disconnects", fw_disconnects);
}

#[test]
fn all_modes_equal_reference_wide_fast20_tagged() {
    check("fw_wide_fast20_tagged", fw_wide_fast20_tagged);
}

#[test]
fn all_modes_equal_reference_firmware_errors() {
    check("fw_errors", fw_errors);
}

#[test]
fn all_modes_equal_reference_whole_stack() {
    check("stack_scan_io_reset", stack_scan_io_reset);
}

#[test]
fn all_modes_equal_reference_core_registers_and_interrupts() {
    check(
        "core_registers_and_interrupts",
        core_registers_and_interrupts,
    );
}

/// A trace opened and closed in the middle of a run (the traced model takes the whole
/// state over and hands it back) changes nothing: the same pins, events, bus log and
/// violations as the reference tick without a trace.
#[test]
fn a_trace_opened_and_closed_midway_changes_nothing() {
    let a = in_mode(Eval::Reference, false, stack_scan_io_reset);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("window.fst");
    TRACE_WINDOW.with(|t| *t.borrow_mut() = Some(path.clone()));
    let b = in_mode(Eval::FastForward, true, stack_scan_io_reset);
    TRACE_WINDOW.with(|t| *t.borrow_mut() = None);
    let name = "stack_scan_io_reset with a trace window";
    same_pins(name, "fast-forward, direct tick", &a.pins, &b.pins);
    assert_eq!(a.events, b.events, "{name}: host-visible events differ");
    assert_eq!(a.bus_log, b.bus_log, "{name}: bus logs differ");
    assert_eq!(a.violations, b.violations, "{name}: violations differ");
    let fst = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    assert!(fst > 1000, "{name}: the trace has {fst} bytes");
    assert!(b.skipped > 0, "{name}: fast-forward never skipped a cycle");
}
