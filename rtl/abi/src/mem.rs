//! Address map: the AXI4-Lite register space (XDMA user BAR) and card memory.
//!
//! Card memory is one true dual-port RAM of 32-bit words. Port A is the native BRAM
//! port for the XDMA AXI BRAM controller (DMA); port B serves the core, and through it
//! the register space exposes a window onto the same memory for BAR access.

/// Width of the AXI4-Lite address bus, in bits (the register space is 2^18 bytes).
pub const AXIL_ADDR_BITS: u32 = 18;

/// Size of the AXI4-Lite register space (the user BAR), in bytes.
pub const REG_SPACE_BYTES: u32 = 1 << AXIL_ADDR_BITS;

/// Registers occupy `[0, REG_BLOCK_BYTES)` of the register space.
pub const REG_BLOCK_BYTES: u32 = 0x1000;

/// Card memory size in bytes.
pub const CARD_MEM_BYTES: u32 = 128 * 1024;

/// Card memory word width in bytes (32-bit words, byte enables per lane).
pub const CARD_MEM_WORD_BYTES: u32 = 4;

/// Bits of word address into card memory.
pub const CARD_MEM_ADDR_BITS: u32 = 15;

/// Offset of the card-memory window in the register space: byte `x` of card memory
/// is at register-space offset `CARD_MEM_WINDOW + x`.
pub const CARD_MEM_WINDOW: u32 = 0x2_0000;

/// AXI address of card memory on the XDMA DMA side (the BRAM controller's base in the
/// Vivado address editor); the XDMA `h2c`/`c2h` file offset of card byte `x` is
/// `CARD_MEM_DMA_BASE + x`.
pub const CARD_MEM_DMA_BASE: u64 = 0x0000_0000;

/// Alignment of DMA transfers to card memory (address and length), in bytes.
pub const CARD_MEM_DMA_ALIGN: u64 = 4;

const _: () = assert!(1 << CARD_MEM_ADDR_BITS == CARD_MEM_BYTES / CARD_MEM_WORD_BYTES);
const _: () = assert!(CARD_MEM_WINDOW + CARD_MEM_BYTES <= REG_SPACE_BYTES);
const _: () = assert!(REG_BLOCK_BYTES <= CARD_MEM_WINDOW);
