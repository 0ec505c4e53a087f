//! Assembles the default sequencer image (`fw/default.s`) with this crate's own
//! assembler, so the image baked into the RTL is built from source by the workspace
//! build. Writes `default.bin` (little-endian words), `default.map` (symbol map) and
//! `default.lst` (listing) into OUT_DIR.

#[allow(dead_code, unused_imports)]
#[path = "src/asm/mod.rs"]
mod asm;

use std::path::PathBuf;

fn main() {
    let src = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("fw");
    println!("cargo:rerun-if-changed=fw");
    println!("cargo:rerun-if-changed=src/asm");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    match asm::assemble_file(src.join("default.s")) {
        Ok(a) => {
            std::fs::write(out.join("default.bin"), a.image_bytes()).expect("write image");
            std::fs::write(out.join("default.map"), a.symbol_map_text()).expect("write map");
            std::fs::write(out.join("default.lst"), a.listing_text()).expect("write listing");
        }
        Err(e) => {
            eprintln!("\nhba-firmware build: fw/default.s does not assemble:\n{e}");
            std::process::exit(1);
        }
    }
}
