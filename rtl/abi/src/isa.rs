//! The sequencer's instruction set: encodings, trap causes, I/O ports, events and
//! phase-engine commands. `firmware/ISA.md` is the prose; this is the source of truth.
//!
//! Instructions are 32 bits. Fields:
//!
//! ```text
//!  31    26 25  22 21  18 17        10 9         0
//! | opcode |  rd  |  rs  |   imm16 (15:0)         |   ALU-imm, MOVI, memory, IN/OUT, WAIT, TRAP
//! | opcode |  rd  | cond |  imm8    |  target    |   BRI  (rd vs imm8)
//! | opcode |  rd  |  rs  |cond(17:14)| target    |   BRR  (rd vs rs)
//! | opcode |      unused             |  target    |   JMP, CALL
//! ```
//!
//! Sixteen 32-bit registers `r0..r15` (no hard zero). No flags: branches compare.
//! Any opcode or condition not listed traps with [`trap::BAD_OPCODE`].

/// Instruction RAM depth in words.
pub const IRAM_WORDS: u32 = 1024;
/// Bits of an instruction address (program counter width).
pub const PC_BITS: u32 = 10;
/// Depth of the call stack; a deeper `CALL` traps with [`trap::STACK_OVERFLOW`].
pub const STACK_DEPTH: u32 = 8;
/// Number of general registers.
pub const NUM_REGS: u32 = 16;

const _: () = assert!(1 << PC_BITS == IRAM_WORDS);

/// Bit position of the opcode field.
pub const OP_SHIFT: u32 = 26;
/// Bit position of `rd`.
pub const RD_SHIFT: u32 = 22;
/// Bit position of `rs` (and of the BRI condition).
pub const RS_SHIFT: u32 = 18;
/// Bit position of the BRR condition.
pub const BRR_COND_SHIFT: u32 = 14;
/// Bit position of the BRI 8-bit immediate.
pub const BRI_IMM_SHIFT: u32 = 10;

/// Opcodes (6 bits).
pub mod op {
    /// Does nothing.
    pub const NOP: u32 = 0x01;
    /// Stops the sequencer (clears RUN); the host sees `SEQ_STATUS.RUNNING` = 0.
    pub const HALT: u32 = 0x02;
    /// Traps with [`super::trap::SOFTWARE`]; `imm16[7:0]` is the code reported.
    pub const TRAP: u32 = 0x03;
    /// `pc = target`.
    pub const JMP: u32 = 0x04;
    /// Push `pc + 1`, `pc = target`.
    pub const CALL: u32 = 0x05;
    /// Pop `pc`.
    pub const RET: u32 = 0x06;
    /// Block until `EVENTS & imm16 != 0`, then `rd = EVENTS` (whole word).
    pub const WAIT: u32 = 0x07;
    /// `rd = imm16` (zero-extended).
    pub const MOVI: u32 = 0x08;
    /// `rd = imm16 << 16 | rd[15:0]`.
    pub const MOVHI: u32 = 0x09;
    /// `rd = rs + imm16`.
    pub const ADDI: u32 = 0x10;
    /// `rd = rs - imm16`.
    pub const SUBI: u32 = 0x11;
    /// `rd = rs & imm16`.
    pub const ANDI: u32 = 0x12;
    /// `rd = rs | imm16`.
    pub const ORI: u32 = 0x13;
    /// `rd = rs ^ imm16`.
    pub const XORI: u32 = 0x14;
    /// `rd = rs << imm16[4:0]`.
    pub const SHLI: u32 = 0x15;
    /// `rd = rs >> imm16[4:0]` (logical).
    pub const SHRI: u32 = 0x16;
    /// `rd = rd + rs`.
    pub const ADD: u32 = 0x18;
    /// `rd = rd - rs`.
    pub const SUB: u32 = 0x19;
    /// `rd = rd & rs`.
    pub const AND: u32 = 0x1A;
    /// `rd = rd | rs`.
    pub const OR: u32 = 0x1B;
    /// `rd = rd ^ rs`.
    pub const XOR: u32 = 0x1C;
    /// `rd = rd << rs[4:0]`.
    pub const SHL: u32 = 0x1D;
    /// `rd = rd >> rs[4:0]` (logical).
    pub const SHR: u32 = 0x1E;
    /// `rd = rs`.
    pub const MOV: u32 = 0x1F;
    /// `rd = mem32[rs + imm16]`; the address must be word aligned and inside card memory.
    pub const LDW: u32 = 0x20;
    /// `rd = mem8[rs + imm16]` (zero-extended).
    pub const LDB: u32 = 0x21;
    /// `mem32[rs + imm16] = rd`.
    pub const STW: u32 = 0x22;
    /// `mem8[rs + imm16] = rd[7:0]`.
    pub const STB: u32 = 0x23;
    /// `rd = mem32[HCB + imm16 % HCB_BYTES]`: the current slot's HCB (see `IO_SLOT`).
    pub const LDWH: u32 = 0x24;
    /// `rd = mem8[HCB + imm16 % HCB_BYTES]`.
    pub const LDBH: u32 = 0x25;
    /// `mem32[HCB + imm16 % HCB_BYTES] = rd`.
    pub const STWH: u32 = 0x26;
    /// `mem8[HCB + imm16 % HCB_BYTES] = rd[7:0]`.
    pub const STBH: u32 = 0x27;
    /// `rd = io[imm16[7:0]]`; an unknown port traps with [`super::trap::BAD_IO`].
    pub const IN: u32 = 0x28;
    /// `io[imm16[7:0]] = rs`.
    pub const OUT: u32 = 0x29;
    /// Branch to `target` if `cond(rd, imm8)`.
    pub const BRI: u32 = 0x30;
    /// Branch to `target` if `cond(rd, rs)`.
    pub const BRR: u32 = 0x31;
}

/// Branch conditions (4 bits); `b` is `imm8` (BRI) or the value of `rs` (BRR).
pub mod cond {
    /// `rd == b`.
    pub const EQ: u32 = 0;
    /// `rd != b`.
    pub const NE: u32 = 1;
    /// `rd < b`, unsigned.
    pub const LTU: u32 = 2;
    /// `rd >= b`, unsigned.
    pub const GEU: u32 = 3;
    /// Bit `b[4:0]` of `rd` is set.
    pub const BS: u32 = 4;
    /// Bit `b[4:0]` of `rd` is clear.
    pub const BC: u32 = 5;
    /// `rd & b != 0`.
    pub const ANY: u32 = 6;
    /// `rd & b == 0`.
    pub const NONE: u32 = 7;
}

/// Trap causes reported in `SEQ_TRAP[23:16]`.
pub mod trap {
    /// No trap.
    pub const NONE: u32 = 0;
    /// Undefined opcode or branch condition (an erased word, 0, is one).
    pub const BAD_OPCODE: u32 = 1;
    /// `CALL` with the stack full.
    pub const STACK_OVERFLOW: u32 = 2;
    /// `RET` with the stack empty.
    pub const STACK_UNDERFLOW: u32 = 3;
    /// No `WAIT` executed for `SEQ_WDOG` cycles.
    pub const WATCHDOG: u32 = 4;
    /// Memory access outside card memory or a misaligned word access.
    pub const BAD_ADDRESS: u32 = 5;
    /// A `TRAP` instruction; `SEQ_TRAP[31:24]` holds its code.
    pub const SOFTWARE: u32 = 6;
    /// `IN`/`OUT` to a port that does not exist (or `OUT` to a read-only one).
    pub const BAD_IO: u32 = 7;

    /// Name of a cause, for tools.
    pub const fn name(c: u32) -> &'static str {
        match c {
            NONE => "none",
            BAD_OPCODE => "bad opcode",
            STACK_OVERFLOW => "stack overflow",
            STACK_UNDERFLOW => "stack underflow",
            WATCHDOG => "watchdog",
            BAD_ADDRESS => "bad address",
            SOFTWARE => "software trap",
            BAD_IO => "bad I/O port",
            _ => "unknown",
        }
    }
}

/// Sequencer I/O ports (`IN`/`OUT`, 8-bit port number).
pub mod io {
    /// R: event word, see [`super::ev`] (same value `WAIT` returns).
    pub const EVENTS: u32 = 0x00;
    /// W: write-1-to-clear sticky event bits.
    pub const EV_CLEAR: u32 = 0x01;
    /// W: phase engine command, see [`super::pcmd`]; R: the last command word.
    pub const PCMD: u32 = 0x02;
    /// RW: target ID for `SELECT` (bits 3:0).
    pub const TARGET: u32 = 0x03;
    /// W: byte for `SEND_BYTE` (7:0); R: byte latched by `RECV_BYTE` (7:0), bit 8 = its
    /// parity was bad.
    pub const BUS_DATA: u32 = 0x04;
    /// RW: DMA byte offset inside the selected window; advances as bytes move.
    pub const XFER_OFFSET: u32 = 0x05;
    /// RW: DMA bytes remaining; counts down as bytes move (the residual after a stop).
    pub const XFER_COUNT: u32 = 0x06;
    /// RW: transfer agreement, see [`super::xmode`].
    pub const XFER_MODE: u32 = 0x07;
    /// R: reselecting target ID (3:0), valid after `ev::RESELECTED`.
    pub const RESEL_ID: u32 = 0x08;
    /// W: select slot (HCB) `n` and check it; R: current slot.
    pub const SLOT: u32 = 0x09;
    /// R: result of the last slot check, see [`crate::layout::check`] (0 = good).
    pub const SLOT_CHECK: u32 = 0x0A;
    /// RW: DMA window, see [`super::window`].
    pub const WINDOW: u32 = 0x0B;
    /// R: live bus signals, same layout as the `SCSI_BUS` register.
    pub const BUS: u32 = 0x0C;
    /// R: own SCSI ID (3:0) and bit 8 = wide bus enabled (from `SCSI_ID`).
    pub const OWN_ID: u32 = 0x0D;
    /// R: submission ring producer index (the host's doorbell value).
    pub const SQ_PI: u32 = 0x10;
    /// RW: submission ring consumer index (the sequencer's).
    pub const SQ_CI: u32 = 0x11;
    /// W: completion entry word 1 (staged).
    pub const CQ_W1: u32 = 0x12;
    /// W: completion entry word 2 (staged).
    pub const CQ_W2: u32 = 0x13;
    /// W: completion entry word 3 (staged).
    pub const CQ_W3: u32 = 0x14;
    /// W: completion entry word 0 without the phase bit; posts the entry (stalls while
    /// the ring is full).
    pub const CQ_POST: u32 = 0x15;
    /// RW: countdown timer in cycles; `ev::TIMER` when it reaches 0.
    pub const TIMER: u32 = 0x16;
    /// R: value the host last wrote to `SEQ_MAILBOX` (raises `ev::HOST`).
    pub const MAILBOX: u32 = 0x17;
}

/// Event bits (`WAIT`, `io::EVENTS`). Level bits follow the hardware; sticky bits stay
/// set until cleared through `io::EV_CLEAR`.
pub mod ev {
    /// Level: REQ asserted by the connected target, the phase engine idle; the phase is
    /// in [`PHASE_SHIFT`].
    pub const REQ: u32 = 1 << 0;
    /// Level: the submission ring is not empty (`SQ_PI != SQ_CI`).
    pub const DOORBELL: u32 = 1 << 1;
    /// Sticky: the last phase-engine command finished.
    pub const CMD_DONE: u32 = 1 << 2;
    /// Sticky: selection timed out (the engine released the bus).
    pub const SEL_TIMEOUT: u32 = 1 << 3;
    /// Sticky: reselected; `io::RESEL_ID` holds the target.
    pub const RESELECTED: u32 = 1 << 4;
    /// Sticky: the connected target released the bus (expected or not).
    pub const BUS_FREE: u32 = 1 << 5;
    /// Sticky: the bus went free without `pcmd::EXPECT_FREE`.
    pub const UNEXP_FREE: u32 = 1 << 6;
    /// Sticky: RST was seen (from us or another device).
    pub const BUS_RESET: u32 = 1 << 7;
    /// Sticky: a received byte had bad parity.
    pub const PARITY_ERR: u32 = 1 << 8;
    /// Sticky: `io::TIMER` reached 0.
    pub const TIMER: u32 = 1 << 9;
    /// Sticky: the host wrote `SEQ_MAILBOX`.
    pub const HOST: u32 = 1 << 10;
    /// Sticky: a DMA stopped because the phase changed before its count ran out.
    pub const PHASE_MISMATCH: u32 = 1 << 11;
    /// Level: the phase engine is executing a command.
    pub const BUSY: u32 = 1 << 12;
    /// Level: connected to a target (selected or reselected, bus not free).
    pub const CONNECTED: u32 = 1 << 13;
    /// Sticky: the target sent more synchronous REQs than the agreed offset (a protocol
    /// error; the extra REQ is not counted, a running DMA ends). Only a bus reset
    /// recovers the bus.
    pub const OFFSET_ERR: u32 = 1 << 14;
    /// Sticky bits (cleared by `io::EV_CLEAR`).
    pub const STICKY: u32 = CMD_DONE
        | SEL_TIMEOUT
        | RESELECTED
        | BUS_FREE
        | UNEXP_FREE
        | BUS_RESET
        | PARITY_ERR
        | TIMER
        | HOST
        | PHASE_MISMATCH
        | OFFSET_ERR;
    /// Bit position of the 3-bit phase (MSG, C/D, I/O) in the event word.
    pub const PHASE_SHIFT: u32 = 16;
}

/// Information-transfer phases as `MSG<<2 | C/D<<1 | I/O` (`(EVENTS >> 16) & 7`).
pub mod phase {
    /// DATA OUT.
    pub const DATA_OUT: u32 = 0b000;
    /// DATA IN.
    pub const DATA_IN: u32 = 0b001;
    /// COMMAND.
    pub const COMMAND: u32 = 0b010;
    /// STATUS.
    pub const STATUS: u32 = 0b011;
    /// MESSAGE OUT.
    pub const MSG_OUT: u32 = 0b110;
    /// MESSAGE IN.
    pub const MSG_IN: u32 = 0b111;
}

/// Phase-engine commands, written to `io::PCMD`: bits 3:0 the command, above them flags.
pub mod pcmd {
    /// Wait for bus free, arbitrate, select `io::TARGET`; retries arbitration until it
    /// wins, is reselected (`ev::RESELECTED`, command abandoned) or times out.
    pub const SELECT: u32 = 1;
    /// Send `io::BUS_DATA` in the current OUT phase with a full REQ/ACK handshake.
    pub const SEND_BYTE: u32 = 2;
    /// Latch the byte of the current IN phase into `io::BUS_DATA`; ACK stays negated.
    pub const RECV_BYTE: u32 = 3;
    /// Assert ACK for the byte latched by `RECV_BYTE`, wait for REQ to drop, release ACK.
    pub const ACK: u32 = 4;
    /// Move `io::XFER_COUNT` bytes between the window and the bus in the current DATA
    /// phase, with the `io::XFER_MODE` agreement.
    pub const DMA: u32 = 5;
    /// Assert ATN now.
    pub const SET_ATN: u32 = 6;
    /// Negate ATN now.
    pub const CLR_ATN: u32 = 7;
    /// The target is about to release the bus: the next bus free is expected.
    pub const EXPECT_FREE: u32 = 8;
    /// Assert RST for `TIM_RESET_HOLD` cycles. Accepted even while another command runs
    /// (it ends that command, with `ev::CMD_DONE`): the way out of a wedged handshake.
    pub const BUS_RESET: u32 = 9;
    /// Flag (SELECT): assert ATN during selection.
    pub const F_ATN: u32 = 1 << 8;
    /// Flag (SEND_BYTE): negate ATN before asserting ACK (last MESSAGE OUT byte).
    pub const F_LAST: u32 = 1 << 9;
    /// Flag (SEND_BYTE, ACK): assert ATN before asserting ACK (e.g. to reject a message).
    pub const F_ATN_BEFORE_ACK: u32 = 1 << 10;
    /// Flag (DMA): bit bucket. Moves `XFER_COUNT` bytes without touching card memory
    /// (DATA IN dropped, DATA OUT zeros) and without the window limit: how an overrun
    /// is drained. Byte commands in a synchronous data phase end at once without a
    /// handshake, so a synchronous overrun can only be drained this way.
    pub const F_DISCARD: u32 = 1 << 11;
}

/// `io::XFER_MODE` fields. The phase engine reads the agreement live and counts
/// synchronous REQs from the first edge of a data phase, so firmware writes it when the
/// agreement changes (after negotiation, on (re)connection), not when DMA starts.
pub mod xmode {
    /// Synchronous REQ/ACK offset (7:0); 0 = asynchronous.
    pub const OFFSET_MASK: u32 = 0xFF;
    /// Largest synchronous offset the phase engine's receive FIFO holds; firmware must
    /// never agree to more (SDTR counter-offer).
    pub const MAX_OFFSET: u32 = 16;
    /// Synchronous transfer period in core cycles (15:8).
    pub const PERIOD_SHIFT: u32 = 8;
    /// 16-bit wide data phases.
    pub const WIDE: u32 = 1 << 16;
}

/// `io::WINDOW` values: which area of the current HCB the DMA addresses.
pub mod window {
    /// The HCB's data buffer (`DATA_ADDR`, `DATA_LEN`).
    pub const DATA: u32 = 0;
    /// The HCB's sense area (`layout::hcb::SENSE`, `SENSE_LEN` bytes).
    pub const SENSE: u32 = 1;
}

// Encoders. `const fn`s so firmware images can be built at compile time.

const fn f(v: u32, bits: u32, shift: u32) -> u32 {
    (v & ((1 << bits) - 1)) << shift
}

/// Encodes `op rd, rs, imm16`.
pub const fn enc_i(op: u32, rd: u32, rs: u32, imm16: u32) -> u32 {
    f(op, 6, OP_SHIFT) | f(rd, 4, RD_SHIFT) | f(rs, 4, RS_SHIFT) | (imm16 & 0xFFFF)
}

/// Encodes a jump-class instruction (`JMP`, `CALL`).
pub const fn enc_j(op: u32, target: u32) -> u32 {
    f(op, 6, OP_SHIFT) | (target & (IRAM_WORDS - 1))
}

/// Encodes `BRI`: branch to `target` if `cond(rd, imm8)`.
pub const fn enc_bri(c: u32, rd: u32, imm8: u32, target: u32) -> u32 {
    f(op::BRI, 6, OP_SHIFT)
        | f(rd, 4, RD_SHIFT)
        | f(c, 4, RS_SHIFT)
        | f(imm8, 8, BRI_IMM_SHIFT)
        | (target & (IRAM_WORDS - 1))
}

/// Encodes `BRR`: branch to `target` if `cond(rd, rs)`.
pub const fn enc_brr(c: u32, rd: u32, rs: u32, target: u32) -> u32 {
    f(op::BRR, 6, OP_SHIFT)
        | f(rd, 4, RD_SHIFT)
        | f(rs, 4, RS_SHIFT)
        | f(c, 4, BRR_COND_SHIFT)
        | (target & (IRAM_WORDS - 1))
}

/// Fields of an instruction word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fields {
    /// Opcode.
    pub op: u32,
    /// Destination / first operand register.
    pub rd: u32,
    /// Source register (or BRI condition).
    pub rs: u32,
    /// Low 16 bits.
    pub imm16: u32,
    /// BRR condition.
    pub brr_cond: u32,
    /// BRI immediate.
    pub bri_imm: u32,
    /// Branch / jump target.
    pub target: u32,
}

/// Splits an instruction word into its fields.
pub const fn decode(w: u32) -> Fields {
    Fields {
        op: w >> OP_SHIFT,
        rd: (w >> RD_SHIFT) & 0xF,
        rs: (w >> RS_SHIFT) & 0xF,
        imm16: w & 0xFFFF,
        brr_cond: (w >> BRR_COND_SHIFT) & 0xF,
        bri_imm: (w >> BRI_IMM_SHIFT) & 0xFF,
        target: w & (IRAM_WORDS - 1),
    }
}

/// Checksum of an instruction RAM image as the hardware computes it (`SEQ_CSUM`):
/// `c = rotl(c, 1) ^ word` over all [`IRAM_WORDS`] words, missing words read as 0.
pub fn checksum(image: &[u32]) -> u32 {
    let mut c = 0u32;
    for i in 0..IRAM_WORDS as usize {
        c = c.rotate_left(1) ^ image.get(i).copied().unwrap_or(0);
    }
    c
}
