//! Completion entries from the card: decoding, validation before any use (the device is
//! never trusted), and the HBA status → CAM status map.

use hba_abi::layout::{self, cqe, hba_status};
use hba_cam::CamStatus;

/// The highest HBA status the contract defines.
pub const HBA_STATUS_MAX: u32 = hba_status::TIMEOUT;

/// A completion/event entry as read from the ring.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Ring index.
    pub index: u32,
    /// The four words.
    pub w: [u32; 4],
}

/// A decoded, validated entry.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A slot finished.
    Completion {
        /// Slot index.
        slot: u32,
        /// HBA status (`layout::hba_status`).
        hba: u32,
        /// SCSI status byte.
        scsi: u8,
        /// Data bytes not transferred.
        resid: u32,
        /// Valid sense bytes in the HCB, when autosense succeeded.
        sense: Option<u8>,
        /// Autosense was attempted and failed.
        sense_failed: bool,
        /// Word 3 (detail; the check code for BAD_HCB).
        detail: u32,
    },
    /// The firmware's agreement with a target changed (or was reset).
    Negotiated {
        /// Target ID.
        target: u32,
        /// The agreement in the per-target table layout.
        word: u32,
    },
    /// A bus reset was seen (by anyone); every agreement is back to async narrow.
    BusReset,
    /// A target reselected with a nexus the firmware has no slot for.
    UnknownResel {
        /// Target.
        target: u32,
        /// LUN.
        lun: u32,
        /// Tag.
        tag: u32,
    },
    /// The sequencer trapped (posted by hardware); the raw `SEQ_TRAP` value.
    Trap(u32),
}

/// Why an entry was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadEntry {
    /// An entry type the contract does not define.
    #[error("entry {index}: unknown type {kind} (words {w:08x?})")]
    Kind {
        /// Ring index.
        index: u32,
        /// Type field.
        kind: u32,
        /// Words.
        w: [u32; 4],
    },
    /// A slot index beyond the slot table.
    #[error("entry {index}: slot {slot} out of range")]
    Slot {
        /// Ring index.
        index: u32,
        /// Slot.
        slot: u32,
    },
    /// A status code the contract does not define.
    #[error("entry {index}: unknown HBA status {hba:#x}")]
    Status {
        /// Ring index.
        index: u32,
        /// Status.
        hba: u32,
    },
    /// An event entry with its unused fields (word 0 bits 23:0, words 1 and 2) not zero.
    #[error("entry {index}: type {kind} with reserved fields set (words {w:08x?})")]
    Reserved {
        /// Ring index.
        index: u32,
        /// Type field.
        kind: u32,
        /// Words.
        w: [u32; 4],
    },
    /// A sense length beyond the HCB's sense area.
    #[error("entry {index}: sense length {len} beyond {max}")]
    SenseLen {
        /// Ring index.
        index: u32,
        /// Length given.
        len: u32,
        /// Sense area.
        max: u32,
    },
    /// A target beyond the per-target table.
    #[error("entry {index}: target {target} out of range")]
    Target {
        /// Ring index.
        index: u32,
        /// Target.
        target: u32,
    },
}

impl Entry {
    /// Decodes the entry, checking every field against the contract (slot state and
    /// lengths against the command are checked by the SIM, which knows them).
    pub fn decode(&self) -> Result<Event, BadEntry> {
        let w0 = self.w[0];
        let index = self.index;
        let kind = (w0 >> cqe::TYPE_SHIFT) & cqe::TYPE_MASK;
        match kind {
            cqe::kind::COMPLETION => {
                let slot = w0 & cqe::SLOT_MASK;
                if slot >= layout::NUM_SLOTS {
                    return Err(BadEntry::Slot { index, slot });
                }
                let hba = (w0 >> cqe::HBA_STATUS_SHIFT) & 0xFF;
                if hba > HBA_STATUS_MAX {
                    return Err(BadEntry::Status { index, hba });
                }
                let slen = self.w[2] & cqe::SENSE_LEN_MASK;
                if slen > layout::hcb::SENSE_MAX {
                    return Err(BadEntry::SenseLen {
                        index,
                        len: slen,
                        max: layout::hcb::SENSE_MAX,
                    });
                }
                let valid = self.w[2] & cqe::SENSE_VALID != 0;
                Ok(Event::Completion {
                    slot,
                    hba,
                    scsi: (w0 >> cqe::SCSI_STATUS_SHIFT) as u8,
                    resid: self.w[1],
                    sense: valid.then_some(slen as u8),
                    sense_failed: self.w[2] & cqe::AUTOSENSE_FAILED != 0,
                    detail: self.w[3],
                })
            }
            // Event entries: everything but the type and word 3 is zero (the firmware's
            // post_event and the hardware's trap write it so), so a flipped bit there
            // is caught rather than ignored.
            cqe::kind::NEGOTIATED
            | cqe::kind::BUS_RESET
            | cqe::kind::UNKNOWN_RESEL
            | cqe::kind::TRAP
                if w0 & !(cqe::PHASE | (cqe::TYPE_MASK << cqe::TYPE_SHIFT)) != 0
                    || self.w[1] != 0
                    || self.w[2] != 0 =>
            {
                Err(BadEntry::Reserved {
                    index,
                    kind,
                    w: self.w,
                })
            }
            cqe::kind::NEGOTIATED => {
                let w3 = self.w[3];
                let target = w3 & 0xF;
                let period = (w3 >> 8) & 0xFF;
                let offset = (w3 >> 16) & 0xFF;
                let wide = (w3 >> 24) & 1;
                let word = period
                    | (offset << layout::target::OFFSET_SHIFT)
                    | if wide != 0 { layout::target::WIDE } else { 0 };
                if w3 >> 25 != 0 {
                    return Err(BadEntry::Kind {
                        index,
                        kind,
                        w: self.w,
                    });
                }
                Ok(Event::Negotiated { target, word })
            }
            cqe::kind::BUS_RESET => Ok(Event::BusReset),
            cqe::kind::UNKNOWN_RESEL => {
                let w3 = self.w[3];
                let target = w3 & 0xF;
                if target >= layout::NUM_TARGETS {
                    return Err(BadEntry::Target { index, target });
                }
                Ok(Event::UnknownResel {
                    target,
                    lun: (w3 >> 8) & 7,
                    tag: (w3 >> 16) & 0xFF,
                })
            }
            cqe::kind::TRAP => Ok(Event::Trap(self.w[3])),
            _ => Err(BadEntry::Kind {
                index,
                kind,
                w: self.w,
            }),
        }
    }
}

/// CAM status for an HBA status (the command's own outcome; aborts and resets are
/// refined by the SIM, which knows why it asked).
pub fn cam_status(hba: u32, scsi: u8) -> CamStatus {
    match hba {
        hba_status::OK if scsi == scsi_defs::status::GOOD => CamStatus::ReqCmp,
        // CONDITION MET is a success too.
        hba_status::OK if scsi == 0x04 => CamStatus::ReqCmp,
        hba_status::OK => CamStatus::ScsiStatusError,
        hba_status::SEL_TIMEOUT => CamStatus::SelTimeout,
        hba_status::UNEXP_BUS_FREE => CamStatus::UnexpBusfree,
        hba_status::BAD_HCB => CamStatus::ReqInvalid,
        hba_status::PARITY => CamStatus::UncorParity,
        hba_status::DATA_OVERRUN => CamStatus::DataRunErr,
        hba_status::ABORTED => CamStatus::ReqAborted,
        hba_status::BUS_RESET => CamStatus::ScsiBusReset,
        hba_status::BDR_SENT => CamStatus::BdrSent,
        hba_status::PROTOCOL => CamStatus::SequenceFail,
        // A data phase against the CCB's direction (cam.h: CAM_DATA_RUN_ERR covers "going
        // in other direction than specified in CAM_DIR_MASK").
        hba_status::WRONG_DIRECTION => CamStatus::DataRunErr,
        // The firmware gave up on a target that went silent while connected.
        hba_status::TIMEOUT => CamStatus::CmdTimeout,
        _ => CamStatus::UnrecHbaError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(w: [u32; 4]) -> Entry {
        Entry { index: 3, w }
    }

    #[test]
    fn garbage_is_refused_not_trusted() {
        let w0 = |k, h, s| cqe::word0(k, h, 0, s) | cqe::PHASE;
        assert!(matches!(
            entry([w0(cqe::kind::COMPLETION, 0, 64), 0, 0, 0]).decode(),
            Err(BadEntry::Slot { slot: 64, .. })
        ));
        assert!(matches!(
            entry([w0(cqe::kind::COMPLETION, 0x7F, 1), 0, 0, 0]).decode(),
            Err(BadEntry::Status { hba: 0x7F, .. })
        ));
        assert!(matches!(
            entry([
                w0(cqe::kind::COMPLETION, 0, 1),
                0,
                0xFF | cqe::SENSE_VALID,
                0
            ])
            .decode(),
            Err(BadEntry::SenseLen { len: 255, .. })
        ));
        assert!(matches!(
            entry([w0(0x55, 0, 1), 0, 0, 0]).decode(),
            Err(BadEntry::Kind { kind: 0x55, .. })
        ));
        assert!(matches!(
            entry([w0(cqe::kind::NEGOTIATED, 0, 0), 0, 0, 0xFF00_0000]).decode(),
            Err(BadEntry::Kind { .. })
        ));
        for k in [
            cqe::kind::NEGOTIATED,
            cqe::kind::BUS_RESET,
            cqe::kind::UNKNOWN_RESEL,
            cqe::kind::TRAP,
        ] {
            assert!(entry([w0(k, 0, 0), 0, 0, 0]).decode().is_ok(), "kind {k}");
            for w in [
                [w0(k, 0x80, 0), 0, 0, 0],
                [w0(k, 0, 0x80), 0, 0, 0],
                [w0(k, 0, 0) | 1 << 8, 0, 0, 0],
                [w0(k, 0, 0), 1, 0, 0],
                [w0(k, 0, 0), 0, 1 << 31, 0],
            ] {
                assert!(
                    matches!(entry(w).decode(), Err(BadEntry::Reserved { .. })),
                    "kind {k}: {w:08x?}"
                );
            }
        }
        // Every word pattern decodes to a value or an error, never a panic.
        let mut x = 1u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let w = [
                x as u32,
                (x >> 32) as u32,
                x.rotate_left(7) as u32,
                (x >> 11) as u32,
            ];
            let _ = entry(w).decode();
        }
    }

    #[test]
    fn statuses_map_to_cam() {
        assert_eq!(cam_status(hba_status::OK, 0), CamStatus::ReqCmp);
        assert_eq!(cam_status(hba_status::OK, 2), CamStatus::ScsiStatusError);
        assert_eq!(cam_status(hba_status::OK, 0x08), CamStatus::ScsiStatusError);
        assert_eq!(
            cam_status(hba_status::SEL_TIMEOUT, 0),
            CamStatus::SelTimeout
        );
        assert_eq!(cam_status(hba_status::PARITY, 0), CamStatus::UncorParity);
        assert_eq!(
            cam_status(hba_status::DATA_OVERRUN, 0),
            CamStatus::DataRunErr
        );
        assert_eq!(
            cam_status(hba_status::UNEXP_BUS_FREE, 0),
            CamStatus::UnexpBusfree
        );
        assert_eq!(
            cam_status(hba_status::BUS_RESET, 0),
            CamStatus::ScsiBusReset
        );
        assert_eq!(cam_status(hba_status::BDR_SENT, 0), CamStatus::BdrSent);
        assert_eq!(cam_status(hba_status::PROTOCOL, 0), CamStatus::SequenceFail);
        assert_eq!(cam_status(hba_status::ABORTED, 0), CamStatus::ReqAborted);
        assert_eq!(
            cam_status(hba_status::WRONG_DIRECTION, 0),
            CamStatus::DataRunErr
        );
        assert_eq!(cam_status(hba_status::TIMEOUT, 0), CamStatus::CmdTimeout);
        assert!(matches!(
            entry([
                cqe::word0(cqe::kind::COMPLETION, HBA_STATUS_MAX + 1, 0, 1),
                0,
                0,
                0
            ])
            .decode(),
            Err(BadEntry::Status { .. })
        ));
    }
}
