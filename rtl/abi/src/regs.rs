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

/// Fields of [`CAPS`].
pub mod caps {
    /// Card memory is present (DMA port and register window).
    pub const CARD_MEM: u32 = 1 << 0;
    /// The interrupt line and cause/enable registers are present.
    pub const IRQ: u32 = 1 << 1;
    /// The SCSI phase engine and sequencer are present (0 in this build).
    pub const SCSI: u32 = 1 << 2;
    /// What this build of the core reports.
    pub const PRESENT: u32 = CARD_MEM | IRQ;
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
    /// Software test interrupt, set through [`super::IRQ_SET`].
    pub const TEST: u32 = 1 << 31;
    /// Every cause bit this build implements.
    pub const ALL: u32 = TEST;
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
        fields: &[bit("TEST", irq::TEST, "Software test interrupt.")],
    },
    Reg {
        name: "IRQ_ENABLE",
        offset: IRQ_ENABLE,
        access: Access::Rw,
        reset: Some(0),
        doc: "Interrupt enable mask (bits as IRQ_CAUSE).",
        fields: &[bit("TEST", irq::TEST, "Software test interrupt.")],
    },
    Reg {
        name: "IRQ_SET",
        offset: IRQ_SET,
        access: Access::Wo,
        reset: Some(0),
        doc: "Write 1s to set software-settable cause bits.",
        fields: &[bit("TEST", irq::TEST, "Software test interrupt.")],
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
