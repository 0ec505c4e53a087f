//! The fuzz target bodies: each takes arbitrary bytes and feeds them to one parser of
//! outside bytes (from a device, the card, a user's file). The only oracle besides "no
//! panic" is stated per target. Shared by the libFuzzer binaries (`fuzz/fuzz_targets`)
//! and the corpus replay of `make test` (`verif/tests/fuzz_corpus.rs`), so the crate
//! paths used here exist in both.

use hba_abi::layout::{self, hcb};
use hba_abi::mem;

/// CDB decoders: the READ/WRITE decoder SIMs and targets use, the CDB constructor, the
/// bus log's naming. A decoded transfer must fit the CDB's own fields.
pub fn cdb(data: &[u8]) {
    if let Some((_write, lba, n)) = hba_cam::scsi_cmd::decode_rw(data) {
        // READ(6)/WRITE(6) carry 21 bits of LBA; nothing decodes more than 64.
        if data.first().is_some_and(|&o| o == 0x08 || o == 0x0a) {
            assert!(lba < 1 << 21 && n <= 256, "6-byte CDB decoded to {lba} {n}");
        }
    }
    if let Ok(c) = hba_cam::ccb::Cdb::new(data) {
        assert_eq!(c.bytes(), data, "a CDB keeps its bytes");
    }
    let _ = scsi_bus::log::describe_cdb(data);
}

/// Sense data and the other parameter data a device returns (INQUIRY, VPD pages,
/// REPORT LUNS, READ CAPACITY, READ POSITION, READ TOC, MODE SENSE(6)).
pub fn sense(data: &[u8]) {
    use hba_cam::scsi_cmd as sc;
    let _ = hba_cam::sense::Sense::parse(data);
    let _ = sc::InquiryData::parse(data);
    let _ = sc::parse_serial_vpd(data);
    let _ = sc::parse_report_luns(data);
    let _ = sc::parse_read_capacity10(data);
    let _ = sc::parse_read_capacity16(data);
    let _ = sc::parse_read_position(data);
    let _ = sc::parse_read_toc(data, false);
    let _ = sc::parse_read_toc(data, true);
    let _ = sc::parse_mode6_block_len(data);
}

/// SCSI messages as the bus log and monitor split and name them. The split covers the
/// input exactly, in order.
pub fn messages(data: &[u8]) {
    let parts = scsi_bus::log::split_messages(data);
    let joined: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    assert_eq!(joined, data, "split_messages covers the run");
    for p in &parts {
        let _ = scsi_bus::log::describe_message(p);
        let _ = scsi_bus::log::message_len(p);
    }
    let _ = scsi_bus::log::describe_run(scsi_bus::Phase::MsgIn, data);
    let _ = scsi_bus::log::describe_run(scsi_bus::Phase::MsgOut, data);
}

/// Completion entries from the card: a decoded completion names a slot in the table,
/// a defined status and a sense length within the HCB's sense area.
pub fn completion(data: &[u8]) {
    use hba_host_driver::sim::status::{cam_status, Entry, Event};
    for (i, c) in data.chunks(16).enumerate() {
        let mut w = [0u32; 4];
        for (j, b) in c.chunks(4).enumerate() {
            let mut x = [0u8; 4];
            x[..b.len()].copy_from_slice(b);
            w[j] = u32::from_le_bytes(x);
        }
        let e = Entry { index: i as u32, w };
        if let Ok(Event::Completion {
            slot,
            hba,
            scsi,
            sense,
            ..
        }) = e.decode()
        {
            assert!(slot < layout::NUM_SLOTS, "slot {slot}");
            assert!(hba <= hba_host_driver::sim::status::HBA_STATUS_MAX);
            assert!(sense.is_none_or(|n| u32::from(n) <= hcb::SENSE_MAX));
            let _ = cam_status(hba, scsi);
        }
    }
}

/// Firmware assembler input (no includes: the resolver refuses them).
pub fn asm(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let mut r = hba_firmware::asm::NoIncludes;
        let _ = hba_firmware::asm::assemble_str("fuzz.s", text, &mut r);
    }
}

/// Cycles one co-simulated HCB may run (a command to a present disk completes well
/// within; a hung one is cut off, the invariant still holds for what happened).
const HCB_CYCLES: u64 = 300_000;

/// Random HCB bytes to the real RTL and firmware under Verilator, with a disk at ID 0
/// whose behaviour the input picks: the card may write only the slot's own HCB, the
/// completion ring, the firmware's scratch and target table, and, for DATA IN, the data
/// window the HCB names when that window lies inside the data area. Everything else in
/// card memory (other HCBs, the submission ring, the rest of the data area) is filled
/// with a pattern beforehand and must keep it.
pub fn hcb_cosim(data: &[u8]) {
    use hba_verif::fwrig::{disk_target, FwRig};
    use scsi_bus::faults::{FaultAction, FaultConfig};
    use scsi_bus::target::TargetConfig;
    if data.len() < 2 {
        return;
    }
    let slot = u32::from(data[0]) % layout::NUM_SLOTS;
    let behaviour = data[1];
    let mut raw = [0u8; 32];
    let n = (data.len() - 2).min(32);
    raw[..n].copy_from_slice(&data[2..2 + n]);
    let words: Vec<u32> = raw
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let mut cfg = TargetConfig::new(0);
    cfg.access_cycles = 200;
    cfg.tagged = behaviour & 0x80 != 0;
    let mut t = disk_target(cfg, 64);
    let action = match behaviour & 7 {
        1 => Some(FaultAction::Busy),
        2 => Some(FaultAction::CheckCondition {
            key: 3,
            asc: 0x11,
            ascq: 0,
        }),
        3 => Some(FaultAction::BusFree {
            phase: scsi_bus::Phase::DataIn,
        }),
        4 => Some(FaultAction::QueueFull),
        _ => None,
    };
    if let Some(action) = action {
        t.set_faults(&FaultConfig {
            seed: u64::from(behaviour),
            rules: vec![hba_verif::campaign::rule(action)],
            bus_reset_at_ns: vec![],
        });
    }
    let mut r = FwRig::new(scsi_bus::Width::Narrow, vec![t]);
    // Pattern everywhere the card must not write (the firmware owns scratch and targets).
    const FILL: u32 = 0xA5C3_5A3C;
    let fill = vec![FILL; ((mem::CARD_MEM_BYTES - layout::HCBS) / 4) as usize];
    r.m.bram_write(layout::HCBS, &fill);
    r.m.bram_write(layout::hcb_addr(slot), &words);
    // The submission entry first, then the snapshot, then the doorbell.
    r.m.bram_write(layout::SQ, &[slot]);
    let mut before = vec![0u32; (mem::CARD_MEM_BYTES / 4) as usize];
    r.m.bram_read(0, &mut before);
    r.m.axil_write(hba_abi::regs::SQ_DOORBELL, 1)
        .expect("doorbell");
    let _ = r.host.wait_entry(&mut r.m, HCB_CYCLES);
    let mut after = vec![0u32; before.len()];
    r.m.bram_read(0, &mut after);
    let ctrl = words[(hcb::CTRL / 4) as usize];
    let (addr, len) = (
        words[(hcb::DATA_ADDR / 4) as usize],
        words[(hcb::DATA_LEN / 4) as usize],
    );
    let dir_in = ctrl & hcb::ctrl::DIR_IN != 0;
    let inside = u64::from(addr) >= u64::from(layout::DATA)
        && u64::from(addr) + u64::from(len) <= u64::from(mem::CARD_MEM_BYTES);
    let hcb_lo = layout::hcb_addr(slot);
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        if b == a {
            continue;
        }
        let at = 4 * i as u32;
        let own = at < layout::SQ
            || (layout::CQ..layout::HCBS).contains(&at)
            || (hcb_lo..hcb_lo + layout::HCB_BYTES).contains(&at)
            || (dir_in
                && inside
                && at + 4 > addr
                && u64::from(at) < u64::from(addr) + u64::from(len));
        assert!(
            own,
            "card wrote {at:#x} ({b:#010x} -> {a:#010x}) outside slot {slot}'s window; HCB {words:08x?}"
        );
    }
}
