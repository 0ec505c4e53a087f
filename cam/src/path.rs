//! CAM paths: bus, target, LUN, with FreeBSD's wildcards.

/// SIM bus number (FreeBSD `path_id_t`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BusId(pub u32);

/// `CAM_BUS_WILDCARD`.
pub const CAM_BUS_WILDCARD: u32 = !0;
/// `CAM_TARGET_WILDCARD`.
pub const CAM_TARGET_WILDCARD: u32 = !0;
/// `CAM_LUN_WILDCARD` (`~(u_int)0`, widened to the 64-bit LUN).
pub const CAM_LUN_WILDCARD: u64 = !0u32 as u64;

/// A target selector: one ID or the wildcard.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// One target ID.
    Id(u32),
    /// Every target.
    Wildcard,
}

/// A LUN selector: one LUN or the wildcard.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lun {
    /// One LUN.
    Id(u64),
    /// Every LUN.
    Wildcard,
}

/// A bus selector: one bus or the wildcard.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bus {
    /// One bus.
    Id(BusId),
    /// Every bus.
    Wildcard,
}

/// A path, possibly with wildcards (used for async registration, bus reset, scans).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path {
    /// Bus selector.
    pub bus: Bus,
    /// Target selector.
    pub target: Target,
    /// LUN selector.
    pub lun: Lun,
}

/// A concrete device address (no wildcards): what SCSI I/O needs.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DevAddr {
    /// Bus.
    pub bus: BusId,
    /// Target ID.
    pub target: u32,
    /// LUN.
    pub lun: u64,
}

impl DevAddr {
    /// Address of bus/target/lun.
    pub fn new(bus: BusId, target: u32, lun: u64) -> Self {
        DevAddr { bus, target, lun }
    }
    /// As a path without wildcards.
    pub fn path(self) -> Path {
        Path {
            bus: Bus::Id(self.bus),
            target: Target::Id(self.target),
            lun: Lun::Id(self.lun),
        }
    }
}

impl std::fmt::Display for DevAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.bus.0, self.target, self.lun)
    }
}

impl Path {
    /// Path to one device.
    pub fn device(bus: BusId, target: u32, lun: u64) -> Self {
        DevAddr::new(bus, target, lun).path()
    }
    /// Every device on one bus.
    pub fn bus(bus: BusId) -> Self {
        Path {
            bus: Bus::Id(bus),
            target: Target::Wildcard,
            lun: Lun::Wildcard,
        }
    }
    /// Every device everywhere.
    pub fn wildcard() -> Self {
        Path {
            bus: Bus::Wildcard,
            target: Target::Wildcard,
            lun: Lun::Wildcard,
        }
    }
    /// From FreeBSD's raw numbers, mapping the wildcard values.
    pub fn from_raw(bus: u32, target: u32, lun: u64) -> Self {
        Path {
            bus: if bus == CAM_BUS_WILDCARD {
                Bus::Wildcard
            } else {
                Bus::Id(BusId(bus))
            },
            target: if target == CAM_TARGET_WILDCARD {
                Target::Wildcard
            } else {
                Target::Id(target)
            },
            lun: if lun == CAM_LUN_WILDCARD {
                Lun::Wildcard
            } else {
                Lun::Id(lun)
            },
        }
    }
    /// The concrete address, if the path has no wildcard.
    pub fn addr(&self) -> Option<DevAddr> {
        match (self.bus, self.target, self.lun) {
            (Bus::Id(b), Target::Id(t), Lun::Id(l)) => Some(DevAddr::new(b, t, l)),
            _ => None,
        }
    }
    /// The bus, if not wildcarded.
    pub fn bus_id(&self) -> Option<BusId> {
        match self.bus {
            Bus::Id(b) => Some(b),
            Bus::Wildcard => None,
        }
    }
    /// Whether a concrete device falls under this (possibly wildcard) path.
    pub fn matches(&self, a: DevAddr) -> bool {
        (match self.bus {
            Bus::Id(b) => b == a.bus,
            Bus::Wildcard => true,
        }) && (match self.target {
            Target::Id(t) => t == a.target,
            Target::Wildcard => true,
        }) && (match self.lun {
            Lun::Id(l) => l == a.lun,
            Lun::Wildcard => true,
        })
    }
    /// Whether two paths can name a common device (wildcards overlap anything).
    pub fn overlaps(&self, o: &Path) -> bool {
        let b = matches!((self.bus, o.bus), (Bus::Wildcard, _) | (_, Bus::Wildcard))
            || self.bus == o.bus;
        let t = matches!(
            (self.target, o.target),
            (Target::Wildcard, _) | (_, Target::Wildcard)
        ) || self.target == o.target;
        let l = matches!((self.lun, o.lun), (Lun::Wildcard, _) | (_, Lun::Wildcard))
            || self.lun == o.lun;
        b && t && l
    }
}
