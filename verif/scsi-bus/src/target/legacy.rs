//! Presets for old devices: a SCSI-1 / CCS disk (no REPORT LUNS, no tagged queuing, no
//! WDTR, INQUIRY version 1 or 2, several LUNs on one target, synchronous at most Fast-5),
//! a device that ignores ATN, and one that rejects every extended message.

use super::disk::Disk;
use super::{SyncCaps, Target, TargetConfig};

/// A SCSI-1 (`version` 1, CCS response format 1) or SCSI-2 (`version` 2) disk target:
/// untagged, narrow, no REPORT LUNS, synchronous up to Fast-5 offset 8.
pub fn old_disk_config(id: u8, version: u8) -> TargetConfig {
    let mut c = TargetConfig::new(id);
    c.inquiry_version = version.clamp(1, 2);
    c.report_luns = false;
    c.tagged = false;
    c.wide = false;
    c.sync = Some(SyncCaps {
        min_period_factor: scsi_defs::spi_timing::PERIOD_FACTOR_FAST5,
        max_offset: 8,
    });
    c
}

/// An old disk target with `luns` memory disks of `blocks` blocks at LUNs 0.. (as the
/// CCS drives with an embedded controller for several spindles).
pub fn old_disk(id: u8, version: u8, luns: u8, blocks: u64) -> Target {
    let mut t = Target::new(old_disk_config(id, version));
    for l in 0..luns.min(8) {
        t = t.with_lun(l, Disk::memory(blocks));
    }
    t
}

/// A device that ignores ATN: it never enters MESSAGE OUT, so it never sees IDENTIFY
/// (LUN 0, no disconnection) nor any other message; no synchronous transfers.
pub fn ignores_atn_config(id: u8) -> TargetConfig {
    let mut c = old_disk_config(id, 1);
    c.ignore_atn = true;
    c.sync = None;
    c
}

/// A device that answers every extended message (SDTR, WDTR, PPR, MODIFY DATA POINTER)
/// with MESSAGE REJECT.
pub fn rejects_extended_config(id: u8) -> TargetConfig {
    let mut c = old_disk_config(id, 2);
    c.reject_negotiation = true;
    c
}
