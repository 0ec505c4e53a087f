//! A [`Transport`] that injects the failures of the host side of the link (PCIe and the
//! XDMA driver) on top of the co-simulation transport: a DMA call that fails or times
//! out, a lost or merged interrupt, a completion entry corrupted in transit, and a card
//! that disappears (every BAR read all ones, as a surprise-removed card reads). Each fault
//! is planned at a simulated time and fires once on the first operation it applies to
//! (removal stays), so a seed replays exactly. The wrapped transport is untouched: the
//! faults are what the SIM sees, the core underneath keeps running as a card would.

use crate::model::Model;
use crate::SimTransport;
use hba_abi::{layout, mem, CORE_CLOCK_NS};
use hba_host_driver::transport::LinkCost;
use hba_host_driver::{Transport, TransportError};
use std::collections::BTreeMap;
use std::time::Duration;

/// A transport whose Verilator model a rig can reach (the co-simulation transport and
/// wrappers around it).
pub trait CosimTransport: Transport + 'static {
    /// The model underneath.
    fn model(&mut self) -> &mut Model;
}

impl CosimTransport for SimTransport {
    fn model(&mut self) -> &mut Model {
        SimTransport::model(self)
    }
}

/// How a completion entry is corrupted in transit (word 0 of the first entry read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// The type field becomes one the contract does not define.
    Kind,
    /// The HBA status becomes one the contract does not define.
    Status,
    /// The slot field points beyond the slot table.
    Slot,
    /// The phase bit flips: the entry looks not yet written (seen again at the next look).
    Phase,
}

/// One host-side fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportFault {
    /// The next DMA call fails with an I/O error and moves nothing.
    DmaError,
    /// The next DMA call moves its data but returns only after `1 ms` with `ETIMEDOUT`
    /// (the XDMA driver's transfer timeout: the host cannot tell what moved).
    DmaTimeout,
    /// The next interrupt never reaches the host.
    LostIrq,
    /// The next interrupt is held until another one comes or the wait ends: two
    /// interrupts reach the host as one, late.
    MergedIrq,
    /// The next read of a completion entry returns word 0 with bits flipped.
    CorruptEntry(Corruption),
    /// The card is gone from here on: BAR reads return all ones, writes go nowhere, DMA
    /// fails, no interrupt comes.
    Removal,
    /// The card goes, as [`TransportFault::Removal`], the moment the host has read the
    /// next completion entry whole: the worst time, between an entry and its data.
    RemovalAfterEntry,
}

impl TransportFault {
    /// The class name used in the campaign's table.
    pub fn class(&self) -> &'static str {
        match self {
            TransportFault::DmaError => "DMA error",
            TransportFault::DmaTimeout => "DMA timeout",
            TransportFault::LostIrq => "lost interrupt",
            TransportFault::MergedIrq => "merged interrupts",
            TransportFault::CorruptEntry(_) => "corrupted completion entry",
            TransportFault::Removal | TransportFault::RemovalAfterEntry => "surprise removal",
        }
    }
}

/// Every class [`TransportFault::class`] names, in table order.
pub const TRANSPORT_CLASSES: &[&str] = &[
    "DMA error",
    "DMA timeout",
    "lost interrupt",
    "merged interrupts",
    "corrupted completion entry",
    "surprise removal",
];

/// How long a timed-out DMA call keeps the host waiting.
const DMA_TIMEOUT: Duration = Duration::from_millis(1);

/// The co-simulation transport with host-side faults.
pub struct FaultyTransport {
    inner: SimTransport,
    /// Planned faults not yet armed: (simulated ns, fault), in time order.
    plan: Vec<(u64, TransportFault)>,
    /// Armed faults waiting for an operation they apply to.
    armed: Vec<TransportFault>,
    /// Faults that fired, per class.
    fired: BTreeMap<&'static str, u64>,
    /// Simulated ns at which the card disappeared.
    removed_at: Option<u64>,
    /// Time that passed without the model ticking (a removed card: nothing on the far
    /// side of the link can change, so its waits cost no co-simulation).
    skipped_ns: u64,
}

fn io_err(op: &'static str, kind: std::io::ErrorKind, what: &str) -> TransportError {
    TransportError::Io {
        op,
        path: "sim (injected)".into(),
        source: std::io::Error::new(kind, what.to_string()),
    }
}

impl FaultyTransport {
    /// A fresh core with no fault planned.
    pub fn new() -> Self {
        FaultyTransport {
            inner: SimTransport::new(),
            plan: Vec::new(),
            armed: Vec::new(),
            fired: BTreeMap::new(),
            removed_at: None,
            skipped_ns: 0,
        }
    }

    /// Plans `fault` at simulated time `at_ns` (it fires on the first operation it
    /// applies to from then on).
    pub fn plan(&mut self, at_ns: u64, fault: TransportFault) {
        self.plan.push((at_ns, fault));
        self.plan.sort_by_key(|(t, _)| *t);
    }

    /// Faults that fired so far, per class.
    pub fn fired(&self) -> &BTreeMap<&'static str, u64> {
        &self.fired
    }

    /// When the card disappeared, if it did.
    pub fn removed_at(&self) -> Option<u64> {
        self.removed_at
    }

    /// Whether the card is gone (a removal planned at or before now).
    pub fn removed(&mut self) -> bool {
        self.arm();
        self.removed_at.is_some()
    }

    fn arm(&mut self) {
        let now = self.now().as_nanos() as u64;
        while self.plan.first().is_some_and(|(t, _)| *t <= now) {
            let (_, f) = self.plan.remove(0);
            if f == TransportFault::Removal {
                if self.removed_at.is_none() {
                    self.removed_at = Some(now);
                    *self.fired.entry(f.class()).or_default() += 1;
                }
            } else {
                self.armed.push(f);
            }
        }
    }

    /// A card-memory read that covered a completion entry's last word just returned: a
    /// planned removal-after-entry takes effect now.
    fn entry_read(&mut self) {
        if self
            .take(|f| *f == TransportFault::RemovalAfterEntry)
            .is_some()
            && self.removed_at.is_none()
        {
            self.removed_at = Some(self.now().as_nanos() as u64);
        }
    }

    /// Takes the first armed fault `want` accepts, counting it as fired.
    fn take(&mut self, want: impl Fn(&TransportFault) -> bool) -> Option<TransportFault> {
        self.arm();
        let i = self.armed.iter().position(want)?;
        let f = self.armed.remove(i);
        *self.fired.entry(f.class()).or_default() += 1;
        Some(f)
    }

    // Advances time by `ns` (what an operation still costs): the model ticks while the
    // card is there, the clock jumps once it is gone.
    fn spend(&mut self, ns: u64) {
        if self.removed_at.is_some() {
            self.skipped_ns += ns;
            return;
        }
        let m = self.inner.model();
        let until = m.cycle() + ns.div_ceil(CORE_CLOCK_NS);
        while m.cycle() < until {
            m.tick();
        }
    }

    fn is_cq(card_addr: u64, len: u64) -> bool {
        let cq = u64::from(layout::CQ);
        let cq_end = cq + u64::from(layout::CQ_ENTRIES * layout::CQ_ENTRY_BYTES);
        card_addr < cq_end && card_addr + len > cq
    }

    fn corrupt(w0: u32, how: Corruption) -> u32 {
        match how {
            // Type 1 (completion) or any defined type becomes 0x41.. (undefined).
            Corruption::Kind => w0 ^ (0x40 << layout::cqe::TYPE_SHIFT),
            Corruption::Status => w0 | (0x80 << layout::cqe::HBA_STATUS_SHIFT),
            Corruption::Slot => w0 | 0x80,
            Corruption::Phase => w0 ^ layout::cqe::PHASE,
        }
    }
}

impl Default for FaultyTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl CosimTransport for FaultyTransport {
    fn model(&mut self) -> &mut Model {
        self.inner.model()
    }
}

impl Transport for FaultyTransport {
    fn reg_read(&mut self, offset: u32) -> Result<u32, TransportError> {
        if self.removed() {
            self.spend(self.inner.link_cost().bar_read_ns);
            return Ok(u32::MAX);
        }
        let v = self.inner.reg_read(offset)?;
        // Word 0 of a completion entry read through the BAR window.
        if let Some(a) = offset.checked_sub(mem::CARD_MEM_WINDOW) {
            if Self::is_cq(u64::from(a), 4)
                && (a - layout::CQ).is_multiple_of(layout::CQ_ENTRY_BYTES)
            {
                if let Some(TransportFault::CorruptEntry(how)) =
                    self.take(|f| matches!(f, TransportFault::CorruptEntry(_)))
                {
                    return Ok(Self::corrupt(v, how));
                }
            }
            let last = layout::CQ_ENTRY_BYTES - 4;
            if Self::is_cq(u64::from(a), 4) && (a - layout::CQ) % layout::CQ_ENTRY_BYTES == last {
                self.entry_read();
            }
        }
        Ok(v)
    }

    fn reg_write(&mut self, offset: u32, value: u32) -> Result<(), TransportError> {
        if self.removed() {
            self.spend(self.inner.link_cost().bar_write_ns);
            return Ok(());
        }
        self.inner.reg_write(offset, value)
    }

    fn dma_write(&mut self, card_addr: u64, data: &[u8]) -> Result<(), TransportError> {
        if self.removed() {
            self.spend(DMA_TIMEOUT.as_nanos() as u64);
            return Err(io_err("pwrite", std::io::ErrorKind::TimedOut, "card gone"));
        }
        match self.take(|f| matches!(f, TransportFault::DmaError | TransportFault::DmaTimeout)) {
            Some(TransportFault::DmaError) => {
                self.spend(self.inner.link_cost().dma_call_ns);
                Err(io_err("pwrite", std::io::ErrorKind::Other, "EIO"))
            }
            Some(_) => {
                self.inner.dma_write(card_addr, data)?;
                self.spend(DMA_TIMEOUT.as_nanos() as u64);
                Err(io_err("pwrite", std::io::ErrorKind::TimedOut, "ETIMEDOUT"))
            }
            None => self.inner.dma_write(card_addr, data),
        }
    }

    fn dma_read(&mut self, card_addr: u64, buf: &mut [u8]) -> Result<(), TransportError> {
        if self.removed() {
            self.spend(DMA_TIMEOUT.as_nanos() as u64);
            return Err(io_err("pread", std::io::ErrorKind::TimedOut, "card gone"));
        }
        match self.take(|f| matches!(f, TransportFault::DmaError | TransportFault::DmaTimeout)) {
            Some(TransportFault::DmaError) => {
                self.spend(self.inner.link_cost().dma_call_ns);
                return Err(io_err("pread", std::io::ErrorKind::Other, "EIO"));
            }
            Some(_) => {
                self.inner.dma_read(card_addr, buf)?;
                self.spend(DMA_TIMEOUT.as_nanos() as u64);
                return Err(io_err("pread", std::io::ErrorKind::TimedOut, "ETIMEDOUT"));
            }
            None => self.inner.dma_read(card_addr, buf)?,
        }
        let at = card_addr.wrapping_sub(mem::CARD_MEM_DMA_BASE);
        if Self::is_cq(at, buf.len() as u64) && buf.len() >= 4 {
            if let Some(TransportFault::CorruptEntry(how)) =
                self.take(|f| matches!(f, TransportFault::CorruptEntry(_)))
            {
                // Word 0 of the first entry in the buffer.
                let first = u64::from(layout::CQ).saturating_sub(at) as usize;
                let skip = (at.saturating_sub(u64::from(layout::CQ))
                    % u64::from(layout::CQ_ENTRY_BYTES)) as usize;
                let o = if skip == 0 {
                    first
                } else {
                    first + layout::CQ_ENTRY_BYTES as usize - skip
                };
                if let Some(w) = buf.get_mut(o..o + 4) {
                    let v = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                    w.copy_from_slice(&Self::corrupt(v, how).to_le_bytes());
                }
            }
            self.entry_read();
        }
        Ok(())
    }

    fn wait_irq(&mut self, timeout: Duration) -> Result<bool, TransportError> {
        if self.removed() {
            self.spend(timeout.as_nanos() as u64);
            return Ok(false);
        }
        let t0 = self.inner.now();
        let got = self.inner.wait_irq(timeout)?;
        if !got {
            return Ok(false);
        }
        match self.take(|f| matches!(f, TransportFault::LostIrq | TransportFault::MergedIrq)) {
            Some(TransportFault::LostIrq) => Ok(false),
            Some(_) => {
                let left = timeout.saturating_sub(self.inner.now().saturating_sub(t0));
                let _ = self.inner.wait_irq(left)?;
                Ok(true)
            }
            None => Ok(true),
        }
    }

    fn now(&self) -> Duration {
        self.inner.now() + Duration::from_nanos(self.skipped_ns)
    }

    fn name(&self) -> String {
        "sim (faulty)".into()
    }

    fn link_cost(&self) -> LinkCost {
        self.inner.link_cost()
    }
}
