//! `hbactl`: the command people type to reach the HBA, co-simulated or on a board.

use clap::{Parser, Subcommand, ValueEnum};
use hba_host_driver::bringup;
use hba_host_driver::transport::xdma::{XdmaConfig, XdmaTransport};
use hba_host_driver::Transport;
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
    match cli.cmd {
        Cmd::Regs => {
            println!("registers of {}:", t.name());
            let dump = bringup::dump_registers(t.as_mut());
            for d in &dump {
                println!("{}", d.render());
            }
            if dump.iter().any(|d| d.value.is_err()) {
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
