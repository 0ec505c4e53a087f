//! Arbitration plus selection/reselection sequencing, shared by initiator and targets,
//! and a synchronous REQ/ACK pulse generator.

use crate::signals::{ctl, cycles, id_priority, BusDrive, BusSignals};

/// Deliberate timing errors, for negative tests of the monitor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimingQuirks {
    /// Arbitrate without waiting a bus free delay.
    pub no_bus_free_delay: bool,
    /// Assert SEL without waiting an arbitration delay.
    pub no_arbitration_delay: bool,
    /// Drive the selection IDs without waiting bus clear + bus settle after SEL.
    pub no_selection_settle: bool,
}

/// Where a selection sequence is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelState {
    /// Waiting for BUS FREE (since when it was seen free).
    WaitFree(Option<u64>),
    /// Asserting BSY and our ID since the cycle.
    Arbitrating(u64),
    /// Won: SEL asserted since the cycle.
    SelAsserted(u64),
    /// Both IDs (and ATN / I/O) driven since the cycle; BSY still ours.
    Driving(u64),
    /// BSY released since the cycle; waiting for the other side's BSY.
    WaitResponse(u64),
    /// Response seen at the cycle; releasing SEL after two deskew delays.
    Releasing(u64),
    /// Connected.
    Done,
    /// Lost arbitration or saw another selection.
    Lost,
    /// No response within the timeout.
    Timeout,
    /// Selection time-out procedure (SPI-3 10.5.2): the IDs were released at the cycle,
    /// SEL stays asserted for a selection abort time in case BSY still answers.
    Aborting(u64),
    /// A late response during the abort time, seen at the cycle: releasing SEL after two
    /// deskew delays (the IDs are already released).
    ReleasingAfterAbort(u64),
}

/// Arbitration and (re)selection by device `me` of device `other`.
#[derive(Clone, Debug)]
pub struct Selector {
    /// Our ID.
    pub me: u8,
    /// The selected/reselected ID.
    pub other: u8,
    /// Reselection (target side: asserts I/O and keeps BSY).
    pub resel: bool,
    /// Assert ATN with the selection.
    pub atn: bool,
    /// Give up after this many cycles without response.
    pub timeout: u64,
    /// Timing errors to commit.
    pub quirks: TimingQuirks,
    /// Current state.
    pub state: SelState,
}

impl Selector {
    /// Starts waiting for BUS FREE.
    pub fn new(me: u8, other: u8, resel: bool, atn: bool, timeout: u64) -> Selector {
        Selector {
            me,
            other,
            resel,
            atn,
            timeout,
            quirks: TimingQuirks::default(),
            state: SelState::WaitFree(None),
        }
    }

    /// One cycle; returns the drive. Check `state` for `Done`, `Lost`, `Timeout`.
    pub fn tick(&mut self, c: u64, bus: &BusSignals) -> BusDrive {
        let me_bit = 1u16 << self.me;
        let ids = me_bit | (1u16 << self.other);
        let mut d = BusDrive::NONE;
        match self.state {
            SelState::WaitFree(since) => {
                if bus.any(ctl::BSY | ctl::SEL | ctl::RST) {
                    self.state = SelState::WaitFree(None);
                    return d;
                }
                let s = since.unwrap_or(c);
                let need = if self.quirks.no_bus_free_delay {
                    1
                } else {
                    cycles::SETTLE + cycles::BUS_FREE
                };
                if c - s >= need {
                    self.state = SelState::Arbitrating(c);
                    d.ctl = ctl::BSY;
                    d.data = me_bit;
                } else {
                    self.state = SelState::WaitFree(Some(s));
                }
            }
            SelState::Arbitrating(at) => {
                // Someone else won and is selecting: back off.
                if bus.has(ctl::SEL) {
                    self.state = SelState::Lost;
                    return d;
                }
                let need = if self.quirks.no_arbitration_delay {
                    1
                } else {
                    cycles::ARBITRATION
                };
                d.ctl = ctl::BSY;
                d.data = me_bit;
                if c - at >= need {
                    let higher = (0..16u8)
                        .any(|i| bus.data & (1 << i) != 0 && id_priority(i) > id_priority(self.me));
                    if higher {
                        self.state = SelState::Lost;
                        return BusDrive::NONE;
                    }
                    d.ctl |= ctl::SEL;
                    self.state = SelState::SelAsserted(c);
                }
            }
            SelState::SelAsserted(at) => {
                d.ctl = ctl::BSY | ctl::SEL;
                d.data = me_bit;
                let need = if self.quirks.no_selection_settle {
                    1
                } else {
                    cycles::BUS_CLEAR + cycles::SETTLE
                };
                if c - at >= need {
                    d.ctl |= self.extra();
                    d.set_byte_ids(ids);
                    self.state = SelState::Driving(c);
                }
            }
            SelState::Driving(at) => {
                d.ctl = ctl::BSY | ctl::SEL | self.extra();
                d.set_byte_ids(ids);
                if c - at >= cycles::TWO_DESKEW {
                    d.ctl &= !ctl::BSY;
                    self.state = SelState::WaitResponse(c);
                }
            }
            SelState::WaitResponse(at) => {
                d.ctl = ctl::SEL | self.extra();
                d.set_byte_ids(ids);
                if c > at + 1 && bus.has(ctl::BSY) {
                    if self.resel {
                        d.ctl |= ctl::BSY;
                    }
                    self.state = SelState::Releasing(c);
                } else if c - at > self.timeout {
                    // Release the data bus, keep SEL (and ATN / I/O).
                    self.state = SelState::Aborting(c);
                    d.clear_data();
                }
            }
            SelState::Releasing(at) => {
                d.ctl = ctl::SEL | self.extra() | if self.resel { ctl::BSY } else { 0 };
                d.set_byte_ids(ids);
                if c - at >= cycles::TWO_DESKEW {
                    d = BusDrive::NONE;
                    d.ctl = self.extra() | if self.resel { ctl::BSY } else { 0 };
                    self.state = SelState::Done;
                }
            }
            SelState::Aborting(at) => {
                d.ctl = ctl::SEL | self.extra();
                if bus.has(ctl::BSY) && c > at + 1 {
                    if self.resel {
                        d.ctl |= ctl::BSY;
                    }
                    self.state = SelState::ReleasingAfterAbort(c);
                } else if c - at >= cycles::SELECTION_ABORT {
                    self.state = SelState::Timeout;
                    return BusDrive::NONE;
                }
            }
            SelState::ReleasingAfterAbort(at) => {
                d.ctl = ctl::SEL | self.extra() | if self.resel { ctl::BSY } else { 0 };
                if c - at >= cycles::TWO_DESKEW {
                    d.ctl = self.extra() | if self.resel { ctl::BSY } else { 0 };
                    self.state = SelState::Done;
                }
            }
            SelState::Done | SelState::Lost | SelState::Timeout => {}
        }
        d
    }

    fn extra(&self) -> u16 {
        (if self.atn { ctl::ATN } else { 0 }) | if self.resel { ctl::IO } else { 0 }
    }
}

/// Emits synchronous REQ or ACK pulses: at most one edge per `period`, each held
/// `period / 2` cycles, data (when any) set up one cycle before its edge.
#[derive(Clone, Copy, Debug)]
pub struct Pulser {
    /// Period in cycles.
    pub period: u64,
    on_since: Option<u64>,
    data_at: Option<u64>,
    next_ok: u64,
}

impl Pulser {
    /// A pulser with this period (at least 3 cycles unless a quirk wants less).
    pub fn new(period: u64) -> Pulser {
        Pulser {
            period: period.max(1),
            on_since: None,
            data_at: None,
            next_ok: 0,
        }
    }
    /// Whether the line is asserted this cycle (call once per cycle). `want_data` asks to
    /// start a pulse that carries data: returns `(line, set_data_now)`.
    pub fn tick(&mut self, c: u64, want: bool, with_data: bool) -> (bool, bool) {
        let hi = (self.period / 2).max(1);
        if let Some(s) = self.on_since {
            if c - s >= hi {
                self.on_since = None;
                return (false, false);
            }
            return (true, false);
        }
        if let Some(d) = self.data_at {
            if c > d {
                self.data_at = None;
                self.on_since = Some(c);
                self.next_ok = d + self.period;
                return (true, false);
            }
            return (false, false);
        }
        if want && c >= self.next_ok {
            if with_data {
                self.data_at = Some(c);
                return (false, true);
            }
            self.on_since = Some(c);
            self.next_ok = c + self.period;
            return (true, false);
        }
        (false, false)
    }
    /// True while a pulse (or its data set-up) is under way.
    pub fn busy(&self) -> bool {
        self.on_since.is_some() || self.data_at.is_some()
    }
}
