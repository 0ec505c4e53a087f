//! The SCSI phase engine: arbitration, selection, reselection response, REQ/ACK
//! handshakes (async and synchronous, narrow and wide), parity, ATN, bus free and bus
//! reset, and the DMA between card memory and the bus (initiator side of SPI).
//!
//! # Structure
//!
//! * **Input synchroniser**: every bus input passes two flip-flops (`s1_*`, `s2_*`); the
//!   engine only looks at the second stage. All SPI delays are counted from what the
//!   engine sees, so the extra latency only ever makes them longer.
//! * **Main state machine** ([`PState`]): idle, SELECT (wait bus free, arbitrate,
//!   select, wait for BSY), reselection response, RST hold/wait, the byte commands
//!   (`SEND_BYTE`, `RECV_BYTE`, `ACK`) and the DMA. One general timer (`tmr`) counts
//!   cycles since the last state change; every delay compares it with a `tim_*` input.
//! * **Bus free detector**: `free_cnt` counts cycles with BSY, SEL and RST negated.
//!   BUS FREE is *detected* after `tim_settle` cycles; arbitration starts after
//!   `tim_settle + tim_bus_free` cycles.
//! * **Synchronous transfers**: in a synchronous data phase (XFER_MODE offset > 0, phase
//!   lines DATA IN / DATA OUT) the engine counts REQ edges all the time (`outst` = REQs
//!   not answered yet), also before the firmware issues `DMA`, and in DATA IN latches the
//!   data of every REQ edge into a 16-entry receive FIFO. ACK pulses come from one
//!   pulse generator: a pulse may start `P` cycles after the previous one (P =
//!   XFER_MODE[15:8]), ACK stays asserted `max(P/2,1)` cycles; DATA OUT data is put on
//!   the bus `lead + 1` cycles before the ACK edge (`lead = min(P - 2 - P/2, P/2 - 1)`,
//!   at least 0) and held until the next transfer, `P - lead - 1` cycles after it
//!   (docs/timing.md has the margins). DATA IN: a received entry is acknowledged only once the DMA has taken it
//!   from the FIFO, so the FIFO never holds more than the offset. DATA OUT: one ACK
//!   (with data) per outstanding REQ, while the DMA count lasts.
//! * **DMA**: the count is clamped at the start to the window
//!   (`min(count, len - offset)`, 0 when `offset >= len`). DATA IN bytes go from the
//!   FIFO through a one-word assembler and a one-word write slot to card memory, with
//!   byte enables for partial words. DATA OUT uses a two-word prefetch buffer with one
//!   read in flight at most.
//!
//! # Choices where the contract leaves room
//!
//! * Every accepted command ends with exactly one `ev_cmd_done`, whatever ends it
//!   (success, selection timeout, reselection during SELECT, bus free, RST,
//!   `host_release`, `host_bus_reset`, a command that does not apply such as a byte
//!   command while not connected or in the wrong direction).
//! * A command written while another executes is ignored; a command written while the
//!   engine is busy with something that is not a command (responding to a reselection,
//!   asserting RST itself) is held and starts afterwards. `busy` covers both. While
//!   another device's RST is on the bus (until the synchroniser shows it gone), and from
//!   the start of any reset (ours or another's) until the firmware clears EV_BUS_RESET
//!   (`rst_ack`), a command (but BUS_RESET) ends at once without effect: it was written
//!   before the firmware read the reset.
//! * SELECT while connected (e.g. a reselection won the race) finishes at once.
//!   A reselection seen while SELECT waits for bus free abandons the SELECT:
//!   `ev_reselected` and `ev_cmd_done` pulse together when the reselection completes.
//! * Selection timeout: the data lines and ATN are released first, SEL a selection
//!   abort time (`tim_sel_abort`) later; a BSY in between completes the selection.
//! * A synchronous REQ beyond the agreed offset is a protocol error
//!   (`ev_offset_err`): it is not counted, a running DMA ends, the firmware resets the
//!   bus. `BUS_RESET` is accepted even while another command runs.
//! * A received data byte with bad parity raises ATN at once.
//! * `RECV_BYTE` samples DB a `tim_deskew` after it sees REQ. The DMA samples async
//!   DATA IN data when it sees REQ (data and REQ pass the same synchroniser, and the
//!   target sets the data up a deskew before REQ).
//! * `DMA | F_DISCARD` is a bit bucket: it moves `XFER_COUNT` bytes (not clamped to the
//!   window) without touching card memory (DATA IN bytes are dropped, DATA OUT sends
//!   zeros). Byte commands in a synchronous data phase end at once without a
//!   handshake (the phase's REQs belong to the offset counter): drain an overrun there
//!   with a bit-bucket DMA.
//! * DMA in a phase that is not DATA IN/OUT ends at once with `ev_phase_mismatch` (if
//!   the clamped count is not 0). XFER_MODE must be set before the data phase starts
//!   (the synchronous receiver works from the first REQ of the phase) and the offset
//!   must be at most 16 (the receive FIFO depth).
//! * Wide: a transfer carries two bytes (low lane = lower address); when one byte is
//!   left, DATA OUT sends it on the low lane (high lane 0 with good parity), DATA IN
//!   stores only the low byte.
//! * `ev_parity_err` pulses for each received byte/word with bad parity (RECV_BYTE,
//!   reselection IDs are checked but not reported: a reselection with bad ID parity is
//!   ignored, as SPI asks).

use rust_hdl::prelude::*;

/// Card-memory word address width.
pub const MEM_ADDR_BITS: usize = hba_abi::mem::CARD_MEM_ADDR_BITS as usize;
/// Card-memory byte address width.
pub const BYTE_ADDR_BITS: usize = MEM_ADDR_BITS + 2;

// hdl_gen writes literals verbatim: the command codes and flag positions used in
// `update` are tied to the ABI here.
const _: () = {
    use hba_abi::isa::{pcmd, xmode};
    assert!(pcmd::SELECT == 1 && pcmd::SEND_BYTE == 2 && pcmd::RECV_BYTE == 3);
    assert!(pcmd::ACK == 4 && pcmd::DMA == 5 && pcmd::SET_ATN == 6 && pcmd::CLR_ATN == 7);
    assert!(pcmd::EXPECT_FREE == 8 && pcmd::BUS_RESET == 9);
    assert!(pcmd::F_ATN == 1 << 8 && pcmd::F_LAST == 1 << 9 && pcmd::F_ATN_BEFORE_ACK == 1 << 10);
    assert!(pcmd::F_DISCARD == 1 << 11);
    assert!(xmode::OFFSET_MASK == 0xFF && xmode::PERIOD_SHIFT == 8 && xmode::WIDE == 1 << 16);
    assert!(BYTE_ADDR_BITS == 17);
    // The receive FIFO has 16 entries (f0..f15): the largest offset it can absorb.
    assert!(xmode::MAX_OFFSET == 16);
};

/// States of the phase engine.
#[derive(Copy, Clone, Debug, PartialEq, LogicState)]
pub enum PState {
    /// Nothing to do (the first variant is the default).
    Idle,
    /// SELECT: waiting for bus free + bus free delay.
    SelWaitFree,
    /// Arbitrating (BSY and own ID bit).
    SelArb,
    /// Won: SEL asserted, waiting bus clear + bus settle.
    SelSel,
    /// Both IDs (and ATN) on the bus, waiting two deskew delays before releasing BSY.
    SelIds,
    /// BSY released, waiting for the target's BSY (selection timeout).
    SelWait,
    /// Selection timed out: IDs and ATN released, SEL held for the selection abort time.
    SelAbort,
    /// Target answered; releasing SEL two deskew delays later.
    SelResp,
    /// Reselection seen, waiting a bus settle delay.
    ReselSeen,
    /// Answering the reselection with BSY until SEL goes away.
    ReselBsy,
    /// Not our (valid) reselection: waiting for SEL to go away.
    ReselIgnore,
    /// Asserting RST.
    RstHold,
    /// Waiting for RST to be negated.
    RstWait,
    /// Byte command waiting for REQ.
    ByteWaitReq,
    /// Data (SEND_BYTE) or ATN (ACK) set up, waiting a deskew delay before ACK.
    SendSetup,
    /// ACK asserted, waiting for REQ negated.
    SendAck,
    /// RECV_BYTE: waiting a deskew delay after REQ before sampling.
    RecvSettle,
    /// DMA running.
    Dma,
    /// DMA finished or stopped: flushing the memory side.
    DmaFlush,
}

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
    /// Selection abort time, cycles: SEL stays asserted this long after a selection
    /// timeout released the IDs (a late BSY still completes the selection).
    pub tim_sel_abort: Signal<In, Bits<32>>,

    /// One cycle: assert RST (host register path, works whatever the sequencer does).
    pub host_bus_reset: Signal<In, Bit>,
    /// One cycle: release everything and drop the connection.
    pub host_release: Signal<In, Bit>,
    /// One cycle: the firmware cleared EV_BUS_RESET, so it has read the last reset.
    pub rst_ack: Signal<In, Bit>,

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
    /// Pulse: a synchronous REQ arrived with `offset` REQs already unanswered (the
    /// target overran the agreed offset). The REQ is not counted, a running DMA ends;
    /// only a bus reset recovers the bus.
    pub ev_offset_err: Signal<Out, Bit>,

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

    /// Co-simulation fast-forward (tied to 0 on the board): this clock stands for
    /// `1 + ff_skip` cycles; the free-running timers advance by that much.
    pub ff_skip: Signal<In, Bits<32>>,
    /// Co-simulation fast-forward: idle, or a selection waiting for the target's BSY,
    /// with settled inputs; the next cycles change only the free-running timers (`tmr`,
    /// `tmr2`, `free_cnt`, `sp_cnt`) until an input moves or `ff_horizon` runs out.
    pub ff_quiet: Signal<Out, Bit>,
    /// Co-simulation fast-forward: extra cycles that may be skipped before the
    /// selection timeout (all ones outside a selection).
    pub ff_horizon: Signal<Out, Bits<32>>,

    // ---- input synchroniser: ctl = {io,cd,msg,req,ack,atn,rst,sel,bsy}, dat = {dbp,db} ----
    s1_ctl: DFF<Bits<9>>,
    s2_ctl: DFF<Bits<9>>,
    s1_dat: DFF<Bits<18>>,
    s2_dat: DFF<Bits<18>>,
    prev_req: DFF<Bit>,
    prev_rst: DFF<Bit>,
    prev_phase: DFF<Bits<3>>,

    // ---- state ----
    state: DFF<PState>,
    tmr: DFF<Bits<32>>,
    tmr2: DFF<Bits<32>>,
    free_cnt: DFF<Bits<32>>,
    connected_r: DFF<Bit>,
    busy_r: DFF<Bit>,
    expect_free: DFF<Bit>,
    sel_active: DFF<Bit>,
    seen_low: DFF<Bit>,
    pend_valid: DFF<Bit>,
    pend_cmd: DFF<Bits<12>>,
    /// The running DMA is a bit bucket (`pcmd::F_DISCARD`): no card-memory access.
    discard: DFF<Bit>,
    cmd_op: DFF<Bits<4>>,
    cmd_fl: DFF<Bits<3>>,
    sel_ids: DFF<Bits<16>>,
    rx_r: DFF<Bits<9>>,
    resel_r: DFF<Bits<4>>,

    // ---- bus outputs ----
    bsy_r: DFF<Bit>,
    sel_r: DFF<Bit>,
    rst_r: DFF<Bit>,
    atn_r: DFF<Bit>,
    ack_r: DFF<Bit>,
    db_r: DFF<Bits<16>>,
    dbp_r: DFF<Bits<2>>,

    // ---- events ----
    e_done: DFF<Bit>,
    e_selto: DFF<Bit>,
    e_resel: DFF<Bit>,
    e_free: DFF<Bit>,
    e_unexp: DFF<Bit>,
    e_rst: DFF<Bit>,
    e_perr: DFF<Bit>,
    e_mism: DFF<Bit>,
    e_ofs: DFF<Bit>,
    /// The target overran the offset in this data phase (cleared by a phase change).
    ofs_err: DFF<Bit>,
    /// RstWait was entered by another device's RST (not at the end of our own RstHold).
    rst_other: DFF<Bit>,
    /// A reset (ours or another device's) started and the firmware has not yet cleared
    /// its EV_BUS_RESET: a command written now belongs to the bus before the reset.
    rst_unread: DFF<Bit>,

    // ---- DMA ----
    xoff: DFF<Bits<32>>,
    xcnt: DFF<Bits<32>>,
    dma_left: DFF<Bits<32>>,
    dma_phase: DFF<Bits<3>>,
    dma_in: DFF<Bit>,
    dma_mism: DFF<Bit>,
    cur_addr: DFF<Bits<BYTE_ADDR_BITS>>,
    a_busy: DFF<Bit>,
    // sync REQ/ACK accounting and pulse generator
    outst: DFF<Bits<8>>,
    ack_owed: DFF<Bits<8>>,
    sp_cnt: DFF<Bits<8>>,
    sp_armed: DFF<Bit>,
    // receive FIFO
    fifo_wp: DFF<Bits<4>>,
    fifo_rp: DFF<Bits<4>>,
    fifo_n: DFF<Bits<5>>,
    hi_next: DFF<Bit>,
    f0: DFF<Bits<18>>,
    f1: DFF<Bits<18>>,
    f2: DFF<Bits<18>>,
    f3: DFF<Bits<18>>,
    f4: DFF<Bits<18>>,
    f5: DFF<Bits<18>>,
    f6: DFF<Bits<18>>,
    f7: DFF<Bits<18>>,
    f8: DFF<Bits<18>>,
    f9: DFF<Bits<18>>,
    f10: DFF<Bits<18>>,
    f11: DFF<Bits<18>>,
    f12: DFF<Bits<18>>,
    f13: DFF<Bits<18>>,
    f14: DFF<Bits<18>>,
    f15: DFF<Bits<18>>,
    // DATA IN word assembler and write slot
    asm_data: DFF<Bits<32>>,
    asm_be: DFF<Bits<4>>,
    wr_pend: DFF<Bit>,
    wr_addr: DFF<Bits<MEM_ADDR_BITS>>,
    wr_data: DFF<Bits<32>>,
    wr_be: DFF<Bits<4>>,
    // DATA OUT prefetch
    rd_req: DFF<Bit>,
    rd_arrive: DFF<Bit>,
    rd_addr: DFF<Bits<MEM_ADDR_BITS>>,
    fetch_left: DFF<Bits<32>>,
    buf0: DFF<Bits<32>>,
    buf1: DFF<Bits<32>>,
    v0: DFF<Bit>,
    v1: DFF<Bit>,

    // ---- combinational temporaries ----
    i_bsy: Signal<Local, Bit>,
    i_sel: Signal<Local, Bit>,
    i_rst: Signal<Local, Bit>,
    i_req: Signal<Local, Bit>,
    i_io: Signal<Local, Bit>,
    i_phase: Signal<Local, Bits<3>>,
    i_db: Signal<Local, Bits<16>>,
    i_dbp: Signal<Local, Bits<2>>,
    req_rise: Signal<Local, Bit>,
    perr0: Signal<Local, Bit>,
    perr1: Signal<Local, Bit>,
    own_bit: Signal<Local, Bits<16>>,
    tgt_bit: Signal<Local, Bits<16>>,
    id_mask: Signal<Local, Bits<16>>,
    above: Signal<Local, Bits<16>>,
    higher: Signal<Local, Bits<16>>,
    resel_cond: Signal<Local, Bit>,
    ids: Signal<Local, Bits<16>>,
    other: Signal<Local, Bits<16>>,
    other_m1: Signal<Local, Bits<16>>,
    par_ok: Signal<Local, Bit>,
    t_free: Signal<Local, Bits<32>>,
    t_selset: Signal<Local, Bits<32>>,
    t_2dsk: Signal<Local, Bits<32>>,
    free_seen: Signal<Local, Bit>,
    op: Signal<Local, Bits<4>>,
    done_now: Signal<Local, Bit>,
    tx_par: Signal<Local, Bit>,
    sync_mode: Signal<Local, Bit>,
    wide: Signal<Local, Bit>,
    period: Signal<Local, Bits<8>>,
    pm1: Signal<Local, Bits<8>>,
    hi_w: Signal<Local, Bits<8>>,
    sp_ready: Signal<Local, Bit>,
    sp_fire: Signal<Local, Bit>,
    data_phase: Signal<Local, Bit>,
    sync_track: Signal<Local, Bit>,
    push: Signal<Local, Bit>,
    pop: Signal<Local, Bit>,
    take_byte: Signal<Local, Bit>,
    fifo_din: Signal<Local, Bits<18>>,
    fifo_head: Signal<Local, Bits<18>>,
    in_byte: Signal<Local, Bits<8>>,
    lane: Signal<Local, Bits<2>>,
    lane_sh: Signal<Local, Bits<5>>,
    lane_bit: Signal<Local, Bits<4>>,
    byte32: Signal<Local, Bits<32>>,
    complete: Signal<Local, Bit>,
    avail: Signal<Local, Bits<32>>,
    limit: Signal<Local, Bits<32>>,
    two: Signal<Local, Bit>,
    n_take: Signal<Local, Bits<3>>,
    can_take: Signal<Local, Bit>,
    take_out: Signal<Local, Bit>,
    lane_wrap: Signal<Local, Bit>,
    sh0: Signal<Local, Bits<32>>,
    sh1: Signal<Local, Bits<32>>,
    /// Bits the design does not need (Verilator's `*unused*` convention).
    unused: Signal<Local, Bit>,
    gnt_i: Signal<Local, Bit>,
    rdata_i: Signal<Local, Bits<32>>,
    out_lo: Signal<Local, Bits<8>>,
    out_hi: Signal<Local, Bits<8>>,
    out_word: Signal<Local, Bits<16>>,
    out_par: Signal<Local, Bits<2>>,
    fetch: Signal<Local, Bit>,
    stop: Signal<Local, Bit>,
    n32: Signal<Local, Bits<32>>,
    o_inc: Signal<Local, Bits<8>>,
    o_dec: Signal<Local, Bits<8>>,
    a_inc: Signal<Local, Bits<8>>,
    a_dec: Signal<Local, Bits<8>>,
    f_inc: Signal<Local, Bits<5>>,
    f_dec: Signal<Local, Bits<5>>,
    phase_reset: Signal<Local, Bit>,
    db_lo: Signal<Local, Bits<8>>,
    db_hi: Signal<Local, Bits<8>>,
    sid_lo: Signal<Local, Bits<8>>,
    sid_hi: Signal<Local, Bits<8>>,
    enc0: Signal<Local, Bit>,
    enc1: Signal<Local, Bit>,
    enc2: Signal<Local, Bit>,
    enc3: Signal<Local, Bit>,
    resel_ok: Signal<Local, Bit>,
    in_byte_cmd: Signal<Local, Bit>,
    ff_step: Signal<Local, Bits<32>>,
    ff_free: Signal<Local, Bits<32>>,
    ff_sp: Signal<Local, Bits<32>>,
    ff_settled: Signal<Local, Bit>,
    ff_fifo_clear: Signal<Local, Bit>,
    ff_idle: Signal<Local, Bit>,
    ff_selwait: Signal<Local, Bit>,
    start_addr: Signal<Local, Bits<BYTE_ADDR_BITS>>,
    out_done: Signal<Local, Bit>,
    in_done: Signal<Local, Bit>,
    perr_push: Signal<Local, Bit>,
    rel_all: Signal<Local, Bit>,
    offset8: Signal<Local, Bits<8>>,
    fw_rst: Signal<Local, Bit>,
    /// A command written now ends at once: RST from another device is on the bus.
    rst_drop: Signal<Local, Bit>,
    /// DATA OUT: cycles from the ACK pulse start to ACK (data set up `lead + 1` cycles).
    lead: Signal<Local, Bits<8>>,
    ack_end: Signal<Local, Bits<8>>,
}

// hdl_gen accepts neither match guards nor `&&`-chained conditions in the way clippy
// would like them written; the nesting mirrors the hardware.
#[allow(clippy::collapsible_if, clippy::collapsible_match)]
impl Logic for PhaseEngine {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            s1_ctl,
            s2_ctl,
            s1_dat,
            s2_dat,
            prev_req,
            prev_rst,
            prev_phase,
            state,
            tmr,
            tmr2,
            free_cnt,
            connected_r,
            busy_r,
            expect_free,
            sel_active,
            seen_low,
            pend_valid,
            pend_cmd,
            discard,
            cmd_op,
            cmd_fl,
            sel_ids,
            rx_r,
            resel_r,
            bsy_r,
            sel_r,
            rst_r,
            atn_r,
            ack_r,
            db_r,
            dbp_r,
            e_done,
            e_selto,
            e_resel,
            e_free,
            e_unexp,
            e_rst,
            e_perr,
            e_mism,
            e_ofs,
            ofs_err,
            rst_other,
            rst_unread,
            xoff,
            xcnt,
            dma_left,
            dma_phase,
            dma_in,
            dma_mism,
            cur_addr,
            a_busy,
            outst,
            ack_owed,
            sp_cnt,
            sp_armed,
            fifo_wp,
            fifo_rp,
            fifo_n,
            hi_next,
            f0,
            f1,
            f2,
            f3,
            f4,
            f5,
            f6,
            f7,
            f8,
            f9,
            f10,
            f11,
            f12,
            f13,
            f14,
            f15,
            asm_data,
            asm_be,
            wr_pend,
            wr_addr,
            wr_data,
            wr_be,
            rd_req,
            rd_arrive,
            rd_addr,
            fetch_left,
            buf0,
            buf1,
            v0,
            v1
        );

        // A default on every path: assigned only inside a condition below, the emitted
        // combinational block would otherwise infer a latch (docs/rust-hdl.md).
        self.in_byte_cmd.next = false;

        // ---- input synchroniser (two stages) ----
        self.s1_ctl.d.next = bit_cast::<9, 1>(self.bsy_i.val().into())
            | (bit_cast::<9, 1>(self.sel_i.val().into()) << 1)
            | (bit_cast::<9, 1>(self.rst_i.val().into()) << 2)
            | (bit_cast::<9, 1>(self.atn_i.val().into()) << 3)
            | (bit_cast::<9, 1>(self.ack_i.val().into()) << 4)
            | (bit_cast::<9, 1>(self.req_i.val().into()) << 5)
            | (bit_cast::<9, 1>(self.io_i.val().into()) << 6)
            | (bit_cast::<9, 1>(self.cd_i.val().into()) << 7)
            | (bit_cast::<9, 1>(self.msg_i.val().into()) << 8);
        self.s1_dat.d.next =
            bit_cast::<18, 16>(self.db_i.val()) | (bit_cast::<18, 2>(self.dbp_i.val()) << 16);
        self.s2_ctl.d.next = self.s1_ctl.q.val();
        self.s2_dat.d.next = self.s1_dat.q.val();

        self.i_bsy.next = self.s2_ctl.q.val().get_bit(0);
        self.i_sel.next = self.s2_ctl.q.val().get_bit(1);
        self.i_rst.next = self.s2_ctl.q.val().get_bit(2);
        self.i_req.next = self.s2_ctl.q.val().get_bit(5);
        self.i_io.next = self.s2_ctl.q.val().get_bit(6);
        self.i_phase.next = self.s2_ctl.q.val().get_bits::<3>(6);
        self.i_db.next = self.s2_dat.q.val().get_bits::<16>(0);
        self.i_dbp.next = self.s2_dat.q.val().get_bits::<2>(16);
        self.db_lo.next = self.i_db.val().get_bits::<8>(0);
        self.db_hi.next = self.i_db.val().get_bits::<8>(8);
        self.perr0.next = !(self.db_lo.val().xor() ^ self.i_dbp.val().get_bit(0));
        self.perr1.next = !(self.db_hi.val().xor() ^ self.i_dbp.val().get_bit(1));
        self.prev_req.d.next = self.i_req.val();
        self.prev_rst.d.next = self.i_rst.val();
        self.prev_phase.d.next = self.i_phase.val();
        self.req_rise.next = self.i_req.val() & !self.prev_req.q.val();

        // ---- co-simulation fast-forward: cycles this clock stands for ----
        self.ff_step.next = self.ff_skip.val() + 1;
        self.ff_free.next = self.free_cnt.q.val() + self.ff_step.val();
        if self.ff_free.val().get_bit(31) {
            self.ff_free.next = 0x8000_0000_u64.into();
        }
        self.ff_sp.next = bit_cast::<32, 8>(self.sp_cnt.q.val()) + self.ff_step.val();
        if self.ff_sp.val() >= 255 {
            self.ff_sp.next = 255.into();
        }

        // ---- bus free detection ----
        if self.i_bsy.val() | self.i_sel.val() | self.i_rst.val() {
            self.free_cnt.d.next = 0.into();
        } else if !self.free_cnt.q.val().get_bit(31) {
            // Saturates at bit 31, also after a fast-forward step (`ff_skip` < 2^30).
            self.free_cnt.d.next = self.ff_free.val();
        }
        self.free_seen.next = !(self.i_bsy.val() | self.i_sel.val() | self.i_rst.val())
            & (self.free_cnt.q.val() >= self.tim_settle.val());
        self.t_free.next = self.tim_settle.val() + self.tim_bus_free.val();
        self.t_selset.next = self.tim_bus_clear.val() + self.tim_settle.val();
        self.t_2dsk.next = self.tim_deskew.val() + self.tim_deskew.val();

        // ---- IDs, arbitration priority, reselection ----
        self.own_bit.next = bits::<16>(1) << self.own_id.val();
        self.tgt_bit.next = bits::<16>(1) << self.target.val();
        self.id_mask.next = 0xFF.into();
        if self.wide_bus.val() {
            self.id_mask.next = 0xFFFF.into();
        }
        self.above.next = !((self.own_bit.val() << 1) - 1);
        self.higher.next = self.above.val() & 0xFF;
        if self.own_id.val().get_bit(3) {
            self.higher.next = self.above.val() | 0xFF;
        }
        self.ids.next = self.i_db.val() & self.id_mask.val();
        self.other.next = self.ids.val() & !self.own_bit.val();
        self.other_m1.next = self.other.val() - 1;
        self.par_ok.next = !self.perr0.val() & !(self.wide_bus.val() & self.perr1.val());
        self.resel_ok.next = self.other.val().any()
            & !(self.other.val() & self.other_m1.val()).any()
            & self.par_ok.val();
        self.resel_cond.next = self.i_sel.val()
            & self.i_io.val()
            & !self.i_bsy.val()
            & (self.i_db.val() & self.own_bit.val()).any();
        self.enc0.next = (self.other.val() & 0xAAAA).any();
        self.enc1.next = (self.other.val() & 0xCCCC).any();
        self.enc2.next = (self.other.val() & 0xF0F0).any();
        self.enc3.next = (self.other.val() & 0xFF00).any();
        self.sid_lo.next = self.sel_ids.q.val().get_bits::<8>(0);
        self.sid_hi.next = self.sel_ids.q.val().get_bits::<8>(8);

        // ---- pulses default off, timers run ----
        self.e_done.d.next = false;
        self.e_selto.d.next = false;
        self.e_resel.d.next = false;
        self.e_free.d.next = false;
        self.e_unexp.d.next = false;
        self.e_rst.d.next = false;
        self.e_perr.d.next = false;
        self.e_mism.d.next = false;
        self.e_ofs.d.next = false;
        self.tmr.d.next = self.tmr.q.val() + self.ff_step.val();
        self.tmr2.d.next = self.tmr2.q.val() + self.ff_step.val();
        if self.sp_cnt.q.val() != 255 {
            self.sp_cnt.d.next = self.ff_sp.val().get_bits::<8>(0);
        }
        self.rd_arrive.d.next = false;

        // ---- command intake ----
        // While another device's RST is on the bus (as the synchroniser shows it), a
        // command other than BUS_RESET ends at once: the firmware wrote it before it read
        // that reset, so it belongs to the bus as it was. Held and started after the
        // reset, a SELECT connected a target the firmware then took as ended by that
        // reset (a slot given to the wrong target).
        // The same for any reset the firmware has not read yet, ours included (campaign
        // seed 807): a SELECT written during our RST before the firmware saw the event
        // was held and run after it, while the firmware's reset handler completed that
        // slot BUS_RESET; the host reused the slot and its next CDB went to the held
        // selection's target. After the firmware cleared EV_BUS_RESET, commands written
        // during our reset are held as before (its first selections after the reset).
        if self.rst_ack.val() {
            self.rst_unread.d.next = false;
        }
        self.rst_drop.next = (((self.state.q.val() == PState::RstWait) & self.rst_other.q.val())
            | self.rst_unread.q.val())
            & (self.cmd.val().get_bits::<4>(0) != 9);
        if self.cmd_valid.val() & !self.pend_valid.q.val() & !self.busy_r.q.val() {
            if self.rst_drop.val() {
                self.e_done.d.next = true;
            } else {
                self.pend_valid.d.next = true;
                self.pend_cmd.d.next = self.cmd.val().get_bits::<12>(0);
            }
        }
        self.op.next = self.pend_cmd.q.val().get_bits::<4>(0);
        // BUS_RESET written while a command runs (a target that stopped answering in the
        // middle of a handshake): it preempts the command, as the host's reset does.
        self.fw_rst.next = self.cmd_valid.val()
            & (self.cmd.val().get_bits::<4>(0) == 9)
            & (self.busy_r.q.val() | self.pend_valid.q.val());

        // ---- transfer agreement ----
        self.sync_mode.next = self.xfer_mode.val().get_bits::<8>(0).any();
        self.offset8.next = self.xfer_mode.val().get_bits::<8>(0);
        self.wide.next = self.xfer_mode.val().get_bit(16);
        self.period.next = self.xfer_mode.val().get_bits::<8>(8);
        self.pm1.next = 0.into();
        if self.period.val().any() {
            self.pm1.next = self.period.val() - 1;
        }
        self.hi_w.next = self.period.val() >> 1;
        if !self.hi_w.val().any() {
            self.hi_w.next = 1.into();
        }
        // DATA OUT set-up and hold at the connector (docs/timing.md): the data goes on
        // the bus `lead + 1` cycles before ACK and stays `P - lead - 1` cycles after it,
        // lead = min(P - 2 - hi_w, hi_w - 1): Fast-20 (P = 5) 20 / 30 ns, Fast-10 (P =
        // 10) 40 / 60 ns, against SPI's 11.5 / 16.5 and 23 / 33 ns. DATA IN ACKs carry no
        // data: no lead.
        self.lead.next = 0.into();
        if !self.dma_in.q.val() & (self.period.val() >= self.hi_w.val() + 3) {
            self.lead.next = self.period.val() - self.hi_w.val() - 2;
            if self.lead.val() >= self.hi_w.val() {
                self.lead.next = self.hi_w.val() - 1;
            }
        }
        self.ack_end.next = self.lead.val() + self.hi_w.val();
        self.sp_ready.next = !self.sp_armed.q.val() & (self.sp_cnt.q.val() >= self.pm1.val());
        self.data_phase.next = !self.i_phase.val().get_bit(2) & !self.i_phase.val().get_bit(1);
        self.phase_reset.next =
            !self.connected_r.q.val() | (self.i_phase.val() != self.prev_phase.q.val());
        self.sync_track.next = self.connected_r.q.val()
            & self.sync_mode.val()
            & self.data_phase.val()
            & !self.phase_reset.val();

        // ---- DMA data path: defaults ----
        self.o_inc.next = 0.into();
        self.o_dec.next = 0.into();
        self.a_inc.next = 0.into();
        self.a_dec.next = 0.into();
        self.f_inc.next = 0.into();
        self.f_dec.next = 0.into();
        self.push.next = false;
        self.pop.next = false;
        self.take_byte.next = false;
        self.take_out.next = false;
        self.sp_fire.next = false;
        self.fetch.next = false;
        self.stop.next = self.i_phase.val() != self.dma_phase.q.val();
        self.fifo_din.next = self.s2_dat.q.val();
        self.perr_push.next = self.perr0.val() | (self.wide.val() & self.perr1.val());
        self.fifo_head.next = self.f0.q.val();
        if self.fifo_rp.q.val() == 1 {
            self.fifo_head.next = self.f1.q.val();
        }
        if self.fifo_rp.q.val() == 2 {
            self.fifo_head.next = self.f2.q.val();
        }
        if self.fifo_rp.q.val() == 3 {
            self.fifo_head.next = self.f3.q.val();
        }
        if self.fifo_rp.q.val() == 4 {
            self.fifo_head.next = self.f4.q.val();
        }
        if self.fifo_rp.q.val() == 5 {
            self.fifo_head.next = self.f5.q.val();
        }
        if self.fifo_rp.q.val() == 6 {
            self.fifo_head.next = self.f6.q.val();
        }
        if self.fifo_rp.q.val() == 7 {
            self.fifo_head.next = self.f7.q.val();
        }
        if self.fifo_rp.q.val() == 8 {
            self.fifo_head.next = self.f8.q.val();
        }
        if self.fifo_rp.q.val() == 9 {
            self.fifo_head.next = self.f9.q.val();
        }
        if self.fifo_rp.q.val() == 10 {
            self.fifo_head.next = self.f10.q.val();
        }
        if self.fifo_rp.q.val() == 11 {
            self.fifo_head.next = self.f11.q.val();
        }
        if self.fifo_rp.q.val() == 12 {
            self.fifo_head.next = self.f12.q.val();
        }
        if self.fifo_rp.q.val() == 13 {
            self.fifo_head.next = self.f13.q.val();
        }
        if self.fifo_rp.q.val() == 14 {
            self.fifo_head.next = self.f14.q.val();
        }
        if self.fifo_rp.q.val() == 15 {
            self.fifo_head.next = self.f15.q.val();
        }
        self.in_byte.next = self.fifo_head.val().get_bits::<8>(0);
        if self.hi_next.q.val() {
            self.in_byte.next = self.fifo_head.val().get_bits::<8>(8);
        }
        self.lane.next = self.cur_addr.q.val().get_bits::<2>(0);
        self.lane_sh.next = bit_cast::<5, 2>(self.lane.val()) << 3;
        self.lane_bit.next = bits::<4>(1) << self.lane.val();
        self.byte32.next = bit_cast::<32, 8>(self.in_byte.val()) << self.lane_sh.val();
        self.complete.next = (self.lane.val() == 3) | (self.dma_left.q.val() == 1);
        // DATA OUT: bytes for the next transfer from the prefetch buffer.
        self.two.next = self.wide.val() & (self.dma_left.q.val() > 1);
        self.n_take.next = 1.into();
        if self.two.val() {
            self.n_take.next = 2.into();
        }
        self.n32.next = bit_cast::<32, 3>(self.n_take.val());
        self.can_take.next =
            self.v0.q.val() & (!self.two.val() | (self.lane.val() != 3) | self.v1.q.val());
        self.lane_wrap.next = (bit_cast::<3, 2>(self.lane.val()) + self.n_take.val()) >= 4;
        self.sh0.next = self.buf0.q.val() >> self.lane_sh.val();
        self.sh1.next = self.buf1.q.val();
        self.out_lo.next = self.sh0.val().get_bits::<8>(0);
        self.out_hi.next = self.sh0.val().get_bits::<8>(8);
        if self.lane.val() == 3 {
            self.out_hi.next = self.sh1.val().get_bits::<8>(0);
        }
        if !self.two.val() {
            self.out_hi.next = 0.into();
        }
        self.out_word.next =
            bit_cast::<16, 8>(self.out_lo.val()) | (bit_cast::<16, 8>(self.out_hi.val()) << 8);
        self.out_par.next = bit_cast::<2, 1>((!self.out_lo.val().xor()).into());
        if self.wide.val() {
            self.out_par.next = bit_cast::<2, 1>((!self.out_lo.val().xor()).into())
                | (bit_cast::<2, 1>((!self.out_hi.val().xor()).into()) << 1);
        }
        self.out_done.next = !self.dma_left.q.val().any()
            & !self.a_busy.q.val()
            & !self.ack_r.q.val()
            & !self.sp_armed.q.val();
        self.in_done.next = self.out_done.val() & !self.ack_owed.q.val().any();
        self.avail.next = self.window_len.val() - self.xoff.q.val();
        self.limit.next = self.xcnt.q.val();
        if self.avail.val() < self.xcnt.q.val() {
            self.limit.next = self.avail.val();
        }
        if self.xoff.q.val() >= self.window_len.val() {
            self.limit.next = 0.into();
        }
        // A bit-bucket DMA touches no memory, so the window does not limit it.
        if self.pend_cmd.q.val().get_bit(11) {
            self.limit.next = self.xcnt.q.val();
        }
        self.gnt_i.next = self.mem_gnt.val() | self.discard.q.val();
        self.rdata_i.next = self.mem_rdata.val();
        if self.discard.q.val() {
            self.rdata_i.next = 0.into();
        }
        self.start_addr.next = self.window_base.val() + self.xoff.q.val().get_bits::<17>(0);
        self.tx_par.next = !self.tx_byte.val().xor();
        self.done_now.next = false;
        self.rel_all.next = false;

        // ---- memory port ----
        if self.wr_pend.q.val() & self.gnt_i.val() {
            self.wr_pend.d.next = false;
        }
        if !self.wr_pend.q.val() & self.rd_req.q.val() & self.gnt_i.val() {
            self.rd_req.d.next = false;
            self.rd_arrive.d.next = true;
            self.rd_addr.d.next = self.rd_addr.q.val() + 1;
        }

        // ---- main state machine ----
        match self.state.q.val() {
            PState::Idle => {
                if !self.connected_r.q.val() & self.resel_cond.val() {
                    self.state.d.next = PState::ReselSeen;
                    self.tmr.d.next = 0.into();
                } else if self.pend_valid.q.val() & !self.rd_req.q.val() & !self.rd_arrive.q.val() {
                    self.pend_valid.d.next = false;
                    self.busy_r.d.next = true;
                    self.cmd_op.d.next = self.op.val();
                    self.cmd_fl.d.next = self.pend_cmd.q.val().get_bits::<3>(8);
                    self.tmr.d.next = 0.into();
                    self.done_now.next = true;
                    if self.op.val() == 1 {
                        if !self.connected_r.q.val() {
                            self.done_now.next = false;
                            self.sel_active.d.next = true;
                            self.sel_ids.d.next = self.own_bit.val() | self.tgt_bit.val();
                            self.state.d.next = PState::SelWaitFree;
                        }
                    }
                    // Byte commands do not apply in a synchronous data phase (its REQs
                    // belong to the offset counter): they end at once; drain with a
                    // bit-bucket DMA instead.
                    if (self.op.val() == 2) | (self.op.val() == 3) | (self.op.val() == 4) {
                        if self.connected_r.q.val() & !self.sync_track.val() {
                            self.done_now.next = false;
                            self.state.d.next = PState::ByteWaitReq;
                        }
                    }
                    if self.op.val() == 5 {
                        if self.connected_r.q.val() {
                            self.done_now.next = false;
                            self.dma_left.d.next = self.limit.val();
                            self.discard.d.next = self.pend_cmd.q.val().get_bit(11);
                            self.dma_phase.d.next = self.i_phase.val();
                            self.dma_in.d.next = self.i_io.val();
                            self.dma_mism.d.next = false;
                            self.cur_addr.d.next = self.start_addr.val();
                            self.rd_addr.d.next = self.start_addr.val().get_bits::<15>(2);
                            self.fetch_left.d.next = self.limit.val()
                                + bit_cast::<32, 2>(self.start_addr.val().get_bits::<2>(0));
                            self.v0.d.next = false;
                            self.v1.d.next = false;
                            self.asm_data.d.next = 0.into();
                            self.asm_be.d.next = 0.into();
                            self.a_busy.d.next = false;
                            self.state.d.next = PState::Dma;
                            if !self.data_phase.val() {
                                self.dma_mism.d.next = self.limit.val().any();
                                self.dma_left.d.next = 0.into();
                                self.state.d.next = PState::DmaFlush;
                            }
                        }
                    }
                    if self.op.val() == 6 {
                        if self.connected_r.q.val() {
                            self.atn_r.d.next = true;
                        }
                    }
                    if self.op.val() == 7 {
                        self.atn_r.d.next = false;
                    }
                    if self.op.val() == 8 {
                        if self.connected_r.q.val() {
                            self.expect_free.d.next = true;
                        }
                    }
                    if self.op.val() == 9 {
                        // The reset ends any connection now (not at the bus free after
                        // RST, which would read as an unexpected one).
                        self.done_now.next = false;
                        self.rel_all.next = true;
                        self.connected_r.d.next = false;
                        self.expect_free.d.next = false;
                        self.rst_r.d.next = true;
                        self.rst_unread.d.next = true;
                        self.state.d.next = PState::RstHold;
                    }
                }
            }
            PState::SelWaitFree => {
                if self.resel_cond.val() {
                    self.state.d.next = PState::ReselSeen;
                    self.tmr.d.next = 0.into();
                } else if self.free_cnt.q.val() >= self.t_free.val() {
                    self.bsy_r.d.next = true;
                    self.db_r.d.next = self.own_bit.val();
                    self.dbp_r.d.next = 0.into();
                    self.tmr.d.next = 0.into();
                    self.state.d.next = PState::SelArb;
                }
            }
            PState::SelArb => {
                if self.i_sel.val() {
                    self.bsy_r.d.next = false;
                    self.db_r.d.next = 0.into();
                    self.state.d.next = PState::SelWaitFree;
                } else if self.tmr.q.val() >= self.tim_arb.val() {
                    if (self.i_db.val() & self.higher.val() & self.id_mask.val()).any() {
                        self.bsy_r.d.next = false;
                        self.db_r.d.next = 0.into();
                        self.state.d.next = PState::SelWaitFree;
                    } else {
                        self.sel_r.d.next = true;
                        self.tmr.d.next = 0.into();
                        self.state.d.next = PState::SelSel;
                    }
                }
            }
            PState::SelSel => {
                if self.tmr.q.val() >= self.t_selset.val() {
                    self.db_r.d.next = self.sel_ids.q.val();
                    self.dbp_r.d.next = bit_cast::<2, 1>((!self.sid_lo.val().xor()).into());
                    if self.wide_bus.val() {
                        self.dbp_r.d.next = bit_cast::<2, 1>((!self.sid_lo.val().xor()).into())
                            | (bit_cast::<2, 1>((!self.sid_hi.val().xor()).into()) << 1);
                    }
                    if self.cmd_fl.q.val().get_bit(0) {
                        self.atn_r.d.next = true;
                    }
                    self.tmr.d.next = 0.into();
                    self.state.d.next = PState::SelIds;
                }
            }
            PState::SelIds => {
                if self.tmr.q.val() >= self.t_2dsk.val() {
                    self.bsy_r.d.next = false;
                    self.seen_low.d.next = false;
                    self.tmr.d.next = 0.into();
                    self.state.d.next = PState::SelWait;
                }
            }
            PState::SelWait => {
                if !self.i_bsy.val() {
                    self.seen_low.d.next = true;
                }
                if self.seen_low.q.val() & self.i_bsy.val() {
                    self.tmr.d.next = 0.into();
                    self.state.d.next = PState::SelResp;
                } else if self.tmr.q.val() >= self.tim_sel_timeout.val() {
                    // SPI selection timeout procedure: release the IDs (and ATN), keep
                    // SEL a selection abort time, then give up.
                    self.db_r.d.next = 0.into();
                    self.dbp_r.d.next = 0.into();
                    self.atn_r.d.next = false;
                    self.tmr.d.next = 0.into();
                    self.state.d.next = PState::SelAbort;
                }
            }
            PState::SelAbort => {
                if self.i_bsy.val() {
                    // The target answered late: the selection completes.
                    self.tmr.d.next = 0.into();
                    self.state.d.next = PState::SelResp;
                } else if self.tmr.q.val() >= self.tim_sel_abort.val() {
                    self.rel_all.next = true;
                    self.e_selto.d.next = true;
                    self.done_now.next = true;
                }
            }
            PState::SelResp => {
                if self.tmr.q.val() >= self.t_2dsk.val() {
                    self.sel_r.d.next = false;
                    self.db_r.d.next = 0.into();
                    self.dbp_r.d.next = 0.into();
                    self.connected_r.d.next = true;
                    self.expect_free.d.next = false;
                    self.done_now.next = true;
                }
            }
            PState::ReselSeen => {
                if !self.resel_cond.val() {
                    self.state.d.next = PState::Idle;
                    if self.sel_active.q.val() {
                        self.state.d.next = PState::SelWaitFree;
                    }
                } else if self.tmr.q.val() >= self.tim_settle.val() {
                    if self.resel_ok.val() {
                        self.bsy_r.d.next = true;
                        self.resel_r.d.next = bit_cast::<4, 1>(self.enc0.val().into())
                            | (bit_cast::<4, 1>(self.enc1.val().into()) << 1)
                            | (bit_cast::<4, 1>(self.enc2.val().into()) << 2)
                            | (bit_cast::<4, 1>(self.enc3.val().into()) << 3);
                        self.state.d.next = PState::ReselBsy;
                    } else {
                        self.state.d.next = PState::ReselIgnore;
                    }
                }
            }
            PState::ReselBsy => {
                if !self.i_sel.val() {
                    self.bsy_r.d.next = false;
                    self.connected_r.d.next = true;
                    self.expect_free.d.next = false;
                    self.e_resel.d.next = true;
                    self.state.d.next = PState::Idle;
                    if self.sel_active.q.val() {
                        self.done_now.next = true;
                    }
                }
            }
            PState::ReselIgnore => {
                if !self.i_sel.val() {
                    self.state.d.next = PState::Idle;
                    if self.sel_active.q.val() {
                        self.state.d.next = PState::SelWaitFree;
                    }
                }
            }
            PState::RstHold => {
                if self.tmr.q.val() >= self.tim_reset_hold.val() {
                    self.rst_r.d.next = false;
                    self.state.d.next = PState::RstWait;
                    if self.busy_r.q.val() {
                        self.e_done.d.next = true;
                        self.busy_r.d.next = false;
                    }
                }
            }
            PState::RstWait => {
                if !self.i_rst.val() {
                    self.rst_other.d.next = false;
                    self.state.d.next = PState::Idle;
                }
            }
            PState::ByteWaitReq => {
                if self.i_req.val() {
                    self.tmr.d.next = 0.into();
                    if self.cmd_op.q.val() == 2 {
                        if self.i_io.val() {
                            self.done_now.next = true;
                        } else {
                            self.db_r.d.next = bit_cast::<16, 8>(self.tx_byte.val());
                            self.dbp_r.d.next = bit_cast::<2, 1>(self.tx_par.val().into());
                            if self.cmd_fl.q.val().get_bit(1) {
                                self.atn_r.d.next = false;
                            }
                            if self.cmd_fl.q.val().get_bit(2) {
                                self.atn_r.d.next = true;
                            }
                            self.state.d.next = PState::SendSetup;
                        }
                    }
                    if self.cmd_op.q.val() == 3 {
                        if self.i_io.val() {
                            self.state.d.next = PState::RecvSettle;
                        } else {
                            self.done_now.next = true;
                        }
                    }
                    if self.cmd_op.q.val() == 4 {
                        if self.cmd_fl.q.val().get_bit(2) {
                            self.atn_r.d.next = true;
                        }
                        self.state.d.next = PState::SendSetup;
                    }
                }
            }
            PState::SendSetup => {
                if self.tmr.q.val() >= self.tim_deskew.val() {
                    self.ack_r.d.next = true;
                    self.state.d.next = PState::SendAck;
                }
            }
            PState::SendAck => {
                if !self.i_req.val() {
                    self.ack_r.d.next = false;
                    self.db_r.d.next = 0.into();
                    self.dbp_r.d.next = 0.into();
                    self.done_now.next = true;
                }
            }
            PState::RecvSettle => {
                if self.tmr.q.val() >= self.tim_deskew.val() {
                    self.rx_r.d.next = bit_cast::<9, 8>(self.db_lo.val())
                        | (bit_cast::<9, 1>(self.perr0.val().into()) << 8);
                    self.e_perr.d.next = self.perr0.val();
                    self.done_now.next = true;
                }
            }
            PState::Dma => {
                if self.dma_in.q.val() {
                    // Async DATA IN: latch the byte/word of a REQ.
                    if !self.sync_mode.val()
                        & self.i_req.val()
                        & !self.a_busy.q.val()
                        & !self.ack_r.q.val()
                        & !self.fifo_n.q.val().any()
                        & self.dma_left.q.val().any()
                        & !self.stop.val()
                    {
                        self.push.next = true;
                        self.a_busy.d.next = true;
                    }
                    // Unpack FIFO entries into the word assembler.
                    if self.dma_left.q.val().any()
                        & self.fifo_n.q.val().any()
                        & !self.stop.val()
                        & (!self.complete.val() | !self.wr_pend.q.val())
                    {
                        self.take_byte.next = true;
                    }
                    // Async ACK for a stored entry.
                    if !self.sync_mode.val()
                        & self.a_busy.q.val()
                        & !self.ack_r.q.val()
                        & self.ack_owed.q.val().any()
                        & self.i_req.val()
                    {
                        self.ack_r.d.next = true;
                        self.a_dec.next = 1.into();
                    }
                    if !self.sync_mode.val() & self.ack_r.q.val() & !self.i_req.val() {
                        self.ack_r.d.next = false;
                        self.a_busy.d.next = false;
                    }
                    // Sync ACK pulses for stored entries.
                    if self.sync_mode.val() & self.sp_ready.val() & self.ack_owed.q.val().any() {
                        self.sp_fire.next = true;
                        self.a_dec.next = 1.into();
                        self.o_dec.next = 1.into();
                    }
                    if self.in_done.val() {
                        self.state.d.next = PState::DmaFlush;
                    }
                } else {
                    if !self.rd_req.q.val()
                        & !self.rd_arrive.q.val()
                        & self.fetch_left.q.val().any()
                        & (!self.v0.q.val() | !self.v1.q.val())
                    {
                        self.fetch.next = true;
                    }
                    if !self.sync_mode.val() {
                        if self.i_req.val()
                            & !self.a_busy.q.val()
                            & !self.ack_r.q.val()
                            & self.dma_left.q.val().any()
                            & self.can_take.val()
                            & !self.stop.val()
                        {
                            self.take_out.next = true;
                            self.a_busy.d.next = true;
                            self.tmr2.d.next = 0.into();
                        }
                        if self.a_busy.q.val()
                            & !self.ack_r.q.val()
                            & (self.tmr2.q.val() >= self.tim_deskew.val())
                        {
                            self.ack_r.d.next = true;
                        }
                        if self.ack_r.q.val() & !self.i_req.val() {
                            self.ack_r.d.next = false;
                            self.a_busy.d.next = false;
                            self.db_r.d.next = 0.into();
                            self.dbp_r.d.next = 0.into();
                        }
                    } else if self.sp_ready.val()
                        & self.outst.q.val().any()
                        & self.dma_left.q.val().any()
                        & self.can_take.val()
                        & !self.stop.val()
                    {
                        self.take_out.next = true;
                        self.sp_fire.next = true;
                        self.o_dec.next = 1.into();
                    }
                    if self.out_done.val() {
                        self.state.d.next = PState::DmaFlush;
                    }
                }
                if (self.stop.val() | self.ofs_err.q.val())
                    & !self.ack_r.q.val()
                    & !self.sp_armed.q.val()
                {
                    self.dma_mism.d.next = self.dma_left.q.val().any();
                    self.state.d.next = PState::DmaFlush;
                }
            }
            PState::DmaFlush => {
                self.db_r.d.next = 0.into();
                self.dbp_r.d.next = 0.into();
                self.ack_r.d.next = false;
                self.sp_armed.d.next = false;
                self.a_busy.d.next = false;
                if self.asm_be.q.val().any() & !self.wr_pend.q.val() {
                    self.wr_pend.d.next = true;
                    self.wr_addr.d.next = self.cur_addr.q.val().get_bits::<15>(2);
                    self.wr_data.d.next = self.asm_data.q.val();
                    self.wr_be.d.next = self.asm_be.q.val();
                    self.asm_be.d.next = 0.into();
                    self.asm_data.d.next = 0.into();
                }
                if !self.asm_be.q.val().any() & !self.wr_pend.q.val() & !self.rd_req.q.val() {
                    self.e_mism.d.next = self.dma_mism.q.val();
                    self.done_now.next = true;
                }
            }
            _ => {}
        }

        // ---- DMA data path ----
        // FIFO write (sync: every REQ edge of a DATA IN phase; async: from the DMA).
        // `outst` counts REQs not yet answered by an ACK, in both directions; one more
        // than the agreed offset is the target's protocol error (never counted, so the
        // counter cannot wrap and the FIFO cannot overflow).
        if self.sync_track.val() & self.req_rise.val() {
            if self.outst.q.val() >= self.offset8.val() {
                self.ofs_err.d.next = true;
                self.e_ofs.d.next = true;
            } else {
                self.o_inc.next = 1.into();
                if self.i_io.val() {
                    self.push.next = true;
                }
            }
        }
        if self.push.val() & self.fifo_n.q.val().get_bit(4) {
            self.push.next = false;
        }
        if self.push.val() {
            self.f_inc.next = 1.into();
            self.fifo_wp.d.next = self.fifo_wp.q.val() + 1;
            self.e_perr.d.next = self.perr_push.val();
            // Bad parity in a data phase: ATN at once, so the target stops and takes
            // INITIATOR DETECTED ERROR at the next MESSAGE OUT (not after STATUS).
            if self.perr_push.val() {
                self.atn_r.d.next = true;
            }
        }
        if self.push.val() & (self.fifo_wp.q.val() == 0) {
            self.f0.d.next = self.fifo_din.val();
        }
        if self.push.val() & (self.fifo_wp.q.val() == 1) {
            self.f1.d.next = self.fifo_din.val();
        }
        if self.push.val() & (self.fifo_wp.q.val() == 2) {
            self.f2.d.next = self.fifo_din.val();
        }
        if self.push.val() & (self.fifo_wp.q.val() == 3) {
            self.f3.d.next = self.fifo_din.val();
        }
        if self.push.val() & (self.fifo_wp.q.val() == 4) {
            self.f4.d.next = self.fifo_din.val();
        }
        if self.push.val() & (self.fifo_wp.q.val() == 5) {
            self.f5.d.next = self.fifo_din.val();
        }
        if self.push.val() & (self.fifo_wp.q.val() == 6) {
            self.f6.d.next = self.fifo_din.val();
        }
        if self.push.val() & (self.fifo_wp.q.val() == 7) {
            self.f7.d.next = self.fifo_din.val();
        }
        if self.push.val() & (self.fifo_wp.q.val() == 8) {
            self.f8.d.next = self.fifo_din.val();
        }
        if self.push.val() & (self.fifo_wp.q.val() == 9) {
            self.f9.d.next = self.fifo_din.val();
        }
        if self.push.val() & (self.fifo_wp.q.val() == 10) {
            self.f10.d.next = self.fifo_din.val();
        }
        if self.push.val() & (self.fifo_wp.q.val() == 11) {
            self.f11.d.next = self.fifo_din.val();
        }
        if self.push.val() & (self.fifo_wp.q.val() == 12) {
            self.f12.d.next = self.fifo_din.val();
        }
        if self.push.val() & (self.fifo_wp.q.val() == 13) {
            self.f13.d.next = self.fifo_din.val();
        }
        if self.push.val() & (self.fifo_wp.q.val() == 14) {
            self.f14.d.next = self.fifo_din.val();
        }
        if self.push.val() & (self.fifo_wp.q.val() == 15) {
            self.f15.d.next = self.fifo_din.val();
        }
        // One byte from the FIFO head into the assembler.
        if self.take_byte.val() {
            if self.complete.val() {
                self.wr_pend.d.next = true;
                self.wr_addr.d.next = self.cur_addr.q.val().get_bits::<15>(2);
                self.wr_data.d.next = self.asm_data.q.val() | self.byte32.val();
                self.wr_be.d.next = self.asm_be.q.val() | self.lane_bit.val();
                self.asm_data.d.next = 0.into();
                self.asm_be.d.next = 0.into();
            } else {
                self.asm_data.d.next = self.asm_data.q.val() | self.byte32.val();
                self.asm_be.d.next = self.asm_be.q.val() | self.lane_bit.val();
            }
            self.cur_addr.d.next = self.cur_addr.q.val() + 1;
            self.dma_left.d.next = self.dma_left.q.val() - 1;
            self.xoff.d.next = self.xoff.q.val() + 1;
            self.xcnt.d.next = self.xcnt.q.val() - 1;
            if self.wide.val() & !self.hi_next.q.val() & (self.dma_left.q.val() > 1) {
                self.hi_next.d.next = true;
            } else {
                self.hi_next.d.next = false;
                self.pop.next = true;
            }
        }
        if self.pop.val() {
            self.f_dec.next = 1.into();
            self.fifo_rp.d.next = self.fifo_rp.q.val() + 1;
            self.a_inc.next = 1.into();
        }
        // One transfer of DATA OUT from the prefetch buffer onto the bus.
        if self.take_out.val() {
            self.db_r.d.next = self.out_word.val();
            self.dbp_r.d.next = self.out_par.val();
            self.cur_addr.d.next = self.cur_addr.q.val() + bit_cast::<17, 3>(self.n_take.val());
            self.dma_left.d.next = self.dma_left.q.val() - self.n32.val();
            self.xoff.d.next = self.xoff.q.val() + self.n32.val();
            self.xcnt.d.next = self.xcnt.q.val() - self.n32.val();
            if self.lane_wrap.val() {
                self.buf0.d.next = self.buf1.q.val();
                self.v0.d.next = self.v1.q.val();
                self.v1.d.next = false;
            }
        }
        if self.rd_arrive.q.val() {
            if (self.take_out.val() & self.lane_wrap.val() & !self.v1.q.val())
                | (!(self.take_out.val() & self.lane_wrap.val()) & !self.v0.q.val())
            {
                self.buf0.d.next = self.rdata_i.val();
                self.v0.d.next = true;
            } else {
                self.buf1.d.next = self.rdata_i.val();
                self.v1.d.next = true;
            }
        }
        if self.fetch.val() {
            self.rd_req.d.next = true;
            self.fetch_left.d.next = 0.into();
            if self.fetch_left.q.val() > 4 {
                self.fetch_left.d.next = self.fetch_left.q.val() - 4;
            }
        }
        // Synchronous ACK pulse generator.
        if self.sp_fire.val() {
            self.sp_armed.d.next = true;
            self.sp_cnt.d.next = 0.into();
        }
        if self.sp_armed.q.val() & (self.sp_cnt.q.val() == self.lead.val()) {
            self.ack_r.d.next = true;
        }
        if self.sp_armed.q.val() & (self.sp_cnt.q.val() >= self.ack_end.val()) {
            self.ack_r.d.next = false;
            self.sp_armed.d.next = false;
        }
        self.outst.d.next = self.outst.q.val() + self.o_inc.val() - self.o_dec.val();
        self.ack_owed.d.next = self.ack_owed.q.val() + self.a_inc.val() - self.a_dec.val();
        self.fifo_n.d.next = self.fifo_n.q.val() + self.f_inc.val() - self.f_dec.val();
        if !self.sync_track.val() {
            self.outst.d.next = 0.into();
        }
        if self.phase_reset.val() {
            self.ofs_err.d.next = false;
            self.ack_owed.d.next = 0.into();
            self.fifo_n.d.next = 0.into();
            self.fifo_wp.d.next = 0.into();
            self.fifo_rp.d.next = 0.into();
            self.hi_next.d.next = false;
        }

        // ---- a command finished ----
        if self.done_now.val() {
            self.e_done.d.next = true;
            self.busy_r.d.next = false;
            self.sel_active.d.next = false;
            self.state.d.next = PState::Idle;
        }

        // ---- the connected target released the bus ----
        if self.connected_r.q.val() & self.free_seen.val() {
            self.connected_r.d.next = false;
            self.e_free.d.next = true;
            self.e_unexp.d.next = !self.expect_free.q.val();
            self.expect_free.d.next = false;
            self.rel_all.next = true;
            self.in_byte_cmd.next = false;
            match self.state.q.val() {
                PState::ByteWaitReq => {
                    self.in_byte_cmd.next = true;
                }
                PState::SendSetup => {
                    self.in_byte_cmd.next = true;
                }
                PState::SendAck => {
                    self.in_byte_cmd.next = true;
                }
                PState::RecvSettle => {
                    self.in_byte_cmd.next = true;
                }
                PState::Dma => {
                    self.dma_mism.d.next = self.dma_left.q.val().any();
                    self.state.d.next = PState::DmaFlush;
                }
                _ => {}
            }
            if self.in_byte_cmd.val() {
                self.e_done.d.next = true;
                self.busy_r.d.next = false;
                self.state.d.next = PState::Idle;
            }
        }

        // ---- RST from anyone ----
        if self.i_rst.val() & !self.prev_rst.q.val() {
            self.e_rst.d.next = true;
            self.rst_unread.d.next = true;
            if self.state.q.val() != PState::RstHold {
                self.rel_all.next = true;
                self.connected_r.d.next = false;
                self.expect_free.d.next = false;
                self.sel_active.d.next = false;
                self.pend_valid.d.next = false;
                self.busy_r.d.next = false;
                // A command written in this very cycle is dropped with the rest.
                self.e_done.d.next =
                    self.busy_r.q.val() | self.pend_valid.q.val() | self.cmd_valid.val();
                self.rst_other.d.next = true;
                self.state.d.next = PState::RstWait;
            }
        }

        // ---- host register path ----
        if self.host_release.val()
            & (self.state.q.val() != PState::RstHold)
            & (self.state.q.val() != PState::RstWait)
        {
            self.rel_all.next = true;
            self.connected_r.d.next = false;
            self.expect_free.d.next = false;
            self.sel_active.d.next = false;
            self.pend_valid.d.next = false;
            self.busy_r.d.next = false;
            self.e_done.d.next = self.busy_r.q.val() | self.pend_valid.q.val();
            self.state.d.next = PState::Idle;
        }
        if (self.host_bus_reset.val() | self.fw_rst.val()) & (self.state.q.val() != PState::RstHold)
        {
            self.rel_all.next = true;
            self.connected_r.d.next = false;
            self.expect_free.d.next = false;
            self.sel_active.d.next = false;
            self.pend_valid.d.next = false;
            self.busy_r.d.next = false;
            // A command written in this very cycle ends too (it was taken by the intake
            // above and would be lost without its `ev_cmd_done`).
            self.e_done.d.next =
                self.busy_r.q.val() | self.pend_valid.q.val() | self.cmd_valid.val();
            self.rst_r.d.next = true;
            self.rst_other.d.next = false;
            self.rst_unread.d.next = true;
            self.tmr.d.next = 0.into();
            self.state.d.next = PState::RstHold;
        }
        if self.rel_all.val() {
            self.bsy_r.d.next = false;
            self.sel_r.d.next = false;
            self.atn_r.d.next = false;
            self.ack_r.d.next = false;
            self.db_r.d.next = 0.into();
            self.dbp_r.d.next = 0.into();
            self.a_busy.d.next = false;
            self.sp_armed.d.next = false;
        }

        // ---- DMA registers loaded by the firmware ----
        if self.xfer_offset_we.val() {
            self.xoff.d.next = self.xfer_wdata.val();
        }
        if self.xfer_count_we.val() {
            self.xcnt.d.next = self.xfer_wdata.val();
        }

        // ---- synchronous reset ----
        if self.reset.val() {
            self.discard.d.next = false;
            self.state.d.next = PState::Idle;
            self.connected_r.d.next = false;
            self.busy_r.d.next = false;
            self.expect_free.d.next = false;
            self.sel_active.d.next = false;
            self.pend_valid.d.next = false;
            self.bsy_r.d.next = false;
            self.sel_r.d.next = false;
            self.rst_r.d.next = false;
            self.atn_r.d.next = false;
            self.ack_r.d.next = false;
            self.db_r.d.next = 0.into();
            self.dbp_r.d.next = 0.into();
            self.e_done.d.next = false;
            self.e_selto.d.next = false;
            self.e_resel.d.next = false;
            self.e_free.d.next = false;
            self.e_unexp.d.next = false;
            self.e_rst.d.next = false;
            self.e_perr.d.next = false;
            self.e_mism.d.next = false;
            self.e_ofs.d.next = false;
            self.ofs_err.d.next = false;
            self.rst_other.d.next = false;
            self.xoff.d.next = 0.into();
            self.xcnt.d.next = 0.into();
            self.dma_left.d.next = 0.into();
            self.a_busy.d.next = false;
            self.outst.d.next = 0.into();
            self.ack_owed.d.next = 0.into();
            self.sp_armed.d.next = false;
            self.sp_cnt.d.next = 255.into();
            self.fifo_n.d.next = 0.into();
            self.fifo_wp.d.next = 0.into();
            self.fifo_rp.d.next = 0.into();
            self.hi_next.d.next = false;
            self.asm_be.d.next = 0.into();
            self.asm_data.d.next = 0.into();
            self.wr_pend.d.next = false;
            self.rd_req.d.next = false;
            self.rd_arrive.d.next = false;
            self.v0.d.next = false;
            self.v1.d.next = false;
            self.rx_r.d.next = 0.into();
            self.resel_r.d.next = 0.into();
            self.free_cnt.d.next = 0.into();
            self.prev_rst.d.next = false;
        }

        // ---- co-simulation fast-forward: quiet ----
        // Idle, no command, no pulse, no memory access, both synchronisers and the edge
        // detectors settled on the present inputs, no reselection to answer, no bus-free
        // count running towards a BUS FREE of the connection, and the registers that
        // `phase_reset` / `!sync_track` clear already clear: with the inputs held, the
        // next cycles change nothing but the free-running timers.
        self.ff_settled.next = (self.s1_ctl.q.val() == self.s1_ctl.d.val())
            & (self.s2_ctl.q.val() == self.s1_ctl.q.val())
            & (self.s1_dat.q.val() == self.s1_dat.d.val())
            & (self.s2_dat.q.val() == self.s1_dat.q.val())
            & (self.prev_req.q.val() == self.i_req.val())
            & (self.prev_rst.q.val() == self.i_rst.val())
            & (self.prev_phase.q.val() == self.i_phase.val());
        self.ff_fifo_clear.next = !self.ofs_err.q.val()
            & !self.ack_owed.q.val().any()
            & !self.fifo_n.q.val().any()
            & !self.fifo_wp.q.val().any()
            & !self.fifo_rp.q.val().any()
            & !self.hi_next.q.val();
        self.ff_idle.next = (self.state.q.val() == PState::Idle)
            & !self.busy_r.q.val()
            & !(self.resel_cond.val() & !self.connected_r.q.val())
            & !(self.connected_r.q.val()
                & !(self.i_bsy.val() | self.i_sel.val() | self.i_rst.val()));
        // SELECT waiting for BSY: BSY steady (low and already seen low, or high and not
        // yet seen low), the selection timeout not reached.
        self.ff_selwait.next = (self.state.q.val() == PState::SelWait)
            & (self.seen_low.q.val() != self.i_bsy.val())
            & (self.tmr.q.val() < self.tim_sel_timeout.val());
        self.ff_horizon.next = 0xFFFF_FFFF_u64.into();
        if self.state.q.val() == PState::SelWait {
            self.ff_horizon.next = self.tim_sel_timeout.val() - self.tmr.q.val() - 1;
        }
        self.ff_quiet.next = (self.ff_idle.val() | self.ff_selwait.val())
            & self.ff_settled.val()
            & !self.reset.val()
            & !self.pend_valid.q.val()
            & !self.cmd_valid.val()
            & !self.host_release.val()
            & !self.host_bus_reset.val()
            & !self.xfer_offset_we.val()
            & !self.xfer_count_we.val()
            & !(self.e_done.q.val()
                | self.e_selto.q.val()
                | self.e_resel.q.val()
                | self.e_free.q.val()
                | self.e_unexp.q.val()
                | self.e_rst.q.val()
                | self.e_perr.q.val()
                | self.e_mism.q.val()
                | self.e_ofs.q.val())
            & !self.wr_pend.q.val()
            & !self.rd_req.q.val()
            & !self.rd_arrive.q.val()
            & !self.sp_armed.q.val()
            & (!self.phase_reset.val() | self.ff_fifo_clear.val())
            & (self.sync_track.val() | !self.outst.q.val().any());

        // ---- outputs ----
        self.bsy_oe.next = self.bsy_r.q.val();
        self.sel_oe.next = self.sel_r.q.val();
        self.rst_oe.next = self.rst_r.q.val();
        self.atn_oe.next = self.atn_r.q.val();
        self.ack_oe.next = self.ack_r.q.val();
        self.db_oe.next = self.db_r.q.val();
        self.dbp_oe.next = self.dbp_r.q.val();
        self.xfer_offset.next = self.xoff.q.val();
        self.xfer_count.next = self.xcnt.q.val();
        self.busy.next = self.busy_r.q.val() | self.pend_valid.q.val();
        self.connected.next = self.connected_r.q.val();
        self.req_valid.next = self.connected_r.q.val()
            & !self.busy_r.q.val()
            & !self.pend_valid.q.val()
            & (self.i_req.val() | self.outst.q.val().any());
        self.phase.next = self.i_phase.val();
        self.rx_byte.next = self.rx_r.q.val();
        self.resel_id.next = self.resel_r.q.val();
        self.ev_cmd_done.next = self.e_done.q.val();
        self.ev_sel_timeout.next = self.e_selto.q.val();
        self.ev_reselected.next = self.e_resel.q.val();
        self.ev_bus_free.next = self.e_free.q.val();
        self.ev_unexp_free.next = self.e_unexp.q.val();
        self.ev_bus_reset.next = self.e_rst.q.val();
        self.ev_parity_err.next = self.e_perr.q.val();
        self.ev_phase_mismatch.next = self.e_mism.q.val();
        self.ev_offset_err.next = self.e_ofs.q.val();
        self.mem_req.next = (self.wr_pend.q.val() | self.rd_req.q.val()) & !self.discard.q.val();
        self.mem_we.next = self.wr_pend.q.val();
        self.mem_addr.next = self.rd_addr.q.val();
        if self.wr_pend.q.val() {
            self.mem_addr.next = self.wr_addr.q.val();
        }
        self.mem_be.next = self.wr_be.q.val();
        self.mem_wdata.next = self.wr_data.q.val();

        // Command flags above bit 10, XFER_MODE above the wide bit, the FIFO's parity
        // bits of the head entry (checked on entry) and the shifter's high bits.
        self.unused.next = self.cmd.val().get_bits::<20>(12).any()
            | self.xfer_mode.val().get_bits::<15>(17).any()
            | self.fifo_head.val().get_bits::<2>(16).any()
            | self.sh0.val().get_bits::<16>(16).any()
            | self.sh1.val().get_bits::<24>(8).any();
    }
}
