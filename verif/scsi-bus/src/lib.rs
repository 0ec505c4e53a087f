//! Pin-level parallel SCSI bus for co-simulation: a wired-OR [`bus::Bus`] of
//! [`bus::BusDevice`]s stepped at the 100 MHz core clock, SPI target models (disk, tape)
//! with seeded fault injection, a test initiator, and a protocol-checking monitor that
//! also decodes the traffic into a readable log.

#![warn(missing_docs)]

pub mod arb;
pub mod bus;
pub mod faults;
pub mod initiator;
pub mod log;
pub mod monitor;
pub mod signals;
pub mod target;

pub use bus::{Bus, BusDevice, DeviceHandle, Width};
pub use monitor::{Monitor, Rule, Violation};
pub use signals::{BusDrive, BusSignals, Phase};
