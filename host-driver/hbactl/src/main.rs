//! `hbactl`: the command people type to reach the HBA, co-simulated or on a board.
//!
//! Without a subcommand it runs the main job (`make run`). Exit codes are documented in
//! [`error`]: 0 ok, 1 usage, 2 device/CAM error, 3 no such device, 4 bad input, 5 HBA.

use hbactl::{bringupcmd, bus, error, hba, image, job, nbd, scsi, stats, tape, xptcmd};

use clap::{Parser, Subcommand, ValueEnum};
use error::{Error, Result, EXIT_OK, EXIT_USAGE};
use hba::{Hba, HbaTransport};
use hba_host_driver::transport::xdma::{XdmaConfig, XdmaTransport};
use hba_host_driver::Transport;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "hbactl",
    version,
    about = "Control the FPGA parallel-SCSI host bus adapter",
    after_help = "Exit codes: 0 ok, 1 usage, 2 device or CAM error, 3 no such device, \
                  4 bad input file or TOML, 5 HBA could not be opened.\n\
                  Without a subcommand, runs the main job (see `hbactl run --help`)."
)]
struct Cli {
    /// Which card to talk to: the co-simulated core or a board through XDMA.
    #[arg(long, value_enum, default_value_t = Backend::Sim, global = true)]
    backend: Backend,
    /// XDMA device (with --backend xdma), e.g. /dev/xdma0.
    #[arg(long, default_value = "/dev/xdma0", global = true)]
    device: PathBuf,
    /// Bus description (TOML) for --backend sim; default: two disks and a tape in build/run.
    #[arg(long, global = true)]
    bus: Option<PathBuf>,
    /// Write an FST waveform of the co-simulated core to this file (--backend sim).
    #[arg(long, global = true)]
    trace: Option<PathBuf>,
    /// Write the decoded SCSI bus log to this file at the end (--backend sim).
    #[arg(long, global = true)]
    bus_log: Option<PathBuf>,
    /// Listings and status as JSON.
    #[arg(long, global = true)]
    json: bool,
    /// A device quirk, consulted before the built-in table (repeatable):
    /// VENDOR/PRODUCT/REVISION=QUIRK[,QUIRK...], patterns with * and ?, matched against the
    /// trimmed INQUIRY strings. Quirks: no-luns (a device that answers at every LUN as LUN
    /// 0), no-report-luns, no-tags, no-6byte, start-unit, max-tags=N.
    #[arg(long = "quirk", global = true, value_name = "ENTRY", value_parser = parse_quirk)]
    quirks: Vec<hba_cam::quirks::QuirkEntry>,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Backend {
    /// Verilator model of the RTL.
    Sim,
    /// A board through the Xilinx XDMA driver.
    Xdma,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum OnOff {
    On,
    Off,
}

impl From<OnOff> for bool {
    fn from(v: OnOff) -> bool {
        v == OnOff::On
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// The main job: boot the co-simulated HBA on the built-in bus, scan, run a verified
    /// mixed workload, print a summary (what `make run` runs).
    Run {
        /// Work folder for fresh images, the bus log and the trace.
        #[arg(long)]
        workdir: Option<PathBuf>,
        /// Requests per disk.
        #[arg(long, default_value_t = 80)]
        ops: u32,
        /// Workload seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// List the devices the bus scan found.
    Devlist,
    /// Scan the bus again and list the devices.
    Rescan,
    /// Standard INQUIRY data and VPD pages 0x00, 0x80 (serial), 0x83 (identifiers).
    Inquiry {
        /// Device: TARGET, TARGET:LUN or BUS:TARGET:LUN.
        dev: String,
    },
    /// TEST UNIT READY.
    Tur {
        /// Device.
        dev: String,
    },
    /// READ CAPACITY.
    Readcap {
        /// Device.
        dev: String,
    },
    /// Read blocks into a file.
    Read {
        /// Device.
        dev: String,
        /// First block.
        #[arg(long)]
        lba: u64,
        /// Number of blocks.
        #[arg(long)]
        count: u64,
        /// Output file.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Write a file (whole blocks) at an LBA, then SYNCHRONIZE CACHE.
    Write {
        /// Device.
        dev: String,
        /// First block.
        #[arg(long)]
        lba: u64,
        /// Input file.
        #[arg(short, long)]
        input: PathBuf,
    },
    /// Send a raw CDB (hex) through the pass periph, without error recovery.
    #[command(name = "cmd")]
    Raw {
        /// Device.
        dev: String,
        /// CDB bytes in hex, e.g. "12 00 00 00 24 00".
        #[arg(long)]
        cdb: String,
        /// Read this many bytes of data in.
        #[arg(long = "in")]
        data_in: Option<usize>,
        /// Write data in to this file (else it is shown as hex).
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Send this file as data out.
        #[arg(long)]
        out_file: Option<PathBuf>,
    },
    /// START STOP UNIT with START=1.
    Start {
        /// Device.
        dev: String,
    },
    /// START STOP UNIT with START=0.
    Stop {
        /// Device.
        dev: String,
    },
    /// START STOP UNIT with LOEJ=1 (unload the medium).
    Eject {
        /// Device.
        dev: String,
    },
    /// Show (or set with --openings) a device's openings and tagged queuing.
    Tags {
        /// Device.
        dev: String,
        /// New openings.
        #[arg(long)]
        openings: Option<u32>,
    },
    /// Reset a device (BUS DEVICE RESET) or, with `bus`, the whole bus.
    Reset {
        /// Device, or `bus`.
        what: String,
    },
    /// Show user / goal / current transfer settings; set the user's limits.
    Negotiate {
        /// Device.
        dev: String,
        /// Sync period factor (0x0C = Fast-20, 0x19 = Fast-10, 0x32 = Fast-5).
        #[arg(long, value_parser = parse_u8)]
        period: Option<u8>,
        /// Sync offset (0 = asynchronous).
        #[arg(long, value_parser = parse_u8)]
        offset: Option<u8>,
        /// 16-bit transfers.
        #[arg(long, value_enum)]
        wide: Option<OnOff>,
        /// Tagged queuing.
        #[arg(long, value_enum)]
        tags: Option<OnOff>,
        /// Disconnection.
        #[arg(long, value_enum)]
        disc: Option<OnOff>,
    },
    /// Tape operations in order: rewind, weof N, fsf N, bsf N, fsr N, bsr N, eod, status,
    /// write FILE, read FILE.
    Tape {
        /// Device.
        dev: String,
        /// Operations.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ops: Vec<String>,
    },
    /// Decode sense bytes (hex); needs no HBA.
    Sense {
        /// Sense bytes, e.g. "70 00 03 00 00 00 00 0a 00 00 00 00 11 00".
        bytes: Vec<String>,
    },
    /// Copy a disk or CD-ROM to an image file like GNU ddrescue, with a ddrescue mapfile;
    /// a tape file by file into a folder with an index (index.json).
    Image {
        /// Device.
        dev: String,
        /// Image file (created, or continued with the mapfile); for a tape, a new or empty
        /// folder.
        #[arg(short, long)]
        out: PathBuf,
        /// GNU ddrescue mapfile (resumes and retries what it lists as bad); disks and
        /// CD-ROMs only.
        #[arg(short, long)]
        map: Option<PathBuf>,
        /// Retry passes over the bad areas.
        #[arg(long, default_value_t = 1)]
        retries: u32,
        /// Blocks per read in the first pass.
        #[arg(long, default_value_t = 64)]
        cluster: u64,
        /// Also draw the map as a PNG (green rescued, red bad).
        #[arg(long)]
        png: Option<PathBuf>,
    },
    /// Per-device I/O statistics from CAM's devstat (after the scan and, with --exercise,
    /// a few reads).
    Stats {
        /// Device (all devices when absent).
        dev: Option<String>,
        /// Read this many blocks from the start of each disk or CD-ROM first, so the
        /// figures show a workload (a co-simulated bus starts from zero every invocation).
        #[arg(long, default_value_t = 0)]
        exercise: u64,
    },
    /// Firmware of the sequencer: dump the instruction RAM, verify it against an image,
    /// load an image.
    Fw {
        #[command(subcommand)]
        op: FwOp,
    },
    /// Export a disk (or, read-only, a CD-ROM) to other programs.
    Serve {
        #[command(subcommand)]
        proto: ServeProto,
    },
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
        op: bringupcmd::SeqOp,
    },
}

#[derive(Subcommand)]
enum FwOp {
    /// Read the instruction RAM back and write it (little-endian 32-bit words, the format
    /// `hba-asm` writes and `fw load` takes).
    Dump {
        /// Output file.
        #[arg(short, long)]
        out: PathBuf,
        /// Drop the zero words at the end (the loader zero-fills them again).
        #[arg(long)]
        trim: bool,
    },
    /// Compare the instruction RAM with an image, word by word and by the hardware
    /// checksum; exit 2 on a difference.
    Verify {
        /// Image file.
        file: PathBuf,
    },
    /// Write an image, verify the hardware checksum, restart the sequencer at 0.
    Load {
        /// Image file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum ServeProto {
    /// NBD on 127.0.0.1 (qemu-img, qemu-io, nbdcopy): READ, WRITE, FLUSH, DISC.
    Nbd {
        /// Device.
        dev: String,
        /// TCP port (0: a free one, printed on the first line).
        #[arg(long, default_value_t = 10809)]
        port: u16,
        /// Export name.
        #[arg(long, default_value = "hba")]
        name: String,
        /// Refuse writes.
        #[arg(long)]
        read_only: bool,
        /// Stop after this many connections (0: only on SIGINT/SIGTERM).
        #[arg(long, default_value_t = 0)]
        clients: u32,
        /// Seconds without a client (or from a connected one) before stopping.
        #[arg(long, default_value_t = 600)]
        idle: u64,
    },
}

fn parse_u8(s: &str) -> std::result::Result<u8, String> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u8::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|_| format!("`{s}` is not a byte (0..255 or 0x00..0xff)"))
}

fn parse_quirk(s: &str) -> std::result::Result<hba_cam::quirks::QuirkEntry, String> {
    s.parse()
        .map_err(|e: hba_cam::quirks::QuirkParseError| e.to_string())
}

/// The raw transport for the bring-up subcommands.
fn open_raw(cli: &Cli) -> Result<Box<dyn Transport>> {
    match cli.backend {
        Backend::Sim => {
            let mut t = hba_verif::SimTransport::new();
            if let Some(p) = &cli.trace {
                t.model().trace_to(p)?;
            }
            Ok(Box::new(t))
        }
        Backend::Xdma => {
            if cli.trace.is_some() {
                return Err(Error::Usage("--trace needs --backend sim".into()));
            }
            // The defaults of XdmaConfig are the core's map from hba-abi.
            let cfg = XdmaConfig::for_device(&cli.device)?;
            Ok(Box::new(XdmaTransport::open(cfg)?))
        }
    }
}

/// Runs a stack subcommand on an open HBA (either backend).
fn stack_cmd<T: HbaTransport>(h: &mut Hba<T>, cmd: &Cmd, json: bool) -> Result<()> {
    match cmd {
        Cmd::Devlist => {
            scsi::print_devlist(&h.stack.devices(), json);
            Ok(())
        }
        Cmd::Rescan => xptcmd::rescan(h, json),
        Cmd::Inquiry { dev } => scsi::inquiry(h, dev, json),
        Cmd::Tur { dev } => scsi::tur(h, dev, json),
        Cmd::Readcap { dev } => scsi::readcap(h, dev, json),
        Cmd::Read {
            dev,
            lba,
            count,
            out,
        } => scsi::read(h, dev, *lba, *count, out),
        Cmd::Write { dev, lba, input } => scsi::write(h, dev, *lba, input),
        Cmd::Raw {
            dev,
            cdb,
            data_in,
            out,
            out_file,
        } => scsi::cmd(
            h,
            dev,
            &scsi::CmdArgs {
                cdb,
                data_in: *data_in,
                out: out.as_deref(),
                data_out: out_file.as_deref(),
            },
            json,
        ),
        Cmd::Reset { what } => xptcmd::reset(h, what),
        Cmd::Start { dev } => scsi::start_stop(h, dev, scsi::Power::Start),
        Cmd::Stop { dev } => scsi::start_stop(h, dev, scsi::Power::Stop),
        Cmd::Eject { dev } => scsi::start_stop(h, dev, scsi::Power::Eject),
        Cmd::Tags { dev, openings } => xptcmd::tags(h, dev, *openings, json),
        Cmd::Negotiate {
            dev,
            period,
            offset,
            wide,
            tags,
            disc,
        } => xptcmd::negotiate(
            h,
            dev,
            &xptcmd::NegArgs {
                period: *period,
                offset: *offset,
                wide: wide.map(bool::from),
                tags: tags.map(bool::from),
                disc: disc.map(bool::from),
            },
            json,
        ),
        Cmd::Tape { dev, ops } => {
            let ops = tape::parse_ops(ops)?;
            tape::run(h, dev, &ops, json)
        }
        Cmd::Image {
            dev,
            out,
            map,
            retries,
            cluster,
            png,
        } => image::run(
            h,
            dev,
            &image::ImageArgs {
                out,
                map: map.as_deref(),
                retries: *retries,
                cluster: *cluster,
                png: png.as_deref(),
            },
        ),
        Cmd::Stats { dev, exercise } => stats::run(h, dev.as_deref(), *exercise, json),
        Cmd::Serve {
            proto:
                ServeProto::Nbd {
                    dev,
                    port,
                    name,
                    read_only,
                    clients,
                    idle,
                },
        } => nbd::serve(
            h,
            dev,
            &nbd::ServeArgs {
                port: *port,
                name: name.clone(),
                read_only: *read_only,
                clients: *clients,
                idle: std::time::Duration::from_secs(*idle),
            },
        ),
        Cmd::Run { .. }
        | Cmd::Sense { .. }
        | Cmd::Regs
        | Cmd::Selftest
        | Cmd::Seq { .. }
        | Cmd::Fw { .. } => {
            unreachable!("handled without a stack")
        }
    }
}

/// Opens the co-simulated stack on the bus description, runs `cmd`, writes the bus log.
fn sim_cmd(cli: &Cli, cmd: &Cmd) -> Result<()> {
    let (desc, base) = match &cli.bus {
        Some(p) => {
            let base = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf();
            (bus::BusDesc::load(p)?, base)
        }
        None => {
            let base = job::default_workdir();
            std::fs::create_dir_all(&base).map_err(|e| Error::file(&base, e))?;
            (bus::BusDesc::parse(bus::DEFAULT_BUS, "built-in bus")?, base)
        }
    };
    let built = desc.build(&base)?;
    let mut h = hba::open_sim(built, cli.trace.as_deref())?;
    h.add_quirks(&cli.quirks);
    h.scan()?;
    let r = stack_cmd(&mut h, cmd, cli.json);
    if let Some(p) = &cli.bus_log {
        let log = h.bus_log().unwrap_or_default();
        std::fs::write(p, log).map_err(|e| Error::file(p, e))?;
    }
    r?;
    h.close()
}

fn xdma_cmd(cli: &Cli, cmd: &Cmd) -> Result<()> {
    if cli.trace.is_some() || cli.bus.is_some() || cli.bus_log.is_some() {
        return Err(Error::Usage(
            "--trace, --bus and --bus-log need --backend sim".into(),
        ));
    }
    let mut h = hba::open_xdma(&cli.device)?;
    h.add_quirks(&cli.quirks);
    h.scan()?;
    stack_cmd(&mut h, cmd, cli.json)?;
    h.close()
}

fn dispatch(cli: &Cli) -> Result<()> {
    let default = Cmd::Run {
        workdir: None,
        ops: 80,
        seed: 1,
    };
    let cmd = cli.cmd.as_ref().unwrap_or(&default);
    match cmd {
        Cmd::Run { workdir, ops, seed } => {
            if cli.backend != Backend::Sim || cli.bus.is_some() {
                return Err(Error::Usage(
                    "the main job runs on the built-in co-simulated bus only".into(),
                ));
            }
            job::run(&job::JobArgs {
                workdir: workdir.clone().unwrap_or_else(job::default_workdir),
                ops: *ops,
                trace: cli.trace.clone(),
                seed: *seed,
            })
        }
        Cmd::Sense { bytes } => scsi::sense(&bytes.join(" "), cli.json),
        Cmd::Regs => bringupcmd::regs(open_raw(cli)?.as_mut()),
        Cmd::Selftest => bringupcmd::selftest(open_raw(cli)?.as_mut()),
        Cmd::Seq { symbols, op } => bringupcmd::seq(open_raw(cli)?.as_mut(), op, symbols.as_ref()),
        Cmd::Fw { op } => {
            if cli.bus.is_some() || cli.bus_log.is_some() {
                return Err(Error::Usage(
                    "fw talks to the card alone: --bus and --bus-log do not apply".into(),
                ));
            }
            let mut t = open_raw(cli)?;
            match op {
                FwOp::Dump { out, trim } => bringupcmd::fw_dump(t.as_mut(), out, *trim),
                FwOp::Verify { file } => bringupcmd::fw_verify(t.as_mut(), file),
                FwOp::Load { file } => bringupcmd::fw_load(t.as_mut(), file),
            }
        }
        _ => match cli.backend {
            Backend::Sim => sim_cmd(cli, cmd),
            Backend::Xdma => xdma_cmd(cli, cmd),
        },
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match dispatch(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hbactl: {}", error::report(&e));
            e.exit()
        }
    }
}

#[cfg(test)]
mod hostile {
    //! Every parser of user- or device-supplied bytes returns an error, never panics,
    //! on deterministic random and mutated inputs.

    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
    }

    /// Random bytes biased towards the characters these formats use.
    fn junk(r: &mut impl FnMut() -> u64) -> Vec<u8> {
        const ALPHA: &[u8] = b"0123456789abcdefx+-*/?# \n\t:=[]\"'.,ikdtypeimagerulelba\xff\x00";
        let n = (r() % 200) as usize;
        (0..n)
            .map(|_| {
                let v = r();
                if v.is_multiple_of(4) {
                    v as u8
                } else {
                    ALPHA[(v >> 8) as usize % ALPHA.len()]
                }
            })
            .collect()
    }

    #[test]
    fn parsers_survive_junk() {
        let mut r = rng(11);
        let map = hbactl::image::Map::new(0x10000).render("x");
        let bus = hbactl::bus::DEFAULT_BUS.as_bytes().to_vec();
        for i in 0..3000u32 {
            let mut b = junk(&mut r);
            // Half the cases: a valid document with a few bytes changed.
            if i.is_multiple_of(2) {
                let base = if i.is_multiple_of(4) {
                    map.as_bytes()
                } else {
                    &bus[..]
                };
                b = base.to_vec();
                for _ in 0..3 {
                    let p = (r() as usize) % b.len();
                    b[p] = r() as u8;
                }
            }
            let t = String::from_utf8_lossy(&b);
            let _ = hbactl::image::Map::parse(&t);
            let _ = hbactl::bus::BusDesc::parse(&t, "fuzz");
            let _ = hbactl::hba::parse_hex(&t);
            let _ = hbactl::hba::parse_addr(&t);
            let _ = hbactl::scsi::parse_devid_vpd(&b);
            let _ = hba_cam::sense::Sense::parse(&b);
            let words: Vec<String> = t.split_whitespace().map(String::from).collect();
            let _ = hbactl::tape::parse_ops(&words);
            let _ = super::parse_quirk(&t);
        }
    }
}
