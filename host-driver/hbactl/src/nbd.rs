//! `hbactl serve nbd`: export a disk over NBD on 127.0.0.1 (fixed newstyle handshake;
//! NBD_OPT_EXPORT_NAME, NBD_OPT_GO/INFO, NBD_OPT_LIST, NBD_OPT_ABORT; simple replies;
//! READ, WRITE, FLUSH as SYNCHRONIZE CACHE, DISC), so qemu-img, qemu-io and nbdcopy can
//! use a co-simulated or real disk.
//!
//! Written here rather than on the `nbd` crate (0.3.1, "first sketch", serves a
//! `Read + Write + Seek` with no hook for FLUSH and no option haggling beyond the
//! basics): the protocol subset is small, and owning it keeps every loop bounded and
//! every hostile length an error.
//!
//! One client at a time (the stack has one event loop); the server ends after
//! `--clients` connections, on SIGINT/SIGTERM (after syncing the cache), or when a
//! client is silent for `--idle` seconds.
//!
//! The decoding of client bytes and the checks on requests are in [`proto`], apart from
//! I/O; [`handshake`] and [`transmission`] run over any `Read + Write` and a [`BlockIo`]
//! export, so the `nbd` fuzz target drives this same code in memory.

pub mod proto;

use crate::error::{Error, Result};
use crate::hba::{periph, BlockDev, Hba, HbaTransport};
use proto::{ClientOption, Command, Request, OPTION_HEADER_LEN, REQUEST_LEN};
use proto::{FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES, IHAVEOPT, NBDMAGIC, REPLY_MAGIC};
use proto::{INFO_BLOCK_SIZE, INFO_EXPORT, MAX_REQUEST, SIMPLE_REPLY_MAGIC};
use proto::{REP_ACK, REP_ERR_INVALID, REP_ERR_UNKNOWN, REP_ERR_UNSUP, REP_INFO, REP_SERVER};
use proto::{TFLAG_HAS_FLAGS, TFLAG_READ_ONLY, TFLAG_SEND_FLUSH};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Options a client may send before choosing an export.
const MAX_OPTIONS: usize = 64;
/// A WRITE's payload is read in pieces of this size, so a client that claims a long
/// payload and sends none costs no more memory than it sent.
const PAYLOAD_PIECE: usize = 1 << 20;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Options of `serve nbd`.
pub struct ServeArgs {
    /// TCP port on 127.0.0.1 (0: any free port, printed).
    pub port: u16,
    /// Export name (clients may also ask for "").
    pub name: String,
    /// Refuse writes.
    pub read_only: bool,
    /// Serve this many connections, then stop (0: until a signal).
    pub clients: u32,
    /// A connected client silent this long is dropped; no connection this long ends.
    pub idle: Duration,
}

/// Why a transmission phase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The client said goodbye (DISC) or closed.
    Bye,
    /// We are stopping (signal).
    Stop,
}

/// One client connection over any byte stream (a TCP socket in `serve`, memory in the
/// fuzz target).
pub struct Conn<S> {
    s: S,
    idle: Duration,
}

impl<S: Read + Write> Conn<S> {
    /// A connection over `s`; a partial message waits at most `idle`.
    pub fn new(s: S, idle: Duration) -> Conn<S> {
        Conn { s, idle }
    }
    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.s
    }
    /// `read_exact`, waking on every read timeout (100 ms on a socket) to look at the
    /// stop flag. A timeout before the first byte of a message is idle time; a partial
    /// message keeps waiting (bounded by the idle limit).
    fn read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<bool> {
        let mut got = 0;
        let start = Instant::now();
        while got < buf.len() {
            match self.s.read(&mut buf[got..]) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => got += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if STOP.load(Ordering::SeqCst) && got == 0 {
                        return Ok(false);
                    }
                    if start.elapsed() > self.idle {
                        return Err(ErrorKind::TimedOut.into());
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
    /// `len` payload bytes, read piece by piece (see [`PAYLOAD_PIECE`]); `None` on stop.
    fn payload(&mut self, len: u32) -> std::io::Result<Option<Vec<u8>>> {
        let len = len as usize;
        let mut d = Vec::new();
        while d.len() < len {
            let at = d.len();
            d.resize(at + PAYLOAD_PIECE.min(len - at), 0);
            if !self.read_exact(&mut d[at..])? {
                return Ok(None);
            }
        }
        Ok(Some(d))
    }
    fn u32(&mut self) -> std::io::Result<u32> {
        let mut b = [0; 4];
        self.read_exact(&mut b)?;
        Ok(u32::from_be_bytes(b))
    }
    fn opt_reply(&mut self, opt: u32, ty: u32, data: &[u8]) -> std::io::Result<()> {
        let mut m = Vec::with_capacity(20 + data.len());
        m.extend_from_slice(&REPLY_MAGIC.to_be_bytes());
        m.extend_from_slice(&opt.to_be_bytes());
        m.extend_from_slice(&ty.to_be_bytes());
        m.extend_from_slice(&(data.len() as u32).to_be_bytes());
        m.extend_from_slice(data);
        self.s.write_all(&m)
    }
    fn reply(&mut self, err: u32, handle: u64, data: &[u8]) -> std::io::Result<()> {
        let mut r = Vec::with_capacity(16 + data.len());
        r.extend_from_slice(&SIMPLE_REPLY_MAGIC.to_be_bytes());
        r.extend_from_slice(&err.to_be_bytes());
        r.extend_from_slice(&handle.to_be_bytes());
        r.extend_from_slice(data);
        self.s.write_all(&r)
    }
}

/// The block device behind an export: the HBA's disk or CD-ROM in `serve`, memory in
/// the fuzz target. Byte offsets and edge blocks are handled above it.
pub trait BlockIo {
    /// Bytes per block.
    fn block_len(&self) -> u64;
    /// Number of blocks.
    fn blocks(&self) -> u64;
    /// Reads `n` blocks at `lba`.
    fn read_blocks(&mut self, lba: u64, n: u64) -> Result<Vec<u8>>;
    /// Writes whole blocks at `lba`.
    fn write_blocks(&mut self, lba: u64, data: &[u8]) -> Result<()>;
    /// Makes written data durable (SYNCHRONIZE CACHE).
    fn flush(&mut self) -> Result<()>;
    /// The export's size in bytes.
    fn size(&self) -> u64 {
        self.blocks() * self.block_len()
    }
}

/// Bytes `[off, off+len)` of `x` (the caller checked the range).
fn read_bytes(x: &mut impl BlockIo, off: u64, len: u64) -> Result<Vec<u8>> {
    let bl = x.block_len();
    let first = off / bl;
    let last = (off + len).div_ceil(bl);
    let b = x.read_blocks(first, last - first)?;
    let s = (off - first * bl) as usize;
    Ok(b[s..s + len as usize].to_vec())
}

/// Writes bytes at `off`: whole blocks directly, partial edge blocks read-modify-write.
fn write_bytes(x: &mut impl BlockIo, off: u64, data: &[u8]) -> Result<()> {
    let bl = x.block_len();
    let first = off / bl;
    let last = (off + data.len() as u64).div_ceil(bl);
    let s = (off - first * bl) as usize;
    if s == 0 && (data.len() as u64).is_multiple_of(bl) {
        return x.write_blocks(first, data);
    }
    let mut buf = vec![0u8; ((last - first) * bl) as usize];
    // Only the edge blocks need their old contents.
    let head = x.read_blocks(first, 1)?;
    buf[..bl as usize].copy_from_slice(&head);
    if last - first > 1 {
        let tail = x.read_blocks(last - 1, 1)?;
        let n = buf.len();
        buf[n - bl as usize..].copy_from_slice(&tail);
    }
    buf[s..s + data.len()].copy_from_slice(data);
    x.write_blocks(first, &buf)
}

/// The disk or CD-ROM behind the export.
struct HbaExport<'a, T: HbaTransport> {
    h: &'a mut Hba<T>,
    dev: BlockDev,
    bl: u64,
    blocks: u64,
}

impl<T: HbaTransport> BlockIo for HbaExport<'_, T> {
    fn block_len(&self) -> u64 {
        self.bl
    }
    fn blocks(&self) -> u64 {
        self.blocks
    }
    fn read_blocks(&mut self, lba: u64, n: u64) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity((n * self.bl) as usize);
        let per = (crate::scsi::CHUNK as u64 / self.bl).max(1);
        let mut at = lba;
        while at < lba + n {
            let k = per.min(lba + n - at);
            let io = self
                .dev
                .read(&mut self.h.stack.xpt, at, k)
                .map_err(|e| periph("READ", e))?;
            out.extend(self.h.wait_ok(io, "READ")?.data);
            at += k;
        }
        Ok(out)
    }
    fn write_blocks(&mut self, lba: u64, data: &[u8]) -> Result<()> {
        let BlockDev::Da(da) = self.dev else {
            // Never reached: a CD-ROM is exported read-only and writes get EPERM first.
            return Err(Error::Usage("a CD-ROM cannot be written".into()));
        };
        let per = crate::scsi::CHUNK / self.bl as usize * self.bl as usize;
        for (k, c) in data.chunks(per).enumerate() {
            let at = lba + (k * per) as u64 / self.bl;
            let io = da
                .write(&mut self.h.stack.xpt, at, c.to_vec())
                .map_err(|e| periph("WRITE", e))?;
            self.h.wait_ok(io, "WRITE")?;
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        let BlockDev::Da(da) = self.dev else {
            // Nothing was written to a CD-ROM: nothing to flush.
            return Ok(());
        };
        let io = da
            .sync_cache(&mut self.h.stack.xpt)
            .map_err(|e| periph("SYNCHRONIZE CACHE", e))?;
        self.h.wait_ok(io, "SYNCHRONIZE CACHE")?;
        Ok(())
    }
}

fn io_err(e: std::io::Error) -> Error {
    Error::Device {
        what: "NBD connection".into(),
        detail: e.to_string(),
    }
}

/// The transmission flags of an export.
pub fn transmission_flags(read_only: bool) -> u16 {
    let mut f = TFLAG_HAS_FLAGS | TFLAG_SEND_FLUSH;
    if read_only {
        f |= TFLAG_READ_ONLY;
    }
    f
}

/// The fixed newstyle handshake offering one export `name` of `size` bytes; returns
/// true when the client chose it (transmission follows).
pub fn handshake<S: Read + Write>(
    c: &mut Conn<S>,
    name: &str,
    size: u64,
    read_only: bool,
) -> std::io::Result<bool> {
    let tflags = transmission_flags(read_only);
    let mut hello = Vec::new();
    hello.extend_from_slice(&NBDMAGIC.to_be_bytes());
    hello.extend_from_slice(&IHAVEOPT.to_be_bytes());
    hello.extend_from_slice(&(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES).to_be_bytes());
    c.s.write_all(&hello)?;
    let cflags = proto::client_flags(c.u32()?).map_err(std::io::Error::other)?;
    for _ in 0..MAX_OPTIONS {
        let mut m = [0u8; OPTION_HEADER_LEN];
        if !c.read_exact(&mut m)? {
            return Ok(false);
        }
        let h = proto::OptionHeader::decode(&m).map_err(std::io::Error::other)?;
        let mut data = vec![0u8; h.len as usize];
        c.read_exact(&mut data)?;
        let opt = h.opt;
        let known = |n: &[u8]| n.is_empty() || n == name.as_bytes();
        match ClientOption::decode(opt, &data) {
            Err(_) => c.opt_reply(opt, REP_ERR_INVALID, &[])?,
            Ok(ClientOption::ExportName(n)) => {
                if !known(&n) {
                    // EXPORT_NAME has no error reply: closing is the answer.
                    return Ok(false);
                }
                let mut r = Vec::new();
                r.extend_from_slice(&size.to_be_bytes());
                r.extend_from_slice(&tflags.to_be_bytes());
                if !cflags.no_zeroes {
                    r.extend_from_slice(&[0u8; 124]);
                }
                c.s.write_all(&r)?;
                return Ok(true);
            }
            Ok(ClientOption::Abort) => {
                c.opt_reply(opt, REP_ACK, &[])?;
                return Ok(false);
            }
            Ok(ClientOption::List) => {
                let mut d = (name.len() as u32).to_be_bytes().to_vec();
                d.extend_from_slice(name.as_bytes());
                c.opt_reply(opt, REP_SERVER, &d)?;
                c.opt_reply(opt, REP_ACK, &[])?;
            }
            Ok(ClientOption::Info(r) | ClientOption::Go(r)) => {
                if !known(&r.name) {
                    c.opt_reply(opt, REP_ERR_UNKNOWN, &[])?;
                    continue;
                }
                // Both items are sent whatever was asked, as the protocol allows.
                let mut e = INFO_EXPORT.to_be_bytes().to_vec();
                e.extend_from_slice(&size.to_be_bytes());
                e.extend_from_slice(&tflags.to_be_bytes());
                c.opt_reply(opt, REP_INFO, &e)?;
                // Any byte offset works (read-modify-write), 512 is what is efficient.
                let mut b = INFO_BLOCK_SIZE.to_be_bytes().to_vec();
                for v in [1u32, 512, MAX_REQUEST] {
                    b.extend_from_slice(&v.to_be_bytes());
                }
                c.opt_reply(opt, REP_INFO, &b)?;
                c.opt_reply(opt, REP_ACK, &[])?;
                if opt == proto::OPT_GO {
                    return Ok(true);
                }
            }
            // Structured replies, meta contexts, TLS, extended headers: not offered.
            Ok(ClientOption::StructuredReply | ClientOption::Unknown(_)) => {
                c.opt_reply(opt, REP_ERR_UNSUP, &[])?
            }
        }
    }
    Err(std::io::Error::other("too many options"))
}

/// The transmission phase: one request at a time until DISC, EOF or stop. `read_only`
/// refuses writes whatever the device could do.
pub fn transmission<S: Read + Write>(
    c: &mut Conn<S>,
    x: &mut impl BlockIo,
    read_only: bool,
    st: &mut Stats,
) -> Result<End> {
    let size = x.size();
    loop {
        let mut hdr = [0u8; REQUEST_LEN];
        match c.read_exact(&mut hdr) {
            Ok(true) => {}
            Ok(false) => return Ok(End::Stop),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(End::Bye),
            Err(e) => return Err(io_err(e)),
        }
        // A bad magic or an over-long READ/WRITE: the stream cannot be trusted further.
        let req = Request::decode(&hdr).map_err(|e| io_err(std::io::Error::other(e)))?;
        // A WRITE's payload is read even when the WRITE is refused, to stay in step.
        let payload = match c.payload(req.payload_len()).map_err(io_err)? {
            Some(d) => d,
            None => return Ok(End::Stop),
        };
        let (off, len) = (req.offset, req.len);
        match req.cmd {
            Command::Disc => return Ok(End::Bye),
            Command::Read => st.reads += 1,
            Command::Write => st.writes += 1,
            Command::Flush => st.flushes += 1,
            _ => {}
        }
        let checked = req.check(size, read_only);
        let (err, data) = match (req.cmd, checked) {
            (_, Err(r)) => (r.errno(), Vec::new()),
            (Command::Read, Ok(())) => match read_bytes(x, off, u64::from(len)) {
                Ok(d) => {
                    st.bytes_read += d.len() as u64;
                    (0, d)
                }
                Err(e) => {
                    eprintln!("hbactl: NBD READ {off}+{len}: {e}");
                    (proto::EIO, Vec::new())
                }
            },
            (Command::Write, Ok(())) => match write_bytes(x, off, &payload) {
                Ok(()) => {
                    st.bytes_written += u64::from(len);
                    (0, Vec::new())
                }
                Err(e) => {
                    eprintln!("hbactl: NBD WRITE {off}+{len}: {e}");
                    (proto::EIO, Vec::new())
                }
            },
            (Command::Flush, Ok(())) => match x.flush() {
                Ok(()) => (0, Vec::new()),
                Err(e) => {
                    eprintln!("hbactl: NBD FLUSH: {e}");
                    (proto::EIO, Vec::new())
                }
            },
            // check() refuses every other command, and DISC returned above.
            (_, Ok(())) => (proto::ENOTSUP, Vec::new()),
        };
        c.reply(err, req.handle, &data).map_err(io_err)?;
    }
}

/// What the clients did, printed when the server ends.
#[derive(Debug, Default)]
pub struct Stats {
    /// READ requests.
    pub reads: u64,
    /// WRITE requests.
    pub writes: u64,
    /// FLUSH requests.
    pub flushes: u64,
    /// Bytes read successfully.
    pub bytes_read: u64,
    /// Bytes written successfully.
    pub bytes_written: u64,
}

/// Serves the disk at `dev`.
pub fn serve<T: HbaTransport>(h: &mut Hba<T>, dev: &str, a: &ServeArgs) -> Result<()> {
    let (d, bdev, cap) = h.block_device(dev)?;
    // A CD-ROM is read-only whatever the user asked.
    let ro = a.read_only || bdev.read_only();
    let bl = u64::from(cap.block_len);
    let size = cap.blocks() * bl;
    let listener = TcpListener::bind(("127.0.0.1", a.port)).map_err(|e| Error::Device {
        what: format!("listen on 127.0.0.1:{}", a.port),
        detail: e.to_string(),
    })?;
    listener.set_nonblocking(true).map_err(io_err)?;
    let port = listener.local_addr().map_err(io_err)?.port();
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    println!(
        "serving {} ({size} bytes{}) as NBD export \"{}\" on nbd://127.0.0.1:{port}/{}",
        d.addr,
        if ro { ", read-only" } else { "" },
        a.name,
        a.name
    );
    // Tests and scripts read the line above to learn the port.
    let _ = std::io::stdout().flush();
    let mut x = HbaExport {
        h,
        dev: bdev,
        bl,
        blocks: cap.blocks(),
    };
    let mut st = Stats::default();
    let mut served = 0u32;
    let mut waiting_since = Instant::now();
    while !STOP.load(Ordering::SeqCst) && (a.clients == 0 || served < a.clients) {
        let s = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if waiting_since.elapsed() > a.idle {
                    eprintln!("hbactl: no client for {:?}, stopping", a.idle);
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(e) => return Err(io_err(e)),
        };
        served += 1;
        s.set_nonblocking(false).map_err(io_err)?;
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(io_err)?;
        let _ = s.set_nodelay(true);
        let mut c = Conn::new(s, a.idle);
        match handshake(&mut c, &a.name, size, ro) {
            Ok(true) => match transmission(&mut c, &mut x, ro, &mut st) {
                Ok(End::Bye) => {}
                Ok(End::Stop) => break,
                Err(e) => eprintln!("hbactl: client dropped: {e}"),
            },
            Ok(false) => {}
            Err(e) => eprintln!("hbactl: handshake: {e}"),
        }
        waiting_since = Instant::now();
    }
    // Whatever the client did not flush reaches the medium before we go.
    if !ro {
        if let Err(e) = BlockIo::flush(&mut x) {
            eprintln!("hbactl: final SYNCHRONIZE CACHE: {e}");
        }
    }
    println!(
        "served {served} connection(s): {} reads ({} bytes), {} writes ({} bytes), {} flushes",
        st.reads, st.bytes_read, st.writes, st.bytes_written, st.flushes
    );
    Ok(())
}
