//! Shared test setup: a bus with one test initiator (ID 7) and targets.
#![allow(dead_code)]

use scsi_bus::initiator::{Completion, InitiatorConfig, Request, TestInitiator};
use scsi_bus::target::disk::Disk;
use scsi_bus::target::{Target, TargetConfig};
use scsi_bus::{Bus, DeviceHandle, Rule, Width};

pub struct Rig {
    pub bus: Bus,
    pub init: DeviceHandle<TestInitiator>,
    pub targets: Vec<DeviceHandle<Target>>,
    pub seed: u64,
}

impl Rig {
    pub fn new(width: Width, icfg: InitiatorConfig, targets: Vec<Target>, seed: u64) -> Rig {
        let mut bus = Bus::new(width);
        let init = bus.add(TestInitiator::new(icfg));
        let targets = targets.into_iter().map(|t| bus.add(t)).collect();
        Rig {
            bus,
            init,
            targets,
            seed,
        }
    }
    /// One narrow async disk at ID 2 with 2048 blocks in memory, UA cleared.
    pub fn one_disk(cfg: TargetConfig) -> Rig {
        let mut t = Target::new(cfg).with_lun(0, Disk::memory(2048));
        t.clear_unit_attention();
        Rig::new(Width::Narrow, InitiatorConfig::new(7), vec![t], 1)
    }
    pub fn ini(&mut self) -> &mut TestInitiator {
        let h = self.init;
        self.bus.device(h)
    }
    pub fn tgt(&mut self, i: usize) -> &mut Target {
        let h = self.targets[i];
        self.bus.device(h)
    }
    /// Runs until the initiator is idle; panics (with the seed and the log) if it never is.
    pub fn run_idle(&mut self, max: u64) {
        let h = self.init;
        let ok = self.bus.run_until(max, |b| b.device(h).idle());
        if !ok {
            panic!(
                "seed {}: not idle after {max} cycles\n{}",
                self.seed,
                self.tail_log(40)
            );
        }
    }
    /// Submit and wait for one request.
    pub fn exec(&mut self, req: Request) -> Completion {
        let id = self.ini().submit(req);
        self.run_idle(20_000_000);
        self.ini().completion(id).cloned().expect("completed")
    }
    pub fn tail_log(&self, n: usize) -> String {
        let l = self.bus.monitor.log();
        l[l.len().saturating_sub(n)..]
            .iter()
            .map(|x| format!("{x}\n"))
            .collect()
    }
    /// The monitor found nothing.
    pub fn assert_clean(&self) {
        let v = self.bus.monitor.violations();
        assert!(
            v.is_empty(),
            "seed {}: violations {:#?}\nlog tail:\n{}",
            self.seed,
            &v[..v.len().min(10)],
            self.tail_log(40)
        );
    }
    /// The monitor found exactly these rules.
    pub fn assert_rules(&self, rules: &[Rule]) {
        let got = self.bus.monitor.rules_violated();
        assert_eq!(
            got,
            rules,
            "seed {}: {:#?}\n{}",
            self.seed,
            self.bus.monitor.violations(),
            self.tail_log(40)
        );
    }
}

pub fn read10(lba: u32, n: u16) -> Vec<u8> {
    let l = lba.to_be_bytes();
    let c = n.to_be_bytes();
    vec![0x28, 0, l[0], l[1], l[2], l[3], 0, c[0], c[1], 0]
}
pub fn write10(lba: u32, n: u16) -> Vec<u8> {
    let mut v = read10(lba, n);
    v[0] = 0x2A;
    v
}
pub fn pattern(seed: u64, n: usize) -> Vec<u8> {
    let mut r = scsi_bus::faults::Prng::new(seed);
    (0..n).map(|_| r.next_u64() as u8).collect()
}
