//! Symbols: the predefined ABI constants (taken from `hba_abi`, never copied), the
//! user's labels and constants, and register names and aliases.

use super::error::Loc;
use super::expr::Expr;
use hba_abi::isa;
use std::collections::HashMap;

/// `(prefix, module path; NAME, ...)` -> `("PREFIXNAME", module::NAME as i64), ...`.
macro_rules! group {
    ($v:ident, $prefix:literal, $($m:ident)::+ ; $($name:ident),* $(,)?) => {
        {
            use hba_abi::$($m)::+ as base;
            $( $v.push((concat!($prefix, stringify!($name)), base::$name as i64)); )*
        }
    };
}

/// `NAME_BIT` = the bit number of each single-bit `NAME`.
macro_rules! bits {
    ($v:ident, $prefix:literal, $($m:ident)::+ ; $($name:ident),* $(,)?) => {
        {
            use hba_abi::$($m)::+ as base;
            $(
                if base::$name.is_power_of_two() {
                    $v.push((
                        concat!($prefix, stringify!($name), "_BIT"),
                        i64::from(base::$name.trailing_zeros()),
                    ));
                }
            )*
        }
    };
}

/// Every predefined symbol with its value, from the `hba_abi` constants.
///
/// Naming: `isa::io::X` is `IO_X`, `ev` `EV_`, `pcmd` `PCMD_`, `phase` `PHASE_`,
/// `xmode` `XMODE_`, `window` `WINDOW_`, `trap` `TRAP_`, `cond` `COND_`, `op` `OP_`;
/// top-level `isa` constants keep their name; top-level `layout` constants get
/// `LAYOUT_`; `layout::hcb` `HCB_`, `hcb::ctrl` `HCB_CTRL_`, `hcb::tag` `TAG_`,
/// `target` `TGT_`, `cqe` `CQE_`, `cqe::kind` `CQE_KIND_`, `hba_status` `HBA_STATUS_`, `mailbox` `MBOX_`,
/// `check` `CHECK_`; `mem` constants keep their name. Each single-bit event also has
/// `EV_X_BIT`, its bit number (for `bs` / `bc`).
pub fn abi_symbols() -> Vec<(&'static str, i64)> {
    let mut v: Vec<(&'static str, i64)> = Vec::new();
    group!(v, "", isa; IRAM_WORDS, PC_BITS, STACK_DEPTH, NUM_REGS, OP_SHIFT, RD_SHIFT,
        RS_SHIFT, BRR_COND_SHIFT, BRI_IMM_SHIFT);
    group!(v, "OP_", isa::op; NOP, HALT, TRAP, JMP, CALL, RET, WAIT, MOVI, MOVHI, ADDI, SUBI,
        ANDI, ORI, XORI, SHLI, SHRI, ADD, SUB, AND, OR, XOR, SHL, SHR, MOV, LDW, LDB, STW, STB,
        LDWH, LDBH, STWH, STBH, IN, OUT, BRI, BRR);
    group!(v, "COND_", isa::cond; EQ, NE, LTU, GEU, BS, BC, ANY, NONE);
    group!(v, "TRAP_", isa::trap; NONE, BAD_OPCODE, STACK_OVERFLOW, STACK_UNDERFLOW, WATCHDOG,
        BAD_ADDRESS, SOFTWARE, BAD_IO);
    group!(v, "IO_", isa::io; EVENTS, EV_CLEAR, PCMD, TARGET, BUS_DATA, XFER_OFFSET,
        XFER_COUNT, XFER_MODE, RESEL_ID, SLOT, SLOT_CHECK, WINDOW, BUS, OWN_ID, SQ_PI, SQ_CI,
        CQ_W1, CQ_W2, CQ_W3, CQ_POST, TIMER, MAILBOX);
    group!(v, "EV_", isa::ev; REQ, DOORBELL, CMD_DONE, SEL_TIMEOUT, RESELECTED, BUS_FREE,
        UNEXP_FREE, BUS_RESET, PARITY_ERR, TIMER, HOST, PHASE_MISMATCH, BUSY, CONNECTED,
        OFFSET_ERR, STICKY, PHASE_SHIFT);
    bits!(v, "EV_", isa::ev; REQ, DOORBELL, CMD_DONE, SEL_TIMEOUT, RESELECTED, BUS_FREE,
        UNEXP_FREE, BUS_RESET, PARITY_ERR, TIMER, HOST, PHASE_MISMATCH, BUSY, CONNECTED,
        OFFSET_ERR);
    group!(v, "PHASE_", isa::phase; DATA_OUT, DATA_IN, COMMAND, STATUS, MSG_OUT, MSG_IN);
    group!(v, "PCMD_", isa::pcmd; SELECT, SEND_BYTE, RECV_BYTE, ACK, DMA, SET_ATN, CLR_ATN,
        EXPECT_FREE, BUS_RESET, F_ATN, F_LAST, F_ATN_BEFORE_ACK, F_DISCARD);
    group!(v, "XMODE_", isa::xmode; OFFSET_MASK, MAX_OFFSET, PERIOD_SHIFT, WIDE);
    group!(v, "WINDOW_", isa::window; DATA, SENSE);
    group!(v, "LAYOUT_", layout; SCRATCH, SCRATCH_BYTES, TARGETS, NUM_TARGETS, TARGET_BYTES,
        SQ, SQ_ENTRIES, CQ, CQ_ENTRIES, CQ_ENTRY_BYTES, HCBS, NUM_SLOTS, HCB_BYTES, DATA,
        DATA_BYTES);
    group!(v, "HCB_", layout::hcb; CTRL, DATA_ADDR, DATA_LEN, SENSE_LEN, CDB, CDB_MAX,
        FW_SAVED_PTR, FW_STATE, FW_SCRATCH, SENSE, SENSE_MAX);
    group!(v, "HCB_CTRL_", layout::hcb::ctrl; TARGET_MASK, LUN_SHIFT, LUN_MASK, DIR_IN,
        DIR_OUT, NO_DISCONNECT, NO_AUTOSENSE, TAG_SHIFT, TAG_MASK, CDB_LEN_SHIFT);
    group!(v, "TAG_", layout::hcb::tag; NONE, SIMPLE, ORDERED, HEAD);
    group!(v, "TGT_", layout::target; GOAL, CURRENT, PERIOD_MASK, OFFSET_SHIFT, WIDE, TAGGED,
        TIMEOUT);
    group!(v, "CQE_", layout::cqe; PHASE, TYPE_SHIFT, TYPE_MASK, HBA_STATUS_SHIFT,
        SCSI_STATUS_SHIFT, SLOT_MASK, SENSE_LEN_MASK, SENSE_VALID, AUTOSENSE_FAILED);
    group!(v, "CQE_KIND_", layout::cqe::kind; COMPLETION, NEGOTIATED, BUS_RESET,
        UNKNOWN_RESEL, TRAP);
    group!(v, "HBA_STATUS_", layout::hba_status; OK, SEL_TIMEOUT, UNEXP_BUS_FREE, BAD_HCB,
        PARITY, DATA_OVERRUN, ABORTED, BUS_RESET, BDR_SENT, PROTOCOL, WRONG_DIRECTION,
        TIMEOUT);
    group!(v, "MBOX_", layout::mailbox; REQ_SHIFT, ARG_MASK, ABORT, BUS_DEVICE_RESET);
    group!(v, "CHECK_", layout::check; OK, BAD_SLOT, BAD_TARGET, BAD_CDB_LEN, BAD_BUFFER,
        BAD_DIRECTION, BAD_SENSE_LEN, BUSY);
    group!(v, "", mem; AXIL_ADDR_BITS, REG_SPACE_BYTES, REG_BLOCK_BYTES, CARD_MEM_BYTES,
        CARD_MEM_WORD_BYTES, CARD_MEM_ADDR_BITS, CARD_MEM_WINDOW, CARD_MEM_DMA_BASE,
        CARD_MEM_DMA_ALIGN);
    v
}

/// `r0`..`r15` (any case) as a register number.
pub(crate) fn register_number(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(['r', 'R'])?;
    if rest.is_empty()
        || rest.len() > 2
        || !rest.bytes().all(|b| b.is_ascii_digit())
        || (rest.len() == 2 && rest.starts_with('0'))
    {
        return None;
    }
    let n: u32 = rest.parse().ok()?;
    (n < isa::NUM_REGS).then_some(n)
}

/// How a user symbol is defined.
#[derive(Clone, Debug)]
pub(crate) enum Def {
    /// A predefined ABI constant.
    Abi(i64),
    /// A label at this instruction address.
    Label(u32),
    /// `.equ`: evaluated on demand with the scope and `$` of its definition.
    Equ {
        expr: Expr,
        scope: String,
        here: i64,
        state: EquState,
    },
}

/// Evaluation state of an `.equ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EquState {
    Pending,
    InProgress,
    Done(i64),
    Failed,
}

/// A defined symbol.
#[derive(Clone, Debug)]
pub(crate) struct Symbol {
    pub def: Def,
    /// Where it was defined (`None` for ABI symbols).
    pub loc: Option<Loc>,
}

/// The symbol table.
#[derive(Debug)]
pub(crate) struct Symbols {
    pub map: HashMap<String, Symbol>,
    /// Register aliases (`.reg`): name -> register, with where they were defined.
    pub aliases: HashMap<String, (u32, Loc)>,
}

impl Symbols {
    pub fn new() -> Self {
        let map = abi_symbols()
            .into_iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    Symbol {
                        def: Def::Abi(v),
                        loc: None,
                    },
                )
            })
            .collect();
        Self {
            map,
            aliases: HashMap::new(),
        }
    }

    /// The register an operand name denotes (`rN` or an alias).
    pub fn register(&self, name: &str) -> Option<u32> {
        register_number(name).or_else(|| self.aliases.get(name).map(|(r, _)| *r))
    }
}

/// Qualifies a local name (`.x`) with its scope (`func.x`).
pub(crate) fn qualify(scope: &str, name: &str) -> String {
    if name.starts_with('.') {
        format!("{scope}{name}")
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers() {
        assert_eq!(register_number("r0"), Some(0));
        assert_eq!(register_number("R15"), Some(15));
        assert_eq!(register_number("r16"), None);
        assert_eq!(register_number("r01"), None);
        assert_eq!(register_number("r"), None);
        assert_eq!(register_number("rx"), None);
    }
}
