//! Bus scan and the probe state machine (FreeBSD scsi_xpt.c `probestart`/`probedone`):
//! PATH_INQ, then per target/LUN: TEST UNIT READY, INQUIRY, REPORT LUNS (LUN 0 of SCSI-3
//! devices), transfer negotiation (user goal masked by INQUIRY, TUR to negotiate, read back
//! current settings), unit serial number; then AC_FOUND_DEVICE and periph attach.

use crate::async_event::{AsyncArg, AsyncEvent, AC_FOUND_DEVICE, AC_LOST_DEVICE, AC_TRANSFER_NEG};
use crate::ccb::{priority, Ccb, CcbBody, Cdb, DataBuf, DataXfer, TranSettings, TranType};
use crate::path::{BusId, DevAddr, Path};
use crate::scsi_cmd::{self, InquiryData};
use crate::status::{CamStatus, CAM_DEV_QFRZN};
use crate::xpt::{Completion, Xpt};
use scsi_defs::inquiry as inq;
use std::collections::VecDeque;
use std::time::Duration;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum PState {
    PathInq,
    Tur,
    Inquiry,
    ReportLuns,
    GetUser,
    SetTran,
    TurNeg,
    GetCur,
    Serial,
}

struct Cur {
    addr: DevAddr,
    state: PState,
    inq: Option<InquiryData>,
    tran: Option<TranSettings>,
    serial: Option<String>,
    tries: u32,
    quirks: crate::quirks::Quirks,
}

/// INQUIRY retries during probe (UNIT ATTENTION after reset is expected).
const PROBE_RETRIES: u32 = 3;
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// One bus scan in progress.
pub(crate) struct Probe {
    bus: BusId,
    todo: VecDeque<(u32, u64)>,
    cur: Option<Cur>,
    found: Vec<DevAddr>,
    tran_by_target: Vec<(u32, TranSettings)>,
    /// XPT_SCAN_LUN: probe just this LUN.
    only: Option<DevAddr>,
    /// Targets scanned LUN by LUN (no REPORT LUNS), with the highest LUN to try.
    seq_targets: Vec<(u32, u64)>,
    /// PATH_INQ `max_lun`.
    max_lun: u64,
}

/// Highest LUN of a sequential scan of a SCSI-2 device (3-bit LUN in IDENTIFY).
const SCSI2_MAX_LUN: u64 = 7;
/// Highest LUN a sequential scan of a newer device tries (REPORT LUNS failed).
const SEQ_SCAN_MAX_LUN: u64 = 255;

impl Probe {
    pub fn start(xpt: &mut Xpt, bus: BusId) -> Probe {
        Self::start_with(xpt, bus, None)
    }

    /// XPT_SCAN_LUN: PATH_INQ, then probe only `addr`.
    pub fn start_lun(xpt: &mut Xpt, addr: DevAddr) -> Probe {
        Self::start_with(xpt, addr.bus, Some(addr))
    }

    fn start_with(xpt: &mut Xpt, bus: BusId, only: Option<DevAddr>) -> Probe {
        let p = Probe {
            bus,
            todo: VecDeque::new(),
            cur: None,
            found: Vec::new(),
            tran_by_target: Vec::new(),
            only,
            seq_targets: Vec::new(),
            max_lun: 0,
        };
        let mut c = Ccb::new(Path::bus(bus), CcbBody::PathInq(Default::default()));
        c.h.priority = priority::CAM_PRIORITY_XPT;
        xpt.submit(c, Completion::Probe(bus));
        p
    }

    fn send(&self, xpt: &mut Xpt, mut c: Ccb) {
        c.h.priority = priority::CAM_PRIORITY_XPT;
        xpt.submit(c, Completion::Probe(self.bus));
    }

    fn scsi(&self, xpt: &mut Xpt, addr: DevAddr, cdb: &[u8], inlen: usize) {
        let data = if inlen == 0 {
            DataXfer::None
        } else {
            DataXfer::In(DataBuf::Single(vec![0; inlen]))
        };
        let c = Ccb::scsi_io(
            addr.path(),
            Cdb::new(cdb).expect("probe CDBs are short"),
            data,
            PROBE_TIMEOUT,
        );
        self.send(xpt, c);
    }

    fn set_state(&mut self, xpt: &mut Xpt, s: PState) {
        let Some(cur) = self.cur.as_mut() else { return };
        cur.state = s;
        let addr = cur.addr;
        match s {
            PState::PathInq => {}
            PState::Tur => self.scsi(xpt, addr, &scsi_cmd::tur(), 0),
            PState::Inquiry => self.scsi(
                xpt,
                addr,
                &scsi_cmd::inquiry(None, inq::STANDARD_LEN as u8),
                inq::STANDARD_LEN,
            ),
            PState::ReportLuns => self.scsi(xpt, addr, &scsi_cmd::report_luns(256), 256),
            PState::GetUser | PState::GetCur => {
                let kind = if s == PState::GetUser {
                    TranType::User
                } else {
                    TranType::Current
                };
                self.send(
                    xpt,
                    Ccb::new(
                        addr.path(),
                        CcbBody::GetTranSettings(TranSettings {
                            kind,
                            ..Default::default()
                        }),
                    ),
                );
            }
            PState::SetTran => {
                let goal = cur.tran.unwrap_or_default();
                self.send(xpt, Ccb::new(addr.path(), CcbBody::SetTranSettings(goal)));
            }
            PState::TurNeg => self.scsi(xpt, addr, &scsi_cmd::tur(), 0),
            PState::Serial => self.scsi(
                xpt,
                addr,
                &scsi_cmd::inquiry(Some(inq::VPD_UNIT_SERIAL_NUMBER), 252),
                252,
            ),
        }
    }

    /// Move to the next target/LUN; returns true when the scan is over.
    fn next(&mut self, xpt: &mut Xpt) -> bool {
        self.cur = None;
        match self.todo.pop_front() {
            Some((t, l)) => {
                self.cur = Some(Cur {
                    addr: DevAddr::new(self.bus, t, l),
                    state: PState::Tur,
                    inq: None,
                    tran: None,
                    serial: None,
                    tries: 0,
                    quirks: Default::default(),
                });
                self.set_state(xpt, PState::Tur);
                false
            }
            None => {
                // Devices seen before but not now are gone.
                let only = self.only;
                let gone: Vec<DevAddr> = xpt
                    .devices()
                    .into_iter()
                    .filter(|d| only.is_none_or(|o| o == d.addr))
                    .filter(|d| d.addr.bus == self.bus && !d.lost && !self.found.contains(&d.addr))
                    .map(|d| d.addr)
                    .collect();
                for a in gone {
                    xpt.post_async(AsyncEvent {
                        code: AC_LOST_DEVICE,
                        path: a.path(),
                        arg: AsyncArg::None,
                    });
                }
                true
            }
        }
    }

    /// Handle a probe CCB's completion; returns true when the scan has finished.
    pub fn done(&mut self, xpt: &mut Xpt, ccb: Ccb) -> bool {
        if ccb.h.status.has(CAM_DEV_QFRZN) {
            if let Some(a) = ccb.h.path.addr() {
                let _ = xpt.release_devq(a, 1);
            }
        }
        let st = ccb.h.status.status();
        let ok = st == CamStatus::ReqCmp;
        let Some(state) = self.cur.as_ref().map(|c| c.state).or(Some(PState::PathInq)) else {
            return true;
        };
        let data = ccb.scsiio().map(|io| io.data_in()).unwrap_or_default();
        let gone = matches!(
            st,
            CamStatus::SelTimeout
                | CamStatus::DevNotThere
                | CamStatus::TidInvalid
                | CamStatus::LunInvalid
        );
        match state {
            PState::PathInq => {
                let CcbBody::PathInq(pi) = &ccb.body else {
                    return true;
                };
                if !ok {
                    return self.next(xpt);
                }
                self.max_lun = pi.max_lun;
                match self.only {
                    Some(a) => self.todo.push_back((a.target, a.lun)),
                    None => {
                        for t in 0..=pi.max_target {
                            if t != pi.initiator_id {
                                self.todo.push_back((t, 0));
                            }
                        }
                    }
                }
                return self.next(xpt);
            }
            PState::Tur if gone => return self.next(xpt),
            PState::Tur => self.set_state(xpt, PState::Inquiry),
            PState::Inquiry => {
                let parsed = if ok {
                    InquiryData::parse(&data).ok()
                } else {
                    None
                };
                match parsed {
                    Some(i) if i.lun_present() => {
                        let q = xpt.lookup_quirks(&i);
                        let cur = self.cur.as_mut().expect("probing");
                        let scsi3 = i.scsi3();
                        cur.inq = Some(i);
                        cur.quirks = q;
                        let (addr, lun0) = (cur.addr, cur.addr.lun == 0 && self.only.is_none());
                        if lun0 && scsi3 && !q.no_report_luns && !q.no_luns {
                            self.set_state(xpt, PState::ReportLuns);
                        } else {
                            if lun0 && !q.no_luns {
                                // SCSI-2 (or told not to ask): LUN by LUN, as FreeBSD's probe.
                                let lim = if scsi3 {
                                    SEQ_SCAN_MAX_LUN
                                } else {
                                    SCSI2_MAX_LUN
                                };
                                self.seq_targets.push((addr.target, lim.min(self.max_lun)));
                            }
                            self.after_luns(xpt);
                        }
                    }
                    Some(_) => return self.next(xpt),
                    None if gone => return self.next(xpt),
                    None => {
                        let cur = self.cur.as_mut().expect("probing");
                        cur.tries += 1;
                        if cur.tries < PROBE_RETRIES {
                            self.set_state(xpt, PState::Inquiry);
                        } else {
                            return self.next(xpt);
                        }
                    }
                }
            }
            PState::ReportLuns => {
                let t = self.cur.as_ref().expect("probing").addr.target;
                match scsi_cmd::parse_report_luns(&data) {
                    Ok(mut luns) if ok => {
                        luns.sort_unstable();
                        luns.dedup();
                        for l in luns.into_iter().rev().filter(|l| *l != 0) {
                            self.todo.push_front((t, l));
                        }
                    }
                    // REPORT LUNS failed: fall back to a sequential scan.
                    _ => self
                        .seq_targets
                        .push((t, SEQ_SCAN_MAX_LUN.min(self.max_lun))),
                }
                self.after_luns(xpt);
            }
            PState::GetUser => {
                let user = match &ccb.body {
                    CcbBody::GetTranSettings(t) if ok => Some(*t),
                    _ => None,
                };
                let cur = self.cur.as_mut().expect("probing");
                match user {
                    Some(u) => {
                        let i = cur.inq.clone().unwrap_or_default();
                        // Goal = user settings masked by what INQUIRY says the device can do.
                        let mut g = u;
                        g.kind = TranType::Current;
                        if !i.sync {
                            g.spi.sync_offset = Some(0);
                            g.spi.sync_period = None;
                        }
                        if !i.wbus16 {
                            g.spi.bus_width = Some(0);
                        }
                        g.tq_enb =
                            Some(u.tq_enb.unwrap_or(false) && i.cmdque && !cur.quirks.no_tags);
                        cur.tran = Some(g);
                        self.set_state(xpt, PState::SetTran);
                    }
                    None => self.set_state(xpt, PState::Serial),
                }
            }
            PState::SetTran => self.set_state(xpt, PState::TurNeg),
            PState::TurNeg => self.set_state(xpt, PState::GetCur),
            PState::GetCur => {
                if let (CcbBody::GetTranSettings(t), true) = (&ccb.body, ok) {
                    let cur = self.cur.as_mut().expect("probing");
                    cur.tran = Some(*t);
                    self.tran_by_target.push((cur.addr.target, *t));
                    let path = cur.addr.path();
                    xpt.post_async(AsyncEvent {
                        code: AC_TRANSFER_NEG,
                        path,
                        arg: AsyncArg::Transfer(*t),
                    });
                }
                self.set_state(xpt, PState::Serial);
            }
            PState::Serial => {
                if ok {
                    if let Ok(s) = scsi_cmd::parse_serial_vpd(&data) {
                        self.cur.as_mut().expect("probing").serial = Some(s);
                    }
                }
                self.found_device(xpt);
                return self.next(xpt);
            }
        }
        false
    }

    /// After LUN discovery: negotiate once per target (LUN 0), then the serial number.
    fn after_luns(&mut self, xpt: &mut Xpt) {
        let cur = self.cur.as_mut().expect("probing");
        if cur.addr.lun == 0 {
            self.set_state(xpt, PState::GetUser);
        } else {
            let lun0 = DevAddr::new(cur.addr.bus, cur.addr.target, 0);
            cur.tran = self
                .tran_by_target
                .iter()
                .find(|(t, _)| *t == cur.addr.target)
                .map(|(_, s)| *s)
                // XPT_SCAN_LUN: the target was negotiated by an earlier scan.
                .or_else(|| xpt.device_mut(lun0).and_then(|d| d.tran));
            self.set_state(xpt, PState::Serial);
        }
    }

    fn found_device(&mut self, xpt: &mut Xpt) {
        let Some(cur) = self.cur.take() else { return };
        let Some(i) = cur.inq else { return };
        let addr = cur.addr;
        let params = xpt.sim_params(self.bus).cloned().unwrap_or_default();
        let q = cur.quirks;
        let tagged = i.cmdque && !q.no_tags && cur.tran.and_then(|t| t.tq_enb).unwrap_or(false);
        // Sequential LUN scan: the next LUN, until one is missing (no sparse LUNs).
        if let Some((_, lim)) = self.seq_targets.iter().find(|(t, _)| *t == addr.target) {
            if addr.lun < *lim {
                self.todo.push_front((addr.target, addr.lun + 1));
            }
        }
        let dtype = i.device_type;
        let old_periphs;
        {
            let Some(d) = xpt.device_mut(addr) else {
                return;
            };
            d.inq = Some(i);
            d.serial = cur.serial;
            d.tran = cur.tran;
            if q.no_tags {
                if let Some(t) = d.tran.as_mut() {
                    t.tq_enb = Some(false);
                }
            }
            d.lost = false;
            d.quirks = q;
            let open = if tagged {
                params
                    .max_tagged_dev_transactions
                    .min(q.max_tags.unwrap_or(u32::MAX))
            } else {
                params.max_dev_transactions
            };
            d.devq.openings = open.max(1);
            old_periphs = d.periphs.clone();
        }
        // A device that came back after being lost gets fresh periphs; the invalidated ones
        // stay invalid (their handles keep failing), as FreeBSD frees and re-creates them.
        if old_periphs.iter().all(|p| xpt.periph_invalid(*p)) {
            if let Some(d) = xpt.device_mut(addr) {
                d.periphs.clear();
            }
            xpt.attach_periphs(addr, dtype);
        }
        self.found.push(addr);
        xpt.post_async(AsyncEvent {
            code: AC_FOUND_DEVICE,
            path: addr.path(),
            arg: AsyncArg::Found {
                addr,
                device_type: dtype,
            },
        });
    }
}
