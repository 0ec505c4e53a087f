//! A campaign's totals: the sum over its seeds, written as TOML by each shard of a CI
//! matrix (`CAMPAIGN_SUMMARY=file`) and added up by `campaign-merge` into one table. The
//! seeds themselves are listed, so a shard merged twice or two overlapping shards are
//! refused rather than counted twice.

use super::{SeedReport, BUS_KINDS, CLASSES};
use crate::faulty_transport::TRANSPORT_CLASSES;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Why summaries could not be read or added.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    /// Not a summary this version writes.
    #[error("not a campaign summary: {0}")]
    Parse(#[from] toml::de::Error),
    /// The same seed in two summaries.
    #[error("seed {0} is in two summaries (a shard merged twice, or overlapping shards)")]
    Overlap(u64),
    /// Totals that do not agree with the seed list.
    #[error("summary lists {listed} seeds but counts {counted}")]
    Inconsistent {
        /// Seeds listed.
        listed: usize,
        /// Seeds counted.
        counted: u64,
    },
}

/// Totals of a set of seeds (one shard, or several merged).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Seeds run.
    pub seeds: u64,
    /// Periph requests and raw CCBs issued.
    pub commands: u64,
    /// Of which failed (allowed under faults).
    pub failed: u64,
    /// Invariant violations.
    pub violations: u64,
    /// Simulated core cycles.
    pub cycles: u64,
    /// Wall time, seconds (summed over seeds, so over shards too).
    pub wall_s: f64,
    /// Completion entries the SIM refused.
    pub bad_entries: u64,
    /// Recoveries: timeout → ABORT, BUS DEVICE RESET, bus reset, re-initialisation.
    pub rungs: [u64; 4],
    /// Faults injected per class (host-link faults: those that fired).
    pub injected: BTreeMap<String, u64>,
    /// Seeds with each fault class.
    pub seeds_with: BTreeMap<String, u64>,
    /// Host-link faults planned per class.
    pub planned: BTreeMap<String, u64>,
    /// Seeds with each kind of bus or device.
    pub bus: BTreeMap<String, u64>,
    /// The seeds (sorted).
    pub seed_list: Vec<u64>,
    /// Seeds with a violation (sorted).
    pub failing: Vec<u64>,
}

impl Summary {
    /// The totals of these seeds' reports.
    pub fn of(reps: &[SeedReport]) -> Summary {
        let mut s = Summary {
            seeds: reps.len() as u64,
            ..Summary::default()
        };
        for r in reps {
            s.commands += r.commands;
            s.failed += r.failed;
            s.violations += r.violations.len() as u64;
            s.cycles += r.cycles;
            s.wall_s += r.wall.as_secs_f64();
            s.bad_entries += r.bad_entries;
            for (t, n) in s.rungs.iter_mut().zip(r.rungs) {
                *t += n;
            }
            for (k, v) in &r.injected {
                *s.injected.entry((*k).into()).or_default() += v;
                *s.seeds_with.entry((*k).into()).or_default() += 1;
            }
            for (k, v) in &r.planned {
                *s.planned.entry((*k).into()).or_default() += v;
            }
            for k in r.bus.keys() {
                *s.bus.entry((*k).into()).or_default() += 1;
            }
            s.seed_list.push(r.seed);
            if !r.violations.is_empty() {
                s.failing.push(r.seed);
            }
        }
        s.seed_list.sort_unstable();
        s.failing.sort_unstable();
        s
    }

    /// Reads a summary written by [`Summary::to_toml`].
    pub fn parse(text: &str) -> Result<Summary, SummaryError> {
        let s: Summary = toml::from_str(text)?;
        if s.seed_list.len() as u64 != s.seeds {
            return Err(SummaryError::Inconsistent {
                listed: s.seed_list.len(),
                counted: s.seeds,
            });
        }
        Ok(s)
    }

    /// The summary as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a summary always serialises")
    }

    /// Adds another disjoint set of seeds.
    pub fn add(&mut self, o: &Summary) -> Result<(), SummaryError> {
        let mine: BTreeSet<u64> = self.seed_list.iter().copied().collect();
        if let Some(&dup) = o.seed_list.iter().find(|x| mine.contains(x)) {
            return Err(SummaryError::Overlap(dup));
        }
        self.seeds += o.seeds;
        self.commands += o.commands;
        self.failed += o.failed;
        self.violations += o.violations;
        self.cycles += o.cycles;
        self.wall_s += o.wall_s;
        self.bad_entries += o.bad_entries;
        for (t, n) in self.rungs.iter_mut().zip(o.rungs) {
            *t += n;
        }
        for (mine, theirs) in [
            (&mut self.injected, &o.injected),
            (&mut self.seeds_with, &o.seeds_with),
            (&mut self.planned, &o.planned),
            (&mut self.bus, &o.bus),
        ] {
            for (k, v) in theirs {
                *mine.entry(k.clone()).or_default() += v;
            }
        }
        self.seed_list.extend(&o.seed_list);
        self.seed_list.sort_unstable();
        self.failing.extend(&o.failing);
        self.failing.sort_unstable();
        Ok(())
    }

    /// The summary table (Markdown).
    pub fn table(&self) -> String {
        let get = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| seeds | commands | failed (allowed) | violations | wall s | M cycles/s |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} | {:.2} |",
            self.seeds,
            self.commands,
            self.failed,
            self.violations,
            self.wall_s,
            self.cycles as f64 / self.wall_s.max(1e-9) / 1e6
        );
        let _ = writeln!(
            out,
            "\n| fault class | injected | seeds with it |\n|---|---|---|"
        );
        for c in CLASSES {
            let _ = writeln!(
                out,
                "| {c} | {} | {} |",
                get(&self.injected, c),
                get(&self.seeds_with, c)
            );
        }
        let _ = writeln!(
            out,
            "\n| host-link fault | planned | fired | seeds with it |\n|---|---|---|---|"
        );
        for c in TRANSPORT_CLASSES {
            let _ = writeln!(
                out,
                "| {c} | {} | {} | {} |",
                get(&self.planned, c),
                get(&self.injected, c),
                get(&self.seeds_with, c)
            );
        }
        let _ = writeln!(
            out,
            "\ncompletion entries refused by the SIM: {}",
            self.bad_entries
        );
        let _ = writeln!(out, "\n| bus / device | seeds with it |\n|---|---|");
        for k in BUS_KINDS {
            let _ = writeln!(out, "| {k} | {} |", get(&self.bus, k));
        }
        let r = self.rungs;
        let _ = writeln!(
            out,
            "\n| recovery rung | count |\n|---|---|\n| timeout → ABORT | {} |\n| BUS DEVICE RESET | {} |\n| bus reset | {} |\n| re-initialisation | {} |",
            r[0], r[1], r[2], r[3]
        );
        if !self.failing.is_empty() {
            let _ = writeln!(out, "\nfailing seeds: {:?}", self.failing);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rep(seed: u64, viol: bool) -> SeedReport {
        let mut r = SeedReport {
            seed,
            commands: 10 + seed,
            failed: seed % 3,
            cycles: 1_000 * seed,
            wall: Duration::from_millis(100 + seed),
            bad_entries: seed % 2,
            rungs: [seed, 1, 0, seed % 2],
            ..SeedReport::default()
        };
        r.injected
            .insert(CLASSES[(seed % 4) as usize], 1 + seed % 2);
        r.injected.insert(TRANSPORT_CLASSES[0], 1);
        r.planned.insert(TRANSPORT_CLASSES[0], 2);
        r.bus.insert(BUS_KINDS[(seed % 3) as usize], 1);
        if viol {
            r.violations.push("x".into());
        }
        r
    }

    /// Shards' summaries, written and read back, add up to the summary of all seeds.
    #[test]
    fn shard_summaries_add_up_to_the_whole() {
        let reps: Vec<SeedReport> = (0..9).map(|s| rep(s, s == 4)).collect();
        let whole = Summary::of(&reps);
        let mut merged = Summary::default();
        for i in 0..3 {
            let shard: Vec<SeedReport> = reps.iter().filter(|r| r.seed % 3 == i).cloned().collect();
            let text = Summary::of(&shard).to_toml();
            merged
                .add(&Summary::parse(&text).expect("parses"))
                .expect("disjoint");
        }
        assert!((merged.wall_s - whole.wall_s).abs() < 1e-9);
        merged.wall_s = whole.wall_s;
        assert_eq!(merged, whole);
        assert_eq!(whole.failing, vec![4]);
        assert!(whole.table().contains("failing seeds: [4]"));
        assert!(whole.table().starts_with("| seeds |"));
    }

    #[test]
    fn overlapping_or_bad_summaries_are_refused() {
        let a = Summary::of(&[rep(1, false), rep(2, false)]);
        let b = Summary::of(&[rep(2, false)]);
        let mut m = a.clone();
        assert!(matches!(m.add(&b), Err(SummaryError::Overlap(2))));
        assert!(matches!(
            Summary::parse("seeds = \"many\""),
            Err(SummaryError::Parse(_))
        ));
        let mut t = a.clone();
        t.seeds = 5;
        assert!(matches!(
            Summary::parse(&t.to_toml()),
            Err(SummaryError::Inconsistent { .. })
        ));
        assert!(Summary::parse("").is_err());
    }
}
