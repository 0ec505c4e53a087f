//! Host driver for the FPGA SCSI HBA: the transports that reach the card, and the
//! bring-up operations (register dump, self-test, sequencer control) built on them.

pub mod bringup;
pub mod seqctl;
pub mod transport;

pub use transport::{Transport, TransportError};
