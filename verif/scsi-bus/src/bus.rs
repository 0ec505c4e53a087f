//! The wired-OR bus: owns the devices and the monitor, resolves one cycle per `step`.

use std::any::Any;

use crate::monitor::Monitor;
use crate::signals::{BusDrive, BusSignals};

/// Lets the bus hand a device back to a test as its concrete type.
pub trait AsAny: Any {
    /// `self` as `&mut dyn Any`.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}
impl<T: Any> AsAny for T {
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A device on the bus. Each cycle it sees the bus resolved from the previous cycle's
/// drives and returns what it asserts during this cycle.
pub trait BusDevice: AsAny {
    /// One core cycle.
    fn tick(&mut self, cycle: u64, bus: &BusSignals) -> BusDrive;

    /// Co-simulation fast-forward: the first cycle, at or after `next` (the cycle of the
    /// coming `tick`), whose `tick` may do anything but return [`BusDrive::NONE`] with no
    /// change of state while the bus stays at `bus`. The default, `next`, never lets the
    /// bus skip a cycle of this device.
    fn idle_until(&self, next: u64, _bus: &BusSignals) -> u64 {
        next
    }
}

/// Index of a device added to a [`Bus`], typed so a test can get it back.
#[derive(Debug)]
pub struct DeviceHandle<T> {
    idx: usize,
    _t: std::marker::PhantomData<fn() -> T>,
}
impl<T> Clone for DeviceHandle<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for DeviceHandle<T> {}

/// Narrow (8-bit, IDs 0..7) or wide (16-bit, IDs 0..15) bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// 8-bit.
    Narrow,
    /// 16-bit.
    Wide,
}

/// The bus: devices, the resolved value, the cycle counter and the monitor.
pub struct Bus {
    devices: Vec<Box<dyn BusDevice>>,
    value: BusSignals,
    cycle: u64,
    width: Width,
    drives: Vec<BusDrive>,
    /// The protocol monitor, fed every resolved cycle.
    pub monitor: Monitor,
}

impl Bus {
    /// An empty bus with a monitor.
    pub fn new(width: Width) -> Bus {
        Bus {
            devices: Vec::new(),
            value: BusSignals::NONE,
            cycle: 0,
            width,
            drives: Vec::new(),
            monitor: Monitor::new(width),
        }
    }
    /// Bus width.
    pub fn width(&self) -> Width {
        self.width
    }
    /// Adds a device; the handle gets it back with [`Bus::device`].
    pub fn add<T: BusDevice>(&mut self, dev: T) -> DeviceHandle<T> {
        self.devices.push(Box::new(dev));
        self.drives.push(BusDrive::NONE);
        DeviceHandle {
            idx: self.devices.len() - 1,
            _t: std::marker::PhantomData,
        }
    }
    /// The device behind a handle.
    pub fn device<T: BusDevice>(&mut self, h: DeviceHandle<T>) -> &mut T {
        let d: &mut dyn BusDevice = &mut *self.devices[h.idx];
        d.as_any_mut()
            .downcast_mut::<T>()
            .expect("handle type matches")
    }
    /// Current cycle (the cycle of the last resolved value).
    pub fn cycle(&self) -> u64 {
        self.cycle
    }
    /// Bus value resolved by the last `step`.
    pub fn value(&self) -> BusSignals {
        self.value
    }
    /// One cycle: every device sees the previous value; the new value is the wired-OR of
    /// all device drives and `external` (e.g. an RTL initiator), and is returned.
    #[inline]
    pub fn step(&mut self, external: BusDrive) -> BusSignals {
        self.cycle += 1;
        let prev = self.value;
        let mut v = external;
        let per_driver = self.monitor.wants_drivers();
        for (d, slot) in self.devices.iter_mut().zip(self.drives.iter_mut()) {
            let x = d.tick(self.cycle, &prev);
            if per_driver {
                *slot = x;
            }
            v = v.or(x);
        }
        self.value = v;
        self.monitor.observe(self.cycle, v);
        if per_driver && self.monitor.wants_drivers() {
            self.monitor
                .observe_drivers(self.cycle, &self.drives, external);
        }
        v
    }
    /// Co-simulation fast-forward: how many coming [`Bus::step`]s with `external` as the
    /// outside drive are sure to change nothing (every device idle and driving nothing,
    /// the value already `external`, no connection for the monitor's per-driver checks).
    /// [`Bus::skip`] may then stand for at most that many steps.
    pub fn quiet_steps(&self, external: BusDrive) -> u64 {
        if self.value != external || self.monitor.wants_drivers() {
            return 0;
        }
        let next = self.cycle + 1;
        let until = self
            .devices
            .iter()
            .map(|d| d.idle_until(next, &self.value))
            .min()
            .unwrap_or(u64::MAX);
        until.saturating_sub(next)
    }
    /// Co-simulation fast-forward: stands for `n` steps that [`Bus::quiet_steps`] said
    /// change nothing (the devices are not ticked; the monitor sees no change).
    pub fn skip(&mut self, n: u64) {
        self.cycle += n;
    }
    /// Steps with no external drive until `done(self)` is true or `max_cycles` pass.
    /// Returns true when `done` became true.
    pub fn run_until(&mut self, max_cycles: u64, mut done: impl FnMut(&mut Bus) -> bool) -> bool {
        let end = self.cycle + max_cycles;
        while self.cycle < end {
            self.step(BusDrive::NONE);
            if done(self) {
                return true;
            }
        }
        false
    }
    /// Steps `n` cycles with no external drive.
    pub fn run(&mut self, n: u64) {
        for _ in 0..n {
            self.step(BusDrive::NONE);
        }
    }
}
