//! Sense data in words: key, ASC/ASCQ text (the common SPC codes; scsi-defs has only
//! the constants, so the table lives here until it moves there), INFORMATION and flags.

use hba_cam::sense::Sense;
use serde::Serialize;

/// ASC/ASCQ descriptions (SPC-4 annex F), the ones our targets and common drives report.
const ASC_TEXT: &[((u8, u8), &str)] = &[
    ((0x00, 0x00), "No additional sense information"),
    ((0x00, 0x01), "Filemark detected"),
    ((0x00, 0x02), "End-of-partition/medium detected"),
    ((0x00, 0x04), "Beginning-of-partition/medium detected"),
    ((0x00, 0x05), "End-of-data detected"),
    ((0x04, 0x00), "Logical unit not ready, cause not reportable"),
    ((0x04, 0x01), "Logical unit is in process of becoming ready"),
    (
        (0x04, 0x02),
        "Logical unit not ready, initializing command required",
    ),
    (
        (0x04, 0x03),
        "Logical unit not ready, manual intervention required",
    ),
    ((0x0C, 0x00), "Write error"),
    ((0x11, 0x00), "Unrecovered read error"),
    ((0x14, 0x00), "Recorded entity not found"),
    ((0x1A, 0x00), "Parameter list length error"),
    ((0x1D, 0x00), "Miscompare during verify operation"),
    ((0x20, 0x00), "Invalid command operation code"),
    ((0x21, 0x00), "Logical block address out of range"),
    ((0x24, 0x00), "Invalid field in CDB"),
    ((0x25, 0x00), "Logical unit not supported"),
    ((0x26, 0x00), "Invalid field in parameter list"),
    ((0x27, 0x00), "Write protected"),
    (
        (0x28, 0x00),
        "Not ready to ready change, medium may have changed",
    ),
    (
        (0x29, 0x00),
        "Power on, reset, or bus device reset occurred",
    ),
    ((0x29, 0x01), "Power on occurred"),
    ((0x29, 0x02), "SCSI bus reset occurred"),
    ((0x29, 0x03), "Bus device reset function occurred"),
    ((0x2A, 0x01), "Mode parameters changed"),
    ((0x2C, 0x00), "Command sequence error"),
    ((0x2F, 0x00), "Commands cleared by another initiator"),
    ((0x30, 0x00), "Incompatible medium installed"),
    ((0x39, 0x00), "Saving parameters not supported"),
    ((0x3A, 0x00), "Medium not present"),
    ((0x3B, 0x00), "Sequential positioning error"),
    ((0x3D, 0x00), "Invalid bits in IDENTIFY message"),
    ((0x3F, 0x0E), "Reported LUNs data has changed"),
    ((0x43, 0x00), "Message error"),
    ((0x44, 0x00), "Internal target failure"),
    ((0x45, 0x00), "Select or reselect failure"),
    ((0x47, 0x00), "SCSI parity error"),
    ((0x48, 0x00), "Initiator detected error message received"),
    ((0x49, 0x00), "Invalid message error"),
    ((0x4B, 0x00), "Data phase error"),
    ((0x4E, 0x00), "Overlapped commands attempted"),
    ((0x50, 0x00), "Write append error"),
    ((0x5D, 0x00), "Failure prediction threshold exceeded"),
];

/// The text for an ASC/ASCQ pair, if known.
pub fn asc_text(asc: u8, ascq: u8) -> Option<&'static str> {
    ASC_TEXT
        .iter()
        .find(|(k, _)| *k == (asc, ascq))
        .or_else(|| ASC_TEXT.iter().find(|(k, _)| k.0 == asc && k.1 == 0))
        .map(|(_, t)| *t)
}

/// One line: "MEDIUM ERROR asc 0x11/0x00 (Unrecovered read error), info 0x64".
pub fn describe(s: &Sense) -> String {
    let mut out = format!(
        "{} asc {:#04x}/{:#04x}",
        scsi_defs::sense_key::name(s.key),
        s.asc,
        s.ascq
    );
    if let Some(t) = asc_text(s.asc, s.ascq) {
        out.push_str(&format!(" ({t})"));
    }
    if let Some(i) = s.info {
        out.push_str(&format!(", info {i:#x}"));
    }
    for (on, n) in [(s.filemark, "FILEMARK"), (s.eom, "EOM"), (s.ili, "ILI")] {
        if on {
            out.push_str(&format!(", {n}"));
        }
    }
    if s.deferred {
        out.push_str(", deferred");
    }
    if let Some(k) = s.sks {
        out.push_str(&format!(", sks {:02x} {:02x} {:02x}", k[0], k[1], k[2]));
    }
    out
}

/// Sense data as JSON.
#[derive(Serialize)]
pub struct SenseJson {
    /// Response code.
    pub response_code: u8,
    /// Sense key.
    pub key: u8,
    /// Its name.
    pub key_name: &'static str,
    /// ASC.
    pub asc: u8,
    /// ASCQ.
    pub ascq: u8,
    /// Text of ASC/ASCQ.
    pub text: Option<&'static str>,
    /// INFORMATION.
    pub info: Option<u64>,
    /// FILEMARK.
    pub filemark: bool,
    /// EOM.
    pub eom: bool,
    /// ILI.
    pub ili: bool,
    /// Deferred error.
    pub deferred: bool,
}

impl From<&Sense> for SenseJson {
    fn from(s: &Sense) -> Self {
        SenseJson {
            response_code: s.response_code,
            key: s.key,
            key_name: scsi_defs::sense_key::name(s.key),
            asc: s.asc,
            ascq: s.ascq,
            text: asc_text(s.asc, s.ascq),
            info: s.info,
            filemark: s.filemark,
            eom: s.eom,
            ili: s.ili,
            deferred: s.deferred,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_medium_error_reads_as_such() {
        let b = Sense::fixed_bytes(3, 0x11, 0, Some(100), 0);
        let s = Sense::parse(&b).unwrap();
        let d = describe(&s);
        assert!(d.contains("MEDIUM ERROR"), "{d}");
        assert!(d.contains("Unrecovered read error"), "{d}");
        assert!(d.contains("info 0x64"), "{d}");
    }
}
