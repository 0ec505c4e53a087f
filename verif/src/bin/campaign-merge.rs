//! Adds up the summaries that the shards of a campaign wrote (`make campaign SHARD=i/N
//! SUMMARY=file`) and prints the one table; exits 1 when any seed failed, 2 on a bad or
//! overlapping summary.

use clap::Parser;
use hba_verif::campaign::Summary;
use std::path::PathBuf;
use std::process::ExitCode;

/// Merge campaign shard summaries into one table.
#[derive(Parser)]
#[command(name = "campaign-merge")]
struct Args {
    /// Summary files (TOML), one per shard.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut all = Summary::default();
    for f in &args.files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("campaign-merge: {}: {e}", f.display());
                return ExitCode::from(2);
            }
        };
        if let Err(e) = Summary::parse(&text).and_then(|s| all.add(&s)) {
            eprintln!("campaign-merge: {}: {e}", f.display());
            return ExitCode::from(2);
        }
    }
    print!("{}", all.table());
    if all.violations > 0 {
        eprintln!("campaign-merge: {} seeds failed", all.failing.len());
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
