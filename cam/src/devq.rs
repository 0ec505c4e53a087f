//! Per-device queue (FreeBSD `cam_ed` ccbq): pending CCBs ordered by class and priority,
//! openings, active count and freeze count.

use crate::ccb::{CcbId, DispatchClass};
use std::collections::{BTreeMap, BTreeSet};

/// Key ordering a device queue: class (recovery first), priority, arrival.
pub(crate) type QKey = (DispatchClass, u32, u64);

/// Error from a freeze/release operation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FreezeError {
    /// Releasing more than is frozen; nothing was changed.
    #[error("release of {requested} exceeds freeze count {present}")]
    Underflow {
        /// Count asked for.
        requested: u32,
        /// Count present.
        present: u32,
    },
    /// Only the owner of a freeze may thaw it (seed 004).
    #[error("freeze is owned by another owner")]
    NotOwner,
    /// No such freeze (already released or expired).
    #[error("no such freeze")]
    NoSuchFreeze,
}

/// A freeze count that can never go below zero.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct FreezeCount(u32);

impl FreezeCount {
    /// Current count.
    pub fn get(self) -> u32 {
        self.0
    }
    /// Whether frozen.
    pub fn frozen(self) -> bool {
        self.0 > 0
    }
    /// Add `n` freezes; returns the new count.
    pub fn freeze(&mut self, n: u32) -> u32 {
        self.0 = self.0.saturating_add(n);
        self.0
    }
    /// Remove `n` freezes, refusing to go below zero.
    pub fn release(&mut self, n: u32) -> Result<u32, FreezeError> {
        if n > self.0 {
            return Err(FreezeError::Underflow {
                requested: n,
                present: self.0,
            });
        }
        self.0 -= n;
        Ok(self.0)
    }
}

/// The device queue.
#[derive(Debug, Default)]
pub struct DevQueue {
    pub(crate) pending: BTreeMap<QKey, CcbId>,
    /// Transactions the device may have outstanding.
    pub openings: u32,
    /// Transactions at the SIM.
    pub active: u32,
    /// Freeze count.
    pub frozen: FreezeCount,
    /// The part of `frozen` taken for errors (a SIM's `CAM_DEV_QFRZN`, an abort in the
    /// XPT, a recovery gauntlet): it holds priority CCBs too, so none overtakes a periph
    /// still examining an error. Releases take from it first.
    pub(crate) err_frozen: u32,
    /// Arrival numbers of ORDERED-tag CCBs still queued: nothing that arrived later may be
    /// dispatched before them.
    pub(crate) ordered_pending: BTreeSet<u64>,
    /// ORDERED-tag CCBs at the SIM: nothing else but HEAD OF QUEUE and recovery CCBs is
    /// dispatched until they complete.
    pub(crate) ordered_active: u32,
}

impl DevQueue {
    /// A queue with `openings` slots.
    pub fn new(openings: u32) -> Self {
        DevQueue {
            openings: openings.max(1),
            ..Default::default()
        }
    }
    /// Number of queued (not dispatched) CCBs.
    pub fn queued(&self) -> usize {
        self.pending.len()
    }
    /// Freeze for an error (counts in `frozen` and `err_frozen`).
    pub(crate) fn freeze_err(&mut self, n: u32) -> u32 {
        self.err_frozen = self.err_frozen.saturating_add(n);
        self.frozen.freeze(n)
    }
    /// Release `n` freezes, error freezes first; refuses to go below zero.
    pub(crate) fn release(&mut self, n: u32) -> Result<u32, FreezeError> {
        let left = self.frozen.release(n)?;
        self.err_frozen = self.err_frozen.saturating_sub(n).min(left);
        Ok(left)
    }
    /// Whether the queue holds an error freeze.
    pub fn error_frozen(&self) -> bool {
        self.err_frozen > 0
    }
    /// The next CCB that may go to the SIM, given whether the SIM queue is frozen, in key
    /// order (class, priority, arrival). Recovery CCBs pass every freeze; priority CCBs
    /// pass a frozen SIM queue and non-error device freezes (seed 004) but not an error
    /// freeze; normal CCBs pass nothing. ORDERED tags are barriers: a CCB that arrived
    /// after a queued ORDERED one waits for it, and while one is at the SIM only HEAD OF
    /// QUEUE (priority 0 keys) and recovery CCBs go. Openings always apply.
    pub(crate) fn peek_dispatchable(&self, simq_frozen: bool) -> Option<(QKey, CcbId)> {
        if self.active >= self.openings {
            return None;
        }
        let first_ordered = self.ordered_pending.iter().next().copied();
        for (k, id) in &self.pending {
            let held = match k.0 {
                DispatchClass::Recovery => false,
                DispatchClass::Priority => self.error_frozen(),
                DispatchClass::Normal => self.frozen.frozen() || simq_frozen,
            };
            if held {
                // Every later key is of this class or a lower one, held alike: stop looking.
                if k.0 == DispatchClass::Normal {
                    break;
                }
                continue;
            }
            if k.0 != DispatchClass::Recovery && k.1 != HOQ_PRIO {
                if self.ordered_active > 0 {
                    continue;
                }
                if first_ordered.is_some_and(|o| k.2 > o) {
                    continue;
                }
            }
            return Some((*k, *id));
        }
        None
    }
}

/// Key priority given to HEAD OF QUEUE CCBs: sorts before every real CAM priority.
pub(crate) const HOQ_PRIO: u32 = 0;
