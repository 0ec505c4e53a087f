//! hbactl's subcommands as a library: the binary (`main.rs`) is the command line over
//! these modules, and the fuzz targets and tests call the parsers directly.

pub mod bringupcmd;
pub mod bus;
pub mod error;
pub mod hba;
pub mod image;
pub mod job;
pub mod nbd;
pub mod png;
pub mod scsi;
pub mod sense;
pub mod stats;
pub mod tape;
pub mod tapeimg;
pub mod xptcmd;
