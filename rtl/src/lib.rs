//! The FPGA SCSI HBA soft core, written in rust-hdl and emitted as Verilog.
//!
//! The emitted Verilog is the artifact everything downstream consumes: Verilator
//! (co-simulation, `hba-verif`), yosys (open-tool synthesis check) and Vivado.
//! Every register offset and value comes from `hba-abi`.

pub mod card_mem;
pub mod core;
pub mod cq;
pub mod iram;
pub mod phase;
pub mod seq;
pub mod slot;

pub use crate::core::HbaCore;

use rust_hdl::prelude::*;

/// Name of the top-level Verilog module.
pub const TOP_MODULE: &str = "top";

/// The whole core as one Verilog source (top module [`TOP_MODULE`]).
pub fn verilog() -> String {
    let mut uut = HbaCore::default();
    uut.connect_all();
    generate_verilog(&uut)
}
