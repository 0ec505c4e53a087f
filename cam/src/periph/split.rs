//! Transfers larger than the SIM's `maxio` (PATH_INQ) are split by the periph into child
//! requests; the XPT gathers the children's results and completes the caller's request
//! exactly once, as a whole, when the last child is done. The data is the children's in
//! order up to the first failure (a failed part's data is dropped); errno, CAM and SCSI status are those of the first failed
//! child (or the last child when all succeeded).

use super::{IoId, IoResult};
use crate::status::{BufStatus, Errno};
use std::collections::HashMap;

struct Agg {
    parts: Vec<Option<IoResult>>,
    left: usize,
}

/// Split bookkeeping, owned by the XPT.
#[derive(Default)]
pub(crate) struct Splits {
    parent_of: HashMap<IoId, (IoId, usize)>,
    aggs: HashMap<IoId, Agg>,
}

impl Splits {
    /// Register `children` (in data order) as the parts of `parent`.
    pub fn add(&mut self, parent: IoId, children: &[IoId]) {
        for (i, c) in children.iter().enumerate() {
            self.parent_of.insert(*c, (parent, i));
        }
        self.aggs.insert(
            parent,
            Agg {
                parts: vec![None; children.len()],
                left: children.len(),
            },
        );
    }

    /// A child finished: returns `(parent, whole result)` when it was the last one, or
    /// `Err(r)` when `io` is not a child (the caller records it as usual).
    pub fn child_done(
        &mut self,
        io: IoId,
        r: IoResult,
    ) -> Result<Option<(IoId, IoResult)>, IoResult> {
        let Some((parent, i)) = self.parent_of.remove(&io) else {
            return Err(r);
        };
        let Some(agg) = self.aggs.get_mut(&parent) else {
            return Ok(None);
        };
        if agg.parts[i].is_none() {
            agg.parts[i] = Some(r);
            agg.left -= 1;
        }
        if agg.left > 0 {
            return Ok(None);
        }
        let agg = self.aggs.remove(&parent).expect("present");
        Ok(Some((
            parent,
            assemble(agg.parts.into_iter().flatten().collect()),
        )))
    }

    /// Whether any split is still gathering.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.aggs.is_empty()
    }
}

fn assemble(parts: Vec<IoResult>) -> IoResult {
    let requested: u32 = parts
        .iter()
        .fold(0u32, |a, p| a.saturating_add(p.status.buf.requested));
    let mut data = Vec::new();
    let mut moved = 0u32;
    let mut last = None;
    for p in parts {
        // A failed part's data is not trusted (a failed READ's buffer is undefined).
        if p.status.errno == Errno::Ok {
            data.extend_from_slice(&p.data);
            moved = moved.saturating_add(p.status.buf.transferred());
        }
        let failed = p.status.errno != Errno::Ok || p.status.buf.resid != 0;
        last = Some(p);
        if failed {
            // Nothing after a failed or short part counts as transferred.
            break;
        }
    }
    let last = last.expect("a split has at least one part");
    IoResult {
        data,
        status: crate::status::LayeredStatus {
            errno: last.status.errno,
            buf: BufStatus {
                requested,
                resid: requested.saturating_sub(moved),
            },
            cam: last.status.cam,
            scsi: last.status.scsi,
        },
        sense: last.sense,
    }
}
