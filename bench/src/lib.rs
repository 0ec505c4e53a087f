//! `make bench`'s collector: every benchmark records its figures as JSON lines, one
//! [`Figure`] per line, appended to the file named by `BENCH_JSON` (nothing is written
//! when it is unset, so a benchmark run by hand only prints). `bench-report` then turns
//! the lines into `bench/results.json` and `bench/REPORT.md`.
//!
//! JSON lines rather than a driver that runs every benchmark in-process: the benchmarks
//! live in different crates (the co-simulation in `hba-verif`, the CAM micro benchmarks
//! in `hba-cam`, the rust-hdl/Icarus runs here) and build as separate binaries with
//! separate dependencies; appending a line per figure needs no coordination between them,
//! survives one of them failing, and a benchmark stays runnable alone.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// Which way a figure is better, for the gap to its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Rates: the limit is a ceiling.
    Higher,
    /// Times: the limit is a floor.
    Lower,
}

/// One figure of the report: a cell of a table, with every repeated measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Report section: `cosim`, `bus`, `iops`, `host`, `memory`, `profile`, `machine`.
    pub section: String,
    /// Table within the section.
    pub table: String,
    /// Row label.
    pub row: String,
    /// Column label.
    pub col: String,
    /// Unit of `values` and `limit`.
    pub unit: String,
    /// Every measurement (one per repetition; simulated-time figures repeat exactly).
    pub values: Vec<f64>,
    /// The theoretical limit for this figure, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    /// Which way is better (for the gap to `limit`).
    #[serde(default = "higher")]
    pub better: Better,
    /// Where the gap to `limit` comes from, computed by the benchmark from its numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

fn higher() -> Better {
    Better::Higher
}

impl Figure {
    /// A figure without a limit.
    pub fn new(section: &str, table: &str, row: &str, col: &str, unit: &str) -> Figure {
        Figure {
            section: section.into(),
            table: table.into(),
            row: row.into(),
            col: col.into(),
            unit: unit.into(),
            values: Vec::new(),
            limit: None,
            better: Better::Higher,
            why: None,
        }
    }

    /// With these measurements.
    pub fn values(mut self, v: impl IntoIterator<Item = f64>) -> Figure {
        self.values = v.into_iter().collect();
        self
    }

    /// With a theoretical limit (`better` says whether it is a ceiling or a floor).
    pub fn limit(mut self, limit: f64, better: Better) -> Figure {
        self.limit = Some(limit);
        self.better = better;
        self
    }

    /// With the explanation of its gap to the limit.
    pub fn why(mut self, why: impl Into<String>) -> Figure {
        self.why = Some(why.into());
        self
    }

    /// Median, minimum and maximum of the values (NaN when there are none).
    pub fn spread(&self) -> Spread {
        Spread::of(&self.values)
    }

    /// The figure as a fraction of its limit (1 = at the limit), when it has one.
    pub fn efficiency(&self) -> Option<f64> {
        let l = self.limit?;
        let m = self.spread().median;
        let e = match self.better {
            Better::Higher => m / l,
            Better::Lower => l / m,
        };
        e.is_finite().then_some(e)
    }
}

/// Median, minimum and maximum of repeated measurements.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Median (the upper one of an even count).
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// How many.
    pub n: usize,
}

impl Spread {
    /// The spread of `v`, NaN values left out.
    pub fn of(v: &[f64]) -> Spread {
        let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
        s.sort_by(f64::total_cmp);
        if s.is_empty() {
            return Spread {
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
                n: 0,
            };
        }
        Spread {
            median: s[s.len() / 2],
            min: s[0],
            max: s[s.len() - 1],
            n: s.len(),
        }
    }
}

/// Errors reading or writing figures.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The figures file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line of the figures file is not a figure.
    #[error("{path} line {line}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// Why.
        source: serde_json::Error,
    },
}

/// Appends `f` to the file named by `BENCH_JSON` (when set) and prints it.
pub fn record(f: &Figure) {
    let s = f.spread();
    println!(
        "bench: {} / {} / {} / {}: {:.4} [{:.4}-{:.4}] {} (n={})",
        f.section, f.table, f.row, f.col, s.median, s.min, s.max, f.unit, s.n
    );
    if let Ok(path) = std::env::var("BENCH_JSON") {
        if let Err(e) = append(Path::new(&path), f) {
            // A benchmark must not die over its report: say so and go on.
            eprintln!("bench: cannot record into {path}: {e}");
        }
    }
}

/// Appends one figure as a JSON line to `path`.
pub fn append(path: &Path, f: &Figure) -> Result<(), BenchError> {
    let io = |source| BenchError::Io {
        path: path.display().to_string(),
        source,
    };
    let line = serde_json::to_string(f).expect("a figure serialises");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    writeln!(file, "{line}").map_err(io)
}

/// Reads every figure of a JSON-lines file (blank lines skipped).
pub fn read_lines(path: &Path) -> Result<Vec<Figure>, BenchError> {
    let text = std::fs::read_to_string(path).map_err(|source| BenchError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_lines(&text, &path.display().to_string())
}

/// Parses JSON lines of figures; `name` is used in errors.
pub fn parse_lines(text: &str, name: &str) -> Result<Vec<Figure>, BenchError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|source| BenchError::Parse {
                path: name.into(),
                line: i + 1,
                source,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_efficiency() {
        let s = Spread::of(&[3.0, f64::NAN, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        assert_eq!(Spread::of(&[]).n, 0);
        let f = Figure::new("s", "t", "r", "c", "us").values([20.0]);
        assert_eq!(f.efficiency(), None);
        assert_eq!(
            f.clone().limit(40.0, Better::Higher).efficiency(),
            Some(0.5)
        );
        // A time against its floor: twice the floor is half as good.
        assert_eq!(f.limit(10.0, Better::Lower).efficiency(), Some(0.5));
    }

    #[test]
    fn lines_round_trip_and_bad_lines_are_errors() {
        let f = Figure::new("bus", "t", "r", "c", "MB/s")
            .values([1.5, 2.5])
            .limit(20.0, Better::Higher)
            .why("because");
        let text = format!(
            "{}\n\n{}\n",
            serde_json::to_string(&f).unwrap(),
            "{\"section\": 1}"
        );
        match parse_lines(&text, "x") {
            Err(BenchError::Parse { line, .. }) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
        let ok = parse_lines(&serde_json::to_string(&f).unwrap(), "x").unwrap();
        assert_eq!(ok, vec![f]);
        assert!(parse_lines("not json", "x").is_err());
    }
}
