//! Named regression scenarios for the recovery bugs that hurt FreeBSD drivers (issue 17),
//! through the whole co-simulated stack: a second timeout during an abort must not leave
//! the device queue frozen; a resource shortage must freeze the SIM queue (no spinning);
//! a timeout racing a late completion completes the CCB once; requeue loops are bounded.
//! Each ends with `SimRig::check` (nothing lost, nothing twice, every freeze released).

use hba_cam::ccb::{Cdb, DataBuf, DataXfer, TagAction};
use hba_cam::status::CAM_DEV_QFRZN;
use hba_cam::xpt::{Completion, XptLog};
use hba_cam::{CamStatus, Ccb, CcbId};
use hba_host_driver::sim::SimLog;
use hba_verif::campaign::{ordered_violations, rule};
use hba_verif::rig::{pattern, rw10};
use hba_verif::simrig::{disk, SimRig};
use scsi_bus::faults::{FaultAction, FaultConfig, FaultRule};
use scsi_bus::target::TargetConfig;
use scsi_bus::Width;
use std::time::Duration;

fn rig(cfgs: Vec<TargetConfig>) -> SimRig {
    let targets = cfgs.into_iter().map(|c| disk(c, 2048)).collect();
    let mut r = SimRig::new(Width::Narrow, targets, SimRig::cfg()).expect("attach");
    r.scan();
    r
}

fn raw_read(r: &mut SimRig, id: u32, lba: u32, timeout: Duration) -> CcbId {
    tagged_read(r, id, lba, timeout, TagAction::Simple)
}

fn tagged_read(r: &mut SimRig, id: u32, lba: u32, timeout: Duration, tag: TagAction) -> CcbId {
    let mut c = Ccb::scsi_io(
        r.addr(id).path(),
        Cdb::new(&rw10(0x28, lba, 1)).unwrap(),
        DataXfer::In(DataBuf::Single(vec![0; 512])),
        timeout,
    );
    c.h.tag_action = tag;
    r.stack.xpt.submit(c, Completion::Queue)
}

/// As a periph does: the owner of a CCB returned with `CAM_DEV_QFRZN` releases once.
fn release_if_frozen(r: &mut SimRig, c: &Ccb) {
    if c.h.status.has(CAM_DEV_QFRZN) {
        r.stack
            .xpt
            .release_devq(c.h.path.addr().unwrap(), 1)
            .unwrap();
    }
}

fn data_in(c: &Ccb) -> Vec<u8> {
    match c.scsiio().map(|io| &io.data) {
        Some(DataXfer::In(b)) => b.to_vec(),
        _ => Vec::new(),
    }
}

/// FreeBSD bug class: a devq frozen forever after a second timeout during an abort (the
/// second freeze was never released). Two commands to a slow disk: the first times out
/// and is aborted; the second times out while that abort (which also requeues it as a
/// sibling) is still on its way. Each comes back once, each freeze is released once by
/// its owner, and the disk then works.
#[test]
fn second_timeout_during_an_abort_leaves_no_queue_frozen() {
    let mut cfg = TargetConfig::new(0);
    cfg.access_cycles = 2_000_000; // 20 ms per command: longer than both timeouts
    let mut r = rig(vec![cfg]);
    let a = raw_read(&mut r, 0, 0, Duration::from_millis(2));
    // 20 us later than the first: its deadline passes while the abort of the first
    // (which also requeues this one as a sibling) is still on its way.
    let b = raw_read(&mut r, 0, 1, Duration::from_micros(2_020));
    let ca = r.wait_ccb(a, Duration::from_millis(200));
    let cb = r.wait_ccb(b, Duration::from_millis(200));
    for c in [&ca, &cb] {
        assert!(
            matches!(
                c.h.status.status(),
                CamStatus::CmdTimeout | CamStatus::RequeueReq
            ),
            "{:?}",
            c.h.status
        );
        release_if_frozen(&mut r, c);
    }
    let c = r.stack.report().counters.clone();
    assert!(
        c.timeouts >= 2,
        "both timed out, the second during the abort: {c:?}"
    );
    let addr = r.addr(0);
    assert_eq!(r.stack.xpt.devq_frozen(addr), 0, "device queue left frozen");
    // The disk answers afterwards (a frozen queue would hold this forever).
    r.target(0, |t| t.set_faults(&FaultConfig::default()));
    let da = r.da(0);
    let io = da.read(&mut r.stack.xpt, 8, 1).unwrap();
    let res = r.wait(io);
    assert!(res.is_ok(), "{:?}", res.status);
    r.check(true);
}

/// FreeBSD bug class: a resource shortage reported without a freeze, so the XPT sends
/// the same CCB straight back and spins. Four 64 KiB writes at once need more card memory
/// than there is: every CCB turned back comes with the SIM queue frozen, so each shortage
/// costs one extra dispatch and no more (measured without the freeze: 12 for 3 CCBs).
#[test]
fn resource_shortage_freezes_the_sim_queue_and_does_not_spin() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    let da = r.da(0);
    let data = pattern(9, 4 * 65536);
    let s0 = r.stack.xpt.stats();
    let ios: Vec<_> = (0..4u64)
        .map(|k| {
            da.write(
                &mut r.stack.xpt,
                128 * k,
                data[k as usize * 65536..][..65536].to_vec(),
            )
            .unwrap()
        })
        .collect();
    // A spinning XPT would dispatch without end in no simulated time: stop it at a bound
    // far above what the freeze allows.
    let cap = s0.dispatched + 1_000;
    let mut results = Vec::new();
    for io in ios {
        let mut out = None;
        r.stack
            .run_until("write", Duration::from_millis(400), |x| {
                out = x.take_io(io);
                out.is_some() || x.stats().dispatched > cap
            })
            .expect("writes finish");
        let res = out.expect("the XPT spun on a shortage");
        assert!(res.is_ok(), "{:?}", res.status);
        results.push(res);
    }
    let s = r.stack.xpt.stats();
    let c = r.stack.report().counters.clone();
    assert!(c.shortages >= 1, "the scenario needs a shortage: {c:?}");
    let extra = (s.dispatched - s0.dispatched) - (s.submitted - s0.submitted);
    // Of four writes one fits: at most three are ever turned back, each once, in one
    // shortage each (without the freeze the same CCBs come back again and again).
    assert!(
        extra <= 3 && extra <= c.shortages,
        "{extra} extra dispatches for {} shortages: {s:?}",
        c.shortages
    );
    assert_eq!(r.disk_blocks(0, 0, 512), data);
    assert!(!r
        .stack
        .xpt
        .log()
        .iter()
        .any(|l| matches!(l, XptLog::ReleaseUnderflow { .. })));
    r.check(true);
}

/// FreeBSD bug class: a timeout racing a late completion (double completion, or a late
/// answer landing in a reused slot). Timeouts swept in 2 us steps across the command's
/// latency, each read followed by another that reuses the slot: every CCB completes
/// exactly once, GOOD only with the right data, otherwise CMD_TIMEOUT; the card never
/// answers a slot twice; both sides of the race are hit.
#[test]
fn timeout_racing_a_late_completion_completes_once() {
    let mut cfg = TargetConfig::new(0);
    cfg.access_cycles = 20_000; // 200 us
    cfg.disconnect = true;
    let mut r = rig(vec![cfg]);
    let want = r.disk_blocks(0, 0, 2);
    // Latency of the read through the stack, then timeouts around it.
    let t0 = r.stack.now();
    let id = raw_read(&mut r, 0, 0, Duration::from_secs(1));
    let c = r.wait_ccb(id, Duration::from_millis(50));
    assert!(c.h.status.is_ok());
    let lat_us = (r.stack.now().0 - t0.0) / 1_000;
    let (mut good, mut timed_out) = (0, 0);
    // The card finishes some 40..100 us before the host has the data (interrupt wake-up,
    // the data's DMA): sweep from well before to just after.
    for k in 0..80u64 {
        let t = Duration::from_micros(lat_us.saturating_sub(150) + 2 * k);
        let v = raw_read(&mut r, 0, 0, t);
        let next = raw_read(&mut r, 0, 1, Duration::from_secs(1));
        let cv = r.wait_ccb(v, Duration::from_millis(100));
        let cn = r.wait_ccb(next, Duration::from_millis(100));
        match cv.h.status.status() {
            CamStatus::ReqCmp => {
                good += 1;
                assert_eq!(
                    data_in(&cv),
                    want[..512],
                    "timeout {t:?}: GOOD with wrong data"
                );
            }
            CamStatus::CmdTimeout => timed_out += 1,
            s => panic!("timeout {t:?}: {s:?}"),
        }
        release_if_frozen(&mut r, &cv);
        match cn.h.status.status() {
            CamStatus::ReqCmp => assert_eq!(data_in(&cn), want[512..], "slot reuse: wrong data"),
            // The ladder may have gone on to reset the bus under it.
            CamStatus::RequeueReq | CamStatus::CmdTimeout | CamStatus::ScsiBusReset => {}
            s => panic!("the follower after timeout {t:?}: {s:?}"),
        }
        release_if_frozen(&mut r, &cn);
    }
    assert!(
        good > 0 && timed_out > 0,
        "the sweep crosses the race: {good} good, {timed_out} timed out"
    );
    let c = r.stack.report().counters.clone();
    println!("{good} good, {timed_out} timed out: {c:?}");
    assert_eq!(c.late, 0, "a completion for a slot with no command: {c:?}");
    assert_eq!(c.bad_entries, 0, "{c:?}");
    assert_eq!(c.reinits, 0, "{c:?}");
    assert!(!r
        .stack
        .xpt
        .log()
        .iter()
        .any(|l| matches!(l, XptLog::SpuriousDone { .. })));
    r.check(true);
}

/// FreeBSD bug class: requeue loops. A disk answering QUEUE FULL forever to whatever
/// touches blocks 4..5:
/// `da` retries it as a bystander, a bounded number of times, then fails the request;
/// the same disk's writes go on working.
#[test]
fn requeue_loops_are_bounded() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    let da = r.da(0);
    r.target(0, |t| {
        t.set_faults(&FaultConfig {
            seed: 3,
            rules: vec![FaultRule {
                lba: Some([4, 5]),
                ..rule(FaultAction::QueueFull)
            }],
            bus_reset_at_ns: vec![],
        })
    });
    let before = r.target(0, |t| t.stats.commands);
    let io = da.read(&mut r.stack.xpt, 4, 1).unwrap();
    let res = r.wait(io);
    assert!(!res.is_ok(), "QUEUE FULL forever cannot succeed");
    let tries = r.target(0, |t| t.stats.commands) - before;
    assert!(
        (2..=64).contains(&tries),
        "retried, but a bounded number of times: {tries}"
    );
    let io = da.write(&mut r.stack.xpt, 100, pattern(4, 512)).unwrap();
    assert!(r.wait(io).is_ok());
    assert!(r
        .stack
        .report()
        .log
        .iter()
        .all(|l| !matches!(l, SimLog::GaveUp(_))));
    r.check(false);
}

/// ORDERED keeps its order (SAM task attributes): twelve SIMPLE reads around one ORDERED
/// read on a tagged disk that runs SIMPLE tasks in random order. The ORDERED one starts
/// after all six submitted before it and before all six after it, and went out with its
/// message; a HEAD OF QUEUE read submitted last is served with its own message and may
/// pass the ORDERED one (here it starts first of all).
#[test]
fn ordered_tags_keep_their_order() {
    let mut cfg = TargetConfig::new(0);
    cfg.tagged = true;
    // 500 us per command: all fourteen are queued on the target before the first ends.
    cfg.access_cycles = 50_000;
    cfg.seed = 11;
    let mut r = rig(vec![cfg]);
    let mut issued = Vec::new();
    let mut ids = Vec::new();
    for (lba, tag) in (0..6)
        .map(|l| (l, TagAction::Simple))
        .chain([(10, TagAction::Ordered)])
        .chain((20..26).map(|l| (l, TagAction::Simple)))
        .chain([(30, TagAction::HeadOfQueue)])
    {
        ids.push(tagged_read(&mut r, 0, lba, Duration::from_secs(1), tag));
        issued.push((u64::from(lba), tag));
    }
    for id in ids {
        let c = r.wait_ccb(id, Duration::from_millis(200));
        assert!(c.h.status.is_ok(), "{:?}", c.h.status);
    }
    let (service, msgs) = r.target(0, |t| {
        (t.stats.service_order.clone(), t.stats.messages_in.clone())
    });
    let v = ordered_violations(&service, &issued, 0x28);
    assert!(v.is_empty(), "{v:?}\n{service:?}");
    assert!(msgs.contains(&0x22), "ORDERED QUEUE TAG sent: {msgs:x?}");
    assert!(msgs.contains(&0x21), "HEAD OF QUEUE TAG sent: {msgs:x?}");
    r.check(true);
}
