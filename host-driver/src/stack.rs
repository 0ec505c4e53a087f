//! The stack a tool opens: XPT + our SIM + a transport, driven by one loop on the card's
//! clock (the loop waits for the next interrupt or the next deadline). Tools talk to
//! periphs through it, never to the SIM or the card.

use crate::sim::card::{self, CardClock, CardHandle};
use crate::sim::{AttachError, CoreInfo, HbaSim, SimConfig, SimReport};
use crate::transport::xdma::{XdmaConfig, XdmaTransport};
use crate::transport::{Transport, TransportError};
use hba_cam::xpt::DeviceInfo;
use hba_cam::{BusId, CamTime, Clock, IoId, IoResult, Xpt};
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

/// Errors of the stack API.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// Attaching the SIM failed.
    #[error("attach: {0}")]
    Attach(#[from] AttachError),
    /// Opening the transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A wait ended without the result.
    #[error("{what} not finished after {waited:?}")]
    Timeout {
        /// What was waited for.
        what: &'static str,
        /// How long (on the stack's clock).
        waited: Duration,
    },
    /// Nothing is pending that could ever produce the result.
    #[error("{0}: nothing pending could finish it")]
    Stalled(&'static str),
    /// The XPT refused.
    #[error("xpt: {0}")]
    Xpt(#[from] hba_cam::xpt::XptError),
}

/// XPT, SIM and transport in one loop.
pub struct Stack<T: Transport + 'static> {
    /// The transport layer (periph handles take it).
    pub xpt: Xpt,
    /// Our bus.
    pub bus: BusId,
    card: CardHandle<T>,
    clock: Rc<CardClock<T>>,
    report: Rc<RefCell<SimReport>>,
    info: CoreInfo,
}

impl<T: Transport + 'static> Stack<T> {
    /// Attaches the SIM over `t` and registers it with a new XPT.
    pub fn open(t: T, cfg: SimConfig) -> Result<Self, StackError> {
        let card = card::share(t);
        let sim = HbaSim::attach(card.clone(), cfg)?;
        let clock = Rc::new(CardClock::new(card.clone()));
        let mut xpt = Xpt::with_clock(clock.clone());
        let report = sim.report();
        let info = sim.info();
        let params = sim.params();
        let bus = xpt.register_sim(Box::new(sim), params);
        xpt.run_until_idle();
        Ok(Stack {
            xpt,
            bus,
            card,
            clock,
            report,
            info,
        })
    }

    /// What the core told at attach.
    pub fn info(&self) -> CoreInfo {
        self.info
    }

    /// The SIM's report (log, counters, agreements).
    pub fn report(&self) -> std::cell::Ref<'_, SimReport> {
        self.report.borrow()
    }

    /// The transport, for tools and tests (not while the loop runs).
    pub fn with_transport<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.card.borrow_mut().t)
    }

    /// The stack's clock (simulated time in co-simulation).
    pub fn now(&self) -> CamTime {
        self.clock.now()
    }

    /// Runs the loop until `done` holds, waiting on interrupts and deadlines, for at
    /// most `limit` of the stack's time.
    pub fn run_until(
        &mut self,
        what: &'static str,
        limit: Duration,
        mut done: impl FnMut(&mut Xpt) -> bool,
    ) -> Result<(), StackError> {
        let start = self.now();
        let end = start.after(limit);
        loop {
            while self.xpt.step() {
                if done(&mut self.xpt) {
                    return Ok(());
                }
            }
            if done(&mut self.xpt) {
                return Ok(());
            }
            let now = self.now();
            if now >= end {
                return Err(StackError::Timeout {
                    what,
                    waited: Duration::from_nanos(now.0 - start.0),
                });
            }
            match self.xpt.next_deadline() {
                Some(t) => self.clock.wait_until(t.min(end).max(CamTime(now.0 + 1))),
                None => return Err(StackError::Stalled(what)),
            }
        }
    }

    /// Scans the bus and returns the devices found.
    pub fn scan(&mut self, limit: Duration) -> Result<Vec<DeviceInfo>, StackError> {
        self.xpt.scan_bus(self.bus)?;
        let bus = self.bus;
        self.run_until("bus scan", limit, |x| !x.scan_in_progress(bus))?;
        Ok(self.devices())
    }

    /// Devices known on our bus.
    pub fn devices(&self) -> Vec<DeviceInfo> {
        self.xpt
            .devices()
            .into_iter()
            .filter(|d| d.addr.bus == self.bus && !d.lost)
            .collect()
    }

    /// Waits for a periph request's result.
    pub fn wait(&mut self, io: IoId, limit: Duration) -> Result<IoResult, StackError> {
        let mut out = None;
        self.run_until("I/O", limit, |x| {
            out = x.take_io(io);
            out.is_some()
        })?;
        Ok(out.expect("run_until returned on a result"))
    }

    /// Runs until nothing is outstanding at the SIM or the XPT, no SIM recovery runs and no
    /// queue release is still scheduled (or `limit` passes).
    pub fn drain(&mut self, limit: Duration) -> Result<(), StackError> {
        let r = self.report.clone();
        self.run_until("drain", limit, move |x| {
            let r = r.borrow();
            // A release still scheduled (a BUSY retry's one-second hold whose command a
            // lost device took away, campaign seed 1108) holds a frozen queue.
            r.outstanding == 0 && !r.recovering && x.outstanding() == 0 && x.releases_pending() == 0
        })
    }

    /// Detaches the SIM: every outstanding CCB comes back once (`CAM_NO_HBA`), the card
    /// is stopped, and the periphs are invalidated.
    pub fn detach(&mut self, limit: Duration) -> Result<(), StackError> {
        self.report.borrow_mut().detach = true;
        let r = self.report.clone();
        self.run_until("detach", limit, move |_| r.borrow().dead)?;
        self.xpt.run_until_idle();
        Ok(())
    }
}

/// Opens a board through the XDMA character devices (`/dev/xdma0`).
pub fn open_xdma(device: &Path, cfg: SimConfig) -> Result<Stack<XdmaTransport>, StackError> {
    let t = XdmaTransport::open(XdmaConfig::for_device(device)?)?;
    Stack::open(t, cfg)
}
