//! The whole stack in co-simulation: periph → XPT → SIM (`hba_host_driver::sim`) →
//! `SimTransport` with the XDMA cost model → the Verilated core → the pin-level bus →
//! target models, with the protocol monitor watching. The same SIM drives a board; only
//! the transport differs.

use crate::faulty_transport::CosimTransport;
use crate::SimTransport;
use hba_cam::periph::da::DaHandle;
use hba_cam::xpt::DeviceInfo;
use hba_cam::{Ccb, CcbId, DevAddr, IoId, IoResult};
use hba_host_driver::sim::SimConfig;
use hba_host_driver::stack::{Stack, StackError};
use scsi_bus::target::disk::Disk;
use scsi_bus::target::tape::Tape;
use scsi_bus::target::{Target, TargetConfig};
use scsi_bus::{Bus, DeviceHandle, Width};
use std::time::Duration;

/// Simulated time a test allows for one request to finish: more than a BUSY retry's
/// one-second hold plus a recovery ladder (idle time is skipped, so waiting costs little).
pub const IO_LIMIT: Duration = Duration::from_millis(1500);

/// A co-simulated stack with its targets (over the plain co-simulation transport unless
/// a wrapper such as [`crate::faulty_transport::FaultyTransport`] is given).
pub struct SimRig<T: CosimTransport = SimTransport> {
    /// XPT + SIM + transport.
    pub stack: Stack<T>,
    /// Target handles by SCSI ID.
    pub targets: Vec<(u8, DeviceHandle<Target>)>,
    /// CCBs submitted with `Completion::Queue` that completed and were not yet claimed by
    /// [`SimRig::wait_ccb`].
    pub done: Vec<Ccb>,
}

/// A disk target of `blocks` 512-byte blocks in memory, with no UNIT ATTENTION pending.
pub fn disk(cfg: TargetConfig, blocks: u64) -> Target {
    let mut t = Target::new(cfg).with_lun(0, Disk::memory(blocks));
    t.clear_unit_attention();
    t
}

/// A tape target.
pub fn tape(cfg: TargetConfig, capacity: usize) -> Target {
    let mut t = Target::new(cfg).with_lun(0, Tape::new(capacity));
    t.clear_unit_attention();
    t
}

impl SimRig {
    /// Attaches the SIM to a core on a bus of `width` with `targets`.
    pub fn new(width: Width, targets: Vec<Target>, cfg: SimConfig) -> Result<SimRig, StackError> {
        SimRig::over(SimTransport::new(), width, targets, cfg)
    }

    /// The default co-simulation configuration.
    pub fn cfg() -> SimConfig {
        SimConfig::cosim()
    }
}

impl<T: CosimTransport> SimRig<T> {
    /// Attaches the SIM through transport `t` to its core on a bus of `width` with
    /// `targets`.
    pub fn over(
        mut t: T,
        width: Width,
        targets: Vec<Target>,
        cfg: SimConfig,
    ) -> Result<SimRig<T>, StackError> {
        let mut bus = Bus::new(width);
        let mut handles = Vec::new();
        for tg in targets {
            let id = tg.id();
            handles.push((id, bus.add(tg)));
        }
        t.model().attach_bus(bus);
        let cfg = SimConfig {
            wide: matches!(width, Width::Wide),
            ..cfg
        };
        Ok(SimRig {
            stack: Stack::open(t, cfg)?,
            targets: handles,
            done: Vec::new(),
        })
    }

    /// Scans the bus; panics with the bus log if the scan does not finish.
    pub fn scan(&mut self) -> Vec<DeviceInfo> {
        match self.stack.scan(Duration::from_secs(2)) {
            Ok(d) => d,
            Err(e) => panic!("scan: {e}\n{}", self.log(40)),
        }
    }

    /// Address of target `id`, LUN 0.
    pub fn addr(&self, id: u32) -> DevAddr {
        DevAddr::new(self.stack.bus, id, 0)
    }

    /// The `da` handle of target `id`, with its capacity read.
    pub fn da(&mut self, id: u32) -> DaHandle {
        let a = self.addr(id);
        let da = DaHandle::for_device(&self.stack.xpt, a).expect("da attached");
        let io = da
            .read_capacity(&mut self.stack.xpt)
            .expect("read capacity");
        let r = self.wait(io);
        assert!(r.is_ok(), "READ CAPACITY: {:?}", r.status);
        da
    }

    /// Waits for a request; panics with the bus log on timeout.
    pub fn wait(&mut self, io: IoId) -> IoResult {
        match self.stack.wait(io, IO_LIMIT) {
            Ok(r) => r,
            Err(e) => panic!(
                "{e}\nSIM log: {:?}\n{}",
                self.stack.report().log,
                self.log(40)
            ),
        }
    }

    /// Runs the loop until CCB `id` (submitted with `Completion::Queue`) completes and
    /// returns it; others completing meanwhile wait in [`SimRig::done`]. Panics with the
    /// SIM log and the bus log after `limit` of simulated time.
    pub fn wait_ccb(&mut self, id: CcbId, limit: Duration) -> Ccb {
        let mut done = std::mem::take(&mut self.done);
        let res = self.stack.run_until("CCB", limit, |x| {
            done.extend(x.take_completed());
            done.iter().any(|c| c.h.id == id)
        });
        if let Err(e) = res {
            self.done = done;
            panic!(
                "{e}\nSIM log: {:?}\n{}",
                self.stack.report().log,
                self.log(40)
            );
        }
        let i = done.iter().position(|c| c.h.id == id).expect("found");
        let c = done.remove(i);
        self.done = done;
        c
    }

    /// Runs `f` on the transport's model.
    pub fn model<R>(&self, f: impl FnOnce(&mut crate::Model) -> R) -> R {
        self.stack.with_transport(|t| f(t.model()))
    }

    /// Runs `f` on target `id`.
    pub fn target<R>(&self, id: u8, f: impl FnOnce(&mut Target) -> R) -> R {
        let h = self
            .targets
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, h)| *h)
            .expect("no such target");
        self.model(|m| f(m.bus().expect("bus").device(h)))
    }

    /// Blocks of target `id`'s disk (LUN 0).
    pub fn disk_blocks(&self, id: u8, lba: u64, n: u64) -> Vec<u8> {
        self.target(id, |t| {
            t.lun_mut::<Disk>(0).expect("disk").read_blocks(lba, n)
        })
    }

    /// The last `n` lines of the bus log.
    pub fn log(&self, n: usize) -> String {
        self.model(|m| m.bus_log(n))
    }

    /// Simulated core cycles so far.
    pub fn cycles(&self) -> u64 {
        self.model(|m| m.cycle())
    }

    /// The invariants every scenario ends with: nothing outstanding, every CCB completed
    /// exactly once, no periph request answered twice, no dispatch into a frozen queue,
    /// every freeze released, and (when `monitor`) a clean bus monitor.
    pub fn check(&mut self, monitor: bool) {
        if let Err(e) = self.stack.drain(Duration::from_millis(200)) {
            panic!("not drained: {e}\n{}", self.log(30));
        }
        let x = &self.stack.xpt;
        let s = x.stats();
        assert_eq!(x.outstanding(), 0, "CCBs still outstanding in the XPT");
        assert_eq!(
            s.submitted, s.completed,
            "every CCB completes exactly once: {s:?}"
        );
        assert_eq!(s.duplicate_io_results, 0, "a request completed twice");
        assert_eq!(
            s.frozen_violations, 0,
            "normal I/O dispatched into a frozen queue"
        );
        assert_eq!(x.simq_frozen(self.stack.bus), 0, "SIM queue left frozen");
        for d in x.devices() {
            assert_eq!(
                x.devq_frozen(d.addr),
                0,
                "device queue of {} left frozen",
                d.addr
            );
        }
        for id in 0..16 {
            let a = DevAddr::new(self.stack.bus, id, 0);
            assert_eq!(x.devq_frozen(a), 0, "device queue of {a} left frozen");
        }
        let r = self.stack.report();
        assert_eq!(r.outstanding, 0, "the SIM still holds commands");
        assert_eq!(
            r.counters.submitted, r.counters.returned,
            "every command sent to the card came back once: {:?}",
            r.counters
        );
        drop(r);
        assert_eq!(
            self.model(|m| m.irq_drops_before_ack()),
            0,
            "usr_irq_req dropped before its ack"
        );
        if monitor {
            self.model(|m| m.assert_bus_clean());
        }
    }
}
