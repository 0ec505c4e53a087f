//! The HBA top level: AXI4-Lite register block, card memory, sequencer, phase engine,
//! slot unit, completion ring, interrupt line and the SCSI pins.
//!
//! Ports are flat and named the way Vivado's interface inference expects
//! (`s_axil_*`, `bram_*`, `usr_irq_*`), so the block design connects them by name. The
//! SCSI pins are input + output-enable pairs (1 = asserted, open-collector style), ready
//! for transceivers. The phase engine synchronises the inputs itself (two flops); the
//! `SCSI_BUS` register reads them through a second two-flop synchroniser.
//!
//! AXI4-Lite: AW and W are accepted independently (either order, or together) and held
//! until both are present; the write then happens in one cycle and B is raised and held
//! until `bready`. AR is accepted when no read is in flight; R is held until `rready`.
//! No ready depends combinationally on a valid. Unmapped offsets and writes to read-only
//! registers answer SLVERR (see `hba_abi::regs`).
//!
//! Card memory port B is shared: the BAR window first (its timing is fixed), then the
//! phase engine's DMA, the completion ring writer, the slot unit and the sequencer.

use crate::card_mem::{CardMem, ADDR_BITS};
use crate::cq::CqUnit;
use crate::phase::PhaseEngine;
use crate::seq::Sequencer;
use crate::slot::SlotUnit;
use hba_abi::{isa, layout, mem, regs, version_word, MAGIC};
use rust_hdl::prelude::*;

/// AXI4-Lite address width.
pub const AXIL_ADDR: usize = mem::AXIL_ADDR_BITS as usize;
/// Width of a register offset inside the register block.
const OFF_BITS: usize = 12;
/// Address bits above the register block.
const HI_BITS: usize = AXIL_ADDR - OFF_BITS;
/// Packed bus signals (`regs::scsi_bus` layout).
const BUS_BITS: usize = 27;
const _: () = assert!(1 << OFF_BITS == mem::REG_BLOCK_BYTES as usize);
// The window is the upper half of the register space: address bit 17 selects it.
const _: () = assert!(mem::CARD_MEM_WINDOW == 1 << (mem::AXIL_ADDR_BITS - 1));
const _: () = assert!(ADDR_BITS + 2 == AXIL_ADDR - 1);
// hdl_gen emits method arguments verbatim, so bit positions in `update` are literals:
// 17 is the window-select bit, 12 the first bit above the register block.
const _: () = assert!(AXIL_ADDR - 1 == 17 && OFF_BITS == 12);
// Packed bus layout used with literal positions below.
const _: () = assert!(regs::scsi_bus::DBP_SHIFT == 16 && regs::scsi_bus::BSY == 1 << 18);
const _: () = assert!(regs::scsi_bus::SEL == 1 << 19 && regs::scsi_bus::RST == 1 << 20);
const _: () = assert!(regs::scsi_bus::ATN == 1 << 21 && regs::scsi_bus::ACK == 1 << 22);
const _: () = assert!(regs::scsi_bus::REQ == 1 << 23 && regs::scsi_bus::MSG == 1 << 24);
const _: () = assert!(regs::scsi_bus::CD == 1 << 25 && regs::scsi_bus::IO == 1 << 26);
// Event bits set from pulses (positions used as literals).
const _: () = assert!(isa::ev::REQ == 1 && isa::ev::DOORBELL == 2 && isa::ev::CMD_DONE == 4);
const _: () = assert!(isa::ev::SEL_TIMEOUT == 8 && isa::ev::RESELECTED == 16);
const _: () = assert!(isa::ev::BUS_FREE == 32 && isa::ev::UNEXP_FREE == 64);
const _: () = assert!(isa::ev::BUS_RESET == 128 && isa::ev::PARITY_ERR == 256);
const _: () = assert!(isa::ev::TIMER == 512 && isa::ev::HOST == 1024);
const _: () = assert!(isa::ev::PHASE_MISMATCH == 2048 && isa::ev::BUSY == 4096);
const _: () = assert!(isa::ev::CONNECTED == 8192 && isa::ev::PHASE_SHIFT == 16);
const _: () = assert!(isa::ev::OFFSET_ERR == 1 << 14 && isa::pcmd::BUS_RESET == 9);
// Interrupt causes set by hardware.
const _: () = assert!(regs::irq::CQ == 1 && regs::irq::FATAL == 2);
const _: () = assert!(regs::irq::HALTED == 4 && regs::irq::BUS_RESET == 8);
const _: () = assert!(regs::scsi_ctrl::BUS_RESET == 1 && regs::scsi_ctrl::RELEASE == 2);
const _: () = assert!(regs::seq_status::DEPTH_SHIFT == 8 && regs::seq_status::WAITING == 16);

/// The HBA soft core, top level.
#[derive(LogicBlock)]
pub struct HbaCore {
    /// Core clock (100 MHz nominal); also the AXI and BRAM clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset, active high (XDMA `axi_aresetn` inverted).
    pub reset: Signal<In, Bit>,

    /// AXI4-Lite write address.
    pub s_axil_awaddr: Signal<In, Bits<AXIL_ADDR>>,
    /// AXI4-Lite write address valid.
    pub s_axil_awvalid: Signal<In, Bit>,
    /// AXI4-Lite write address ready.
    pub s_axil_awready: Signal<Out, Bit>,
    /// AXI4-Lite write data.
    pub s_axil_wdata: Signal<In, Bits<32>>,
    /// AXI4-Lite write strobes.
    pub s_axil_wstrb: Signal<In, Bits<4>>,
    /// AXI4-Lite write data valid.
    pub s_axil_wvalid: Signal<In, Bit>,
    /// AXI4-Lite write data ready.
    pub s_axil_wready: Signal<Out, Bit>,
    /// AXI4-Lite write response.
    pub s_axil_bresp: Signal<Out, Bits<2>>,
    /// AXI4-Lite write response valid.
    pub s_axil_bvalid: Signal<Out, Bit>,
    /// AXI4-Lite write response ready.
    pub s_axil_bready: Signal<In, Bit>,
    /// AXI4-Lite read address.
    pub s_axil_araddr: Signal<In, Bits<AXIL_ADDR>>,
    /// AXI4-Lite read address valid.
    pub s_axil_arvalid: Signal<In, Bit>,
    /// AXI4-Lite read address ready.
    pub s_axil_arready: Signal<Out, Bit>,
    /// AXI4-Lite read data.
    pub s_axil_rdata: Signal<Out, Bits<32>>,
    /// AXI4-Lite read response.
    pub s_axil_rresp: Signal<Out, Bits<2>>,
    /// AXI4-Lite read data valid.
    pub s_axil_rvalid: Signal<Out, Bit>,
    /// AXI4-Lite read data ready.
    pub s_axil_rready: Signal<In, Bit>,

    /// Native BRAM port (AXI BRAM controller): enable.
    pub bram_en: Signal<In, Bit>,
    /// Native BRAM port: byte write enables.
    pub bram_we: Signal<In, Bits<4>>,
    /// Native BRAM port: byte address (bits 1..0 and above the memory size ignored).
    pub bram_addr: Signal<In, Bits<32>>,
    /// Native BRAM port: write data (the controller's `BRAM_Dout`).
    pub bram_wrdata: Signal<In, Bits<32>>,
    /// Native BRAM port: read data (the controller's `BRAM_Din`), one cycle latency.
    pub bram_rddata: Signal<Out, Bits<32>>,

    /// XDMA user interrupt request: held while an enabled cause is pending.
    pub usr_irq_req: Signal<Out, Bit>,
    /// XDMA user interrupt acknowledge (one cycle when the interrupt was sent).
    pub usr_irq_ack: Signal<In, Bit>,

    /// SCSI DB(15:0) in (1 = asserted).
    pub scsi_db_i: Signal<In, Bits<16>>,
    /// SCSI DBP1..0 in.
    pub scsi_dbp_i: Signal<In, Bits<2>>,
    /// SCSI BSY in.
    pub scsi_bsy_i: Signal<In, Bit>,
    /// SCSI SEL in.
    pub scsi_sel_i: Signal<In, Bit>,
    /// SCSI RST in.
    pub scsi_rst_i: Signal<In, Bit>,
    /// SCSI ATN in.
    pub scsi_atn_i: Signal<In, Bit>,
    /// SCSI ACK in.
    pub scsi_ack_i: Signal<In, Bit>,
    /// SCSI REQ in.
    pub scsi_req_i: Signal<In, Bit>,
    /// SCSI MSG in.
    pub scsi_msg_i: Signal<In, Bit>,
    /// SCSI C/D in.
    pub scsi_cd_i: Signal<In, Bit>,
    /// SCSI I/O in.
    pub scsi_io_i: Signal<In, Bit>,
    /// Assert DB(15:0).
    pub scsi_db_oe: Signal<Out, Bits<16>>,
    /// Assert DBP1..0.
    pub scsi_dbp_oe: Signal<Out, Bits<2>>,
    /// Assert BSY.
    pub scsi_bsy_oe: Signal<Out, Bit>,
    /// Assert SEL.
    pub scsi_sel_oe: Signal<Out, Bit>,
    /// Assert RST.
    pub scsi_rst_oe: Signal<Out, Bit>,
    /// Assert ATN.
    pub scsi_atn_oe: Signal<Out, Bit>,
    /// Assert ACK.
    pub scsi_ack_oe: Signal<Out, Bit>,
    /// Assert REQ (target role; never driven by this initiator, always 0).
    pub scsi_req_oe: Signal<Out, Bit>,
    /// Assert MSG (target role; always 0).
    pub scsi_msg_oe: Signal<Out, Bit>,
    /// Assert C/D (target role; always 0).
    pub scsi_cd_oe: Signal<Out, Bit>,
    /// Assert I/O (target role; always 0).
    pub scsi_io_oe: Signal<Out, Bit>,

    /// Co-simulation fast-forward, tied to 0 on the board (`hba_board_top.v`): this
    /// clock stands for `1 + ff_skip` cycles. The free-running counters (`CNT_CYCLES`,
    /// the phase engine's timers, the moderation timer) add that many and the firmware
    /// timer subtracts it, exactly as that many ordinary cycles would. Only valid while
    /// `ff_quiet` and with `ff_skip <= ff_horizon`.
    pub ff_skip: Signal<In, Bits<32>>,
    /// Co-simulation fast-forward: with the present inputs held, the coming cycles change
    /// nothing but those counters (no AXI or BRAM access, sequencer blocked in WAIT or
    /// stopped, phase engine idle with settled inputs, ring writer and slot unit idle,
    /// no interrupt edge or cause pending).
    pub ff_quiet: Signal<Out, Bit>,
    /// Co-simulation fast-forward: how many extra cycles may be skipped before the
    /// nearest of the core's own deadlines (firmware timer, moderation time, selection
    /// timeout), at most 2^30 - 1.
    pub ff_horizon: Signal<Out, Bits<32>>,

    card_mem: CardMem,
    seq: Sequencer,
    engine: PhaseEngine,
    slot_unit: SlotUnit,
    cq: CqUnit,

    // Write channel state.
    have_aw: DFF<Bit>,
    aw_addr: DFF<Bits<AXIL_ADDR>>,
    have_w: DFF<Bit>,
    w_data: DFF<Bits<32>>,
    w_strb: DFF<Bits<4>>,
    bvalid: DFF<Bit>,
    bresp: DFF<Bits<2>>,
    // Read channel state.
    rd_stage: DFF<Bit>,
    ar_addr: DFF<Bits<AXIL_ADDR>>,
    rvalid: DFF<Bit>,
    rdata: DFF<Bits<32>>,
    rresp: DFF<Bits<2>>,
    // Registers.
    scratch: DFF<Bits<32>>,
    irq_cause: DFF<Bits<32>>,
    irq_enable: DFF<Bits<32>>,
    irq_req: DFF<Bit>,
    irq_rearm: DFF<Bit>,
    /// A rising edge of `usr_irq_req` has not been acknowledged yet (PG195 hold).
    irq_wait: DFF<Bit>,
    cnt_cycles: DFF<Bits<32>>,
    cnt_irq_raised: DFF<Bits<32>>,
    cnt_irq_acked: DFF<Bits<32>>,
    cnt_axi_errors: DFF<Bits<32>>,
    seq_iaddr: DFF<Bits<10>>,
    sq_pi: DFF<Bits<8>>,
    sq_ci: DFF<Bits<8>>,
    scsi_id: DFF<Bits<32>>,
    cnt_submitted: DFF<Bits<32>>,
    cnt_completed: DFF<Bits<32>>,
    cnt_parity: DFF<Bits<32>>,
    cnt_sel_timeouts: DFF<Bits<32>>,
    cnt_bus_resets: DFF<Bits<32>>,
    cnt_posted: DFF<Bits<32>>,
    seq_brk: DFF<Bits<32>>,
    seq_wdog: DFF<Bits<32>>,
    mailbox_q: DFF<Bits<32>>,
    cq_ci: DFF<Bits<8>>,
    mod_count: DFF<Bits<32>>,
    mod_time: DFF<Bits<32>>,
    tim_settle: DFF<Bits<32>>,
    tim_arb: DFF<Bits<32>>,
    tim_bus_free: DFF<Bits<32>>,
    tim_bus_clear: DFF<Bits<32>>,
    tim_deskew: DFF<Bits<32>>,
    tim_sel_timeout: DFF<Bits<32>>,
    tim_reset_hold: DFF<Bits<32>>,
    // SCSI input synchroniser (two flops) and sequencer-side state.
    bus_meta: DFF<Bits<BUS_BITS>>,
    bus_sync: DFF<Bits<32>>,
    sticky: DFF<Bits<32>>,
    pcmd_last: DFF<Bits<32>>,
    target: DFF<Bits<4>>,
    tx_byte: DFF<Bits<8>>,
    xfer_mode: DFF<Bits<32>>,
    window: DFF<Bit>,
    cq_w1: DFF<Bits<32>>,
    cq_w2: DFF<Bits<32>>,
    cq_w3: DFF<Bits<32>>,
    timer: DFF<Bits<32>>,
    trap_pending: DFF<Bit>,

    // Combinational temporaries.
    wr_go: Signal<Local, Bit>,
    wr_in_window: Signal<Local, Bit>,
    wr_in_regs: Signal<Local, Bit>,
    wr_off: Signal<Local, Bits<OFF_BITS>>,
    wmask: Signal<Local, Bits<32>>,
    wbits: Signal<Local, Bits<32>>,
    lane0: Signal<Local, Bits<32>>,
    lane1: Signal<Local, Bits<32>>,
    lane2: Signal<Local, Bits<32>>,
    lane3: Signal<Local, Bits<32>>,
    wr_err: Signal<Local, Bit>,
    wr_reg: Signal<Local, Bit>,
    soft_reset: Signal<Local, Bit>,
    any_reset: Signal<Local, Bit>,
    ar_fire: Signal<Local, Bit>,
    ar_window: Signal<Local, Bit>,
    rd_in_window: Signal<Local, Bit>,
    rd_in_regs: Signal<Local, Bit>,
    rd_off: Signal<Local, Bits<OFF_BITS>>,
    rd_val: Signal<Local, Bits<32>>,
    rd_err: Signal<Local, Bit>,
    err_w: Signal<Local, Bits<32>>,
    err_r: Signal<Local, Bits<32>>,
    irq_next: Signal<Local, Bit>,
    irq_hold: Signal<Local, Bit>,
    raise_inc: Signal<Local, Bits<32>>,
    ack_inc: Signal<Local, Bits<32>>,
    irq_hw: Signal<Local, Bits<32>>,
    irq_clr: Signal<Local, Bits<32>>,
    irq_sw: Signal<Local, Bits<32>>,
    seq_status: Signal<Local, Bits<32>>,
    bus_raw: Signal<Local, Bits<BUS_BITS>>,
    axi_b: Signal<Local, Bit>,
    gnt_phase: Signal<Local, Bit>,
    gnt_cq: Signal<Local, Bit>,
    gnt_slot: Signal<Local, Bit>,
    gnt_seq: Signal<Local, Bit>,
    events: Signal<Local, Bits<32>>,
    ev_set: Signal<Local, Bits<32>>,
    ev_clr: Signal<Local, Bits<32>>,
    io_go_wr: Signal<Local, Bit>,
    io_port: Signal<Local, Bits<8>>,
    io_val: Signal<Local, Bits<32>>,
    io_rd_ok: Signal<Local, Bit>,
    io_wr_ok: Signal<Local, Bit>,
    io_ready: Signal<Local, Bit>,
    timer_fire: Signal<Local, Bit>,
    inc_submitted: Signal<Local, Bits<32>>,
    sq_delta: Signal<Local, Bits<8>>,
    m_seq_iaddr: Signal<Local, Bits<10>>,
    m_sq_pi: Signal<Local, Bits<8>>,
    m_cq_ci: Signal<Local, Bits<8>>,
    ff_step: Signal<Local, Bits<32>>,
    ff_th: Signal<Local, Bits<32>>,
    ff_h: Signal<Local, Bits<32>>,

    // Contract values from hba-abi (hdl_gen cannot name Rust constants directly).
    k_id: Constant<Bits<OFF_BITS>>,
    k_version: Constant<Bits<OFF_BITS>>,
    k_caps: Constant<Bits<OFF_BITS>>,
    k_scratch: Constant<Bits<OFF_BITS>>,
    k_control: Constant<Bits<OFF_BITS>>,
    k_status: Constant<Bits<OFF_BITS>>,
    k_irq_cause: Constant<Bits<OFF_BITS>>,
    k_irq_enable: Constant<Bits<OFF_BITS>>,
    k_irq_set: Constant<Bits<OFF_BITS>>,
    k_cnt_cycles: Constant<Bits<OFF_BITS>>,
    k_cnt_irq_raised: Constant<Bits<OFF_BITS>>,
    k_cnt_irq_acked: Constant<Bits<OFF_BITS>>,
    k_cnt_axi_errors: Constant<Bits<OFF_BITS>>,
    k_mem_size: Constant<Bits<OFF_BITS>>,
    k_mem_window: Constant<Bits<OFF_BITS>>,
    k_seq_ctrl: Constant<Bits<OFF_BITS>>,
    k_seq_status: Constant<Bits<OFF_BITS>>,
    k_seq_pc: Constant<Bits<OFF_BITS>>,
    k_seq_brk: Constant<Bits<OFF_BITS>>,
    k_seq_trap: Constant<Bits<OFF_BITS>>,
    k_seq_iaddr: Constant<Bits<OFF_BITS>>,
    k_seq_idata: Constant<Bits<OFF_BITS>>,
    k_seq_csum: Constant<Bits<OFF_BITS>>,
    k_seq_wdog: Constant<Bits<OFF_BITS>>,
    k_seq_mailbox: Constant<Bits<OFF_BITS>>,
    k_sq_doorbell: Constant<Bits<OFF_BITS>>,
    k_sq_consumer: Constant<Bits<OFF_BITS>>,
    k_cq_producer: Constant<Bits<OFF_BITS>>,
    k_cq_consumer: Constant<Bits<OFF_BITS>>,
    k_irq_mod_count: Constant<Bits<OFF_BITS>>,
    k_irq_mod_time: Constant<Bits<OFF_BITS>>,
    k_cnt_submitted: Constant<Bits<OFF_BITS>>,
    k_cnt_completed: Constant<Bits<OFF_BITS>>,
    k_cnt_parity_errors: Constant<Bits<OFF_BITS>>,
    k_cnt_sel_timeouts: Constant<Bits<OFF_BITS>>,
    k_cnt_bus_resets: Constant<Bits<OFF_BITS>>,
    k_cnt_posted: Constant<Bits<OFF_BITS>>,
    k_scsi_id: Constant<Bits<OFF_BITS>>,
    k_scsi_bus: Constant<Bits<OFF_BITS>>,
    k_scsi_ctrl: Constant<Bits<OFF_BITS>>,
    k_tim_settle: Constant<Bits<OFF_BITS>>,
    k_tim_arb: Constant<Bits<OFF_BITS>>,
    k_tim_bus_free: Constant<Bits<OFF_BITS>>,
    k_tim_bus_clear: Constant<Bits<OFF_BITS>>,
    k_tim_deskew: Constant<Bits<OFF_BITS>>,
    k_tim_sel_timeout: Constant<Bits<OFF_BITS>>,
    k_tim_reset_hold: Constant<Bits<OFF_BITS>>,
    r_seq_brk: Constant<Bits<32>>,
    r_seq_wdog: Constant<Bits<32>>,
    r_mailbox_q: Constant<Bits<32>>,
    r_cq_ci: Constant<Bits<8>>,
    r_mod_count: Constant<Bits<32>>,
    r_mod_time: Constant<Bits<32>>,
    r_tim_settle: Constant<Bits<32>>,
    r_tim_arb: Constant<Bits<32>>,
    r_tim_bus_free: Constant<Bits<32>>,
    r_tim_bus_clear: Constant<Bits<32>>,
    r_tim_deskew: Constant<Bits<32>>,
    r_tim_sel_timeout: Constant<Bits<32>>,
    r_tim_reset_hold: Constant<Bits<32>>,
    /// The selection abort time is fixed (SPI), not a register.
    r_tim_sel_abort: Constant<Bits<32>>,
    v_magic: Constant<Bits<32>>,
    v_version: Constant<Bits<32>>,
    v_caps: Constant<Bits<32>>,
    v_mem_size: Constant<Bits<32>>,
    v_mem_window: Constant<Bits<32>>,
    v_irq_settable: Constant<Bits<32>>,
    v_soft_reset: Constant<Bits<32>>,
    v_scsi_id_mask: Constant<Bits<32>>,
    v_scsi_id_reset: Constant<Bits<32>>,
    v_sticky: Constant<Bits<32>>,
    v_trap_w0: Constant<Bits<32>>,
    post_trap: Signal<Local, Bit>,
    v_resp_okay: Constant<Bits<2>>,
    v_resp_slverr: Constant<Bits<2>>,
    p_events: Constant<Bits<8>>,
    p_ev_clear: Constant<Bits<8>>,
    p_pcmd: Constant<Bits<8>>,
    p_target: Constant<Bits<8>>,
    p_bus_data: Constant<Bits<8>>,
    p_xfer_offset: Constant<Bits<8>>,
    p_xfer_count: Constant<Bits<8>>,
    p_xfer_mode: Constant<Bits<8>>,
    p_resel_id: Constant<Bits<8>>,
    p_slot: Constant<Bits<8>>,
    p_slot_check: Constant<Bits<8>>,
    p_window: Constant<Bits<8>>,
    p_bus: Constant<Bits<8>>,
    p_own_id: Constant<Bits<8>>,
    p_sq_pi: Constant<Bits<8>>,
    p_sq_ci: Constant<Bits<8>>,
    p_cq_w1: Constant<Bits<8>>,
    p_cq_w2: Constant<Bits<8>>,
    p_cq_w3: Constant<Bits<8>>,
    p_cq_post: Constant<Bits<8>>,
    p_timer: Constant<Bits<8>>,
    p_mailbox: Constant<Bits<8>>,
}

fn off(x: u32) -> Constant<Bits<OFF_BITS>> {
    Constant::new((x as u64).to_bits())
}

fn word(x: u32) -> Constant<Bits<32>> {
    Constant::new((x as u64).to_bits())
}

fn init<const N: usize>(x: u32) -> Constant<Bits<N>> {
    Constant::new(u64::from(x).to_bits())
}

fn port(x: u32) -> Constant<Bits<8>> {
    Constant::new((x as u64).to_bits())
}

impl Default for HbaCore {
    fn default() -> Self {
        Self::new(&hba_firmware::default_image())
    }
}

impl HbaCore {
    /// The core with `image` in the sequencer's instruction RAM at power-up.
    pub fn new(image: &[u32]) -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            s_axil_awaddr: Default::default(),
            s_axil_awvalid: Default::default(),
            s_axil_awready: Default::default(),
            s_axil_wdata: Default::default(),
            s_axil_wstrb: Default::default(),
            s_axil_wvalid: Default::default(),
            s_axil_wready: Default::default(),
            s_axil_bresp: Default::default(),
            s_axil_bvalid: Default::default(),
            s_axil_bready: Default::default(),
            s_axil_araddr: Default::default(),
            s_axil_arvalid: Default::default(),
            s_axil_arready: Default::default(),
            s_axil_rdata: Default::default(),
            s_axil_rresp: Default::default(),
            s_axil_rvalid: Default::default(),
            s_axil_rready: Default::default(),
            bram_en: Default::default(),
            bram_we: Default::default(),
            bram_addr: Default::default(),
            bram_wrdata: Default::default(),
            bram_rddata: Default::default(),
            usr_irq_req: Default::default(),
            usr_irq_ack: Default::default(),
            scsi_db_i: Default::default(),
            scsi_dbp_i: Default::default(),
            scsi_bsy_i: Default::default(),
            scsi_sel_i: Default::default(),
            scsi_rst_i: Default::default(),
            scsi_atn_i: Default::default(),
            scsi_ack_i: Default::default(),
            scsi_req_i: Default::default(),
            scsi_msg_i: Default::default(),
            scsi_cd_i: Default::default(),
            scsi_io_i: Default::default(),
            scsi_db_oe: Default::default(),
            scsi_dbp_oe: Default::default(),
            scsi_bsy_oe: Default::default(),
            scsi_sel_oe: Default::default(),
            scsi_rst_oe: Default::default(),
            scsi_atn_oe: Default::default(),
            scsi_ack_oe: Default::default(),
            scsi_req_oe: Default::default(),
            scsi_msg_oe: Default::default(),
            scsi_cd_oe: Default::default(),
            scsi_io_oe: Default::default(),
            card_mem: Default::default(),
            seq: Sequencer::new(image),
            engine: Default::default(),
            slot_unit: Default::default(),
            cq: Default::default(),
            have_aw: Default::default(),
            aw_addr: Default::default(),
            have_w: Default::default(),
            w_data: Default::default(),
            w_strb: Default::default(),
            bvalid: Default::default(),
            bresp: Default::default(),
            rd_stage: Default::default(),
            ar_addr: Default::default(),
            rvalid: Default::default(),
            rdata: Default::default(),
            rresp: Default::default(),
            scratch: Default::default(),
            irq_cause: Default::default(),
            irq_enable: Default::default(),
            irq_req: Default::default(),
            irq_rearm: Default::default(),
            irq_wait: Default::default(),
            cnt_cycles: Default::default(),
            cnt_irq_raised: Default::default(),
            cnt_irq_acked: Default::default(),
            cnt_axi_errors: Default::default(),
            seq_iaddr: Default::default(),
            sq_pi: Default::default(),
            sq_ci: Default::default(),
            scsi_id: Default::default(),
            cnt_submitted: Default::default(),
            cnt_completed: Default::default(),
            cnt_parity: Default::default(),
            cnt_sel_timeouts: Default::default(),
            cnt_bus_resets: Default::default(),
            cnt_posted: Default::default(),
            seq_brk: Default::default(),
            seq_wdog: Default::default(),
            mailbox_q: Default::default(),
            cq_ci: Default::default(),
            mod_count: Default::default(),
            mod_time: Default::default(),
            tim_settle: Default::default(),
            tim_arb: Default::default(),
            tim_bus_free: Default::default(),
            tim_bus_clear: Default::default(),
            tim_deskew: Default::default(),
            tim_sel_timeout: Default::default(),
            tim_reset_hold: Default::default(),
            bus_meta: Default::default(),
            bus_sync: Default::default(),
            sticky: Default::default(),
            pcmd_last: Default::default(),
            target: Default::default(),
            tx_byte: Default::default(),
            xfer_mode: Default::default(),
            window: Default::default(),
            cq_w1: Default::default(),
            cq_w2: Default::default(),
            cq_w3: Default::default(),
            timer: Default::default(),
            trap_pending: Default::default(),
            wr_go: Default::default(),
            wr_in_window: Default::default(),
            wr_in_regs: Default::default(),
            wr_off: Default::default(),
            wmask: Default::default(),
            wbits: Default::default(),
            lane0: Default::default(),
            lane1: Default::default(),
            lane2: Default::default(),
            lane3: Default::default(),
            wr_err: Default::default(),
            wr_reg: Default::default(),
            soft_reset: Default::default(),
            any_reset: Default::default(),
            ar_fire: Default::default(),
            ar_window: Default::default(),
            rd_in_window: Default::default(),
            rd_in_regs: Default::default(),
            rd_off: Default::default(),
            rd_val: Default::default(),
            rd_err: Default::default(),
            err_w: Default::default(),
            err_r: Default::default(),
            irq_next: Default::default(),
            irq_hold: Default::default(),
            raise_inc: Default::default(),
            ack_inc: Default::default(),
            irq_hw: Default::default(),
            irq_clr: Default::default(),
            irq_sw: Default::default(),
            seq_status: Default::default(),
            bus_raw: Default::default(),
            axi_b: Default::default(),
            gnt_phase: Default::default(),
            gnt_cq: Default::default(),
            gnt_slot: Default::default(),
            gnt_seq: Default::default(),
            events: Default::default(),
            ev_set: Default::default(),
            ev_clr: Default::default(),
            io_go_wr: Default::default(),
            io_port: Default::default(),
            io_val: Default::default(),
            io_rd_ok: Default::default(),
            io_wr_ok: Default::default(),
            io_ready: Default::default(),
            timer_fire: Default::default(),
            inc_submitted: Default::default(),
            sq_delta: Default::default(),
            m_seq_iaddr: Default::default(),
            m_sq_pi: Default::default(),
            m_cq_ci: Default::default(),
            ff_skip: Default::default(),
            ff_quiet: Default::default(),
            ff_horizon: Default::default(),
            ff_step: Default::default(),
            ff_th: Default::default(),
            ff_h: Default::default(),
            k_id: off(regs::ID),
            k_version: off(regs::VERSION),
            k_caps: off(regs::CAPS),
            k_scratch: off(regs::SCRATCH),
            k_control: off(regs::CONTROL),
            k_status: off(regs::STATUS),
            k_irq_cause: off(regs::IRQ_CAUSE),
            k_irq_enable: off(regs::IRQ_ENABLE),
            k_irq_set: off(regs::IRQ_SET),
            k_cnt_cycles: off(regs::CNT_CYCLES),
            k_cnt_irq_raised: off(regs::CNT_IRQ_RAISED),
            k_cnt_irq_acked: off(regs::CNT_IRQ_ACKED),
            k_cnt_axi_errors: off(regs::CNT_AXI_ERRORS),
            k_mem_size: off(regs::MEM_SIZE),
            k_mem_window: off(regs::MEM_WINDOW),
            k_seq_ctrl: off(regs::SEQ_CTRL),
            k_seq_status: off(regs::SEQ_STATUS),
            k_seq_pc: off(regs::SEQ_PC),
            k_seq_brk: off(regs::SEQ_BRK),
            k_seq_trap: off(regs::SEQ_TRAP),
            k_seq_iaddr: off(regs::SEQ_IADDR),
            k_seq_idata: off(regs::SEQ_IDATA),
            k_seq_csum: off(regs::SEQ_CSUM),
            k_seq_wdog: off(regs::SEQ_WDOG),
            k_seq_mailbox: off(regs::SEQ_MAILBOX),
            k_sq_doorbell: off(regs::SQ_DOORBELL),
            k_sq_consumer: off(regs::SQ_CONSUMER),
            k_cq_producer: off(regs::CQ_PRODUCER),
            k_cq_consumer: off(regs::CQ_CONSUMER),
            k_irq_mod_count: off(regs::IRQ_MOD_COUNT),
            k_irq_mod_time: off(regs::IRQ_MOD_TIME),
            k_cnt_submitted: off(regs::CNT_SUBMITTED),
            k_cnt_completed: off(regs::CNT_COMPLETED),
            k_cnt_parity_errors: off(regs::CNT_PARITY_ERRORS),
            k_cnt_sel_timeouts: off(regs::CNT_SEL_TIMEOUTS),
            k_cnt_bus_resets: off(regs::CNT_BUS_RESETS),
            k_cnt_posted: off(regs::CNT_POSTED),
            k_scsi_id: off(regs::SCSI_ID),
            k_scsi_bus: off(regs::SCSI_BUS),
            k_scsi_ctrl: off(regs::SCSI_CTRL),
            k_tim_settle: off(regs::TIM_SETTLE),
            k_tim_arb: off(regs::TIM_ARB),
            k_tim_bus_free: off(regs::TIM_BUS_FREE),
            k_tim_bus_clear: off(regs::TIM_BUS_CLEAR),
            k_tim_deskew: off(regs::TIM_DESKEW),
            k_tim_sel_timeout: off(regs::TIM_SEL_TIMEOUT),
            k_tim_reset_hold: off(regs::TIM_RESET_HOLD),
            r_seq_brk: init(0),
            r_seq_wdog: init(regs::timing::WDOG),
            r_mailbox_q: init(0),
            r_cq_ci: init(0),
            r_mod_count: init(1),
            r_mod_time: init(0),
            r_tim_settle: init(regs::timing::SETTLE),
            r_tim_arb: init(regs::timing::ARB),
            r_tim_bus_free: init(regs::timing::BUS_FREE),
            r_tim_bus_clear: init(regs::timing::BUS_CLEAR),
            r_tim_deskew: init(regs::timing::DESKEW),
            r_tim_sel_timeout: init(regs::timing::SEL_TIMEOUT),
            r_tim_reset_hold: init(regs::timing::RESET_HOLD),
            r_tim_sel_abort: init(regs::timing::SEL_ABORT),
            v_magic: word(MAGIC),
            v_version: word(version_word()),
            v_caps: word(regs::caps::PRESENT),
            v_mem_size: word(mem::CARD_MEM_BYTES),
            v_mem_window: word(mem::CARD_MEM_WINDOW),
            v_irq_settable: word(regs::irq::ALL),
            v_soft_reset: word(regs::control::SOFT_RESET),
            v_scsi_id_mask: word(0x10F),
            v_scsi_id_reset: word(regs::timing::OWN_ID),
            v_sticky: word(isa::ev::STICKY),
            v_trap_w0: word(layout::cqe::word0(layout::cqe::kind::TRAP, 0, 0, 0)),
            post_trap: Default::default(),
            v_resp_okay: Constant::new((hba_abi::axi::RESP_OKAY as u64).to_bits()),
            v_resp_slverr: Constant::new((hba_abi::axi::RESP_SLVERR as u64).to_bits()),
            p_events: port(isa::io::EVENTS),
            p_ev_clear: port(isa::io::EV_CLEAR),
            p_pcmd: port(isa::io::PCMD),
            p_target: port(isa::io::TARGET),
            p_bus_data: port(isa::io::BUS_DATA),
            p_xfer_offset: port(isa::io::XFER_OFFSET),
            p_xfer_count: port(isa::io::XFER_COUNT),
            p_xfer_mode: port(isa::io::XFER_MODE),
            p_resel_id: port(isa::io::RESEL_ID),
            p_slot: port(isa::io::SLOT),
            p_slot_check: port(isa::io::SLOT_CHECK),
            p_window: port(isa::io::WINDOW),
            p_bus: port(isa::io::BUS),
            p_own_id: port(isa::io::OWN_ID),
            p_sq_pi: port(isa::io::SQ_PI),
            p_sq_ci: port(isa::io::SQ_CI),
            p_cq_w1: port(isa::io::CQ_W1),
            p_cq_w2: port(isa::io::CQ_W2),
            p_cq_w3: port(isa::io::CQ_W3),
            p_cq_post: port(isa::io::CQ_POST),
            p_timer: port(isa::io::TIMER),
            p_mailbox: port(isa::io::MAILBOX),
        }
    }
}

impl Logic for HbaCore {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            have_aw,
            aw_addr,
            have_w,
            w_data,
            w_strb,
            bvalid,
            bresp,
            rd_stage,
            ar_addr,
            rvalid,
            rdata,
            rresp,
            scratch,
            irq_cause,
            irq_enable,
            irq_req,
            irq_rearm,
            irq_wait,
            cnt_cycles,
            cnt_irq_raised,
            cnt_irq_acked,
            cnt_axi_errors,
            seq_iaddr,
            sq_pi,
            sq_ci,
            scsi_id,
            cnt_submitted,
            cnt_completed,
            cnt_parity,
            cnt_sel_timeouts,
            cnt_bus_resets,
            cnt_posted,
            seq_brk,
            seq_wdog,
            mailbox_q,
            cq_ci,
            mod_count,
            mod_time,
            tim_settle,
            tim_arb,
            tim_bus_free,
            tim_bus_clear,
            tim_deskew,
            tim_sel_timeout,
            tim_reset_hold,
            bus_meta,
            bus_sync,
            sticky,
            pcmd_last,
            target,
            tx_byte,
            xfer_mode,
            window,
            cq_w1,
            cq_w2,
            cq_w3,
            timer,
            trap_pending
        );
        self.card_mem.clock.next = self.clock.val();
        self.seq.clock.next = self.clock.val();
        self.engine.clock.next = self.clock.val();
        self.slot_unit.clock.next = self.clock.val();
        self.cq.clock.next = self.clock.val();

        // Outputs are driven from state only.
        self.s_axil_awready.next = !self.have_aw.q.val() & !self.bvalid.q.val();
        self.s_axil_wready.next = !self.have_w.q.val() & !self.bvalid.q.val();
        self.s_axil_bvalid.next = self.bvalid.q.val();
        self.s_axil_bresp.next = self.bresp.q.val();
        self.s_axil_rvalid.next = self.rvalid.q.val();
        self.s_axil_rdata.next = self.rdata.q.val();
        self.s_axil_rresp.next = self.rresp.q.val();
        self.usr_irq_req.next = self.irq_req.q.val();

        // DMA side of card memory: port A, straight through.
        self.card_mem.a_en.next = self.bram_en.val();
        self.card_mem.a_we.next = self.bram_we.val();
        self.card_mem.a_addr.next = self.bram_addr.val().get_bits::<ADDR_BITS>(2);
        self.card_mem.a_din.next = self.bram_wrdata.val();
        self.bram_rddata.next = self.card_mem.a_dout.val();

        // ---- SCSI pins ----
        self.bus_raw.next = bit_cast::<BUS_BITS, 16>(self.scsi_db_i.val())
            | (bit_cast::<BUS_BITS, 2>(self.scsi_dbp_i.val()) << 16);
        self.bus_raw.next = self.bus_raw.val().replace_bit(18, self.scsi_bsy_i.val());
        self.bus_raw.next = self.bus_raw.val().replace_bit(19, self.scsi_sel_i.val());
        self.bus_raw.next = self.bus_raw.val().replace_bit(20, self.scsi_rst_i.val());
        self.bus_raw.next = self.bus_raw.val().replace_bit(21, self.scsi_atn_i.val());
        self.bus_raw.next = self.bus_raw.val().replace_bit(22, self.scsi_ack_i.val());
        self.bus_raw.next = self.bus_raw.val().replace_bit(23, self.scsi_req_i.val());
        self.bus_raw.next = self.bus_raw.val().replace_bit(24, self.scsi_msg_i.val());
        self.bus_raw.next = self.bus_raw.val().replace_bit(25, self.scsi_cd_i.val());
        self.bus_raw.next = self.bus_raw.val().replace_bit(26, self.scsi_io_i.val());
        self.bus_meta.d.next = self.bus_raw.val();
        self.bus_sync.d.next = bit_cast::<32, BUS_BITS>(self.bus_meta.q.val());
        // The phase engine has its own two-flop synchroniser; it gets the pins as they are.
        self.engine.db_i.next = self.scsi_db_i.val();
        self.engine.dbp_i.next = self.scsi_dbp_i.val();
        self.engine.bsy_i.next = self.scsi_bsy_i.val();
        self.engine.sel_i.next = self.scsi_sel_i.val();
        self.engine.rst_i.next = self.scsi_rst_i.val();
        self.engine.atn_i.next = self.scsi_atn_i.val();
        self.engine.ack_i.next = self.scsi_ack_i.val();
        self.engine.req_i.next = self.scsi_req_i.val();
        self.engine.msg_i.next = self.scsi_msg_i.val();
        self.engine.cd_i.next = self.scsi_cd_i.val();
        self.engine.io_i.next = self.scsi_io_i.val();
        self.scsi_db_oe.next = self.engine.db_oe.val();
        self.scsi_dbp_oe.next = self.engine.dbp_oe.val();
        self.scsi_bsy_oe.next = self.engine.bsy_oe.val();
        self.scsi_sel_oe.next = self.engine.sel_oe.val();
        self.scsi_rst_oe.next = self.engine.rst_oe.val();
        self.scsi_atn_oe.next = self.engine.atn_oe.val();
        self.scsi_ack_oe.next = self.engine.ack_oe.val();
        self.scsi_req_oe.next = false;
        self.scsi_msg_oe.next = false;
        self.scsi_cd_oe.next = false;
        self.scsi_io_oe.next = false;

        // ---- Write channel ----
        if self.s_axil_awvalid.val() & !self.have_aw.q.val() & !self.bvalid.q.val() {
            self.have_aw.d.next = true;
            self.aw_addr.d.next = self.s_axil_awaddr.val();
        }
        if self.s_axil_wvalid.val() & !self.have_w.q.val() & !self.bvalid.q.val() {
            self.have_w.d.next = true;
            self.w_data.d.next = self.s_axil_wdata.val();
            self.w_strb.d.next = self.s_axil_wstrb.val();
        }
        if self.bvalid.q.val() & self.s_axil_bready.val() {
            self.bvalid.d.next = false;
        }
        // A write never shares a cycle with the second stage of a read, so register side
        // effects of reads (SEQ_IDATA) and writes never collide.
        self.wr_go.next = self.have_aw.q.val()
            & self.have_w.q.val()
            & !self.bvalid.q.val()
            & !self.rd_stage.q.val();
        self.wr_in_window.next = self.aw_addr.q.val().get_bit(17);
        self.wr_in_regs.next = !self.aw_addr.q.val().get_bits::<HI_BITS>(12).any();
        self.wr_off.next = self.aw_addr.q.val().get_bits::<OFF_BITS>(0);
        self.wr_reg.next = self.wr_go.val() & self.wr_in_regs.val();

        // Byte lanes of WSTRB as a bit mask.
        self.lane0.next = 0.into();
        self.lane1.next = 0.into();
        self.lane2.next = 0.into();
        self.lane3.next = 0.into();
        if self.w_strb.q.val().get_bit(0) {
            self.lane0.next = 0x0000_00FF.into();
        }
        if self.w_strb.q.val().get_bit(1) {
            self.lane1.next = 0x0000_FF00.into();
        }
        if self.w_strb.q.val().get_bit(2) {
            self.lane2.next = 0x00FF_0000.into();
        }
        if self.w_strb.q.val().get_bit(3) {
            self.lane3.next = 0xFF00_0000_u64.into();
        }
        self.wmask.next = self.lane0.val() | self.lane1.val() | self.lane2.val() | self.lane3.val();
        self.wbits.next = self.w_data.q.val() & self.wmask.val();
        // Narrow registers: the written word merged under the strobes.
        self.m_seq_iaddr.next = (self.seq_iaddr.q.val() & !self.wmask.val().get_bits::<10>(0))
            | self.wbits.val().get_bits::<10>(0);
        self.m_sq_pi.next = (self.sq_pi.q.val() & !self.wmask.val().get_bits::<8>(0))
            | self.wbits.val().get_bits::<8>(0);
        self.m_cq_ci.next = (self.cq_ci.q.val() & !self.wmask.val().get_bits::<8>(0))
            | self.wbits.val().get_bits::<8>(0);

        self.wr_err.next = false;
        self.soft_reset.next = false;
        self.irq_clr.next = 0.into();
        self.irq_sw.next = 0.into();
        self.inc_submitted.next = 0.into();
        self.sq_delta.next = 0.into();
        self.seq.ctl_write.next = false;
        self.seq.iram_we.next = false;
        self.engine.host_bus_reset.next = false;
        self.engine.host_release.next = false;
        self.ev_set.next = 0.into();
        if self.wr_go.val() {
            self.have_aw.d.next = false;
            self.have_w.d.next = false;
            self.bvalid.d.next = true;
            self.wr_err.next = true;
            if self.wr_in_window.val() {
                self.wr_err.next = false;
            }
            if self.wr_in_regs.val() {
                if self.wr_off.val() == self.k_scratch.val() {
                    self.scratch.d.next =
                        (self.scratch.q.val() & !self.wmask.val()) | self.wbits.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_control.val() {
                    self.soft_reset.next = (self.wbits.val() & self.v_soft_reset.val()).any();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_irq_cause.val() {
                    self.irq_clr.next = self.wbits.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_irq_enable.val() {
                    self.irq_enable.d.next =
                        (self.irq_enable.q.val() & !self.wmask.val()) | self.wbits.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_irq_set.val() {
                    self.irq_sw.next = self.wbits.val() & self.v_irq_settable.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_seq_ctrl.val() {
                    self.seq.ctl_write.next = true;
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_seq_iaddr.val() {
                    self.seq_iaddr.d.next = self.m_seq_iaddr.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_seq_idata.val() {
                    self.seq.iram_we.next = true;
                    self.seq_iaddr.d.next = self.seq_iaddr.q.val() + 1;
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_seq_mailbox.val() {
                    self.ev_set.next = self.ev_set.val().replace_bit(10, true);
                }
                if self.wr_off.val() == self.k_sq_doorbell.val() {
                    self.sq_pi.d.next = self.m_sq_pi.val();
                    // The 8-bit difference first: Verilog would size the subtraction to
                    // 32 bits and a wrap of the index would subtract 256.
                    self.sq_delta.next = self.m_sq_pi.val() - self.sq_pi.q.val();
                    self.inc_submitted.next = bit_cast::<32, 8>(self.sq_delta.val());
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_scsi_id.val() {
                    self.scsi_id.d.next = ((self.scsi_id.q.val() & !self.wmask.val())
                        | self.wbits.val())
                        & self.v_scsi_id_mask.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_scsi_ctrl.val() {
                    self.engine.host_bus_reset.next = self.wbits.val().get_bit(0);
                    self.engine.host_release.next = self.wbits.val().get_bit(1);
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_seq_brk.val() {
                    self.seq_brk.d.next =
                        (self.seq_brk.q.val() & !self.wmask.val()) | self.wbits.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_seq_wdog.val() {
                    self.seq_wdog.d.next =
                        (self.seq_wdog.q.val() & !self.wmask.val()) | self.wbits.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_seq_mailbox.val() {
                    self.mailbox_q.d.next =
                        (self.mailbox_q.q.val() & !self.wmask.val()) | self.wbits.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_cq_consumer.val() {
                    self.cq_ci.d.next = self.m_cq_ci.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_irq_mod_count.val() {
                    self.mod_count.d.next =
                        (self.mod_count.q.val() & !self.wmask.val()) | self.wbits.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_irq_mod_time.val() {
                    self.mod_time.d.next =
                        (self.mod_time.q.val() & !self.wmask.val()) | self.wbits.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_tim_settle.val() {
                    self.tim_settle.d.next =
                        (self.tim_settle.q.val() & !self.wmask.val()) | self.wbits.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_tim_arb.val() {
                    self.tim_arb.d.next =
                        (self.tim_arb.q.val() & !self.wmask.val()) | self.wbits.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_tim_bus_free.val() {
                    self.tim_bus_free.d.next =
                        (self.tim_bus_free.q.val() & !self.wmask.val()) | self.wbits.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_tim_bus_clear.val() {
                    self.tim_bus_clear.d.next =
                        (self.tim_bus_clear.q.val() & !self.wmask.val()) | self.wbits.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_tim_deskew.val() {
                    self.tim_deskew.d.next =
                        (self.tim_deskew.q.val() & !self.wmask.val()) | self.wbits.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_tim_sel_timeout.val() {
                    self.tim_sel_timeout.d.next =
                        (self.tim_sel_timeout.q.val() & !self.wmask.val()) | self.wbits.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_tim_reset_hold.val() {
                    self.tim_reset_hold.d.next =
                        (self.tim_reset_hold.q.val() & !self.wmask.val()) | self.wbits.val();
                    self.wr_err.next = false;
                }
            }
            self.bresp.d.next = self.v_resp_okay.val();
            if self.wr_err.val() {
                self.bresp.d.next = self.v_resp_slverr.val();
            }
        }
        self.seq.ctl_wdata.next = self.wbits.val();
        self.seq.iram_wdata.next = self.w_data.q.val();
        self.seq.iram_addr.next = self.seq_iaddr.q.val();

        // ---- Read channel ----
        self.s_axil_arready.next =
            !self.rd_stage.q.val() & !self.rvalid.q.val() & !self.wr_go.val();
        self.ar_fire.next = self.s_axil_arvalid.val()
            & !self.rd_stage.q.val()
            & !self.rvalid.q.val()
            & !self.wr_go.val();
        self.ar_window.next = self.ar_fire.val() & self.s_axil_araddr.val().get_bit(17);
        if self.ar_fire.val() {
            self.rd_stage.d.next = true;
            self.ar_addr.d.next = self.s_axil_araddr.val();
        }
        if self.rvalid.q.val() & self.s_axil_rready.val() {
            self.rvalid.d.next = false;
        }

        // ---- Card memory port B: BAR window, then DMA, ring, slot unit, sequencer ----
        self.axi_b.next = self.ar_window.val() | (self.wr_go.val() & self.wr_in_window.val());
        self.gnt_phase.next = self.engine.mem_req.val() & !self.axi_b.val();
        self.gnt_cq.next = self.cq.mem_req.val() & !self.axi_b.val() & !self.engine.mem_req.val();
        self.gnt_slot.next = self.slot_unit.mem_req.val()
            & !self.axi_b.val()
            & !self.engine.mem_req.val()
            & !self.cq.mem_req.val();
        self.gnt_seq.next = self.seq.mem_req.val()
            & !self.axi_b.val()
            & !self.engine.mem_req.val()
            & !self.cq.mem_req.val()
            & !self.slot_unit.mem_req.val();
        self.engine.mem_gnt.next = self.gnt_phase.val();
        self.cq.mem_gnt.next = self.gnt_cq.val();
        self.slot_unit.mem_gnt.next = self.gnt_slot.val();
        self.seq.mem_gnt.next = self.gnt_seq.val();
        self.engine.mem_rdata.next = self.card_mem.b_dout.val();
        self.slot_unit.mem_rdata.next = self.card_mem.b_dout.val();
        self.seq.mem_rdata.next = self.card_mem.b_dout.val();

        self.card_mem.b_en.next = false;
        self.card_mem.b_we.next = 0.into();
        self.card_mem.b_din.next = self.w_data.q.val();
        self.card_mem.b_addr.next = self.s_axil_araddr.val().get_bits::<ADDR_BITS>(2);
        if self.ar_window.val() {
            self.card_mem.b_en.next = true;
        }
        if self.wr_go.val() & self.wr_in_window.val() {
            self.card_mem.b_en.next = true;
            self.card_mem.b_we.next = self.w_strb.q.val();
            self.card_mem.b_addr.next = self.aw_addr.q.val().get_bits::<ADDR_BITS>(2);
        }
        if self.gnt_phase.val() {
            self.card_mem.b_en.next = true;
            self.card_mem.b_addr.next = self.engine.mem_addr.val();
            self.card_mem.b_din.next = self.engine.mem_wdata.val();
            if self.engine.mem_we.val() {
                self.card_mem.b_we.next = self.engine.mem_be.val();
            }
        }
        if self.gnt_cq.val() {
            self.card_mem.b_en.next = true;
            self.card_mem.b_addr.next = self.cq.mem_addr.val();
            self.card_mem.b_din.next = self.cq.mem_wdata.val();
            self.card_mem.b_we.next = 0xF.into();
        }
        if self.gnt_slot.val() {
            self.card_mem.b_en.next = true;
            self.card_mem.b_addr.next = self.slot_unit.mem_addr.val();
        }
        if self.gnt_seq.val() {
            self.card_mem.b_en.next = true;
            self.card_mem.b_addr.next = self.seq.mem_addr.val();
            self.card_mem.b_din.next = self.seq.mem_wdata.val();
            if self.seq.mem_we.val() {
                self.card_mem.b_we.next = self.seq.mem_be.val();
            }
        }

        // ---- Register reads ----
        self.seq_status.next = bit_cast::<32, 4>(self.seq.depth.val()) << 8;
        self.seq_status.next = self.seq_status.val().replace_bit(0, self.seq.running.val());
        self.seq_status.next = self.seq_status.val().replace_bit(1, self.seq.trapped.val());
        self.seq_status.next = self
            .seq_status
            .val()
            .replace_bit(2, self.seq.at_break.val());
        self.seq_status.next = self
            .seq_status
            .val()
            .replace_bit(3, self.seq.csum_busy.val());
        self.seq_status.next = self.seq_status.val().replace_bit(4, self.seq.waiting.val());

        self.rd_in_window.next = self.ar_addr.q.val().get_bit(17);
        self.rd_in_regs.next = !self.ar_addr.q.val().get_bits::<HI_BITS>(12).any();
        self.rd_off.next = self.ar_addr.q.val().get_bits::<OFF_BITS>(0);
        self.rd_val.next = 0.into();
        self.rd_err.next = true;
        if self.rd_in_window.val() {
            self.rd_val.next = self.card_mem.b_dout.val();
            self.rd_err.next = false;
        }
        if self.rd_in_regs.val() {
            if self.rd_off.val() == self.k_id.val() {
                self.rd_val.next = self.v_magic.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_version.val() {
                self.rd_val.next = self.v_version.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_caps.val() {
                self.rd_val.next = self.v_caps.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_scratch.val() {
                self.rd_val.next = self.scratch.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_control.val() {
                self.rd_val.next = 0.into();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_status.val() {
                self.rd_val.next = bit_cast::<32, 1>(self.irq_req.q.val().into());
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_irq_cause.val() {
                self.rd_val.next = self.irq_cause.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_irq_enable.val() {
                self.rd_val.next = self.irq_enable.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_irq_set.val() {
                self.rd_val.next = 0.into();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_cnt_cycles.val() {
                self.rd_val.next = self.cnt_cycles.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_cnt_irq_raised.val() {
                self.rd_val.next = self.cnt_irq_raised.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_cnt_irq_acked.val() {
                self.rd_val.next = self.cnt_irq_acked.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_cnt_axi_errors.val() {
                self.rd_val.next = self.cnt_axi_errors.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_mem_size.val() {
                self.rd_val.next = self.v_mem_size.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_mem_window.val() {
                self.rd_val.next = self.v_mem_window.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_seq_ctrl.val() {
                self.rd_val.next = bit_cast::<32, 1>(self.seq.running.val().into());
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_seq_status.val() {
                self.rd_val.next = self.seq_status.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_seq_pc.val() {
                self.rd_val.next = bit_cast::<32, 10>(self.seq.pc.val());
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_seq_trap.val() {
                self.rd_val.next = self.seq.trap_info.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_seq_iaddr.val() {
                self.rd_val.next = bit_cast::<32, 10>(self.seq_iaddr.q.val());
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_seq_idata.val() {
                self.rd_val.next = self.seq.iram_rdata.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_seq_csum.val() {
                self.rd_val.next = self.seq.csum.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_sq_doorbell.val() {
                self.rd_val.next = bit_cast::<32, 8>(self.sq_pi.q.val());
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_sq_consumer.val() {
                self.rd_val.next = bit_cast::<32, 8>(self.sq_ci.q.val());
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_cq_producer.val() {
                self.rd_val.next =
                    bit_cast::<32, 8>(self.cq.producer.val()).replace_bit(31, self.cq.phase.val());
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_cnt_submitted.val() {
                self.rd_val.next = self.cnt_submitted.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_cnt_completed.val() {
                self.rd_val.next = self.cnt_completed.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_cnt_parity_errors.val() {
                self.rd_val.next = self.cnt_parity.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_cnt_sel_timeouts.val() {
                self.rd_val.next = self.cnt_sel_timeouts.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_cnt_bus_resets.val() {
                self.rd_val.next = self.cnt_bus_resets.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_cnt_posted.val() {
                self.rd_val.next = self.cnt_posted.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_scsi_id.val() {
                self.rd_val.next = self.scsi_id.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_scsi_bus.val() {
                self.rd_val.next = self.bus_sync.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_scsi_ctrl.val() {
                self.rd_val.next = 0.into();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_seq_brk.val() {
                self.rd_val.next = self.seq_brk.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_seq_wdog.val() {
                self.rd_val.next = self.seq_wdog.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_seq_mailbox.val() {
                self.rd_val.next = self.mailbox_q.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_cq_consumer.val() {
                self.rd_val.next = bit_cast::<32, 8>(self.cq_ci.q.val());
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_irq_mod_count.val() {
                self.rd_val.next = self.mod_count.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_irq_mod_time.val() {
                self.rd_val.next = self.mod_time.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_tim_settle.val() {
                self.rd_val.next = self.tim_settle.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_tim_arb.val() {
                self.rd_val.next = self.tim_arb.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_tim_bus_free.val() {
                self.rd_val.next = self.tim_bus_free.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_tim_bus_clear.val() {
                self.rd_val.next = self.tim_bus_clear.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_tim_deskew.val() {
                self.rd_val.next = self.tim_deskew.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_tim_sel_timeout.val() {
                self.rd_val.next = self.tim_sel_timeout.q.val();
                self.rd_err.next = false;
            }
            if self.rd_off.val() == self.k_tim_reset_hold.val() {
                self.rd_val.next = self.tim_reset_hold.q.val();
                self.rd_err.next = false;
            }
        }
        if self.rd_stage.q.val() {
            self.rd_stage.d.next = false;
            self.rvalid.d.next = true;
            self.rdata.d.next = self.rd_val.val();
            self.rresp.d.next = self.v_resp_okay.val();
            if self.rd_err.val() {
                self.rdata.d.next = 0.into();
                self.rresp.d.next = self.v_resp_slverr.val();
            }
            // Reading SEQ_IDATA advances the address, like writing it.
            if self.rd_in_regs.val() & (self.rd_off.val() == self.k_seq_idata.val()) {
                self.seq_iaddr.d.next = self.seq_iaddr.q.val() + 1;
            }
        }

        // ---- Sequencer ----
        self.seq.brk.next = self.seq_brk.q.val();
        self.seq.wdog_limit.next = self.seq_wdog.q.val();
        self.seq.hcb_base.next = self.slot_unit.hcb_base.val();

        // Events: levels from the hardware, sticky bits set by pulses.
        self.ev_set.next = self
            .ev_set
            .val()
            .replace_bit(2, self.engine.ev_cmd_done.val());
        self.ev_set.next = self
            .ev_set
            .val()
            .replace_bit(3, self.engine.ev_sel_timeout.val());
        self.ev_set.next = self
            .ev_set
            .val()
            .replace_bit(4, self.engine.ev_reselected.val());
        self.ev_set.next = self
            .ev_set
            .val()
            .replace_bit(5, self.engine.ev_bus_free.val());
        self.ev_set.next = self
            .ev_set
            .val()
            .replace_bit(6, self.engine.ev_unexp_free.val());
        self.ev_set.next = self
            .ev_set
            .val()
            .replace_bit(7, self.engine.ev_bus_reset.val());
        self.ev_set.next = self
            .ev_set
            .val()
            .replace_bit(8, self.engine.ev_parity_err.val());
        self.ev_set.next = self
            .ev_set
            .val()
            .replace_bit(11, self.engine.ev_phase_mismatch.val());
        self.ev_set.next = self
            .ev_set
            .val()
            .replace_bit(14, self.engine.ev_offset_err.val());
        self.events.next = self.sticky.q.val() | (bit_cast::<32, 3>(self.engine.phase.val()) << 16);
        self.events.next = self
            .events
            .val()
            .replace_bit(0, self.engine.req_valid.val());
        self.events.next = self
            .events
            .val()
            .replace_bit(1, self.sq_pi.q.val() != self.sq_ci.q.val());
        self.events.next = self.events.val().replace_bit(12, self.engine.busy.val());
        self.events.next = self
            .events
            .val()
            .replace_bit(13, self.engine.connected.val());
        self.seq.events.next = self.events.val();

        // I/O ports.
        self.io_port.next = self.seq.io_addr.val();
        self.io_val.next = 0.into();
        self.io_rd_ok.next = false;
        self.io_wr_ok.next = false;
        self.io_ready.next = true;
        if self.io_port.val() == self.p_events.val() {
            self.io_val.next = self.events.val();
            self.io_rd_ok.next = true;
        }
        if self.io_port.val() == self.p_ev_clear.val() {
            self.io_wr_ok.next = true;
        }
        if self.io_port.val() == self.p_pcmd.val() {
            self.io_val.next = self.pcmd_last.q.val();
            self.io_rd_ok.next = true;
            self.io_wr_ok.next = true;
            // BUS_RESET never stalls: it is how the firmware ends a wedged command.
            if self.seq.io_wr.val()
                & self.engine.busy.val()
                & (self.seq.io_wdata.val().get_bits::<4>(0) != 9)
            {
                self.io_ready.next = false;
            }
        }
        if self.io_port.val() == self.p_target.val() {
            self.io_val.next = bit_cast::<32, 4>(self.target.q.val());
            self.io_rd_ok.next = true;
            self.io_wr_ok.next = true;
        }
        if self.io_port.val() == self.p_bus_data.val() {
            self.io_val.next = bit_cast::<32, 9>(self.engine.rx_byte.val());
            self.io_rd_ok.next = true;
            self.io_wr_ok.next = true;
        }
        if self.io_port.val() == self.p_xfer_offset.val() {
            self.io_val.next = self.engine.xfer_offset.val();
            self.io_rd_ok.next = true;
            self.io_wr_ok.next = true;
        }
        if self.io_port.val() == self.p_xfer_count.val() {
            self.io_val.next = self.engine.xfer_count.val();
            self.io_rd_ok.next = true;
            self.io_wr_ok.next = true;
        }
        if self.io_port.val() == self.p_xfer_mode.val() {
            self.io_val.next = self.xfer_mode.q.val();
            self.io_rd_ok.next = true;
            self.io_wr_ok.next = true;
        }
        if self.io_port.val() == self.p_resel_id.val() {
            self.io_val.next = bit_cast::<32, 4>(self.engine.resel_id.val());
            self.io_rd_ok.next = true;
        }
        if self.io_port.val() == self.p_slot.val() {
            self.io_val.next = bit_cast::<32, 8>(self.slot_unit.slot.val());
            self.io_rd_ok.next = true;
            self.io_wr_ok.next = true;
            if self.seq.io_wr.val() & self.slot_unit.busy.val() {
                self.io_ready.next = false;
            }
        }
        if self.io_port.val() == self.p_slot_check.val() {
            self.io_val.next = bit_cast::<32, 8>(self.slot_unit.check.val());
            self.io_rd_ok.next = true;
        }
        if self.io_port.val() == self.p_window.val() {
            self.io_val.next = bit_cast::<32, 1>(self.window.q.val().into());
            self.io_rd_ok.next = true;
            self.io_wr_ok.next = true;
        }
        if self.io_port.val() == self.p_bus.val() {
            self.io_val.next = self.bus_sync.q.val();
            self.io_rd_ok.next = true;
        }
        if self.io_port.val() == self.p_own_id.val() {
            self.io_val.next = self.scsi_id.q.val();
            self.io_rd_ok.next = true;
        }
        if self.io_port.val() == self.p_sq_pi.val() {
            self.io_val.next = bit_cast::<32, 8>(self.sq_pi.q.val());
            self.io_rd_ok.next = true;
        }
        if self.io_port.val() == self.p_sq_ci.val() {
            self.io_val.next = bit_cast::<32, 8>(self.sq_ci.q.val());
            self.io_rd_ok.next = true;
            self.io_wr_ok.next = true;
        }
        if self.io_port.val() == self.p_cq_w1.val() {
            self.io_wr_ok.next = true;
        }
        if self.io_port.val() == self.p_cq_w2.val() {
            self.io_wr_ok.next = true;
        }
        if self.io_port.val() == self.p_cq_w3.val() {
            self.io_wr_ok.next = true;
        }
        if self.io_port.val() == self.p_cq_post.val() {
            self.io_wr_ok.next = true;
            if self.seq.io_wr.val() & !self.cq.ready.val() {
                self.io_ready.next = false;
            }
        }
        if self.io_port.val() == self.p_timer.val() {
            self.io_val.next = self.timer.q.val();
            self.io_rd_ok.next = true;
            self.io_wr_ok.next = true;
        }
        if self.io_port.val() == self.p_mailbox.val() {
            self.io_val.next = self.mailbox_q.q.val();
            self.io_rd_ok.next = true;
        }
        self.seq.io_rdata.next = self.io_val.val();
        self.seq.io_ready.next = self.io_ready.val();
        self.seq.io_err.next = (self.seq.io_rd.val() & !self.io_rd_ok.val())
            | (self.seq.io_wr.val() & !self.io_wr_ok.val());
        self.io_go_wr.next = self.seq.io_wr.val() & self.io_ready.val() & self.io_wr_ok.val();

        // Effects of I/O writes.
        self.ev_clr.next = 0.into();
        self.engine.cmd_valid.next = false;
        self.engine.xfer_offset_we.next = false;
        self.engine.xfer_count_we.next = false;
        self.slot_unit.start.next = false;
        self.cq.post.next = false;
        if self.io_go_wr.val() {
            if self.io_port.val() == self.p_ev_clear.val() {
                self.ev_clr.next = self.seq.io_wdata.val() & self.v_sticky.val();
            }
            if self.io_port.val() == self.p_pcmd.val() {
                self.engine.cmd_valid.next = true;
                self.pcmd_last.d.next = self.seq.io_wdata.val();
                // A new command clears CMD_DONE so WAIT sees only this one's end.
                self.ev_clr.next = 4.into();
            }
            if self.io_port.val() == self.p_target.val() {
                self.target.d.next = self.seq.io_wdata.val().get_bits::<4>(0);
            }
            if self.io_port.val() == self.p_bus_data.val() {
                self.tx_byte.d.next = self.seq.io_wdata.val().get_bits::<8>(0);
            }
            if self.io_port.val() == self.p_xfer_offset.val() {
                self.engine.xfer_offset_we.next = true;
            }
            if self.io_port.val() == self.p_xfer_count.val() {
                self.engine.xfer_count_we.next = true;
            }
            if self.io_port.val() == self.p_xfer_mode.val() {
                self.xfer_mode.d.next = self.seq.io_wdata.val();
            }
            if self.io_port.val() == self.p_slot.val() {
                self.slot_unit.start.next = true;
            }
            if self.io_port.val() == self.p_window.val() {
                self.window.d.next = self.seq.io_wdata.val().get_bit(0);
            }
            if self.io_port.val() == self.p_sq_ci.val() {
                self.sq_ci.d.next = self.seq.io_wdata.val().get_bits::<8>(0);
            }
            if self.io_port.val() == self.p_cq_w1.val() {
                self.cq_w1.d.next = self.seq.io_wdata.val();
            }
            if self.io_port.val() == self.p_cq_w2.val() {
                self.cq_w2.d.next = self.seq.io_wdata.val();
            }
            if self.io_port.val() == self.p_cq_w3.val() {
                self.cq_w3.d.next = self.seq.io_wdata.val();
            }
            if self.io_port.val() == self.p_cq_post.val() {
                self.cq.post.next = true;
            }
            if self.io_port.val() == self.p_timer.val() {
                self.timer.d.next = self.seq.io_wdata.val();
            }
        }
        // The countdown timer: TIMER fires on the step from 1 to 0 (a fast-forward
        // step stands for `1 + ff_skip` cycles).
        self.ff_step.next = self.ff_skip.val() + 1;
        self.timer_fire.next = false;
        if !(self.io_go_wr.val() & (self.io_port.val() == self.p_timer.val()))
            & self.timer.q.val().any()
        {
            self.timer.d.next = self.timer.q.val() - self.ff_step.val();
            if self.timer.q.val() == 1 {
                self.timer_fire.next = true;
            }
        }
        self.ev_set.next = self.ev_set.val().replace_bit(9, self.timer_fire.val());
        // Set wins over clear: an event arriving in the clearing cycle is kept.
        self.sticky.d.next = (self.sticky.q.val() & !self.ev_clr.val()) | self.ev_set.val();
        self.engine.rst_ack.next = self.ev_clr.val().get_bit(7);

        // ---- Phase engine, slot unit, ring ----
        self.engine.own_id.next = self.scsi_id.q.val().get_bits::<4>(0);
        self.engine.wide_bus.next = self.scsi_id.q.val().get_bit(8);
        self.engine.tim_settle.next = self.tim_settle.q.val();
        self.engine.tim_arb.next = self.tim_arb.q.val();
        self.engine.tim_bus_free.next = self.tim_bus_free.q.val();
        self.engine.tim_bus_clear.next = self.tim_bus_clear.q.val();
        self.engine.tim_deskew.next = self.tim_deskew.q.val();
        self.engine.tim_sel_timeout.next = self.tim_sel_timeout.q.val();
        self.engine.tim_reset_hold.next = self.tim_reset_hold.q.val();
        self.engine.tim_sel_abort.next = self.r_tim_sel_abort.val();
        self.engine.cmd.next = self.seq.io_wdata.val();
        self.engine.target.next = self.target.q.val();
        self.engine.tx_byte.next = self.tx_byte.q.val();
        self.engine.xfer_mode.next = self.xfer_mode.q.val();
        self.engine.xfer_wdata.next = self.seq.io_wdata.val();
        self.engine.window_base.next = self.slot_unit.data_base.val();
        self.engine.window_len.next = self.slot_unit.data_len.val();
        if self.window.q.val() {
            self.engine.window_base.next = self.slot_unit.sense_base.val();
            self.engine.window_len.next = self.slot_unit.sense_len.val();
        }
        self.slot_unit.slot_in.next = self.seq.io_wdata.val().get_bits::<8>(0);
        self.slot_unit.own_id.next = self.scsi_id.q.val().get_bits::<4>(0);
        self.slot_unit.wide_bus.next = self.scsi_id.q.val().get_bit(8);
        self.cq.w0.next = self.seq.io_wdata.val();
        self.cq.w1.next = self.cq_w1.q.val();
        self.cq.w2.next = self.cq_w2.q.val();
        self.cq.w3.next = self.cq_w3.q.val();
        // A trap is posted to the ring by the hardware (the firmware cannot): once the
        // ring has room and the sequencer is not posting.
        if self.seq.trap_pulse.val() {
            self.trap_pending.d.next = true;
        }
        self.post_trap.next = self.trap_pending.q.val() & self.cq.ready.val() & !self.cq.post.val();
        if self.post_trap.val() {
            self.cq.post.next = true;
            self.cq.w0.next = self.v_trap_w0.val();
            self.cq.w1.next = 0.into();
            self.cq.w2.next = 0.into();
            self.cq.w3.next = self.seq.trap_info.val();
            self.trap_pending.d.next = false;
        }
        self.cq.consumer.next = self.cq_ci.q.val();
        self.cq.mod_count.next = self.mod_count.q.val();
        self.cq.mod_time.next = self.mod_time.q.val();

        // ---- Counters ----
        self.cnt_cycles.d.next = self.cnt_cycles.q.val() + self.ff_step.val();
        self.err_w.next = 0.into();
        self.err_r.next = 0.into();
        if self.wr_go.val() & self.wr_err.val() {
            self.err_w.next = 1.into();
        }
        if self.rd_stage.q.val() & self.rd_err.val() {
            self.err_r.next = 1.into();
        }
        self.cnt_axi_errors.d.next =
            self.cnt_axi_errors.q.val() + self.err_w.val() + self.err_r.val();
        self.cnt_submitted.d.next = self.cnt_submitted.q.val() + self.inc_submitted.val();
        if self.cq.completed_pulse.val() {
            self.cnt_completed.d.next = self.cnt_completed.q.val() + 1;
        }
        if self.cq.posted_pulse.val() {
            self.cnt_posted.d.next = self.cnt_posted.q.val() + 1;
        }
        if self.engine.ev_parity_err.val() {
            self.cnt_parity.d.next = self.cnt_parity.q.val() + 1;
        }
        if self.engine.ev_sel_timeout.val() {
            self.cnt_sel_timeouts.d.next = self.cnt_sel_timeouts.q.val() + 1;
        }
        if self.engine.ev_bus_reset.val() {
            self.cnt_bus_resets.d.next = self.cnt_bus_resets.q.val() + 1;
        }

        // ---- Interrupt ----
        self.irq_hw.next = 0.into();
        self.irq_hw.next = self.irq_hw.val().replace_bit(0, self.cq.irq_pulse.val());
        self.irq_hw.next = self.irq_hw.val().replace_bit(1, self.seq.trap_pulse.val());
        self.irq_hw.next = self.irq_hw.val().replace_bit(2, self.seq.halt_pulse.val());
        self.irq_hw.next = self
            .irq_hw
            .val()
            .replace_bit(3, self.engine.ev_bus_reset.val());
        self.irq_cause.d.next =
            (self.irq_cause.q.val() & !self.irq_clr.val()) | self.irq_hw.val() | self.irq_sw.val();
        // A W1C write drops the request for one cycle, so a cause still pending after the
        // clear makes a fresh rising edge: XDMA sends one MSI per edge. PG195: once raised,
        // the request stays up until usr_irq_ack, so neither that drop nor a cleared cause
        // may lower it while an ack is due (irq_hold); the MSI still in flight then tells
        // the host to read IRQ_CAUSE again.
        self.irq_hold.next = self.irq_wait.q.val() & !self.usr_irq_ack.val();
        self.irq_rearm.d.next = false;
        if self.wr_reg.val() & (self.wr_off.val() == self.k_irq_cause.val()) {
            self.irq_rearm.d.next = true;
        }
        self.irq_next.next = ((self.irq_cause.q.val() & self.irq_enable.q.val()).any()
            & !self.irq_rearm.q.val())
            | self.irq_hold.val();
        self.irq_req.d.next = self.irq_next.val();
        self.irq_wait.d.next = self.irq_hold.val() | (self.irq_next.val() & !self.irq_req.q.val());
        self.raise_inc.next = 0.into();
        if self.irq_next.val() & !self.irq_req.q.val() {
            self.raise_inc.next = 1.into();
        }
        self.ack_inc.next = 0.into();
        if self.usr_irq_ack.val() {
            self.ack_inc.next = 1.into();
        }
        self.cnt_irq_raised.d.next = self.cnt_irq_raised.q.val() + self.raise_inc.val();
        self.cnt_irq_acked.d.next = self.cnt_irq_acked.q.val() + self.ack_inc.val();

        // ---- Co-simulation fast-forward ----
        // Quiet: no transaction on any port, no interrupt edge, rearm or ack pending, no
        // event pulse, both SCSI synchroniser stages settled, every unit quiet. (The
        // watchdog needs no deadline: it is cleared in WAIT and stopped when halted.)
        self.engine.ff_skip.next = self.ff_skip.val();
        self.cq.ff_skip.next = self.ff_skip.val();
        self.ff_quiet.next = !self.reset.val()
            & !self.s_axil_awvalid.val()
            & !self.s_axil_wvalid.val()
            & !self.s_axil_arvalid.val()
            & !self.bram_en.val()
            & !self.usr_irq_ack.val()
            & !self.have_aw.q.val()
            & !self.have_w.q.val()
            & !self.bvalid.q.val()
            & !self.rd_stage.q.val()
            & !self.rvalid.q.val()
            & !self.irq_rearm.q.val()
            & !self.irq_wait.q.val()
            & (self.irq_next.val() == self.irq_req.q.val())
            & !self.ev_set.val().any()
            & (self.bus_meta.q.val() == self.bus_raw.val())
            & (self.bus_sync.q.val() == bit_cast::<32, BUS_BITS>(self.bus_meta.q.val()))
            & !self.trap_pending.q.val()
            & !self.cq.post.val()
            & !self.slot_unit.busy.val()
            & self.seq.ff_quiet.val()
            & self.engine.ff_quiet.val()
            & self.cq.ff_quiet.val();
        // The firmware timer fires on the step from 1 to 0: from T it may skip T - 2.
        self.ff_th.next = 0x3FFF_FFFF.into();
        if self.timer.q.val().any() {
            self.ff_th.next = 0.into();
            if self.timer.q.val() >= 2 {
                self.ff_th.next = self.timer.q.val() - 2;
            }
        }
        self.ff_h.next = self.ff_th.val();
        if self.cq.ff_horizon.val() < self.ff_h.val() {
            self.ff_h.next = self.cq.ff_horizon.val();
        }
        if self.engine.ff_horizon.val() < self.ff_h.val() {
            self.ff_h.next = self.engine.ff_horizon.val();
        }
        if self.ff_h.val() > 0x3FFF_FFFF {
            self.ff_h.next = 0x3FFF_FFFF.into();
        }
        self.ff_horizon.next = self.ff_h.val();

        // ---- Resets ----
        // Soft reset is a register path: it restarts the sequencer, releases the bus and
        // empties the rings whatever the firmware is doing. Timing and ID survive it.
        self.any_reset.next = self.soft_reset.val() | self.reset.val();
        self.seq.reset.next = self.any_reset.val();
        self.engine.reset.next = self.any_reset.val();
        self.slot_unit.reset.next = self.any_reset.val();
        self.cq.reset.next = self.any_reset.val();
        if self.any_reset.val() {
            self.scratch.d.next = 0.into();
            self.irq_cause.d.next = 0.into();
            self.irq_enable.d.next = 0.into();
            // Soft reset keeps a request whose ack is due (PG195); hard reset below drops it.
            self.irq_req.d.next = self.irq_hold.val();
            self.irq_wait.d.next = self.irq_hold.val();
            self.irq_rearm.d.next = false;
            self.cnt_irq_raised.d.next = 0.into();
            self.cnt_irq_acked.d.next = 0.into();
            self.cnt_axi_errors.d.next = 0.into();
            self.cnt_submitted.d.next = 0.into();
            self.cnt_completed.d.next = 0.into();
            self.cnt_parity.d.next = 0.into();
            self.cnt_sel_timeouts.d.next = 0.into();
            self.cnt_bus_resets.d.next = 0.into();
            self.cnt_posted.d.next = 0.into();
            self.seq_iaddr.d.next = 0.into();
            self.sq_pi.d.next = 0.into();
            self.sq_ci.d.next = 0.into();
            self.sticky.d.next = 0.into();
            self.pcmd_last.d.next = 0.into();
            self.target.d.next = 0.into();
            self.tx_byte.d.next = 0.into();
            self.xfer_mode.d.next = 0.into();
            self.window.d.next = false;
            self.cq_w1.d.next = 0.into();
            self.cq_w2.d.next = 0.into();
            self.cq_w3.d.next = 0.into();
            self.timer.d.next = 0.into();
            self.trap_pending.d.next = false;
            self.seq_brk.d.next = self.r_seq_brk.val();
            self.mailbox_q.d.next = self.r_mailbox_q.val();
            self.cq_ci.d.next = self.r_cq_ci.val();
            self.mod_count.d.next = self.r_mod_count.val();
            self.mod_time.d.next = self.r_mod_time.val();
        }
        if self.reset.val() {
            self.irq_req.d.next = false;
            self.irq_wait.d.next = false;
            self.have_aw.d.next = false;
            self.have_w.d.next = false;
            self.bvalid.d.next = false;
            self.rd_stage.d.next = false;
            self.rvalid.d.next = false;
            self.cnt_cycles.d.next = 0.into();
            self.scsi_id.d.next = self.v_scsi_id_reset.val();
            self.seq_wdog.d.next = self.r_seq_wdog.val();
            self.tim_settle.d.next = self.r_tim_settle.val();
            self.tim_arb.d.next = self.r_tim_arb.val();
            self.tim_bus_free.d.next = self.r_tim_bus_free.val();
            self.tim_bus_clear.d.next = self.r_tim_bus_clear.val();
            self.tim_deskew.d.next = self.r_tim_deskew.val();
            self.tim_sel_timeout.d.next = self.r_tim_sel_timeout.val();
            self.tim_reset_hold.d.next = self.r_tim_reset_hold.val();
        }
    }
}
