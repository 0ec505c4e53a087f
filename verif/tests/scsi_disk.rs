//! The whole core under Verilator on a pin-level SCSI bus: the minimal test program
//! (`hba_verif::testprog`) in the sequencer drives a disk model through arbitration,
//! selection, MESSAGE OUT, COMMAND, DATA IN/OUT (async and synchronous), STATUS and
//! MESSAGE IN, with the protocol monitor watching every cycle. Also the host interface:
//! ring wrap and phase bit, interrupt moderation, hardware HCB checks.

use hba_abi::layout::{self, check, cqe::kind, hba_status};
use hba_abi::regs;
use hba_verif::host::{Entry, Hcb};
use hba_verif::rig::{pattern, rw10, DiskRig as Rig, DISK_ID};

const BUF: u32 = layout::DATA;

fn assert_good(e: &Entry, slot: u32, residual: u32) {
    assert_eq!(e.kind(), kind::COMPLETION, "{e:x?}");
    assert_eq!(e.hba_status(), hba_status::OK, "{e:x?}");
    assert_eq!(e.scsi_status(), 0x00, "GOOD expected: {e:x?}");
    assert_eq!(e.slot(), slot, "{e:x?}");
    assert_eq!(e.residual(), residual, "{e:x?}");
}

/// WRITE(10) of `blocks` blocks then READ(10) of them into another buffer; checks the
/// disk, the buffer, the completions and the monitor. Returns the simulated cycles of
/// the read.
fn write_then_read(goal: (u32, u32), blocks: u16) -> (Rig, u64) {
    let mut rig = Rig::new(goal, 2048);
    let len = u32::from(blocks) * 512;
    let data = pattern(u32::from(blocks) + goal.0, len as usize);
    rig.write_buf(BUF, &data);
    let e = rig.run(
        3,
        &Hcb::new(DISK_ID, 0, &rw10(0x2A, 100, blocks), BUF, len, false),
    );
    assert_good(&e, 3, 0);
    assert_eq!(
        rig.disk_blocks(100, u64::from(blocks)),
        data,
        "disk content"
    );

    let rbuf = BUF + 0x8000;
    let t0 = rig.m.cycle();
    let e = rig.run(
        4,
        &Hcb::new(DISK_ID, 0, &rw10(0x28, 100, blocks), rbuf, len, true),
    );
    let cycles = rig.m.cycle() - t0;
    assert_good(&e, 4, 0);
    assert_eq!(rig.read_buf(rbuf, len as usize), data, "data read back");
    rig.assert_monitor_clean();
    (rig, cycles)
}

#[test]
fn async_write_and_read_through_the_real_core() {
    let (mut rig, cycles) = write_then_read((0, 0), 8);
    let ag = rig.bus().monitor.agreement(7, DISK_ID as u8);
    assert_eq!(ag.offset, 0, "asynchronous: {ag:?}");
    eprintln!("async 4 KiB read: {cycles} cycles (10 ns)");
}

#[test]
fn synchronous_fast20_after_sdtr() {
    let (mut rig, cycles) = write_then_read((0x0C, 15), 16);
    let ag = rig.bus().monitor.agreement(7, DISK_ID as u8);
    assert_eq!((ag.period_factor, ag.offset), (0x0C, 15), "{ag:?}");
    eprintln!("Fast-20 8 KiB read: {cycles} cycles (10 ns)");
}

#[test]
fn synchronous_fast10_offset_8() {
    let (mut rig, _) = write_then_read((0x19, 8), 4);
    let ag = rig.bus().monitor.agreement(7, DISK_ID as u8);
    assert_eq!((ag.period_factor, ag.offset), (0x19, 8), "{ag:?}");
}

#[test]
fn selection_timeout_is_reported_with_the_full_residual() {
    let mut rig = Rig::new((0, 0), 2048);
    let e = rig.run(1, &Hcb::new(5, 0, &rw10(0x28, 0, 1), BUF, 512, true));
    assert_eq!(e.kind(), kind::COMPLETION);
    assert_eq!(e.hba_status(), hba_status::SEL_TIMEOUT, "{e:x?}");
    assert_eq!(e.residual(), 512);
    assert_eq!(rig.m.axil_read(regs::CNT_SEL_TIMEOUTS).unwrap(), 1);
    rig.assert_monitor_clean();
    // The bus is usable afterwards.
    let e = rig.run(2, &Hcb::new(DISK_ID, 0, &[0, 0, 0, 0, 0, 0], 0, 0, false));
    assert_good(&e, 2, 0);
}

#[test]
fn hostile_hcbs_are_refused_by_hardware_and_touch_nothing() {
    let mut rig = Rig::new((0, 0), 2048);
    // A buffer over the HCB area, a buffer running off the end of card memory, both
    // direction bits, CDB lengths 0 and 17, the HBA's own ID, a target above 7 on a
    // narrow bus, an oversized sense length.
    let mut cases = vec![
        (
            Hcb::new(DISK_ID, 0, &rw10(0x28, 0, 1), layout::HCBS, 512, true),
            check::BAD_BUFFER,
        ),
        (
            Hcb::new(DISK_ID, 0, &rw10(0x28, 0, 1), 0x1_FF00, 512, true),
            check::BAD_BUFFER,
        ),
        (
            Hcb::new(7, 0, &rw10(0x28, 0, 1), BUF, 512, true),
            check::BAD_TARGET,
        ),
        (
            Hcb::new(9, 0, &rw10(0x28, 0, 1), BUF, 512, true),
            check::BAD_TARGET,
        ),
        (Hcb::new(DISK_ID, 0, &[], BUF, 0, true), check::BAD_CDB_LEN),
        (
            Hcb::new(DISK_ID, 0, &[0u8; 17], BUF, 0, true),
            check::BAD_CDB_LEN,
        ),
    ];
    let mut both = Hcb::new(DISK_ID, 0, &rw10(0x28, 0, 1), BUF, 512, true);
    both.ctrl |= layout::hcb::ctrl::DIR_OUT;
    cases.push((both, check::BAD_DIRECTION));
    let mut sense = Hcb::new(DISK_ID, 0, &rw10(0x28, 0, 1), BUF, 512, true);
    sense.sense_len = 65;
    cases.push((sense, check::BAD_SENSE_LEN));

    let before = rig.read_buf(0, layout::DATA as usize);
    for (i, (h, want)) in cases.iter().enumerate() {
        let slot = 10 + i as u32;
        let e = rig.run(slot, h);
        assert_eq!(e.hba_status(), hba_status::BAD_HCB, "case {i}: {e:x?}");
        assert_eq!(e.words[3], *want, "case {i}: check code");
        assert_eq!(e.slot(), slot);
    }
    // A slot index beyond the slots, straight from the submission ring.
    rig.host.submit(&mut rig.m, &[200]).unwrap();
    let e = rig
        .host
        .wait_entry(&mut rig.m, 1_000_000)
        .unwrap()
        .expect("entry");
    assert_eq!(e.hba_status(), hba_status::BAD_HCB, "{e:x?}");
    assert_eq!(e.words[3], check::BAD_SLOT);
    assert_eq!(e.slot(), 200);
    // Nothing but the HCBs we wrote and the ring entries changed below the data area.
    let after = rig.read_buf(0, layout::DATA as usize);
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        let addr = i as u32;
        let in_ring = (layout::SQ..layout::HCBS).contains(&addr);
        let in_slots =
            (layout::hcb_addr(10)..layout::hcb_addr(10 + cases.len() as u32)).contains(&addr);
        if !in_ring && !in_slots {
            assert_eq!(b, a, "byte {addr:#x} changed");
        }
    }
    assert_eq!(
        rig.bus().monitor.log().len(),
        0,
        "no bus activity for bad HCBs"
    );
}

#[test]
fn completion_ring_wraps_and_flips_its_phase() {
    let mut rig = Rig::new((0, 0), 2048);
    let tur = Hcb::new(DISK_ID, 0, &[0, 0, 0, 0, 0, 0], 0, 0, false);
    for s in 0..4 {
        rig.host.write_hcb(&mut rig.m, s, &tur);
    }
    let n = layout::CQ_ENTRIES + 40;
    let mut seen = 0;
    let mut phases = Vec::new();
    let mut next = 0u32;
    while seen < n {
        // Keep up to four in flight, one doorbell per batch.
        let batch: Vec<u32> = (0..4).map(|i| (next + i) % 4).collect();
        rig.host.submit(&mut rig.m, &batch).unwrap();
        next += 4;
        for _ in 0..4 {
            let e = rig
                .host
                .wait_entry(&mut rig.m, 5_000_000)
                .unwrap()
                .expect("entry");
            assert_eq!(e.index, seen % layout::CQ_ENTRIES);
            assert_eq!(e.kind(), kind::COMPLETION);
            assert_eq!(e.hba_status(), hba_status::OK);
            phases.push(e.phase());
            seen += 1;
        }
    }
    assert!(phases[..layout::CQ_ENTRIES as usize].iter().all(|p| *p));
    assert!(phases[layout::CQ_ENTRIES as usize..].iter().all(|p| !*p));
    assert_eq!(rig.m.axil_read(regs::CNT_COMPLETED).unwrap(), seen);
    assert_eq!(rig.m.axil_read(regs::CNT_POSTED).unwrap(), seen);
    assert_eq!(rig.m.axil_read(regs::CNT_SUBMITTED).unwrap(), next);
    let p = rig.m.axil_read(regs::CQ_PRODUCER).unwrap();
    assert_eq!(p & 0xFF, seen % layout::CQ_ENTRIES);
    assert_eq!(p >> 31, 0, "second pass writes phase 0");
    rig.assert_monitor_clean();
}

#[test]
fn interrupt_moderation_by_count_and_by_time() {
    let mut rig = Rig::new((0, 0), 2048);
    let tur = Hcb::new(DISK_ID, 0, &[0, 0, 0, 0, 0, 0], 0, 0, false);
    for s in 0..8 {
        rig.host.write_hcb(&mut rig.m, s, &tur);
    }
    rig.m.axil_write(regs::IRQ_ENABLE, regs::irq::CQ).unwrap();
    // By count: four completions, one interrupt.
    rig.m.axil_write(regs::IRQ_MOD_COUNT, 4).unwrap();
    rig.host.submit(&mut rig.m, &[0, 1, 2, 3]).unwrap();
    let mut got = 0;
    let mut raised_before_last = None;
    while got < 4 {
        if rig.host.poll(&mut rig.m).unwrap().is_some() {
            got += 1;
            if got == 3 {
                raised_before_last = Some(rig.m.axil_read(regs::CNT_IRQ_RAISED).unwrap());
            }
        } else {
            rig.m.idle(500);
        }
    }
    rig.m.idle(100);
    assert_eq!(
        raised_before_last,
        Some(0),
        "no interrupt before the fourth entry"
    );
    assert_eq!(rig.m.axil_read(regs::CNT_IRQ_RAISED).unwrap(), 1);
    assert_ne!(rig.m.axil_read(regs::IRQ_CAUSE).unwrap() & regs::irq::CQ, 0);
    rig.m.axil_write(regs::IRQ_CAUSE, regs::irq::CQ).unwrap();
    assert_eq!(
        rig.m.axil_read(regs::IRQ_CAUSE).unwrap() & regs::irq::CQ,
        0,
        "W1C"
    );

    // By time: count 100 never reached, the 20 us timer fires after one entry.
    rig.m.axil_write(regs::IRQ_MOD_COUNT, 100).unwrap();
    rig.m.axil_write(regs::IRQ_MOD_TIME, 2_000).unwrap();
    rig.host.submit(&mut rig.m, &[4]).unwrap();
    let e = rig.host.wait_entry(&mut rig.m, 5_000_000).unwrap();
    assert!(e.is_some());
    let t_entry = rig.m.cycle();
    assert_eq!(
        rig.m.axil_read(regs::IRQ_CAUSE).unwrap() & regs::irq::CQ,
        0,
        "fired before the moderation time"
    );
    let mut waited = 0;
    while rig.m.axil_read(regs::IRQ_CAUSE).unwrap() & regs::irq::CQ == 0 {
        rig.m.idle(50);
        waited += 50;
        assert!(waited < 10_000, "time moderation never fired");
    }
    assert!(rig.m.cycle() - t_entry <= 2_600, "fired late");
    assert_eq!(rig.m.axil_read(regs::CNT_IRQ_RAISED).unwrap(), 2);
}
