//! Running the `hbactl` binary as a user would, in a scratch folder with a bus TOML.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one invocation did.
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub out: String,
    /// Standard error.
    pub err: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.out, self.err
        )
    }
}

/// Runs `hbactl args...` in `dir`.
pub fn hbactl(dir: &Path, args: &[&str]) -> Run {
    let o = Command::new(env!("CARGO_BIN_EXE_hbactl"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run hbactl");
    Run {
        code: o.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Deterministic bytes.
pub fn pattern(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A scratch folder with `bus.toml` (two disks on patterned images and a tape).
pub struct Scratch {
    /// The folder (removed on drop).
    pub dir: tempfile::TempDir,
}

/// The test bus: disks at IDs 0 and 3 (512 blocks each), a tape at 5.
pub const BUS: &str = r#"
width = "narrow"
own_id = 7

[[target]]
id = 0
type = "disk"
image = "d0.img"
blocks = 512

[[target]]
id = 3
type = "disk"
image = "d3.img"
blocks = 512

[[target]]
id = 5
type = "tape"
capacity = 262144
"#;

impl Scratch {
    /// The test bus, with patterned image files.
    pub fn new() -> Scratch {
        let s = Scratch::with_bus(BUS);
        s.write("d0.img", &pattern(1, 512 * 512));
        s.write("d3.img", &pattern(3, 512 * 512));
        s
    }

    /// A folder with `bus.toml` holding `toml`.
    pub fn with_bus(toml: &str) -> Scratch {
        let s = Scratch {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        s.write("bus.toml", toml.as_bytes());
        s
    }

    /// Path of a file in the folder.
    pub fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }

    /// Writes a file in the folder.
    pub fn write(&self, f: &str, data: &[u8]) {
        std::fs::write(self.path(f), data).expect("write");
    }

    /// Reads a file in the folder.
    pub fn read(&self, f: &str) -> Vec<u8> {
        std::fs::read(self.path(f)).expect("read")
    }

    /// Runs `hbactl --bus bus.toml args...` here.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut a = vec!["--bus", "bus.toml"];
        a.extend_from_slice(args);
        hbactl(self.dir.path(), &a)
    }
}
