//! Co-simulation of the HBA core: the real RTL, emitted by rust-hdl and compiled by
//! Verilator in this crate's build script, driven cycle by cycle from Rust.
//!
//! - [`model::Model`]: the Verilated core with AXI4-Lite, BRAM-port and XDMA-interrupt
//!   masters around it, and FST tracing on demand.
//! - [`transport::SimTransport`]: the host driver's `Transport` over the model, with a
//!   cost model of the PCIe/XDMA link so simulated time predicts the hardware.
//!
//! - [`faulty_transport::FaultyTransport`]: the same transport with host-link faults
//!   (DMA errors and timeouts, lost and merged interrupts, corrupted completion entries,
//!   surprise removal) for the whole-stack [`campaign`].
//!
//! - [`pins`]: the SCSI pins of the core packed as `hba_abi::regs::scsi_bus`, and their
//!   conversion to the `scsi-bus` model's signals; [`model::Model::attach_bus`] plugs
//!   the core onto a pin-level bus with targets and the protocol monitor.

pub mod campaign;
pub mod faulty_transport;
pub mod fwrig;
pub mod host;
pub mod model;
pub mod pins;
pub mod rig;
pub mod simrig;
pub mod transport;

pub use hba_firmware::testprog;
pub use model::Model;
pub use transport::{CostModel, SimTransport};

/// Milliseconds the build script spent emitting and Verilating the core, and in total
/// (including the C++ compile of the runtime), measured when this crate was built.
pub const BUILD_TIMES_MS: (&str, &str) = (env!("HBA_VERILATE_MS"), env!("HBA_MODEL_BUILD_MS"));
