//! Asynchronous events (FreeBSD `ac_code`, values as in cam_ccb.h) and their callbacks.

use crate::path::{DevAddr, Path};

/// A SCSI bus reset happened.
pub const AC_BUS_RESET: u32 = 0x001;
/// Unsolicited reselection.
pub const AC_UNSOL_RESEL: u32 = 0x002;
/// A SCSI AEN was received.
pub const AC_SCSI_AEN: u32 = 0x008;
/// A BUS DEVICE RESET was sent to the target.
pub const AC_SENT_BDR: u32 = 0x010;
/// A new path was registered.
pub const AC_PATH_REGISTERED: u32 = 0x020;
/// A path was deregistered.
pub const AC_PATH_DEREGISTERED: u32 = 0x040;
/// A new device was found.
pub const AC_FOUND_DEVICE: u32 = 0x080;
/// A device went away.
pub const AC_LOST_DEVICE: u32 = 0x100;
/// New transfer settings in effect.
pub const AC_TRANSFER_NEG: u32 = 0x200;
/// INQUIRY data might have changed.
pub const AC_INQ_CHANGED: u32 = 0x400;
/// Getdev info might have changed.
pub const AC_GETDEV_CHANGED: u32 = 0x800;
/// A contractual callback.
pub const AC_CONTRACT: u32 = 0x1000;
/// Advanced info might have changed.
pub const AC_ADVINFO_CHANGED: u32 = 0x2000;
/// Device reported UNIT ATTENTION.
pub const AC_UNIT_ATTENTION: u32 = 0x4000;
/// Every event.
pub const AC_ALL: u32 = 0xffff_ffff;

/// Event-specific argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AsyncArg {
    /// Nothing.
    None,
    /// New transfer settings (AC_TRANSFER_NEG).
    Transfer(crate::ccb::TranSettings),
    /// Device type and address found (AC_FOUND_DEVICE).
    Found {
        /// The device.
        addr: DevAddr,
        /// INQUIRY peripheral device type.
        device_type: u8,
    },
    /// Sense key / ASC / ASCQ of the unit attention (AC_UNIT_ATTENTION).
    UnitAttention {
        /// ASC.
        asc: u8,
        /// ASCQ.
        ascq: u8,
    },
}

/// One asynchronous event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsyncEvent {
    /// AC_* code (exactly one bit).
    pub code: u32,
    /// Where it happened (may be wildcarded, e.g. a bus reset).
    pub path: Path,
    /// Argument.
    pub arg: AsyncArg,
}

/// Handle of an async callback registration.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AsyncHandle(pub u32);

/// An async callback (FreeBSD `ac_callback_t`).
pub type AsyncCallback = Box<dyn FnMut(&AsyncEvent)>;

pub(crate) struct AsyncReg {
    pub path: Path,
    pub mask: u32,
    pub cb: AsyncCallback,
}

/// Registry of callbacks, matched by path and event mask.
#[derive(Default)]
pub(crate) struct AsyncRegistry {
    regs: Vec<Option<AsyncReg>>,
}

impl AsyncRegistry {
    pub fn add(&mut self, path: Path, mask: u32, cb: AsyncCallback) -> AsyncHandle {
        self.regs.push(Some(AsyncReg { path, mask, cb }));
        AsyncHandle(self.regs.len() as u32 - 1)
    }
    /// Change the mask; 0 removes. Returns false for an unknown handle.
    pub fn set_mask(&mut self, h: AsyncHandle, mask: u32) -> bool {
        match self.regs.get_mut(h.0 as usize) {
            Some(slot @ Some(_)) => {
                if mask == 0 {
                    *slot = None;
                } else if let Some(r) = slot {
                    r.mask = mask;
                }
                true
            }
            _ => false,
        }
    }
    pub fn deliver(&mut self, ev: &AsyncEvent) {
        for r in self.regs.iter_mut().flatten() {
            if r.mask & ev.code != 0 && r.path.overlaps(&ev.path) {
                (r.cb)(ev);
            }
        }
    }
}
