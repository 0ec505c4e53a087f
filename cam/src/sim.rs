//! The SIM interface (FreeBSD `cam_sim`): `action` and `poll`, registration parameters, the
//! context through which a SIM calls back into the XPT (`xpt_done`, freezes, async events),
//! and the SIM-side error recovery protocol of seed 000.

use crate::async_event::{AsyncArg, AsyncEvent, AC_LOST_DEVICE};
use crate::ccb::Ccb;
use crate::clock::CamTime;
use crate::path::{BusId, DevAddr, Path};
use crate::status::{CamStatus, CAM_DEV_QFRZN, CAM_SIM_QUEUED};

/// Registration parameters (`cam_sim_alloc` / `cam_simq_alloc` arguments).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimParams {
    /// SIM name, e.g. "hba".
    pub name: String,
    /// Unit number.
    pub unit: u32,
    /// SIM queue size: transactions the SIM takes at once (`max_sim_transactions`).
    pub simq_size: u32,
    /// Openings per untagged device (`max_dev_transactions`).
    pub max_dev_transactions: u32,
    /// Openings per tagged device (`max_tagged_dev_transactions`).
    pub max_tagged_dev_transactions: u32,
}

impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            name: "sim".into(),
            unit: 0,
            simq_size: 64,
            max_dev_transactions: 1,
            max_tagged_dev_transactions: 16,
        }
    }
}

/// What a SIM asked of the XPT during one call; applied in order when the call returns.
#[derive(Debug)]
pub(crate) enum SimOp {
    Done(Box<Ccb>),
    FreezeSimq(u32),
    ReleaseSimq(u32),
    FreezeDevq(DevAddr, u32),
    Async(AsyncEvent),
}

/// The SIM's handle on the XPT during `action`/`poll`.
pub struct SimCtx<'a> {
    pub(crate) now: CamTime,
    pub(crate) bus: BusId,
    pub(crate) ops: &'a mut Vec<SimOp>,
}

impl SimCtx<'_> {
    /// Current time.
    pub fn now(&self) -> CamTime {
        self.now
    }
    /// The bus this SIM was registered as.
    pub fn bus(&self) -> BusId {
        self.bus
    }
    /// `xpt_done`: hand a CCB back. Processing is deferred to the XPT's done queue.
    pub fn done(&mut self, ccb: Ccb) {
        self.ops.push(SimOp::Done(Box::new(ccb)));
    }
    /// `xpt_freeze_simq`.
    pub fn freeze_simq(&mut self, n: u32) {
        self.ops.push(SimOp::FreezeSimq(n));
    }
    /// `xpt_release_simq` (prefer `CAM_RELEASE_SIMQ` on a completing CCB).
    pub fn release_simq(&mut self, n: u32) {
        self.ops.push(SimOp::ReleaseSimq(n));
    }
    /// `xpt_freeze_devq`.
    pub fn freeze_devq(&mut self, addr: DevAddr, n: u32) {
        self.ops.push(SimOp::FreezeDevq(addr, n));
    }
    /// `xpt_async`.
    pub fn async_event(&mut self, code: u32, path: Path, arg: AsyncArg) {
        self.ops.push(SimOp::Async(AsyncEvent { code, path, arg }));
    }
}

/// A SIM: the HBA driver seen from the XPT.
pub trait Sim {
    /// `sim_action`: take a CCB. Queued CCBs complete later through `SimCtx::done`;
    /// immediate ones (PATH_INQ, transfer settings...) may complete at once.
    fn action(&mut self, ccb: Ccb, ctx: &mut SimCtx<'_>);
    /// `sim_poll`: look for completions and expired timeouts.
    fn poll(&mut self, ctx: &mut SimCtx<'_>);
    /// The next time the SIM needs `poll` (a timeout or a delayed completion), if any.
    fn next_deadline(&self) -> Option<CamTime> {
        None
    }
}

/// Error of the seed 000 protocol.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SimRecoveryError {
    /// Entering recovery twice.
    #[error("already in recovery")]
    AlreadyActive,
    /// Leaving a recovery that was not entered.
    #[error("not in recovery")]
    NotActive,
    /// Periphs may be invalidated only with nothing in flight.
    #[error("{0} CCBs still in flight")]
    InFlight(usize),
}

/// Seed 000's SIM error-recovery protocol, for a SIM to embed: freeze the SIM queue, turn
/// back arrivals with `CAM_REQUEUE_REQ|CAM_DEV_QFRZN` (freezing their devq), return
/// outstanding commands the same way, release the SIM queue, or give up on the bus and
/// invalidate its periphs with nothing in flight.
#[derive(Debug, Default)]
pub struct SimRecovery {
    active: bool,
}

impl SimRecovery {
    /// Whether recovery is in progress (new arrivals must be turned back).
    pub fn in_recovery(&self) -> bool {
        self.active
    }
    /// Step 1 and 2: freeze the SIM queue and start turning back arrivals.
    pub fn enter(&mut self, ctx: &mut SimCtx<'_>) -> Result<(), SimRecoveryError> {
        if self.active {
            return Err(SimRecoveryError::AlreadyActive);
        }
        self.active = true;
        ctx.freeze_simq(1);
        Ok(())
    }
    /// Return one CCB for requeue: status `CAM_REQUEUE_REQ|CAM_DEV_QFRZN`, devq frozen once.
    /// Works for arrivals (not yet `CAM_SIM_QUEUED`) and outstanding commands (which are).
    pub fn requeue(&self, mut ccb: Ccb, ctx: &mut SimCtx<'_>) {
        let queued = ccb.h.status.has(CAM_SIM_QUEUED);
        ccb.set_status(
            CamStatus::RequeueReq,
            CAM_DEV_QFRZN | if queued { CAM_SIM_QUEUED } else { 0 },
        );
        if let Some(a) = ccb.h.path.addr() {
            ctx.freeze_devq(a, 1);
        }
        ctx.done(ccb);
    }
    /// Step 3 for a batch of outstanding commands (their timeouts already cancelled).
    pub fn requeue_outstanding(&self, ccbs: impl IntoIterator<Item = Ccb>, ctx: &mut SimCtx<'_>) {
        for c in ccbs {
            self.requeue(c, ctx);
        }
    }
    /// Recovery done: clear state and release the SIM queue.
    pub fn exit(&mut self, ctx: &mut SimCtx<'_>) -> Result<(), SimRecoveryError> {
        if !self.active {
            return Err(SimRecoveryError::NotActive);
        }
        self.active = false;
        ctx.release_simq(1);
        Ok(())
    }
    /// The bus cannot be recovered: with nothing in flight, invalidate every periph on it
    /// (AC_LOST_DEVICE on the bus wildcard) and release the SIM queue.
    pub fn give_up(
        &mut self,
        in_flight: usize,
        ctx: &mut SimCtx<'_>,
    ) -> Result<(), SimRecoveryError> {
        if in_flight != 0 {
            return Err(SimRecoveryError::InFlight(in_flight));
        }
        let bus = ctx.bus();
        ctx.async_event(AC_LOST_DEVICE, Path::bus(bus), AsyncArg::None);
        self.exit(ctx)
    }
}
