//! Unit and property tests of the CAM stack, driven through the mock SIM.

mod issue14;
mod numbers;
mod parsers;
mod periphs;
mod props;
mod recovery_tests;
mod seeds;
mod xpt_tests;

use crate::clock::SimClock;
use crate::path::{BusId, DevAddr};
use crate::periph::{da::DaHandle, pass::PassHandle, sa::SaHandle, PeriphKind};
use crate::sim::SimParams;
use crate::testing::{MockDevice, MockSim, MockState};
use crate::xpt::Xpt;
use std::cell::RefCell;
use std::rc::Rc;

pub(crate) struct Rig {
    pub xpt: Xpt,
    pub clock: SimClock,
    pub mock: Rc<RefCell<MockState>>,
    pub bus: BusId,
}

pub(crate) fn rig(devs: Vec<(u32, u64, MockDevice)>) -> Rig {
    rig_with(devs, SimParams::default())
}

pub(crate) fn rig_with(devs: Vec<(u32, u64, MockDevice)>, params: SimParams) -> Rig {
    let clock = SimClock::new();
    let mut xpt = Xpt::new(clock.clone());
    let sim = MockSim::new();
    let mock = sim.state.clone();
    for (t, l, d) in devs {
        mock.borrow_mut().add(t, l, d);
    }
    let bus = xpt.register_sim(Box::new(sim), params);
    Rig {
        xpt,
        clock,
        mock,
        bus,
    }
}

impl Rig {
    pub fn addr(&self, t: u32) -> DevAddr {
        DevAddr::new(self.bus, t, 0)
    }
    pub fn scan(&mut self) {
        self.xpt.scan_bus(self.bus).unwrap();
        self.xpt.run_until_quiescent(1000);
        assert!(!self.xpt.scan_in_progress(self.bus));
    }
    fn periph(&self, t: u32, k: PeriphKind) -> crate::periph::PeriphId {
        self.xpt
            .periphs_of(self.addr(t))
            .into_iter()
            .find(|(_, kk)| *kk == k)
            .expect("periph attached")
            .0
    }
    pub fn da(&mut self, t: u32) -> DaHandle {
        let p = self.periph(t, PeriphKind::Da);
        let da = DaHandle::new(&self.xpt, p).unwrap();
        let io = da.read_capacity(&mut self.xpt).unwrap();
        assert!(self.xpt.wait_io(io).unwrap().is_ok());
        da
    }
    pub fn sa(&mut self, t: u32) -> SaHandle {
        let p = self.periph(t, PeriphKind::Sa);
        SaHandle::new(&self.xpt, p).unwrap()
    }
    pub fn pass(&mut self, t: u32) -> PassHandle {
        let p = self.periph(t, PeriphKind::Pass);
        PassHandle::new(&self.xpt, p).unwrap()
    }
    /// Every freeze count back at zero and nothing outstanding.
    pub fn assert_quiescent(&self) {
        assert_eq!(self.xpt.outstanding(), 0, "CCBs outstanding");
        assert_eq!(self.xpt.simq_frozen(self.bus), 0, "SIM queue left frozen");
        for d in self.xpt.devices() {
            assert_eq!(
                self.xpt.devq_frozen(d.addr),
                0,
                "devq {} left frozen",
                d.addr
            );
        }
        assert_eq!(self.xpt.stats().frozen_violations, 0);
    }
}
