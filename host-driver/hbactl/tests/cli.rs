//! The `hbactl` binary on the co-simulated HBA, run as a user would: every subcommand,
//! and the failures a script must be able to tell apart by exit code (0 ok, 1 usage,
//! 2 device/CAM error, 3 no such device, 4 bad input) with the image files left intact.

mod common;

use common::{hbactl, pattern, Run, Scratch};
use serde_json::Value;

fn json(r: &common::Run) -> Value {
    serde_json::from_str(&r.out).unwrap_or_else(|e| panic!("not JSON ({e}): {r:?}"))
}

#[test]
fn devlist_lists_the_bus_as_json_and_text() {
    let s = Scratch::new();
    let r = s.run(&["--json", "devlist"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    let devs = v.as_array().expect("a list");
    let got: Vec<(u64, &str)> = devs
        .iter()
        .map(|d| (d["target"].as_u64().unwrap(), d["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(got, vec![(0, "disk"), (3, "disk"), (5, "tape")], "{r:?}");
    assert_eq!(devs[0]["vendor"], "OPENHBA");
    // The probe negotiated Fast-20 (factor 0x0C) offset 15 with the default targets.
    assert_eq!(devs[0]["sync_period"], 12);
    assert_eq!(devs[0]["sync_offset"], 15);
    let r = s.run(&["devlist"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out.contains("at 0:3:0") && r.out.contains("tape"),
        "{r:?}"
    );
}

#[test]
fn a_missing_device_is_exit_3_and_touches_nothing() {
    let s = Scratch::new();
    let before = (s.read("d0.img"), s.read("d3.img"));
    for args in [
        &["readcap", "2"][..],
        &["inquiry", "0:6"],
        &["tur", "0:1:0"],
        &["read", "4", "--lba", "0", "--count", "1", "-o", "x.bin"],
        &["cmd", "6", "--cdb", "00 00 00 00 00 00"],
        &["tape", "2", "status"],
    ] {
        let r = s.run(args);
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
        assert!(r.err.contains("no device at 0:"), "{args:?}: {r:?}");
    }
    // A disk asked to be a tape is "no such device" of that kind.
    let r = s.run(&["tape", "0", "rewind"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.err.contains("0:0:0 is not a tape"), "{r:?}");
    assert_eq!((s.read("d0.img"), s.read("d3.img")), before);
}

#[test]
fn a_bad_bus_toml_is_exit_4_with_line_and_key() {
    let s = Scratch::with_bus(
        "width = \"narrow\"\n\n[[target]]\nid = 1\ntype = \"disk\"\nimage = \"a.img\"\nblocks = 64\nsped = 3\n",
    );
    let r = s.run(&["devlist"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.err.contains("bus.toml"), "{r:?}");
    assert!(r.err.contains("line 8"), "{r:?}");
    assert!(r.err.contains("unknown field `sped`"), "{r:?}");
    assert!(!s.path("a.img").exists(), "nothing was created");

    // A semantic error: two targets on one ID.
    let s = Scratch::with_bus(
        "[[target]]\nid = 1\ntype = \"tape\"\n[[target]]\nid = 1\ntype = \"tape\"\n",
    );
    let r = s.run(&["devlist"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.err
            .contains("line 5, key `id`: target ID 1 appears twice"),
        "{r:?}"
    );

    // A type that does not exist.
    let s = Scratch::with_bus("[[target]]\nid = 1\ntype = \"jukebox\"\n");
    let r = s.run(&["devlist"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.err.contains("line 3") && r.err.contains("unknown variant `jukebox`"),
        "{r:?}"
    );
    // A capacity on a CD-ROM is refused with its line and key.
    let s = Scratch::with_bus("[[target]]\nid = 1\ntype = \"cdrom\"\ncapacity = 5\n");
    let r = s.run(&["devlist"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.err.contains("line 4, key `capacity`"), "{r:?}");

    // A missing file.
    let r = hbactl(s.dir.path(), &["--bus", "nope.toml", "devlist"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.err.contains("nope.toml"), "{r:?}");
}

#[test]
fn bad_cdbs_are_refused_or_answered_with_decoded_sense() {
    let s = Scratch::new();
    let before = s.read("d0.img");
    // Not hex, odd digits, too long, wrong length for the opcode: bad input, nothing sent.
    for cdb in [
        "zz",
        "12 0",
        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
        "28 00 00",
    ] {
        let r = s.run(&["cmd", "0", "--cdb", cdb]);
        assert_eq!(r.code, 4, "{cdb}: {r:?}");
        assert!(r.err.starts_with("hbactl: "), "{r:?}");
    }
    // An opcode the disk does not know: CHECK CONDITION, ILLEGAL REQUEST 20/00, exit 2.
    let r = s.run(&["cmd", "0", "--cdb", "ff 00 00 00 00 00"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.err
            .contains("ILLEGAL REQUEST asc 0x20/0x00 (Invalid command operation code)"),
        "{r:?}"
    );
    // The same as JSON.
    let r = s.run(&["--json", "cmd", "0", "--cdb", "ff 00 00 00 00 00"]);
    assert_eq!(r.code, 2, "{r:?}");
    let v = json(&r);
    assert_eq!(v["ok"], false);
    assert_eq!(v["sense"]["key"], 5);
    assert_eq!(v["sense"]["asc"], 0x20);
    // A good raw READ(10) of LBA 7 returns the image's block 7.
    s.run(&[
        "cmd",
        "0",
        "--cdb",
        "28 00 00 00 00 07 00 00 01 00",
        "--in",
        "512",
        "-o",
        "b7.bin",
    ]);
    assert_eq!(s.read("b7.bin"), before[7 * 512..8 * 512]);
    assert_eq!(s.read("d0.img"), before);
}

#[test]
fn an_out_of_range_lba_is_refused_and_the_image_kept() {
    let s = Scratch::new();
    let before = s.read("d3.img");
    let r = s.run(&["read", "3", "--lba", "510", "--count", "3", "-o", "r.bin"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.err
            .contains("LBA range 510+3 is outside the disk (blocks 0..512)"),
        "{r:?}"
    );
    s.write("w.bin", &[7u8; 1024]);
    let r = s.run(&["write", "3", "--lba", "511", "-i", "w.bin"]);
    assert_eq!(r.code, 1, "{r:?}");
    // Past the end through a raw CDB: the disk says LBA OUT OF RANGE.
    let r = s.run(&[
        "cmd",
        "3",
        "--cdb",
        "2a 00 00 00 02 00 00 00 01 00",
        "--out-file",
        "w.bin",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.err
            .contains("asc 0x21/0x00 (Logical block address out of range)"),
        "{r:?}"
    );
    // A file that is not whole blocks, and one that does not exist: bad input.
    s.write("odd.bin", &[1u8; 700]);
    let r = s.run(&["write", "3", "--lba", "0", "-i", "odd.bin"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.err
            .contains("700 bytes is not a whole number of 512-byte blocks"),
        "{r:?}"
    );
    let r = s.run(&["write", "3", "--lba", "0", "-i", "missing.bin"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.err.contains("missing.bin"), "{r:?}");
    assert_eq!(s.read("d3.img"), before, "the image is intact");
}

#[test]
fn write_then_read_back_across_invocations_lands_on_the_image() {
    let s = Scratch::new();
    let data = pattern(99, 80 * 512);
    s.write("in.bin", &data);
    let before = s.read("d0.img");
    let r = s.run(&["write", "0", "--lba", "17", "-i", "in.bin"]);
    assert_eq!(r.code, 0, "{r:?}");
    let img = s.read("d0.img");
    assert_eq!(&img[17 * 512..97 * 512], &data[..], "on the image file");
    assert_eq!(&img[..17 * 512], &before[..17 * 512], "nothing before");
    assert_eq!(&img[97 * 512..], &before[97 * 512..], "nothing after");
    let r = s.run(&["read", "0", "--lba", "17", "--count", "80", "-o", "out.bin"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.read("out.bin"), data);
    let r = s.run(&["--json", "readcap", "0"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(v["blocks"], 512);
    assert_eq!(v["block_len"], 512);
}

#[test]
fn inquiry_shows_standard_data_and_vpd_pages() {
    let s = Scratch::new();
    let r = s.run(&["--json", "inquiry", "3"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(v["vendor"], "OPENHBA");
    assert_eq!(v["product"], "SIM DISK");
    assert_eq!(v["device_type"], 0);
    assert_eq!(v["serial"], "SN03L0");
    let pages: Vec<u64> = v["vpd_pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert!(pages.contains(&0x80) && pages.contains(&0x83), "{r:?}");
    assert!(!v["identifiers"].as_array().unwrap().is_empty(), "{r:?}");
    let r = s.run(&["inquiry", "5"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out.contains("SIM TAPE") && r.out.contains("removable"),
        "{r:?}"
    );
    let r = s.run(&["tur", "3"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.contains("unit is ready"), "{r:?}");
}

#[test]
fn negotiate_shows_and_sets_the_user_limits() {
    let s = Scratch::new();
    let r = s.run(&["--json", "negotiate", "0"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(v["current"]["period"], 12, "{r:?}");
    assert_eq!(v["current"]["offset"], 15, "{r:?}");
    // Fast-10 offset 8: the goal follows and the next command renegotiates.
    let r = s.run(&[
        "--json",
        "negotiate",
        "0",
        "--period",
        "0x19",
        "--offset",
        "8",
        "--tags",
        "off",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(v["user"]["period"], 0x19, "{r:?}");
    assert_eq!(v["goal"]["offset"], 8, "{r:?}");
    assert_eq!(v["current"]["period"], 0x19, "{r:?}");
    assert_eq!(v["current"]["offset"], 8, "{r:?}");
    assert_eq!(v["user"]["tags"], false, "{r:?}");
    // Asynchronous.
    let r = s.run(&["negotiate", "3", "--offset", "0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out
            .lines()
            .any(|l| l.contains("current") && l.contains("async")),
        "{r:?}"
    );
    let r = s.run(&["negotiate", "3", "--period", "300"]);
    assert_eq!(r.code, 1, "{r:?}");
}

#[test]
fn reset_a_device_and_the_bus_then_rescan() {
    let s = Scratch::new();
    let r = s.run(&["reset", "3"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.contains("0:3:0: device reset"), "{r:?}");
    let r = s.run(&["reset", "bus"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.run(&["--json", "rescan"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r).as_array().unwrap().len(), 3, "{r:?}");
    let r = s.run(&["reset", "2"]);
    assert_eq!(r.code, 3, "{r:?}");
}

#[test]
fn tape_operations_round_trip_files_across_filemarks() {
    let s = Scratch::new();
    let a = pattern(5, 70_000);
    let b = pattern(6, 1000);
    s.write("a.bin", &a);
    s.write("b.bin", &b);
    let r = s.run(&[
        "tape", "5", "write", "a.bin", "weof", "write", "b.bin", "weof", "1", "rewind", "fsf", "1",
        "read", "b2.bin", "bsf", "2", "rewind", "read", "a2.bin", "status",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.read("a2.bin"), a);
    assert_eq!(s.read("b2.bin"), b);
    // 3 records + filemark read: position 4.
    assert!(r.out.contains("ready, position 4"), "{r:?}");
    // Spacing over a filemark record-wise reports it.
    let r = s.run(&["tape", "5", "weof", "rewind", "fsr"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.err.contains("FILEMARK"), "{r:?}");
    let r = s.run(&["tape", "5", "spin"]);
    assert_eq!(r.code, 1, "{r:?}");
    let r = s.run(&["--json", "tape", "5"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["bop"], true, "{r:?}");
}

#[test]
fn sense_bytes_decode_without_an_hba() {
    let dir = tempfile::tempdir().unwrap();
    let r = hbactl(
        dir.path(),
        &["sense", "f0 00 03 00 00 00 64 0a 00 00 00 00 11 00"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.out.trim(),
        "MEDIUM ERROR asc 0x11/0x00 (Unrecovered read error), info 0x64"
    );
    let r = hbactl(
        dir.path(),
        &[
            "--json", "sense", "72", "05", "24", "00", "00", "00", "00", "00",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["text"], "Invalid field in CDB");
    for bad in ["71", "12 34", "x"] {
        let r = hbactl(dir.path(), &["sense", bad]);
        assert_eq!(r.code, 4, "{bad}: {r:?}");
    }
}

#[test]
fn usage_errors_are_exit_1_and_help_is_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let r = hbactl(dir.path(), &["frobnicate"]);
    assert_eq!(r.code, 1, "{r:?}");
    let r = hbactl(dir.path(), &["read", "0", "--lba", "x"]);
    assert_eq!(r.code, 1, "{r:?}");
    let r = hbactl(dir.path(), &["--help"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.contains("Exit codes"), "{r:?}");
    let r = hbactl(
        dir.path(),
        &[
            "--backend",
            "xdma",
            "--device",
            "/nonexistent/xdma9",
            "devlist",
        ],
    );
    assert_eq!(r.code, 5, "{r:?}");
}

#[test]
fn the_bring_up_subcommands_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let r = hbactl(dir.path(), &["selftest"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.contains("0 failed"), "{r:?}");
    let r = hbactl(dir.path(), &["seq", "status"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = hbactl(dir.path(), &["seq", "break", "0x999999"]);
    assert_eq!(r.code, 1, "{r:?}");
}

#[test]
fn every_example_bus_boots() {
    let ex = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut n = 0;
    for e in std::fs::read_dir(&ex).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let s = Scratch::with_bus(&std::fs::read_to_string(&p).unwrap());
            let r = s.run(&["--json", "devlist"]);
            assert_eq!(r.code, 0, "{}: {r:?}", p.display());
            assert!(
                !json(&r).as_array().unwrap().is_empty(),
                "{}: {r:?}",
                p.display()
            );
            n += 1;
        }
    }
    assert!(n >= 3, "examples for disk, tape, faults");
}

#[test]
fn the_main_job_runs_verified_and_writes_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let r = hbactl(dir.path(), &["run", "--workdir", "w", "--ops", "3"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.contains("scan found 4 device(s)"), "{r:?}");
    // The whole 512 KiB disc in 64 KiB reads through `cd`, compared with its image.
    assert!(r.out.contains(", 8 CD-ROM) through da/sa/cd"), "{r:?}");
    assert!(
        r.out
            .contains("errors 0, data mismatches 0, bus protocol violations 0"),
        "{r:?}"
    );
    assert!(
        r.out.contains("MB/s") && r.out.contains("IOPS") && r.out.contains("M cycles/s"),
        "{r:?}"
    );
    assert!(r.out.contains("main job: PASS"), "{r:?}");
    let log = std::fs::read_to_string(dir.path().join("w/bus.log")).unwrap();
    assert!(log.contains("ID7->ID0"), "a decoded bus log");
}

#[test]
fn any_sim_subcommand_writes_the_waveform_and_bus_log() {
    let s = Scratch::new();
    let r = s.run(&["--trace", "t.fst", "--bus-log", "t.log", "tur", "0"]);
    assert_eq!(r.code, 0, "{r:?}");
    // FST starts with a header block (type 0).
    let fst = s.read("t.fst");
    assert!(fst.len() > 1000 && fst[0] == 0, "an FST file");
    let log = String::from_utf8(s.read("t.log")).unwrap();
    assert!(log.contains("ID7->ID0"), "{log}");
}

#[test]
fn start_stop_eject_and_tags() {
    let s = Scratch::new();
    for (cmd, b4, said) in [
        ("stop", "00", "stopped"),
        ("start", "01", "started"),
        ("eject", "02", "ejected"),
    ] {
        let r = s.run(&["--bus-log", "ss.log", cmd, "3"]);
        assert_eq!(r.code, 0, "{cmd}: {r:?}");
        assert!(r.out.contains(said), "{r:?}");
        let log = String::from_utf8(s.read("ss.log")).unwrap();
        assert!(
            log.contains(&format!(
                "ID7->ID3 COMMAND 1b 00 00 00 {b4} 00 (START STOP UNIT)"
            )),
            "{cmd}: {log}"
        );
    }
    let r = s.run(&["--json", "tags", "0"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    assert_eq!(v["tagged"], true, "{r:?}");
    assert!(v["openings"].as_u64().unwrap() > 1, "{r:?}");
    let r = s.run(&["--json", "tags", "0", "--openings", "3"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["openings"], 3, "{r:?}");
    let r = s.run(&["tags", "0", "--openings", "0"]);
    assert_eq!(r.code, 1, "{r:?}");
}

#[test]
fn stats_show_devstat_counts_as_text_and_json() {
    let s = Scratch::new();
    // 100 blocks of 512 bytes read as 32 KiB commands: 2 READs of 51200 bytes and a
    // READ CAPACITY (8 bytes in) more than the scan alone gives.
    let r = s.run(&["--json", "stats", "0", "--exercise", "100"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    let d = &v.as_array().expect("a list")[0];
    assert_eq!(d["addr"], "0:0:0");
    let (plain, _) = {
        let r0 = s.run(&["--json", "stats", "0"]);
        assert_eq!(r0.code, 0, "{r0:?}");
        let v0 = json(&r0);
        (v0[0].clone(), ())
    };
    assert_eq!(
        d["reads"].as_u64().unwrap() - plain["reads"].as_u64().unwrap(),
        3,
        "{d}\n{plain}"
    );
    assert_eq!(
        d["bytes_read"].as_u64().unwrap() - plain["bytes_read"].as_u64().unwrap(),
        51208
    );
    assert_eq!(d["errors"], plain["errors"], "the reads all passed");
    let hist: u64 = d["latency_hist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .sum();
    let ops =
        d["reads"].as_u64().unwrap() + d["writes"].as_u64().unwrap() + d["other"].as_u64().unwrap();
    assert_eq!(hist, ops, "every command is in the histogram");
    assert!(d["busy_us"].as_u64().unwrap() > 0);
    // Text: one line per device of the bus.
    let r = s.run(&["stats"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.out.lines().count(), 4, "{r:?}");
    assert!(r.out.contains("0:5:0") && r.out.contains("tape"), "{r:?}");
    // A tape cannot be exercised; a missing device is exit 3.
    let r = s.run(&["stats", "5", "--exercise", "1"]);
    assert_eq!(r.code, 3, "{r:?}");
    let r = s.run(&["stats", "6"]);
    assert_eq!(r.code, 3, "{r:?}");
}

#[test]
fn fw_dump_verify_and_load_the_instruction_ram() {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f);
    let r = hbactl(dir.path(), &["fw", "dump", "-o", "fw.bin"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.contains("dumped 1024 of 1024 words"), "{r:?}");
    let dump = std::fs::read(p("fw.bin")).unwrap();
    assert_eq!(dump.len(), 4096);
    // The co-simulated card boots with the default firmware baked into the RTL; the
    // assembler's image of it must be what comes back.
    let r = hbactl(dir.path(), &["fw", "dump", "--trim", "-o", "trim.bin"]);
    assert_eq!(r.code, 0, "{r:?}");
    let trim = std::fs::read(p("trim.bin")).unwrap();
    // Exactly the dump without its trailing zero words (the default image fills all
    // 1024 words today, so there may be none).
    let mut words = dump.len() / 4;
    while words > 0 && dump[(words - 1) * 4..words * 4].iter().all(|&b| b == 0) {
        words -= 1;
    }
    assert_eq!(trim, dump[..words * 4], "trimmed dump");
    let r = hbactl(dir.path(), &["fw", "verify", "fw.bin"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = hbactl(dir.path(), &["fw", "verify", "trim.bin"]);
    assert_eq!(r.code, 0, "zero-filled like the loader: {r:?}");
    // One word changed: exit 2, the word named.
    let mut bad = dump.clone();
    bad[4 * 0x21] ^= 0x40;
    std::fs::write(p("bad.bin"), &bad).unwrap();
    let r = hbactl(dir.path(), &["fw", "verify", "bad.bin"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.out.contains("word 0x021"), "{r:?}");
    assert!(r.err.contains("differs from bad.bin in 1 word(s)"), "{r:?}");
    // Not whole words: bad input.
    std::fs::write(p("ragged.bin"), [1u8, 2, 3]).unwrap();
    let r = hbactl(dir.path(), &["fw", "verify", "ragged.bin"]);
    assert_eq!(r.code, 4, "{r:?}");
    let r = hbactl(dir.path(), &["fw", "load", "ragged.bin"]);
    assert_eq!(r.code, 4, "{r:?}");
    let r = hbactl(dir.path(), &["fw", "load", "missing.bin"]);
    assert_eq!(r.code, 4, "{r:?}");
    // Loading the dump back verifies its checksum.
    let r = hbactl(dir.path(), &["fw", "load", "fw.bin"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out.contains("checksum") && r.out.contains("verified"),
        "{r:?}"
    );
    let r = hbactl(dir.path(), &["--bus", "x.toml", "fw", "dump", "-o", "y"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(std::fs::read(p("fw.bin")).unwrap(), dump, "left intact");
}

#[test]
fn old_devices_come_from_the_toml_with_their_luns_and_levels() {
    let ex = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/old-devices.toml");
    let s = Scratch::with_bus(&std::fs::read_to_string(ex).unwrap());
    let r = s.run(&["--json", "devlist"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = json(&r);
    let at = |t: u64| -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|d| d["target"] == t)
            .map(|d| d["lun"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(at(2), vec![0, 1, 2], "the CCS disk's three LUNs: {r:?}");
    // The device that ignores ATN never sees IDENTIFY: the LUN in CDB byte 1 tells it
    // (SCSI-1), so it answers LUN 1 as not supported and is not seen eight times over.
    assert_eq!(at(3), vec![0], "{r:?}");
    assert_eq!(at(4), vec![0], "{r:?}");
    // Three LUNs with serials of their own are no phantoms.
    assert!(!r.err.contains("warning"), "{r:?}");
    // Each LUN is its own image, and the SCSI-1 level shows in INQUIRY.
    for l in 0..3 {
        assert!(s.path(&format!("ccs-lun{l}.img")).exists());
    }
    let r = s.run(&["inquiry", "2:1"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.contains("version 1, response format 1"), "{r:?}");
    assert!(r.out.contains("tagged queuing no"), "{r:?}");
    // Data through the old devices lands on their images.
    let data = pattern(21, 4 * 512);
    s.write("blk.bin", &data);
    for dev in ["2:2", "3", "4"] {
        let r = s.run(&["write", dev, "--lba", "8", "-i", "blk.bin"]);
        assert_eq!(r.code, 0, "{dev}: {r:?}");
    }
    assert_eq!(&s.read("ccs-lun2.img")[8 * 512..12 * 512], &data[..]);
    assert_eq!(&s.read("noatn.img")[8 * 512..12 * 512], &data[..]);
    assert_eq!(&s.read("noext.img")[8 * 512..12 * 512], &data[..]);
    assert!(
        s.read("ccs-lun0.img").iter().all(|&b| b == 0),
        "other LUNs untouched"
    );
    // The device that rejects extended messages stays asynchronous.
    let r = s.run(&["--json", "negotiate", "4"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r)["current"]["offset"], 0, "{r:?}");
}

/// A device that ignores both IDENTIFY and the CDB's LUN answers at every LUN as LUN 0; the
/// `no-luns` quirk, typed on the command line, keeps the scan to LUN 0.
#[test]
fn a_quirk_on_the_command_line_keeps_a_device_to_lun_0() {
    let s = Scratch::with_bus(
        "width = \"narrow\"\n\
         [[target]]\nid = 3\ntype = \"disk\"\npreset = \"ignores-atn\"\ncdb_lun = false\n\
         image = \"d.img\"\nblocks = 64\n",
    );
    let luns = |r: &Run| -> Vec<u64> {
        json(r)
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["lun"].as_u64().unwrap())
            .collect()
    };
    let r = s.run(&["--json", "devlist"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(luns(&r), (0..8).collect::<Vec<_>>(), "no quirk: {r:?}");
    // The scan says so, and names the quirk entry that would help; it works as typed.
    let hint = "--quirk 'OPENHBA/SIM DISK/0001=no-luns'";
    assert!(
        r.err.contains("0:3: LUNs 1-7 answer as LUN 0") && r.err.contains(hint),
        "{r:?}"
    );
    let r = s.run(&[
        "--quirk",
        "OPENHBA/SIM DISK/0001=no-luns",
        "--json",
        "devlist",
    ]);
    assert_eq!(luns(&r), vec![0], "{r:?}");
    let r = s.run(&["--quirk", "OPENHBA/SIM*/*=no-luns", "--json", "devlist"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(luns(&r), vec![0], "{r:?}");
    assert!(!r.err.contains("warning"), "{r:?}");
    // A quirk that does not match changes nothing; a malformed one is a usage error.
    let r = s.run(&["--quirk", "OTHER/*/*=no-luns", "--json", "devlist"]);
    assert_eq!(luns(&r).len(), 8, "{r:?}");
    for bad in [
        "OPENHBA=no-luns",
        "OPENHBA/SIM*/*=no-lun",
        "A/B/C=max-tags=0",
    ] {
        let r = s.run(&["--quirk", bad, "devlist"]);
        assert_eq!(r.code, 1, "{bad}: {r:?}");
        assert!(
            r.err.contains("quirk") || r.err.contains("max-tags"),
            "{r:?}"
        );
    }
}
