//! How the host reaches the card: 32-bit register access on the user BAR, bulk access
//! to card memory through the DMA engine, and the interrupt line.
//!
//! Two backends implement [`Transport`]: [`xdma::XdmaTransport`] over the Xilinx XDMA
//! character devices, and the co-simulation backend in the `hba-verif` crate (kept there
//! so this crate never needs Verilator to build).

use std::time::Duration;

pub mod xdma;

/// Errors a transport can report. Every failure of the device or the OS lands here;
/// nothing in a transport panics on what the device returns.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A device node is missing or cannot be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A system call on an open device failed.
    #[error("{op} on {path} failed: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// An address, offset or length breaks the device's alignment rules.
    #[error("misaligned {what}: {value:#x} is not a multiple of {align}")]
    Misaligned {
        what: &'static str,
        value: u64,
        align: u64,
    },
    /// An access falls outside the window the device exposes.
    #[error("out of range: {what} {offset:#x}+{len:#x} exceeds {limit:#x}")]
    OutOfRange {
        what: &'static str,
        offset: u64,
        len: u64,
        limit: u64,
    },
    /// A transfer moved fewer bytes than asked.
    #[error("short {op}: {done} of {wanted} bytes at {offset:#x}")]
    Short {
        op: &'static str,
        done: usize,
        wanted: usize,
        offset: u64,
    },
    /// The device answered something the protocol does not allow.
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// The host's view of the card. One owner drives it from one thread.
pub trait Transport {
    /// Reads the 32-bit register at byte offset `offset` of the register space.
    fn reg_read(&mut self, offset: u32) -> Result<u32, TransportError>;
    /// Writes the 32-bit register at byte offset `offset` of the register space.
    fn reg_write(&mut self, offset: u32, value: u32) -> Result<(), TransportError>;
    /// Copies `data` into card memory at `card_addr` through the DMA engine (H2C).
    fn dma_write(&mut self, card_addr: u64, data: &[u8]) -> Result<(), TransportError>;
    /// Copies card memory at `card_addr` into `buf` through the DMA engine (C2H).
    fn dma_read(&mut self, card_addr: u64, buf: &mut [u8]) -> Result<(), TransportError>;
    /// Waits until the interrupt line has been raised or `timeout` passes. Returns
    /// `true` when an interrupt was seen. Interrupts are hints: several may merge into
    /// one, so the caller reads the cause register to learn what happened.
    fn wait_irq(&mut self, timeout: Duration) -> Result<bool, TransportError>;
    /// Time since the transport was opened: simulated time in co-simulation, the
    /// monotonic clock on hardware. All driver timeouts are measured against it.
    fn now(&self) -> Duration;
    /// A short name for logs ("sim", "xdma:/dev/xdma0").
    fn name(&self) -> String;
}
