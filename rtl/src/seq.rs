//! The sequencer: a small microcoded engine (ISA in `firmware/ISA.md`, encodings in
//! `hba_abi::isa`).
//!
//! Structure: a multi-cycle state machine, one instruction at a time.
//!
//! ```text
//!   FETCH ──> DECODE ──> EXEC ──┬──────────────────────────────> FETCH
//!     ^ (issue IRAM    (latch IR, │ memory: MEM ─(grant)─┬─ store ─> FETCH
//!     |  read at PC)   read rd/rs)│                      └─ load: MEMRD ─> FETCH
//!     |                           │ I/O:    IO ─(io_ready)──────────> FETCH
//!     |                           │ WAIT (blocked): WAIT ─(event)───> FETCH
//! ```
//!
//! FETCH is also where the sequencer stops: it starts an instruction only when running
//! (or a STEP is pending), not trapped, not at an enabled breakpoint and not paused by
//! a checksum scan. Host control, traps and the breakpoint are therefore all decided at
//! instruction boundaries; an instruction that has started always completes (or traps),
//! except a `WAIT` that is blocked, which the host can abandon (see `firmware/ISA.md`).
//!
//! Storage: the instruction RAM ([`Iram`], block RAM), the 16 registers and the call
//! stack as small distributed RAMs ([`LutRam`]).

use crate::iram::Iram;
use hba_abi::isa::{self, cond, op, trap};
use hba_abi::layout::HCB_BYTES;
use hba_abi::mem::CARD_MEM_BYTES;
use rust_hdl::prelude::*;

/// Instruction address width.
pub const PC_BITS: usize = hba_abi::isa::PC_BITS as usize;
/// Card-memory word address width.
pub const MEM_ADDR_BITS: usize = hba_abi::mem::CARD_MEM_ADDR_BITS as usize;

/// Register-number width.
const REG_BITS: usize = 4;
/// Call-stack address width.
const STACK_BITS: usize = 3;
/// Checksum scan counter: 0..=IRAM_WORDS.
const SCAN_BITS: usize = PC_BITS + 1;

// hdl_gen writes literals verbatim into Verilog, so `update` uses literal numbers for
// opcodes, field positions and causes. Every one of them is tied to hba-abi here.
const _: () = {
    // Field positions and widths.
    assert!(isa::OP_SHIFT == 26 && isa::RD_SHIFT == 22 && isa::RS_SHIFT == 18);
    assert!(isa::BRR_COND_SHIFT == 14 && isa::BRI_IMM_SHIFT == 10);
    assert!(isa::PC_BITS == 10 && isa::NUM_REGS == 1 << REG_BITS);
    assert!(isa::STACK_DEPTH == 8 && isa::STACK_DEPTH == 1 << STACK_BITS);
    assert!(isa::IRAM_WORDS == 1024 && 1 << (SCAN_BITS - 1) == isa::IRAM_WORDS);
    // Card memory: byte addresses have 17 bits; word address = byte address 16:2.
    assert!(CARD_MEM_BYTES == 1 << 17 && MEM_ADDR_BITS == 15);
    // HCB-relative offsets: imm16 % HCB_BYTES == imm16 & 127.
    assert!(HCB_BYTES == 128);
    // Control opcodes (matched as decimal literals).
    assert!(op::NOP == 1 && op::HALT == 2 && op::TRAP == 3 && op::JMP == 4);
    assert!(op::CALL == 5 && op::RET == 6 && op::WAIT == 7 && op::MOVI == 8);
    assert!(op::MOVHI == 9);
    // ALU: 0b01_r_fff; r = 0: `rd = rs f imm16`, r = 1: `rd = rd f rs`; fff selects
    // add, sub, and, or, xor, shl, shr, and (r = 1 only) mov. 0x17 is undefined.
    assert!(op::ADDI == 0x10 && op::SUBI == 0x11 && op::ANDI == 0x12 && op::ORI == 0x13);
    assert!(op::XORI == 0x14 && op::SHLI == 0x15 && op::SHRI == 0x16);
    assert!(op::ADD == 0x18 && op::SUB == 0x19 && op::AND == 0x1A && op::OR == 0x1B);
    assert!(op::XOR == 0x1C && op::SHL == 0x1D && op::SHR == 0x1E && op::MOV == 0x1F);
    // Memory: 0b100_h_s_b; h = HCB-relative, s = store, b = byte.
    assert!(op::LDW == 0x20 && op::LDB == 0x21 && op::STW == 0x22 && op::STB == 0x23);
    assert!(op::LDWH == 0x24 && op::LDBH == 0x25 && op::STWH == 0x26 && op::STBH == 0x27);
    // I/O: 0b10100_w (IN = 40, OUT = 41); branches 0b11000_r (BRI = 48, BRR = 49).
    assert!(op::IN == 40 && op::OUT == 41 && op::BRI == 48 && op::BRR == 49);
    // Conditions: c[2:1] picks ==, <, bit test, any-and; c[0] inverts; c[3] undefined.
    assert!(cond::EQ == 0 && cond::NE == 1 && cond::LTU == 2 && cond::GEU == 3);
    assert!(cond::BS == 4 && cond::BC == 5 && cond::ANY == 6 && cond::NONE == 7);
    // Trap causes.
    assert!(trap::BAD_OPCODE == 1 && trap::STACK_OVERFLOW == 2);
    assert!(trap::STACK_UNDERFLOW == 3 && trap::WATCHDOG == 4 && trap::BAD_ADDRESS == 5);
    assert!(trap::SOFTWARE == 6 && trap::BAD_IO == 7);
    // Host control bits.
    use hba_abi::regs::seq_ctrl;
    assert!(seq_ctrl::RUN == 1 << 0 && seq_ctrl::STEP == 1 << 1);
    assert!(seq_ctrl::PC_RESET == 1 << 2 && seq_ctrl::CSUM_START == 1 << 3);
};

/// A small RAM for distributed (LUT) RAM: one write port and two read ports, all
/// synchronous (read-first, one cycle of read latency, always enabled). Used for the
/// register file and the call stack. Contents power up as 0 and are not touched by
/// reset.
#[derive(LogicBlock)]
pub struct LutRam<const A: usize, const W: usize> {
    /// Write clock.
    pub clock: Signal<In, Clock>,
    /// Write enable.
    pub we: Signal<In, Bit>,
    /// Write address.
    pub waddr: Signal<In, Bits<A>>,
    /// Write data.
    pub wdata: Signal<In, Bits<W>>,
    /// Read port A address.
    pub raddr_a: Signal<In, Bits<A>>,
    /// Read port A data: the word at `raddr_a` of the previous cycle.
    pub rdata_a: Signal<Out, Bits<W>>,
    /// Read port B address.
    pub raddr_b: Signal<In, Bits<A>>,
    /// Read port B data: the word at `raddr_b` of the previous cycle.
    pub rdata_b: Signal<Out, Bits<W>>,
    _mem: Vec<Bits<W>>,
}

impl<const A: usize, const W: usize> Default for LutRam<A, W> {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            we: Default::default(),
            waddr: Default::default(),
            wdata: Default::default(),
            raddr_a: Default::default(),
            rdata_a: Default::default(),
            raddr_b: Default::default(),
            rdata_b: Default::default(),
            _mem: vec![Bits::default(); 1 << A],
        }
    }
}

impl<const A: usize, const W: usize> Logic for LutRam<A, W> {
    // Behavioural model for rust-hdl's simulator.
    fn update(&mut self) {
        if self.clock.pos_edge() {
            self.rdata_a.next = self._mem[self.raddr_a.val().index()];
            self.rdata_b.next = self._mem[self.raddr_b.val().index()];
            if self.we.val() {
                self._mem[self.waddr.val().index()] = self.wdata.val();
            }
        }
    }

    fn connect(&mut self) {
        self.rdata_a.connect();
        self.rdata_b.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "\
(* ram_style = \"distributed\" *)
reg [{msb}:0] mem [0:{last}];
integer i;

initial begin
   for (i = 0; i < {words}; i = i + 1) mem[i] = {w}'d0;
   rdata_a = {w}'d0;
   rdata_b = {w}'d0;
end

always @(posedge clock) begin
   rdata_a <= mem[raddr_a];
   rdata_b <= mem[raddr_b];
   if (we) mem[waddr] <= wdata;
end
",
            msb = W - 1,
            last = (1usize << A) - 1,
            words = 1usize << A,
            w = W,
        ))
    }
}

/// Execution state.
#[derive(Copy, Clone, PartialEq, Eq, Debug, LogicState)]
pub enum SeqState {
    /// Between instructions: start the next one (or stay stopped).
    Fetch,
    /// The instruction word is on the fetch port: latch it and read `rd`, `rs`.
    Decode,
    /// Execute; simple instructions complete here.
    Exec,
    /// Memory request held until granted.
    Mem,
    /// Load data arrives (the cycle after the grant).
    MemRd,
    /// I/O request held until ready.
    Io,
    /// Blocked in `WAIT`.
    Wait,
}

/// The microcoded sequencer with its instruction RAM.
#[derive(LogicBlock)]
pub struct Sequencer {
    /// Core clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset (power-on or soft reset): PC 0, stack empty, trap cleared,
    /// running. Instruction RAM contents are kept.
    pub reset: Signal<In, Bit>,

    /// One cycle: the host wrote `SEQ_CTRL` with `ctl_wdata` (`regs::seq_ctrl` bits).
    pub ctl_write: Signal<In, Bit>,
    /// The value written to `SEQ_CTRL`.
    pub ctl_wdata: Signal<In, Bits<32>>,
    /// `SEQ_BRK` (level): address 9:0, enable bit 31.
    pub brk: Signal<In, Bits<32>>,
    /// `SEQ_WDOG` (level): cycles without `WAIT` before a watchdog trap; 0 = off.
    pub wdog_limit: Signal<In, Bits<32>>,

    /// Host port of the instruction RAM: write enable.
    pub iram_we: Signal<In, Bit>,
    /// Host port address.
    pub iram_addr: Signal<In, Bits<PC_BITS>>,
    /// Host port write data.
    pub iram_wdata: Signal<In, Bits<32>>,
    /// Host port read data: the word at the `iram_addr` of the previous cycle.
    pub iram_rdata: Signal<Out, Bits<32>>,

    /// Running (not halted, not trapped).
    pub running: Signal<Out, Bit>,
    /// Trapped (halted until PC_RESET or reset).
    pub trapped: Signal<Out, Bit>,
    /// Stopped at the breakpoint.
    pub at_break: Signal<Out, Bit>,
    /// Blocked in WAIT.
    pub waiting: Signal<Out, Bit>,
    /// Call stack depth.
    pub depth: Signal<Out, Bits<4>>,
    /// Program counter.
    pub pc: Signal<Out, Bits<PC_BITS>>,
    /// `SEQ_TRAP` value: PC 9:0, cause 23:16, code 31:24.
    pub trap_info: Signal<Out, Bits<32>>,
    /// Checksum of the instruction RAM (`isa::checksum`).
    pub csum: Signal<Out, Bits<32>>,
    /// Checksum being computed.
    pub csum_busy: Signal<Out, Bit>,
    /// One cycle when a trap happens.
    pub trap_pulse: Signal<Out, Bit>,
    /// One cycle when the sequencer halts on its breakpoint or a HALT instruction.
    pub halt_pulse: Signal<Out, Bit>,

    /// I/O port number.
    pub io_addr: Signal<Out, Bits<8>>,
    /// I/O write data.
    pub io_wdata: Signal<Out, Bits<32>>,
    /// I/O write request (held until `io_ready`).
    pub io_wr: Signal<Out, Bit>,
    /// I/O read request (held until `io_ready`).
    pub io_rd: Signal<Out, Bit>,
    /// I/O read data, valid in the cycle `io_rd && io_ready`.
    pub io_rdata: Signal<In, Bits<32>>,
    /// The I/O access is accepted this cycle.
    pub io_ready: Signal<In, Bit>,
    /// With `io_ready`: the port does not exist (trap BAD_IO).
    pub io_err: Signal<In, Bit>,

    /// Event word (`isa::ev`), for WAIT.
    pub events: Signal<In, Bits<32>>,

    /// Card-memory request (held until `mem_gnt`).
    pub mem_req: Signal<Out, Bit>,
    /// Write (else read).
    pub mem_we: Signal<Out, Bit>,
    /// Word address.
    pub mem_addr: Signal<Out, Bits<MEM_ADDR_BITS>>,
    /// Byte enables for a write.
    pub mem_be: Signal<Out, Bits<4>>,
    /// Write data.
    pub mem_wdata: Signal<Out, Bits<32>>,
    /// Request granted this cycle.
    pub mem_gnt: Signal<In, Bit>,
    /// Read data, valid the cycle after the grant.
    pub mem_rdata: Signal<In, Bits<32>>,
    /// Word address of the current slot's HCB (for LDWH/LDBH/STWH/STBH).
    pub hcb_base: Signal<In, Bits<MEM_ADDR_BITS>>,
    /// Co-simulation fast-forward: blocked in a WAIT no present event satisfies, or
    /// stopped (halted or trapped) at an instruction boundary; nothing counts meanwhile
    /// (the watchdog is cleared in WAIT and stopped when not running).
    pub ff_quiet: Signal<Out, Bit>,

    // ---- Storage ----
    iram: Iram,
    rf: LutRam<REG_BITS, 32>,
    stack: LutRam<STACK_BITS, PC_BITS>,

    // ---- State ----
    state: DFF<SeqState>,
    r_pc: DFF<Bits<PC_BITS>>,
    r_depth: DFF<Bits<4>>,
    /// The RUN flag (host RUN bit; cleared by HALT, the breakpoint and traps).
    r_run: DFF<Bit>,
    r_trapped: DFF<Bit>,
    r_at_break: DFF<Bit>,
    /// Set by a RUN that resumes a halted sequencer: the first instruction runs without
    /// the breakpoint check, however the PC got there (breakpoint, STEP or a write).
    r_skip: DFF<Bit>,
    /// A STEP is pending: start one instruction although not running.
    r_step: DFF<Bit>,
    /// A PC_RESET is pending: applied at the next instruction boundary.
    r_pcr: DFF<Bit>,
    r_trap_info: DFF<Bits<32>>,
    r_trap_pulse: DFF<Bit>,
    r_halt_pulse: DFF<Bit>,
    r_wd: DFF<Bits<32>>,
    r_scan: DFF<Bit>,
    r_scan_cnt: DFF<Bits<SCAN_BITS>>,
    r_csum: DFF<Bits<32>>,
    // Instruction (latched in DECODE; the operands rd, rs are the register file's
    // read data, valid in EXEC).
    r_ir: DFF<Bits<32>>,
    // The access in flight (latched in EXEC).
    r_maddr: DFF<Bits<MEM_ADDR_BITS>>,
    r_we: DFF<Bit>,
    r_byte: DFF<Bit>,
    r_lane: DFF<Bits<2>>,
    r_be: DFF<Bits<4>>,
    r_wdata: DFF<Bits<32>>,
    r_port: DFF<Bits<8>>,

    // ---- Combinational temporaries ----
    w_run: Signal<Local, Bit>,
    w_step: Signal<Local, Bit>,
    w_pcr: Signal<Local, Bit>,
    w_csum: Signal<Local, Bit>,
    w_ok: Signal<Local, Bit>,
    opc: Signal<Local, Bits<6>>,
    imm32: Signal<Local, Bits<32>>,
    bri32: Signal<Local, Bits<32>>,
    target: Signal<Local, Bits<PC_BITS>>,
    is_alu: Signal<Local, Bit>,
    is_alu_imm: Signal<Local, Bit>,
    is_mem: Signal<Local, Bit>,
    is_hcb: Signal<Local, Bit>,
    is_abs: Signal<Local, Bit>,
    is_io: Signal<Local, Bit>,
    is_br: Signal<Local, Bit>,
    is_bri: Signal<Local, Bit>,
    hcb32: Signal<Local, Bits<32>>,
    x: Signal<Local, Bits<32>>,
    y: Signal<Local, Bits<32>>,
    sum: Signal<Local, Bits<32>>,
    shamt: Signal<Local, Bits<5>>,
    shr_res: Signal<Local, Bits<32>>,
    alu_res: Signal<Local, Bits<32>>,
    movhi_val: Signal<Local, Bits<32>>,
    cnd: Signal<Local, Bits<4>>,
    c_base: Signal<Local, Bit>,
    taken: Signal<Local, Bit>,
    ea_bad: Signal<Local, Bit>,
    be: Signal<Local, Bits<4>>,
    byte32: Signal<Local, Bits<32>>,
    load_val: Signal<Local, Bits<32>>,
    pc_inc: Signal<Local, Bits<PC_BITS>>,
    depth_m1: Signal<Local, Bits<4>>,
    wait_hit: Signal<Local, Bit>,
    abandon: Signal<Local, Bit>,
    wd_hit: Signal<Local, Bit>,
    wd_clear: Signal<Local, Bit>,
    brk_hit: Signal<Local, Bit>,
    t_now: Signal<Local, Bit>,
    t_cause: Signal<Local, Bits<8>>,
    t_code: Signal<Local, Bits<8>>,
    t_word: Signal<Local, Bits<32>>,
    wb_en: Signal<Local, Bit>,
    wb_val: Signal<Local, Bits<32>>,
    halt_now: Signal<Local, Bit>,
    push: Signal<Local, Bit>,
    /// Bits the design does not need (Verilator's `*unused*` convention).
    unused: Signal<Local, Bit>,
    in_flight: Signal<Local, Bit>,
    ff_stopped: Signal<Local, Bit>,
}

impl Sequencer {
    /// A sequencer whose instruction RAM powers up with `image` (missing words are 0,
    /// which is an undefined opcode).
    ///
    /// # Panics
    /// If `image` is longer than [`isa::IRAM_WORDS`]: a build-time programmer error.
    pub fn new(image: &[u32]) -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            ctl_write: Default::default(),
            ctl_wdata: Default::default(),
            brk: Default::default(),
            wdog_limit: Default::default(),
            iram_we: Default::default(),
            iram_addr: Default::default(),
            iram_wdata: Default::default(),
            iram_rdata: Default::default(),
            running: Default::default(),
            trapped: Default::default(),
            at_break: Default::default(),
            waiting: Default::default(),
            depth: Default::default(),
            pc: Default::default(),
            trap_info: Default::default(),
            csum: Default::default(),
            csum_busy: Default::default(),
            trap_pulse: Default::default(),
            halt_pulse: Default::default(),
            io_addr: Default::default(),
            io_wdata: Default::default(),
            io_wr: Default::default(),
            io_rd: Default::default(),
            io_rdata: Default::default(),
            io_ready: Default::default(),
            io_err: Default::default(),
            events: Default::default(),
            mem_req: Default::default(),
            mem_we: Default::default(),
            mem_addr: Default::default(),
            mem_be: Default::default(),
            mem_wdata: Default::default(),
            mem_gnt: Default::default(),
            mem_rdata: Default::default(),
            hcb_base: Default::default(),
            iram: Iram::new(image),
            rf: Default::default(),
            stack: Default::default(),
            state: Default::default(),
            r_pc: Default::default(),
            r_depth: Default::default(),
            r_run: Default::default(),
            r_trapped: Default::default(),
            r_at_break: Default::default(),
            r_skip: Default::default(),
            r_step: Default::default(),
            r_pcr: Default::default(),
            r_trap_info: Default::default(),
            r_trap_pulse: Default::default(),
            r_halt_pulse: Default::default(),
            r_wd: Default::default(),
            r_scan: Default::default(),
            r_scan_cnt: Default::default(),
            r_csum: Default::default(),
            r_ir: Default::default(),
            r_maddr: Default::default(),
            r_we: Default::default(),
            r_byte: Default::default(),
            r_lane: Default::default(),
            r_be: Default::default(),
            r_wdata: Default::default(),
            r_port: Default::default(),
            w_run: Default::default(),
            w_step: Default::default(),
            w_pcr: Default::default(),
            w_csum: Default::default(),
            w_ok: Default::default(),
            opc: Default::default(),
            imm32: Default::default(),
            bri32: Default::default(),
            target: Default::default(),
            is_alu: Default::default(),
            is_alu_imm: Default::default(),
            is_mem: Default::default(),
            is_hcb: Default::default(),
            is_abs: Default::default(),
            is_io: Default::default(),
            is_br: Default::default(),
            is_bri: Default::default(),
            hcb32: Default::default(),
            x: Default::default(),
            y: Default::default(),
            sum: Default::default(),
            shamt: Default::default(),
            shr_res: Default::default(),
            alu_res: Default::default(),
            movhi_val: Default::default(),
            cnd: Default::default(),
            c_base: Default::default(),
            taken: Default::default(),
            ea_bad: Default::default(),
            be: Default::default(),
            byte32: Default::default(),
            load_val: Default::default(),
            pc_inc: Default::default(),
            depth_m1: Default::default(),
            wait_hit: Default::default(),
            abandon: Default::default(),
            wd_hit: Default::default(),
            wd_clear: Default::default(),
            brk_hit: Default::default(),
            t_now: Default::default(),
            t_cause: Default::default(),
            t_code: Default::default(),
            t_word: Default::default(),
            wb_en: Default::default(),
            wb_val: Default::default(),
            halt_now: Default::default(),
            push: Default::default(),
            unused: Default::default(),
            in_flight: Default::default(),
            ff_quiet: Default::default(),
            ff_stopped: Default::default(),
        }
    }

    /// The instruction RAM's power-on image (1024 words).
    pub fn iram_image(&self) -> &[u32] {
        self.iram.image()
    }
}

impl Default for Sequencer {
    fn default() -> Self {
        Self::new(&[])
    }
}

impl Logic for Sequencer {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            state,
            r_pc,
            r_depth,
            r_run,
            r_trapped,
            r_at_break,
            r_skip,
            r_step,
            r_pcr,
            r_trap_info,
            r_trap_pulse,
            r_halt_pulse,
            r_wd,
            r_scan,
            r_scan_cnt,
            r_csum,
            r_ir,
            r_maddr,
            r_we,
            r_byte,
            r_lane,
            r_be,
            r_wdata,
            r_port
        );
        self.iram.clock.next = self.clock.val();
        self.rf.clock.next = self.clock.val();
        self.stack.clock.next = self.clock.val();

        // ---- Instruction RAM: host port straight through ----
        self.iram.host_we.next = self.iram_we.val();
        self.iram.host_addr.next = self.iram_addr.val();
        self.iram.host_wdata.next = self.iram_wdata.val();
        self.iram_rdata.next = self.iram.host_rdata.val();

        // ---- Instruction fields and decode (from the latched IR) ----
        self.opc.next = self.r_ir.q.val().get_bits::<6>(26);
        self.imm32.next = bit_cast::<32, 16>(self.r_ir.q.val().get_bits::<16>(0));
        self.bri32.next = bit_cast::<32, 8>(self.r_ir.q.val().get_bits::<8>(10));
        self.target.next = self.r_ir.q.val().get_bits::<PC_BITS>(0);
        self.is_alu.next = (self.opc.val().get_bits::<2>(4) == 1) & (self.opc.val() != 23);
        self.is_alu_imm.next = self.is_alu.val() & !self.opc.val().get_bit(3);
        self.is_mem.next = self.opc.val().get_bits::<3>(3) == 4;
        self.is_hcb.next = self.is_mem.val() & self.opc.val().get_bit(2);
        self.is_abs.next = self.is_mem.val() & !self.opc.val().get_bit(2);
        self.is_io.next = self.opc.val().get_bits::<5>(1) == 20;
        self.is_br.next = self.opc.val().get_bits::<5>(1) == 24;
        self.is_bri.next = self.is_br.val() & !self.opc.val().get_bit(0);
        self.pc_inc.next = self.r_pc.q.val() + 1;

        // ---- Operands: x op y ----
        // ALU reg-reg and branches: x = rd, y = rs (BRI: y = imm8).
        // ALU-imm and absolute memory: x = rs, y = imm16. HCB memory: x = HCB byte
        // address, y = imm16 % HCB_BYTES.
        self.hcb32.next = bit_cast::<32, MEM_ADDR_BITS>(self.hcb_base.val()) << 2;
        self.x.next = self.rf.rdata_a.val();
        self.y.next = self.rf.rdata_b.val();
        if self.is_alu_imm.val() | self.is_abs.val() {
            self.x.next = self.rf.rdata_b.val();
            self.y.next = self.imm32.val();
        }
        if self.is_hcb.val() {
            self.x.next = self.hcb32.val();
            self.y.next = self.imm32.val() & 127;
        }
        if self.is_bri.val() {
            self.y.next = self.bri32.val();
        }
        self.sum.next = self.x.val() + self.y.val();
        self.shamt.next = self.y.val().get_bits::<5>(0);
        self.shr_res.next = self.x.val() >> self.shamt.val();
        match self.opc.val().get_bits::<3>(0).index() {
            0 => self.alu_res.next = self.sum.val(),
            1 => self.alu_res.next = self.x.val() - self.y.val(),
            2 => self.alu_res.next = self.x.val() & self.y.val(),
            3 => self.alu_res.next = self.x.val() | self.y.val(),
            4 => self.alu_res.next = self.x.val() ^ self.y.val(),
            5 => self.alu_res.next = self.x.val() << self.shamt.val(),
            6 => self.alu_res.next = self.shr_res.val(),
            _ => self.alu_res.next = self.y.val(),
        }
        self.movhi_val.next = (self.imm32.val() << 16) | (self.rf.rdata_a.val() & 0xFFFF);

        // ---- Branch condition: rd (x) against y ----
        self.cnd.next = self.r_ir.q.val().get_bits::<4>(14);
        if self.is_bri.val() {
            self.cnd.next = self.r_ir.q.val().get_bits::<4>(18);
        }
        match self.cnd.val().get_bits::<2>(1).index() {
            0 => self.c_base.next = self.x.val() == self.y.val(),
            1 => self.c_base.next = self.x.val() < self.y.val(),
            // Bit y[4:0] of x: bit 0 of the right shift.
            2 => self.c_base.next = self.shr_res.val().get_bit(0),
            _ => self.c_base.next = (self.x.val() & self.y.val()).any(),
        }
        self.taken.next = self.c_base.val() ^ self.cnd.val().get_bit(0);

        // ---- Memory access: byte address = sum ----
        // Inside card memory (bits 31:17 clear) and, for words, 4-aligned.
        self.ea_bad.next = self.sum.val().get_bits::<15>(17).any()
            | (!self.opc.val().get_bit(0) & self.sum.val().get_bits::<2>(0).any());
        self.be.next = 15.into();
        if self.opc.val().get_bit(0) {
            match self.sum.val().get_bits::<2>(0).index() {
                0 => self.be.next = 1.into(),
                1 => self.be.next = 2.into(),
                2 => self.be.next = 4.into(),
                _ => self.be.next = 8.into(),
            }
        }
        // Store data: the word in rd, or rd[7:0] on every lane.
        self.byte32.next = bit_cast::<32, 8>(self.rf.rdata_a.val().get_bits::<8>(0));
        // Load data: the word, or the addressed byte zero-extended.
        self.load_val.next = self.mem_rdata.val();
        if self.r_byte.q.val() {
            match self.r_lane.q.val().index() {
                0 => self.load_val.next = bit_cast::<32, 8>(self.mem_rdata.val().get_bits::<8>(0)),
                1 => self.load_val.next = bit_cast::<32, 8>(self.mem_rdata.val().get_bits::<8>(8)),
                2 => self.load_val.next = bit_cast::<32, 8>(self.mem_rdata.val().get_bits::<8>(16)),
                _ => self.load_val.next = bit_cast::<32, 8>(self.mem_rdata.val().get_bits::<8>(24)),
            }
        }

        // ---- WAIT, watchdog, breakpoint ----
        self.wait_hit.next = (self.events.val() & self.imm32.val()).any();
        self.wd_hit.next =
            self.wdog_limit.val().any() & (self.r_wd.q.val() >= self.wdog_limit.val());
        self.brk_hit.next = self.brk.val().get_bit(31)
            & (self.brk.val().get_bits::<PC_BITS>(0) == self.r_pc.q.val())
            & !self.r_at_break.q.val()
            & !self.r_skip.q.val();
        self.depth_m1.next = self.r_depth.q.val() - 1;

        // ---- Checksum scan over the fetch port ----
        // Cycle k (k = 0..1023) reads word k; its data arrives at k + 1.
        self.iram.fetch_addr.next = self.r_pc.q.val();
        if self.r_scan.q.val() {
            self.iram.fetch_addr.next = self.r_scan_cnt.q.val().get_bits::<PC_BITS>(0);
            self.r_scan_cnt.d.next = self.r_scan_cnt.q.val() + 1;
            if self.r_scan_cnt.q.val().any() {
                self.r_csum.d.next = ((self.r_csum.q.val() << 1) | (self.r_csum.q.val() >> 31))
                    ^ self.iram.fetch_rdata.val();
            }
            if self.r_scan_cnt.q.val() == 1024 {
                self.r_scan.d.next = false;
            }
        }

        // ---- Host control (SEQ_CTRL writes) ----
        self.w_run.next = self.ctl_wdata.val().get_bit(0);
        self.w_step.next = self.ctl_wdata.val().get_bit(1);
        self.w_pcr.next = self.ctl_wdata.val().get_bit(2);
        self.w_csum.next = self.ctl_wdata.val().get_bit(3);
        // While trapped, RUN and STEP count only together with PC_RESET.
        self.w_ok.next = !self.r_trapped.q.val() | self.w_pcr.val();
        if self.ctl_write.val() {
            if self.w_ok.val() {
                self.r_run.d.next = self.w_run.val();
                // A resume steps over a breakpoint at the PC; a restart (PC_RESET) does
                // not, so a breakpoint at 0 stops a restarted program at its entry.
                if self.w_run.val() & !self.r_run.q.val() & !self.w_pcr.val() {
                    self.r_skip.d.next = true;
                }
                if self.w_step.val() & !self.w_run.val() & !self.r_run.q.val() {
                    self.r_step.d.next = true;
                }
            }
            if self.w_pcr.val() {
                self.r_pcr.d.next = true;
            }
            if self.w_csum.val() {
                self.r_scan.d.next = true;
                self.r_scan_cnt.d.next = 0.into();
                self.r_csum.d.next = 0.into();
            }
        }
        // A blocked WAIT is abandoned by a halt request or a pending PC_RESET.
        self.abandon.next = (self.ctl_write.val() & !self.w_run.val()) | self.r_pcr.q.val();

        // ---- Watchdog: counts while RUN, outside WAIT and checksum pauses ----
        if self.r_run.q.val()
            & (self.state.q.val() != SeqState::Wait)
            & !self.r_scan.q.val()
            & !self.wd_hit.val()
        {
            self.r_wd.d.next = self.r_wd.q.val() + 1;
        }

        // ---- The state machine ----
        self.t_now.next = false;
        self.t_cause.next = 0.into();
        self.t_code.next = 0.into();
        self.wb_en.next = false;
        self.wb_val.next = self.alu_res.val();
        self.halt_now.next = false;
        self.wd_clear.next = false;
        self.push.next = false;
        match self.state.q.val() {
            SeqState::Fetch => {
                if self.r_pcr.q.val() {
                    // PC_RESET, at an instruction boundary.
                    self.r_pcr.d.next = false;
                    self.r_pc.d.next = 0.into();
                    self.r_depth.d.next = 0.into();
                    self.r_trapped.d.next = false;
                    self.r_at_break.d.next = false;
                    self.r_skip.d.next = false;
                    self.wd_clear.next = true;
                } else if !self.r_trapped.q.val()
                    & !self.r_scan.q.val()
                    & (self.r_run.q.val() | self.r_step.q.val())
                {
                    if self.r_run.q.val() & self.wd_hit.val() {
                        self.t_now.next = true;
                        self.t_cause.next = 4.into(); // WATCHDOG
                    } else if self.r_run.q.val() & self.brk_hit.val() {
                        self.r_run.d.next = false;
                        self.r_at_break.d.next = true;
                        self.halt_now.next = true;
                    } else {
                        // The fetch port reads the word at PC this cycle.
                        self.r_at_break.d.next = false;
                        self.r_skip.d.next = false;
                        self.r_step.d.next = false;
                        self.state.d.next = SeqState::Decode;
                    }
                }
            }
            SeqState::Decode => {
                self.r_ir.d.next = self.iram.fetch_rdata.val();
                self.state.d.next = SeqState::Exec;
            }
            SeqState::Exec => {
                self.state.d.next = SeqState::Fetch;
                self.r_pc.d.next = self.pc_inc.val();
                // Operands of a memory or I/O access (used only by MEM/MEMRD/IO).
                self.r_maddr.d.next = self.sum.val().get_bits::<MEM_ADDR_BITS>(2);
                self.r_lane.d.next = self.sum.val().get_bits::<2>(0);
                self.r_byte.d.next = self.opc.val().get_bit(0);
                self.r_be.d.next = self.be.val();
                self.r_port.d.next = self.imm32.val().get_bits::<8>(0);
                self.r_we.d.next = self.opc.val().get_bit(1);
                self.r_wdata.d.next = self.rf.rdata_a.val();
                if self.opc.val().get_bit(0) {
                    self.r_wdata.d.next = self.byte32.val()
                        | (self.byte32.val() << 8)
                        | (self.byte32.val() << 16)
                        | (self.byte32.val() << 24);
                }
                match self.opc.val().index() {
                    1 => {} // NOP
                    2 => {
                        // HALT
                        self.r_run.d.next = false;
                        self.halt_now.next = true;
                    }
                    3 => {
                        // TRAP
                        self.t_now.next = true;
                        self.t_cause.next = 6.into(); // SOFTWARE
                        self.t_code.next = self.imm32.val().get_bits::<8>(0);
                    }
                    4 => {
                        // JMP
                        self.r_pc.d.next = self.target.val();
                    }
                    5 => {
                        // CALL
                        if self.r_depth.q.val() == 8 {
                            self.t_now.next = true;
                            self.t_cause.next = 2.into(); // STACK_OVERFLOW
                        } else {
                            self.push.next = true;
                            self.r_depth.d.next = self.r_depth.q.val() + 1;
                            self.r_pc.d.next = self.target.val();
                        }
                    }
                    6 => {
                        // RET
                        if self.r_depth.q.val() == 0 {
                            self.t_now.next = true;
                            self.t_cause.next = 3.into(); // STACK_UNDERFLOW
                        } else {
                            self.r_depth.d.next = self.depth_m1.val();
                            self.r_pc.d.next = self.stack.rdata_a.val();
                        }
                    }
                    7 => {
                        // WAIT
                        self.wd_clear.next = true;
                        if self.wait_hit.val() {
                            self.wb_en.next = true;
                            self.wb_val.next = self.events.val();
                        } else {
                            self.r_pc.d.next = self.r_pc.q.val();
                            self.state.d.next = SeqState::Wait;
                        }
                    }
                    8 => {
                        // MOVI
                        self.wb_en.next = true;
                        self.wb_val.next = self.imm32.val();
                    }
                    9 => {
                        // MOVHI
                        self.wb_en.next = true;
                        self.wb_val.next = self.movhi_val.val();
                    }
                    _ => {
                        if self.is_alu.val() {
                            self.wb_en.next = true;
                        } else if self.is_mem.val() {
                            if self.ea_bad.val() {
                                self.t_now.next = true;
                                self.t_cause.next = 5.into(); // BAD_ADDRESS
                            } else {
                                self.r_pc.d.next = self.r_pc.q.val();
                                self.state.d.next = SeqState::Mem;
                            }
                        } else if self.is_io.val() {
                            self.r_we.d.next = self.opc.val().get_bit(0);
                            self.r_wdata.d.next = self.rf.rdata_b.val();
                            self.r_pc.d.next = self.r_pc.q.val();
                            self.state.d.next = SeqState::Io;
                        } else if self.is_br.val() & !self.cnd.val().get_bit(3) {
                            if self.taken.val() {
                                self.r_pc.d.next = self.target.val();
                            }
                        } else {
                            self.t_now.next = true;
                            self.t_cause.next = 1.into(); // BAD_OPCODE
                        }
                    }
                }
            }
            SeqState::Mem => {
                if self.mem_gnt.val() {
                    if self.r_we.q.val() {
                        self.r_pc.d.next = self.pc_inc.val();
                        self.state.d.next = SeqState::Fetch;
                    } else {
                        self.state.d.next = SeqState::MemRd;
                    }
                }
            }
            SeqState::MemRd => {
                self.wb_en.next = true;
                self.wb_val.next = self.load_val.val();
                self.r_pc.d.next = self.pc_inc.val();
                self.state.d.next = SeqState::Fetch;
            }
            SeqState::Io => {
                if self.io_ready.val() {
                    if self.io_err.val() {
                        self.t_now.next = true;
                        self.t_cause.next = 7.into(); // BAD_IO
                    } else {
                        self.wb_en.next = !self.r_we.q.val();
                        self.wb_val.next = self.io_rdata.val();
                        self.r_pc.d.next = self.pc_inc.val();
                        self.state.d.next = SeqState::Fetch;
                    }
                }
            }
            SeqState::Wait => {
                self.wd_clear.next = true;
                if self.wait_hit.val() {
                    self.wb_en.next = true;
                    self.wb_val.next = self.events.val();
                    self.r_pc.d.next = self.pc_inc.val();
                    self.state.d.next = SeqState::Fetch;
                } else if self.abandon.val() {
                    // PC stays at the WAIT: it runs again when resumed.
                    self.state.d.next = SeqState::Fetch;
                }
            }
        }

        // ---- Trap: stop at the trapping instruction ----
        self.t_word.next = (bit_cast::<32, 8>(self.t_code.val()) << 24)
            | (bit_cast::<32, 8>(self.t_cause.val()) << 16)
            | bit_cast::<32, PC_BITS>(self.r_pc.q.val());
        if self.t_now.val() {
            self.r_trapped.d.next = true;
            self.r_run.d.next = false;
            self.r_step.d.next = false;
            self.r_trap_info.d.next = self.t_word.val();
            self.r_pc.d.next = self.r_pc.q.val();
            self.state.d.next = SeqState::Fetch;
        }
        self.r_trap_pulse.d.next = self.t_now.val();
        self.r_halt_pulse.d.next = self.halt_now.val();
        if self.wd_clear.val() | !self.wdog_limit.val().any() {
            self.r_wd.d.next = 0.into();
        }

        // ---- Register file and stack ports ----
        // Reads for DECODE come straight from the fetch port's instruction word.
        self.rf.raddr_a.next = self.iram.fetch_rdata.val().get_bits::<REG_BITS>(22);
        self.rf.raddr_b.next = self.iram.fetch_rdata.val().get_bits::<REG_BITS>(18);
        self.rf.we.next = self.wb_en.val() & !self.reset.val();
        self.rf.waddr.next = self.r_ir.q.val().get_bits::<REG_BITS>(22);
        self.rf.wdata.next = self.wb_val.val();
        self.stack.we.next = self.push.val() & !self.reset.val();
        self.stack.waddr.next = self.r_depth.q.val().get_bits::<STACK_BITS>(0);
        self.stack.wdata.next = self.pc_inc.val();
        self.stack.raddr_a.next = self.depth_m1.val().get_bits::<STACK_BITS>(0);
        self.stack.raddr_b.next = 0.into();

        // ---- Reset ----
        if self.reset.val() {
            self.state.d.next = SeqState::Fetch;
            self.r_pc.d.next = 0.into();
            self.r_depth.d.next = 0.into();
            self.r_run.d.next = true;
            self.r_trapped.d.next = false;
            self.r_at_break.d.next = false;
            self.r_skip.d.next = false;
            self.r_step.d.next = false;
            self.r_pcr.d.next = false;
            self.r_trap_info.d.next = 0.into();
            self.r_trap_pulse.d.next = false;
            self.r_halt_pulse.d.next = false;
            self.r_wd.d.next = 0.into();
            self.r_scan.d.next = false;
        }

        // Port bits without a meaning here (SEQ_CTRL 31:4, SEQ_BRK 30:10) and the
        // stack's second read port: named for Verilator's unused-signal convention.
        self.unused.next = self.ctl_wdata.val().get_bits::<28>(4).any()
            | self.brk.val().get_bits::<21>(10).any()
            | self.stack.rdata_b.val().any();

        // ---- Co-simulation fast-forward ----
        self.ff_stopped.next = (self.state.q.val() == SeqState::Fetch)
            & (self.r_trapped.q.val() | !self.r_run.q.val());
        self.ff_quiet.next = !self.reset.val()
            & !self.ctl_write.val()
            & !self.iram_we.val()
            & !self.r_trap_pulse.q.val()
            & !self.r_halt_pulse.q.val()
            & !self.r_scan.q.val()
            & !self.r_pcr.q.val()
            & !self.r_step.q.val()
            & (((self.state.q.val() == SeqState::Wait)
                & !self.wait_hit.val()
                & !self.abandon.val())
                | self.ff_stopped.val());

        // ---- Outputs ----
        self.in_flight.next = self.state.q.val() != SeqState::Fetch;
        // Running: RUN set, or a STEP or PC_RESET pending, or an instruction in flight
        // (so RUNNING = 0 means the PC and the state are settled); never when trapped.
        self.running.next = !self.r_trapped.q.val()
            & (self.r_run.q.val()
                | self.r_step.q.val()
                | self.r_pcr.q.val()
                | self.in_flight.val());
        self.trapped.next = self.r_trapped.q.val();
        self.at_break.next = self.r_at_break.q.val();
        self.waiting.next = self.state.q.val() == SeqState::Wait;
        self.depth.next = self.r_depth.q.val();
        self.pc.next = self.r_pc.q.val();
        self.trap_info.next = self.r_trap_info.q.val();
        self.csum.next = self.r_csum.q.val();
        self.csum_busy.next = self.r_scan.q.val();
        self.trap_pulse.next = self.r_trap_pulse.q.val();
        self.halt_pulse.next = self.r_halt_pulse.q.val();
        self.io_addr.next = self.r_port.q.val();
        self.io_wdata.next = self.r_wdata.q.val();
        self.io_wr.next = (self.state.q.val() == SeqState::Io) & self.r_we.q.val();
        self.io_rd.next = (self.state.q.val() == SeqState::Io) & !self.r_we.q.val();
        self.mem_req.next = self.state.q.val() == SeqState::Mem;
        self.mem_we.next = self.r_we.q.val();
        self.mem_addr.next = self.r_maddr.q.val();
        self.mem_be.next = self.r_be.q.val();
        self.mem_wdata.next = self.r_wdata.q.val();
    }
}
