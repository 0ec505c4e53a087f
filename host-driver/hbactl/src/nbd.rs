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

use crate::error::{Error, Result};
use crate::hba::{periph, BlockDev, Hba, HbaTransport};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const NBDMAGIC: u64 = 0x4e42_444d_4147_4943;
const IHAVEOPT: u64 = 0x4948_4156_454F_5054;
const REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;
const REQUEST_MAGIC: u32 = 0x2560_9513;
const SIMPLE_REPLY_MAGIC: u32 = 0x6744_6698;

const FLAG_FIXED_NEWSTYLE: u16 = 1;
const FLAG_NO_ZEROES: u16 = 2;

const OPT_EXPORT_NAME: u32 = 1;
const OPT_ABORT: u32 = 2;
const OPT_LIST: u32 = 3;
const OPT_INFO: u32 = 6;
const OPT_GO: u32 = 7;

const REP_ACK: u32 = 1;
const REP_SERVER: u32 = 2;
const REP_INFO: u32 = 3;
const REP_ERR_UNSUP: u32 = 0x8000_0001;
const REP_ERR_INVALID: u32 = 0x8000_0003;
const REP_ERR_UNKNOWN: u32 = 0x8000_0006;

const INFO_EXPORT: u16 = 0;
const INFO_BLOCK_SIZE: u16 = 3;

const TFLAG_HAS_FLAGS: u16 = 1;
const TFLAG_READ_ONLY: u16 = 2;
const TFLAG_SEND_FLUSH: u16 = 4;

const CMD_READ: u16 = 0;
const CMD_WRITE: u16 = 1;
const CMD_DISC: u16 = 2;
const CMD_FLUSH: u16 = 3;

const EPERM: u32 = 1;
const EIO: u32 = 5;
const EINVAL: u32 = 22;
const ENOTSUP: u32 = 95;

/// Largest option payload accepted (names are short; anything bigger is hostile).
const MAX_OPTION: u32 = 4096;
/// Largest READ/WRITE accepted (qemu's default maximum); bigger closes the connection.
const MAX_REQUEST: u32 = 32 << 20;
/// Options a client may send before choosing an export.
const MAX_OPTIONS: usize = 64;

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

/// Why a connection ended.
enum End {
    /// The client said goodbye (DISC / ABORT) or closed.
    Bye,
    /// We are stopping.
    Stop,
}

struct Conn {
    s: TcpStream,
    idle: Duration,
}

impl Conn {
    /// `read_exact`, waking every 100 ms to look at the stop flag. A timeout before the
    /// first byte of a message is idle time; a partial message keeps waiting (bounded by
    /// the idle limit).
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
}

/// The disk behind the export, addressed in bytes.
struct Export<'a, T: HbaTransport> {
    h: &'a mut Hba<T>,
    dev: BlockDev,
    bl: u64,
    size: u64,
}

impl<T: HbaTransport> Export<'_, T> {
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
    /// Bytes `[off, off+len)`.
    fn read(&mut self, off: u64, len: u64) -> Result<Vec<u8>> {
        let first = off / self.bl;
        let last = (off + len).div_ceil(self.bl);
        let b = self.read_blocks(first, last - first)?;
        let s = (off - first * self.bl) as usize;
        Ok(b[s..s + len as usize].to_vec())
    }
    /// Writes bytes at `off`: whole blocks directly, partial edge blocks read-modify-write.
    fn write(&mut self, off: u64, data: &[u8]) -> Result<()> {
        let first = off / self.bl;
        let last = (off + data.len() as u64).div_ceil(self.bl);
        let s = (off - first * self.bl) as usize;
        if s == 0 && (data.len() as u64).is_multiple_of(self.bl) {
            return self.write_blocks(first, data);
        }
        let mut buf = vec![0u8; ((last - first) * self.bl) as usize];
        // Only the edge blocks need their old contents.
        let head = self.read_blocks(first, 1)?;
        buf[..self.bl as usize].copy_from_slice(&head);
        if last - first > 1 {
            let tail = self.read_blocks(last - 1, 1)?;
            let n = buf.len();
            buf[n - self.bl as usize..].copy_from_slice(&tail);
        }
        buf[s..s + data.len()].copy_from_slice(data);
        self.write_blocks(first, &buf)
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

/// Handshake; returns true when the client chose the export (transmission follows).
fn handshake(c: &mut Conn, a: &ServeArgs, size: u64, tflags: u16) -> std::io::Result<bool> {
    let mut hello = Vec::new();
    hello.extend_from_slice(&NBDMAGIC.to_be_bytes());
    hello.extend_from_slice(&IHAVEOPT.to_be_bytes());
    hello.extend_from_slice(&(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES).to_be_bytes());
    c.s.write_all(&hello)?;
    let cflags = c.u32()?;
    if cflags & u32::from(FLAG_FIXED_NEWSTYLE) == 0 {
        // Plain newstyle clients would not understand option replies.
        return Err(std::io::Error::other(
            "client does not speak fixed newstyle",
        ));
    }
    let no_zeroes = cflags & u32::from(FLAG_NO_ZEROES) != 0;
    for _ in 0..MAX_OPTIONS {
        let mut m = [0u8; 8];
        if !c.read_exact(&mut m)? {
            return Ok(false);
        }
        if u64::from_be_bytes(m) != IHAVEOPT {
            return Err(std::io::Error::other("bad option magic"));
        }
        let opt = c.u32()?;
        let len = c.u32()?;
        if len > MAX_OPTION {
            return Err(std::io::Error::other(format!("option of {len} bytes")));
        }
        let mut data = vec![0u8; len as usize];
        c.read_exact(&mut data)?;
        let known = |n: &[u8]| n.is_empty() || n == a.name.as_bytes();
        match opt {
            OPT_EXPORT_NAME => {
                if !known(&data) {
                    // EXPORT_NAME has no error reply: closing is the answer.
                    return Ok(false);
                }
                let mut r = Vec::new();
                r.extend_from_slice(&size.to_be_bytes());
                r.extend_from_slice(&tflags.to_be_bytes());
                if !no_zeroes {
                    r.extend_from_slice(&[0u8; 124]);
                }
                c.s.write_all(&r)?;
                return Ok(true);
            }
            OPT_ABORT => {
                c.opt_reply(opt, REP_ACK, &[])?;
                return Ok(false);
            }
            OPT_LIST => {
                if len != 0 {
                    c.opt_reply(opt, REP_ERR_INVALID, &[])?;
                    continue;
                }
                let mut d = (a.name.len() as u32).to_be_bytes().to_vec();
                d.extend_from_slice(a.name.as_bytes());
                c.opt_reply(opt, REP_SERVER, &d)?;
                c.opt_reply(opt, REP_ACK, &[])?;
            }
            OPT_INFO | OPT_GO => {
                // u32 name length, name, u16 number of info requests, u16 each.
                let parsed = (|| {
                    let nl = u32::from_be_bytes(data.get(0..4)?.try_into().ok()?) as usize;
                    let name = data.get(4..4 + nl)?;
                    let nreq = u16::from_be_bytes(data.get(4 + nl..6 + nl)?.try_into().ok()?);
                    (data.len() == 6 + nl + 2 * nreq as usize).then_some(name.to_vec())
                })();
                let Some(name) = parsed else {
                    c.opt_reply(opt, REP_ERR_INVALID, &[])?;
                    continue;
                };
                if !known(&name) {
                    c.opt_reply(opt, REP_ERR_UNKNOWN, &[])?;
                    continue;
                }
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
                if opt == OPT_GO {
                    return Ok(true);
                }
            }
            // Structured replies, meta contexts, TLS, extended headers: not offered.
            _ => c.opt_reply(opt, REP_ERR_UNSUP, &[])?,
        }
    }
    Err(std::io::Error::other("too many options"))
}

fn reply(c: &mut Conn, err: u32, handle: u64, data: &[u8]) -> std::io::Result<()> {
    let mut r = Vec::with_capacity(16 + data.len());
    r.extend_from_slice(&SIMPLE_REPLY_MAGIC.to_be_bytes());
    r.extend_from_slice(&err.to_be_bytes());
    r.extend_from_slice(&handle.to_be_bytes());
    r.extend_from_slice(data);
    c.s.write_all(&r)
}

/// The transmission phase: one request at a time until DISC, EOF or stop.
fn transmission<T: HbaTransport>(
    c: &mut Conn,
    x: &mut Export<'_, T>,
    ro: bool,
    st: &mut Stats,
) -> Result<End> {
    loop {
        let mut hdr = [0u8; 28];
        match c.read_exact(&mut hdr) {
            Ok(true) => {}
            Ok(false) => return Ok(End::Stop),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(End::Bye),
            Err(e) => return Err(io_err(e)),
        }
        let magic = u32::from_be_bytes(hdr[0..4].try_into().expect("4"));
        let ty = u16::from_be_bytes(hdr[6..8].try_into().expect("2"));
        let handle = u64::from_be_bytes(hdr[8..16].try_into().expect("8"));
        let off = u64::from_be_bytes(hdr[16..24].try_into().expect("8"));
        let len = u32::from_be_bytes(hdr[24..28].try_into().expect("4"));
        if magic != REQUEST_MAGIC {
            return Err(io_err(std::io::Error::other("bad request magic")));
        }
        let in_range = off.checked_add(u64::from(len)).is_some_and(|e| e <= x.size);
        match ty {
            CMD_READ | CMD_WRITE if len > MAX_REQUEST => {
                // The payload cannot be skipped safely: end the connection.
                return Err(io_err(std::io::Error::other(format!(
                    "request of {len} bytes"
                ))));
            }
            CMD_READ => {
                st.reads += 1;
                if !in_range || len == 0 {
                    reply(c, EINVAL, handle, &[]).map_err(io_err)?;
                    continue;
                }
                match x.read(off, u64::from(len)) {
                    Ok(d) => {
                        st.bytes_read += d.len() as u64;
                        reply(c, 0, handle, &d).map_err(io_err)?
                    }
                    Err(e) => {
                        eprintln!("hbactl: NBD READ {off}+{len}: {e}");
                        reply(c, EIO, handle, &[]).map_err(io_err)?
                    }
                }
            }
            CMD_WRITE => {
                let mut d = vec![0u8; len as usize];
                if !c.read_exact(&mut d).map_err(io_err)? {
                    return Ok(End::Stop);
                }
                st.writes += 1;
                let err = if ro {
                    EPERM
                } else if !in_range || len == 0 {
                    EINVAL
                } else {
                    match x.write(off, &d) {
                        Ok(()) => {
                            st.bytes_written += u64::from(len);
                            0
                        }
                        Err(e) => {
                            eprintln!("hbactl: NBD WRITE {off}+{len}: {e}");
                            EIO
                        }
                    }
                };
                reply(c, err, handle, &[]).map_err(io_err)?;
            }
            CMD_FLUSH => {
                st.flushes += 1;
                let err = match x.flush() {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("hbactl: NBD FLUSH: {e}");
                        EIO
                    }
                };
                reply(c, err, handle, &[]).map_err(io_err)?;
            }
            CMD_DISC => return Ok(End::Bye),
            _ => reply(c, ENOTSUP, handle, &[]).map_err(io_err)?,
        }
    }
}

#[derive(Default)]
struct Stats {
    reads: u64,
    writes: u64,
    flushes: u64,
    bytes_read: u64,
    bytes_written: u64,
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
    let mut tflags = TFLAG_HAS_FLAGS | TFLAG_SEND_FLUSH;
    if ro {
        tflags |= TFLAG_READ_ONLY;
    }
    let mut x = Export {
        h,
        dev: bdev,
        bl,
        size,
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
        let mut c = Conn { s, idle: a.idle };
        match handshake(&mut c, a, size, tflags) {
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
        if let Err(e) = x.flush() {
            eprintln!("hbactl: final SYNCHRONIZE CACHE: {e}");
        }
    }
    println!(
        "served {served} connection(s): {} reads ({} bytes), {} writes ({} bytes), {} flushes",
        st.reads, st.bytes_read, st.writes, st.bytes_written, st.flushes
    );
    Ok(())
}
