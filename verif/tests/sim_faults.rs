//! Faults through the whole stack: each status of seed 002's Errors Summary that a real
//! bus produces, caused by an injected fault and seen by the periph with the right CAM
//! status; aborts in the four HCB states; the timeout ladder; a sequencer trap. Every test
//! ends with `SimRig::check` (nothing lost, nothing twice, every freeze released).

use hba_cam::ccb::{Abort, CcbBody, Cdb, DataBuf, DataXfer, TagAction};
use hba_cam::periph::pass::{PassData, PassHandle};
use hba_cam::status::{CAM_AUTOSNS_VALID, CAM_DEV_QFRZN};
use hba_cam::xpt::Completion;
use hba_cam::{CamStatus, Ccb, CcbId};
use hba_host_driver::sim::SimLog;
use hba_verif::rig::{pattern, rw10};
use hba_verif::simrig::{disk, SimRig};
use scsi_bus::faults::{FaultAction, FaultConfig, FaultRule};
use scsi_bus::target::TargetConfig;
use scsi_bus::{Phase, Width};
use std::time::Duration;

fn rig(cfgs: Vec<TargetConfig>) -> SimRig {
    let targets = cfgs.into_iter().map(|c| disk(c, 2048)).collect();
    let mut r = SimRig::new(Width::Narrow, targets, SimRig::cfg()).expect("attach");
    r.scan();
    r
}

fn rule(opcode: Option<u8>, action: FaultAction) -> FaultRule {
    FaultRule {
        opcode,
        lba: None,
        lun: None,
        every_nth: None,
        first_n: None,
        probability: None,
        action,
    }
}

fn faults(rules: Vec<FaultRule>) -> FaultConfig {
    FaultConfig {
        seed: 1,
        rules,
        bus_reset_at_ns: vec![],
    }
}

/// A raw READ(10) through `pass` without periph recovery: the first completion is the
/// result the periph sees.
fn pass_read(r: &mut SimRig, id: u32, lba: u32, blocks: u16, buf: usize) -> hba_cam::IoResult {
    let p = PassHandle::for_device(&r.stack.xpt, r.addr(id)).expect("pass");
    let io = p
        .command(
            &mut r.stack.xpt,
            &rw10(0x28, lba, blocks),
            PassData::In(buf),
            Duration::from_millis(50),
            false,
        )
        .unwrap();
    r.wait(io)
}

fn st(res: &hba_cam::IoResult) -> CamStatus {
    res.status.cam.status()
}

#[test]
fn medium_error_is_a_scsi_status_error_with_autosense() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    r.target(0, |t| {
        t.set_faults(&faults(vec![rule(
            Some(0x28),
            FaultAction::CheckCondition {
                key: 0x3,
                asc: 0x11,
                ascq: 0,
            },
        )]))
    });
    let res = pass_read(&mut r, 0, 10, 1, 512);
    assert_eq!(st(&res), CamStatus::ScsiStatusError, "{:?}", res.status);
    assert!(res.status.cam.has(CAM_AUTOSNS_VALID));
    assert_eq!(res.status.scsi, Some(scsi_defs::status::CHECK_CONDITION));
    let s = res.sense.expect("sense decoded");
    assert_eq!((s.key, s.asc), (0x3, 0x11), "{s:?}");
    r.check(true);
}

/// A target that ends a WRITE with CHECK CONDITION and NO SENSE before its data phase
/// (campaign seeds 28 and 937): the write moved nothing, so `da` must fail it (FreeBSD's
/// dadone sets BIO_ERROR on a residual) rather than acknowledge data that never reached
/// the medium; a READ ended the same way must not return success with no data (seed 735).
#[test]
fn check_condition_with_no_sense_and_nothing_moved_is_an_error() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    let no_sense = FaultAction::CheckCondition {
        key: scsi_defs::sense_key::NO_SENSE,
        asc: 0,
        ascq: 0,
    };
    r.target(0, |t| {
        t.set_faults(&faults(vec![
            rule(Some(0x0a), no_sense.clone()),
            rule(Some(0x08), no_sense.clone()),
        ]))
    });
    let da = r.da(0);
    let before = r.disk_blocks(0, 20, 2);
    let data = pattern(0x5a, 1024);
    let io = da.write(&mut r.stack.xpt, 20, data.clone()).unwrap();
    let res = r.wait(io);
    assert!(
        !res.is_ok(),
        "a write that moved nothing was acknowledged: {:?}",
        res.status
    );
    assert_eq!(res.status.buf.resid, 1024, "{:?}", res.status);
    assert_eq!(r.disk_blocks(0, 20, 2), before, "the medium changed");
    let io = da.read(&mut r.stack.xpt, 20, 2).unwrap();
    let res = r.wait(io);
    assert!(
        !res.is_ok(),
        "a read that moved nothing succeeded: {:?}",
        res.status
    );
    assert!(res.data.is_empty());
    r.check(true);
}

#[test]
fn failed_request_sense_is_autosense_fail() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    r.target(0, |t| {
        t.set_faults(&faults(vec![
            rule(
                Some(0x28),
                FaultAction::CheckCondition {
                    key: 0x3,
                    asc: 0x11,
                    ascq: 0,
                },
            ),
            rule(Some(0x03), FaultAction::Busy),
        ]))
    });
    let res = pass_read(&mut r, 0, 10, 1, 512);
    assert_eq!(st(&res), CamStatus::AutosenseFail, "{:?}", res.status);
    assert!(!res.status.cam.has(CAM_AUTOSNS_VALID));
    r.check(true);
}

#[test]
fn busy_status_is_reported() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    r.target(0, |t| {
        t.set_faults(&faults(vec![rule(Some(0x28), FaultAction::Busy)]))
    });
    let res = pass_read(&mut r, 0, 10, 1, 512);
    assert_eq!(st(&res), CamStatus::ScsiStatusError);
    assert_eq!(res.status.scsi, Some(scsi_defs::status::BUSY));
    r.check(true);
}

#[test]
fn no_answer_to_selection_is_sel_timeout() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    r.target(0, |t| {
        t.set_faults(&faults(vec![rule(None, FaultAction::NoSelectionResponse)]))
    });
    let res = pass_read(&mut r, 0, 10, 1, 512);
    assert_eq!(st(&res), CamStatus::SelTimeout, "{:?}", res.status);
    assert!(res.status.cam.has(CAM_DEV_QFRZN));
    r.check(true);
}

#[test]
fn bus_free_in_data_in_is_unexpected_bus_free() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    r.target(0, |t| {
        t.set_faults(&faults(vec![rule(
            Some(0x28),
            FaultAction::BusFree {
                phase: Phase::DataIn,
            },
        )]))
    });
    let res = pass_read(&mut r, 0, 10, 1, 512);
    assert_eq!(st(&res), CamStatus::UnexpBusfree, "{:?}", res.status);
    r.check(false);
}

#[test]
fn more_data_than_the_buffer_is_a_data_run_error() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    // READ of 4 blocks into a 1-block buffer: the target sends 2048 bytes.
    let res = pass_read(&mut r, 0, 10, 4, 512);
    assert_eq!(st(&res), CamStatus::DataRunErr, "{:?}", res.status);
    // What fitted arrived, and nothing beyond.
    assert_eq!(res.data.len(), 512);
    assert_eq!(res.data, r.disk_blocks(0, 10, 1));
    r.check(true);
}

#[test]
fn short_transfer_reports_the_residual() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    let res = pass_read(&mut r, 0, 10, 1, 2048);
    assert_eq!(st(&res), CamStatus::ReqCmp, "{:?}", res.status);
    assert_eq!(res.status.buf.resid, 1536, "{:?}", res.status);
    assert_eq!(&res.data[..512], &r.disk_blocks(0, 10, 1)[..]);
    r.check(true);
}

#[test]
fn third_party_bus_reset_is_survived_and_announced() {
    let mut r = rig(vec![TargetConfig::new(0), TargetConfig::new(1)]);
    let da = r.da(0);
    let data = pattern(3, 32 * 512);
    let io = da.write(&mut r.stack.xpt, 0, data.clone()).unwrap();
    assert!(r.wait(io).is_ok());
    let at = r.cycles() + 3_000;
    r.model(|m| {
        m.bus()
            .unwrap()
            .add(scsi_bus::faults::ResetInjector::new(vec![at]))
    });
    let ios: Vec<_> = (0..4)
        .map(|_| da.read(&mut r.stack.xpt, 0, 32).unwrap())
        .collect();
    for io in ios {
        let res = r.wait(io);
        assert!(res.is_ok(), "retried after the reset: {:?}", res.status);
        assert_eq!(res.data, data);
    }
    let cur = r.stack.report().current[0];
    assert_eq!(cur.offset, 15, "renegotiated after the reset: {cur:?}");
    r.check(false);
}

// ---------------------------------------------------------------- aborts

fn raw_read(r: &mut SimRig, id: u32, lba: u32, blocks: u16, timeout: Duration) -> CcbId {
    let mut c = Ccb::scsi_io(
        r.addr(id).path(),
        Cdb::new(&rw10(0x28, lba, blocks)).unwrap(),
        DataXfer::In(DataBuf::Single(vec![0; blocks as usize * 512])),
        timeout,
    );
    c.h.tag_action = TagAction::Simple;
    r.stack.xpt.submit(c, Completion::Queue)
}

fn abort(r: &mut SimRig, id: u32, victim: CcbId) -> CcbId {
    let c = Ccb::new(
        r.addr(id).path(),
        CcbBody::Abort(Abort { abort_ccb: victim }),
    );
    r.stack.xpt.submit(c, Completion::Queue)
}

/// Runs until both CCBs completed; returns them (victim, abort).
fn collect(r: &mut SimRig, a: CcbId, b: CcbId) -> (Ccb, Ccb) {
    let va = r.wait_ccb(a, Duration::from_millis(100));
    (va, r.wait_ccb(b, Duration::from_millis(100)))
}

fn release_if_frozen(r: &mut SimRig, c: &Ccb) {
    if c.h.status.has(CAM_DEV_QFRZN) {
        r.stack
            .xpt
            .release_devq(c.h.path.addr().unwrap(), 1)
            .unwrap();
    }
}

#[test]
fn abort_of_a_command_queued_on_the_card() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    let before = r.target(0, |t| t.stats.commands);
    let v = raw_read(&mut r, 0, 0, 1, Duration::from_secs(1));
    // One turn: the CCB reaches the SIM (slot written, doorbell not yet rung).
    r.stack.xpt.step();
    let a = abort(&mut r, 0, v);
    let (victim, ab) = collect(&mut r, v, a);
    assert_eq!(
        victim.h.status.status(),
        CamStatus::ReqAborted,
        "{:?}",
        victim.h.status
    );
    assert_eq!(ab.h.status.status(), CamStatus::ReqCmp);
    assert_eq!(
        r.target(0, |t| t.stats.commands),
        before,
        "it never reached the target"
    );
    r.check(true);
}

#[test]
fn abort_of_a_disconnected_command() {
    let mut cfg = TargetConfig::new(0);
    cfg.access_cycles = 300_000; // 3 ms of seek before it reselects
    let mut r = rig(vec![cfg]);
    let v = raw_read(&mut r, 0, 0, 1, Duration::from_secs(1));
    let t0 = r.stack.now();
    r.stack
        .run_until("disconnect", Duration::from_millis(2), |_| false)
        .ok();
    assert!(r.stack.now().0 - t0.0 >= 1_000_000);
    let a = abort(&mut r, 0, v);
    let (victim, ab) = collect(&mut r, v, a);
    assert_eq!(
        victim.h.status.status(),
        CamStatus::ReqAborted,
        "{:?}",
        victim.h.status
    );
    assert_eq!(ab.h.status.status(), CamStatus::ReqCmp);
    assert!(
        r.target(0, |t| t.stats.aborted) >= 1,
        "ABORT TASK reached the target"
    );
    r.check(true);
}

/// Connected (the target holds the bus, no disconnect): the firmware raises ATN at the
/// next chance and sends ABORT TASK in that connection.
#[test]
fn abort_of_a_connected_command() {
    let mut cfg = TargetConfig::new(0);
    cfg.disconnect = false;
    let mut r = rig(vec![cfg]);
    // 16 KiB at Fast-20: about 820 us connected.
    let before = r.target(0, |t| t.stats.commands);
    let v = raw_read(&mut r, 0, 0, 32, Duration::from_secs(1));
    // Until the target has the CDB: from then on the command holds the bus.
    for _ in 0..100 {
        r.stack
            .run_until("connect", Duration::from_micros(20), |_| false)
            .ok();
        if r.target(0, |t| t.stats.commands) > before {
            break;
        }
    }
    assert!(r.target(0, |t| t.stats.commands) > before);
    let a = abort(&mut r, 0, v);
    let (victim, ab) = collect(&mut r, v, a);
    let log = r.log(6);
    assert_eq!(
        victim.h.status.status(),
        CamStatus::ReqAborted,
        "{:?}\n{log}",
        victim.h.status
    );
    assert_eq!(ab.h.status.status(), CamStatus::ReqCmp);
    assert!(
        log.contains("DATA IN 16384") && log.contains("ABORT TASK"),
        "aborted in the same connection:\n{log}"
    );
    r.check(true);
}

#[test]
fn abort_of_a_command_completed_on_the_card_but_not_yet_seen() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    let v = raw_read(&mut r, 0, 0, 1, Duration::from_secs(1));
    r.stack.xpt.step();
    r.stack.xpt.step();
    // Let the card finish without the SIM looking.
    let done0 = r.model(|m| m.axil_read(hba_abi::regs::CNT_COMPLETED).unwrap());
    for _ in 0..200 {
        r.model(|m| m.idle(1_000));
        if r.model(|m| m.axil_read(hba_abi::regs::CNT_COMPLETED).unwrap()) > done0 {
            break;
        }
    }
    let a = abort(&mut r, 0, v);
    let (victim, ab) = collect(&mut r, v, a);
    assert_eq!(
        victim.h.status.status(),
        CamStatus::ReqCmp,
        "{:?}",
        victim.h.status
    );
    assert_eq!(ab.h.status.status(), CamStatus::UaAbort);
    // The cancelled request cannot hit the next command in that slot.
    let v2 = raw_read(&mut r, 0, 1, 1, Duration::from_secs(1));
    let c2 = r.wait_ccb(v2, Duration::from_millis(20));
    assert_eq!(c2.h.status.status(), CamStatus::ReqCmp);
    r.check(true);
}

// ---------------------------------------------------------------- timeouts and recovery

/// Rung 1: a disconnected command that never comes back is aborted: CMD_TIMEOUT, with
/// its sibling on the same device requeued and completed.
#[test]
fn timeout_aborts_the_command_and_requeues_its_sibling() {
    let mut cfg = TargetConfig::new(0);
    cfg.access_cycles = 2_000_000; // 20 ms: longer than the CCB timeout
    let mut r = rig(vec![cfg]);
    let v = raw_read(&mut r, 0, 0, 1, Duration::from_millis(2));
    let s = raw_read(&mut r, 0, 1, 1, Duration::from_secs(1));
    let (victim, sib) = collect(&mut r, v, s);
    assert_eq!(
        victim.h.status.status(),
        CamStatus::CmdTimeout,
        "{:?}",
        victim.h.status
    );
    assert!(victim.h.status.has(CAM_DEV_QFRZN));
    release_if_frozen(&mut r, &victim);
    assert!(
        matches!(
            sib.h.status.status(),
            CamStatus::RequeueReq | CamStatus::CmdTimeout
        ),
        "{:?}",
        sib.h.status
    );
    release_if_frozen(&mut r, &sib);
    let c = r.stack.report().counters.clone();
    assert!(
        c.timeouts >= 1 && c.bdrs == 0 && c.reinits == 0,
        "abort was enough: {c:?}"
    );
    r.check(true);
}

/// A target that hangs in DATA IN holds the bus: the abort and the BUS DEVICE RESET
/// cannot be delivered, so the ladder goes on to a bus reset (and, if the firmware is
/// stuck too, a controller re-initialisation). The command ends CMD_TIMEOUT, the stack
/// keeps working.
#[test]
fn a_hung_target_climbs_the_ladder_and_the_stack_recovers() {
    let mut r = rig(vec![TargetConfig::new(0), TargetConfig::new(1)]);
    r.target(0, |t| {
        t.set_faults(&faults(vec![FaultRule {
            first_n: Some(1),
            ..rule(
                Some(0x28),
                FaultAction::Hang {
                    phase: Phase::DataIn,
                },
            )
        }]))
    });
    let v = raw_read(&mut r, 0, 0, 1, Duration::from_millis(2));
    let victim = r.wait_ccb(v, Duration::from_millis(100));
    assert_eq!(
        victim.h.status.status(),
        CamStatus::CmdTimeout,
        "{:?}",
        victim.h.status
    );
    release_if_frozen(&mut r, &victim);
    let c = r.stack.report().counters.clone();
    assert!(c.bus_resets >= 2, "the ladder reset the bus: {c:?}");
    let log = r.stack.report().log.clone();
    assert!(
        log.iter()
            .any(|l| matches!(l, SimLog::EscalateBdr { target: 0 })),
        "{log:?}"
    );
    assert!(
        log.iter().any(|l| matches!(l, SimLog::BusReset { .. })),
        "{log:?}"
    );
    // Afterwards both disks work.
    for id in [0u32, 1] {
        let da = r.da(id);
        let io = da.read(&mut r.stack.xpt, 4, 2).unwrap();
        let res = r.wait(io);
        assert!(res.is_ok(), "{:?}", res.status);
        assert_eq!(res.data, r.disk_blocks(id as u8, 4, 2));
    }
    r.check(false);
}

/// A sequencer trap (an illegal instruction appears in the main loop): the hardware posts
/// TRAP, the SIM re-initialises the controller (soft reset, firmware reloaded and
/// verified, bus reset), the outstanding command is returned once and retried by `da`.
#[test]
fn firmware_trap_reinitialises_the_controller() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    let da = r.da(0);
    let data = pattern(11, 4096);
    let io = da.write(&mut r.stack.xpt, 40, data.clone()).unwrap();
    assert!(r.wait(io).is_ok());
    let main = hba_firmware::asm::SymbolMap::parse(hba_firmware::DEFAULT_SYMBOLS)
        .unwrap()
        .addr_of("main")
        .expect("main label");
    let io = da.read(&mut r.stack.xpt, 40, 8).unwrap();
    r.stack.xpt.step();
    // A corrupted instruction word (all ones is no valid opcode) at `main`.
    r.model(|m| {
        m.axil_write(hba_abi::regs::SEQ_IADDR, main).unwrap();
        m.axil_write(hba_abi::regs::SEQ_IDATA, 0xFFFF_FFFF).unwrap();
    });
    let res = r.wait(io);
    assert!(res.is_ok(), "{:?} {:?}", res.status, r.stack.report().log);
    assert_eq!(res.data, data);
    let rep = r.stack.report();
    assert!(rep.counters.reinits >= 1, "{:?}", rep.counters);
    assert!(
        rep.log.iter().any(|l| matches!(l, SimLog::Trap(_))),
        "{:?}",
        rep.log
    );
    drop(rep);
    r.check(false);
}

// ---------------------------------------------------------------- management CCBs

fn record_async(r: &mut SimRig) -> std::rc::Rc<std::cell::RefCell<Vec<(u32, hba_cam::Path)>>> {
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let s = seen.clone();
    r.stack.xpt.register_async(
        hba_cam::Path::wildcard(),
        hba_cam::async_event::AC_ALL,
        Box::new(move |e| s.borrow_mut().push((e.code, e.path))),
    );
    seen
}

fn submit_wait(r: &mut SimRig, c: Ccb) -> Ccb {
    let id = r.stack.xpt.submit(c, Completion::Queue);
    r.wait_ccb(id, Duration::from_millis(50))
}

/// XPT_RESET_DEV: BUS DEVICE RESET through the mailbox; the target's disconnected command
/// comes back CAM_BDR_SENT, AC_SENT_BDR is posted, the agreement is renegotiated.
#[test]
fn reset_dev_sends_bus_device_reset() {
    let mut cfg = TargetConfig::new(0);
    cfg.access_cycles = 300_000;
    let mut r = rig(vec![cfg, TargetConfig::new(1)]);
    let seen = record_async(&mut r);
    let v = raw_read(&mut r, 0, 0, 1, Duration::from_secs(1));
    r.stack
        .run_until("disconnect", Duration::from_millis(1), |_| false)
        .ok();
    let rd = Ccb::new(r.addr(0).path(), CcbBody::ResetDev);
    let c = submit_wait(&mut r, rd);
    assert_eq!(c.h.status.status(), CamStatus::ReqCmp);
    let victim = r.wait_ccb(v, Duration::from_millis(20));
    assert_eq!(
        victim.h.status.status(),
        CamStatus::BdrSent,
        "{:?}",
        victim.h.status
    );
    release_if_frozen(&mut r, &victim);
    let log = r.log(20);
    assert!(
        log.contains("ID7->ID0 MSG OUT 80 0c"),
        "IDENTIFY + BUS DEVICE RESET on the bus:\n{log}"
    );
    assert!(seen
        .borrow()
        .iter()
        .any(|(c, _)| *c == hba_cam::async_event::AC_SENT_BDR));
    assert_eq!(r.stack.report().counters.bdrs, 1);
    // The other target was not touched and the reset one works again.
    let da = r.da(0);
    let io = da.read(&mut r.stack.xpt, 0, 1).unwrap();
    assert!(r.wait(io).is_ok());
    r.check(true);
}

/// XPT_RESET_BUS: RST on the bus inside seed 000's protocol; commands in flight come back
/// CAM_SCSI_BUS_RESET, AC_BUS_RESET is posted, agreements go back to asynchronous and are
/// renegotiated on the next command.
#[test]
fn reset_bus_resets_the_bus() {
    let mut cfg = TargetConfig::new(0);
    cfg.access_cycles = 300_000;
    let mut r = rig(vec![cfg]);
    let seen = record_async(&mut r);
    let v = raw_read(&mut r, 0, 0, 1, Duration::from_secs(1));
    r.stack
        .run_until("disconnect", Duration::from_millis(1), |_| false)
        .ok();
    let rb = Ccb::new(hba_cam::Path::bus(r.stack.bus), CcbBody::ResetBus);
    let c = submit_wait(&mut r, rb);
    assert_eq!(c.h.status.status(), CamStatus::ReqCmp);
    let victim = r.wait_ccb(v, Duration::from_millis(20));
    assert_eq!(
        victim.h.status.status(),
        CamStatus::ScsiBusReset,
        "{:?}",
        victim.h.status
    );
    release_if_frozen(&mut r, &victim);
    assert!(seen
        .borrow()
        .iter()
        .any(|(c, _)| *c == hba_cam::async_event::AC_BUS_RESET));
    assert_eq!(r.stack.report().current[0].offset, 0, "agreement reset");
    seen.borrow_mut().clear();
    let da = r.da(0);
    let io = da.read(&mut r.stack.xpt, 0, 1).unwrap();
    assert!(r.wait(io).is_ok());
    assert_eq!(r.stack.report().current[0].offset, 15, "renegotiated");
    assert!(
        seen.borrow()
            .iter()
            .filter(|(c, _)| *c == hba_cam::async_event::AC_TRANSFER_NEG)
            .count()
            >= 1,
        "AC_TRANSFER_NEG for the new agreement"
    );
    r.check(false);
}

/// GET/SET_TRAN_SETTINGS: the user's limits clip the goal, a request beyond what the engine
/// can produce (Fast-40, offset 31) is clipped to Fast-20 offset 16, and the firmware
/// negotiates only what the goal allows; the SDTR on the bus says so.
#[test]
fn transfer_settings_are_clipped_to_the_engine_and_the_user() {
    use hba_cam::ccb::{SpiSettings, TranSettings, TranType};
    let mut r = rig(vec![TargetConfig::new(0)]);
    let path = r.addr(0).path();
    let set = |r: &mut SimRig, kind, period, offset| {
        let c = submit_wait(
            r,
            Ccb::new(
                path,
                CcbBody::SetTranSettings(TranSettings {
                    kind,
                    spi: SpiSettings {
                        sync_period: Some(period),
                        sync_offset: Some(offset),
                        ..Default::default()
                    },
                    tq_enb: None,
                }),
            ),
        );
        assert_eq!(c.h.status.status(), CamStatus::ReqCmp);
    };
    let get = |r: &mut SimRig, kind| {
        let c = submit_wait(
            r,
            Ccb::new(
                path,
                CcbBody::GetTranSettings(TranSettings {
                    kind,
                    ..Default::default()
                }),
            ),
        );
        let CcbBody::GetTranSettings(t) = c.body else {
            panic!()
        };
        t
    };
    set(&mut r, TranType::User, 0x0A, 31);
    let u = get(&mut r, TranType::User);
    assert_eq!(
        (u.spi.sync_period, u.spi.sync_offset),
        (Some(0x0C), Some(16))
    );
    // Lower the user's limit to Fast-10 offset 8: the goal follows, the firmware
    // renegotiates on the next command.
    set(&mut r, TranType::User, 0x19, 8);
    set(&mut r, TranType::Current, 0x0C, 15);
    let da = r.da(0);
    let io = da.read(&mut r.stack.xpt, 0, 1).unwrap();
    assert!(r.wait(io).is_ok());
    let cur = get(&mut r, TranType::Current);
    assert_eq!(
        (cur.spi.sync_period, cur.spi.sync_offset),
        (Some(0x19), Some(8))
    );
    let log = r.log(200);
    assert!(log.contains("SDTR period 0x19"), "{log}");
    assert!(
        !log.contains("SDTR period 0x0a"),
        "never offers Fast-40:\n{log}"
    );
    r.check(true);
}

/// Detach: every outstanding CCB comes back exactly once (CAM_NO_HBA), the card stops,
/// later CCBs are refused.
#[test]
fn detach_returns_every_outstanding_ccb_once() {
    let mut cfg = TargetConfig::new(0);
    cfg.access_cycles = 500_000;
    let mut r = rig(vec![cfg]);
    let ids: Vec<CcbId> = (0..6)
        .map(|k| raw_read(&mut r, 0, k, 1, Duration::from_secs(1)))
        .collect();
    r.stack
        .run_until("in flight", Duration::from_millis(1), |_| false)
        .ok();
    assert!(r.stack.report().outstanding >= 1);
    r.stack.detach(Duration::from_millis(10)).unwrap();
    let done = r.stack.xpt.take_completed();
    for id in &ids {
        let n = done.iter().filter(|c| c.h.id == *id).count();
        assert_eq!(n, 1, "CCB {id:?} completed {n} times");
    }
    assert!(done
        .iter()
        .filter(|c| ids.contains(&c.h.id))
        .all(|c| matches!(
            c.h.status.status(),
            CamStatus::NoHba | CamStatus::DevNotThere
        )));
    assert!(r.stack.report().dead);
    let s = r.stack.xpt.stats();
    assert_eq!(s.duplicate_io_results, 0);
    let late = raw_read(&mut r, 0, 9, 1, Duration::from_secs(1));
    assert!(!r.wait_ccb(late, Duration::from_millis(5)).h.status.is_ok());
}

/// A CDB by reference travels like an inline one; one longer than the HCB holds is
/// refused as invalid.
#[test]
fn cdb_by_reference() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    let mk = |r: &SimRig, cdb: Vec<u8>| {
        Ccb::scsi_io(
            r.addr(0).path(),
            Cdb::by_ref(cdb.into()).unwrap(),
            DataXfer::In(DataBuf::Single(vec![0; 512])),
            Duration::from_secs(1),
        )
    };
    let ok = mk(&r, rw10(0x28, 5, 1));
    let c = submit_wait(&mut r, ok);
    assert_eq!(c.h.status.status(), CamStatus::ReqCmp);
    let CcbBody::ScsiIo(io) = &c.body else {
        panic!()
    };
    let DataXfer::In(d) = &io.data else { panic!() };
    assert_eq!(d.to_vec(), r.disk_blocks(0, 5, 1));
    let mut long = rw10(0x28, 5, 1);
    long.resize(20, 0);
    let bad = mk(&r, long);
    let c = submit_wait(&mut r, bad);
    assert_eq!(c.h.status.status(), CamStatus::ReqInvalid);
    r.check(true);
}

/// CCB flags reach the bus: no disconnect privilege (IDENTIFY 0x80), ORDERED and HEAD OF
/// QUEUE tags, and no autosense (CHECK CONDITION comes back without sense, and no
/// REQUEST SENSE goes out).
#[test]
fn ccb_flags_reach_the_bus() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    let mk = |r: &SimRig, lba: u32| {
        Ccb::scsi_io(
            r.addr(0).path(),
            Cdb::new(&rw10(0x28, lba, 1)).unwrap(),
            DataXfer::In(DataBuf::Single(vec![0; 512])),
            Duration::from_secs(1),
        )
    };
    let mut c = mk(&r, 1);
    c.h.dis_disconnect = true;
    assert!(submit_wait(&mut r, c).h.status.is_ok());
    assert!(
        r.log(8).contains("MSG OUT 80 (IDENTIFY lun0)"),
        "{}",
        r.log(8)
    );
    let mut c = mk(&r, 2);
    c.h.tag_action = TagAction::Ordered;
    assert!(submit_wait(&mut r, c).h.status.is_ok());
    assert!(r.log(8).contains("ORDERED QUEUE TAG"), "{}", r.log(8));
    let mut c = mk(&r, 3);
    c.h.tag_action = TagAction::HeadOfQueue;
    assert!(submit_wait(&mut r, c).h.status.is_ok());
    assert!(r.log(8).contains("HEAD OF QUEUE TAG"), "{}", r.log(8));
    r.target(0, |t| {
        t.set_faults(&faults(vec![rule(
            Some(0x28),
            FaultAction::CheckCondition {
                key: 0x3,
                asc: 0x11,
                ascq: 0,
            },
        )]))
    });
    let mut c = mk(&r, 4);
    c.h.dis_autosense = true;
    let c = submit_wait(&mut r, c);
    assert_eq!(c.h.status.status(), CamStatus::ScsiStatusError);
    assert!(!c.h.status.has(CAM_AUTOSNS_VALID));
    release_if_frozen(&mut r, &c);
    let log = r.log(10);
    assert!(!log.contains("REQUEST SENSE"), "{log}");
    r.check(true);
}

/// A wedged sequencer (halted, no trap, no progress): the command times out, the abort
/// and the BUS DEVICE RESET go unanswered, the bus reset is not reported either, so the
/// controller is re-initialised; the command comes back once and the disk works again.
#[test]
fn a_wedged_sequencer_is_recovered_by_reinitialisation() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    let v = raw_read(&mut r, 0, 0, 1, Duration::from_millis(2));
    r.model(|m| m.axil_write(hba_abi::regs::SEQ_CTRL, 0).unwrap());
    let victim = r.wait_ccb(v, Duration::from_millis(100));
    assert_eq!(
        victim.h.status.status(),
        CamStatus::CmdTimeout,
        "{:?}",
        victim.h.status
    );
    assert!(r.done.iter().all(|c| c.h.id != v), "returned once");
    release_if_frozen(&mut r, &victim);
    let rep = r.stack.report();
    assert_eq!(rep.counters.reinits, 1, "{:?}", rep.log);
    drop(rep);
    let da = r.da(0);
    let io = da.read(&mut r.stack.xpt, 0, 1).unwrap();
    let res = r.wait(io);
    assert!(res.is_ok(), "{:?}", res.status);
    assert_eq!(res.data, r.disk_blocks(0, 0, 1));
    r.check(false);
}

/// A reselection with a tag nobody sent: the firmware aborts that nexus and reports it;
/// the SIM logs it, and the real command, which the target then loses, times out and is
/// recovered rather than completed with someone else's data.
#[test]
fn unknown_reselection_is_logged_and_nothing_is_misplaced() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    r.target(0, |t| {
        t.set_faults(&faults(vec![FaultRule {
            first_n: Some(1),
            ..rule(Some(0x28), FaultAction::BadReselectTag)
        }]))
    });
    let v = raw_read(&mut r, 0, 7, 1, Duration::from_millis(3));
    let victim = r.wait_ccb(v, Duration::from_millis(100));
    let log = r.stack.report().log.clone();
    assert!(
        log.iter()
            .any(|l| matches!(l, SimLog::UnknownResel { target: 0, .. })),
        "{log:?}"
    );
    // Either the target's ABORT TASK of the stray nexus ended the task (then our command
    // timed out) or the command was retried; it never completes GOOD with wrong data.
    if victim.h.status.is_ok() {
        let CcbBody::ScsiIo(io) = &victim.body else {
            panic!()
        };
        let DataXfer::In(d) = &io.data else { panic!() };
        assert_eq!(d.to_vec(), r.disk_blocks(0, 7, 1));
    } else {
        assert_eq!(
            victim.h.status.status(),
            CamStatus::CmdTimeout,
            "{:?}",
            victim.h.status
        );
    }
    release_if_frozen(&mut r, &victim);
    r.check(false);
}

// ---------------------------------------------------------------- data-safety statuses

/// A DATA IN byte arrives corrupted (data and parity) and the target ignores INITIATOR
/// DETECTED ERROR: the command must end CAM_UNCOR_PARITY, never GOOD with wrong data.
/// When the target does resend, `da` gets GOOD with the right data.
#[test]
fn bad_data_byte_is_uncorrectable_parity_or_resent() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    let good = r.disk_blocks(0, 20, 4);
    let bad = |no_retry| {
        faults(vec![FaultRule {
            first_n: Some(1),
            ..rule(
                Some(0x28),
                FaultAction::BadByte {
                    phase: Phase::DataIn,
                    byte: 700,
                    no_retry,
                    reselected: false,
                },
            )
        }])
    };
    r.target(0, |t| t.set_faults(&bad(true)));
    let res = pass_read(&mut r, 0, 20, 4, 2048);
    assert_eq!(st(&res), CamStatus::UncorParity, "{:?}", res.status);
    r.target(0, |t| t.set_faults(&bad(false)));
    let res = pass_read(&mut r, 0, 20, 4, 2048);
    assert_eq!(st(&res), CamStatus::ReqCmp, "{:?}", res.status);
    assert_eq!(res.data, good, "resent data is right");
    r.check(false);
}

/// A target entering a reserved phase: CAM_SEQUENCE_FAIL (the firmware's PROTOCOL), the
/// bus reset that follows is survived.
#[test]
fn reserved_phase_is_a_sequence_failure() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    r.target(0, |t| {
        t.set_faults(&faults(vec![FaultRule {
            first_n: Some(1),
            ..rule(Some(0x28), FaultAction::ReservedPhase)
        }]))
    });
    let res = pass_read(&mut r, 0, 1, 1, 512);
    assert_eq!(st(&res), CamStatus::SequenceFail, "{:?}", res.status);
    // After the bus reset the disk reports UNIT ATTENTION once: `da` retries it.
    let da = r.da(0);
    let io = da.read(&mut r.stack.xpt, 1, 1).unwrap();
    let res = r.wait(io);
    assert!(res.is_ok(), "{:?}", res.status);
    r.check(false);
}

/// A READ sent with a data-out buffer: the card refuses the data phase (CAM_DATA_RUN_ERR)
/// and neither the buffer's bytes nor the medium change.
#[test]
fn data_phase_against_the_ccb_direction_is_refused() {
    let mut r = rig(vec![TargetConfig::new(0)]);
    let before = r.disk_blocks(0, 0, 4);
    let p = PassHandle::for_device(&r.stack.xpt, r.addr(0)).expect("pass");
    let io = p
        .command(
            &mut r.stack.xpt,
            &rw10(0x28, 0, 4),
            PassData::Out(pattern(9, 2048)),
            Duration::from_millis(50),
            false,
        )
        .unwrap();
    let res = r.wait(io);
    assert_eq!(st(&res), CamStatus::DataRunErr, "{:?}", res.status);
    // And a WRITE with an in-buffer writes nothing.
    let io = p
        .command(
            &mut r.stack.xpt,
            &rw10(0x2A, 0, 4),
            PassData::In(2048),
            Duration::from_millis(50),
            false,
        )
        .unwrap();
    let res = r.wait(io);
    assert_eq!(st(&res), CamStatus::DataRunErr, "{:?}", res.status);
    assert_eq!(r.disk_blocks(0, 0, 4), before, "medium untouched");
    r.check(true);
}

/// With a connection time limit, the firmware itself gives up on a target that hangs
/// while connected: the bus is reset and the command ends CAM_CMD_TIMEOUT at once,
/// before the SIM's own timeout ladder would start.
#[test]
fn firmware_connection_limit_ends_a_hung_command() {
    let cfg = hba_host_driver::sim::SimConfig {
        connect_timeout: Some(Duration::from_micros(500)),
        ..SimRig::cfg()
    };
    let mut r = SimRig::new(Width::Narrow, vec![disk(TargetConfig::new(0), 2048)], cfg).unwrap();
    r.scan();
    r.target(0, |t| {
        t.set_faults(&faults(vec![FaultRule {
            first_n: Some(1),
            ..rule(
                Some(0x28),
                FaultAction::Hang {
                    phase: Phase::DataIn,
                },
            )
        }]))
    });
    let v = raw_read(&mut r, 0, 0, 1, Duration::from_secs(1));
    let t0 = r.stack.now();
    let c = r.wait_ccb(v, Duration::from_millis(20));
    assert_eq!(
        c.h.status.status(),
        CamStatus::CmdTimeout,
        "{:?}",
        c.h.status
    );
    assert!(
        r.stack.now().0 - t0.0 < 5_000_000,
        "ended by the firmware's limit"
    );
    assert_eq!(
        r.stack.report().counters.timeouts,
        0,
        "not by the SIM's ladder"
    );
    release_if_frozen(&mut r, &c);
    let da = r.da(0);
    let io = da.read(&mut r.stack.xpt, 0, 1).unwrap();
    let res = r.wait(io);
    assert!(res.is_ok(), "{:?}", res.status);
    r.check(false);
}
