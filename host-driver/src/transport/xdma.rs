//! XDMA backend: the Xilinx XDMA driver's character devices (`dma_ip_drivers`,
//! `XDMA/linux-kernel`).
//!
//! One card instance `N` exposes, among others:
//!
//! * `xdmaN_user`: the AXI-Lite user BAR. Mapped here (shared, `O_SYNC`, uncached by the
//!   driver) and accessed with volatile 32-bit loads and stores; every load is a
//!   non-posted PCIe read.
//! * `xdmaN_h2c_K` / `xdmaN_c2h_K`: DMA channel `K`. The file offset is the AXI address,
//!   the driver never moves the file position, so transfers use `pwrite` / `pread`, one
//!   transfer per call, staged through a page-aligned bounce buffer.
//! * `xdmaN_events_K`: user interrupt `K`. `poll` reports it; a 4-byte read at offset 0
//!   returns the (non-zero) flag and clears it.

use std::alloc::{self, Layout};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use memmap2::{MmapMut, MmapOptions};

use super::{Transport, TransportError};

/// Size of the user BAR window mapped by default: the core's register space.
pub const DEFAULT_USER_SIZE: usize = hba_abi::mem::REG_SPACE_BYTES as usize;

/// Alignment of the DMA bounce buffer: one page, as the XDMA reference tools use.
pub const BOUNCE_ALIGN: usize = 4096;

/// Largest amount moved by one `pread`/`pwrite`; longer transfers are split into
/// chunks of this size, which also bounds the bounce buffer (16 MiB).
pub const MAX_DMA_CHUNK: usize = 16 * 1024 * 1024;

/// Where the XDMA device nodes are and how the card's address spaces are laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdmaConfig {
    /// Directory holding the device nodes (default `/dev`).
    pub dev_dir: PathBuf,
    /// Card instance `N` in `xdmaN_*` (default 0).
    pub instance: u32,
    /// DMA channel `K` in `xdmaN_h2c_K` / `xdmaN_c2h_K` (default 0).
    pub channel: u32,
    /// User interrupt `K` in `xdmaN_events_K` (default 0).
    pub irq: u32,
    /// Bytes of the user BAR to map (default [`DEFAULT_USER_SIZE`], the core's
    /// register space).
    pub user_size: usize,
    /// AXI address of card memory: a DMA to `card_addr` uses file offset
    /// `dma_base + card_addr` (default `hba_abi::mem::CARD_MEM_DMA_BASE`).
    pub dma_base: u64,
    /// Granularity of DMA addresses and lengths; a power of two (default
    /// `hba_abi::mem::CARD_MEM_DMA_ALIGN`).
    pub dma_align: u64,
    /// Size of card memory; transfers reaching past it are rejected (default
    /// `hba_abi::mem::CARD_MEM_BYTES`).
    pub dma_limit: u64,
}

impl Default for XdmaConfig {
    fn default() -> Self {
        XdmaConfig {
            dev_dir: PathBuf::from("/dev"),
            instance: 0,
            channel: 0,
            irq: 0,
            user_size: DEFAULT_USER_SIZE,
            dma_base: hba_abi::mem::CARD_MEM_DMA_BASE,
            dma_align: hba_abi::mem::CARD_MEM_DMA_ALIGN,
            dma_limit: u64::from(hba_abi::mem::CARD_MEM_BYTES),
        }
    }
}

impl XdmaConfig {
    /// Default configuration for a device named like `/dev/xdma0` (directory and
    /// instance are taken from the path; the node `xdma0` itself need not exist).
    pub fn for_device(path: impl AsRef<Path>) -> Result<Self, TransportError> {
        let path = path.as_ref();
        let bad = || TransportError::Open {
            path: path.display().to_string(),
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                "not an XDMA device name: expected a path ending in xdmaN, e.g. /dev/xdma0",
            ),
        };
        let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(bad)?;
        let digits = name.strip_prefix("xdma").ok_or_else(bad)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let instance: u32 = digits.parse().map_err(|_| bad())?;
        // The driver names nodes with "%d": "xdma007" never exists, so reject it.
        if instance.to_string() != digits {
            return Err(bad());
        }
        let dev_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(XdmaConfig {
            dev_dir,
            instance,
            ..XdmaConfig::default()
        })
    }

    /// The path of node `xdmaN_<suffix>` for this configuration.
    fn node(&self, suffix: &str) -> PathBuf {
        self.dev_dir
            .join(format!("xdma{}_{}", self.instance, suffix))
    }
}

/// A heap buffer aligned to [`BOUNCE_ALIGN`], grown on demand and kept for reuse.
struct BounceBuffer {
    ptr: NonNull<u8>,
    cap: usize,
}

// SAFETY: the buffer exclusively owns its allocation (no aliasing pointers escape
// except through `&mut self` borrows), so moving it to another thread is sound.
unsafe impl Send for BounceBuffer {}

impl BounceBuffer {
    /// An empty buffer that owns no allocation yet.
    fn new() -> Self {
        BounceBuffer {
            ptr: NonNull::dangling(),
            cap: 0,
        }
    }

    /// A slice of `len` initialised bytes (contents unspecified) at a page-aligned address.
    fn get(&mut self, len: usize) -> io::Result<&mut [u8]> {
        if len > self.cap {
            let cap = len
                .checked_next_multiple_of(BOUNCE_ALIGN)
                .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
            let layout = Layout::from_size_align(cap, BOUNCE_ALIGN)
                .map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
            // SAFETY: `layout` has a non-zero size (cap >= len > 0, a multiple of 4096)
            // and a valid power-of-two alignment.
            let raw = unsafe { alloc::alloc_zeroed(layout) };
            let ptr =
                NonNull::new(raw).ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
            self.release();
            self.ptr = ptr;
            self.cap = cap;
        }
        if len == 0 {
            return Ok(&mut []);
        }
        // SAFETY: `ptr` points to an owned allocation of `cap >= len` bytes that was
        // zero-initialised when allocated (so every byte is initialised), and the
        // returned slice borrows `self` mutably, so nothing else aliases it.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), len) })
    }

    /// Frees the allocation, if any.
    fn release(&mut self) {
        if self.cap != 0 {
            // SAFETY: `ptr` was returned by `alloc_zeroed` with exactly this layout
            // (size `cap`, align BOUNCE_ALIGN), which `get` validated, and is freed once.
            unsafe {
                alloc::dealloc(
                    self.ptr.as_ptr(),
                    Layout::from_size_align_unchecked(self.cap, BOUNCE_ALIGN),
                )
            };
            self.ptr = NonNull::dangling();
            self.cap = 0;
        }
    }
}

impl Drop for BounceBuffer {
    fn drop(&mut self) {
        self.release();
    }
}

/// An open node: the file and its path for error messages.
struct Node {
    file: File,
    path: String,
}

impl Node {
    /// Opens `path` with `opts`, mapping failure to [`TransportError::Open`].
    fn open(path: PathBuf, opts: &OpenOptions) -> Result<Self, TransportError> {
        let path = path.display().to_string();
        match opts.open(&path) {
            Ok(file) => Ok(Node { file, path }),
            Err(source) => Err(TransportError::Open { path, source }),
        }
    }

    /// A [`TransportError::Io`] for `op` on this node.
    fn io_err(&self, op: &'static str, source: io::Error) -> TransportError {
        TransportError::Io {
            op,
            path: self.path.clone(),
            source,
        }
    }
}

/// [`Transport`] over the XDMA character devices of one card.
pub struct XdmaTransport {
    config: XdmaConfig,
    user: MmapMut,
    h2c: Node,
    c2h: Node,
    events: Node,
    /// False once `pread` on the events node failed with ESPIPE; then plain `read` is used.
    events_pread: bool,
    bounce: BounceBuffer,
    opened: Instant,
}

impl std::fmt::Debug for XdmaTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XdmaTransport")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl XdmaTransport {
    /// Opens the user, h2c, c2h and events nodes named by `config` and maps the user BAR.
    pub fn open(config: XdmaConfig) -> Result<Self, TransportError> {
        let base = config.dev_dir.join(format!("xdma{}", config.instance));
        let invalid = |msg: String| TransportError::Open {
            path: base.display().to_string(),
            source: io::Error::new(io::ErrorKind::InvalidInput, msg),
        };
        if config.user_size == 0 {
            return Err(invalid("user_size is 0".into()));
        }
        if !config.dma_align.is_power_of_two() || config.dma_align > MAX_DMA_CHUNK as u64 {
            return Err(invalid(format!(
                "dma_align {} is not a power of two up to {MAX_DMA_CHUNK}",
                config.dma_align
            )));
        }

        // Open every node before doing anything else, so a missing one fails early.
        let user = Node::open(
            config.node("user"),
            OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_SYNC),
        )?;
        // O_RDWR on both DMA nodes, as the reference tools do; the driver itself
        // rejects the wrong direction per call with EINVAL.
        let mut rw = OpenOptions::new();
        rw.read(true).write(true);
        let h2c = Node::open(config.node(&format!("h2c_{}", config.channel)), &rw)?;
        let c2h = Node::open(config.node(&format!("c2h_{}", config.channel)), &rw)?;
        // O_NONBLOCK so that opening a FIFO stand-in does not wait for a writer; the
        // driver's read ignores it, and reads only follow a positive poll anyway.
        let events = Node::open(
            config.node(&format!("events_{}", config.irq)),
            OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK),
        )?;
        // The events node is shared by every opener and a read clears the flag, so a
        // second reader would steal interrupts and leave our wait blocked: hold it
        // exclusively (an advisory lock every instance of this driver takes).
        // SAFETY: the descriptor belongs to `events`, open for the duration of the call.
        if unsafe { libc::flock(events.file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            let msg = if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                "held by another process: only one driver may wait on a card's interrupt"
                    .to_string()
            } else {
                format!("cannot lock: {e}")
            };
            return Err(TransportError::Open {
                path: events.path.clone(),
                source: io::Error::new(io::ErrorKind::ResourceBusy, msg),
            });
        }

        // A regular file (a stand-in) shorter than the window would raise SIGBUS on
        // access through the mapping; refuse it here. Device nodes report size 0.
        let meta = user.file.metadata().map_err(|e| user.io_err("fstat", e))?;
        if meta.is_file() && meta.len() < config.user_size as u64 {
            return Err(TransportError::Open {
                path: user.path.clone(),
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "regular file of {} bytes is smaller than user_size {}",
                        meta.len(),
                        config.user_size
                    ),
                ),
            });
        }
        // SAFETY: the mapping is of the device's register window (or a stand-in file
        // checked above to be long enough). It is only accessed through volatile u32
        // loads/stores at bounds-checked offsets, never through references to its
        // contents that could be invalidated by the device changing them.
        let map = unsafe { MmapOptions::new().len(config.user_size).map_mut(&user.file) }.map_err(
            |e| {
                // The XDMA driver refuses a mapping longer than the BAR with EINVAL; say
                // so, since the usual cause is a bitstream whose AXI-Lite BAR is smaller
                // than the register window (or a different card on this node).
                let source = if e.raw_os_error() == Some(libc::EINVAL) {
                    io::Error::new(
                        e.kind(),
                        format!(
                            "{e}: the user BAR is probably smaller than user_size {} \
                             (the HBA needs a BAR of at least {} KiB)",
                            config.user_size,
                            DEFAULT_USER_SIZE / 1024
                        ),
                    )
                } else {
                    e
                };
                user.io_err("mmap", source)
            },
        )?;

        Ok(XdmaTransport {
            config,
            user: map,
            h2c,
            c2h,
            events,
            events_pread: true,
            bounce: BounceBuffer::new(),
            opened: Instant::now(),
        })
    }

    /// The configuration this transport was opened with.
    pub fn config(&self) -> &XdmaConfig {
        &self.config
    }

    /// Checks a register offset and returns it as an index into the mapping.
    fn reg_index(&self, offset: u32) -> Result<usize, TransportError> {
        if offset & 3 != 0 {
            return Err(TransportError::Misaligned {
                what: "register offset",
                value: offset.into(),
                align: 4,
            });
        }
        let limit = self.user.len();
        match (offset as usize).checked_add(4) {
            Some(end) if end <= limit => Ok(offset as usize),
            _ => Err(TransportError::OutOfRange {
                what: "register",
                offset: offset.into(),
                len: 4,
                limit: limit as u64,
            }),
        }
    }

    /// Checks a DMA request and returns the file offset of its first byte.
    fn dma_offset(&self, card_addr: u64, len: usize) -> Result<u64, TransportError> {
        let align = self.config.dma_align;
        let len64 = len as u64;
        // dma_align is a power of two (checked in open), so a mask tests the alignment.
        if card_addr & (align - 1) != 0 {
            return Err(TransportError::Misaligned {
                what: "DMA address",
                value: card_addr,
                align,
            });
        }
        if len64 & (align - 1) != 0 {
            return Err(TransportError::Misaligned {
                what: "DMA length",
                value: len64,
                align,
            });
        }
        let limit = self.config.dma_limit;
        let fits = matches!(card_addr.checked_add(len64), Some(end) if end <= limit);
        if !fits {
            return Err(TransportError::OutOfRange {
                what: "DMA",
                offset: card_addr,
                len: len64,
                limit,
            });
        }
        // The file offset is a signed 64-bit off_t.
        let start = self.config.dma_base.checked_add(card_addr);
        match start.and_then(|s| s.checked_add(len64)) {
            Some(end) if end <= i64::MAX as u64 => Ok(end - len64),
            _ => Err(TransportError::OutOfRange {
                what: "DMA file offset",
                offset: self.config.dma_base.saturating_add(card_addr),
                len: len64,
                limit: i64::MAX as u64,
            }),
        }
    }

    /// The chunk size for DMA: [`MAX_DMA_CHUNK`] rounded down to `dma_align`.
    fn chunk_size(&self) -> usize {
        // dma_align is a power of two <= MAX_DMA_CHUNK (checked in open).
        MAX_DMA_CHUNK - MAX_DMA_CHUNK % self.config.dma_align as usize
    }

    /// Consumes interrupt flags already pending (poll with no wait); true if any was set.
    fn drain_events(&mut self) -> Result<bool, TransportError> {
        let mut seen = false;
        for _ in 0..64 {
            let mut pfd = libc::pollfd {
                fd: self.events.file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: a valid pollfd, count 1, the fd is open for the call.
            let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
            if rc <= 0 || pfd.revents & libc::POLLIN == 0 {
                break;
            }
            match self.read_event()? {
                Some(v) => seen |= v != 0,
                None => break,
            }
        }
        Ok(seen)
    }

    /// Reads the 4-byte interrupt flag after a positive poll; `None` if nothing was there.
    fn read_event(&mut self) -> Result<Option<u32>, TransportError> {
        let mut word = [0u8; 4];
        loop {
            let res = if self.events_pread {
                // The driver wants exactly 4 bytes at offset 0 (EPROTO otherwise).
                match self.events.file.read_at(&mut word, 0) {
                    // Pipes (test stand-ins) and some driver versions' nodes are not
                    // seekable: pread fails with ESPIPE there, so fall back to read.
                    Err(e) if e.raw_os_error() == Some(libc::ESPIPE) => {
                        self.events_pread = false;
                        continue;
                    }
                    r => r,
                }
            } else {
                (&self.events.file).read(&mut word)
            };
            return match res {
                Ok(4) => Ok(Some(u32::from_ne_bytes(word))),
                Ok(done) => Err(TransportError::Short {
                    op: "events read",
                    done,
                    wanted: 4,
                    offset: 0,
                }),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Readable but nothing to read (O_NONBLOCK stand-in raced or spurious).
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                Err(e) => Err(self.events.io_err("read", e)),
            };
        }
    }
}

/// `pwrite`/`pread` of the whole of `buf` at `offset`, retried on EINTR; a short count
/// is an error.
fn transfer(node: &Node, write: bool, buf: &mut [u8], offset: u64) -> Result<(), TransportError> {
    let op = if write { "pwrite" } else { "pread" };
    loop {
        let res = if write {
            node.file.write_at(buf, offset)
        } else {
            node.file.read_at(buf, offset)
        };
        match res {
            Ok(done) if done == buf.len() => return Ok(()),
            Ok(done) => {
                return Err(TransportError::Short {
                    op,
                    done,
                    wanted: buf.len(),
                    offset,
                })
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(node.io_err(op, e)),
        }
    }
}

/// Milliseconds for `poll`: `d` rounded up, capped to `i32::MAX`; also says if capped.
fn poll_ms(d: Duration) -> (i32, bool) {
    let nanos = d.as_nanos();
    let ms = nanos.div_ceil(1_000_000);
    if ms > i32::MAX as u128 {
        (i32::MAX, true)
    } else {
        (ms as i32, false)
    }
}

impl Transport for XdmaTransport {
    fn reg_read(&mut self, offset: u32) -> Result<u32, TransportError> {
        let idx = self.reg_index(offset)?;
        // SAFETY: `idx + 4 <= len` of the live mapping and `idx` is a multiple of 4 from
        // a page-aligned base, so the pointer is in bounds and aligned for u32. Volatile
        // because the device, not this program, determines the value.
        let v = unsafe { self.user.as_ptr().add(idx).cast::<u32>().read_volatile() };
        Ok(u32::from_le(v))
    }

    fn reg_write(&mut self, offset: u32, value: u32) -> Result<(), TransportError> {
        let idx = self.reg_index(offset)?;
        // SAFETY: as in `reg_read`: in bounds and u32-aligned within the live, writable
        // shared mapping; volatile so the store reaches the device exactly once.
        unsafe {
            self.user
                .as_mut_ptr()
                .add(idx)
                .cast::<u32>()
                .write_volatile(value.to_le())
        };
        Ok(())
    }

    fn dma_write(&mut self, card_addr: u64, data: &[u8]) -> Result<(), TransportError> {
        let offset = self.dma_offset(card_addr, data.len())?;
        let chunk = self.chunk_size();
        let mut done = 0usize;
        while done < data.len() {
            let n = chunk.min(data.len() - done);
            let bounce = self
                .bounce
                .get(n)
                .map_err(|e| self.h2c.io_err("allocate bounce buffer", e))?;
            bounce.copy_from_slice(&data[done..done + n]);
            transfer(&self.h2c, true, bounce, offset + done as u64)?;
            done += n;
        }
        Ok(())
    }

    fn dma_read(&mut self, card_addr: u64, buf: &mut [u8]) -> Result<(), TransportError> {
        let offset = self.dma_offset(card_addr, buf.len())?;
        let chunk = self.chunk_size();
        let mut done = 0usize;
        while done < buf.len() {
            let n = chunk.min(buf.len() - done);
            let bounce = self
                .bounce
                .get(n)
                .map_err(|e| self.c2h.io_err("allocate bounce buffer", e))?;
            transfer(&self.c2h, false, bounce, offset + done as u64)?;
            buf[done..done + n].copy_from_slice(bounce);
            done += n;
        }
        Ok(())
    }

    fn wait_irq(&mut self, timeout: Duration) -> Result<bool, TransportError> {
        // None: the deadline is beyond what Instant represents, i.e. wait forever.
        let deadline = Instant::now().checked_add(timeout);
        loop {
            let remaining = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            let (ms, capped) = poll_ms(remaining);
            let mut pfd = libc::pollfd {
                fd: self.events.file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `pfd` is a valid, initialised pollfd and the count is 1; the fd
            // belongs to `self.events`, which stays open for the duration of the call.
            let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(self.events.io_err("poll", e));
            }
            if rc == 0 {
                if capped {
                    continue;
                }
                return Ok(false);
            }
            if pfd.revents & libc::POLLIN != 0 {
                let mut seen = self.read_event()?.is_some_and(|v| v != 0);
                // Interrupts are hints: several pending ones are one wake-up (the driver
                // merges them into its flag; a stand-in pipe may hold several).
                seen |= self.drain_events()?;
                return Ok(seen);
            }
            // Hang-up, error or invalid fd without data: polling again would return at
            // once forever, so report it instead of spinning.
            let what = if pfd.revents & libc::POLLNVAL != 0 {
                "POLLNVAL (descriptor not open)"
            } else if pfd.revents & libc::POLLERR != 0 {
                "POLLERR (device error)"
            } else {
                "POLLHUP (device or writer hung up)"
            };
            return Err(self.events.io_err(
                "poll",
                io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    format!("{what} with no interrupt pending"),
                ),
            ));
        }
    }

    fn now(&self) -> Duration {
        self.opened.elapsed()
    }

    fn name(&self) -> String {
        let dev = self
            .config
            .dev_dir
            .join(format!("xdma{}", self.config.instance));
        format!("xdma:{}", dev.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounce_buffer_is_page_aligned_and_grows() {
        let mut b = BounceBuffer::new();
        assert!(b.get(0).unwrap().is_empty());
        let p1 = b.get(10).unwrap().as_ptr() as usize;
        assert_eq!(p1 % BOUNCE_ALIGN, 0);
        assert_eq!(b.cap, BOUNCE_ALIGN);
        let s = b.get(BOUNCE_ALIGN + 1).unwrap();
        assert_eq!(s.len(), BOUNCE_ALIGN + 1);
        assert_eq!(s.as_ptr() as usize % BOUNCE_ALIGN, 0);
        assert_eq!(b.cap, 2 * BOUNCE_ALIGN);
        // Shrinking requests reuse the allocation.
        let _ = b.get(8).unwrap();
        assert_eq!(b.cap, 2 * BOUNCE_ALIGN);
    }

    #[test]
    fn poll_ms_rounds_up_and_caps() {
        assert_eq!(poll_ms(Duration::ZERO), (0, false));
        assert_eq!(poll_ms(Duration::from_nanos(1)), (1, false));
        assert_eq!(poll_ms(Duration::from_micros(1500)), (2, false));
        assert_eq!(poll_ms(Duration::from_millis(7)), (7, false));
        assert_eq!(poll_ms(Duration::MAX), (i32::MAX, true));
    }
}
