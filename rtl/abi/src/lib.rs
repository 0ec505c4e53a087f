//! The hardware/software contract of the FPGA SCSI HBA, in one place.
//!
//! Everything both sides must agree on lives here and nowhere else: the register map
//! (offsets, fields, access, reset values), the card-memory map and identification
//! constants. The RTL (`hba-rtl`), the host driver, the co-simulation and the tests all
//! import it. `docs/abi.md` is generated from [`reference_markdown`] and a test fails
//! when the two differ (`UPDATE_DOCS=1 cargo test -p hba-abi` rewrites it).
//!
//! No dependencies, no behaviour beyond decoding helpers.

#![no_std]
extern crate alloc;

pub mod isa;
pub mod layout;
pub mod mem;
mod reference;
pub mod regs;

pub use reference::reference_markdown;

/// Value of the `ID` register: ASCII "SCSI".
pub const MAGIC: u32 = 0x5343_5349;

/// Version of this contract, as `major.minor.patch`; the `VERSION` register holds
/// `major << 16 | minor << 8 | patch`.
pub const VERSION: (u8, u8, u8) = (0, 2, 0);

/// The `VERSION` register value for [`VERSION`].
pub const fn version_word() -> u32 {
    ((VERSION.0 as u32) << 16) | ((VERSION.1 as u32) << 8) | VERSION.2 as u32
}

/// Core clock frequency the default timing values assume, in Hz.
pub const CORE_CLOCK_HZ: u64 = 100_000_000;

/// Nanoseconds per core clock cycle at [`CORE_CLOCK_HZ`].
pub const CORE_CLOCK_NS: u64 = 1_000_000_000 / CORE_CLOCK_HZ;

/// AXI response codes (AMBA AXI4-Lite `BRESP`/`RRESP`).
pub mod axi {
    /// Normal access success.
    pub const RESP_OKAY: u32 = 0b00;
    /// Slave error: unmapped address, or a write to a read-only register.
    pub const RESP_SLVERR: u32 = 0b10;
}
