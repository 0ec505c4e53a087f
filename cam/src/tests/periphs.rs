use super::*;
use crate::status::Errno;
use crate::testing::Fault;
use scsi_defs::{opcode as op, sense_key as sk};

#[test]
fn scan_finds_disk_and_tape_and_attaches_periphs() {
    let mut r = rig(vec![
        (0, 0, MockDevice::disk(1000, 512)),
        (3, 0, MockDevice::tape()),
    ]);
    r.scan();
    let devs = r.xpt.devices();
    assert_eq!(devs.len(), 2);
    assert_eq!(devs[0].inquiry.as_ref().unwrap().device_type, 0);
    assert_eq!(devs[0].serial.as_deref(), Some("DISK0001"));
    let kinds: Vec<_> = r
        .xpt
        .periphs_of(r.addr(0))
        .into_iter()
        .map(|p| p.1)
        .collect();
    assert_eq!(kinds, vec![PeriphKind::Da, PeriphKind::Pass]);
    let kinds: Vec<_> = r
        .xpt
        .periphs_of(r.addr(3))
        .into_iter()
        .map(|p| p.1)
        .collect();
    assert_eq!(kinds, vec![PeriphKind::Sa, PeriphKind::Pass]);
    r.assert_quiescent();
}

#[test]
fn da_write_then_read_roundtrip() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(1000, 512))]);
    r.scan();
    let da = r.da(0);
    assert_eq!(da.capacity(&mut r.xpt).unwrap().blocks(), 1000);
    let data: Vec<u8> = (0..1024).map(|i| i as u8).collect();
    let w = da.write(&mut r.xpt, 10, data.clone()).unwrap();
    assert!(r.xpt.wait_io(w).unwrap().is_ok());
    let rd = da.read(&mut r.xpt, 10, 2).unwrap();
    let res = r.xpt.wait_io(rd).unwrap();
    assert!(res.is_ok());
    assert_eq!(res.data, data);
    r.assert_quiescent();
}

#[test]
fn da_six_byte_fallback() {
    let mut d = MockDevice::disk(100, 512);
    if let crate::testing::MockKind::Disk { no_cmd6, .. } = &mut d.kind {
        *no_cmd6 = true;
    }
    let mut r = rig(vec![(0, 0, d)]);
    r.scan();
    let da = r.da(0);
    assert_eq!(da.min_cdb(&mut r.xpt), Some(6));
    let io = da.read(&mut r.xpt, 1, 1).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    assert_eq!(da.min_cdb(&mut r.xpt), Some(10));
    let ops: Vec<u8> = r
        .mock
        .borrow()
        .issued
        .iter()
        .map(|i| i.cdb[0])
        .filter(|o| matches!(*o, op::READ_6 | op::READ_10))
        .collect();
    assert_eq!(ops, vec![op::READ_6, op::READ_10]);
    r.assert_quiescent();
}

#[test]
fn da_read_capacity_16_for_big_disk() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(0x1_0000_0010, 512))]);
    r.scan();
    let da = r.da(0);
    assert_eq!(da.capacity(&mut r.xpt).unwrap().blocks(), 0x1_0000_0010);
    let ops: Vec<u8> = r.mock.borrow().issued.iter().map(|i| i.cdb[0]).collect();
    assert!(ops.contains(&op::READ_CAPACITY_10) && ops.contains(&op::SERVICE_ACTION_IN_16));
    // A read beyond 2^32 blocks needs READ(16).
    let io = da.read(&mut r.xpt, 0x1_0000_0000, 1).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    assert_eq!(r.mock.borrow().issued.last().unwrap().cdb[0], op::READ_16);
    let s = da.sync_cache(&mut r.xpt).unwrap();
    assert!(r.xpt.wait_io(s).unwrap().is_ok());
    assert_eq!(
        r.mock.borrow().issued.last().unwrap().cdb[0],
        op::SYNCHRONIZE_CACHE_10
    );
}

#[test]
fn da_rejects_out_of_range() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(100, 512))]);
    r.scan();
    let da = r.da(0);
    assert_eq!(
        da.read(&mut r.xpt, 99, 2),
        Err(crate::periph::PeriphError::BadLength)
    );
    assert_eq!(
        da.write(&mut r.xpt, 0, vec![0; 100]),
        Err(crate::periph::PeriphError::BadLength)
    );
}

#[test]
fn da_medium_error_retries_then_eio() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(100, 512))]);
    r.scan();
    let da = r.da(0);
    r.mock.borrow_mut().rule(
        Some(0),
        Some(op::READ_6),
        Fault::Check {
            key: sk::MEDIUM_ERROR,
            asc: 0x11,
            ascq: 0,
        },
        100,
    );
    let io = da.read(&mut r.xpt, 0, 1).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.status.errno, Errno::Eio);
    assert_eq!(res.sense.unwrap().key, sk::MEDIUM_ERROR);
    // 1 try + 4 retries.
    let n = r
        .mock
        .borrow()
        .issued
        .iter()
        .filter(|i| i.cdb[0] == op::READ_6)
        .count();
    assert_eq!(n, 5);
    r.assert_quiescent();
}

#[test]
fn pass_raw_without_recovery_returns_first_status() {
    let mut r = rig(vec![(0, 0, MockDevice::disk(100, 512))]);
    r.scan();
    let p = r.pass(0);
    r.mock.borrow_mut().rule(
        Some(0),
        Some(op::TEST_UNIT_READY),
        Fault::Check {
            key: sk::UNIT_ATTENTION,
            asc: 0x29,
            ascq: 0,
        },
        1,
    );
    let io = p
        .command(
            &mut r.xpt,
            &crate::scsi_cmd::tur(),
            crate::periph::pass::PassData::None,
            std::time::Duration::from_secs(5),
            false,
        )
        .unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.status.errno, Errno::Eio);
    assert_eq!(res.status.scsi, Some(scsi_defs::status::CHECK_CONDITION));
    assert_eq!(res.sense.unwrap().asc, 0x29);
    r.assert_quiescent();
    // With recovery the UNIT ATTENTION is retried and the command succeeds.
    r.mock.borrow_mut().rule(
        Some(0),
        Some(op::TEST_UNIT_READY),
        Fault::Check {
            key: sk::UNIT_ATTENTION,
            asc: 0x29,
            ascq: 0,
        },
        1,
    );
    let io = p
        .command(
            &mut r.xpt,
            &crate::scsi_cmd::tur(),
            crate::periph::pass::PassData::None,
            std::time::Duration::from_secs(5),
            true,
        )
        .unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    r.assert_quiescent();
}

#[test]
fn pass_inquiry_reads_data() {
    let mut r = rig(vec![(2, 0, MockDevice::disk(100, 512))]);
    r.scan();
    let p = r.pass(2);
    let io = p
        .command(
            &mut r.xpt,
            &crate::scsi_cmd::inquiry(None, 36),
            crate::periph::pass::PassData::In(36),
            std::time::Duration::from_secs(5),
            false,
        )
        .unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert!(res.is_ok());
    let inq = crate::scsi_cmd::InquiryData::parse(&res.data).unwrap();
    assert_eq!(inq.vendor, "MOCK");
}

#[test]
fn sa_variable_blocks_filemarks_and_position() {
    use crate::testing::TapeObj;
    let mut r = rig(vec![(3, 0, MockDevice::tape())]);
    r.scan();
    let sa = r.sa(3);
    for i in 0..3u8 {
        let io = sa.write(&mut r.xpt, vec![i; 100 + i as usize]).unwrap();
        assert!(r.xpt.wait_io(io).unwrap().is_ok());
    }
    let io = sa.write_filemarks(&mut r.xpt, 1).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    assert_eq!(sa.position(&mut r.xpt), Some(4));
    assert_eq!(r.mock.borrow().tape(3).unwrap().len(), 4);
    assert_eq!(r.mock.borrow().tape(3).unwrap()[3], TapeObj::Filemark);
    let io = sa.rewind(&mut r.xpt).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    assert_eq!(sa.position(&mut r.xpt), Some(0));
    // Exact-length read.
    let io = sa.read(&mut r.xpt, 100).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert_eq!(res.data, vec![0; 100]);
    // Over-length buffer: ILI, short data, not an error.
    let io = sa.read(&mut r.xpt, 4096).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert!(res.is_ok());
    assert_eq!(res.data, vec![1; 101]);
    assert_eq!(res.status.buf.resid, 4096 - 101);
    r.xpt.run_until_quiescent(10);
    assert_eq!(sa.position(&mut r.xpt), Some(2));
    let io = sa.read(&mut r.xpt, 102).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    // Filemark: zero bytes, position past it.
    let io = sa.read(&mut r.xpt, 512).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert!(res.is_ok() && res.data.is_empty() && res.sense.unwrap().filemark);
    r.xpt.run_until_quiescent(10);
    assert_eq!(sa.position(&mut r.xpt), Some(4));
    r.assert_quiescent();
}

#[test]
fn sa_fixed_blocks_stop_at_filemark_with_residue() {
    let mut r = rig(vec![(3, 0, MockDevice::tape())]);
    r.scan();
    let sa = r.sa(3);
    sa.set_block_size(&mut r.xpt, 512).unwrap();
    let io = sa.write(&mut r.xpt, vec![9; 4 * 512]).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    let io = sa.write_filemarks(&mut r.xpt, 1).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    assert_eq!(sa.position(&mut r.xpt), Some(5));
    let io = sa.rewind(&mut r.xpt).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    let io = sa.read(&mut r.xpt, 8).unwrap();
    let res = r.xpt.wait_io(io).unwrap();
    assert!(res.is_ok());
    assert_eq!(res.data.len(), 4 * 512);
    assert!(res.sense.unwrap().filemark);
    r.xpt.run_until_quiescent(10);
    // 4 blocks + the filemark, from the sense INFORMATION residue.
    assert_eq!(sa.position(&mut r.xpt), Some(5));
}

#[test]
fn sa_never_retries_data_commands_and_recovers_position() {
    let mut r = rig(vec![(3, 0, MockDevice::tape())]);
    r.scan();
    let sa = r.sa(3);
    for _ in 0..2 {
        let io = sa.write(&mut r.xpt, vec![5; 64]).unwrap();
        assert!(r.xpt.wait_io(io).unwrap().is_ok());
    }
    let io = sa.rewind(&mut r.xpt).unwrap();
    assert!(r.xpt.wait_io(io).unwrap().is_ok());
    for f in [
        Fault::Check {
            key: sk::MEDIUM_ERROR,
            asc: 0x11,
            ascq: 0,
        },
        Fault::Status(crate::status::CamStatus::ScsiBusReset),
        Fault::Busy,
        Fault::Lose,
    ] {
        r.mock
            .borrow_mut()
            .rule(Some(3), Some(op::READ_6), f.clone(), 1);
        let before = r
            .mock
            .borrow()
            .issued
            .iter()
            .filter(|i| i.cdb[0] == op::READ_6)
            .count();
        let io = sa.read(&mut r.xpt, 64).unwrap();
        let res = r.xpt.wait_io(io).unwrap();
        assert_eq!(res.status.errno, Errno::Eio, "{f:?}");
        r.xpt.run_until_quiescent(100);
        let after = r
            .mock
            .borrow()
            .issued
            .iter()
            .filter(|i| i.cdb[0] == op::READ_6)
            .count();
        assert_eq!(after - before, 1, "READ issued once for {f:?}");
        // Position unknown after the failure, re-established with READ POSITION.
        assert_eq!(sa.position(&mut r.xpt), Some(0), "{f:?}");
        assert!(!r.xpt.is_flushing(r.addr(3)));
    }
    r.assert_quiescent();
}
