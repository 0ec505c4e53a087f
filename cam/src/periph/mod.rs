//! Peripheral drivers (FreeBSD cam_periph.c): the common request/retry/recovery core and
//! the `da` (disk), `sa` (tape) and `pass` (pass-through) drivers on top of it.

pub mod cd;
pub mod da;
pub mod pass;
pub mod sa;
pub(crate) mod split;

use crate::async_event::{AsyncArg, AsyncEvent, AC_LOST_DEVICE, AC_UNIT_ATTENTION};
use crate::ccb::{Ccb, CcbBody, CcbId, Cdb, DataBuf, DataXfer, DispatchClass, TagAction};
use crate::gauntlet::GauntletJob;
use crate::path::DevAddr;
use crate::recovery::{
    ccb_sense, cleanly_off, default_errno, periph_error, ErrorAction, ErrorCtx, Recovery,
    BYSTANDER_LIMIT,
};
use crate::scsi_cmd;
use crate::sense::Sense;
use crate::status::{BufStatus, CamStatus, CcbStatus, Errno, LayeredStatus, CAM_DEV_QFRZN};
use crate::xpt::{Completion, Xpt};
use std::collections::HashMap;
use std::time::Duration;

/// Index of a periph instance.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeriphId(pub usize);

/// Identity of one periph request (which may take several CCBs: retries, recovery).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IoId(pub u64);

/// The outcome of a periph request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoResult {
    /// Data read (truncated to what was transferred).
    pub data: Vec<u8>,
    /// Layered status (seed 004).
    pub status: LayeredStatus,
    /// Decoded sense of the last CCB, if any.
    pub sense: Option<Sense>,
}

impl IoResult {
    /// Whether the request succeeded at the errno layer.
    pub fn is_ok(&self) -> bool {
        self.status.errno == Errno::Ok
    }
}

/// Errors starting a periph request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PeriphError {
    /// The handle does not name a periph of this kind.
    #[error("no such periph")]
    NoPeriph,
    /// The periph was invalidated (device lost).
    #[error("periph invalidated")]
    Invalid,
    /// Capacity unknown: run read_capacity first.
    #[error("capacity unknown")]
    NoCapacity,
    /// Buffer or count does not fit the device's block size or limits.
    #[error("bad length")]
    BadLength,
    /// CDB length is not 1..=255.
    #[error("bad CDB")]
    BadCdb,
}

/// Kind of periph.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PeriphKind {
    /// Direct access (disk).
    Da,
    /// Sequential access (tape).
    Sa,
    /// Pass-through.
    Pass,
    /// CD-ROM.
    Cd,
}

impl PeriphKind {
    /// FreeBSD driver name.
    pub fn name(self) -> &'static str {
        match self {
            PeriphKind::Da => "da",
            PeriphKind::Sa => "sa",
            PeriphKind::Pass => "pass",
            PeriphKind::Cd => "cd",
        }
    }
}

/// A periph instance.
pub(crate) enum Periph {
    Da(da::Da),
    Sa(sa::Sa),
    Pass(pass::Pass),
    Cd(cd::Cd),
}

impl Periph {
    pub(crate) fn kind(&self) -> PeriphKind {
        match self {
            Periph::Da(_) => PeriphKind::Da,
            Periph::Sa(_) => PeriphKind::Sa,
            Periph::Pass(_) => PeriphKind::Pass,
            Periph::Cd(_) => PeriphKind::Cd,
        }
    }
    pub(crate) fn core(&mut self) -> &mut PeriphCore {
        match self {
            Periph::Da(p) => &mut p.core,
            Periph::Sa(p) => &mut p.core,
            Periph::Pass(p) => &mut p.core,
            Periph::Cd(p) => &mut p.core,
        }
    }
    pub(crate) fn done(&mut self, xpt: &mut Xpt, ccb: Ccb) {
        match self {
            Periph::Da(p) => p.done(xpt, ccb),
            Periph::Sa(p) => p.done(xpt, ccb),
            Periph::Pass(p) => p.done(xpt, ccb),
            Periph::Cd(p) => p.done(xpt, ccb),
        }
    }
    pub(crate) fn finish_all(&mut self, xpt: &mut Xpt, outs: Vec<Outcome>) {
        match self {
            Periph::Da(p) => p.finish_all(xpt, outs),
            Periph::Sa(p) => p.finish_all(xpt, outs),
            Periph::Pass(p) => p.finish_all(xpt, outs),
            Periph::Cd(p) => p.finish_all(xpt, outs),
        }
    }
    pub(crate) fn wake(&mut self, xpt: &mut Xpt, token: u64) {
        let outs = self.core().wake(xpt, token);
        self.finish_all(xpt, outs);
    }
    pub(crate) fn gauntlet_start(&mut self, xpt: &mut Xpt, job: GauntletJob) {
        let outs = self.core().gauntlet_start(xpt, job);
        self.finish_all(xpt, outs);
    }
    /// `cam_periph_invalidate`: no new requests; outstanding ones fail as they return.
    pub(crate) fn invalidate(&mut self, _xpt: &mut Xpt) {
        self.core().invalid = true;
    }
}

/// Data phase of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    None,
    In(usize),
    Out(Vec<u8>),
}

/// One periph request: enough to rebuild its CCB for a retry.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub io: IoId,
    pub cdb: Vec<u8>,
    pub dir: Dir,
    pub timeout: Duration,
    pub retries_left: u32,
    pub bystander_left: u32,
    pub sf: u32,
    /// Pass without recovery: hand back whatever happens.
    pub raw: bool,
    /// Driver-specific operation tag.
    pub op: u8,
    /// Driver-specific argument (e.g. block count).
    pub arg: u64,
    pub resume: bool,
    pub class: DispatchClass,
}

impl Request {
    pub fn new(io: IoId, cdb: Vec<u8>, dir: Dir, op: u8) -> Self {
        Request {
            io,
            cdb,
            dir,
            timeout: Duration::from_secs(60),
            retries_left: 4,
            bystander_left: BYSTANDER_LIMIT,
            sf: crate::recovery::SF_RETRY_UA,
            raw: false,
            op,
            arg: 0,
            resume: false,
            class: DispatchClass::Normal,
        }
    }
}

/// How a request ended.
pub(crate) enum Outcome {
    Success(Request, Box<Ccb>),
    Failed(Request, Option<Box<Ccb>>, Errno),
}

/// A driver's override of the generic decision (e.g. da's 6-byte fallback).
pub(crate) enum Override {
    /// Retry with this CDB, burning nothing.
    RetryWith(Vec<u8>),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum RecStage {
    Queued,
    Bdr(CcbId),
    /// A BUS DEVICE RESET after the recovery proper, for victims that joined it while
    /// possibly still on the target (seed 003), before any of them is retried.
    FinalBdr(CcbId),
    StartUnit(CcbId),
    TurWaiting(u64),
    Tur(CcbId),
}

/// One failed command waiting for the periph's recovery, with its own facts.
struct Victim {
    req: Request,
    /// What its own error called for.
    kind: Recovery,
    /// Whether it is known to be cleanly off the adapter and target (seed 003).
    cleanly_off: bool,
}

/// The periph's one recovery in progress (one recovery CCB at a time).
struct RecoveryState {
    kind: Recovery,
    stage: RecStage,
    reqs: Vec<Victim>,
    tur_tries: u32,
    /// A victim that may still be on the target joined after the last BUS DEVICE RESET
    /// (or none was sent): it must not be retried before another one.
    uncleared: bool,
}

/// One failed request waiting in a periph's recovery, as `Xpt::periph_recovery` shows it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct VictimInfo {
    /// The request.
    pub io: IoId,
    /// What its own error called for.
    pub kind: Recovery,
    /// Whether it was known to be cleanly off the adapter when it failed.
    pub cleanly_off: bool,
}

/// A periph's recovery in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryInfo {
    /// The recovery being run (that of the first victim).
    pub kind: Recovery,
    /// The victims, first one first, each with its own facts.
    pub victims: Vec<VictimInfo>,
    /// A victim not cleanly off joined since the last BUS DEVICE RESET: another is due
    /// before any retry.
    pub reset_due: bool,
}

/// Timeout of the START STOP UNIT a recovery sends: FreeBSD's cam_periph_error uses 50 s,
/// with IMMED clear, so the command ends when the unit is ready (long spin-ups).
pub const START_UNIT_TIMEOUT: Duration = Duration::from_secs(50);

/// TEST UNIT READY polls before a "becoming ready" unit is declared failed.
const TUR_WAIT_TRIES: u32 = 10;
/// Pause between TEST UNIT READY polls.
const TUR_WAIT: Duration = Duration::from_secs(1);

/// State common to every periph.
pub(crate) struct PeriphCore {
    pub id: PeriphId,
    pub addr: DevAddr,
    pub invalid: bool,
    pub tagged: bool,
    /// This core belongs to a pass periph (sets CAM_PASS_ERR_RECOVER when recovering).
    pub pass: bool,
    /// Removable medium (START UNIT recovery sets LoEj, as FreeBSD).
    pub removable: bool,
    inflight: HashMap<CcbId, Request>,
    recovery: Option<RecoveryState>,
    next_token: u64,
}

impl PeriphCore {
    pub fn new(id: PeriphId, addr: DevAddr) -> Self {
        PeriphCore {
            id,
            addr,
            invalid: false,
            tagged: false,
            pass: false,
            removable: false,
            inflight: HashMap::new(),
            recovery: None,
            next_token: 0,
        }
    }

    pub fn new_io(xpt: &mut Xpt) -> IoId {
        xpt.new_io()
    }

    pub fn peek(&self, id: CcbId) -> Option<&Request> {
        self.inflight.get(&id)
    }

    fn build(&self, req: &Request) -> Ccb {
        let data = match &req.dir {
            Dir::None => DataXfer::None,
            Dir::In(n) => DataXfer::In(DataBuf::Single(vec![0; *n])),
            Dir::Out(v) => DataXfer::Out(DataBuf::Single(v.clone())),
        };
        let cdb = if req.cdb.len() <= 16 {
            Cdb::new(&req.cdb)
        } else {
            Cdb::by_ref(req.cdb.clone().into())
        }
        .expect("request CDB length validated at creation");
        let mut c = Ccb::scsi_io(self.addr.path(), cdb, data, req.timeout);
        c.h.class = req.class;
        c.h.resume = req.resume;
        c.h.retry_count = req.retries_left;
        c.h.pass_err_recover = !req.raw && self.pass;
        c.h.periph_priv[0] = req.io.0;
        if self.tagged {
            c.h.tag_action = TagAction::Simple;
        }
        c
    }

    /// Send (or resend) a request.
    pub fn submit(&mut self, xpt: &mut Xpt, req: Request) -> CcbId {
        let ccb = self.build(&req);
        let id = xpt.submit(ccb, Completion::Periph(self.id));
        self.inflight.insert(id, req);
        id
    }

    fn release_if(&self, xpt: &mut Xpt, qfrzn: bool) {
        if qfrzn {
            // The SIM froze the devq for us to look at the error; we have.
            let _ = xpt.release_devq(self.addr, 1);
        }
    }

    fn send_recovery(&mut self, xpt: &mut Xpt, body: CcbBody, cdb: Option<&[u8]>) -> CcbId {
        let mut c = match cdb {
            Some(cdb) => Ccb::scsi_io(
                self.addr.path(),
                Cdb::new(cdb).expect("fixed recovery CDB"),
                DataXfer::None,
                if cdb.first() == Some(&scsi_defs::opcode::START_STOP_UNIT) {
                    START_UNIT_TIMEOUT
                } else {
                    Duration::from_secs(30)
                },
            ),
            None => Ccb::new(self.addr.path(), body),
        };
        c.h.class = DispatchClass::Recovery;
        c.h.priority = crate::ccb::priority::CAM_PRIORITY_OOB;
        // Seed 001: the first command of the owner's recovery after a failure carries
        // the resume flag, or the XPT's flush would take the recovery itself.
        c.h.resume = xpt.is_flushing(self.addr);
        xpt.submit(c, Completion::Periph(self.id))
    }

    /// Generic done handling (`cam_periph_error` + retry), returning finished requests.
    pub fn handle_done(&mut self, xpt: &mut Xpt, ccb: Ccb, over: Option<Override>) -> Vec<Outcome> {
        let qfrzn = ccb.h.status.has(CAM_DEV_QFRZN);
        if self.is_recovery_ccb(ccb.h.id) {
            self.release_if(xpt, qfrzn);
            return self.recovery_done(xpt, ccb);
        }
        let Some(mut req) = self.inflight.remove(&ccb.h.id) else {
            self.release_if(xpt, qfrzn);
            return Vec::new();
        };
        if req.raw {
            self.release_if(xpt, qfrzn);
            let ok = ccb.h.status.is_ok();
            let e = default_errno(&ccb);
            return vec![if ok {
                Outcome::Success(req, Box::new(ccb))
            } else {
                Outcome::Failed(req, Some(Box::new(ccb)), e)
            }];
        }
        if let Some(Override::RetryWith(cdb)) = over {
            req.cdb = cdb;
            self.submit(xpt, req);
            self.release_if(xpt, qfrzn);
            return Vec::new();
        }
        if let Some(s) = ccb_sense(&ccb) {
            if s.key == scsi_defs::sense_key::UNIT_ATTENTION {
                xpt.post_async(AsyncEvent {
                    code: AC_UNIT_ATTENTION,
                    path: self.addr.path(),
                    arg: AsyncArg::UnitAttention {
                        asc: s.asc,
                        ascq: s.ascq,
                    },
                });
            }
        }
        let ecx = ErrorCtx {
            retries_left: req.retries_left,
            bystander_left: req.bystander_left,
            sf: req.sf,
            invalid: self.invalid,
        };
        match periph_error(&ccb, &ecx) {
            ErrorAction::Done => {
                self.release_if(xpt, qfrzn);
                vec![Outcome::Success(req, Box::new(ccb))]
            }
            ErrorAction::Retry {
                delay,
                burn,
                reduce_openings,
            } => {
                if burn {
                    req.retries_left -= 1;
                } else {
                    req.bystander_left -= 1;
                }
                req.resume = false;
                if reduce_openings {
                    // QUEUE FULL: the device holds fewer than we thought; FreeBSD lowers
                    // openings to what is still active.
                    let active = xpt.dev_active(self.addr).max(1);
                    let _ = xpt.set_dev_openings(self.addr, active);
                }
                self.submit(xpt, req);
                match delay {
                    Some(d) => {
                        // Hold the queue (keep the SIM's freeze, or take one) and let a
                        // timer release it, as FreeBSD's RELSIM_RELEASE_AFTER_TIMEOUT.
                        if !qfrzn {
                            let _ = xpt.freeze_devq(self.addr, 1);
                        }
                        xpt.release_devq_after(self.addr, d);
                    }
                    None => self.release_if(xpt, qfrzn),
                }
                Vec::new()
            }
            ErrorAction::Recover(kind) => {
                req.retries_left -= 1;
                req.resume = false;
                let off = cleanly_off(ccb.h.status.status());
                let victim = Victim {
                    req,
                    kind,
                    cleanly_off: off,
                };
                match &mut self.recovery {
                    // One recovery at a time: later victims wait for its verdict, each
                    // keeping its own facts (a timed-out one may still be on the target).
                    Some(r) => {
                        r.uncleared |= !victim.cleanly_off;
                        r.reqs.push(victim);
                    }
                    None => {
                        self.recovery = Some(RecoveryState {
                            kind,
                            stage: RecStage::Queued,
                            reqs: vec![victim],
                            tur_tries: 0,
                            uncleared: !off,
                        });
                        let _ = xpt.gauntlet_enter(GauntletJob {
                            periph: self.id,
                            addr: self.addr,
                            cleanly_off: off,
                        });
                    }
                }
                self.release_if(xpt, qfrzn);
                Vec::new()
            }
            ErrorAction::Fail(e) => {
                self.release_if(xpt, qfrzn);
                vec![Outcome::Failed(req, Some(Box::new(ccb)), e)]
            }
            ErrorAction::LostDevice => {
                self.release_if(xpt, qfrzn);
                xpt.post_async(AsyncEvent {
                    code: AC_LOST_DEVICE,
                    path: self.addr.path(),
                    arg: AsyncArg::None,
                });
                vec![Outcome::Failed(req, Some(Box::new(ccb)), Errno::Enxio)]
            }
        }
    }

    fn is_recovery_ccb(&self, id: CcbId) -> bool {
        matches!(self.recovery.as_ref().map(|r| r.stage),
            Some(RecStage::Bdr(x) | RecStage::FinalBdr(x) | RecStage::StartUnit(x)
                | RecStage::Tur(x)) if x == id)
    }

    /// Our turn in the gauntlet: run the recovery routine.
    pub fn gauntlet_start(&mut self, xpt: &mut Xpt, job: GauntletJob) -> Vec<Outcome> {
        let Some(r) = &self.recovery else {
            let _ = xpt.gauntlet_end(self.id, self.addr);
            return Vec::new();
        };
        // Seed 003: a command not cleanly off the adapter must not be retried at once; a
        // BUS DEVICE RESET clears it from the target first.
        if !job.cleanly_off || r.kind == Recovery::Reset || r.uncleared {
            let id = self.send_recovery(xpt, CcbBody::ResetDev, None);
            self.set_stage(RecStage::Bdr(id));
            if let Some(r) = &mut self.recovery {
                r.uncleared = false;
            }
            return Vec::new();
        }
        self.continue_recovery(xpt)
    }

    fn set_stage(&mut self, s: RecStage) {
        if let Some(r) = &mut self.recovery {
            r.stage = s;
        }
    }

    fn continue_recovery(&mut self, xpt: &mut Xpt) -> Vec<Outcome> {
        let Some(kind) = self.recovery.as_ref().map(|r| r.kind) else {
            return Vec::new();
        };
        match kind {
            Recovery::StartUnit => {
                let cdb = scsi_cmd::start_stop_unit(true, self.removable, false);
                let id = self.send_recovery(xpt, CcbBody::Noop, Some(&cdb));
                self.set_stage(RecStage::StartUnit(id));
                Vec::new()
            }
            Recovery::TurWait => {
                self.next_token += 1;
                let tok = self.next_token;
                self.set_stage(RecStage::TurWaiting(tok));
                let at = xpt.now().after(TUR_WAIT);
                xpt.periph_wake_at(at, self.id, tok);
                Vec::new()
            }
            Recovery::Reset => self.finish_recovery(xpt, true),
        }
    }

    /// Timer callback.
    pub fn wake(&mut self, xpt: &mut Xpt, token: u64) -> Vec<Outcome> {
        if self.recovery.as_ref().map(|r| r.stage) == Some(RecStage::TurWaiting(token)) {
            let id = self.send_recovery(xpt, CcbBody::Noop, Some(&scsi_cmd::tur()));
            self.set_stage(RecStage::Tur(id));
        }
        Vec::new()
    }

    fn recovery_done(&mut self, xpt: &mut Xpt, ccb: Ccb) -> Vec<Outcome> {
        let Some(stage) = self.recovery.as_ref().map(|r| r.stage) else {
            return Vec::new();
        };
        let ok = ccb.h.status.is_ok();
        match stage {
            // Whatever the reset's own status, the target no longer holds the command.
            RecStage::Bdr(_) => self.continue_recovery(xpt),
            RecStage::FinalBdr(_) => self.finish_recovery(xpt, !self.invalid),
            RecStage::StartUnit(_) => self.finish_recovery(xpt, ok && !self.invalid),
            RecStage::Tur(_) => {
                if ok {
                    return self.finish_recovery(xpt, true);
                }
                let again = ccb_sense(&ccb)
                    .is_some_and(|s| s.key == scsi_defs::sense_key::NOT_READY && s.asc == 0x04);
                let r = self.recovery.as_mut().expect("in recovery");
                r.tur_tries += 1;
                if again && r.tur_tries < TUR_WAIT_TRIES && !self.invalid {
                    self.continue_recovery(xpt)
                } else {
                    self.finish_recovery(xpt, false)
                }
            }
            RecStage::Queued | RecStage::TurWaiting(_) => Vec::new(),
        }
    }

    /// End the gauntlet job explicitly; retry the victims or fail them.
    fn finish_recovery(&mut self, xpt: &mut Xpt, success: bool) -> Vec<Outcome> {
        if success && self.recovery.as_ref().is_some_and(|r| r.uncleared) {
            // A victim that joined later may still be on the target: reset it first.
            let id = self.send_recovery(xpt, CcbBody::ResetDev, None);
            if let Some(r) = &mut self.recovery {
                r.uncleared = false;
                r.stage = RecStage::FinalBdr(id);
            }
            return Vec::new();
        }
        let Some(r) = self.recovery.take() else {
            return Vec::new();
        };
        let _ = xpt.gauntlet_end(self.id, self.addr);
        if success {
            for v in r.reqs {
                self.submit(xpt, v.req);
            }
            Vec::new()
        } else {
            r.reqs
                .into_iter()
                .map(|v| Outcome::Failed(v.req, None, Errno::Eio))
                .collect()
        }
    }
}

/// Build an `IoResult` from a request's last CCB, moving its data buffer out (no copy).
pub(crate) fn io_result(ccb: Option<&mut Ccb>, requested: usize, errno: Errno) -> IoResult {
    let Some(ccb) = ccb else {
        return IoResult {
            data: Vec::new(),
            status: LayeredStatus {
                errno,
                buf: BufStatus {
                    requested: requested as u32,
                    resid: requested as u32,
                },
                cam: CcbStatus::new(CamStatus::ReqCmpErr, 0),
                scsi: None,
            },
            sense: None,
        };
    };
    let status = ccb.h.status.status();
    let (data, resid, scsi) = match ccb.scsiio_mut() {
        Some(io) => {
            let resid = io.resid.min(io.data.len() as u32);
            let data = match &mut io.data {
                DataXfer::In(b) => {
                    let mut v = std::mem::replace(b, DataBuf::Single(Vec::new())).into_vec();
                    v.truncate(v.len() - resid as usize);
                    v
                }
                _ => Vec::new(),
            };
            let scsi = matches!(status, CamStatus::ReqCmp | CamStatus::ScsiStatusError)
                .then_some(io.scsi_status);
            (data, resid, scsi)
        }
        None => (Vec::new(), 0, None),
    };
    IoResult {
        data,
        status: LayeredStatus {
            errno,
            buf: BufStatus {
                requested: requested as u32,
                resid,
            },
            cam: ccb.h.status,
            scsi,
        },
        sense: ccb_sense(ccb),
    }
}

impl Xpt {
    pub(crate) fn dev_active(&self, addr: DevAddr) -> u32 {
        self.devices
            .iter()
            .find(|d| d.addr == addr)
            .map_or(0, |d| d.devq.active)
    }

    /// Run `f` on a periph (taken out of its slot so it may use the XPT).
    pub(crate) fn periph_call<R>(
        &mut self,
        p: PeriphId,
        f: impl FnOnce(&mut Periph, &mut Xpt) -> R,
    ) -> Option<R> {
        let mut per = self.periphs.get_mut(p.0).and_then(Option::take)?;
        let r = f(&mut per, self);
        self.periphs[p.0] = Some(per);
        Some(r)
    }

    /// Whether a periph was invalidated (its device was lost).
    pub fn periph_invalid(&self, p: PeriphId) -> bool {
        match self.periphs.get(p.0).and_then(|s| s.as_ref()) {
            Some(Periph::Da(d)) => d.core.invalid,
            Some(Periph::Sa(d)) => d.core.invalid,
            Some(Periph::Pass(d)) => d.core.invalid,
            Some(Periph::Cd(d)) => d.core.invalid,
            None => true,
        }
    }

    /// FreeBSD-style name and unit of a periph ("da", 0): units count per name.
    pub fn periph_name_unit(&self, p: PeriphId) -> (&'static str, u32) {
        let kind = self.periph_kind(p);
        let unit = self.periphs[..p.0.min(self.periphs.len())]
            .iter()
            .filter(|s| s.as_ref().map(Periph::kind) == kind)
            .count() as u32;
        (kind.map_or("?", PeriphKind::name), unit)
    }

    /// The recovery a periph is running, if any, with each victim's own facts.
    pub fn periph_recovery(&self, p: PeriphId) -> Option<RecoveryInfo> {
        let core = match self.periphs.get(p.0)?.as_ref()? {
            Periph::Da(d) => &d.core,
            Periph::Sa(d) => &d.core,
            Periph::Pass(d) => &d.core,
            Periph::Cd(d) => &d.core,
        };
        core.recovery.as_ref().map(|r| RecoveryInfo {
            kind: r.kind,
            victims: r
                .reqs
                .iter()
                .map(|v| VictimInfo {
                    io: v.req.io,
                    kind: v.kind,
                    cleanly_off: v.cleanly_off,
                })
                .collect(),
            reset_due: r.uncleared,
        })
    }

    /// Kind of a periph.
    pub fn periph_kind(&self, p: PeriphId) -> Option<PeriphKind> {
        self.periphs
            .get(p.0)
            .and_then(|s| s.as_ref())
            .map(Periph::kind)
    }

    /// The live (not invalidated) periphs attached to a device.
    pub fn periphs_of(&self, addr: DevAddr) -> Vec<(PeriphId, PeriphKind)> {
        self.periphs
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|p| (PeriphId(i), p)))
            .filter(|(_, p)| {
                let c = match p {
                    Periph::Da(d) => &d.core,
                    Periph::Sa(s) => &s.core,
                    Periph::Pass(x) => &x.core,
                    Periph::Cd(x) => &x.core,
                };
                c.addr == addr && !c.invalid
            })
            .map(|(i, p)| (i, p.kind()))
            .collect()
    }

    /// Attach periphs for a probed device: `da` for disks, `sa` for tapes, `cd` for CD-ROM
    /// and WORM drives, `pass` always (processors, scanners and the rest use `pass`).
    pub fn attach_periphs(&mut self, addr: DevAddr, device_type: u8) -> Vec<PeriphId> {
        use scsi_defs::inquiry as inq;
        let tagged = self
            .device_mut(addr)
            .is_some_and(|d| d.tran.and_then(|t| t.tq_enb).unwrap_or(false));
        // LoEj only where 0x1B is START STOP UNIT: on a tape it is LOAD UNLOAD, where the
        // same bit asks for a retension pass.
        let removable = device_type != inq::TYPE_SEQUENTIAL_ACCESS
            && self
                .device_mut(addr)
                .is_some_and(|d| d.inq.as_ref().is_some_and(|i| i.removable));
        let quirks = self.device_mut(addr).map(|d| d.quirks).unwrap_or_default();
        let mut out = Vec::new();
        let mut mk = |xpt: &mut Xpt, kind: PeriphKind| {
            let id = PeriphId(xpt.periphs.len());
            let mut core = PeriphCore::new(id, addr);
            core.tagged = tagged;
            core.removable = removable;
            let p = match kind {
                PeriphKind::Da => {
                    let mut d = da::Da::new(core);
                    if quirks.no_6byte {
                        d.min_cdb = 10;
                    }
                    Periph::Da(d)
                }
                PeriphKind::Sa => Periph::Sa(sa::Sa::new(core)),
                PeriphKind::Pass => {
                    core.pass = true;
                    Periph::Pass(pass::Pass::new(core))
                }
                PeriphKind::Cd => Periph::Cd(cd::Cd::new(core)),
            };
            let id = xpt.alloc_periph(p);
            if let Some(d) = xpt.device_mut(addr) {
                d.periphs.push(id);
            }
            out.push(id);
        };
        match device_type {
            inq::TYPE_DIRECT_ACCESS => mk(self, PeriphKind::Da),
            inq::TYPE_CDROM | inq::TYPE_WORM => mk(self, PeriphKind::Cd),
            inq::TYPE_SEQUENTIAL_ACCESS => {
                mk(self, PeriphKind::Sa);
                // Seed 001: tapes flush after a failure until sa's resume command.
                let _ = self.set_flush_policy(addr, true);
            }
            _ => {}
        }
        mk(self, PeriphKind::Pass);
        if quirks.start_unit {
            // The unit needs a START STOP UNIT before it serves I/O.
            for p in out.clone() {
                self.with_periph(p, |per, xpt| {
                    if let Periph::Da(d) = per {
                        d.start_internal(xpt);
                    }
                });
            }
        }
        out
    }

    /// Release a device queue freeze after `d` (RELSIM_RELEASE_AFTER_TIMEOUT).
    pub(crate) fn release_devq_after(&mut self, addr: DevAddr, d: Duration) {
        let mut rs = crate::ccb::RelSim {
            release_flags: crate::ccb::relsim::RELSIM_RELEASE_AFTER_TIMEOUT,
            release_timeout: d.as_millis().min(u32::MAX as u128) as u32,
            ..Default::default()
        };
        rs.openings = 0;
        // Internal relsim CCBs are not the caller's business: discard the completion.
        self.submit(
            Ccb::new(addr.path(), CcbBody::RelSim(rs)),
            Completion::Callback(Box::new(|_, _| {})),
        );
    }
}
