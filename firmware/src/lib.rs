//! Sequencer firmware for the FPGA SCSI HBA and (issue 5) its assembler.
//!
//! The instruction set is documented in `ISA.md`; its encodings live in `hba_abi::isa`.
//! Until the assembler and the protocol firmware exist, the default image is an idle
//! loop: it waits for the host mailbox or a bus reset, clears the event and waits again,
//! so a freshly configured card is quiet and the watchdog stays fed.

use hba_abi::isa::{enc_i, enc_j, ev, io, op};

pub mod asm;
pub mod builder;

/// The image baked into the instruction RAM at power-up.
pub fn default_image() -> Vec<u32> {
    vec![
        // 0: wait for the host or a bus reset; r0 = events
        enc_i(op::WAIT, 0, 0, ev::HOST | ev::BUS_RESET),
        // 1: clear the sticky bits that woke us
        enc_i(op::OUT, 0, 0, io::EV_CLEAR),
        // 2: again
        enc_j(op::JMP, 0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use hba_abi::isa::{decode, IRAM_WORDS};

    #[test]
    fn default_image_fits_and_decodes() {
        let img = default_image();
        assert!(img.len() <= IRAM_WORDS as usize);
        assert_eq!(decode(img[0]).op, op::WAIT);
        assert_eq!(decode(img[1]).rs, 0);
        assert_eq!(decode(img[2]).target, 0);
    }
}
