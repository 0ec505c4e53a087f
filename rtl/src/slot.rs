//! The slot unit: selects the current HCB and checks it in hardware.
//!
//! When the sequencer writes `io::SLOT`, the unit reads the request words of that HCB
//! (CTRL, DATA_ADDR, DATA_LEN, SENSE_LEN) and checks every field the host controls. The
//! DMA windows it exports are the only addresses the phase engine may touch for this
//! command; a bad HCB gets empty windows, so a hostile HCB can never move a byte outside
//! its buffer, whatever the firmware then does.

use hba_abi::layout::{self, check, hcb};
use hba_abi::mem;
use rust_hdl::prelude::*;

/// Card-memory word address width.
pub const MEM_ADDR_BITS: usize = mem::CARD_MEM_ADDR_BITS as usize;
/// Card-memory byte address width.
pub const BYTE_ADDR_BITS: usize = MEM_ADDR_BITS + 2;

// Literal bit positions used in `update` (hdl_gen emits them verbatim).
const _: () = assert!(layout::NUM_SLOTS == 64 && layout::HCB_BYTES == 128);
const _: () = assert!(hcb::ctrl::DIR_IN == 1 << 16 && hcb::ctrl::DIR_OUT == 1 << 17);
const _: () = assert!(hcb::ctrl::CDB_LEN_SHIFT == 24 && hcb::ctrl::TARGET_MASK == 0xF);
const _: () = assert!(hcb::CTRL == 0 && hcb::DATA_ADDR == 4 && hcb::DATA_LEN == 8);
const _: () = assert!(hcb::SENSE_LEN == 12 && hcb::SENSE == 0x40);
const _: () = assert!(BYTE_ADDR_BITS == 17);

/// States of the check.
#[derive(Copy, Clone, Debug, PartialEq, Eq, LogicState)]
pub enum SlotState {
    /// Nothing to do.
    Idle,
    /// Requesting HCB word `word`.
    Fetch,
    /// Waiting for the read data of the granted word.
    Capture,
    /// All words read: evaluate.
    Evaluate,
}

/// Current-slot register, HCB fetch and bounds check.
#[derive(LogicBlock)]
pub struct SlotUnit {
    /// Core clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// One cycle: select slot `slot_in` and check it.
    pub start: Signal<In, Bit>,
    /// Slot index written by the sequencer.
    pub slot_in: Signal<In, Bits<8>>,
    /// Own SCSI ID.
    pub own_id: Signal<In, Bits<4>>,
    /// Wide bus (targets 8..15 allowed).
    pub wide_bus: Signal<In, Bit>,
    /// A check is running.
    pub busy: Signal<Out, Bit>,
    /// Current slot (as written).
    pub slot: Signal<Out, Bits<8>>,
    /// Check result (`layout::check`).
    pub check: Signal<Out, Bits<8>>,
    /// Word address of the current slot's HCB (of slot % NUM_SLOTS).
    pub hcb_base: Signal<Out, Bits<MEM_ADDR_BITS>>,
    /// Data window base (byte address).
    pub data_base: Signal<Out, Bits<BYTE_ADDR_BITS>>,
    /// Data window length (0 when the HCB is bad).
    pub data_len: Signal<Out, Bits<32>>,
    /// Sense window base (byte address).
    pub sense_base: Signal<Out, Bits<BYTE_ADDR_BITS>>,
    /// Sense window length (0 when the HCB is bad).
    pub sense_len: Signal<Out, Bits<32>>,
    /// Card-memory read request.
    pub mem_req: Signal<Out, Bit>,
    /// Word address.
    pub mem_addr: Signal<Out, Bits<MEM_ADDR_BITS>>,
    /// Grant.
    pub mem_gnt: Signal<In, Bit>,
    /// Read data, the cycle after the grant.
    pub mem_rdata: Signal<In, Bits<32>>,

    state: DFF<SlotState>,
    word: DFF<Bits<2>>,
    slot_q: DFF<Bits<8>>,
    check_q: DFF<Bits<8>>,
    base_q: DFF<Bits<MEM_ADDR_BITS>>,
    ctrl_q: DFF<Bits<32>>,
    addr_q: DFF<Bits<32>>,
    len_q: DFF<Bits<32>>,
    slen_q: DFF<Bits<32>>,
    dbase_q: DFF<Bits<BYTE_ADDR_BITS>>,
    dlen_q: DFF<Bits<32>>,
    slen_out_q: DFF<Bits<32>>,

    buf_end: Signal<Local, Bits<33>>,
    target: Signal<Local, Bits<4>>,
    cdb_len: Signal<Local, Bits<8>>,
    chk_result: Signal<Local, Bits<8>>,

    k_hcbs_word: Constant<Bits<MEM_ADDR_BITS>>,
    k_data_start: Constant<Bits<33>>,
    k_mem_end: Constant<Bits<33>>,
    k_sense_max: Constant<Bits<32>>,
    k_cdb_max: Constant<Bits<8>>,
    k_ok: Constant<Bits<8>>,
    k_bad_slot: Constant<Bits<8>>,
    k_bad_target: Constant<Bits<8>>,
    k_bad_cdb: Constant<Bits<8>>,
    k_bad_buffer: Constant<Bits<8>>,
    k_bad_dir: Constant<Bits<8>>,
    k_bad_sense: Constant<Bits<8>>,
    k_busy: Constant<Bits<8>>,
}

fn k8(x: u32) -> Constant<Bits<8>> {
    Constant::new((x as u64).to_bits())
}

impl Default for SlotUnit {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            slot_in: Default::default(),
            own_id: Default::default(),
            wide_bus: Default::default(),
            busy: Default::default(),
            slot: Default::default(),
            check: Default::default(),
            hcb_base: Default::default(),
            data_base: Default::default(),
            data_len: Default::default(),
            sense_base: Default::default(),
            sense_len: Default::default(),
            mem_req: Default::default(),
            mem_addr: Default::default(),
            mem_gnt: Default::default(),
            mem_rdata: Default::default(),
            state: Default::default(),
            word: Default::default(),
            slot_q: Default::default(),
            check_q: Default::default(),
            base_q: Default::default(),
            ctrl_q: Default::default(),
            addr_q: Default::default(),
            len_q: Default::default(),
            slen_q: Default::default(),
            dbase_q: Default::default(),
            dlen_q: Default::default(),
            slen_out_q: Default::default(),
            buf_end: Default::default(),
            target: Default::default(),
            cdb_len: Default::default(),
            chk_result: Default::default(),
            k_hcbs_word: Constant::new(((layout::HCBS / 4) as u64).to_bits()),
            k_data_start: Constant::new((layout::DATA as u64).to_bits()),
            k_mem_end: Constant::new((mem::CARD_MEM_BYTES as u64).to_bits()),
            k_sense_max: Constant::new((hcb::SENSE_MAX as u64).to_bits()),
            k_cdb_max: Constant::new((hcb::CDB_MAX as u64).to_bits()),
            k_ok: k8(check::OK),
            k_bad_slot: k8(check::BAD_SLOT),
            k_bad_target: k8(check::BAD_TARGET),
            k_bad_cdb: k8(check::BAD_CDB_LEN),
            k_bad_buffer: k8(check::BAD_BUFFER),
            k_bad_dir: k8(check::BAD_DIRECTION),
            k_bad_sense: k8(check::BAD_SENSE_LEN),
            k_busy: k8(check::BUSY),
        }
    }
}

impl Logic for SlotUnit {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, state, word, slot_q, check_q, base_q, ctrl_q, addr_q, len_q, slen_q,
            dbase_q, dlen_q, slen_out_q
        );
        self.busy.next = self.state.q.val() != SlotState::Idle;
        self.slot.next = self.slot_q.q.val();
        self.check.next = self.check_q.q.val();
        self.hcb_base.next = self.base_q.q.val();
        self.data_base.next = self.dbase_q.q.val();
        self.data_len.next = self.dlen_q.q.val();
        // The sense area is inside the HCB: base*4 + 0x40.
        self.sense_base.next =
            bit_cast::<BYTE_ADDR_BITS, MEM_ADDR_BITS>(self.base_q.q.val()) << 2 | 0x40;
        self.sense_len.next = self.slen_out_q.q.val();
        self.mem_req.next = false;
        self.mem_addr.next = self.base_q.q.val() | bit_cast::<MEM_ADDR_BITS, 2>(self.word.q.val());

        // Combinational checks on the captured words.
        self.buf_end.next =
            bit_cast::<33, 32>(self.addr_q.q.val()) + bit_cast::<33, 32>(self.len_q.q.val());
        self.target.next = self.ctrl_q.q.val().get_bits::<4>(0);
        self.cdb_len.next = self.ctrl_q.q.val().get_bits::<8>(24);
        self.chk_result.next = self.k_ok.val();
        if self.slen_q.q.val().get_bits::<8>(0) > self.k_sense_max.val().get_bits::<8>(0) {
            self.chk_result.next = self.k_bad_sense.val();
        }
        if self.len_q.q.val().any()
            & ((bit_cast::<33, 32>(self.addr_q.q.val()) < self.k_data_start.val())
                | (self.buf_end.val() > self.k_mem_end.val()))
        {
            self.chk_result.next = self.k_bad_buffer.val();
        }
        if self.ctrl_q.q.val().get_bit(16) & self.ctrl_q.q.val().get_bit(17) {
            self.chk_result.next = self.k_bad_dir.val();
        }
        if !self.cdb_len.val().any() | (self.cdb_len.val() > self.k_cdb_max.val()) {
            self.chk_result.next = self.k_bad_cdb.val();
        }
        if (self.target.val() == self.own_id.val())
            | (self.target.val().get_bit(3) & !self.wide_bus.val())
        {
            self.chk_result.next = self.k_bad_target.val();
        }

        match self.state.q.val() {
            SlotState::Idle => {
                if self.start.val() {
                    self.slot_q.d.next = self.slot_in.val();
                    self.base_q.d.next = self.k_hcbs_word.val()
                        | (bit_cast::<MEM_ADDR_BITS, 6>(self.slot_in.val().get_bits::<6>(0)) << 5);
                    self.word.d.next = 0.into();
                    self.check_q.d.next = self.k_busy.val();
                    self.dlen_q.d.next = 0.into();
                    self.slen_out_q.d.next = 0.into();
                    self.state.d.next = SlotState::Fetch;
                    if self.slot_in.val().get_bits::<2>(6).any() {
                        self.check_q.d.next = self.k_bad_slot.val();
                        self.state.d.next = SlotState::Idle;
                    }
                }
            }
            SlotState::Fetch => {
                self.mem_req.next = true;
                if self.mem_gnt.val() {
                    self.state.d.next = SlotState::Capture;
                }
            }
            SlotState::Capture => {
                if self.word.q.val() == 0 {
                    self.ctrl_q.d.next = self.mem_rdata.val();
                }
                if self.word.q.val() == 1 {
                    self.addr_q.d.next = self.mem_rdata.val();
                }
                if self.word.q.val() == 2 {
                    self.len_q.d.next = self.mem_rdata.val();
                }
                if self.word.q.val() == 3 {
                    self.slen_q.d.next = self.mem_rdata.val();
                }
                self.word.d.next = self.word.q.val() + 1;
                self.state.d.next = SlotState::Fetch;
                if self.word.q.val() == 3 {
                    self.state.d.next = SlotState::Evaluate;
                }
            }
            SlotState::Evaluate => {
                self.check_q.d.next = self.chk_result.val();
                self.dbase_q.d.next = self.addr_q.q.val().get_bits::<BYTE_ADDR_BITS>(0);
                if self.chk_result.val() == self.k_ok.val() {
                    self.dlen_q.d.next = self.len_q.q.val();
                    self.slen_out_q.d.next =
                        bit_cast::<32, 8>(self.slen_q.q.val().get_bits::<8>(0));
                }
                self.state.d.next = SlotState::Idle;
            }
            _ => {
                self.state.d.next = SlotState::Idle;
            }
        }

        if self.reset.val() {
            self.state.d.next = SlotState::Idle;
            self.slot_q.d.next = 0.into();
            self.check_q.d.next = self.k_bad_slot.val();
            self.base_q.d.next = self.k_hcbs_word.val();
            self.dlen_q.d.next = 0.into();
            self.slen_out_q.d.next = 0.into();
        }
    }
}
