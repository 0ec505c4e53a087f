//! Sequencer firmware for the FPGA SCSI HBA and its assembler.
//!
//! - [`asm`]: the assembler (syntax in `ASM.md`; the `hba-asm` binary wraps it).
//! - [`builder`]: a Rust program builder for tests over the same encoders, and
//!   [`testprog`], the minimal one-command program written with it.
//! - [`default_image`]: the image baked into the instruction RAM, assembled from
//!   `fw/default.s` by this crate's build script: the initiator firmware (`fw/main.s`
//!   and its includes).
//!
//! The instruction set is documented in `ISA.md`; its encodings live in `hba_abi::isa`.

pub mod asm;
pub mod builder;
pub mod testprog;

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
    use hba_abi::isa::IRAM_WORDS;

    #[test]
    fn default_image_is_the_initiator_firmware_assembled_from_source() {
        let img = default_image();
        assert!(!img.is_empty() && img.len() <= IRAM_WORDS as usize);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fw");
        let main = asm::assemble_file(dir.join("main.s")).expect("main.s assembles");
        assert_eq!(img, main.words, "default.s is main.s");
        let map = asm::SymbolMap::parse(DEFAULT_SYMBOLS).unwrap();
        assert_eq!(map.describe(0), "init");
        assert!(DEFAULT_LISTING.contains("main.s"));
    }
}
