//! `hbactl serve nbd` exporting a co-simulated disk, driven by qemu-io (pattern writes at
//! odd offsets and lengths, read back verified by qemu-io itself), qemu-img convert
//! (a copy compared with the image file) and libnbd's nbdinfo and nbdcopy (LIST, INFO,
//! a copy out and one in); then a clean stop on SIGTERM.

mod common;

use common::{pattern, Scratch};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BUS: &str = r#"
[[target]]
id = 1
type = "disk"
image = "disk.img"
blocks = 512
"#;

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

/// Starts the server on a free port; returns it with the port from its first line.
fn serve(s: &Scratch, extra: &[&str]) -> (Child, u16) {
    let mut args = vec![
        "--bus", "bus.toml", "serve", "nbd", "1", "--port", "0", "--idle", "120",
    ];
    args.extend_from_slice(extra);
    let mut child = Command::new(env!("CARGO_BIN_EXE_hbactl"))
        .args(&args)
        .current_dir(s.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hbactl serve nbd");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .rsplit("127.0.0.1:")
        .next()
        .and_then(|t| t.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (child, port)
}

/// Waits (bounded) for the server to end; returns its exit code and output.
fn finish(mut child: Child) -> (i32, String, String) {
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let o = child.wait_with_output().unwrap();
            return (
                st.code().unwrap_or(-1),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            );
        }
        if t0.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            panic!("server did not stop");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A tool's stdout and stderr, whatever its exit status.
fn output(tool: &str, args: &[&str], dir: &std::path::Path) -> String {
    let o = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run(tool: &str, args: &[&str], dir: &std::path::Path) -> String {
    let o = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{tool} {args:?}: {out}");
    out
}

#[test]
fn qemu_io_and_qemu_img_through_the_nbd_export() {
    if !have("qemu-io") || !have("qemu-img") {
        eprintln!("qemu-utils missing (scripts/setup.sh installs it): skipped");
        return;
    }
    let s = Scratch::with_bus(BUS);
    let mut img = pattern(7, 512 * 512);
    s.write("disk.img", &img);
    let (child, port) = serve(&s, &["--clients", "2"]);
    let url = format!("nbd://127.0.0.1:{port}/hba");
    // Odd offsets and lengths: edge blocks go through read-modify-write.
    let writes: [(u64, usize, u8); 4] = [
        (1000, 3001, 0xab),
        (511, 2, 0x11),
        (70_001, 40_013, 0x5c),
        (261_000, 1144, 0xe7),
    ];
    let mut cmds = Vec::new();
    for (off, len, p) in writes {
        cmds.push(format!("write -P {p:#x} {off} {len}"));
    }
    for (off, len, p) in writes {
        cmds.push(format!("read -P {p:#x} {off} {len}"));
    }
    cmds.push("flush".into());
    let mut args = vec!["-f", "raw", url.as_str()];
    for c in &cmds {
        args.push("-c");
        args.push(c);
    }
    let out = run("qemu-io", &args, s.dir.path());
    assert!(!out.contains("failed") && !out.contains("error"), "{out}");
    assert_eq!(out.matches("read ").count(), 4, "{out}");
    for (off, len, p) in writes {
        img[off as usize..off as usize + len].fill(p);
    }
    // The image file holds exactly the patterns over the old data.
    assert!(s.read("disk.img") == img, "image after the qemu-io writes");
    run(
        "qemu-img",
        &["convert", "-f", "raw", "-O", "raw", &url, "copy.raw"],
        s.dir.path(),
    );
    assert!(
        s.read("copy.raw") == img,
        "qemu-img convert copy equals the image"
    );
    let (code, out, err) = finish(child);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("served 2 connection(s)"), "{out}{err}");
}

#[test]
fn sigterm_stops_the_server_cleanly_and_read_only_refuses_writes() {
    if !have("qemu-io") {
        eprintln!("qemu-utils missing (scripts/setup.sh installs it): skipped");
        return;
    }
    let s = Scratch::with_bus(BUS);
    let img = pattern(8, 512 * 512);
    s.write("disk.img", &img);
    let (child, port) = serve(&s, &["--read-only"]);
    let url = format!("nbd://127.0.0.1:{port}/hba");
    let out = output(
        "qemu-io",
        &["-f", "raw", &url, "-c", "write -P 0x1 0 512"],
        s.dir.path(),
    );
    assert!(
        !out.contains("wrote 512/512"),
        "a read-only export took a write: {out}"
    );
    let out = run(
        "qemu-io",
        &["-r", "-f", "raw", &url, "-c", "read 100 1000"],
        s.dir.path(),
    );
    assert!(out.contains("read 1000/1000"), "{out}");
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let (code, out, err) = finish(child);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("served 2 connection(s)"), "{out}{err}");
    assert!(s.read("disk.img") == img, "nothing was written");
}

/// Hostile clients are dropped (never a panic, never a hang) and the server carries on:
/// an oversized option, a bad request magic after EXPORT_NAME, then a well-behaved
/// client that reads a block, asks for a block past the end (EINVAL) and disconnects.
#[test]
fn hostile_clients_are_dropped_and_the_server_carries_on() {
    use std::io::{Read, Write};
    let s = Scratch::with_bus(BUS);
    let img = pattern(9, 512 * 512);
    s.write("disk.img", &img);
    let (child, port) = serve(&s, &["--clients", "3"]);
    let hello = |c: &mut std::net::TcpStream| {
        let mut g = [0u8; 18];
        c.read_exact(&mut g).unwrap();
        assert_eq!(&g[..8], b"NBDMAGIC");
        assert_eq!(&g[8..16], b"IHAVEOPT");
        c.write_all(&3u32.to_be_bytes()).unwrap(); // fixed newstyle, no zeroes
    };
    let opt = |c: &mut std::net::TcpStream, o: u32, data: &[u8], len: u32| {
        let mut m = b"IHAVEOPT".to_vec();
        m.extend_from_slice(&o.to_be_bytes());
        m.extend_from_slice(&len.to_be_bytes());
        m.extend_from_slice(data);
        c.write_all(&m).unwrap();
    };
    let eof = |c: &mut std::net::TcpStream| {
        let mut rest = Vec::new();
        let _ = c.read_to_end(&mut rest);
    };
    // 1. An option claiming 4 GiB of payload.
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    hello(&mut c);
    opt(&mut c, 7, &[], u32::MAX);
    eof(&mut c);
    // 2. EXPORT_NAME, then garbage instead of a request.
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    hello(&mut c);
    opt(&mut c, 1, b"hba", 3);
    let mut r = [0u8; 10];
    c.read_exact(&mut r).unwrap();
    assert_eq!(
        u64::from_be_bytes(r[..8].try_into().unwrap()),
        512 * 512,
        "export size"
    );
    c.write_all(&[0xde; 28]).unwrap();
    eof(&mut c);
    // 3. A proper client.
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    hello(&mut c);
    opt(&mut c, 1, b"", 0);
    c.read_exact(&mut r).unwrap();
    let req = |c: &mut std::net::TcpStream, ty: u16, handle: u64, off: u64, len: u32| {
        let mut m = 0x2560_9513u32.to_be_bytes().to_vec();
        m.extend_from_slice(&0u16.to_be_bytes());
        m.extend_from_slice(&ty.to_be_bytes());
        m.extend_from_slice(&handle.to_be_bytes());
        m.extend_from_slice(&off.to_be_bytes());
        m.extend_from_slice(&len.to_be_bytes());
        c.write_all(&m).unwrap();
    };
    let simple = |c: &mut std::net::TcpStream| {
        let mut h = [0u8; 16];
        c.read_exact(&mut h).unwrap();
        assert_eq!(u32::from_be_bytes(h[..4].try_into().unwrap()), 0x6744_6698);
        (
            u32::from_be_bytes(h[4..8].try_into().unwrap()),
            u64::from_be_bytes(h[8..16].try_into().unwrap()),
        )
    };
    req(&mut c, 0, 77, 1536, 700);
    assert_eq!(simple(&mut c), (0, 77));
    let mut d = vec![0u8; 700];
    c.read_exact(&mut d).unwrap();
    assert!(d == img[1536..2236], "READ data");
    req(&mut c, 0, 78, 512 * 512 - 100, 200);
    assert_eq!(simple(&mut c), (22, 78), "past the end: EINVAL");
    req(&mut c, 9, 79, 0, 0);
    assert_eq!(simple(&mut c), (95, 79), "unknown command: ENOTSUP");
    req(&mut c, 2, 80, 0, 0);
    eof(&mut c);
    let (code, out, err) = finish(child);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("served 3 connection(s)"), "{out}{err}");
    assert!(
        err.contains("handshake") && err.contains("client dropped"),
        "{err}"
    );
    assert!(s.read("disk.img") == img);
}

/// A CD-ROM is exported read-only without being asked: qemu-io's write is refused, and
/// qemu-img convert copies the disc (2048-byte blocks) exactly.
#[test]
fn a_cdrom_export_is_read_only_and_copies_the_disc() {
    if !have("qemu-io") || !have("qemu-img") {
        eprintln!("qemu-utils missing (scripts/setup.sh installs it): skipped");
        return;
    }
    let s = Scratch::with_bus("[[target]]\nid = 1\ntype = \"cdrom\"\nimage = \"disc.iso\"\n");
    let disc = pattern(11, 200 * 2048);
    s.write("disc.iso", &disc);
    let (child, port) = serve(&s, &["--clients", "2"]);
    let url = format!("nbd://127.0.0.1:{port}/hba");
    let out = output(
        "qemu-io",
        &["-f", "raw", &url, "-c", "write -P 0x1 4096 2048"],
        s.dir.path(),
    );
    assert!(
        !out.contains("wrote 2048/2048"),
        "a CD-ROM export took a write: {out}"
    );
    run(
        "qemu-img",
        &["convert", "-f", "raw", "-O", "raw", &url, "disc.copy"],
        s.dir.path(),
    );
    assert!(s.read("disc.copy") == disc, "qemu-img copy equals the disc");
    let (code, out, err) = finish(child);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(" 0 writes"), "{out}{err}");
    assert!(s.read("disc.iso") == disc);
}

/// libnbd's clients: `nbdinfo --list` (NBD_OPT_LIST, then INFO), `nbdinfo` (GO), and
/// `nbdcopy` both ways: the export copied out equals the image, and a file copied in
/// (with `--flush`) becomes the image.
#[test]
fn nbdinfo_and_nbdcopy_through_the_nbd_export() {
    if !have("nbdcopy") || !have("nbdinfo") {
        eprintln!("libnbd-bin missing (scripts/setup.sh installs it): skipped");
        return;
    }
    let s = Scratch::with_bus(BUS);
    let img = pattern(12, 512 * 512);
    s.write("disk.img", &img);
    let (child, port) = serve(&s, &["--clients", "4"]);
    let url = format!("nbd://127.0.0.1:{port}/hba");
    let list = run("nbdinfo", &["--list", &url], s.dir.path());
    assert!(list.contains("export=\"hba\""), "{list}");
    assert!(list.contains("export-size: 262144"), "{list}");
    assert!(list.contains("can_flush: true"), "{list}");
    let info = run("nbdinfo", &[&url], s.dir.path());
    assert!(info.contains("is_read_only: false"), "{info}");
    run("nbdcopy", &[&url, "copy.raw"], s.dir.path());
    assert!(s.read("copy.raw") == img, "nbdcopy copy equals the image");
    let new = pattern(13, 512 * 512);
    s.write("new.raw", &new);
    run("nbdcopy", &["--flush", "new.raw", &url], s.dir.path());
    let (code, out, err) = finish(child);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("served 4 connection(s)"), "{out}{err}");
    assert!(s.read("disk.img") == new, "the image is what nbdcopy wrote");
}
