//! The register map: byte offsets into the AXI4-Lite register space, field masks, and
//! [`REGISTERS`], the table the RTL test, `hbactl regs` and `docs/abi.md` are built from.
//!
//! Rules the RTL implements for every register: 32-bit accesses; `WSTRB` byte lanes
//! honoured; a write to an `RO` register or to an unmapped offset answers `SLVERR` and
//! changes nothing; a read of an unmapped offset answers `SLVERR` with data 0; reads of
//! `WO` registers return 0.

use crate::{mem, version_word, MAGIC};

/// Identification magic, [`crate::MAGIC`] ("SCSI").
pub const ID: u32 = 0x000;
/// Contract version, see [`crate::VERSION`].
pub const VERSION: u32 = 0x004;
/// Capability bits, see [`caps`].
pub const CAPS: u32 = 0x008;
/// Scratch register for bring-up: read/write, no effect.
pub const SCRATCH: u32 = 0x00C;
/// Control bits, see [`control`].
pub const CONTROL: u32 = 0x010;
/// Live status bits, see [`status`].
pub const STATUS: u32 = 0x014;
/// Interrupt cause, write 1 to clear, see [`irq`].
pub const IRQ_CAUSE: u32 = 0x020;
/// Interrupt enable mask, same bits as [`IRQ_CAUSE`].
pub const IRQ_ENABLE: u32 = 0x024;
/// Interrupt test: write 1s to set the corresponding software-settable cause bits.
pub const IRQ_SET: u32 = 0x028;
/// Free-running core clock cycle counter (wraps).
pub const CNT_CYCLES: u32 = 0x040;
/// Interrupts raised: rising edges of `usr_irq_req`.
pub const CNT_IRQ_RAISED: u32 = 0x044;
/// Interrupt acknowledges received on `usr_irq_ack`.
pub const CNT_IRQ_ACKED: u32 = 0x048;
/// AXI4-Lite accesses answered with `SLVERR`.
pub const CNT_AXI_ERRORS: u32 = 0x04C;
/// Card memory size in bytes.
pub const MEM_SIZE: u32 = 0x060;
/// Offset of the card-memory window in the register space.
pub const MEM_WINDOW: u32 = 0x064;

/// Sequencer control, see [`seq_ctrl`].
pub const SEQ_CTRL: u32 = 0x080;
/// Sequencer status, see [`seq_status`].
pub const SEQ_STATUS: u32 = 0x084;
/// Sequencer program counter (9:0).
pub const SEQ_PC: u32 = 0x088;
/// Breakpoint: address (9:0), bit 31 enable. The sequencer halts before executing it.
pub const SEQ_BRK: u32 = 0x08C;
/// Last trap: PC (9:0), cause (23:16, `isa::trap`), TRAP code (31:24).
pub const SEQ_TRAP: u32 = 0x090;
/// Instruction RAM address for [`SEQ_IDATA`] (9:0).
pub const SEQ_IADDR: u32 = 0x094;
/// Instruction RAM data at [`SEQ_IADDR`]; each access (read or write) advances the address.
pub const SEQ_IDATA: u32 = 0x098;
/// Checksum of the whole instruction RAM (`isa::checksum`), valid when not `CSUM_BUSY`.
pub const SEQ_CSUM: u32 = 0x09C;
/// Watchdog: cycles the sequencer may run without executing `WAIT` (0 = off).
pub const SEQ_WDOG: u32 = 0x0A0;
/// Mailbox to the sequencer: a write sets `ev::HOST` and `io::MAILBOX`.
pub const SEQ_MAILBOX: u32 = 0x0A4;

/// Submission ring doorbell: the producer index (7:0) after the host's last entry.
pub const SQ_DOORBELL: u32 = 0x100;
/// Submission ring consumer index (7:0), advanced by the sequencer.
pub const SQ_CONSUMER: u32 = 0x104;
/// Completion ring producer index (7:0) and the phase of the next entry (bit 31).
pub const CQ_PRODUCER: u32 = 0x108;
/// Completion ring consumer index (7:0), written by the host after it has read entries.
pub const CQ_CONSUMER: u32 = 0x10C;
/// Interrupt moderation: raise `irq::CQ` once this many entries are pending (0 or 1 =
/// every entry).
pub const IRQ_MOD_COUNT: u32 = 0x110;
/// Interrupt moderation: raise `irq::CQ` this many cycles after the first pending entry
/// (0 = no time limit; then only the count applies).
pub const IRQ_MOD_TIME: u32 = 0x114;
/// Slots posted by the host (sum of doorbell advances).
pub const CNT_SUBMITTED: u32 = 0x120;
/// Completion entries of type COMPLETION posted.
pub const CNT_COMPLETED: u32 = 0x124;
/// Received bytes with bad parity.
pub const CNT_PARITY_ERRORS: u32 = 0x128;
/// Selection timeouts.
pub const CNT_SEL_TIMEOUTS: u32 = 0x12C;
/// Bus resets seen (RST asserted, by anyone).
pub const CNT_BUS_RESETS: u32 = 0x130;
/// Completion or event entries posted (all types).
pub const CNT_POSTED: u32 = 0x134;

/// Own SCSI ID (3:0) and bit 8 wide bus (16 IDs).
pub const SCSI_ID: u32 = 0x180;
/// Live bus signals, see [`scsi_bus`]: DB (15:0), DBP (17:16), control lines above.
pub const SCSI_BUS: u32 = 0x184;
/// SCSI control, see [`scsi_ctrl`].
pub const SCSI_CTRL: u32 = 0x188;
/// Bus settle delay in cycles (SPI: 400 ns).
pub const TIM_SETTLE: u32 = 0x190;
/// Arbitration delay in cycles (SPI: 2.4 us).
pub const TIM_ARB: u32 = 0x194;
/// Bus free delay in cycles (SPI: 800 ns).
pub const TIM_BUS_FREE: u32 = 0x198;
/// Bus clear delay in cycles (SPI: 800 ns).
pub const TIM_BUS_CLEAR: u32 = 0x19C;
/// Deskew plus cable skew in cycles (SPI: 45 + 4 ns); data setup before ACK/REQ.
pub const TIM_DESKEW: u32 = 0x1A0;
/// Selection timeout in cycles (SPI recommends 250 ms).
pub const TIM_SEL_TIMEOUT: u32 = 0x1A4;
/// RST hold time in cycles (SPI: at least 25 us).
pub const TIM_RESET_HOLD: u32 = 0x1A8;

/// Fields of [`CAPS`].
pub mod caps {
    /// Card memory is present (DMA port and register window).
    pub const CARD_MEM: u32 = 1 << 0;
    /// The interrupt line and cause/enable registers are present.
    pub const IRQ: u32 = 1 << 1;
    /// The SCSI phase engine and sequencer are present.
    pub const SCSI: u32 = 1 << 2;
    /// What this build of the core reports.
    pub const PRESENT: u32 = CARD_MEM | IRQ | SCSI;
}

/// Fields of [`CONTROL`].
pub mod control {
    /// Soft reset: clears scratch, interrupt cause and enable, and all counters but
    /// [`super::CNT_CYCLES`]. Self-clearing; reads 0.
    pub const SOFT_RESET: u32 = 1 << 0;
}

/// Fields of [`STATUS`].
pub mod status {
    /// Level of the `usr_irq_req` output.
    pub const IRQ_REQ: u32 = 1 << 0;
}

/// Interrupt cause bits, shared by [`IRQ_CAUSE`], [`IRQ_ENABLE`] and [`IRQ_SET`].
pub mod irq {
    /// Completion/event entries are pending (after moderation).
    pub const CQ: u32 = 1 << 0;
    /// The sequencer trapped (see [`super::SEQ_TRAP`]); it is halted.
    pub const FATAL: u32 = 1 << 1;
    /// The sequencer halted at its breakpoint or on `HALT`.
    pub const HALTED: u32 = 1 << 2;
    /// A bus reset was seen.
    pub const BUS_RESET: u32 = 1 << 3;
    /// Software test interrupt, set through [`super::IRQ_SET`].
    pub const TEST: u32 = 1 << 31;
    /// Every cause bit this build implements (all are settable through IRQ_SET).
    pub const ALL: u32 = CQ | FATAL | HALTED | BUS_RESET | TEST;
}

/// Fields of [`SEQ_CTRL`].
pub mod seq_ctrl {
    /// Run (1) or halt (0). Reads back the running state. Ignored while trapped.
    pub const RUN: u32 = 1 << 0;
    /// Execute one instruction while halted; self-clearing.
    pub const STEP: u32 = 1 << 1;
    /// Set the PC to 0, empty the stack, clear a trap; self-clearing.
    pub const PC_RESET: u32 = 1 << 2;
    /// Start computing [`super::SEQ_CSUM`]; self-clearing.
    pub const CSUM_START: u32 = 1 << 3;
}

/// Fields of [`SEQ_STATUS`].
pub mod seq_status {
    /// The sequencer is running.
    pub const RUNNING: u32 = 1 << 0;
    /// The sequencer trapped (see `SEQ_TRAP`).
    pub const TRAPPED: u32 = 1 << 1;
    /// It stopped at the breakpoint.
    pub const AT_BREAK: u32 = 1 << 2;
    /// The checksum is being computed.
    pub const CSUM_BUSY: u32 = 1 << 3;
    /// Blocked in `WAIT`.
    pub const WAITING: u32 = 1 << 4;
    /// Call stack depth (11:8).
    pub const DEPTH_SHIFT: u32 = 8;
}

/// Fields of [`SCSI_CTRL`].
pub mod scsi_ctrl {
    /// Assert RST for `TIM_RESET_HOLD` cycles; works whatever the sequencer does.
    pub const BUS_RESET: u32 = 1 << 0;
    /// Release every SCSI signal the core drives and abandon the connection (also
    /// done by a bus reset).
    pub const RELEASE: u32 = 1 << 1;
}

/// Layout of [`SCSI_BUS`] (and the sequencer's `io::BUS`): 1 = asserted.
pub mod scsi_bus {
    /// DB(15:0).
    pub const DB_MASK: u32 = 0xFFFF;
    /// DBP0 (bit 16), DBP1 (bit 17).
    pub const DBP_SHIFT: u32 = 16;
    /// BSY.
    pub const BSY: u32 = 1 << 18;
    /// SEL.
    pub const SEL: u32 = 1 << 19;
    /// RST.
    pub const RST: u32 = 1 << 20;
    /// ATN.
    pub const ATN: u32 = 1 << 21;
    /// ACK.
    pub const ACK: u32 = 1 << 22;
    /// REQ.
    pub const REQ: u32 = 1 << 23;
    /// MSG.
    pub const MSG: u32 = 1 << 24;
    /// C/D.
    pub const CD: u32 = 1 << 25;
    /// I/O.
    pub const IO: u32 = 1 << 26;
}

/// Reset values of the timing registers at [`crate::CORE_CLOCK_HZ`] (SPI minimums
/// rounded up to whole cycles).
pub mod timing {
    /// Bus settle, 400 ns.
    pub const SETTLE: u32 = 40;
    /// Arbitration delay, 2.4 us.
    pub const ARB: u32 = 240;
    /// Bus free delay, 800 ns.
    pub const BUS_FREE: u32 = 80;
    /// Bus clear delay, 800 ns.
    pub const BUS_CLEAR: u32 = 80;
    /// Deskew 45 ns + cable skew 4 ns.
    pub const DESKEW: u32 = 5;
    /// Selection timeout, 250 ms.
    pub const SEL_TIMEOUT: u32 = 25_000_000;
    /// Reset hold, 25 us.
    pub const RESET_HOLD: u32 = 2_500;
    /// Selection abort time, 200 us: how long SEL stays asserted after a selection
    /// timeout released the IDs. Fixed in the phase engine (not a register).
    pub const SEL_ABORT: u32 = 20_000;
    /// Default own ID.
    pub const OWN_ID: u32 = 7;
    /// Default watchdog: 100 ms without a `WAIT`.
    pub const WDOG: u32 = 10_000_000;
}

/// How software may access a register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read-only; writes answer `SLVERR`.
    Ro,
    /// Read/write.
    Rw,
    /// Read; write 1 to clear the bits written.
    W1c,
    /// Write-only; reads return 0.
    Wo,
}

impl Access {
    /// Short name as used in the reference.
    pub const fn name(self) -> &'static str {
        match self {
            Access::Ro => "RO",
            Access::Rw => "RW",
            Access::W1c => "W1C",
            Access::Wo => "WO",
        }
    }
}

/// A bit field of a register.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// Field name.
    pub name: &'static str,
    /// Lowest bit.
    pub lsb: u32,
    /// Width in bits.
    pub width: u32,
    /// One-line meaning.
    pub doc: &'static str,
}

impl Field {
    /// Mask of the field in the register.
    pub const fn mask(&self) -> u32 {
        if self.width >= 32 {
            u32::MAX
        } else {
            ((1u32 << self.width) - 1) << self.lsb
        }
    }

    /// The field's value in `word`, shifted down.
    pub const fn extract(&self, word: u32) -> u32 {
        (word & self.mask()) >> self.lsb
    }
}

/// A register of the map.
#[derive(Clone, Copy, Debug)]
pub struct Reg {
    /// Register name.
    pub name: &'static str,
    /// Byte offset in the register space.
    pub offset: u32,
    /// Access type.
    pub access: Access,
    /// Value after reset, or `None` where it is not fixed (free-running counters).
    pub reset: Option<u32>,
    /// One-line meaning.
    pub doc: &'static str,
    /// Named fields; empty when the register is one value.
    pub fields: &'static [Field],
}

const fn bit(name: &'static str, mask: u32, doc: &'static str) -> Field {
    Field {
        name,
        lsb: mask.trailing_zeros(),
        width: 1,
        doc,
    }
}

const IRQ_FIELDS: &[Field] = &[
    bit("CQ", irq::CQ, "Completion/event entries pending."),
    bit("FATAL", irq::FATAL, "Sequencer trapped."),
    bit(
        "HALTED",
        irq::HALTED,
        "Sequencer halted (breakpoint or HALT).",
    ),
    bit("BUS_RESET", irq::BUS_RESET, "Bus reset seen."),
    bit("TEST", irq::TEST, "Software test interrupt."),
];

/// Every register of the map, in offset order.
pub const REGISTERS: &[Reg] = &[
    Reg {
        name: "ID",
        offset: ID,
        access: Access::Ro,
        reset: Some(MAGIC),
        doc: "Identification magic, ASCII \"SCSI\".",
        fields: &[],
    },
    Reg {
        name: "VERSION",
        offset: VERSION,
        access: Access::Ro,
        reset: Some(version_word()),
        doc: "Contract version.",
        fields: &[
            Field {
                name: "MAJOR",
                lsb: 16,
                width: 8,
                doc: "Incompatible changes.",
            },
            Field {
                name: "MINOR",
                lsb: 8,
                width: 8,
                doc: "Compatible additions.",
            },
            Field {
                name: "PATCH",
                lsb: 0,
                width: 8,
                doc: "Fixes.",
            },
        ],
    },
    Reg {
        name: "CAPS",
        offset: CAPS,
        access: Access::Ro,
        reset: Some(caps::PRESENT),
        doc: "Capabilities of this build.",
        fields: &[
            bit(
                "CARD_MEM",
                caps::CARD_MEM,
                "Card memory present (DMA port and BAR window).",
            ),
            bit(
                "IRQ",
                caps::IRQ,
                "Interrupt line and cause/enable registers present.",
            ),
            bit(
                "SCSI",
                caps::SCSI,
                "SCSI phase engine and sequencer present.",
            ),
        ],
    },
    Reg {
        name: "SCRATCH",
        offset: SCRATCH,
        access: Access::Rw,
        reset: Some(0),
        doc: "Scratch register for bring-up; no effect.",
        fields: &[],
    },
    Reg {
        name: "CONTROL",
        offset: CONTROL,
        access: Access::Rw,
        reset: Some(0),
        doc: "Control.",
        fields: &[bit(
            "SOFT_RESET",
            control::SOFT_RESET,
            "Clear scratch, interrupt state and counters (not CNT_CYCLES); self-clearing.",
        )],
    },
    Reg {
        name: "STATUS",
        offset: STATUS,
        access: Access::Ro,
        reset: Some(0),
        doc: "Live status.",
        fields: &[bit("IRQ_REQ", status::IRQ_REQ, "Level of usr_irq_req.")],
    },
    Reg {
        name: "IRQ_CAUSE",
        offset: IRQ_CAUSE,
        access: Access::W1c,
        reset: Some(0),
        doc: "Interrupt cause; write 1 to clear. usr_irq_req = |(CAUSE & ENABLE).",
        fields: IRQ_FIELDS,
    },
    Reg {
        name: "IRQ_ENABLE",
        offset: IRQ_ENABLE,
        access: Access::Rw,
        reset: Some(0),
        doc: "Interrupt enable mask (bits as IRQ_CAUSE).",
        fields: IRQ_FIELDS,
    },
    Reg {
        name: "IRQ_SET",
        offset: IRQ_SET,
        access: Access::Wo,
        reset: Some(0),
        doc: "Write 1s to set software-settable cause bits.",
        fields: IRQ_FIELDS,
    },
    Reg {
        name: "CNT_CYCLES",
        offset: CNT_CYCLES,
        access: Access::Ro,
        reset: None,
        doc: "Core clock cycles, free-running (wraps).",
        fields: &[],
    },
    Reg {
        name: "CNT_IRQ_RAISED",
        offset: CNT_IRQ_RAISED,
        access: Access::Ro,
        reset: Some(0),
        doc: "Interrupts raised (rising edges of usr_irq_req).",
        fields: &[],
    },
    Reg {
        name: "CNT_IRQ_ACKED",
        offset: CNT_IRQ_ACKED,
        access: Access::Ro,
        reset: Some(0),
        doc: "Acknowledges received on usr_irq_ack.",
        fields: &[],
    },
    Reg {
        name: "CNT_AXI_ERRORS",
        offset: CNT_AXI_ERRORS,
        access: Access::Ro,
        reset: Some(0),
        doc: "AXI4-Lite accesses answered with SLVERR.",
        fields: &[],
    },
    Reg {
        name: "MEM_SIZE",
        offset: MEM_SIZE,
        access: Access::Ro,
        reset: Some(mem::CARD_MEM_BYTES),
        doc: "Card memory size in bytes.",
        fields: &[],
    },
    Reg {
        name: "MEM_WINDOW",
        offset: MEM_WINDOW,
        access: Access::Ro,
        reset: Some(mem::CARD_MEM_WINDOW),
        doc: "Offset of the card-memory window in the register space.",
        fields: &[],
    },
    Reg {
        name: "SEQ_CTRL",
        offset: SEQ_CTRL,
        access: Access::Rw,
        reset: Some(seq_ctrl::RUN),
        doc: "Sequencer control (reads back RUN only).",
        fields: &[
            bit(
                "RUN",
                seq_ctrl::RUN,
                "Run (1) or halt (0); ignored while trapped.",
            ),
            bit(
                "STEP",
                seq_ctrl::STEP,
                "Execute one instruction while halted.",
            ),
            bit(
                "PC_RESET",
                seq_ctrl::PC_RESET,
                "PC = 0, empty stack, clear trap.",
            ),
            bit("CSUM_START", seq_ctrl::CSUM_START, "Compute SEQ_CSUM."),
        ],
    },
    Reg {
        name: "SEQ_STATUS",
        offset: SEQ_STATUS,
        access: Access::Ro,
        reset: None,
        doc: "Sequencer status (it runs the default image from reset, so the value moves).",
        fields: &[
            bit("RUNNING", seq_status::RUNNING, "Running."),
            bit("TRAPPED", seq_status::TRAPPED, "Trapped (see SEQ_TRAP)."),
            bit(
                "AT_BREAK",
                seq_status::AT_BREAK,
                "Stopped at the breakpoint.",
            ),
            bit(
                "CSUM_BUSY",
                seq_status::CSUM_BUSY,
                "Checksum being computed.",
            ),
            bit("WAITING", seq_status::WAITING, "Blocked in WAIT."),
            Field {
                name: "DEPTH",
                lsb: 8,
                width: 4,
                doc: "Call stack depth.",
            },
        ],
    },
    Reg {
        name: "SEQ_PC",
        offset: SEQ_PC,
        access: Access::Ro,
        reset: None,
        doc: "Sequencer program counter (0 at reset, then the default image runs).",
        fields: &[],
    },
    Reg {
        name: "SEQ_BRK",
        offset: SEQ_BRK,
        access: Access::Rw,
        reset: Some(0),
        doc: "Breakpoint.",
        fields: &[
            Field {
                name: "ADDR",
                lsb: 0,
                width: 10,
                doc: "Instruction address.",
            },
            Field {
                name: "ENABLE",
                lsb: 31,
                width: 1,
                doc: "Halt before executing ADDR.",
            },
        ],
    },
    Reg {
        name: "SEQ_TRAP",
        offset: SEQ_TRAP,
        access: Access::Ro,
        reset: Some(0),
        doc: "Last trap.",
        fields: &[
            Field {
                name: "PC",
                lsb: 0,
                width: 10,
                doc: "PC of the trapping instruction.",
            },
            Field {
                name: "CAUSE",
                lsb: 16,
                width: 8,
                doc: "isa::trap cause.",
            },
            Field {
                name: "CODE",
                lsb: 24,
                width: 8,
                doc: "TRAP instruction code.",
            },
        ],
    },
    Reg {
        name: "SEQ_IADDR",
        offset: SEQ_IADDR,
        access: Access::Rw,
        reset: Some(0),
        doc: "Instruction RAM address for SEQ_IDATA (9:0).",
        fields: &[],
    },
    Reg {
        name: "SEQ_IDATA",
        offset: SEQ_IDATA,
        access: Access::Rw,
        reset: None,
        doc: "Instruction RAM word at SEQ_IADDR; each access advances SEQ_IADDR.",
        fields: &[],
    },
    Reg {
        name: "SEQ_CSUM",
        offset: SEQ_CSUM,
        access: Access::Ro,
        reset: None,
        doc: "Instruction RAM checksum (isa::checksum) after CSUM_START.",
        fields: &[],
    },
    Reg {
        name: "SEQ_WDOG",
        offset: SEQ_WDOG,
        access: Access::Rw,
        reset: Some(timing::WDOG),
        doc: "Watchdog: cycles without WAIT before a trap (0 = off).",
        fields: &[],
    },
    Reg {
        name: "SEQ_MAILBOX",
        offset: SEQ_MAILBOX,
        access: Access::Rw,
        reset: Some(0),
        doc: "Mailbox to the sequencer; a write raises its HOST event.",
        fields: &[],
    },
    Reg {
        name: "SQ_DOORBELL",
        offset: SQ_DOORBELL,
        access: Access::Rw,
        reset: Some(0),
        doc: "Submission ring producer index (7:0); one write per batch.",
        fields: &[],
    },
    Reg {
        name: "SQ_CONSUMER",
        offset: SQ_CONSUMER,
        access: Access::Ro,
        reset: Some(0),
        doc: "Submission ring consumer index (7:0).",
        fields: &[],
    },
    Reg {
        name: "CQ_PRODUCER",
        offset: CQ_PRODUCER,
        access: Access::Ro,
        reset: Some(0x8000_0000),
        doc: "Completion ring producer.",
        fields: &[
            Field {
                name: "INDEX",
                lsb: 0,
                width: 8,
                doc: "Next entry the core writes.",
            },
            Field {
                name: "PHASE",
                lsb: 31,
                width: 1,
                doc: "Phase bit of that entry.",
            },
        ],
    },
    Reg {
        name: "CQ_CONSUMER",
        offset: CQ_CONSUMER,
        access: Access::Rw,
        reset: Some(0),
        doc: "Completion ring consumer index (7:0), written by the host.",
        fields: &[],
    },
    Reg {
        name: "IRQ_MOD_COUNT",
        offset: IRQ_MOD_COUNT,
        access: Access::Rw,
        reset: Some(1),
        doc: "Raise CQ after this many pending entries (0/1 = each).",
        fields: &[],
    },
    Reg {
        name: "IRQ_MOD_TIME",
        offset: IRQ_MOD_TIME,
        access: Access::Rw,
        reset: Some(0),
        doc: "Raise CQ this many cycles after the first pending entry (0 = off).",
        fields: &[],
    },
    Reg {
        name: "CNT_SUBMITTED",
        offset: CNT_SUBMITTED,
        access: Access::Ro,
        reset: Some(0),
        doc: "Slots posted by the host (doorbell advances).",
        fields: &[],
    },
    Reg {
        name: "CNT_COMPLETED",
        offset: CNT_COMPLETED,
        access: Access::Ro,
        reset: Some(0),
        doc: "COMPLETION entries posted.",
        fields: &[],
    },
    Reg {
        name: "CNT_PARITY_ERRORS",
        offset: CNT_PARITY_ERRORS,
        access: Access::Ro,
        reset: Some(0),
        doc: "Received bytes with bad parity.",
        fields: &[],
    },
    Reg {
        name: "CNT_SEL_TIMEOUTS",
        offset: CNT_SEL_TIMEOUTS,
        access: Access::Ro,
        reset: Some(0),
        doc: "Selection timeouts.",
        fields: &[],
    },
    Reg {
        name: "CNT_BUS_RESETS",
        offset: CNT_BUS_RESETS,
        access: Access::Ro,
        reset: Some(0),
        doc: "Bus resets seen.",
        fields: &[],
    },
    Reg {
        name: "CNT_POSTED",
        offset: CNT_POSTED,
        access: Access::Ro,
        reset: Some(0),
        doc: "Ring entries posted (all types).",
        fields: &[],
    },
    Reg {
        name: "SCSI_ID",
        offset: SCSI_ID,
        access: Access::Rw,
        reset: Some(timing::OWN_ID),
        doc: "Own SCSI ID and bus width.",
        fields: &[
            Field {
                name: "ID",
                lsb: 0,
                width: 4,
                doc: "Own ID.",
            },
            Field {
                name: "WIDE",
                lsb: 8,
                width: 1,
                doc: "Wide bus: 16 IDs.",
            },
        ],
    },
    Reg {
        name: "SCSI_BUS",
        offset: SCSI_BUS,
        access: Access::Ro,
        reset: None,
        doc: "Live bus signals (1 = asserted).",
        fields: &[
            Field {
                name: "DB",
                lsb: 0,
                width: 16,
                doc: "DB(15:0).",
            },
            Field {
                name: "DBP",
                lsb: 16,
                width: 2,
                doc: "DBP1..0.",
            },
            bit("BSY", scsi_bus::BSY, "BSY."),
            bit("SEL", scsi_bus::SEL, "SEL."),
            bit("RST", scsi_bus::RST, "RST."),
            bit("ATN", scsi_bus::ATN, "ATN."),
            bit("ACK", scsi_bus::ACK, "ACK."),
            bit("REQ", scsi_bus::REQ, "REQ."),
            bit("MSG", scsi_bus::MSG, "MSG."),
            bit("CD", scsi_bus::CD, "C/D."),
            bit("IO", scsi_bus::IO, "I/O."),
        ],
    },
    Reg {
        name: "SCSI_CTRL",
        offset: SCSI_CTRL,
        access: Access::Rw,
        reset: Some(0),
        doc: "SCSI control; bits self-clear.",
        fields: &[
            bit(
                "BUS_RESET",
                scsi_ctrl::BUS_RESET,
                "Assert RST for TIM_RESET_HOLD.",
            ),
            bit(
                "RELEASE",
                scsi_ctrl::RELEASE,
                "Release all signals, drop the connection.",
            ),
        ],
    },
    Reg {
        name: "TIM_SETTLE",
        offset: TIM_SETTLE,
        access: Access::Rw,
        reset: Some(timing::SETTLE),
        doc: "Bus settle delay, cycles.",
        fields: &[],
    },
    Reg {
        name: "TIM_ARB",
        offset: TIM_ARB,
        access: Access::Rw,
        reset: Some(timing::ARB),
        doc: "Arbitration delay, cycles.",
        fields: &[],
    },
    Reg {
        name: "TIM_BUS_FREE",
        offset: TIM_BUS_FREE,
        access: Access::Rw,
        reset: Some(timing::BUS_FREE),
        doc: "Bus free delay, cycles.",
        fields: &[],
    },
    Reg {
        name: "TIM_BUS_CLEAR",
        offset: TIM_BUS_CLEAR,
        access: Access::Rw,
        reset: Some(timing::BUS_CLEAR),
        doc: "Bus clear delay, cycles.",
        fields: &[],
    },
    Reg {
        name: "TIM_DESKEW",
        offset: TIM_DESKEW,
        access: Access::Rw,
        reset: Some(timing::DESKEW),
        doc: "Deskew + cable skew, cycles.",
        fields: &[],
    },
    Reg {
        name: "TIM_SEL_TIMEOUT",
        offset: TIM_SEL_TIMEOUT,
        access: Access::Rw,
        reset: Some(timing::SEL_TIMEOUT),
        doc: "Selection timeout, cycles.",
        fields: &[],
    },
    Reg {
        name: "TIM_RESET_HOLD",
        offset: TIM_RESET_HOLD,
        access: Access::Rw,
        reset: Some(timing::RESET_HOLD),
        doc: "RST hold, cycles.",
        fields: &[],
    },
];

/// The register at byte offset `offset`, if any.
pub fn by_offset(offset: u32) -> Option<&'static Reg> {
    REGISTERS.iter().find(|r| r.offset == offset)
}

/// The register named `name` (case-insensitive), if any.
pub fn by_name(name: &str) -> Option<&'static Reg> {
    REGISTERS.iter().find(|r| r.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_aligned_unique_sorted_and_inside_the_register_block() {
        for pair in REGISTERS.windows(2) {
            assert!(
                pair[0].offset < pair[1].offset,
                "{} / {}",
                pair[0].name,
                pair[1].name
            );
        }
        for r in REGISTERS {
            assert_eq!(r.offset % 4, 0, "{}", r.name);
            assert!(r.offset < mem::REG_BLOCK_BYTES, "{}", r.name);
        }
    }

    #[test]
    fn fields_do_not_overlap_and_fit() {
        for r in REGISTERS {
            let mut seen = 0u32;
            for f in r.fields {
                assert!(
                    f.width >= 1 && f.lsb + f.width <= 32,
                    "{}.{}",
                    r.name,
                    f.name
                );
                assert_eq!(seen & f.mask(), 0, "{}.{} overlaps", r.name, f.name);
                seen |= f.mask();
            }
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(by_offset(SCRATCH).map(|r| r.name), Some("SCRATCH"));
        assert_eq!(by_name("irq_cause").map(|r| r.offset), Some(IRQ_CAUSE));
        assert!(by_offset(0x004 + 2).is_none());
    }
}
