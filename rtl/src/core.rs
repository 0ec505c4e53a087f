//! The HBA top level: AXI4-Lite register block, card memory, interrupt line.
//!
//! Ports are flat and named the way Vivado's interface inference expects
//! (`s_axil_*`, `bram_*`, `usr_irq_*`), so the block design connects them by name.
//!
//! AXI4-Lite: AW and W are accepted independently (either order, or together) and held
//! until both are present; the write then happens in one cycle and B is raised and held
//! until `bready`. AR is accepted when no read is in flight; R is held until `rready`.
//! No ready depends combinationally on a valid. Unmapped offsets and writes to read-only
//! registers answer SLVERR (see `hba_abi::regs`).

use crate::card_mem::{CardMem, ADDR_BITS};
use hba_abi::{mem, regs, version_word, MAGIC};
use rust_hdl::prelude::*;

/// AXI4-Lite address width.
pub const AXIL_ADDR: usize = mem::AXIL_ADDR_BITS as usize;
/// Width of a register offset inside the register block.
const OFF_BITS: usize = 12;
/// Address bits above the register block.
const HI_BITS: usize = AXIL_ADDR - OFF_BITS;
const _: () = assert!(1 << OFF_BITS == mem::REG_BLOCK_BYTES as usize);
// The window is the upper half of the register space: address bit 17 selects it.
const _: () = assert!(mem::CARD_MEM_WINDOW == 1 << (mem::AXIL_ADDR_BITS - 1));
const _: () = assert!(ADDR_BITS + 2 == AXIL_ADDR - 1);
// hdl_gen emits method arguments verbatim, so bit positions in `update` are literals:
// 17 is the window-select bit, 12 the first bit above the register block.
const _: () = assert!(AXIL_ADDR - 1 == 17 && OFF_BITS == 12);

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

    card_mem: CardMem,

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
    cnt_cycles: DFF<Bits<32>>,
    cnt_irq_raised: DFF<Bits<32>>,
    cnt_irq_acked: DFF<Bits<32>>,
    cnt_axi_errors: DFF<Bits<32>>,

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
    soft_reset: Signal<Local, Bit>,
    ar_fire: Signal<Local, Bit>,
    rd_in_window: Signal<Local, Bit>,
    rd_in_regs: Signal<Local, Bit>,
    rd_off: Signal<Local, Bits<OFF_BITS>>,
    rd_val: Signal<Local, Bits<32>>,
    rd_err: Signal<Local, Bit>,
    err_w: Signal<Local, Bits<32>>,
    err_r: Signal<Local, Bits<32>>,
    irq_next: Signal<Local, Bit>,
    raise_inc: Signal<Local, Bits<32>>,
    ack_inc: Signal<Local, Bits<32>>,

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
    v_magic: Constant<Bits<32>>,
    v_version: Constant<Bits<32>>,
    v_caps: Constant<Bits<32>>,
    v_mem_size: Constant<Bits<32>>,
    v_mem_window: Constant<Bits<32>>,
    v_irq_settable: Constant<Bits<32>>,
    v_soft_reset: Constant<Bits<32>>,
    v_resp_okay: Constant<Bits<2>>,
    v_resp_slverr: Constant<Bits<2>>,
}

fn off(x: u32) -> Constant<Bits<OFF_BITS>> {
    Constant::new((x as u64).to_bits())
}

fn word(x: u32) -> Constant<Bits<32>> {
    Constant::new((x as u64).to_bits())
}

impl Default for HbaCore {
    fn default() -> Self {
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
            card_mem: Default::default(),
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
            cnt_cycles: Default::default(),
            cnt_irq_raised: Default::default(),
            cnt_irq_acked: Default::default(),
            cnt_axi_errors: Default::default(),
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
            soft_reset: Default::default(),
            ar_fire: Default::default(),
            rd_in_window: Default::default(),
            rd_in_regs: Default::default(),
            rd_off: Default::default(),
            rd_val: Default::default(),
            rd_err: Default::default(),
            err_w: Default::default(),
            err_r: Default::default(),
            irq_next: Default::default(),
            raise_inc: Default::default(),
            ack_inc: Default::default(),
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
            v_magic: word(MAGIC),
            v_version: word(version_word()),
            v_caps: word(regs::caps::PRESENT),
            v_mem_size: word(mem::CARD_MEM_BYTES),
            v_mem_window: word(mem::CARD_MEM_WINDOW),
            v_irq_settable: word(regs::irq::ALL),
            v_soft_reset: word(regs::control::SOFT_RESET),
            v_resp_okay: Constant::new((hba_abi::axi::RESP_OKAY as u64).to_bits()),
            v_resp_slverr: Constant::new((hba_abi::axi::RESP_SLVERR as u64).to_bits()),
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
            cnt_cycles,
            cnt_irq_raised,
            cnt_irq_acked,
            cnt_axi_errors
        );
        self.card_mem.clock.next = self.clock.val();

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
        self.wr_go.next = self.have_aw.q.val() & self.have_w.q.val() & !self.bvalid.q.val();
        self.wr_in_window.next = self.aw_addr.q.val().get_bit(17);
        self.wr_in_regs.next = !self.aw_addr.q.val().get_bits::<HI_BITS>(12).any();
        self.wr_off.next = self.aw_addr.q.val().get_bits::<OFF_BITS>(0);

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

        self.wr_err.next = false;
        self.soft_reset.next = false;
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
                    self.irq_cause.d.next = self.irq_cause.q.val() & !self.wbits.val();
                    self.irq_rearm.d.next = true;
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_irq_enable.val() {
                    self.irq_enable.d.next =
                        (self.irq_enable.q.val() & !self.wmask.val()) | self.wbits.val();
                    self.wr_err.next = false;
                }
                if self.wr_off.val() == self.k_irq_set.val() {
                    self.irq_cause.d.next =
                        self.irq_cause.q.val() | (self.wbits.val() & self.v_irq_settable.val());
                    self.wr_err.next = false;
                }
            }
            self.bresp.d.next = self.v_resp_okay.val();
            if self.wr_err.val() {
                self.bresp.d.next = self.v_resp_slverr.val();
            }
        }

        // ---- Read channel ----
        self.s_axil_arready.next =
            !self.rd_stage.q.val() & !self.rvalid.q.val() & !self.wr_go.val();
        self.ar_fire.next = self.s_axil_arvalid.val()
            & !self.rd_stage.q.val()
            & !self.rvalid.q.val()
            & !self.wr_go.val();
        if self.ar_fire.val() {
            self.rd_stage.d.next = true;
            self.ar_addr.d.next = self.s_axil_araddr.val();
        }
        if self.rvalid.q.val() & self.s_axil_rready.val() {
            self.rvalid.d.next = false;
        }

        // Port B: the write when one goes, else the read being accepted.
        self.card_mem.b_en.next = false;
        self.card_mem.b_we.next = 0.into();
        self.card_mem.b_din.next = self.w_data.q.val();
        self.card_mem.b_addr.next = self.s_axil_araddr.val().get_bits::<ADDR_BITS>(2);
        if self.ar_fire.val() {
            self.card_mem.b_en.next = true;
        }
        if self.wr_go.val() & self.wr_in_window.val() {
            self.card_mem.b_en.next = true;
            self.card_mem.b_we.next = self.w_strb.q.val();
            self.card_mem.b_addr.next = self.aw_addr.q.val().get_bits::<ADDR_BITS>(2);
        }

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
        }

        // ---- Counters ----
        self.cnt_cycles.d.next = self.cnt_cycles.q.val() + 1;
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

        // ---- Interrupt ----
        // A W1C write drops the request for one cycle, so a cause still pending after the
        // clear makes a fresh rising edge: XDMA sends one MSI per edge.
        self.irq_rearm.d.next = false;
        if self.wr_go.val() & self.wr_in_regs.val() & (self.wr_off.val() == self.k_irq_cause.val())
        {
            self.irq_rearm.d.next = true;
        }
        self.irq_next.next =
            (self.irq_cause.q.val() & self.irq_enable.q.val()).any() & !self.irq_rearm.q.val();
        self.irq_req.d.next = self.irq_next.val();
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

        // ---- Resets ----
        if self.soft_reset.val() | self.reset.val() {
            self.scratch.d.next = 0.into();
            self.irq_cause.d.next = 0.into();
            self.irq_enable.d.next = 0.into();
            self.irq_req.d.next = false;
            self.irq_rearm.d.next = false;
            self.cnt_irq_raised.d.next = 0.into();
            self.cnt_irq_acked.d.next = 0.into();
            self.cnt_axi_errors.d.next = 0.into();
        }
        if self.reset.val() {
            self.have_aw.d.next = false;
            self.have_w.d.next = false;
            self.bvalid.d.next = false;
            self.rd_stage.d.next = false;
            self.rvalid.d.next = false;
            self.cnt_cycles.d.next = 0.into();
        }
    }
}
