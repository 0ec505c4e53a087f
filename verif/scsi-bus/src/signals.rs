//! Bus signal values, information-transfer phases, parity and SPI timing in core cycles.

use scsi_defs::spi_timing;

/// Control line bit positions in [`BusSignals::ctl`] (logical: 1 = asserted).
pub mod ctl {
    /// BSY.
    pub const BSY: u16 = 1 << 0;
    /// SEL.
    pub const SEL: u16 = 1 << 1;
    /// RST.
    pub const RST: u16 = 1 << 2;
    /// ATN.
    pub const ATN: u16 = 1 << 3;
    /// ACK.
    pub const ACK: u16 = 1 << 4;
    /// REQ.
    pub const REQ: u16 = 1 << 5;
    /// MSG.
    pub const MSG: u16 = 1 << 6;
    /// C/D (asserted = control).
    pub const CD: u16 = 1 << 7;
    /// I/O (asserted = towards the initiator).
    pub const IO: u16 = 1 << 8;
    /// The three phase lines.
    pub const PHASE: u16 = MSG | CD | IO;
}

/// Parity line bit positions in [`BusSignals::parity`].
pub mod par {
    /// DBP0, odd parity for DB(7:0).
    pub const P0: u8 = 1;
    /// DBP1, odd parity for DB(15:8).
    pub const P1: u8 = 2;
}

/// A set of asserted bus signals: the resolved bus value, or what one device drives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BusSignals {
    /// Control lines, see [`ctl`].
    pub ctl: u16,
    /// DB(15:0).
    pub data: u16,
    /// DBP0 (bit 0) and DBP1 (bit 1), see [`par`].
    pub parity: u8,
}

/// What one device asserts during one cycle (same layout as the bus value).
pub type BusDrive = BusSignals;

impl BusSignals {
    /// Nothing asserted.
    pub const NONE: BusSignals = BusSignals {
        ctl: 0,
        data: 0,
        parity: 0,
    };

    /// Wired-OR of two drives.
    #[inline]
    pub fn or(self, o: BusSignals) -> BusSignals {
        BusSignals {
            ctl: self.ctl | o.ctl,
            data: self.data | o.data,
            parity: self.parity | o.parity,
        }
    }
    /// True when every bit of `m` is asserted.
    #[inline]
    pub fn has(&self, m: u16) -> bool {
        self.ctl & m == m
    }
    /// True when any bit of `m` is asserted.
    #[inline]
    pub fn any(&self, m: u16) -> bool {
        self.ctl & m != 0
    }
    /// Information transfer phase encoded by MSG, C/D and I/O.
    #[inline]
    pub fn phase(&self) -> Phase {
        Phase::from_ctl(self.ctl)
    }
    /// Put a byte on DB(7:0) with correct DBP0 (DB(15:8) untouched).
    pub fn set_byte(&mut self, b: u8) {
        self.data = (self.data & 0xFF00) | u16::from(b);
        self.parity = (self.parity & !par::P0) | if odd_parity_bit(b) { par::P0 } else { 0 };
    }
    /// Put a word on DB(15:0) with DBP0 and DBP1 (wide transfer).
    pub fn set_word(&mut self, w: u16) {
        self.data = w;
        self.parity = (if odd_parity_bit(w as u8) { par::P0 } else { 0 })
            | if odd_parity_bit((w >> 8) as u8) {
                par::P1
            } else {
                0
            };
    }
    /// Release the data lines and both parity lines.
    pub fn clear_data(&mut self) {
        self.data = 0;
        self.parity = 0;
    }
    /// Drives an ID mask for (re)selection with parity on both lanes, so wide targets can
    /// check DBP1 (harmless on a narrow bus, where the monitor ignores lane 1).
    pub fn set_byte_ids(&mut self, ids: u16) {
        self.set_word(ids);
    }
    /// Whether lane 0 (and lane 1 if `wide`) carries odd parity.
    pub fn parity_ok(&self, wide: bool) -> bool {
        let l0 = odd_parity_bit(self.data as u8) == (self.parity & par::P0 != 0);
        let l1 = !wide || odd_parity_bit((self.data >> 8) as u8) == (self.parity & par::P1 != 0);
        l0 && l1
    }
}

/// Value of the parity bit that makes `b` plus the bit odd.
#[inline]
pub fn odd_parity_bit(b: u8) -> bool {
    b.count_ones() & 1 == 0
}

/// Information transfer phases (SPI-4 table "information transfer phases").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// DATA OUT (000).
    DataOut,
    /// DATA IN (I/O).
    DataIn,
    /// COMMAND (C/D).
    Command,
    /// STATUS (C/D, I/O).
    Status,
    /// Reserved MSG-only encodings.
    Reserved,
    /// MESSAGE OUT (MSG, C/D).
    MsgOut,
    /// MESSAGE IN (MSG, C/D, I/O).
    MsgIn,
}

impl Phase {
    /// Decode the three phase lines.
    #[inline]
    pub fn from_ctl(c: u16) -> Phase {
        match (c & ctl::MSG != 0, c & ctl::CD != 0, c & ctl::IO != 0) {
            (false, false, false) => Phase::DataOut,
            (false, false, true) => Phase::DataIn,
            (false, true, false) => Phase::Command,
            (false, true, true) => Phase::Status,
            (true, false, _) => Phase::Reserved,
            (true, true, false) => Phase::MsgOut,
            (true, true, true) => Phase::MsgIn,
        }
    }
    /// The phase lines a target drives for this phase.
    pub fn ctl(self) -> u16 {
        match self {
            Phase::DataOut => 0,
            Phase::DataIn => ctl::IO,
            Phase::Command => ctl::CD,
            Phase::Status => ctl::CD | ctl::IO,
            Phase::Reserved => ctl::MSG,
            Phase::MsgOut => ctl::MSG | ctl::CD,
            Phase::MsgIn => ctl::MSG | ctl::CD | ctl::IO,
        }
    }
    /// True when the target sends (I/O asserted).
    pub fn is_in(self) -> bool {
        matches!(self, Phase::DataIn | Phase::Status | Phase::MsgIn)
    }
    /// True for DATA IN / DATA OUT.
    pub fn is_data(self) -> bool {
        matches!(self, Phase::DataIn | Phase::DataOut)
    }
    /// Name as in the standard, for logs.
    pub fn name(self) -> &'static str {
        match self {
            Phase::DataOut => "DATA OUT",
            Phase::DataIn => "DATA IN",
            Phase::Command => "COMMAND",
            Phase::Status => "STATUS",
            Phase::Reserved => "RESERVED",
            Phase::MsgOut => "MSG OUT",
            Phase::MsgIn => "MSG IN",
        }
    }
}

/// Arbitration priority of an SCSI ID: 7 highest, then 6..0, then 15..8 (SPI-4 wide).
#[inline]
pub fn id_priority(id: u8) -> u8 {
    if id < 8 {
        id + 8
    } else {
        id - 8
    }
}

/// Highest-priority ID whose bit is set in `mask`.
pub fn highest_id(mask: u16) -> Option<u8> {
    (0..16u8)
        .filter(|i| mask & (1 << i) != 0)
        .max_by_key(|&i| id_priority(i))
}

/// Core clock period: 100 MHz.
pub const CYCLE_NS: u64 = 10;

/// Nanoseconds to core cycles, rounding up (a delay is a minimum).
pub const fn ns_to_cycles(ns: u64) -> u64 {
    ns.div_ceil(CYCLE_NS)
}

/// SPI delays in core cycles (each rounded up from `scsi_defs::spi_timing`).
pub mod cycles {
    use super::*;
    /// Bus settle delay (400 ns).
    pub const SETTLE: u64 = ns_to_cycles(spi_timing::BUS_SETTLE_DELAY_NS);
    /// Bus free delay (800 ns).
    pub const BUS_FREE: u64 = ns_to_cycles(spi_timing::BUS_FREE_DELAY_NS);
    /// Bus clear delay (800 ns).
    pub const BUS_CLEAR: u64 = ns_to_cycles(spi_timing::BUS_CLEAR_DELAY_NS);
    /// Bus set delay (1.8 us).
    pub const BUS_SET: u64 = ns_to_cycles(spi_timing::BUS_SET_DELAY_NS);
    /// Arbitration delay (2.4 us).
    pub const ARBITRATION: u64 = ns_to_cycles(spi_timing::ARBITRATION_DELAY_NS);
    /// Deskew plus cable skew: data set-up before an asynchronous REQ/ACK edge (49 ns).
    pub const DESKEW_SKEW: u64 =
        ns_to_cycles(spi_timing::DESKEW_DELAY_NS + spi_timing::CABLE_SKEW_DELAY_NS);
    /// Two deskew delays (90 ns), used around selection.
    pub const TWO_DESKEW: u64 = ns_to_cycles(2 * spi_timing::DESKEW_DELAY_NS);
    /// Selection abort time (200 us).
    pub const SELECTION_ABORT: u64 = ns_to_cycles(spi_timing::SELECTION_ABORT_TIME_NS);
    /// Data release delay (400 ns).
    pub const DATA_RELEASE: u64 = ns_to_cycles(spi_timing::DATA_RELEASE_DELAY_NS);
    /// Disconnection delay (200 us).
    pub const DISCONNECTION: u64 = ns_to_cycles(spi_timing::DISCONNECTION_DELAY_NS);
    /// Reset hold time (25 us).
    pub const RESET_HOLD: u64 = ns_to_cycles(spi_timing::RESET_HOLD_TIME_NS);
    /// Synchronous data set-up and hold: one core cycle. The 10 ns grid cannot express
    /// the SPI Fast-20 values (11.5 ns / 4.5 ns) more precisely; one cycle each side is
    /// the model's rule and the reason periods under 3 cycles are not offered.
    pub const SYNC_SETUP: u64 = 1;
    /// See [`SYNC_SETUP`].
    pub const SYNC_HOLD: u64 = 1;
    /// Shortest synchronous period the models can produce with set-up and hold of one cycle.
    pub const MIN_SYNC_PERIOD: u64 = 3;
}

/// Synchronous period in cycles for an SDTR period factor (rounded up), `None` if reserved.
pub fn sync_period_cycles(factor: u8) -> Option<u64> {
    spi_timing::period_ps(factor).map(|ps| ps.div_ceil(CYCLE_NS * 1000))
}

/// Formats a cycle count as microseconds ("12.34us").
pub fn fmt_time(cycle: u64) -> String {
    let ns = cycle * CYCLE_NS;
    format!("{}.{:02}us", ns / 1000, (ns % 1000) / 10)
}
