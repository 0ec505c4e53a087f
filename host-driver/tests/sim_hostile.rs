//! The SIM against a card that lies: a stand-in transport whose completion ring the test
//! writes, with valid answers mixed with garbage (unknown types, slots out of range or
//! not outstanding, second completions, lengths beyond the request, all-ones reads).
//! Whatever comes, the SIM never panics, never completes a CCB twice, resets the
//! controller on garbage, and in the end every CCB completes exactly once.

use hba_abi::layout::{self, cqe, hba_status, hcb};
use hba_abi::{mem, regs};
use hba_cam::ccb::{Cdb, DataBuf, DataXfer};
use hba_cam::xpt::{Completion, XptLog};
use hba_cam::{CamStatus, Ccb, Clock, DevAddr, Xpt};
use hba_host_driver::sim::card::{self, CardClock};
use hba_host_driver::sim::{HbaSim, SimConfig, SimLog};
use hba_host_driver::transport::LinkCost;
use hba_host_driver::{Transport, TransportError};
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::time::Duration;

/// A card made of memory: registers the SIM reads behave like the core's, the firmware
/// is the test.
struct FakeCard {
    regs: HashMap<u32, u32>,
    mem: Vec<u8>,
    t_ns: u64,
    prod: u32,
    phase: bool,
    sq_seen: u32,
    /// Slots posted by the SIM and not answered yet.
    live: BTreeSet<u32>,
    /// When set, every register read returns all ones (link down).
    dead_link: bool,
}

impl FakeCard {
    fn new() -> Self {
        FakeCard {
            regs: HashMap::new(),
            mem: vec![0; mem::CARD_MEM_BYTES as usize],
            t_ns: 0,
            prod: 0,
            phase: true,
            sq_seen: 0,
            live: BTreeSet::new(),
            dead_link: false,
        }
    }

    fn word(&self, a: u32) -> u32 {
        let a = a as usize;
        u32::from_le_bytes(self.mem[a..a + 4].try_into().unwrap())
    }

    fn set_word(&mut self, a: u32, v: u32) {
        let a = a as usize;
        self.mem[a..a + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// Posts an entry as the hardware does: words 1..3, then word 0 with the phase.
    fn post(&mut self, w: [u32; 4]) {
        let at = layout::cqe_addr(self.prod);
        for (i, x) in w.iter().enumerate().skip(1) {
            self.set_word(at + 4 * i as u32, *x);
        }
        let p = if self.phase { cqe::PHASE } else { 0 };
        self.set_word(at, (w[0] & !cqe::PHASE) | p);
        self.prod = (self.prod + 1) % layout::CQ_ENTRIES;
        if self.prod == 0 {
            self.phase = !self.phase;
        }
    }

    fn complete(&mut self, slot: u32, status: u32) {
        self.live.remove(&slot);
        self.post([cqe::word0(cqe::kind::COMPLETION, status, 0, slot), 0, 0, 0]);
    }

    fn soft_reset(&mut self) {
        self.prod = 0;
        self.phase = true;
        self.sq_seen = 0;
        self.live.clear();
    }
}

impl Transport for FakeCard {
    fn reg_read(&mut self, off: u32) -> Result<u32, TransportError> {
        self.t_ns += 1_000;
        if self.dead_link {
            return Ok(u32::MAX);
        }
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
        self.t_ns += 100;
        match off {
            regs::CONTROL if v & regs::control::SOFT_RESET != 0 => self.soft_reset(),
            regs::SCSI_CTRL if v & regs::scsi_ctrl::BUS_RESET != 0 => {
                // The firmware ends what is live and reports the reset.
                for s in std::mem::take(&mut self.live) {
                    self.complete(s, hba_status::BUS_RESET);
                }
                self.post([cqe::word0(cqe::kind::BUS_RESET, 0, 0, 0), 0, 0, 0]);
            }
            regs::SQ_DOORBELL => {
                while self.sq_seen != v & 0xFF {
                    let s = self.word(layout::SQ + 4 * self.sq_seen) & 0xFF;
                    self.live.insert(s);
                    self.sq_seen = (self.sq_seen + 1) % layout::SQ_ENTRIES;
                }
            }
            regs::SEQ_MAILBOX => {
                let req = v >> layout::mailbox::REQ_SHIFT;
                let arg = v & layout::mailbox::ARG_MASK;
                if req == layout::mailbox::ABORT && self.live.contains(&arg) {
                    self.complete(arg, hba_status::ABORTED);
                } else if req == layout::mailbox::BUS_DEVICE_RESET {
                    let hit: Vec<u32> = self
                        .live
                        .iter()
                        .copied()
                        .filter(|s| self.word(layout::hcb_addr(*s) + hcb::CTRL) & 0xF == arg)
                        .collect();
                    for s in hit {
                        self.complete(s, hba_status::BDR_SENT);
                    }
                    self.post([cqe::word0(cqe::kind::NEGOTIATED, 0, 0, 0), 0, 0, arg]);
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
        self.t_ns += 30_000;
        self.mem[a as usize..a as usize + d.len()].copy_from_slice(d);
        Ok(())
    }

    fn dma_read(&mut self, a: u64, b: &mut [u8]) -> Result<(), TransportError> {
        self.t_ns += 30_000;
        b.copy_from_slice(&self.mem[a as usize..a as usize + b.len()]);
        Ok(())
    }

    fn wait_irq(&mut self, timeout: Duration) -> Result<bool, TransportError> {
        self.t_ns += timeout.as_nanos() as u64;
        Ok(false)
    }

    fn now(&self) -> Duration {
        Duration::from_nanos(self.t_ns)
    }

    fn name(&self) -> String {
        "fake".into()
    }

    fn link_cost(&self) -> LinkCost {
        LinkCost::default()
    }
}

fn cfg() -> SimConfig {
    SimConfig {
        firmware: None,
        reset_bus: false,
        ..SimConfig::cosim()
    }
}

type Card = hba_host_driver::sim::card::CardHandle<FakeCard>;

fn stack() -> (
    Xpt,
    Card,
    Rc<std::cell::RefCell<hba_host_driver::sim::SimReport>>,
) {
    let card = card::share(FakeCard::new());
    let sim = HbaSim::attach(card.clone(), cfg()).expect("attach to the fake card");
    let report = sim.report();
    let mut xpt = Xpt::with_clock(Rc::new(CardClock::new(card.clone())));
    let p = sim.params();
    xpt.register_sim(Box::new(sim), p);
    xpt.run_until_idle();
    (xpt, card, report)
}

fn read(xpt: &mut Xpt, target: u32) -> hba_cam::CcbId {
    let c = Ccb::scsi_io(
        DevAddr::new(hba_cam::BusId(0), target, 0).path(),
        Cdb::new(&[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]).unwrap(),
        DataXfer::In(DataBuf::Single(vec![0; 512])),
        Duration::from_secs(5),
    );
    let mut c = c;
    c.h.tag_action = hba_cam::ccb::TagAction::Simple;
    xpt.submit(c, Completion::Queue)
}

fn spurious(xpt: &Xpt) -> usize {
    xpt.log()
        .iter()
        .filter(|l| matches!(l, XptLog::SpuriousDone { .. }))
        .count()
}

#[derive(Clone, Debug)]
enum Op {
    Submit(u8),
    Answer(u8, u8),
    Garbage([u32; 4]),
    SecondAnswer,
    LongResid(u8),
    Time(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..4).prop_map(Op::Submit),
        4 => (any::<u8>(), 0u8..10).prop_map(|(s, h)| Op::Answer(s, h)),
        1 => any::<[u32; 4]>().prop_map(Op::Garbage),
        1 => Just(Op::SecondAnswer),
        1 => any::<u8>().prop_map(Op::LongResid),
        2 => (1u16..2000).prop_map(Op::Time),
    ]
}

fn run(ops: &[Op]) {
    let (mut xpt, card, report) = stack();
    let mut ids = Vec::new();
    let mut done = Vec::new();
    let mut last_answered: Option<u32> = None;
    for o in ops {
        match o {
            Op::Submit(t) => ids.push(read(&mut xpt, u32::from(*t))),
            Op::Answer(pick, h) => {
                let mut c = card.borrow_mut();
                let live: Vec<u32> = c.t.live.iter().copied().collect();
                if !live.is_empty() {
                    let s = live[*pick as usize % live.len()];
                    c.t.complete(s, u32::from(*h));
                    last_answered = Some(s);
                }
            }
            Op::Garbage(w) => card.borrow_mut().t.post(*w),
            Op::SecondAnswer => {
                if let Some(s) = last_answered {
                    card.borrow_mut().t.complete(s, hba_status::OK);
                }
            }
            Op::LongResid(pick) => {
                let mut c = card.borrow_mut();
                let live: Vec<u32> = c.t.live.iter().copied().collect();
                if !live.is_empty() {
                    let s = live[*pick as usize % live.len()];
                    c.t.live.remove(&s);
                    c.t.post([cqe::word0(cqe::kind::COMPLETION, 0, 0, s), 100_000, 0, 0]);
                }
            }
            Op::Time(us) => {
                let t = xpt.now().after(Duration::from_micros(u64::from(*us)));
                CardClock::new(card.clone()).wait_until(t);
                card.borrow_mut().irq_seen = true;
            }
        }
        card.borrow_mut().irq_seen = true;
        xpt.run_until_idle();
        done.extend(xpt.take_completed());
        assert_eq!(spurious(&xpt), 0, "a CCB was completed twice");
    }
    // Now the card behaves: answer everything until nothing is outstanding.
    for _ in 0..2000 {
        {
            let mut c = card.borrow_mut();
            let live: Vec<u32> = c.t.live.iter().copied().collect();
            for s in live {
                c.t.complete(s, hba_status::OK);
            }
            c.irq_seen = true;
        }
        xpt.run_until_idle();
        done.extend(xpt.take_completed());
        for c in &done {
            // Raw CCBs: the test is their periph and releases what it froze.
            if c.h.status.has(hba_cam::status::CAM_DEV_QFRZN) {
                let _ = xpt.release_devq(c.h.path.addr().unwrap(), 1);
            }
        }
        if ids.iter().all(|id| done.iter().any(|c| c.h.id == *id)) {
            break;
        }
        let t = xpt
            .next_deadline()
            .unwrap_or(xpt.now())
            .max(xpt.now().after(Duration::from_micros(50)));
        CardClock::new(card.clone()).wait_until(t);
    }
    for id in &ids {
        let n = done.iter().filter(|c| c.h.id == *id).count();
        assert_eq!(
            n,
            1,
            "CCB {id:?} completed {n} times; SIM log {:?}",
            report.borrow().log
        );
    }
    assert_eq!(spurious(&xpt), 0);
    assert_eq!(
        xpt.simq_frozen(hba_cam::BusId(0)),
        0,
        "SIM queue left frozen"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn a_lying_card_never_breaks_exactly_once(ops in proptest::collection::vec(op(), 1..60)) {
        run(&ops);
    }
}

#[test]
fn garbage_entry_resets_the_controller_and_returns_the_command_once() {
    let (mut xpt, card, report) = stack();
    let id = read(&mut xpt, 0);
    xpt.run_until_idle();
    xpt.run_until_idle();
    assert_eq!(card.borrow().t.live.len(), 1);
    card.borrow_mut()
        .t
        .post([cqe::word0(0x33, 0, 0, 0), 1, 2, 3]);
    card.borrow_mut().irq_seen = true;
    xpt.run_until_idle();
    let done = xpt.take_completed();
    let c = done.iter().find(|c| c.h.id == id).expect("returned");
    assert_eq!(c.h.status.status(), CamStatus::RequeueReq);
    let r = report.borrow();
    assert_eq!(r.counters.reinits, 1, "{:?}", r.log);
    assert!(r.log.iter().any(|l| matches!(l, SimLog::BadEntry(_))));
}

#[test]
fn a_second_completion_for_a_slot_is_refused() {
    let (mut xpt, card, report) = stack();
    let id = read(&mut xpt, 0);
    xpt.run_until_idle();
    xpt.run_until_idle();
    let s = *card.borrow().t.live.iter().next().unwrap();
    card.borrow_mut().t.complete(s, hba_status::OK);
    card.borrow_mut().t.complete(s, hba_status::OK);
    card.borrow_mut().irq_seen = true;
    xpt.run_until_idle();
    let done = xpt.take_completed();
    assert_eq!(done.iter().filter(|c| c.h.id == id).count(), 1);
    assert_eq!(done[0].h.status.status(), CamStatus::ReqCmp);
    assert_eq!(spurious(&xpt), 0);
    let r = report.borrow();
    assert_eq!(r.counters.late, 1);
    assert_eq!(
        r.counters.reinits, 1,
        "a second answer means the card lost track"
    );
}

#[test]
fn a_card_reading_all_ones_is_given_up_with_everything_returned() {
    let (mut xpt, card, report) = stack();
    let ids: Vec<_> = (0..3).map(|t| read(&mut xpt, t)).collect();
    xpt.run_until_idle();
    xpt.run_until_idle();
    card.borrow_mut().t.dead_link = true;
    card.borrow_mut().irq_seen = true;
    xpt.run_until_idle();
    let done = xpt.take_completed();
    for id in ids {
        let c = done.iter().find(|c| c.h.id == id).expect("returned");
        assert_eq!(c.h.status.status(), CamStatus::NoHba);
    }
    assert!(report.borrow().dead);
}
