//! Host stack cost (issue 18, section 4): CCBs per second on one core through CAM + our
//! SIM (`hba_host_driver::sim::HbaSim`) over a transport that completes every command
//! at once and costs nothing (a card made of memory that answers each doorbell with
//! GOOD completions), beside CAM alone over a SIM that completes inside `action` (what
//! `hba-cam`'s `null_sim` bench measures). Criterion drives warm-up and sampling; every
//! sample's rate is recorded for `make bench`'s report (`BENCH_JSON`).
//!
//! Only wall time on the host is measured here: no Verilator, no simulated link cost.

use criterion::{BenchmarkId, Criterion, Throughput};
use hba_abi::layout::{self, cqe};
use hba_abi::{mem, regs};
use hba_bench::{record, Figure};
use hba_cam::ccb::{Cdb, DataBuf, DataXfer, TagAction};
use hba_cam::sim::{Sim, SimCtx, SimParams};
use hba_cam::xpt::Completion;
use hba_cam::{BusId, CamStatus, Ccb, DevAddr, SimClock, Xpt};
use hba_host_driver::sim::card::{self, CardClock, CardHandle};
use hba_host_driver::sim::{HbaSim, SimConfig};
use hba_host_driver::transport::LinkCost;
use hba_host_driver::{Transport, TransportError};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A card that completes every posted slot with GOOD as the doorbell is written.
struct InstantCard {
    regs: HashMap<u32, u32>,
    mem: Vec<u8>,
    t_ns: u64,
    prod: u32,
    phase: bool,
    sq_seen: u32,
    /// Entries posted since the last interrupt wait (the interrupt line).
    pending: bool,
}

impl InstantCard {
    fn new() -> Self {
        InstantCard {
            regs: HashMap::new(),
            mem: vec![0; mem::CARD_MEM_BYTES as usize],
            t_ns: 0,
            prod: 0,
            phase: true,
            sq_seen: 0,
            pending: false,
        }
    }

    fn word(&self, a: u32) -> u32 {
        let a = a as usize;
        u32::from_le_bytes(self.mem[a..a + 4].try_into().expect("4 bytes"))
    }

    fn set_word(&mut self, a: u32, v: u32) {
        let a = a as usize;
        self.mem[a..a + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// Posts a GOOD completion for `slot` as the hardware does: word 0 (with the phase)
    /// last.
    fn complete(&mut self, slot: u32) {
        let at = layout::cqe_addr(self.prod);
        for i in 1..4 {
            self.set_word(at + 4 * i, 0);
        }
        let p = if self.phase { cqe::PHASE } else { 0 };
        self.set_word(at, cqe::word0(cqe::kind::COMPLETION, 0, 0, slot) | p);
        self.prod = (self.prod + 1) % layout::CQ_ENTRIES;
        if self.prod == 0 {
            self.phase = !self.phase;
        }
        self.pending = true;
    }
}

impl Transport for InstantCard {
    fn reg_read(&mut self, off: u32) -> Result<u32, TransportError> {
        // Time moves a little with every access so that the SIM's clock is monotonic.
        self.t_ns += 1;
        Ok(match off {
            regs::ID => hba_abi::MAGIC,
            regs::VERSION => hba_abi::version_word(),
            regs::CAPS => regs::caps::PRESENT,
            regs::MEM_SIZE => mem::CARD_MEM_BYTES,
            regs::SEQ_STATUS => regs::seq_status::RUNNING | regs::seq_status::WAITING,
            regs::CQ_PRODUCER => self.prod | if self.phase { 1 << 31 } else { 0 },
            o if o >= mem::CARD_MEM_WINDOW => self.word(o - mem::CARD_MEM_WINDOW),
            o => self.regs.get(&o).copied().unwrap_or(0),
        })
    }

    fn reg_write(&mut self, off: u32, v: u32) -> Result<(), TransportError> {
        self.t_ns += 1;
        match off {
            regs::CONTROL if v & regs::control::SOFT_RESET != 0 => {
                self.prod = 0;
                self.phase = true;
                self.sq_seen = 0;
            }
            regs::SQ_DOORBELL => {
                while self.sq_seen != v & 0xFF {
                    let s = self.word(layout::SQ + 4 * self.sq_seen) & 0xFF;
                    self.complete(s);
                    self.sq_seen = (self.sq_seen + 1) % layout::SQ_ENTRIES;
                }
            }
            o if o >= mem::CARD_MEM_WINDOW => self.set_word(o - mem::CARD_MEM_WINDOW, v),
            o => {
                self.regs.insert(o, v);
            }
        }
        Ok(())
    }

    fn dma_write(&mut self, a: u64, d: &[u8]) -> Result<(), TransportError> {
        self.t_ns += 1;
        self.mem[a as usize..a as usize + d.len()].copy_from_slice(d);
        Ok(())
    }

    fn dma_read(&mut self, a: u64, b: &mut [u8]) -> Result<(), TransportError> {
        self.t_ns += 1;
        b.copy_from_slice(&self.mem[a as usize..a as usize + b.len()]);
        Ok(())
    }

    fn wait_irq(&mut self, timeout: Duration) -> Result<bool, TransportError> {
        if std::mem::take(&mut self.pending) {
            return Ok(true);
        }
        self.t_ns += timeout.as_nanos() as u64;
        Ok(false)
    }

    fn now(&self) -> Duration {
        Duration::from_nanos(self.t_ns)
    }

    fn name(&self) -> String {
        "instant".into()
    }

    fn link_cost(&self) -> LinkCost {
        LinkCost::FREE
    }
}

/// The XPT with our SIM attached to an instant card, `devices` targets with 64 openings.
fn hba_stack(devices: u32) -> (Xpt, CardHandle<InstantCard>, Vec<DevAddr>) {
    let card = card::share(InstantCard::new());
    let cfg = SimConfig {
        firmware: None,
        reset_bus: false,
        ..SimConfig::cosim()
    };
    let sim = HbaSim::attach(card.clone(), cfg).expect("attach to the instant card");
    let mut xpt = Xpt::with_clock(Rc::new(CardClock::new(card.clone())));
    let p = sim.params();
    let bus = xpt.register_sim(Box::new(sim), p);
    xpt.run_until_idle();
    let addrs: Vec<DevAddr> = (0..devices).map(|t| DevAddr::new(bus, t, 0)).collect();
    for a in &addrs {
        xpt.set_dev_openings(*a, 64).expect("openings");
    }
    (xpt, card, addrs)
}

/// Completes every CCB inside `action` (CAM alone).
struct NullSim;

impl Sim for NullSim {
    fn action(&mut self, mut ccb: Ccb, ctx: &mut SimCtx<'_>) {
        ccb.set_status(CamStatus::ReqCmp, 0);
        ctx.done(ccb);
    }
    fn poll(&mut self, _ctx: &mut SimCtx<'_>) {}
}

fn null_stack(devices: u32) -> (Xpt, Vec<DevAddr>) {
    let mut xpt = Xpt::new(SimClock::new());
    let params = SimParams {
        simq_size: 256,
        max_dev_transactions: 64,
        ..SimParams::default()
    };
    let bus: BusId = xpt.register_sim(Box::new(NullSim), params);
    let addrs: Vec<DevAddr> = (0..devices).map(|t| DevAddr::new(bus, t, 0)).collect();
    for a in &addrs {
        xpt.set_dev_openings(*a, 64).expect("openings");
    }
    (xpt, addrs)
}

/// A tagged CCB: READ(10) of `bytes` (0: TEST UNIT READY).
fn ccb(a: DevAddr, bytes: usize) -> Ccb {
    let (cdb, data) = if bytes == 0 {
        (Cdb::new(&[0; 6]).expect("cdb"), DataXfer::None)
    } else {
        let blocks = (bytes / 512) as u8;
        (
            Cdb::new(&[0x28, 0, 0, 0, 0, 0, 0, 0, blocks, 0]).expect("cdb"),
            DataXfer::In(DataBuf::Single(vec![0; bytes])),
        )
    };
    let mut c = Ccb::scsi_io(a.path(), cdb, data, Duration::from_secs(10));
    c.h.tag_action = TagAction::Simple;
    c
}

/// One batch through CAM + SIM: submit, dispatch to the card, service the ring.
fn hba_batch(
    xpt: &mut Xpt,
    card: &CardHandle<InstantCard>,
    addrs: &[DevAddr],
    batch: usize,
    bytes: usize,
) {
    for i in 0..batch {
        xpt.submit(ccb(addrs[i % addrs.len()], bytes), Completion::Queue);
    }
    let mut done = 0;
    while done < batch {
        xpt.run_until_idle();
        card.borrow_mut().irq_seen = true;
        xpt.run_until_idle();
        for c in xpt.take_completed() {
            assert!(c.status().is_ok(), "{:?}", c.status());
            done += 1;
        }
    }
}

fn null_batch(xpt: &mut Xpt, addrs: &[DevAddr], batch: usize, bytes: usize) {
    for i in 0..batch {
        xpt.submit(ccb(addrs[i % addrs.len()], bytes), Completion::Queue);
    }
    xpt.run_until_idle();
    assert_eq!(xpt.take_completed().len(), batch);
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    // (label, batch, bytes): TEST UNIT READY is the CCB alone; 4 KiB reads add moving the
    // data out of card memory once.
    let cases = [
        ("TUR, batch 1", 1usize, 0usize),
        ("TUR, batch 16", 16, 0),
        ("4 KiB read, batch 16", 16, 4096),
    ];
    let samples: Rc<RefCell<Vec<(String, String, f64)>>> = Rc::default();
    let mut g = c.benchmark_group("host_stack");
    for (label, batch, bytes) in cases {
        g.throughput(Throughput::Elements(batch as u64));
        let s = samples.clone();
        g.bench_function(BenchmarkId::new("cam+sim", label), |b| {
            let (mut xpt, card, addrs) = hba_stack(4);
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    hba_batch(&mut xpt, &card, &addrs, batch, bytes);
                }
                let e = t.elapsed();
                let rate = (iters * batch as u64) as f64 / e.as_secs_f64();
                s.borrow_mut()
                    .push((label.into(), "CAM + SIM".into(), rate));
                e
            });
        });
        let s = samples.clone();
        g.bench_function(BenchmarkId::new("cam", label), |b| {
            let (mut xpt, addrs) = null_stack(4);
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    null_batch(&mut xpt, &addrs, batch, bytes);
                }
                let e = t.elapsed();
                let rate = (iters * batch as u64) as f64 / e.as_secs_f64();
                s.borrow_mut()
                    .push((label.into(), "CAM alone (null SIM)".into(), rate));
                e
            });
        });
    }
    g.finish();
    c.final_summary();
    // Criterion's warm-up calls land here too; its samples are the last `sample_size`
    // calls of each benchmark.
    let all = samples.borrow();
    for (label, _, _) in cases {
        for col in ["CAM + SIM", "CAM alone (null SIM)"] {
            let v: Vec<f64> = all
                .iter()
                .filter(|(l, c, _)| l == label && c == col)
                .map(|(_, _, r)| *r)
                .collect();
            let v = v[v.len().saturating_sub(20)..].to_vec();
            record(
                &Figure::new(
                    "host",
                    "CCBs per second on one core (instant transport)",
                    label,
                    col,
                    "CCBs/s",
                )
                .values(v),
            );
        }
    }
}
