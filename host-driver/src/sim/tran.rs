//! Transfer negotiation per target, as FreeBSD SIMs keep it: *user* (the limits the user
//! allows), *goal* (what the firmware negotiates for, written to the per-target table)
//! and *current* (what the firmware last agreed, from its NEGOTIATED events). Every
//! setting is clipped to what the phase engine can produce, so the card never offers a
//! period it cannot make. After repeated parity errors the goal steps down.

use hba_abi::layout::target;
use hba_abi::{isa, CORE_CLOCK_NS};
use hba_cam::ccb::{SpiSettings, TranSettings, TranType};
use scsi_defs::spi_timing::{
    period_ps, PERIOD_FACTOR_FAST10, PERIOD_FACTOR_FAST20, PERIOD_FACTOR_FAST5,
};

/// The fastest SDTR period factor the phase engine produces at the core clock: Fast-20
/// (50 ns = 5 cycles at 100 MHz). Fast-40 (25 ns) would need 2.5 cycles.
pub const ENGINE_MIN_FACTOR: u8 = PERIOD_FACTOR_FAST20;

/// One target's settings in the firmware's per-target table format.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Xfer {
    /// SDTR period factor; meaningless when `offset` is 0.
    pub period: u8,
    /// REQ/ACK offset; 0 = asynchronous.
    pub offset: u8,
    /// 16-bit wide.
    pub wide: bool,
}

impl Xfer {
    /// Asynchronous, narrow.
    pub const ASYNC: Xfer = Xfer {
        period: 0,
        offset: 0,
        wide: false,
    };

    /// The table word (GOAL / CURRENT layout), with the TAGGED bit when `tagged`.
    pub fn word(self, tagged: bool) -> u32 {
        let (p, o) = if self.offset == 0 {
            (0, 0)
        } else {
            (u32::from(self.period), u32::from(self.offset))
        };
        p | (o << target::OFFSET_SHIFT)
            | if self.wide { target::WIDE } else { 0 }
            | if tagged { target::TAGGED } else { 0 }
    }

    /// From a table word or a NEGOTIATED event's fields.
    pub fn from_word(w: u32) -> Xfer {
        Xfer {
            period: (w & target::PERIOD_MASK) as u8,
            offset: ((w >> target::OFFSET_SHIFT) & 0xFF) as u8,
            wide: w & target::WIDE != 0,
        }
    }

    /// Clipped to the engine and to `limit` (never faster, never a larger offset, never
    /// wider); a reserved or too-fast factor becomes the fastest real one.
    pub fn clip(self, limit: Xfer) -> Xfer {
        let mut x = self;
        x.wide &= limit.wide;
        if x.offset == 0 || limit.offset == 0 {
            x.offset = 0;
            x.period = 0;
            return x;
        }
        x.offset = x.offset.min(limit.offset).min(isa::xmode::MAX_OFFSET as u8);
        let floor = limit.period.max(ENGINE_MIN_FACTOR);
        if x.period < floor || period_ps(x.period).is_none() {
            x.period = floor;
        }
        x
    }

    /// Bus bandwidth in KB/s (for logs and PATH_INQ-style reporting).
    pub fn kbps(self) -> u32 {
        let width = if self.wide { 2 } else { 1 };
        match (self.offset, period_ps(self.period)) {
            (0, _) | (_, None) => 3300 * width,
            (_, Some(ps)) => (1_000_000_000 / ps) as u32 * width,
        }
    }

    /// The engine's period in cycles for this factor (what the firmware programs).
    pub fn period_cycles(self) -> u64 {
        period_ps(self.period).map_or(0, |ps| ps.div_ceil(CORE_CLOCK_NS * 1000))
    }

    /// One step down the fallback ladder after parity errors: a smaller offset, then a
    /// slower period (Fast-10, then Fast-5), then asynchronous, then narrow. `None` when
    /// already at the bottom.
    pub fn step_down(self) -> Option<Xfer> {
        let mut x = self;
        if x.offset > 8 {
            x.offset = 8;
        } else if x.offset > 0 && x.period < PERIOD_FACTOR_FAST10 {
            x.period = PERIOD_FACTOR_FAST10;
        } else if x.offset > 0 && x.period < PERIOD_FACTOR_FAST5 {
            x.period = PERIOD_FACTOR_FAST5;
        } else if x.offset > 0 {
            x.offset = 0;
            x.period = 0;
        } else if x.wide {
            x.wide = false;
        } else {
            return None;
        }
        Some(x)
    }

    /// As CAM SPI settings.
    pub fn spi(self, disc: bool) -> SpiSettings {
        SpiSettings {
            sync_period: Some(if self.offset == 0 { 0 } else { self.period }),
            sync_offset: Some(self.offset),
            bus_width: Some(u8::from(self.wide)),
            disc_enb: Some(disc),
            ppr_options: Some(0),
        }
    }

    /// Applies the valid fields of CAM SPI settings over `self`.
    pub fn merge(self, s: &SpiSettings) -> Xfer {
        let mut x = self;
        if let Some(p) = s.sync_period {
            x.period = p;
        }
        if let Some(o) = s.sync_offset {
            x.offset = o;
        }
        if let Some(w) = s.bus_width {
            x.wide = w >= 1;
        }
        if x.offset != 0 && x.period == 0 {
            // An offset with no period: the fastest allowed (clip raises it).
            x.period = ENGINE_MIN_FACTOR;
        }
        x
    }
}

/// Per-target negotiation state.
#[derive(Clone, Debug)]
pub struct TargetTran {
    /// The user's limits.
    pub user: Xfer,
    /// Tagged queuing allowed by the user.
    pub user_tags: bool,
    /// Disconnection allowed by the user.
    pub user_disc: bool,
    /// What the firmware negotiates for.
    pub goal: Xfer,
    /// Tagged queuing in the goal.
    pub goal_tags: bool,
    /// Disconnection in the goal.
    pub goal_disc: bool,
    /// The firmware's last agreement.
    pub current: Xfer,
    /// The goal word last written to the card (None: never written).
    pub written: Option<u32>,
    /// Parity errors seen recently (times in ns) for the fallback.
    pub parity: Vec<u64>,
    /// NEGOTIATED events received (for diagnostics: a renegotiating target).
    pub negotiations: u64,
}

impl TargetTran {
    /// Fresh state with `user` limits; the goal starts at the user's limits.
    pub fn new(user: Xfer, tags: bool, disc: bool) -> Self {
        TargetTran {
            user,
            user_tags: tags,
            user_disc: disc,
            goal: Xfer::ASYNC,
            goal_tags: false,
            goal_disc: disc,
            current: Xfer::ASYNC,
            written: None,
            parity: Vec::new(),
            negotiations: 0,
        }
    }

    /// The settings CAM asked for, of `kind`.
    pub fn get(&self, kind: TranType) -> TranSettings {
        match kind {
            TranType::User => TranSettings {
                kind,
                spi: self.user.spi(self.user_disc),
                tq_enb: Some(self.user_tags),
            },
            TranType::Current => TranSettings {
                kind,
                spi: self.current.spi(self.goal_disc),
                tq_enb: Some(self.goal_tags),
            },
        }
    }

    /// Applies a SET_TRAN_SETTINGS: user settings change the limits (and clip the goal),
    /// current settings change the goal. Returns the goal word to write, if it changed.
    pub fn set(&mut self, s: &TranSettings, engine: Xfer) -> Option<u32> {
        match s.kind {
            TranType::User => {
                self.user = self.user.merge(&s.spi).clip(engine);
                if let Some(t) = s.tq_enb {
                    self.user_tags = t;
                }
                if let Some(d) = s.spi.disc_enb {
                    self.user_disc = d;
                }
                self.goal = self.goal.clip(self.user);
                self.goal_tags &= self.user_tags;
                self.goal_disc &= self.user_disc;
            }
            TranType::Current => {
                self.goal = self.goal.merge(&s.spi).clip(self.user);
                if let Some(t) = s.tq_enb {
                    self.goal_tags = t && self.user_tags;
                }
                if let Some(d) = s.spi.disc_enb {
                    self.goal_disc = d && self.user_disc;
                }
            }
        }
        self.goal_word_if_changed()
    }

    /// The goal word when it differs from what the card holds (negotiate only then).
    pub fn goal_word_if_changed(&mut self) -> Option<u32> {
        let w = self.goal.word(self.goal_tags);
        if self.written == Some(w) {
            None
        } else {
            self.written = Some(w);
            Some(w)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENGINE: Xfer = Xfer {
        period: ENGINE_MIN_FACTOR,
        offset: 16,
        wide: true,
    };

    #[test]
    fn never_offers_a_period_the_engine_cannot_produce() {
        let fast40 = Xfer {
            period: 0x0A,
            offset: 31,
            wide: true,
        };
        let c = fast40.clip(ENGINE);
        assert_eq!(c.period, 0x0C);
        assert_eq!(c.offset, 16);
        assert_eq!(c.period_cycles(), 5);
        let reserved = Xfer {
            period: 0x05,
            offset: 4,
            wide: false,
        };
        assert_eq!(reserved.clip(ENGINE).period, 0x0C);
        let narrow = Xfer {
            wide: false,
            ..ENGINE
        };
        assert!(!fast40.clip(narrow).wide);
    }

    #[test]
    fn goal_is_written_only_when_it_changes() {
        let mut t = TargetTran::new(ENGINE, true, true);
        let s = TranSettings {
            kind: TranType::Current,
            spi: ENGINE.spi(true),
            tq_enb: Some(true),
        };
        assert!(t.set(&s, ENGINE).is_some());
        assert_eq!(t.set(&s, ENGINE), None, "same goal: no renegotiation");
        let user = TranSettings {
            kind: TranType::User,
            spi: SpiSettings {
                sync_offset: Some(0),
                ..Default::default()
            },
            tq_enb: None,
        };
        let w = t.set(&user, ENGINE).expect("limits lowered the goal");
        assert_eq!(Xfer::from_word(w).offset, 0);
    }

    #[test]
    fn fallback_ladder_ends_async_narrow() {
        let mut x = ENGINE;
        let mut steps = vec![x];
        while let Some(n) = x.step_down() {
            assert!(n.kbps() <= x.kbps(), "{n:?} is not slower than {x:?}");
            x = n;
            steps.push(x);
        }
        assert_eq!(x, Xfer::ASYNC);
        assert_eq!(steps.len(), 6, "{steps:?}");
    }
}
