//! Card-memory buffers for HCB data: first-fit over the data area, coalescing on free.
//! A buffer stays allocated while the card may still move data into it (a command whose
//! CCB already went back to CAM keeps its buffer until the card says it is done).

use hba_abi::layout;

/// A buffer in the data area.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Buf {
    /// Card-memory byte address.
    pub addr: u32,
    /// Length in bytes (a multiple of [`ALIGN`]).
    pub len: u32,
}

/// Allocation granule: DMA and BAR words are 4 bytes.
pub const ALIGN: u32 = 4;

/// Free-list allocator over `[layout::DATA, layout::DATA + layout::DATA_BYTES)`.
#[derive(Debug)]
pub struct BufAlloc {
    free: Vec<(u32, u32)>,
}

impl Default for BufAlloc {
    fn default() -> Self {
        BufAlloc {
            free: vec![(layout::DATA, layout::DATA_BYTES)],
        }
    }
}

impl BufAlloc {
    /// A buffer of at least `len` bytes, if one fits now.
    pub fn alloc(&mut self, len: u32) -> Option<Buf> {
        let len = len.max(ALIGN).next_multiple_of(ALIGN);
        let i = self.free.iter().position(|&(_, l)| l >= len)?;
        let (a, l) = self.free[i];
        if l == len {
            self.free.remove(i);
        } else {
            self.free[i] = (a + len, l - len);
        }
        Some(Buf { addr: a, len })
    }

    /// Returns a buffer.
    pub fn free(&mut self, b: Buf) {
        let i = self.free.partition_point(|&(a, _)| a < b.addr);
        self.free.insert(i, (b.addr, b.len));
        // Coalesce with the neighbours.
        if i + 1 < self.free.len() && self.free[i].0 + self.free[i].1 == self.free[i + 1].0 {
            self.free[i].1 += self.free[i + 1].1;
            self.free.remove(i + 1);
        }
        if i > 0 && self.free[i - 1].0 + self.free[i - 1].1 == self.free[i].0 {
            self.free[i - 1].1 += self.free[i].1;
            self.free.remove(i);
        }
    }

    /// Bytes free in total.
    pub fn free_bytes(&self) -> u32 {
        self.free.iter().map(|&(_, l)| l).sum()
    }

    /// Forget every allocation (after a controller reset nothing on the card is live).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_within_the_data_area_and_coalesces() {
        let mut a = BufAlloc::default();
        let x = a.alloc(1000).unwrap();
        let y = a.alloc(3).unwrap();
        assert_eq!(x.addr, layout::DATA);
        assert_eq!(x.len, 1000);
        assert_eq!(y.len, 4);
        assert_eq!(y.addr, layout::DATA + 1000);
        assert!(a.alloc(layout::DATA_BYTES).is_none());
        a.free(x);
        a.free(y);
        assert_eq!(a.free_bytes(), layout::DATA_BYTES);
        assert_eq!(a.free.len(), 1, "coalesced back into one run");
        let all = a.alloc(layout::DATA_BYTES).unwrap();
        assert!(all.addr + all.len <= hba_abi::mem::CARD_MEM_BYTES);
    }

    #[test]
    fn random_alloc_free_never_overlaps() {
        let mut a = BufAlloc::default();
        let mut live: Vec<Buf> = Vec::new();
        let mut x = 12345u64;
        for _ in 0..5000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if (x >> 33).is_multiple_of(3) && !live.is_empty() {
                let i = (x >> 40) as usize % live.len();
                a.free(live.swap_remove(i));
            } else if let Some(b) = a.alloc(((x >> 20) % 20000) as u32 + 1) {
                for o in &live {
                    assert!(b.addr + b.len <= o.addr || o.addr + o.len <= b.addr);
                }
                assert!(b.addr >= layout::DATA);
                assert!(b.addr + b.len <= layout::DATA + layout::DATA_BYTES);
                live.push(b);
            }
        }
        for b in live.drain(..) {
            a.free(b);
        }
        assert_eq!(a.free_bytes(), layout::DATA_BYTES);
    }
}
