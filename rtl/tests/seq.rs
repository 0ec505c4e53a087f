//! Block tests of the sequencer (`hba_rtl::seq::Sequencer`) in rust-hdl's simulator.
//!
//! The harness models card memory (a word array with a random grant delay and read
//! data the cycle after the grant), a small I/O port space (a log port, a scratch
//! register, a slow port, a read-only port; anything else answers `io_err`), the event
//! word and the host's control writes. It also checks the request protocols: a memory
//! or I/O request, once raised, must stay raised and unchanged until accepted.

use hba_abi::isa::{self, cond, enc_bri, enc_brr, enc_i, enc_j, op, trap};
use hba_abi::regs::seq_ctrl;
use hba_rtl::seq::Sequencer;
use rust_hdl::prelude::*;

// ---------------------------------------------------------------------------------
// Fake I/O ports of the harness.

/// W: appended to the log. R: number of log entries.
const P_LOG: u32 = 0x30;
/// RW scratch register.
const P_SCRATCH: u32 = 0x31;
/// RW register that answers only after `SLOW_WAIT` cycles of request.
const P_SLOW: u32 = 0x32;
/// R: a constant. W: error (read-only port).
const P_RO: u32 = 0x33;
const RO_VALUE: u32 = 0xC0DE_F00D;
const SLOW_WAIT: u32 = 4;
/// A port nobody answers.
const P_NONE: u32 = 0x77;

const MEM_WORDS: usize = (hba_abi::mem::CARD_MEM_BYTES / 4) as usize;

// ---------------------------------------------------------------------------------
// Encoding helpers.

fn movi(rd: u32, imm: u32) -> u32 {
    enc_i(op::MOVI, rd, 0, imm)
}
fn movhi(rd: u32, imm: u32) -> u32 {
    enc_i(op::MOVHI, rd, 0, imm)
}
/// `rd = v` in two instructions.
fn li(rd: u32, v: u32) -> [u32; 2] {
    [movi(rd, v & 0xFFFF), movhi(rd, v >> 16)]
}
fn out(port: u32, rs: u32) -> u32 {
    enc_i(op::OUT, 0, rs, port)
}
fn inp(rd: u32, port: u32) -> u32 {
    enc_i(op::IN, rd, 0, port)
}
fn nop() -> u32 {
    enc_i(op::NOP, 0, 0, 0)
}
fn halt() -> u32 {
    enc_i(op::HALT, 0, 0, 0)
}
fn jmp(t: u32) -> u32 {
    enc_j(op::JMP, t)
}
fn call(t: u32) -> u32 {
    enc_j(op::CALL, t)
}
fn ret() -> u32 {
    enc_i(op::RET, 0, 0, 0)
}
fn wait(rd: u32, mask: u32) -> u32 {
    enc_i(op::WAIT, rd, 0, mask)
}
fn trap_i(code: u32) -> u32 {
    enc_i(op::TRAP, 0, 0, code)
}
fn mem(o: u32, rd: u32, rs: u32, imm: u32) -> u32 {
    enc_i(o, rd, rs, imm)
}

/// A tiny assembler: words plus forward labels for jump-class targets.
#[derive(Default)]
struct Asm {
    words: Vec<u32>,
    labels: std::collections::HashMap<String, u32>,
    fixups: Vec<(usize, String)>,
}

impl Asm {
    fn here(&self) -> u32 {
        self.words.len() as u32
    }
    fn emit(&mut self, w: u32) -> &mut Self {
        self.words.push(w);
        self
    }
    fn emit_all(&mut self, ws: &[u32]) -> &mut Self {
        self.words.extend_from_slice(ws);
        self
    }
    /// Emits `w` whose target field (9:0) is the address of `label`.
    fn emit_to(&mut self, w: u32, label: &str) -> &mut Self {
        self.fixups.push((self.words.len(), label.to_string()));
        self.words.push(w & !(isa::IRAM_WORDS - 1));
        self
    }
    fn label(&mut self, l: &str) -> &mut Self {
        let h = self.here();
        assert!(
            self.labels.insert(l.to_string(), h).is_none(),
            "label {l} twice"
        );
        self
    }
    fn finish(&self) -> Vec<u32> {
        let mut w = self.words.clone();
        for (at, l) in &self.fixups {
            w[*at] |= self.labels[l];
        }
        assert!(w.len() <= isa::IRAM_WORDS as usize, "program too long");
        w
    }
}

// ---------------------------------------------------------------------------------
// Reference semantics used for expectations.

fn alu_ref(o: u32, rdv: u32, rsv: u32, imm: u32) -> u32 {
    match o {
        op::ADDI => rsv.wrapping_add(imm),
        op::SUBI => rsv.wrapping_sub(imm),
        op::ANDI => rsv & imm,
        op::ORI => rsv | imm,
        op::XORI => rsv ^ imm,
        op::SHLI => rsv << (imm & 31),
        op::SHRI => rsv >> (imm & 31),
        op::ADD => rdv.wrapping_add(rsv),
        op::SUB => rdv.wrapping_sub(rsv),
        op::AND => rdv & rsv,
        op::OR => rdv | rsv,
        op::XOR => rdv ^ rsv,
        op::SHL => rdv << (rsv & 31),
        op::SHR => rdv >> (rsv & 31),
        op::MOV => rsv,
        _ => unreachable!(),
    }
}

fn cond_ref(c: u32, a: u32, b: u32) -> bool {
    match c {
        cond::EQ => a == b,
        cond::NE => a != b,
        cond::LTU => a < b,
        cond::GEU => a >= b,
        cond::BS => a & (1 << (b & 31)) != 0,
        cond::BC => a & (1 << (b & 31)) == 0,
        cond::ANY => a & b != 0,
        cond::NONE => a & b == 0,
        _ => unreachable!(),
    }
}

// ---------------------------------------------------------------------------------
// Harness.

/// xorshift64*: deterministic, seeded.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }
    fn below(&mut self, n: u32) -> u32 {
        (self.next() % n as u64) as u32
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct MemReq {
    we: bool,
    addr: u32,
    be: u32,
    wdata: u32,
}

struct Tb {
    uut: Box<Sequencer>,
    rng: Rng,
    cycle: u64,
    // Card memory.
    mem: Vec<u32>,
    mem_delay_max: u32,
    mem_left: Option<u32>,
    mem_pending: Option<MemReq>,
    mem_rdata_next: Option<u32>,
    mem_writes: Vec<MemReq>,
    mem_reqs: u64,
    /// Cycles a memory request waited for its grant.
    mem_wait_cycles: u64,
    // I/O.
    log: Vec<u32>,
    io_writes: Vec<(u32, u32)>,
    io_scratch: u32,
    io_slow: u32,
    slow_seen: u32,
    slow_max_wait: u32,
    io_pending: Option<(bool, u32, u32)>,
    io_errs: u32,
    // Level inputs.
    events: u32,
    brk: u32,
    wdog: u32,
    hcb_base: u32,
    // One-cycle host actions for the next tick.
    ctl: Option<u32>,
    iram_addr: u32,
    iram_write: Option<u32>,
    reset: bool,
    // Observations.
    trap_pulses: Vec<(u64, u32)>,
    halt_pulses: Vec<u64>,
    max_depth: u32,
    waiting_cycles: u64,
    /// When set, one line per cycle: the inputs applied, then the outputs after the
    /// clock edge (hex, in the order of `TRACE_INPUTS`, `TRACE_OUTPUTS`).
    trace: Option<String>,
}

impl Tb {
    fn new(image: &[u32]) -> Tb {
        Self::with_seed(image, 1)
    }

    fn with_seed(image: &[u32], seed: u64) -> Tb {
        let mut uut = Box::new(Sequencer::new(image));
        uut.connect_all();
        let mut tb = Tb {
            uut,
            rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            cycle: 0,
            mem: vec![0; MEM_WORDS],
            mem_delay_max: 0,
            mem_left: None,
            mem_pending: None,
            mem_rdata_next: None,
            mem_writes: vec![],
            mem_reqs: 0,
            mem_wait_cycles: 0,
            log: vec![],
            io_writes: vec![],
            io_scratch: 0,
            io_slow: 0,
            slow_seen: 0,
            slow_max_wait: 0,
            io_pending: None,
            io_errs: 0,
            events: 0,
            brk: 0,
            wdog: 0,
            hcb_base: 0,
            ctl: None,
            iram_addr: 0,
            iram_write: None,
            reset: true,
            trap_pulses: vec![],
            halt_pulses: vec![],
            max_depth: 0,
            waiting_cycles: 0,
            trace: None,
        };
        // One reset cycle: the sequencer then runs from PC 0.
        tb.tick();
        tb
    }

    /// A sequencer that is reset and then halted at PC 0: a `PC_RESET` write with RUN = 0
    /// right after reset lets the instruction at 0 (already started) complete, then
    /// puts the PC back to 0. Observations are cleared.
    fn halted_at_0(image: &[u32]) -> Tb {
        let mut tb = Tb::new(image);
        tb.ctl_write(seq_ctrl::PC_RESET);
        tb.settle_halted();
        tb.clear_observations();
        assert_eq!(tb.pc(), 0);
        tb
    }

    /// Halts, writes `prog` (zero-filled to the whole RAM) through the host port and
    /// restarts at 0 with PC_RESET | RUN.
    fn load_and_run(&mut self, prog: &[u32]) {
        self.ctl_write(0);
        self.settle_halted();
        for a in 0..isa::IRAM_WORDS {
            self.iram_addr = a;
            self.iram_write = Some(prog.get(a as usize).copied().unwrap_or(0));
            self.tick();
        }
        self.clear_observations();
        self.ctl_write(seq_ctrl::PC_RESET | seq_ctrl::RUN);
    }

    fn clear_observations(&mut self) {
        self.log.clear();
        self.io_writes.clear();
        self.mem_writes.clear();
        self.trap_pulses.clear();
        self.halt_pulses.clear();
        self.max_depth = 0;
        self.waiting_cycles = 0;
    }

    fn tick(&mut self) {
        let rdata_now = self.mem_rdata_next.take();
        let garbage = self.rng.u32();
        let u = &mut *self.uut;

        // ---- Card memory ----
        let mut gnt = false;
        if u.mem_req.val() {
            let req = MemReq {
                we: u.mem_we.val(),
                addr: u.mem_addr.val().index() as u32,
                be: u.mem_be.val().index() as u32,
                wdata: u.mem_wdata.val().index() as u32,
            };
            if let Some(p) = self.mem_pending {
                assert_eq!(p, req, "memory request changed before its grant");
            }
            let left = match self.mem_left {
                Some(l) => l,
                None => {
                    self.mem_reqs += 1;
                    if self.mem_delay_max == 0 {
                        0
                    } else {
                        self.rng.below(self.mem_delay_max + 1)
                    }
                }
            };
            if left == 0 {
                gnt = true;
                self.mem_left = None;
                self.mem_pending = None;
                let a = req.addr as usize;
                if req.we {
                    let mut m = 0u32;
                    for lane in 0..4 {
                        if req.be & (1 << lane) != 0 {
                            m |= 0xFF << (8 * lane);
                        }
                    }
                    self.mem[a] = (self.mem[a] & !m) | (req.wdata & m);
                    self.mem_writes.push(req);
                } else {
                    self.mem_rdata_next = Some(self.mem[a]);
                }
            } else {
                self.mem_wait_cycles += 1;
                self.mem_left = Some(left - 1);
                self.mem_pending = Some(req);
            }
        } else {
            assert!(
                self.mem_pending.is_none(),
                "memory request dropped before its grant"
            );
        }
        u.mem_gnt.next = gnt;
        // Read data only in the cycle after the grant; garbage otherwise.
        u.mem_rdata.next = b(rdata_now.unwrap_or(garbage));

        // ---- I/O ----
        let (rd, wr) = (u.io_rd.val(), u.io_wr.val());
        assert!(!(rd && wr), "io_rd and io_wr together");
        let mut ready = false;
        let mut err = false;
        let mut rdata = garbage ^ 0x5A5A_5A5A;
        if rd || wr {
            let port = u.io_addr.val().index() as u32;
            let wdata = u.io_wdata.val().index() as u32;
            let cur = (wr, port, if wr { wdata } else { 0 });
            if let Some(p) = self.io_pending {
                assert_eq!(p, cur, "I/O request changed before io_ready");
            }
            ready = true;
            if port == P_SLOW {
                self.slow_seen += 1;
                if self.slow_seen <= SLOW_WAIT {
                    ready = false;
                }
            }
            if ready {
                self.slow_max_wait = self.slow_max_wait.max(self.slow_seen.saturating_sub(1));
                self.slow_seen = 0;
                self.io_pending = None;
                match (port, wr) {
                    (P_LOG, true) => self.log.push(wdata),
                    (P_LOG, false) => rdata = self.log.len() as u32,
                    (P_SCRATCH, true) => self.io_scratch = wdata,
                    (P_SCRATCH, false) => rdata = self.io_scratch,
                    (P_SLOW, true) => self.io_slow = wdata,
                    (P_SLOW, false) => rdata = self.io_slow,
                    (P_RO, false) => rdata = RO_VALUE,
                    _ => err = true,
                }
                if err {
                    self.io_errs += 1;
                } else if wr {
                    self.io_writes.push((port, wdata));
                }
            } else {
                self.io_pending = Some(cur);
            }
        } else {
            assert!(
                self.io_pending.is_none(),
                "I/O request dropped before io_ready"
            );
        }
        u.io_ready.next = ready;
        u.io_err.next = err;
        u.io_rdata.next = b(rdata);

        // ---- Level inputs and host actions ----
        u.events.next = b(self.events);
        u.brk.next = b(self.brk);
        u.wdog_limit.next = b(self.wdog);
        u.hcb_base.next = b(self.hcb_base);
        u.reset.next = self.reset;
        self.reset = false;
        match self.ctl.take() {
            Some(v) => {
                u.ctl_write.next = true;
                u.ctl_wdata.next = b(v);
            }
            None => {
                // Not a write: the data lines carry junk that must be ignored.
                u.ctl_write.next = false;
                u.ctl_wdata.next = b(garbage);
            }
        }
        u.iram_addr.next = b(self.iram_addr);
        match self.iram_write.take() {
            Some(v) => {
                u.iram_we.next = true;
                u.iram_wdata.next = b(v);
            }
            None => {
                u.iram_we.next = false;
                u.iram_wdata.next = b(garbage >> 3);
            }
        }

        // ---- Clock ----
        u.clock.next = Clock { clk: false };
        assert!(simulate(u, 100), "no convergence");
        u.clock.next = Clock { clk: true };
        assert!(simulate(u, 100), "no convergence");
        self.cycle += 1;
        if let Some(t) = &mut self.trace {
            use std::fmt::Write;
            for v in trace_inputs(u).iter().chain(&trace_outputs(u)) {
                let _ = write!(t, "{v:x} ");
            }
            t.push('\n');
        }

        // ---- Observe ----
        if u.trap_pulse.val() {
            assert!(u.trapped.val(), "trap_pulse without trapped");
            self.trap_pulses
                .push((self.cycle, u.trap_info.val().index() as u32));
        }
        if u.halt_pulse.val() {
            self.halt_pulses.push(self.cycle);
        }
        if u.trapped.val() {
            assert!(!u.running.val(), "running while trapped");
        }
        if u.waiting.val() {
            self.waiting_cycles += 1;
            assert!(u.running.val(), "waiting but not running");
        }
        self.max_depth = self.max_depth.max(u.depth.val().index() as u32);
    }

    fn ticks(&mut self, n: u64) {
        for _ in 0..n {
            self.tick();
        }
    }

    /// Ticks until `f` holds (checked after each tick); returns the ticks taken.
    fn until(&mut self, max: u64, what: &str, f: impl Fn(&Tb) -> bool) -> u64 {
        for n in 1..=max {
            self.tick();
            if f(self) {
                return n;
            }
        }
        panic!(
            "timeout after {max} cycles waiting for {what}: pc {} running {} trapped {} trap_info {:#x}",
            self.pc(),
            self.running(),
            self.trapped(),
            self.trap_info()
        );
    }

    /// Runs until the sequencer stops (HALT, breakpoint, trap or RUN = 0).
    fn settle_halted(&mut self) -> u64 {
        self.until(100_000, "the sequencer to stop", |t| !t.running())
    }

    fn ctl_write(&mut self, v: u32) {
        self.ctl = Some(v);
        self.tick();
    }

    fn pc(&self) -> u32 {
        self.uut.pc.val().index() as u32
    }
    fn running(&self) -> bool {
        self.uut.running.val()
    }
    fn trapped(&self) -> bool {
        self.uut.trapped.val()
    }
    fn waiting(&self) -> bool {
        self.uut.waiting.val()
    }
    fn at_break(&self) -> bool {
        self.uut.at_break.val()
    }
    fn depth(&self) -> u32 {
        self.uut.depth.val().index() as u32
    }
    fn trap_info(&self) -> u32 {
        self.uut.trap_info.val().index() as u32
    }
    fn csum(&self) -> u32 {
        self.uut.csum.val().index() as u32
    }
    fn csum_busy(&self) -> bool {
        self.uut.csum_busy.val()
    }

    /// Runs to a stop and checks it was exactly one trap with `cause` at `pc`.
    fn expect_trap(&mut self, pc: u32, cause: u32, code: u32) {
        self.settle_halted();
        assert!(self.trapped(), "expected a trap, pc {}", self.pc());
        let want = pc | cause << 16 | code << 24;
        assert_eq!(
            self.trap_info(),
            want,
            "trap_info {:#010x}, expected {:#010x} ({})",
            self.trap_info(),
            want,
            trap::name(cause)
        );
        assert_eq!(self.trap_pulses.len(), 1, "one trap pulse");
        assert_eq!(self.trap_pulses[0].1, want);
        assert_eq!(self.pc(), pc, "PC stays at the trapping instruction");
        // Stays trapped.
        self.ticks(20);
        assert!(self.trapped() && !self.running());
        assert_eq!(self.trap_pulses.len(), 1, "the trap pulse is one cycle");
    }
}

/// Inputs recorded in a trace, with their widths.
const TRACE_INPUTS: [(&str, u32); 15] = [
    ("reset", 1),
    ("ctl_write", 1),
    ("ctl_wdata", 32),
    ("brk", 32),
    ("wdog_limit", 32),
    ("iram_we", 1),
    ("iram_addr", 10),
    ("iram_wdata", 32),
    ("io_rdata", 32),
    ("io_ready", 1),
    ("io_err", 1),
    ("events", 32),
    ("mem_gnt", 1),
    ("mem_rdata", 32),
    ("hcb_base", 15),
];

/// Outputs recorded in a trace, with their widths.
const TRACE_OUTPUTS: [(&str, u32); 21] = [
    ("iram_rdata", 32),
    ("running", 1),
    ("trapped", 1),
    ("at_break", 1),
    ("waiting", 1),
    ("depth", 4),
    ("pc", 10),
    ("trap_info", 32),
    ("csum", 32),
    ("csum_busy", 1),
    ("trap_pulse", 1),
    ("halt_pulse", 1),
    ("io_addr", 8),
    ("io_wdata", 32),
    ("io_wr", 1),
    ("io_rd", 1),
    ("mem_req", 1),
    ("mem_we", 1),
    ("mem_addr", 15),
    ("mem_be", 4),
    ("mem_wdata", 32),
];

fn trace_inputs(u: &Sequencer) -> [u64; 15] {
    [
        u.reset.val() as u64,
        u.ctl_write.val() as u64,
        u.ctl_wdata.val().index() as u64,
        u.brk.val().index() as u64,
        u.wdog_limit.val().index() as u64,
        u.iram_we.val() as u64,
        u.iram_addr.val().index() as u64,
        u.iram_wdata.val().index() as u64,
        u.io_rdata.val().index() as u64,
        u.io_ready.val() as u64,
        u.io_err.val() as u64,
        u.events.val().index() as u64,
        u.mem_gnt.val() as u64,
        u.mem_rdata.val().index() as u64,
        u.hcb_base.val().index() as u64,
    ]
}

fn trace_outputs(u: &Sequencer) -> [u64; 21] {
    [
        u.iram_rdata.val().index() as u64,
        u.running.val() as u64,
        u.trapped.val() as u64,
        u.at_break.val() as u64,
        u.waiting.val() as u64,
        u.depth.val().index() as u64,
        u.pc.val().index() as u64,
        u.trap_info.val().index() as u64,
        u.csum.val().index() as u64,
        u.csum_busy.val() as u64,
        u.trap_pulse.val() as u64,
        u.halt_pulse.val() as u64,
        u.io_addr.val().index() as u64,
        u.io_wdata.val().index() as u64,
        u.io_wr.val() as u64,
        u.io_rd.val() as u64,
        u.mem_req.val() as u64,
        u.mem_we.val() as u64,
        u.mem_addr.val().index() as u64,
        u.mem_be.val().index() as u64,
        u.mem_wdata.val().index() as u64,
    ]
}

/// A value for an input of any width.
fn b<const N: usize>(x: u32) -> Bits<N> {
    (x as u64).into()
}

fn trap_word(pc: u32, cause: u32, code: u32) -> u32 {
    pc | cause << 16 | code << 24
}

// ---------------------------------------------------------------------------------
// Reset state, host port, Verilog.

#[test]
fn reset_state_runs_from_zero() {
    // HALT at 2: the sequencer runs after reset without any host action.
    let mut tb = Tb::new(&[nop(), nop(), halt()]);
    assert_eq!(tb.pc(), 0);
    assert!(tb.running());
    assert!(!tb.trapped());
    assert_eq!(tb.depth(), 0);
    assert_eq!(tb.trap_info(), 0);
    tb.settle_halted();
    assert_eq!(tb.pc(), 3);
    assert!(!tb.trapped());
}

#[test]
fn reset_clears_trap_and_stack() {
    let mut a = Asm::default();
    a.emit(call(2)).emit(halt()).emit(trap_i(9));
    let mut tb = Tb::new(&a.finish());
    tb.expect_trap(2, trap::SOFTWARE, 9);
    assert_eq!(tb.depth(), 1);
    tb.reset = true;
    tb.tick();
    assert!(!tb.trapped());
    assert!(tb.running());
    assert_eq!(tb.pc(), 0);
    assert_eq!(tb.depth(), 0);
    assert_eq!(tb.trap_info(), 0);
    // And it runs again from 0.
    tb.clear_observations();
    tb.expect_trap(2, trap::SOFTWARE, 9);
}

#[test]
fn host_iram_write_then_readback() {
    let image: Vec<u32> = (0..40u32).map(|i| 0x1111_0000 + i * 3).collect();
    let mut tb = Tb::halted_at_0(&[halt()]);
    let mut tb2 = Tb::halted_at_0(&image);
    // Read the power-on image through the host port: data is the word at the address
    // of the previous cycle.
    for a in 0..40u32 {
        tb2.iram_addr = a;
        tb2.tick();
        tb2.tick();
        assert_eq!(tb2.uut.iram_rdata.val().index() as u32, image[a as usize]);
    }
    // One address per cycle, pipelined: during the cycle that presents address `a`,
    // the read data is the word at the previous cycle's address; the clock edge that
    // ends the cycle brings the word at `a`.
    tb2.iram_addr = 5;
    tb2.tick();
    for a in 6..30u32 {
        tb2.iram_addr = a;
        assert_eq!(
            tb2.uut.iram_rdata.val().index() as u32,
            image[a as usize - 1]
        );
        tb2.tick();
        assert_eq!(tb2.uut.iram_rdata.val().index() as u32, image[a as usize]);
    }
    // Write some words, then read them back.
    let mut rng = Rng(77);
    let mut written = vec![];
    for _ in 0..50 {
        let a = rng.below(1024);
        let v = rng.u32();
        tb.iram_addr = a;
        tb.iram_write = Some(v);
        tb.tick();
        written.retain(|(x, _)| *x != a);
        written.push((a, v));
    }
    for (a, v) in written {
        tb.iram_addr = a;
        tb.tick();
        tb.tick();
        assert_eq!(tb.uut.iram_rdata.val().index() as u32, v, "word {a}");
    }
}

#[test]
fn host_iram_write_is_executed() {
    // Load a program through the host port while halted, then run it.
    let mut tb = Tb::halted_at_0(&[halt()]);
    let mut prog = vec![];
    prog.extend_from_slice(&li(3, 0x1234_5678));
    prog.push(out(P_LOG, 3));
    prog.push(halt());
    for (i, w) in prog.iter().enumerate() {
        tb.iram_addr = i as u32;
        tb.iram_write = Some(*w);
        tb.tick();
    }
    tb.ctl_write(seq_ctrl::PC_RESET | seq_ctrl::RUN);
    tb.settle_halted();
    assert_eq!(tb.log, vec![0x1234_5678]);
    assert_eq!(tb.pc(), 4);
}

#[test]
#[should_panic]
fn image_too_long_panics() {
    let _ = Sequencer::new(&vec![0u32; isa::IRAM_WORDS as usize + 1]);
}

#[test]
fn verilog_generates_and_lints() {
    let mut image = vec![0u32; 1024];
    image[0] = nop();
    image[1] = jmp(0);
    image[1023] = 0xFFFF_FFFF;
    let mut uut = Sequencer::new(&image);
    uut.connect_all();
    let v = generate_verilog(&uut);
    assert!(v.contains("module top("));
    assert!(v.contains(&format!("mem[0] = 32'h{:08x};", nop())));
    assert!(v.contains(&format!("mem[1] = 32'h{:08x};", jmp(0))));
    assert!(v.contains("mem[1023] = 32'hffffffff;"));
    assert!(
        !v.contains("mem[2] ="),
        "zero words come from the fill loop"
    );

    if !have_verilator() {
        eprintln!("note: verilator not found; skipping the lint of the sequencer Verilog");
        return;
    }
    let dir = std::env::temp_dir().join(format!("hba-seq-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("seq.v");
    std::fs::write(&path, &v).unwrap();
    // The project's waiver for rust-hdl's state-enum parameters (docs/lint.md): the
    // flip-flop module of a `DFF<SeqState>` declares them without using them.
    let vlt = dir.join("waivers.vlt");
    std::fs::write(
        &vlt,
        "`verilator_config\nlint_off -rule UNUSEDPARAM -file \"*\" -match \"*State$*\"\n",
    )
    .unwrap();
    let o = std::process::Command::new("verilator")
        .args([
            "--lint-only",
            "-Wall",
            "-Wno-WIDTH",
            "-Wno-DECLFILENAME",
            "--top-module",
            "top",
        ])
        .arg(&vlt)
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "verilator lint failed:\n{msg}");
    assert!(!msg.contains("%Error"), "verilator errors:\n{msg}");
    assert!(!msg.contains("%Warning"), "verilator warnings:\n{msg}");

    // The structural check of `make lint` (yosys), when yosys is there.
    let have_yosys = std::process::Command::new("yosys")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have_yosys {
        eprintln!("note: yosys not found; skipping its check of the sequencer Verilog");
        return;
    }
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&path, &v).unwrap();
    let o = std::process::Command::new("yosys")
        .arg("-q")
        .arg("-p")
        .arg(format!(
            "read_verilog {}; hierarchy -check -top top; proc; check -assert",
            path.display()
        ))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        o.status.success(),
        "yosys check failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

// ---------------------------------------------------------------------------------
// ALU, moves.

const ALU_OPS: [u32; 15] = [
    op::ADDI,
    op::SUBI,
    op::ANDI,
    op::ORI,
    op::XORI,
    op::SHLI,
    op::SHRI,
    op::ADD,
    op::SUB,
    op::AND,
    op::OR,
    op::XOR,
    op::SHL,
    op::SHR,
    op::MOV,
];

fn interesting(rng: &mut Rng) -> u32 {
    match rng.below(6) {
        0 => 0,
        1 => 0xFFFF_FFFF,
        2 => 0x8000_0000,
        3 => rng.below(40),
        _ => rng.u32(),
    }
}

fn alu_program(seed: u64, cases: usize) -> (Vec<u32>, Vec<u32>) {
    let mut rng = Rng(seed);
    let mut a = Asm::default();
    let mut expect = vec![];
    for k in 0..cases {
        let o = ALU_OPS[k % ALU_OPS.len()];
        let rd = rng.below(16);
        let rs = if rng.below(5) == 0 { rd } else { rng.below(16) };
        let va = interesting(&mut rng);
        let vb = if rs == rd { va } else { interesting(&mut rng) };
        let imm = if rng.below(3) == 0 {
            rng.below(64)
        } else {
            rng.u32() & 0xFFFF
        };
        a.emit_all(&li(rd, va));
        a.emit_all(&li(rs, vb));
        let (rdv, rsv) = if rs == rd { (vb, vb) } else { (va, vb) };
        a.emit(enc_i(o, rd, rs, imm));
        a.emit(out(P_LOG, rd));
        expect.push(alu_ref(o, rdv, rsv, imm));
    }
    a.emit(halt());
    (a.finish(), expect)
}

fn alu_batch(seed: u64, cases: usize) {
    let (prog, expect) = alu_program(seed, cases);
    let mut tb = Tb::new(&prog);
    tb.settle_halted();
    assert!(!tb.trapped(), "trap {:#x}", tb.trap_info());
    assert_eq!(tb.log.len(), expect.len());
    for (i, (got, want)) in tb.log.iter().zip(&expect).enumerate() {
        assert_eq!(got, want, "case {i}: {:#x} != {:#x}", got, want);
    }
}

#[test]
fn alu_ops_match_reference() {
    alu_batch(11, 140);
    alu_batch(12, 140);
}

#[test]
fn movi_zero_extends_and_movhi_keeps_low_half() {
    let mut a = Asm::default();
    a.emit_all(&li(5, 0xFFFF_FFFF));
    a.emit(movi(5, 0x8001)); // upper half cleared
    a.emit(out(P_LOG, 5));
    a.emit(movhi(5, 0xABCD)); // lower half kept
    a.emit(out(P_LOG, 5));
    a.emit(movi(6, 0)).emit(movhi(6, 0x0001));
    a.emit(out(P_LOG, 6));
    a.emit(halt());
    let mut tb = Tb::new(&a.finish());
    tb.settle_halted();
    assert_eq!(tb.log, vec![0x8001, 0xABCD_8001, 0x0001_0000]);
}

#[test]
fn all_sixteen_registers_are_distinct() {
    let mut a = Asm::default();
    for r in 0..16 {
        a.emit_all(&li(r, 0x0101_0101u32.wrapping_mul(r + 1) ^ 0x5000_0000));
    }
    for r in 0..16 {
        a.emit(out(P_LOG, r));
    }
    a.emit(halt());
    let mut tb = Tb::new(&a.finish());
    tb.settle_halted();
    let want: Vec<u32> = (0..16u32)
        .map(|r| 0x0101_0101u32.wrapping_mul(r + 1) ^ 0x5000_0000)
        .collect();
    assert_eq!(tb.log, want);
}

// ---------------------------------------------------------------------------------
// Branches and jumps.

fn branch_pairs(rng: &mut Rng) -> Vec<(u32, u32)> {
    let mut v = vec![
        (5, 5),
        (5, 6),
        (6, 5),
        (0, 0),
        (0xFFFF_FFFF, 0x7F),
        (0x80, 0x80),
        (0x10, 0x04),
        (0x10, 0x05),
        (0x1234_5678, 0x1F),
        (0x8000_0000, 0x1F),
        (0xF0, 0x0F),
        (0xF0, 0x30),
        (0x100, 0x28),       // bit 8 (0x28 & 31) set
        (0x0000_0001, 0x20), // bit 0 (0x20 & 31)
    ];
    for _ in 0..4 {
        v.push((interesting(rng), interesting(rng)));
    }
    v
}

fn branch_program(brr: bool, conds: std::ops::Range<u32>) -> (Vec<u32>, Vec<u32>) {
    let mut rng = Rng(if brr { 21 } else { 22 } + conds.start as u64);
    let pairs = branch_pairs(&mut rng);
    let mut a = Asm::default();
    a.emit(movi(0, 0)).emit(movi(15, 1));
    let mut expect = vec![];
    let mut seen = std::collections::HashSet::new();
    let mut n = 0;
    for c in conds.clone() {
        for &(x, y) in &pairs {
            let rd = 1 + rng.below(7);
            let rs = 8 + rng.below(7);
            let b = if brr { y } else { y & 0xFF };
            a.emit_all(&li(rd, x));
            let t = format!("t{n}");
            let j = format!("j{n}");
            n += 1;
            if brr {
                a.emit_all(&li(rs, y));
                a.emit_to(enc_brr(c, rd, rs, 0), &t);
            } else {
                a.emit_to(enc_bri(c, rd, b, 0), &t);
            }
            a.emit(out(P_LOG, 0));
            a.emit_to(jmp(0), &j);
            a.label(&t);
            a.emit(out(P_LOG, 15));
            a.label(&j);
            let taken = cond_ref(c, x, b);
            seen.insert((c, taken));
            expect.push(taken as u32);
        }
    }
    a.emit(halt());
    // Every condition is seen both taken and not taken.
    for c in conds.clone() {
        assert!(
            seen.contains(&(c, true)) && seen.contains(&(c, false)),
            "cond {c}"
        );
    }
    (a.finish(), expect)
}

fn branch_batch(brr: bool, conds: std::ops::Range<u32>) {
    let mut rng = Rng(if brr { 21 } else { 22 } + conds.start as u64);
    let pairs = branch_pairs(&mut rng);
    let (prog, expect) = branch_program(brr, conds.clone());
    let mut tb = Tb::new(&prog);
    tb.settle_halted();
    assert!(!tb.trapped(), "trap {:#x}", tb.trap_info());
    assert_eq!(tb.log.len(), expect.len());
    for (i, (got, want)) in tb.log.iter().zip(&expect).enumerate() {
        let c = conds.start + i as u32 / pairs.len() as u32;
        let (x, y) = pairs[i % pairs.len()];
        assert_eq!(
            got,
            want,
            "{} cond {c} ({x:#x}, {y:#x}): taken {got} expected {want}",
            if brr { "BRR" } else { "BRI" }
        );
    }
}

#[test]
fn bri_all_conditions_taken_and_not_taken() {
    branch_batch(false, 0..8);
}

#[test]
fn brr_all_conditions_taken_and_not_taken() {
    // Eight words per case: two programs.
    branch_batch(true, 0..4);
    branch_batch(true, 4..8);
}

#[test]
fn branch_conditions_8_to_15_trap_bad_opcode() {
    for c in 8..16u32 {
        for brr in [false, true] {
            let w = if brr {
                enc_brr(c, 1, 2, 0)
            } else {
                enc_bri(c, 1, 0, 0)
            };
            let mut tb = Tb::new(&[nop(), nop(), w, halt()]);
            tb.expect_trap(2, trap::BAD_OPCODE, 0);
        }
    }
}

#[test]
fn undefined_opcodes_trap() {
    let defined = [
        op::NOP,
        op::HALT,
        op::TRAP,
        op::JMP,
        op::CALL,
        op::RET,
        op::WAIT,
        op::MOVI,
        op::MOVHI,
        op::LDW,
        op::LDB,
        op::STW,
        op::STB,
        op::LDWH,
        op::LDBH,
        op::STWH,
        op::STBH,
        op::IN,
        op::OUT,
        op::BRI,
        op::BRR,
    ];
    for o in 0..64u32 {
        if defined.contains(&o) || ALU_OPS.contains(&o) {
            continue;
        }
        // Operand bits set too: they must not matter.
        let w = (o << isa::OP_SHIFT) | 0x0012_3456;
        let mut tb = Tb::new(&[nop(), w, halt()]);
        tb.expect_trap(1, trap::BAD_OPCODE, 0);
    }
    // An erased word.
    let mut tb = Tb::new(&[nop(), nop(), nop()]);
    tb.expect_trap(3, trap::BAD_OPCODE, 0);
}

#[test]
fn jmp_skips() {
    let mut a = Asm::default();
    a.emit(movi(1, 1)).emit(movi(2, 2));
    a.emit_to(jmp(0), "over");
    a.emit(out(P_LOG, 1));
    a.label("over");
    a.emit(out(P_LOG, 2));
    a.emit(halt());
    let mut tb = Tb::new(&a.finish());
    tb.settle_halted();
    assert_eq!(tb.log, vec![2]);
}

/// `CALL` recursion `n` deep: returns through every frame, logging the depth.
fn recursion(n: u32) -> Vec<u32> {
    let mut a = Asm::default();
    a.emit(movi(2, 0)); // 0
    a.emit(call(4)); // 1
    a.emit(out(P_LOG, 2)); // 2
    a.emit(halt()); // 3
    a.emit(enc_i(op::ADDI, 2, 2, 1)); // 4: rec
    a.emit(out(P_LOG, 2)); // 5
    a.emit(enc_bri(cond::EQ, 2, n, 8)); // 6
    a.emit(call(4)); // 7
    a.emit(ret()); // 8
    a.finish()
}

#[test]
fn call_ret_depth_8_ok() {
    let mut tb = Tb::new(&recursion(8));
    tb.settle_halted();
    assert!(!tb.trapped(), "trap {:#x}", tb.trap_info());
    assert_eq!(tb.log, vec![1, 2, 3, 4, 5, 6, 7, 8, 8]);
    assert_eq!(tb.max_depth, 8);
    assert_eq!(tb.depth(), 0);
    assert_eq!(tb.pc(), 4);
}

#[test]
fn call_depth_9_overflows() {
    let mut tb = Tb::new(&recursion(9));
    tb.expect_trap(7, trap::STACK_OVERFLOW, 0);
    assert_eq!(tb.log, vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(tb.depth(), 8);
}

#[test]
fn ret_on_empty_stack_underflows() {
    let mut tb = Tb::new(&[nop(), ret(), halt()]);
    tb.expect_trap(1, trap::STACK_UNDERFLOW, 0);
    assert_eq!(tb.depth(), 0);
    // After a call and its return the stack is empty again.
    let mut tb = Tb::new(&[call(3), ret(), halt(), ret()]);
    tb.expect_trap(1, trap::STACK_UNDERFLOW, 0);
}

// ---------------------------------------------------------------------------------
// HALT, TRAP, NOP.

#[test]
fn halt_stops_and_resumes_at_next() {
    let mut a = Asm::default();
    a.emit(movi(1, 7))
        .emit(nop())
        .emit(out(P_LOG, 1))
        .emit(halt()); // 0..3
    a.emit(out(P_LOG, 1)).emit(halt()); // 4, 5
    let mut tb = Tb::new(&a.finish());
    tb.settle_halted();
    assert_eq!(tb.log, vec![7]);
    assert_eq!(tb.pc(), 4, "PC at the instruction after HALT");
    assert!(!tb.trapped());
    assert_eq!(tb.halt_pulses.len(), 1);
    tb.ticks(50);
    assert_eq!(tb.halt_pulses.len(), 1, "halt_pulse is one cycle");
    assert_eq!(tb.pc(), 4);
    assert_eq!(tb.log, vec![7]);
    tb.ctl_write(seq_ctrl::RUN);
    tb.settle_halted();
    assert_eq!(tb.log, vec![7, 7]);
    assert_eq!(tb.pc(), 6);
    assert_eq!(tb.halt_pulses.len(), 2);
}

#[test]
fn software_trap_reports_code() {
    let mut tb = Tb::new(&[nop(), nop(), trap_i(0x12A5), halt()]);
    tb.expect_trap(2, trap::SOFTWARE, 0xA5);
    assert_eq!(tb.trap_info(), 0xA506_0002);
}

// ---------------------------------------------------------------------------------
// WAIT.

#[test]
fn wait_blocks_until_a_masked_event_and_returns_the_word() {
    let mut a = Asm::default();
    a.emit(wait(3, 0x0204)); // 0
    a.emit(out(P_LOG, 3)); // 1
    a.emit(halt()); // 2
    let mut tb = Tb::new(&a.finish());
    tb.events = 0x0001_0001; // bits outside the mask
    tb.ticks(200);
    assert!(tb.waiting());
    assert!(tb.running());
    assert_eq!(tb.pc(), 0);
    assert!(tb.log.is_empty());
    tb.events = 0x0003_0201; // bit 9 is in the mask
    tb.settle_halted();
    assert_eq!(tb.log, vec![0x0003_0201], "rd = the whole event word");
    assert!(!tb.waiting());
    assert_eq!(tb.pc(), 3);
}

#[test]
fn wait_with_event_present_does_not_block() {
    let mut tb = Tb::new(&[wait(4, 0x8000), out(P_LOG, 4), halt()]);
    tb.events = 0xFFFF_8000;
    tb.settle_halted();
    assert_eq!(tb.log, vec![0xFFFF_8000]);
    assert_eq!(tb.waiting_cycles, 0);
}

// ---------------------------------------------------------------------------------
// Memory.

fn mem_program() -> (Vec<u32>, Vec<u32>) {
    let mut a = Asm::default();
    let mut expect = vec![];
    a.emit_all(&li(1, 0x1000));
    a.emit_all(&li(2, 0xA1B2_C3D4));
    // Word store and load.
    a.emit(mem(op::STW, 2, 1, 8));
    a.emit(mem(op::LDW, 3, 1, 8)).emit(out(P_LOG, 3));
    expect.push(0xA1B2_C3D4);
    // Byte loads: little-endian lanes, zero-extended.
    for k in 0..4 {
        a.emit(mem(op::LDB, 4, 1, 8 + k)).emit(out(P_LOG, 4));
        expect.push((0xA1B2_C3D4u32 >> (8 * k)) & 0xFF);
    }
    // Byte stores into a word of 0xFFFFFFFF (preloaded by the test).
    a.emit_all(&li(5, 0x1234_5611));
    a.emit(mem(op::STB, 5, 1, 0x11));
    a.emit(mem(op::LDW, 6, 1, 0x10)).emit(out(P_LOG, 6));
    expect.push(0xFFFF_11FF);
    a.emit(movi(5, 0x22)).emit(mem(op::STB, 5, 1, 0x13));
    a.emit(movi(5, 0x33)).emit(mem(op::STB, 5, 1, 0x10));
    a.emit(movi(5, 0x44)).emit(mem(op::STB, 5, 1, 0x12));
    a.emit(mem(op::LDW, 6, 1, 0x10)).emit(out(P_LOG, 6));
    expect.push(0x2244_1133);
    // imm16 is zero-extended: 0x1000 + 0x8000.
    a.emit(mem(op::LDW, 7, 1, 0x8000)).emit(out(P_LOG, 7));
    expect.push(0x0900_0900);
    // Top of card memory.
    a.emit_all(&li(8, 0x1_FFFC));
    a.emit(mem(op::STW, 2, 8, 0));
    a.emit(mem(op::LDB, 9, 8, 3)).emit(out(P_LOG, 9));
    expect.push(0xA1);
    // HCB-relative (hcb_base = 0x800 words = byte 0x2000): offsets wrap in 128 bytes.
    a.emit(mem(op::STWH, 2, 0, 0x84)); // byte 0x2004
    a.emit(mem(op::LDW, 10, 0, 0x2004)).emit(out(P_LOG, 10)); // r0 = 0
    expect.push(0xA1B2_C3D4);
    a.emit(mem(op::LDWH, 11, 0, 0xFF04)).emit(out(P_LOG, 11)); // 0xFF04 % 128 = 4
    expect.push(0xA1B2_C3D4);
    a.emit(mem(op::LDBH, 12, 0, 0x87)).emit(out(P_LOG, 12)); // byte 0x2007
    expect.push(0xA1);
    a.emit(movi(5, 0x5A)).emit(mem(op::STBH, 5, 0, 0x7D)); // byte 0x207D
    a.emit(mem(op::LDWH, 13, 0, 0x7C)).emit(out(P_LOG, 13));
    expect.push(0x0000_5A00);
    a.emit(mem(op::LDW, 14, 0, 0x207C)).emit(out(P_LOG, 14));
    expect.push(0x0000_5A00);
    a.emit(halt());
    let mut w = a.finish();
    // r0 is never written: it keeps its power-on 0 only in simulation, so make it so.
    w.insert(0, movi(0, 0));
    (w, expect)
}

fn run_mem_program(delay: u32, seed: u64) {
    let (prog, expect) = mem_program();
    // The program was built for address 0; the MOVI r0 shifts it by one, which only
    // matters for jump targets (there are none).
    let mut tb = Tb::with_seed(&prog, seed);
    tb.mem_delay_max = delay;
    tb.hcb_base = 0x800;
    tb.mem[0x1010 / 4] = 0xFFFF_FFFF;
    tb.mem[0x9000 / 4] = 0x0900_0900;
    tb.settle_halted();
    assert!(!tb.trapped(), "trap {:#x}", tb.trap_info());
    assert_eq!(tb.log, expect);
    // Byte stores use one-hot byte enables on the right lane; word stores all four.
    for w in &tb.mem_writes {
        assert!(
            w.be == 0xF || w.be.count_ones() == 1,
            "byte enables {:#x}",
            w.be
        );
        if w.be != 0xF {
            let lane = w.be.trailing_zeros();
            assert_eq!((w.wdata >> (8 * lane)) & 0xFF, w.wdata & 0xFF, "byte lane");
        }
    }
    assert_eq!(tb.mem[0x1_FFFC / 4], 0xA1B2_C3D4);
    assert_eq!(tb.mem[0x2004 / 4], 0xA1B2_C3D4);
    assert!(tb.mem_reqs >= 20);
}

#[test]
fn memory_loads_stores_lanes_and_hcb_immediate_grant() {
    run_mem_program(0, 1);
}

#[test]
fn memory_with_random_grant_delays() {
    for seed in 1..4 {
        run_mem_program(6, seed);
    }
}

#[test]
fn bad_addresses_trap_without_access() {
    // (setup, access, hcb_base)
    let cases: Vec<(u32, u32, u32)> = vec![
        (0x1002, mem(op::LDW, 3, 1, 0), 0),      // misaligned word load
        (0x1000, mem(op::STW, 3, 1, 1), 0),      // misaligned word store
        (0x1000, mem(op::LDW, 3, 1, 0x0003), 0), // misaligned via imm
        (0x2_0000, mem(op::LDW, 3, 1, 0), 0),    // first byte past card memory
        (0x2_0000, mem(op::LDB, 3, 1, 0), 0),
        (0x1_FFFF, mem(op::STB, 3, 1, 1), 0),
        (0x1_F000, mem(op::STW, 3, 1, 0x1000), 0),
        (0xFFFF_FFFC, mem(op::LDW, 3, 1, 0), 0),
        (0, mem(op::LDWH, 3, 0, 2), 0x100),  // misaligned HCB word
        (0, mem(op::STWH, 3, 0, 4), 0x7FFF), // HCB past the end
        (0, mem(op::LDBH, 3, 0, 4), 0x7FFF),
    ];
    for (base, access, hcb) in cases {
        let mut prog = li(1, base).to_vec();
        prog.push(access);
        prog.push(halt());
        let mut tb = Tb::new(&prog);
        tb.hcb_base = hcb;
        tb.expect_trap(2, trap::BAD_ADDRESS, 0);
        assert_eq!(tb.mem_reqs, 0, "no memory access for {access:#x}");
    }
    // The last byte and the last word are fine.
    let mut prog = li(1, 0x1_FFFF).to_vec();
    prog.push(mem(op::LDB, 3, 1, 0));
    prog.push(mem(op::STW, 3, 1, 1)); // 0x1FFFF + 1: past the end
    let mut tb = Tb::new(&prog);
    tb.expect_trap(3, trap::BAD_ADDRESS, 0);
    assert_eq!(tb.mem_reqs, 1);
    let mut prog = li(1, 0x1_FFF0).to_vec();
    prog.push(mem(op::STW, 1, 1, 0xC));
    prog.push(mem(op::STBH, 1, 0, 0x7F));
    prog.push(halt());
    let mut tb = Tb::new(&prog);
    tb.hcb_base = 0x7FE0; // byte 0x1FF80 + 127 = 0x1FFFF
    tb.settle_halted();
    assert!(!tb.trapped(), "trap {:#x}", tb.trap_info());
    assert_eq!(tb.mem[0x1_FFFC / 4], 0xF001_FFF0);
}

// ---------------------------------------------------------------------------------
// I/O.

#[test]
fn io_in_out_slow_port_and_read_only() {
    let mut a = Asm::default();
    a.emit_all(&li(1, 0xDEAD_BEEF));
    a.emit(out(P_SCRATCH, 1));
    a.emit(inp(2, P_SCRATCH)).emit(out(P_LOG, 2));
    a.emit_all(&li(1, 0x0BAD_F00D));
    a.emit(out(P_SLOW, 1));
    a.emit(inp(3, P_SLOW)).emit(out(P_LOG, 3));
    a.emit(inp(4, P_RO)).emit(out(P_LOG, 4));
    a.emit(inp(5, P_LOG)).emit(out(P_LOG, 5)); // log length so far: 3
                                               // Only imm16[7:0] is the port.
    a.emit(enc_i(op::OUT, 0, 1, 0xFF00 | P_LOG));
    a.emit(halt());
    let mut tb = Tb::new(&a.finish());
    tb.settle_halted();
    assert!(!tb.trapped(), "trap {:#x}", tb.trap_info());
    assert_eq!(
        tb.log,
        vec![0xDEAD_BEEF, 0x0BAD_F00D, RO_VALUE, 3, 0x0BAD_F00D]
    );
    assert_eq!(
        tb.io_writes,
        vec![
            (P_SCRATCH, 0xDEAD_BEEF),
            (P_LOG, 0xDEAD_BEEF),
            (P_SLOW, 0x0BAD_F00D),
            (P_LOG, 0x0BAD_F00D),
            (P_LOG, RO_VALUE),
            (P_LOG, 3),
            (P_LOG, 0x0BAD_F00D),
        ]
    );
    // The slow port held each request for SLOW_WAIT cycles (checked stable by the
    // harness) before it was accepted.
    assert_eq!(tb.slow_max_wait, SLOW_WAIT);
}

#[test]
fn io_unknown_port_traps_bad_io() {
    let mut tb = Tb::new(&[nop(), inp(1, P_NONE), halt()]);
    tb.expect_trap(1, trap::BAD_IO, 0);
    assert_eq!(tb.io_errs, 1);
    let mut tb = Tb::new(&[nop(), nop(), out(P_NONE, 1), halt()]);
    tb.expect_trap(2, trap::BAD_IO, 0);
    // OUT to a read-only port.
    let mut tb = Tb::new(&[out(P_RO, 1), halt()]);
    tb.expect_trap(0, trap::BAD_IO, 0);
    assert!(tb.io_writes.is_empty());
}

// ---------------------------------------------------------------------------------
// Watchdog.

#[test]
fn watchdog_fires_in_a_loop_without_wait() {
    let mut tb = Tb::new(&[nop(), jmp(0)]);
    tb.wdog = 100;
    let n = tb.settle_halted();
    assert!(tb.trapped());
    // The counter starts at reset; the trap is taken at the next instruction boundary.
    assert!((100..=106).contains(&n), "fired after {n} cycles");
    let info = tb.trap_info();
    assert_eq!(info >> 16, trap::WATCHDOG);
    assert_eq!(info & 0x3FF, tb.pc());
    assert!(tb.pc() <= 1);
    assert_eq!(tb.trap_pulses.len(), 1);
}

#[test]
fn watchdog_off_when_limit_is_zero() {
    let mut tb = Tb::new(&[nop(), jmp(0)]);
    tb.wdog = 0;
    tb.ticks(5000);
    assert!(tb.running() && !tb.trapped());
    // Turning it on starts a fresh count.
    tb.wdog = 300;
    let n = tb.settle_halted();
    assert!((300..=306).contains(&n), "fired after {n} cycles");
    assert_eq!(tb.trap_info() >> 16, trap::WATCHDOG);
}

#[test]
fn watchdog_quiet_while_blocked_in_wait_and_reset_by_wait() {
    let mut a = Asm::default();
    a.emit(wait(1, 1)); // 0
    a.emit(enc_i(op::ADDI, 2, 2, 1)); // 1
    a.emit(nop()).emit(nop()).emit(nop()); // 2..4
    a.emit(jmp(0)); // 5
    let mut tb = Tb::new(&a.finish());
    tb.wdog = 40;
    // Blocked for a long time: no trap.
    tb.ticks(2000);
    assert!(tb.waiting() && !tb.trapped());
    // With the event present every loop iteration (~18 cycles) completes a WAIT.
    tb.events = 1;
    tb.ticks(3000);
    assert!(!tb.trapped(), "trap {:#x}", tb.trap_info());
    // Without the event it blocks again: still no trap.
    tb.events = 0;
    tb.ticks(1000);
    assert!(tb.waiting() && !tb.trapped());
    // A loop longer than the limit between WAITs does trap.
    let mut a = Asm::default();
    a.emit(wait(1, 1));
    for _ in 0..20 {
        a.emit(nop());
    }
    a.emit(jmp(0));
    let mut tb = Tb::new(&a.finish());
    tb.wdog = 40;
    tb.events = 1;
    tb.settle_halted();
    assert_eq!(tb.trap_info() >> 16, trap::WATCHDOG);
    let pc = tb.trap_info() & 0x3FF;
    assert!((12..=15).contains(&pc), "trapped before instruction {pc}");
}

#[test]
fn watchdog_does_not_count_while_halted() {
    let mut tb = Tb::new(&[nop(), halt(), nop(), jmp(2)]);
    tb.wdog = 100;
    tb.settle_halted();
    tb.ticks(1000);
    assert!(!tb.trapped());
    tb.ctl_write(seq_ctrl::RUN);
    let n = tb.settle_halted();
    assert!(tb.trapped());
    assert!(
        n >= 90,
        "count continued from a few cycles, fired after {n}"
    );
}

// ---------------------------------------------------------------------------------
// Host control: breakpoint, step, RUN = 0, PC_RESET.

fn counting_loop() -> Vec<u32> {
    vec![
        movi(1, 0),               // 0
        enc_i(op::ADDI, 1, 1, 1), // 1
        out(P_LOG, 1),            // 2
        jmp(1),                   // 3
    ]
}

#[test]
fn breakpoint_halts_before_and_resume_executes_it() {
    let mut tb = Tb::new(&counting_loop());
    tb.brk = 0x8000_0000 | 2;
    tb.settle_halted();
    assert!(tb.at_break() && !tb.trapped());
    assert_eq!(tb.pc(), 2);
    assert!(
        tb.log.is_empty(),
        "the instruction at the breakpoint did not run"
    );
    assert_eq!(tb.halt_pulses.len(), 1);
    tb.ticks(30);
    assert_eq!(tb.pc(), 2);
    // Resume: executes the OUT, loops, stops at the breakpoint again.
    tb.ctl_write(seq_ctrl::RUN);
    tb.settle_halted();
    assert_eq!(tb.log, vec![1]);
    assert_eq!(tb.pc(), 2);
    assert!(tb.at_break());
    assert_eq!(tb.halt_pulses.len(), 2);
    tb.ctl_write(seq_ctrl::RUN);
    tb.settle_halted();
    assert_eq!(tb.log, vec![1, 2]);
    // STEP at the breakpoint executes it too.
    tb.ctl_write(seq_ctrl::STEP);
    tb.settle_halted();
    assert_eq!(tb.log, vec![1, 2, 3]);
    assert_eq!(tb.pc(), 3);
    assert!(!tb.at_break());
    // Disabled: runs freely.
    tb.brk = 2;
    tb.ctl_write(seq_ctrl::RUN);
    tb.ticks(200);
    assert!(tb.running());
    assert!(tb.log.len() > 10);
    let want: Vec<u32> = (1..=tb.log.len() as u32).collect();
    assert_eq!(tb.log, want);
}

#[test]
fn breakpoint_at_a_call_target_and_address_zero() {
    let mut tb = Tb::new(&[call(2), halt(), out(P_LOG, 0), ret()]);
    tb.brk = 0x8000_0000;
    // Right after reset it stops at address 0 (a write in that cycle would race the
    // breakpoint: whichever wins, the PC_RESET | RUN below restarts at 0).
    tb.ctl_write(seq_ctrl::PC_RESET);
    tb.settle_halted();
    tb.clear_observations();
    tb.ctl_write(seq_ctrl::PC_RESET | seq_ctrl::RUN);
    tb.settle_halted();
    assert!(tb.at_break());
    assert_eq!(tb.pc(), 0);
    assert_eq!(tb.depth(), 0);
    tb.brk = 0x8000_0003;
    tb.ctl_write(seq_ctrl::RUN);
    tb.settle_halted();
    assert!(tb.at_break());
    assert_eq!(tb.pc(), 3);
    assert_eq!(tb.depth(), 1);
    assert_eq!(tb.log.len(), 1);
    tb.ctl_write(seq_ctrl::RUN);
    tb.settle_halted();
    assert!(!tb.at_break());
    assert_eq!(tb.pc(), 2, "HALT at 1 executed");
    assert_eq!(tb.depth(), 0);
}

#[test]
fn single_step_executes_exactly_one_instruction() {
    let mut a = Asm::default();
    a.emit(movi(1, 5)); // 0
    a.emit(enc_i(op::ADDI, 1, 1, 1)); // 1
    a.emit(mem(op::STW, 1, 0, 0x100)); // 2
    a.emit(inp(2, P_SLOW)); // 3
    a.emit(out(P_LOG, 1)); // 4
    a.emit(call(7)); // 5
    a.emit(nop()); // 6
    a.emit(jmp(0)); // 7
    let mut tb = Tb::halted_at_0(&a.finish());
    tb.mem_delay_max = 3;
    let expect_pc = [1, 2, 3, 4, 5, 7, 0, 1];
    for (i, &pc) in expect_pc.iter().enumerate() {
        let log_before = tb.log.len();
        let writes_before = tb.mem_writes.len();
        tb.ctl_write(seq_ctrl::STEP);
        let n = tb.settle_halted();
        assert!(!tb.trapped());
        assert_eq!(tb.pc(), pc, "after step {i}");
        // Nothing more happens until the next STEP.
        tb.ticks(40);
        assert_eq!(tb.pc(), pc, "step {i} ran on");
        assert!(!tb.running());
        match i {
            2 => assert_eq!(tb.mem_writes.len(), writes_before + 1),
            4 => assert_eq!(tb.log.len(), log_before + 1),
            _ => {
                assert_eq!(tb.log.len(), log_before);
                assert_eq!(tb.mem_writes.len(), writes_before);
            }
        }
        if i == 3 {
            assert!(n > SLOW_WAIT as u64, "the step waited for the slow port");
        }
        if i == 5 {
            assert_eq!(tb.depth(), 1);
        }
    }
    assert_eq!(tb.mem[0x100 / 4], 6);
    assert_eq!(tb.log, vec![6]);
    // STEP with RUN = 1 in the same write just runs.
    tb.brk = 0x8000_0004;
    tb.ctl_write(seq_ctrl::RUN | seq_ctrl::STEP);
    tb.settle_halted();
    assert!(tb.at_break());
    assert_eq!(tb.pc(), 4);
}

#[test]
fn run_0_halts_after_the_current_instruction() {
    let mut tb = Tb::new(&counting_loop());
    tb.ticks(300);
    assert!(tb.running());
    tb.ctl_write(0);
    let n = tb.settle_halted();
    assert!(n <= 4, "took {n} cycles to stop");
    let pc = tb.pc();
    let len = tb.log.len();
    tb.ticks(100);
    assert_eq!(tb.pc(), pc);
    assert_eq!(tb.log.len(), len);
    assert!(!tb.trapped() && !tb.at_break());
    // Resume: nothing lost, nothing repeated.
    tb.ctl_write(seq_ctrl::RUN);
    tb.ticks(300);
    tb.ctl_write(0);
    tb.settle_halted();
    let want: Vec<u32> = (1..=tb.log.len() as u32).collect();
    assert_eq!(tb.log, want);
}

#[test]
fn run_0_lets_a_slow_io_access_finish() {
    let mut tb = Tb::new(&[out(P_SLOW, 0), out(P_LOG, 0), halt()]);
    tb.until(10, "io_wr", |t| t.uut.io_wr.val());
    tb.ctl_write(0);
    assert!(tb.running(), "still finishing the access");
    tb.settle_halted();
    assert_eq!(tb.io_writes, vec![(P_SLOW, 0)]);
    assert_eq!(tb.pc(), 1);
}

#[test]
fn run_0_abandons_a_blocked_wait() {
    let mut tb = Tb::new(&[nop(), wait(1, 2), out(P_LOG, 1), halt()]);
    tb.until(50, "waiting", |t| t.waiting());
    tb.ctl_write(0);
    tb.settle_halted();
    assert!(!tb.waiting());
    assert_eq!(tb.pc(), 1, "PC stays at the WAIT");
    // Resumed, it blocks again, then completes on the event.
    tb.ctl_write(seq_ctrl::RUN);
    tb.until(10, "waiting", |t| t.waiting());
    tb.events = 0x8000_0002;
    tb.settle_halted();
    assert_eq!(tb.log, vec![0x8000_0002]);
}

#[test]
fn pc_reset_clears_a_trap_and_empties_the_stack() {
    let mut tb = Tb::new(&[call(2), halt(), call(4), nop(), trap_i(3)]);
    tb.expect_trap(4, trap::SOFTWARE, 3);
    assert_eq!(tb.depth(), 2);
    // RUN and STEP are ignored while trapped.
    tb.ctl_write(seq_ctrl::RUN);
    tb.ticks(20);
    assert!(tb.trapped() && !tb.running());
    tb.ctl_write(seq_ctrl::STEP);
    tb.ticks(20);
    assert!(tb.trapped() && !tb.running());
    assert_eq!(tb.pc(), 4);
    // PC_RESET alone: cleared, halted at 0.
    tb.ctl_write(seq_ctrl::PC_RESET);
    tb.ticks(2);
    assert!(!tb.trapped() && !tb.running());
    assert_eq!(tb.pc(), 0);
    assert_eq!(tb.depth(), 0);
    assert_eq!(
        tb.trap_info(),
        trap_word(4, trap::SOFTWARE, 3),
        "last trap kept"
    );
    tb.ticks(20);
    assert_eq!(tb.pc(), 0);
    // Run again: same trap.
    tb.clear_observations();
    tb.ctl_write(seq_ctrl::RUN);
    tb.expect_trap(4, trap::SOFTWARE, 3);
    // PC_RESET with RUN restarts directly.
    tb.clear_observations();
    tb.ctl_write(seq_ctrl::PC_RESET | seq_ctrl::RUN);
    tb.expect_trap(4, trap::SOFTWARE, 3);
}

#[test]
fn pc_reset_with_step_from_a_trap_executes_address_0_only() {
    let mut tb = Tb::new(&[movi(1, 0x77), out(P_LOG, 1), trap_i(1)]);
    tb.expect_trap(2, trap::SOFTWARE, 1);
    tb.clear_observations();
    tb.ctl_write(seq_ctrl::PC_RESET | seq_ctrl::STEP);
    tb.settle_halted();
    assert!(!tb.trapped());
    assert_eq!(tb.pc(), 1);
    tb.ticks(30);
    assert_eq!(tb.pc(), 1);
    tb.ctl_write(seq_ctrl::STEP);
    tb.settle_halted();
    assert_eq!(tb.pc(), 2);
    assert_eq!(tb.log, vec![0x77]);
}

#[test]
fn pc_reset_while_running_restarts_at_zero() {
    let mut tb = Tb::new(&counting_loop());
    tb.ticks(200);
    tb.ctl_write(seq_ctrl::PC_RESET | seq_ctrl::RUN);
    tb.ticks(8);
    let cut = tb.log.len();
    tb.ticks(100);
    // The counter restarted from 0 (MOVI r1, 0 at address 0).
    assert!(tb.log.len() > cut + 3);
    assert_eq!(tb.log[cut], 1, "log {:?}", &tb.log[cut.saturating_sub(3)..]);
}

// ---------------------------------------------------------------------------------
// Checksum.

#[test]
fn checksum_of_a_random_image_and_after_a_host_write() {
    let mut rng = Rng(99);
    let mut image: Vec<u32> = (0..1024).map(|_| rng.u32()).collect();
    image[0] = halt();
    let mut tb = Tb::new(&image);
    tb.settle_halted();
    tb.ctl_write(seq_ctrl::CSUM_START);
    assert!(tb.csum_busy());
    let n = tb.until(2000, "checksum", |t| !t.csum_busy());
    assert!((1024..=1026).contains(&n), "scan took {n} cycles");
    let c0 = isa::checksum(&image);
    assert_eq!(tb.csum(), c0);
    // The value stays.
    tb.ticks(10);
    assert_eq!(tb.csum(), c0);
    // Change one word through the host port.
    tb.iram_addr = 517;
    tb.iram_write = Some(image[517] ^ 0x0000_0100);
    tb.tick();
    image[517] ^= 0x0000_0100;
    tb.ctl_write(seq_ctrl::CSUM_START);
    tb.until(2000, "checksum", |t| !t.csum_busy());
    assert_eq!(tb.csum(), isa::checksum(&image));
    assert_ne!(tb.csum(), c0);
}

#[test]
fn checksum_of_a_short_image() {
    let image = [halt(), 1, 2, 3, 0xFFFF_FFFF];
    let mut tb = Tb::new(&image);
    tb.ctl_write(seq_ctrl::CSUM_START | seq_ctrl::RUN);
    tb.until(2000, "checksum", |t| !t.csum_busy());
    assert_eq!(tb.csum(), isa::checksum(&image));
}

#[test]
fn checksum_while_running_pauses_the_sequencer_only() {
    let image = counting_loop();
    let mut tb = Tb::new(&image);
    tb.ticks(100);
    tb.ctl_write(seq_ctrl::CSUM_START | seq_ctrl::RUN);
    let before = tb.log.len();
    tb.until(2000, "checksum", |t| !t.csum_busy());
    assert!(tb.log.len() <= before + 1, "paused during the scan");
    assert_eq!(tb.csum(), isa::checksum(&image));
    tb.ticks(300);
    assert!(tb.running() && !tb.trapped());
    let want: Vec<u32> = (1..=tb.log.len() as u32).collect();
    assert_eq!(tb.log, want, "nothing lost or repeated");
}

// ---------------------------------------------------------------------------------
// The emitted Verilog against the simulation.

/// Runs a mix of the scenarios above in one simulation with a cycle trace (programs
/// loaded through the host port), then replays the trace's inputs into the emitted
/// Verilog under Verilator and compares every output in every cycle.
#[test]
fn verilog_matches_the_simulation() {
    let image = [halt()];
    let mut tb = Tb::new(&[]);
    // Start over with tracing on from the very first (reset) cycle.
    tb = {
        let mut uut = Box::new(Sequencer::new(&image));
        uut.connect_all();
        tb.uut = uut;
        tb.trace = Some(String::new());
        tb.reset = true;
        tb.tick();
        tb
    };
    tb.settle_halted();

    // ALU and branches.
    for (prog, expect) in [
        alu_program(31, 140),
        branch_program(false, 0..8),
        branch_program(true, 0..4),
        branch_program(true, 4..8),
    ] {
        tb.load_and_run(&prog);
        tb.settle_halted();
        assert!(!tb.trapped());
        assert_eq!(tb.log.len(), expect.len());
        let got: Vec<u32> = tb.log.clone();
        assert_eq!(got, expect);
    }
    // Memory with grant delays.
    let (prog, expect) = mem_program();
    tb.mem_delay_max = 5;
    tb.hcb_base = 0x800;
    tb.mem[0x1010 / 4] = 0xFFFF_FFFF;
    tb.mem[0x9000 / 4] = 0x0900_0900;
    tb.load_and_run(&prog);
    tb.settle_halted();
    assert_eq!(tb.log, expect);
    // I/O, then a bad port.
    let mut a = Asm::default();
    a.emit_all(&li(1, 0xDEAD_BEEF));
    a.emit(out(P_SCRATCH, 1))
        .emit(inp(2, P_SCRATCH))
        .emit(out(P_LOG, 2));
    a.emit(out(P_SLOW, 1))
        .emit(inp(3, P_SLOW))
        .emit(out(P_LOG, 3));
    a.emit(inp(4, P_RO)).emit(out(P_LOG, 4));
    a.emit(inp(5, P_NONE));
    tb.load_and_run(&a.finish());
    tb.expect_trap(10, trap::BAD_IO, 0);
    assert_eq!(tb.log, vec![0xDEAD_BEEF, 0xDEAD_BEEF, RO_VALUE]);
    // Stack: overflow, then a full-depth run.
    tb.load_and_run(&recursion(9));
    tb.expect_trap(7, trap::STACK_OVERFLOW, 0);
    tb.load_and_run(&recursion(8));
    tb.settle_halted();
    assert_eq!(tb.log, vec![1, 2, 3, 4, 5, 6, 7, 8, 8]);
    // WAIT, RUN = 0 on a blocked WAIT, software trap.
    tb.load_and_run(&[wait(3, 0x0204), out(P_LOG, 3), trap_i(0x5C)]);
    tb.ticks(30);
    tb.ctl_write(0);
    tb.settle_halted();
    tb.ctl_write(seq_ctrl::RUN);
    tb.ticks(30);
    tb.events = 0x0001_0200;
    tb.expect_trap(2, trap::SOFTWARE, 0x5C);
    assert_eq!(tb.log, vec![0x0001_0200]);
    tb.events = 0;
    // Breakpoint, step, checksum while running, RUN = 0, watchdog.
    tb.load_and_run(&counting_loop());
    tb.brk = 0x8000_0002;
    tb.settle_halted();
    assert!(tb.at_break());
    tb.ctl_write(seq_ctrl::STEP);
    tb.settle_halted();
    tb.ctl_write(seq_ctrl::STEP);
    tb.settle_halted();
    assert_eq!(tb.pc(), 1);
    tb.brk = 0;
    tb.ctl_write(seq_ctrl::RUN | seq_ctrl::CSUM_START);
    tb.until(2000, "checksum", |t| !t.csum_busy());
    assert_eq!(tb.csum(), isa::checksum(&counting_loop()));
    tb.ticks(50);
    tb.ctl_write(0);
    tb.settle_halted();
    tb.wdog = 60;
    tb.ctl_write(seq_ctrl::RUN);
    tb.settle_halted();
    assert_eq!(tb.trap_info() >> 16, trap::WATCHDOG);
    tb.wdog = 0;
    // Undefined opcode, bad address; then a reset.
    tb.load_and_run(&[nop(), 0x5C00_0000]);
    tb.expect_trap(1, trap::BAD_OPCODE, 0);
    tb.load_and_run(&[mem(op::LDW, 1, 0, 0x0102)]);
    tb.expect_trap(0, trap::BAD_ADDRESS, 0);
    tb.reset = true;
    tb.tick();
    tb.ticks(20);
    let trace = tb.trace.take().unwrap();
    let cycles = trace.lines().count();

    if !have_verilator() {
        eprintln!("note: verilator not found; skipping the Verilog co-simulation");
        return;
    }
    let mut uut = Sequencer::new(&image);
    uut.connect_all();
    let verilog = generate_verilog(&uut);

    // A C++ bench that replays the trace the way the project's co-simulation drives
    // the core (inputs, clock 0, eval, clock 1, eval), then compares the outputs.
    let ni = TRACE_INPUTS.len();
    let no = TRACE_OUTPUTS.len();
    let mut cpp = String::from(
        "#include \"Vtop.h\"\n#include \"verilated.h\"\n#include <cstdio>\n\
         int main(int argc, char** argv) {\n  Verilated::commandArgs(argc, argv);\n  Vtop t;\n\
         FILE* f = fopen(\"trace.txt\", \"r\");\n  if (!f) return 2;\n",
    );
    cpp += &format!(
        "  unsigned long long v[{}];\n  long cyc = 0, errs = 0;\n",
        ni + no
    );
    cpp += "  const char* names[] = {";
    cpp += &TRACE_OUTPUTS
        .iter()
        .map(|(n, _)| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    cpp += "};\n  for (;;) {\n    int n = 0;\n";
    cpp += &format!(
        "    for (int i = 0; i < {}; i++) n += fscanf(f, \"%llx\", &v[i]);\n    if (n != {}) break;\n",
        ni + no,
        ni + no
    );
    for (i, (n, _)) in TRACE_INPUTS.iter().enumerate() {
        cpp += &format!("    t.{n} = v[{i}];\n");
    }
    cpp += "    t.clock = 0;\n    t.eval();\n    t.clock = 1;\n    t.eval();\n";
    cpp += "    unsigned long long o[] = {";
    cpp += &TRACE_OUTPUTS
        .iter()
        .map(|(n, _)| format!("(unsigned long long)t.{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    cpp += "};\n";
    cpp += &format!(
        "    for (int i = 0; i < {no}; i++)\n      if (o[i] != v[{ni} + i]) {{\n\
         \x20       if (errs < 20) printf(\"cycle %ld: %s = %llx, simulation %llx\\n\", cyc, names[i], o[i], v[{ni} + i]);\n\
         \x20       errs++;\n      }}\n    cyc++;\n  }}\n"
    );
    cpp += "  printf(\"COSIM cycles=%ld errors=%ld\\n\", cyc, errs);\n  return 0;\n}\n";

    // HBA_SEQ_COSIM_DIR keeps the bench, trace and build there for debugging.
    let keep = std::env::var_os("HBA_SEQ_COSIM_DIR");
    let dir = match &keep {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("hba-seq-cosim-{}", std::process::id())),
    };
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("seq.v"), &verilog).unwrap();
    std::fs::write(dir.join("main.cpp"), &cpp).unwrap();
    std::fs::write(dir.join("trace.txt"), &trace).unwrap();
    let build = std::process::Command::new("verilator")
        .current_dir(&dir)
        .args([
            "--cc",
            "--exe",
            "--build",
            "-j",
            "2",
            "-Wno-fatal",
            "-Wno-lint",
            "-Wno-style",
            "--top-module",
            "top",
            "-o",
            "vtb",
            "seq.v",
            "main.cpp",
        ])
        .output()
        .unwrap();
    if !build.status.success() {
        panic!(
            "verilator build failed:\n{}",
            String::from_utf8_lossy(&build.stderr)
        );
    }
    let run = std::process::Command::new(dir.join("obj_dir/vtb"))
        .current_dir(&dir)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout).to_string();
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(
        out.contains(&format!("COSIM cycles={cycles} errors=0")),
        "Verilog and simulation differ ({cycles} cycles traced):\n{out}"
    );
}

fn have_verilator() -> bool {
    std::process::Command::new("verilator")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------
// Cycle counts (as documented in firmware/ISA.md).

/// Cycles `prog` takes, from its first fetch to the fetch after its last instruction
/// (immediate grants, events present).
fn cycles(prog: &[u32]) -> u64 {
    let mut p = prog.to_vec();
    p.push(halt());
    let mut tb = Tb::new(&p);
    tb.events = 0xFFFF;
    // HALT itself takes 3 cycles: fetch, decode, execute.
    let n = tb.settle_halted();
    assert!(!tb.trapped(), "trap {:#x}", tb.trap_info());
    assert_eq!(tb.pc() as usize, p.len());
    n - 3
}

#[test]
fn cycle_counts_per_instruction_class() {
    assert_eq!(cycles(&[]), 0);
    // Three cycles: fetch, decode, execute.
    for w in [
        nop(),
        movi(1, 5),
        movhi(1, 5),
        enc_i(op::ADD, 1, 2, 0),
        enc_i(op::SHLI, 1, 2, 3),
        enc_i(op::MOV, 1, 2, 0),
        jmp(1),
        enc_bri(cond::EQ, 0, 0, 1), // taken
        enc_bri(cond::NE, 0, 0, 1), // not taken
        enc_brr(cond::GEU, 0, 0, 1),
        wait(1, 1), // event already present
    ] {
        assert_eq!(cycles(&[w]), 3, "{w:#010x}");
    }
    assert_eq!(cycles(&[call(2), jmp(3), ret()]), 9);
    // Memory: + 1 request cycle per grant wait; loads + 1 for the data.
    assert_eq!(cycles(&[mem(op::STW, 1, 0, 0x100)]), 4);
    assert_eq!(cycles(&[mem(op::STBH, 1, 0, 0x3)]), 4);
    assert_eq!(cycles(&[mem(op::LDW, 1, 0, 0x100)]), 5);
    assert_eq!(cycles(&[mem(op::LDBH, 1, 0, 0x5)]), 5);
    // I/O: + 1 request cycle per io_ready wait.
    assert_eq!(cycles(&[inp(1, P_SCRATCH)]), 4);
    assert_eq!(cycles(&[out(P_LOG, 1)]), 4);
    assert_eq!(cycles(&[out(P_SLOW, 1)]), 4 + SLOW_WAIT as u64);
    // Grant delays add exactly their length.
    let mut tb = Tb::new(&[mem(op::LDW, 1, 0, 0x100), halt()]);
    tb.mem_delay_max = 0;
    let base = tb.settle_halted();
    let mut delays = std::collections::HashSet::new();
    for seed in 1..12 {
        let mut tb = Tb::with_seed(&[mem(op::LDW, 1, 0, 0x100), halt()], seed);
        tb.mem_delay_max = 9;
        let n = tb.settle_halted();
        assert_eq!(n - base, tb.mem_wait_cycles);
        delays.insert(tb.mem_wait_cycles);
    }
    assert!(delays.len() > 3, "the delays varied: {delays:?}");
    // A blocked WAIT completes in the cycle it sees the event.
    let mut tb = Tb::new(&[wait(1, 4), halt()]);
    tb.until(10, "waiting", |t| t.waiting());
    tb.ticks(10);
    tb.events = 4;
    let n = tb.until(10, "WAIT done", |t| !t.waiting());
    assert_eq!(n, 1);
    assert_eq!(tb.pc(), 1);
}
