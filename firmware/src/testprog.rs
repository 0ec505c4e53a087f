//! The minimal initiator program used to prove the core end to end: one command at a
//! time, no disconnection, optional SDTR from the per-target goal table, autosense left
//! to the host. Written with the [`crate::builder`]; `tests/data/testprog.s` is the same
//! program in assembler source (a test checks they assemble to the same words). The
//! protocol firmware is `fw/main.s`.
//!
//! Flow: take a slot from the submission ring, let the hardware check the HCB, select
//! with ATN, IDENTIFY (no disconnect privilege) and SDTR when the goal asks for a
//! synchronous offset, then serve REQs by phase until COMMAND COMPLETE and bus free, and
//! post a completion entry. Selection timeout, unexpected bus free and bad HCBs post
//! their HBA status.

use crate::builder::{r, Program};
use hba_abi::isa::{ev, io, op, pcmd, phase, xmode as xm};
use hba_abi::layout::{self, cqe::kind, hba_status, hcb};

/// Trap code: the target asked for more data than the HCB's buffer holds.
pub const TRAP_OVERRUN: u32 = 2;
/// Trap code: the target agreed a synchronous period this program cannot program.
pub const TRAP_PERIOD: u32 = 3;

fn bit(mask: u32) -> u32 {
    mask.trailing_zeros()
}

/// The program's image.
pub fn image() -> Vec<u32> {
    program().build().expect("the test program builds")
}

/// The program, with its labels.
pub fn program() -> Program {
    let (ev_r, t1, t2, slot, chk, ctrl, hcb_addr, byte) =
        (r(0), r(1), r(2), r(3), r(4), r(5), r(6), r(7));
    let (ph, msg, cdb_i, xoff, xcnt, xmode, status) =
        (r(8), r(9), r(10), r(12), r(13), r(14), r(15));
    let mut p = Program::new();

    p.label("idle");
    p.wait(ev_r, ev::DOORBELL);
    p.inp(t1, io::SQ_CI);
    p.i(op::SHLI, t2, t1, 2);
    p.i(op::LDW, slot, t2, layout::SQ);
    p.i(op::ADDI, t1, t1, 1);
    p.i(op::ANDI, t1, t1, 0xFF);
    p.out(io::SQ_CI, t1);
    p.out(io::SLOT, slot);
    p.label("chk");
    p.inp(chk, io::SLOT_CHECK);
    p.beq(chk, layout::check::BUSY, "chk");
    p.bne(chk, layout::check::OK, "bad_hcb");
    p.i(op::LDWH, ctrl, r(0), hcb::CTRL);
    p.i(op::SHLI, hcb_addr, slot, 7);
    p.i(op::ADDI, hcb_addr, hcb_addr, layout::HCBS);
    p.movi(xoff, 0);
    p.i(op::LDWH, xcnt, r(0), hcb::DATA_LEN);
    p.movi(cdb_i, 0);
    p.movi(status, 0xFF);
    // The agreement must be in XFER_MODE before a data phase starts: the phase engine
    // counts synchronous REQs from the phase's first edge.
    p.movi(xmode, 0);
    p.out(io::XFER_MODE, xmode);
    p.out(io::WINDOW, xmode);
    p.i(op::ANDI, t1, ctrl, hcb::ctrl::TARGET_MASK);
    p.out(io::TARGET, t1);
    p.outi(io::PCMD, t2, pcmd::SELECT | pcmd::F_ATN);
    p.wait(ev_r, ev::CMD_DONE | ev::SEL_TIMEOUT);
    p.bs(ev_r, bit(ev::SEL_TIMEOUT), "sel_timeout");
    // IDENTIFY, no disconnect privilege.
    p.i(op::SHRI, byte, ctrl, hcb::ctrl::LUN_SHIFT);
    p.i(op::ANDI, byte, byte, hcb::ctrl::LUN_MASK);
    p.i(op::ORI, byte, byte, 0x80);
    // The host's goal for this target: offset != 0 asks for SDTR.
    p.i(op::ANDI, t1, ctrl, hcb::ctrl::TARGET_MASK);
    p.i(op::SHLI, t1, t1, 4);
    p.i(op::LDW, msg, t1, layout::TARGETS + layout::target::GOAL);
    p.i(op::SHRI, chk, msg, layout::target::OFFSET_SHIFT);
    p.i(op::ANDI, chk, chk, 0xFF);
    p.bne(chk, 0, "ident_sdtr");
    p.li(t2, pcmd::SEND_BYTE | pcmd::F_LAST);
    p.call("send_byte");
    p.jmp("phase_loop");
    p.label("ident_sdtr");
    p.li(t2, pcmd::SEND_BYTE);
    p.call("send_byte");
    for b in [0x01, 0x03, 0x01] {
        p.movi(byte, b);
        p.call("send_byte");
    }
    p.i(op::ANDI, byte, msg, layout::target::PERIOD_MASK);
    p.call("send_byte");
    p.i(op::MOV, byte, chk, 0);
    p.li(t2, pcmd::SEND_BYTE | pcmd::F_LAST);
    p.call("send_byte");

    p.label("phase_loop");
    p.wait(ev_r, ev::REQ | ev::BUS_FREE);
    p.bs(ev_r, bit(ev::BUS_FREE), "unexpected_free");
    p.i(op::SHRI, ph, ev_r, ev::PHASE_SHIFT);
    p.i(op::ANDI, ph, ph, 7);
    p.beq(ph, phase::COMMAND, "do_cmd");
    p.beq(ph, phase::DATA_IN, "do_data");
    p.beq(ph, phase::DATA_OUT, "do_data");
    p.beq(ph, phase::STATUS, "do_status");
    p.beq(ph, phase::MSG_IN, "do_msgin");
    // MESSAGE OUT we did not ask for: NO OPERATION.
    p.movi(byte, 0x08);
    p.li(t2, pcmd::SEND_BYTE | pcmd::F_LAST);
    p.call("send_byte");
    p.jmp("phase_loop");

    p.label("do_cmd");
    p.i(op::MOV, t1, hcb_addr, 0);
    p.i(op::ADD, t1, cdb_i, 0);
    p.i(op::LDB, byte, t1, hcb::CDB);
    p.i(op::ADDI, cdb_i, cdb_i, 1);
    p.li(t2, pcmd::SEND_BYTE);
    p.call("send_byte");
    p.jmp("phase_loop");

    p.label("do_data");
    p.beq(xcnt, 0, "overrun");
    p.out(io::XFER_OFFSET, xoff);
    p.out(io::XFER_COUNT, xcnt);
    p.outi(io::PCMD, t2, pcmd::DMA);
    p.wait(ev_r, ev::CMD_DONE);
    p.inp(xoff, io::XFER_OFFSET);
    p.inp(xcnt, io::XFER_COUNT);
    p.jmp("phase_loop");
    p.label("overrun");
    p.trap(TRAP_OVERRUN);

    p.label("do_status");
    p.call("recv");
    p.i(op::MOV, status, msg, 0);
    p.call("ack");
    p.jmp("phase_loop");

    p.label("do_msgin");
    p.call("recv");
    p.beq(msg, 0x00, "msg_complete");
    p.beq(msg, 0x01, "msg_ext");
    p.call("ack");
    p.jmp("phase_loop");

    p.label("msg_complete");
    p.outi(io::PCMD, t2, pcmd::EXPECT_FREE);
    p.wait(ev_r, ev::CMD_DONE);
    p.call("ack");
    p.wait(ev_r, ev::BUS_FREE);
    p.outi(io::EV_CLEAR, t1, ev::BUS_FREE | ev::UNEXP_FREE);
    p.movi(t1, hba_status::OK);
    p.jmp("post");

    // Extended message: length, code, then (SDTR) period and offset.
    p.label("msg_ext");
    p.call("ack");
    p.call("recv"); // length
    p.call("ack");
    p.call("recv"); // code
    p.call("ack");
    p.call("recv"); // period
    p.i(op::MOV, chk, msg, 0);
    p.call("ack");
    p.call("recv"); // offset
    p.i(op::MOV, xmode, msg, 0);
    p.call("ack");
    p.beq(xmode, 0, "phase_loop");
    p.beq(chk, 0x0C, "fast20");
    p.beq(chk, 0x19, "fast10");
    p.trap(TRAP_PERIOD);
    p.label("fast20");
    p.i(op::ORI, xmode, xmode, 5 << xm::PERIOD_SHIFT);
    p.out(io::XFER_MODE, xmode);
    p.jmp("phase_loop");
    p.label("fast10");
    p.i(op::ORI, xmode, xmode, 10 << xm::PERIOD_SHIFT);
    p.out(io::XFER_MODE, xmode);
    p.jmp("phase_loop");

    p.label("sel_timeout");
    p.outi(io::EV_CLEAR, t1, ev::SEL_TIMEOUT | ev::CMD_DONE);
    p.movi(status, 0);
    p.movi(t1, hba_status::SEL_TIMEOUT);
    p.jmp("post");
    p.label("unexpected_free");
    p.outi(io::EV_CLEAR, t1, ev::BUS_FREE | ev::UNEXP_FREE);
    p.movi(t1, hba_status::UNEXP_BUS_FREE);
    p.jmp("post");
    p.label("bad_hcb");
    p.out(io::CQ_W3, chk);
    p.movi(xcnt, 0);
    p.movi(status, 0);
    p.movi(t1, hba_status::BAD_HCB);
    p.jmp("post_w3_set");

    // Post: t1 = HBA status; residual in xcnt, SCSI status in status, slot in slot.
    p.label("post");
    p.movi(t2, 0);
    p.out(io::CQ_W3, t2);
    p.label("post_w3_set");
    p.out(io::CQ_W1, xcnt);
    p.movi(t2, 0);
    p.out(io::CQ_W2, t2);
    p.i(op::SHLI, t1, t1, 16);
    p.i(op::SHLI, t2, status, 8);
    p.i(op::OR, t1, t2, 0);
    p.i(op::OR, t1, slot, 0);
    p.li(t2, kind::COMPLETION << 24);
    p.i(op::OR, t1, t2, 0);
    p.out(io::CQ_POST, t1);
    p.jmp("idle");

    // Subroutines. send_byte: byte in r7, command word in r2.
    p.label("send_byte");
    p.wait(ev_r, ev::REQ);
    p.out(io::BUS_DATA, byte);
    p.out(io::PCMD, t2);
    p.wait(ev_r, ev::CMD_DONE);
    p.ret();
    // recv: the byte of the current IN phase into r9 (not acknowledged).
    p.label("recv");
    p.wait(ev_r, ev::REQ);
    p.outi(io::PCMD, t2, pcmd::RECV_BYTE);
    p.wait(ev_r, ev::CMD_DONE);
    p.inp(msg, io::BUS_DATA);
    p.i(op::ANDI, msg, msg, 0xFF);
    p.ret();
    // ack: acknowledge the received byte.
    p.label("ack");
    p.outi(io::PCMD, t2, pcmd::ACK);
    p.wait(ev_r, ev::CMD_DONE);
    p.ret();
    p
}
