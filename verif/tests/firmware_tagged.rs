//! The firmware with 32 tagged commands in flight across two targets that reorder
//! SIMPLE tasks: reselections out of order, the tag finds the slot, every completion
//! and every byte checked.

use hba_abi::layout::{self, cqe::kind, hba_status, hcb};
use hba_verif::fwrig::{disk_target, FwRig};
use hba_verif::host::Hcb;
use hba_verif::rig::{pattern, rw10};
use scsi_bus::target::TargetConfig;
use scsi_bus::Width;

const T0: u32 = 1;
const T1: u32 = 4;
const BLOCKS: u16 = 4;
const LEN: u32 = BLOCKS as u32 * 512;

fn tagged(target: u32, cdb: &[u8], addr: u32, dir_in: bool, tag: u32) -> Hcb {
    let mut h = Hcb::new(target, 0, cdb, addr, LEN, dir_in);
    h.ctrl |= tag << hcb::ctrl::TAG_SHIFT;
    h
}

/// Collects `n` entries, tracking the largest number of tasks the two targets held at
/// once (all commands in flight at the same time is the point of the test).
fn entries_tracking(rig: &mut FwRig, n: usize) -> Vec<hba_verif::host::Entry> {
    let (h0, h1) = (rig.target(T0 as u8), rig.target(T1 as u8));
    let mut v = Vec::new();
    let mut max = 0;
    let end = rig.m.cycle() + 400_000_000;
    while v.len() < n {
        assert!(
            rig.m.cycle() < end,
            "{} of {n} entries\n{}",
            v.len(),
            rig.diag(40)
        );
        let busy = rig.bus().device(h0).task_count() + rig.bus().device(h1).task_count();
        max = max.max(busy);
        if let Some(e) = rig.host.poll(&mut rig.m).unwrap() {
            v.push(e);
        } else {
            rig.m.idle(200);
        }
    }
    eprintln!("most tasks in flight at once: {max}");
    assert!(max >= 24, "only {max} tasks in flight at once");
    v
}

fn run_seed(seed: u64) {
    eprintln!("seed {seed}");
    let mk = |id: u32, s: u64| {
        let mut c = TargetConfig::new(id as u8);
        c.queue_depth = 16;
        c.seed = s;
        c.chunk = if s.is_multiple_of(2) {
            Some(1024)
        } else {
            None
        };
        disk_target(c, 1024)
    };
    let mut rig = FwRig::new(Width::Narrow, vec![mk(T0, seed), mk(T1, seed * 7 + 3)]);
    let buf = |slot: u32| layout::DATA + slot * LEN;
    let lba = |slot: u32| slot * 16 + (seed as u32 % 5);

    // Round 1: 32 WRITEs, 16 per target.
    let mut reqs = Vec::new();
    for slot in 0..32u32 {
        let t = if slot % 2 == 0 { T0 } else { T1 };
        let data = pattern(slot + 1000 * seed as u32, LEN as usize);
        rig.write_buf(buf(slot), &data);
        reqs.push((
            slot,
            tagged(t, &rw10(0x2A, lba(slot), BLOCKS), buf(slot), false, 1),
        ));
    }
    rig.submit(&reqs);
    let es = entries_tracking(&mut rig, 32);
    let mut seen = [false; 32];
    for e in &es {
        assert_eq!(e.kind(), kind::COMPLETION, "{e:x?}");
        assert_eq!(
            (e.hba_status(), e.scsi_status(), e.residual()),
            (0, 0, 0),
            "{e:x?}"
        );
        assert!(!seen[e.slot() as usize], "slot twice: {e:x?}");
        seen[e.slot() as usize] = true;
    }
    let order: Vec<u32> = es.iter().map(|e| e.slot()).collect();
    eprintln!("write completion order: {order:?}");
    for slot in 0..32u32 {
        let t = if slot % 2 == 0 { T0 } else { T1 };
        let data = pattern(slot + 1000 * seed as u32, LEN as usize);
        assert_eq!(
            rig.disk_blocks(t as u8, u64::from(lba(slot)), u64::from(BLOCKS)),
            data,
            "slot {slot}"
        );
    }
    // Round 2: 32 READs of the same blocks into cleared buffers; some ORDERED / HEAD.
    rig.write_buf(layout::DATA, &vec![0u8; 32 * LEN as usize]);
    let mut reqs = Vec::new();
    for slot in 0..32u32 {
        let t = if slot % 2 == 0 { T0 } else { T1 };
        let tag = match slot % 11 {
            5 => 2,
            9 => 3,
            _ => 1,
        };
        reqs.push((
            slot + 32,
            tagged(t, &rw10(0x28, lba(slot), BLOCKS), buf(slot), true, tag),
        ));
    }
    rig.submit(&reqs);
    let es = entries_tracking(&mut rig, 32);
    for e in &es {
        assert_eq!(e.kind(), kind::COMPLETION, "{e:x?}");
        assert_eq!(e.hba_status(), hba_status::OK, "{e:x?}");
        assert_eq!((e.scsi_status(), e.residual()), (0, 0), "{e:x?}");
    }
    let order: Vec<u32> = es.iter().map(|e| e.slot()).collect();
    eprintln!("read completion order: {order:?}");
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (32..64).collect::<Vec<_>>());
    for slot in 0..32u32 {
        let data = pattern(slot + 1000 * seed as u32, LEN as usize);
        assert_eq!(
            rig.read_buf(buf(slot), LEN as usize),
            data,
            "slot {slot} data"
        );
    }
    assert_ne!(order, (32..64).collect::<Vec<_>>(), "expected reordering");
    let log = rig.log(100_000);
    assert!(log.contains("RESELECTION ID1->ID7") && log.contains("RESELECTION ID4->ID7"));
    rig.assert_monitor_clean();
}

#[test]
fn thirty_two_tagged_commands_two_targets_seed_1() {
    run_seed(1);
}

#[test]
fn thirty_two_tagged_commands_two_targets_seed_2() {
    run_seed(2);
}

#[test]
fn thirty_two_tagged_commands_two_targets_seed_9() {
    run_seed(9);
}

#[test]
#[ignore]
fn show_tagged_log() {
    let mk = |id: u32, s: u64| {
        let mut c = TargetConfig::new(id as u8);
        c.queue_depth = 16;
        c.seed = s;
        disk_target(c, 1024)
    };
    let mut rig = FwRig::new(Width::Narrow, vec![mk(T0, 5), mk(T1, 6)]);
    let mut reqs = Vec::new();
    for slot in 0..8u32 {
        let t = if slot % 2 == 0 { T0 } else { T1 };
        reqs.push((
            slot,
            tagged(
                t,
                &rw10(0x28, slot * 8, BLOCKS),
                layout::DATA + slot * LEN,
                true,
                1,
            ),
        ));
    }
    rig.submit(&reqs);
    let es = rig.entries(8, 100_000_000);
    eprintln!(
        "{:?}\n{}",
        es.iter().map(|e| e.slot()).collect::<Vec<_>>(),
        rig.log(80)
    );
}

/// ORDERED and HEAD OF QUEUE tags go out as such and the target honours them: the
/// ORDERED task runs after every earlier SIMPLE one and before the later SIMPLE one; the
/// HEAD OF QUEUE task runs before that later SIMPLE one too.
#[test]
fn ordered_and_head_of_queue_tags() {
    let mut c = TargetConfig::new(T0 as u8);
    c.queue_depth = 16;
    c.access_cycles = 200_000;
    c.seed = 3;
    let mut rig = FwRig::new(Width::Narrow, vec![disk_target(c, 1024)]);
    let kinds = [
        hcb::tag::SIMPLE,
        hcb::tag::SIMPLE,
        hcb::tag::SIMPLE,
        hcb::tag::SIMPLE,
        hcb::tag::ORDERED,
        hcb::tag::SIMPLE,
        hcb::tag::HEAD,
    ];
    let reqs: Vec<(u32, Hcb)> = kinds
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            let s = i as u32;
            let addr = layout::DATA + s * LEN;
            (s, tagged(T0, &rw10(0x28, s * 8, BLOCKS), addr, true, k))
        })
        .collect();
    rig.submit(&reqs);
    let es = rig.entries(kinds.len(), 200_000_000);
    for e in &es {
        assert_eq!(
            (e.kind(), e.hba_status(), e.scsi_status()),
            (kind::COMPLETION, 0, 0),
            "{e:x?}"
        );
    }
    let log = rig.bus().monitor.log_text();
    assert!(log.contains("ORDERED QUEUE TAG 04"), "{log}");
    assert!(log.contains("HEAD OF QUEUE TAG 06"), "{log}");
    let h = rig.target(T0 as u8);
    let order: Vec<u8> = rig
        .bus()
        .device(h)
        .stats
        .service_order
        .iter()
        .filter_map(|s| s.2)
        .collect();
    let pos = |t: u8| order.iter().position(|&x| x == t).expect("serviced");
    for t in 0..4 {
        assert!(pos(t) < pos(4), "ORDERED after SIMPLE {t}: {order:?}");
    }
    assert!(pos(4) < pos(5), "SIMPLE 5 after the ORDERED: {order:?}");
    assert!(
        pos(6) < pos(5),
        "HEAD OF QUEUE before the waiting SIMPLE: {order:?}"
    );
    rig.assert_monitor_clean();
}
