//! The XDMA backend against stand-in files: regular files for the user BAR and the DMA
//! channels (mmap, pread and pwrite at offsets behave as on the driver's nodes) and a
//! named pipe for the interrupt node (poll and 4-byte reads behave as on `events_K`).

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hba_host_driver::transport::xdma::{XdmaConfig, XdmaTransport};
use hba_host_driver::{Transport, TransportError};
use tempfile::TempDir;

const USER_SIZE: usize = 0x1000;
const DMA_BASE: u64 = 0x1_0000;
const C2H_SIZE: u64 = DMA_BASE + 0x1_0000;

/// The byte the c2h stand-in holds at file offset `off`.
fn pattern(off: u64) -> u8 {
    (off.wrapping_mul(7) ^ (off >> 8)) as u8
}

/// Creates a named pipe at `path`.
fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(
        rc,
        0,
        "mkfifo {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// A temporary /dev with the four nodes of xdma0, channel 0, interrupt 0.
struct FakeDev {
    dir: TempDir,
}

impl FakeDev {
    fn new() -> Self {
        let dir = TempDir::new().unwrap();
        let d = dir.path();
        File::create(d.join("xdma0_user"))
            .unwrap()
            .set_len(USER_SIZE as u64)
            .unwrap();
        File::create(d.join("xdma0_h2c_0")).unwrap();
        let c2h = File::create(d.join("xdma0_c2h_0")).unwrap();
        let bytes: Vec<u8> = (0..C2H_SIZE).map(pattern).collect();
        c2h.write_all_at(&bytes, 0).unwrap();
        mkfifo(&d.join("xdma0_events_0"));
        FakeDev { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config(&self) -> XdmaConfig {
        XdmaConfig {
            dev_dir: self.dir.path().to_path_buf(),
            user_size: USER_SIZE,
            dma_base: DMA_BASE,
            dma_limit: 0x1_0000,
            ..XdmaConfig::default()
        }
    }

    fn open(&self) -> XdmaTransport {
        XdmaTransport::open(self.config()).unwrap()
    }

    /// Opens the write end of the events pipe (the transport must already have the
    /// read end open, or this would block).
    fn irq_writer(&self) -> File {
        OpenOptions::new()
            .write(true)
            .open(self.path("xdma0_events_0"))
            .unwrap()
    }
}

#[test]
fn register_write_lands_in_the_mapping_little_endian() {
    let dev = FakeDev::new();
    let mut t = dev.open();
    t.reg_write(0x10, 0xdead_beef).unwrap();
    t.reg_write(USER_SIZE as u32 - 4, 0x0102_0304).unwrap();
    assert_eq!(t.reg_read(0x10).unwrap(), 0xdead_beef);
    assert_eq!(t.reg_read(USER_SIZE as u32 - 4).unwrap(), 0x0102_0304);
    assert_eq!(t.reg_read(0x14).unwrap(), 0);

    let bytes = fs::read(dev.path("xdma0_user")).unwrap();
    assert_eq!(bytes.len(), USER_SIZE);
    assert_eq!(&bytes[0x10..0x14], &[0xef, 0xbe, 0xad, 0xde]);
    assert_eq!(&bytes[USER_SIZE - 4..], &[0x04, 0x03, 0x02, 0x01]);
    assert!(bytes[..0x10].iter().all(|&b| b == 0));
    assert!(bytes[0x14..USER_SIZE - 4].iter().all(|&b| b == 0));
}

#[test]
fn register_reads_see_the_file() {
    let dev = FakeDev::new();
    File::options()
        .write(true)
        .open(dev.path("xdma0_user"))
        .unwrap()
        .write_all_at(&0x1234_5678u32.to_le_bytes(), 0x20)
        .unwrap();
    let mut t = dev.open();
    assert_eq!(t.reg_read(0x20).unwrap(), 0x1234_5678);
}

#[test]
fn misaligned_register_offset_is_rejected() {
    let dev = FakeDev::new();
    let mut t = dev.open();
    for off in [1u32, 2, 3, 0x11] {
        assert!(matches!(
            t.reg_read(off),
            Err(TransportError::Misaligned { value, align: 4, .. }) if value == u64::from(off)
        ));
        assert!(matches!(
            t.reg_write(off, 1),
            Err(TransportError::Misaligned { align: 4, .. })
        ));
    }
}

#[test]
fn register_offset_beyond_the_map_is_rejected() {
    let dev = FakeDev::new();
    let mut t = dev.open();
    for off in [USER_SIZE as u32, USER_SIZE as u32 + 4, u32::MAX - 3] {
        assert!(matches!(
            t.reg_read(off),
            Err(TransportError::OutOfRange { limit, len: 4, .. }) if limit == USER_SIZE as u64
        ));
        assert!(matches!(
            t.reg_write(off, 1),
            Err(TransportError::OutOfRange { .. })
        ));
    }
    // Nothing was written anywhere.
    assert!(fs::read(dev.path("xdma0_user"))
        .unwrap()
        .iter()
        .all(|&b| b == 0));
}

#[test]
fn dma_write_lands_at_base_plus_address() {
    let dev = FakeDev::new();
    let mut t = dev.open();
    let data: Vec<u8> = (0..256u32).map(|i| (i as u8) ^ 0x5a).collect();
    t.dma_write(0x100, &data).unwrap();
    let h2c = fs::read(dev.path("xdma0_h2c_0")).unwrap();
    let at = (DMA_BASE + 0x100) as usize;
    assert_eq!(h2c.len(), at + data.len());
    assert_eq!(&h2c[at..], &data[..]);
    assert!(h2c[..at].iter().all(|&b| b == 0));
    // The c2h node was not touched.
    assert_eq!(
        fs::metadata(dev.path("xdma0_c2h_0")).unwrap().len(),
        C2H_SIZE
    );
}

#[test]
fn dma_read_returns_card_memory_from_base_plus_address() {
    let dev = FakeDev::new();
    let mut t = dev.open();
    let mut buf = vec![0u8; 0x300];
    t.dma_read(0x200, &mut buf).unwrap();
    let expect: Vec<u8> = (DMA_BASE + 0x200..DMA_BASE + 0x500).map(pattern).collect();
    assert_eq!(buf, expect);
    // A second, smaller read reuses the bounce buffer and still returns the right bytes.
    let mut small = [0u8; 8];
    t.dma_read(0xfff8, &mut small).unwrap();
    let expect: Vec<u8> = (DMA_BASE + 0xfff8..DMA_BASE + 0x1_0000)
        .map(pattern)
        .collect();
    assert_eq!(&small[..], &expect[..]);
}

#[test]
fn large_dma_is_split_into_chunks_and_stays_correct() {
    use hba_host_driver::transport::xdma::MAX_DMA_CHUNK;
    let dev = FakeDev::new();
    let len = MAX_DMA_CHUNK + 0x1000;
    let mut t = XdmaTransport::open(XdmaConfig {
        dma_limit: 1 << 30,
        ..dev.config()
    })
    .unwrap();
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    t.dma_write(0x40, &data).unwrap();
    let h2c = fs::read(dev.path("xdma0_h2c_0")).unwrap();
    assert_eq!(&h2c[(DMA_BASE + 0x40) as usize..], &data[..]);

    // Read it back through c2h: make the c2h stand-in the same contents.
    fs::copy(dev.path("xdma0_h2c_0"), dev.path("xdma0_c2h_0")).unwrap();
    let mut back = vec![0u8; len];
    t.dma_read(0x40, &mut back).unwrap();
    assert!(back == data);
}

#[test]
fn zero_length_dma_is_a_no_op() {
    let dev = FakeDev::new();
    let mut t = dev.open();
    t.dma_write(0x100, &[]).unwrap();
    t.dma_read(0x100, &mut []).unwrap();
    assert_eq!(fs::metadata(dev.path("xdma0_h2c_0")).unwrap().len(), 0);
}

#[test]
fn misaligned_dma_address_and_length_are_rejected_before_any_io() {
    let dev = FakeDev::new();
    let mut t = dev.open();
    let mut buf = [0u8; 8];
    assert!(matches!(
        t.dma_write(2, &[0; 8]),
        Err(TransportError::Misaligned {
            what: "DMA address",
            value: 2,
            align: 4
        })
    ));
    assert!(matches!(
        t.dma_read(0x101, &mut buf),
        Err(TransportError::Misaligned {
            what: "DMA address",
            value: 0x101,
            align: 4
        })
    ));
    assert!(matches!(
        t.dma_write(0, &[0; 6]),
        Err(TransportError::Misaligned {
            what: "DMA length",
            value: 6,
            align: 4
        })
    ));
    assert!(matches!(
        t.dma_read(0, &mut buf[..7]),
        Err(TransportError::Misaligned {
            what: "DMA length",
            value: 7,
            align: 4
        })
    ));
    assert_eq!(fs::metadata(dev.path("xdma0_h2c_0")).unwrap().len(), 0);
    assert_eq!(buf, [0; 8]);

    // A coarser granularity from the configuration is enforced too.
    drop(t); // the events node is held exclusively
    let mut t = XdmaTransport::open(XdmaConfig {
        dma_align: 64,
        ..dev.config()
    })
    .unwrap();
    assert!(matches!(
        t.dma_write(32, &[0; 64]),
        Err(TransportError::Misaligned {
            what: "DMA address",
            value: 32,
            align: 64
        })
    ));
    t.dma_write(64, &[1; 64]).unwrap();
}

#[test]
fn dma_beyond_the_limit_is_rejected_before_any_io() {
    let dev = FakeDev::new();
    let mut t = dev.open();
    let limit = dev.config().dma_limit;
    // Ending exactly at the limit is fine.
    let mut buf = [0u8; 8];
    t.dma_read(limit - 8, &mut buf).unwrap();
    assert!(matches!(
        t.dma_write(limit - 4, &[0; 8]),
        Err(TransportError::OutOfRange { what: "DMA", offset, len: 8, limit: l })
            if offset == limit - 4 && l == limit
    ));
    assert!(matches!(
        t.dma_read(limit, &mut buf),
        Err(TransportError::OutOfRange { .. })
    ));
    // Address arithmetic overflow is a range error, not a panic.
    assert!(matches!(
        t.dma_read(u64::MAX - 3, &mut buf),
        Err(TransportError::OutOfRange { .. })
    ));
    assert_eq!(fs::metadata(dev.path("xdma0_h2c_0")).unwrap().len(), 0);

    // With no card-memory limit, an offset past what off_t holds is still refused.
    drop(t); // the events node is held exclusively
    let mut t = XdmaTransport::open(XdmaConfig {
        dma_limit: u64::MAX,
        ..dev.config()
    })
    .unwrap();
    assert!(matches!(
        t.dma_write(i64::MAX as u64 - 3, &[0; 4]),
        Err(TransportError::OutOfRange {
            what: "DMA file offset",
            ..
        })
    ));
}

#[test]
fn short_dma_read_is_an_error() {
    let dev = FakeDev::new();
    let mut t = XdmaTransport::open(XdmaConfig {
        dma_limit: 0x2_0000,
        ..dev.config()
    })
    .unwrap();
    // The c2h stand-in ends at DMA_BASE + 0x10000; ask for 0x20 bytes across its end.
    let mut buf = vec![0u8; 0x20];
    match t.dma_read(0xfff0, &mut buf) {
        Err(TransportError::Short {
            op: "pread",
            done: 0x10,
            wanted: 0x20,
            offset,
        }) => {
            assert_eq!(offset, DMA_BASE + 0xfff0)
        }
        other => panic!("expected a short pread, got {other:?}"),
    }
}

#[test]
fn dma_syscall_failure_names_the_op_and_path() {
    let dev = FakeDev::new();
    // A pipe in place of the h2c node: it opens O_RDWR, but pwrite on it fails (ESPIPE).
    fs::remove_file(dev.path("xdma0_h2c_0")).unwrap();
    mkfifo(&dev.path("xdma0_h2c_0"));
    let mut t = dev.open(); // O_RDWR on a FIFO does not block on Linux.
    match t.dma_write(0, &[0; 4]) {
        Err(e @ TransportError::Io { op: "pwrite", .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("xdma0_h2c_0"), "{msg}");
        }
        other => panic!("expected an Io error, got {other:?}"),
    }
}

#[test]
fn interrupt_from_the_events_pipe() {
    let dev = FakeDev::new();
    let mut t = dev.open();
    // No writer has ever connected: nothing pending.
    assert!(!t.wait_irq(Duration::from_millis(5)).unwrap());
    assert!(!t.wait_irq(Duration::ZERO).unwrap());

    let mut w = dev.irq_writer();
    assert!(!t.wait_irq(Duration::from_millis(5)).unwrap());

    // The driver hands back 1 when the interrupt flag was set.
    w.write_all(&1u32.to_ne_bytes()).unwrap();
    assert!(t.wait_irq(Duration::from_secs(10)).unwrap());
    // The read consumed it.
    assert!(!t.wait_irq(Duration::from_millis(5)).unwrap());

    // Two interrupts before a wait are one wake-up: interrupts are hints, and the
    // driver merges them (the caller reads the cause register and the ring).
    w.write_all(&1u32.to_ne_bytes()).unwrap();
    w.write_all(&1u32.to_ne_bytes()).unwrap();
    assert!(t.wait_irq(Duration::from_secs(10)).unwrap());
    assert!(!t.wait_irq(Duration::from_millis(1)).unwrap());

    // A zero flag is not an interrupt.
    w.write_all(&0u32.to_ne_bytes()).unwrap();
    assert!(!t.wait_irq(Duration::from_secs(10)).unwrap());
}

#[test]
fn short_event_read_is_an_error() {
    let dev = FakeDev::new();
    let mut t = dev.open();
    let mut w = dev.irq_writer();
    w.write_all(&[1, 0]).unwrap();
    assert!(matches!(
        t.wait_irq(Duration::from_secs(10)),
        Err(TransportError::Short {
            op: "events read",
            done: 2,
            wanted: 4,
            ..
        })
    ));
}

#[test]
fn hang_up_without_data_is_an_error_not_a_spin() {
    let dev = FakeDev::new();
    let mut t = dev.open();
    let mut w = dev.irq_writer();
    // Data still queued when the writer goes away is delivered first.
    w.write_all(&1u32.to_ne_bytes()).unwrap();
    drop(w);
    assert!(t.wait_irq(Duration::from_secs(10)).unwrap());
    // Then the hang-up is reported, even with a long timeout.
    match t.wait_irq(Duration::from_secs(3600)) {
        Err(e @ TransportError::Io { op: "poll", .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("xdma0_events_0") && msg.contains("POLLHUP"),
                "{msg}"
            );
        }
        other => panic!("expected a hang-up error, got {other:?}"),
    }
}

#[test]
fn missing_node_fails_open_naming_the_path() {
    for name in ["xdma0_user", "xdma0_h2c_0", "xdma0_c2h_0", "xdma0_events_0"] {
        let dev = FakeDev::new();
        let path = dev.path(name);
        fs::remove_file(&path).unwrap();
        match XdmaTransport::open(dev.config()) {
            Err(e @ TransportError::Open { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&path.display().to_string()), "{msg}");
            }
            other => panic!("expected Open error for missing {name}, got {other:?}"),
        }
    }
}

#[test]
fn other_channel_and_irq_numbers_select_other_nodes() {
    let dev = FakeDev::new();
    let cfg = XdmaConfig {
        channel: 1,
        irq: 2,
        ..dev.config()
    };
    match XdmaTransport::open(cfg.clone()) {
        Err(e @ TransportError::Open { .. }) => assert!(e.to_string().contains("xdma0_h2c_1")),
        other => panic!("expected Open error, got {other:?}"),
    }
    File::create(dev.path("xdma0_h2c_1")).unwrap();
    File::create(dev.path("xdma0_c2h_1")).unwrap();
    match XdmaTransport::open(cfg.clone()) {
        Err(e @ TransportError::Open { .. }) => {
            assert!(e.to_string().contains("xdma0_events_2"))
        }
        other => panic!("expected Open error, got {other:?}"),
    }
    mkfifo(&dev.path("xdma0_events_2"));
    let mut t = XdmaTransport::open(cfg).unwrap();
    t.dma_write(0, &[9; 4]).unwrap();
    assert_eq!(
        fs::read(dev.path("xdma0_h2c_1")).unwrap().len(),
        DMA_BASE as usize + 4
    );
    assert_eq!(fs::metadata(dev.path("xdma0_h2c_0")).unwrap().len(), 0);
}

#[test]
fn user_stand_in_smaller_than_the_window_is_refused() {
    let dev = FakeDev::new();
    let cfg = XdmaConfig {
        user_size: USER_SIZE * 2,
        ..dev.config()
    };
    match XdmaTransport::open(cfg) {
        Err(e @ TransportError::Open { .. }) => assert!(e.to_string().contains("xdma0_user")),
        other => panic!("expected Open error, got {other:?}"),
    }
}

#[test]
fn invalid_configuration_is_refused() {
    let dev = FakeDev::new();
    for cfg in [
        XdmaConfig {
            user_size: 0,
            ..dev.config()
        },
        XdmaConfig {
            dma_align: 0,
            ..dev.config()
        },
        XdmaConfig {
            dma_align: 12,
            ..dev.config()
        },
    ] {
        assert!(matches!(
            XdmaTransport::open(cfg),
            Err(TransportError::Open { .. })
        ));
    }
}

#[test]
fn name_and_clock() {
    let dev = FakeDev::new();
    let t = dev.open();
    assert_eq!(t.name(), format!("xdma:{}", dev.path("xdma0").display()));
    let a = t.now();
    let b = t.now();
    assert!(b >= a);
}

#[test]
fn for_device_parses_the_device_path() {
    let c = XdmaConfig::for_device("/dev/xdma3").unwrap();
    assert_eq!(c.dev_dir, PathBuf::from("/dev"));
    assert_eq!(c.instance, 3);
    assert_eq!(c.channel, 0);
    assert_eq!(c.irq, 0);
    assert_eq!(
        c,
        XdmaConfig {
            instance: 3,
            ..XdmaConfig::default()
        }
    );

    let c = XdmaConfig::for_device("/dev/xdma0").unwrap();
    assert_eq!((c.dev_dir.as_path(), c.instance), (Path::new("/dev"), 0));
    let c = XdmaConfig::for_device("/tmp/fake/xdma12").unwrap();
    assert_eq!(
        (c.dev_dir.as_path(), c.instance),
        (Path::new("/tmp/fake"), 12)
    );
    let c = XdmaConfig::for_device("xdma1").unwrap();
    assert_eq!((c.dev_dir.as_path(), c.instance), (Path::new("."), 1));

    for bad in [
        "/dev/foo",
        "/dev/xdma",
        "/dev/xdma0_user",
        "/dev/xdma-1",
        "/dev/xdma+1",
        "/dev/xdma01",
        "/dev/xdma99999999999",
        "/dev/",
        "",
    ] {
        match XdmaConfig::for_device(bad) {
            Err(e @ TransportError::Open { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("xdmaN"), "{bad}: {msg}");
            }
            other => panic!("{bad}: expected an error, got {other:?}"),
        }
    }
}

#[test]
fn the_events_node_is_held_exclusively() {
    let dev = FakeDev::new();
    let t = dev.open();
    let e = XdmaTransport::open(dev.config()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("events_0") && msg.contains("another process"),
        "{msg}"
    );
    drop(t);
    // Free again once the first opener is gone.
    dev.open();
}

/// The SIM's attach over the real file operations: a node that is not our card is refused
/// with a clear error; one that identifies as the core gets as far as the firmware
/// checksum, which a plain file cannot compute.
#[test]
fn attach_identifies_the_card_through_the_device_files() {
    use hba_abi::{mem, regs};
    use hba_host_driver::sim::card;
    use hba_host_driver::sim::{AttachError, HbaSim, SimConfig};
    let dev = FakeDev::new();
    let user = OpenOptions::new()
        .write(true)
        .open(dev.path("xdma0_user"))
        .unwrap();
    user.set_len(u64::from(mem::REG_SPACE_BYTES)).unwrap();
    let cfg = XdmaConfig {
        user_size: mem::REG_SPACE_BYTES as usize,
        dma_limit: u64::from(mem::CARD_MEM_BYTES),
        dma_base: 0,
        ..dev.config()
    };
    let put = |off: u32, v: u32| user.write_all_at(&v.to_le_bytes(), u64::from(off)).unwrap();
    let attach = || {
        let t = XdmaTransport::open(cfg.clone()).unwrap();
        HbaSim::attach(card::share(t), SimConfig::default()).map(|_| ())
    };
    // An empty BAR.
    let e = attach().unwrap_err();
    assert!(matches!(e, AttachError::NotOurCard { read: 0, .. }), "{e}");
    assert!(e.to_string().contains("zero"), "{e}");
    // What a board reads where no core answers.
    put(regs::ID, u32::MAX);
    let e = attach().unwrap_err();
    assert!(e.to_string().contains("all ones"), "{e}");
    // Our magic, another major contract version.
    put(regs::ID, hba_abi::MAGIC);
    put(regs::VERSION, 9 << 16);
    assert!(matches!(
        attach().unwrap_err(),
        AttachError::Version { major: 9, .. }
    ));
    // Our core without the SCSI block.
    put(regs::VERSION, hba_abi::version_word());
    put(regs::CAPS, regs::caps::CARD_MEM | regs::caps::IRQ);
    assert!(matches!(
        attach().unwrap_err(),
        AttachError::Caps {
            missing: regs::caps::SCSI,
            ..
        }
    ));
    // Everything right: identification passes, and the firmware checksum is read back
    // through the BAR (the file answers 0, so the image does not verify).
    put(regs::CAPS, regs::caps::PRESENT);
    put(regs::MEM_SIZE, mem::CARD_MEM_BYTES);
    let e = attach().unwrap_err();
    assert!(matches!(e, AttachError::Firmware(_)), "{e}");
    assert!(e.to_string().contains("checksum"), "{e}");
    // The image went into the instruction RAM port: the last word written is there.
    let bytes = fs::read(dev.path("xdma0_user")).unwrap();
    let at = regs::SEQ_IDATA as usize;
    let last = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let img = hba_firmware::default_image();
    assert_eq!(
        last,
        img.get(hba_abi::isa::IRAM_WORDS as usize - 1)
            .copied()
            .unwrap_or(0)
    );
}
