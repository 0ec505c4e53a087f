//! Human-readable decoding of messages, CDBs and status for the monitor's transaction log.

use scsi_defs::{msg, opcode, status};

/// One decoded log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Cycle at which the event (or the phase run) started.
    pub cycle: u64,
    /// Decoded text without the time stamp.
    pub text: String,
}

impl std::fmt::Display for LogLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "t={} {}",
            crate::signals::fmt_time(self.cycle),
            self.text
        )
    }
}

/// Length of the message starting at `b[0]`, or `None` if more bytes are needed to know.
pub fn message_len(b: &[u8]) -> Option<usize> {
    let first = *b.first()?;
    match msg::fixed_len(first) {
        Some(n) => Some(n),
        None => b
            .get(1)
            .map(|&l| if l == 0 { 258 } else { 2 + usize::from(l) }),
    }
}

/// Splits a byte run into messages (an incomplete tail is returned as its own item).
pub fn split_messages(b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let n = message_len(&b[i..])
            .unwrap_or(b.len() - i)
            .min(b.len() - i)
            .max(1);
        out.push(&b[i..i + n]);
        i += n;
    }
    out
}

/// Name of one message (possibly truncated).
pub fn describe_message(m: &[u8]) -> String {
    let Some(&b0) = m.first() else {
        return String::new();
    };
    if b0 & msg::IDENTIFY != 0 {
        let disc = if b0 & msg::IDENTIFY_DISC_PRIV != 0 {
            " disc"
        } else {
            ""
        };
        return format!("IDENTIFY lun{}{}", b0 & msg::IDENTIFY_LUN_MASK, disc);
    }
    let arg = m.get(1).copied().unwrap_or(0);
    match b0 {
        msg::COMMAND_COMPLETE => "COMMAND COMPLETE".into(),
        msg::EXTENDED => {
            let code = m.get(2).copied();
            match code {
                Some(msg::ext::SDTR) => {
                    let f = m.get(3).copied().unwrap_or(0);
                    let o = m.get(4).copied().unwrap_or(0);
                    let ns = scsi_defs::spi_timing::period_ps(f).map(|p| p as f64 / 1000.0);
                    match ns {
                        Some(ns) => format!("SDTR period {f:#04x} ({ns}ns) offset {o}"),
                        None => format!("SDTR period {f:#04x} (reserved) offset {o}"),
                    }
                }
                Some(msg::ext::WDTR) => {
                    format!("WDTR {} bit", 8u32 << m.get(3).copied().unwrap_or(0).min(2))
                }
                Some(msg::ext::PPR) => "PPR".into(),
                Some(msg::ext::MODIFY_DATA_POINTER) => "MODIFY DATA POINTER".into(),
                _ => "EXTENDED (unknown)".into(),
            }
        }
        msg::SAVE_DATA_POINTER => "SAVE DATA POINTER".into(),
        msg::RESTORE_POINTERS => "RESTORE POINTERS".into(),
        msg::DISCONNECT => "DISCONNECT".into(),
        msg::INITIATOR_DETECTED_ERROR => "INITIATOR DETECTED ERROR".into(),
        msg::ABORT_TASK_SET => "ABORT TASK SET".into(),
        msg::MESSAGE_REJECT => "MESSAGE REJECT".into(),
        msg::NOP => "NOP".into(),
        msg::MESSAGE_PARITY_ERROR => "MESSAGE PARITY ERROR".into(),
        msg::TARGET_RESET => "BUS DEVICE RESET".into(),
        msg::ABORT_TASK => "ABORT TASK".into(),
        msg::CLEAR_TASK_SET => "CLEAR TASK SET".into(),
        msg::SIMPLE_QUEUE_TAG => format!("SIMPLE QUEUE TAG {arg:02x}"),
        msg::HEAD_OF_QUEUE_TAG => format!("HEAD OF QUEUE TAG {arg:02x}"),
        msg::ORDERED_QUEUE_TAG => format!("ORDERED QUEUE TAG {arg:02x}"),
        msg::IGNORE_WIDE_RESIDUE => format!("IGNORE WIDE RESIDUE {arg}"),
        _ => format!("message {b0:02x}"),
    }
}

/// Name of a CDB's operation.
pub fn describe_cdb(cdb: &[u8]) -> &'static str {
    let Some(&op) = cdb.first() else { return "" };
    match op {
        opcode::TEST_UNIT_READY => "TEST UNIT READY",
        opcode::REWIND => "REWIND",
        opcode::REQUEST_SENSE => "REQUEST SENSE",
        opcode::READ_BLOCK_LIMITS => "READ BLOCK LIMITS",
        opcode::READ_6 => "READ(6)",
        opcode::WRITE_6 => "WRITE(6)",
        opcode::WRITE_FILEMARKS_6 => "WRITE FILEMARKS",
        opcode::SPACE_6 => "SPACE",
        opcode::INQUIRY => "INQUIRY",
        opcode::MODE_SELECT_6 => "MODE SELECT(6)",
        opcode::MODE_SENSE_6 => "MODE SENSE(6)",
        opcode::START_STOP_UNIT => "START STOP UNIT",
        opcode::PREVENT_ALLOW_MEDIUM_REMOVAL => "PREVENT ALLOW MEDIUM REMOVAL",
        opcode::READ_CAPACITY_10 => "READ CAPACITY(10)",
        opcode::READ_10 => "READ(10)",
        opcode::WRITE_10 => "WRITE(10)",
        opcode::VERIFY_10 => "VERIFY(10)",
        opcode::READ_POSITION => "READ POSITION",
        opcode::SYNCHRONIZE_CACHE_10 => "SYNCHRONIZE CACHE(10)",
        opcode::MODE_SELECT_10 => "MODE SELECT(10)",
        opcode::MODE_SENSE_10 => "MODE SENSE(10)",
        opcode::READ_16 => "READ(16)",
        opcode::WRITE_16 => "WRITE(16)",
        opcode::SYNCHRONIZE_CACHE_16 => "SYNCHRONIZE CACHE(16)",
        opcode::SERVICE_ACTION_IN_16 if cdb.get(1).map(|b| b & 0x1F) == Some(0x10) => {
            "READ CAPACITY(16)"
        }
        opcode::SERVICE_ACTION_IN_16 => "SERVICE ACTION IN(16)",
        opcode::REPORT_LUNS => "REPORT LUNS",
        opcode::READ_12 => "READ(12)",
        opcode::WRITE_12 => "WRITE(12)",
        _ => "unknown opcode",
    }
}

/// Hex dump of up to `max` bytes, with "..." when truncated.
pub fn hex(b: &[u8], max: usize) -> String {
    let mut s: Vec<String> = b.iter().take(max).map(|x| format!("{x:02x}")).collect();
    if b.len() > max {
        s.push("...".into());
    }
    s.join(" ")
}

/// Decodes a phase run's bytes for the log.
pub fn describe_run(phase: crate::signals::Phase, bytes: &[u8]) -> String {
    use crate::signals::Phase;
    match phase {
        Phase::MsgIn | Phase::MsgOut => split_messages(bytes)
            .iter()
            .map(|m| describe_message(m))
            .collect::<Vec<_>>()
            .join("; "),
        Phase::Command => describe_cdb(bytes).to_string(),
        Phase::Status => bytes
            .first()
            .map(|&s| status::name(s))
            .unwrap_or("")
            .to_string(),
        _ => String::new(),
    }
}
