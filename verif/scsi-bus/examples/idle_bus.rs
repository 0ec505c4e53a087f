//! Measures simulated cycles per second: an idle bus with two disk targets, then the same
//! bus streaming 64 KiB reads from a test initiator. A measurement, not a test.
//! Run: `cargo run --release -p scsi-bus --example idle_bus`.

use std::time::Instant;

use scsi_bus::initiator::{InitiatorConfig, Request, TestInitiator};
use scsi_bus::target::disk::Disk;
use scsi_bus::target::{Target, TargetConfig};
use scsi_bus::{Bus, BusDrive, Width};

fn main() {
    let mut bus = Bus::new(Width::Narrow);
    bus.add(Target::new(TargetConfig::new(1)).with_lun(0, Disk::memory(4096)));
    bus.add(Target::new(TargetConfig::new(2)).with_lun(0, Disk::memory(4096)));
    let n = 50_000_000u64;
    let t = Instant::now();
    for _ in 0..n {
        bus.step(BusDrive::NONE);
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "idle bus, two disks: {n} cycles in {s:.3} s = {:.1} M cycles/s",
        n as f64 / s / 1e6
    );

    let h = bus.add(TestInitiator::new(InitiatorConfig::new(7)));
    let mut t0 = Target::new(TargetConfig::new(3)).with_lun(0, Disk::memory(4096));
    t0.clear_unit_attention();
    bus.add(t0);
    for i in 0..64u32 {
        let lba = (i * 128).to_be_bytes();
        bus.device(h).submit(
            Request::new(
                3,
                0,
                &[0x28, 0, lba[0], lba[1], lba[2], lba[3], 0, 0, 128, 0],
            )
            .data_in(65536),
        );
    }
    let start = bus.cycle();
    let t = Instant::now();
    bus.run_until(u64::MAX / 2, |b| b.device(h).idle());
    let s = t.elapsed().as_secs_f64();
    let cyc = bus.cycle() - start;
    println!(
        "busy bus (64 x 64 KiB async reads): {cyc} cycles in {s:.3} s = {:.1} M cycles/s, violations {}",
        cyc as f64 / s / 1e6,
        bus.monitor.violations().len()
    );
}
