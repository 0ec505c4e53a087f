//! Test rig for the initiator firmware (`firmware/fw/main.s`): the real core under
//! Verilator on a pin-level bus with any number of `scsi-bus` targets, the firmware
//! assembled at run time and loaded through the host port, and host helpers (HCBs,
//! goals, mailbox, completions) with diagnostics (PC as a label, trap, bus log) when
//! something does not arrive.

use crate::host::{load_program, Entry, Hcb, Host};
use crate::Model;
use hba_abi::layout::{self, hcb, target};
use hba_abi::regs;
use hba_firmware::asm::{assemble_file, Assembly};
use scsi_bus::target::disk::Disk;
use scsi_bus::target::{Target, TargetConfig};
use scsi_bus::{Bus, DeviceHandle, Width};

/// The HBA's own SCSI ID.
pub const OWN_ID: u32 = 7;

/// Path of the firmware source.
pub const FW_MAIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../firmware/fw/main.s");

/// Assembles the firmware (panics with the diagnostics on errors). `HBA_FW_MAIN` names
/// another source to run the same tests against (e.g. an older firmware, to see a fault
/// test fail).
pub fn firmware() -> Assembly {
    let path = std::env::var("HBA_FW_MAIN").unwrap_or_else(|_| FW_MAIN.to_string());
    match assemble_file(&path) {
        Ok(a) => a,
        Err(e) => panic!("firmware does not assemble:\n{e}"),
    }
}

/// A disk target with `blocks` 512-byte blocks and no pending UNIT ATTENTION.
pub fn disk_target(cfg: TargetConfig, blocks: u64) -> Target {
    let mut t = Target::new(cfg).with_lun(0, Disk::memory(blocks));
    t.clear_unit_attention();
    t
}

/// The core, the bus with its targets, the firmware and the host state.
pub struct FwRig {
    /// The co-simulated core.
    pub m: Model,
    /// Host ring state.
    pub host: Host,
    /// Target handles by SCSI ID.
    pub targets: Vec<(u8, DeviceHandle<Target>)>,
    /// The assembled firmware (symbols for diagnostics).
    pub fw: Assembly,
}

impl FwRig {
    /// A bus of `width` with `targets`, the firmware running, a short selection timeout.
    pub fn new(width: Width, targets: Vec<Target>) -> FwRig {
        let mut m = Model::new();
        let mut bus = Bus::new(width);
        let mut handles = Vec::new();
        for t in targets {
            let id = t.id();
            handles.push((id, bus.add(t)));
        }
        m.attach_bus(bus);
        let wide = if matches!(width, Width::Wide) {
            1 << 8
        } else {
            0
        };
        m.axil_write(regs::SCSI_ID, OWN_ID | wide).expect("SCSI_ID");
        // Co-simulation may shorten the selection timeout, never the protocol delays.
        m.axil_write(regs::TIM_SEL_TIMEOUT, 100_000)
            .expect("TIM_SEL_TIMEOUT");
        let fw = firmware();
        load_program(&mut m, &fw.words).expect("firmware loads");
        // Let the firmware initialise its scratch before the host writes goals.
        m.idle(20_000);
        FwRig {
            m,
            host: Host::default(),
            targets: handles,
            fw,
        }
    }

    /// Handle of target `id`.
    pub fn target(&self, id: u8) -> DeviceHandle<Target> {
        self.targets
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, h)| *h)
            .expect("no such target")
    }

    /// Sets the host's negotiation goal for target `id`.
    pub fn set_goal(&mut self, id: u32, period: u32, offset: u32, wide: bool) {
        let g = period
            | (offset << target::OFFSET_SHIFT)
            | if wide { target::WIDE } else { 0 }
            | target::TAGGED;
        self.m.bram_write(
            layout::TARGETS + id * layout::TARGET_BYTES + target::GOAL,
            &[g],
        );
    }

    /// Sets the connection time limit (`target::TIMEOUT`, cycles) of target `id`.
    pub fn set_time_limit(&mut self, id: u32, cycles: u32) {
        self.m.bram_write(
            layout::TARGETS + id * layout::TARGET_BYTES + target::TIMEOUT,
            &[cycles],
        );
    }

    /// The CURRENT agreement word of target `id`.
    pub fn current(&mut self, id: u32) -> u32 {
        let mut w = [0u32];
        self.m.bram_read(
            layout::TARGETS + id * layout::TARGET_BYTES + target::CURRENT,
            &mut w,
        );
        w[0]
    }

    /// Writes HCBs and submits them (one doorbell).
    pub fn submit(&mut self, reqs: &[(u32, Hcb)]) {
        for (slot, h) in reqs {
            self.host.write_hcb(&mut self.m, *slot, h);
        }
        let slots: Vec<u32> = reqs.iter().map(|(s, _)| *s).collect();
        self.host.submit(&mut self.m, &slots).expect("doorbell");
    }

    /// The next completion-ring entry; panics with diagnostics after `max` cycles.
    pub fn next_entry(&mut self, max: u64) -> Entry {
        match self.host.wait_entry(&mut self.m, max).expect("ring") {
            Some(e) => e,
            None => panic!("no completion entry in {max} cycles\n{}", self.diag(40)),
        }
    }

    /// Runs until `n` entries arrived; panics with diagnostics after `max` cycles.
    pub fn entries(&mut self, n: usize, max: u64) -> Vec<Entry> {
        let end = self.m.cycle() + max;
        let mut v = Vec::new();
        while v.len() < n {
            if self.m.cycle() > end {
                panic!(
                    "{} of {n} entries in {max} cycles: {v:x?}\n{}",
                    v.len(),
                    self.diag(40)
                );
            }
            if let Some(e) = self.host.poll(&mut self.m).expect("ring") {
                v.push(e);
            } else {
                self.m.idle(200);
            }
        }
        v
    }

    /// Submits one request and waits for its entry.
    pub fn run(&mut self, slot: u32, h: &Hcb) -> Entry {
        self.submit(&[(slot, h.clone())]);
        self.next_entry(50_000_000)
    }

    /// Writes the sequencer mailbox (`layout::mailbox::word`).
    pub fn mailbox(&mut self, word: u32) {
        self.m.axil_write(regs::SEQ_MAILBOX, word).expect("mailbox");
    }

    /// The FW_STATE word of a slot (firmware-owned).
    pub fn fw_state(&mut self, slot: u32) -> u32 {
        let mut w = [0u32];
        self.m
            .bram_read(layout::hcb_addr(slot) + hcb::FW_STATE, &mut w);
        w[0]
    }

    /// Instruction address of a label of the firmware (`scope.local` for local labels).
    pub fn label(&self, name: &str) -> u32 {
        self.fw
            .symbol_map_text()
            .lines()
            .find_map(|l| {
                let mut it = l.split_whitespace();
                let a = it.next()?;
                (it.next()? == name).then(|| u32::from_str_radix(&a[2..], 16).ok())?
            })
            .unwrap_or_else(|| panic!("no label {name}"))
    }

    /// Arms the sequencer breakpoint at `name` (a coverage probe, see [`FwRig::probe`]).
    pub fn set_break(&mut self, name: &str) {
        let a = self.label(name);
        self.m
            .axil_write(regs::SEQ_BRK, (1 << 31) | a)
            .expect("SEQ_BRK");
    }

    /// When the sequencer stopped at the breakpoint, resumes it and returns true.
    pub fn probe(&mut self) -> bool {
        let st = self.m.axil_read(regs::SEQ_STATUS).expect("SEQ_STATUS");
        if st & regs::seq_status::AT_BREAK != 0 {
            self.m
                .axil_write(regs::SEQ_CTRL, regs::seq_ctrl::RUN)
                .expect("SEQ_CTRL");
            return true;
        }
        false
    }

    /// Sequencer PC (as a label), trap word and the last `n` lines of the bus log.
    pub fn diag(&mut self, n: usize) -> String {
        let trap = self.m.axil_read(regs::SEQ_TRAP).unwrap_or(0);
        let pc = self.m.axil_read(regs::SEQ_PC).unwrap_or(0);
        let at = self.fw.symbols.describe(pc);
        format!(
            "SEQ_PC {pc:#x} ({at}) SEQ_TRAP {trap:#x} (trap at {})\n{}",
            self.fw.symbols.describe(trap & 0x3FF),
            self.log(n)
        )
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

    /// Blocks `lba..lba+n` of target `id`'s disk (lun 0).
    pub fn disk_blocks(&mut self, id: u8, lba: u64, n: u64) -> Vec<u8> {
        let h = self.target(id);
        let t = self.bus().device(h);
        t.lun_mut::<Disk>(0).expect("disk").read_blocks(lba, n)
    }

    /// Writes bytes into card memory.
    pub fn write_buf(&mut self, addr: u32, data: &[u8]) {
        self.m.bram_write_bytes(addr, data);
    }

    /// Reads bytes from card memory.
    pub fn read_buf(&mut self, addr: u32, len: usize) -> Vec<u8> {
        self.m.bram_read_bytes(addr, len)
    }

    /// The sense bytes of a slot's HCB.
    pub fn sense(&mut self, slot: u32, len: usize) -> Vec<u8> {
        self.read_buf(layout::hcb_addr(slot) + hcb::SENSE, len)
    }
}
