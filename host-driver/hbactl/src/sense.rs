//! Sense data in words: key, ASC/ASCQ text (scsi-defs' `asc::text`), INFORMATION and
//! flags.

use hba_cam::sense::Sense;
use serde::Serialize;

/// The text for an ASC/ASCQ pair, if known (scsi-defs' table).
pub fn asc_text(asc: u8, ascq: u8) -> Option<&'static str> {
    scsi_defs::asc::text(asc, ascq)
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
