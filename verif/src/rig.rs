//! A ready-made co-simulation rig: the real core on a pin-level bus with one disk, the
//! minimal test program loaded, and the host helpers. Shared by the end-to-end tests
//! and the rate benchmark.

use crate::host::{load_program, Entry, Hcb, Host};
use crate::{testprog, Model};
use hba_abi::layout;
use hba_abi::regs;
use scsi_bus::target::disk::Disk;
use scsi_bus::target::{Target, TargetConfig};
use scsi_bus::{Bus, DeviceHandle, Width};

/// SCSI ID of the rig's disk.
pub const DISK_ID: u32 = 2;

/// The core, the bus with a disk, and the host state.
pub struct DiskRig {
    /// The co-simulated core (the bus is attached to it).
    pub m: Model,
    /// Host ring state.
    pub host: Host,
    /// The disk target.
    pub disk: DeviceHandle<Target>,
}

impl DiskRig {
    /// A narrow bus with one disk of `blocks` 512-byte blocks at [`DISK_ID`] (no
    /// disconnection) and the test program running. `goal` is the (SDTR period factor,
    /// offset) the host asks for; offset 0 = asynchronous.
    pub fn new(goal: (u32, u32), blocks: u64) -> DiskRig {
        let mut m = Model::new();
        let mut bus = Bus::new(Width::Narrow);
        let mut cfg = TargetConfig::new(DISK_ID as u8);
        cfg.disconnect = false;
        let mut t = Target::new(cfg).with_lun(0, Disk::memory(blocks));
        t.clear_unit_attention();
        let disk = bus.add(t);
        m.attach_bus(bus);
        // Co-simulation may shorten the selection timeout, never the protocol delays.
        m.axil_write(regs::TIM_SEL_TIMEOUT, 100_000)
            .expect("register write");
        let g = goal.0 | (goal.1 << layout::target::OFFSET_SHIFT);
        m.bram_write(layout::TARGETS + DISK_ID * layout::TARGET_BYTES, &[g]);
        load_program(&mut m, &testprog::image()).expect("test program loads");
        DiskRig {
            m,
            host: Host::default(),
            disk,
        }
    }

    /// Writes `h` into `slot`, submits it and waits for its entry; panics with the
    /// sequencer's PC (as a label) and the bus log if none comes.
    pub fn run(&mut self, slot: u32, h: &Hcb) -> Entry {
        self.host.write_hcb(&mut self.m, slot, h);
        self.host.submit(&mut self.m, &[slot]).expect("doorbell");
        match self.host.wait_entry(&mut self.m, 20_000_000).expect("ring") {
            Some(e) => e,
            None => {
                let trap = self.m.axil_read(regs::SEQ_TRAP).unwrap_or(0);
                let pc = self.m.axil_read(regs::SEQ_PC).unwrap_or(0);
                let at = testprog::program().describe(pc);
                panic!(
                    "no completion; SEQ_PC {pc:#x} ({at}) SEQ_TRAP {trap:#x}\n{}",
                    self.log(30)
                )
            }
        }
    }

    /// The bus.
    pub fn bus(&mut self) -> &mut Bus {
        self.m.bus().expect("bus attached")
    }

    /// The last `n` lines of the monitor's decoded log.
    pub fn log(&mut self, n: usize) -> String {
        self.m.bus_log(n)
    }

    /// Panics with the violations and the log unless the monitor saw none.
    pub fn assert_monitor_clean(&mut self) {
        self.m.assert_bus_clean();
    }

    /// Blocks `lba..lba+n` of the disk's medium.
    pub fn disk_blocks(&mut self, lba: u64, n: u64) -> Vec<u8> {
        let h = self.disk;
        let t = self.bus().device(h);
        t.lun_mut::<Disk>(0).expect("disk").read_blocks(lba, n)
    }

    /// Writes bytes into card memory (BRAM port, as XDMA H2C does).
    pub fn write_buf(&mut self, addr: u32, data: &[u8]) {
        self.m.bram_write_bytes(addr, data);
    }

    /// Reads bytes from card memory.
    pub fn read_buf(&mut self, addr: u32, len: usize) -> Vec<u8> {
        self.m.bram_read_bytes(addr, len)
    }
}

/// A READ(10) (`0x28`) or WRITE(10) (`0x2A`) CDB.
pub fn rw10(opcode: u8, lba: u32, blocks: u16) -> Vec<u8> {
    let l = lba.to_be_bytes();
    let c = blocks.to_be_bytes();
    vec![opcode, 0, l[0], l[1], l[2], l[3], 0, c[0], c[1], 0]
}

/// Deterministic test data.
pub fn pattern(seed: u32, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}
