//! Pin-level SCSI bus, targets and monitor (issue 3): not written yet.
