//! Sequencer firmware for the FPGA SCSI HBA and its assembler.
//!
//! - [`asm`]: the assembler (syntax in `ASM.md`; the `hba-asm` binary wraps it).
//! - [`builder`]: a Rust program builder for tests over the same encoders.
//! - [`default_image`]: the image baked into the instruction RAM, assembled from
//!   `fw/default.s` by this crate's build script. Until the protocol firmware exists
//!   (issue 5) it is an idle loop that waits for the host mailbox or a bus reset, so a
//!   freshly configured card is quiet and the watchdog stays fed.
//!
//! The instruction set is documented in `ISA.md`; its encodings live in `hba_abi::isa`.

pub mod asm;
pub mod builder;

/// The default image as little-endian bytes (assembled by the build script).
const DEFAULT_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/default.bin"));

/// Symbol map of the default image (`0xADDR NAME` per label), for describing a PC.
pub const DEFAULT_SYMBOLS: &str = include_str!(concat!(env!("OUT_DIR"), "/default.map"));

/// Listing of the default image.
pub const DEFAULT_LISTING: &str = include_str!(concat!(env!("OUT_DIR"), "/default.lst"));

/// The image baked into the instruction RAM at power-up.
pub fn default_image() -> Vec<u32> {
    DEFAULT_IMAGE
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hba_abi::isa::{decode, ev, io, op, IRAM_WORDS};

    #[test]
    fn default_image_is_the_idle_loop_from_source() {
        let img = default_image();
        assert!(img.len() <= IRAM_WORDS as usize);
        assert_eq!(img.len(), 3);
        let w = decode(img[0]);
        assert_eq!((w.op, w.imm16), (op::WAIT, ev::HOST | ev::BUS_RESET));
        let o = decode(img[1]);
        assert_eq!((o.op, o.imm16, o.rs), (op::OUT, io::EV_CLEAR, 0));
        assert_eq!((decode(img[2]).op, decode(img[2]).target), (op::JMP, 0));
        let map = asm::SymbolMap::parse(DEFAULT_SYMBOLS).unwrap();
        assert_eq!(map.describe(2), "idle+2");
    }
}
