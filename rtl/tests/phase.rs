//! Block tests of the phase engine against the scsi-bus models (disk targets, monitor).
//!
//! The engine runs in rust-hdl's simulator; a small Rust "firmware" in this file issues
//! phase-engine commands the way the sequencer will. Card memory is a `Vec<u32>` that
//! grants after a seeded random delay of 0-3 cycles and answers reads the cycle after
//! the grant.

use hba_abi::isa::{pcmd, phase as ph, xmode};
use hba_abi::regs::timing;
use hba_rtl::phase::PhaseEngine;
use rust_hdl::prelude::*;
use scsi_bus::signals::{ctl, sync_period_cycles};
use scsi_bus::target::disk::Disk;
use scsi_bus::target::{Target, TargetConfig};
use scsi_bus::{Bus, BusDrive, BusSignals, DeviceHandle, Width};
use scsi_defs::{msg, opcode, spi_timing};

const MEM_WORDS: usize = 1 << 15;
const OWN: u8 = 7;

#[derive(Default, Clone, Debug)]
struct Ev {
    done: u64,
    sel_timeout: u64,
    reselected: u64,
    bus_free: u64,
    unexp_free: u64,
    bus_reset: u64,
    parity: u64,
    mismatch: u64,
    offset_err: u64,
}

struct Sim {
    uut: PhaseEngine,
    bus: Bus,
    val: BusSignals,
    mem: Vec<u32>,
    rng: u64,
    wait: Option<u32>,
    rdata: u32,
    rdata_next: u32,
    ev: Ev,
    cycle: u64,
    // firmware-held inputs
    target: u8,
    tx_byte: u8,
    xfer_mode: u32,
    window_base: u32,
    window_len: u32,
    wide_bus: bool,
    sel_timeout: u32,
    // one-cycle inputs for the next cycle
    cmd: Option<u32>,
    load_off: Option<u32>,
    load_cnt: Option<u32>,
    host_reset: bool,
    host_release: bool,
    /// The firmware's EV_BUS_RESET clear: this harness reads each reset at once.
    rst_ack: bool,
    max_rst_run: u64,
    rst_run: u64,
    own: u8,
    /// Cycles in which we arbitrated with another ID bit on the bus.
    arb_contest: u64,
    /// Longest run of cycles with SEL asserted alone (no BSY, no data lines).
    sel_alone_max: u64,
    sel_alone: u64,
    /// SEL and the data lines were released in the same cycle.
    sel_with_ids_released: bool,
}

impl Sim {
    fn new(width: Width, seed: u64) -> Sim {
        let mut uut = PhaseEngine::default();
        uut.connect_all();
        let mut s = Sim {
            uut,
            bus: Bus::new(width),
            val: BusSignals::NONE,
            mem: vec![0; MEM_WORDS],
            rng: seed | 1,
            wait: None,
            rdata: 0,
            rdata_next: 0,
            ev: Ev::default(),
            cycle: 0,
            target: 0,
            tx_byte: 0,
            xfer_mode: 0,
            window_base: 0,
            window_len: 0,
            wide_bus: width == Width::Wide,
            sel_timeout: timing::SEL_TIMEOUT,
            cmd: None,
            load_off: None,
            load_cnt: None,
            host_reset: false,
            host_release: false,
            rst_ack: false,
            max_rst_run: 0,
            rst_run: 0,
            own: OWN,
            arb_contest: 0,
            sel_alone_max: 0,
            sel_alone: 0,
            sel_with_ids_released: false,
        };
        s.uut.reset.next = true;
        s.step();
        s.step();
        s.uut.reset.next = false;
        s
    }

    fn rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn add_disk(&mut self, cfg: TargetConfig, blocks: u64) -> DeviceHandle<Target> {
        let mut t = Target::new(cfg).with_lun(0, Disk::memory(blocks));
        t.clear_unit_attention();
        self.bus.add(t)
    }

    /// One core cycle.
    fn step(&mut self) {
        let u = &mut self.uut;
        let v = self.val;
        u.bsy_i.next = v.has(ctl::BSY);
        u.sel_i.next = v.has(ctl::SEL);
        u.rst_i.next = v.has(ctl::RST);
        u.atn_i.next = v.has(ctl::ATN);
        u.ack_i.next = v.has(ctl::ACK);
        u.req_i.next = v.has(ctl::REQ);
        u.msg_i.next = v.has(ctl::MSG);
        u.cd_i.next = v.has(ctl::CD);
        u.io_i.next = v.has(ctl::IO);
        u.db_i.next = (v.data as u64).to_bits();
        u.dbp_i.next = (v.parity as u64).to_bits();
        u.own_id.next = (self.own as u64).to_bits();
        u.wide_bus.next = self.wide_bus;
        u.tim_settle.next = (timing::SETTLE as u64).to_bits();
        u.tim_arb.next = (timing::ARB as u64).to_bits();
        u.tim_bus_free.next = (timing::BUS_FREE as u64).to_bits();
        u.tim_bus_clear.next = (timing::BUS_CLEAR as u64).to_bits();
        u.tim_deskew.next = (timing::DESKEW as u64).to_bits();
        u.tim_sel_timeout.next = (self.sel_timeout as u64).to_bits();
        u.tim_reset_hold.next = (timing::RESET_HOLD as u64).to_bits();
        u.tim_sel_abort.next = (timing::SEL_ABORT as u64).to_bits();
        u.host_bus_reset.next = std::mem::take(&mut self.host_reset);
        u.host_release.next = std::mem::take(&mut self.host_release);
        u.rst_ack.next = std::mem::take(&mut self.rst_ack);
        let c = self.cmd.take();
        u.cmd_valid.next = c.is_some();
        u.cmd.next = (c.unwrap_or(0) as u64).to_bits();
        u.target.next = (self.target as u64).to_bits();
        u.tx_byte.next = (self.tx_byte as u64).to_bits();
        u.xfer_mode.next = (self.xfer_mode as u64).to_bits();
        let lo = self.load_off.take();
        let lc = self.load_cnt.take();
        u.xfer_offset_we.next = lo.is_some();
        u.xfer_count_we.next = lc.is_some();
        u.xfer_wdata.next = (lo.or(lc).unwrap_or(0) as u64).to_bits();
        u.window_base.next = (self.window_base as u64).to_bits();
        u.window_len.next = (self.window_len as u64).to_bits();
        // Card memory: grant after 0-3 cycles, read data the cycle after the grant.
        let req = self.uut.mem_req.val();
        let mut gnt = false;
        if req {
            let w = match self.wait {
                Some(w) => w,
                None => (self.rand() % 4) as u32,
            };
            if w == 0 {
                gnt = true;
                self.wait = None;
            } else {
                self.wait = Some(w - 1);
            }
        } else {
            assert!(self.wait.is_none(), "mem_req dropped before its grant");
        }
        self.uut.mem_gnt.next = gnt;
        self.uut.mem_rdata.next = (self.rdata as u64).to_bits();
        if gnt {
            let a = self.uut.mem_addr.val().index();
            if self.uut.mem_we.val() {
                let be = self.uut.mem_be.val().index();
                let d = self.uut.mem_wdata.val().index() as u32;
                let mut w = self.mem[a];
                for l in 0..4 {
                    if be & (1 << l) != 0 {
                        let m = 0xFFu32 << (8 * l);
                        w = (w & !m) | (d & m);
                    }
                }
                self.mem[a] = w;
            } else {
                self.rdata_next = self.mem[a];
            }
        }
        self.uut.clock.next = Clock { clk: false };
        assert!(simulate(&mut self.uut, 100));
        self.uut.clock.next = Clock { clk: true };
        assert!(simulate(&mut self.uut, 100));
        self.rdata = self.rdata_next;
        self.cycle += 1;
        let u = &self.uut;
        let e = &mut self.ev;
        e.done += u.ev_cmd_done.val() as u64;
        e.sel_timeout += u.ev_sel_timeout.val() as u64;
        e.reselected += u.ev_reselected.val() as u64;
        e.bus_free += u.ev_bus_free.val() as u64;
        e.unexp_free += u.ev_unexp_free.val() as u64;
        e.bus_reset += u.ev_bus_reset.val() as u64;
        self.rst_ack |= u.ev_bus_reset.val();
        e.parity += u.ev_parity_err.val() as u64;
        e.mismatch += u.ev_phase_mismatch.val() as u64;
        e.offset_err += u.ev_offset_err.val() as u64;
        let mut d = BusDrive::NONE;
        let bit = |b: bool, m: u16| if b { m } else { 0 };
        d.ctl = bit(u.bsy_oe.val(), ctl::BSY)
            | bit(u.sel_oe.val(), ctl::SEL)
            | bit(u.rst_oe.val(), ctl::RST)
            | bit(u.atn_oe.val(), ctl::ATN)
            | bit(u.ack_oe.val(), ctl::ACK);
        d.data = u.db_oe.val().index() as u16;
        d.parity = u.dbp_oe.val().index() as u8;
        if u.rst_oe.val() {
            self.rst_run += 1;
            self.max_rst_run = self.max_rst_run.max(self.rst_run);
        } else {
            self.rst_run = 0;
        }
        let prev = self.val;
        self.val = self.bus.step(d);
        if d.ctl == ctl::BSY && self.val.data & !d.data != 0 {
            self.arb_contest += 1;
        }
        let v = self.val;
        if v.has(ctl::SEL) && !v.has(ctl::BSY) && v.data == 0 {
            self.sel_alone += 1;
            self.sel_alone_max = self.sel_alone_max.max(self.sel_alone);
        } else {
            self.sel_alone = 0;
        }
        if prev.has(ctl::SEL) && prev.data != 0 && !v.has(ctl::SEL) && v.data == 0 {
            self.sel_with_ids_released = true;
        }
    }

    fn run_until(&mut self, max: u64, what: &str, mut f: impl FnMut(&Sim) -> bool) {
        let end = self.cycle + max;
        while !f(self) {
            assert!(
                self.cycle < end,
                "timeout waiting for {what} at cycle {}\n{}",
                self.cycle,
                self.log_tail()
            );
            self.step();
        }
    }

    fn log_tail(&self) -> String {
        let t = self.bus.monitor.log_text();
        let lines: Vec<&str> = t.lines().collect();
        let n = lines.len().saturating_sub(30);
        format!(
            "violations: {:?}\nlog:\n{}",
            self.bus.monitor.violations(),
            lines[n..].join("\n")
        )
    }

    /// Issues a command and waits for its `ev_cmd_done`.
    fn command(&mut self, word: u32) {
        let before = self.ev.done;
        self.cmd = Some(word);
        self.step();
        self.run_until(50_000_000, "cmd_done", |s| s.ev.done > before);
        assert_eq!(self.ev.done, before + 1, "one cmd_done per command");
    }

    fn run(&mut self, n: u64) {
        for _ in 0..n {
            self.step();
        }
    }

    fn connected(&self) -> bool {
        self.uut.connected.val()
    }

    /// Waits for REQ (returns the phase) or for the connection to end (None).
    fn wait_req(&mut self) -> Option<u32> {
        self.run_until(5_000_000, "REQ or bus free", |s| {
            s.uut.req_valid.val() || !s.connected()
        });
        if self.connected() {
            Some(self.uut.phase.val().index() as u32)
        } else {
            None
        }
    }

    fn send(&mut self, b: u8, flags: u32) {
        self.tx_byte = b;
        self.command(pcmd::SEND_BYTE | flags);
    }

    fn recv(&mut self) -> (u8, bool) {
        self.command(pcmd::RECV_BYTE);
        let r = self.uut.rx_byte.val().index();
        ((r & 0xFF) as u8, r & 0x100 != 0)
    }

    fn assert_only_target_bus_free(&self) {
        let v = self.bus.monitor.violations();
        assert!(
            !v.is_empty()
                && v.iter().all(|x| x.rule == scsi_bus::Rule::UnexpectedBusFree
                    && x.detail.contains("target error")),
            "expected only the target's unexpected BUS FREE:\n{v:?}\n{}",
            self.log_tail()
        );
    }

    fn assert_clean(&self) {
        assert!(
            self.bus.monitor.violations().is_empty(),
            "monitor violations:\n{}",
            self.log_tail()
        );
    }

    fn fill(&mut self, byte_addr: usize, data: &[u8]) {
        for (i, &b) in data.iter().enumerate() {
            let a = byte_addr + i;
            let w = &mut self.mem[a / 4];
            let sh = 8 * (a % 4);
            *w = (*w & !(0xFF << sh)) | (u32::from(b) << sh);
        }
    }

    fn read_mem(&self, byte_addr: usize, n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| {
                let a = byte_addr + i;
                (self.mem[a / 4] >> (8 * (a % 4))) as u8
            })
            .collect()
    }
}

/// What one command did.
#[derive(Debug, Default)]
struct Outcome {
    status: Option<u8>,
    complete: bool,
    disconnects: u32,
    resel_ids: Vec<u8>,
    data_cycles: u64,
    data_bytes: u64,
    msg_in: Vec<Vec<u8>>,
    drained: u64,
}

/// The test firmware: one command to `target`, data through the window
/// `[base, base + len)`. `msgs` are sent after IDENTIFY (negotiation).
struct Cmd<'a> {
    target: u8,
    cdb: &'a [u8],
    base: u32,
    len: u32,
    disc: bool,
    msgs: &'a [u8],
    /// Transfer agreement to use once the messages are through.
    mode_after: u32,
}

impl Default for Cmd<'_> {
    fn default() -> Self {
        Cmd {
            target: 2,
            cdb: &[0; 6],
            base: 0,
            len: 0,
            disc: false,
            msgs: &[],
            mode_after: 0,
        }
    }
}

fn run_command(s: &mut Sim, c: &Cmd) -> Outcome {
    let mut out = Outcome::default();
    s.target = c.target;
    s.window_base = c.base;
    s.window_len = c.len;
    s.load_off = Some(0);
    s.step();
    s.load_cnt = Some(c.len);
    s.step();
    s.command(pcmd::SELECT | pcmd::F_ATN);
    assert!(s.connected(), "selection failed\n{}", s.log_tail());
    let ident = msg::IDENTIFY | if c.disc { msg::IDENTIFY_DISC_PRIV } else { 0 };
    let mut msg_out: Vec<u8> = vec![ident];
    msg_out.extend_from_slice(c.msgs);
    command_phases(s, c, &mut out, msg_out);
    out
}

fn command_phases(s: &mut Sim, c: &Cmd, out: &mut Outcome, mut msg_out: Vec<u8>) {
    let mut cdb_i = 0usize;
    let mut saved = 0u32;
    let mut msg_in: Vec<u8> = Vec::new();
    loop {
        let Some(p) = s.wait_req() else {
            // Bus free.
            if out.complete {
                break;
            }
            let last = out.msg_in.last().cloned().unwrap_or_default();
            assert_eq!(
                last,
                vec![msg::DISCONNECT],
                "unexpected bus free\n{}",
                s.log_tail()
            );
            out.disconnects += 1;
            let r = s.ev.reselected;
            s.run_until(20_000_000, "reselection", |s| s.ev.reselected > r);
            assert!(s.connected());
            out.resel_ids.push(s.uut.resel_id.val().index() as u8);
            // Implied RESTORE POINTERS.
            s.load_off = Some(saved);
            s.step();
            s.load_cnt = Some(c.len - saved);
            s.step();
            continue;
        };
        match p {
            ph::MSG_OUT => {
                let b = if msg_out.is_empty() {
                    msg::NOP
                } else {
                    msg_out.remove(0)
                };
                let f = if msg_out.is_empty() { pcmd::F_LAST } else { 0 };
                s.send(b, f);
            }
            ph::COMMAND => {
                s.send(c.cdb[cdb_i], 0);
                cdb_i += 1;
            }
            ph::DATA_IN | ph::DATA_OUT => {
                let t0 = s.cycle;
                let before = s.uut.xfer_count.val().index() as u64;
                s.command(pcmd::DMA);
                out.data_cycles += s.cycle - t0;
                let moved = before - s.uut.xfer_count.val().index() as u64;
                out.data_bytes += moved;
                if moved == 0 && s.uut.req_valid.val() && s.uut.phase.val().index() as u32 == p {
                    // Window exhausted: bit bucket, one byte by hand.
                    if p == ph::DATA_IN {
                        s.recv();
                        s.command(pcmd::ACK);
                    } else {
                        s.send(0, 0);
                    }
                    out.drained += 1;
                }
            }
            ph::STATUS => {
                let (b, _) = s.recv();
                out.status = Some(b);
                s.command(pcmd::ACK);
            }
            ph::MSG_IN => {
                let (b, _) = s.recv();
                msg_in.push(b);
                let need = if msg_in[0] == msg::EXTENDED {
                    if msg_in.len() >= 2 {
                        usize::from(msg_in[1]) + 2
                    } else {
                        2
                    }
                } else if msg_in[0] == msg::IGNORE_WIDE_RESIDUE {
                    2
                } else {
                    1
                };
                if msg_in.len() >= need {
                    let m = std::mem::take(&mut msg_in);
                    match m[0] {
                        msg::COMMAND_COMPLETE => {
                            out.complete = true;
                            s.command(pcmd::EXPECT_FREE);
                        }
                        msg::DISCONNECT => s.command(pcmd::EXPECT_FREE),
                        msg::SAVE_DATA_POINTER => saved = s.uut.xfer_offset.val().index() as u32,
                        msg::EXTENDED => s.xfer_mode = c.mode_after,
                        _ => {}
                    }
                    out.msg_in.push(m);
                }
                s.command(pcmd::ACK);
            }
            other => panic!("phase {other}"),
        }
    }
    assert!(!s.connected());
}

fn rw10(op: u8, lba: u32, blocks: u16) -> [u8; 10] {
    let l = lba.to_be_bytes();
    let n = blocks.to_be_bytes();
    [op, 0, l[0], l[1], l[2], l[3], 0, n[0], n[1], 0]
}

fn pattern(n: usize, seed: u32) -> Vec<u8> {
    (0..n)
        .map(|i| {
            (i as u32)
                .wrapping_mul(31)
                .wrapping_add(seed * 7 + (i as u32 >> 8)) as u8
        })
        .collect()
}

fn disk_data(s: &mut Sim, h: DeviceHandle<Target>, lba: u64, n: u64) -> Vec<u8> {
    s.bus
        .device(h)
        .lun_mut::<Disk>(0)
        .unwrap()
        .read_blocks(lba, n)
}

#[allow(clippy::too_many_arguments)]
/// Writes `blocks` blocks from memory at `base`, reads them back to `base2`, checks the
/// disk and memory; returns (write, read) outcomes.
fn write_read(
    s: &mut Sim,
    h: DeviceHandle<Target>,
    tid: u8,
    lba: u32,
    blocks: u16,
    base: u32,
    base2: u32,
    disc: bool,
) -> (Outcome, Outcome) {
    let n = usize::from(blocks) * 512;
    let data = pattern(n, lba + base);
    s.fill(base as usize, &data);
    let mode = s.xfer_mode;
    let w = run_command(
        s,
        &Cmd {
            target: tid,
            cdb: &rw10(opcode::WRITE_10, lba, blocks),
            base,
            len: n as u32,
            disc,
            msgs: &[],
            mode_after: mode,
        },
    );
    assert_eq!(w.status, Some(0), "write status");
    assert_eq!(w.data_bytes, n as u64);
    assert_eq!(
        disk_data(s, h, u64::from(lba), u64::from(blocks)),
        data,
        "disk content after WRITE(10)"
    );
    // Guard bytes around the read window.
    s.fill(base2 as usize - 4, &[0xA5; 4]);
    s.fill(base2 as usize + n, &[0x5A; 8]);
    let r = run_command(
        s,
        &Cmd {
            target: tid,
            cdb: &rw10(opcode::READ_10, lba, blocks),
            base: base2,
            len: n as u32,
            disc,
            msgs: &[],
            mode_after: mode,
        },
    );
    assert_eq!(r.status, Some(0), "read status");
    assert_eq!(r.data_bytes, n as u64);
    assert_eq!(s.read_mem(base2 as usize, n), data, "memory after READ(10)");
    assert_eq!(s.read_mem(base2 as usize - 4, 4), vec![0xA5; 4]);
    assert_eq!(s.read_mem(base2 as usize + n, 8), vec![0x5A; 8]);
    s.assert_clean();
    (w, r)
}

/// SDTR (and WDTR first when `wide`) negotiated by the test firmware on a TEST UNIT READY.
fn negotiate(s: &mut Sim, tid: u8, wide: bool, sync: Option<(u8, u8)>) -> u32 {
    let mut mode = 0u32;
    if wide {
        let m = [
            msg::EXTENDED,
            msg::ext::WDTR_LEN,
            msg::ext::WDTR,
            msg::ext::WIDTH_16,
        ];
        let o = run_command(
            s,
            &Cmd {
                target: tid,
                cdb: &[0; 6],
                base: 0,
                len: 0,
                disc: false,
                msgs: &m,
                mode_after: xmode::WIDE,
            },
        );
        assert_eq!(o.status, Some(0));
        assert!(
            o.msg_in.iter().any(|x| x == &m.to_vec()),
            "WDTR answer {:?}",
            o.msg_in
        );
        mode = xmode::WIDE;
    }
    if let Some((f, off)) = sync {
        let p = sync_period_cycles(f).unwrap() as u32;
        let after = mode | u32::from(off) | (p << xmode::PERIOD_SHIFT);
        let m = [msg::EXTENDED, msg::ext::SDTR_LEN, msg::ext::SDTR, f, off];
        let o = run_command(
            s,
            &Cmd {
                target: tid,
                cdb: &[0; 6],
                base: 0,
                len: 0,
                disc: false,
                msgs: &m,
                mode_after: after,
            },
        );
        assert_eq!(o.status, Some(0));
        assert!(
            o.msg_in.iter().any(|x| x == &m.to_vec()),
            "SDTR answer {:?}",
            o.msg_in
        );
        mode = after;
    }
    s.xfer_mode = mode;
    let a = s.bus.monitor.agreement(s.own, tid);
    assert_eq!(a.wide, wide);
    assert_eq!(a.offset, sync.map_or(0, |x| x.1));
    s.assert_clean();
    mode
}

fn rate(bytes: u64, cycles: u64) -> f64 {
    bytes as f64 / (cycles as f64 * 10e-9) / 1e6
}

fn disk_cfg(id: u8) -> TargetConfig {
    let mut c = TargetConfig::new(id);
    c.disconnect = false;
    c
}

#[test]
fn select_with_and_without_atn() {
    let mut s = Sim::new(Width::Narrow, 1);
    let _h = s.add_disk(disk_cfg(2), 64);
    // With ATN: IDENTIFY, TEST UNIT READY.
    let t0 = s.cycle;
    let o = run_command(&mut s, &Cmd::default());
    assert_eq!(o.status, Some(0));
    assert!(o.complete);
    assert_eq!(s.ev.unexp_free, 0);
    assert_eq!(s.ev.bus_free, 1);
    eprintln!(
        "select+TUR with ATN: {:.2} us",
        (s.cycle - t0) as f64 / 100.0
    );
    // Without ATN: straight to COMMAND.
    s.target = 2;
    s.command(pcmd::SELECT);
    assert!(s.connected());
    assert_eq!(
        s.wait_req(),
        Some(ph::COMMAND),
        "no ATN: the target goes to COMMAND"
    );
    let mut o = Outcome::default();
    let cdb = [0u8; 6];
    command_phases(
        &mut s,
        &Cmd {
            cdb: &cdb,
            ..Cmd::default()
        },
        &mut o,
        Vec::new(),
    );
    assert_eq!(o.status, Some(0));
    let log = s.bus.monitor.log_text();
    assert!(log.contains("SELECTION ID7->ID2 ATN"), "{log}");
    assert!(
        log.lines().any(|l| l.ends_with("SELECTION ID7->ID2")),
        "{log}"
    );
    assert_eq!(s.ev.bus_free, 2);
    assert_eq!(s.ev.unexp_free, 0);
    s.assert_clean();
}

#[test]
fn selection_timeout() {
    let mut s = Sim::new(Width::Narrow, 2);
    let _h = s.add_disk(disk_cfg(2), 64);
    s.sel_timeout = 20_000;
    s.target = 5;
    let t0 = s.cycle;
    // SPI selection timeout procedure: the IDs and ATN go first, SEL stays a
    // selection abort time (200 us) longer.
    s.command(pcmd::SELECT | pcmd::F_ATN);
    let dt = s.cycle - t0;
    assert_eq!(s.ev.sel_timeout, 1);
    assert!(!s.connected());
    let abort = timing::SEL_ABORT as u64;
    assert_eq!(abort, spi_timing::SELECTION_ABORT_TIME_NS / 10);
    assert!(
        (20_000 + abort..21_000 + abort).contains(&dt),
        "timeout after {dt} cycles"
    );
    assert!(
        s.sel_alone_max >= abort,
        "SEL alone {} cycles",
        s.sel_alone_max
    );
    assert!(
        !s.sel_with_ids_released,
        "SEL released together with the IDs"
    );
    assert!(s.bus.monitor.log_text().contains("SELECTION TIMEOUT"));
    // Everything released: the next selection works.
    s.run_until(200, "bus quiet", |s| s.val == BusSignals::NONE);
    let o = run_command(&mut s, &Cmd::default());
    assert_eq!(o.status, Some(0));
    assert_eq!(s.ev.sel_timeout, 1);
    s.assert_clean();
}

#[test]
fn lost_arbitration_then_retry() {
    use scsi_bus::initiator::{InitiatorConfig, Request, TestInitiator};
    let mut s = Sim::new(Width::Narrow, 3);
    s.own = 6;
    let _h = s.add_disk(disk_cfg(2), 64);
    let hi = s.bus.add(TestInitiator::new(InitiatorConfig::new(7)));
    // Both want the bus at once: ID 7 wins, we retry at the next bus free.
    s.bus
        .device(hi)
        .submit(Request::new(2, 0, &[0; 6]).disconnect(false));
    let o = run_command(&mut s, &Cmd::default());
    assert_eq!(o.status, Some(0));
    let c = s.bus.device(hi).completions().to_vec();
    assert_eq!(c.len(), 1);
    let log = s.bus.monitor.log_text();
    let w7 = log.find("ARBITRATION won by ID7").expect("ID7 arbitrated");
    let w6 = log.find("ARBITRATION won by ID6").expect("ID6 arbitrated");
    assert!(w7 < w6, "{log}");
    eprintln!("cycles we arbitrated against ID7: {}", s.arb_contest);
    assert!(s.arb_contest > 0, "a real arbitration contest took place");
    s.assert_clean();
}

#[test]
fn async_narrow_read_write() {
    let mut s = Sim::new(Width::Narrow, 4);
    let h = s.add_disk(disk_cfg(2), 256);
    // Unaligned windows: partial first and last words.
    let (w, r) = write_read(&mut s, h, 2, 10, 8, 0x1001, 0x5003, false);
    eprintln!(
        "async narrow: write {:.2} MB/s, read {:.2} MB/s (4 KiB)",
        rate(w.data_bytes, w.data_cycles),
        rate(r.data_bytes, r.data_cycles)
    );
    assert_eq!(s.ev.parity, 0);
    assert_eq!(s.ev.unexp_free, 0);
    assert_eq!(s.ev.mismatch, 0);
}

fn sync_case(width: Width, wide: bool, factor: u8, offset: u8, tid: u8, big: bool) {
    let mut s = Sim::new(width, 5 + u64::from(offset));
    let mut cfg = disk_cfg(tid);
    cfg.wide = wide;
    let h = s.add_disk(cfg, 512);
    negotiate(&mut s, tid, wide, Some((factor, offset)));
    let (w, r) = write_read(&mut s, h, tid, 3, 8, 0x2002, 0x8001, false);
    let name = format!(
        "sync {}ns offset {offset}{}",
        spi_timing::period_ps(factor).unwrap() / 1000,
        if wide { " wide" } else { "" }
    );
    eprintln!(
        "{name}: write {:.2} MB/s, read {:.2} MB/s (4 KiB)",
        rate(w.data_bytes, w.data_cycles),
        rate(r.data_bytes, r.data_cycles)
    );
    let log = s.bus.monitor.log_text();
    assert!(log.contains("DATA IN 4096 bytes sync"), "{log}");
    assert!(log.contains("DATA OUT 4096 bytes sync"), "{log}");
    if big {
        // 64 KiB read for the rate.
        let n = 65536usize;
        let pat = pattern(n, 99);
        // Put the pattern on the disk first (from memory at 0).
        s.fill(0, &pat);
        let mode = s.xfer_mode;
        let o = run_command(
            &mut s,
            &Cmd {
                target: tid,
                cdb: &rw10(opcode::WRITE_10, 100, 128),
                base: 0,
                len: n as u32,
                mode_after: mode,
                ..Cmd::default()
            },
        );
        assert_eq!(o.status, Some(0));
        s.fill(0x10000, &vec![0; n]);
        let o = run_command(
            &mut s,
            &Cmd {
                target: tid,
                cdb: &rw10(opcode::READ_10, 100, 128),
                base: 0x10000,
                len: n as u32,
                mode_after: mode,
                ..Cmd::default()
            },
        );
        assert_eq!(o.status, Some(0));
        assert_eq!(s.read_mem(0x10000, n), pat);
        eprintln!(
            "{name}: 64 KiB READ(10) DMA {:.2} MB/s ({} cycles = {:.1} us simulated)",
            rate(o.data_bytes, o.data_cycles),
            o.data_cycles,
            o.data_cycles as f64 / 100.0
        );
        let p = sync_period_cycles(factor).unwrap() as f64;
        let ideal = if wide { 200.0 / p } else { 100.0 / p };
        assert!(
            rate(o.data_bytes, o.data_cycles) > 0.8 * ideal,
            "rate below 80% of the bus rate"
        );
    }
    assert_eq!(s.ev.parity, 0);
    assert_eq!(s.ev.mismatch, 0);
    assert_eq!(s.ev.unexp_free, 0);
    s.assert_clean();
}

#[test]
fn sync_fast20_offset8() {
    sync_case(
        Width::Narrow,
        false,
        spi_timing::PERIOD_FACTOR_FAST20,
        8,
        2,
        false,
    );
}

#[test]
fn sync_fast20_offset15_64k() {
    sync_case(
        Width::Narrow,
        false,
        spi_timing::PERIOD_FACTOR_FAST20,
        15,
        2,
        true,
    );
}

#[test]
fn sync_fast10_offset8() {
    sync_case(
        Width::Narrow,
        false,
        spi_timing::PERIOD_FACTOR_FAST10,
        8,
        3,
        false,
    );
}

#[test]
fn sync_fast10_offset15() {
    sync_case(
        Width::Narrow,
        false,
        spi_timing::PERIOD_FACTOR_FAST10,
        15,
        3,
        false,
    );
}

#[test]
fn wide_sync_fast20_offset15_64k() {
    sync_case(
        Width::Wide,
        true,
        spi_timing::PERIOD_FACTOR_FAST20,
        15,
        12,
        true,
    );
}

#[test]
fn wide_sync_fast10_offset8() {
    sync_case(
        Width::Wide,
        true,
        spi_timing::PERIOD_FACTOR_FAST10,
        8,
        9,
        false,
    );
}

#[test]
fn wide_async_odd_window() {
    let mut s = Sim::new(Width::Wide, 6);
    let mut cfg = disk_cfg(12);
    cfg.wide = true;
    let h = s.add_disk(cfg, 64);
    negotiate(&mut s, 12, true, None);
    let (w, r) = write_read(&mut s, h, 12, 1, 4, 0x3001, 0x6002, false);
    eprintln!(
        "async wide: write {:.2} MB/s, read {:.2} MB/s (2 KiB)",
        rate(w.data_bytes, w.data_cycles),
        rate(r.data_bytes, r.data_cycles)
    );
    // Odd window: 511 of the 512 bytes land, the rest goes to the bit bucket.
    let want = disk_data(&mut s, h, 1, 1);
    s.fill(0x7000, &[0xEE; 520]);
    let o = run_command(
        &mut s,
        &Cmd {
            target: 12,
            cdb: &rw10(opcode::READ_10, 1, 1),
            base: 0x7000,
            len: 511,
            mode_after: xmode::WIDE,
            ..Cmd::default()
        },
    );
    assert_eq!(o.status, Some(0));
    assert_eq!(o.data_bytes, 511);
    assert_eq!(s.read_mem(0x7000, 511), want[..511].to_vec());
    assert_eq!(
        s.read_mem(0x7000 + 511, 9),
        vec![0xEE; 9],
        "nothing beyond the window"
    );
    // Odd DATA OUT: 511 bytes from memory, the last word carries one byte.
    let data = pattern(512, 7);
    s.fill(0x7400, &data);
    let o = run_command(
        &mut s,
        &Cmd {
            target: 12,
            cdb: &rw10(opcode::WRITE_10, 2, 1),
            base: 0x7400,
            len: 511,
            mode_after: xmode::WIDE,
            ..Cmd::default()
        },
    );
    assert_eq!(o.status, Some(0));
    assert_eq!(o.data_bytes, 511);
    let got = disk_data(&mut s, h, 2, 1);
    assert_eq!(got[..511], data[..511]);
    s.assert_clean();
}

#[test]
fn disconnect_and_reselection() {
    for (width, tid, wide) in [(Width::Narrow, 2u8, false), (Width::Wide, 11u8, true)] {
        let mut s = Sim::new(width, 7);
        let mut cfg = TargetConfig::new(tid);
        cfg.disconnect = true;
        cfg.chunk = Some(1024);
        cfg.wide = wide;
        let h = s.add_disk(cfg, 64);
        if wide {
            negotiate(
                &mut s,
                tid,
                true,
                Some((spi_timing::PERIOD_FACTOR_FAST20, 8)),
            );
        }
        let (w, r) = write_read(&mut s, h, tid, 4, 6, 0x1000, 0x4000, true);
        for o in [&w, &r] {
            assert!(o.disconnects >= 3, "disconnects: {}", o.disconnects);
            assert_eq!(o.resel_ids.len() as u32, o.disconnects);
            assert!(
                o.resel_ids.iter().all(|&i| i == tid),
                "resel ids {:?}",
                o.resel_ids
            );
        }
        assert_eq!(s.ev.unexp_free, 0);
        eprintln!(
            "disconnect/reselect {width:?}: {} + {} reselections by ID{tid}",
            w.disconnects, r.disconnects
        );
    }
}

#[test]
fn parity_error_detected() {
    use scsi_bus::faults::{FaultAction, FaultConfig, FaultRule};
    use scsi_bus::Phase;
    let mut s = Sim::new(Width::Narrow, 8);
    let rule = |phase, byte| FaultRule {
        opcode: Some(opcode::READ_10),
        lba: None,
        lun: None,
        every_nth: None,
        first_n: Some(1),
        probability: None,
        action: FaultAction::Parity { phase, byte },
    };
    let cfg = FaultConfig {
        seed: 1,
        rules: vec![rule(Phase::DataIn, 700)],
        bus_reset_at_ns: vec![],
    };
    let h = s.bus.add({
        let mut t = Target::new(disk_cfg(2))
            .with_lun(0, Disk::memory(64))
            .with_faults(&cfg);
        t.clear_unit_attention();
        t
    });
    let data = pattern(1024, 3);
    s.fill(0, &data);
    let o = run_command(
        &mut s,
        &Cmd {
            cdb: &rw10(opcode::WRITE_10, 0, 2),
            len: 1024,
            ..Cmd::default()
        },
    );
    assert_eq!(o.status, Some(0));
    assert_eq!(s.ev.parity, 0);
    let o = run_command(
        &mut s,
        &Cmd {
            cdb: &rw10(opcode::READ_10, 0, 2),
            base: 0x2000,
            len: 1024,
            ..Cmd::default()
        },
    );
    assert_eq!(o.status, Some(0));
    assert_eq!(s.ev.parity, 1, "one bad byte, one ev_parity_err");
    // ATN went up at the bad byte: the target stopped DATA IN for a MESSAGE OUT (this
    // test's firmware has nothing queued and sends NO OPERATION), then carried on.
    assert!(
        s.bus.monitor.log_text().contains("MSG OUT 08"),
        "{}",
        s.log_tail()
    );
    assert_eq!(s.read_mem(0x2000, 1024), data, "data stored anyway");
    assert_eq!(
        s.bus.monitor.rules_violated(),
        vec![scsi_bus::Rule::Parity],
        "only the injected error"
    );
    assert_eq!(s.bus.monitor.violations().len(), 1);
    let _ = h;
    // A bad STATUS byte through RECV_BYTE sets rx_byte bit 8.
    let mut s = Sim::new(Width::Narrow, 9);
    let mut r = rule(Phase::Status, 0);
    r.opcode = Some(0);
    let cfg = FaultConfig {
        seed: 1,
        rules: vec![r],
        bus_reset_at_ns: vec![],
    };
    s.bus.add({
        let mut t = Target::new(disk_cfg(2))
            .with_lun(0, Disk::memory(64))
            .with_faults(&cfg);
        t.clear_unit_attention();
        t
    });
    s.target = 2;
    s.command(pcmd::SELECT);
    let mut sent = 0;
    loop {
        match s.wait_req() {
            Some(ph::COMMAND) => {
                s.send(0, 0);
                sent += 1;
            }
            Some(ph::STATUS) => break,
            p => panic!("phase {p:?} after {sent} CDB bytes"),
        }
    }
    let (b, bad) = s.recv();
    assert_eq!((b, bad), (0, true));
    assert_eq!(s.ev.parity, 1);
}

#[test]
fn window_clamp() {
    let mut s = Sim::new(Width::Narrow, 10);
    let h = s.add_disk(disk_cfg(2), 64);
    let data = seed_blocks(&mut s, h, 0, 5, 0);
    // READ of 1024 bytes into a 1000-byte window whose count says 1024.
    s.fill(0x3000, &[0xC3; 1100]);
    s.target = 2;
    s.window_base = 0x3000;
    s.window_len = 1000;
    s.load_off = Some(0);
    s.step();
    s.load_cnt = Some(1024);
    s.step();
    s.command(pcmd::SELECT | pcmd::F_ATN);
    let mut out = Outcome::default();
    let c = Cmd {
        cdb: &rw10(opcode::READ_10, 0, 2),
        base: 0x3000,
        len: 1000,
        ..Cmd::default()
    };
    // Our own data phase handling: one DMA with the full count.
    let mut msg_out = vec![msg::IDENTIFY];
    loop {
        match s.wait_req() {
            Some(ph::MSG_OUT) => {
                let b = msg_out.remove(0);
                s.send(b, pcmd::F_LAST);
            }
            Some(ph::COMMAND) => {
                for &b in c.cdb {
                    s.wait_req();
                    s.send(b, 0);
                }
            }
            Some(ph::DATA_IN) => {
                s.command(pcmd::DMA);
                assert_eq!(
                    s.uut.xfer_count.val().index(),
                    24,
                    "residual = count - moved"
                );
                assert_eq!(s.uut.xfer_offset.val().index(), 1000);
                assert_eq!(s.ev.mismatch, 0);
                // Offset at the end of the window: nothing moves.
                s.command(pcmd::DMA);
                assert_eq!(s.uut.xfer_count.val().index(), 24);
                command_phases(&mut s, &c, &mut out, Vec::new());
                break;
            }
            p => panic!("phase {p:?}"),
        }
    }
    assert_eq!(out.status, Some(0));
    assert_eq!(out.drained, 24);
    assert_eq!(s.read_mem(0x3000, 1000), data[..1000].to_vec());
    assert_eq!(
        s.read_mem(0x3000 + 1000, 100),
        vec![0xC3; 100],
        "memory beyond the window untouched"
    );
    s.assert_clean();
}

#[test]
fn bus_reset_by_host_and_by_others() {
    use scsi_bus::faults::ResetInjector;
    let mut s = Sim::new(Width::Narrow, 11);
    let _h = s.add_disk(disk_cfg(2), 64);
    // host_bus_reset while connected with a byte command pending.
    s.target = 2;
    s.command(pcmd::SELECT | pcmd::F_ATN);
    assert!(s.connected());
    s.run_until(10_000, "REQ", |s| s.uut.req_valid.val());
    s.host_reset = true;
    s.step();
    s.run_until(10_000, "RST released", |s| {
        s.max_rst_run > 0 && !s.uut.rst_oe.val()
    });
    assert!(
        s.max_rst_run >= u64::from(timing::RESET_HOLD),
        "RST held {} cycles",
        s.max_rst_run
    );
    assert!(!s.connected());
    assert_eq!(s.ev.bus_reset, 1);
    // The pcmd form ends with cmd_done.
    s.max_rst_run = 0;
    s.command(pcmd::BUS_RESET);
    assert!(s.max_rst_run >= u64::from(timing::RESET_HOLD));
    assert_eq!(s.ev.bus_reset, 2);
    s.run_until(1_000, "quiet", |s| s.val == BusSignals::NONE);
    // The bus still works (the target reports the reset as UNIT ATTENTION otherwise).
    s.bus.device(_h).clear_unit_attention();
    let o = run_command(&mut s, &Cmd::default());
    assert_eq!(o.status, Some(0));
    s.bus.device(_h).clear_unit_attention();
    // A reset by another device: it ends a SELECT in progress (target 5 is absent, the
    // selection waits for BSY) with cmd_done...
    s.bus.add(ResetInjector::new(vec![s.cycle + 3_000]));
    s.target = 5;
    let d = s.ev.done;
    s.cmd = Some(pcmd::SELECT | pcmd::F_ATN);
    s.run_until(20_000, "bus reset", |s| s.ev.bus_reset == 3);
    s.run_until(10, "cmd_done", |s| s.ev.done == d + 1);
    assert_eq!(s.ev.sel_timeout, 0);
    assert!(!s.uut.busy.val());
    // A SELECT written while that RST is still on the bus ends at once and never
    // selects (held, it used to start after the reset, before the firmware had read it).
    s.target = 2;
    let c0 = s.cycle;
    s.command(pcmd::SELECT | pcmd::F_ATN);
    assert!(
        s.cycle - c0 < 10,
        "SELECT during RST took {} cycles",
        s.cycle - c0
    );
    assert!(s.val.has(ctl::RST) && !s.uut.busy.val() && !s.connected());
    s.run_until(20_000, "RST gone", |s| !s.val.has(ctl::RST));
    s.run(200);
    assert!(
        !s.connected() && !s.uut.busy.val(),
        "nothing started after the reset"
    );
    s.target = 5;
    // A command written while the engine still sees another device's RST (through its
    // synchroniser) ends at once; wait that out.
    s.run(4);
    // ...and drops a connection.
    s.bus.device(_h).clear_unit_attention();
    s.target = 2;
    s.command(pcmd::SELECT | pcmd::F_ATN);
    assert!(s.connected());
    s.bus.add(ResetInjector::new(vec![s.cycle + 100]));
    s.run_until(20_000, "bus reset", |s| s.ev.bus_reset == 4);
    s.step();
    assert!(!s.connected());
    // d + 1: the SELECT the reset ended, + 1 the one written during RST, + 1 this one.
    assert_eq!(s.ev.done, d + 3, "no cmd_done without a command");
    s.run_until(20_000, "RST gone", |s| !s.val.has(ctl::RST));
    s.run(200);
    assert_eq!(s.val, BusSignals::NONE, "everything released");
    assert_eq!(s.ev.unexp_free, 0, "a reset is not a bus free");
    s.assert_clean();
}

#[test]
fn unexpected_bus_free() {
    use scsi_bus::faults::{FaultAction, FaultConfig, FaultRule};
    use scsi_bus::Phase;
    let mut s = Sim::new(Width::Narrow, 12);
    let r = FaultRule {
        opcode: Some(opcode::READ_10),
        lba: None,
        lun: None,
        every_nth: None,
        first_n: Some(1),
        probability: None,
        action: FaultAction::BusFree {
            phase: Phase::DataIn,
        },
    };
    let cfg = FaultConfig {
        seed: 1,
        rules: vec![r],
        bus_reset_at_ns: vec![],
    };
    s.bus.add({
        let mut t = Target::new(disk_cfg(2))
            .with_lun(0, Disk::memory(64))
            .with_faults(&cfg);
        t.clear_unit_attention();
        t
    });
    s.target = 2;
    s.window_len = 512;
    s.load_cnt = Some(512);
    s.step();
    s.command(pcmd::SELECT | pcmd::F_ATN);
    let cdb = rw10(opcode::READ_10, 0, 1);
    let mut i = 0;
    while let Some(p) = s.wait_req() {
        match p {
            ph::MSG_OUT => s.send(msg::IDENTIFY, pcmd::F_LAST),
            ph::COMMAND => {
                s.send(cdb[i], 0);
                i += 1;
            }
            p => panic!("phase {p}"),
        }
    }
    assert_eq!(i, 10);
    assert_eq!(s.ev.bus_free, 1);
    assert_eq!(s.ev.unexp_free, 1);
    // An expected one does not count as unexpected.
    let o = run_command(&mut s, &Cmd::default());
    assert_eq!(o.status, Some(0));
    assert_eq!(s.ev.bus_free, 2);
    assert_eq!(s.ev.unexp_free, 1);
    // The injected fault is the target's protocol error, and the monitor says so; nothing
    // else is flagged.
    s.assert_only_target_bus_free();
}
#[test]
fn verilog_lints() {
    let mut uut = PhaseEngine::default();
    uut.connect_all();
    let v = generate_verilog(&uut);
    let dir = std::env::temp_dir().join("phase_lint");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("top.v");
    std::fs::write(&f, &v).unwrap();
    let vlt = dir.join("waivers.vlt");
    std::fs::write(
        &vlt,
        "`verilator_config\nlint_off -rule UNUSEDPARAM -file \"*top.v\" -match \"*PState$*\"\n",
    )
    .unwrap();
    let out = std::process::Command::new("verilator")
        .args([
            "--lint-only",
            "-Wall",
            "-Wno-WIDTH",
            "-Wno-DECLFILENAME",
            "-Wno-UNUSEDSIGNAL",
            "--top-module",
            "top",
        ])
        // rust-hdl declares every enum's values in each DFF module, where they are
        // unused: the same waiver as scripts/verilator_lint.vlt, scoped to this file.
        .arg(&vlt)
        .arg(&f)
        .output();
    match out {
        Err(e) => eprintln!("verilator not run: {e}"),
        Ok(o) => {
            let s = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "verilator:\n{s}");
        }
    }
}

/// WRITE(10) of 2 blocks of a seeded pattern at `lba` (staged at memory 0, agreement
/// `mode`), checked on the disk; returns the data.
fn seed_blocks(s: &mut Sim, h: DeviceHandle<Target>, lba: u32, seed: u32, mode: u32) -> Vec<u8> {
    let data = pattern(1024, seed);
    s.fill(0, &data);
    let o = run_command(
        s,
        &Cmd {
            cdb: &rw10(opcode::WRITE_10, lba, 2),
            len: 1024,
            mode_after: mode,
            ..Cmd::default()
        },
    );
    assert_eq!(o.status, Some(0));
    assert_eq!(disk_data(s, h, u64::from(lba), 2), data);
    data
}

/// The target sends fewer bytes than the DMA count (an underrun): the DMA stops at the
/// phase change with the residual left in the count, and flags the mismatch.
fn underrun_case(sync: Option<(u8, u8)>) {
    let mut s = Sim::new(Width::Narrow, 21);
    let h = s.add_disk(disk_cfg(2), 64);
    let mode = match sync {
        Some(fo) => negotiate(&mut s, 2, false, Some(fo)),
        None => 0,
    };
    let data = seed_blocks(&mut s, h, 4, 17, mode);
    // READ of 2 blocks into a 4 KiB window with a 4 KiB count.
    s.fill(0x4000, &[0x5A; 4096]);
    let before = s.ev.mismatch;
    let o = run_command(
        &mut s,
        &Cmd {
            cdb: &rw10(opcode::READ_10, 4, 2),
            base: 0x4000,
            len: 4096,
            mode_after: mode,
            ..Cmd::default()
        },
    );
    assert_eq!(o.status, Some(0));
    assert_eq!(o.data_bytes, 1024);
    assert_eq!(s.ev.mismatch, before + 1, "one phase mismatch");
    assert_eq!(s.uut.xfer_count.val().index(), 4096 - 1024, "residual");
    assert_eq!(s.uut.xfer_offset.val().index(), 1024);
    assert_eq!(s.read_mem(0x4000, 1024), data);
    assert_eq!(
        s.read_mem(0x4000 + 1024, 3072),
        vec![0x5A; 3072],
        "nothing beyond"
    );
    s.assert_clean();
}

#[test]
fn underrun_async_stops_at_the_phase_change_with_residual() {
    underrun_case(None);
}

#[test]
fn underrun_sync_fast20_stops_at_the_phase_change_with_residual() {
    underrun_case(Some((0x0C, 15)));
}

/// `host_release` while connected: every signal the engine drives goes away at once and
/// the engine reports not connected; a command still running ends.
#[test]
fn host_release_drops_everything() {
    let mut s = Sim::new(Width::Narrow, 23);
    s.add_disk(disk_cfg(2), 64);
    s.target = 2;
    s.command(pcmd::SELECT | pcmd::F_ATN);
    assert!(s.connected());
    assert_eq!(s.wait_req(), Some(ph::MSG_OUT));
    assert!(s.uut.atn_oe.val(), "ATN held for MESSAGE OUT");
    s.host_release = true;
    s.step();
    s.run(3);
    assert!(!s.connected());
    assert!(!s.uut.atn_oe.val() && !s.uut.ack_oe.val() && !s.uut.bsy_oe.val());
    assert!(!s.uut.sel_oe.val() && !s.uut.rst_oe.val());
    assert_eq!(s.uut.db_oe.val().index(), 0);
    assert_eq!(s.uut.dbp_oe.val().index(), 0);
    assert!(!s.uut.busy.val());
}

/// A SELECT issued while a disconnected target is already arbitrating to reselect us:
/// the SELECT waits for bus free, the reselection wins, the SELECT is abandoned with
/// `ev_reselected` and one `cmd_done`, and the reselected command then completes.
#[test]
fn reselection_while_a_select_is_pending() {
    let mut s = Sim::new(Width::Narrow, 29);
    let mut cfg = TargetConfig::new(2);
    cfg.disconnect = true;
    let h = s.add_disk(cfg, 64);
    let data = pattern(1024, 31);
    s.fill(0x1000, &data);
    let c = Cmd {
        cdb: &rw10(opcode::WRITE_10, 8, 2),
        base: 0x1000,
        len: 1024,
        disc: true,
        ..Cmd::default()
    };
    // Start the command by hand up to the disconnect after the CDB.
    s.target = 2;
    s.window_base = c.base;
    s.window_len = c.len;
    s.load_off = Some(0);
    s.step();
    s.load_cnt = Some(c.len);
    s.step();
    s.command(pcmd::SELECT | pcmd::F_ATN);
    let mut cdb_i = 0;
    loop {
        match s.wait_req() {
            Some(ph::MSG_OUT) => s.send(msg::IDENTIFY | msg::IDENTIFY_DISC_PRIV, pcmd::F_LAST),
            Some(ph::COMMAND) => {
                s.send(c.cdb[cdb_i], 0);
                cdb_i += 1;
            }
            Some(ph::MSG_IN) => {
                let (b, _) = s.recv();
                assert_eq!(b, msg::DISCONNECT);
                s.command(pcmd::EXPECT_FREE);
                s.command(pcmd::ACK);
            }
            None => break,
            p => panic!("phase {p:?}\n{}", s.log_tail()),
        }
    }
    assert_eq!(s.ev.unexp_free, 0);
    // Wait until the target has been arbitrating for a while (BSY with its ID bit, no
    // SEL, seen by the engine through its synchroniser), then SELECT ID 3: the bus is
    // busy, so the SELECT waits for bus free. (Issued in the very cycles the target
    // starts, both would arbitrate legitimately and ID 7 would win.)
    let mut arbitrating = 0;
    s.run_until(5_000_000, "target arbitration", |s| {
        if s.val.has(ctl::BSY) && !s.val.any(ctl::SEL) && s.val.data & (1 << 2) != 0 {
            arbitrating += 1;
        } else {
            arbitrating = 0;
        }
        arbitrating >= 10
    });
    let (r0, d0, t0) = (s.ev.reselected, s.ev.done, s.ev.sel_timeout);
    s.target = 3;
    s.cmd = Some(pcmd::SELECT | pcmd::F_ATN);
    s.step();
    s.run_until(5_000_000, "reselection", |s| s.ev.reselected > r0);
    s.run(2);
    assert_eq!(
        s.ev.done,
        d0 + 1,
        "the abandoned SELECT ends with one cmd_done"
    );
    assert_eq!(s.ev.sel_timeout, t0, "no selection timeout");
    assert!(s.connected());
    assert_eq!(s.uut.resel_id.val().index(), 2);
    assert!(!s.uut.busy.val());
    // Finish the reselected command (implied RESTORE POINTERS: offset 0).
    s.load_off = Some(0);
    s.step();
    s.load_cnt = Some(c.len);
    s.step();
    let mut out = Outcome::default();
    command_phases(&mut s, &c, &mut out, Vec::new());
    assert_eq!(out.status, Some(0));
    assert_eq!(disk_data(&mut s, h, 8, 2), data);
    let log = s.bus.monitor.log_text();
    assert!(!log.contains("ID7->ID3"), "we never selected ID 3:\n{log}");
    s.assert_clean();
}

/// In a synchronous DATA IN phase the byte commands end at once (its REQs belong to the
/// offset counter) and a bit-bucket DMA (`F_DISCARD`) drains the excess without writing
/// card memory or being limited by the window.
#[test]
fn sync_overrun_is_drained_by_a_bit_bucket_dma() {
    let mut s = Sim::new(Width::Narrow, 37);
    let h = s.add_disk(disk_cfg(2), 64);
    let mode = negotiate(&mut s, 2, false, Some((0x19, 8)));
    let data = seed_blocks(&mut s, h, 2, 41, mode);
    s.fill(0x3000, &[0xC3; 1100]);
    s.xfer_mode = mode;
    s.target = 2;
    s.window_base = 0x3000;
    s.window_len = 1000;
    s.load_off = Some(0);
    s.step();
    s.load_cnt = Some(1000);
    s.step();
    s.command(pcmd::SELECT | pcmd::F_ATN);
    let cdb = rw10(opcode::READ_10, 2, 2);
    let mut msg_out = vec![msg::IDENTIFY];
    loop {
        match s.wait_req() {
            Some(ph::MSG_OUT) => {
                let b = msg_out.remove(0);
                s.send(b, pcmd::F_LAST);
            }
            Some(ph::COMMAND) => {
                for &b in &cdb {
                    s.wait_req();
                    s.send(b, 0);
                }
            }
            Some(ph::DATA_IN) => break,
            p => panic!("phase {p:?}"),
        }
    }
    s.command(pcmd::DMA);
    assert_eq!(s.uut.xfer_count.val().index(), 0);
    // A byte command here ends at once, with no ACK on the bus.
    let t0 = s.cycle;
    s.command(pcmd::RECV_BYTE);
    assert!(
        s.cycle - t0 < 10,
        "RECV_BYTE in a sync phase must end at once"
    );
    assert!(!s.uut.ack_oe.val());
    // The bit bucket takes the remaining 24 bytes and stops at STATUS.
    s.load_cnt = Some(1000);
    s.step();
    s.command(pcmd::DMA | pcmd::F_DISCARD);
    assert_eq!(
        s.uut.xfer_count.val().index(),
        1000 - 24,
        "24 bytes drained"
    );
    assert!(
        !s.uut.mem_req.val(),
        "no memory request from the bit bucket"
    );
    let c = Cmd {
        cdb: &cdb,
        base: 0x3000,
        len: 1000,
        mode_after: mode,
        ..Cmd::default()
    };
    let mut out = Outcome::default();
    command_phases(&mut s, &c, &mut out, Vec::new());
    assert_eq!(out.status, Some(0));
    assert_eq!(s.read_mem(0x3000, 1000), data[..1000].to_vec());
    assert_eq!(
        s.read_mem(0x3000 + 1000, 100),
        vec![0xC3; 100],
        "nothing beyond the window"
    );
    s.assert_clean();
}

/// A target that ignores the agreed offset: the REQ beyond it is a protocol error
/// (`ev_offset_err`), not counted (no wrap of the outstanding count), and the DMA ends;
/// a BUS_RESET written while the DMA still runs ends it (and the connection).
#[test]
fn sync_offset_overrun_is_detected_and_reset_recovers() {
    let mut s = Sim::new(Width::Narrow, 21);
    let mut cfg = disk_cfg(2);
    cfg.quirks.ignore_offset = true;
    let h = s.add_disk(cfg, 512);
    negotiate(&mut s, 2, false, Some((0x0C, 4)));
    let _ = h;
    s.target = 2;
    s.window_base = 0x1000;
    s.window_len = 8192;
    s.load_off = Some(0);
    s.step();
    s.load_cnt = Some(8192);
    s.step();
    s.command(pcmd::SELECT | pcmd::F_ATN);
    let cdb = rw10(opcode::READ_10, 0, 16);
    let mut i = 0;
    let mut out = vec![msg::IDENTIFY];
    loop {
        match s.wait_req() {
            Some(ph::MSG_OUT) => {
                let b = out.pop().unwrap_or(msg::NOP);
                s.send(b, pcmd::F_LAST);
            }
            Some(ph::COMMAND) => {
                s.send(cdb[i], 0);
                i += 1;
            }
            Some(ph::DATA_IN) => break,
            p => panic!("phase {p:?}\n{}", s.log_tail()),
        }
    }
    // Late DMA: the target's REQs pile up beyond the offset (with the DMA running at
    // once, our ACKs keep pace with its REQs and it never gets ahead). The DMA ends by
    // itself once the target overran the offset.
    s.run(300);
    s.command(pcmd::DMA);
    assert!(s.ev.offset_err >= 1, "no ev_offset_err\n{}", s.log_tail());
    assert!(s.uut.xfer_count.val().index() > 0, "the DMA stopped early");
    assert!(s.connected());
    // Only a bus reset recovers the bus.
    let r = s.ev.bus_reset;
    s.command(pcmd::BUS_RESET);
    assert!(s.ev.bus_reset > r);
    assert!(!s.connected());
    // BUS_RESET is accepted at once even while a command runs (here a SELECT of an
    // absent ID): that command ends (one cmd_done) and RST goes out.
    s.run(200_000);
    s.target = 5;
    let done = s.ev.done;
    s.cmd = Some(pcmd::SELECT);
    s.step();
    s.run(5_000);
    assert!(s.uut.busy.val() && s.ev.done == done);
    let r = s.ev.bus_reset;
    s.cmd = Some(pcmd::BUS_RESET);
    s.step();
    s.run_until(10_000, "RST", |s| s.ev.bus_reset > r);
    assert_eq!(s.ev.done, done + 1, "the SELECT ended");
    s.run_until(10_000, "RST released", |s| !s.uut.busy.val());
    assert_eq!(s.ev.sel_timeout, 0);
    assert!(s.bus.monitor.rules_violated().iter().all(|r| matches!(
        r,
        scsi_bus::Rule::SyncOffset | scsi_bus::Rule::HandshakeOrder
    )));
}
