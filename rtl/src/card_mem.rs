//! Card memory: a true dual-port RAM of 32-bit words with byte-lane write enables.
//!
//! Port A is the native BRAM port the XDMA AXI BRAM controller drives (DMA); port B
//! belongs to the core. Both are synchronous, read-first, one cycle of read latency,
//! which is the shape Xilinx block RAM and yosys' BRAM mapping expect.

use hba_abi::mem::CARD_MEM_ADDR_BITS;
use rust_hdl::prelude::*;
use std::collections::BTreeMap;

/// Word-address width of card memory.
pub const ADDR_BITS: usize = CARD_MEM_ADDR_BITS as usize;

/// True dual-port RAM with byte enables, one clock.
#[derive(LogicBlock, Default)]
pub struct CardMem {
    /// The single clock of both ports.
    pub clock: Signal<In, Clock>,
    /// Port A enable (a read or a write happens only when set).
    pub a_en: Signal<In, Bit>,
    /// Port A byte-lane write enables.
    pub a_we: Signal<In, Bits<4>>,
    /// Port A word address.
    pub a_addr: Signal<In, Bits<ADDR_BITS>>,
    /// Port A write data.
    pub a_din: Signal<In, Bits<32>>,
    /// Port A read data (word at the address of the previous enabled cycle).
    pub a_dout: Signal<Out, Bits<32>>,
    /// Port B enable.
    pub b_en: Signal<In, Bit>,
    /// Port B byte-lane write enables.
    pub b_we: Signal<In, Bits<4>>,
    /// Port B word address.
    pub b_addr: Signal<In, Bits<ADDR_BITS>>,
    /// Port B write data.
    pub b_din: Signal<In, Bits<32>>,
    /// Port B read data.
    pub b_dout: Signal<Out, Bits<32>>,
    _sim: BTreeMap<u64, u64>,
}

fn merge(old: u64, new: u64, we: u64) -> u64 {
    let mut out = old;
    for lane in 0..4 {
        if we & (1 << lane) != 0 {
            let m = 0xFFu64 << (8 * lane);
            out = (out & !m) | (new & m);
        }
    }
    out
}

impl Logic for CardMem {
    // Behavioural model for rust-hdl's own simulator; Verilator runs the Verilog below.
    fn update(&mut self) {
        if self.clock.pos_edge() {
            for port in 0..2 {
                let (en, we, addr, din) = if port == 0 {
                    (
                        self.a_en.val(),
                        self.a_we.val(),
                        self.a_addr.val(),
                        self.a_din.val(),
                    )
                } else {
                    (
                        self.b_en.val(),
                        self.b_we.val(),
                        self.b_addr.val(),
                        self.b_din.val(),
                    )
                };
                if !en {
                    continue;
                }
                let key = addr.index() as u64;
                let old = *self._sim.get(&key).unwrap_or(&0);
                let dout: Bits<32> = old.to_bits();
                if port == 0 {
                    self.a_dout.next = dout;
                } else {
                    self.b_dout.next = dout;
                }
                let w = we.index() as u64;
                if w != 0 {
                    let v = merge(old, din.index() as u64, w);
                    self._sim.insert(key, v);
                }
            }
        }
    }

    fn connect(&mut self) {
        self.a_dout.connect();
        self.b_dout.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "\
reg [31:0] mem [0:{last}];

always @(posedge clock) begin
   if (a_en) begin
      a_dout <= mem[a_addr];
      if (a_we[0]) mem[a_addr][7:0] <= a_din[7:0];
      if (a_we[1]) mem[a_addr][15:8] <= a_din[15:8];
      if (a_we[2]) mem[a_addr][23:16] <= a_din[23:16];
      if (a_we[3]) mem[a_addr][31:24] <= a_din[31:24];
   end
end

always @(posedge clock) begin
   if (b_en) begin
      b_dout <= mem[b_addr];
      if (b_we[0]) mem[b_addr][7:0] <= b_din[7:0];
      if (b_we[1]) mem[b_addr][15:8] <= b_din[15:8];
      if (b_we[2]) mem[b_addr][23:16] <= b_din[23:16];
      if (b_we[3]) mem[b_addr][31:24] <= b_din[31:24];
   end
end
",
            last = (1usize << ADDR_BITS) - 1
        ))
    }

    fn timing(&self) -> Vec<TimingInfo> {
        ["a", "b"]
            .iter()
            .map(|p| TimingInfo {
                name: format!("card_mem_{p}"),
                clock: "clock".into(),
                inputs: ["en", "we", "addr", "din"]
                    .iter()
                    .map(|s| format!("{p}_{s}"))
                    .collect(),
                outputs: vec![format!("{p}_dout")],
            })
            .collect()
    }
}
