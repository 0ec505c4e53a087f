//! Seed 003's per-bus recovery gauntlet (`sdi_start_gauntlet`/`sdi_end_gauntlet`): error
//! recovery for the devices of one bus runs one job at a time, in arrival order; the
//! routine is told whether the failed command is cleanly off the adapter; I/O to the
//! device is suspended (its devq frozen) from entry until the routine ends it explicitly.

use crate::path::DevAddr;
use crate::periph::PeriphId;
use std::collections::VecDeque;

/// One recovery job.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct GauntletJob {
    /// The periph whose recovery routine runs.
    pub periph: PeriphId,
    /// The device under recovery (its devq is frozen while queued and running).
    pub addr: DevAddr,
    /// Whether the failed command is known to be cleanly off the adapter.
    pub cleanly_off: bool,
}

/// Error ending a gauntlet job.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GauntletError {
    /// The caller's job is not the one running.
    #[error("no running gauntlet job for this periph and device")]
    NotRunning,
}

/// The per-bus gauntlet queue.
#[derive(Debug, Default)]
pub struct Gauntlet {
    pub(crate) queue: VecDeque<GauntletJob>,
    pub(crate) active: Option<GauntletJob>,
    /// Jobs run to their end, for observation.
    pub completed: u64,
    /// The last job ended, for observation.
    pub last_ended: Option<GauntletJob>,
}

impl Gauntlet {
    /// Jobs waiting (not counting the running one).
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }
    /// The running job.
    pub fn active(&self) -> Option<GauntletJob> {
        self.active
    }
    /// Start the next job if none runs; returns it.
    pub(crate) fn start_next(&mut self) -> Option<GauntletJob> {
        if self.active.is_some() {
            return None;
        }
        self.active = self.queue.pop_front();
        self.active
    }
    /// End the running job, which must be `(periph, addr)`.
    pub(crate) fn end(
        &mut self,
        periph: PeriphId,
        addr: DevAddr,
    ) -> Result<GauntletJob, GauntletError> {
        match self.active {
            Some(j) if j.periph == periph && j.addr == addr => {
                self.active = None;
                self.completed += 1;
                self.last_ended = Some(j);
                Ok(j)
            }
            _ => Err(GauntletError::NotRunning),
        }
    }
}
