//! The cxx bridge to the Verilator model of the core (`cpp/model.h`).

#[cxx::bridge]
pub mod bridge {
    /// Every input pin of the core for one cycle.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct PinsIn {
        pub reset: bool,
        pub awaddr: u32,
        pub awvalid: bool,
        pub wdata: u32,
        pub wstrb: u8,
        pub wvalid: bool,
        pub bready: bool,
        pub araddr: u32,
        pub arvalid: bool,
        pub rready: bool,
        pub bram_en: bool,
        pub bram_we: u8,
        pub bram_addr: u32,
        pub bram_wrdata: u32,
        pub usr_irq_ack: bool,
        /// SCSI inputs packed as `hba_abi::regs::scsi_bus` (1 = asserted).
        pub scsi_in: u32,
    }

    /// Every output pin of the core, as presented at a rising edge.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct PinsOut {
        pub awready: bool,
        pub wready: bool,
        pub bresp: u8,
        pub bvalid: bool,
        pub arready: bool,
        pub rdata: u32,
        pub rresp: u8,
        pub rvalid: bool,
        pub bram_rddata: u32,
        pub usr_irq_req: bool,
        /// SCSI output enables packed as `hba_abi::regs::scsi_bus` (1 = asserted).
        pub scsi_oe: u32,
        /// Extra cycles this tick stood for (fast-forward; 0 for an ordinary tick).
        /// Not a pin: the tick stood for `1 + skipped` cycles with these outputs.
        pub skipped: u32,
    }

    unsafe extern "C++" {
        include!("hba-verif/cpp/model.h");

        /// The Verilated core with its context and trace.
        type HbaModel;

        /// A new model, clock low, before reset.
        fn new_hba_model() -> UniquePtr<HbaModel>;
        /// One clock cycle: apply inputs, sample outputs, rising edge. With `max_skip` > 0
        /// and the core quiet (`ff_quiet`), its outputs the same as at the previous tick
        /// and no trace open, the clock stands for `1 + min(max_skip, ff_horizon)` cycles
        /// (`PinsOut::skipped`).
        fn tick(self: Pin<&mut HbaModel>, pins: &PinsIn, max_skip: u32) -> PinsOut;
        /// Lazy edge on or off: one evaluation of the combinational logic per tick
        /// instead of three (`build.rs` `patch_lazy_edge`); ignored while tracing.
        fn set_lazy_edge(self: Pin<&mut HbaModel>, on: bool);
        /// Whether the build patched Verilator's scheduler for the lazy edge.
        fn lazy_edge_available() -> bool;
        /// Direct tick on or off: the lazy edge without Verilator's scheduler
        /// (`build.rs` `direct_tick`); ignored while tracing or with the lazy edge off.
        fn set_direct(self: Pin<&mut HbaModel>, on: bool);
        /// Whether the build appended the direct tick.
        fn direct_tick_available() -> bool;
        /// Starts an FST trace; false when the file cannot be opened.
        fn open_trace(self: Pin<&mut HbaModel>, path: &str) -> bool;
        /// Flushes and closes the trace.
        fn close_trace(self: Pin<&mut HbaModel>);
    }
}
