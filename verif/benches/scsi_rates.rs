//! Data rates of the real core on the pin-level bus, in simulated time: 64 KiB READ(10)
//! and WRITE(10) at asynchronous, Fast-10 and Fast-20 (narrow; the minimal test program
//! negotiates SDTR only), each against the bus's theoretical rate, and the bus time a
//! command spends outside its data phase (TEST UNIT READY round trip). Simulated time is
//! deterministic; the wall-clock speed of the co-simulation is printed alongside.

use hba_abi::layout;
use hba_abi::CORE_CLOCK_NS;
use hba_verif::host::Hcb;
use hba_verif::rig::{pattern, rw10, DiskRig, DISK_ID};
use std::time::Instant;

const LEN: u32 = 64 * 1024;

fn mbps(bytes: u32, cycles: u64) -> f64 {
    bytes as f64 / (cycles as f64 * CORE_CLOCK_NS as f64 * 1e-9) / 1e6
}

fn main() {
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>12} {:>10}",
        "mode", "read MB/s", "write MB/s", "bus MB/s", "TUR us", "sim Mcyc/s"
    );
    // (name, SDTR period factor, offset, theoretical narrow rate in MB/s). Asynchronous
    // has no fixed rate; its figure is what the handshake allows at our timing.
    for (name, period, offset, bus) in [
        ("async", 0u32, 0u32, f64::NAN),
        ("Fast-10", 0x19, 15, 10.0),
        ("Fast-20", 0x0C, 15, 20.0),
    ] {
        let wall = Instant::now();
        let mut rig = DiskRig::new((period, offset), 2048);
        let data = pattern(period, LEN as usize);
        rig.write_buf(layout::DATA, &data);
        let blocks = (LEN / 512) as u16;

        // Warm-up command: negotiation happens on the first selection.
        let tur = Hcb::new(DISK_ID, 0, &[0; 6], 0, 0, false);
        rig.run(0, &tur);
        let t0 = rig.m.cycle();
        let e = rig.run(0, &tur);
        assert_eq!(e.scsi_status(), 0);
        let tur_cycles = rig.m.cycle() - t0;

        let t0 = rig.m.cycle();
        let e = rig.run(
            1,
            &Hcb::new(DISK_ID, 0, &rw10(0x2A, 0, blocks), layout::DATA, LEN, false),
        );
        assert_eq!((e.hba_status(), e.scsi_status()), (0, 0));
        let w = rig.m.cycle() - t0;
        let t0 = rig.m.cycle();
        let e = rig.run(
            2,
            &Hcb::new(DISK_ID, 0, &rw10(0x28, 0, blocks), layout::DATA, LEN, true),
        );
        assert_eq!((e.hba_status(), e.scsi_status()), (0, 0));
        let r = rig.m.cycle() - t0;
        assert_eq!(rig.read_buf(layout::DATA, LEN as usize), data);
        rig.assert_monitor_clean();
        let secs = wall.elapsed().as_secs_f64();
        println!(
            "{:<10} {:>10.2} {:>10.2} {:>10.1} {:>12.2} {:>10.2}",
            name,
            mbps(LEN, r),
            mbps(LEN, w),
            bus,
            tur_cycles as f64 * CORE_CLOCK_NS as f64 / 1000.0,
            rig.m.cycle() as f64 / secs / 1e6
        );
    }
    println!(
        "(command times include the host's doorbell write and completion polling every 2 us; \
         TUR us = whole command with no data phase)"
    );
}
