//! Test support: a scriptable mock SIM with disk and tape targets that completes, fails,
//! delays and loses commands on command, and runs seed 000's recovery protocol on demand.
//! Only built for tests or with the `testing` feature; never in production paths.

use crate::async_event::{AsyncArg, AC_BUS_RESET, AC_SENT_BDR};
use crate::ccb::{pi, Ccb, CcbBody, CcbId, DataXfer, PathInq, TranSettings, TranType};
use crate::clock::CamTime;
use crate::path::{DevAddr, Path};
use crate::sense::Sense;
use crate::sim::{Sim, SimCtx, SimRecovery};
use crate::status::{
    CamStatus, CAM_AUTOSNS_VALID, CAM_DEV_QFRZN, CAM_RELEASE_SIMQ, CAM_SIM_QUEUED,
};
use scsi_defs::{inquiry as inq, opcode as op, sense_key as sk, status as ss};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

/// One object on a mock tape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TapeObj {
    /// A data block.
    Block(Vec<u8>),
    /// A filemark.
    Filemark,
}

/// What a mock target is.
#[derive(Clone, Debug)]
pub enum MockKind {
    /// A disk.
    Disk {
        /// Block size.
        block_len: u32,
        /// Contents, sparse: blocks never written read as zeros.
        data: BTreeMap<u64, Vec<u8>>,
        /// Number of blocks (may exceed `data` for capacity tests; unread blocks are 0).
        blocks: u64,
        /// Rejects READ(6)/WRITE(6) with ILLEGAL REQUEST / INVALID OPCODE.
        no_cmd6: bool,
    },
    /// A tape.
    Tape {
        /// Objects on the medium.
        objs: Vec<TapeObj>,
        /// Current object index.
        pos: usize,
    },
    /// A CD-ROM drive: 2048-byte blocks; block `n` reads as bytes `n as u8`.
    Cdrom {
        /// Blocks on the disc.
        blocks: u64,
        /// A disc is loaded.
        medium: bool,
        /// Medium removal prevented.
        prevent: bool,
        /// A UNIT ATTENTION 28h (medium may have changed) is pending.
        ua_pending: bool,
        /// Start LBAs of the tracks (track 1 first).
        tracks: Vec<u32>,
    },
    /// A processor or scanner: answers TEST UNIT READY, INQUIRY, and SEND/RECEIVE (0x0a
    /// / 0x08) with the data it was sent last.
    Processor {
        /// Peripheral device type (TYPE_PROCESSOR or TYPE_SCANNER).
        dtype: u8,
        /// Last data sent.
        buf: Vec<u8>,
    },
}

/// CD-ROM block size.
pub const CD_BLOCK: usize = 2048;

/// A mock logical unit.
#[derive(Clone, Debug)]
pub struct MockDevice {
    /// Disk or tape.
    pub kind: MockKind,
    /// INQUIRY flags byte 7 (WBUS16/SYNC/CMDQUE).
    pub inq_flags: u8,
    /// INQUIRY VERSION.
    pub version: u8,
    /// Serial number.
    pub serial: String,
}

impl MockDevice {
    /// A disk of `blocks` blocks of `block_len` bytes (contents zero).
    pub fn disk(blocks: u64, block_len: u32) -> Self {
        MockDevice {
            kind: MockKind::Disk {
                block_len,
                data: BTreeMap::new(),
                blocks,
                no_cmd6: false,
            },
            inq_flags: inq::FLAG_SYNC | inq::FLAG_WBUS16 | inq::FLAG_CMDQUE,
            version: 5,
            serial: "DISK0001".into(),
        }
    }
    /// A CD-ROM drive holding a disc of `blocks` 2048-byte blocks in `tracks` tracks.
    pub fn cdrom(blocks: u64, tracks: Vec<u32>) -> Self {
        MockDevice {
            kind: MockKind::Cdrom {
                blocks,
                medium: true,
                prevent: false,
                ua_pending: false,
                tracks,
            },
            inq_flags: inq::FLAG_SYNC,
            version: 5,
            serial: "CD000001".into(),
        }
    }
    /// A processor (`TYPE_PROCESSOR`) or scanner (`TYPE_SCANNER`) device.
    pub fn processor(dtype: u8) -> Self {
        MockDevice {
            kind: MockKind::Processor {
                dtype,
                buf: Vec::new(),
            },
            inq_flags: 0,
            version: 2,
            serial: "PROC0001".into(),
        }
    }
    /// An empty tape.
    pub fn tape() -> Self {
        MockDevice {
            kind: MockKind::Tape {
                objs: Vec::new(),
                pos: 0,
            },
            inq_flags: inq::FLAG_SYNC,
            version: 2,
            serial: "TAPE0001".into(),
        }
    }
    fn dtype(&self) -> u8 {
        match self.kind {
            MockKind::Disk { .. } => inq::TYPE_DIRECT_ACCESS,
            MockKind::Cdrom { .. } => inq::TYPE_CDROM,
            MockKind::Processor { dtype, .. } => dtype,
            MockKind::Tape { .. } => inq::TYPE_SEQUENTIAL_ACCESS,
        }
    }
}

/// A scripted fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Complete with this CAM status (devq frozen, as a SIM's error freeze).
    Status(CamStatus),
    /// CHECK CONDITION with this fixed-format sense.
    Check {
        /// Sense key.
        key: u8,
        /// ASC.
        asc: u8,
        /// ASCQ.
        ascq: u8,
    },
    /// SCSI BUSY.
    Busy,
    /// SCSI QUEUE FULL.
    QueueFull,
    /// Never answer: the SIM's timeout returns CAM_CMD_TIMEOUT.
    Lose,
    /// Execute, but complete after this delay.
    Delay(Duration),
    /// Resource shortage: freeze the SIM queue, turn the CCB back with CAM_REQUEUE_REQ
    /// (it never reached the adapter), release with CAM_RELEASE_SIMQ later.
    Shortage,
    /// A misbehaving SIM: turn the CCB back with CAM_REQUEUE_REQ without freezing anything.
    TurnBack,
    /// The SIM chapter's error case: freeze the device queue (its owner releases) and turn
    /// the CCB back with CAM_REQUEUE_REQ so that it keeps its order.
    TurnBackFreezeDev,
    /// The target takes this long: completes then, or with CAM_CMD_TIMEOUT at the CCB's
    /// timeout if that comes first (a SIM enforcing timeouts).
    Slow(Duration),
}

/// Which commands a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Target (None = any).
    pub target: Option<u32>,
    /// Opcode (None = any).
    pub opcode: Option<u8>,
    /// Fault to inject.
    pub fault: Fault,
    /// How many times (then the rule is dropped).
    pub times: u32,
}

/// A CCB that reached the adapter (`CAM_SIM_QUEUED`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// The CCB.
    pub id: CcbId,
    /// Device.
    pub addr: DevAddr,
    /// CDB.
    pub cdb: Vec<u8>,
    /// The periph request it belongs to (periph_priv[0]).
    pub io: u64,
}

struct InFlight {
    ccb: Ccb,
    due: CamTime,
}

/// Shared state of the mock, scriptable and inspectable while the XPT owns the SIM.
pub struct MockState {
    /// Devices by (target, lun).
    pub devices: BTreeMap<(u32, u64), MockDevice>,
    /// Fault rules, matched in order.
    pub rules: Vec<Rule>,
    /// Every CCB accepted by the adapter, in order.
    pub issued: Vec<Issued>,
    /// Highest target ID.
    pub max_target: u32,
    /// Our initiator ID.
    pub initiator_id: u32,
    /// Latency of a normal completion (0 = complete inside `action`).
    pub latency: Duration,
    /// User transfer settings the SIM reports.
    pub user: TranSettings,
    current: BTreeMap<u32, TranSettings>,
    inflight: Vec<InFlight>,
    recovery: SimRecovery,
    recovery_until: Option<CamTime>,
    give_up: bool,
    pending_release: bool,
    start_recovery: Option<Duration>,
    /// Completions returned, for checks.
    pub completions: u64,
    /// Largest transfer the SIM takes (PATH_INQ `maxio`); default 1 MiB.
    pub maxio: u32,
    /// Faults for READ/WRITE commands starting at an LBA: (target, LBA, fault, times).
    pub lba_rules: Vec<(u32, u64, Fault, u32)>,
    /// Tape medium size per target: (early-warning object count, physical end).
    pub tape_limits: BTreeMap<u32, (usize, usize)>,
    /// Tape block size set by MODE SELECT per target (0 = variable); unset = anything goes.
    pub tape_block: BTreeMap<u32, u32>,
    /// The `ccb_flags` word of every CCB in `issued`, same order.
    pub issued_flags: Vec<u32>,
}

/// The mock SIM; clone the `state` handle to script and inspect it.
pub struct MockSim {
    /// Shared state.
    pub state: Rc<RefCell<MockState>>,
}

impl Default for MockSim {
    fn default() -> Self {
        Self::new()
    }
}

impl MockSim {
    /// A mock bus with 8 targets, initiator 7, no devices.
    pub fn new() -> Self {
        MockSim {
            state: Rc::new(RefCell::new(MockState {
                devices: BTreeMap::new(),
                rules: Vec::new(),
                issued: Vec::new(),
                max_target: 7,
                initiator_id: 7,
                latency: Duration::ZERO,
                user: TranSettings {
                    kind: TranType::User,
                    spi: crate::ccb::SpiSettings {
                        sync_period: Some(scsi_defs::spi_timing::PERIOD_FACTOR_FAST20),
                        sync_offset: Some(15),
                        bus_width: Some(1),
                        disc_enb: Some(true),
                        ppr_options: None,
                    },
                    tq_enb: Some(true),
                },
                current: BTreeMap::new(),
                inflight: Vec::new(),
                recovery: SimRecovery::default(),
                recovery_until: None,
                give_up: false,
                pending_release: false,
                start_recovery: None,
                completions: 0,
                maxio: 1 << 20,
                lba_rules: Vec::new(),
                tape_limits: BTreeMap::new(),
                tape_block: BTreeMap::new(),
                issued_flags: Vec::new(),
            })),
        }
    }
}

impl MockState {
    /// Add a device.
    pub fn add(&mut self, target: u32, lun: u64, d: MockDevice) {
        self.devices.insert((target, lun), d);
    }
    /// Add a fault rule.
    pub fn rule(&mut self, target: Option<u32>, opcode: Option<u8>, fault: Fault, times: u32) {
        self.rules.push(Rule {
            target,
            opcode,
            fault,
            times,
        });
    }
    /// Add a fault for READ/WRITE commands to `target` that start at `lba`.
    pub fn rule_lba(&mut self, target: u32, lba: u64, fault: Fault, times: u32) {
        self.lba_rules.push((target, lba, fault, times));
    }
    /// Start seed 000 recovery at the next poll; it lasts `d`. With `give_up`, the bus is
    /// declared lost at the end and every periph on it invalidated.
    pub fn start_recovery(&mut self, d: Duration, give_up: bool) {
        self.start_recovery = Some(d);
        self.give_up = give_up;
    }
    /// Commands outstanding in the SIM.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }
    /// Whether seed 000 recovery is active.
    pub fn in_recovery(&self) -> bool {
        self.recovery.in_recovery()
    }
    /// Tape contents of a device.
    pub fn tape(&self, target: u32) -> Option<&Vec<TapeObj>> {
        match &self.devices.get(&(target, 0))?.kind {
            MockKind::Tape { objs, .. } => Some(objs),
            _ => None,
        }
    }

    fn take_rule(&mut self, target: u32, opcode: Option<u8>) -> Option<Fault> {
        let i = self.rules.iter().position(|r| {
            (r.target.is_none() || r.target == Some(target))
                && (r.opcode.is_none() || r.opcode == opcode)
        })?;
        let f = self.rules[i].fault.clone();
        self.rules[i].times -= 1;
        if self.rules[i].times == 0 {
            self.rules.remove(i);
        }
        Some(f)
    }

    fn complete(&mut self, mut ccb: Ccb, ctx: &mut SimCtx<'_>) {
        if self.pending_release {
            self.pending_release = false;
            ccb.h.status.set(CAM_RELEASE_SIMQ);
        }
        // Error freeze: every failed I/O leaves its devq frozen for the periph to inspect.
        if !ccb.h.status.is_ok() && !ccb.h.status.has(CAM_DEV_QFRZN) {
            if let Some(a) = ccb.h.path.addr() {
                ccb.h.status.set(CAM_DEV_QFRZN);
                ctx.freeze_devq(a, 1);
            }
        }
        self.completions += 1;
        ctx.done(ccb);
    }

    fn check(ccb: &mut Ccb, key: u8, asc: u8, ascq: u8, info: Option<u32>, bits: u8) {
        let q = ccb.h.status.has(CAM_SIM_QUEUED);
        if ccb.h.dis_autosense {
            // CAM_DIS_AUTOSENSE: report CHECK CONDITION and leave the sense on the target.
            if let Some(io) = ccb.scsiio_mut() {
                io.scsi_status = ss::CHECK_CONDITION;
            }
            ccb.set_status(
                CamStatus::ScsiStatusError,
                if q { CAM_SIM_QUEUED } else { 0 },
            );
            return;
        }
        if let Some(io) = ccb.scsiio_mut() {
            io.scsi_status = ss::CHECK_CONDITION;
            let mut s = Sense::fixed_bytes(key, asc, ascq, info, bits);
            s.truncate(io.sense_len as usize);
            io.sense_resid = io.sense_len - s.len() as u8;
            io.sense = s;
        }
        ccb.set_status(
            CamStatus::ScsiStatusError,
            CAM_AUTOSNS_VALID | if q { CAM_SIM_QUEUED } else { 0 },
        );
    }

    fn ok(ccb: &mut Ccb) {
        let q = ccb.h.status.has(CAM_SIM_QUEUED);
        if let Some(io) = ccb.scsiio_mut() {
            io.scsi_status = ss::GOOD;
        }
        ccb.set_status(CamStatus::ReqCmp, if q { CAM_SIM_QUEUED } else { 0 });
    }

    fn fill_in(ccb: &mut Ccb, src: &[u8]) {
        if let Some(io) = ccb.scsiio_mut() {
            if let DataXfer::In(b) = &mut io.data {
                let n = b.write_at(0, src);
                io.resid = (b.len() - n) as u32;
            }
        }
    }

    /// Execute a SCSI command on the mock device.
    fn execute(&mut self, ccb: &mut Ccb, addr: DevAddr) {
        let cdb = ccb
            .scsiio()
            .map(|io| io.cdb.bytes().to_vec())
            .unwrap_or_default();
        let out = match ccb.scsiio() {
            Some(crate::ccb::ScsiIo {
                data: DataXfer::Out(b),
                ..
            }) => b.to_vec(),
            _ => Vec::new(),
        };
        let luns: Vec<u64> = self
            .devices
            .keys()
            .filter(|(t, _)| *t == addr.target)
            .map(|(_, l)| *l)
            .collect();
        let is_tape = matches!(
            self.devices.get(&(addr.target, addr.lun)).map(|d| &d.kind),
            Some(MockKind::Tape { .. })
        );
        if is_tape && cdb.first() == Some(&op::MODE_SELECT_6) {
            match crate::scsi_cmd::parse_mode6_block_len(&out) {
                Ok(bs) => {
                    self.tape_block.insert(addr.target, bs);
                    Self::ok(ccb);
                }
                Err(_) => Self::check(ccb, sk::ILLEGAL_REQUEST, 0x1a, 0, None, 0),
            }
            return;
        }
        let tape_cfg = (
            self.tape_limits.get(&addr.target).copied(),
            self.tape_block.get(&addr.target).copied(),
        );
        let Some(dev) = self.devices.get_mut(&(addr.target, addr.lun)) else {
            // Target answers but the LUN is absent: INQUIRY says "not connected".
            if cdb.first() == Some(&op::INQUIRY) {
                let mut d = vec![0u8; 36];
                d[0] = inq::QUAL_NOT_SUPPORTED | inq::TYPE_NO_DEVICE;
                Self::fill_in(ccb, &d);
                Self::ok(ccb);
            } else {
                Self::check(ccb, sk::ILLEGAL_REQUEST, 0x25, 0, None, 0);
            }
            return;
        };
        if let MockKind::Cdrom { .. } | MockKind::Processor { .. } = dev.kind {
            if !matches!(cdb[0], op::INQUIRY | op::REPORT_LUNS) {
                return Self::exec_other(ccb, &cdb, &out, &mut dev.kind);
            }
        }
        match cdb[0] {
            op::TEST_UNIT_READY | op::START_STOP_UNIT | op::SYNCHRONIZE_CACHE_10 => Self::ok(ccb),
            op::INQUIRY if cdb[1] & 1 != 0 => {
                if cdb[2] == inq::VPD_UNIT_SERIAL_NUMBER {
                    let mut d = vec![
                        dev.dtype(),
                        inq::VPD_UNIT_SERIAL_NUMBER,
                        0,
                        dev.serial.len() as u8,
                    ];
                    d.extend_from_slice(dev.serial.as_bytes());
                    Self::fill_in(ccb, &d);
                    Self::ok(ccb);
                } else {
                    Self::check(ccb, sk::ILLEGAL_REQUEST, 0x24, 0, None, 0);
                }
            }
            op::INQUIRY => {
                let mut d = vec![0u8; 36];
                d[0] = dev.dtype();
                d[1] = if matches!(dev.dtype(), inq::TYPE_SEQUENTIAL_ACCESS | inq::TYPE_CDROM) {
                    inq::RMB
                } else {
                    0
                };
                d[2] = dev.version;
                d[3] = 2;
                d[4] = 31;
                d[7] = dev.inq_flags;
                d[8..16].copy_from_slice(b"MOCK    ");
                d[16..32].copy_from_slice(match dev.dtype() {
                    inq::TYPE_DIRECT_ACCESS => b"DISK            ",
                    inq::TYPE_CDROM => b"CDROM           ",
                    inq::TYPE_PROCESSOR => b"PROCESSOR       ",
                    inq::TYPE_SCANNER => b"SCANNER         ",
                    _ => b"TAPE            ",
                });
                d[32..36].copy_from_slice(b"0001");
                Self::fill_in(ccb, &d);
                Self::ok(ccb);
            }
            op::REPORT_LUNS => {
                let mut d = vec![0u8; 8];
                d[0..4].copy_from_slice(&((luns.len() * 8) as u32).to_be_bytes());
                for l in luns {
                    let mut e = [0u8; 8];
                    e[1] = l as u8;
                    d.extend_from_slice(&e);
                }
                Self::fill_in(ccb, &d);
                Self::ok(ccb);
            }
            _ => match &mut dev.kind {
                MockKind::Disk {
                    block_len,
                    data,
                    blocks,
                    no_cmd6,
                } => Self::exec_disk(ccb, &cdb, &out, *block_len, data, *blocks, *no_cmd6),
                MockKind::Tape { objs, pos } => {
                    Self::exec_tape_more(ccb, &cdb, &out, objs, pos, tape_cfg)
                }
                other => Self::exec_other(ccb, &cdb, &out, other),
            },
        }
    }

    /// CD-ROM and processor commands.
    fn exec_other(ccb: &mut Ccb, cdb: &[u8], out: &[u8], kind: &mut MockKind) {
        match kind {
            MockKind::Processor { buf, .. } => match cdb[0] {
                op::TEST_UNIT_READY => Self::ok(ccb),
                // SEND(6) / RECEIVE(6) of processor devices.
                0x0a => {
                    *buf = out.to_vec();
                    Self::ok(ccb);
                }
                0x08 => {
                    let b = buf.clone();
                    Self::fill_in(ccb, &b);
                    Self::ok(ccb);
                }
                _ => Self::check(ccb, sk::ILLEGAL_REQUEST, 0x20, 0, None, 0),
            },
            MockKind::Cdrom {
                blocks,
                medium,
                prevent,
                ua_pending,
                tracks,
            } => {
                if *ua_pending {
                    *ua_pending = false;
                    return Self::check(ccb, sk::UNIT_ATTENTION, 0x28, 0, None, 0);
                }
                let needs_medium = !matches!(
                    cdb[0],
                    op::PREVENT_ALLOW_MEDIUM_REMOVAL | op::START_STOP_UNIT
                );
                if needs_medium && !*medium {
                    return Self::check(ccb, sk::NOT_READY, 0x3a, 0, None, 0);
                }
                match cdb[0] {
                    op::TEST_UNIT_READY => Self::ok(ccb),
                    op::PREVENT_ALLOW_MEDIUM_REMOVAL => {
                        *prevent = cdb[4] & 1 != 0;
                        Self::ok(ccb);
                    }
                    op::START_STOP_UNIT => {
                        let (start, loej) = (cdb[4] & 1 != 0, cdb[4] & 2 != 0);
                        if loej && !start {
                            if *prevent {
                                // MEDIUM REMOVAL PREVENTED.
                                return Self::check(ccb, sk::ILLEGAL_REQUEST, 0x53, 0x02, None, 0);
                            }
                            *medium = false;
                        } else if loej && start && !*medium {
                            *medium = true;
                        }
                        Self::ok(ccb);
                    }
                    op::READ_CAPACITY_10 => {
                        let mut d = ((*blocks - 1) as u32).to_be_bytes().to_vec();
                        d.extend_from_slice(&(CD_BLOCK as u32).to_be_bytes());
                        Self::fill_in(ccb, &d);
                        Self::ok(ccb);
                    }
                    crate::scsi_cmd::READ_TOC => {
                        let msf = cdb[1] & 2 != 0;
                        let mut d = vec![0u8; 4];
                        d[2] = 1;
                        d[3] = tracks.len() as u8;
                        let mut ent = |track: u8, lba: u32| {
                            let addr = if msf {
                                let f = lba + 150;
                                [0, (f / 75 / 60) as u8, (f / 75 % 60) as u8, (f % 75) as u8]
                            } else {
                                lba.to_be_bytes()
                            };
                            d.extend_from_slice(&[0, 0x14, track, 0]);
                            d.extend_from_slice(&addr);
                        };
                        for (i, t) in tracks.iter().enumerate() {
                            ent(i as u8 + 1, *t);
                        }
                        ent(crate::scsi_cmd::TOC_LEADOUT, *blocks as u32);
                        let n = (d.len() - 2) as u16;
                        d[0..2].copy_from_slice(&n.to_be_bytes());
                        Self::fill_in(ccb, &d);
                        Self::ok(ccb);
                    }
                    op::READ_10 | op::READ_12 => {
                        let Some((_, lba, n)) = crate::scsi_cmd::decode_rw(cdb) else {
                            return Self::check(ccb, sk::ILLEGAL_REQUEST, 0x24, 0, None, 0);
                        };
                        if lba + n as u64 > *blocks {
                            return Self::check(ccb, sk::ILLEGAL_REQUEST, 0x21, 0, None, 0);
                        }
                        let mut d = Vec::with_capacity(n as usize * CD_BLOCK);
                        for b in lba..lba + n as u64 {
                            d.resize(d.len() + CD_BLOCK, b as u8);
                        }
                        Self::fill_in(ccb, &d);
                        Self::ok(ccb);
                    }
                    _ => Self::check(ccb, sk::ILLEGAL_REQUEST, 0x20, 0, None, 0),
                }
            }
            _ => Self::check(ccb, sk::ILLEGAL_REQUEST, 0x20, 0, None, 0),
        }
    }

    /// Put a disc in a mock CD-ROM drive: the next command sees UNIT ATTENTION 28h.
    pub fn cd_insert(&mut self, target: u32, new_blocks: u64) {
        if let Some(MockDevice {
            kind:
                MockKind::Cdrom {
                    blocks,
                    medium,
                    ua_pending,
                    ..
                },
            ..
        }) = self.devices.get_mut(&(target, 0))
        {
            *blocks = new_blocks;
            *medium = true;
            *ua_pending = true;
        }
    }

    /// Take the disc out of a mock CD-ROM drive (by hand, whatever PREVENT says).
    pub fn cd_remove(&mut self, target: u32) {
        if let Some(MockDevice {
            kind: MockKind::Cdrom { medium, .. },
            ..
        }) = self.devices.get_mut(&(target, 0))
        {
            *medium = false;
        }
    }

    fn exec_disk(
        ccb: &mut Ccb,
        cdb: &[u8],
        out: &[u8],
        bl: u32,
        data: &mut BTreeMap<u64, Vec<u8>>,
        blocks: u64,
        no_cmd6: bool,
    ) {
        match cdb[0] {
            op::READ_CAPACITY_10 => {
                let last = (blocks - 1).min(0xffff_ffff) as u32;
                let mut d = last.to_be_bytes().to_vec();
                d.extend_from_slice(&bl.to_be_bytes());
                Self::fill_in(ccb, &d);
                Self::ok(ccb);
            }
            op::SERVICE_ACTION_IN_16 if cdb[1] == op::SAI_READ_CAPACITY_16 => {
                let mut d = (blocks - 1).to_be_bytes().to_vec();
                d.extend_from_slice(&bl.to_be_bytes());
                d.resize(32, 0);
                Self::fill_in(ccb, &d);
                Self::ok(ccb);
            }
            op::READ_6 | op::WRITE_6 if no_cmd6 => {
                Self::check(ccb, sk::ILLEGAL_REQUEST, 0x20, 0, None, 0)
            }
            _ => match crate::scsi_cmd::decode_rw(cdb) {
                Some((write, lba, n)) if lba + n as u64 <= blocks => {
                    let bl = bl as usize;
                    if write {
                        for (i, c) in out.chunks(bl).enumerate().take(n as usize) {
                            let mut b = c.to_vec();
                            b.resize(bl, 0);
                            data.insert(lba + i as u64, b);
                        }
                    } else {
                        let mut src = Vec::with_capacity(n as usize * bl);
                        for i in 0..n as u64 {
                            match data.get(&(lba + i)) {
                                Some(b) => src.extend_from_slice(b),
                                None => src.resize(src.len() + bl, 0),
                            }
                        }
                        Self::fill_in(ccb, &src);
                    }
                    Self::ok(ccb);
                }
                Some(_) => Self::check(ccb, sk::ILLEGAL_REQUEST, 0x21, 0, None, 0),
                None => Self::check(ccb, sk::ILLEGAL_REQUEST, 0x20, 0, None, 0),
            },
        }
    }

    /// SPACE, LOCATE, ERASE, block-mode checks and end of medium, then the basics.
    fn exec_tape_more(
        ccb: &mut Ccb,
        cdb: &[u8],
        out: &[u8],
        objs: &mut Vec<TapeObj>,
        pos: &mut usize,
        (limits, mode): (Option<(usize, usize)>, Option<u32>),
    ) {
        use scsi_defs::sense::FIXED_FILEMARK as FM;
        let fixed = cdb.get(1).is_some_and(|b| b & 1 != 0);
        match cdb[0] {
            op::READ_6 | op::WRITE_6 if mode.is_some_and(|bs| (bs != 0) != fixed) => {
                // Fixed bit disagrees with the block size in effect.
                return Self::check(ccb, sk::ILLEGAL_REQUEST, 0x24, 0, None, 0);
            }
            op::SPACE_6 => {
                let n = i32::from_be_bytes([
                    if cdb[2] & 0x80 != 0 { 0xff } else { 0 },
                    cdb[2],
                    cdb[3],
                    cdb[4],
                ]);
                let code = cdb[1] & 7;
                let want = n.unsigned_abs();
                let mut done = 0u32;
                if code == 3 {
                    *pos = objs.len();
                    return Self::ok(ccb);
                }
                while done < want {
                    if n > 0 {
                        match objs.get(*pos) {
                            None => {
                                return Self::check(
                                    ccb,
                                    sk::BLANK_CHECK,
                                    0,
                                    5,
                                    Some(want - done),
                                    0,
                                )
                            }
                            Some(TapeObj::Filemark) => {
                                *pos += 1;
                                if code == 0 {
                                    return Self::check(
                                        ccb,
                                        sk::NO_SENSE,
                                        0,
                                        1,
                                        Some(want - done),
                                        FM,
                                    );
                                }
                                done += 1;
                            }
                            Some(TapeObj::Block(_)) => {
                                *pos += 1;
                                if code == 0 {
                                    done += 1;
                                }
                            }
                        }
                    } else {
                        if *pos == 0 {
                            // Beginning of partition.
                            return Self::check(
                                ccb,
                                sk::NO_SENSE,
                                0,
                                4,
                                Some(want - done),
                                scsi_defs::sense::FIXED_EOM,
                            );
                        }
                        match objs[*pos - 1] {
                            TapeObj::Filemark if code == 0 => {
                                *pos -= 1;
                                return Self::check(ccb, sk::NO_SENSE, 0, 1, Some(want - done), FM);
                            }
                            TapeObj::Filemark => {
                                *pos -= 1;
                                done += 1;
                            }
                            TapeObj::Block(_) => {
                                *pos -= 1;
                                if code == 0 {
                                    done += 1;
                                }
                            }
                        }
                    }
                }
                return Self::ok(ccb);
            }
            op::LOCATE_10 => {
                let b = u32::from_be_bytes([cdb[3], cdb[4], cdb[5], cdb[6]]) as usize;
                if b > objs.len() {
                    *pos = objs.len();
                    return Self::check(ccb, sk::BLANK_CHECK, 0, 5, None, 0);
                }
                *pos = b;
                return Self::ok(ccb);
            }
            op::ERASE_6 => {
                objs.truncate(*pos);
                return Self::ok(ccb);
            }
            op::WRITE_6 | op::WRITE_FILEMARKS_6 => {
                if let Some((ew, end)) = limits {
                    if *pos >= end {
                        return Self::check(
                            ccb,
                            sk::VOLUME_OVERFLOW,
                            0,
                            2,
                            Some(u32::from_be_bytes([0, cdb[2], cdb[3], cdb[4]])),
                            scsi_defs::sense::FIXED_EOM,
                        );
                    }
                    Self::exec_tape(ccb, cdb, out, objs, pos);
                    if ccb.h.status.is_ok() && *pos >= ew {
                        // Early warning: done, but the end is near (EOM, 00h/02h).
                        return Self::check(
                            ccb,
                            sk::NO_SENSE,
                            0,
                            2,
                            None,
                            scsi_defs::sense::FIXED_EOM,
                        );
                    }
                    return;
                }
            }
            _ => {}
        }
        Self::exec_tape(ccb, cdb, out, objs, pos)
    }

    fn exec_tape(ccb: &mut Ccb, cdb: &[u8], out: &[u8], objs: &mut Vec<TapeObj>, pos: &mut usize) {
        let len24 = u32::from_be_bytes([0, cdb[2], cdb[3], cdb[4]]);
        let fixed = cdb[1] & 1 != 0;
        match cdb[0] {
            op::REWIND => {
                *pos = 0;
                Self::ok(ccb);
            }
            op::READ_POSITION => {
                let mut d = vec![0u8; 20];
                if *pos == 0 {
                    d[0] = 0x80;
                }
                d[4..8].copy_from_slice(&(*pos as u32).to_be_bytes());
                Self::fill_in(ccb, &d);
                Self::ok(ccb);
            }
            op::WRITE_FILEMARKS_6 => {
                objs.truncate(*pos);
                for _ in 0..len24 {
                    objs.push(TapeObj::Filemark);
                }
                *pos += len24 as usize;
                Self::ok(ccb);
            }
            op::WRITE_6 => {
                objs.truncate(*pos);
                if fixed {
                    let bs = (out.len() / len24.max(1) as usize).max(1);
                    for c in out.chunks(bs) {
                        objs.push(TapeObj::Block(c.to_vec()));
                    }
                    *pos += out.len().div_ceil(bs);
                } else {
                    objs.push(TapeObj::Block(out.to_vec()));
                    *pos += 1;
                }
                Self::ok(ccb);
            }
            op::READ_6 if !fixed => match objs.get(*pos).cloned() {
                None => Self::check(ccb, sk::BLANK_CHECK, 0x00, 0x05, Some(len24), 0),
                Some(TapeObj::Filemark) => {
                    *pos += 1;
                    if let Some(io) = ccb.scsiio_mut() {
                        io.resid = len24;
                    }
                    Self::check(
                        ccb,
                        sk::NO_SENSE,
                        0x00,
                        0x01,
                        Some(len24),
                        scsi_defs::sense::FIXED_FILEMARK,
                    );
                }
                Some(TapeObj::Block(b)) => {
                    *pos += 1;
                    Self::fill_in(ccb, &b);
                    if b.len() as u32 != len24 {
                        let info = len24.wrapping_sub(b.len() as u32);
                        Self::check(
                            ccb,
                            sk::NO_SENSE,
                            0x00,
                            0x00,
                            Some(info),
                            scsi_defs::sense::FIXED_ILI,
                        );
                    } else {
                        Self::ok(ccb);
                    }
                }
            },
            op::READ_6 => {
                // Fixed mode: read up to len24 blocks, stopping at a filemark.
                let mut data = Vec::new();
                let mut got = 0u32;
                let mut fm = false;
                while got < len24 {
                    match objs.get(*pos) {
                        Some(TapeObj::Block(b)) => {
                            data.extend_from_slice(b);
                            got += 1;
                            *pos += 1;
                        }
                        Some(TapeObj::Filemark) => {
                            *pos += 1;
                            fm = true;
                            break;
                        }
                        None => break,
                    }
                }
                Self::fill_in(ccb, &data);
                if got == len24 {
                    Self::ok(ccb);
                } else if fm {
                    Self::check(
                        ccb,
                        sk::NO_SENSE,
                        0x00,
                        0x01,
                        Some(len24 - got),
                        scsi_defs::sense::FIXED_FILEMARK,
                    );
                } else {
                    Self::check(ccb, sk::BLANK_CHECK, 0x00, 0x05, Some(len24 - got), 0);
                }
            }
            _ => Self::check(ccb, sk::ILLEGAL_REQUEST, 0x20, 0, None, 0),
        }
    }

    /// Complete now, or after the configured latency.
    fn finish(&mut self, ccb: Ccb, ctx: &mut SimCtx<'_>) {
        if self.latency.is_zero() {
            self.complete(ccb, ctx);
        } else {
            let due = ctx.now().after(self.latency);
            self.inflight.push(InFlight { ccb, due });
        }
    }

    fn fault(&mut self, mut ccb: Ccb, f: Fault, addr: DevAddr, ctx: &mut SimCtx<'_>) {
        let now = ctx.now();
        match f {
            Fault::Status(s) => {
                ccb.set_status(s, CAM_SIM_QUEUED);
                self.finish(ccb, ctx);
            }
            Fault::Check { key, asc, ascq } => {
                Self::check(&mut ccb, key, asc, ascq, None, 0);
                // An injected check comes before any data phase: nothing moved.
                if let Some(io) = ccb.scsiio_mut() {
                    io.resid = io.data.len() as u32;
                }
                self.finish(ccb, ctx);
            }
            Fault::Busy | Fault::QueueFull => {
                if let Some(io) = ccb.scsiio_mut() {
                    io.scsi_status = if f == Fault::Busy {
                        ss::BUSY
                    } else {
                        ss::QUEUE_FULL
                    };
                }
                ccb.set_status(CamStatus::ScsiStatusError, CAM_SIM_QUEUED);
                self.finish(ccb, ctx);
            }
            Fault::Lose => {
                let due = now.after(ccb.h.timeout);
                self.inflight.push(InFlight { ccb, due });
            }
            Fault::Delay(d) => {
                self.execute(&mut ccb, addr);
                self.inflight.push(InFlight {
                    ccb,
                    due: now.after(d),
                });
            }
            Fault::Slow(d) if d > ccb.h.timeout => {
                let due = now.after(ccb.h.timeout);
                self.inflight.push(InFlight { ccb, due });
            }
            Fault::Slow(d) => {
                self.execute(&mut ccb, addr);
                self.inflight.push(InFlight {
                    ccb,
                    due: now.after(d),
                });
            }
            Fault::Shortage | Fault::TurnBack | Fault::TurnBackFreezeDev => {
                unreachable!("handled before acceptance")
            }
        }
    }

    fn action(&mut self, mut ccb: Ccb, ctx: &mut SimCtx<'_>) {
        match &mut ccb.body {
            CcbBody::PathInq(p) => {
                *p = PathInq {
                    version_num: 1,
                    hba_inquiry: pi::PI_SDTR_ABLE | pi::PI_WIDE_16 | pi::PI_TAG_ABLE,
                    max_target: self.max_target,
                    max_lun: 7,
                    initiator_id: self.initiator_id,
                    sim_vid: "FreeBSD".into(),
                    hba_vid: "mock".into(),
                    base_transfer_speed: 3300,
                    maxio: self.maxio,
                };
                ccb.set_status(CamStatus::ReqCmp, 0);
                ctx.done(ccb);
            }
            CcbBody::GetTranSettings(t) => {
                let target = ccb.h.path.addr().map(|a| a.target).unwrap_or(0);
                *t = match t.kind {
                    TranType::User => self.user,
                    TranType::Current => self.current.get(&target).copied().unwrap_or_default(),
                };
                ccb.set_status(CamStatus::ReqCmp, 0);
                ctx.done(ccb);
            }
            CcbBody::SetTranSettings(t) => {
                if let Some(a) = ccb.h.path.addr() {
                    let mut cur = *t;
                    cur.kind = TranType::Current;
                    self.current.insert(a.target, cur);
                }
                ccb.set_status(CamStatus::ReqCmp, 0);
                ctx.done(ccb);
            }
            CcbBody::CalcGeometry(g) => {
                let ok = g.compute(true);
                ccb.set_status(
                    if ok {
                        CamStatus::ReqCmp
                    } else {
                        CamStatus::ReqInvalid
                    },
                    0,
                );
                ctx.done(ccb);
            }
            CcbBody::ResetBus => {
                let bus = ctx.bus();
                for f in std::mem::take(&mut self.inflight) {
                    let mut c = f.ccb;
                    c.set_status(CamStatus::ScsiBusReset, CAM_SIM_QUEUED);
                    self.complete(c, ctx);
                }
                ctx.async_event(AC_BUS_RESET, Path::bus(bus), AsyncArg::None);
                ccb.set_status(CamStatus::ReqCmp, 0);
                ctx.done(ccb);
            }
            CcbBody::Abort(a) => {
                let target = a.abort_ccb;
                match self.inflight.iter().position(|f| f.ccb.h.id == target) {
                    Some(i) => {
                        let mut v = self.inflight.remove(i).ccb;
                        v.set_status(CamStatus::ReqAborted, CAM_SIM_QUEUED);
                        self.complete(v, ctx);
                        ccb.set_status(CamStatus::ReqCmp, 0);
                    }
                    None => ccb.set_status(CamStatus::UaAbort, 0),
                }
                ctx.done(ccb);
            }
            CcbBody::ResetDev | CcbBody::ScsiIo(_) => self.action_queued(ccb, ctx),
            _ => {
                ccb.set_status(CamStatus::ReqInvalid, 0);
                ctx.done(ccb);
            }
        }
    }

    fn action_queued(&mut self, mut ccb: Ccb, ctx: &mut SimCtx<'_>) {
        let Some(addr) = ccb.h.path.addr() else {
            ccb.set_status(CamStatus::PathInvalid, 0);
            return ctx.done(ccb);
        };
        // Seed 000: during recovery, arrivals are turned back for requeue.
        if self.recovery.in_recovery() {
            return self.recovery.requeue(ccb, ctx);
        }
        let opcode = ccb.scsiio().map(|io| io.cdb.opcode());
        if ccb.scsiio().is_some() {
            if let Some(i) = self.rules.iter().position(|r| {
                matches!(
                    r.fault,
                    Fault::Shortage | Fault::TurnBack | Fault::TurnBackFreezeDev
                ) && (r.target.is_none() || r.target == Some(addr.target))
                    && (r.opcode.is_none() || r.opcode == opcode)
            }) {
                let fault = self.rules[i].fault.clone();
                let shortage = fault == Fault::Shortage;
                self.rules[i].times -= 1;
                if self.rules[i].times == 0 {
                    self.rules.remove(i);
                }
                if fault == Fault::TurnBackFreezeDev {
                    ctx.freeze_devq(addr, 1);
                }
                if !shortage {
                    ccb.set_status(CamStatus::RequeueReq, 0);
                    return ctx.done(ccb);
                }
                // Freeze once per shortage episode, as a real SIM keeps a "frozen" flag.
                if !self.pending_release {
                    ctx.freeze_simq(1);
                    self.pending_release = true;
                }
                ccb.set_status(CamStatus::RequeueReq, 0);
                return ctx.done(ccb);
            }
        }
        if !self.devices.keys().any(|(t, _)| *t == addr.target) {
            ccb.set_status(CamStatus::SelTimeout, 0);
            return self.complete(ccb, ctx);
        }
        // A real SIM cannot map more than maxio for one command.
        if ccb
            .scsiio()
            .is_some_and(|io| io.data.len() > self.maxio as usize)
        {
            ccb.set_status(CamStatus::ReqTooBig, 0);
            return self.complete(ccb, ctx);
        }
        ccb.h.status.set(CAM_SIM_QUEUED);
        self.issued_flags.push(ccb.flags_word());
        self.issued.push(Issued {
            id: ccb.h.id,
            addr,
            cdb: ccb
                .scsiio()
                .map(|io| io.cdb.bytes().to_vec())
                .unwrap_or_default(),
            io: ccb.h.periph_priv[0],
        });
        if matches!(ccb.body, CcbBody::ResetDev) {
            // BUS DEVICE RESET: everything outstanding on the target returns as bystanders.
            let (hit, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.inflight)
                .into_iter()
                .partition(|f| f.ccb.h.path.addr().map(|a| a.target) == Some(addr.target));
            self.inflight = keep;
            for f in hit {
                let mut c = f.ccb;
                c.set_status(CamStatus::BdrSent, CAM_SIM_QUEUED);
                self.complete(c, ctx);
            }
            ctx.async_event(AC_SENT_BDR, addr.path(), AsyncArg::None);
            ccb.set_status(CamStatus::ReqCmp, CAM_SIM_QUEUED);
            return self.complete(ccb, ctx);
        }
        let lba = ccb
            .scsiio()
            .and_then(|io| crate::scsi_cmd::decode_rw(io.cdb.bytes()))
            .map(|(_, l, _)| l);
        if let Some(i) = self
            .lba_rules
            .iter()
            .position(|r| r.0 == addr.target && Some(r.1) == lba && r.3 > 0)
        {
            let f = self.lba_rules[i].2.clone();
            self.lba_rules[i].3 -= 1;
            if self.lba_rules[i].3 == 0 {
                self.lba_rules.remove(i);
            }
            return self.fault(ccb, f, addr, ctx);
        }
        if let Some(f) = self.take_rule(addr.target, opcode) {
            return self.fault(ccb, f, addr, ctx);
        }
        self.execute(&mut ccb, addr);
        self.finish(ccb, ctx);
    }

    fn poll(&mut self, ctx: &mut SimCtx<'_>) {
        let now = ctx.now();
        if let Some(d) = self.start_recovery.take() {
            // Seed 000: freeze the SIMQ, return what is outstanding for requeue.
            if self.recovery.enter(ctx).is_ok() {
                let out: Vec<Ccb> = std::mem::take(&mut self.inflight)
                    .into_iter()
                    .map(|f| f.ccb)
                    .collect();
                self.recovery.requeue_outstanding(out, ctx);
                self.recovery_until = Some(now.after(d));
            }
        }
        if let Some(t) = self.recovery_until {
            if now >= t {
                self.recovery_until = None;
                let _ = if self.give_up {
                    self.recovery.give_up(self.inflight.len(), ctx)
                } else {
                    self.recovery.exit(ctx)
                };
            }
        }
        if self.pending_release && self.inflight.is_empty() {
            self.pending_release = false;
            ctx.release_simq(1);
        }
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.inflight)
            .into_iter()
            .partition(|f| f.due <= now);
        self.inflight = keep;
        for f in due {
            let mut c = f.ccb;
            if c.h.status.status() == CamStatus::ReqInprog {
                // A lost command: the SIM's timeout fires.
                c.set_status(CamStatus::CmdTimeout, CAM_SIM_QUEUED);
            }
            self.complete(c, ctx);
        }
    }

    fn next_deadline(&self) -> Option<CamTime> {
        let a = self.inflight.iter().map(|f| f.due).min();
        match (a, self.recovery_until) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        }
    }
}

impl Sim for MockSim {
    fn action(&mut self, ccb: Ccb, ctx: &mut SimCtx<'_>) {
        self.state.borrow_mut().action(ccb, ctx);
    }
    fn poll(&mut self, ctx: &mut SimCtx<'_>) {
        self.state.borrow_mut().poll(ctx);
    }
    fn next_deadline(&self) -> Option<CamTime> {
        self.state.borrow().next_deadline()
    }
}
