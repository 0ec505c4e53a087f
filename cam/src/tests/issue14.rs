//! Issue 14: maxio splitting, XPT_ABORT of queued CCBs, paced requeues, per-command
//! recovery facts, sequential LUN scan, START UNIT for NOT READY, the new function codes,
//! tag ordering, priority versus error freezes, quirks, devstat.

use super::*;
use crate::ccb::*;
use crate::path::Path;
use crate::status::{CamStatus, Errno, CAM_DEV_QFRZN};
use crate::testing::Fault;
use crate::xpt::{Completion, XptLog};
use scsi_defs::{opcode as op, sense_key as sk};
use std::time::Duration;

fn tur_ccb(a: DevAddr) -> Ccb {
    Ccb::scsi_io(
        a.path(),
        Cdb::new(&crate::scsi_cmd::tur()).unwrap(),
        DataXfer::None,
        Duration::from_secs(5),
    )
}

fn reads(r: &Rig) -> Vec<(u64, u32)> {
    r.mock
        .borrow()
        .issued
        .iter()
        .filter_map(|i| crate::scsi_cmd::decode_rw(&i.cdb))
        .filter(|(w, _, _)| !*w)
        .map(|(_, l, n)| (l, n))
        .collect()
}

// ------------------------------------------------------------------ maxio split

#[test]
fn da_splits_a_2mib_read_at_maxio_and_completes_once() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(8192, 512))]);
    r.scan();
    let da = r.da(0);
    assert_eq!(r.xpt.bus_maxio(r.bus), Some(1 << 20));
    // Write a pattern (split too), then read it back.
    let data: Vec<u8> = (0..4096 * 512).map(|i| (i / 512) as u8).collect();
    let io = da.write(&mut r.xpt, 100, data.clone()).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    r.mock.borrow_mut().issued.clear();
    let io = da.read(&mut r.xpt, 100, 4096).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert!(res.is_ok(), "{res:?}");
    assert_eq!(res.status.buf.requested, 2 << 20);
    assert_eq!(res.status.buf.resid, 0);
    assert!(res.data == data, "data comes back whole and in order");
    assert_eq!(
        reads(&r),
        vec![(100, 2048), (2148, 2048)],
        "two READs of 1 MiB"
    );
    // Exactly once: the result was taken, nothing else arrives.
    r.xpt.run_until_quiescent(100);
    assert_eq!(r.xpt.take_io(io), None);
    assert_eq!(r.xpt.stats().duplicate_io_results, 0);
    assert!(r.xpt.splits.is_empty());
    r.assert_quiescent();
}

#[test]
fn split_read_fails_as_a_whole_when_one_part_fails() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(8192, 512))]);
    r.scan();
    let da = r.da(0);
    r.mock.borrow_mut().maxio = 64 * 512;
    // Re-learn maxio the way a SIM announces it: a PATH_INQ.
    r.xpt.path_inq(r.bus).unwrap();
    // The second part (LBA 64) keeps failing with a medium error until its retries run out.
    let medium = Fault::Check {
        key: sk::MEDIUM_ERROR,
        asc: 0x11,
        ascq: 0,
    };
    r.mock.borrow_mut().rule_lba(0, 64, medium, 100);
    let io = da.read(&mut r.xpt, 0, 192).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.status.errno, Errno::Eio);
    assert_eq!(res.status.buf.requested, 192 * 512);
    assert!(res.status.buf.resid > 0);
    assert_eq!(
        res.status.buf.transferred(),
        64 * 512,
        "the part before the failure"
    );
    assert_eq!(res.data.len(), 64 * 512);
    assert_eq!(reads(&r).iter().filter(|x| x.0 == 128).count(), 1);
    r.xpt.run_until_quiescent(100);
    assert_eq!(r.xpt.take_io(io), None);
    assert_eq!(r.xpt.stats().duplicate_io_results, 0);
    r.mock.borrow_mut().lba_rules.clear();
    r.assert_quiescent();
}

#[test]
fn unsplit_transfer_over_maxio_is_refused_by_the_sim() {
    // What the split protects against: the mock SIM refuses more than maxio at once.
    let mut r = rig(vec![(0, 0, MockDevice::disk(8192, 512))]);
    r.scan();
    let p = r.pass(0);
    let cdb = crate::scsi_cmd::read_write(false, 0, 4096, 10).unwrap();
    let io = p
        .command(
            &mut r.xpt,
            &cdb,
            crate::periph::pass::PassData::In(2 << 20),
            Duration::from_secs(10),
            false,
        )
        .unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.status.cam.status(), CamStatus::ReqTooBig);
    r.assert_quiescent();
}

// ------------------------------------------------------------------ XPT_ABORT

#[test]
fn abort_of_queued_ccb_completes_aborted_with_devq_frozen() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(10, 512))]);
    r.scan();
    let a = r.addr(0);
    r.xpt.freeze_devq(a, 1).unwrap();
    let victim = r.xpt.submit(tur_ccb(a), Completion::Queue);
    let behind = r.xpt.submit(tur_ccb(a), Completion::Queue);
    let ab = r.xpt.submit(
        Ccb::new(a.path(), CcbBody::Abort(Abort { abort_ccb: victim })),
        Completion::Queue,
    );
    r.xpt.run_until_idle();
    let done = r.xpt.take_completed();
    assert_eq!(done.len(), 2);
    assert_eq!(done[0].h.id, victim);
    assert_eq!(done[0].h.status.status(), CamStatus::ReqAborted);
    assert!(done[0].h.status.has(CAM_DEV_QFRZN));
    assert_eq!(done[1].h.id, ab);
    assert_eq!(r.xpt.devq_frozen(a), 2);
    // Our own freeze released: the abort's freeze still holds the CCB behind the victim.
    r.xpt.release_devq(a, 1).unwrap();
    r.xpt.run_until_idle();
    assert!(
        r.xpt.take_completed().is_empty(),
        "held until the owner releases"
    );
    r.xpt.release_devq(a, 1).unwrap();
    r.xpt.run_until_idle();
    let done = r.xpt.take_completed();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].h.id, behind);
    r.assert_quiescent();
}

#[test]
fn abort_of_a_periph_request_queued_in_the_xpt_releases_through_the_periph() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(64, 512))]);
    r.scan();
    let da = r.da(0);
    let a = r.addr(0);
    r.xpt.freeze_devq(a, 1).unwrap();
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    r.xpt.run_until_idle();
    // The periph's CCB is the newest one; abort it.
    let victim = CcbId(r.xpt.stats().submitted);
    r.xpt.submit(
        Ccb::new(a.path(), CcbBody::Abort(Abort { abort_ccb: victim })),
        Completion::Queue,
    );
    r.xpt.run_until_idle();
    let res = r.xpt.take_io(io).expect("aborted request completes");
    assert_eq!(res.status.cam.status(), CamStatus::ReqAborted);
    assert_eq!(res.status.errno, Errno::Eio);
    // The periph released the abort's freeze; ours remains.
    assert_eq!(r.xpt.devq_frozen(a), 1);
    r.xpt.release_devq(a, 1).unwrap();
    r.xpt.take_completed();
    r.assert_quiescent();
}

// ------------------------------------------------------------------ requeue pacing

#[test]
fn requeue_is_paced_on_the_clock() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(10, 512))]);
    r.mock.borrow_mut().rule(Some(0), None, Fault::TurnBack, 5);
    let t0 = r.xpt.now();
    let id = r.xpt.submit(tur_ccb(r.addr(0)), Completion::Queue);
    r.xpt.run_until_idle();
    // Without time passing, only the first attempt was made.
    assert_eq!(r.mock.borrow().rules[0].times, 4, "no tight loop");
    assert!(r.xpt.take_completed().is_empty());
    let waits = r.xpt.run_until_quiescent(1000);
    assert!(waits >= 5, "each retry waited for the clock");
    let done = r.xpt.take_completed();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].h.id, id);
    assert!(done[0].h.status.is_ok(), "the paced requeues finish");
    let want: Duration = (1..=5).map(crate::xpt::requeue_backoff).sum();
    assert!(r.xpt.now().since(t0) >= want);
    assert_eq!(
        r.xpt
            .log()
            .iter()
            .filter(|l| matches!(l, XptLog::RequeuedNeverIssued { .. }))
            .count(),
        5
    );
    r.assert_quiescent();
}

#[test]
fn requeue_backoff_doubles_and_is_capped() {
    use crate::xpt::{requeue_backoff, REQUEUE_BACKOFF_BASE, REQUEUE_BACKOFF_MAX};
    assert_eq!(requeue_backoff(1), REQUEUE_BACKOFF_BASE);
    assert_eq!(requeue_backoff(2), REQUEUE_BACKOFF_BASE * 2);
    assert_eq!(requeue_backoff(3), REQUEUE_BACKOFF_BASE * 4);
    assert_eq!(requeue_backoff(64), REQUEUE_BACKOFF_MAX);
    assert_eq!(requeue_backoff(u32::MAX), REQUEUE_BACKOFF_MAX);
}

#[test]
fn paced_da_read_against_a_turning_back_sim_finishes_in_bounded_calls() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(64, 512))]);
    r.scan();
    let da = r.da(0);
    r.mock
        .borrow_mut()
        .rule(Some(0), None, Fault::TurnBack, 100_000);
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert!(!res.is_ok());
    let used = 100_000 - r.mock.borrow().rules[0].times;
    // The XPT's bounded requeues, times the periph's bystander budget, plus its own try.
    let bound = (crate::xpt::XPT_REQUEUE_LIMIT + 1) * (crate::recovery::BYSTANDER_LIMIT + 1);
    assert!(used <= bound, "{used} SIM calls");
    r.mock.borrow_mut().rules.clear();
    r.assert_quiescent();
}

// ------------------------------------------------------------------ gauntlet merge

#[test]
fn timeout_merged_into_a_running_recovery_still_gets_a_bdr_before_retry() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(64, 512))]);
    r.scan();
    let da = r.da(0);
    assert!(
        r.xpt.dev_openings(r.addr(0)).unwrap() > 1,
        "tagged: both at the target"
    );
    da.set_timeout(&mut r.xpt, Duration::from_secs(20)).unwrap();
    {
        let mut m = r.mock.borrow_mut();
        // A: NOT READY, initializing command required -> START UNIT recovery (cleanly off).
        m.rule_lba(
            0,
            0,
            Fault::Check {
                key: sk::NOT_READY,
                asc: 4,
                ascq: 2,
            },
            1,
        );
        // B: lost on the target; it times out (20 s) while A's recovery runs.
        m.rule_lba(0, 1, Fault::Lose, 1);
        // The START UNIT takes 40 s.
        m.rule(
            Some(0),
            Some(op::START_STOP_UNIT),
            Fault::Slow(Duration::from_secs(40)),
            1,
        );
    }
    // B first, so both are at the target before A's error freezes the queue.
    let b = da.read(&mut r.xpt, 1, 1).unwrap();
    let a = da.read(&mut r.xpt, 0, 1).unwrap();
    // At 25 s: B timed out and joined A's recovery, each with its own facts.
    r.xpt.run_until_idle();
    r.clock.advance(Duration::from_secs(25));
    r.xpt.run_until_idle();
    let info = r.xpt.periph_recovery(da.0).expect("recovering");
    use crate::recovery::Recovery;
    let facts: Vec<_> = info
        .victims
        .iter()
        .map(|v| (v.io, v.kind, v.cleanly_off))
        .collect();
    assert_eq!(
        facts,
        vec![(a, Recovery::StartUnit, true), (b, Recovery::Reset, false)]
    );
    assert!(info.reset_due);
    assert!(r.xpt.wait_io(a).unwrap().is_ok());
    assert!(r.xpt.wait_io(b).unwrap().is_ok());
    let seq: Vec<Vec<u8>> = r
        .mock
        .borrow()
        .issued
        .iter()
        .map(|i| i.cdb.clone())
        .collect();
    let start = seq
        .iter()
        .position(|c| c.first() == Some(&op::START_STOP_UNIT))
        .expect("START UNIT sent");
    let b_retry = seq
        .iter()
        .rposition(|c| crate::scsi_cmd::decode_rw(c).is_some_and(|x| x.1 == 1))
        .unwrap();
    assert!(
        seq[start..b_retry].iter().any(|c| c.is_empty()),
        "a BUS DEVICE RESET between the recovery and B's retry: {seq:?}"
    );
    assert_eq!(r.xpt.gauntlet(r.bus).unwrap().completed, 1, "one recovery");
    r.assert_quiescent();
}

// ------------------------------------------------------------------ NOT READY -> START UNIT

#[test]
fn not_ready_init_required_starts_the_unit_with_its_own_long_timeout() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(64, 512))]);
    r.scan();
    let da = r.da(0);
    {
        let mut m = r.mock.borrow_mut();
        m.rule(
            Some(0),
            Some(op::READ_6),
            Fault::Check {
                key: sk::NOT_READY,
                asc: 4,
                ascq: 2,
            },
            1,
        );
        // A slow spin-up: 40 s, longer than an ordinary recovery command's 30 s.
        m.rule(
            Some(0),
            Some(op::START_STOP_UNIT),
            Fault::Slow(Duration::from_secs(40)),
            1,
        );
    }
    let t0 = r.xpt.now();
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert!(res.is_ok(), "{res:?}");
    assert!(r.xpt.now().since(t0) >= Duration::from_secs(40));
    let starts: Vec<Vec<u8>> = r
        .mock
        .borrow()
        .issued
        .iter()
        .filter(|i| i.cdb.first() == Some(&op::START_STOP_UNIT))
        .map(|i| i.cdb.clone())
        .collect();
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0][4] & 1, 1, "START");
    assert_eq!(
        starts[0][1] & 1,
        0,
        "IMMED clear: ends when the unit is ready"
    );
    assert_eq!(crate::periph::START_UNIT_TIMEOUT, Duration::from_secs(50));
    r.assert_quiescent();
}

#[test]
fn start_unit_then_becoming_ready_waits_for_ready() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(64, 512))]);
    r.scan();
    let da = r.da(0);
    {
        let mut m = r.mock.borrow_mut();
        m.rule(
            Some(0),
            Some(op::READ_6),
            Fault::Check {
                key: sk::NOT_READY,
                asc: 4,
                ascq: 2,
            },
            1,
        );
        // After the START, the retried READ sees "becoming ready" once: TUR polling.
        m.rule(
            Some(0),
            Some(op::READ_6),
            Fault::Check {
                key: sk::NOT_READY,
                asc: 4,
                ascq: 1,
            },
            1,
        );
    }
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    let ops: Vec<u8> = r
        .mock
        .borrow()
        .issued
        .iter()
        .rev()
        .take(5)
        .map(|i| i.cdb[0])
        .rev()
        .collect();
    assert_eq!(
        ops,
        vec![
            op::READ_6,
            op::START_STOP_UNIT,
            op::READ_6,
            op::TEST_UNIT_READY,
            op::READ_6
        ]
    );
    r.assert_quiescent();
}

// ------------------------------------------------------------------ sequential LUN scan

fn inquiries(r: &Rig, t: u32) -> Vec<u64> {
    r.mock
        .borrow()
        .issued
        .iter()
        .filter(|i| i.addr.target == t && i.cdb.first() == Some(&op::INQUIRY) && i.cdb[1] & 1 == 0)
        .map(|i| i.addr.lun)
        .collect()
}

fn scsi2_disk() -> MockDevice {
    let mut d = MockDevice::disk(64, 512);
    d.version = 2;
    d
}

#[test]
fn scsi2_device_luns_are_scanned_sequentially_until_one_is_missing() {
    let mut r = rig(vec![
        (2, 0, scsi2_disk()),
        (2, 1, scsi2_disk()),
        (2, 2, scsi2_disk()),
        (2, 5, scsi2_disk()),
    ]);
    r.scan();
    let found: Vec<u64> = r
        .xpt
        .devices()
        .iter()
        .filter(|d| d.addr.target == 2)
        .map(|d| d.addr.lun)
        .collect();
    assert_eq!(
        found,
        vec![0, 1, 2],
        "LUN 5 is behind a gap (no sparse-LUN quirk)"
    );
    assert_eq!(
        inquiries(&r, 2),
        vec![0, 1, 2, 3],
        "stopped at the missing LUN 3"
    );
    assert!(
        !r.mock
            .borrow()
            .issued
            .iter()
            .any(|i| i.cdb.first() == Some(&op::REPORT_LUNS)),
        "SCSI-2: no REPORT LUNS"
    );
    assert!(DaHandle::for_device(&r.xpt, DevAddr::new(r.bus, 2, 2)).is_some());
    r.assert_quiescent();
}

#[test]
fn failed_report_luns_falls_back_to_a_sequential_scan() {
    let mut r = rig(vec![
        (1, 0, MockDevice::disk(64, 512)),
        (1, 1, MockDevice::disk(64, 512)),
    ]);
    r.mock.borrow_mut().rule(
        Some(1),
        Some(op::REPORT_LUNS),
        Fault::Check {
            key: sk::ILLEGAL_REQUEST,
            asc: 0x20,
            ascq: 0,
        },
        1,
    );
    r.scan();
    let found: Vec<u64> = r.xpt.devices().iter().map(|d| d.addr.lun).collect();
    assert_eq!(found, vec![0, 1]);
    assert_eq!(inquiries(&r, 1), vec![0, 1, 2]);
    r.assert_quiescent();
}

#[test]
fn scan_lun_ccb_probes_one_lun_and_completes_when_done() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(64, 512))]);
    r.scan();
    // A LUN appears later (LUN 3, not reachable by a sequential scan from LUN 0's gap).
    r.mock.borrow_mut().add(0, 3, MockDevice::disk(32, 512));
    let id = r.xpt.submit(
        Ccb::new(Path::device(r.bus, 0, 3), CcbBody::ScanLun),
        Completion::Queue,
    );
    r.xpt.run_until_quiescent(100);
    let done = r.xpt.take_completed();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].h.id, id);
    assert!(done[0].h.status.is_ok());
    assert_eq!(done[0].func_code(), FuncCode::ScanLun);
    let addr = DevAddr::new(r.bus, 0, 3);
    assert!(r.xpt.devices().iter().any(|d| d.addr == addr));
    assert_eq!(
        r.xpt.dev_openings(addr),
        r.xpt.dev_openings(r.addr(0)),
        "the target's negotiated (tagged) settings apply to the new LUN"
    );
    assert!(DaHandle::for_device(&r.xpt, addr).is_some());
    // LUN 0 was not touched by the LUN scan and is not declared lost.
    assert!(!r.xpt.devices().iter().any(|d| d.lost));
    // XPT_SCAN_BUS as a CCB as well.
    let id = r.xpt.submit(
        Ccb::new(Path::bus(r.bus), CcbBody::ScanBus),
        Completion::Queue,
    );
    r.xpt.run_until_quiescent(100);
    let done = r.xpt.take_completed();
    assert_eq!(done.len(), 1);
    assert_eq!((done[0].h.id, done[0].h.status.is_ok()), (id, true));
    r.assert_quiescent();
}

// ------------------------------------------------------------------ function codes

#[test]
fn gdev_type_gdevlist_dev_match_and_gdev_stats() {
    let mut r = rig(vec![
        (0, 0, MockDevice::disk(64, 512)),
        (3, 0, MockDevice::tape()),
    ]);
    r.scan();
    let da = r.da(0);
    let a = r.addr(0);
    let run = |r: &mut Rig, c: Ccb| {
        r.xpt.submit(c, Completion::Queue);
        r.xpt.run_until_idle();
        r.xpt.take_completed().pop().unwrap()
    };
    // XPT_GDEV_TYPE.
    let c = run(
        &mut r,
        Ccb::new(a.path(), CcbBody::GdevType(Default::default())),
    );
    let CcbBody::GdevType(g) = &c.body else {
        panic!()
    };
    assert!(c.h.status.is_ok());
    assert_eq!(g.inquiry.as_ref().unwrap().product, "DISK");
    assert_eq!(g.serial.as_deref(), Some("DISK0001"));
    let p5 = Path::device(r.bus, 5, 0);
    let c = run(&mut r, Ccb::new(p5, CcbBody::GdevType(Default::default())));
    assert_eq!(c.h.status.status(), CamStatus::DevNotThere);
    // XPT_GDEVLIST: "da0" then "pass0", walking the index.
    let mut names = Vec::new();
    let mut idx = 0;
    loop {
        let c = run(
            &mut r,
            Ccb::new(
                a.path(),
                CcbBody::GdevList(GetDevList {
                    index: idx,
                    ..Default::default()
                }),
            ),
        );
        let CcbBody::GdevList(g) = c.body else {
            panic!()
        };
        names.push(format!("{}{}", g.periph_name, g.unit_number));
        if g.status != GdevListStatus::MoreDevs {
            assert_eq!(g.status, GdevListStatus::LastDevice);
            break;
        }
        idx += 1;
    }
    assert_eq!(names, vec!["da0", "pass0"]);
    // XPT_DEV_MATCH: everything, then only tapes.
    let c = run(
        &mut r,
        Ccb::new(Path::wildcard(), CcbBody::DevMatch(Default::default())),
    );
    let CcbBody::DevMatch(m) = &c.body else {
        panic!()
    };
    let periphs: Vec<String> = m
        .matches
        .iter()
        .filter_map(|x| match x {
            DevMatchResult::Periph { name, unit, .. } => Some(format!("{name}{unit}")),
            _ => None,
        })
        .collect();
    assert_eq!(periphs, vec!["da0", "pass0", "sa0", "pass1"]);
    let mut pat = DevMatchPattern::path(Path::wildcard());
    pat.periph_name = Some("sa".into());
    let c = run(
        &mut r,
        Ccb::new(
            Path::wildcard(),
            CcbBody::DevMatch(DevMatch {
                patterns: vec![pat],
                matches: vec![],
            }),
        ),
    );
    let CcbBody::DevMatch(m) = &c.body else {
        panic!()
    };
    assert!(matches!(m.matches[0], DevMatchResult::Device { addr, .. } if addr == r.addr(3)));
    assert_eq!(m.matches.len(), 3);
    // XPT_GDEV_STATS with devstat: one read of 4 blocks, one failed read.
    let before = r.xpt.dev_stats(a).unwrap();
    let io = da.read(&mut r.xpt, 0, 4).unwrap();
    r.xpt.wait_io(io).unwrap();
    r.mock.borrow_mut().rule(
        Some(0),
        Some(op::READ_6),
        Fault::Check {
            key: sk::DATA_PROTECT,
            asc: 0x27,
            ascq: 0,
        },
        1,
    );
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    r.xpt.wait_io(io).unwrap();
    let c = run(
        &mut r,
        Ccb::new(a.path(), CcbBody::GdevStats(Default::default())),
    );
    let CcbBody::GdevStats(g) = &c.body else {
        panic!()
    };
    assert!(c.h.status.is_ok());
    assert_eq!(g.dev_openings, r.xpt.dev_openings(a).unwrap());
    assert_eq!(g.dev_active, 0);
    assert_eq!(g.devstat.reads - before.reads, 2);
    assert_eq!(g.devstat.bytes_read - before.bytes_read, 4 * 512);
    assert_eq!(g.devstat.errors - before.errors, 1);
    assert_eq!(g.devstat.latency_hist.iter().sum::<u64>(), g.devstat.ops());
    r.assert_quiescent();
}

#[test]
fn represented_function_codes_answer_func_notavail_and_term_io_goes_to_the_sim() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(64, 512))]);
    r.scan();
    let a = r.addr(0);
    for (body, fc) in [
        (CcbBody::SdevType, func::XPT_SDEV_TYPE),
        (CcbBody::Debug, func::XPT_DEBUG),
        (CcbBody::PathStats, func::XPT_PATH_STATS),
    ] {
        let c = Ccb::new(a.path(), body);
        assert_eq!(c.func_code() as u32, fc);
        r.xpt.submit(c, Completion::Queue);
        r.xpt.run_until_idle();
        let d = r.xpt.take_completed().pop().unwrap();
        assert_eq!(d.h.status.status(), CamStatus::FuncNotavail);
    }
    let c = Ccb::new(
        a.path(),
        CcbBody::TermIo(Abort {
            abort_ccb: CcbId(1),
        }),
    );
    assert_eq!(c.func_code() as u32, func::XPT_TERM_IO);
    r.xpt.submit(c, Completion::Queue);
    r.xpt.run_until_idle();
    // The mock SIM does not implement it: its answer, not the XPT's, comes back.
    let d = r.xpt.take_completed().pop().unwrap();
    assert_eq!(d.h.status.status(), CamStatus::ReqInvalid);
    r.assert_quiescent();
}

// ------------------------------------------------------------------ tags and classes

fn tagged(a: DevAddr, t: TagAction) -> Ccb {
    let mut c = tur_ccb(a);
    c.h.tag_action = t;
    c
}

fn issued_ids(r: &Rig) -> Vec<CcbId> {
    r.mock.borrow().issued.iter().map(|i| i.id).collect()
}

#[test]
fn ordered_tag_is_a_barrier_in_the_xpt() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(64, 512))]);
    r.scan();
    let a = r.addr(0);
    assert!(r.xpt.dev_openings(a).unwrap() >= 4);
    r.mock.borrow_mut().latency = Duration::from_millis(1);
    r.mock.borrow_mut().issued.clear();
    let s1 = r
        .xpt
        .submit(tagged(a, TagAction::Simple), Completion::Queue);
    let o = r
        .xpt
        .submit(tagged(a, TagAction::Ordered), Completion::Queue);
    let s2 = r
        .xpt
        .submit(tagged(a, TagAction::Simple), Completion::Queue);
    // Later and more urgent, still behind the ORDERED one.
    let mut urgent = tagged(a, TagAction::Simple);
    urgent.h.priority = priority::CAM_PRIORITY_DEV;
    let s3 = r.xpt.submit(urgent, Completion::Queue);
    r.xpt.run_until_idle();
    assert_eq!(
        issued_ids(&r),
        vec![s1, o],
        "nothing after the ORDERED one goes before it completes"
    );
    r.clock.advance(Duration::from_millis(1));
    r.xpt.run_until_idle();
    assert_eq!(issued_ids(&r), vec![s1, o, s3, s2]);
    r.xpt.run_until_quiescent(10);
    assert_eq!(r.xpt.take_completed().len(), 4);
    r.assert_quiescent();
}

#[test]
fn ordered_tag_queued_behind_a_freeze_is_not_overtaken() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(64, 512))]);
    r.scan();
    let a = r.addr(0);
    r.mock.borrow_mut().issued.clear();
    r.xpt.freeze_devq(a, 1).unwrap();
    let mut low = tagged(a, TagAction::Ordered);
    low.h.priority = priority::CAM_PRIORITY_NORMAL + 10;
    let o = r.xpt.submit(low, Completion::Queue);
    let mut hi = tagged(a, TagAction::Simple);
    hi.h.priority = priority::CAM_PRIORITY_DEV;
    let s = r.xpt.submit(hi, Completion::Queue);
    r.xpt.release_devq(a, 1).unwrap();
    r.xpt.run_until_idle();
    assert_eq!(issued_ids(&r), vec![o, s]);
    r.xpt.take_completed();
    r.assert_quiescent();
}

#[test]
fn head_of_queue_goes_first_and_passes_an_ordered_barrier() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(64, 512))]);
    r.scan();
    let a = r.addr(0);
    r.mock.borrow_mut().issued.clear();
    r.xpt.freeze_devq(a, 1).unwrap();
    let s1 = r
        .xpt
        .submit(tagged(a, TagAction::Simple), Completion::Queue);
    let s2 = r
        .xpt
        .submit(tagged(a, TagAction::Simple), Completion::Queue);
    let h = r
        .xpt
        .submit(tagged(a, TagAction::HeadOfQueue), Completion::Queue);
    r.xpt.release_devq(a, 1).unwrap();
    r.xpt.run_until_idle();
    assert_eq!(issued_ids(&r), vec![h, s1, s2]);
    // With an ORDERED one at the SIM, a HEAD OF QUEUE one still goes at once.
    r.mock.borrow_mut().latency = Duration::from_millis(1);
    r.mock.borrow_mut().issued.clear();
    let o = r
        .xpt
        .submit(tagged(a, TagAction::Ordered), Completion::Queue);
    r.xpt.run_until_idle();
    let s = r
        .xpt
        .submit(tagged(a, TagAction::Simple), Completion::Queue);
    let h = r
        .xpt
        .submit(tagged(a, TagAction::HeadOfQueue), Completion::Queue);
    r.xpt.run_until_idle();
    assert_eq!(issued_ids(&r), vec![o, h]);
    r.xpt.run_until_quiescent(10);
    assert_eq!(issued_ids(&r), vec![o, h, s]);
    r.xpt.take_completed();
    r.assert_quiescent();
}

#[test]
fn priority_passes_a_simq_freeze_but_not_a_devq_error_freeze() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(64, 512))]);
    r.scan();
    let a = r.addr(0);
    // A failed command leaves its devq error-frozen until its owner has looked.
    r.mock.borrow_mut().rule(
        Some(0),
        Some(op::TEST_UNIT_READY),
        Fault::Status(CamStatus::CmdTimeout),
        1,
    );
    let failed = r.xpt.submit(tur_ccb(a), Completion::Queue);
    r.xpt.run_until_idle();
    let d = r.xpt.take_completed();
    assert_eq!(d[0].h.id, failed);
    assert!(d[0].h.status.has(CAM_DEV_QFRZN));
    r.mock.borrow_mut().issued.clear();
    let mut p = tur_ccb(a);
    p.h.class = DispatchClass::Priority;
    let p = r.xpt.submit(p, Completion::Queue);
    r.xpt.run_until_idle();
    assert!(
        issued_ids(&r).is_empty(),
        "no overtaking a periph examining an error"
    );
    // A recovery CCB does pass (the owner's own recovery).
    let mut q = tur_ccb(a);
    q.h.class = DispatchClass::Recovery;
    let q = r.xpt.submit(q, Completion::Queue);
    r.xpt.run_until_idle();
    assert_eq!(issued_ids(&r), vec![q]);
    // The owner releases its freeze: the priority CCB goes.
    r.xpt.release_devq(a, 1).unwrap();
    r.xpt.run_until_idle();
    assert_eq!(issued_ids(&r), vec![q, p]);
    // Seed 004 unchanged: priority passes a frozen SIM queue.
    r.xpt.freeze_simq(r.bus, 1).unwrap();
    let mut p2 = tur_ccb(a);
    p2.h.class = DispatchClass::Priority;
    let p2 = r.xpt.submit(p2, Completion::Queue);
    r.xpt.run_until_idle();
    assert_eq!(issued_ids(&r), vec![q, p, p2]);
    r.xpt.release_simq(r.bus, 1).unwrap();
    r.xpt.take_completed();
    assert_eq!(r.xpt.stats().frozen_violations, 0);
    r.assert_quiescent();
}

// ------------------------------------------------------------------ quirks

use crate::quirks::{glob, QuirkEntry, Quirks};

fn quirk_rig(q: Quirks, devs: Vec<(u32, u64, MockDevice)>) -> Rig {
    let mut r = rig(devs);
    r.xpt.add_quirk(QuirkEntry::new("MOCK", "DISK*", "00??", q));
    r.scan();
    r
}

#[test]
fn quirk_no_tags() {
    let r = quirk_rig(
        Quirks {
            no_tags: true,
            ..Default::default()
        },
        vec![(0, 0, MockDevice::disk(64, 512))],
    );
    let a = r.addr(0);
    assert_eq!(r.xpt.dev_openings(a), Some(1), "untagged openings");
    let d = r.xpt.devices().into_iter().find(|d| d.addr == a).unwrap();
    assert_eq!(d.tran.unwrap().tq_enb, Some(false));
    assert!(r.xpt.device_quirks(a).unwrap().no_tags);
    // Without the quirk the same device is tagged.
    let r2 = rig_scanned(vec![(0, 0, MockDevice::disk(64, 512))]);
    assert!(r2.xpt.dev_openings(a).unwrap() > 1);
}

fn rig_scanned(devs: Vec<(u32, u64, MockDevice)>) -> Rig {
    let mut r = rig(devs);
    r.scan();
    r
}

#[test]
fn quirk_max_tags() {
    let r = quirk_rig(
        Quirks {
            max_tags: Some(4),
            ..Default::default()
        },
        vec![(0, 0, MockDevice::disk(64, 512))],
    );
    assert_eq!(r.xpt.dev_openings(r.addr(0)), Some(4));
}

#[test]
fn quirk_no_6byte_commands() {
    let mut r = quirk_rig(
        Quirks {
            no_6byte: true,
            ..Default::default()
        },
        vec![(0, 0, MockDevice::disk(64, 512))],
    );
    let da = r.da(0);
    assert_eq!(da.min_cdb(&mut r.xpt), Some(10));
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    let last = r.mock.borrow().issued.last().unwrap().cdb[0];
    assert_eq!(last, op::READ_10);
}

#[test]
fn quirk_no_report_luns() {
    let r = quirk_rig(
        Quirks {
            no_report_luns: true,
            ..Default::default()
        },
        vec![
            (0, 0, MockDevice::disk(64, 512)),
            (0, 1, MockDevice::disk(64, 512)),
        ],
    );
    assert!(!r
        .mock
        .borrow()
        .issued
        .iter()
        .any(|i| i.cdb.first() == Some(&op::REPORT_LUNS)));
    let luns: Vec<u64> = r.xpt.devices().iter().map(|d| d.addr.lun).collect();
    assert_eq!(luns, vec![0, 1], "found by the sequential scan instead");
}

#[test]
fn quirk_no_luns_scans_lun_0_only() {
    let devs = || {
        let mut d = MockDevice::disk(64, 512);
        d.version = 2;
        vec![(0, 0, d.clone()), (0, 1, d)]
    };
    let r = quirk_rig(
        Quirks {
            no_luns: true,
            ..Default::default()
        },
        devs(),
    );
    let luns: Vec<u64> = r.xpt.devices().iter().map(|d| d.addr.lun).collect();
    assert_eq!(luns, vec![0]);
    assert!(r.mock.borrow().issued.iter().all(|i| i.addr.lun == 0));
    // Without the quirk the sequential scan finds LUN 1.
    let r = rig_scanned(devs());
    assert_eq!(r.xpt.devices().len(), 2);
}

/// SCSI-1 and SCSI-2 devices get the LUN in CDB byte 1 (bits 7-5) as well as in IDENTIFY,
/// for LUNs above 0, from the probe's first command on; newer devices never do.
#[test]
fn scsi2_devices_get_the_lun_in_cdb_byte_1() {
    for version in [1u8, 2, 3, 5] {
        let mut d = MockDevice::disk(0x20000, 512);
        d.version = version;
        let mut r = rig(vec![(0, 0, d.clone()), (0, 1, d.clone()), (0, 2, d)]);
        r.scan();
        assert_eq!(r.xpt.devices().len(), 3, "version {version}");
        let lun2 = DevAddr::new(r.bus, 0, 2);
        let (p, _) = r
            .xpt
            .periphs_of(lun2)
            .into_iter()
            .find(|(_, k)| *k == PeriphKind::Da)
            .unwrap();
        let da = DaHandle::new(&r.xpt, p).unwrap();
        let io = da.read_capacity(&mut r.xpt).unwrap();
        assert!(r.xpt.wait_io(io).unwrap().is_ok());
        let io = da.read(&mut r.xpt, 0x1_0005, 1).unwrap();
        assert!(r.xpt.wait_io(io).unwrap().is_ok());
        let issued = r.mock.borrow().issued.clone();
        assert!(issued
            .iter()
            .any(|i| i.addr.lun == 2 && i.cdb[0] == op::INQUIRY));
        for i in &issued {
            let want = if matches!(version, 1 | 2) {
                (i.addr.lun as u8) << 5
            } else {
                0
            };
            assert_eq!(i.cdb[1] & 0xE0, want, "version {version}: {i:?}");
        }
        let last = issued.last().unwrap();
        // READ(6): the LBA's top bits share byte 1 and are kept.
        let l = (last.addr.lun, last.cdb[0], last.cdb[1] & 0x1F, last.cdb[3]);
        assert_eq!(l, (2, op::READ_6, 1, 5));
        // A vendor-specific command (group 6) keeps its byte 1 as given.
        let cdb = Cdb::new(&[0xC1, 0x05, 0, 0, 0, 0]).unwrap();
        let c = Ccb::scsi_io(lun2.path(), cdb, DataXfer::None, Duration::from_secs(5));
        r.xpt.submit(c, Completion::Queue);
        r.xpt.run_until_quiescent(1000);
        let i = r.mock.borrow().issued.last().unwrap().clone();
        assert_eq!(
            (i.addr.lun, i.cdb[0], i.cdb[1]),
            (2, 0xC1, 0x05),
            "version {version}"
        );
    }
}

#[test]
fn quirk_entries_typed_by_a_user() {
    let e: QuirkEntry = "NEC/CD-ROM DRIVE:84*/*=no-luns, max-tags=4"
        .parse()
        .unwrap();
    assert_eq!(
        (e.vendor.as_str(), e.product.as_str()),
        ("NEC", "CD-ROM DRIVE:84*")
    );
    assert!(e.quirks.no_luns && e.quirks.max_tags == Some(4) && !e.quirks.no_tags);
    let e: QuirkEntry = "ACME/CD-R/RW 4x/1.0?=no-tags,no-6byte".parse().unwrap();
    assert_eq!(
        (e.product.as_str(), e.revision.as_str()),
        ("CD-R/RW 4x", "1.0?")
    );
    for bad in [
        "",
        "NEC",
        "NEC/X=no-luns",
        "NEC//*=no-luns",
        "NEC/X/*=",
        "NEC/X/*=no-lun",
        "NEC/X/*=max-tags=0",
        "NEC/X/*=max-tags=x",
    ] {
        assert!(bad.parse::<QuirkEntry>().is_err(), "{bad:?}");
    }
}

#[test]
fn quirk_start_unit_needed() {
    let r = quirk_rig(
        Quirks {
            start_unit: true,
            ..Default::default()
        },
        vec![(0, 0, MockDevice::disk(64, 512))],
    );
    let ops: Vec<u8> = r
        .mock
        .borrow()
        .issued
        .iter()
        .filter_map(|i| i.cdb.first().copied())
        .collect();
    let start = ops.iter().position(|o| *o == op::START_STOP_UNIT);
    let inq = ops.iter().position(|o| *o == op::INQUIRY);
    assert!(start.is_some() && start > inq, "{ops:?}");
    r.assert_quiescent();
    // No quirk, no START.
    let r2 = rig_scanned(vec![(0, 0, MockDevice::disk(64, 512))]);
    assert!(!r2
        .mock
        .borrow()
        .issued
        .iter()
        .any(|i| i.cdb.first() == Some(&op::START_STOP_UNIT)));
}

#[test]
fn quirk_patterns_and_lookup_order() {
    assert!(glob("ZIP*", "ZIP 100"));
    assert!(glob("?OCK", "MOCK"));
    assert!(glob("*", ""));
    assert!(glob("A*B*C", "AxxBxC"));
    assert!(!glob("A*B", "AxxC"));
    assert!(!glob("MOCK", "MOCKX"));
    let user = vec![QuirkEntry::new(
        "IOMEGA",
        "ZIP*",
        "*",
        Quirks {
            max_tags: Some(2),
            ..Default::default()
        },
    )];
    // User entries first, then the built-ins.
    assert_eq!(
        crate::quirks::lookup(&user, "IOMEGA", "ZIP 100", "D.13").max_tags,
        Some(2)
    );
    assert!(crate::quirks::lookup(&[], "IOMEGA", "ZIP 100", "D.13").no_6byte);
    assert_eq!(
        crate::quirks::lookup(&[], "MOCK", "DISK", "0001"),
        Quirks::default()
    );
}

// ------------------------------------------------------------------ cd

use crate::periph::cd::CdHandle;

fn cd_rig() -> (Rig, CdHandle) {
    let mut r = rig(vec![(4, 0, MockDevice::cdrom(1000, vec![0, 300]))]);
    r.scan();
    let cd = CdHandle::for_device(&r.xpt, r.addr(4)).expect("cd attached");
    assert_eq!(
        r.xpt
            .periphs_of(r.addr(4))
            .into_iter()
            .map(|p| p.1)
            .collect::<Vec<_>>(),
        vec![
            crate::periph::PeriphKind::Cd,
            crate::periph::PeriphKind::Pass
        ]
    );
    (r, cd)
}

fn ok(r: &mut Rig, io: crate::periph::IoId) -> crate::periph::IoResult {
    let res = r.xpt.wait_io(io).unwrap();
    assert!(res.is_ok(), "{res:?}");
    res
}

/// CHECK CONDITION with NO SENSE is "no error" to the sense tables (FreeBSD: SS_NOP), but
/// a block read or write that moved nothing still failed: `da` and `cd` report EIO on a
/// residual, as FreeBSD's dadone sets BIO_ERROR (campaign seeds 28, 735 and 937).
#[test]
fn da_and_cd_fail_a_transfer_that_moved_nothing_despite_no_sense() {
    let no_sense = Fault::Check {
        key: sk::NO_SENSE,
        asc: 0,
        ascq: 0,
    };
    let mut r = rig(vec![
        (0, 0, MockDevice::disk(1000, 512)),
        (4, 0, MockDevice::cdrom(1000, vec![0])),
    ]);
    r.scan();
    let da = r.da(0);
    r.mock.borrow_mut().rule_lba(0, 7, no_sense.clone(), 2);
    let io = da.write(&mut r.xpt, 7, vec![0xa5; 512]).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.status.errno, Errno::Eio, "{res:?}");
    let io = da.read(&mut r.xpt, 7, 1).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.status.errno, Errno::Eio, "{res:?}");
    assert!(res.data.is_empty());
    let cd = CdHandle::for_device(&r.xpt, r.addr(4)).expect("cd attached");
    let io = cd.read_capacity(&mut r.xpt).unwrap();
    ok(&mut r, io);
    r.mock.borrow_mut().rule_lba(4, 3, no_sense, 1);
    let io = cd.read(&mut r.xpt, 3, 1).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.status.errno, Errno::Eio, "{res:?}");
    r.xpt.run_until_quiescent(100);
    r.assert_quiescent();
}

#[test]
fn cd_reads_2048_byte_blocks_with_10_byte_commands_split_at_maxio() {
    let (mut r, cd) = cd_rig();
    assert_eq!(
        cd.read(&mut r.xpt, 0, 1),
        Err(crate::periph::PeriphError::NoCapacity)
    );
    let io = cd.read_capacity(&mut r.xpt).unwrap();
    ok(&mut r, io);
    let cap = cd.capacity(&mut r.xpt).unwrap();
    assert_eq!((cap.blocks(), cap.block_len), (1000, 2048));
    let io = cd.read(&mut r.xpt, 10, 2).unwrap();
    let res = ok(&mut r, io);
    assert_eq!(res.data.len(), 4096);
    assert!(res.data[..2048].iter().all(|b| *b == 10) && res.data[2048..].iter().all(|b| *b == 11));
    assert_eq!(r.mock.borrow().issued.last().unwrap().cdb[0], op::READ_10);
    // maxio of 4 blocks: a 10-block read goes as 3 commands, one result.
    r.mock.borrow_mut().maxio = 4 * 2048;
    r.xpt.path_inq(r.bus).unwrap();
    r.mock.borrow_mut().issued.clear();
    let io = cd.read(&mut r.xpt, 100, 10).unwrap();
    let res = ok(&mut r, io);
    assert_eq!(res.data.len(), 10 * 2048);
    assert_eq!(res.data[9 * 2048], 109);
    assert_eq!(reads(&r), vec![(100, 4), (104, 4), (108, 2)]);
    r.assert_quiescent();
}

#[test]
fn cd_read_toc_lba_and_msf() {
    let (mut r, cd) = cd_rig();
    let io = cd.read_toc(&mut r.xpt, false).unwrap();
    ok(&mut r, io);
    let toc = cd.toc(&mut r.xpt).unwrap();
    assert_eq!((toc.first_track, toc.last_track), (1, 2));
    let t: Vec<(u8, i64)> = toc.entries.iter().map(|e| (e.track, e.lba)).collect();
    assert_eq!(
        t,
        vec![(1, 0), (2, 300), (crate::scsi_cmd::TOC_LEADOUT, 1000)]
    );
    assert_eq!(toc.entries[0].control & 4, 4, "data track");
    let io = cd.read_toc(&mut r.xpt, true).unwrap();
    ok(&mut r, io);
    let msf = cd.toc(&mut r.xpt).unwrap();
    assert_eq!(
        msf.entries, toc.entries,
        "MSF converts back to the same LBAs"
    );
    r.assert_quiescent();
}

#[test]
fn cd_media_change_fails_the_read_and_forgets_the_capacity() {
    let (mut r, cd) = cd_rig();
    let io = cd.read_capacity(&mut r.xpt).unwrap();
    ok(&mut r, io);
    r.mock.borrow_mut().cd_insert(4, 500);
    let io = cd.read(&mut r.xpt, 0, 1).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.status.errno, Errno::Eio, "no data from another disc");
    assert_eq!(res.sense.unwrap().asc, 0x28);
    assert_eq!(cd.media_generation(&mut r.xpt), Some(1));
    assert_eq!(cd.capacity(&mut r.xpt), None);
    assert_eq!(
        cd.read(&mut r.xpt, 0, 1),
        Err(crate::periph::PeriphError::NoCapacity)
    );
    let io = cd.read_capacity(&mut r.xpt).unwrap();
    ok(&mut r, io);
    assert_eq!(cd.capacity(&mut r.xpt).unwrap().blocks(), 500);
    let io = cd.read(&mut r.xpt, 499, 1).unwrap();
    ok(&mut r, io);
    r.assert_quiescent();
}

#[test]
fn cd_no_medium() {
    let (mut r, cd) = cd_rig();
    r.mock.borrow_mut().cd_remove(4);
    let io = cd.tur(&mut r.xpt).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.status.errno, Errno::Enxio);
    assert_eq!(cd.no_medium(&mut r.xpt), Some(true));
    let io = cd.read_capacity(&mut r.xpt).unwrap();
    assert_eq!(r.xpt.wait_io(io).unwrap().status.errno, Errno::Enxio);
    assert_eq!(cd.capacity(&mut r.xpt), None);
    // Only one attempt each: medium not present is not retried.
    let n = r
        .mock
        .borrow()
        .issued
        .iter()
        .filter(|i| i.cdb[0] == op::READ_CAPACITY_10)
        .count();
    assert_eq!(n, 1);
    r.mock.borrow_mut().cd_insert(4, 100);
    let io = cd.read_capacity(&mut r.xpt).unwrap();
    ok(&mut r, io);
    assert_eq!(cd.no_medium(&mut r.xpt), Some(false));
    r.assert_quiescent();
}

#[test]
fn cd_prevent_allow_and_eject() {
    let (mut r, cd) = cd_rig();
    let io = cd.read_capacity(&mut r.xpt).unwrap();
    ok(&mut r, io);
    let io = cd.prevent_removal(&mut r.xpt, true).unwrap();
    ok(&mut r, io);
    assert_eq!(cd.removal_prevented(&mut r.xpt), Some(true));
    let io = cd.eject(&mut r.xpt).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.status.errno, Errno::Einval, "MEDIUM REMOVAL PREVENTED");
    assert_eq!(res.sense.unwrap().asc_ascq(), (0x53, 0x02));
    assert!(cd.capacity(&mut r.xpt).is_some(), "disc still in");
    let io = cd.prevent_removal(&mut r.xpt, false).unwrap();
    ok(&mut r, io);
    let io = cd.eject(&mut r.xpt).unwrap();
    ok(&mut r, io);
    let ss = r.mock.borrow().issued.last().unwrap().cdb.clone();
    assert_eq!((ss[0], ss[4]), (op::START_STOP_UNIT, 0x02), "LoEj, stop");
    assert_eq!(cd.no_medium(&mut r.xpt), Some(true));
    assert_eq!(cd.capacity(&mut r.xpt), None);
    let io = cd.load(&mut r.xpt).unwrap();
    ok(&mut r, io);
    let io = cd.read_capacity(&mut r.xpt).unwrap();
    ok(&mut r, io);
    r.assert_quiescent();
}

// ------------------------------------------------------------------ sa

use crate::testing::TapeObj;

fn tape_with(objs: Vec<TapeObj>) -> (Rig, crate::periph::sa::SaHandle) {
    let mut t = MockDevice::tape();
    t.kind = crate::testing::MockKind::Tape { objs, pos: 0 };
    let mut r = rig(vec![(3, 0, t)]);
    r.scan();
    let sa = r.sa(3);
    (r, sa)
}

fn blk(n: u8) -> TapeObj {
    TapeObj::Block(vec![n; 10])
}

#[test]
fn sa_space_blocks_filemarks_and_end_of_data() {
    let fm = TapeObj::Filemark;
    let (mut r, sa) = tape_with(vec![blk(0), blk(1), fm.clone(), blk(2), blk(3), fm, blk(4)]);
    let io = sa.space_blocks(&mut r.xpt, 1).unwrap();
    ok(&mut r, io);
    assert_eq!(sa.position(&mut r.xpt), Some(1));
    // Over a filemark: 1 filemark -> after it (object 3), position re-read from the drive.
    let io = sa.space_filemarks(&mut r.xpt, 1).unwrap();
    ok(&mut r, io);
    r.xpt.run_until_quiescent(10);
    assert_eq!(sa.position(&mut r.xpt), Some(3));
    let io = sa.read(&mut r.xpt, 10).unwrap();
    assert_eq!(ok(&mut r, io).data, vec![2; 10]);
    // Back one block.
    let io = sa.space_blocks(&mut r.xpt, -1).unwrap();
    ok(&mut r, io);
    assert_eq!(sa.position(&mut r.xpt), Some(3));
    // Blocks stop at a filemark: CHECK CONDITION, EIO, position from the drive.
    let io = sa.space_blocks(&mut r.xpt, 5).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert!(res.sense.as_ref().unwrap().filemark);
    r.xpt.run_until_quiescent(10);
    assert_eq!(sa.position(&mut r.xpt), Some(6));
    // End of data, then append.
    let io = sa.space_eod(&mut r.xpt).unwrap();
    ok(&mut r, io);
    r.xpt.run_until_quiescent(10);
    assert_eq!(sa.position(&mut r.xpt), Some(7));
    let io = sa.write(&mut r.xpt, vec![9; 10]).unwrap();
    ok(&mut r, io);
    assert_eq!(r.mock.borrow().tape(3).unwrap().len(), 8);
    r.assert_quiescent();
}

#[test]
fn sa_locate_read_position_and_erase() {
    let (mut r, sa) = tape_with(vec![blk(0), blk(1), blk(2), blk(3)]);
    let io = sa.locate(&mut r.xpt, 2).unwrap();
    ok(&mut r, io);
    assert_eq!(sa.position(&mut r.xpt), Some(2));
    let io = sa.read_position(&mut r.xpt).unwrap();
    ok(&mut r, io);
    assert_eq!(sa.position(&mut r.xpt), Some(2), "the drive agrees");
    let io = sa.read(&mut r.xpt, 10).unwrap();
    assert_eq!(ok(&mut r, io).data, vec![2; 10]);
    let io = sa.erase(&mut r.xpt, true).unwrap();
    ok(&mut r, io);
    assert_eq!(
        r.mock.borrow().tape(3).unwrap().len(),
        3,
        "erased from position 3"
    );
    let e = r.mock.borrow().issued.last().unwrap().cdb.clone();
    assert_eq!((e[0], e[1]), (op::ERASE_6, 1), "LONG");
    r.assert_quiescent();
}

#[test]
fn sa_fixed_and_variable_block_modes_via_mode_select() {
    let (mut r, sa) = tape_with(vec![]);
    let io = sa.set_block_mode(&mut r.xpt, 512).unwrap();
    ok(&mut r, io);
    assert_eq!(r.mock.borrow().tape_block.get(&3), Some(&512));
    let io = sa.write(&mut r.xpt, vec![1; 1024]).unwrap();
    ok(&mut r, io);
    let w = r.mock.borrow().issued.last().unwrap().cdb.clone();
    assert_eq!((w[1] & 1, w[4]), (1, 2), "fixed: 2 blocks");
    let io = sa.set_block_mode(&mut r.xpt, 0).unwrap();
    ok(&mut r, io);
    let io = sa.write(&mut r.xpt, vec![2; 100]).unwrap();
    ok(&mut r, io);
    let w = r.mock.borrow().issued.last().unwrap().cdb.clone();
    assert_eq!((w[1] & 1, w[4]), (0, 100), "variable: 100 bytes");
    assert_eq!(r.mock.borrow().tape(3).unwrap().len(), 3);
    // The drive refuses a fixed-mode command in variable mode; the stack does not retry.
    sa.set_block_size(&mut r.xpt, 512).unwrap();
    let io = sa.write(&mut r.xpt, vec![3; 512]).unwrap();
    assert_eq!(r.xpt.wait_io(io).unwrap().status.errno, Errno::Einval);
    r.xpt.run_until_quiescent(10);
    r.assert_quiescent();
}

#[test]
fn sa_early_warning_end_of_medium() {
    let (mut r, sa) = tape_with(vec![]);
    r.mock.borrow_mut().tape_limits.insert(3, (3, 5));
    for i in 0..3u8 {
        let io = sa.write(&mut r.xpt, vec![i; 10]).unwrap();
        let res = ok(&mut r, io);
        assert_eq!(res.sense.as_ref().is_some_and(|s| s.eom), i == 2);
    }
    assert_eq!(sa.at_early_warning(&mut r.xpt), Some(true));
    let sent = r.mock.borrow().issued.len();
    // The next write reports ENOSPC once, unsent, with nothing written.
    let io = sa.write(&mut r.xpt, vec![3; 10]).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.status.errno, Errno::Enospc);
    assert_eq!(res.status.buf.resid, 10);
    assert_eq!(r.mock.borrow().issued.len(), sent);
    // Then writing goes on to the physical end, where the drive says VOLUME OVERFLOW.
    for _ in 0..2 {
        let io = sa.write(&mut r.xpt, vec![4; 10]).unwrap();
        ok(&mut r, io);
    }
    let io = sa.write(&mut r.xpt, vec![5; 10]).unwrap();
    assert_eq!(r.xpt.wait_io(io).unwrap().status.errno, Errno::Enospc);
    assert_eq!(r.mock.borrow().tape(3).unwrap().len(), 5);
    r.xpt.run_until_quiescent(10);
    r.assert_quiescent();
}

#[test]
fn sa_failed_positioning_commands_are_never_reissued() {
    let (mut r, sa) = tape_with(vec![blk(0), blk(1)]);
    let ua = Fault::Check {
        key: sk::UNIT_ATTENTION,
        asc: 0x29,
        ascq: 0,
    };
    for (opc, start) in [(op::SPACE_6, 0u8), (op::LOCATE_10, 1), (op::ERASE_6, 2)] {
        r.mock.borrow_mut().rule(Some(3), Some(opc), ua.clone(), 1);
        let io = match start {
            0 => sa.space_blocks(&mut r.xpt, 1),
            1 => sa.locate(&mut r.xpt, 1),
            _ => sa.erase(&mut r.xpt, false),
        }
        .unwrap();
        let res = r.xpt.wait_io(io).unwrap();
        assert!(!res.is_ok());
        r.xpt.run_until_quiescent(10);
        let n = r
            .mock
            .borrow()
            .issued
            .iter()
            .filter(|i| i.cdb[0] == opc)
            .count();
        assert_eq!(n, 1, "opcode {opc:#x} issued once");
        // The position was re-read (resume command after the failure).
        assert!(sa.position(&mut r.xpt).is_some());
    }
    r.assert_quiescent();
}

#[test]
fn sa_fixed_mode_transfers_split_at_maxio_and_stop_at_a_filemark() {
    let (mut r, sa) = tape_with(vec![]);
    r.mock.borrow_mut().maxio = 2 * 512;
    r.xpt.path_inq(r.bus).unwrap();
    sa.set_block_size(&mut r.xpt, 512).unwrap();
    let io = sa
        .write(&mut r.xpt, (0..5 * 512).map(|i| (i / 512) as u8).collect())
        .unwrap();
    ok(&mut r, io);
    let io = sa.write_filemarks(&mut r.xpt, 1).unwrap();
    ok(&mut r, io);
    let writes = r
        .mock
        .borrow()
        .issued
        .iter()
        .filter(|i| i.cdb[0] == op::WRITE_6)
        .map(|i| i.cdb[4])
        .collect::<Vec<_>>();
    assert_eq!(writes, vec![2, 2, 1], "5 blocks as 2+2+1");
    assert_eq!(sa.position(&mut r.xpt), Some(6));
    let io = sa.rewind(&mut r.xpt).unwrap();
    ok(&mut r, io);
    // 8 blocks asked, 5 there before the filemark: the parts behind the short one are
    // flushed by the XPT (seed 001), never sent past the filemark.
    let io = sa.read(&mut r.xpt, 8).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.data.len(), 5 * 512);
    assert_eq!(res.status.buf.resid, 3 * 512);
    r.xpt.run_until_quiescent(10);
    assert_eq!(sa.position(&mut r.xpt), Some(6));
    // A variable-mode block larger than maxio cannot be split.
    sa.set_block_size(&mut r.xpt, 0).unwrap();
    assert_eq!(
        sa.write(&mut r.xpt, vec![0; 4096]),
        Err(crate::periph::PeriphError::BadLength)
    );
    r.assert_quiescent();
}

// ------------------------------------------------------------------ pass: processor, scanner

#[test]
fn processor_and_scanner_through_pass_with_per_ccb_recovery_flag() {
    use crate::periph::pass::PassData;
    use scsi_defs::inquiry as inq;
    for dtype in [inq::TYPE_PROCESSOR, inq::TYPE_SCANNER] {
        let mut r = rig(vec![(2, 0, MockDevice::processor(dtype))]);
        r.scan();
        let kinds: Vec<_> = r
            .xpt
            .periphs_of(r.addr(2))
            .into_iter()
            .map(|p| p.1)
            .collect();
        assert_eq!(kinds, vec![crate::periph::PeriphKind::Pass]);
        let p = r.pass(2);
        let t = Duration::from_secs(5);
        // SEND(6) then RECEIVE(6).
        let io = p
            .command(
                &mut r.xpt,
                &[0x0a, 0, 0, 0, 4, 0],
                PassData::Out(vec![1, 2, 3, 4]),
                t,
                false,
            )
            .unwrap();
        ok(&mut r, io);
        assert_eq!(
            *r.mock.borrow().issued_flags.last().unwrap() & flags::CAM_PASS_ERR_RECOVER,
            0
        );
        // A UNIT ATTENTION: with the recovery flag the stack retries ...
        let ua = Fault::Check {
            key: sk::UNIT_ATTENTION,
            asc: 0x29,
            ascq: 0,
        };
        r.mock.borrow_mut().rule(Some(2), Some(0x08), ua.clone(), 1);
        let io = p
            .command(&mut r.xpt, &[0x08, 0, 0, 0, 4, 0], PassData::In(4), t, true)
            .unwrap();
        assert_eq!(ok(&mut r, io).data, vec![1, 2, 3, 4]);
        assert_ne!(
            *r.mock.borrow().issued_flags.last().unwrap() & flags::CAM_PASS_ERR_RECOVER,
            0
        );
        // ... without it, the first status comes back as it was.
        r.mock.borrow_mut().rule(Some(2), Some(0x08), ua, 1);
        let io = p
            .command(
                &mut r.xpt,
                &[0x08, 0, 0, 0, 4, 0],
                PassData::In(4),
                t,
                false,
            )
            .unwrap();
        let res = r.xpt.wait_io(io).unwrap();
        assert_eq!(res.status.cam.status(), CamStatus::ScsiStatusError);
        assert_eq!(res.sense.unwrap().key, sk::UNIT_ATTENTION);
        r.assert_quiescent();
    }
}

#[test]
fn pass_splits_read_write_when_the_caller_allows() {
    use crate::periph::pass::PassData;
    let mut r = rig(vec![(0, 0, MockDevice::disk(8192, 512))]);
    r.scan();
    let p = r.pass(0);
    let cdb = crate::scsi_cmd::read_write(false, 16, 4096, 10).unwrap();
    r.mock.borrow_mut().issued.clear();
    let t = Duration::from_secs(10);
    let io = p
        .command_split(&mut r.xpt, &cdb, PassData::In(2 << 20), t, true, 512)
        .unwrap();
    let res = ok(&mut r, io);
    assert_eq!(res.data.len(), 2 << 20);
    assert_eq!(reads(&r), vec![(16, 2048), (2064, 2048)]);
    assert!(r.mock.borrow().issued.iter().all(|i| i.cdb.len() == 10));
    r.assert_quiescent();
}

// ------------------------------------------------------------------ devstat

#[test]
fn devstat_counts_busy_time_and_latency_histogram() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(64, 512))]);
    r.scan();
    let da = r.da(0);
    let a = r.addr(0);
    let before = r.xpt.dev_stats(a).unwrap();
    r.mock.borrow_mut().latency = Duration::from_millis(2);
    // Two reads at once (overlapping: busy 2 ms, not 4), then a write alone.
    let x = da.read(&mut r.xpt, 0, 2).unwrap();
    let y = da.read(&mut r.xpt, 2, 2).unwrap();
    ok(&mut r, x);
    ok(&mut r, y);
    let io = da.write(&mut r.xpt, 0, vec![1; 512]).unwrap();
    ok(&mut r, io);
    let s = r.xpt.dev_stats(a).unwrap();
    assert_eq!(s.reads - before.reads, 2);
    assert_eq!(s.writes - before.writes, 1);
    assert_eq!(s.bytes_read - before.bytes_read, 2048);
    assert_eq!(s.bytes_written - before.bytes_written, 512);
    assert_eq!(s.errors, before.errors);
    assert_eq!(s.busy_time - before.busy_time, Duration::from_millis(4));
    // 2 ms = 2000 us lies in [1024, 2048) us: bucket 11.
    assert_eq!(crate::devstat::bucket(Duration::from_millis(2)), 11);
    assert_eq!(s.latency_hist[11] - before.latency_hist[11], 3);
    assert_eq!(crate::devstat::bucket(Duration::ZERO), 0);
    assert_eq!(
        crate::devstat::bucket(Duration::from_secs(1 << 20)),
        crate::devstat::LATENCY_BUCKETS - 1
    );
    assert!(s.mean_latency().is_some());
    r.assert_quiescent();
}

#[test]
fn ordered_ccb_turned_back_by_the_sim_stays_a_barrier_while_it_backs_off() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(64, 512))]);
    r.scan();
    let a = r.addr(0);
    r.mock.borrow_mut().issued.clear();
    r.mock
        .borrow_mut()
        .rule(Some(0), Some(op::TEST_UNIT_READY), Fault::TurnBack, 1);
    let o = r
        .xpt
        .submit(tagged(a, TagAction::Ordered), Completion::Queue);
    r.xpt.run_until_idle();
    let s = r
        .xpt
        .submit(tagged(a, TagAction::Simple), Completion::Queue);
    r.xpt.run_until_idle();
    assert!(
        issued_ids(&r).is_empty(),
        "the later CCB waits for the backed-off ORDERED one"
    );
    r.xpt.run_until_quiescent(10);
    assert_eq!(issued_ids(&r), vec![o, s]);
    assert_eq!(r.xpt.take_completed().len(), 2);
    r.assert_quiescent();
}

#[test]
fn requeue_behind_a_sim_devq_freeze_waits_for_the_release_not_the_clock() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(64, 512))]);
    r.scan();
    let a = r.addr(0);
    r.mock.borrow_mut().issued.clear();
    r.mock.borrow_mut().rule(
        Some(0),
        Some(op::TEST_UNIT_READY),
        Fault::TurnBackFreezeDev,
        1,
    );
    let id = r.xpt.submit(tur_ccb(a), Completion::Queue);
    r.xpt.run_until_idle();
    assert_eq!(r.xpt.devq_frozen(a), 1);
    assert!(r.mock.borrow().issued.is_empty());
    // No timer involved: the release of the device queue lets it go at once.
    assert_eq!(r.xpt.next_deadline(), None);
    r.xpt.release_devq(a, 1).unwrap();
    r.xpt.run_until_idle();
    assert_eq!(issued_ids(&r), vec![id]);
    let d = r.xpt.take_completed();
    assert!(d[0].h.status.is_ok());
    r.assert_quiescent();
}

#[test]
fn start_unit_sets_loej_for_removable_disks_but_never_retensions_a_tape() {
    let init_required = Fault::Check {
        key: sk::NOT_READY,
        asc: 4,
        ascq: 2,
    };
    // CD-ROM (removable): START with LoEj, as FreeBSD's cam_periph_error.
    let (mut r, cd) = cd_rig();
    r.mock.borrow_mut().rule(
        Some(4),
        Some(op::READ_CAPACITY_10),
        init_required.clone(),
        1,
    );
    let io = cd.read_capacity(&mut r.xpt).unwrap();
    ok(&mut r, io);
    let s: Vec<Vec<u8>> = r
        .mock
        .borrow()
        .issued
        .iter()
        .filter(|i| i.cdb[0] == op::START_STOP_UNIT)
        .map(|i| i.cdb.clone())
        .collect();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0][4], 0x03, "START + LoEj");
    // Tape: 0x1B is LOAD UNLOAD there; bit 1 would be RETEN. LOAD only.
    let (mut r, sa) = tape_with(vec![]);
    r.mock
        .borrow_mut()
        .rule(Some(3), Some(op::TEST_UNIT_READY), init_required, 1);
    let io = sa.tur(&mut r.xpt).unwrap();
    ok(&mut r, io);
    let s: Vec<Vec<u8>> = r
        .mock
        .borrow()
        .issued
        .iter()
        .filter(|i| i.cdb[0] == op::START_STOP_UNIT)
        .map(|i| i.cdb.clone())
        .collect();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0][4], 0x01, "LOAD, no retension");
    r.assert_quiescent();
}
