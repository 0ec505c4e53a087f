//! Generates the human reference (`docs/abi.md`) from the tables of this crate.

use crate::layout::{self, check, cqe, hba_status, hcb};
use crate::{isa, mem, regs, MAGIC, VERSION};
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
    layout_section(&mut s);
    isa_section(&mut s);
    s
}

fn table(s: &mut String, head: &str, rows: &[(String, &str)]) {
    let _ = writeln!(s, "| {head} | meaning |\n|---|---|");
    for (k, v) in rows {
        let _ = writeln!(s, "| {k} | {v} |");
    }
}

fn layout_section(s: &mut String) {
    let _ = writeln!(s, "\n## Card-memory layout\n");
    let rows = [
        (
            layout::SCRATCH,
            layout::SCRATCH_BYTES,
            "sequencer scratch (firmware-owned)",
        ),
        (
            layout::TARGETS,
            layout::NUM_TARGETS * layout::TARGET_BYTES,
            "per-target table: host goal (word 0), current agreement (word 1), connection time limit in cycles (word 2, 0 = 1 s)",
        ),
        (
            layout::SQ,
            layout::SQ_ENTRIES * 4,
            "submission ring: 32-bit slot indices",
        ),
        (
            layout::CQ,
            layout::CQ_ENTRIES * layout::CQ_ENTRY_BYTES,
            "completion/event ring: 16-byte entries",
        ),
        (
            layout::HCBS,
            layout::NUM_SLOTS * layout::HCB_BYTES,
            "HCB slots (slot index = queue tag)",
        ),
        (
            layout::DATA,
            layout::DATA_BYTES,
            "data area: every HCB buffer lies here",
        ),
    ];
    let _ = writeln!(s, "| start | bytes | use |\n|---|---|---|");
    for (a, n, d) in rows {
        let _ = writeln!(s, "| `{a:#07x}` | {n:#x} | {d} |");
    }
    let _ = writeln!(
        s,
        "\n{} slots of {} bytes; rings of {} (submission) and {} (completion) entries.\n",
        layout::NUM_SLOTS,
        layout::HCB_BYTES,
        layout::SQ_ENTRIES,
        layout::CQ_ENTRIES
    );
    let _ = writeln!(s, "### HCB\n");
    table(
        s,
        "offset",
        &[
            (format!("`{:#04x}`", hcb::CTRL), "CTRL: target 3:0, LUN 10:8, DIR_IN 16, DIR_OUT 17, NO_DISCONNECT 18, NO_AUTOSENSE 19, tag type 21:20 (0 none, 1 simple, 2 ordered, 3 head), CDB length 31:24"),
            (format!("`{:#04x}`", hcb::DATA_ADDR), "data buffer card-memory address"),
            (format!("`{:#04x}`", hcb::DATA_LEN), "data buffer length"),
            (format!("`{:#04x}`", hcb::SENSE_LEN), "sense bytes wanted (7:0), at most 64"),
            (format!("`{:#04x}`", hcb::CDB), "CDB, 16 bytes"),
            (format!("`{:#04x}`", hcb::FW_SAVED_PTR), "firmware-owned state up to the sense area"),
            (format!("`{:#04x}`", hcb::SENSE), "autosense data, 64 bytes"),
        ],
    );
    let _ = writeln!(s, "\n### Completion/event entry\n");
    table(
        s,
        "word",
        &[
            (
                String::from("0"),
                "phase 31, type 30:24, HBA status 23:16, SCSI status 15:8, slot 7:0; written last",
            ),
            (String::from("1"), "residual byte count"),
            (
                String::from("2"),
                "sense length 7:0, SENSE_VALID 8, AUTOSENSE_FAILED 9",
            ),
            (String::from("3"), "type-specific detail"),
        ],
    );
    let _ = writeln!(s);
    table(
        s,
        "type",
        &[
            (format!("{}", cqe::kind::COMPLETION), "COMPLETION"),
            (
                format!("{}", cqe::kind::NEGOTIATED),
                "NEGOTIATED: word 3 = target 3:0, period 15:8, offset 23:16, wide 24",
            ),
            (format!("{}", cqe::kind::BUS_RESET), "BUS_RESET seen"),
            (
                format!("{}", cqe::kind::UNKNOWN_RESEL),
                "UNKNOWN_RESEL: word 3 = target 3:0, LUN 10:8, tag 23:16",
            ),
            (
                format!("{}", cqe::kind::TRAP),
                "TRAP, posted by the hardware when the sequencer traps: word 3 = SEQ_TRAP",
            ),
        ],
    );
    let _ = writeln!(
        s,
        "\nIn every type but COMPLETION, word 0 bits 23:0 and words 1 and 2 are zero; the host \
         refuses an event entry where they are not."
    );
    let _ = writeln!(s, "\n### HBA status\n");
    table(
        s,
        "value",
        &[
            (
                format!("`{:#04x}`", hba_status::OK),
                "OK: the SCSI status byte is valid",
            ),
            (
                format!("`{:#04x}`", hba_status::SEL_TIMEOUT),
                "selection timeout",
            ),
            (
                format!("`{:#04x}`", hba_status::UNEXP_BUS_FREE),
                "unexpected bus free",
            ),
            (
                format!("`{:#04x}`", hba_status::BAD_HCB),
                "HCB refused by the hardware check (word 3 = check code)",
            ),
            (
                format!("`{:#04x}`", hba_status::PARITY),
                "unrecoverable parity error (bad data or status the target did not send again)",
            ),
            (
                format!("`{:#04x}`", hba_status::DATA_OVERRUN),
                "data overrun",
            ),
            (
                format!("`{:#04x}`", hba_status::ABORTED),
                "aborted by the host",
            ),
            (
                format!("`{:#04x}`", hba_status::BUS_RESET),
                "ended by a bus reset",
            ),
            (
                format!("`{:#04x}`", hba_status::BDR_SENT),
                "ended by BUS DEVICE RESET",
            ),
            (
                format!("`{:#04x}`", hba_status::PROTOCOL),
                "target protocol error (reserved phase, synchronous offset overrun); the bus was reset",
            ),
            (
                format!("`{:#04x}`", hba_status::WRONG_DIRECTION),
                "data phase against the HCB's direction: refused with ABORT TASK, buffer untouched",
            ),
            (
                format!("`{:#04x}`", hba_status::TIMEOUT),
                "the target stopped answering for its time limit; the bus was reset",
            ),
        ],
    );
    let _ = writeln!(s, "\n### HCB check codes\n");
    table(
        s,
        "code",
        &[
            (format!("{}", check::OK), "good"),
            (format!("{}", check::BAD_SLOT), "slot index out of range"),
            (
                format!("{}", check::BAD_TARGET),
                "own ID, or above 7 on a narrow bus",
            ),
            (
                format!("{}", check::BAD_CDB_LEN),
                "CDB length 0 or above 16",
            ),
            (
                format!("{}", check::BAD_BUFFER),
                "buffer outside the data area",
            ),
            (format!("{}", check::BAD_DIRECTION), "both directions"),
            (format!("{}", check::BAD_SENSE_LEN), "sense length above 64"),
            (format!("{:#x}", check::BUSY), "check still running"),
        ],
    );
}

fn isa_section(s: &mut String) {
    use isa::op;
    let _ = writeln!(s, "\n## Sequencer instruction set\n");
    let _ = writeln!(
        s,
        "32-bit instructions, opcode 31:26, rd 25:22, rs 21:18, imm16 15:0; BRI: cond 21:18, imm8 17:10, target 9:0; \
         BRR: cond 17:14, target 9:0. {} words of instruction RAM, {} registers, call stack {}. \
         Prose: `firmware/ISA.md`.\n",
        isa::IRAM_WORDS,
        isa::NUM_REGS,
        isa::STACK_DEPTH
    );
    let ops: [(&str, u32); 38] = [
        ("NOP", op::NOP),
        ("HALT", op::HALT),
        ("TRAP", op::TRAP),
        ("JMP", op::JMP),
        ("CALL", op::CALL),
        ("RET", op::RET),
        ("WAIT", op::WAIT),
        ("MOVI", op::MOVI),
        ("MOVHI", op::MOVHI),
        ("ADDI", op::ADDI),
        ("SUBI", op::SUBI),
        ("ANDI", op::ANDI),
        ("ORI", op::ORI),
        ("XORI", op::XORI),
        ("SHLI", op::SHLI),
        ("SHRI", op::SHRI),
        ("ADD", op::ADD),
        ("SUB", op::SUB),
        ("AND", op::AND),
        ("OR", op::OR),
        ("XOR", op::XOR),
        ("SHL", op::SHL),
        ("SHR", op::SHR),
        ("MOV", op::MOV),
        ("LDW", op::LDW),
        ("LDB", op::LDB),
        ("STW", op::STW),
        ("STB", op::STB),
        ("LDWH", op::LDWH),
        ("LDBH", op::LDBH),
        ("STWH", op::STWH),
        ("STBH", op::STBH),
        ("IN", op::IN),
        ("OUT", op::OUT),
        ("BRI", op::BRI),
        ("BRR", op::BRR),
        ("(erased word)", 0),
        ("(any other)", 0x3F),
    ];
    let _ = writeln!(s, "| mnemonic | opcode |\n|---|---|");
    for (n, o) in ops {
        let _ = writeln!(s, "| {n} | `{o:#04x}` |");
    }
    let _ = writeln!(s, "\n### I/O ports\n");
    let ports: [(&str, u32); 22] = [
        ("EVENTS", isa::io::EVENTS),
        ("EV_CLEAR", isa::io::EV_CLEAR),
        ("PCMD", isa::io::PCMD),
        ("TARGET", isa::io::TARGET),
        ("BUS_DATA", isa::io::BUS_DATA),
        ("XFER_OFFSET", isa::io::XFER_OFFSET),
        ("XFER_COUNT", isa::io::XFER_COUNT),
        ("XFER_MODE", isa::io::XFER_MODE),
        ("RESEL_ID", isa::io::RESEL_ID),
        ("SLOT", isa::io::SLOT),
        ("SLOT_CHECK", isa::io::SLOT_CHECK),
        ("WINDOW", isa::io::WINDOW),
        ("BUS", isa::io::BUS),
        ("OWN_ID", isa::io::OWN_ID),
        ("SQ_PI", isa::io::SQ_PI),
        ("SQ_CI", isa::io::SQ_CI),
        ("CQ_W1", isa::io::CQ_W1),
        ("CQ_W2", isa::io::CQ_W2),
        ("CQ_W3", isa::io::CQ_W3),
        ("CQ_POST", isa::io::CQ_POST),
        ("TIMER", isa::io::TIMER),
        ("MAILBOX", isa::io::MAILBOX),
    ];
    let _ = writeln!(s, "| port | name |\n|---|---|");
    for (n, p) in ports {
        let _ = writeln!(s, "| `{p:#04x}` | {n} |");
    }
    let _ = writeln!(s, "\n### Events\n");
    let evs: [(&str, u32); 15] = [
        ("REQ (level)", isa::ev::REQ),
        ("DOORBELL (level)", isa::ev::DOORBELL),
        ("CMD_DONE", isa::ev::CMD_DONE),
        ("SEL_TIMEOUT", isa::ev::SEL_TIMEOUT),
        ("RESELECTED", isa::ev::RESELECTED),
        ("BUS_FREE", isa::ev::BUS_FREE),
        ("UNEXP_FREE", isa::ev::UNEXP_FREE),
        ("BUS_RESET", isa::ev::BUS_RESET),
        ("PARITY_ERR", isa::ev::PARITY_ERR),
        ("TIMER", isa::ev::TIMER),
        ("HOST", isa::ev::HOST),
        ("PHASE_MISMATCH", isa::ev::PHASE_MISMATCH),
        ("BUSY (level)", isa::ev::BUSY),
        ("CONNECTED (level)", isa::ev::CONNECTED),
        ("OFFSET_ERR", isa::ev::OFFSET_ERR),
    ];
    let _ = writeln!(s, "| bit | event |\n|---|---|");
    for (n, b) in evs {
        let _ = writeln!(s, "| {} | {n} |", b.trailing_zeros());
    }
    let _ = writeln!(
        s,
        "\nBits {}..{} of the event word hold the phase (MSG, C/D, I/O).",
        isa::ev::PHASE_SHIFT + 2,
        isa::ev::PHASE_SHIFT
    );
    let _ = writeln!(s, "\n### Trap causes\n");
    let _ = writeln!(s, "| cause | meaning |\n|---|---|");
    for c in 1..=7 {
        let _ = writeln!(s, "| {c} | {} |", isa::trap::name(c));
    }
}
