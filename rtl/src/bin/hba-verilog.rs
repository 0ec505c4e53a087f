//! Writes the core's Verilog to the path given (or stdout): `make verilog` uses it.

use std::io::Write;

fn main() {
    let v = hba_rtl::verilog();
    match std::env::args_os().nth(1) {
        Some(path) => {
            if let Err(e) = std::fs::write(&path, v) {
                eprintln!("hba-verilog: cannot write {}: {e}", path.to_string_lossy());
                std::process::exit(1);
            }
        }
        None => {
            let _ = std::io::stdout().write_all(v.as_bytes());
        }
    }
}
