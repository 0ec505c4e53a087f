//! SCSI standard numbers, shared by the CAM stack, the target models and the firmware.
//!
//! Values come from the T10 standards (SAM-2/3, SPC-3, SBC-2, SSC-2, SPI-3/4). Only numbers
//! live here: no behaviour, no dependency. The HBA's own contract is `hba-abi`, not this.

/// SCSI status bytes (SAM-3 table 22).
pub mod status {
    pub const GOOD: u8 = 0x00;
    pub const CHECK_CONDITION: u8 = 0x02;
    pub const CONDITION_MET: u8 = 0x04;
    pub const BUSY: u8 = 0x08;
    pub const INTERMEDIATE: u8 = 0x10;
    pub const INTERMEDIATE_CONDITION_MET: u8 = 0x14;
    pub const RESERVATION_CONFLICT: u8 = 0x18;
    pub const COMMAND_TERMINATED: u8 = 0x22;
    /// TASK SET FULL, called QUEUE FULL in SCSI-2.
    pub const TASK_SET_FULL: u8 = 0x28;
    pub const QUEUE_FULL: u8 = TASK_SET_FULL;
    pub const ACA_ACTIVE: u8 = 0x30;
    pub const TASK_ABORTED: u8 = 0x40;

    /// Name of a status byte, for logs.
    pub fn name(s: u8) -> &'static str {
        match s {
            GOOD => "GOOD",
            CHECK_CONDITION => "CHECK CONDITION",
            CONDITION_MET => "CONDITION MET",
            BUSY => "BUSY",
            INTERMEDIATE => "INTERMEDIATE",
            INTERMEDIATE_CONDITION_MET => "INTERMEDIATE-CONDITION MET",
            RESERVATION_CONFLICT => "RESERVATION CONFLICT",
            COMMAND_TERMINATED => "COMMAND TERMINATED",
            TASK_SET_FULL => "TASK SET FULL",
            ACA_ACTIVE => "ACA ACTIVE",
            TASK_ABORTED => "TASK ABORTED",
            _ => "reserved",
        }
    }
}

/// Operation codes (SPC-3, SBC-2, SSC-2). Shared opcodes carry both names.
pub mod opcode {
    pub const TEST_UNIT_READY: u8 = 0x00;
    pub const REWIND: u8 = 0x01;
    pub const REQUEST_SENSE: u8 = 0x03;
    pub const FORMAT_UNIT: u8 = 0x04;
    pub const READ_BLOCK_LIMITS: u8 = 0x05;
    pub const READ_6: u8 = 0x08;
    pub const WRITE_6: u8 = 0x0A;
    pub const SEEK_6: u8 = 0x0B;
    pub const WRITE_FILEMARKS_6: u8 = 0x10;
    pub const SPACE_6: u8 = 0x11;
    pub const INQUIRY: u8 = 0x12;
    pub const VERIFY_6: u8 = 0x13;
    pub const MODE_SELECT_6: u8 = 0x15;
    pub const RESERVE_6: u8 = 0x16;
    pub const RELEASE_6: u8 = 0x17;
    pub const ERASE_6: u8 = 0x19;
    pub const MODE_SENSE_6: u8 = 0x1A;
    /// START STOP UNIT (disk) / LOAD UNLOAD (tape).
    pub const START_STOP_UNIT: u8 = 0x1B;
    pub const LOAD_UNLOAD: u8 = 0x1B;
    pub const RECEIVE_DIAGNOSTIC_RESULTS: u8 = 0x1C;
    pub const SEND_DIAGNOSTIC: u8 = 0x1D;
    pub const PREVENT_ALLOW_MEDIUM_REMOVAL: u8 = 0x1E;
    pub const READ_CAPACITY_10: u8 = 0x25;
    pub const READ_10: u8 = 0x28;
    pub const WRITE_10: u8 = 0x2A;
    /// SEEK(10) (disk) / LOCATE(10) (tape).
    pub const SEEK_10: u8 = 0x2B;
    pub const LOCATE_10: u8 = 0x2B;
    pub const WRITE_AND_VERIFY_10: u8 = 0x2E;
    pub const VERIFY_10: u8 = 0x2F;
    pub const READ_POSITION: u8 = 0x34;
    pub const SYNCHRONIZE_CACHE_10: u8 = 0x35;
    pub const WRITE_BUFFER: u8 = 0x3B;
    pub const READ_BUFFER: u8 = 0x3C;
    pub const LOG_SELECT: u8 = 0x4C;
    pub const LOG_SENSE: u8 = 0x4D;
    pub const MODE_SELECT_10: u8 = 0x55;
    pub const MODE_SENSE_10: u8 = 0x5A;
    pub const READ_16: u8 = 0x88;
    pub const WRITE_16: u8 = 0x8A;
    pub const VERIFY_16: u8 = 0x8F;
    pub const SYNCHRONIZE_CACHE_16: u8 = 0x91;
    /// SERVICE ACTION IN(16); READ CAPACITY(16) is service action 0x10.
    pub const SERVICE_ACTION_IN_16: u8 = 0x9E;
    pub const SAI_READ_CAPACITY_16: u8 = 0x10;
    pub const REPORT_LUNS: u8 = 0xA0;
    pub const READ_12: u8 = 0xA8;
    pub const WRITE_12: u8 = 0xAA;
    pub const VERIFY_12: u8 = 0xAF;

    /// CDB length implied by the group code (top three bits of the opcode), per SPC-3
    /// 4.3.2. `None` for the reserved group 3 (variable length) and vendor groups 6 and 7.
    pub fn cdb_len(op: u8) -> Option<usize> {
        match op >> 5 {
            0 => Some(6),
            1 | 2 => Some(10),
            4 => Some(16),
            5 => Some(12),
            _ => None,
        }
    }
}

/// SPI message codes (SPI-4 section 16 / SAM task management).
pub mod msg {
    pub const COMMAND_COMPLETE: u8 = 0x00;
    pub const EXTENDED: u8 = 0x01;
    pub const SAVE_DATA_POINTER: u8 = 0x02;
    pub const RESTORE_POINTERS: u8 = 0x03;
    pub const DISCONNECT: u8 = 0x04;
    pub const INITIATOR_DETECTED_ERROR: u8 = 0x05;
    /// ABORT TASK SET (called ABORT in SCSI-2).
    pub const ABORT_TASK_SET: u8 = 0x06;
    pub const MESSAGE_REJECT: u8 = 0x07;
    pub const NOP: u8 = 0x08;
    pub const MESSAGE_PARITY_ERROR: u8 = 0x09;
    pub const LINKED_COMMAND_COMPLETE: u8 = 0x0A;
    pub const LINKED_COMMAND_COMPLETE_FLAG: u8 = 0x0B;
    /// TARGET RESET (called BUS DEVICE RESET in SCSI-2).
    pub const TARGET_RESET: u8 = 0x0C;
    pub const BUS_DEVICE_RESET: u8 = TARGET_RESET;
    /// ABORT TASK (called ABORT TAG in SCSI-2).
    pub const ABORT_TASK: u8 = 0x0D;
    pub const CLEAR_TASK_SET: u8 = 0x0E;
    pub const CLEAR_ACA: u8 = 0x16;
    pub const LOGICAL_UNIT_RESET: u8 = 0x17;
    /// Two-byte messages: first byte 0x20..=0x2F, second byte the tag or the residue.
    pub const SIMPLE_QUEUE_TAG: u8 = 0x20;
    pub const HEAD_OF_QUEUE_TAG: u8 = 0x21;
    pub const ORDERED_QUEUE_TAG: u8 = 0x22;
    pub const IGNORE_WIDE_RESIDUE: u8 = 0x23;
    pub const ACA_TAG: u8 = 0x24;
    pub const QAS_REQUEST: u8 = 0x55;
    /// IDENTIFY: bit 7 set; bit 6 grants disconnect privilege (initiator to target);
    /// bits 2..0 the LUN (bit 5 LUNTAR, bits 4..3 reserved).
    pub const IDENTIFY: u8 = 0x80;
    pub const IDENTIFY_DISC_PRIV: u8 = 0x40;
    pub const IDENTIFY_LUN_MASK: u8 = 0x07;

    /// Extended message codes (third byte of an EXTENDED message).
    pub mod ext {
        pub const MODIFY_DATA_POINTER: u8 = 0x00;
        pub const SDTR: u8 = 0x01;
        pub const WDTR: u8 = 0x03;
        pub const PPR: u8 = 0x04;
        /// Length byte of each (counts the code byte and the arguments).
        pub const MODIFY_DATA_POINTER_LEN: u8 = 5;
        pub const SDTR_LEN: u8 = 3;
        pub const WDTR_LEN: u8 = 2;
        pub const PPR_LEN: u8 = 6;
        /// WDTR transfer width exponents.
        pub const WIDTH_8: u8 = 0;
        pub const WIDTH_16: u8 = 1;
    }

    /// Bytes in a message that starts with `first`, or `None` when the second byte
    /// (the extended length) decides: 1 for single-byte, 2 for 0x20..=0x2F.
    pub fn fixed_len(first: u8) -> Option<usize> {
        match first {
            EXTENDED => None,
            0x20..=0x2F => Some(2),
            _ => Some(1),
        }
    }
}

/// Sense keys (SPC-3 table 27).
pub mod sense_key {
    pub const NO_SENSE: u8 = 0x0;
    pub const RECOVERED_ERROR: u8 = 0x1;
    pub const NOT_READY: u8 = 0x2;
    pub const MEDIUM_ERROR: u8 = 0x3;
    pub const HARDWARE_ERROR: u8 = 0x4;
    pub const ILLEGAL_REQUEST: u8 = 0x5;
    pub const UNIT_ATTENTION: u8 = 0x6;
    pub const DATA_PROTECT: u8 = 0x7;
    pub const BLANK_CHECK: u8 = 0x8;
    pub const VENDOR_SPECIFIC: u8 = 0x9;
    pub const COPY_ABORTED: u8 = 0xA;
    pub const ABORTED_COMMAND: u8 = 0xB;
    pub const VOLUME_OVERFLOW: u8 = 0xD;
    pub const MISCOMPARE: u8 = 0xE;

    /// Name of a sense key, for logs.
    pub fn name(k: u8) -> &'static str {
        match k & 0xF {
            NO_SENSE => "NO SENSE",
            RECOVERED_ERROR => "RECOVERED ERROR",
            NOT_READY => "NOT READY",
            MEDIUM_ERROR => "MEDIUM ERROR",
            HARDWARE_ERROR => "HARDWARE ERROR",
            ILLEGAL_REQUEST => "ILLEGAL REQUEST",
            UNIT_ATTENTION => "UNIT ATTENTION",
            DATA_PROTECT => "DATA PROTECT",
            BLANK_CHECK => "BLANK CHECK",
            VENDOR_SPECIFIC => "VENDOR SPECIFIC",
            COPY_ABORTED => "COPY ABORTED",
            ABORTED_COMMAND => "ABORTED COMMAND",
            VOLUME_OVERFLOW => "VOLUME OVERFLOW",
            MISCOMPARE => "MISCOMPARE",
            _ => "reserved",
        }
    }
}

/// Sense data layout (SPC-3 4.5).
pub mod sense {
    pub const RESPONSE_FIXED_CURRENT: u8 = 0x70;
    pub const RESPONSE_FIXED_DEFERRED: u8 = 0x71;
    pub const RESPONSE_DESC_CURRENT: u8 = 0x72;
    pub const RESPONSE_DESC_DEFERRED: u8 = 0x73;
    /// Fixed format byte 0 bit 7: the INFORMATION field is valid.
    pub const FIXED_VALID: u8 = 0x80;
    /// Fixed format byte 2 flags.
    pub const FIXED_FILEMARK: u8 = 0x80;
    pub const FIXED_EOM: u8 = 0x40;
    pub const FIXED_ILI: u8 = 0x20;
    /// Length of fixed-format sense with no additional bytes beyond the ASC/ASCQ/FRU/SKS.
    pub const FIXED_LEN: usize = 18;
    /// Descriptor types.
    pub const DESC_INFORMATION: u8 = 0x00;
    pub const DESC_COMMAND_SPECIFIC: u8 = 0x01;
    pub const DESC_SENSE_KEY_SPECIFIC: u8 = 0x02;
    pub const DESC_STREAM_COMMANDS: u8 = 0x04;
    pub const DESC_BLOCK_COMMANDS: u8 = 0x05;
}

/// Additional sense code / qualifier pairs, as `(ASC, ASCQ)` (SPC-3 annex D).
pub mod asc {
    pub type AscAscq = (u8, u8);
    pub const NO_ADDITIONAL_SENSE: AscAscq = (0x00, 0x00);
    pub const FILEMARK_DETECTED: AscAscq = (0x00, 0x01);
    pub const END_OF_PARTITION_MEDIUM_DETECTED: AscAscq = (0x00, 0x02);
    pub const BEGINNING_OF_PARTITION_MEDIUM_DETECTED: AscAscq = (0x00, 0x04);
    pub const END_OF_DATA_DETECTED: AscAscq = (0x00, 0x05);
    pub const IO_PROCESS_TERMINATED: AscAscq = (0x00, 0x06);
    pub const LUN_NOT_READY_CAUSE_NOT_REPORTABLE: AscAscq = (0x04, 0x00);
    pub const LUN_BECOMING_READY: AscAscq = (0x04, 0x01);
    pub const LUN_NOT_READY_INIT_REQUIRED: AscAscq = (0x04, 0x02);
    pub const LUN_NOT_READY_MANUAL_INTERVENTION: AscAscq = (0x04, 0x03);
    pub const WRITE_ERROR: AscAscq = (0x0C, 0x00);
    pub const UNRECOVERED_READ_ERROR: AscAscq = (0x11, 0x00);
    pub const RECORDED_ENTITY_NOT_FOUND: AscAscq = (0x14, 0x00);
    pub const PARAMETER_LIST_LENGTH_ERROR: AscAscq = (0x1A, 0x00);
    pub const INVALID_COMMAND_OPERATION_CODE: AscAscq = (0x20, 0x00);
    pub const LBA_OUT_OF_RANGE: AscAscq = (0x21, 0x00);
    pub const INVALID_FIELD_IN_CDB: AscAscq = (0x24, 0x00);
    pub const LOGICAL_UNIT_NOT_SUPPORTED: AscAscq = (0x25, 0x00);
    pub const INVALID_FIELD_IN_PARAMETER_LIST: AscAscq = (0x26, 0x00);
    pub const WRITE_PROTECTED: AscAscq = (0x27, 0x00);
    pub const NOT_READY_TO_READY_CHANGE: AscAscq = (0x28, 0x00);
    pub const POWER_ON_RESET_OR_BDR: AscAscq = (0x29, 0x00);
    pub const POWER_ON_OCCURRED: AscAscq = (0x29, 0x01);
    pub const SCSI_BUS_RESET_OCCURRED: AscAscq = (0x29, 0x02);
    pub const BUS_DEVICE_RESET_OCCURRED: AscAscq = (0x29, 0x03);
    pub const MODE_PARAMETERS_CHANGED: AscAscq = (0x2A, 0x01);
    pub const COMMANDS_CLEARED_BY_ANOTHER_INITIATOR: AscAscq = (0x2F, 0x00);
    pub const COMMAND_SEQUENCE_ERROR: AscAscq = (0x2C, 0x00);
    pub const INCOMPATIBLE_MEDIUM: AscAscq = (0x30, 0x00);
    pub const SEQUENTIAL_POSITIONING_ERROR: AscAscq = (0x3B, 0x00);
    pub const MEDIUM_NOT_PRESENT: AscAscq = (0x3A, 0x00);
    pub const INVALID_BITS_IN_IDENTIFY: AscAscq = (0x3D, 0x00);
    pub const REPORTED_LUNS_DATA_CHANGED: AscAscq = (0x3F, 0x0E);
    pub const MESSAGE_ERROR: AscAscq = (0x43, 0x00);
    pub const INTERNAL_TARGET_FAILURE: AscAscq = (0x44, 0x00);
    pub const SELECT_OR_RESELECT_FAILURE: AscAscq = (0x45, 0x00);
    pub const SCSI_PARITY_ERROR: AscAscq = (0x47, 0x00);
    pub const INITIATOR_DETECTED_ERROR_RECEIVED: AscAscq = (0x48, 0x00);
    pub const INVALID_MESSAGE_ERROR: AscAscq = (0x49, 0x00);
    pub const DATA_PHASE_ERROR: AscAscq = (0x4B, 0x00);
    pub const OVERLAPPED_COMMANDS_ATTEMPTED: AscAscq = (0x4E, 0x00);
    pub const WRITE_APPEND_ERROR: AscAscq = (0x50, 0x00);
    pub const FAILURE_PREDICTION_THRESHOLD_EXCEEDED: AscAscq = (0x5D, 0x00);

    /// Descriptions (SPC-4 annex F) of the pairs above and a few more that drives report.
    pub(crate) const TEXT: &[((u8, u8), &str)] = &[
        ((0x00, 0x00), "No additional sense information"),
        ((0x00, 0x01), "Filemark detected"),
        ((0x00, 0x02), "End-of-partition/medium detected"),
        ((0x00, 0x04), "Beginning-of-partition/medium detected"),
        ((0x00, 0x05), "End-of-data detected"),
        ((0x00, 0x06), "I/O process terminated"),
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
        ((0x3A, 0x01), "Medium not present - tray closed"),
        ((0x3A, 0x02), "Medium not present - tray open"),
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
        ((0x53, 0x02), "Medium removal prevented"),
        ((0x5D, 0x00), "Failure prediction threshold exceeded"),
    ];

    /// The text for an ASC/ASCQ pair; an unknown qualifier falls back to the code's
    /// `ASCQ 00` text (its general meaning).
    pub fn text(asc: u8, ascq: u8) -> Option<&'static str> {
        TEXT.iter()
            .find(|(k, _)| *k == (asc, ascq))
            .or_else(|| TEXT.iter().find(|(k, _)| k.0 == asc && k.1 == 0))
            .map(|(_, t)| *t)
    }
}

/// INQUIRY data fields (SPC-3 6.4).
pub mod inquiry {
    /// Peripheral device types (byte 0 bits 4..0).
    pub const TYPE_DIRECT_ACCESS: u8 = 0x00;
    pub const TYPE_SEQUENTIAL_ACCESS: u8 = 0x01;
    pub const TYPE_PRINTER: u8 = 0x02;
    pub const TYPE_PROCESSOR: u8 = 0x03;
    pub const TYPE_WORM: u8 = 0x04;
    pub const TYPE_CDROM: u8 = 0x05;
    pub const TYPE_SCANNER: u8 = 0x06;
    pub const TYPE_OPTICAL: u8 = 0x07;
    pub const TYPE_CHANGER: u8 = 0x08;
    pub const TYPE_ENCLOSURE: u8 = 0x0D;
    pub const TYPE_NO_DEVICE: u8 = 0x1F;
    /// Peripheral qualifier (byte 0 bits 7..5): 0 connected, 1 not connected,
    /// 3 not capable of supporting a device on this LUN.
    pub const QUAL_CONNECTED: u8 = 0x00;
    pub const QUAL_NOT_CONNECTED: u8 = 0x20;
    pub const QUAL_NOT_SUPPORTED: u8 = 0x60;
    /// Standard data length (bytes 0..35) and the ADDITIONAL LENGTH that goes with it.
    pub const STANDARD_LEN: usize = 36;
    /// Byte 7 capability flags.
    pub const FLAG_WBUS16: u8 = 0x20;
    pub const FLAG_SYNC: u8 = 0x10;
    pub const FLAG_CMDQUE: u8 = 0x02;
    /// Byte 1 bit 7: removable medium.
    pub const RMB: u8 = 0x80;
    /// VPD pages.
    pub const VPD_SUPPORTED_PAGES: u8 = 0x00;
    pub const VPD_UNIT_SERIAL_NUMBER: u8 = 0x80;
    pub const VPD_DEVICE_IDENTIFICATION: u8 = 0x83;
}

/// Mode pages (SPC-3 / SBC-2).
pub mod mode_page {
    pub const READ_WRITE_ERROR_RECOVERY: u8 = 0x01;
    pub const DISCONNECT_RECONNECT: u8 = 0x02;
    pub const CACHING: u8 = 0x08;
    pub const CONTROL: u8 = 0x0A;
    pub const DEVICE_CONFIGURATION: u8 = 0x10;
    pub const ALL_PAGES: u8 = 0x3F;
}

/// SPI bus timing values in nanoseconds (SPI-3/SPI-4 timing table).
pub mod spi_timing {
    pub const ARBITRATION_DELAY_NS: u64 = 2_400;
    pub const BUS_CLEAR_DELAY_NS: u64 = 800;
    pub const BUS_FREE_DELAY_NS: u64 = 800;
    pub const BUS_SET_DELAY_NS: u64 = 1_800;
    pub const BUS_SETTLE_DELAY_NS: u64 = 400;
    pub const CABLE_SKEW_DELAY_NS: u64 = 4;
    pub const DATA_RELEASE_DELAY_NS: u64 = 400;
    /// System deskew delay for asynchronous and Fast-5/10 transfers.
    pub const DESKEW_DELAY_NS: u64 = 45;
    pub const DISCONNECTION_DELAY_NS: u64 = 200_000;
    pub const HOLD_TIME_NS: u64 = 45;
    pub const RESET_HOLD_TIME_NS: u64 = 25_000;
    pub const RESET_TO_SELECTION_NS: u64 = 250_000_000;
    pub const SELECTION_ABORT_TIME_NS: u64 = 200_000;
    /// Recommended selection timeout delay.
    pub const SELECTION_TIMEOUT_NS: u64 = 250_000_000;
    pub const POWER_ON_TO_SELECTION_NS: u64 = 10_000_000_000;

    /// SDTR transfer period factors with special meanings (SPI-4 table 39).
    pub const PERIOD_FACTOR_FAST80: u8 = 0x09; // 12.5 ns
    pub const PERIOD_FACTOR_FAST40: u8 = 0x0A; // 25 ns
    pub const PERIOD_FACTOR_FAST20: u8 = 0x0C; // 50 ns
    pub const PERIOD_FACTOR_FAST10: u8 = 0x19; // 100 ns
    pub const PERIOD_FACTOR_FAST5: u8 = 0x32; // 200 ns

    /// Transfer period in picoseconds for an SDTR/PPR period factor: 0x08..=0x0C have
    /// fixed meanings, 0x0D and up are 4 ns units; `None` for the reserved 0x00..=0x07.
    pub fn period_ps(factor: u8) -> Option<u64> {
        match factor {
            0x00..=0x07 => None,
            0x08 => Some(6_250),
            0x09 => Some(12_500),
            0x0A => Some(25_000),
            0x0B => Some(30_300),
            0x0C => Some(50_000),
            f => Some(u64::from(f) * 4_000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdb_lengths_follow_group_codes() {
        assert_eq!(opcode::cdb_len(opcode::READ_6), Some(6));
        assert_eq!(opcode::cdb_len(opcode::READ_10), Some(10));
        assert_eq!(opcode::cdb_len(opcode::MODE_SENSE_10), Some(10));
        assert_eq!(opcode::cdb_len(opcode::READ_12), Some(12));
        assert_eq!(opcode::cdb_len(opcode::READ_16), Some(16));
        assert_eq!(opcode::cdb_len(0x7F), None);
        assert_eq!(opcode::cdb_len(0xC0), None);
    }

    #[test]
    fn period_factors_match_spi() {
        assert_eq!(
            spi_timing::period_ps(spi_timing::PERIOD_FACTOR_FAST20),
            Some(50_000)
        );
        assert_eq!(
            spi_timing::period_ps(spi_timing::PERIOD_FACTOR_FAST10),
            Some(100_000)
        );
        assert_eq!(
            spi_timing::period_ps(spi_timing::PERIOD_FACTOR_FAST5),
            Some(200_000)
        );
        assert_eq!(spi_timing::period_ps(0x05), None);
    }

    #[test]
    fn message_lengths() {
        assert_eq!(msg::fixed_len(msg::COMMAND_COMPLETE), Some(1));
        assert_eq!(msg::fixed_len(msg::SIMPLE_QUEUE_TAG), Some(2));
        assert_eq!(msg::fixed_len(msg::IGNORE_WIDE_RESIDUE), Some(2));
        assert_eq!(msg::fixed_len(msg::EXTENDED), None);
        assert_eq!(msg::fixed_len(msg::IDENTIFY | 3), Some(1));
    }

    #[test]
    fn every_named_asc_pair_has_its_text() {
        for (name, a) in [
            ("NO_ADDITIONAL_SENSE", asc::NO_ADDITIONAL_SENSE),
            ("FILEMARK_DETECTED", asc::FILEMARK_DETECTED),
            (
                "END_OF_PARTITION_MEDIUM_DETECTED",
                asc::END_OF_PARTITION_MEDIUM_DETECTED,
            ),
            (
                "BEGINNING_OF_PARTITION_MEDIUM_DETECTED",
                asc::BEGINNING_OF_PARTITION_MEDIUM_DETECTED,
            ),
            ("END_OF_DATA_DETECTED", asc::END_OF_DATA_DETECTED),
            ("IO_PROCESS_TERMINATED", asc::IO_PROCESS_TERMINATED),
            (
                "LUN_NOT_READY_CAUSE_NOT_REPORTABLE",
                asc::LUN_NOT_READY_CAUSE_NOT_REPORTABLE,
            ),
            ("LUN_BECOMING_READY", asc::LUN_BECOMING_READY),
            (
                "LUN_NOT_READY_INIT_REQUIRED",
                asc::LUN_NOT_READY_INIT_REQUIRED,
            ),
            (
                "LUN_NOT_READY_MANUAL_INTERVENTION",
                asc::LUN_NOT_READY_MANUAL_INTERVENTION,
            ),
            ("WRITE_ERROR", asc::WRITE_ERROR),
            ("UNRECOVERED_READ_ERROR", asc::UNRECOVERED_READ_ERROR),
            ("RECORDED_ENTITY_NOT_FOUND", asc::RECORDED_ENTITY_NOT_FOUND),
            (
                "PARAMETER_LIST_LENGTH_ERROR",
                asc::PARAMETER_LIST_LENGTH_ERROR,
            ),
            (
                "INVALID_COMMAND_OPERATION_CODE",
                asc::INVALID_COMMAND_OPERATION_CODE,
            ),
            ("LBA_OUT_OF_RANGE", asc::LBA_OUT_OF_RANGE),
            ("INVALID_FIELD_IN_CDB", asc::INVALID_FIELD_IN_CDB),
            (
                "LOGICAL_UNIT_NOT_SUPPORTED",
                asc::LOGICAL_UNIT_NOT_SUPPORTED,
            ),
            (
                "INVALID_FIELD_IN_PARAMETER_LIST",
                asc::INVALID_FIELD_IN_PARAMETER_LIST,
            ),
            ("WRITE_PROTECTED", asc::WRITE_PROTECTED),
            ("NOT_READY_TO_READY_CHANGE", asc::NOT_READY_TO_READY_CHANGE),
            ("POWER_ON_RESET_OR_BDR", asc::POWER_ON_RESET_OR_BDR),
            ("POWER_ON_OCCURRED", asc::POWER_ON_OCCURRED),
            ("SCSI_BUS_RESET_OCCURRED", asc::SCSI_BUS_RESET_OCCURRED),
            ("BUS_DEVICE_RESET_OCCURRED", asc::BUS_DEVICE_RESET_OCCURRED),
            ("MODE_PARAMETERS_CHANGED", asc::MODE_PARAMETERS_CHANGED),
            (
                "COMMANDS_CLEARED_BY_ANOTHER_INITIATOR",
                asc::COMMANDS_CLEARED_BY_ANOTHER_INITIATOR,
            ),
            ("COMMAND_SEQUENCE_ERROR", asc::COMMAND_SEQUENCE_ERROR),
            ("INCOMPATIBLE_MEDIUM", asc::INCOMPATIBLE_MEDIUM),
            (
                "SEQUENTIAL_POSITIONING_ERROR",
                asc::SEQUENTIAL_POSITIONING_ERROR,
            ),
            ("MEDIUM_NOT_PRESENT", asc::MEDIUM_NOT_PRESENT),
            ("INVALID_BITS_IN_IDENTIFY", asc::INVALID_BITS_IN_IDENTIFY),
            (
                "REPORTED_LUNS_DATA_CHANGED",
                asc::REPORTED_LUNS_DATA_CHANGED,
            ),
            ("MESSAGE_ERROR", asc::MESSAGE_ERROR),
            ("INTERNAL_TARGET_FAILURE", asc::INTERNAL_TARGET_FAILURE),
            (
                "SELECT_OR_RESELECT_FAILURE",
                asc::SELECT_OR_RESELECT_FAILURE,
            ),
            ("SCSI_PARITY_ERROR", asc::SCSI_PARITY_ERROR),
            (
                "INITIATOR_DETECTED_ERROR_RECEIVED",
                asc::INITIATOR_DETECTED_ERROR_RECEIVED,
            ),
            ("INVALID_MESSAGE_ERROR", asc::INVALID_MESSAGE_ERROR),
            ("DATA_PHASE_ERROR", asc::DATA_PHASE_ERROR),
            (
                "OVERLAPPED_COMMANDS_ATTEMPTED",
                asc::OVERLAPPED_COMMANDS_ATTEMPTED,
            ),
            ("WRITE_APPEND_ERROR", asc::WRITE_APPEND_ERROR),
            (
                "FAILURE_PREDICTION_THRESHOLD_EXCEEDED",
                asc::FAILURE_PREDICTION_THRESHOLD_EXCEEDED,
            ),
        ] {
            assert!(
                asc::TEXT.iter().any(|(k, _)| *k == a),
                "{name} {a:02x?} has no text of its own"
            );
        }
        assert_eq!(asc::text(0x11, 0x00), Some("Unrecovered read error"));
        // An unknown qualifier: the code's general text.
        assert_eq!(asc::text(0x11, 0x7f), Some("Unrecovered read error"));
        assert_eq!(
            asc::text(0x3a, 0x02),
            Some("Medium not present - tray open")
        );
        assert_eq!(asc::text(0xfe, 0x00), None);
    }
}
