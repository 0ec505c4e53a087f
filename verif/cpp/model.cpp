#include "hba-verif/cpp/model.h"
#include "hba-verif/src/model/ffi.rs.h"
#include "Vhba.h"
#include "Vhba___024root.h"
#include "VhbaT.h"
#include "VhbaT___024root.h"
#include "hba_state_copy.h"
#include "verilated.h"
#include "verilated_fst_c.h"

#if HBA_DIRECT_TICK
// Appended to the Verilated scheduler by build.rs (`direct_tick`).
void hba_direct_low(Vhba___024root* vlSelf);
void hba_direct_high(Vhba___024root* vlSelf);
#endif

// One core clock is 10 ns; the trace shows time in ns.
static const uint64_t HALF_PERIOD_NS = 5;

HbaModel::HbaModel() : ctx_(new VerilatedContext) {
  top_.reset(new Vhba(ctx_.get(), "top"));
  // Initial blocks and settle now, so that a state copy to the traced model, at any
  // tick, copies an initialised state, and the direct tick finds the scheduler's
  // trigger state set up from the first tick on.
  top_->eval();
}

// The traced model, created and initialised on first use.
void HbaModel::ensure_traced() {
  if (ttop_) return;
  tctx_.reset(new VerilatedContext);
  tctx_->traceEverOn(true);
  ttop_.reset(new VhbaT(tctx_.get(), "top"));
  ttop_->eval();
}

// Moves the running state to the model the mode and the trace call for: the traced
// model while a trace is open or with the reference tick (Verilator's own build and
// schedule, unpatched), the untraced one otherwise.
void HbaModel::place() {
  const bool want = trace_ || !lazy_;
  if (want == on_traced_) return;
  ensure_traced();
  if (want) {
    hba_copy_to_traced(ttop_->rootp, top_->rootp);
    tctx_->time(ctx_->time());
  } else {
    hba_copy_to_fast(top_->rootp, ttop_->rootp);
  }
  on_traced_ = want;
}

HbaModel::~HbaModel() {
  close_trace();
  if (ttop_) ttop_->final();
  top_->final();
}

// Every input pin of either model from `in`.
template <class M>
static void apply(M& t, const PinsIn& in) {
  t.reset = in.reset;
  t.s_axil_awaddr = in.awaddr;
  t.s_axil_awvalid = in.awvalid;
  t.s_axil_wdata = in.wdata;
  t.s_axil_wstrb = in.wstrb;
  t.s_axil_wvalid = in.wvalid;
  t.s_axil_bready = in.bready;
  t.s_axil_araddr = in.araddr;
  t.s_axil_arvalid = in.arvalid;
  t.s_axil_rready = in.rready;
  t.bram_en = in.bram_en;
  t.bram_we = in.bram_we;
  t.bram_addr = in.bram_addr;
  t.bram_wrdata = in.bram_wrdata;
  t.usr_irq_ack = in.usr_irq_ack;
  t.ff_skip = 0;
  // SCSI pins, packed as hba_abi::regs::scsi_bus.
  const uint32_t s = in.scsi_in;
  t.scsi_db_i = s & 0xFFFF;
  t.scsi_dbp_i = (s >> 16) & 3;
  t.scsi_bsy_i = (s >> 18) & 1;
  t.scsi_sel_i = (s >> 19) & 1;
  t.scsi_rst_i = (s >> 20) & 1;
  t.scsi_atn_i = (s >> 21) & 1;
  t.scsi_ack_i = (s >> 22) & 1;
  t.scsi_req_i = (s >> 23) & 1;
  t.scsi_msg_i = (s >> 24) & 1;
  t.scsi_cd_i = (s >> 25) & 1;
  t.scsi_io_i = (s >> 26) & 1;
}

// Every output pin of either model.
template <class M>
static PinsOut sample(M& t) {
  PinsOut o;
  o.awready = t.s_axil_awready;
  o.wready = t.s_axil_wready;
  o.bresp = t.s_axil_bresp;
  o.bvalid = t.s_axil_bvalid;
  o.arready = t.s_axil_arready;
  o.rdata = t.s_axil_rdata;
  o.rresp = t.s_axil_rresp;
  o.rvalid = t.s_axil_rvalid;
  o.bram_rddata = t.bram_rddata;
  o.usr_irq_req = t.usr_irq_req;
  o.scsi_oe = uint32_t(t.scsi_db_oe) | (uint32_t(t.scsi_dbp_oe) << 16) |
              (uint32_t(t.scsi_bsy_oe) << 18) | (uint32_t(t.scsi_sel_oe) << 19) |
              (uint32_t(t.scsi_rst_oe) << 20) | (uint32_t(t.scsi_atn_oe) << 21) |
              (uint32_t(t.scsi_ack_oe) << 22) | (uint32_t(t.scsi_req_oe) << 23) |
              (uint32_t(t.scsi_msg_oe) << 24) | (uint32_t(t.scsi_cd_oe) << 25) |
              (uint32_t(t.scsi_io_oe) << 26);
  o.skipped = 0;
  return o;
}

PinsOut HbaModel::tick(const PinsIn& in, uint32_t max_skip) {
  if (on_traced_) return tick_traced(in);
  Vhba& t = *top_;
  apply(t, in);
#if HBA_DIRECT_TICK
  const bool direct = direct_ && lazy_;
  if (direct) {
    hba_direct_low(t.rootp);
  } else {
    t.clock = 0;
    t.eval();
  }
#else
  t.clock = 0;
  t.eval();
#endif
  PinsOut o = sample(t);
  // Fast-forward: every output pin folded into two words, compared with the last tick's.
  const uint64_t a = uint64_t(o.awready) | (uint64_t(o.wready) << 1) | (uint64_t(o.bresp) << 2) |
                     (uint64_t(o.bvalid) << 4) | (uint64_t(o.arready) << 5) |
                     (uint64_t(o.rresp) << 6) | (uint64_t(o.rvalid) << 8) |
                     (uint64_t(o.usr_irq_req) << 9) | (uint64_t(o.scsi_oe) << 10);
  const uint64_t b = uint64_t(o.rdata) | (uint64_t(o.bram_rddata) << 32);
  const bool same = a == last_a_ && b == last_b_;
  last_a_ = a;
  last_b_ = b;
  if (max_skip > 0 && same && t.ff_quiet) {
    const uint32_t n = t.ff_horizon < max_skip ? t.ff_horizon : max_skip;
    if (n > 0) {
      // The counters' next values depend on ff_skip: settle them again (the outputs and
      // ff_quiet/ff_horizon do not depend on it).
      t.ff_skip = n;
      t.eval();
      o.skipped = n;
    }
  }
  ctx_->timeInc(HALF_PERIOD_NS);
#if HBA_LAZY_EDGE
  // The lazy edge (build.rs `patch_lazy_edge`): the flip-flops take the `$d` values just
  // settled; the combinational logic is settled again by the next tick's clock-low eval,
  // with the next inputs.
#if HBA_DIRECT_TICK
  if (direct) {
    hba_direct_high(t.rootp);
  } else
#endif
  {
    t.rootp->hba_lazy_edge = lazy_;
    t.clock = 1;
    t.eval();
    t.rootp->hba_lazy_edge = 0;
  }
#else
  t.clock = 1;
  t.eval();
#endif
  ctx_->timeInc(HALF_PERIOD_NS);
  return o;
}

// On the traced model (a trace open, or the reference tick): Verilator's own two `eval`s
// (every signal settled at both dumps), no fast-forward.
PinsOut HbaModel::tick_traced(const PinsIn& in) {
  VhbaT& t = *ttop_;
  apply(t, in);
  t.clock = 0;
  t.eval();
  PinsOut o = sample(t);
  // The untraced tick compares outputs with the last tick's; keep that history right.
  last_a_ = ~0ull;
  last_b_ = ~0ull;
  if (trace_) trace_->dump(tctx_->time());
  tctx_->timeInc(HALF_PERIOD_NS);
  t.clock = 1;
  t.eval();
  if (trace_) trace_->dump(tctx_->time());
  tctx_->timeInc(HALF_PERIOD_NS);
  ctx_->timeInc(2 * HALF_PERIOD_NS);
  return o;
}

void HbaModel::set_lazy_edge(bool on) {
  lazy_ = on;
  place();
}

bool lazy_edge_available() { return HBA_LAZY_EDGE != 0; }

void HbaModel::set_direct(bool on) { direct_ = on; }

bool direct_tick_available() { return HBA_DIRECT_TICK != 0; }

bool HbaModel::open_trace(rust::Str path) {
  close_trace();
  ensure_traced();
  std::unique_ptr<VerilatedFstC> tfp(new VerilatedFstC);
  tfp->set_time_unit("1ns");
  tfp->set_time_resolution("1ns");
  ttop_->trace(tfp.get(), 99);
  std::string p(path.data(), path.size());
  tfp->open(p.c_str());
  if (!tfp->isOpen()) return false;
  // The traced model takes over where the untraced one is, at clock high after an edge.
  trace_ = std::move(tfp);
  place();
  return true;
}

void HbaModel::close_trace() {
  if (trace_) {
    trace_->close();
    trace_.reset();
    place();
  }
}

std::unique_ptr<HbaModel> new_hba_model() { return std::unique_ptr<HbaModel>(new HbaModel); }
