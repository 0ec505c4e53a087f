//! Errors of `hbactl` and the exit codes scripts rely on.
//!
//! | code | meaning                                                        |
//! |------|----------------------------------------------------------------|
//! | 0    | success                                                        |
//! | 1    | usage: bad arguments or options                                |
//! | 2    | the device or CAM reported an error (CHECK CONDITION, timeout) |
//! | 3    | no such device at that address                                 |
//! | 4    | bad input: an unreadable file, a bad bus TOML, bad hex, ranges |
//! | 5    | the HBA could not be opened or attached (transport, firmware)  |

use std::process::ExitCode;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: bad arguments.
pub const EXIT_USAGE: u8 = 1;
/// Exit code: the device or CAM reported an error.
pub const EXIT_DEVICE: u8 = 2;
/// Exit code: no device at that address.
pub const EXIT_NO_DEVICE: u8 = 3;
/// Exit code: bad input file, TOML or data.
pub const EXIT_INPUT: u8 = 4;
/// Exit code: the HBA could not be opened.
pub const EXIT_HBA: u8 = 5;

/// Everything a subcommand can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad arguments that clap could not catch (e.g. an LBA range past the end).
    #[error("{0}")]
    Usage(String),
    /// A SCSI or CAM failure on a device.
    #[error("{what}: {detail}")]
    Device {
        /// The command.
        what: String,
        /// Layered status and decoded sense.
        detail: String,
    },
    /// Nothing answers at the address.
    #[error("no device at {0}")]
    NoDevice(String),
    /// A device exists but is not of the needed kind.
    #[error("{addr} is not a {want} (it is {is})")]
    WrongType {
        /// Address.
        addr: String,
        /// Needed kind.
        want: &'static str,
        /// What it is.
        is: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Bad input data (hex, sizes, mapfile).
    #[error("{0}")]
    Input(String),
    /// The bus description is bad.
    #[error("bus description {path}: {msg}")]
    Bus {
        /// The TOML file.
        path: String,
        /// What is wrong, with line and key.
        msg: String,
    },
    /// The stack (SIM attach, waits) failed.
    #[error("HBA: {0}")]
    Stack(#[from] hba_host_driver::stack::StackError),
    /// The co-simulation model failed (trace file).
    #[error("co-simulation: {0}")]
    Model(#[from] hba_verif::model::ModelError),
    /// A transport failed outside the stack.
    #[error("transport: {0}")]
    Transport(#[from] hba_host_driver::TransportError),
    /// A periph refused to start a request.
    #[error("{what}: {source}")]
    Periph {
        /// The request.
        what: String,
        /// Why.
        #[source]
        source: hba_cam::periph::PeriphError,
    },
    /// A bring-up step failed.
    #[error("{0}")]
    Bringup(String),
}

impl Error {
    /// The documented exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => EXIT_USAGE,
            Error::Device { .. } | Error::Periph { .. } | Error::Bringup(_) => EXIT_DEVICE,
            Error::NoDevice(_) | Error::WrongType { .. } => EXIT_NO_DEVICE,
            Error::File { .. } | Error::Input(_) | Error::Bus { .. } => EXIT_INPUT,
            Error::Stack(hba_host_driver::stack::StackError::Timeout { .. })
            | Error::Stack(hba_host_driver::stack::StackError::Stalled(_)) => EXIT_DEVICE,
            Error::Stack(_) | Error::Model(_) | Error::Transport(_) => EXIT_HBA,
        }
    }

    /// A file error for `path`.
    pub fn file(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::File {
            path: path.display().to_string(),
            source,
        }
    }

    /// The exit code as a process exit code.
    pub fn exit(&self) -> ExitCode {
        ExitCode::from(self.exit_code())
    }
}

/// The message with its cause chain, one `: cause` per level, as the top-level report.
pub fn report(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        // thiserror's transparent/from variants often repeat the cause in the message.
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Result of a subcommand.
pub type Result<T, E = Error> = std::result::Result<T, E>;
