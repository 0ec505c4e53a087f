//! Every disk and tape command through the test initiator, monitor checking each run.
mod common;
use common::*;
use scsi_bus::initiator::{Completion, InitiatorConfig, Request};
use scsi_bus::target::disk::Disk;
use scsi_bus::target::tape::{Record, Tape};
use scsi_bus::target::{Target, TargetConfig};
use scsi_bus::Width;
use scsi_defs::{opcode as op, sense_key as sk, status};

fn good(c: &Completion) {
    assert_eq!(c.status(), Some(status::GOOD), "{c:?}");
}
fn check(c: &Completion, key: u8, asc: u8) {
    assert_eq!(c.status(), Some(status::CHECK_CONDITION), "{c:?}");
    let (k, a, _) = c.sense_key().expect("autosense");
    assert_eq!((k, a), (key, asc), "{c:?}");
}

#[test]
fn inquiry_standard_and_vpd() {
    let mut r = Rig::one_disk(TargetConfig::new(2));
    let c = r.exec(Request::new(2, 0, &[op::INQUIRY, 0, 0, 0, 36, 0]).data_in(36));
    good(&c);
    assert_eq!(c.data_in[0], 0x00);
    assert_eq!(&c.data_in[16..24], b"SIM DISK");
    assert_eq!(c.data_in[7] & 0x12, 0x12, "SYNC and CMDQUE advertised");
    let c = r.exec(Request::new(2, 0, &[op::INQUIRY, 1, 0x00, 0, 255, 0]).data_in(255));
    good(&c);
    assert_eq!(&c.data_in[4..7], &[0x00, 0x80, 0x83]);
    let c = r.exec(Request::new(2, 0, &[op::INQUIRY, 1, 0x80, 0, 255, 0]).data_in(255));
    good(&c);
    assert_eq!(&c.data_in[4..], b"SN02L0");
    let c = r.exec(Request::new(2, 0, &[op::INQUIRY, 1, 0x83, 0, 255, 0]).data_in(255));
    good(&c);
    assert_eq!(c.data_in[1], 0x83);
    assert_eq!(c.data_in[4] & 0x0F, 2, "ASCII designator");
    // Unsupported VPD page, page code without EVPD, CmdDt: INVALID FIELD IN CDB.
    check(
        &r.exec(Request::new(2, 0, &[op::INQUIRY, 1, 0x42, 0, 255, 0]).data_in(255)),
        sk::ILLEGAL_REQUEST,
        0x24,
    );
    check(
        &r.exec(Request::new(2, 0, &[op::INQUIRY, 0, 0x80, 0, 255, 0]).data_in(255)),
        sk::ILLEGAL_REQUEST,
        0x24,
    );
    check(
        &r.exec(Request::new(2, 0, &[op::INQUIRY, 2, 0, 0, 255, 0]).data_in(255)),
        sk::ILLEGAL_REQUEST,
        0x24,
    );
    // Allocation length cuts the data.
    let c = r.exec(Request::new(2, 0, &[op::INQUIRY, 0, 0, 0, 5, 0]).data_in(36));
    assert_eq!(c.data_in.len(), 5);
    r.assert_clean();
}

#[test]
fn unit_attention_after_power_on_then_clear() {
    let t = Target::new(TargetConfig::new(2)).with_lun(0, Disk::memory(64));
    let mut r = Rig::new(Width::Narrow, InitiatorConfig::new(7), vec![t], 2);
    // INQUIRY does not report the UNIT ATTENTION...
    good(&r.exec(Request::new(2, 0, &[op::INQUIRY, 0, 0, 0, 36, 0]).data_in(36)));
    // ...TEST UNIT READY does, once (29/01 power on).
    let c = r.exec(Request::new(2, 0, &[op::TEST_UNIT_READY, 0, 0, 0, 0, 0]));
    check(&c, sk::UNIT_ATTENTION, 0x29);
    assert_eq!(c.sense_key().map(|s| s.2), Some(0x01));
    good(&r.exec(Request::new(2, 0, &[op::TEST_UNIT_READY, 0, 0, 0, 0, 0])));
    r.assert_clean();
}

#[test]
fn capacity_unknown_opcode_range_and_luns() {
    let t = Target::new(TargetConfig::new(3))
        .with_lun(0, Disk::memory(1000))
        .with_lun(2, Disk::memory(50));
    let mut t = t;
    t.clear_unit_attention();
    let mut r = Rig::new(Width::Narrow, InitiatorConfig::new(7), vec![t], 3);
    let c =
        r.exec(Request::new(3, 0, &[op::READ_CAPACITY_10, 0, 0, 0, 0, 0, 0, 0, 0, 0]).data_in(8));
    good(&c);
    assert_eq!(c.data_in, vec![0, 0, 0x03, 0xE7, 0, 0, 2, 0]);
    let c = r.exec(
        Request::new(
            3,
            2,
            &[
                op::SERVICE_ACTION_IN_16,
                0x10,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                32,
                0,
                0,
            ],
        )
        .data_in(32),
    );
    good(&c);
    assert_eq!(
        u64::from_be_bytes(c.data_in[0..8].try_into().unwrap_or_default()),
        49
    );
    check(
        &r.exec(Request::new(3, 0, &[0xC7, 0, 0, 0, 0, 0])),
        sk::ILLEGAL_REQUEST,
        0x20,
    );
    check(
        &r.exec(Request::new(3, 0, &[0x7E, 0, 0, 0, 0, 0, 0, 0, 0, 0])),
        sk::ILLEGAL_REQUEST,
        0x20,
    );
    check(
        &r.exec(Request::new(3, 0, &read10(999, 2)).data_in(1024)),
        sk::ILLEGAL_REQUEST,
        0x21,
    );
    // REPORT LUNS lists 0 and 2.
    let c = r
        .exec(Request::new(3, 0, &[op::REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]).data_in(256));
    good(&c);
    assert_eq!(&c.data_in[0..4], &[0, 0, 0, 16]);
    assert_eq!(c.data_in[9], 0);
    assert_eq!(c.data_in[17], 2);
    // LUN 5 is not there: INQUIRY says so, other commands fail 25/00.
    let c = r.exec(Request::new(3, 5, &[op::INQUIRY, 0, 0, 0, 36, 0]).data_in(36));
    good(&c);
    assert_eq!(c.data_in[0], 0x7F);
    check(
        &r.exec(Request::new(3, 5, &[op::TEST_UNIT_READY, 0, 0, 0, 0, 0])),
        sk::ILLEGAL_REQUEST,
        0x25,
    );
    r.assert_clean();
}

#[test]
fn read_write_all_sizes_on_image_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("d.img");
    let t = Target::new(TargetConfig::new(1))
        .with_lun(0, Disk::image(&path, 4096, false).expect("image"));
    let mut t = t;
    t.clear_unit_attention();
    assert_eq!(
        std::fs::metadata(&path).map(|m| m.len()).ok(),
        Some(4096 * 512)
    );
    // Sparse: (almost) nothing allocated for 2 MiB of zeros.
    use std::os::unix::fs::MetadataExt;
    assert!(
        std::fs::metadata(&path)
            .map(|m| m.blocks())
            .unwrap_or(u64::MAX)
            < 64
    );
    let mut r = Rig::new(Width::Narrow, InitiatorConfig::new(7), vec![t], 4);
    let cdbs: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (
            vec![op::WRITE_6, 0, 0, 10, 1, 0],
            vec![op::READ_6, 0, 0, 10, 1, 0],
        ),
        (write10(20, 2), read10(20, 2)),
        (
            vec![op::WRITE_12, 0, 0, 0, 0, 40, 0, 0, 0, 2, 0, 0],
            vec![op::READ_12, 0, 0, 0, 0, 40, 0, 0, 0, 2, 0, 0],
        ),
        (
            vec![
                op::WRITE_16,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0x0F,
                0xFE,
                0,
                0,
                0,
                2,
                0,
                0,
            ],
            vec![
                op::READ_16,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0x0F,
                0xFE,
                0,
                0,
                0,
                2,
                0,
                0,
            ],
        ),
    ];
    for (k, (w, rd)) in cdbs.iter().enumerate() {
        let n = if w[0] == op::WRITE_6 { 512 } else { 1024 };
        let data = pattern(k as u64, n);
        good(&r.exec(Request::new(1, 0, w).data_out(data.clone())));
        let c = r.exec(Request::new(1, 0, rd).data_in(n));
        good(&c);
        assert_eq!(c.data_in, data, "cdb {w:02x?}");
    }
    // SYNCHRONIZE CACHE flushes the image; the file holds the data.
    good(&r.exec(Request::new(
        1,
        0,
        &[op::SYNCHRONIZE_CACHE_10, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    )));
    good(&r.exec(Request::new(
        1,
        0,
        &[
            op::SYNCHRONIZE_CACHE_16,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ],
    )));
    let h = r.targets[0];
    assert_eq!(
        r.bus.device(h).lun_mut::<Disk>(0).map(|d| d.flushes),
        Some(2)
    );
    let img = std::fs::read(&path).expect("read image");
    assert_eq!(&img[20 * 512..22 * 512], &pattern(1, 1024)[..]);
    // VERIFY(10): without BYTCHK, with a match, with a miscompare.
    good(&r.exec(Request::new(
        1,
        0,
        &[op::VERIFY_10, 0, 0, 0, 0, 20, 0, 0, 2, 0],
    )));
    good(&r.exec(
        Request::new(1, 0, &[op::VERIFY_10, 2, 0, 0, 0, 20, 0, 0, 2, 0]).data_out(pattern(1, 1024)),
    ));
    check(
        &r.exec(
            Request::new(1, 0, &[op::VERIFY_10, 2, 0, 0, 0, 20, 0, 0, 2, 0])
                .data_out(vec![0x55; 1024]),
        ),
        sk::MISCOMPARE,
        0x1D,
    );
    r.assert_clean();
}

#[test]
fn read_only_image_is_write_protected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ro.img");
    std::fs::write(&path, vec![7u8; 64 * 512]).expect("write");
    let mut t =
        Target::new(TargetConfig::new(1)).with_lun(0, Disk::image(&path, 1, true).expect("image"));
    t.clear_unit_attention();
    let mut r = Rig::new(Width::Narrow, InitiatorConfig::new(7), vec![t], 5);
    let c = r.exec(Request::new(1, 0, &read10(63, 1)).data_in(512));
    good(&c);
    assert_eq!(c.data_in, vec![7u8; 512]);
    check(
        &r.exec(Request::new(1, 0, &write10(0, 1)).data_out(vec![0; 512])),
        sk::DATA_PROTECT,
        0x27,
    );
    // MODE SENSE header shows WP.
    let c = r.exec(Request::new(1, 0, &[op::MODE_SENSE_6, 0, 0x08, 0, 255, 0]).data_in(255));
    assert_eq!(c.data_in[2] & 0x80, 0x80);
    r.assert_clean();
}

#[test]
fn mode_sense_select_start_stop_prevent() {
    let mut r = Rig::one_disk(TargetConfig::new(2));
    let c = r.exec(Request::new(2, 0, &[op::MODE_SENSE_6, 0, 0x3F, 0, 255, 0]).data_in(255));
    good(&c);
    assert_eq!(c.data_in[3], 8, "block descriptor");
    assert_eq!(c.data_in[12], 0x08, "caching page first");
    assert_eq!(c.data_in[14] & 0x04, 0x04, "WCE on");
    assert_eq!(c.data_in[32], 0x0A, "control page next");
    let c = r.exec(
        Request::new(
            2,
            0,
            &[op::MODE_SENSE_10, 0x08, 0x0A, 0, 0, 0, 0, 0, 255, 0],
        )
        .data_in(255),
    );
    good(&c);
    assert_eq!(c.data_in[8], 0x0A);
    check(
        &r.exec(Request::new(2, 0, &[op::MODE_SENSE_6, 0, 0xC8, 0, 255, 0]).data_in(255)),
        sk::ILLEGAL_REQUEST,
        0x39,
    );
    check(
        &r.exec(Request::new(2, 0, &[op::MODE_SENSE_6, 0, 0x19, 0, 255, 0]).data_in(255)),
        sk::ILLEGAL_REQUEST,
        0x24,
    );
    // MODE SELECT(6) turns WCE off; MODE SELECT(10) sets the control page QAM.
    let mut p = vec![0, 0, 0, 0, 0x08, 18];
    p.extend(vec![0u8; 18]);
    good(&r.exec(
        Request::new(2, 0, &[op::MODE_SELECT_6, 0x10, 0, 0, p.len() as u8, 0]).data_out(p.clone()),
    ));
    let h = r.targets[0];
    assert_eq!(
        r.bus.device(h).lun_mut::<Disk>(0).map(|d| d.write_cache()),
        Some(false)
    );
    let mut p10 = vec![0u8; 8];
    p10.extend([0x0A, 10, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0]);
    good(
        &r.exec(
            Request::new(
                2,
                0,
                &[
                    op::MODE_SELECT_10,
                    0x10,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    p10.len() as u8,
                    0,
                ],
            )
            .data_out(p10),
        ),
    );
    // SP=1 is refused; a bad block length in the descriptor too.
    check(
        &r.exec(Request::new(2, 0, &[op::MODE_SELECT_6, 0x11, 0, 0, p.len() as u8, 0]).data_out(p)),
        sk::ILLEGAL_REQUEST,
        0x24,
    );
    let bad = vec![0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 4, 0];
    check(
        &r.exec(Request::new(2, 0, &[op::MODE_SELECT_6, 0x10, 0, 0, 12, 0]).data_out(bad)),
        sk::ILLEGAL_REQUEST,
        0x26,
    );
    // STOP: NOT READY until START.
    good(&r.exec(Request::new(2, 0, &[op::START_STOP_UNIT, 0, 0, 0, 0, 0])));
    check(
        &r.exec(Request::new(2, 0, &[op::TEST_UNIT_READY, 0, 0, 0, 0, 0])),
        sk::NOT_READY,
        0x04,
    );
    check(
        &r.exec(Request::new(2, 0, &read10(0, 1)).data_in(512)),
        sk::NOT_READY,
        0x04,
    );
    good(&r.exec(Request::new(2, 0, &[op::START_STOP_UNIT, 0, 0, 0, 1, 0])));
    good(&r.exec(Request::new(2, 0, &[op::TEST_UNIT_READY, 0, 0, 0, 0, 0])));
    // PREVENT then eject refused; ALLOW; bad prevent field.
    good(&r.exec(Request::new(
        2,
        0,
        &[op::PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 1, 0],
    )));
    assert_eq!(
        r.bus.device(h).lun_mut::<Disk>(0).map(|d| d.prevented()),
        Some(true)
    );
    check(
        &r.exec(Request::new(2, 0, &[op::START_STOP_UNIT, 0, 0, 0, 2, 0])),
        sk::ILLEGAL_REQUEST,
        0x53,
    );
    good(&r.exec(Request::new(
        2,
        0,
        &[op::PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 0, 0],
    )));
    check(
        &r.exec(Request::new(
            2,
            0,
            &[op::PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 3, 0],
        )),
        sk::ILLEGAL_REQUEST,
        0x24,
    );
    // REQUEST SENSE with nothing pending: NO SENSE.
    let c = r.exec(Request::new(2, 0, &[op::REQUEST_SENSE, 0, 0, 0, 18, 0]).data_in(18));
    good(&c);
    assert_eq!((c.data_in[0], c.data_in[2]), (0x70, 0));
    r.assert_clean();
}

fn tape_rig() -> Rig {
    let mut t = Target::new(TargetConfig::new(4)).with_lun(0, Tape::new(64 * 1024));
    t.clear_unit_attention();
    Rig::new(Width::Narrow, InitiatorConfig::new(7), vec![t], 6)
}
fn len3(n: u32) -> [u8; 3] {
    let b = n.to_be_bytes();
    [b[1], b[2], b[3]]
}
fn tape_write(n: u32) -> Vec<u8> {
    let l = len3(n);
    vec![op::WRITE_6, 0, l[0], l[1], l[2], 0]
}
fn tape_read(fixed: bool, sili: bool, n: u32) -> Vec<u8> {
    let l = len3(n);
    vec![
        op::READ_6,
        u8::from(fixed) | (u8::from(sili) << 1),
        l[0],
        l[1],
        l[2],
        0,
    ]
}
fn info(c: &Completion) -> i32 {
    let s = c.sense.as_ref().expect("sense");
    i32::from_be_bytes(s[3..7].try_into().unwrap_or_default())
}

#[test]
fn tape_records_filemarks_ili_blank_check() {
    let mut r = tape_rig();
    good(&r.exec(Request::new(4, 0, &tape_write(100)).data_out(pattern(1, 100))));
    good(&r.exec(Request::new(4, 0, &tape_write(300)).data_out(pattern(2, 300))));
    good(&r.exec(Request::new(4, 0, &[op::WRITE_FILEMARKS_6, 0, 0, 0, 1, 0])));
    good(&r.exec(Request::new(4, 0, &tape_write(50)).data_out(pattern(3, 50))));
    good(&r.exec(Request::new(4, 0, &[op::REWIND, 0, 0, 0, 0, 0])));
    // Exact read.
    let c = r.exec(Request::new(4, 0, &tape_read(false, false, 100)).data_in(100));
    good(&c);
    assert_eq!(c.data_in, pattern(1, 100));
    // Short read of a 300-byte record: ILI, INFORMATION = 200 - 300 = -100.
    let c = r.exec(Request::new(4, 0, &tape_read(false, false, 200)).data_in(200));
    check(&c, sk::NO_SENSE, 0);
    assert_eq!(c.sense.as_ref().map(|s| s[2] & 0x20), Some(0x20), "ILI");
    assert_eq!(info(&c), -100);
    assert_eq!(c.data_in, pattern(2, 300)[..200].to_vec());
    // Filemark: FILEMARK bit, 00/01.
    let c = r.exec(Request::new(4, 0, &tape_read(false, false, 512)).data_in(512));
    check(&c, sk::NO_SENSE, 0);
    assert_eq!(
        c.sense.as_ref().map(|s| (s[2] & 0x80, s[13])),
        Some((0x80, 0x01))
    );
    // Long read of a 50-byte record with SILI: GOOD.
    let c = r.exec(Request::new(4, 0, &tape_read(false, true, 512)).data_in(512));
    good(&c);
    assert_eq!(c.data_in, pattern(3, 50));
    // End of data: BLANK CHECK 00/05.
    let c = r.exec(Request::new(4, 0, &tape_read(false, false, 512)).data_in(512));
    check(&c, sk::BLANK_CHECK, 0);
    assert_eq!(c.sense_key().map(|s| s.2), Some(0x05));
    // READ POSITION, SPACE back over one filemark, forward blocks to the filemark.
    let c = r.exec(Request::new(4, 0, &[op::READ_POSITION, 0, 0, 0, 0, 0, 0, 0, 0, 0]).data_in(20));
    good(&c);
    assert_eq!(
        u32::from_be_bytes(c.data_in[4..8].try_into().unwrap_or_default()),
        4
    );
    good(&r.exec(Request::new(4, 0, &[op::SPACE_6, 1, 0xFF, 0xFF, 0xFF, 0])));
    let h = r.targets[0];
    assert_eq!(
        r.bus.device(h).lun_mut::<Tape>(0).map(|t| t.position()),
        Some(2)
    );
    good(&r.exec(Request::new(4, 0, &[op::REWIND, 0, 0, 0, 0, 0])));
    let c = r.exec(Request::new(4, 0, &[op::SPACE_6, 0, 0, 0, 5, 0]));
    check(&c, sk::NO_SENSE, 0);
    assert_eq!(info(&c), 3, "residue after 2 blocks and the filemark");
    // SPACE to end of data then backwards past BOP: EOM (BOP) 00/04.
    good(&r.exec(Request::new(4, 0, &[op::SPACE_6, 3, 0, 0, 0, 0])));
    let c = r.exec(Request::new(4, 0, &[op::SPACE_6, 0, 0xFF, 0xFF, 0xF0, 0]));
    check(&c, sk::NO_SENSE, 0);
    let bad = r.exec(Request::new(4, 0, &[op::SPACE_6, 7, 0, 0, 1, 0]));
    check(&bad, sk::ILLEGAL_REQUEST, 0x24);
    // Each medium command ran exactly as often as it was sent.
    let counts = r
        .bus
        .device(h)
        .lun_mut::<Tape>(0)
        .map(|t| t.counts.clone())
        .unwrap_or_default();
    assert_eq!(counts.get(&op::WRITE_6), Some(&3));
    assert_eq!(counts.get(&op::WRITE_FILEMARKS_6), Some(&1));
    assert_eq!(counts.get(&op::READ_6), Some(&5));
    assert_eq!(counts.get(&op::REWIND), Some(&2));
    r.assert_clean();
}

#[test]
fn tape_fixed_blocks_limits_mode_and_eom() {
    let mut r = tape_rig();
    let c = r.exec(Request::new(4, 0, &[op::READ_BLOCK_LIMITS, 0, 0, 0, 0, 0]).data_in(6));
    good(&c);
    assert_eq!(c.data_in, vec![0, 0x01, 0, 0, 0, 1]);
    // Fixed mode needs a block length first.
    check(
        &r.exec(Request::new(4, 0, &[op::WRITE_6, 1, 0, 0, 2, 0]).data_out(vec![0; 1024])),
        sk::ILLEGAL_REQUEST,
        0x24,
    );
    let sel = vec![0, 0, 0x10, 8, 0, 0, 0, 0, 0, 0, 2, 0];
    good(&r.exec(Request::new(4, 0, &[op::MODE_SELECT_6, 0x10, 0, 0, 12, 0]).data_out(sel)));
    let c = r.exec(Request::new(4, 0, &[op::MODE_SENSE_6, 0, 0x10, 0, 255, 0]).data_in(255));
    good(&c);
    assert_eq!(&c.data_in[9..12], &[0, 2, 0], "block length 512");
    assert_eq!(c.data_in[12], 0x10, "device configuration page");
    let data = pattern(9, 2048);
    good(&r.exec(Request::new(4, 0, &[op::WRITE_6, 1, 0, 0, 4, 0]).data_out(data.clone())));
    good(&r.exec(Request::new(4, 0, &[op::WRITE_FILEMARKS_6, 0, 0, 0, 2, 0])));
    good(&r.exec(Request::new(4, 0, &[op::REWIND, 0, 0, 0, 0, 0])));
    // Ask for 6 blocks: 4 come, then the filemark; INFORMATION = 2 not read.
    let c = r.exec(Request::new(4, 0, &[op::READ_6, 1, 0, 0, 6, 0]).data_in(3072));
    check(&c, sk::NO_SENSE, 0);
    assert_eq!(c.data_in, data);
    assert_eq!(info(&c), 2);
    // Fill towards the end: early warning (EOM, NO SENSE), then VOLUME OVERFLOW.
    good(&r.exec(Request::new(4, 0, &[op::SPACE_6, 3, 0, 0, 0, 0])));
    let mut saw_eom = false;
    let mut saw_overflow = false;
    for _ in 0..40 {
        let c = r.exec(Request::new(4, 0, &[op::WRITE_6, 1, 0, 0, 4, 0]).data_out(vec![1; 2048]));
        match c.sense_key() {
            Some((sk::NO_SENSE, 0x00, 0x02)) => saw_eom = true,
            Some((sk::VOLUME_OVERFLOW, 0x00, 0x02)) => {
                saw_overflow = true;
                break;
            }
            _ => good(&c),
        }
    }
    assert!(saw_eom && saw_overflow);
    let h = r.targets[0];
    let medium_len = r
        .bus
        .device(h)
        .lun_mut::<Tape>(0)
        .map(|t| t.medium().len())
        .unwrap_or(0);
    assert!(medium_len > 6);
    assert!(matches!(
        r.bus
            .device(h)
            .lun_mut::<Tape>(0)
            .map(|t| t.medium()[4].clone()),
        Some(Record::Filemark)
    ));
    r.assert_clean();
}
