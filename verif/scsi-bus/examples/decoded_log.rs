//! Prints the monitor's decoded log of a short session: negotiation, a tagged read that
//! disconnects with SAVE DATA POINTER, a synchronous write, and a CHECK CONDITION.
//! Run: `cargo run -p scsi-bus --example decoded_log`.

use scsi_bus::initiator::{InitiatorConfig, Request, TagKind, TestInitiator, FAST20_OFFSET15};
use scsi_bus::target::disk::Disk;
use scsi_bus::target::{Target, TargetConfig};
use scsi_bus::{Bus, Width};

fn main() {
    let mut bus = Bus::new(Width::Narrow);
    let mut ic = InitiatorConfig::new(7);
    ic.negotiate = true;
    ic.sync = Some(FAST20_OFFSET15);
    let h = bus.add(TestInitiator::new(ic));
    let mut tc = TargetConfig::new(2);
    tc.chunk = Some(2048);
    bus.add(Target::new(tc).with_lun(0, Disk::memory(1024)));
    let ini = bus.device(h);
    // The first command after power-on meets the UNIT ATTENTION (autosense follows).
    ini.submit(Request::new(2, 0, &[0, 0, 0, 0, 0, 0]));
    ini.submit(
        Request::new(2, 0, &[0x28, 0, 0, 0, 0, 0x10, 0, 0, 8, 0])
            .data_in(4096)
            .tagged(TagKind::Simple),
    );
    ini.submit(
        Request::new(2, 0, &[0x2A, 0, 0, 0, 0, 0x20, 0, 0, 1, 0])
            .data_out(vec![0xA5; 512])
            .tagged(TagKind::Ordered),
    );
    bus.run_until(10_000_000, |b| b.device(h).idle());
    print!("{}", bus.monitor.log_text());
    println!("violations: {:?}", bus.monitor.violations());
}
