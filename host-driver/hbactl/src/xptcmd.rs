//! Subcommands that talk to the XPT and the SIM rather than to a LUN: rescan, reset
//! (device or bus), negotiate (user / goal / current transfer settings).

use crate::error::{Error, Result};
use crate::hba::{Hba, HbaTransport};
use crate::scsi::{print_devlist, print_json};
use hba_cam::ccb::{CcbBody, SpiSettings, TranSettings, TranType};
use hba_cam::Path;
use serde::Serialize;

/// `rescan`: scan the bus again and list what answers.
pub fn rescan<T: HbaTransport>(h: &mut Hba<T>, json: bool) -> Result<()> {
    let devs = h.scan()?;
    print_devlist(&devs, json);
    Ok(())
}

/// `reset`: BUS DEVICE RESET to a device (XPT_RESET_DEV), or `bus` (XPT_RESET_BUS).
pub fn reset<T: HbaTransport>(h: &mut Hba<T>, what: &str) -> Result<()> {
    if what == "bus" {
        h.ccb(Path::bus(h.stack.bus), CcbBody::ResetBus, "XPT_RESET_BUS")?;
        println!("bus {} reset", h.stack.bus.0);
    } else {
        let d = h.device(what)?;
        h.ccb(d.addr.path(), CcbBody::ResetDev, "XPT_RESET_DEV")?;
        println!("{}: device reset (BUS DEVICE RESET sent)", d.addr);
    }
    Ok(())
}

/// Settings to apply as the user's limits.
#[derive(Default)]
pub struct NegArgs {
    /// Sync period factor.
    pub period: Option<u8>,
    /// Sync offset (0 = async).
    pub offset: Option<u8>,
    /// 16-bit.
    pub wide: Option<bool>,
    /// Tagged queuing.
    pub tags: Option<bool>,
    /// Disconnection.
    pub disc: Option<bool>,
}

impl NegArgs {
    fn any(&self) -> bool {
        self.period.is_some()
            || self.offset.is_some()
            || self.wide.is_some()
            || self.tags.is_some()
            || self.disc.is_some()
    }
}

/// One set of settings as shown.
#[derive(Serialize, Clone, Copy)]
pub struct XferJson {
    /// Period factor (0 = async).
    pub period: u8,
    /// Offset.
    pub offset: u8,
    /// 16-bit.
    pub wide: bool,
    /// Tagged queuing.
    pub tags: Option<bool>,
    /// Disconnection.
    pub disc: Option<bool>,
    /// Transfer rate, MB/s.
    pub mb_s: f64,
}

fn xfer_of(s: &SpiSettings, tq: Option<bool>) -> XferJson {
    let period = s.sync_period.unwrap_or(0);
    let offset = s.sync_offset.unwrap_or(0);
    let wide = s.bus_width == Some(1);
    let x = hba_host_driver::sim::tran::Xfer {
        period,
        offset,
        wide,
    };
    XferJson {
        period,
        offset,
        wide,
        tags: tq,
        disc: s.disc_enb,
        mb_s: f64::from(x.kbps()) / 1000.0,
    }
}

fn show(name: &str, x: &XferJson) {
    let rate = if x.offset == 0 {
        "async".to_string()
    } else {
        format!("sync factor {:#04x} offset {}", x.period, x.offset)
    };
    let opt = |b: Option<bool>| match b {
        Some(true) => "on",
        Some(false) => "off",
        None => "-",
    };
    println!(
        "  {name:<8} {rate:<28} {:<6} {:>5.1} MB/s  tags {:<3} disconnect {}",
        if x.wide { "wide" } else { "narrow" },
        x.mb_s,
        opt(x.tags),
        opt(x.disc)
    );
}

/// `negotiate`: show user/goal/current, after setting the user's limits when asked (a
/// TEST UNIT READY follows a change so the new goal is negotiated and "current" shows it).
pub fn negotiate<T: HbaTransport>(
    h: &mut Hba<T>,
    dev: &str,
    set: &NegArgs,
    json: bool,
) -> Result<()> {
    let d = h.device(dev)?;
    if set.any() {
        if let Some(p) = set.period {
            if p == 0 {
                return Err(Error::Usage(
                    "period factor 0 is not a rate; use --offset 0 for async".into(),
                ));
            }
        }
        let ts = TranSettings {
            kind: TranType::User,
            spi: SpiSettings {
                sync_period: set.period,
                sync_offset: set.offset,
                bus_width: set.wide.map(u8::from),
                disc_enb: set.disc,
                ppr_options: None,
            },
            tq_enb: set.tags,
        };
        h.ccb(
            d.addr.path(),
            CcbBody::SetTranSettings(ts),
            "XPT_SET_TRAN_SETTINGS",
        )?;
        // The goal changed only if the SIM clipped it below the old one; renegotiation
        // happens on the next selection.
        let io = h.raw(
            &d,
            &hba_cam::scsi_cmd::tur(),
            hba_cam::periph::pass::PassData::None,
        )?;
        let _ = io;
    }
    let user = h.tran(d.addr, TranType::User)?;
    let cur = h.tran(d.addr, TranType::Current)?;
    let t = d.addr.target as usize;
    let goal = h.stack.report().goal.get(t).copied();
    let user_j = xfer_of(&user.spi, user.tq_enb);
    let cur_j = xfer_of(&cur.spi, cur.tq_enb);
    let goal_j = goal.map(|g| {
        let mut j = xfer_of(&g.spi(cur.spi.disc_enb.unwrap_or(true)), cur.tq_enb);
        j.disc = cur.spi.disc_enb;
        j
    });
    if json {
        print_json(&serde_json::json!({
            "addr": d.addr.to_string(),
            "user": user_j,
            "goal": goal_j,
            "current": cur_j,
        }));
    } else {
        println!("{}:", d.addr);
        show("user", &user_j);
        if let Some(g) = &goal_j {
            show("goal", g);
        }
        show("current", &cur_j);
    }
    Ok(())
}

/// `tags`: the device's openings (commands the XPT lets it have at once) and whether it
/// runs tagged; `--openings N` changes them (RELSIM_ADJUST_OPENINGS).
pub fn tags<T: HbaTransport>(
    h: &mut Hba<T>,
    dev: &str,
    set: Option<u32>,
    json: bool,
) -> Result<()> {
    let d = h.device(dev)?;
    if let Some(n) = set {
        if n == 0 || n > 256 {
            return Err(Error::Usage("--openings must be 1..256".into()));
        }
        h.stack
            .xpt
            .set_dev_openings(d.addr, n)
            .map_err(|e| Error::Device {
                what: "set openings".into(),
                detail: e.to_string(),
            })?;
    }
    let openings = h.stack.xpt.dev_openings(d.addr).unwrap_or(0);
    let tagged = h.tran(d.addr, TranType::Current)?.tq_enb.unwrap_or(false);
    if json {
        print_json(&serde_json::json!({
            "addr": d.addr.to_string(),
            "openings": openings,
            "tagged": tagged,
        }));
    } else {
        println!(
            "{}: {openings} openings, tagged queuing {}",
            d.addr,
            if tagged { "on" } else { "off" }
        );
    }
    Ok(())
}
