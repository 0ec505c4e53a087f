//! The sequencer: a small microcoded engine (ISA in `firmware/ISA.md`, encodings in
//! `hba_abi::isa`). PORT CONTRACT ONLY: the implementation is being written.

use rust_hdl::prelude::*;

/// Instruction address width.
pub const PC_BITS: usize = hba_abi::isa::PC_BITS as usize;
/// Card-memory word address width.
pub const MEM_ADDR_BITS: usize = hba_abi::mem::CARD_MEM_ADDR_BITS as usize;

/// The microcoded sequencer with its instruction RAM.
#[derive(LogicBlock, Default)]
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
}

impl Logic for Sequencer {
    #[hdl_gen]
    fn update(&mut self) {
        self.iram_rdata.next = 0.into();
        self.running.next = false;
        self.trapped.next = false;
        self.at_break.next = false;
        self.waiting.next = false;
        self.depth.next = 0.into();
        self.pc.next = 0.into();
        self.trap_info.next = 0.into();
        self.csum.next = 0.into();
        self.csum_busy.next = false;
        self.trap_pulse.next = false;
        self.halt_pulse.next = false;
        self.io_addr.next = 0.into();
        self.io_wdata.next = 0.into();
        self.io_wr.next = false;
        self.io_rd.next = false;
        self.mem_req.next = false;
        self.mem_we.next = false;
        self.mem_addr.next = 0.into();
        self.mem_be.next = 0.into();
        self.mem_wdata.next = 0.into();
    }
}
