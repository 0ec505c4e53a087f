//! Block tests of the HBA core's host interface, on the Verilator model of the real RTL:
//! the register map against `hba-abi`, AXI4-Lite channel semantics, card memory through
//! both ports, and the XDMA interrupt handshake.

use hba_abi::{axi, mem, regs};
use hba_verif::model::{Model, ModelError};

/// A model whose sequencer is halted: tests that use card memory as plain RAM must not
/// race the firmware, which owns its scratch area and the HCBs' firmware words.
fn quiet_model() -> Model {
    let mut m = Model::new();
    m.axil_write(regs::SEQ_CTRL, 0).unwrap();
    while m.axil_read(regs::SEQ_STATUS).unwrap() & regs::seq_status::RUNNING != 0 {}
    m
}

fn slverr<T>(r: &Result<T, ModelError>) -> bool {
    matches!(r, Err(ModelError::SlvErr { .. }))
}

#[test]
fn every_register_reads_its_reset_value_from_the_contract() {
    let mut m = Model::new();
    for r in regs::REGISTERS {
        let v = m
            .axil_read(r.offset)
            .unwrap_or_else(|e| panic!("{}: {e}", r.name));
        if let Some(reset) = r.reset {
            assert_eq!(v, reset, "{} at {:#x}", r.name, r.offset);
        }
    }
}

#[test]
fn access_types_behave_as_the_contract_says() {
    let mut m = Model::new();
    for r in regs::REGISTERS {
        let before = m.axil_read(r.offset).unwrap();
        let w = m.axil_write(r.offset, 0);
        match r.access {
            regs::Access::Ro => {
                assert!(
                    slverr(&w),
                    "{}: write to RO must be SLVERR, got {w:?}",
                    r.name
                );
                if r.offset != regs::CNT_CYCLES && r.offset != regs::CNT_AXI_ERRORS {
                    assert_eq!(m.axil_read(r.offset).unwrap(), before, "{} changed", r.name);
                }
            }
            regs::Access::Wo => {
                assert!(w.is_ok(), "{}: {w:?}", r.name);
                assert_eq!(m.axil_read(r.offset).unwrap(), 0, "{} reads 0", r.name);
            }
            regs::Access::Rw | regs::Access::W1c => assert!(w.is_ok(), "{}: {w:?}", r.name),
        }
    }
    let ro = regs::REGISTERS
        .iter()
        .filter(|r| r.access == regs::Access::Ro)
        .count() as u32;
    assert_eq!(m.axil_read(regs::CNT_AXI_ERRORS).unwrap(), ro);
}

#[test]
fn unmapped_offsets_answer_slverr_with_zero_data() {
    let mut m = Model::new();
    let holes = [
        0x018, 0x01C, 0x02C, 0x050, 0x0FC, 0xFFC, 0x1000, 0x1_0000, 0x1_FFFC,
    ];
    for &a in &holes {
        assert!(regs::by_offset(a).is_none());
        // The raw read: SLVERR and data 0.
        m.pins_mut().araddr = a;
        m.pins_mut().arvalid = true;
        m.pins_mut().rready = true;
        let mut got = None;
        for _ in 0..20 {
            let o = m.tick();
            if o.arready {
                m.pins_mut().arvalid = false;
            }
            if o.rvalid {
                got = Some((o.rresp, o.rdata));
                break;
            }
        }
        m.pins_mut().rready = false;
        m.tick();
        assert_eq!(got, Some((axi::RESP_SLVERR as u8, 0)), "read {a:#x}");
        assert!(slverr(&m.axil_write(a, 0xFFFF_FFFF)), "write {a:#x}");
    }
    assert_eq!(
        m.axil_read(regs::CNT_AXI_ERRORS).unwrap(),
        2 * holes.len() as u32
    );
}

#[test]
fn scratch_walking_ones_and_byte_strobes() {
    let mut m = Model::new();
    for i in 0..32 {
        m.axil_write(regs::SCRATCH, 1 << i).unwrap();
        assert_eq!(m.axil_read(regs::SCRATCH).unwrap(), 1 << i);
    }
    m.axil_write(regs::SCRATCH, 0x1122_3344).unwrap();
    m.axil_write_strb(regs::SCRATCH, 0xAABB_CCDD, 0b0101)
        .unwrap();
    assert_eq!(m.axil_read(regs::SCRATCH).unwrap(), 0x11BB_33DD);
    m.axil_write_strb(regs::SCRATCH, 0xFFFF_FFFF, 0).unwrap();
    assert_eq!(
        m.axil_read(regs::SCRATCH).unwrap(),
        0x11BB_33DD,
        "WSTRB 0 writes nothing"
    );
}

// Drives one write with AW and W presented at chosen cycles and B accepted after a delay;
// checks the response and that nothing is accepted twice.
fn write_with_timing(m: &mut Model, addr: u32, data: u32, aw_at: u64, w_at: u64, b_delay: u64) {
    let start = m.cycle();
    let (mut aw_done, mut w_done, mut b_seen_at) = (false, false, None);
    for _ in 0..200 {
        let t = m.cycle() - start;
        let p = m.pins_mut();
        p.awaddr = addr;
        p.awvalid = !aw_done && t >= aw_at;
        p.wdata = data;
        p.wstrb = 0xF;
        p.wvalid = !w_done && t >= w_at;
        p.bready = b_seen_at.is_some_and(|s| t >= s + b_delay);
        let (awv, wv, br) = (p.awvalid, p.wvalid, p.bready);
        let o = m.tick();
        if awv && o.awready {
            aw_done = true;
        }
        if wv && o.wready {
            w_done = true;
        }
        if o.bvalid {
            assert!(aw_done && w_done, "B before both AW and W were accepted");
            assert_eq!(o.bresp, axi::RESP_OKAY as u8);
            // While B is held, no new address or data may be taken.
            assert!(!o.awready && !o.wready, "ready while B pending");
            if b_seen_at.is_none() {
                b_seen_at = Some(t);
            }
            if br {
                let p = m.pins_mut();
                p.awvalid = false;
                p.wvalid = false;
                p.bready = false;
                m.tick();
                assert!(!m.outputs().bvalid, "B must drop after the handshake");
                return;
            }
        }
    }
    panic!("write aw_at={aw_at} w_at={w_at} b_delay={b_delay} never completed");
}

#[test]
fn aw_and_w_in_either_order_or_together_with_b_backpressure() {
    let mut m = Model::new();
    let cases = [
        (0, 0, 0),
        (0, 5, 0),
        (7, 0, 0),
        (3, 3, 9),
        (0, 12, 4),
        (11, 1, 1),
    ];
    for (k, &(aw, w, b)) in cases.iter().enumerate() {
        let v = 0xC0DE_0000 | k as u32;
        write_with_timing(&mut m, regs::SCRATCH, v, aw, w, b);
        assert_eq!(m.axil_read(regs::SCRATCH).unwrap(), v, "case {k}");
        let addr = mem::CARD_MEM_WINDOW + 0x100 + 4 * k as u32;
        write_with_timing(&mut m, addr, !v, w, aw, b);
        assert_eq!(m.axil_read(addr).unwrap(), !v, "window case {k}");
    }
}

#[test]
fn read_data_is_held_until_rready() {
    let mut m = Model::new();
    m.axil_write(regs::SCRATCH, 0x5555_AAAA).unwrap();
    m.pins_mut().araddr = regs::SCRATCH;
    m.pins_mut().arvalid = true;
    m.pins_mut().rready = false;
    let mut held = 0;
    for _ in 0..40 {
        let o = m.tick();
        if o.arready {
            m.pins_mut().arvalid = false;
        }
        if o.rvalid {
            assert_eq!(o.rdata, 0x5555_AAAA);
            assert!(!o.arready, "no new read while R is held");
            held += 1;
        }
    }
    assert!(
        held > 30,
        "R must stay valid while rready is low (held {held} cycles)"
    );
    m.pins_mut().rready = true;
    let o = m.tick();
    assert!(o.rvalid);
    m.pins_mut().rready = false;
    assert!(!m.tick().rvalid, "R drops after the handshake");
    assert_eq!(m.axil_read(regs::SCRATCH).unwrap(), 0x5555_AAAA);
}

#[test]
fn card_memory_is_shared_by_the_bram_port_and_the_bar_window() {
    let mut m = quiet_model();
    let words: Vec<u32> = (0..64u32)
        .map(|i| i.wrapping_mul(0x0101_0101) ^ 0xDEAD_BEEF)
        .collect();
    let base = mem::CARD_MEM_BYTES - 64 * 4;
    m.bram_write(base, &words);
    for (i, w) in words.iter().enumerate() {
        assert_eq!(
            m.axil_read(mem::CARD_MEM_WINDOW + base + 4 * i as u32)
                .unwrap(),
            *w
        );
    }
    for (i, w) in words.iter().enumerate() {
        m.axil_write(mem::CARD_MEM_WINDOW + 4 * i as u32, !w)
            .unwrap();
    }
    let mut back = vec![0u32; words.len()];
    m.bram_read(0, &mut back);
    let want: Vec<u32> = words.iter().map(|w| !w).collect();
    assert_eq!(back, want);
    // Byte lanes through the window.
    m.axil_write(mem::CARD_MEM_WINDOW, 0x0000_0000).unwrap();
    m.axil_write_strb(mem::CARD_MEM_WINDOW, 0xA1B2_C3D4, 0b1010)
        .unwrap();
    let mut one = [0u32];
    m.bram_read(0, &mut one);
    assert_eq!(one[0], 0xA100_C300);
    // BRAM-port byte lanes.
    m.pins_mut().bram_en = true;
    m.pins_mut().bram_we = 0b0001;
    m.pins_mut().bram_addr = 0;
    m.pins_mut().bram_wrdata = 0xFFFF_FF77;
    m.tick();
    m.pins_mut().bram_en = false;
    m.pins_mut().bram_we = 0;
    assert_eq!(m.axil_read(mem::CARD_MEM_WINDOW).unwrap(), 0xA100_C377);
}

#[test]
fn interrupt_is_held_until_cleared_and_rearms_when_still_pending() {
    let mut m = Model::new();
    let test = regs::irq::TEST;
    // Not enabled: the cause is set, the line stays low.
    m.axil_write(regs::IRQ_SET, test).unwrap();
    m.idle(50);
    assert!(!m.irq_req());
    assert_eq!(m.axil_read(regs::IRQ_CAUSE).unwrap(), test);
    // Enabled: the request rises, XDMA sends one MSI and acknowledges it.
    m.axil_write(regs::IRQ_ENABLE, test).unwrap();
    m.idle(50);
    assert!(m.irq_req());
    assert_eq!(m.msi_sent(), 1);
    assert!(m.take_msi());
    // Held: no second MSI while nothing is cleared.
    m.idle(200);
    assert!(m.irq_req());
    assert_eq!(m.msi_sent(), 1);
    // A W1C that leaves the cause pending drops the request one cycle: a fresh MSI.
    m.axil_write(regs::IRQ_CAUSE, 0).unwrap();
    m.idle(50);
    assert!(m.irq_req());
    assert_eq!(
        m.msi_sent(),
        2,
        "a still-pending cause after W1C must interrupt again"
    );
    // Clearing the cause drops the request for good.
    m.axil_write(regs::IRQ_CAUSE, test).unwrap();
    m.idle(50);
    assert!(!m.irq_req());
    assert_eq!(
        m.axil_read(regs::STATUS).unwrap() & regs::status::IRQ_REQ,
        0
    );
    assert_eq!(m.axil_read(regs::CNT_IRQ_RAISED).unwrap(), 2);
    assert_eq!(m.axil_read(regs::CNT_IRQ_ACKED).unwrap(), 2);
    assert_eq!(m.msi_sent(), 2);
}

#[test]
fn soft_reset_clears_state_but_keeps_the_cycle_counter() {
    let mut m = Model::new();
    m.axil_write(regs::SCRATCH, 0x1234_5678).unwrap();
    m.axil_write(regs::IRQ_ENABLE, regs::irq::TEST).unwrap();
    m.axil_write(regs::IRQ_SET, regs::irq::TEST).unwrap();
    let _ = m.axil_write(regs::ID, 0);
    m.idle(50);
    let cyc = m.axil_read(regs::CNT_CYCLES).unwrap();
    m.axil_write(regs::CONTROL, regs::control::SOFT_RESET)
        .unwrap();
    for (r, want) in [
        (regs::SCRATCH, 0),
        (regs::IRQ_CAUSE, 0),
        (regs::IRQ_ENABLE, 0),
        (regs::CNT_IRQ_RAISED, 0),
        (regs::CNT_IRQ_ACKED, 0),
        (regs::CNT_AXI_ERRORS, 0),
        (regs::CONTROL, 0),
    ] {
        assert_eq!(
            m.axil_read(r).unwrap(),
            want,
            "register {r:#x} after soft reset"
        );
    }
    assert!(!m.irq_req());
    assert!(m.axil_read(regs::CNT_CYCLES).unwrap() > cyc);
}

#[test]
fn reset_input_restores_every_reset_value() {
    let mut m = Model::new();
    m.axil_write(regs::SCRATCH, 0xFFFF_FFFF).unwrap();
    m.axil_write(regs::IRQ_ENABLE, regs::irq::ALL).unwrap();
    m.reset(3);
    for r in regs::REGISTERS.iter().filter(|r| r.reset.is_some()) {
        assert_eq!(
            m.axil_read(r.offset).unwrap(),
            r.reset.unwrap(),
            "{}",
            r.name
        );
    }
}

// A seeded random mix of register and window accesses, checked against a reference.
#[test]
fn random_accesses_match_a_reference_model() {
    let seed: u64 = std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let mut x = seed | 1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut m = quiet_model();
    let mut scratch = 0u32;
    let mut cardmem = vec![0u32; 256];
    m.bram_write(0, &cardmem);
    for step in 0..3000 {
        let r = rnd();
        let v = (r >> 32) as u32;
        let strb = ((r >> 8) & 0xF) as u8;
        let lanes: u32 = (0..4)
            .filter(|l| strb & (1 << l) != 0)
            .map(|l| 0xFFu32 << (8 * l))
            .sum();
        let idx = ((r >> 16) % 256) as usize;
        let addr = mem::CARD_MEM_WINDOW + 4 * idx as u32;
        match r % 4 {
            0 => {
                m.axil_write_strb(regs::SCRATCH, v, strb).unwrap();
                scratch = (scratch & !lanes) | (v & lanes);
            }
            1 => {
                m.axil_write_strb(addr, v, strb).unwrap();
                cardmem[idx] = (cardmem[idx] & !lanes) | (v & lanes);
            }
            2 => assert_eq!(
                m.axil_read(regs::SCRATCH).unwrap(),
                scratch,
                "seed {seed} step {step}"
            ),
            _ => assert_eq!(
                m.axil_read(addr).unwrap(),
                cardmem[idx],
                "seed {seed} step {step}"
            ),
        }
    }
}

/// PG195: `usr_irq_req` stays asserted until `usr_irq_ack`. Clearing the cause at once
/// (before the IP's ack) must not drop it; the model counts any drop.
#[test]
fn irq_request_is_held_until_the_ack() {
    let mut m = Model::new();
    m.reset(4);
    m.axil_write(regs::IRQ_ENABLE, regs::irq::TEST).unwrap();
    m.axil_write(regs::IRQ_SET, regs::irq::TEST).unwrap();
    m.axil_write(regs::IRQ_CAUSE, regs::irq::TEST).unwrap();
    m.idle(200);
    assert_eq!(
        m.irq_drops_before_ack(),
        0,
        "request dropped before the ack"
    );
    assert_eq!(m.msi_sent(), 1);
}
