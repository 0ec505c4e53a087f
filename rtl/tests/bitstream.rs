//! The Vivado flow in `bitstreams/` against the emitted core and the contract, without
//! Vivado: `bitstreams/check/check.tcl` runs build.tcl, bd.tcl, post_synth.tcl and the
//! XDC files under tclsh with stub Vivado commands (unknown commands and malformed
//! contract commands are errors there) and prints what they name; this test checks
//! those names against the Verilog rust-hdl emits, the board top, and hba-abi.
//!
//! Needs `tclsh` (Debian package `tcl`, installed by scripts/setup.sh).

use hba_abi::mem;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Ports of a Verilog module (name -> width in bits), from ANSI or non-ANSI declarations.
fn module_ports(src: &str, module: &str) -> BTreeMap<String, u32> {
    // `module top` but not `module top$engine`: the name must end there.
    let head = format!("module {module}");
    let start = src
        .match_indices(&head)
        .map(|(i, _)| i)
        .find(|&i| {
            src[i + head.len()..]
                .chars()
                .next()
                .is_some_and(|c| !(c.is_alphanumeric() || c == '_' || c == '$'))
        })
        .unwrap_or_else(|| panic!("module {module} not found"));
    let body = &src[start..];
    let body = &body[..body.find("endmodule").expect("endmodule")];
    let mut ports = BTreeMap::new();
    for stmt in body.split([';', '\n', ',', '(', ')']) {
        let t = stmt.trim();
        let Some(rest) = ["input", "output", "inout"]
            .iter()
            .find_map(|d| t.strip_prefix(d).filter(|r| r.starts_with(' ')))
        else {
            continue;
        };
        let (width, name) = width_and_name(rest);
        if let Some(n) = name {
            ports.insert(n, width);
        }
    }
    ports
}

/// `wire [15:0] name` / `reg name` / `[3:0] name` -> (width, name).
fn width_and_name(decl: &str) -> (u32, Option<String>) {
    let mut s = decl.trim();
    for kw in ["wire", "reg", "signed"] {
        s = s.strip_prefix(kw).map(str::trim).unwrap_or(s);
    }
    let mut width = 1;
    if let Some(r) = s.strip_prefix('[') {
        let close = r.find(']').expect("]");
        let (hi, lo) = r[..close].split_once(':').expect("range");
        let hi: i64 = hi.trim().parse().expect("msb");
        let lo: i64 = lo.trim().parse().expect("lsb");
        width = (hi - lo).unsigned_abs() as u32 + 1;
        s = r[close + 1..].trim();
    }
    let name: String = s
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
        .collect();
    (width, (!name.is_empty()).then_some(name))
}

/// Wires declared in a module (`wire [w] a, b;`), name -> width.
fn wires(src: &str) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for stmt in src.split(';') {
        let t = stmt.trim();
        let Some(rest) = t.strip_prefix("wire ") else {
            continue;
        };
        let (width, first) = width_and_name(rest);
        let names_part = rest.trim();
        let names_part = match names_part.find(']') {
            Some(i) if names_part.starts_with('[') => &names_part[i + 1..],
            _ => names_part,
        };
        for n in names_part.split(',') {
            let n = n.split_whitespace().next().unwrap_or("");
            if !n.is_empty() {
                out.insert(n.to_string(), width);
            }
        }
        let _ = first;
    }
    out
}

/// Named connections of an instance: port -> connected expression.
fn instance_connections(src: &str, module: &str, inst: &str) -> BTreeMap<String, String> {
    let head = format!("{module} {inst}");
    let start = src
        .find(&head)
        .unwrap_or_else(|| panic!("instance `{head}` not found"));
    let body = &src[start + head.len()..];
    let body = &body[..body.find(");").expect("end of instance")];
    let mut out = BTreeMap::new();
    let mut rest = body;
    while let Some(dot) = rest.find('.') {
        rest = &rest[dot + 1..];
        let open = rest.find('(').expect("(");
        let name = rest[..open].trim().to_string();
        // The expression runs to the matching parenthesis.
        let mut depth = 0;
        let mut end = 0;
        for (i, c) in rest[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.insert(name, rest[open + 1..end].trim().to_string());
        rest = &rest[end..];
    }
    out
}

/// The source without `//` comments (they mention module and port names in prose).
fn strip_comments(src: &str) -> String {
    src.lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs check.tcl on `core_v`; returns (status ok, stdout, stderr).
fn run_check(bitstreams: &Path, core_v: &Path, out: &Path) -> (bool, String, String) {
    let r = Command::new("tclsh")
        .arg(bitstreams.join("check/check.tcl"))
        .arg(core_v)
        .arg(out)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run tclsh ({e}): install Debian package `tcl` (scripts/setup.sh)")
        });
    (
        r.status.success(),
        String::from_utf8_lossy(&r.stdout).into_owned(),
        String::from_utf8_lossy(&r.stderr).into_owned(),
    )
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hba-bitstream-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `name` with every bit of a bus: `led` width 4 -> led[0]..led[3]; width 1 -> `name`.
fn port_bits(ports: &BTreeMap<String, u32>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (n, &w) in ports {
        if w == 1 {
            out.insert(n.clone());
        } else {
            for i in 0..w {
                out.insert(format!("{n}[{i}]"));
            }
        }
    }
    out
}

/// Vivado `get_ports` pattern match: `*` any run, `[*]` any index, `[3]` literal.
fn glob(pat: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len()).any(|i| go(&p[1..], &s[i..])),
            Some(&c) => s.first() == Some(&c) && go(&p[1..], &s[1..]),
        }
    }
    go(pat.as_bytes(), s.as_bytes())
}

/// Signals of a block-design interface port, as the generated HDL names them.
fn intf_signals(vlnv: &str) -> &'static [&'static str] {
    if vlnv.contains(":diff_clock_rtl:") {
        &["clk_p", "clk_n"]
    } else if vlnv.contains(":pcie_7x_mgt_rtl:") {
        &["rxp", "rxn", "txp", "txn"]
    } else if vlnv.contains(":aximm_rtl:") {
        // AXI4-Lite (the only AXI port the design exports).
        &[
            "awaddr", "awprot", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready",
            "bresp", "bvalid", "bready", "araddr", "arprot", "arvalid", "arready", "rdata",
            "rresp", "rvalid", "rready",
        ]
    } else if vlnv.contains(":bram_rtl:") {
        &["addr", "clk", "din", "dout", "en", "rst", "we"]
    } else {
        panic!("interface {vlnv}: add its signal names to intf_signals")
    }
}

/// `128K` / `256K` / `1M` -> bytes.
fn range_bytes(r: &str) -> u64 {
    let (n, unit) = r.split_at(r.len() - 1);
    let n: u64 = n.parse().unwrap_or_else(|_| panic!("range {r}"));
    match unit {
        "K" => n << 10,
        "M" => n << 20,
        "G" => n << 30,
        _ => panic!("range {r}"),
    }
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("hex {s}"))
}

#[test]
fn vivado_flow_matches_emitted_core_and_contract() {
    let repo = repo();
    let bitstreams = repo.join("bitstreams");
    let dir = scratch("flow");
    let core_v = dir.join("hba_core.v");
    let verilog = hba_rtl::verilog();
    std::fs::write(&core_v, &verilog).unwrap();

    let (ok, stdout, stderr) = run_check(&bitstreams, &core_v, &dir.join("out"));
    assert!(ok, "check.tcl failed:\n{stderr}");
    let facts: Vec<Vec<&str>> = stdout.lines().map(|l| l.split(' ').collect()).collect();
    let all = |key: &str| -> Vec<&Vec<&str>> { facts.iter().filter(|f| f[0] == key).collect() };

    // Part.
    assert_eq!(all("part").len(), 1);
    assert_eq!(
        all("part")[0][1],
        "xc7a200tfbg676-2",
        "AC701: XC7A200T-FBG676-2"
    );

    // Every Verilog and XDC file named exists; the core is the emitted Verilog.
    let verilog_files: Vec<&str> = all("read_verilog").iter().map(|f| f[1]).collect();
    assert!(
        verilog_files.contains(&core_v.to_str().unwrap()),
        "build.tcl does not read the emitted core ({verilog_files:?})"
    );
    for f in verilog_files
        .iter()
        .chain(all("read_xdc").iter().map(|f| &f[1]))
    {
        assert!(
            Path::new(f).is_file(),
            "{f} named by the Tcl does not exist"
        );
    }

    // The board top: the module synthesised, instantiating the emitted `top` with every
    // one of its ports and nothing else, each at its width.
    assert_eq!(all("top").len(), 1);
    let top_name = all("top")[0][1];
    let board_path = bitstreams.join("hba_board_top.v");
    assert!(verilog_files.contains(&board_path.to_str().unwrap()));
    let board = strip_comments(&std::fs::read_to_string(&board_path).unwrap());
    let board_ports = module_ports(&board, top_name);
    assert!(!board_ports.is_empty());
    let core_ports = module_ports(&verilog, hba_rtl::TOP_MODULE);
    assert!(
        core_ports.len() > 40,
        "parsed {} core ports",
        core_ports.len()
    );
    let conns = instance_connections(&board, hba_rtl::TOP_MODULE, "core");
    let connected: BTreeSet<&String> = conns.keys().collect();
    let exist: BTreeSet<&String> = core_ports.keys().collect();
    assert_eq!(
        connected.difference(&exist).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "the board top connects ports the emitted core does not have"
    );
    assert_eq!(
        exist.difference(&connected).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "ports of the emitted core the board top leaves unconnected"
    );
    let board_wires = wires(&board);
    for (port, expr) in &conns {
        if let Some(&w) = board_wires.get(expr).or(board_ports.get(expr)) {
            assert_eq!(w, core_ports[port], "width of {expr} on core port {port}");
        }
    }

    // The block-design instance uses exactly the ports bd.tcl creates.
    let mut bd_names = BTreeSet::new();
    for f in all("bd_port") {
        bd_names.insert(f[2].to_string());
    }
    for f in all("bd_intf_port") {
        for s in intf_signals(f[2]) {
            bd_names.insert(format!("{}_{s}", f[3]));
        }
    }
    let bd_conns = instance_connections(&board, "hba_bd", "bd");
    let bd_used: BTreeSet<String> = bd_conns.keys().cloned().collect();
    assert_eq!(
        bd_used.symmetric_difference(&bd_names).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "hba_bd ports used by hba_board_top.v and created by bd.tcl differ"
    );

    // Constraints: every get_ports pattern matches a port of the board top, every net
    // named is a wire of it, every port bit has exactly one package pin, and no pin is
    // used twice.
    let bits = port_bits(&board_ports);
    for f in all("get_ports") {
        assert!(
            bits.iter().any(|b| glob(f[1], b)),
            "constraint names port {} that hba_board_top does not have",
            f[1]
        );
    }
    for f in all("get_nets") {
        assert!(
            board_wires.contains_key(f[1]),
            "constraint names net {} not in hba_board_top",
            f[1]
        );
    }
    let mut pin_of: BTreeMap<&str, &str> = BTreeMap::new();
    let mut port_of: BTreeMap<&str, &str> = BTreeMap::new();
    for f in all("pin") {
        let (pin, port) = (f[1], f[2]);
        assert!(
            bits.contains(port),
            "PACKAGE_PIN {pin} on unknown port {port}"
        );
        assert!(
            pin_of.insert(port, pin).is_none(),
            "port {port} placed twice"
        );
        if let Some(other) = port_of.insert(pin, port) {
            panic!("pin {pin} used by both {other} and {port}");
        }
    }
    let unplaced: Vec<&String> = bits
        .iter()
        .filter(|b| !pin_of.contains_key(b.as_str()))
        .collect();
    assert!(
        unplaced.is_empty(),
        "board top ports without a PACKAGE_PIN: {unplaced:?}"
    );

    // XDMA settings the host code relies on.
    let xdma: BTreeMap<&str, &str> = all("xdma").iter().map(|f| (f[1], f[2])).collect();
    let scale: u64 = match xdma["axilite_master_scale"] {
        "Kilobytes" => 1 << 10,
        "Megabytes" => 1 << 20,
        s => panic!("axilite_master_scale {s}"),
    };
    let bar: u64 = xdma["axilite_master_size"].parse::<u64>().unwrap() * scale;
    assert_eq!(
        bar,
        mem::REG_SPACE_BYTES as u64,
        "user BAR must be the register space"
    );
    assert_eq!(xdma["axilite_master_en"], "true");
    assert_eq!(
        hex(xdma["pciebar2axibar_axil_master"]),
        0,
        "user BAR translation 0"
    );
    assert_eq!(xdma["pf0_msi_enabled"], "true", "MSI, not legacy INTx");
    assert_eq!(xdma["pf0_interrupt_pin"], "NONE", "legacy INTx off");
    assert_eq!(
        xdma["xdma_num_usr_irq"], "1",
        "one user interrupt (events_0)"
    );
    assert_eq!((xdma["xdma_rnum_chnl"], xdma["xdma_wnum_chnl"]), ("1", "1"));
    assert_eq!(xdma["xdma_axi_intf_mm"], "AXI_Memory_Mapped");
    assert_eq!(
        (
            xdma["pl_link_cap_max_link_width"],
            xdma["pl_link_cap_max_link_speed"]
        ),
        ("X4", "5.0_GT/s"),
        "PCIe Gen2 x4 (the AC701 edge connector)"
    );

    // Address map.
    let addr: BTreeMap<&str, (&str, &str)> =
        all("addr").iter().map(|f| (f[1], (f[2], f[3]))).collect();
    let (off, range) = addr["xdma_0/M_AXI"];
    assert_eq!(
        hex(off),
        mem::CARD_MEM_DMA_BASE,
        "BRAM controller at CARD_MEM_DMA_BASE"
    );
    assert_eq!(range_bytes(range), mem::CARD_MEM_BYTES as u64);
    let (off, range) = addr["xdma_0/M_AXI_LITE"];
    assert_eq!(hex(off), 0);
    assert_eq!(range_bytes(range), mem::REG_SPACE_BYTES as u64);

    let _ = std::fs::remove_dir_all(&dir);
}

/// The check is a real gate: a misspelt Vivado command, or a contract value the script
/// would not apply, makes it fail.
#[test]
fn check_rejects_broken_scripts() {
    let src = repo().join("bitstreams");
    let core = scratch("broken-core").join("hba_core.v");
    std::fs::write(&core, "module top(); endmodule\n").unwrap();
    let cases: [(&str, &str, &str); 2] = [
        (
            "bd.tcl",
            "connect_bd_net [get_bd_pins xdma_0/axi_aclk]",
            "conect_bd_net [get_bd_pins xdma_0/axi_aclk]",
        ),
        (
            "bd.tcl",
            "lappend xdma_dict CONFIG.$key $value",
            "lappend xdma_dict $key $value",
        ),
    ];
    for (i, (file, from, to)) in cases.iter().enumerate() {
        let dir = scratch(&format!("broken{i}"));
        let copy = dir.join("bitstreams");
        std::fs::create_dir_all(copy.join("check")).unwrap();
        for e in std::fs::read_dir(&src)
            .unwrap()
            .chain(std::fs::read_dir(src.join("check")).unwrap())
        {
            let p = e.unwrap().path();
            if p.is_file() {
                let rel = p.strip_prefix(&src).unwrap();
                std::fs::copy(&p, copy.join(rel)).unwrap();
            }
        }
        let f = copy.join(file);
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.contains(from), "{file} no longer contains `{from}`");
        std::fs::write(&f, text.replacen(from, to, 1)).unwrap();
        let (ok, _, stderr) = run_check(&copy, &core, &dir.join("out"));
        assert!(!ok, "check.tcl accepted {file} with `{to}`");
        assert!(!stderr.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
