//! Bring-up subcommands on the raw transport (no SIM): `regs`, `selftest`, `seq`, `fw`.

use crate::error::{Error, Result};
use clap::Subcommand;
use hba_firmware::asm::SymbolMap;
use hba_host_driver::Transport;
use hba_host_driver::{bringup, seqctl};
use std::path::PathBuf;

/// Sequencer operations.
#[derive(Subcommand)]
pub enum SeqOp {
    /// Running/halted/trapped, PC, stack depth, breakpoint, last trap decoded.
    Status,
    /// Halt after the current instruction.
    Halt,
    /// Run from the current PC.
    Run,
    /// PC to 0, stack emptied, trap cleared, then run (or stay halted with --halted).
    Restart {
        /// Stay halted after the restart.
        #[arg(long)]
        halted: bool,
    },
    /// Execute N instructions while halted and show the state after each.
    Step {
        /// Instructions to execute.
        #[arg(default_value_t = 1)]
        n: u32,
    },
    /// Set the breakpoint at ADDR (decimal or 0x hex), or clear it with `none`.
    Break {
        /// Instruction address or `none`.
        addr: String,
    },
    /// Load an image (little-endian 32-bit words), verify the checksum, restart.
    Load {
        /// Image file.
        file: PathBuf,
        /// Stay halted after loading.
        #[arg(long)]
        halted: bool,
    },
    /// Hardware checksum of the instruction RAM.
    Checksum,
}

fn parse_addr(s: &str) -> Result<Option<u32>> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|_| Error::Usage(format!("`{s}` is not an instruction address")))?;
    if v >= hba_abi::isa::IRAM_WORDS {
        return Err(Error::Usage(format!(
            "address {v:#x} is beyond the instruction RAM ({} words)",
            hba_abi::isa::IRAM_WORDS
        )));
    }
    Ok(Some(v))
}

/// The state line, with PCs named from the symbol map when there is one.
fn show(s: &seqctl::SeqState, syms: Option<&SymbolMap>) -> String {
    let mut line = s.to_string();
    if let Some(m) = syms {
        line.push_str(&format!(" [pc at {}", m.describe(s.pc)));
        if s.trapped {
            line.push_str(&format!(", trap at {}", m.describe(s.trap_pc())));
        }
        line.push(']');
    }
    line
}

/// `seq`.
pub fn seq(t: &mut dyn Transport, op: &SeqOp, symbols: Option<&PathBuf>) -> Result<()> {
    let syms = match symbols {
        None => None,
        Some(p) => {
            let txt = std::fs::read_to_string(p).map_err(|e| Error::file(p, e))?;
            Some(
                SymbolMap::parse(&txt)
                    .map_err(|e| Error::Input(format!("symbol map {}: {e}", p.display())))?,
            )
        }
    };
    let syms = syms.as_ref();
    let e = |e: seqctl::SeqError| Error::Bringup(e.to_string());
    match op {
        SeqOp::Status => {}
        SeqOp::Halt => seqctl::halt(t).map_err(e)?,
        SeqOp::Run => seqctl::run(t).map_err(e)?,
        SeqOp::Restart { halted } => seqctl::restart(t, !halted).map_err(e)?,
        SeqOp::Step { n } => {
            for _ in 0..*n {
                let s = seqctl::step(t, 1).map_err(e)?;
                println!("{}", show(&s, syms));
                if s.trapped {
                    break;
                }
            }
            return Ok(());
        }
        SeqOp::Break { addr } => seqctl::set_break(t, parse_addr(addr)?).map_err(e)?,
        SeqOp::Load { file, halted } => {
            let bytes = std::fs::read(file).map_err(|err| Error::file(file, err))?;
            let image = seqctl::parse_image(&bytes)
                .map_err(|err| Error::Input(format!("{}: {err}", file.display())))?;
            let c = seqctl::load(t, &image, !halted).map_err(e)?;
            println!("loaded {} words, checksum {c:#010x} verified", image.len());
        }
        SeqOp::Checksum => {
            println!("{:#010x}", seqctl::checksum(t).map_err(e)?);
            return Ok(());
        }
    }
    println!("{}", show(&seqctl::state(t).map_err(e)?, syms));
    Ok(())
}

/// `regs`.
pub fn regs(t: &mut dyn Transport) -> Result<()> {
    println!("registers of {}:", t.name());
    let dump = bringup::dump_registers(t);
    for d in &dump {
        println!("{}", d.render());
    }
    if dump.iter().any(|d| d.failed()) {
        return Err(Error::Bringup("some registers could not be read".into()));
    }
    Ok(())
}

/// `selftest`.
pub fn selftest(t: &mut dyn Transport) -> Result<()> {
    println!("self-test of {}:", t.name());
    let st = bringup::self_test(t);
    for s in &st.steps {
        println!(
            "[{}] {}: {}",
            if s.pass { "PASS" } else { "FAIL" },
            s.name,
            s.detail
        );
    }
    let n_pass = st.steps.iter().filter(|s| s.pass).count();
    println!("{} passed, {} failed", n_pass, st.steps.len() - n_pass);
    println!("simulated/elapsed time on the transport: {:?}", t.now());
    if !st.passed() {
        return Err(Error::Bringup("self-test failed".into()));
    }
    Ok(())
}

/// Reads an image file for `fw verify|load`.
fn read_fw(file: &std::path::Path) -> Result<Vec<u32>> {
    let bytes = std::fs::read(file).map_err(|err| Error::file(file, err))?;
    seqctl::parse_image(&bytes).map_err(|err| Error::Input(format!("{}: {err}", file.display())))
}

/// The words of an image as the little-endian bytes of an image file.
fn fw_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// `fw dump`: the instruction RAM read back, written to `out`; the hardware checksum
/// must agree with the words read (else the readback itself is suspect).
pub fn fw_dump(t: &mut dyn Transport, out: &std::path::Path, trim: bool) -> Result<()> {
    let e = |e: seqctl::SeqError| Error::Bringup(e.to_string());
    let mut words = seqctl::read_image(t).map_err(e)?;
    let hw = seqctl::checksum(t).map_err(e)?;
    let sw = hba_abi::isa::checksum(&words);
    if hw != sw {
        return Err(Error::Bringup(format!(
            "instruction RAM read back with checksum {sw:#010x}, the hardware computes {hw:#010x}"
        )));
    }
    let total = words.len();
    if trim {
        while words.last() == Some(&0) {
            words.pop();
        }
    }
    std::fs::write(out, fw_bytes(&words)).map_err(|err| Error::file(out, err))?;
    println!(
        "dumped {} of {total} words to {}, checksum {hw:#010x}",
        words.len(),
        out.display()
    );
    Ok(())
}

/// `fw verify`: word-by-word comparison with `file` (zero-filled to the RAM size, as the
/// loader does) and the hardware checksum against the file's.
pub fn fw_verify(t: &mut dyn Transport, file: &std::path::Path) -> Result<()> {
    let e = |e: seqctl::SeqError| Error::Bringup(e.to_string());
    let want = read_fw(file)?;
    let got = seqctl::read_image(t).map_err(e)?;
    let diffs: Vec<usize> = (0..got.len())
        .filter(|&i| got[i] != want.get(i).copied().unwrap_or(0))
        .collect();
    let hw = seqctl::checksum(t).map_err(e)?;
    let file_sum = hba_abi::isa::checksum(&want);
    if diffs.is_empty() && hw == file_sum {
        println!(
            "instruction RAM equals {} ({} words), checksum {hw:#010x}",
            file.display(),
            want.len()
        );
        return Ok(());
    }
    for &i in diffs.iter().take(8) {
        println!(
            "word {i:#05x}: card {:#010x}, file {:#010x}",
            got[i],
            want.get(i).copied().unwrap_or(0)
        );
    }
    Err(Error::Bringup(format!(
        "instruction RAM differs from {} in {} word(s) (first at {:#05x}); checksum card {hw:#010x}, file {file_sum:#010x}",
        file.display(),
        diffs.len(),
        diffs.first().copied().unwrap_or(0)
    )))
}

/// `fw load`: as `seq load`, restarting the sequencer at 0.
pub fn fw_load(t: &mut dyn Transport, file: &std::path::Path) -> Result<()> {
    let image = read_fw(file)?;
    let c = seqctl::load(t, &image, true).map_err(|e| Error::Bringup(e.to_string()))?;
    println!("loaded {} words, checksum {c:#010x} verified", image.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn image_bytes_are_little_endian_words() {
        assert_eq!(
            super::fw_bytes(&[0x0403_0201, 0x8000_0000]),
            vec![1, 2, 3, 4, 0, 0, 0, 0x80]
        );
    }
}
