//! `hbactl image` against a co-simulated disk with injected medium errors: the image
//! equals the source outside the mapfile's bad areas, the mapfile lists exactly the
//! injected ranges (and GNU ddrescuelog agrees), and a second run with the fault gone
//! retries only those ranges and recovers them.

mod common;

use common::{pattern, Scratch};

/// A 512-block disk with medium errors on LBAs 100..104 and 300..301.
const FAULTY: &str = r#"
[[target]]
id = 2
type = "disk"
image = "src.img"
blocks = 512
[target.faults]
[[target.faults.rule]]
lba = [100, 104]
action = { kind = "check_condition", key = 3, asc = 0x11 }
[[target.faults.rule]]
lba = [300, 301]
action = { kind = "check_condition", key = 3, asc = 0x11 }
"#;

const HEALED: &str = r#"
[[target]]
id = 2
type = "disk"
image = "src.img"
blocks = 512
"#;

/// Bad areas of a mapfile as (pos, size), read by our own simple reading of the format.
fn bad_areas(map: &str) -> Vec<(u64, u64)> {
    map.lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && f[2] == "-").then(|| {
                let n = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
                (n(f[0]), n(f[1]))
            })
        })
        .collect()
}

/// With python3 (Debian's base), an independent decoder checks the PNG (chunk CRCs,
/// zlib with its Adler-32) and finds the 5 red cells of the 5 bad blocks.
fn check_png(p: &std::path::Path) {
    let png = std::fs::read(p).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let script = r#"
import sys, struct, zlib
b = open(sys.argv[1], 'rb').read()
i, idat, w, h = 8, b'', 0, 0
while i < len(b):
    n, = struct.unpack('>I', b[i:i+4]); t = b[i+4:i+8]; d = b[i+8:i+8+n]
    assert zlib.crc32(t + d) == struct.unpack('>I', b[i+8+n:i+12+n])[0], t
    if t == b'IHDR': w, h = struct.unpack('>II', d[:8])
    if t == b'IDAT': idat += d
    i += 12 + n
raw = zlib.decompress(idat)
red = sum(1 for y in range(h) for x in range(w)
          if raw[y*(1+3*w)+1+3*x : y*(1+3*w)+4+3*x] == bytes([0xe0, 0x20, 0x20]))
print(w, h, red)
"#;
    match std::process::Command::new("python3")
        .args(["-c", script])
        .arg(p)
        .output()
    {
        Ok(o) if o.status.success() => {
            assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "256 2 5");
        }
        Ok(o) => panic!("PNG check: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => eprintln!("python3 missing: PNG decoded only by the unit test"),
    }
}

/// Every block of `img` equals `src`'s, except the bad ones, which stay unwritten (zero).
fn assert_copied_outside(img: &[u8], src: &[u8], bl: usize, bad: impl Fn(usize) -> bool) {
    assert_eq!(img.len(), src.len());
    for lba in 0..src.len() / bl {
        let (a, b) = (&img[lba * bl..][..bl], &src[lba * bl..][..bl]);
        if bad(lba) {
            assert!(a.iter().all(|&x| x == 0), "bad block {lba} left unwritten");
        } else {
            assert_eq!(a, b, "block {lba} copied");
        }
    }
}

/// The `-` blocks of a mapfile as GNU ddrescuelog lists them (`-b BS -l-`).
fn ddrescuelog_bad(tool: &std::path::Path, dir: &std::path::Path, bs: u32, map: &str) -> Vec<u64> {
    let o = std::process::Command::new(tool)
        .args([&format!("-b{bs}"), "-l-", map])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect()
}

fn ddrescuelog() -> Option<std::path::PathBuf> {
    ["/usr/bin/ddrescuelog", "/usr/local/bin/ddrescuelog"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
}

#[test]
fn imaging_a_disk_with_medium_errors_then_retrying_only_the_bad_areas() {
    let s = Scratch::with_bus(FAULTY);
    let src = pattern(42, 512 * 512);
    s.write("src.img", &src);

    let r = s.run(&[
        "image",
        "2",
        "--out",
        "copy.img",
        "--map",
        "copy.map",
        "--cluster",
        "64",
        "--png",
        "copy.png",
    ]);
    // Bad sectors remain: a device error, with the summary printed.
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.out.contains("bad 2560 bytes in 2 area(s)"), "{r:?}");
    let map = String::from_utf8(s.read("copy.map")).unwrap();
    assert_eq!(
        bad_areas(&map),
        vec![(100 * 512, 4 * 512), (300 * 512, 512)],
        "exactly the injected ranges:\n{map}"
    );
    assert!(
        map.contains("# current_pos  current_status  current_pass\n"),
        "{map}"
    );
    assert_copied_outside(&s.read("copy.img"), &src, 512, |lba| {
        (100..104).contains(&lba) || lba == 300
    });
    assert_eq!(s.read("src.img"), src, "the source is never written");
    check_png(&s.path("copy.png"));

    if let Some(tool) = ddrescuelog() {
        // GNU ddrescuelog reads our mapfile and lists the same bad blocks.
        let o = std::process::Command::new(&tool)
            .args(["-t", "copy.map"])
            .current_dir(s.dir.path())
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "ddrescuelog -t: {out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.contains("2560 B"), "{out}");
        assert_eq!(
            ddrescuelog_bad(&tool, s.dir.path(), 512, "copy.map"),
            vec![100, 101, 102, 103, 300]
        );
    } else {
        eprintln!(
            "ddrescuelog not installed (scripts/setup.sh installs gddrescue): skipped its check"
        );
    }

    // Second run, fault gone: only the 5 bad blocks are read, one read each, and the
    // image becomes the source.
    s.write("bus.toml", HEALED.as_bytes());
    let r = s.run(&["image", "2", "--out", "copy.img", "--map", "copy.map"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out.contains("5 reads of 2560 bytes, 0 read errors"),
        "{r:?}"
    );
    assert!(r.out.contains("bad 0 bytes"), "{r:?}");
    assert_eq!(s.read("copy.img"), src);
    let map = String::from_utf8(s.read("copy.map")).unwrap();
    assert!(bad_areas(&map).is_empty(), "{map}");
    // A third run has nothing to do.
    let r = s.run(&["image", "2", "--out", "copy.img", "--map", "copy.map"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.contains(" 0 reads of 0 bytes"), "{r:?}");
}

#[test]
fn a_corrupt_or_foreign_mapfile_is_refused() {
    let s = Scratch::with_bus(HEALED);
    s.write("src.img", &pattern(1, 512 * 512));
    s.write("bad.map", b"0 + 1\n0 0x200 +\n0x400 0x200 +\n");
    let r = s.run(&["image", "2", "--out", "c.img", "--map", "bad.map"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.err.contains("line 3"), "{r:?}");
    // A map of another disk size.
    s.write("other.map", b"0 + 1\n0 0x200 +\n");
    let r = s.run(&["image", "2", "--out", "c.img", "--map", "other.map"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.err.contains("covers 512 bytes, the disk has 262144"),
        "{r:?}"
    );
}

/// A 300-block CD-ROM (2048-byte blocks) whose disc image has medium errors on LBAs
/// 40..43 and 250.
const FAULTY_CD: &str = r#"
[[target]]
id = 3
type = "cdrom"
image = "disc.iso"
[target.faults]
[[target.faults.rule]]
lba = [40, 43]
action = { kind = "check_condition", key = 3, asc = 0x11 }
[[target.faults.rule]]
lba = [250, 251]
action = { kind = "check_condition", key = 3, asc = 0x11 }
"#;

#[test]
fn imaging_a_cdrom_with_medium_errors_maps_exactly_the_bad_blocks() {
    let s = Scratch::with_bus(FAULTY_CD);
    let src = pattern(5, 300 * 2048);
    s.write("disc.iso", &src);
    let r = s.run(&[
        "image",
        "3",
        "--out",
        "cd.img",
        "--map",
        "cd.map",
        "--cluster",
        "16",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.out.contains("614400 bytes"), "sized by the TOC: {r:?}");
    assert!(r.out.contains("bad 8192 bytes in 2 area(s)"), "{r:?}");
    let map = String::from_utf8(s.read("cd.map")).unwrap();
    assert_eq!(
        bad_areas(&map),
        vec![(40 * 2048, 3 * 2048), (250 * 2048, 2048)],
        "exactly the injected ranges, in 2048-byte blocks:\n{map}"
    );
    assert_copied_outside(&s.read("cd.img"), &src, 2048, |lba| {
        (40..43).contains(&lba) || lba == 250
    });
    if let Some(tool) = ddrescuelog() {
        assert_eq!(
            ddrescuelog_bad(&tool, s.dir.path(), 2048, "cd.map"),
            vec![40, 41, 42, 250]
        );
    }
    // The fault gone, a second run reads exactly the 4 bad blocks.
    s.write(
        "bus.toml",
        b"[[target]]\nid = 3\ntype = \"cdrom\"\nimage = \"disc.iso\"\n",
    );
    let r = s.run(&["image", "3", "--out", "cd.img", "--map", "cd.map"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out.contains("4 reads of 8192 bytes, 0 read errors"),
        "{r:?}"
    );
    assert_eq!(s.read("cd.img"), src);
}

#[test]
fn an_empty_cdrom_drive_is_a_clear_error_and_creates_nothing() {
    let s = Scratch::with_bus("[[target]]\nid = 3\ntype = \"cdrom\"\nempty = true\n");
    let r = s.run(&["image", "3", "--out", "cd.img", "--map", "cd.map"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.err.contains("no medium in the CD-ROM drive at"), "{r:?}");
    assert!(r.err.contains("Medium not present"), "{r:?}");
    assert!(!s.path("cd.img").exists() && !s.path("cd.map").exists());
    // A disk or CD-ROM needs a mapfile.
    let r = s.run(&["image", "3", "--out", "cd.img"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.err.contains("needs --map"), "{r:?}");
}
