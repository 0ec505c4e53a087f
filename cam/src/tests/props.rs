//! Property tests over random interleavings of submissions, completions, errors, freezes
//! and releases: every CCB completes exactly once, freeze counts return to zero, releases
//! never go below zero, nothing normal is dispatched into a frozen queue, split requests
//! complete once as a whole, paced requeues finish, and tape commands that move the medium
//! (READ/WRITE/WRITE FILEMARKS/SPACE/LOCATE/ERASE) are never re-issued by the stack.

use super::*;
use crate::ccb::{Ccb, CcbBody, CcbId, Cdb, DataXfer, DispatchClass};
use crate::path::Path;
use crate::periph::IoId;
use crate::simq::FreezeOwner;
use crate::status::CamStatus;
use crate::testing::Fault;
use crate::xpt::{Completion, XptLog};
use proptest::prelude::*;
use scsi_defs::{opcode as op, sense_key as sk};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::Duration;

#[derive(Clone, Debug)]
enum Op {
    DaRead(u32, u64),
    DaWrite(u32, u64),
    TapeWrite,
    TapeRead,
    TapeWfm,
    Raw(u32, u8),
    Fault(Option<u32>, u8, u8),
    FreezeDev(u32),
    ReleaseDev(u32),
    OverRelease(u32),
    FreezeSim,
    ReleaseSim,
    AppFreeze(u32),
    AppRelease(u32),
    Advance(u16),
    Step,
    BusReset,
    SimRecovery(u16, bool),
    Abort(usize),
    /// A da read bigger than maxio: split into parts.
    DaBigRead(u32, u64, u64),
    /// A raw CCB with a tag action (ORDERED / HEAD OF QUEUE barriers).
    RawTagged(u32, u8),
    /// XPT_ABORT of a recent CCB, whoever owns it (periph, recovery, raw).
    AbortRecent(u64),
    /// Tape SPACE blocks (negative: back).
    TapeSpace(i8),
    /// Tape LOCATE.
    TapeLocate(u8),
    /// CD read (split: 2048-byte blocks against a 2 KiB maxio).
    CdRead(u64, u64),
    /// A new disc: UNIT ATTENTION 28h next, capacity forgotten.
    CdChange,
    /// CD READ CAPACITY.
    CdCapacity,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let t = prop_oneof![Just(0u32), Just(1u32)];
    prop_oneof![
        4 => (t.clone(), 0u64..64).prop_map(|(t, l)| Op::DaRead(t, l)),
        3 => (t.clone(), 0u64..64).prop_map(|(t, l)| Op::DaWrite(t, l)),
        2 => Just(Op::TapeWrite),
        2 => Just(Op::TapeRead),
        1 => Just(Op::TapeWfm),
        2 => (prop_oneof![Just(0u32), Just(1), Just(3), Just(5)], 0u8..3).prop_map(|(t, c)| Op::Raw(t, c)),
        4 => (prop_oneof![Just(None), Just(Some(0u32)), Just(Some(1)), Just(Some(3))], 0u8..13, 1u8..4).prop_map(|(t, f, n)| Op::Fault(t, f, n)),
        2 => t.clone().prop_map(Op::FreezeDev),
        2 => t.clone().prop_map(Op::ReleaseDev),
        1 => t.clone().prop_map(Op::OverRelease),
        1 => Just(Op::FreezeSim),
        1 => Just(Op::ReleaseSim),
        1 => (0u32..3).prop_map(Op::AppFreeze),
        1 => (0u32..3).prop_map(Op::AppRelease),
        3 => (0u16..1500).prop_map(Op::Advance),
        4 => Just(Op::Step),
        1 => Just(Op::BusReset),
        1 => (1u16..50, proptest::bool::weighted(0.1)).prop_map(|(ms, g)| Op::SimRecovery(ms, g)),
        1 => (0usize..64).prop_map(Op::Abort),
        3 => (t.clone(), 0u64..48, 3u64..16).prop_map(|(t, l, n)| Op::DaBigRead(t, l, n)),
        2 => (t.clone(), 0u8..3).prop_map(|(t, k)| Op::RawTagged(t, k)),
        1 => (1u64..8).prop_map(Op::AbortRecent),
        1 => (-3i8..4).prop_map(Op::TapeSpace),
        1 => (0u8..6).prop_map(Op::TapeLocate),
        2 => (0u64..90, 1u64..4).prop_map(|(l, n)| Op::CdRead(l, n)),
        1 => Just(Op::CdChange),
        1 => Just(Op::CdCapacity),
    ]
}

fn fault(k: u8) -> Fault {
    match k {
        0 => Fault::Busy,
        1 => Fault::QueueFull,
        2 => Fault::Check {
            key: sk::MEDIUM_ERROR,
            asc: 0x11,
            ascq: 0,
        },
        3 => Fault::Check {
            key: sk::UNIT_ATTENTION,
            asc: 0x29,
            ascq: 0,
        },
        4 => Fault::Check {
            key: sk::NOT_READY,
            asc: 4,
            ascq: 2,
        },
        5 => Fault::Check {
            key: sk::NOT_READY,
            asc: 4,
            ascq: 1,
        },
        6 => Fault::Status(CamStatus::ScsiBusReset),
        7 => Fault::Status(CamStatus::RequeueReq),
        8 => Fault::Lose,
        9 => Fault::Shortage,
        10 => Fault::Delay(Duration::from_millis(3)),
        11 => Fault::TurnBack,
        _ => Fault::Status(CamStatus::SelTimeout),
    }
}

fn run(ops: Vec<Op>, latency_ms: u64) -> Result<(), TestCaseError> {
    let mut r = rig(vec![
        (0, 0, MockDevice::disk(64, 512)),
        (1, 0, MockDevice::disk(64, 512)),
        (3, 0, MockDevice::tape()),
        (4, 0, MockDevice::cdrom(100, vec![0])),
    ]);
    r.scan();
    let das = [r.da(0), r.da(1)];
    let sa = r.sa(3);
    let cd = crate::periph::cd::CdHandle::for_device(&r.xpt, r.addr(4)).expect("cd");
    let io = cd.read_capacity(&mut r.xpt).unwrap();
    prop_assert!(r.xpt.wait_io(io).unwrap().is_ok());
    r.mock.borrow_mut().latency = Duration::from_millis(latency_ms);
    // A small maxio (4 blocks) so that big reads split into several parts.
    r.mock.borrow_mut().maxio = 4 * 512;
    r.xpt.path_inq(r.bus).expect("PATH_INQ");
    let mut ios: Vec<IoId> = Vec::new();
    let raw_done: Rc<RefCell<HashMap<CcbId, u32>>> = Default::default();
    let mut raws: Vec<CcbId> = Vec::new();
    let mut my_dev = [0u32; 2];
    let mut my_sim = 0u32;
    let mut app: HashSet<u32> = HashSet::new();
    for o in ops {
        match o {
            Op::DaRead(t, l) => ios.extend(das[t as usize].read(&mut r.xpt, l, 1).ok()),
            Op::DaWrite(t, l) => ios.extend(
                das[t as usize]
                    .write(&mut r.xpt, l, vec![l as u8; 512])
                    .ok(),
            ),
            Op::TapeWrite => ios.extend(sa.write(&mut r.xpt, vec![7; 64]).ok()),
            Op::TapeRead => ios.extend(sa.read(&mut r.xpt, 64).ok()),
            Op::TapeWfm => ios.extend(sa.write_filemarks(&mut r.xpt, 1).ok()),
            Op::Raw(t, c) => {
                let a = DevAddr::new(r.bus, t, 0);
                let mut ccb = Ccb::scsi_io(
                    a.path(),
                    Cdb::new(&crate::scsi_cmd::tur()).unwrap(),
                    DataXfer::None,
                    Duration::from_secs(2),
                );
                ccb.h.class = [
                    DispatchClass::Normal,
                    DispatchClass::Priority,
                    DispatchClass::Recovery,
                ][c as usize];
                let rd = raw_done.clone();
                // A raw owner: counts completions and releases the error freeze it is handed.
                let id = r.xpt.submit_cb(ccb, move |x, c| {
                    *rd.borrow_mut().entry(c.h.id).or_default() += 1;
                    if c.h.status.has(crate::status::CAM_DEV_QFRZN) {
                        x.release_devq(a, 1).expect("owner's freeze is present");
                    }
                });
                raws.push(id);
            }
            Op::Fault(t, f, n) => {
                let opc = [
                    None,
                    Some(op::READ_6),
                    Some(op::WRITE_6),
                    Some(op::TEST_UNIT_READY),
                ][(f as usize + n as usize) % 4];
                r.mock.borrow_mut().rule(t, opc, fault(f), n as u32);
            }
            Op::FreezeDev(t) => {
                r.xpt.freeze_devq(r.addr(t), 1).unwrap();
                my_dev[t as usize] += 1;
            }
            Op::ReleaseDev(t) => {
                if my_dev[t as usize] > 0 {
                    r.xpt.release_devq(r.addr(t), 1).unwrap();
                    my_dev[t as usize] -= 1;
                }
            }
            Op::OverRelease(t) => {
                let a = r.addr(t);
                let before = r.xpt.devq_frozen(a);
                prop_assert!(r.xpt.release_devq(a, before + 1).is_err());
                prop_assert_eq!(r.xpt.devq_frozen(a), before);
                let sb = r.xpt.simq_frozen(r.bus);
                prop_assert!(r.xpt.release_simq(r.bus, sb + 1).is_err());
                prop_assert_eq!(r.xpt.simq_frozen(r.bus), sb);
            }
            Op::FreezeSim => {
                r.xpt.freeze_simq(r.bus, 1).unwrap();
                my_sim += 1;
            }
            Op::ReleaseSim => {
                if my_sim > 0 {
                    r.xpt.release_simq(r.bus, 1).unwrap();
                    my_sim -= 1;
                }
            }
            Op::AppFreeze(o) => {
                r.xpt.app_freeze_simq(r.bus, FreezeOwner(o)).unwrap();
                app.insert(o);
            }
            Op::AppRelease(o) => {
                let _ = r.xpt.app_release_simq(r.bus, FreezeOwner(o));
            }
            Op::Advance(ms) => {
                r.clock.advance(Duration::from_millis(ms as u64));
                r.xpt.run_until_idle();
            }
            Op::Step => {
                r.xpt.step();
            }
            Op::BusReset => {
                r.xpt.submit(
                    Ccb::new(Path::bus(r.bus), CcbBody::ResetBus),
                    Completion::Callback(Box::new(|_, _| {})),
                );
            }
            Op::SimRecovery(ms, give_up) => {
                if !r.mock.borrow().in_recovery() {
                    r.mock
                        .borrow_mut()
                        .start_recovery(Duration::from_millis(ms as u64), give_up);
                }
            }
            Op::DaBigRead(t, l, n) => ios.extend(das[t as usize].read(&mut r.xpt, l, n).ok()),
            Op::RawTagged(t, k) => {
                let a = DevAddr::new(r.bus, t, 0);
                let mut ccb = Ccb::scsi_io(
                    a.path(),
                    Cdb::new(&crate::scsi_cmd::tur()).unwrap(),
                    DataXfer::None,
                    Duration::from_secs(2),
                );
                ccb.h.tag_action = [
                    crate::ccb::TagAction::Ordered,
                    crate::ccb::TagAction::HeadOfQueue,
                    crate::ccb::TagAction::Simple,
                ][k as usize];
                let rd = raw_done.clone();
                let id = r.xpt.submit_cb(ccb, move |x, c| {
                    *rd.borrow_mut().entry(c.h.id).or_default() += 1;
                    if c.h.status.has(crate::status::CAM_DEV_QFRZN) {
                        x.release_devq(a, 1).expect("owner's freeze is present");
                    }
                });
                raws.push(id);
            }
            Op::CdRead(l, n) => ios.extend(cd.read(&mut r.xpt, l, n).ok()),
            Op::CdChange => r.mock.borrow_mut().cd_insert(4, 100),
            Op::CdCapacity => ios.extend(cd.read_capacity(&mut r.xpt).ok()),
            Op::TapeSpace(n) => ios.extend(sa.space_blocks(&mut r.xpt, n as i32).ok()),
            Op::TapeLocate(b) => ios.extend(sa.locate(&mut r.xpt, b as u32).ok()),
            Op::AbortRecent(n) => {
                let victim = CcbId(r.xpt.stats().submitted.saturating_sub(n));
                let c = Ccb::new(
                    r.addr(0).path(),
                    CcbBody::Abort(crate::ccb::Abort { abort_ccb: victim }),
                );
                r.xpt.submit(c, Completion::Callback(Box::new(|_, _| {})));
            }
            Op::Abort(i) => {
                if let Some(id) = raws.get(i) {
                    let c = Ccb::new(
                        r.addr(0).path(),
                        CcbBody::Abort(crate::ccb::Abort { abort_ccb: *id }),
                    );
                    r.xpt.submit(c, Completion::Callback(Box::new(|_, _| {})));
                }
            }
        }
    }
    // Quiesce: release our own freezes, let timers (app freezes, RELSIM) and the SIM run out.
    for (t, n) in my_dev.iter().enumerate() {
        if *n > 0 {
            r.xpt.release_devq(r.addr(t as u32), *n).unwrap();
        }
    }
    if my_sim > 0 {
        r.xpt.release_simq(r.bus, my_sim).unwrap();
    }
    r.mock.borrow_mut().rules.clear();
    r.xpt.run_until_quiescent(100_000);

    // Every request and raw CCB completed exactly once.
    for io in &ios {
        prop_assert!(
            r.xpt.take_io(*io).is_some(),
            "request {:?} never completed",
            io
        );
    }
    prop_assert_eq!(r.xpt.stats().duplicate_io_results, 0);
    // Split requests completed once, as a whole: nothing is left gathering.
    prop_assert!(r.xpt.splits.is_empty());
    for id in &raws {
        prop_assert_eq!(
            raw_done.borrow().get(id).copied(),
            Some(1),
            "raw CCB {:?}",
            id
        );
    }
    prop_assert!(
        !r.xpt.log().iter().any(|l| matches!(
            l,
            XptLog::SpuriousDone { .. } | XptLog::ReleaseUnderflow { .. }
        )),
        "{:?}",
        r.xpt.log()
    );
    // Freeze counts back to zero, nothing outstanding, no normal CCB into a frozen queue.
    r.assert_quiescent();
    prop_assert_eq!(r.mock.borrow().in_flight(), 0);
    // Tape data commands reach the adapter at most once per request.
    let mut seen = HashSet::new();
    for i in r.mock.borrow().issued.iter().filter(|i| i.addr.target == 3) {
        if matches!(
            i.cdb.first(),
            Some(&op::READ_6)
                | Some(&op::WRITE_6)
                | Some(&op::WRITE_FILEMARKS_6)
                | Some(&op::SPACE_6)
                | Some(&op::LOCATE_10)
                | Some(&op::ERASE_6)
        ) {
            prop_assert!(seen.insert(i.io), "tape request {} re-issued", i.io);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_interleavings_keep_the_invariants(ops in proptest::collection::vec(op_strategy(), 1..60), latency in 0u64..3) {
        run(ops, latency)?;
    }
}
