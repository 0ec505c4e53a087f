//! The transport layer (FreeBSD cam_xpt.c): SIM registration, per-device queues with
//! openings and freeze counts, the SIM queue, done processing, XPT_ABORT/XPT_REL_SIMQ,
//! async events, the recovery gauntlet, and the single-threaded event loop.

use crate::async_event::{
    AsyncArg, AsyncCallback, AsyncEvent, AsyncHandle, AsyncRegistry, AC_LOST_DEVICE,
};
use crate::ccb::{relsim, Ccb, CcbBody, CcbId, Cdb, DispatchClass, TagAction, TranSettings};
use crate::clock::{CamTime, Clock};
use crate::devq::{DevQueue, FreezeError, QKey};
use crate::gauntlet::{Gauntlet, GauntletError, GauntletJob};
use crate::path::{BusId, DevAddr, Path};
use crate::periph::{IoId, IoResult, Periph, PeriphId};
use crate::probe::Probe;
use crate::scsi_cmd::InquiryData;
use crate::sim::{Sim, SimCtx, SimOp, SimParams};
use crate::simq::{FreezeOwner, SimQueue};
use crate::status::{CamStatus, CAM_DEV_QFRZN, CAM_RELEASE_SIMQ, CAM_SIM_QUEUED};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

/// A completion callback (FreeBSD `cbfcnp`); it may submit more CCBs.
pub type CompletionFn = Box<dyn FnOnce(&mut Xpt, Ccb)>;

/// Where a completed CCB goes.
pub enum Completion {
    /// Kept for `Xpt::take_completed`.
    Queue,
    /// Handed to a callback (FreeBSD `cbfcnp`), which may submit more CCBs.
    Callback(CompletionFn),
    /// A periph's done routine.
    Periph(PeriphId),
    /// The bus scan's probe state machine.
    Probe(BusId),
}

/// Index of a device known to the XPT.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(pub usize);

/// XPT error.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XptError {
    /// No such bus.
    #[error("no such bus {0:?}")]
    NoBus(BusId),
    /// No such device.
    #[error("no such device {0}")]
    NoDevice(DevAddr),
    /// Freeze/release error.
    #[error(transparent)]
    Freeze(#[from] FreezeError),
    /// Gauntlet error.
    #[error(transparent)]
    Gauntlet(#[from] GauntletError),
    /// A scan already runs on this bus.
    #[error("scan already in progress")]
    ScanBusy,
}

/// Something the XPT did that an operator may want to see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XptLog {
    /// Seed 001: a CCB that never reached the adapter was requeued by the XPT.
    RequeuedNeverIssued {
        /// The CCB.
        id: CcbId,
        /// Its device.
        addr: DevAddr,
    },
    /// Seed 001: a CCB was flushed (device awaiting the owner's resume).
    Flushed {
        /// The CCB.
        id: CcbId,
    },
    /// Seed 001: the owner's resume command ended flushing.
    Resumed {
        /// The device.
        addr: DevAddr,
    },
    /// A SIM completed a CCB the XPT does not have outstanding (ignored).
    SpuriousDone {
        /// The CCB.
        id: CcbId,
    },
    /// A release asked for more than was frozen (ignored).
    ReleaseUnderflow {
        /// Description.
        what: String,
    },
    /// Seed 004: an application freeze expired and was released.
    AppFreezeExpired {
        /// Bus.
        bus: BusId,
    },
}

/// Counters.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct XptStats {
    /// CCBs submitted.
    pub submitted: u64,
    /// CCBs handed to SIMs (queued function codes).
    pub dispatched: u64,
    /// CCBs completed to their owners.
    pub completed: u64,
    /// Dispatches of normal CCBs to a frozen queue, or of priority CCBs to an error-frozen
    /// device queue (must stay 0).
    pub frozen_violations: u64,
    /// Periph requests that completed more than once (must stay 0).
    pub duplicate_io_results: u64,
}

pub(crate) struct BusState {
    pub sim: Option<Box<dyn Sim>>,
    pub params: SimParams,
    pub simq: SimQueue,
    pub devices: Vec<DeviceId>,
    rr: usize,
    /// CCBs the SIM turned back (never issued) while its queue was frozen: held until the
    /// SIM queue is released, so a priority CCB cannot spin against a recovering SIM.
    parked: Vec<CcbId>,
    pub gauntlet: Gauntlet,
    /// The SIM's last PATH_INQ answer (for maxio and max_lun).
    pub pathinq: Option<crate::ccb::PathInq>,
}

/// What the XPT knows about one device (`struct cam_ed`).
pub(crate) struct Device {
    pub addr: DevAddr,
    pub devq: DevQueue,
    rel_on_complete: u32,
    rel_on_qempty: u32,
    /// Seed 001 policy: after a failure, flush until the owner's resume command.
    pub flush_policy: bool,
    pub flushing: bool,
    pub lost: bool,
    pub inq: Option<InquiryData>,
    pub serial: Option<String>,
    pub tran: Option<TranSettings>,
    pub periphs: Vec<PeriphId>,
    pub(crate) stats: crate::devstat::DevStatAcc,
    /// Quirks matched from INQUIRY at probe time.
    pub quirks: crate::quirks::Quirks,
}

/// Public view of a device (for `devlist`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Address.
    pub addr: DevAddr,
    /// INQUIRY data from the probe.
    pub inquiry: Option<InquiryData>,
    /// Unit serial number.
    pub serial: Option<String>,
    /// Negotiated transfer settings.
    pub tran: Option<TranSettings>,
    /// Attached periphs.
    pub periphs: Vec<PeriphId>,
    /// The device went away.
    pub lost: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum CcbState {
    Queued(DeviceId, QKey),
    Parked(DeviceId),
    /// Turned back by a SIM that did not freeze: waiting out a back-off timer.
    Backoff(DeviceId),
    AtSim,
    Immediate,
}

struct CcbEntry {
    state: CcbState,
    ccb: Option<Box<Ccb>>,
    dev: Option<DeviceId>,
    completion: Completion,
    /// Arrival number, kept across requeues so a requeued CCB keeps its place.
    seq: u64,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Timer {
    DevRelease(DeviceId),
    AppFreeze(BusId),
    PeriphWake(PeriphId, u64),
    Requeue(CcbId),
}

/// The CAM transport layer and its event loop.
pub struct Xpt {
    clock: Rc<dyn Clock>,
    pub(crate) buses: Vec<BusState>,
    pub(crate) devices: Vec<Device>,
    dev_index: HashMap<DevAddr, DeviceId>,
    ccbs: HashMap<CcbId, CcbEntry>,
    next_ccb: u64,
    seq: u64,
    done_q: VecDeque<Box<Ccb>>,
    async_q: VecDeque<AsyncEvent>,
    asyncs: AsyncRegistry,
    timers: BTreeMap<(CamTime, u64), Timer>,
    sim_ops: Vec<SimOp>,
    pub(crate) periphs: Vec<Option<Periph>>,
    probes: HashMap<BusId, Probe>,
    completed: Vec<Ccb>,
    pub(crate) io_results: HashMap<IoId, IoResult>,
    live_ios: std::collections::HashSet<IoId>,
    next_io: u64,
    log: Vec<XptLog>,
    stats: XptStats,
    /// XPT-level requeues per CCB (seed 001 retries of never-issued CCBs), bounded.
    requeues: HashMap<CcbId, u32>,
    /// User quirk entries, consulted before the built-in table.
    quirk_table: Vec<crate::quirks::QuirkEntry>,
    /// XPT_SCAN_BUS/XPT_SCAN_LUN CCBs waiting for their scan to finish, per bus.
    scan_ccbs: HashMap<BusId, Vec<Ccb>>,
    /// Split periph requests: child request -> parent (see `periph::split`).
    pub(crate) splits: crate::periph::split::Splits,
}

/// Entries kept in the XPT log.
pub const LOG_CAP: usize = 8192;

/// Retries the XPT itself makes of a CCB that never reached the adapter, before handing it
/// to its owner: a SIM that turns CCBs back without freezing its queue must not spin us.
pub const XPT_REQUEUE_LIMIT: u32 = 64;

/// First back-off before resubmitting a CCB a SIM turned back without freezing.
pub const REQUEUE_BACKOFF_BASE: Duration = Duration::from_millis(1);
/// Longest back-off between such resubmissions.
pub const REQUEUE_BACKOFF_MAX: Duration = Duration::from_millis(100);

/// Back-off before the `n`th (1-based) resubmission of a turned-back CCB: doubling from
/// `REQUEUE_BACKOFF_BASE`, capped at `REQUEUE_BACKOFF_MAX`.
pub fn requeue_backoff(n: u32) -> Duration {
    let shift = n.saturating_sub(1).min(16);
    (REQUEUE_BACKOFF_BASE * (1u32 << shift)).min(REQUEUE_BACKOFF_MAX)
}

impl Xpt {
    /// A transport layer driven by `clock`.
    pub fn new(clock: impl Clock + 'static) -> Self {
        Self::with_clock(Rc::new(clock))
    }

    /// A transport layer sharing a clock.
    pub fn with_clock(clock: Rc<dyn Clock>) -> Self {
        Xpt {
            clock,
            buses: Vec::new(),
            devices: Vec::new(),
            dev_index: HashMap::new(),
            ccbs: HashMap::new(),
            next_ccb: 1,
            seq: 0,
            done_q: VecDeque::new(),
            async_q: VecDeque::new(),
            asyncs: AsyncRegistry::default(),
            timers: BTreeMap::new(),
            sim_ops: Vec::new(),
            periphs: Vec::new(),
            probes: HashMap::new(),
            completed: Vec::new(),
            io_results: HashMap::new(),
            live_ios: Default::default(),
            next_io: 1,
            log: Vec::new(),
            stats: XptStats::default(),
            requeues: HashMap::new(),
            quirk_table: Vec::new(),
            scan_ccbs: HashMap::new(),
            splits: Default::default(),
        }
    }

    /// Current time.
    pub fn now(&self) -> CamTime {
        self.clock.now()
    }

    /// Register a SIM (`xpt_bus_register`); announces AC_PATH_REGISTERED.
    pub fn register_sim(&mut self, sim: Box<dyn Sim>, params: SimParams) -> BusId {
        let bus = BusId(self.buses.len() as u32);
        self.buses.push(BusState {
            sim: Some(sim),
            simq: SimQueue::new(params.simq_size),
            params,
            devices: Vec::new(),
            rr: 0,
            parked: Vec::new(),
            gauntlet: Gauntlet::default(),
            pathinq: None,
        });
        self.post_async(AsyncEvent {
            code: crate::async_event::AC_PATH_REGISTERED,
            path: Path::bus(bus),
            arg: AsyncArg::None,
        });
        bus
    }

    /// Registration parameters of a bus.
    pub fn sim_params(&self, bus: BusId) -> Option<&SimParams> {
        self.buses.get(bus.0 as usize).map(|b| &b.params)
    }

    fn bus_mut(&mut self, bus: BusId) -> Result<&mut BusState, XptError> {
        self.buses
            .get_mut(bus.0 as usize)
            .ok_or(XptError::NoBus(bus))
    }

    /// The device entry for an address, created on first use (`xpt_alloc_device`).
    pub(crate) fn device_id(&mut self, addr: DevAddr) -> Result<DeviceId, XptError> {
        if let Some(d) = self.dev_index.get(&addr) {
            return Ok(*d);
        }
        let openings = self.bus_mut(addr.bus)?.params.max_dev_transactions;
        let id = DeviceId(self.devices.len());
        self.devices.push(Device {
            addr,
            devq: DevQueue::new(openings),
            rel_on_complete: 0,
            rel_on_qempty: 0,
            flush_policy: false,
            flushing: false,
            lost: false,
            inq: None,
            serial: None,
            tran: None,
            periphs: Vec::new(),
            stats: Default::default(),
            quirks: Default::default(),
        });
        self.dev_index.insert(addr, id);
        self.buses[addr.bus.0 as usize].devices.push(id);
        Ok(id)
    }

    fn find_device(&self, addr: DevAddr) -> Result<DeviceId, XptError> {
        self.dev_index
            .get(&addr)
            .copied()
            .ok_or(XptError::NoDevice(addr))
    }

    // ---------------------------------------------------------------- submission

    /// `xpt_action`: submit a CCB; its completion goes where `completion` says. Completions
    /// are always delivered from the event loop, never from inside `submit`.
    pub fn submit(&mut self, mut ccb: Ccb, completion: Completion) -> CcbId {
        let id = CcbId(self.next_ccb);
        self.next_ccb += 1;
        ccb.h.id = id;
        ccb.h.status = CamStatus::ReqInprog.into();
        self.stats.submitted += 1;
        let fc = ccb.func_code();
        if fc.is_dev_queued() {
            self.submit_dev_queued(ccb, completion);
        } else {
            self.track_immediate(id, completion);
            self.action_immediate(ccb);
        }
        id
    }

    /// Submit with a completion callback.
    pub fn submit_cb(&mut self, ccb: Ccb, f: impl FnOnce(&mut Xpt, Ccb) + 'static) -> CcbId {
        self.submit(ccb, Completion::Callback(Box::new(f)))
    }

    /// Completed CCBs submitted with `Completion::Queue`.
    pub fn take_completed(&mut self) -> Vec<Ccb> {
        std::mem::take(&mut self.completed)
    }

    /// The completed CCB `id` (submitted with `Completion::Queue`), if it is done; other
    /// completed CCBs stay queued for their owners.
    pub fn take_completed_id(&mut self, id: CcbId) -> Option<Ccb> {
        let i = self.completed.iter().position(|c| c.h.id == id)?;
        Some(self.completed.remove(i))
    }

    // Tracks a CCB that completes without entering a device queue.
    fn track_immediate(&mut self, id: CcbId, completion: Completion) {
        self.ccbs.insert(
            id,
            CcbEntry {
                state: CcbState::Immediate,
                ccb: None,
                dev: None,
                completion,
                seq: 0,
            },
        );
    }

    fn finish_now(&mut self, mut ccb: Ccb, s: CamStatus) {
        ccb.set_status(s, 0);
        self.done_q.push_back(Box::new(ccb));
    }

    fn submit_dev_queued(&mut self, ccb: Ccb, completion: Completion) {
        let id = ccb.h.id;
        let dev = match ccb.h.path.addr().map(|a| self.device_id(a)) {
            Some(Ok(d)) => d,
            _ => {
                self.track_immediate(id, completion);
                return self.finish_now(ccb, CamStatus::PathInvalid);
            }
        };
        // Seed 001: while a device waits for its owner's resume, everything else is flushed.
        let d = &mut self.devices[dev.0];
        if d.flushing {
            if ccb.h.resume {
                d.flushing = false;
                let addr = d.addr;
                self.note(XptLog::Resumed { addr });
            } else {
                self.note(XptLog::Flushed { id });
                self.ccbs.insert(
                    id,
                    CcbEntry {
                        state: CcbState::Immediate,
                        ccb: None,
                        dev: Some(dev),
                        completion,
                        seq: 0,
                    },
                );
                return self.finish_now(ccb, CamStatus::ReqTermio);
            }
        }
        self.seq += 1;
        let seq = self.seq;
        let key = self.enqueue(dev, &ccb, seq);
        self.ccbs.insert(
            id,
            CcbEntry {
                state: CcbState::Queued(dev, key),
                ccb: Some(Box::new(ccb)),
                dev: Some(dev),
                completion,
                seq,
            },
        );
    }

    /// Put a CCB in its device queue under arrival number `seq`. HEAD OF QUEUE goes
    /// before everything of its class; ORDERED is noted as a barrier.
    fn enqueue(&mut self, dev: DeviceId, ccb: &Ccb, seq: u64) -> QKey {
        let prio = if ccb.h.tag_action == TagAction::HeadOfQueue {
            crate::devq::HOQ_PRIO
        } else {
            ccb.h.priority.max(crate::devq::HOQ_PRIO + 1)
        };
        let key = (ccb.h.class, prio, seq);
        let q = &mut self.devices[dev.0].devq;
        q.pending.insert(key, ccb.h.id);
        if ccb.h.tag_action == TagAction::Ordered {
            q.ordered_pending.insert(seq);
        }
        key
    }

    /// A held ORDERED CCB leaves for good: its barrier goes with it.
    fn drop_barrier(&mut self, d: DeviceId, id: CcbId) {
        if let Some(e) = self.ccbs.get(&id) {
            let ordered = e
                .ccb
                .as_ref()
                .is_some_and(|c| c.h.tag_action == TagAction::Ordered);
            if ordered {
                self.devices[d.0].devq.ordered_pending.remove(&e.seq);
            }
        }
    }

    /// Take a CCB out of its device queue (the inverse of `enqueue`).
    fn dequeue(&mut self, dev: DeviceId, key: QKey) {
        let q = &mut self.devices[dev.0].devq;
        q.pending.remove(&key);
        q.ordered_pending.remove(&key.2);
    }

    /// Function codes that do not pass through the device queues (`xpt_action_default`).
    fn action_immediate(&mut self, mut ccb: Ccb) {
        match &mut ccb.body {
            CcbBody::Noop => self.finish_now(ccb, CamStatus::ReqCmp),
            CcbBody::RelSim(_) => self.action_relsim(ccb),
            CcbBody::SetAsync(sa) => {
                let ok = self.asyncs.set_mask(sa.handle, sa.event_enable);
                self.finish_now(
                    ccb,
                    if ok {
                        CamStatus::ReqCmp
                    } else {
                        CamStatus::ReqInvalid
                    },
                );
            }
            CcbBody::Abort(a) => {
                let target = a.abort_ccb;
                let held = match self.ccbs.get(&target).map(|e| e.state) {
                    Some(CcbState::Queued(dev, key)) => {
                        self.dequeue(dev, key);
                        Some(dev)
                    }
                    Some(CcbState::Parked(dev)) => {
                        let bus = self.devices[dev.0].addr.bus;
                        self.buses[bus.0 as usize].parked.retain(|x| *x != target);
                        self.drop_barrier(dev, target);
                        Some(dev)
                    }
                    // Its back-off timer finds it gone and does nothing.
                    Some(CcbState::Backoff(dev)) => {
                        self.drop_barrier(dev, target);
                        Some(dev)
                    }
                    _ => None,
                };
                match (held, self.ccbs.get(&target).map(|e| e.state)) {
                    (Some(dev), _) => {
                        // Still in the XPT: as FreeBSD's xpt_action_default, complete it
                        // CAM_REQ_ABORTED|CAM_DEV_QFRZN with its devq frozen, so its owner
                        // sees the abort before anything queued behind it runs.
                        let e = self.ccbs.get_mut(&target).expect("entry exists");
                        e.state = CcbState::Immediate;
                        let mut victim = e.ccb.take().expect("queued CCB is held by the XPT");
                        self.devices[dev.0].devq.freeze_err(1);
                        victim.set_status(CamStatus::ReqAborted, CAM_DEV_QFRZN);
                        self.done_q.push_back(victim);
                        self.finish_now(ccb, CamStatus::ReqCmp);
                    }
                    (None, Some(CcbState::AtSim)) => self.send_to_sim(ccb),
                    _ => self.finish_now(ccb, CamStatus::UaAbort),
                }
            }
            CcbBody::SdevType | CcbBody::Debug | CcbBody::PathStats => {
                self.finish_now(ccb, CamStatus::FuncNotavail)
            }
            CcbBody::GdevType(_)
            | CcbBody::GdevList(_)
            | CcbBody::DevMatch(_)
            | CcbBody::GdevStats(_) => self.action_query(ccb),
            CcbBody::ScanBus | CcbBody::ScanLun => self.action_scan(ccb),
            _ => self.send_to_sim(ccb),
        }
    }

    /// The query function codes the XPT answers from what it knows (`xpt_action_default`).
    fn action_query(&mut self, mut ccb: Ccb) {
        let addr = ccb.h.path.addr();
        let dev = addr.and_then(|a| self.dev_index.get(&a).copied());
        let now = self.clock.now();
        let status = match &mut ccb.body {
            CcbBody::GdevType(g) => match dev.map(|d| &self.devices[d.0]) {
                Some(d) if d.inq.is_some() => {
                    g.inquiry = d.inq.clone();
                    g.serial = d.serial.clone();
                    g.tran = d.tran;
                    CamStatus::ReqCmp
                }
                _ => CamStatus::DevNotThere,
            },
            CcbBody::GdevList(g) => match dev {
                Some(d) => {
                    let list: Vec<PeriphId> = self.devices[d.0]
                        .periphs
                        .iter()
                        .copied()
                        .filter(|p| !self.periph_invalid(*p))
                        .collect();
                    let generation = list.len() as u32;
                    if g.generation != 0 && g.generation != generation {
                        g.status = crate::ccb::GdevListStatus::ListChanged;
                    } else if let Some(p) = list.get(g.index as usize) {
                        let (name, unit) = self.periph_name_unit(*p);
                        g.periph_name = name.into();
                        g.unit_number = unit;
                        g.status = if (g.index as usize) + 1 < list.len() {
                            crate::ccb::GdevListStatus::MoreDevs
                        } else {
                            crate::ccb::GdevListStatus::LastDevice
                        };
                    } else {
                        g.status = crate::ccb::GdevListStatus::Error;
                    }
                    g.generation = generation;
                    CamStatus::ReqCmp
                }
                None => CamStatus::DevNotThere,
            },
            CcbBody::DevMatch(m) => {
                m.matches = self.dev_match(&m.patterns);
                CamStatus::ReqCmp
            }
            CcbBody::GdevStats(g) => match dev {
                Some(d) => {
                    let dv = &self.devices[d.0];
                    g.dev_openings = dv.devq.openings;
                    g.dev_active = dv.devq.active;
                    g.queued = dv.devq.queued() as u32;
                    g.qfrozen_cnt = dv.devq.frozen.get();
                    let tagged = dv.tran.and_then(|t| t.tq_enb).unwrap_or(false);
                    g.maxtags = if tagged { dv.devq.openings } else { 0 };
                    g.mintags = if tagged { 2 } else { 0 };
                    g.devstat = dv.stats.snapshot(now);
                    CamStatus::ReqCmp
                }
                None => CamStatus::DevNotThere,
            },
            _ => CamStatus::ReqInvalid,
        };
        self.finish_now(ccb, status);
    }

    /// XPT_SCAN_BUS / XPT_SCAN_LUN: start the scan; the CCB completes when it ends.
    fn action_scan(&mut self, ccb: Ccb) {
        let Some(bus) = ccb
            .h
            .path
            .bus_id()
            .filter(|b| (b.0 as usize) < self.buses.len())
        else {
            return self.finish_now(ccb, CamStatus::PathInvalid);
        };
        if self.probes.contains_key(&bus) {
            return self.finish_now(ccb, CamStatus::Busy);
        }
        let pr = match (&ccb.body, ccb.h.path.addr()) {
            (CcbBody::ScanLun, Some(a)) => Probe::start_lun(self, a),
            (CcbBody::ScanLun, None) => return self.finish_now(ccb, CamStatus::ReqInvalid),
            _ => Probe::start(self, bus),
        };
        self.probes.insert(bus, pr);
        self.scan_ccbs.entry(bus).or_default().push(ccb);
    }

    /// A scan on `bus` ended: complete the scan CCBs waiting for it.
    fn scan_finished(&mut self, bus: BusId) {
        for c in self.scan_ccbs.remove(&bus).unwrap_or_default() {
            self.finish_now(c, CamStatus::ReqCmp);
        }
    }

    /// XPT_DEV_MATCH: devices (with INQUIRY) matching any pattern, each with its periphs.
    pub fn dev_match(
        &self,
        patterns: &[crate::ccb::DevMatchPattern],
    ) -> Vec<crate::ccb::DevMatchResult> {
        use crate::ccb::DevMatchResult as R;
        let mut out = Vec::new();
        for d in self.devices.iter().filter(|d| d.inq.is_some()) {
            let inq = d.inq.as_ref().expect("filtered");
            let periphs: Vec<(PeriphId, &'static str, u32)> = d
                .periphs
                .iter()
                .filter(|p| !self.periph_invalid(**p))
                .map(|p| {
                    let (n, u) = self.periph_name_unit(*p);
                    (*p, n, u)
                })
                .collect();
            let hit = patterns.is_empty()
                || patterns.iter().any(|p| {
                    p.path.matches(d.addr)
                        && p.vendor
                            .as_ref()
                            .is_none_or(|v| inq.vendor.starts_with(v.as_str()))
                        && p.product
                            .as_ref()
                            .is_none_or(|v| inq.product.starts_with(v.as_str()))
                        && p.device_type.is_none_or(|t| t == inq.device_type)
                        && p.periph_name
                            .as_ref()
                            .is_none_or(|n| periphs.iter().any(|x| x.1 == n.as_str()))
                });
            if !hit {
                continue;
            }
            out.push(R::Device {
                addr: d.addr,
                inquiry: d.inq.clone(),
                lost: d.lost,
            });
            for (_, name, unit) in periphs {
                out.push(R::Periph {
                    addr: d.addr,
                    name: name.into(),
                    unit,
                });
            }
        }
        out
    }

    /// devstat of a device: I/O counts, bytes, errors, busy time, latency histogram.
    pub fn dev_stats(&self, addr: DevAddr) -> Option<crate::devstat::DevStat> {
        let now = self.clock.now();
        self.dev_index
            .get(&addr)
            .map(|d| self.devices[d.0].stats.snapshot(now))
    }

    /// Add a quirk entry; it applies to devices probed from now on, before the built-ins.
    pub fn add_quirk(&mut self, e: crate::quirks::QuirkEntry) {
        self.quirk_table.push(e);
    }

    /// The quirks matched for a probed device.
    pub fn device_quirks(&self, addr: DevAddr) -> Option<crate::quirks::Quirks> {
        self.dev_index.get(&addr).map(|d| self.devices[d.0].quirks)
    }

    pub(crate) fn lookup_quirks(&self, inq: &InquiryData) -> crate::quirks::Quirks {
        crate::quirks::lookup(&self.quirk_table, &inq.vendor, &inq.product, &inq.revision)
    }

    /// The SIM's `maxio` from its last PATH_INQ, if known and non-zero.
    pub fn bus_maxio(&self, bus: BusId) -> Option<u32> {
        self.buses
            .get(bus.0 as usize)
            .and_then(|b| b.pathinq.as_ref())
            .map(|p| p.maxio)
            .filter(|m| *m > 0)
    }

    /// The SIM's last PATH_INQ answer, if one was seen.
    pub fn bus_pathinq(&self, bus: BusId) -> Option<&crate::ccb::PathInq> {
        self.buses
            .get(bus.0 as usize)
            .and_then(|b| b.pathinq.as_ref())
    }

    fn send_to_sim(&mut self, ccb: Ccb) {
        let Some(bus) = ccb
            .h
            .path
            .bus_id()
            .filter(|b| (b.0 as usize) < self.buses.len())
        else {
            return self.finish_now(ccb, CamStatus::PathInvalid);
        };
        self.call_sim(bus, |sim, ctx| sim.action(ccb, ctx));
    }

    fn action_relsim(&mut self, mut ccb: Ccb) {
        let Some(dev) = ccb.h.path.addr().and_then(|a| self.find_device(a).ok()) else {
            return self.finish_now(ccb, CamStatus::PathInvalid);
        };
        let CcbBody::RelSim(rs) = &mut ccb.body else {
            unreachable!()
        };
        let d = &mut self.devices[dev.0];
        if rs.release_flags & relsim::RELSIM_ADJUST_OPENINGS != 0 && rs.openings > 0 {
            d.devq.openings = rs.openings;
        }
        let mut deferred = false;
        if rs.release_flags & relsim::RELSIM_RELEASE_AFTER_TIMEOUT != 0 {
            deferred = true;
            let at = self
                .clock
                .now()
                .after(Duration::from_millis(rs.release_timeout as u64));
            self.add_timer(at, Timer::DevRelease(dev));
        }
        let d = &mut self.devices[dev.0];
        if rs.release_flags & relsim::RELSIM_RELEASE_AFTER_CMDCMPLT != 0 {
            deferred = true;
            d.rel_on_complete += 1;
        }
        if rs.release_flags & relsim::RELSIM_RELEASE_AFTER_QEMPTY != 0 {
            deferred = true;
            if d.devq.active == 0 {
                // Already empty: release now, as FreeBSD does.
                deferred = false;
            } else {
                d.rel_on_qempty += 1;
            }
        }
        let mut status = CamStatus::ReqCmp;
        // No deferred release: release once now. An openings-only request on an unfrozen
        // queue is fine (FreeBSD clamps); a bare release of nothing is refused.
        let adjust_only = rs.release_flags & relsim::RELSIM_ADJUST_OPENINGS != 0;
        if !deferred && d.devq.release(1).is_err() && !adjust_only {
            status = CamStatus::ReqInvalid;
        }
        let rs_out = self.devices[dev.0].devq.frozen.get();
        if let CcbBody::RelSim(rs) = &mut ccb.body {
            rs.qfrozen_cnt = rs_out;
        }
        self.finish_now(ccb, status);
    }

    // ---------------------------------------------------------------- SIM calls

    fn call_sim(&mut self, bus: BusId, f: impl FnOnce(&mut dyn Sim, &mut SimCtx<'_>)) {
        let now = self.clock.now();
        let mut sim = self.buses[bus.0 as usize]
            .sim
            .take()
            .expect("SIM re-entered");
        let mut ops = std::mem::take(&mut self.sim_ops);
        {
            let mut ctx = SimCtx {
                now,
                bus,
                ops: &mut ops,
            };
            f(sim.as_mut(), &mut ctx);
        }
        self.buses[bus.0 as usize].sim = Some(sim);
        for op in ops.drain(..) {
            self.apply_sim_op(bus, op);
        }
        self.sim_ops = ops;
    }

    fn apply_sim_op(&mut self, bus: BusId, op: SimOp) {
        match op {
            SimOp::Done(ccb) => self.done_q.push_back(ccb),
            SimOp::FreezeSimq(n) => {
                self.buses[bus.0 as usize].simq.frozen.freeze(n);
            }
            SimOp::ReleaseSimq(n) => {
                if let Err(e) = self.buses[bus.0 as usize].simq.frozen.release(n) {
                    self.note(XptLog::ReleaseUnderflow {
                        what: format!("SIM release_simq: {e}"),
                    });
                }
            }
            SimOp::FreezeDevq(addr, n) => {
                if let Ok(d) = self.device_id(addr) {
                    // A SIM's freeze is an error freeze: the owner looks at the error first.
                    self.devices[d.0].devq.freeze_err(n);
                }
            }
            SimOp::Async(ev) => self.post_async(ev),
        }
    }

    // ---------------------------------------------------------------- freezes

    /// `xpt_freeze_devq`; returns the new count.
    pub fn freeze_devq(&mut self, addr: DevAddr, n: u32) -> Result<u32, XptError> {
        let d = self.device_id(addr)?;
        Ok(self.devices[d.0].devq.frozen.freeze(n))
    }

    /// `xpt_release_devq`; never goes below zero (an over-release changes nothing).
    pub fn release_devq(&mut self, addr: DevAddr, n: u32) -> Result<u32, XptError> {
        let d = self.find_device(addr)?;
        Ok(self.devices[d.0].devq.release(n)?)
    }

    /// Device queue freeze count.
    pub fn devq_frozen(&self, addr: DevAddr) -> u32 {
        self.dev_index
            .get(&addr)
            .map_or(0, |d| self.devices[d.0].devq.frozen.get())
    }

    /// `xpt_freeze_simq`; returns the new count.
    pub fn freeze_simq(&mut self, bus: BusId, n: u32) -> Result<u32, XptError> {
        Ok(self.bus_mut(bus)?.simq.frozen.freeze(n))
    }

    /// `xpt_release_simq`; never goes below zero.
    pub fn release_simq(&mut self, bus: BusId, n: u32) -> Result<u32, XptError> {
        Ok(self.bus_mut(bus)?.simq.frozen.release(n)?)
    }

    /// SIM queue freeze count.
    pub fn simq_frozen(&self, bus: BusId) -> u32 {
        self.buses
            .get(bus.0 as usize)
            .map_or(0, |b| b.simq.frozen.get())
    }

    /// Seed 004: freeze the SIM queue for an application; auto-released after 10 s.
    pub fn app_freeze_simq(&mut self, bus: BusId, owner: FreezeOwner) -> Result<CamTime, XptError> {
        let now = self.clock.now();
        let deadline = self.bus_mut(bus)?.simq.app_freeze(owner, now);
        self.add_timer(deadline, Timer::AppFreeze(bus));
        Ok(deadline)
    }

    /// Seed 004: thaw an application freeze; only its owner may.
    pub fn app_release_simq(&mut self, bus: BusId, owner: FreezeOwner) -> Result<u32, XptError> {
        Ok(self.bus_mut(bus)?.simq.app_release(owner)?)
    }

    /// Openings of a device.
    pub fn dev_openings(&self, addr: DevAddr) -> Option<u32> {
        self.dev_index
            .get(&addr)
            .map(|d| self.devices[d.0].devq.openings)
    }

    /// Set a device's openings (as RELSIM_ADJUST_OPENINGS).
    pub fn set_dev_openings(&mut self, addr: DevAddr, n: u32) -> Result<(), XptError> {
        let d = self.device_id(addr)?;
        self.devices[d.0].devq.openings = n.max(1);
        Ok(())
    }

    /// Seed 001: make a device flush all I/O after a failure until its owner's first
    /// command marked `resume`.
    pub fn set_flush_policy(&mut self, addr: DevAddr, on: bool) -> Result<(), XptError> {
        let d = self.device_id(addr)?;
        self.devices[d.0].flush_policy = on;
        Ok(())
    }

    /// Whether a device is flushing (waiting for its owner's resume).
    pub fn is_flushing(&self, addr: DevAddr) -> bool {
        self.dev_index
            .get(&addr)
            .is_some_and(|d| self.devices[d.0].flushing)
    }

    /// CCBs submitted and not yet completed to their owner.
    pub fn outstanding(&self) -> usize {
        self.ccbs.len()
    }

    /// Queue releases still scheduled (RELSIM_RELEASE_AFTER_TIMEOUT, an application
    /// freeze's expiry): a queue they hold stays frozen until they fire.
    pub fn releases_pending(&self) -> usize {
        self.timers
            .values()
            .filter(|t| matches!(t, Timer::DevRelease(_) | Timer::AppFreeze(_)))
            .count()
    }

    /// Counters.
    pub fn stats(&self) -> XptStats {
        self.stats
    }

    /// The XPT's log (the most recent entries; older ones are dropped past `LOG_CAP`).
    pub fn log(&self) -> &[XptLog] {
        &self.log
    }

    fn note(&mut self, e: XptLog) {
        if self.log.len() >= LOG_CAP {
            // Keep memory bounded on long runs: drop the older half.
            self.log.drain(..LOG_CAP / 2);
        }
        self.log.push(e);
    }

    /// The recovery gauntlet of a bus.
    pub fn gauntlet(&self, bus: BusId) -> Option<&Gauntlet> {
        self.buses.get(bus.0 as usize).map(|b| &b.gauntlet)
    }

    // ---------------------------------------------------------------- async

    /// Register an async callback for events in `mask` on `path` (XPT_SASYNC_CB).
    pub fn register_async(&mut self, path: Path, mask: u32, cb: AsyncCallback) -> AsyncHandle {
        self.asyncs.add(path, mask, cb)
    }

    /// `xpt_async`: post an event; delivered from the event loop.
    pub fn post_async(&mut self, ev: AsyncEvent) {
        self.async_q.push_back(ev);
    }

    fn deliver_async(&mut self, ev: AsyncEvent) {
        if ev.code == AC_LOST_DEVICE {
            let hit: Vec<DeviceId> = self
                .devices
                .iter()
                .enumerate()
                .filter(|(_, d)| ev.path.matches(d.addr))
                .map(|(i, _)| DeviceId(i))
                .collect();
            for d in hit {
                self.devices[d.0].lost = true;
                // Anything still queued in the XPT for a lost device cannot be sent.
                self.devices[d.0].devq.ordered_pending.clear();
                let pending: Vec<CcbId> = std::mem::take(&mut self.devices[d.0].devq.pending)
                    .into_values()
                    .collect();
                for id in pending {
                    if let Some(e) = self.ccbs.get_mut(&id) {
                        e.state = CcbState::Immediate;
                        if let Some(c) = e.ccb.take() {
                            self.finish_now(*c, CamStatus::DevNotThere);
                        }
                    }
                }
                for p in self.devices[d.0].periphs.clone() {
                    self.with_periph(p, |per, xpt| per.invalidate(xpt));
                }
            }
        }
        self.asyncs.deliver(&ev);
    }

    // ---------------------------------------------------------------- timers

    fn add_timer(&mut self, at: CamTime, t: Timer) {
        self.seq += 1;
        self.timers.insert((at, self.seq), t);
    }

    pub(crate) fn periph_wake_at(&mut self, at: CamTime, p: PeriphId, token: u64) {
        self.add_timer(at, Timer::PeriphWake(p, token));
    }

    fn fire_timers(&mut self) -> bool {
        let now = self.clock.now();
        let mut did = false;
        while let Some((&(at, seq), &t)) = self.timers.iter().next() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, seq));
            did = true;
            match t {
                Timer::DevRelease(d) => self.release_dev_internal(d, "RELSIM timeout"),
                Timer::AppFreeze(b) => {
                    if self.buses[b.0 as usize].simq.expire(now) > 0 {
                        self.note(XptLog::AppFreezeExpired { bus: b });
                    }
                }
                Timer::PeriphWake(p, tok) => self.with_periph(p, |per, xpt| per.wake(xpt, tok)),
                Timer::Requeue(id) => {
                    if let Some(CcbState::Backoff(d)) = self.ccbs.get(&id).map(|e| e.state) {
                        let bus = self.devices[d.0].addr.bus.0 as usize;
                        if self.buses[bus].simq.frozen.frozen() {
                            // Frozen meanwhile: wait for the release like any parked CCB.
                            self.buses[bus].parked.push(id);
                            self.ccbs.get_mut(&id).expect("entry").state = CcbState::Parked(d);
                        } else {
                            self.requeue_held(id, d);
                        }
                    }
                }
            }
        }
        did
    }

    fn release_dev_internal(&mut self, d: DeviceId, why: &str) {
        if let Err(e) = self.devices[d.0].devq.release(1) {
            self.note(XptLog::ReleaseUnderflow {
                what: format!("{why}: {e}"),
            });
        }
    }

    /// The earliest time something is due (a timer or a SIM deadline).
    pub fn next_deadline(&self) -> Option<CamTime> {
        let t = self.timers.keys().next().map(|k| k.0);
        let s = self
            .buses
            .iter()
            .filter_map(|b| b.sim.as_ref().and_then(|s| s.next_deadline()))
            .min();
        match (t, s) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ---------------------------------------------------------------- done processing

    /// `xpt_done_process` for one CCB.
    fn process_done(&mut self, mut ccb: Box<Ccb>) {
        let id = ccb.h.id;
        let Some(entry) = self.ccbs.remove(&id) else {
            self.note(XptLog::SpuriousDone { id });
            return;
        };
        if let CcbBody::PathInq(pi) = &ccb.body {
            // Remember the SIM's limits (maxio for splitting, max_lun for LUN scans).
            if ccb.h.status.is_ok() {
                if let Some(b) = ccb
                    .h
                    .path
                    .bus_id()
                    .and_then(|b| self.buses.get_mut(b.0 as usize))
                {
                    b.pathinq = Some(pi.clone());
                }
            }
        }
        if entry.state == CcbState::AtSim {
            let d = entry.dev.expect("dev-queued CCB has a device");
            let bus = self.devices[d.0].addr.bus;
            let b = &mut self.buses[bus.0 as usize];
            b.simq.active = b.simq.active.saturating_sub(1);
            let now = self.clock.now();
            let dv = &mut self.devices[d.0];
            dv.devq.active = dv.devq.active.saturating_sub(1);
            if ccb.h.tag_action == TagAction::Ordered {
                dv.devq.ordered_active = dv.devq.ordered_active.saturating_sub(1);
            }
            dv.stats.end(dv.devq.active, now);
            let st = ccb.h.status;
            if let Some(io) = ccb.scsiio() {
                // A CCB the SIM turned back unissued did no I/O.
                if st.status() != CamStatus::RequeueReq || st.has(CAM_SIM_QUEUED) {
                    use crate::devstat::StatDir;
                    let (dir, len) = match &io.data {
                        crate::ccb::DataXfer::In(b) => (StatDir::In, b.len()),
                        crate::ccb::DataXfer::Out(b) => (StatDir::Out, b.len()),
                        crate::ccb::DataXfer::None => (StatDir::None, 0),
                    };
                    // A failed command's residual is not trustworthy: count no bytes.
                    let bytes = if st.is_ok() {
                        len.saturating_sub(io.resid as usize) as u64
                    } else {
                        0
                    };
                    let lat = ccb.h.dispatched_at.map_or(Duration::ZERO, |t| now.since(t));
                    dv.stats.record(dir, bytes, !st.is_ok(), lat);
                }
            }
            if dv.rel_on_complete > 0 {
                dv.rel_on_complete -= 1;
                self.release_dev_internal(d, "RELSIM after command complete");
            }
            let dv = &mut self.devices[d.0];
            if dv.devq.active == 0 && dv.rel_on_qempty > 0 {
                dv.rel_on_qempty -= 1;
                self.release_dev_internal(d, "RELSIM after queue empty");
            }
        }
        let st = ccb.h.status;
        if st.has(CAM_RELEASE_SIMQ) {
            ccb.h.status.clear(CAM_RELEASE_SIMQ);
            if let Some(bus) = ccb
                .h
                .path
                .bus_id()
                .filter(|b| (b.0 as usize) < self.buses.len())
            {
                if let Err(e) = self.buses[bus.0 as usize].simq.frozen.release(1) {
                    self.note(XptLog::ReleaseUnderflow {
                        what: format!("CAM_RELEASE_SIMQ: {e}"),
                    });
                }
            }
        }
        if let Some(d) = entry.dev {
            if st.has(CAM_DEV_QFRZN) && ccb.h.dev_qfrzdis {
                ccb.h.status.clear(CAM_DEV_QFRZN);
                self.release_dev_internal(d, "CAM_DEV_QFRZDIS");
            }
            // Seed 001: a command that never reached the adapter may be retried below its
            // owner, and the retry is logged. One that did reach it goes back to the owner.
            if st.status() == CamStatus::RequeueReq
                && !st.has(CAM_SIM_QUEUED)
                && !self.devices[d.0].lost
                && self.requeues.get(&id).copied().unwrap_or(0) < XPT_REQUEUE_LIMIT
            {
                let n = {
                    let c = self.requeues.entry(id).or_default();
                    *c += 1;
                    *c
                };
                let addr = self.devices[d.0].addr;
                self.note(XptLog::RequeuedNeverIssued { id, addr });
                let frz = ccb.h.status.has(CAM_DEV_QFRZN);
                if ccb.h.tag_action == TagAction::Ordered {
                    // Still a barrier while held: nothing later overtakes it meanwhile.
                    self.devices[d.0].devq.ordered_pending.insert(entry.seq);
                }
                ccb.h.status = CamStatus::ReqInprog.into();
                let bus = addr.bus.0 as usize;
                // Another freeze of the device (not this CCB's own) that holds its class.
                let q = &self.devices[d.0].devq;
                let own = frz as u32;
                let held_by_devq = match ccb.h.class {
                    DispatchClass::Normal => q.frozen.get() > own,
                    DispatchClass::Priority => q.err_frozen > own,
                    DispatchClass::Recovery => false,
                };
                let state = if self.buses[bus].simq.frozen.frozen() {
                    // The SIM froze its queue: the release is the signal to try again.
                    self.buses[bus].parked.push(id);
                    CcbState::Parked(d)
                } else if held_by_devq {
                    // The device queue is frozen (the SIM chapter's "freeze the devq,
                    // requeue the rest"): back in its place now, the release lets it go.
                    let seq = entry.seq;
                    let key = self.enqueue(d, &ccb, seq);
                    CcbState::Queued(d, key)
                } else {
                    // No freeze, so no signal: pace the retries on the clock instead.
                    let at = self.clock.now().after(requeue_backoff(n));
                    self.add_timer(at, Timer::Requeue(id));
                    CcbState::Backoff(d)
                };
                self.ccbs.insert(
                    id,
                    CcbEntry {
                        state,
                        ccb: Some(ccb),
                        dev: Some(d),
                        completion: entry.completion,
                        seq: entry.seq,
                    },
                );
                if frz {
                    self.release_dev_internal(d, "requeue of unissued CCB");
                }
                return;
            }
            // Seed 001: after a failure, flush what is queued until the owner resumes.
            let dv = &self.devices[d.0];
            if dv.flush_policy
                && !dv.flushing
                && entry.state == CcbState::AtSim
                && !matches!(
                    st.status(),
                    CamStatus::ReqCmp | CamStatus::RequeueReq | CamStatus::ReqTermio
                )
            {
                self.devices[d.0].flushing = true;
                let keys: Vec<(QKey, CcbId)> = self.devices[d.0]
                    .devq
                    .pending
                    .iter()
                    .map(|(k, v)| (*k, *v))
                    .collect();
                for (k, vid) in keys {
                    self.dequeue(d, k);
                    if let Some(e) = self.ccbs.get_mut(&vid) {
                        e.state = CcbState::Immediate;
                        if let Some(c) = e.ccb.take() {
                            self.note(XptLog::Flushed { id: vid });
                            self.finish_now(*c, CamStatus::ReqTermio);
                        }
                    }
                }
            }
        }
        self.stats.completed += 1;
        self.requeues.remove(&id);
        match entry.completion {
            Completion::Queue => self.completed.push(*ccb),
            Completion::Callback(f) => f(self, *ccb),
            Completion::Periph(p) => self.with_periph(p, |per, xpt| per.done(xpt, *ccb)),
            Completion::Probe(bus) => {
                if let Some(mut pr) = self.probes.remove(&bus) {
                    let finished = pr.done(self, *ccb);
                    if !finished {
                        self.probes.insert(bus, pr);
                    } else {
                        self.scan_finished(bus);
                    }
                }
            }
        }
    }

    pub(crate) fn with_periph(&mut self, p: PeriphId, f: impl FnOnce(&mut Periph, &mut Xpt)) {
        if let Some(mut per) = self.periphs.get_mut(p.0).and_then(Option::take) {
            f(&mut per, self);
            self.periphs[p.0] = Some(per);
        }
    }

    // ---------------------------------------------------------------- dispatch

    fn dispatch_bus(&mut self, bus: BusId) -> bool {
        let mut did = false;
        loop {
            let b = &self.buses[bus.0 as usize];
            if !b.simq.has_room() || b.devices.is_empty() {
                break;
            }
            let simq_frozen = b.simq.frozen.frozen();
            let n = b.devices.len();
            let mut pick = None;
            for i in 0..n {
                let d = b.devices[(b.rr + i) % n];
                if let Some((k, id)) = self.devices[d.0].devq.peek_dispatchable(simq_frozen) {
                    pick = Some((i, d, k, id));
                    break;
                }
            }
            let Some((i, d, k, id)) = pick else { break };
            let b = &mut self.buses[bus.0 as usize];
            b.rr = (b.rr + i + 1) % n;
            b.simq.active += 1;
            self.dequeue(d, k);
            let now = self.clock.now();
            let dv = &mut self.devices[d.0];
            dv.stats.start(dv.devq.active, now);
            dv.devq.active += 1;
            if k.0 == DispatchClass::Normal && (dv.devq.frozen.frozen() || simq_frozen) {
                self.stats.frozen_violations += 1;
            }
            if k.0 == DispatchClass::Priority && dv.devq.error_frozen() {
                self.stats.frozen_violations += 1;
            }
            let e = self.ccbs.get_mut(&id).expect("queued CCB has an entry");
            e.state = CcbState::AtSim;
            let mut ccb = e.ccb.take().expect("queued CCB is held");
            if ccb.h.tag_action == TagAction::Ordered {
                self.devices[d.0].devq.ordered_active += 1;
            }
            ccb.h.dispatched_at = Some(now);
            self.stats.dispatched += 1;
            did = true;
            self.lun_in_cdb(d, &mut ccb);
            self.call_sim(bus, |sim, ctx| sim.action(*ccb, ctx));
        }
        did
    }

    /// SCSI-1 and SCSI-2 devices read the LUN from CDB byte 1, bits 7-5, where no IDENTIFY
    /// told them (SCSI-2 7.2.2): a device that ignores ATN never takes one. Set it, as
    /// Linux's `lun_in_cdb`, for LUNs 1-7 of a device whose INQUIRY version is 1 or 2 (its
    /// own, or while it is probed its LUN 0's); later standards use those bits otherwise.
    /// Only the command groups SCSI-2 defines with that field (0, 1, 2 and 5): vendor
    /// groups 6 and 7 lay out byte 1 as the vendor likes.
    fn lun_in_cdb(&self, d: DeviceId, ccb: &mut Ccb) {
        let dev = &self.devices[d.0];
        let addr = dev.addr;
        if !(1..=7).contains(&addr.lun) {
            return;
        }
        let version = dev.inq.as_ref().map(|i| i.version).or_else(|| {
            let lun0 = DevAddr::new(addr.bus, addr.target, 0);
            let d0 = self.dev_index.get(&lun0)?;
            self.devices[d0.0].inq.as_ref().map(|i| i.version)
        });
        if !matches!(version, Some(1 | 2)) {
            return;
        }
        let Some(io) = ccb.scsiio_mut() else { return };
        let b = io.cdb.bytes();
        let defined = b.first().is_some_and(|op| matches!(op >> 5, 0 | 1 | 2 | 5));
        if b.len() < 2 || b.len() > 12 || !defined {
            return;
        }
        let mut v = b.to_vec();
        v[1] = (v[1] & 0x1F) | ((addr.lun as u8) << 5);
        io.cdb = match io.cdb {
            Cdb::Inline { .. } => Cdb::new(&v),
            Cdb::Ref(_) => Cdb::by_ref(v.into()),
        }
        .expect("same length");
    }

    // ---------------------------------------------------------------- event loop

    /// One turn of the event loop: timers, SIM polls, done queue, async events, gauntlets,
    /// dispatch. Returns whether anything happened.
    pub fn step(&mut self) -> bool {
        let mut did = self.fire_timers();
        for b in 0..self.buses.len() {
            let bus = BusId(b as u32);
            let before = self.done_q.len() + self.async_q.len();
            self.call_sim(bus, |sim, ctx| sim.poll(ctx));
            did |= self.done_q.len() + self.async_q.len() != before;
        }
        while let Some(c) = self.done_q.pop_front() {
            did = true;
            self.process_done(c);
        }
        while let Some(ev) = self.async_q.pop_front() {
            did = true;
            self.deliver_async(ev);
        }
        for b in 0..self.buses.len() {
            if let Some(job) = self.buses[b].gauntlet.start_next() {
                did = true;
                self.with_periph(job.periph, |per, xpt| per.gauntlet_start(xpt, job));
            }
        }
        for b in 0..self.buses.len() {
            did |= self.unpark(b);
            did |= self.dispatch_bus(BusId(b as u32));
        }
        did
    }

    /// Put CCBs turned back by the SIM back into their device queues once the SIM queue
    /// is released; flushed or lost devices complete them instead.
    fn unpark(&mut self, b: usize) -> bool {
        if self.buses[b].parked.is_empty() || self.buses[b].simq.frozen.frozen() {
            return false;
        }
        for id in std::mem::take(&mut self.buses[b].parked) {
            let Some(CcbState::Parked(d)) = self.ccbs.get(&id).map(|e| e.state) else {
                continue;
            };
            self.requeue_held(id, d);
        }
        true
    }

    /// A held (parked or backed-off) CCB goes back to its device queue, in its old place;
    /// flushed or lost devices complete it instead.
    fn requeue_held(&mut self, id: CcbId, d: DeviceId) {
        let (flushing, lost) = (self.devices[d.0].flushing, self.devices[d.0].lost);
        if flushing || lost {
            self.drop_barrier(d, id);
        }
        let e = self.ccbs.get_mut(&id).expect("held entry");
        if flushing || lost {
            e.state = CcbState::Immediate;
            let c = e.ccb.take().expect("held CCB is held");
            if flushing {
                self.note(XptLog::Flushed { id });
            }
            self.finish_now(
                *c,
                if lost {
                    CamStatus::DevNotThere
                } else {
                    CamStatus::ReqTermio
                },
            );
        } else {
            let seq = e.seq;
            let c = e.ccb.take().expect("held CCB is held");
            let key = self.enqueue(d, &c, seq);
            let e = self.ccbs.get_mut(&id).expect("held entry");
            e.ccb = Some(c);
            e.state = CcbState::Queued(d, key);
        }
    }

    /// Step until nothing is left to do now (time does not move).
    pub fn run_until_idle(&mut self) {
        while self.step() {}
    }

    /// Step, and wait for the clock whenever idle with a deadline pending, until nothing is
    /// pending at all or `max_waits` waits were made. Returns the number of waits.
    pub fn run_until_quiescent(&mut self, max_waits: usize) -> usize {
        let mut waits = 0;
        loop {
            self.run_until_idle();
            match self.next_deadline() {
                Some(t) if waits < max_waits => {
                    waits += 1;
                    self.clock.wait_until(t);
                }
                _ => return waits,
            }
        }
    }

    // ---------------------------------------------------------------- gauntlet (seed 003)

    /// Enter the bus's recovery gauntlet for `job`; I/O to the device is suspended from now
    /// until `gauntlet_end`. The periph's `gauntlet_start` runs when the job's turn comes.
    pub(crate) fn gauntlet_enter(&mut self, job: GauntletJob) -> Result<(), XptError> {
        let d = self.device_id(job.addr)?;
        self.devices[d.0].devq.freeze_err(1);
        self.buses[job.addr.bus.0 as usize]
            .gauntlet
            .queue
            .push_back(job);
        Ok(())
    }

    /// End the running gauntlet job (`sdi_end_gauntlet`): resume I/O to the device.
    pub(crate) fn gauntlet_end(&mut self, periph: PeriphId, addr: DevAddr) -> Result<(), XptError> {
        self.bus_mut(addr.bus)?.gauntlet.end(periph, addr)?;
        let d = self.find_device(addr)?;
        self.release_dev_internal(d, "gauntlet end");
        Ok(())
    }

    // ---------------------------------------------------------------- scan / devices

    /// Start a bus scan (XPT_SCAN_BUS): PATH_INQ, then probe every target.
    pub fn scan_bus(&mut self, bus: BusId) -> Result<(), XptError> {
        self.bus_mut(bus)?;
        if self.probes.contains_key(&bus) {
            return Err(XptError::ScanBusy);
        }
        let pr = Probe::start(self, bus);
        self.probes.insert(bus, pr);
        Ok(())
    }

    /// Whether a scan runs on `bus`.
    pub fn scan_in_progress(&self, bus: BusId) -> bool {
        self.probes.contains_key(&bus)
    }

    /// Known devices with what the probe learned (for `devlist`).
    pub fn devices(&self) -> Vec<DeviceInfo> {
        self.devices
            .iter()
            .filter(|d| d.inq.is_some())
            .map(|d| DeviceInfo {
                addr: d.addr,
                inquiry: d.inq.clone(),
                serial: d.serial.clone(),
                tran: d.tran,
                periphs: d.periphs.clone(),
                lost: d.lost,
            })
            .collect()
    }

    pub(crate) fn device_mut(&mut self, addr: DevAddr) -> Option<&mut Device> {
        self.dev_index.get(&addr).map(|d| &mut self.devices[d.0])
    }

    // ---------------------------------------------------------------- periph results

    /// Record a periph request's result; a second result for one request is counted.
    pub(crate) fn complete_io(&mut self, io: IoId, r: IoResult) {
        if !self.live_ios.remove(&io) {
            self.stats.duplicate_io_results += 1;
            return;
        }
        match self.splits.child_done(io, r) {
            // A part of a split request: the whole completes with its last part.
            Ok(Some((parent, whole))) => self.complete_io(parent, whole),
            Ok(None) => {}
            Err(r) => {
                self.io_results.insert(io, r);
            }
        }
    }

    /// A request split into `n` parts: the caller's identity and one per part, in order.
    pub(crate) fn new_split(&mut self, n: usize) -> (IoId, Vec<IoId>) {
        let parent = self.new_io();
        let kids: Vec<IoId> = (0..n).map(|_| self.new_io()).collect();
        self.splits.add(parent, &kids);
        (parent, kids)
    }

    /// A new periph request identity.
    pub(crate) fn new_io(&mut self) -> IoId {
        let io = IoId(self.next_io);
        self.next_io += 1;
        self.live_ios.insert(io);
        io
    }

    /// Forget a request that completes without a caller-visible result.
    pub(crate) fn retire_io(&mut self, io: IoId) {
        self.live_ios.remove(&io);
    }

    /// Take a periph request's result, if it has completed.
    pub fn take_io(&mut self, io: IoId) -> Option<IoResult> {
        self.io_results.remove(&io)
    }

    /// Run the loop (waiting on the clock as needed) until `io` completes.
    pub fn wait_io(&mut self, io: IoId) -> Option<IoResult> {
        for _ in 0..100_000 {
            if let Some(r) = self.io_results.remove(&io) {
                return Some(r);
            }
            if !self.step() {
                match self.next_deadline() {
                    Some(t) => self.clock.wait_until(t),
                    None => return self.io_results.remove(&io),
                }
            }
        }
        None
    }

    /// Convenience: the SIM's PATH_INQ answer, run synchronously through the loop.
    pub fn path_inq(&mut self, bus: BusId) -> Option<crate::ccb::PathInq> {
        let ccb = Ccb::new(Path::bus(bus), CcbBody::PathInq(Default::default()));
        let id = self.submit(ccb, Completion::Queue);
        self.run_until_idle();
        let done = self.take_completed();
        let mut out = None;
        for c in done {
            if c.h.id == id {
                if let CcbBody::PathInq(p) = c.body {
                    if c.h.status.is_ok() {
                        out = Some(p);
                    }
                }
            } else {
                self.completed.push(c);
            }
        }
        out
    }

    pub(crate) fn alloc_periph(&mut self, p: Periph) -> PeriphId {
        self.periphs.push(Some(p));
        PeriphId(self.periphs.len() - 1)
    }
}
