//! Issue 13 device models over the bus: CD-ROM, processor, scanner, old devices. Every
//! run asserts the monitor's verdict.
mod common;
use common::*;
use proptest::prelude::*;
use scsi_bus::initiator::{Completion, InitiatorConfig, Request, TagKind};
use scsi_bus::target::cdrom::{CdRom, CD_BLOCK, READ_TOC};
use scsi_bus::target::disk::Disk;
use scsi_bus::target::legacy::{ignores_atn_config, old_disk, rejects_extended_config};
use scsi_bus::target::processor::{
    scanner_target_config, Processor, Scanner, Window, RECEIVE, SCAN, SEND, SET_WINDOW,
};
use scsi_bus::target::{Exec, LogicalUnit, Target, TargetConfig};
use scsi_bus::Width;
use scsi_defs::{msg, opcode as op, sense_key as sk, status};

fn good(c: &Completion) {
    assert_eq!(c.status(), Some(status::GOOD), "{c:?}");
}
fn check(c: &Completion, key: u8, asc: u8, ascq: u8) {
    assert_eq!(c.status(), Some(status::CHECK_CONDITION), "{c:?}");
    assert_eq!(c.sense_key(), Some((key, asc, ascq)), "{c:?}");
}
fn rig_with(t: Target, seed: u64) -> Rig {
    let mut t = t;
    t.clear_unit_attention();
    Rig::new(Width::Narrow, InitiatorConfig::new(7), vec![t], seed)
}
fn tur(id: u8) -> Request {
    Request::new(id, 0, &[op::TEST_UNIT_READY, 0, 0, 0, 0, 0])
}

// ----- CD-ROM -----

#[test]
fn cdrom_identity_capacity_read_toc_and_mode_pages() {
    let mut r = rig_with(
        Target::new(TargetConfig::new(5)).with_lun(0, CdRom::with_disc(300)),
        50,
    );
    let c = r.exec(Request::new(5, 0, &[op::INQUIRY, 0, 0, 0, 36, 0]).data_in(36));
    good(&c);
    assert_eq!(
        (c.data_in[0], c.data_in[1] & 0x80),
        (5, 0x80),
        "type 5, removable"
    );
    let c =
        r.exec(Request::new(5, 0, &[op::READ_CAPACITY_10, 0, 0, 0, 0, 0, 0, 0, 0, 0]).data_in(8));
    good(&c);
    assert_eq!(c.data_in, [0, 0, 0x01, 0x2B, 0, 0, 0x08, 0]);
    let c = r.exec(Request::new(5, 0, &read10(7, 2)).data_in(2 * CD_BLOCK));
    good(&c);
    assert_eq!(&c.data_in[..8], &7u64.to_be_bytes());
    assert_eq!(&c.data_in[CD_BLOCK..CD_BLOCK + 8], &8u64.to_be_bytes());
    check(
        &r.exec(Request::new(5, 0, &read10(299, 2)).data_in(2 * CD_BLOCK)),
        sk::ILLEGAL_REQUEST,
        0x21,
        0,
    );
    // READ TOC, LBA form: one data track at 0, lead-out at 300.
    let c = r.exec(Request::new(5, 0, &[READ_TOC, 0, 0, 0, 0, 0, 0, 0, 100, 0]).data_in(100));
    good(&c);
    assert_eq!(
        c.data_in,
        [0, 18, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0, 0, 0x14, 0xAA, 0, 0, 0, 0x01, 0x2C]
    );
    // MSF form: 300 + 150 frames = 00:06:00.
    let c = r.exec(Request::new(5, 0, &[READ_TOC, 2, 0, 0, 0, 0, 0, 0, 100, 0]).data_in(100));
    assert_eq!(&c.data_in[16..20], &[0, 0, 6, 0]);
    // Session info, then a bad format and a bad track.
    let c = r.exec(Request::new(5, 0, &[READ_TOC, 0, 1, 0, 0, 0, 0, 0, 12, 0]).data_in(12));
    assert_eq!(c.data_in.len(), 12);
    check(
        &r.exec(Request::new(5, 0, &[READ_TOC, 0, 7, 0, 0, 0, 0, 0, 12, 0]).data_in(12)),
        sk::ILLEGAL_REQUEST,
        0x24,
        0,
    );
    check(
        &r.exec(Request::new(5, 0, &[READ_TOC, 0, 0, 0, 0, 0, 5, 0, 12, 0]).data_in(12)),
        sk::ILLEGAL_REQUEST,
        0x24,
        0,
    );
    // MODE SENSE(10), all pages: 01, 0D, 0E, 2A after a 2048-byte block descriptor.
    let c = r.exec(
        Request::new(5, 0, &[op::MODE_SENSE_10, 0, 0x3F, 0, 0, 0, 0, 0x01, 0, 0]).data_in(256),
    );
    good(&c);
    assert_eq!(&c.data_in[8 + 4..8 + 8], &[0, 0, 0x08, 0]);
    let mut pages = Vec::new();
    let mut i = 16;
    while i + 1 < c.data_in.len() {
        pages.push(c.data_in[i]);
        i += 2 + usize::from(c.data_in[i + 1]);
    }
    assert_eq!(pages, vec![0x01, 0x0D, 0x0E, 0x2A]);
    let c = r.exec(Request::new(5, 0, &[op::MODE_SENSE_6, 8, 0x2A, 0, 255, 0]).data_in(255));
    good(&c);
    assert_eq!((c.data_in[3], c.data_in[4], c.data_in[5]), (0, 0x2A, 0x12));
    check(
        &r.exec(Request::new(5, 0, &[op::MODE_SENSE_6, 8, 0x08, 0, 255, 0]).data_in(255)),
        sk::ILLEGAL_REQUEST,
        0x24,
        0,
    );
    // A CD-ROM does not write.
    check(
        &r.exec(Request::new(5, 0, &write10(0, 1)).data_out(vec![0; 2048])),
        sk::ILLEGAL_REQUEST,
        0x20,
        0,
    );
    r.assert_clean();
}

#[test]
fn cdrom_no_medium_media_change_prevent_and_eject() {
    let mut r = rig_with(
        Target::new(TargetConfig::new(5)).with_lun(0, CdRom::empty()),
        51,
    );
    check(&r.exec(tur(5)), sk::NOT_READY, 0x3A, 0);
    let h = r.targets[0];
    if let Some(cd) = r.bus.device(h).lun_mut::<CdRom>(0) {
        cd.insert(vec![0x11; 10 * CD_BLOCK]);
    }
    check(&r.exec(tur(5)), sk::UNIT_ATTENTION, 0x28, 0);
    good(&r.exec(tur(5)));
    // Prevent removal: neither START STOP UNIT eject nor the button eject.
    good(&r.exec(Request::new(
        5,
        0,
        &[op::PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 1, 0],
    )));
    check(
        &r.exec(Request::new(5, 0, &[op::START_STOP_UNIT, 0, 0, 0, 0x02, 0])),
        sk::ILLEGAL_REQUEST,
        0x53,
        0x02,
    );
    let ejected = r
        .bus
        .device(h)
        .lun_mut::<CdRom>(0)
        .map(|cd| cd.eject_button());
    assert_eq!(ejected, Some(false));
    good(&r.exec(tur(5)));
    // Allow, eject: tray open, no medium.
    good(&r.exec(Request::new(
        5,
        0,
        &[op::PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 0, 0],
    )));
    good(&r.exec(Request::new(5, 0, &[op::START_STOP_UNIT, 0, 0, 0, 0x02, 0])));
    check(&r.exec(tur(5)), sk::NOT_READY, 0x3A, 0x02);
    // Load closes the tray: still no disc.
    good(&r.exec(Request::new(5, 0, &[op::START_STOP_UNIT, 0, 0, 0, 0x03, 0])));
    check(&r.exec(tur(5)), sk::NOT_READY, 0x3A, 0);
    // Stop the spindle: NOT READY, initializing command required, until START.
    if let Some(cd) = r.bus.device(h).lun_mut::<CdRom>(0) {
        cd.insert(vec![0x22; 4 * CD_BLOCK]);
    }
    check(&r.exec(tur(5)), sk::UNIT_ATTENTION, 0x28, 0);
    good(&r.exec(Request::new(5, 0, &[op::START_STOP_UNIT, 0, 0, 0, 0x00, 0])));
    check(&r.exec(tur(5)), sk::NOT_READY, 0x04, 0x02);
    good(&r.exec(Request::new(5, 0, &[op::START_STOP_UNIT, 0, 0, 0, 0x01, 0])));
    let c = r.exec(Request::new(5, 0, &read10(3, 1)).data_in(CD_BLOCK));
    good(&c);
    assert_eq!(c.data_in, vec![0x22; CD_BLOCK]);
    r.assert_clean();
}

// ----- processor, scanner -----

#[test]
fn processor_send_and_receive_vendor_data() {
    let mut r = rig_with(
        Target::new(TargetConfig::new(3)).with_lun(0, Processor::new()),
        52,
    );
    let c = r.exec(Request::new(3, 0, &[op::INQUIRY, 0, 0, 0, 36, 0]).data_in(36));
    assert_eq!(c.data_in[0], 3);
    let d = pattern(9, 100);
    good(&r.exec(Request::new(3, 0, &[SEND, 0, 0, 0, 100, 0]).data_out(d.clone())));
    let h = r.targets[0];
    if let Some(p) = r.bus.device(h).lun_mut::<Processor>(0) {
        assert_eq!(p.sent, vec![d.clone()]);
        p.queue_for_host(&d[..50]);
    }
    let c = r.exec(Request::new(3, 0, &[RECEIVE, 0, 0, 0, 30, 0]).data_in(30));
    good(&c);
    assert_eq!(c.data_in, d[..30].to_vec());
    // 20 left, 64 asked: the 20 with ILI and residue 44.
    let c = r.exec(Request::new(3, 0, &[RECEIVE, 0, 0, 0, 64, 0]).data_in(64));
    check(&c, sk::NO_SENSE, 0, 0);
    assert_eq!(c.data_in, d[30..50].to_vec());
    let s = c.sense.expect("sense");
    assert_eq!((s[0], s[2] & 0x20), (0xF0, 0x20));
    assert_eq!(u32::from_be_bytes([s[3], s[4], s[5], s[6]]), 44);
    r.assert_clean();
}

fn window_list(w: &Window) -> Vec<u8> {
    let mut d = vec![0u8; 8 + 40];
    d[6..8].copy_from_slice(&40u16.to_be_bytes());
    let x = &mut d[8..];
    x[2..4].copy_from_slice(&w.res.0.to_be_bytes());
    x[4..6].copy_from_slice(&w.res.1.to_be_bytes());
    x[14..18].copy_from_slice(&w.size.0.to_be_bytes());
    x[18..22].copy_from_slice(&w.size.1.to_be_bytes());
    x[26] = w.bits_per_pixel;
    d
}

#[test]
fn scanner_streams_slower_than_the_bus_with_disconnects() {
    let line_cycles = 20_000;
    let t = Target::new(scanner_target_config(4, 4096, line_cycles)).with_lun(0, Scanner::new(3));
    let mut r = rig_with(t, 53);
    let w = Window {
        res: (200, 100),
        size: (1200, 1800),
        bits_per_pixel: 8,
    };
    let n = w.image_bytes();
    assert_eq!(n, 200 * 150);
    let wl = window_list(&w);
    let l = (wl.len() as u32).to_be_bytes();
    good(
        &r.exec(Request::new(4, 0, &[SET_WINDOW, 0, 0, 0, 0, 0, l[1], l[2], l[3], 0]).data_out(wl)),
    );
    // READ before SCAN: command sequence error.
    check(
        &r.exec(Request::new(4, 0, &[op::READ_10, 0, 0, 0, 0, 0, 0, 0x10, 0, 0]).data_in(4096)),
        sk::ILLEGAL_REQUEST,
        0x2C,
        0,
    );
    good(&r.exec(Request::new(4, 0, &[SCAN, 0, 0, 0, 0, 0])));
    let start = r.bus.cycle();
    let b = (n as u32).to_be_bytes();
    let c =
        r.exec(Request::new(4, 0, &[op::READ_10, 0, 0, 0, 0, 0, b[1], b[2], b[3], 0]).data_in(n));
    good(&c);
    let want: Vec<u8> = (0..n).map(|i| Scanner::image_byte(&w, i)).collect();
    assert_eq!(c.data_in, want);
    let chunks = n.div_ceil(4096) as u64;
    assert!(
        c.cycle - start >= chunks * line_cycles,
        "streamed at scan speed: {} cycles for {chunks} chunks",
        c.cycle - start
    );
    let log = r.bus.monitor.log_text();
    assert!(
        log.matches("SAVE DATA POINTER; DISCONNECT").count() as u64 >= chunks - 1,
        "{log}"
    );
    // Past the end: EOM + ILI, residue in INFORMATION.
    good(&r.exec(Request::new(4, 0, &[SCAN, 0, 0, 0, 0, 0])));
    let big = (n as u32 + 100).to_be_bytes();
    let c = r.exec(
        Request::new(
            4,
            0,
            &[op::READ_10, 0, 0, 0, 0, 0, big[1], big[2], big[3], 0],
        )
        .data_in(n + 100),
    );
    check(&c, sk::NO_SENSE, 0, 0);
    assert_eq!(c.data_in.len(), n);
    assert_eq!(c.sense.as_ref().map(|s| s[2] & 0x60), Some(0x60));
    // A bad window (2 bits per pixel) is refused.
    let mut bad = window_list(&w);
    bad[8 + 26] = 2;
    check(
        &r.exec(Request::new(4, 0, &[SET_WINDOW, 0, 0, 0, 0, 0, 0, 0, 48, 0]).data_out(bad)),
        sk::ILLEGAL_REQUEST,
        0x26,
        0,
    );
    r.assert_clean();
}

// ----- old devices -----

#[test]
fn old_ccs_disk_with_several_luns() {
    let mut ic = InitiatorConfig::new(7);
    ic.sync = Some((0x0C, 15));
    ic.negotiate = true;
    let mut t = old_disk(1, 1, 3, 64);
    t.clear_unit_attention();
    let mut r = Rig::new(Width::Narrow, ic, vec![t], 54);
    for lun in 0..3u8 {
        let c = r.exec(Request::new(1, lun, &[op::INQUIRY, 0, 0, 0, 36, 0]).data_in(36));
        good(&c);
        assert_eq!((c.data_in[2], c.data_in[3]), (1, 1), "SCSI-1 / CCS");
        assert_eq!(c.data_in[7] & 0x22, 0, "no WBUS16, no CMDQUE");
        let d = pattern(u64::from(lun) + 60, 1024);
        good(&r.exec(Request::new(1, lun, &write10(4, 2)).data_out(d.clone())));
        let c = r.exec(Request::new(1, lun, &read10(4, 2)).data_in(1024));
        assert_eq!(c.data_in, d, "lun {lun}");
    }
    // LUN 3 is absent.
    let c = r.exec(Request::new(1, 3, &[op::INQUIRY, 0, 0, 0, 36, 0]).data_in(36));
    assert_eq!(c.data_in[0], 0x7F);
    // No REPORT LUNS, no tags (the tag is rejected, the command runs untagged).
    check(
        &r.exec(
            Request::new(1, 0, &[op::REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]).data_in(256),
        ),
        sk::ILLEGAL_REQUEST,
        0x20,
        0,
    );
    let c = r.exec(
        Request::new(1, 0, &read10(0, 1))
            .data_in(512)
            .tagged(TagKind::Simple),
    );
    good(&c);
    assert!(c.tag_rejected);
    // The SDTR was answered at Fast-5 at most.
    let a = r.ini().agreement(1);
    assert!(a.offset > 0 && a.period_factor >= 0x32, "{a:?}");
    r.assert_clean();
}

#[test]
fn device_that_ignores_atn() {
    let mut ic = InitiatorConfig::new(7);
    ic.sync = Some((0x0C, 15));
    ic.negotiate = true;
    let mut t = Target::new(ignores_atn_config(2)).with_lun(0, Disk::memory(64));
    t.clear_unit_attention();
    let mut r = Rig::new(Width::Narrow, ic, vec![t], 55);
    let d = pattern(70, 512);
    good(&r.exec(Request::new(2, 0, &write10(1, 1)).data_out(d.clone())));
    let c = r.exec(Request::new(2, 0, &read10(1, 1)).data_in(512));
    assert_eq!(c.data_in, d);
    let log = r.bus.monitor.log_text();
    assert!(!log.contains("MSG OUT"), "{log}");
    assert!(
        !log.contains("DISCONNECT"),
        "no IDENTIFY, so no disconnection"
    );
    r.assert_clean();
}

/// A device that ignores ATN never sees IDENTIFY: as a SCSI-1 device, it addresses the LUN
/// in CDB byte 1 (bits 7-5), and a LUN it does not have answers INQUIRY as not supported.
#[test]
fn device_that_ignores_atn_takes_the_lun_from_the_cdb() {
    let lun = |mut cdb: Vec<u8>, l: u8| {
        cdb[1] |= l << 5;
        cdb
    };
    let mut t = Target::new(ignores_atn_config(2))
        .with_lun(0, Disk::memory(64))
        .with_lun(1, Disk::memory(64));
    t.clear_unit_attention();
    let mut r = Rig::new(Width::Narrow, InitiatorConfig::new(7), vec![t], 57);
    let (d0, d1) = (pattern(71, 512), pattern(72, 512));
    good(&r.exec(Request::new(2, 0, &write10(3, 1)).data_out(d0.clone())));
    good(&r.exec(Request::new(2, 1, &lun(write10(3, 1), 1)).data_out(d1.clone())));
    assert_eq!(
        r.exec(Request::new(2, 0, &read10(3, 1)).data_in(512))
            .data_in,
        d0
    );
    assert_eq!(
        r.exec(Request::new(2, 1, &lun(read10(3, 1), 1)).data_in(512))
            .data_in,
        d1
    );
    let inq = |l: u8| lun(vec![op::INQUIRY, 0, 0, 0, 36, 0], l);
    let c = r.exec(Request::new(2, 2, &inq(2)).data_in(36));
    good(&c);
    assert_eq!(c.data_in[0], 0x7F, "LUN 2: qualifier 011b, no device type");
    let c = r.exec(Request::new(2, 1, &inq(1)).data_in(36));
    assert_eq!(c.data_in[0], 0x00, "LUN 1: a disk, connected");
    r.assert_clean();
}

#[test]
fn device_that_rejects_every_extended_message() {
    let mut ic = InitiatorConfig::new(7);
    ic.sync = Some((0x0C, 15));
    ic.negotiate = true;
    let mut t = Target::new(rejects_extended_config(2)).with_lun(0, Disk::memory(64));
    t.clear_unit_attention();
    let mut r = Rig::new(Width::Narrow, ic, vec![t], 56);
    good(&r.exec(Request::new(2, 0, &read10(0, 1)).data_in(512)));
    assert_eq!(r.ini().agreement(2).offset, 0);
    // PPR (04h) and MODIFY DATA POINTER (00h) are rejected too.
    for m in [
        vec![msg::EXTENDED, 6, 0x04, 0x09, 0, 15, 1, 0],
        vec![msg::EXTENDED, 5, 0x00, 0, 0, 0, 1],
    ] {
        let id = r.ini().submit(Request {
            target: 2,
            messages: m,
            ..Request::default()
        });
        r.run_idle(2_000_000);
        assert!(r.ini().completion(id).is_some());
    }
    let rejects = r.bus.monitor.log_text().matches("(MESSAGE REJECT)").count();
    assert!(rejects >= 3, "{}", r.bus.monitor.log_text());
    r.assert_clean();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn new_models_survive_random_cdbs(cdb in proptest::collection::vec(any::<u8>(), 0..20), data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut lus: Vec<Box<dyn LogicalUnit>> = vec![
            Box::new(CdRom::with_disc(16)),
            Box::new(CdRom::empty()),
            Box::new(Processor::new()),
            Box::new(Scanner::new(6)),
        ];
        for lu in lus.iter_mut() {
            if let Exec::NeedData(n) = lu.execute(&cdb, None) {
                prop_assert!(n <= 1 << 20);
                let _ = lu.execute(&cdb, Some(&data));
            }
            let _ = lu.lba_range(&cdb);
        }
    }
}
