//! The `nbd` target body: a whole NBD session of hbactl's server (`hbactl::nbd`: the
//! real handshake and transmission code `serve nbd` runs) against an in-memory export,
//! the input being what the client sends. Shared by the libFuzzer binary
//! (`fuzz/fuzz_targets/nbd.rs`) and the corpus replay of `make test`
//! (`host-driver/hbactl/tests/fuzz_corpus.rs`), so it uses nothing but hbactl and std.
//!
//! Input: byte 0 picks the export (bit 0 read-only, bit 1 2048-byte blocks instead of
//! 512), byte 1 its size (1 to 32 blocks), the rest is the client's byte stream.
//! Oracles, besides "no panic": the server's output parses as a handshake that ends in
//! the export's size and flags; in transmission every request but DISC gets exactly one
//! simple reply with its handle; a success never answers a request outside the export
//! (offset + length computed here in 128 bits), an empty READ/WRITE, or a write to a
//! read-only export, or a request with command flags (none is negotiated: EINVAL) or a
//! FLUSH with a non-zero offset or length (EINVAL); every other in-range request
//! succeeds (the memory never fails); a READ's
//! data is exactly the request's length and equals what was last written there (a
//! shadow copy); no block outside the export is touched, and at the end the export
//! equals the shadow byte for byte (read-modify-write of edge blocks keeps neighbours).

use hbactl::error::Result;
use hbactl::nbd::proto as p;
use hbactl::nbd::{self, BlockIo, Conn, Stats};
use std::io::{Read, Write};
use std::time::Duration;

/// The client's bytes in, the server's bytes out.
struct Pipe<'a> {
    input: &'a [u8],
    pos: usize,
    out: Vec<u8>,
}

impl Read for Pipe<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Short reads on purpose (at most 7 bytes each): framing must not assume that
        // one read returns a whole message.
        let n = buf.len().min(self.input.len() - self.pos).min(7);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Pipe<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A disk in memory that insists on being addressed inside itself.
struct MemDisk {
    bl: u64,
    data: Vec<u8>,
}

impl BlockIo for MemDisk {
    fn block_len(&self) -> u64 {
        self.bl
    }
    fn blocks(&self) -> u64 {
        self.data.len() as u64 / self.bl
    }
    fn read_blocks(&mut self, lba: u64, n: u64) -> Result<Vec<u8>> {
        assert!(
            n > 0 && lba + n <= self.blocks(),
            "read of blocks {lba}+{n} of {}",
            self.blocks()
        );
        Ok(self.data[(lba * self.bl) as usize..((lba + n) * self.bl) as usize].to_vec())
    }
    fn write_blocks(&mut self, lba: u64, d: &[u8]) -> Result<()> {
        let n = d.len() as u64 / self.bl;
        assert!(
            !d.is_empty() && (d.len() as u64).is_multiple_of(self.bl) && lba + n <= self.blocks(),
            "write of {} bytes at block {lba} of {}",
            d.len(),
            self.blocks()
        );
        let at = (lba * self.bl) as usize;
        self.data[at..at + d.len()].copy_from_slice(d);
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Reads `N` big-endian bytes at `*at` of the server's output, advancing; the output is
/// the server's, so running short is a failure.
fn take<const N: usize>(out: &[u8], at: &mut usize) -> [u8; N] {
    let b: [u8; N] = out
        .get(*at..*at + N)
        .unwrap_or_else(|| panic!("server output ends at {} of {}", out.len(), *at + N))
        .try_into()
        .expect("N bytes");
    *at += N;
    b
}

/// The export name the server offers.
const NAME: &str = "hba";

/// One session; see the module comment.
pub fn session(data: &[u8]) {
    let (cfg, stream) = data.split_at(data.len().min(2));
    let ro = cfg.first().is_some_and(|b| b & 1 != 0);
    let bl: u64 = if cfg.first().is_some_and(|b| b & 2 != 0) {
        2048
    } else {
        512
    };
    let blocks = 1 + u64::from(cfg.get(1).copied().unwrap_or(0) % 32);
    session_on(ro, bl, blocks, stream);
}

/// One session with the client bytes `stream` on an export of `blocks` blocks of `bl`
/// bytes, checked as [`session`] does (tests use exports larger than the fuzzer's).
pub fn session_on(ro: bool, bl: u64, blocks: u64, stream: &[u8]) {
    let size = blocks * bl;
    // A pattern, so a read of the wrong place shows.
    let image: Vec<u8> = (0..size).map(|i| (i * 7 + i / 509) as u8).collect();
    let mut disk = MemDisk {
        bl,
        data: image.clone(),
    };
    let mut shadow = image;
    let mut c = Conn::new(
        Pipe {
            input: stream,
            pos: 0,
            out: Vec::new(),
        },
        Duration::from_secs(1),
    );
    let chosen = nbd::handshake(&mut c, NAME, size, ro);
    let (hs_in, hs_out) = (c.get_ref().pos, c.get_ref().out.len());
    let chosen = matches!(chosen, Ok(true));
    check_handshake(&c.get_ref().out, stream, size, ro, chosen);
    if !chosen {
        return;
    }
    let mut st = Stats::default();
    // Errors end the connection; what was answered before is checked below.
    let _ = nbd::transmission(&mut c, &mut disk, ro, &mut st);
    let out = &c.get_ref().out[hs_out..];
    let mut o = 0;
    let mut i = hs_in;
    while let Some(h) = stream.get(i..i + p::REQUEST_LEN) {
        i += p::REQUEST_LEN;
        // The header, decoded here on its own (not with the server's decoder).
        let magic = u32::from_be_bytes(h[0..4].try_into().unwrap());
        let flags = u16::from_be_bytes(h[4..6].try_into().unwrap());
        let ty = u16::from_be_bytes(h[6..8].try_into().unwrap());
        let handle = u64::from_be_bytes(h[8..16].try_into().unwrap());
        let off = u64::from_be_bytes(h[16..24].try_into().unwrap());
        let len = u32::from_be_bytes(h[24..28].try_into().unwrap());
        let rw = ty == p::CMD_READ || ty == p::CMD_WRITE;
        if magic != p::REQUEST_MAGIC || (rw && len > p::MAX_REQUEST) || ty == p::CMD_DISC {
            // The server hangs up without a reply.
            break;
        }
        let payload = if ty == p::CMD_WRITE {
            let Some(d) = stream.get(i..i + len as usize) else {
                break; // EOF inside the payload: no reply
            };
            i += len as usize;
            d
        } else {
            &[][..]
        };
        assert_eq!(
            u32::from_be_bytes(take(out, &mut o)),
            p::SIMPLE_REPLY_MAGIC,
            "reply magic"
        );
        let err = u32::from_be_bytes(take(out, &mut o));
        assert_eq!(
            u64::from_be_bytes(take(out, &mut o)),
            handle,
            "reply handle"
        );
        let inside = u128::from(off) + u128::from(len) <= u128::from(size) && len > 0;
        // No command flag is negotiated: any set is EINVAL, whatever the command.
        let ty = if flags != 0 {
            assert_eq!(err, p::EINVAL, "command {ty} with flags {flags:#x}");
            u16::MAX
        } else {
            ty
        };
        match ty {
            u16::MAX => {}
            p::CMD_READ => {
                assert_eq!(err == 0, inside, "READ {off}+{len} of {size}: error {err}");
                if err == 0 {
                    let r = out
                        .get(o..o + len as usize)
                        .expect("READ data as long as asked");
                    o += len as usize;
                    let at = off as usize;
                    assert!(
                        r == &shadow[at..at + len as usize],
                        "READ {off}+{len}: not the data last written"
                    );
                }
            }
            p::CMD_WRITE => {
                if ro {
                    assert_eq!(err, p::EPERM, "WRITE to a read-only export");
                } else {
                    assert_eq!(err == 0, inside, "WRITE {off}+{len} of {size}: error {err}");
                }
                if err == 0 {
                    let at = off as usize;
                    shadow[at..at + len as usize].copy_from_slice(payload);
                }
            }
            p::CMD_FLUSH if off == 0 && len == 0 => assert_eq!(err, 0, "FLUSH"),
            p::CMD_FLUSH => assert_eq!(err, p::EINVAL, "FLUSH {off}+{len}: reserved fields"),
            _ => assert_ne!(err, 0, "command {ty} is not offered"),
        }
    }
    assert_eq!(o, out.len(), "server output beyond the replies");
    assert!(
        disk.data == shadow,
        "the export differs from what was written"
    );
}

/// The server's handshake output: the greeting, then option replies, ending (when the
/// client chose the export) with the export's size and transmission flags.
fn check_handshake(out: &[u8], stream: &[u8], size: u64, ro: bool, chosen: bool) {
    let mut o = 0;
    assert_eq!(u64::from_be_bytes(take(out, &mut o)), p::NBDMAGIC);
    assert_eq!(u64::from_be_bytes(take(out, &mut o)), p::IHAVEOPT);
    let _ = take::<2>(out, &mut o);
    let tflags = nbd::transmission_flags(ro);
    assert_eq!(tflags & p::TFLAG_READ_ONLY != 0, ro, "read-only flag");
    let no_zeroes = stream.get(3).is_some_and(|b| b & 2 != 0);
    while o < out.len() {
        // The export size is never REPLY_MAGIC here (far smaller), so the first
        // 8 bytes tell an option reply from the EXPORT_NAME answer.
        let m = u64::from_be_bytes(take(out, &mut o));
        if m != p::REPLY_MAGIC {
            assert!(chosen, "EXPORT_NAME answered but the session did not go on");
            assert_eq!(m, size, "EXPORT_NAME size");
            assert_eq!(u16::from_be_bytes(take(out, &mut o)), tflags);
            if !no_zeroes {
                assert!(take::<124>(out, &mut o) == [0; 124]);
            }
            assert_eq!(o, out.len(), "bytes after the EXPORT_NAME answer");
            return;
        }
        let opt = u32::from_be_bytes(take(out, &mut o));
        let ty = u32::from_be_bytes(take(out, &mut o));
        let len = u32::from_be_bytes(take(out, &mut o)) as usize;
        let d = out.get(o..o + len).expect("option reply data");
        o += len;
        if ty == p::REP_INFO && d.get(0..2) == Some(&p::INFO_EXPORT.to_be_bytes()[..]) {
            assert_eq!(d.len(), 12, "NBD_INFO_EXPORT length");
            assert_eq!(u64::from_be_bytes(d[2..10].try_into().unwrap()), size);
            assert_eq!(u16::from_be_bytes(d[10..12].try_into().unwrap()), tflags);
        }
        if opt == p::OPT_GO && ty == p::REP_ACK {
            assert!(chosen, "GO acknowledged but the session did not go on");
            assert_eq!(o, out.len(), "bytes after the GO acknowledgement");
            return;
        }
    }
    assert!(
        !chosen,
        "the session went on without the export being answered"
    );
}
