//! `hbactl`: the command people type to reach the HBA, co-simulated or on a board.

use clap::{Parser, Subcommand, ValueEnum};
use hba_firmware::asm::SymbolMap;
use hba_host_driver::transport::xdma::{XdmaConfig, XdmaTransport};
use hba_host_driver::Transport;
use hba_host_driver::{bringup, seqctl};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "hbactl",
    version,
    about = "Control the FPGA parallel-SCSI host bus adapter"
)]
struct Cli {
    /// Which card to talk to: the co-simulated core or a board through XDMA.
    #[arg(long, value_enum, default_value_t = Backend::Sim, global = true)]
    backend: Backend,
    /// XDMA device (with --backend xdma), e.g. /dev/xdma0.
    #[arg(long, default_value = "/dev/xdma0", global = true)]
    device: PathBuf,
    /// Write an FST waveform of the co-simulated core to this file (--backend sim).
    #[arg(long, global = true)]
    trace: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Backend {
    /// Verilator model of the RTL.
    Sim,
    /// A board through the Xilinx XDMA driver.
    Xdma,
}

#[derive(Subcommand)]
enum Cmd {
    /// Dump every register, decoded.
    Regs,
    /// Identification, scratch, card memory by BAR and DMA, interrupt path.
    Selftest,
    /// Sequencer bring-up: status, halt, run, step, breakpoint, load an image.
    Seq {
        /// Symbol map (`hba-asm --symbols`) to show PCs as `label+offset`.
        #[arg(long)]
        symbols: Option<PathBuf>,
        #[command(subcommand)]
        op: SeqOp,
    },
}

#[derive(Subcommand)]
enum SeqOp {
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

fn parse_addr(s: &str) -> Result<Option<u32>, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|_| format!("`{s}` is not an instruction address"))?;
    if v >= hba_abi::isa::IRAM_WORDS {
        return Err(format!(
            "address {v:#x} is beyond the instruction RAM ({} words)",
            hba_abi::isa::IRAM_WORDS
        ));
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

fn seq_cmd(t: &mut dyn Transport, op: &SeqOp, syms: Option<&SymbolMap>) -> Result<(), String> {
    let e = |e: seqctl::SeqError| e.to_string();
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
            let bytes = std::fs::read(file)
                .map_err(|err| format!("cannot read {}: {err}", file.display()))?;
            let image = seqctl::parse_image(&bytes).map_err(e)?;
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

fn open(cli: &Cli) -> Result<Box<dyn Transport>, String> {
    match cli.backend {
        Backend::Sim => {
            let mut t = hba_verif::SimTransport::new();
            if let Some(p) = &cli.trace {
                t.model().trace_to(p).map_err(|e| e.to_string())?;
            }
            Ok(Box::new(t))
        }
        Backend::Xdma => {
            if cli.trace.is_some() {
                return Err("--trace needs --backend sim".into());
            }
            // The defaults of XdmaConfig are the core's map from hba-abi.
            let cfg = XdmaConfig::for_device(&cli.device).map_err(|e| e.to_string())?;
            Ok(Box::new(
                XdmaTransport::open(cfg).map_err(|e| e.to_string())?,
            ))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut t = match open(&cli) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("hbactl: {e}");
            return ExitCode::from(2);
        }
    };
    match &cli.cmd {
        Cmd::Seq { op, symbols } => {
            let syms = match symbols {
                None => None,
                Some(p) => match std::fs::read_to_string(p)
                    .map_err(|e| e.to_string())
                    .and_then(|txt| SymbolMap::parse(&txt).map_err(|e| e.to_string()))
                {
                    Ok(m) => Some(m),
                    Err(err) => {
                        eprintln!("hbactl: symbol map {}: {err}", p.display());
                        return ExitCode::from(2);
                    }
                },
            };
            if let Err(e) = seq_cmd(t.as_mut(), op, syms.as_ref()) {
                eprintln!("hbactl: {e}");
                return ExitCode::FAILURE;
            }
        }
        Cmd::Regs => {
            println!("registers of {}:", t.name());
            let dump = bringup::dump_registers(t.as_mut());
            for d in &dump {
                println!("{}", d.render());
            }
            if dump.iter().any(|d| d.failed()) {
                return ExitCode::FAILURE;
            }
        }
        Cmd::Selftest => {
            println!("self-test of {}:", t.name());
            let st = bringup::self_test(t.as_mut());
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
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
