//! Parsers of target-supplied bytes: known answers, and arbitrary bytes never panic.

use crate::scsi_cmd::*;
use crate::sense::{Sense, SenseError};
use proptest::prelude::*;
use scsi_defs::{opcode as op, sense_key as sk};

#[test]
fn fixed_sense_decodes() {
    let b = Sense::fixed_bytes(
        sk::MEDIUM_ERROR,
        0x11,
        0x00,
        Some(0x1234),
        scsi_defs::sense::FIXED_ILI,
    );
    let s = Sense::parse(&b).unwrap();
    assert_eq!(
        (s.key, s.asc, s.ascq, s.info, s.ili, s.filemark),
        (sk::MEDIUM_ERROR, 0x11, 0, Some(0x1234), true, false)
    );
    // Truncated to 3 bytes: key only.
    let s = Sense::parse(&b[..3]).unwrap();
    assert_eq!((s.key, s.asc), (sk::MEDIUM_ERROR, 0));
    assert_eq!(Sense::parse(&[]), Err(SenseError::TooShort(0)));
    assert_eq!(
        Sense::parse(&[0x10, 0, 0]),
        Err(SenseError::BadResponseCode(0x10))
    );
}

#[test]
fn descriptor_sense_decodes() {
    // 0x72, key NOT READY, 04/01, one INFORMATION descriptor and a stream descriptor.
    let mut b = vec![0x72, sk::NOT_READY, 0x04, 0x01, 0, 0, 0, 0];
    b.extend_from_slice(&[0x00, 0x0a, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00]);
    b.extend_from_slice(&[0x04, 0x02, 0, 0x80]);
    b[7] = (b.len() - 8) as u8;
    let s = Sense::parse(&b).unwrap();
    assert_eq!(
        (s.key, s.asc, s.ascq, s.info, s.filemark),
        (sk::NOT_READY, 4, 1, Some(0x100), true)
    );
    assert!(!s.deferred);
    // Truncated descriptor: header fields still decode.
    let s = Sense::parse(&b[..12]).unwrap();
    assert_eq!((s.key, s.info), (sk::NOT_READY, None));
}

#[test]
fn inquiry_and_luns_and_capacity() {
    let mut d = vec![0u8; 36];
    d[0] = 0x01;
    d[2] = 5;
    d[7] = 0x32;
    d[8..16].copy_from_slice(b"VENDOR  ");
    let i = InquiryData::parse(&d).unwrap();
    assert_eq!(
        (
            i.device_type,
            i.version,
            i.wbus16,
            i.sync,
            i.cmdque,
            i.vendor.as_str()
        ),
        (1, 5, true, true, true, "VENDOR")
    );
    assert!(InquiryData::parse(&d[..4]).is_err());
    let mut l = vec![0, 0, 0, 24, 0, 0, 0, 0];
    l.extend_from_slice(&[
        0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0x40, 0x10, 0, 0, 0, 0, 0, 0,
    ]);
    assert_eq!(parse_report_luns(&l).unwrap(), vec![0, 3, 16]);
    assert!(parse_report_luns(&[0, 0, 0, 7, 0, 0, 0, 0]).is_err());
    assert_eq!(
        parse_read_capacity10(&[0, 0, 0x03, 0xe7, 0, 0, 2, 0])
            .unwrap()
            .blocks(),
        1000
    );
    assert!(parse_read_capacity10(&[0, 0, 0, 1, 0, 0, 0, 0]).is_err());
    let mut c16 = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x10, 0];
    c16.resize(32, 0);
    let c = parse_read_capacity16(&c16).unwrap();
    assert_eq!((c.last_lba, c.block_len), (1 << 32, 4096));
    assert_eq!(
        parse_serial_vpd(&[0, 0x80, 0, 3, b'A', b'B', b'C']).unwrap(),
        "ABC"
    );
    assert!(parse_serial_vpd(&[0, 0x83, 0, 0]).is_err());
    assert_eq!(
        parse_read_position(&[0, 0, 0, 0, 0, 0, 0, 9]).unwrap(),
        Some(9)
    );
    assert_eq!(
        parse_read_position(&[4, 0, 0, 0, 0, 0, 0, 9]).unwrap(),
        None
    );
}

#[test]
fn read_write_cdb_size_follows_lba_and_count() {
    let sz = |lba, n, min| read_write(false, lba, n, min).unwrap()[0];
    assert_eq!(sz(0, 1, 6), op::READ_6);
    assert_eq!(sz((1 << 21) - 1, 255, 6), op::READ_6);
    assert_eq!(sz(1 << 21, 1, 6), op::READ_10);
    assert_eq!(sz(0, 256, 6), op::READ_10);
    assert_eq!(sz(0, 1, 10), op::READ_10);
    assert_eq!(sz(0, 0x1_0000, 6), op::READ_12);
    assert_eq!(sz(0xffff_ffff, 1, 6), op::READ_10);
    assert_eq!(sz(1 << 32, 1, 6), op::READ_16);
    assert_eq!(sz(0, 1, 16), op::READ_16);
    assert_eq!(read_write(true, 0, 1, 6).unwrap()[0], op::WRITE_6);
    assert_eq!(read_write(true, 1 << 32, 1, 6).unwrap()[0], op::WRITE_16);
    assert!(read_write(false, 0, 0, 6).is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Quirk entries from a user: the ones the grammar admits parse, any other string is
    /// an error, and none panics.
    #[test]
    fn quirk_entries_parse_or_fail(
        v in "[A-Z*?]{1,8}", p in "[A-Z0-9 :/*?-]{1,16}", r in "[0-9.*?]{1,4}",
        junk in "[a-z=,/ 0-9-]{0,24}",
    ) {
        prop_assume!(!p.starts_with('/') && !p.ends_with('/') && !p.trim().is_empty());
        let e: crate::quirks::QuirkEntry = format!("{v}/{p}/{r}=no-luns,max-tags=3").parse().unwrap();
        prop_assert_eq!((e.vendor.as_str(), e.product.as_str(), e.revision.as_str()), (v.as_str(), p.as_str(), r.as_str()));
        prop_assert!(e.quirks.no_luns && e.quirks.max_tags == Some(3));
        let _ = format!("{v}/{p}/{r}={junk}").parse::<crate::quirks::QuirkEntry>();
        let _ = junk.parse::<crate::quirks::QuirkEntry>();
    }

    #[test]
    fn parsers_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Sense::parse(&b);
        let _ = InquiryData::parse(&b);
        let _ = parse_report_luns(&b);
        let _ = parse_read_capacity10(&b);
        let _ = parse_read_capacity16(&b);
        let _ = parse_serial_vpd(&b);
        let _ = parse_read_position(&b);
        let _ = parse_mode6_block_len(&b);
        let _ = parse_read_toc(&b, false);
        let _ = parse_read_toc(&b, true);
        let _ = decode_rw(&b);
        let _ = String::from_utf8_lossy(&b).parse::<crate::quirks::QuirkEntry>();
        if b.len() >= 4 {
            let _ = crate::status::CcbStatus::from_raw(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        }
    }

    #[test]
    fn descriptor_sense_with_hostile_lengths(key in any::<u8>(), addl in any::<u8>(), tail in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut b = vec![0x72, key, 0, 0, 0, 0, 0, addl];
        b.extend_from_slice(&tail);
        let s = Sense::parse(&b).unwrap();
        prop_assert_eq!(s.key, key & 0x0f);
    }

    #[test]
    fn read_toc_with_hostile_lengths(len in any::<u16>(), msf in any::<bool>(), tail in proptest::collection::vec(any::<u8>(), 0..100)) {
        let mut b = len.to_be_bytes().to_vec();
        b.extend_from_slice(&[1, 2]);
        b.extend_from_slice(&tail);
        match parse_read_toc(&b, msf) {
            Ok(t) => prop_assert!(t.entries.len() * 8 <= tail.len()),
            Err(_) => prop_assert!(len < 2),
        }
    }

    #[test]
    fn read_write_roundtrips(write in any::<bool>(), lba in any::<u64>(), n in 1u32.., min in prop_oneof![Just(6u8), Just(10), Just(12), Just(16)]) {
        let cdb = read_write(write, lba, n, min).unwrap();
        prop_assert!(cdb.len() as u8 >= min);
        prop_assert_eq!(decode_rw(&cdb), Some((write, lba, n)));
    }
}
