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

/// What each host operation costs on the link to the card, in nanoseconds: the driver
/// uses it to choose BAR or DMA for each transfer, and the co-simulation charges it so
/// that simulated time predicts a board. Defaults: the reference board (AC701, XDMA,
/// PCIe Gen2 x4), figures measured in TOOLCHAIN-NOTES.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkCost {
    /// A BAR read: a non-posted PCIe read, the CPU waits for the completion.
    pub bar_read_ns: u64,
    /// A BAR write: posted; the CPU moves on after about this long.
    pub bar_write_ns: u64,
    /// Fixed cost of one DMA call (descriptor set-up, interrupt, syscall).
    pub dma_call_ns: u64,
    /// Link bandwidth of a DMA transfer in picoseconds per byte, on top of the call.
    pub dma_ps_per_byte: u64,
    /// From the MSI to the process returning from its wait on the events file.
    pub irq_wakeup_ns: u64,
}

impl Default for LinkCost {
    fn default() -> Self {
        LinkCost::XDMA_GEN2_X4
    }
}

impl LinkCost {
    /// The reference board: PCIe Gen2 x4 is 2 GB/s per direction after 8b/10b; with TLP
    /// headers at a 256-byte payload about 1.6 GB/s reach memory (625 ps per byte).
    pub const XDMA_GEN2_X4: LinkCost = LinkCost {
        bar_read_ns: 1_000,
        bar_write_ns: 100,
        dma_call_ns: 30_000,
        dma_ps_per_byte: 625,
        irq_wakeup_ns: 5_000,
    };

    /// No link cost at all: only the core's own cycles count (block tests).
    pub const FREE: LinkCost = LinkCost {
        bar_read_ns: 0,
        bar_write_ns: 0,
        dma_call_ns: 0,
        dma_ps_per_byte: 0,
        irq_wakeup_ns: 0,
    };

    /// Cost of one DMA call moving `bytes`.
    pub fn dma_ns(&self, bytes: usize) -> u64 {
        self.dma_call_ns + (bytes as u64 * self.dma_ps_per_byte).div_ceil(1000)
    }

    /// Cost of moving `bytes` (a multiple of 4) word by word through the BAR.
    pub fn bar_ns(&self, bytes: usize, write: bool) -> u64 {
        let per = if write {
            self.bar_write_ns
        } else {
            self.bar_read_ns
        };
        (bytes as u64).div_ceil(4) * per
    }

    /// Whether DMA is the cheaper way to move `bytes` (ties go to the BAR: no syscall).
    pub fn prefer_dma(&self, bytes: usize, write: bool) -> bool {
        self.dma_ns(bytes) < self.bar_ns(bytes, write)
    }
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
    /// What operations cost on this link (the driver picks BAR or DMA by it).
    fn link_cost(&self) -> LinkCost {
        LinkCost::default()
    }
}
