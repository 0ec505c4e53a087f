//! Card-memory layout: sequencer scratch, per-target table, submission and completion
//! rings, HCB slots and the data area; the HCB and completion-entry formats; status
//! codes. Byte offsets into card memory (the DMA and BAR views share them).

use crate::mem::CARD_MEM_BYTES;

/// Sequencer scratch RAM (firmware-owned), bytes `[SCRATCH, SCRATCH + SCRATCH_BYTES)`.
pub const SCRATCH: u32 = 0x0000;
/// Size of the scratch area.
pub const SCRATCH_BYTES: u32 = 0x0400;

/// Per-target table: [`NUM_TARGETS`] entries of [`TARGET_BYTES`], see [`target`].
pub const TARGETS: u32 = 0x0400;
/// Entries in the per-target table (one per SCSI ID of a wide bus).
pub const NUM_TARGETS: u32 = 16;
/// Size of one per-target entry.
pub const TARGET_BYTES: u32 = 16;

/// Submission ring: [`SQ_ENTRIES`] 32-bit words, each a slot index (bits 7:0).
pub const SQ: u32 = 0x0800;
/// Submission ring entries (indices wrap at this).
pub const SQ_ENTRIES: u32 = 256;

/// Completion/event ring: [`CQ_ENTRIES`] entries of [`CQ_ENTRY_BYTES`], see [`cqe`].
pub const CQ: u32 = 0x1000;
/// Completion ring entries (indices wrap at this; the phase bit flips on each wrap).
pub const CQ_ENTRIES: u32 = 256;
/// Size of a completion entry.
pub const CQ_ENTRY_BYTES: u32 = 16;

/// HCB slots: [`NUM_SLOTS`] HCBs of [`HCB_BYTES`]; slot `n` is at `HCBS + n * HCB_BYTES`.
/// The slot index is also the queue tag on the bus.
pub const HCBS: u32 = 0x2000;
/// Number of HCB slots.
pub const NUM_SLOTS: u32 = 64;
/// Size of one HCB.
pub const HCB_BYTES: u32 = 128;

/// Data area: every HCB buffer must lie inside `[DATA, CARD_MEM_BYTES)`.
pub const DATA: u32 = 0x4000;
/// Size of the data area.
pub const DATA_BYTES: u32 = CARD_MEM_BYTES - DATA;

const _: () = assert!(SCRATCH + SCRATCH_BYTES <= TARGETS);
const _: () = assert!(TARGETS + NUM_TARGETS * TARGET_BYTES <= SQ);
const _: () = assert!(SQ + SQ_ENTRIES * 4 <= CQ);
const _: () = assert!(CQ + CQ_ENTRIES * CQ_ENTRY_BYTES <= HCBS);
const _: () = assert!(HCBS + NUM_SLOTS * HCB_BYTES <= DATA);
const _: () = assert!(DATA < CARD_MEM_BYTES);
const _: () = assert!(HCB_BYTES.is_power_of_two() && NUM_SLOTS.is_power_of_two());

/// Byte address of slot `n`'s HCB.
pub const fn hcb_addr(slot: u32) -> u32 {
    HCBS + slot * HCB_BYTES
}

/// Byte address of completion entry `i`.
pub const fn cqe_addr(i: u32) -> u32 {
    CQ + (i % CQ_ENTRIES) * CQ_ENTRY_BYTES
}

/// Host Control Block: byte offsets inside an HCB. The host writes the request part
/// (`CTRL` .. `CDB`); the sequencer owns `FW_*`; `SENSE` receives autosense data.
pub mod hcb {
    /// Control word, see [`ctrl`].
    pub const CTRL: u32 = 0x00;
    /// Card-memory byte address of the data buffer.
    pub const DATA_ADDR: u32 = 0x04;
    /// Length of the data buffer in bytes (the expected transfer length).
    pub const DATA_LEN: u32 = 0x08;
    /// Bits 7:0: sense bytes wanted (at most [`SENSE_MAX`]).
    pub const SENSE_LEN: u32 = 0x0C;
    /// Command descriptor block, `CDB_MAX` bytes, `ctrl::CDB_LEN` of them used.
    pub const CDB: u32 = 0x10;
    /// Largest CDB.
    pub const CDB_MAX: u32 = 16;
    /// Firmware-owned words: saved data pointer and state.
    pub const FW_SAVED_PTR: u32 = 0x20;
    /// Firmware-owned: connection state.
    pub const FW_STATE: u32 = 0x24;
    /// Firmware-owned scratch inside the HCB, up to [`SENSE`].
    pub const FW_SCRATCH: u32 = 0x28;
    /// Autosense data.
    pub const SENSE: u32 = 0x40;
    /// Size of the sense area.
    pub const SENSE_MAX: u32 = 64;

    /// Fields of [`CTRL`]. The host keeps at most one untagged command (tag type NONE)
    /// per target and LUN in flight: an untagged reselection names only the nexus.
    pub mod ctrl {
        /// Target SCSI ID (3:0).
        pub const TARGET_MASK: u32 = 0xF;
        /// Logical unit (10:8).
        pub const LUN_SHIFT: u32 = 8;
        /// LUN mask after shifting.
        pub const LUN_MASK: u32 = 0x7;
        /// Data phase is DATA IN (device to card).
        pub const DIR_IN: u32 = 1 << 16;
        /// Data phase is DATA OUT (card to device).
        pub const DIR_OUT: u32 = 1 << 17;
        /// Do not grant disconnect privilege in IDENTIFY.
        pub const NO_DISCONNECT: u32 = 1 << 18;
        /// Do not fetch sense after CHECK CONDITION.
        pub const NO_AUTOSENSE: u32 = 1 << 19;
        /// Queue tag type (21:20), see [`super::tag`].
        pub const TAG_SHIFT: u32 = 20;
        /// Tag type mask after shifting.
        pub const TAG_MASK: u32 = 0x3;
        /// CDB length in bytes (31:24), 1..=16.
        pub const CDB_LEN_SHIFT: u32 = 24;
    }

    /// Tag types in [`ctrl::TAG_SHIFT`].
    pub mod tag {
        /// Untagged.
        pub const NONE: u32 = 0;
        /// SIMPLE QUEUE TAG.
        pub const SIMPLE: u32 = 1;
        /// ORDERED QUEUE TAG.
        pub const ORDERED: u32 = 2;
        /// HEAD OF QUEUE TAG.
        pub const HEAD: u32 = 3;
    }
}

/// Per-target table entry: byte offsets.
pub mod target {
    /// Host's goal: bits 7:0 SDTR period factor (0 = async), 15:8 offset, bit 16 wide,
    /// bit 17 tagged queuing allowed (the host's record: the firmware follows each HCB's
    /// tag type). The firmware negotiates whenever the goal differs from what it last
    /// negotiated for, never faster or with a larger offset than the goal.
    pub const GOAL: u32 = 0x0;
    /// Current agreement (firmware-written), same layout as [`GOAL`].
    pub const CURRENT: u32 = 0x4;
    /// Goal/current: period factor mask.
    pub const PERIOD_MASK: u32 = 0xFF;
    /// Goal/current: offset position.
    pub const OFFSET_SHIFT: u32 = 8;
    /// Goal/current: wide.
    pub const WIDE: u32 = 1 << 16;
    /// Goal: tagged queuing allowed.
    pub const TAGGED: u32 = 1 << 17;
    /// Host-written: the connection time limit for this target in core cycles (0 = the
    /// firmware's default, 1 s). While connected, a target that neither asserts REQ,
    /// finishes a handshake nor frees the bus within this time is given up: the bus is
    /// reset, its slot completes with `hba_status::TIMEOUT`.
    pub const TIMEOUT: u32 = 0x8;
}

/// Completion/event entry: four little-endian words. Word 0 is written last, so a host
/// that sees the expected phase in word 0 may read words 1..3.
pub mod cqe {
    /// Word 0 bit 31: phase; the first pass over the ring writes 1, the next 0, ...
    pub const PHASE: u32 = 1 << 31;
    /// Word 0 bits 30:24: entry type, see [`kind`].
    pub const TYPE_SHIFT: u32 = 24;
    /// Type mask after shifting.
    pub const TYPE_MASK: u32 = 0x7F;
    /// Word 0 bits 23:16: HBA status, see [`super::hba_status`].
    pub const HBA_STATUS_SHIFT: u32 = 16;
    /// Word 0 bits 15:8: SCSI status byte.
    pub const SCSI_STATUS_SHIFT: u32 = 8;
    /// Word 0 bits 7:0: slot.
    pub const SLOT_MASK: u32 = 0xFF;
    /// Word 2 bits 7:0: valid sense bytes in the HCB sense area.
    pub const SENSE_LEN_MASK: u32 = 0xFF;
    /// Word 2: autosense data is valid.
    pub const SENSE_VALID: u32 = 1 << 8;
    /// Word 2: autosense was attempted and failed.
    pub const AUTOSENSE_FAILED: u32 = 1 << 9;

    /// Entry types. In every type but [`kind::COMPLETION`], word 0 bits 23:0 and words 1
    /// and 2 are zero (the host refuses an event entry where they are not).
    pub mod kind {
        /// A slot completed; word 1 = residual, word 2 = sense, word 3 = detail.
        pub const COMPLETION: u32 = 1;
        /// Negotiation result; word 3 = target (3:0), period factor (15:8),
        /// offset (23:16), wide (24).
        pub const NEGOTIATED: u32 = 2;
        /// A bus reset was seen.
        pub const BUS_RESET: u32 = 3;
        /// Reselection by a nexus with no slot; word 3 = target (3:0), lun (10:8),
        /// tag (23:16).
        pub const UNKNOWN_RESEL: u32 = 4;
        /// The sequencer trapped (posted by the hardware, not the firmware); word 3 =
        /// the `SEQ_TRAP` value (PC, cause, code).
        pub const TRAP: u32 = 5;
    }

    /// Builds word 0 (without the phase bit, which the hardware adds).
    pub const fn word0(kind: u32, hba_status: u32, scsi_status: u32, slot: u32) -> u32 {
        ((kind & TYPE_MASK) << TYPE_SHIFT)
            | ((hba_status & 0xFF) << HBA_STATUS_SHIFT)
            | ((scsi_status & 0xFF) << SCSI_STATUS_SHIFT)
            | (slot & SLOT_MASK)
    }
}

/// Host requests to the firmware through the `SEQ_MAILBOX` register (the write raises
/// the sequencer's HOST event): bits 31:24 the request, 7:0 its argument. The host
/// writes the next request only after the firmware has answered the previous one in the
/// completion ring.
pub mod mailbox {
    /// Request code position.
    pub const REQ_SHIFT: u32 = 24;
    /// Argument mask.
    pub const ARG_MASK: u32 = 0xFF;
    /// Abort slot `arg` in whatever state it is (queued, connected, disconnected); it
    /// completes with `hba_status::ABORTED`. A slot that already completed has its
    /// completion in the ring and nothing more is posted.
    pub const ABORT: u32 = 1;
    /// Send BUS DEVICE RESET to target `arg`; its slots complete with
    /// `hba_status::BDR_SENT`, then a NEGOTIATED event reports its agreement reset to
    /// asynchronous narrow (so even an idle target's reset is answered).
    pub const BUS_DEVICE_RESET: u32 = 2;

    /// A mailbox word.
    pub const fn word(req: u32, arg: u32) -> u32 {
        (req << REQ_SHIFT) | (arg & ARG_MASK)
    }
}

/// HBA status in a completion entry.
pub mod hba_status {
    /// The command ran; the SCSI status byte is valid.
    pub const OK: u32 = 0x00;
    /// Selection timed out.
    pub const SEL_TIMEOUT: u32 = 0x01;
    /// The target released the bus unexpectedly.
    pub const UNEXP_BUS_FREE: u32 = 0x02;
    /// The HCB failed its hardware check; word 3 holds the [`super::check`] code.
    pub const BAD_HCB: u32 = 0x03;
    /// Unrecoverable parity error: bad parity on a data or status byte that the target
    /// did not send again after INITIATOR DETECTED ERROR (a DATA IN resend needs RESTORE
    /// POINTERS), so the buffer or status may be wrong.
    pub const PARITY: u32 = 0x04;
    /// The target sent or asked for more data than the buffer holds.
    pub const DATA_OVERRUN: u32 = 0x05;
    /// Aborted at the host's request.
    pub const ABORTED: u32 = 0x06;
    /// Ended by a bus reset.
    pub const BUS_RESET: u32 = 0x07;
    /// Ended by a BUS DEVICE RESET sent to its target.
    pub const BDR_SENT: u32 = 0x08;
    /// The target broke the protocol (illegal phase sequence or message): a reserved
    /// phase, or more synchronous REQs than the agreed offset. The firmware then resets
    /// the bus (the other slots end with `BUS_RESET`, a `BUS_RESET` event follows).
    pub const PROTOCOL: u32 = 0x09;
    /// The target started a data phase against the HCB's direction (DATA IN for a
    /// DIR_OUT buffer or DATA OUT for a DIR_IN one): refused with ABORT TASK, nothing
    /// of the phase reached the buffer (DATA IN dropped, DATA OUT sent zeros until the
    /// target took the abort). Residual = the whole remaining count.
    pub const WRONG_DIRECTION: u32 = 0x0A;
    /// The connected target stopped answering for longer than its time limit
    /// (`target::TIMEOUT`); the firmware reset the bus (a `BUS_RESET` event follows).
    pub const TIMEOUT: u32 = 0x0B;
}

/// Slot check results (`io::SLOT_CHECK`), computed by hardware when a slot is selected.
pub mod check {
    /// The HCB is well formed.
    pub const OK: u32 = 0;
    /// Slot index not below [`super::NUM_SLOTS`].
    pub const BAD_SLOT: u32 = 1;
    /// Target ID equals the HBA's own, or is above 7 on a narrow bus.
    pub const BAD_TARGET: u32 = 2;
    /// CDB length 0 or above 16.
    pub const BAD_CDB_LEN: u32 = 3;
    /// Data buffer not inside the data area (or length overflows).
    pub const BAD_BUFFER: u32 = 4;
    /// Both DIR_IN and DIR_OUT set.
    pub const BAD_DIRECTION: u32 = 5;
    /// Sense length above [`super::hcb::SENSE_MAX`].
    pub const BAD_SENSE_LEN: u32 = 6;
    /// The check is still running (reads as this until done, a few cycles).
    pub const BUSY: u32 = 0xFF;
}
