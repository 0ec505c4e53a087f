//! Generates the human reference (`docs/abi.md`) from the tables of this crate.

use crate::{mem, regs, MAGIC, VERSION};
use alloc::format;
use alloc::string::String;
use core::fmt::Write;

/// The reference document for the contract, in Markdown.
pub fn reference_markdown() -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# HBA hardware/software contract (generated)\n");
    let _ = writeln!(
        s,
        "Generated from `rtl/abi` by `UPDATE_DOCS=1 cargo test -p hba-abi`; do not edit.\n"
    );
    let _ = writeln!(
        s,
        "Contract version {}.{}.{}; ID magic `{:#010x}`.\n",
        VERSION.0, VERSION.1, VERSION.2, MAGIC
    );
    let _ = writeln!(s, "## Address map\n");
    let _ = writeln!(s, "| what | value |\n|---|---|");
    let rows: [(&str, String); 7] = [
        ("AXI4-Lite address bits", format!("{}", mem::AXIL_ADDR_BITS)),
        (
            "register space (user BAR)",
            format!("{:#x} bytes", mem::REG_SPACE_BYTES),
        ),
        (
            "register block",
            format!("[0, {:#x})", mem::REG_BLOCK_BYTES),
        ),
        (
            "card memory",
            format!(
                "{:#x} bytes, {}-byte words",
                mem::CARD_MEM_BYTES,
                mem::CARD_MEM_WORD_BYTES
            ),
        ),
        (
            "card-memory window (BAR)",
            format!(
                "[{:#x}, {:#x})",
                mem::CARD_MEM_WINDOW,
                mem::CARD_MEM_WINDOW + mem::CARD_MEM_BYTES
            ),
        ),
        (
            "card memory on the DMA side (AXI)",
            format!("{:#x}", mem::CARD_MEM_DMA_BASE),
        ),
        (
            "DMA alignment",
            format!("{} bytes", mem::CARD_MEM_DMA_ALIGN),
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    let _ = writeln!(s, "\n## Registers\n");
    let _ = writeln!(
        s,
        "Writes to RO registers and any access to an unmapped offset answer SLVERR \
         (reads then return 0). WSTRB byte lanes are honoured. WO registers read as 0.\n"
    );
    let _ = writeln!(
        s,
        "| offset | name | access | reset | meaning |\n|---|---|---|---|---|"
    );
    for r in regs::REGISTERS {
        let reset = match r.reset {
            Some(v) => format!("`{v:#010x}`"),
            None => String::from("-"),
        };
        let _ = writeln!(
            s,
            "| `{:#05x}` | {} | {} | {} | {} |",
            r.offset,
            r.name,
            r.access.name(),
            reset,
            r.doc
        );
    }
    for r in regs::REGISTERS.iter().filter(|r| !r.fields.is_empty()) {
        let _ = writeln!(s, "\n### {} fields\n", r.name);
        let _ = writeln!(s, "| bits | field | meaning |\n|---|---|---|");
        for f in r.fields {
            let bits = if f.width == 1 {
                format!("{}", f.lsb)
            } else {
                format!("{}:{}", f.lsb + f.width - 1, f.lsb)
            };
            let _ = writeln!(s, "| {} | {} | {} |", bits, f.name, f.doc);
        }
    }
    s
}
