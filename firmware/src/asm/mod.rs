//! The sequencer assembler: text in, instruction-RAM image, listing and symbol map out.
//! The syntax is documented in `firmware/ASM.md`; encodings come from `hba_abi::isa`
//! (the same encoders [`crate::builder`] uses), and the predefined constants from the
//! `hba_abi` Rust constants ([`abi_symbols`]).
//!
//! ```
//! use hba_firmware::asm::{assemble_str, NoIncludes};
//! let a = assemble_str("fw.s", "top: wait r0, EV_HOST\n jmp top\n", &mut NoIncludes).unwrap();
//! assert_eq!(a.words.len(), 2);
//! assert_eq!(a.symbols.describe(1), "top+1");
//! ```
//!
//! Errors are collected (not only the first) and each names `file:line:column`; no
//! input makes the assembler panic.

mod assembler;
mod encoder;
mod error;
mod expr;
mod lexer;
mod listing;
mod parser;
mod source;
mod symbols;

pub use error::{Diagnostic, Errors};
pub use listing::{render_listing, ListingLine, SymbolMap, SymbolMapError};
pub use source::{join_relative, FsResolver, MemResolver, NoIncludes, Resolver, Source};
pub use symbols::abi_symbols;

use hba_abi::isa;
use std::path::Path;

/// The result of a successful assembly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assembly {
    /// The image: one word per instruction-RAM address from 0 (at most `IRAM_WORDS`).
    pub words: Vec<u32>,
    /// Every label (global and local `scope.name`) with its address.
    pub symbols: SymbolMap,
    /// Every source line (includes expanded in place) with its address and words.
    pub listing: Vec<ListingLine>,
}

impl Assembly {
    /// The image as little-endian bytes (4 per word), the `hba-asm -o` format.
    pub fn image_bytes(&self) -> Vec<u8> {
        self.words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// The instruction-RAM checksum of the image (`hba_abi::isa::checksum`).
    pub fn checksum(&self) -> u32 {
        isa::checksum(&self.words)
    }

    /// The listing as text.
    pub fn listing_text(&self) -> String {
        render_listing(&self.listing)
    }

    /// The symbol map as text (`0xADDR NAME` lines; [`SymbolMap::parse`] reads it).
    pub fn symbol_map_text(&self) -> String {
        self.symbols.render()
    }
}

/// Assembles `text`, called `name` in messages; `.include`s go through `resolver`.
pub fn assemble_str(
    name: &str,
    text: &str,
    resolver: &mut dyn Resolver,
) -> Result<Assembly, Errors> {
    let src = Source {
        name: name.to_string(),
        text: text.to_string(),
    };
    let mut files: Vec<String> = Vec::new();
    let r = assembler::assemble(src, resolver, &mut files);
    match r {
        Ok(o) => Ok(Assembly {
            words: o.words,
            symbols: o.labels,
            listing: o.listing,
        }),
        Err(errs) => Err(Errors(
            errs.into_iter()
                .map(|(_, e)| Diagnostic {
                    file: files
                        .get(e.loc.file as usize)
                        .cloned()
                        .unwrap_or_else(|| name.to_string()),
                    line: e.loc.line,
                    column: e.loc.col,
                    message: e.message,
                    notes: e.notes,
                })
                .collect(),
        )),
    }
}

/// Assembles a file from the file system; includes are relative to the including file.
pub fn assemble_file(path: impl AsRef<Path>) -> Result<Assembly, Errors> {
    let name = path.as_ref().to_string_lossy().into_owned();
    let text = match std::fs::read(path.as_ref()) {
        Ok(b) => match String::from_utf8(b) {
            Ok(t) => t,
            Err(e) => {
                return Err(one_error(
                    &name,
                    format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
                ))
            }
        },
        Err(e) => return Err(one_error(&name, format!("cannot read: {e}"))),
    };
    assemble_str(&name, &text, &mut FsResolver)
}

fn one_error(file: &str, message: String) -> Errors {
    Errors(vec![Diagnostic {
        file: file.to_string(),
        line: 1,
        column: 1,
        message,
        notes: Vec::new(),
    }])
}
