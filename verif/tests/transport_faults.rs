//! Host-link faults (`FaultyTransport`) under a verified `da` workload through the whole
//! co-simulated stack, one class per test: a DMA call that fails or times out, a lost or
//! merged interrupt, a completion entry corrupted in transit, a surprise-removed card.
//! Every request completes exactly once, a GOOD read carries the disk's data, and the
//! SIM takes the rung the fault calls for (re-initialisation, refusal of the entry,
//! giving up with `CAM_NO_HBA`).

use hba_cam::periph::da::DaHandle;
use hba_cam::{CamStatus, IoId};
use hba_verif::faulty_transport::{Corruption, FaultyTransport, TransportFault};
use hba_verif::rig::pattern;
use hba_verif::simrig::{disk, SimRig};
use scsi_bus::target::TargetConfig;
use scsi_bus::Width;
use std::time::Duration;

type Rig = SimRig<FaultyTransport>;

fn rig() -> (Rig, DaHandle) {
    let mut cfg = TargetConfig::new(0);
    cfg.access_cycles = 5_000;
    let mut r = SimRig::over(
        FaultyTransport::new(),
        Width::Narrow,
        vec![disk(cfg, 2048)],
        SimRig::cfg(),
    )
    .expect("attach");
    r.scan();
    let da = r.da(0);
    // Known content to read back.
    let io = da.write(&mut r.stack.xpt, 0, pattern(7, 64 * 512)).unwrap();
    assert!(r.wait(io).is_ok());
    (r, da)
}

/// Plans `f` `after_us` from now, runs 8 reads of 8 blocks four at a time, and returns
/// the results (GOOD reads already checked against the disk).
fn reads_under(r: &mut Rig, da: DaHandle, f: TransportFault, after_us: u64) -> Vec<bool> {
    let t = r.model(|m| m.time_ns()) + after_us * 1_000;
    r.stack.with_transport(|x| x.plan(t, f));
    let mut ok = Vec::new();
    let mut pending: Vec<(IoId, u64)> = Vec::new();
    for k in 0..8u64 {
        if let Ok(io) = da.read(&mut r.stack.xpt, 8 * k, 8) {
            pending.push((io, 8 * k));
        } else {
            ok.push(false);
        }
        if pending.len() == 4 || k == 7 {
            for (io, lba) in std::mem::take(&mut pending) {
                let res = r.wait(io);
                if res.is_ok() {
                    assert_eq!(res.data, r.disk_blocks(0, lba, 8), "GOOD with wrong data");
                }
                ok.push(res.is_ok());
            }
        }
    }
    let fired: u64 = r.stack.with_transport(|x| x.fired().values().sum());
    assert_eq!(fired, 1, "the fault fired once");
    ok
}

fn counters(r: &Rig) -> hba_host_driver::sim::SimCounters {
    r.stack.report().counters.clone()
}

#[test]
fn dma_error_reinitialises_and_every_read_succeeds() {
    let (mut r, da) = rig();
    let ok = reads_under(&mut r, da, TransportFault::DmaError, 0);
    assert!(
        ok.iter().all(|x| *x),
        "retried after the re-initialisation: {ok:?}"
    );
    let c = counters(&r);
    assert!(c.reinits >= 1, "{c:?}");
    r.check(false);
}

#[test]
fn dma_timeout_reinitialises_and_every_read_succeeds() {
    let (mut r, da) = rig();
    let ok = reads_under(&mut r, da, TransportFault::DmaTimeout, 0);
    assert!(ok.iter().all(|x| *x), "{ok:?}");
    assert!(counters(&r).reinits >= 1);
    r.check(false);
}

#[test]
fn lost_interrupt_is_covered_by_the_safety_poll() {
    let (mut r, da) = rig();
    let ok = reads_under(&mut r, da, TransportFault::LostIrq, 0);
    assert!(ok.iter().all(|x| *x), "{ok:?}");
    let c = counters(&r);
    assert_eq!(c.reinits, 0, "{c:?}");
    r.check(true);
}

#[test]
fn merged_interrupts_lose_no_completion() {
    let (mut r, da) = rig();
    let ok = reads_under(&mut r, da, TransportFault::MergedIrq, 0);
    assert!(ok.iter().all(|x| *x), "{ok:?}");
    assert_eq!(counters(&r).reinits, 0);
    r.check(true);
}

#[test]
fn corrupted_completion_entries_are_refused_and_the_card_reinitialised() {
    for how in [Corruption::Kind, Corruption::Status, Corruption::Slot] {
        let (mut r, da) = rig();
        let ok = reads_under(&mut r, da, TransportFault::CorruptEntry(how), 0);
        assert!(ok.iter().all(|x| *x), "{how:?}: {ok:?}");
        let c = counters(&r);
        assert_eq!(c.bad_entries, 1, "{how:?}: {c:?}");
        assert!(c.reinits >= 1, "{how:?}: {c:?}");
        r.check(false);
    }
}

#[test]
fn a_completion_entry_seen_late_is_taken_at_the_next_look() {
    let (mut r, da) = rig();
    let ok = reads_under(
        &mut r,
        da,
        TransportFault::CorruptEntry(Corruption::Phase),
        0,
    );
    assert!(ok.iter().all(|x| *x), "{ok:?}");
    let c = counters(&r);
    assert_eq!((c.bad_entries, c.reinits), (0, 0), "{c:?}");
    r.check(true);
}

#[test]
fn surprise_removal_returns_everything_once_with_no_hba() {
    let (mut r, da) = rig();
    let ok = reads_under(&mut r, da, TransportFault::Removal, 150);
    assert!(
        ok.iter().any(|x| !*x),
        "reads after the removal fail: {ok:?}"
    );
    let rp = r.stack.report();
    assert!(rp.dead, "the SIM gave up on the card");
    assert!(
        rp.log
            .iter()
            .any(|l| matches!(l, hba_host_driver::sim::SimLog::GaveUp(_))),
        "{:?}",
        rp.log
    );
    drop(rp);
    // A raw CCB now comes straight back with CAM_NO_HBA.
    let c = hba_cam::Ccb::scsi_io(
        r.addr(0).path(),
        hba_cam::ccb::Cdb::new(&hba_verif::rig::rw10(0x28, 0, 1)).unwrap(),
        hba_cam::ccb::DataXfer::In(hba_cam::ccb::DataBuf::Single(vec![0; 512])),
        Duration::from_millis(10),
    );
    let id = r.stack.xpt.submit(c, hba_cam::xpt::Completion::Queue);
    let c = r.wait_ccb(id, Duration::from_millis(10));
    assert_eq!(c.h.status.status(), CamStatus::NoHba);
    r.check(false);
}

/// INQUIRY through a raw CCB: 36 bytes, few enough that the SIM reads them back word by
/// word through the BAR (where a removed card reads all ones).
fn inquiry(r: &mut Rig) -> hba_cam::Ccb {
    let c = hba_cam::Ccb::scsi_io(
        r.addr(0).path(),
        hba_cam::ccb::Cdb::new(&[0x12, 0, 0, 0, 36, 0]).unwrap(),
        hba_cam::ccb::DataXfer::In(hba_cam::ccb::DataBuf::Single(vec![0; 36])),
        Duration::from_millis(50),
    );
    let id = r.stack.xpt.submit(c, hba_cam::xpt::Completion::Queue);
    let c = r.wait_ccb(id, Duration::from_millis(500));
    // A raw client owns the device queue freeze an error leaves (as pass(4) does).
    if c.h.status.has(hba_cam::status::CAM_DEV_QFRZN) {
        r.stack
            .xpt
            .release_devq(c.h.path.addr().unwrap(), 1)
            .unwrap();
    }
    c
}

fn data_in(c: &hba_cam::Ccb) -> Vec<u8> {
    match &c.scsiio().expect("SCSI I/O").data {
        hba_cam::ccb::DataXfer::In(d) => d.to_vec(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_removal_between_the_entry_and_its_data_is_no_good_completion() {
    let (mut r, _da) = rig();
    let before = inquiry(&mut r);
    assert_eq!(before.h.status.status(), CamStatus::ReqCmp);
    let want = data_in(&before);
    assert!(want.iter().any(|b| *b != 0xFF), "{want:02x?}");
    // The card goes the moment the SIM has read INQUIRY's completion entry.
    let t = r.model(|m| m.time_ns());
    r.stack
        .with_transport(|x| x.plan(t, TransportFault::RemovalAfterEntry));
    let c = inquiry(&mut r);
    let fired: u64 = r.stack.with_transport(|x| x.fired().values().sum());
    assert_eq!(fired, 1, "the removal fired");
    let st = c.h.status.status();
    assert_ne!(
        st,
        CamStatus::ReqCmp,
        "GOOD after the card went, with data {:02x?}",
        data_in(&c)
    );
    assert!(r.stack.report().dead, "the SIM gave up on the card");
    r.check(false);
}
