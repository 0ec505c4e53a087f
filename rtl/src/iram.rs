//! The sequencer's instruction RAM: 1024 x 32 bits, two ports, one clock.
//!
//! The host port reads and writes (the register block's `SEQ_IADDR`/`SEQ_IDATA`); the
//! fetch port only reads (instruction fetch and the checksum scan). Both are
//! synchronous, read-first, one cycle of read latency and always enabled: each
//! `*_rdata` is the word at the port's address of the previous cycle (before a write
//! made in that cycle). That is the shape Xilinx block RAM and yosys' BRAM mapping
//! expect; the power-on contents come from the image given to [`Iram::new`] and are
//! emitted as a Verilog `initial` block (block RAM initialisation in the bitstream).

use hba_abi::isa::{IRAM_WORDS, PC_BITS};
use rust_hdl::prelude::*;
use std::fmt::Write;

/// Word-address width of the instruction RAM.
pub const ADDR_BITS: usize = PC_BITS as usize;
/// Depth in words.
pub const WORDS: usize = IRAM_WORDS as usize;

const _: () = assert!(1 << ADDR_BITS == WORDS);

/// Dual-port instruction RAM with an initial image.
#[derive(LogicBlock)]
pub struct Iram {
    /// The single clock of both ports.
    pub clock: Signal<In, Clock>,
    /// Host port write enable.
    pub host_we: Signal<In, Bit>,
    /// Host port word address.
    pub host_addr: Signal<In, Bits<ADDR_BITS>>,
    /// Host port write data.
    pub host_wdata: Signal<In, Bits<32>>,
    /// Host port read data: the word at `host_addr` of the previous cycle.
    pub host_rdata: Signal<Out, Bits<32>>,
    /// Fetch port word address.
    pub fetch_addr: Signal<In, Bits<ADDR_BITS>>,
    /// Fetch port read data: the word at `fetch_addr` of the previous cycle.
    pub fetch_rdata: Signal<Out, Bits<32>>,
    /// Power-on image (emitted into the Verilog).
    _init: Vec<u32>,
    /// Contents, for rust-hdl's simulator.
    _mem: Vec<u32>,
}

impl Iram {
    /// A RAM whose power-on contents are `image` (missing words are 0).
    ///
    /// # Panics
    /// If `image` is longer than [`WORDS`]: a build-time programmer error.
    pub fn new(image: &[u32]) -> Self {
        assert!(
            image.len() <= WORDS,
            "instruction RAM image of {} words exceeds the {} words of the RAM",
            image.len(),
            WORDS
        );
        let mut mem = image.to_vec();
        mem.resize(WORDS, 0);
        Self {
            clock: Default::default(),
            host_we: Default::default(),
            host_addr: Default::default(),
            host_wdata: Default::default(),
            host_rdata: Default::default(),
            fetch_addr: Default::default(),
            fetch_rdata: Default::default(),
            _init: mem.clone(),
            _mem: mem,
        }
    }

    /// The power-on image (always [`WORDS`] long).
    pub fn image(&self) -> &[u32] {
        &self._init
    }

    /// The current contents as the simulator sees them (always [`WORDS`] long).
    pub fn contents(&self) -> &[u32] {
        &self._mem
    }
}

impl Default for Iram {
    fn default() -> Self {
        Self::new(&[])
    }
}

impl Logic for Iram {
    // Behavioural model for rust-hdl's own simulator; Verilator and synthesis use the
    // Verilog below.
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let h = self.host_addr.val().index();
            let f = self.fetch_addr.val().index();
            // Read-first on both ports.
            self.host_rdata.next = (self._mem[h] as u64).to_bits();
            self.fetch_rdata.next = (self._mem[f] as u64).to_bits();
            if self.host_we.val() {
                self._mem[h] = self.host_wdata.val().index() as u32;
            }
        }
    }

    fn connect(&mut self) {
        self.host_rdata.connect();
        self.fetch_rdata.connect();
    }

    fn hdl(&self) -> Verilog {
        let mut init = String::new();
        for (i, w) in self._init.iter().enumerate() {
            if *w != 0 {
                let _ = writeln!(init, "   mem[{i}] = 32'h{w:08x};");
            }
        }
        Verilog::Custom(format!(
            "\
reg [31:0] mem [0:{last}];
integer i;

initial begin
   for (i = 0; i < {words}; i = i + 1) mem[i] = 32'h0;
{init}   host_rdata = 32'h0;
   fetch_rdata = 32'h0;
end

always @(posedge clock) begin
   host_rdata <= mem[host_addr];
   if (host_we) mem[host_addr] <= host_wdata;
end

always @(posedge clock) begin
   fetch_rdata <= mem[fetch_addr];
end
",
            last = WORDS - 1,
            words = WORDS,
        ))
    }

    fn timing(&self) -> Vec<TimingInfo> {
        vec![
            TimingInfo {
                name: "iram_host".into(),
                clock: "clock".into(),
                inputs: vec!["host_we".into(), "host_addr".into(), "host_wdata".into()],
                outputs: vec!["host_rdata".into()],
            },
            TimingInfo {
                name: "iram_fetch".into(),
                clock: "clock".into(),
                inputs: vec!["fetch_addr".into()],
                outputs: vec!["fetch_rdata".into()],
            },
        ]
    }
}
