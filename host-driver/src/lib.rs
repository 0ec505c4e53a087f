//! Host driver for the FPGA SCSI HBA: the transports that reach the card, and the
//! bring-up operations (register dump, self-test) built on them.

pub mod bringup;
pub mod transport;

pub use transport::{Transport, TransportError};
