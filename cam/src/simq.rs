//! SIM queue (FreeBSD `cam_devq` of a SIM): size, active count, freeze count, and the
//! owner-tagged application freezes of seed 004 (auto-release after 10 s; only the owner
//! may thaw).

use crate::clock::CamTime;
use crate::devq::{FreezeCount, FreezeError};
use std::time::Duration;

/// Seed 004: an application's freeze is released automatically after this long.
pub const APP_FREEZE_TIMEOUT: Duration = Duration::from_secs(10);

/// Who froze a queue on behalf of an application.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FreezeOwner(pub u32);

/// A live application freeze.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct AppFreeze {
    /// Who froze.
    pub owner: FreezeOwner,
    /// When it auto-releases.
    pub deadline: CamTime,
}

/// The SIM queue.
#[derive(Debug, Default)]
pub struct SimQueue {
    /// Transactions the SIM accepts at once.
    pub size: u32,
    /// Transactions at the SIM.
    pub active: u32,
    /// Freeze count (includes application freezes).
    pub frozen: FreezeCount,
    /// Application freezes (each also holds one count in `frozen`).
    pub app: Vec<AppFreeze>,
}

impl SimQueue {
    /// A SIM queue of `size` slots.
    pub fn new(size: u32) -> Self {
        SimQueue {
            size: size.max(1),
            ..Default::default()
        }
    }
    /// Whether another CCB may go to the SIM.
    pub fn has_room(&self) -> bool {
        self.active < self.size
    }
    /// Freeze on behalf of `owner`, auto-released at `now + 10 s`.
    pub fn app_freeze(&mut self, owner: FreezeOwner, now: CamTime) -> CamTime {
        let deadline = now.after(APP_FREEZE_TIMEOUT);
        self.app.push(AppFreeze { owner, deadline });
        self.frozen.freeze(1);
        deadline
    }
    /// Thaw an application freeze: only its owner may (seed 004 freeze-disable rule).
    pub fn app_release(&mut self, owner: FreezeOwner) -> Result<u32, FreezeError> {
        if self.app.is_empty() {
            return Err(FreezeError::NoSuchFreeze);
        }
        let i = self
            .app
            .iter()
            .position(|f| f.owner == owner)
            .ok_or(FreezeError::NotOwner)?;
        self.app.remove(i);
        self.frozen.release(1)
    }
    /// Release application freezes whose deadline passed; returns how many.
    pub fn expire(&mut self, now: CamTime) -> u32 {
        let before = self.app.len();
        self.app.retain(|f| f.deadline > now);
        let n = (before - self.app.len()) as u32;
        // Each app freeze holds exactly one count, so this cannot underflow.
        let _ = self.frozen.release(n);
        n
    }
}
