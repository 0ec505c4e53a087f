//! The completion/event ring writer and interrupt moderation.
//!
//! The sequencer stages words 1..3 and posts word 0; this unit writes the entry at the
//! producer index with words 1, 2, 3 first and word 0 (carrying the phase bit) last, so
//! a host that sees the new phase in word 0 finds the rest already written. The phase
//! flips each time the index wraps. Posting stalls while the ring is full (producer + 1
//! == the host's consumer index): nothing is overwritten or dropped.

use hba_abi::layout::{self, cqe};
use rust_hdl::prelude::*;

/// Card-memory word address width.
pub const MEM_ADDR_BITS: usize = hba_abi::mem::CARD_MEM_ADDR_BITS as usize;

// Literal positions used in `update`: the ring is at word 0x400 (bit 10), entries are
// four words, 256 entries; the type field is word 0 bits 30:24.
const _: () = assert!(layout::CQ / 4 == 1 << 10 && layout::CQ_ENTRY_BYTES == 16);
const _: () = assert!(layout::CQ_ENTRIES == 256 && cqe::PHASE == 1 << 31);
const _: () = assert!(cqe::TYPE_SHIFT == 24 && cqe::kind::COMPLETION == 1);

/// Completion ring writer.
#[derive(LogicBlock, Default)]
pub struct CqUnit {
    /// Core clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: index 0, phase 1, nothing pending.
    pub reset: Signal<In, Bit>,
    /// One cycle (only while `ready`): post the entry `w0..w3`.
    pub post: Signal<In, Bit>,
    /// Word 0 without the phase bit.
    pub w0: Signal<In, Bits<32>>,
    /// Word 1.
    pub w1: Signal<In, Bits<32>>,
    /// Word 2.
    pub w2: Signal<In, Bits<32>>,
    /// Word 3.
    pub w3: Signal<In, Bits<32>>,
    /// Idle and the ring has room.
    pub ready: Signal<Out, Bit>,
    /// The host's consumer index.
    pub consumer: Signal<In, Bits<8>>,
    /// Next entry index.
    pub producer: Signal<Out, Bits<8>>,
    /// Phase bit of the next entry.
    pub phase: Signal<Out, Bit>,
    /// Moderation: entries per interrupt (0 = 1).
    pub mod_count: Signal<In, Bits<32>>,
    /// Moderation: cycles after the first pending entry (0 = off).
    pub mod_time: Signal<In, Bits<32>>,
    /// One cycle: raise the CQ interrupt cause.
    pub irq_pulse: Signal<Out, Bit>,
    /// One cycle: an entry was posted.
    pub posted_pulse: Signal<Out, Bit>,
    /// One cycle: a COMPLETION entry was posted.
    pub completed_pulse: Signal<Out, Bit>,
    /// Card-memory write request (all four byte lanes).
    pub mem_req: Signal<Out, Bit>,
    /// Word address.
    pub mem_addr: Signal<Out, Bits<MEM_ADDR_BITS>>,
    /// Write data.
    pub mem_wdata: Signal<Out, Bits<32>>,
    /// Grant.
    pub mem_gnt: Signal<In, Bit>,

    /// Co-simulation fast-forward (0 on the board): this clock stands for `1 + ff_skip`
    /// cycles of the moderation timer.
    pub ff_skip: Signal<In, Bits<32>>,
    /// Co-simulation fast-forward: no entry being written, no pulse, no interrupt due now.
    pub ff_quiet: Signal<Out, Bit>,
    /// Co-simulation fast-forward: extra cycles that may be skipped before the
    /// moderation time threshold fires (all ones when no time threshold is running).
    pub ff_horizon: Signal<Out, Bits<32>>,

    busy: DFF<Bit>,
    k: DFF<Bits<2>>,
    idx: DFF<Bits<8>>,
    phase_q: DFF<Bit>,
    e0: DFF<Bits<32>>,
    e1: DFF<Bits<32>>,
    e2: DFF<Bits<32>>,
    e3: DFF<Bits<32>>,
    pending: DFF<Bits<32>>,
    timer: DFF<Bits<32>>,
    is_completion: DFF<Bit>,
    irq_q: DFF<Bit>,
    posted_q: DFF<Bit>,
    completed_q: DFF<Bit>,

    full: Signal<Local, Bit>,
    idx_next: Signal<Local, Bits<8>>,
    pending_next: Signal<Local, Bits<32>>,
    threshold: Signal<Local, Bits<32>>,
    fire: Signal<Local, Bit>,
    done: Signal<Local, Bit>,
}

impl Logic for CqUnit {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            busy,
            k,
            idx,
            phase_q,
            e0,
            e1,
            e2,
            e3,
            pending,
            timer,
            is_completion,
            irq_q,
            posted_q,
            completed_q
        );
        // Pulses leave through flops: no combinational path from the grant back out.
        self.irq_pulse.next = self.irq_q.q.val();
        self.posted_pulse.next = self.posted_q.q.val();
        self.completed_pulse.next = self.completed_q.q.val();
        // Verilog sizes `idx + 1 == consumer` to 32 bits, so the wrap at 255 would be
        // missed: compute the 8-bit successor first.
        self.idx_next.next = self.idx.q.val() + 1;
        self.full.next = self.idx_next.val() == self.consumer.val();
        self.ready.next = !self.busy.q.val() & !self.full.val() & !self.reset.val();
        self.producer.next = self.idx.q.val();
        self.phase.next = self.phase_q.q.val();
        self.mem_req.next = self.busy.q.val();
        self.mem_addr.next = bit_cast::<MEM_ADDR_BITS, 11>(
            bits::<11>(0x400)
                | (bit_cast::<11, 8>(self.idx.q.val()) << 2)
                | bit_cast::<11, 2>(self.k.q.val()),
        );
        self.mem_wdata.next = self.e0.q.val();
        if self.k.q.val() == 1 {
            self.mem_wdata.next = self.e1.q.val();
        }
        if self.k.q.val() == 2 {
            self.mem_wdata.next = self.e2.q.val();
        }
        if self.k.q.val() == 3 {
            self.mem_wdata.next = self.e3.q.val();
        }
        self.posted_q.d.next = false;
        self.completed_q.d.next = false;
        self.done.next = false;

        if self.post.val() & !self.busy.q.val() & !self.full.val() {
            self.busy.d.next = true;
            self.k.d.next = 1.into();
            self.e0.d.next = self.w0.val().replace_bit(31, self.phase_q.q.val());
            self.e1.d.next = self.w1.val();
            self.e2.d.next = self.w2.val();
            self.e3.d.next = self.w3.val();
            self.is_completion.d.next = self.w0.val().get_bits::<7>(24) == 1;
        }
        // Words 1, 2, 3, then 0.
        if self.busy.q.val() & self.mem_gnt.val() {
            self.k.d.next = self.k.q.val() + 1;
            if self.k.q.val() == 0 {
                self.busy.d.next = false;
                self.done.next = true;
                self.idx.d.next = self.idx.q.val() + 1;
                if self.idx.q.val() == 255 {
                    self.phase_q.d.next = !self.phase_q.q.val();
                }
                self.posted_q.d.next = true;
                self.completed_q.d.next = self.is_completion.q.val();
            }
        }

        // Moderation.
        self.pending_next.next = self.pending.q.val();
        if self.done.val() {
            self.pending_next.next = self.pending.q.val() + 1;
        }
        self.threshold.next = self.mod_count.val();
        if !self.mod_count.val().any() {
            self.threshold.next = 1.into();
        }
        self.fire.next = false;
        if self.pending_next.val().any() {
            if self.pending_next.val() >= self.threshold.val() {
                self.fire.next = true;
            }
            if self.mod_time.val().any() & (self.timer.q.val() >= self.mod_time.val()) {
                self.fire.next = true;
            }
        }
        self.pending.d.next = self.pending_next.val();
        self.timer.d.next = 0.into();
        if self.pending_next.val().any() {
            self.timer.d.next = self.timer.q.val() + 1 + self.ff_skip.val();
        }
        self.irq_q.d.next = self.fire.val();
        if self.fire.val() {
            self.pending.d.next = 0.into();
            self.timer.d.next = 0.into();
        }

        // Co-simulation fast-forward: with nothing posted, the pending count stays below
        // its threshold and only the timer runs, up to one cycle before `mod_time`.
        self.ff_quiet.next = !self.reset.val()
            & !self.post.val()
            & !self.busy.q.val()
            & !self.irq_q.q.val()
            & !self.posted_q.q.val()
            & !self.completed_q.q.val()
            & !self.fire.val();
        self.ff_horizon.next = 0xFFFF_FFFF_u64.into();
        if self.pending.q.val().any() & self.mod_time.val().any() {
            self.ff_horizon.next = self.mod_time.val() - self.timer.q.val() - 1;
        }

        if self.reset.val() {
            self.busy.d.next = false;
            self.k.d.next = 0.into();
            self.idx.d.next = 0.into();
            self.phase_q.d.next = true;
            self.pending.d.next = 0.into();
            self.timer.d.next = 0.into();
        }
    }
}
