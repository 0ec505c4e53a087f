//! The Verilator model of the real RTL, driven cycle by cycle from Rust.
//!
//! [`Model`] owns the pins. Besides raw cycle access it offers the bus masters the card
//! has around the core: an AXI4-Lite master (the XDMA user BAR), the native BRAM port
//! (the AXI BRAM controller behind the XDMA DMA engine), and the XDMA user-interrupt
//! logic that acknowledges `usr_irq_req` and sets the events-file flag.

pub mod ffi;

pub use ffi::bridge::{PinsIn, PinsOut};

use cxx::UniquePtr;
use hba_abi::{axi, CORE_CLOCK_NS};
use scsi_bus::Bus;
use std::cell::Cell;
use std::path::Path;

/// Cycles the XDMA IP takes from a rising `usr_irq_req` to `usr_irq_ack` (MSI sent).
pub const XDMA_IRQ_ACK_CYCLES: u64 = 20;

/// Cycles an AXI4-Lite or BRAM transaction may wait for the core before it is declared
/// hung. The core answers within a few cycles; this only guards against a broken RTL.
pub const HANDSHAKE_LIMIT: u64 = 10_000;

/// What went wrong on a simulated bus transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The core never completed a handshake.
    #[error("{channel} handshake did not complete within {cycles} cycles at {addr:#x}")]
    Hung {
        channel: &'static str,
        addr: u32,
        cycles: u64,
    },
    /// The core answered SLVERR (unmapped offset or read-only register).
    #[error("SLVERR on {dir} at {addr:#x}")]
    SlvErr { dir: &'static str, addr: u32 },
    /// The core answered a response code AXI4-Lite does not allow.
    #[error("unexpected AXI response {resp:#b} on {dir} at {addr:#x}")]
    BadResp {
        dir: &'static str,
        addr: u32,
        resp: u8,
    },
    /// A trace file could not be opened.
    #[error("cannot open trace file {0}")]
    Trace(String),
}

/// Most cycles one fast-forward clock may stand for beyond one (the core's
/// `ff_horizon` is below 2^30 too, which keeps its saturating counters exact).
pub const MAX_SKIP: u64 = (1 << 30) - 1;

/// How [`Model::tick`] applies one clock cycle to the Verilated core, and whether idle
/// time may be fast-forwarded. All give the same outputs at every cycle
/// (`tests/cosim_equivalence.rs` checks it cycle for cycle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eval {
    /// Two `eval`s as Verilator schedules them, on the model verilated with tracing and
    /// not patched (Verilator's own output): the combinational logic is evaluated three
    /// times per cycle (clock low with the new inputs, clock high before the edge, after
    /// the flip-flops).
    Reference,
    /// Once per cycle, on the model verilated without tracing: settled with the new
    /// inputs at clock low, then the rising edge updates only the flip-flops (`build.rs`
    /// `patch_lazy_edge`; with [`ModelOptions::direct`], without Verilator's scheduler).
    /// Falls back to [`Eval::Reference`] while an FST trace is open, or to two `eval`s when
    /// the build could not patch this Verilator version ([`Model::lazy_edge_available`]).
    LazyEdge,
    /// The lazy edge, and idle time fast-forwarded: where the host waits
    /// ([`Model::advance`], [`Model::idle`], the transport's cost delays and interrupt
    /// waits) and the core says `ff_quiet`, one clock stands for up to `ff_horizon` +
    /// 1 cycles, bounded by the attached bus's next possible change
    /// ([`scsi_bus::Bus::quiet_steps`]) and the host's own deadline. The core's counters
    /// advance exactly as over that many ordinary cycles.
    FastForward,
}

/// What a new [`Model`] starts with (see [`Model::with_options`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelOptions {
    /// Tick evaluation. Default [`Eval::FastForward`]; the environment variable
    /// `HBA_COSIM_EVAL` selects another (`reference`, `lazy`, `fast`).
    pub eval: Eval,
    /// Record a digest of every cycle's input and output pins, run-length encoded
    /// ([`Model::take_record`]).
    pub record: bool,
    /// The lazy edge (and fast-forward) without Verilator's scheduler, where the build
    /// could add it ([`Model::direct_tick_available`]). Default on; `HBA_COSIM_DIRECT=0`
    /// turns it off (the same outputs at every tick, through two `eval`s).
    pub direct: bool,
}

impl Default for ModelOptions {
    fn default() -> Self {
        let eval = match std::env::var("HBA_COSIM_EVAL").as_deref() {
            Ok("reference") => Eval::Reference,
            Ok("lazy") => Eval::LazyEdge,
            _ => Eval::FastForward,
        };
        ModelOptions {
            eval,
            record: false,
            direct: std::env::var("HBA_COSIM_DIRECT").as_deref() != Ok("0"),
        }
    }
}

thread_local! {
    static OPTIONS: Cell<Option<ModelOptions>> = const { Cell::new(None) };
}

/// One cycle's pins folded into 64 bits (FNV-1a over every field).
fn digest(i: &PinsIn, o: &PinsOut) -> u64 {
    let words: [u64; 27] = [
        i.reset as u64,
        i.awaddr.into(),
        i.awvalid as u64,
        i.wdata.into(),
        i.wstrb.into(),
        i.wvalid as u64,
        i.bready as u64,
        i.araddr.into(),
        i.arvalid as u64,
        i.rready as u64,
        i.bram_en as u64,
        i.bram_we.into(),
        i.bram_addr.into(),
        i.bram_wrdata.into(),
        i.usr_irq_ack as u64,
        i.scsi_in.into(),
        o.awready as u64,
        o.wready as u64,
        o.bresp.into(),
        o.bvalid as u64,
        o.arready as u64,
        o.rdata.into(),
        o.rresp.into(),
        o.rvalid as u64,
        o.bram_rddata.into(),
        o.usr_irq_req as u64,
        o.scsi_oe.into(),
    ];
    words.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, w| {
        (h ^ w).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The co-simulated core.
pub struct Model {
    inner: UniquePtr<ffi::bridge::HbaModel>,
    pins: PinsIn,
    last: PinsOut,
    cycle: u64,
    irq_prev: bool,
    /// `usr_irq_req` dropped while its ack was still due (PG195 forbids it).
    irq_drops: u64,
    ack_due: Option<u64>,
    msi_flag: bool,
    msi_sent: u64,
    bus: Option<Bus>,
    eval: Eval,
    record: Option<Vec<(u64, u64)>>,
    skipped: u64,
}

impl Default for Model {
    fn default() -> Self {
        Self::new()
    }
}

impl Model {
    /// A new model, held in reset for a few cycles and released, with this thread's
    /// [`ModelOptions`].
    pub fn new() -> Self {
        let opts = OPTIONS.with(|o| o.get()).unwrap_or_default();
        let mut m = Model {
            inner: ffi::bridge::new_hba_model(),
            pins: PinsIn::default(),
            last: PinsOut::default(),
            cycle: 0,
            irq_prev: false,
            irq_drops: 0,
            ack_due: None,
            msi_flag: false,
            msi_sent: 0,
            bus: None,
            eval: Eval::Reference,
            record: opts.record.then(Vec::new),
            skipped: 0,
        };
        m.set_eval(opts.eval);
        m.inner.pin_mut().set_direct(opts.direct);
        m.reset(4);
        m
    }

    /// Runs `f` with `opts` as the options of every [`Model`] created on this thread
    /// meanwhile (also those that rigs and transports create inside).
    pub fn with_options<R>(opts: ModelOptions, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<ModelOptions>);
        impl Drop for Restore {
            fn drop(&mut self) {
                OPTIONS.with(|o| o.set(self.0));
            }
        }
        let _restore = Restore(OPTIONS.with(|o| o.replace(Some(opts))));
        f()
    }

    /// Whether this build could patch Verilator's scheduler for [`Eval::LazyEdge`].
    pub fn lazy_edge_available() -> bool {
        ffi::bridge::lazy_edge_available()
    }

    /// Whether this build added the direct tick ([`ModelOptions::direct`]).
    pub fn direct_tick_available() -> bool {
        ffi::bridge::direct_tick_available()
    }

    /// Selects how the following ticks are evaluated.
    pub fn set_eval(&mut self, eval: Eval) {
        self.eval = eval;
        self.inner.pin_mut().set_lazy_edge(eval != Eval::Reference);
    }

    /// How ticks are evaluated.
    pub fn eval(&self) -> Eval {
        self.eval
    }

    /// The digests of every cycle's input and output pins since the model was created
    /// with [`ModelOptions::record`] (or since the last call), run-length encoded as
    /// (digest, cycles): a fast-forward tick and the ordinary ticks it stands for give
    /// the same record. Empty without it.
    pub fn take_record(&mut self) -> Vec<(u64, u64)> {
        self.record.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Cycles that fast-forward ticks stood for beyond one each, since creation.
    pub fn cycles_skipped(&self) -> u64 {
        self.skipped
    }

    /// Holds the reset input for `cycles` cycles, then releases it.
    pub fn reset(&mut self, cycles: u64) {
        self.pins = PinsIn {
            reset: true,
            ..PinsIn::default()
        };
        for _ in 0..cycles.max(1) {
            self.tick();
        }
        self.pins.reset = false;
        self.tick();
    }

    /// Starts an FST trace of every signal into `path` (for GTKWave or Surfer). The
    /// ticks from here on run on a second, traced model of the core that takes over the
    /// whole state (and hands it back at [`Model::end_trace`]): the same pins at every
    /// cycle, more slowly.
    pub fn trace_to(&mut self, path: &Path) -> Result<(), ModelError> {
        let p = path.to_string_lossy();
        if self.inner.pin_mut().open_trace(&p) {
            Ok(())
        } else {
            Err(ModelError::Trace(p.into_owned()))
        }
    }

    /// Ends the trace [`Model::trace_to`] started, if any (flushed and closed); the model
    /// runs on, untraced, from the same state.
    pub fn end_trace(&mut self) {
        self.inner.pin_mut().close_trace();
    }

    /// The input pins applied at the next [`Model::tick`].
    pub fn pins_mut(&mut self) -> &mut PinsIn {
        &mut self.pins
    }

    /// Outputs as sampled at the last rising edge.
    pub fn outputs(&self) -> PinsOut {
        self.last
    }

    /// Rising edges so far.
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// Simulated time so far, in nanoseconds.
    pub fn time_ns(&self) -> u64 {
        self.cycle * CORE_CLOCK_NS
    }

    /// One clock cycle. Returns the outputs the core presented at this edge; a handshake
    /// happened at this edge when the input valid and the returned ready were both set.
    /// With a bus attached, the bus advances one cycle too: it resolves what the core
    /// drives during this cycle, and the core sees that value at the next edge.
    pub fn tick(&mut self) -> PinsOut {
        self.clock(0)
    }

    /// One clock standing for 1 to `max_cycles` cycles (at least 1): with
    /// [`Eval::FastForward`], as many as the core, the bus and the XDMA interrupt logic
    /// allow while nothing changes (see [`Eval::FastForward`]); otherwise one. The inputs
    /// stay as they are. Returns the cycles it stood for.
    pub fn advance(&mut self, max_cycles: u64) -> u64 {
        let mut extra = 0;
        // An ack due from the XDMA IP or being given is an input about to change.
        if self.eval == Eval::FastForward
            && max_cycles > 1
            && self.ack_due.is_none()
            && !self.pins.usr_irq_ack
        {
            extra = (max_cycles - 1).min(MAX_SKIP);
            if let Some(bus) = self.bus.as_ref() {
                // The bus must hold its value for every cycle the clock stands for.
                let oe = crate::pins::unpack(self.last.scsi_oe);
                extra = extra.min(bus.quiet_steps(oe).saturating_sub(1));
            }
        }
        1 + u64::from(self.clock(extra as u32).skipped)
    }

    fn clock(&mut self, max_skip: u32) -> PinsOut {
        let out = self.inner.pin_mut().tick(&self.pins, max_skip);
        let n = 1 + u64::from(out.skipped);
        if let Some(r) = self.record.as_mut() {
            let d = digest(&self.pins, &out);
            match r.last_mut() {
                Some((last, count)) if *last == d => *count += n,
                _ => r.push((d, n)),
            }
        }
        self.cycle += n;
        self.skipped += n - 1;
        self.last = out;
        // Skipped cycles: usr_irq_req was steady (the outputs did not change) and no ack
        // was due, so the XDMA logic would have done nothing in them.
        self.xdma_irq(out.usr_irq_req);
        if let Some(bus) = self.bus.as_mut() {
            if n > 1 {
                bus.skip(n);
            } else {
                let v = bus.step(crate::pins::unpack(out.scsi_oe));
                self.pins.scsi_in = crate::pins::pack(v);
            }
        }
        out
    }

    /// Plugs the core onto a pin-level SCSI bus (targets, monitor). From now on every
    /// [`Model::tick`] is also one bus cycle, so both share one clock and one time base.
    pub fn attach_bus(&mut self, bus: Bus) {
        self.pins.scsi_in = crate::pins::pack(bus.value());
        self.bus = Some(bus);
    }

    /// The attached bus, if any.
    pub fn bus(&mut self) -> Option<&mut Bus> {
        self.bus.as_mut()
    }

    /// The last `n` lines of the attached bus monitor's decoded log ("" without a bus).
    pub fn bus_log(&mut self, n: usize) -> String {
        let Some(bus) = self.bus.as_mut() else {
            return String::new();
        };
        let log = bus.monitor.log_text();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Panics with the violations and the log tail unless the bus monitor saw none.
    pub fn assert_bus_clean(&mut self) {
        let v = self
            .bus
            .as_ref()
            .map(|b| b.monitor.violations().to_vec())
            .unwrap_or_default();
        assert!(
            v.is_empty(),
            "monitor violations: {v:#?}\n{}",
            self.bus_log(40)
        );
    }

    /// Panics unless the monitor saw violations and every one is of `rule` with `detail`
    /// in its text (a fault test whose injected fault is itself a protocol error).
    pub fn assert_bus_only(&mut self, rule: scsi_bus::Rule, detail: &str) {
        let v = self
            .bus
            .as_ref()
            .map(|b| b.monitor.violations().to_vec())
            .unwrap_or_default();
        assert!(
            !v.is_empty()
                && v.iter()
                    .all(|x| x.rule == rule && x.detail.contains(detail)),
            "expected only {rule:?} ({detail}): {v:#?}\n{}",
            self.bus_log(40)
        );
    }

    /// Detaches and returns the bus.
    pub fn detach_bus(&mut self) -> Option<Bus> {
        self.pins.scsi_in = 0;
        self.bus.take()
    }

    /// Runs `cycles` cycles with the inputs as they are (fast-forwarded where
    /// [`Eval::FastForward`] allows).
    pub fn idle(&mut self, cycles: u64) {
        let end = self.cycle + cycles;
        while self.cycle < end {
            self.advance(end - self.cycle);
        }
    }

    // The XDMA user interrupt: each rising edge of usr_irq_req sends one MSI, answered
    // by a one-cycle usr_irq_ack; the events file sees a flag that merges interrupts.
    fn xdma_irq(&mut self, req: bool) {
        self.pins.usr_irq_ack = false;
        if self.pins.reset {
            // The IP resets with the core: nothing is due any more.
            self.ack_due = None;
        } else if !req && self.ack_due.is_some() {
            // PG195: usr_irq_req stays asserted until usr_irq_ack. A drop here is an
            // interrupt the real IP may lose; count it so tests can insist on none.
            self.irq_drops += 1;
        }
        if req && !self.irq_prev && self.ack_due.is_none() {
            self.ack_due = Some(self.cycle + XDMA_IRQ_ACK_CYCLES);
        }
        if let Some(due) = self.ack_due {
            if self.cycle >= due {
                self.ack_due = None;
                self.pins.usr_irq_ack = true;
                self.msi_flag = true;
                self.msi_sent += 1;
            }
        }
        self.irq_prev = req;
    }

    /// Cycles on which the core dropped `usr_irq_req` before the IP's ack (must stay 0).
    pub fn irq_drops_before_ack(&self) -> u64 {
        self.irq_drops
    }

    /// Takes the events-file flag: true when at least one MSI was sent since last taken.
    pub fn take_msi(&mut self) -> bool {
        std::mem::take(&mut self.msi_flag)
    }

    /// MSIs sent so far.
    pub fn msi_sent(&self) -> u64 {
        self.msi_sent
    }

    /// Level of `usr_irq_req` at the last edge.
    pub fn irq_req(&self) -> bool {
        self.last.usr_irq_req
    }

    fn check_resp(dir: &'static str, addr: u32, resp: u8) -> Result<(), ModelError> {
        match u32::from(resp) {
            axi::RESP_OKAY => Ok(()),
            axi::RESP_SLVERR => Err(ModelError::SlvErr { dir, addr }),
            _ => Err(ModelError::BadResp { dir, addr, resp }),
        }
    }

    /// One AXI4-Lite write with byte strobes; AW and W presented together.
    pub fn axil_write_strb(&mut self, addr: u32, data: u32, strb: u8) -> Result<(), ModelError> {
        self.pins.awaddr = addr;
        self.pins.awvalid = true;
        self.pins.wdata = data;
        self.pins.wstrb = strb;
        self.pins.wvalid = true;
        self.pins.bready = true;
        let start = self.cycle;
        let mut resp = None;
        while resp.is_none() {
            if self.cycle - start > HANDSHAKE_LIMIT {
                self.pins.awvalid = false;
                self.pins.wvalid = false;
                self.pins.bready = false;
                return Err(ModelError::Hung {
                    channel: "write",
                    addr,
                    cycles: HANDSHAKE_LIMIT,
                });
            }
            let aw = self.pins.awvalid;
            let w = self.pins.wvalid;
            let o = self.tick();
            if aw && o.awready {
                self.pins.awvalid = false;
            }
            if w && o.wready {
                self.pins.wvalid = false;
            }
            if o.bvalid {
                resp = Some(o.bresp);
            }
        }
        self.pins.bready = false;
        Self::check_resp("write", addr, resp.unwrap_or_default())
    }

    /// One 32-bit AXI4-Lite write.
    pub fn axil_write(&mut self, addr: u32, data: u32) -> Result<(), ModelError> {
        self.axil_write_strb(addr, data, 0xF)
    }

    /// One AXI4-Lite read.
    pub fn axil_read(&mut self, addr: u32) -> Result<u32, ModelError> {
        self.pins.araddr = addr;
        self.pins.arvalid = true;
        self.pins.rready = true;
        let start = self.cycle;
        loop {
            if self.cycle - start > HANDSHAKE_LIMIT {
                self.pins.arvalid = false;
                self.pins.rready = false;
                return Err(ModelError::Hung {
                    channel: "read",
                    addr,
                    cycles: HANDSHAKE_LIMIT,
                });
            }
            let ar = self.pins.arvalid;
            let o = self.tick();
            if ar && o.arready {
                self.pins.arvalid = false;
            }
            if o.rvalid {
                self.pins.rready = false;
                Self::check_resp("read", addr, o.rresp)?;
                return Ok(o.rdata);
            }
        }
    }

    /// Writes words into card memory through the native BRAM port, one per cycle.
    pub fn bram_write(&mut self, byte_addr: u32, words: &[u32]) {
        for (i, w) in words.iter().enumerate() {
            self.pins.bram_en = true;
            self.pins.bram_we = 0xF;
            self.pins.bram_addr = byte_addr.wrapping_add(4 * i as u32);
            self.pins.bram_wrdata = *w;
            self.tick();
        }
        self.pins.bram_en = false;
        self.pins.bram_we = 0;
    }

    /// Writes bytes into card memory through the BRAM port (little-endian words; a
    /// partial last word is zero-padded).
    pub fn bram_write_bytes(&mut self, byte_addr: u32, data: &[u8]) {
        let words: Vec<u32> = data
            .chunks(4)
            .map(|c| {
                let mut b = [0u8; 4];
                b[..c.len()].copy_from_slice(c);
                u32::from_le_bytes(b)
            })
            .collect();
        self.bram_write(byte_addr, &words);
    }

    /// Reads `len` bytes from card memory through the BRAM port.
    pub fn bram_read_bytes(&mut self, byte_addr: u32, len: usize) -> Vec<u8> {
        let mut w = vec![0u32; len.div_ceil(4)];
        self.bram_read(byte_addr, &mut w);
        let mut out: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        out.truncate(len);
        out
    }

    /// Reads words from card memory through the native BRAM port (pipelined: one word
    /// per cycle after one cycle of latency).
    pub fn bram_read(&mut self, byte_addr: u32, words: &mut [u32]) {
        let n = words.len();
        self.pins.bram_we = 0;
        for i in 0..=n {
            self.pins.bram_en = i < n;
            self.pins.bram_addr = byte_addr.wrapping_add(4 * i as u32);
            let o = self.tick();
            if i > 0 {
                words[i - 1] = o.bram_rddata;
            }
        }
        self.pins.bram_en = false;
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        self.inner.pin_mut().close_trace();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_dropped_before_its_ack_is_counted() {
        let mut m = Model::new();
        m.reset(4);
        assert_eq!(m.irq_drops_before_ack(), 0);
        m.xdma_irq(true);
        m.xdma_irq(false);
        assert_eq!(
            m.irq_drops_before_ack(),
            1,
            "dropped with the ack still due"
        );
    }
}
