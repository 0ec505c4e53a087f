//! Throughput of the CAM stack alone: a null SIM that completes every CCB at once, so the
//! figure is XPT cost per CCB (submit, device queue, dispatch, done processing, completion)
//! on one core. Run: `cargo bench -p hba-cam --bench null_sim`.

use hba_cam::ccb::{Cdb, DataXfer};
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
}
