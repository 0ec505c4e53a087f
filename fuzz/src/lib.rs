//! Fuzz target bodies (in `targets`) and the hbactl modules they call, compiled here
//! from hbactl's own sources (hbactl is a binary crate; its parser is called, not
//! copied or changed).

#[allow(dead_code)]
#[path = "../../host-driver/hbactl/src/error.rs"]
mod error;

#[allow(dead_code)]
#[path = "../../host-driver/hbactl/src/bus.rs"]
mod bus;

pub mod targets;
