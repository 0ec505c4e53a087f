//! Decoding of the bytes an NBD client sends, apart from any socket: the client flags,
//! option headers and payloads of the fixed newstyle handshake, transmission request
//! headers, and the checks the server makes on a request before touching the export.
//! Values as the NBD protocol document (`doc/proto.md` of NetworkBlockDevice/nbd).
//!
//! Every function takes bytes already read and returns a typed error for anything a
//! hostile client can send; none panics. The server (`super`) and the fuzz target
//! (`fuzz/src/nbd.rs`) call these.

/// "NBDMAGIC", the first 8 bytes the server sends.
pub const NBDMAGIC: u64 = 0x4e42_444d_4147_4943;
/// "IHAVEOPT": the newstyle magic, and the magic of every client option.
pub const IHAVEOPT: u64 = 0x4948_4156_454F_5054;
/// Magic of every option reply.
pub const REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;
/// Magic of a transmission request.
pub const REQUEST_MAGIC: u32 = 0x2560_9513;
/// Magic of a simple reply.
pub const SIMPLE_REPLY_MAGIC: u32 = 0x6744_6698;

/// Handshake flag (server) and client flag: fixed newstyle.
pub const FLAG_FIXED_NEWSTYLE: u16 = 1;
/// Handshake flag (server) and client flag: no 124 zero bytes after EXPORT_NAME.
pub const FLAG_NO_ZEROES: u16 = 2;

/// NBD_OPT_EXPORT_NAME.
pub const OPT_EXPORT_NAME: u32 = 1;
/// NBD_OPT_ABORT.
pub const OPT_ABORT: u32 = 2;
/// NBD_OPT_LIST.
pub const OPT_LIST: u32 = 3;
/// NBD_OPT_INFO.
pub const OPT_INFO: u32 = 6;
/// NBD_OPT_GO.
pub const OPT_GO: u32 = 7;
/// NBD_OPT_STRUCTURED_REPLY.
pub const OPT_STRUCTURED_REPLY: u32 = 8;

/// NBD_REP_ACK.
pub const REP_ACK: u32 = 1;
/// NBD_REP_SERVER.
pub const REP_SERVER: u32 = 2;
/// NBD_REP_INFO.
pub const REP_INFO: u32 = 3;
/// NBD_REP_ERR_UNSUP.
pub const REP_ERR_UNSUP: u32 = 0x8000_0001;
/// NBD_REP_ERR_INVALID.
pub const REP_ERR_INVALID: u32 = 0x8000_0003;
/// NBD_REP_ERR_UNKNOWN.
pub const REP_ERR_UNKNOWN: u32 = 0x8000_0006;

/// NBD_INFO_EXPORT.
pub const INFO_EXPORT: u16 = 0;
/// NBD_INFO_BLOCK_SIZE.
pub const INFO_BLOCK_SIZE: u16 = 3;

/// Transmission flag NBD_FLAG_HAS_FLAGS.
pub const TFLAG_HAS_FLAGS: u16 = 1;
/// Transmission flag NBD_FLAG_READ_ONLY.
pub const TFLAG_READ_ONLY: u16 = 2;
/// Transmission flag NBD_FLAG_SEND_FLUSH.
pub const TFLAG_SEND_FLUSH: u16 = 4;

/// NBD_CMD_READ.
pub const CMD_READ: u16 = 0;
/// NBD_CMD_WRITE.
pub const CMD_WRITE: u16 = 1;
/// NBD_CMD_DISC.
pub const CMD_DISC: u16 = 2;
/// NBD_CMD_FLUSH.
pub const CMD_FLUSH: u16 = 3;
/// NBD_CMD_TRIM.
pub const CMD_TRIM: u16 = 4;
/// NBD_CMD_WRITE_ZEROES.
pub const CMD_WRITE_ZEROES: u16 = 6;

/// NBD_EPERM.
pub const EPERM: u32 = 1;
/// NBD_EIO.
pub const EIO: u32 = 5;
/// NBD_EINVAL.
pub const EINVAL: u32 = 22;
/// NBD_ENOTSUP.
pub const ENOTSUP: u32 = 95;

/// Largest option payload accepted (names are short; anything bigger is hostile).
pub const MAX_OPTION: u32 = 4096;
/// Largest READ/WRITE accepted (qemu's default maximum, advertised as the maximum block
/// size); bigger closes the connection.
pub const MAX_REQUEST: u32 = 32 << 20;
/// Size of an option header after the handshake flags: magic, option, length.
pub const OPTION_HEADER_LEN: usize = 16;
/// Size of a transmission request header.
pub const REQUEST_LEN: usize = 28;

/// Client bytes that end the connection: there is no reply that could answer them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// The client flags lack fixed newstyle (it would not understand option replies).
    #[error("client does not speak fixed newstyle (flags {0:#x})")]
    NotFixedNewstyle(u32),
    /// An option header without IHAVEOPT.
    #[error("bad option magic {0:#018x}")]
    BadOptionMagic(u64),
    /// An option payload longer than [`MAX_OPTION`].
    #[error("option of {0} bytes")]
    OptionTooLong(u32),
    /// A request header without the request magic.
    #[error("bad request magic {0:#010x}")]
    BadRequestMagic(u32),
    /// A READ or WRITE longer than [`MAX_REQUEST`]: a WRITE's payload cannot be skipped
    /// safely, and a READ that long is no client we know.
    #[error("request of {0} bytes")]
    RequestTooLong(u32),
}

/// The client flags that matter to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientFlags {
    /// NBD_FLAG_C_NO_ZEROES: leave out the 124 zeroes after an EXPORT_NAME reply.
    pub no_zeroes: bool,
}

/// Decodes the 32-bit client flags; fixed newstyle is required.
pub fn client_flags(raw: u32) -> Result<ClientFlags, ProtoError> {
    if raw & u32::from(FLAG_FIXED_NEWSTYLE) == 0 {
        return Err(ProtoError::NotFixedNewstyle(raw));
    }
    Ok(ClientFlags {
        no_zeroes: raw & u32::from(FLAG_NO_ZEROES) != 0,
    })
}

/// An option header: which option and how many payload bytes follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionHeader {
    /// The option number (NBD_OPT_*).
    pub opt: u32,
    /// Payload length, at most [`MAX_OPTION`].
    pub len: u32,
}

impl OptionHeader {
    /// Decodes magic, option and length; refuses a wrong magic or an oversized payload
    /// before the server reads (or allocates for) the payload.
    pub fn decode(b: &[u8; OPTION_HEADER_LEN]) -> Result<OptionHeader, ProtoError> {
        let magic = u64::from_be_bytes(be(b, 0));
        if magic != IHAVEOPT {
            return Err(ProtoError::BadOptionMagic(magic));
        }
        let opt = u32::from_be_bytes(be(b, 8));
        let len = u32::from_be_bytes(be(b, 12));
        if len > MAX_OPTION {
            return Err(ProtoError::OptionTooLong(len));
        }
        Ok(OptionHeader { opt, len })
    }
}

/// The name and information requests of NBD_OPT_INFO and NBD_OPT_GO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRequest {
    /// The export name (empty: the default export).
    pub name: Vec<u8>,
    /// The NBD_INFO_* items asked for.
    pub info: Vec<u16>,
}

/// A decoded client option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOption {
    /// NBD_OPT_EXPORT_NAME: the payload is the name.
    ExportName(Vec<u8>),
    /// NBD_OPT_ABORT.
    Abort,
    /// NBD_OPT_LIST.
    List,
    /// NBD_OPT_INFO.
    Info(InfoRequest),
    /// NBD_OPT_GO.
    Go(InfoRequest),
    /// NBD_OPT_STRUCTURED_REPLY (not offered by this server).
    StructuredReply,
    /// Any other option (TLS, meta contexts, extended headers, ...).
    Unknown(u32),
}

/// An option payload that does not match its option: answered NBD_REP_ERR_INVALID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// NBD_OPT_LIST carries no data.
    #[error("NBD_OPT_LIST with {0} bytes of data")]
    ListWithData(u32),
    /// NBD_OPT_INFO/GO: the name length or the request count runs past the payload.
    #[error("option {opt}: payload of {len} bytes is truncated")]
    Truncated {
        /// The option.
        opt: u32,
        /// Its payload length.
        len: usize,
    },
    /// NBD_OPT_INFO/GO: bytes left after the information requests.
    #[error("option {opt}: {extra} bytes after the information requests")]
    Trailing {
        /// The option.
        opt: u32,
        /// Bytes too many.
        extra: usize,
    },
}

impl ClientOption {
    /// Decodes the payload of option `opt`.
    pub fn decode(opt: u32, data: &[u8]) -> Result<ClientOption, OptionError> {
        Ok(match opt {
            OPT_EXPORT_NAME => ClientOption::ExportName(data.to_vec()),
            OPT_ABORT => ClientOption::Abort,
            OPT_LIST if !data.is_empty() => {
                return Err(OptionError::ListWithData(data.len() as u32));
            }
            OPT_LIST => ClientOption::List,
            OPT_INFO => ClientOption::Info(info_request(opt, data)?),
            OPT_GO => ClientOption::Go(info_request(opt, data)?),
            OPT_STRUCTURED_REPLY => ClientOption::StructuredReply,
            _ => ClientOption::Unknown(opt),
        })
    }
}

/// u32 name length, name, u16 number of information requests, a u16 each.
fn info_request(opt: u32, data: &[u8]) -> Result<InfoRequest, OptionError> {
    let truncated = OptionError::Truncated {
        opt,
        len: data.len(),
    };
    let nl = data
        .get(0..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or(truncated.clone())?;
    // `nl` comes from the client: checked arithmetic, so a huge length is "truncated".
    let name_end = nl.checked_add(4).ok_or(truncated.clone())?;
    let name = data.get(4..name_end).ok_or(truncated.clone())?;
    let count_end = name_end.checked_add(2).ok_or(truncated.clone())?;
    let nreq = data
        .get(name_end..count_end)
        .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        .ok_or(truncated.clone())?;
    let rest = &data[count_end..];
    if rest.len() < 2 * nreq {
        return Err(truncated);
    }
    if rest.len() > 2 * nreq {
        return Err(OptionError::Trailing {
            opt,
            extra: rest.len() - 2 * nreq,
        });
    }
    Ok(InfoRequest {
        name: name.to_vec(),
        info: rest
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect(),
    })
}

/// A transmission command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// NBD_CMD_READ.
    Read,
    /// NBD_CMD_WRITE (a payload of the request's length follows the header).
    Write,
    /// NBD_CMD_DISC.
    Disc,
    /// NBD_CMD_FLUSH.
    Flush,
    /// NBD_CMD_TRIM (not offered; refused).
    Trim,
    /// NBD_CMD_WRITE_ZEROES (not offered; refused).
    WriteZeroes,
    /// Anything else.
    Other(u16),
}

impl Command {
    /// The command of a request's type field.
    pub fn from_type(ty: u16) -> Command {
        match ty {
            CMD_READ => Command::Read,
            CMD_WRITE => Command::Write,
            CMD_DISC => Command::Disc,
            CMD_FLUSH => Command::Flush,
            CMD_TRIM => Command::Trim,
            CMD_WRITE_ZEROES => Command::WriteZeroes,
            t => Command::Other(t),
        }
    }
}

/// A transmission request header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Command flags (NBD_CMD_FLAG_*; none is offered, so a request with any is refused).
    pub flags: u16,
    /// The command.
    pub cmd: Command,
    /// The client's handle (cookie), echoed in the reply.
    pub handle: u64,
    /// Byte offset into the export.
    pub offset: u64,
    /// Length in bytes.
    pub len: u32,
}

/// Why the server answers a well-framed request with an error (the connection stays).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// offset + length does not fit in 64 bits.
    #[error("offset {offset} + length {len} overflows")]
    Overflow {
        /// Offset.
        offset: u64,
        /// Length.
        len: u32,
    },
    /// The range ends past the export.
    #[error("{offset}+{len} is beyond the export's {size} bytes")]
    BeyondEnd {
        /// Offset.
        offset: u64,
        /// Length.
        len: u32,
        /// The export's size.
        size: u64,
    },
    /// A READ or WRITE of no bytes.
    #[error("zero-length request")]
    Empty,
    /// A WRITE, TRIM or WRITE_ZEROES to a read-only export.
    #[error("the export is read-only")]
    ReadOnly,
    /// A command this server does not offer.
    #[error("command {0:?} is not supported")]
    Unsupported(Command),
    /// Command flags set, where this server negotiates none (no FUA, no DF): a client
    /// that believes it asked for FUA's durability must not be told it got it.
    #[error("command flags {0:#x}, and this server offers none")]
    Flags(u16),
    /// A FLUSH whose offset or length is not zero (both reserved, all-zero).
    #[error("FLUSH with offset {offset} and length {len} (reserved, zero)")]
    FlushReserved {
        /// Offset.
        offset: u64,
        /// Length.
        len: u32,
    },
}

impl Refusal {
    /// The NBD error value of the reply.
    pub fn errno(self) -> u32 {
        match self {
            Refusal::Overflow { .. }
            | Refusal::BeyondEnd { .. }
            | Refusal::Empty
            | Refusal::Flags(_)
            | Refusal::FlushReserved { .. } => EINVAL,
            Refusal::ReadOnly => EPERM,
            Refusal::Unsupported(_) => ENOTSUP,
        }
    }
}

impl Request {
    /// Decodes a request header; a bad magic or an over-long READ/WRITE ends the
    /// connection (refused before any payload is read).
    pub fn decode(b: &[u8; REQUEST_LEN]) -> Result<Request, ProtoError> {
        let magic = u32::from_be_bytes(be(b, 0));
        if magic != REQUEST_MAGIC {
            return Err(ProtoError::BadRequestMagic(magic));
        }
        let r = Request {
            flags: u16::from_be_bytes(be(b, 4)),
            cmd: Command::from_type(u16::from_be_bytes(be(b, 6))),
            handle: u64::from_be_bytes(be(b, 8)),
            offset: u64::from_be_bytes(be(b, 16)),
            len: u32::from_be_bytes(be(b, 24)),
        };
        if matches!(r.cmd, Command::Read | Command::Write) && r.len > MAX_REQUEST {
            return Err(ProtoError::RequestTooLong(r.len));
        }
        Ok(r)
    }

    /// Bytes of payload that follow this header (a WRITE's data), to be read whether or
    /// not the request is then refused, so the stream stays in step.
    pub fn payload_len(&self) -> u32 {
        if self.cmd == Command::Write {
            self.len
        } else {
            0
        }
    }

    /// The checks before the export is touched, for an export of `size` bytes. Command
    /// flags come first (none is offered: EINVAL), then write protection (EPERM whatever
    /// the range), then the range. FLUSH must carry a zero offset and length (EINVAL
    /// otherwise); DISC is never answered, so it passes.
    pub fn check(&self, size: u64, read_only: bool) -> Result<(), Refusal> {
        if self.flags != 0 && self.cmd != Command::Disc {
            return Err(Refusal::Flags(self.flags));
        }
        match self.cmd {
            Command::Read => self.range(size),
            Command::Write if read_only => Err(Refusal::ReadOnly),
            Command::Write => self.range(size),
            Command::Flush if self.offset != 0 || self.len != 0 => Err(Refusal::FlushReserved {
                offset: self.offset,
                len: self.len,
            }),
            Command::Flush | Command::Disc => Ok(()),
            Command::Trim | Command::WriteZeroes if read_only => Err(Refusal::ReadOnly),
            c @ (Command::Trim | Command::WriteZeroes | Command::Other(_)) => {
                Err(Refusal::Unsupported(c))
            }
        }
    }

    /// `[offset, offset+len)` is non-empty and inside `[0, size)`.
    fn range(&self, size: u64) -> Result<(), Refusal> {
        let end = self
            .offset
            .checked_add(u64::from(self.len))
            .ok_or(Refusal::Overflow {
                offset: self.offset,
                len: self.len,
            })?;
        if end > size {
            return Err(Refusal::BeyondEnd {
                offset: self.offset,
                len: self.len,
                size,
            });
        }
        if self.len == 0 {
            return Err(Refusal::Empty);
        }
        Ok(())
    }
}

/// `N` big-endian bytes at `at` of a fixed-size header (callers stay within it).
fn be<const N: usize, const M: usize>(b: &[u8; M], at: usize) -> [u8; N] {
    let mut o = [0u8; N];
    o.copy_from_slice(&b[at..at + N]);
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(ty: u16, offset: u64, len: u32) -> [u8; REQUEST_LEN] {
        let mut b = [0u8; REQUEST_LEN];
        b[0..4].copy_from_slice(&REQUEST_MAGIC.to_be_bytes());
        b[6..8].copy_from_slice(&ty.to_be_bytes());
        b[8..16].copy_from_slice(&0x1122_3344_5566_7788u64.to_be_bytes());
        b[16..24].copy_from_slice(&offset.to_be_bytes());
        b[24..28].copy_from_slice(&len.to_be_bytes());
        b
    }

    fn opt_hdr(magic: u64, opt: u32, len: u32) -> [u8; OPTION_HEADER_LEN] {
        let mut b = [0u8; OPTION_HEADER_LEN];
        b[0..8].copy_from_slice(&magic.to_be_bytes());
        b[8..12].copy_from_slice(&opt.to_be_bytes());
        b[12..16].copy_from_slice(&len.to_be_bytes());
        b
    }

    fn go_payload(name: &[u8], info: &[u16]) -> Vec<u8> {
        let mut d = (name.len() as u32).to_be_bytes().to_vec();
        d.extend_from_slice(name);
        d.extend_from_slice(&(info.len() as u16).to_be_bytes());
        for i in info {
            d.extend_from_slice(&i.to_be_bytes());
        }
        d
    }

    #[test]
    fn client_flags_need_fixed_newstyle() {
        assert_eq!(client_flags(3), Ok(ClientFlags { no_zeroes: true }));
        assert_eq!(client_flags(1), Ok(ClientFlags { no_zeroes: false }));
        assert_eq!(client_flags(2), Err(ProtoError::NotFixedNewstyle(2)));
        assert_eq!(client_flags(0), Err(ProtoError::NotFixedNewstyle(0)));
    }

    #[test]
    fn option_header_magic_and_length_limit() {
        assert_eq!(
            OptionHeader::decode(&opt_hdr(IHAVEOPT, OPT_GO, MAX_OPTION)),
            Ok(OptionHeader {
                opt: OPT_GO,
                len: MAX_OPTION
            })
        );
        assert_eq!(
            OptionHeader::decode(&opt_hdr(IHAVEOPT, OPT_GO, MAX_OPTION + 1)),
            Err(ProtoError::OptionTooLong(MAX_OPTION + 1))
        );
        assert_eq!(
            OptionHeader::decode(&opt_hdr(NBDMAGIC, OPT_GO, 0)),
            Err(ProtoError::BadOptionMagic(NBDMAGIC))
        );
    }

    #[test]
    fn options_decode_by_number() {
        let d = |o, p: &[u8]| ClientOption::decode(o, p);
        assert_eq!(
            d(OPT_EXPORT_NAME, b"hba"),
            Ok(ClientOption::ExportName(b"hba".to_vec()))
        );
        assert_eq!(d(OPT_ABORT, b""), Ok(ClientOption::Abort));
        assert_eq!(d(OPT_LIST, b""), Ok(ClientOption::List));
        assert_eq!(d(OPT_LIST, b"x"), Err(OptionError::ListWithData(1)));
        assert_eq!(
            d(OPT_STRUCTURED_REPLY, b""),
            Ok(ClientOption::StructuredReply)
        );
        assert_eq!(d(5, b""), Ok(ClientOption::Unknown(5)));
        let want = InfoRequest {
            name: b"hba".to_vec(),
            info: vec![INFO_BLOCK_SIZE, INFO_EXPORT],
        };
        assert_eq!(
            d(OPT_GO, &go_payload(b"hba", &want.info)),
            Ok(ClientOption::Go(want.clone()))
        );
        assert_eq!(
            d(OPT_INFO, &go_payload(b"hba", &want.info)),
            Ok(ClientOption::Info(want))
        );
        assert_eq!(
            d(OPT_GO, &go_payload(b"", &[])),
            Ok(ClientOption::Go(InfoRequest {
                name: vec![],
                info: vec![]
            }))
        );
    }

    #[test]
    fn go_payloads_that_lie_about_their_lengths_are_invalid() {
        let full = go_payload(b"hba", &[3, 0]);
        // Every truncation is refused (a name or count running past the payload).
        for n in 0..full.len() {
            assert!(
                matches!(
                    ClientOption::decode(OPT_GO, &full[..n]),
                    Err(OptionError::Truncated { opt: OPT_GO, .. })
                ),
                "{n} bytes"
            );
        }
        let mut long = full.clone();
        long.push(0);
        assert_eq!(
            ClientOption::decode(OPT_GO, &long),
            Err(OptionError::Trailing {
                opt: OPT_GO,
                extra: 1
            })
        );
        // A name length of 4 GiB - 1 must not wrap the index arithmetic.
        let mut huge = u32::MAX.to_be_bytes().to_vec();
        huge.extend_from_slice(&[0, 0]);
        assert!(matches!(
            ClientOption::decode(OPT_INFO, &huge),
            Err(OptionError::Truncated { .. })
        ));
    }

    #[test]
    fn request_header_fields_and_framing_errors() {
        let mut b = req(CMD_WRITE, 4096, 512);
        b[4..6].copy_from_slice(&1u16.to_be_bytes());
        let r = Request::decode(&b).unwrap();
        assert_eq!(
            r,
            Request {
                flags: 1,
                cmd: Command::Write,
                handle: 0x1122_3344_5566_7788,
                offset: 4096,
                len: 512
            }
        );
        assert_eq!(r.payload_len(), 512);
        let r = Request::decode(&req(CMD_READ, 0, 512)).unwrap();
        assert_eq!(r.payload_len(), 0, "a READ carries no payload");
        let mut bad = req(CMD_READ, 0, 512);
        bad[3] ^= 1;
        assert_eq!(
            Request::decode(&bad),
            Err(ProtoError::BadRequestMagic(0x2560_9512))
        );
        for ty in [CMD_READ, CMD_WRITE] {
            assert_eq!(
                Request::decode(&req(ty, 0, MAX_REQUEST + 1)),
                Err(ProtoError::RequestTooLong(MAX_REQUEST + 1))
            );
            assert!(Request::decode(&req(ty, 0, MAX_REQUEST)).is_ok());
        }
        // Only READ and WRITE move data: a long TRIM is framed fine (and then refused).
        let t = Request::decode(&req(CMD_TRIM, 0, u32::MAX)).unwrap();
        assert_eq!(t.payload_len(), 0);
        assert_eq!(
            Request::decode(&req(9, 0, 0)).unwrap().cmd,
            Command::Other(9)
        );
    }

    #[test]
    fn range_checks_refuse_overflow_beyond_end_and_empty() {
        let size = 512 * 512;
        let chk = |ty, off, len, ro| Request::decode(&req(ty, off, len)).unwrap().check(size, ro);
        assert_eq!(chk(CMD_READ, 0, 512, false), Ok(()));
        assert_eq!(chk(CMD_READ, size - 1, 1, false), Ok(()));
        assert_eq!(chk(CMD_WRITE, size - 512, 512, false), Ok(()));
        assert_eq!(
            chk(CMD_READ, size - 100, 200, false),
            Err(Refusal::BeyondEnd {
                offset: size - 100,
                len: 200,
                size
            })
        );
        // offset + length wraps to a small number: must not pass as "inside".
        assert_eq!(
            chk(CMD_READ, u64::MAX - 10, 512, false),
            Err(Refusal::Overflow {
                offset: u64::MAX - 10,
                len: 512
            })
        );
        assert_eq!(
            chk(CMD_WRITE, u64::MAX, 1, false).map_err(Refusal::errno),
            Err(EINVAL)
        );
        assert_eq!(chk(CMD_READ, 0, 0, false), Err(Refusal::Empty));
        assert_eq!(chk(CMD_READ, size, 0, false), Err(Refusal::Empty));
        assert_eq!(Refusal::Empty.errno(), EINVAL);
    }

    #[test]
    fn read_only_refuses_writes_and_trims_unknown_commands_unsupported() {
        let size = 1 << 20;
        let chk = |ty, off, len, ro| Request::decode(&req(ty, off, len)).unwrap().check(size, ro);
        assert_eq!(chk(CMD_READ, 0, 512, true), Ok(()));
        // EPERM whatever the range, as before the range is looked at.
        assert_eq!(chk(CMD_WRITE, 0, 512, true), Err(Refusal::ReadOnly));
        assert_eq!(chk(CMD_WRITE, u64::MAX, 512, true), Err(Refusal::ReadOnly));
        assert_eq!(chk(CMD_TRIM, 0, 512, true), Err(Refusal::ReadOnly));
        assert_eq!(chk(CMD_WRITE_ZEROES, 0, 512, true), Err(Refusal::ReadOnly));
        assert_eq!(Refusal::ReadOnly.errno(), EPERM);
        assert_eq!(
            chk(CMD_TRIM, 0, 512, false),
            Err(Refusal::Unsupported(Command::Trim))
        );
        assert_eq!(chk(9, 0, 0, false).map_err(Refusal::errno), Err(ENOTSUP));
        assert_eq!(chk(CMD_FLUSH, 0, 0, true), Ok(()));
        assert_eq!(chk(CMD_DISC, 0, 0, false), Ok(()));
    }

    #[test]
    fn command_flags_and_a_flush_range_are_refused_with_einval() {
        let size = 1 << 20;
        let chk = |flags: u16, ty, off, len| {
            let mut b = req(ty, off, len);
            b[4..6].copy_from_slice(&flags.to_be_bytes());
            Request::decode(&b).unwrap().check(size, false)
        };
        // FUA (bit 0) and DF (bit 2) are not negotiated: nothing may be set.
        for f in [1u16, 2, 4, 0x8000] {
            for ty in [CMD_READ, CMD_WRITE, CMD_FLUSH] {
                assert_eq!(
                    chk(f, ty, 0, 512 * u32::from(ty != CMD_FLUSH)),
                    Err(Refusal::Flags(f))
                );
            }
        }
        assert_eq!(Refusal::Flags(1).errno(), EINVAL);
        assert_eq!(chk(0, CMD_READ, 0, 512), Ok(()));
        // A disconnect is never answered; its flags change nothing.
        assert_eq!(chk(1, CMD_DISC, 0, 0), Ok(()));
        for (off, len) in [(1, 0), (0, 1), (u64::MAX, u32::MAX)] {
            let r = chk(0, CMD_FLUSH, off, len);
            assert_eq!(r, Err(Refusal::FlushReserved { offset: off, len }));
            assert_eq!(r.map_err(Refusal::errno), Err(EINVAL));
        }
    }
}
