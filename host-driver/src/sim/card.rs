//! The card as the SIM shares it with the event loop's clock: the transport, the
//! interrupt hint, and the cost-aware ways to move bytes to and from card memory (BAR
//! words for small pieces, one DMA call for large ones, as the link cost decides).

use crate::transport::{Transport, TransportError};
use hba_abi::{mem, regs, MAGIC};
use hba_cam::{CamTime, Clock};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// The transport and what the clock learns while waiting on it.
pub struct Card<T: Transport> {
    /// The transport to the card.
    pub t: T,
    /// An interrupt arrived since the SIM last serviced the card (a hint only).
    pub irq_seen: bool,
    /// Transport errors met by the clock while waiting (the SIM reports them).
    pub wait_errors: Vec<TransportError>,
}

/// The card shared by the SIM and the clock (one thread, so `Rc<RefCell>`).
pub type CardHandle<T> = Rc<RefCell<Card<T>>>;

/// Wraps a transport into a shared card handle.
pub fn share<T: Transport>(t: T) -> CardHandle<T> {
    Rc::new(RefCell::new(Card {
        t,
        irq_seen: false,
        wait_errors: Vec::new(),
    }))
}

impl<T: Transport> Card<T> {
    /// Current time of the transport (simulated or monotonic).
    pub fn now(&self) -> CamTime {
        CamTime(self.t.now().as_nanos().min(u64::MAX as u128) as u64)
    }

    /// Writes bytes into card memory at `addr` (4-byte aligned), by BAR words or by one
    /// DMA call, whichever the link makes cheaper. A ragged tail is zero-padded.
    pub fn mem_write(&mut self, addr: u32, data: &[u8]) -> Result<(), TransportError> {
        if data.is_empty() {
            return Ok(());
        }
        let padded;
        let data = if !data.len().is_multiple_of(4) {
            let mut v = data.to_vec();
            v.resize(data.len().next_multiple_of(4), 0);
            padded = v;
            &padded[..]
        } else {
            data
        };
        if self.t.link_cost().prefer_dma(data.len(), true) {
            self.t
                .dma_write(mem::CARD_MEM_DMA_BASE + u64::from(addr), data)
        } else {
            for (i, c) in data.chunks_exact(4).enumerate() {
                let w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                self.t
                    .reg_write(mem::CARD_MEM_WINDOW + addr + 4 * i as u32, w)?;
            }
            Ok(())
        }
    }

    /// Reads `len` bytes of card memory at `addr` (4-byte aligned), by BAR or by DMA.
    pub fn mem_read(&mut self, addr: u32, len: usize) -> Result<Vec<u8>, TransportError> {
        let n = len.next_multiple_of(4);
        let mut buf = vec![0u8; n];
        if n == 0 {
            return Ok(buf);
        }
        if self.t.link_cost().prefer_dma(n, false) {
            self.t
                .dma_read(mem::CARD_MEM_DMA_BASE + u64::from(addr), &mut buf)?;
        } else {
            let mut ones = false;
            for (i, c) in buf.chunks_exact_mut(4).enumerate() {
                let w = self
                    .t
                    .reg_read(mem::CARD_MEM_WINDOW + addr + 4 * i as u32)?;
                ones |= w == u32::MAX;
                c.copy_from_slice(&w.to_le_bytes());
            }
            if ones {
                self.check_present()?;
            }
        }
        buf.truncate(len);
        Ok(buf)
    }

    /// A surprise-removed card reads all ones through the BAR (its completions time out),
    /// so card memory read there as a word of all ones is only trusted once the ID
    /// register still answers; otherwise a removal between a completion entry and its
    /// data would hand the CCB 0xFF bytes as GOOD data. One BAR read, only after such a
    /// word. (A DMA from a removed card fails in the driver and never fills the buffer.)
    fn check_present(&mut self) -> Result<(), TransportError> {
        match self.t.reg_read(regs::ID)? {
            MAGIC => Ok(()),
            v => Err(TransportError::Protocol(format!(
                "card memory reads all ones and ID reads {v:#x}: the card is not answering"
            ))),
        }
    }

    /// Writes 32-bit words into card memory by BAR (HCBs, ring entries, goals).
    pub fn mem_write_words(&mut self, addr: u32, words: &[u32]) -> Result<(), TransportError> {
        for (i, w) in words.iter().enumerate() {
            self.t
                .reg_write(mem::CARD_MEM_WINDOW + addr + 4 * i as u32, *w)?;
        }
        Ok(())
    }
}

/// The event loop's clock over the card: `now` is the transport's time, and waiting for
/// a deadline waits on the interrupt with that timeout, so the loop wakes at the next
/// interrupt or the next deadline, whichever comes first. In co-simulation the wait
/// advances simulated time; on a board it sleeps in `poll` on the events file.
pub struct CardClock<T: Transport> {
    card: CardHandle<T>,
    last: std::cell::Cell<u64>,
}

impl<T: Transport> CardClock<T> {
    /// A clock over `card`.
    pub fn new(card: CardHandle<T>) -> Self {
        CardClock {
            card,
            last: std::cell::Cell::new(0),
        }
    }
}

impl<T: Transport> Clock for CardClock<T> {
    fn now(&self) -> CamTime {
        // The SIM may hold the card while the XPT asks the time (never in this crate's
        // paths, but a periph callback could): then the last time read is the answer.
        match self.card.try_borrow() {
            Ok(c) => {
                let t = c.now();
                self.last.set(t.0);
                t
            }
            Err(_) => CamTime(self.last.get()),
        }
    }

    fn wait_until(&self, t: CamTime) {
        let Ok(mut c) = self.card.try_borrow_mut() else {
            return;
        };
        let now = c.now();
        if t <= now {
            return;
        }
        match c.t.wait_irq(Duration::from_nanos(t.0 - now.0)) {
            Ok(true) => c.irq_seen = true,
            Ok(false) => {}
            Err(e) => c.wait_errors.push(e),
        }
        self.last.set(c.now().0);
    }
}
