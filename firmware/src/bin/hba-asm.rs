//! `hba-asm INPUT -o IMAGE [--listing FILE] [--symbols FILE]`: assembles sequencer
//! firmware (syntax: `firmware/ASM.md`). Exit status 0 on success, 1 on assembly errors
//! (all printed to stderr as `file:line:column: error: ...`), 2 on usage or I/O errors.

use clap::Parser;
use hba_abi::isa::IRAM_WORDS;
use hba_firmware::asm::{assemble_str, FsResolver};
use std::path::PathBuf;
use std::process::ExitCode;

/// Assembler for the FPGA SCSI HBA sequencer.
#[derive(Parser, Debug)]
#[command(name = "hba-asm", version, about)]
struct Args {
    /// Source file.
    input: PathBuf,
    /// Image output: little-endian 32-bit words.
    #[arg(short = 'o', long = "output", value_name = "IMAGE")]
    output: PathBuf,
    /// Listing output (address, word, file:line, source).
    #[arg(long, value_name = "FILE")]
    listing: Option<PathBuf>,
    /// Symbol map output (`0xADDR NAME` per label).
    #[arg(long, value_name = "FILE")]
    symbols: Option<PathBuf>,
}

fn write(path: &PathBuf, data: &[u8]) -> Result<(), ExitCode> {
    std::fs::write(path, data).map_err(|e| {
        eprintln!("hba-asm: cannot write {}: {e}", path.display());
        ExitCode::from(2)
    })
}

fn run(args: Args) -> Result<(), ExitCode> {
    let bytes = std::fs::read(&args.input).map_err(|e| {
        eprintln!("hba-asm: cannot read {}: {e}", args.input.display());
        ExitCode::from(2)
    })?;
    let name = args.input.to_string_lossy().into_owned();
    let text = String::from_utf8(bytes).map_err(|e| {
        eprintln!(
            "{name}: error: not UTF-8 (byte {})",
            e.utf8_error().valid_up_to()
        );
        ExitCode::from(1)
    })?;
    let asm = assemble_str(&name, &text, &mut FsResolver).map_err(|errs| {
        eprintln!("{errs}");
        let n = errs.0.len();
        eprintln!("hba-asm: {n} error{}", if n == 1 { "" } else { "s" });
        ExitCode::from(1)
    })?;
    write(&args.output, &asm.image_bytes())?;
    if let Some(p) = &args.listing {
        write(p, asm.listing_text().as_bytes())?;
    }
    if let Some(p) = &args.symbols {
        write(p, asm.symbol_map_text().as_bytes())?;
    }
    println!(
        "{name}: {} words of {IRAM_WORDS}, checksum {:#010x}",
        asm.words.len(),
        asm.checksum()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(c) => c,
    }
}
