//! Throughput of the CAM stack alone: a null SIM that completes every CCB at once, so the
//! figure is XPT cost per CCB (submit, device queue, dispatch, done processing, completion)
//! on one core; and the full `da` read path (DaHandle::read -> periph request -> CCB with a
//! data buffer -> XPT -> SIM fills the buffer -> done -> periph -> IoResult taken) against
//! a SIM that serves a disk from nothing. Run: `cargo bench -p hba-cam --bench null_sim`.

use hba_cam::ccb::{CcbBody, Cdb, DataBuf, DataXfer};
use hba_cam::sim::{Sim, SimCtx, SimParams};
use hba_cam::{BusId, CamStatus, Ccb, Completion, DevAddr, SimClock, Xpt};
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Completes every CCB successfully inside `action`.
struct NullSim;

impl Sim for NullSim {
    fn action(&mut self, mut ccb: Ccb, ctx: &mut SimCtx<'_>) {
        ccb.set_status(CamStatus::ReqCmp, 0);
        ctx.done(ccb);
    }
    fn poll(&mut self, _ctx: &mut SimCtx<'_>) {}
}

fn run(total: u64, batch: u64, devices: u32, with_callback: bool) -> f64 {
    let mut xpt = Xpt::new(SimClock::new());
    let params = SimParams {
        simq_size: 256,
        max_dev_transactions: 64,
        ..SimParams::default()
    };
    let bus: BusId = xpt.register_sim(Box::new(NullSim), params);
    let addrs: Vec<DevAddr> = (0..devices).map(|t| DevAddr::new(bus, t, 0)).collect();
    for a in &addrs {
        xpt.set_dev_openings(*a, 64).unwrap();
    }
    let cdb = Cdb::new(&[0x00, 0, 0, 0, 0, 0]).unwrap();
    let done = Rc::new(Cell::new(0u64));
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        for i in 0..batch {
            let a = addrs[(i % devices as u64) as usize];
            let ccb = Ccb::scsi_io(
                a.path(),
                cdb.clone(),
                DataXfer::None,
                Duration::from_secs(10),
            );
            if with_callback {
                let d = done.clone();
                xpt.submit_cb(ccb, move |_, c| {
                    debug_assert!(c.status().is_ok());
                    d.set(d.get() + 1);
                });
            } else {
                xpt.submit(ccb, Completion::Queue);
            }
        }
        sent += batch;
        xpt.run_until_idle();
        if !with_callback {
            done.set(done.get() + xpt.take_completed().len() as u64);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(done.get(), sent, "every CCB completed");
    sent as f64 / secs
}

/// A SIM with one disk at target 0 that answers probe, READ CAPACITY and READs at once,
/// filling the data buffer (so the figure includes moving the bytes once).
struct DiskSim;

impl Sim for DiskSim {
    fn action(&mut self, mut ccb: Ccb, ctx: &mut SimCtx<'_>) {
        let target = ccb.h.path.addr().map(|a| a.target);
        let st = match &mut ccb.body {
            CcbBody::PathInq(p) => {
                p.max_target = 1;
                p.initiator_id = 7;
                p.maxio = 1 << 20;
                CamStatus::ReqCmp
            }
            // Tagged queuing on, so a batch is outstanding at once (16 openings).
            CcbBody::GetTranSettings(t) => {
                t.tq_enb = Some(true);
                CamStatus::ReqCmp
            }
            CcbBody::SetTranSettings(_) => CamStatus::ReqCmp,
            CcbBody::ScsiIo(_) if target != Some(0) => CamStatus::SelTimeout,
            CcbBody::ScsiIo(io) => {
                let opc = io.cdb.opcode();
                let reply: &[u8] = match opc {
                    0x12 if io.cdb.bytes()[1] & 1 == 0 => {
                        &[0, 0, 5, 2, 31, 0, 0, 0x02, b'N', b'U', b'L', b'L']
                    }
                    0x25 => &[0, 0x0f, 0xff, 0xff, 0, 0, 2, 0],
                    0xa0 => &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                    _ => &[],
                };
                if let DataXfer::In(b) = &mut io.data {
                    if matches!(opc, 0x08 | 0x28) {
                        if let DataBuf::Single(v) = b {
                            v.fill(0xa5);
                        }
                    } else {
                        let n = b.write_at(0, reply);
                        io.resid = (b.len() - n) as u32;
                    }
                }
                CamStatus::ReqCmp
            }
            _ => CamStatus::ReqCmp,
        };
        ccb.set_status(st, 0);
        ctx.done(ccb);
    }
    fn poll(&mut self, _ctx: &mut SimCtx<'_>) {}
}

/// Requests per second through `da` (each one CCB of `blocks` x 512 bytes).
fn run_da(total: u64, batch: u64, blocks: u64) -> f64 {
    let mut xpt = Xpt::new(SimClock::new());
    let bus = xpt.register_sim(Box::new(DiskSim), SimParams::default());
    xpt.scan_bus(bus).unwrap();
    xpt.run_until_quiescent(100);
    let da = hba_cam::DaHandle::for_device(&xpt, DevAddr::new(bus, 0, 0)).expect("da0");
    let io = da.read_capacity(&mut xpt).unwrap();
    assert!(xpt.wait_io(io).unwrap().is_ok());
    let start = Instant::now();
    let mut done = 0u64;
    let mut lba = 0u64;
    while done < total {
        let ios: Vec<_> = (0..batch)
            .map(|_| {
                lba = (lba + blocks) % (1 << 20);
                da.read(&mut xpt, lba, blocks).unwrap()
            })
            .collect();
        xpt.run_until_idle();
        for io in ios {
            let r = xpt.take_io(io).expect("completed");
            debug_assert!(r.is_ok() && r.data.len() == blocks as usize * 512);
            done += 1;
        }
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let total = 2_000_000;
    // Warm-up.
    run(100_000, 64, 1, true);
    for (batch, devs, cb) in [(1, 1, true), (64, 1, true), (64, 4, true), (64, 4, false)] {
        let rate = run(total, batch, devs, cb);
        println!(
            "null_sim: {:>10.0} CCBs/s  (batch {batch:>2}, {devs} device(s), {})",
            rate,
            if cb {
                "callback completion"
            } else {
                "queued completion"
            }
        );
    }
    run_da(50_000, 16, 8);
    for (batch, blocks) in [(1, 8), (16, 8), (16, 128)] {
        let rate = run_da(500_000, batch, blocks);
        println!(
            "da read:  {:>10.0} CCBs/s  (batch {batch:>2}, {} KiB reads, periph -> XPT -> SIM -> done, data buffers)",
            rate,
            blocks / 2
        );
    }
}
