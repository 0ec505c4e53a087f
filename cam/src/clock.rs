//! Time as the stack sees it: a `Clock` trait, a simulated clock for tests and
//! co-simulation, and a monotonic clock for hardware. The stack never reads the wall clock.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

/// A point in time, in nanoseconds since the clock's origin.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CamTime(pub u64);

impl CamTime {
    /// This time plus a duration (saturating, so a huge timeout cannot wrap).
    pub fn after(self, d: Duration) -> CamTime {
        CamTime(
            self.0
                .saturating_add(d.as_nanos().min(u64::MAX as u128) as u64),
        )
    }
    /// Nanoseconds since the origin.
    pub fn as_nanos(self) -> u64 {
        self.0
    }
    /// Time elapsed since `earlier` (zero if `earlier` is later).
    pub fn since(self, earlier: CamTime) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

/// Source of time for the XPT, SIMs and periphs.
pub trait Clock {
    /// The current time.
    fn now(&self) -> CamTime;
    /// Block (or, for a simulated clock, jump) until `t`; used by the event loop when it
    /// has nothing to do before the next deadline.
    fn wait_until(&self, t: CamTime);
}

/// Simulated clock: time moves only when told; clones share the same time.
#[derive(Clone, Debug, Default)]
pub struct SimClock(Rc<Cell<u64>>);

impl SimClock {
    /// A simulated clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }
    /// Move time forward by `d`.
    pub fn advance(&self, d: Duration) {
        let t = CamTime(self.0.get()).after(d);
        self.0.set(t.0);
    }
    /// Set the time; never moves backwards.
    pub fn set(&self, t: CamTime) {
        if t.0 > self.0.get() {
            self.0.set(t.0);
        }
    }
}

impl Clock for SimClock {
    fn now(&self) -> CamTime {
        CamTime(self.0.get())
    }
    fn wait_until(&self, t: CamTime) {
        self.set(t);
    }
}

/// Monotonic clock for running on hardware (std::time::Instant, never the wall clock).
#[derive(Debug)]
pub struct MonotonicClock {
    origin: std::time::Instant,
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self {
            origin: std::time::Instant::now(),
        }
    }
}

impl MonotonicClock {
    /// A monotonic clock whose origin is now.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> CamTime {
        CamTime(self.origin.elapsed().as_nanos().min(u64::MAX as u128) as u64)
    }
    fn wait_until(&self, t: CamTime) {
        let now = self.now();
        if t > now {
            std::thread::sleep(Duration::from_nanos(t.0 - now.0));
        }
    }
}
