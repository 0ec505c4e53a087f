//! `hbactl image` of a tape: file by file into a folder with `index.json`, and the
//! folder loaded back as a co-simulated tape (`image = "folder"` in the bus TOML) images
//! again to the same index and the same bytes (round trip), with variable and fixed
//! record sizes, an empty file, a last file without a filemark and a drive in fixed-block
//! mode. A record that cannot be read is listed with its position and skipped.

mod common;

use common::{pattern, Scratch};
use serde_json::{json, Value};

/// Record sizes of the source tape's files; a filemark follows each but the last.
const FILES: &[&[u32]] = &[
    &[100, 100, 4096, 65536, 7],
    &[],
    &[512, 512, 512, 512, 512, 512, 512, 512, 512, 512],
    &[3000, 1, 3000],
];

/// Runs of equal sizes, as the index lists them.
fn runs(sizes: &[u32]) -> Vec<Value> {
    let mut out: Vec<(u32, u64)> = Vec::new();
    for &s in sizes {
        match out.last_mut() {
            Some(r) if r.0 == s => r.1 += 1,
            _ => out.push((s, 1)),
        }
    }
    out.iter()
        .map(|(s, c)| json!({"size": s, "count": c}))
        .collect()
}

/// Writes the source image folder `dir` (drive block size `bs`) by hand, from the
/// format's description, and returns its index.
fn make_source(s: &Scratch, dir: &str, bs: u32) -> Value {
    std::fs::create_dir(s.path(dir)).unwrap();
    let mut files = Vec::new();
    let mut pos = 0u64;
    for (i, sizes) in FILES.iter().enumerate() {
        let bytes: u32 = sizes.iter().sum();
        let data = pattern(100 + i as u64, bytes as usize);
        let name = format!("file{i:04}.bin");
        s.write(&format!("{dir}/{name}"), &data);
        let mut bsz: Vec<u32> = sizes.to_vec();
        bsz.sort();
        bsz.dedup();
        let start = pos;
        pos += sizes.len() as u64;
        let last = i + 1 == FILES.len();
        let fm = (!last).then_some(pos);
        if !last {
            pos += 1;
        }
        files.push(json!({
            "file": i, "data": name, "bytes": bytes, "record_count": sizes.len(),
            "records": runs(sizes), "block_sizes": bsz, "start": start,
            "filemark": fm, "errors": [],
        }));
    }
    let idx = json!({
        "format": "hbactl tape image 1", "block_size": bs, "files": files, "end": "end of data",
    });
    s.write(
        &format!("{dir}/index.json"),
        serde_json::to_string_pretty(&idx).unwrap().as_bytes(),
    );
    idx
}

fn tape_bus(dir: &str) -> String {
    format!("[[target]]\nid = 5\ntype = \"tape\"\nimage = \"{dir}\"\n")
}

fn index(s: &Scratch, dir: &str) -> Value {
    serde_json::from_slice(&s.read(&format!("{dir}/index.json"))).unwrap()
}

#[test]
fn a_tape_image_loads_back_and_images_again_identically() {
    let s = Scratch::with_bus(&tape_bus("src"));
    let want = make_source(&s, "src", 512);

    let r = s.run(&["image", "5", "--out", "copy"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out.contains("4 file(s), 18 record(s)") && r.out.contains("block size 512"),
        "{r:?}"
    );
    assert_eq!(
        index(&s, "copy"),
        want,
        "the index of the copy is the source's"
    );
    for i in 0..FILES.len() {
        let f = format!("file{i:04}.bin");
        assert_eq!(
            s.read(&format!("copy/{f}")),
            s.read(&format!("src/{f}")),
            "{f}"
        );
    }

    // The copy, loaded as a tape, images to the same again.
    s.write("bus.toml", tape_bus("copy").as_bytes());
    let r = s.run(&["image", "5", "--out", "copy2"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.read("copy2/index.json"), s.read("copy/index.json"));
    for i in 0..FILES.len() {
        let f = format!("file{i:04}.bin");
        assert_eq!(s.read(&format!("copy2/{f}")), s.read(&format!("copy/{f}")));
    }
}

#[test]
fn a_variable_mode_tape_keeps_its_empty_file_and_a_last_file_without_filemark() {
    let s = Scratch::with_bus(&tape_bus("src"));
    make_source(&s, "src", 0);
    let r = s.run(&["image", "5", "--out", "copy"]);
    assert_eq!(r.code, 0, "{r:?}");
    let idx = index(&s, "copy");
    assert_eq!(idx["block_size"], 0);
    assert_eq!(idx["files"][1]["record_count"], 0, "the empty file is kept");
    assert_eq!(idx["files"][1]["filemark"], 6);
    assert_eq!(
        idx["files"][3]["filemark"],
        Value::Null,
        "ended by end of data"
    );
    assert_eq!(
        idx["files"][0]["block_sizes"],
        json!([7, 100, 4096, 65536]),
        "{idx}"
    );
}

#[test]
fn an_unreadable_record_is_listed_and_skipped_and_the_rest_copied() {
    // The third READ (record 2 of file 0) gets MEDIUM ERROR.
    let bus = format!(
        "{}[target.faults]\n[[target.faults.rule]]\nopcode = 0x08\nevery_nth = 3\nfirst_n = 3\naction = {{ kind = \"check_condition\", key = 3, asc = 0x11 }}\n",
        tape_bus("src")
    );
    let s = Scratch::with_bus(&bus);
    make_source(&s, "src", 0);
    let r = s.run(&["image", "5", "--out", "copy"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.err.contains("1 record(s) could not be read"), "{r:?}");
    let idx = index(&s, "copy");
    let f0 = &idx["files"][0];
    assert_eq!(f0["errors"].as_array().unwrap().len(), 1, "{idx}");
    assert_eq!(f0["errors"][0]["position"], 2);
    assert!(
        f0["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("MEDIUM ERROR"),
        "{idx}"
    );
    assert_eq!(f0["record_count"], 4);
    assert_eq!(f0["records"], json!(runs(&[100, 100, 65536, 7])));
    let src0 = s.read("src/file0000.bin");
    let mut want = src0[..200].to_vec();
    want.extend_from_slice(&src0[200 + 4096..]);
    assert_eq!(
        s.read("copy/file0000.bin"),
        want,
        "the bad record is left out"
    );
    // Positions after the lost record are still the tape's.
    assert_eq!(f0["filemark"], 5);
    assert_eq!(idx["files"][2]["start"], 7);
    for i in 1..FILES.len() {
        let f = format!("file{i:04}.bin");
        assert_eq!(s.read(&format!("copy/{f}")), s.read(&format!("src/{f}")));
    }
    // The damaged image still loads as a tape (without the lost record).
    s.write("bus.toml", tape_bus("copy").as_bytes());
    let r = s.run(&["image", "5", "--out", "again"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(index(&s, "again")["files"][0]["record_count"], 4);
}

#[test]
fn bad_tape_images_and_targets_are_refused_and_nothing_is_overwritten() {
    let s = Scratch::with_bus(&tape_bus("src"));
    make_source(&s, "src", 0);
    // A folder that is not empty is never written into.
    std::fs::create_dir(s.path("busy")).unwrap();
    s.write("busy/keep.txt", b"mine");
    let r = s.run(&["image", "5", "--out", "busy"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.err.contains("not empty"), "{r:?}");
    assert_eq!(s.read("busy/keep.txt"), b"mine");
    assert!(!s.path("busy/index.json").exists());
    // A mapfile makes no sense for a tape.
    let r = s.run(&["image", "5", "--out", "x", "--map", "x.map"]);
    assert_eq!(r.code, 1, "{r:?}");
    // A tape image whose data file is short.
    s.write("src/file0002.bin", b"short");
    let r = s.run(&["devlist"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.err.contains("file 2: file0002.bin holds 5 bytes"),
        "{r:?}"
    );
    // A missing folder.
    s.write("bus.toml", tape_bus("nowhere").as_bytes());
    let r = s.run(&["devlist"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.err.contains("nowhere/index.json"), "{r:?}");
}
