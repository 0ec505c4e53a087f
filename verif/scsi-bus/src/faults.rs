//! Seeded, declarative fault injection (serde-deserialisable, e.g. from TOML).

use serde::Deserialize;

use crate::bus::BusDevice;
use crate::signals::{ctl, cycles, BusDrive, BusSignals, Phase};

/// Small deterministic PRNG (splitmix64): same seed, same run.
#[derive(Clone, Debug)]
pub struct Prng(u64);

impl Prng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Prng {
        Prng(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What a matching rule does.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultAction {
    /// End the command with CHECK CONDITION and this sense (e.g. MEDIUM ERROR 11/00 at
    /// LBAs, NOT READY 04/01 for the first N commands, ABORTED COMMAND).
    CheckCondition {
        /// Sense key.
        key: u8,
        /// Additional sense code.
        asc: u8,
        /// Qualifier.
        #[serde(default)]
        ascq: u8,
    },
    /// Answer BUSY status.
    Busy,
    /// Answer QUEUE FULL (TASK SET FULL) status.
    QueueFull,
    /// Do not answer the selection (the initiator times out).
    NoSelectionResponse,
    /// Enter this phase and never assert REQ.
    Hang {
        /// The phase.
        phase: Phase,
    },
    /// Release BSY (unexpected BUS FREE) on entering this phase.
    BusFree {
        /// The phase.
        phase: Phase,
    },
    /// Send byte `byte` (0-based) of this phase with wrong parity.
    Parity {
        /// DATA IN, STATUS or MSG IN.
        phase: Phase,
        /// Index of the byte within the phase.
        #[serde(default)]
        byte: usize,
    },
    /// Send byte `byte` (0-based) of this phase with its data bits inverted **and** wrong
    /// parity, so that an initiator that takes it anyway has visibly wrong data (a
    /// [`FaultAction::Parity`] fault leaves the data right). Once; the resend is clean.
    BadByte {
        /// DATA IN, STATUS or MSG IN.
        phase: Phase,
        /// Index of the byte within the phase (counted per connection).
        #[serde(default)]
        byte: usize,
        /// The target then ignores INITIATOR DETECTED ERROR (carries on as after a NO
        /// OPERATION: no RESTORE POINTERS, no resent status): the initiator must report
        /// the error, never GOOD.
        #[serde(default)]
        no_retry: bool,
        /// Only in a reconnection (the reselection's IDENTIFY and tag message are its
        /// first MESSAGE IN bytes).
        #[serde(default)]
        reselected: bool,
    },
    /// Reselect for the task, then never assert REQ (a target that wedges while
    /// reconnecting; only a bus reset ends it).
    HangOnReselect,
    /// After the CDB, enter a reserved phase (MSG alone) and assert REQ there until a bus
    /// reset.
    ReservedPhase,
    /// After the CDB, send these bytes as one message (they need not be a well-formed
    /// message: a cut-short extended message is how a target leaves MESSAGE IN early),
    /// optionally with byte `bad_byte` of it sent with inverted data and wrong parity
    /// (once; the resend after MESSAGE PARITY ERROR is clean).
    SendBytes {
        /// The message bytes.
        bytes: Vec<u8>,
        /// Index of a byte to corrupt.
        #[serde(default)]
        bad_byte: Option<usize>,
    },
    /// Answer a queue tag message with MESSAGE REJECT (the task runs untagged).
    RejectTag,
    /// Answer SDTR/WDTR with MESSAGE REJECT.
    RejectNegotiation,
    /// Reselect with a tag that is not outstanding.
    BadReselectTag,
    /// After the CDB, send this one-byte message first (e.g. one the initiator does
    /// not support, which it must answer with MESSAGE REJECT), then carry on.
    SendMessage {
        /// The message byte.
        byte: u8,
    },
    /// End the command with CHECK CONDITION and full sense: INFORMATION, the FILEMARK,
    /// EOM and ILI bits, deferred or descriptor format, and optionally the command's
    /// data transferred first (RECOVERED ERROR with the data returned). With an `lba`
    /// condition and no `info`, INFORMATION is the first LBA of the rule's range that
    /// the command touches.
    Sense {
        /// Sense key.
        key: u8,
        /// Additional sense code.
        asc: u8,
        /// Qualifier.
        #[serde(default)]
        ascq: u8,
        /// INFORMATION field (VALID set).
        #[serde(default)]
        info: Option<u64>,
        /// FILEMARK bit.
        #[serde(default)]
        filemark: bool,
        /// EOM bit.
        #[serde(default)]
        eom: bool,
        /// ILI bit.
        #[serde(default)]
        ili: bool,
        /// Run the command and return its data, then report the sense.
        #[serde(default)]
        with_data: bool,
        /// Deferred error (response code 71h / 73h).
        #[serde(default)]
        deferred: bool,
        /// Descriptor-format sense (72h / 73h).
        #[serde(default)]
        descriptor: bool,
    },
    /// Answer with this status and no sense (RESERVATION CONFLICT 18h, TASK ABORTED 40h,
    /// ...).
    Status {
        /// The status byte.
        status: u8,
    },
    /// Disconnect after the CDB and never reselect (the initiator times out).
    NeverReselect,
    /// Delay the command on the medium by `cycles` plus a seeded jitter in
    /// `0..=jitter` cycles (seek time; a disconnecting disk reselects later).
    Delay {
        /// Fixed delay (cycles).
        cycles: u64,
        /// Largest extra delay (cycles), drawn from the rule set's PRNG.
        #[serde(default)]
        jitter: u64,
    },
    /// Right after selection, enter COMMAND or MESSAGE OUT and never assert REQ
    /// (matched at selection).
    HangAfterSelection {
        /// COMMAND or MESSAGE OUT.
        phase: Phase,
    },
    /// Disconnect, reselect, send IDENTIFY (no queue tag) and release BSY: an unexpected
    /// BUS FREE the initiator can tie only to the I_T_L.
    BusFreeAfterReselectIdentify,
}

/// When the action applies; each class of action is matched at its own moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultPoint {
    /// On selection (opcode unknown yet).
    Selection,
    /// On a queue tag or negotiation message.
    Message,
    /// On a received CDB.
    Command,
}

impl FaultAction {
    /// The moment this action is matched at.
    pub fn point(&self) -> FaultPoint {
        match self {
            FaultAction::NoSelectionResponse | FaultAction::HangAfterSelection { .. } => {
                FaultPoint::Selection
            }
            FaultAction::RejectTag | FaultAction::RejectNegotiation => FaultPoint::Message,
            _ => FaultPoint::Command,
        }
    }
}

/// One rule: all given conditions must hold; counters count matching opportunities.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Only this opcode.
    #[serde(default)]
    pub opcode: Option<u8>,
    /// Only commands whose LBA range overlaps `[start, end)`.
    #[serde(default)]
    pub lba: Option<[u64; 2]>,
    /// Only this LUN.
    #[serde(default)]
    pub lun: Option<u8>,
    /// Fire on every Nth opportunity (N, 2N, ...).
    #[serde(default)]
    pub every_nth: Option<u64>,
    /// Fire only on the first N opportunities.
    #[serde(default)]
    pub first_n: Option<u64>,
    /// Fire with this probability (seeded).
    #[serde(default)]
    pub probability: Option<f64>,
    /// The action.
    pub action: FaultAction,
}

/// A rule set with its seed; deserialisable from TOML (`seed`, `[[rule]]`, `bus_reset_at_ns`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    /// PRNG seed for probabilities.
    #[serde(default)]
    pub seed: u64,
    /// The rules, first match wins.
    #[serde(default, rename = "rule")]
    pub rules: Vec<FaultRule>,
    /// Third-party bus resets: times (ns) at which a [`ResetInjector`] asserts RST.
    #[serde(default)]
    pub bus_reset_at_ns: Vec<u64>,
}

/// What the fault engine is asked about.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultCtx {
    /// Opcode, when known.
    pub opcode: Option<u8>,
    /// First LBA and block count, for block commands.
    pub lba: Option<(u64, u64)>,
    /// LUN.
    pub lun: u8,
}

/// Runs a [`FaultConfig`]: per-rule opportunity counters, fire counts and the PRNG.
#[derive(Clone, Debug)]
pub struct FaultEngine {
    rules: Vec<(FaultRule, u64)>,
    rng: Prng,
    /// How many times each rule fired, in rule order.
    pub fired: Vec<u64>,
}

impl FaultEngine {
    /// An engine for a configuration.
    pub fn new(cfg: &FaultConfig) -> FaultEngine {
        FaultEngine {
            rules: cfg.rules.iter().map(|r| (r.clone(), 0)).collect(),
            rng: Prng::new(cfg.seed ^ 0xF417_5EED),
            fired: vec![0; cfg.rules.len()],
        }
    }
    /// The first rule of class `point` that fires for `ctx`, if any.
    pub fn check(&mut self, point: FaultPoint, ctx: &FaultCtx) -> Option<FaultAction> {
        if self.rules.is_empty() {
            return None;
        }
        for (i, (r, count)) in self.rules.iter_mut().enumerate() {
            if r.action.point() != point {
                continue;
            }
            if r.opcode.is_some() && r.opcode != ctx.opcode {
                continue;
            }
            if r.lun.is_some_and(|l| l != ctx.lun) {
                continue;
            }
            if let Some([s, e]) = r.lba {
                match ctx.lba {
                    Some((lba, n)) if lba < e && lba.saturating_add(n.max(1)) > s => {}
                    _ => continue,
                }
            }
            *count += 1;
            if r.first_n.is_some_and(|n| *count > n) {
                continue;
            }
            if r.every_nth.is_some_and(|n| n == 0 || *count % n != 0) {
                continue;
            }
            if let Some(p) = r.probability {
                if self.rng.unit() >= p {
                    continue;
                }
            }
            self.fired[i] += 1;
            return Some(r.action.clone());
        }
        None
    }
}

impl FaultEngine {
    /// Like [`FaultEngine::check`], but also resolves what the action needs from the
    /// rule: for `Sense` without `info` under an `lba` condition, INFORMATION becomes the
    /// first LBA of the rule's range the command touches; for `CheckCondition` under an
    /// `lba` condition the same LBA is returned as the second value (a medium error
    /// reports where it is, VALID = 1); for `Delay` the jitter is drawn (seeded) and
    /// folded into `cycles`.
    pub fn check_resolved(
        &mut self,
        point: FaultPoint,
        ctx: &FaultCtx,
    ) -> (Option<FaultAction>, Option<u64>) {
        let before = self.fired.clone();
        let a = self.check(point, ctx);
        let Some(mut a) = a else {
            return (None, None);
        };
        let rule = before
            .iter()
            .zip(self.fired.iter())
            .position(|(b, f)| f != b)
            .and_then(|i| self.rules.get(i))
            .map(|(r, _)| r.clone());
        let first_lba = match (rule.as_ref().and_then(|r| r.lba), ctx.lba) {
            (Some([s, _]), Some((lba, _))) => Some(lba.max(s)),
            _ => None,
        };
        match &mut a {
            FaultAction::Sense { info, .. } if info.is_none() => *info = first_lba,
            FaultAction::Delay { cycles, jitter } => {
                let j = if *jitter > 0 {
                    self.rng.below(*jitter + 1)
                } else {
                    0
                };
                *cycles += j;
                *jitter = 0;
            }
            _ => {}
        }
        let info = match a {
            FaultAction::CheckCondition { .. } => first_lba,
            _ => None,
        };
        (Some(a), info)
    }
}

/// A third party that resets the bus: asserts RST for the reset hold time at given cycles.
pub struct ResetInjector {
    at: Vec<u64>,
    until: u64,
}

impl ResetInjector {
    /// Resets at these cycles.
    pub fn new(mut at_cycles: Vec<u64>) -> ResetInjector {
        at_cycles.sort_unstable();
        at_cycles.reverse();
        ResetInjector {
            at: at_cycles,
            until: 0,
        }
    }
    /// Resets at the times of a [`FaultConfig`].
    pub fn from_config(cfg: &FaultConfig) -> ResetInjector {
        ResetInjector::new(
            cfg.bus_reset_at_ns
                .iter()
                .map(|&ns| crate::signals::ns_to_cycles(ns))
                .collect(),
        )
    }
}

impl BusDevice for ResetInjector {
    fn tick(&mut self, cycle: u64, _bus: &BusSignals) -> BusDrive {
        if self.at.last().is_some_and(|&t| cycle >= t) {
            self.at.pop();
            self.until = cycle + cycles::RESET_HOLD;
        }
        if cycle < self.until {
            BusDrive {
                ctl: ctl::RST,
                data: 0,
                parity: 0,
            }
        } else {
            BusDrive::NONE
        }
    }

    fn idle_until(&self, next: u64, _bus: &BusSignals) -> u64 {
        if next < self.until {
            return next;
        }
        self.at.last().map_or(u64::MAX, |&t| t.max(next))
    }
}
