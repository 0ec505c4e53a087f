//! The sequencer inside the real core (Verilator): the default image baked into the
//! bitstream, loading and reading back through registers, traps and the FATAL interrupt,
//! breakpoint and single-step as `hbactl seq` does them, the watchdog, and the register
//! paths that must work while the firmware is wedged (bus reset, soft reset).

use hba_abi::isa::{self, op, trap};
use hba_abi::layout;
use hba_abi::layout::cqe::kind;
use hba_abi::regs;
use hba_firmware::builder::{r, Program};
use hba_host_driver::seqctl;
use hba_verif::host::{load_program, Host};
use hba_verif::{Model, SimTransport};
use scsi_bus::target::disk::Disk;
use scsi_bus::target::{Target, TargetConfig};
use scsi_bus::{Bus, Width};

#[test]
fn the_default_image_is_baked_in_and_reads_back() {
    let mut t = SimTransport::with_cost(hba_verif::CostModel::FREE);
    let want = hba_firmware::default_image();
    let s = seqctl::state(&mut t).unwrap();
    assert!(s.running && !s.trapped, "{s}");
    assert_eq!(seqctl::checksum(&mut t).unwrap(), isa::checksum(&want));
    assert!(
        seqctl::state(&mut t).unwrap().running,
        "checksum keeps it running"
    );
    let back = seqctl::read_image(&mut t).unwrap();
    assert_eq!(&back[..want.len()], &want[..]);
    assert!(back[want.len()..].iter().all(|w| *w == 0));
}

#[test]
fn a_loaded_image_reads_back_and_a_wrong_checksum_is_impossible_to_miss() {
    let mut t = SimTransport::with_cost(hba_verif::CostModel::FREE);
    let img: Vec<u32> = (0..isa::IRAM_WORDS)
        .map(|i| i.wrapping_mul(0x9E37_79B9))
        .collect();
    let c = seqctl::load(&mut t, &img, false).unwrap();
    assert_eq!(c, isa::checksum(&img));
    assert_eq!(seqctl::read_image(&mut t).unwrap(), img);
    // One word changed behind the loader's back changes the hardware checksum.
    t.model().axil_write(regs::SEQ_IADDR, 17).unwrap();
    t.model().axil_write(regs::SEQ_IDATA, img[17] ^ 1).unwrap();
    assert_ne!(seqctl::checksum(&mut t).unwrap(), c);
}

#[test]
fn a_trap_halts_and_raises_fatal_with_pc_cause_and_code() {
    let mut t = SimTransport::with_cost(hba_verif::CostModel::FREE);
    t.model()
        .axil_write(regs::IRQ_ENABLE, regs::irq::FATAL)
        .unwrap();
    let mut p = Program::new();
    p.nop().nop().trap(0x42);
    seqctl::load(&mut t, &p.build().unwrap(), true).unwrap();
    t.model().idle(200);
    let s = seqctl::state(&mut t).unwrap();
    assert!(s.trapped && !s.running, "{s}");
    assert_eq!(
        (s.trap_pc(), s.trap_cause(), s.trap_code()),
        (2, trap::SOFTWARE, 0x42)
    );
    let cause = t.model().axil_read(regs::IRQ_CAUSE).unwrap();
    assert_ne!(cause & regs::irq::FATAL, 0);
    assert!(
        t.model().msi_sent() >= 1,
        "FATAL reached the interrupt line"
    );
    // The hardware posted the trap to the completion ring too.
    let mut host = Host::default();
    let e = host.poll(t.model()).unwrap().expect("a TRAP entry");
    assert_eq!(e.kind(), kind::TRAP);
    assert_eq!(e.words[3], s.trap);
    assert!(host.poll(t.model()).unwrap().is_none(), "exactly one entry");
    // RUN is ignored while trapped; a restart clears the trap.
    seqctl::run(&mut t).unwrap();
    assert!(seqctl::state(&mut t).unwrap().trapped);
    seqctl::restart(&mut t, false).unwrap();
    let s = seqctl::state(&mut t).unwrap();
    assert!(!s.trapped && s.pc == 0, "{s}");
}

/// r1 counts loop passes and is stored at scratch word 0 each pass.
fn counter() -> Program {
    let mut p = Program::new();
    p.movi(r(1), 0).movi(r(0), 0);
    p.label("loop");
    p.i(op::ADDI, r(1), r(1), 1);
    p.label("store");
    p.i(op::STW, r(1), r(0), layout::SCRATCH);
    p.jmp("loop");
    p
}

fn scratch0(t: &mut SimTransport) -> u32 {
    let mut w = [0u32];
    t.model().bram_read(layout::SCRATCH, &mut w);
    w[0]
}

#[test]
fn breakpoint_then_single_step_then_resume() {
    let mut t = SimTransport::with_cost(hba_verif::CostModel::FREE);
    t.model()
        .axil_write(regs::IRQ_ENABLE, regs::irq::HALTED)
        .unwrap();
    let p = counter();
    let store = p.addr_of("store").unwrap();
    seqctl::load(&mut t, &p.build().unwrap(), false).unwrap();
    seqctl::set_break(&mut t, Some(store)).unwrap();
    seqctl::run(&mut t).unwrap();
    t.model().idle(100);
    let s = seqctl::state(&mut t).unwrap();
    assert!(s.at_break && !s.running && s.pc == store, "{s}");
    assert_ne!(
        t.model().axil_read(regs::IRQ_CAUSE).unwrap() & regs::irq::HALTED,
        0
    );
    assert_eq!(scratch0(&mut t), 0, "stopped before the store");
    // One step executes the store and nothing else.
    let s = seqctl::step(&mut t, 1).unwrap();
    assert_eq!(s.pc, store + 1, "{s}");
    assert_eq!(scratch0(&mut t), 1);
    let s = seqctl::step(&mut t, 2).unwrap();
    assert_eq!(s.pc, store, "JMP then ADDI: {s}");
    assert_eq!(scratch0(&mut t), 1, "the store has not run again");
    // Resume: exactly one more pass before the breakpoint stops it again.
    seqctl::run(&mut t).unwrap();
    t.model().idle(100);
    let s = seqctl::state(&mut t).unwrap();
    assert!(s.at_break && s.pc == store, "{s}");
    assert_eq!(scratch0(&mut t), 2);
    // Without the breakpoint it runs on.
    seqctl::set_break(&mut t, None).unwrap();
    seqctl::run(&mut t).unwrap();
    t.model().idle(1_000);
    assert!(scratch0(&mut t) > 50);
}

#[test]
fn the_watchdog_traps_a_spinning_sequencer() {
    let mut m = Model::new();
    m.axil_write(regs::SEQ_WDOG, 1_000).unwrap();
    let mut p = Program::new();
    p.label("spin").jmp("spin");
    load_program(&mut m, &p.build().unwrap()).unwrap();
    m.idle(1_200);
    let trap_reg = m.axil_read(regs::SEQ_TRAP).unwrap();
    assert_eq!((trap_reg >> 16) & 0xFF, trap::WATCHDOG, "{trap_reg:#x}");
    assert_ne!(m.axil_read(regs::IRQ_CAUSE).unwrap() & regs::irq::FATAL, 0);
}

#[test]
fn bus_reset_and_soft_reset_work_while_the_firmware_is_wedged() {
    let mut m = Model::new();
    let mut bus = Bus::new(Width::Narrow);
    let mut tgt = Target::new(TargetConfig::new(2)).with_lun(0, Disk::memory(64));
    tgt.clear_unit_attention();
    bus.add(tgt);
    m.attach_bus(bus);
    m.axil_write(regs::SEQ_WDOG, 0).unwrap();
    let mut p = Program::new();
    p.label("spin").jmp("spin");
    load_program(&mut m, &p.build().unwrap()).unwrap();
    m.idle(500);
    assert!(m.axil_read(regs::SEQ_STATUS).unwrap() & regs::seq_status::RUNNING != 0);

    m.axil_write(regs::SCSI_CTRL, regs::scsi_ctrl::BUS_RESET)
        .unwrap();
    // RST must be on the bus for at least the hold time, then released.
    let mut rst_cycles = 0u64;
    for _ in 0..4_000 {
        m.tick();
        if m.axil_read(regs::SCSI_BUS).unwrap() & regs::scsi_bus::RST != 0 {
            rst_cycles += 1;
        }
    }
    assert!(rst_cycles > 0, "RST never seen");
    assert_eq!(
        m.axil_read(regs::SCSI_BUS).unwrap() & regs::scsi_bus::RST,
        0
    );
    assert_eq!(m.axil_read(regs::CNT_BUS_RESETS).unwrap(), 1);
    assert_ne!(
        m.axil_read(regs::IRQ_CAUSE).unwrap() & regs::irq::BUS_RESET,
        0
    );
    let v = m.bus().unwrap().monitor.violations().to_vec();
    assert!(v.is_empty(), "{v:#?}");
    assert!(
        m.bus().unwrap().monitor.log_text().contains("RESET"),
        "{}",
        m.bus().unwrap().monitor.log_text()
    );

    // Soft reset restarts the sequencer from 0 whatever it was doing.
    m.axil_write(regs::CONTROL, regs::control::SOFT_RESET)
        .unwrap();
    let pc = m.axil_read(regs::SEQ_PC).unwrap();
    assert!(pc < 4, "restarted at 0, now at {pc}");
    assert_eq!(
        m.axil_read(regs::CNT_BUS_RESETS).unwrap(),
        0,
        "counters cleared"
    );
}

fn scratch(m: &mut Model, words: usize) -> Vec<u32> {
    let mut w = vec![0u32; words];
    m.bram_read(layout::SCRATCH, &mut w);
    w
}

#[test]
fn io_ports_timer_mailbox_and_a_bad_port() {
    use hba_abi::isa::{ev, io};
    let mut m = Model::new();
    m.axil_write(regs::SCSI_ID, 6 | 0x100).unwrap();
    m.axil_write(regs::SQ_DOORBELL, 5).unwrap();
    let mut p = Program::new();
    p.movi(r(0), 0);
    p.inp(r(1), io::OWN_ID).i(op::STW, r(1), r(0), 0);
    p.inp(r(1), io::SQ_PI).i(op::STW, r(1), r(0), 4);
    p.inp(r(2), io::EVENTS).i(op::STW, r(2), r(0), 8);
    p.movi(r(1), 500).out(io::TIMER, r(1));
    p.wait(r(2), ev::TIMER).i(op::STW, r(2), r(0), 12);
    p.wait(r(2), ev::HOST)
        .inp(r(1), io::MAILBOX)
        .i(op::STW, r(1), r(0), 16);
    p.label("bad");
    p.inp(r(1), 0x7F);
    load_program(&mut m, &p.build().unwrap()).unwrap();
    let t0 = m.cycle();
    m.idle(400);
    assert_eq!(scratch(&mut m, 5)[3], 0, "TIMER fired before 500 cycles");
    m.idle(300);
    let s = scratch(&mut m, 5);
    assert_eq!(s[0], 6 | 0x100, "OWN_ID");
    assert_eq!(s[1], 5, "SQ_PI");
    assert_ne!(
        s[2] & ev::DOORBELL,
        0,
        "DOORBELL is a level while SQ_PI != SQ_CI"
    );
    assert_ne!(s[3] & ev::TIMER, 0, "TIMER in the WAIT result");
    assert!(m.cycle() - t0 >= 500);
    m.axil_write(regs::SEQ_MAILBOX, 0xCAFE).unwrap();
    m.idle(100);
    assert_eq!(scratch(&mut m, 5)[4], 0xCAFE, "MAILBOX after HOST");
    let t = m.axil_read(regs::SEQ_TRAP).unwrap();
    assert_eq!((t >> 16) & 0xFF, trap::BAD_IO, "{t:#x}");
    assert_eq!(t & 0x3FF, p.addr_of("bad").unwrap());
}

#[test]
fn a_full_completion_ring_stalls_the_poster_and_loses_nothing() {
    use hba_abi::isa::io;
    let mut m = Model::new();
    // Post 300 entries numbered in word 1; the host reads none at first.
    let mut p = Program::new();
    p.movi(r(1), 0).movi(r(3), 0);
    p.li(r(2), layout::cqe::word0(kind::COMPLETION, 0, 0, 0));
    p.label("loop");
    p.out(io::CQ_W1, r(1))
        .out(io::CQ_W2, r(3))
        .out(io::CQ_W3, r(3));
    p.out(io::CQ_POST, r(2));
    p.i(op::ADDI, r(1), r(1), 1);
    p.li(r(4), 300);
    p.brr(isa::cond::LTU, r(1), r(4), "loop");
    p.label("done");
    p.jmp("done");
    m.axil_write(regs::SEQ_WDOG, 0).unwrap();
    load_program(&mut m, &p.build().unwrap()).unwrap();
    m.idle(30_000);
    let prod = m.axil_read(regs::CQ_PRODUCER).unwrap();
    assert_eq!(prod & 0xFF, layout::CQ_ENTRIES - 1, "one slot stays free");
    assert_eq!(
        m.axil_read(regs::CNT_POSTED).unwrap(),
        layout::CQ_ENTRIES - 1
    );
    let st = m.axil_read(regs::SEQ_STATUS).unwrap();
    assert!(
        st & regs::seq_status::RUNNING != 0,
        "stalled, not trapped: {st:#x}"
    );
    let mut host = Host::default();
    let mut next = 0u32;
    let mut spins = 0;
    while next < 300 {
        match host.poll(&mut m).unwrap() {
            Some(e) => {
                assert_eq!(e.words[1], next, "entries in order, none lost");
                next += 1;
            }
            None => {
                m.idle(100);
                spins += 1;
                assert!(spins < 10_000, "stuck at {next}");
            }
        }
    }
    m.idle(1_000);
    assert!(host.poll(&mut m).unwrap().is_none());
    assert_eq!(m.axil_read(regs::CNT_POSTED).unwrap(), 300);
    assert_eq!(m.axil_read(regs::CNT_COMPLETED).unwrap(), 300);
}
