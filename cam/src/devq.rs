//! Per-device queue (FreeBSD `cam_ed` ccbq): pending CCBs ordered by class and priority,
//! openings, active count and freeze count.

use crate::ccb::{CcbId, DispatchClass};
use std::collections::BTreeMap;

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
    /// The next CCB that may go to the SIM, given whether the SIM queue is frozen: a frozen
    /// queue passes only recovery and priority CCBs (seed 004); openings always apply.
    pub(crate) fn peek_dispatchable(&self, simq_frozen: bool) -> Option<(QKey, CcbId)> {
        if self.active >= self.openings {
            return None;
        }
        let (k, id) = self.pending.iter().next()?;
        if (self.frozen.frozen() || simq_frozen) && k.0 == DispatchClass::Normal {
            return None;
        }
        Some((*k, *id))
    }
}
