//! The SCSI phase engine: arbitration, selection, reselection response, REQ/ACK
//! handshakes (async and synchronous, narrow and wide), parity, ATN, bus free and bus
//! reset, and the DMA between card memory and the bus. PORT CONTRACT ONLY: the
//! implementation is being written.

use rust_hdl::prelude::*;

/// Card-memory word address width.
pub const MEM_ADDR_BITS: usize = hba_abi::mem::CARD_MEM_ADDR_BITS as usize;
/// Card-memory byte address width.
pub const BYTE_ADDR_BITS: usize = MEM_ADDR_BITS + 2;

/// The phase engine (initiator side of SPI).
#[derive(LogicBlock, Default)]
pub struct PhaseEngine {
    /// Core clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: release every signal, idle, not connected.
    pub reset: Signal<In, Bit>,

    /// BSY as seen on the bus (1 = asserted).
    pub bsy_i: Signal<In, Bit>,
    /// SEL in.
    pub sel_i: Signal<In, Bit>,
    /// RST in.
    pub rst_i: Signal<In, Bit>,
    /// ATN in.
    pub atn_i: Signal<In, Bit>,
    /// ACK in.
    pub ack_i: Signal<In, Bit>,
    /// REQ in.
    pub req_i: Signal<In, Bit>,
    /// MSG in.
    pub msg_i: Signal<In, Bit>,
    /// C/D in.
    pub cd_i: Signal<In, Bit>,
    /// I/O in.
    pub io_i: Signal<In, Bit>,
    /// DB(15:0) in.
    pub db_i: Signal<In, Bits<16>>,
    /// DBP1..0 in.
    pub dbp_i: Signal<In, Bits<2>>,
    /// Assert BSY.
    pub bsy_oe: Signal<Out, Bit>,
    /// Assert SEL.
    pub sel_oe: Signal<Out, Bit>,
    /// Assert RST.
    pub rst_oe: Signal<Out, Bit>,
    /// Assert ATN.
    pub atn_oe: Signal<Out, Bit>,
    /// Assert ACK.
    pub ack_oe: Signal<Out, Bit>,
    /// Assert DB bits.
    pub db_oe: Signal<Out, Bits<16>>,
    /// Assert DBP bits.
    pub dbp_oe: Signal<Out, Bits<2>>,

    /// Own SCSI ID.
    pub own_id: Signal<In, Bits<4>>,
    /// Wide bus (16 IDs; arbitration priority 7..0 then 15..8).
    pub wide_bus: Signal<In, Bit>,
    /// Bus settle delay, cycles.
    pub tim_settle: Signal<In, Bits<32>>,
    /// Arbitration delay, cycles.
    pub tim_arb: Signal<In, Bits<32>>,
    /// Bus free delay, cycles.
    pub tim_bus_free: Signal<In, Bits<32>>,
    /// Bus clear delay, cycles.
    pub tim_bus_clear: Signal<In, Bits<32>>,
    /// Deskew + cable skew, cycles.
    pub tim_deskew: Signal<In, Bits<32>>,
    /// Selection timeout, cycles.
    pub tim_sel_timeout: Signal<In, Bits<32>>,
    /// RST hold, cycles.
    pub tim_reset_hold: Signal<In, Bits<32>>,

    /// One cycle: assert RST (host register path, works whatever the sequencer does).
    pub host_bus_reset: Signal<In, Bit>,
    /// One cycle: release everything and drop the connection.
    pub host_release: Signal<In, Bit>,

    /// One cycle: a command word (`isa::pcmd`) is written.
    pub cmd_valid: Signal<In, Bit>,
    /// The command word.
    pub cmd: Signal<In, Bits<32>>,
    /// Target ID for SELECT.
    pub target: Signal<In, Bits<4>>,
    /// Byte for SEND_BYTE.
    pub tx_byte: Signal<In, Bits<8>>,
    /// Transfer agreement (`isa::xmode`) for DMA.
    pub xfer_mode: Signal<In, Bits<32>>,
    /// One cycle: load `xfer_wdata` into the DMA offset.
    pub xfer_offset_we: Signal<In, Bit>,
    /// One cycle: load `xfer_wdata` into the DMA count.
    pub xfer_count_we: Signal<In, Bit>,
    /// Value for the two loads above.
    pub xfer_wdata: Signal<In, Bits<32>>,
    /// Current DMA offset in the window.
    pub xfer_offset: Signal<Out, Bits<32>>,
    /// DMA bytes remaining.
    pub xfer_count: Signal<Out, Bits<32>>,
    /// Byte address of the DMA window in card memory (checked by the slot unit).
    pub window_base: Signal<In, Bits<BYTE_ADDR_BITS>>,
    /// Length of the DMA window; no DMA byte lands at or beyond `base + len`.
    pub window_len: Signal<In, Bits<32>>,

    /// A command is executing.
    pub busy: Signal<Out, Bit>,
    /// Connected to a target.
    pub connected: Signal<Out, Bit>,
    /// REQ asserted while connected and idle: the phase below is valid.
    pub req_valid: Signal<Out, Bit>,
    /// Phase lines MSG, C/D, I/O (bits 2..0).
    pub phase: Signal<Out, Bits<3>>,
    /// Byte latched by RECV_BYTE (7:0), bit 8 = bad parity.
    pub rx_byte: Signal<Out, Bits<9>>,
    /// Reselecting target ID.
    pub resel_id: Signal<Out, Bits<4>>,

    /// Pulse: the command finished.
    pub ev_cmd_done: Signal<Out, Bit>,
    /// Pulse: selection timed out.
    pub ev_sel_timeout: Signal<Out, Bit>,
    /// Pulse: reselected.
    pub ev_reselected: Signal<Out, Bit>,
    /// Pulse: the bus went free while connected.
    pub ev_bus_free: Signal<Out, Bit>,
    /// Pulse (with `ev_bus_free`): it was not expected.
    pub ev_unexp_free: Signal<Out, Bit>,
    /// Pulse: RST seen (rising edge).
    pub ev_bus_reset: Signal<Out, Bit>,
    /// Pulse: a received byte had bad parity.
    pub ev_parity_err: Signal<Out, Bit>,
    /// Pulse: DMA stopped by a phase change before its count ran out.
    pub ev_phase_mismatch: Signal<Out, Bit>,

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
}

impl Logic for PhaseEngine {
    #[hdl_gen]
    fn update(&mut self) {
        self.bsy_oe.next = false;
        self.sel_oe.next = false;
        self.rst_oe.next = false;
        self.atn_oe.next = false;
        self.ack_oe.next = false;
        self.db_oe.next = 0.into();
        self.dbp_oe.next = 0.into();
        self.xfer_offset.next = 0.into();
        self.xfer_count.next = 0.into();
        self.busy.next = false;
        self.connected.next = false;
        self.req_valid.next = false;
        self.phase.next = 0.into();
        self.rx_byte.next = 0.into();
        self.resel_id.next = 0.into();
        self.ev_cmd_done.next = false;
        self.ev_sel_timeout.next = false;
        self.ev_reselected.next = false;
        self.ev_bus_free.next = false;
        self.ev_unexp_free.next = false;
        self.ev_bus_reset.next = false;
        self.ev_parity_err.next = false;
        self.ev_phase_mismatch.next = false;
        self.mem_req.next = false;
        self.mem_we.next = false;
        self.mem_addr.next = 0.into();
        self.mem_be.next = 0.into();
        self.mem_wdata.next = 0.into();
    }
}
