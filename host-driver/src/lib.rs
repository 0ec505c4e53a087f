//! Host driver for the FPGA SCSI HBA: the transports that reach the card, the bring-up
//! operations (register dump, self-test, sequencer control), the SIM that joins the CAM
//! stack to the card, and a small stack API for tools.

pub mod bringup;
pub mod seqctl;
pub mod sim;
pub mod stack;
pub mod transport;

pub use transport::{Transport, TransportError};
