//! The co-simulation backend of [`Transport`]: the host driver talks to the Verilated
//! core exactly as it talks to the card through XDMA, and simulated time advances by what
//! each operation costs on the real link, so timings measured here predict the hardware.

use crate::model::{Model, ModelError};
use hba_abi::{mem, CORE_CLOCK_NS};
use hba_host_driver::transport::LinkCost;
use hba_host_driver::{Transport, TransportError};
use std::time::Duration;

/// Time each host operation costs on the real link (PCIe + XDMA): one definition, in the
/// host driver, which also uses it to choose BAR or DMA.
pub type CostModel = LinkCost;

/// [`Transport`] over the Verilator model.
pub struct SimTransport {
    model: Model,
    cost: CostModel,
}

fn model_err(e: ModelError) -> TransportError {
    TransportError::Protocol(e.to_string())
}

impl SimTransport {
    /// A fresh core with the default cost model.
    pub fn new() -> Self {
        Self::with_cost(CostModel::default())
    }

    /// A fresh core with the given cost model.
    pub fn with_cost(cost: CostModel) -> Self {
        SimTransport {
            model: Model::new(),
            cost,
        }
    }

    /// The model, for tests and traces.
    pub fn model(&mut self) -> &mut Model {
        &mut self.model
    }

    // Advances simulated time until `cost_ns` has passed since `start` cycles.
    fn spend(&mut self, start: u64, cost_ns: u64) {
        let until = start + cost_ns.div_ceil(CORE_CLOCK_NS);
        while self.model.cycle() < until {
            self.model.advance(until - self.model.cycle());
        }
    }

    fn check_dma(card_addr: u64, len: usize) -> Result<(), TransportError> {
        let align = mem::CARD_MEM_DMA_ALIGN;
        if !card_addr.is_multiple_of(align) {
            return Err(TransportError::Misaligned {
                what: "DMA address",
                value: card_addr,
                align,
            });
        }
        if !(len as u64).is_multiple_of(align) {
            return Err(TransportError::Misaligned {
                what: "DMA length",
                value: len as u64,
                align,
            });
        }
        let limit = u64::from(mem::CARD_MEM_BYTES);
        if card_addr
            .checked_add(len as u64)
            .is_none_or(|end| end > limit)
        {
            return Err(TransportError::OutOfRange {
                what: "DMA",
                offset: card_addr,
                len: len as u64,
                limit,
            });
        }
        Ok(())
    }

    fn check_reg(offset: u32) -> Result<(), TransportError> {
        if !offset.is_multiple_of(4) {
            return Err(TransportError::Misaligned {
                what: "register offset",
                value: u64::from(offset),
                align: 4,
            });
        }
        if offset >= mem::REG_SPACE_BYTES {
            return Err(TransportError::OutOfRange {
                what: "register",
                offset: u64::from(offset),
                len: 4,
                limit: u64::from(mem::REG_SPACE_BYTES),
            });
        }
        Ok(())
    }
}

impl Default for SimTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl Transport for SimTransport {
    fn reg_read(&mut self, offset: u32) -> Result<u32, TransportError> {
        Self::check_reg(offset)?;
        let start = self.model.cycle();
        let r = self.model.axil_read(offset).map_err(model_err);
        self.spend(start, self.cost.bar_read_ns);
        r
    }

    fn reg_write(&mut self, offset: u32, value: u32) -> Result<(), TransportError> {
        Self::check_reg(offset)?;
        let start = self.model.cycle();
        let r = self.model.axil_write(offset, value).map_err(model_err);
        self.spend(start, self.cost.bar_write_ns);
        r
    }

    fn dma_write(&mut self, card_addr: u64, data: &[u8]) -> Result<(), TransportError> {
        Self::check_dma(card_addr, data.len())?;
        let start = self.model.cycle();
        let words: Vec<u32> = data
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        self.model.bram_write(card_addr as u32, &words);
        self.spend(start, self.cost.dma_ns(data.len()));
        Ok(())
    }

    fn dma_read(&mut self, card_addr: u64, buf: &mut [u8]) -> Result<(), TransportError> {
        Self::check_dma(card_addr, buf.len())?;
        let start = self.model.cycle();
        let mut words = vec![0u32; buf.len() / 4];
        self.model.bram_read(card_addr as u32, &mut words);
        for (c, w) in buf.chunks_exact_mut(4).zip(&words) {
            c.copy_from_slice(&w.to_le_bytes());
        }
        self.spend(start, self.cost.dma_ns(buf.len()));
        Ok(())
    }

    fn wait_irq(&mut self, timeout: Duration) -> Result<bool, TransportError> {
        let start = self.model.cycle();
        let limit = start + (timeout.as_nanos() as u64).div_ceil(CORE_CLOCK_NS);
        loop {
            if self.model.take_msi() {
                let now = self.model.cycle();
                self.spend(now, self.cost.irq_wakeup_ns);
                return Ok(true);
            }
            if self.model.cycle() >= limit {
                return Ok(false);
            }
            // A fast-forward step ends before any MSI: one needs a rising usr_irq_req
            // and its ack, and neither happens while the core is quiet.
            self.model.advance(limit - self.model.cycle());
        }
    }

    fn now(&self) -> Duration {
        Duration::from_nanos(self.model.time_ns())
    }

    fn name(&self) -> String {
        "sim".into()
    }

    fn link_cost(&self) -> LinkCost {
        self.cost
    }
}
