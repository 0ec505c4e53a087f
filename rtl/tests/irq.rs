//! The interrupt contract with the XDMA IP, on the whole core in rust-hdl's simulator.
//!
//! PG195 (XDMA, "User Interrupts"): `usr_irq_req` is asserted to request an interrupt
//! and must stay asserted until the IP answers `usr_irq_ack` (the MSI has been sent);
//! a request dropped before its ack is a protocol violation and the interrupt may be
//! lost. The core drops its request for one cycle after an `IRQ_CAUSE` write so that a
//! cause still pending makes a fresh edge (one MSI per edge); that drop must wait until
//! no ack is pending. The harness plays the IP: it acks `ACK_DELAY` cycles after each
//! rising edge and checks every cycle that the request held until then.

use hba_abi::isa::{enc_j, op};
use hba_abi::regs::{self, irq};
use hba_rtl::HbaCore;
use rust_hdl::prelude::*;

/// Cycles from a rising `usr_irq_req` to the IP's one-cycle `usr_irq_ack`. Long enough
/// that an AXI-Lite write (a few cycles) fits inside the window.
const ACK_DELAY: u32 = 24;

struct Rig {
    uut: HbaCore,
    /// Request level seen at the previous clock edge.
    req_prev: bool,
    /// Cycles since the rising edge whose ack is still due.
    ack_due_in: Option<u32>,
    /// Rising edges seen (MSIs the IP would send).
    edges: u32,
    /// Acks given.
    acks: u32,
    /// Requests dropped while an ack was due (must stay 0).
    early_drops: u32,
    /// Drive acks at all (false: the IP never answers, e.g. to test the hold).
    ack_enabled: bool,
}

impl Rig {
    fn new() -> Self {
        // The sequencer spins on one jump: the test is about the register block.
        let mut uut = HbaCore::new(&[enc_j(op::JMP, 0)]);
        uut.connect_all();
        let mut rig = Rig {
            uut,
            req_prev: false,
            ack_due_in: None,
            edges: 0,
            acks: 0,
            early_drops: 0,
            ack_enabled: true,
        };
        rig.uut.reset.next = true;
        for _ in 0..4 {
            rig.tick();
        }
        rig.uut.reset.next = false;
        rig.tick();
        rig
    }

    /// One clock cycle with the IP's side of the handshake.
    fn tick(&mut self) {
        // The ack for a pending edge, one cycle wide, when its delay has run out.
        let ack = match self.ack_due_in {
            Some(0) if self.ack_enabled => {
                self.ack_due_in = None;
                self.acks += 1;
                true
            }
            _ => false,
        };
        self.uut.usr_irq_ack.next = ack;
        self.uut.clock.next = Clock { clk: false };
        assert!(simulate(&mut self.uut, 200));
        self.uut.clock.next = Clock { clk: true };
        assert!(simulate(&mut self.uut, 200));
        self.uut.usr_irq_ack.next = false;
        let req = self.uut.usr_irq_req.val();
        if req && !self.req_prev && self.ack_due_in.is_none() && !ack {
            self.edges += 1;
            self.ack_due_in = Some(ACK_DELAY);
        } else if !req && self.ack_due_in.is_some() {
            // Dropped before the ack: the IP would have lost track of this request.
            self.early_drops += 1;
            self.ack_due_in = None;
        } else if let Some(n) = self.ack_due_in.as_mut() {
            *n = n.saturating_sub(1);
        }
        self.req_prev = req;
    }

    fn cycles(&mut self, n: u32) {
        for _ in 0..n {
            self.tick();
        }
    }

    /// AXI4-Lite write with AW and W together; returns BRESP.
    fn write(&mut self, addr: u32, data: u32) -> u32 {
        let u = &mut self.uut;
        u.s_axil_awaddr.next = (addr as u64).into();
        u.s_axil_awvalid.next = true;
        u.s_axil_wdata.next = (data as u64).into();
        u.s_axil_wstrb.next = 0xF.into();
        u.s_axil_wvalid.next = true;
        u.s_axil_bready.next = true;
        let (mut aw, mut w) = (true, true);
        for _ in 0..32 {
            // Ready is registered: what it shows before the edge is what the edge takes.
            let aw_hs = aw && self.uut.s_axil_awready.val();
            let w_hs = w && self.uut.s_axil_wready.val();
            let b = self.uut.s_axil_bvalid.val();
            let bresp = self.uut.s_axil_bresp.val().index() as u32;
            self.tick();
            if aw_hs {
                aw = false;
                self.uut.s_axil_awvalid.next = false;
            }
            if w_hs {
                w = false;
                self.uut.s_axil_wvalid.next = false;
            }
            if b {
                self.uut.s_axil_bready.next = false;
                return bresp;
            }
        }
        panic!("AXI-Lite write to {addr:#x} got no response");
    }

    fn req(&self) -> bool {
        self.uut.usr_irq_req.val()
    }
}

#[test]
fn request_holds_until_ack_across_cause_writes() {
    let mut r = Rig::new();
    assert_eq!(r.write(regs::IRQ_ENABLE, irq::TEST), 0);
    assert_eq!(r.write(regs::IRQ_SET, irq::TEST), 0);
    r.cycles(2);
    assert!(r.req(), "IRQ_SET of an enabled cause raises the request");
    assert_eq!(r.edges, 1);
    // The host clears a cause that is not set while the MSI is still in flight (a
    // polling host does this): before the fix the request dropped for one cycle here.
    assert_eq!(r.write(regs::IRQ_CAUSE, irq::CQ), 0);
    r.cycles(2);
    assert!(r.req(), "a cause is still pending");
    // And clears everything before the ack: the request still holds until the ack.
    assert_eq!(r.write(regs::IRQ_CAUSE, irq::ALL), 0);
    r.cycles(2);
    assert!(r.ack_due_in.is_some(), "the ack has not come yet");
    assert!(
        r.req(),
        "held with no cause left, because the ack is still due"
    );
    r.cycles(ACK_DELAY + 4);
    assert_eq!(r.acks, 1);
    assert!(!r.req(), "released after the ack, nothing pending");
    assert_eq!(r.early_drops, 0, "usr_irq_req dropped before usr_irq_ack");
    assert_eq!(r.edges, 1);
}

#[test]
fn rearm_after_ack_still_makes_a_fresh_edge() {
    let mut r = Rig::new();
    r.write(regs::IRQ_ENABLE, irq::TEST);
    r.write(regs::IRQ_SET, irq::TEST);
    r.cycles(ACK_DELAY + 4);
    assert_eq!((r.edges, r.acks), (1, 1));
    assert!(
        r.req(),
        "level held after the ack while the cause is pending"
    );
    // Now no ack is pending: a write to IRQ_CAUSE that leaves a cause set drops the
    // request for one cycle, so the IP sees a new edge and sends another MSI.
    r.write(regs::IRQ_CAUSE, irq::CQ);
    r.cycles(4);
    assert!(r.req());
    assert_eq!(r.edges, 2, "the re-arm drop made a second edge");
    r.cycles(ACK_DELAY + 4);
    assert_eq!(r.acks, 2);
    assert_eq!(r.early_drops, 0);
    // Clearing the last cause releases the request.
    r.write(regs::IRQ_CAUSE, irq::ALL);
    r.cycles(2);
    assert!(!r.req());
}

#[test]
fn soft_reset_keeps_an_unacked_request() {
    let mut r = Rig::new();
    r.write(regs::IRQ_ENABLE, irq::TEST);
    r.write(regs::IRQ_SET, irq::TEST);
    r.cycles(2);
    assert!(r.req());
    // Soft reset clears causes and enables, but an MSI in flight still gets its ack.
    r.write(regs::CONTROL, regs::control::SOFT_RESET);
    r.cycles(2);
    assert!(r.req(), "held through soft reset until the ack");
    r.cycles(ACK_DELAY + 4);
    assert!(!r.req());
    assert_eq!((r.edges, r.acks, r.early_drops), (1, 1, 0));
}

#[test]
fn request_without_ack_never_drops() {
    // The IP never answers (e.g. interrupts disabled in the driver): the request must
    // stay up whatever the host writes.
    let mut r = Rig::new();
    r.ack_enabled = false;
    r.write(regs::IRQ_ENABLE, irq::TEST);
    r.write(regs::IRQ_SET, irq::TEST);
    for _ in 0..3 {
        r.write(regs::IRQ_CAUSE, irq::ALL);
        r.write(regs::IRQ_SET, irq::TEST);
    }
    r.cycles(8);
    assert!(r.req());
    assert_eq!((r.edges, r.early_drops), (1, 0));
}
