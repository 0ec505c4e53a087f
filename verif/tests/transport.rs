//! The co-simulation transport: the host driver's self-test on the real RTL, the cost
//! model's effect on simulated time, and the transport's own input checks.

use hba_abi::{mem, regs};
use hba_host_driver::{bringup, Transport, TransportError};
use hba_verif::{CostModel, SimTransport};
use std::time::Duration;

#[test]
fn self_test_passes_on_the_cosimulated_core() {
    let mut t = SimTransport::new();
    let st = bringup::self_test(&mut t);
    for s in &st.steps {
        assert!(s.pass, "{}: {}", s.name, s.detail);
    }
    assert_eq!(st.steps.len(), 9);
    // The firmware was halted for the memory patterns and restarted on clean memory.
    let status = t.reg_read(regs::SEQ_STATUS).unwrap();
    assert_ne!(status & regs::seq_status::RUNNING, 0, "{status:#x}");
    assert_eq!(status & regs::seq_status::TRAPPED, 0, "{status:#x}");
    assert_eq!(
        t.reg_read(regs::CQ_PRODUCER).unwrap(),
        0x8000_0000,
        "rings reset"
    );
}

#[test]
fn self_test_reports_what_it_read_when_the_card_is_wrong() {
    // A soft reset between enabling and raising would lose the interrupt; here we only
    // check that a wrong identification stops the test and names the value read.
    struct Liar(SimTransport);
    impl Transport for Liar {
        fn reg_read(&mut self, o: u32) -> Result<u32, TransportError> {
            if o == regs::ID {
                Ok(0xFFFF_FFFF)
            } else {
                self.0.reg_read(o)
            }
        }
        fn reg_write(&mut self, o: u32, v: u32) -> Result<(), TransportError> {
            self.0.reg_write(o, v)
        }
        fn dma_write(&mut self, a: u64, d: &[u8]) -> Result<(), TransportError> {
            self.0.dma_write(a, d)
        }
        fn dma_read(&mut self, a: u64, b: &mut [u8]) -> Result<(), TransportError> {
            self.0.dma_read(a, b)
        }
        fn wait_irq(&mut self, t: Duration) -> Result<bool, TransportError> {
            self.0.wait_irq(t)
        }
        fn now(&self) -> Duration {
            self.0.now()
        }
        fn name(&self) -> String {
            "liar".into()
        }
    }
    let st = bringup::self_test(&mut Liar(SimTransport::new()));
    assert!(!st.passed());
    assert_eq!(st.steps.len(), 1);
    assert!(
        st.steps[0].detail.contains("0xffffffff"),
        "{}",
        st.steps[0].detail
    );
}

#[test]
fn register_dump_decodes_every_register() {
    let mut t = SimTransport::new();
    let dump = bringup::dump_registers(&mut t);
    assert_eq!(dump.len(), regs::REGISTERS.len());
    let id = dump.iter().find(|d| d.reg.offset == regs::ID).unwrap();
    assert_eq!(id.value, Ok(hba_abi::MAGIC));
    assert!(dump
        .iter()
        .find(|d| d.reg.offset == regs::VERSION)
        .unwrap()
        .render()
        .contains("MINOR"));
}

#[test]
fn simulated_time_follows_the_cost_model() {
    let mut t = SimTransport::new();
    let c = CostModel::default();
    let t0 = t.now();
    t.reg_read(regs::SCRATCH).unwrap();
    let read = t.now() - t0;
    assert!(
        read >= Duration::from_nanos(c.bar_read_ns)
            && read < Duration::from_nanos(c.bar_read_ns + 200)
    );
    let t0 = t.now();
    t.dma_write(0, &[0u8; 4096]).unwrap();
    let dma = t.now() - t0;
    // 1024 words at one per 10 ns cycle (10.24 us) fit in the call cost plus the link
    // time of 4 KiB at Gen2 x4 (2.56 us).
    let want = c.dma_call_ns + 4096 * c.dma_ps_per_byte / 1000;
    assert_eq!(c.dma_ns(4096), want);
    assert!(
        dma >= Duration::from_nanos(want) && dma < Duration::from_nanos(want + 200),
        "{dma:?} for {want} ns"
    );
    // A large transfer pays for its bytes: 64 KiB costs 41 us of link time on top.
    assert_eq!(c.dma_ns(65536), c.dma_call_ns + 40_960);
    assert!(!c.prefer_dma(64, true) && c.prefer_dma(4096, true));
    assert!(!c.prefer_dma(64, false) && c.prefer_dma(512, false));
    let mut free = SimTransport::with_cost(CostModel::FREE);
    let t0 = free.now();
    free.dma_write(0, &[0u8; 4096]).unwrap();
    assert!(
        free.now() - t0 >= Duration::from_nanos(10_240),
        "data still takes its cycles"
    );
}

#[test]
fn transport_checks_alignment_and_range_before_touching_the_card() {
    let mut t = SimTransport::new();
    assert!(matches!(
        t.reg_read(2),
        Err(TransportError::Misaligned { .. })
    ));
    assert!(matches!(
        t.reg_write(mem::REG_SPACE_BYTES, 0),
        Err(TransportError::OutOfRange { .. })
    ));
    assert!(matches!(
        t.dma_write(2, &[0; 4]),
        Err(TransportError::Misaligned { .. })
    ));
    assert!(matches!(
        t.dma_write(0, &[0; 3]),
        Err(TransportError::Misaligned { .. })
    ));
    let end = u64::from(mem::CARD_MEM_BYTES);
    assert!(matches!(
        t.dma_read(end - 4, &mut [0; 8]),
        Err(TransportError::OutOfRange { .. })
    ));
    assert!(matches!(
        t.dma_read(u64::MAX - 3, &mut [0; 4]),
        Err(TransportError::OutOfRange { .. })
    ));
    t.dma_read(end - 4, &mut [0; 4]).unwrap();
    // An unmapped register is reported, not swallowed.
    assert!(matches!(
        t.reg_read(0x0FC),
        Err(TransportError::Protocol(_))
    ));
}

#[test]
fn wait_irq_times_out_in_simulated_time_and_merges_interrupts() {
    let mut t = SimTransport::new();
    let t0 = t.now();
    assert!(!t.wait_irq(Duration::from_micros(50)).unwrap());
    assert!(t.now() - t0 >= Duration::from_micros(50));
    t.reg_write(regs::IRQ_ENABLE, regs::irq::TEST).unwrap();
    t.reg_write(regs::IRQ_SET, regs::irq::TEST).unwrap();
    t.reg_write(regs::IRQ_SET, regs::irq::TEST).unwrap();
    assert!(t.wait_irq(Duration::from_millis(1)).unwrap());
    // Level held, not re-raised: the events flag is consumed once.
    assert!(!t.wait_irq(Duration::from_micros(20)).unwrap());
}

#[test]
fn fst_trace_is_written_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("core.fst");
    {
        let mut t = SimTransport::new();
        t.model().trace_to(&path).unwrap();
        t.reg_write(regs::SCRATCH, 1).unwrap();
        t.reg_read(regs::SCRATCH).unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 100, "trace has {} bytes", bytes.len());
    let mut t = SimTransport::new();
    assert!(t
        .model()
        .trace_to(&dir.path().join("no/such/dir/x.fst"))
        .is_err());
}
