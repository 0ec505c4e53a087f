//! The initiator firmware (`firmware/fw/main.s`) on the real core: single commands,
//! disconnect/reselect, autosense, selection timeout, bad HCBs.

use hba_abi::layout::{self, check, cqe, cqe::kind, hba_status, hcb};
use hba_verif::fwrig::{disk_target, FwRig};
use hba_verif::host::{Entry, Hcb};
use hba_verif::rig::{pattern, rw10};
use scsi_bus::target::TargetConfig;
use scsi_bus::Width;

const BUF: u32 = layout::DATA;
const DISK: u32 = 2;

fn assert_good(e: &Entry, slot: u32, residual: u32) {
    assert_eq!(e.kind(), kind::COMPLETION, "{e:x?}");
    assert_eq!(e.hba_status(), hba_status::OK, "{e:x?}");
    assert_eq!(e.scsi_status(), 0x00, "GOOD expected: {e:x?}");
    assert_eq!(e.slot(), slot, "{e:x?}");
    assert_eq!(e.residual(), residual, "{e:x?}");
}

fn one_disk(cfg: impl FnOnce(&mut TargetConfig)) -> FwRig {
    let mut c = TargetConfig::new(DISK as u8);
    cfg(&mut c);
    FwRig::new(Width::Narrow, vec![disk_target(c, 4096)])
}

/// WRITE(10) then READ(10) of `blocks` at `lba` through slots 3 and 4; data checked.
fn write_read(rig: &mut FwRig, lba: u32, blocks: u16, seed: u32) {
    let len = u32::from(blocks) * 512;
    let data = pattern(seed, len as usize);
    rig.write_buf(BUF, &data);
    let e = rig.run(
        3,
        &Hcb::new(DISK, 0, &rw10(0x2A, lba, blocks), BUF, len, false),
    );
    assert_good(&e, 3, 0);
    assert_eq!(
        rig.disk_blocks(DISK as u8, u64::from(lba), u64::from(blocks)),
        data
    );
    let rbuf = BUF + 0x10000;
    let e = rig.run(
        4,
        &Hcb::new(DISK, 0, &rw10(0x28, lba, blocks), rbuf, len, true),
    );
    assert_good(&e, 4, 0);
    assert_eq!(rig.read_buf(rbuf, len as usize), data, "data read back");
}

#[test]
fn async_write_and_read_no_disconnect() {
    let mut rig = one_disk(|c| c.disconnect = false);
    write_read(&mut rig, 100, 8, 1);
    rig.assert_monitor_clean();
}

#[test]
fn async_write_and_read_with_disconnect() {
    let mut rig = one_disk(|_| {});
    write_read(&mut rig, 7, 8, 2);
    rig.assert_monitor_clean();
    assert!(rig.log(400).contains("DISCONNECT"), "{}", rig.log(60));
}

#[test]
fn chunked_disconnects_with_save_data_pointer() {
    let mut rig = one_disk(|c| c.chunk = Some(1536));
    write_read(&mut rig, 40, 16, 3);
    rig.assert_monitor_clean();
    let log = rig.log(2000);
    assert!(log.contains("SAVE DATA POINTER"), "{}", rig.log(60));
}

#[test]
fn untagged_no_disconnect_flag_is_honoured() {
    let mut rig = one_disk(|_| {});
    let mut h = Hcb::new(DISK, 0, &rw10(0x28, 0, 2), BUF, 1024, true);
    h.ctrl |= hcb::ctrl::NO_DISCONNECT;
    let e = rig.run(9, &h);
    assert_good(&e, 9, 0);
    assert!(!rig.log(100).contains("DISCONNECT"), "{}", rig.log(40));
    rig.assert_monitor_clean();
}

#[test]
fn check_condition_fetches_sense_automatically() {
    let mut rig = one_disk(|_| {});
    // READ past the end of the 4096-block disk: ILLEGAL REQUEST, LBA out of range.
    let h = Hcb::new(DISK, 0, &rw10(0x28, 5000, 1), BUF, 512, true);
    let e = rig.run(5, &h);
    assert_eq!(e.kind(), kind::COMPLETION, "{e:x?}");
    assert_eq!(e.hba_status(), hba_status::OK, "{e:x?}");
    assert_eq!(e.scsi_status(), 0x02, "{e:x?}");
    assert_eq!(e.residual(), 512, "{e:x?}");
    let w2 = e.words[2];
    assert!(w2 & cqe::SENSE_VALID != 0, "{e:x?}");
    let n = (w2 & cqe::SENSE_LEN_MASK) as usize;
    assert!(n >= 14, "sense length {n}");
    let s = rig.sense(5, n);
    assert_eq!(s[0] & 0x7F, 0x70, "{s:x?}");
    assert_eq!(s[2] & 0x0F, 0x05, "ILLEGAL REQUEST: {s:x?}");
    assert_eq!(s[12], 0x21, "LBA out of range: {s:x?}");
    rig.assert_monitor_clean();
    // NO_AUTOSENSE: the status alone.
    let mut h = Hcb::new(DISK, 0, &rw10(0x28, 5000, 1), BUF, 512, true);
    h.ctrl |= hcb::ctrl::NO_AUTOSENSE;
    let e = rig.run(6, &h);
    assert_eq!((e.scsi_status(), e.words[2]), (0x02, 0), "{e:x?}");
    rig.assert_monitor_clean();
}

#[test]
fn selection_timeout_then_the_bus_still_works() {
    let mut rig = one_disk(|_| {});
    let e = rig.run(1, &Hcb::new(5, 0, &rw10(0x28, 0, 1), BUF, 512, true));
    assert_eq!(e.kind(), kind::COMPLETION);
    assert_eq!(e.hba_status(), hba_status::SEL_TIMEOUT, "{e:x?}");
    assert_eq!((e.slot(), e.residual()), (1, 512), "{e:x?}");
    let e = rig.run(2, &Hcb::new(DISK, 0, &[0, 0, 0, 0, 0, 0], 0, 0, false));
    assert_good(&e, 2, 0);
    rig.assert_monitor_clean();
}

#[test]
fn bad_hcb_completes_with_the_check_code() {
    let mut rig = one_disk(|_| {});
    let e = rig.run(
        8,
        &Hcb::new(DISK, 0, &rw10(0x28, 0, 1), layout::HCBS, 512, true),
    );
    assert_eq!(e.hba_status(), hba_status::BAD_HCB, "{e:x?}");
    assert_eq!((e.slot(), e.words[3]), (8, check::BAD_BUFFER), "{e:x?}");
    let e = rig.run(9, &Hcb::new(7, 0, &rw10(0x28, 0, 1), BUF, 512, true));
    assert_eq!(
        (e.hba_status(), e.words[3]),
        (hba_status::BAD_HCB, check::BAD_TARGET)
    );
    let e = rig.run(2, &Hcb::new(DISK, 0, &[0, 0, 0, 0, 0, 0], 0, 0, false));
    assert_good(&e, 2, 0);
    rig.assert_monitor_clean();
}

#[test]
fn underrun_and_overrun_residuals() {
    let mut rig = one_disk(|c| c.disconnect = false);
    // Underrun: a 4-block buffer for a 2-block read -> residual 1024.
    let e = rig.run(3, &Hcb::new(DISK, 0, &rw10(0x28, 0, 2), BUF, 2048, true));
    assert_good(&e, 3, 1024);
    // Overrun: the target sends 2 blocks into a 1000-byte buffer.
    let e = rig.run(4, &Hcb::new(DISK, 0, &rw10(0x28, 0, 2), BUF, 1000, true));
    assert_eq!(e.hba_status(), hba_status::DATA_OVERRUN, "{e:x?}");
    assert_eq!(e.residual(), 0, "{e:x?}");
    // Overrun on DATA OUT: the target wants 1 block, the buffer holds 100 bytes.
    let e = rig.run(5, &Hcb::new(DISK, 0, &rw10(0x2A, 0, 1), BUF, 100, false));
    assert_eq!(e.hba_status(), hba_status::DATA_OVERRUN, "{e:x?}");
    rig.assert_monitor_clean();
}

#[test]
fn show_log_of_a_chunked_read() {
    let mut rig = one_disk(|c| c.chunk = Some(1024));
    let e = rig.run(4, &Hcb::new(DISK, 0, &rw10(0x28, 0, 4), BUF, 2048, true));
    assert_good(&e, 4, 0);
    eprintln!("{}", rig.log(40));
}

#[test]
fn overrun_in_a_synchronous_data_phase() {
    let mut rig = one_disk(|c| c.disconnect = false);
    rig.set_goal(DISK, 0x19, 8, false);
    let e = rig.run(2, &Hcb::new(DISK, 0, &[0, 0, 0, 0, 0, 0], 0, 0, false));
    assert_eq!(e.kind(), kind::NEGOTIATED, "{e:x?}");
    let e = rig.next_entry(1_000_000);
    assert_good(&e, 2, 0);
    let e = rig.run(4, &Hcb::new(DISK, 0, &rw10(0x28, 0, 2), BUF, 1000, true));
    assert_eq!(
        e.hba_status(),
        hba_status::DATA_OVERRUN,
        "{e:x?}\n{}",
        rig.log(20)
    );
    let e = rig.run(5, &Hcb::new(DISK, 0, &rw10(0x2A, 0, 1), BUF, 100, false));
    assert_eq!(
        e.hba_status(),
        hba_status::DATA_OVERRUN,
        "{e:x?}\n{}",
        rig.log(20)
    );
    // No sense area: the excess still goes to the bit bucket (DMA F_DISCARD), and
    // nothing beyond the buffer is written.
    rig.write_buf(BUF + 1000, &[0xA5; 64]);
    let mut h = Hcb::new(DISK, 0, &rw10(0x28, 0, 2), BUF, 1000, true);
    h.sense_len = 0;
    let e = rig.run(7, &h);
    assert_eq!(
        e.hba_status(),
        hba_status::DATA_OVERRUN,
        "{e:x?}\n{}",
        rig.log(20)
    );
    assert_eq!(
        rig.read_buf(BUF + 1000, 64),
        vec![0xA5; 64],
        "bit bucket wrote memory"
    );
    let e = rig.run(6, &Hcb::new(DISK, 0, &rw10(0x28, 0, 2), BUF, 1024, true));
    assert_good(&e, 6, 0);
    rig.assert_monitor_clean();
}
