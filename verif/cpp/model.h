// C++ side of the co-simulation bridge: owns the Verilator contexts, the two models of
// the HBA core (untraced, which runs; traced, which takes over while an FST trace is
// open, by a copy of the whole state each way) and the optional FST trace. One instance
// per thread (Verilator models are not shared between threads).
#pragma once
#include <cstdint>
#include <memory>
#include "rust/cxx.h"

struct PinsIn;
struct PinsOut;
class VerilatedContext;
class Vhba;
class VhbaT;
class VerilatedFstC;

class HbaModel {
 public:
  HbaModel();
  ~HbaModel();
  // Applies `in`, settles the logic with the clock low, samples the outputs (what the
  // core presents at the coming edge), then gives one rising edge.
  // Fast-forward: with max_skip > 0, the core quiet, the outputs equal to the previous
  // tick's and no trace open, this clock stands for 1 + min(max_skip, ff_horizon)
  // cycles (returned in `skipped`).
  PinsOut tick(const PinsIn& in, uint32_t max_skip);
  // Lazy edge on or off (on by default where the build patched the scheduler; ignored
  // while a trace is open). Both give the same outputs at every tick.
  void set_lazy_edge(bool on);
  // Direct tick on or off (on by default where the build appended it): the lazy edge's
  // two halves called without Verilator's scheduler. Same outputs at every tick.
  void set_direct(bool on);
  // Starts an FST trace into `path`; false if it cannot be opened.
  bool open_trace(rust::Str path);
  // Flushes and closes the trace, if any.
  void close_trace();

 private:
  // The tick on the traced model (a trace open, or the reference tick).
  PinsOut tick_traced(const PinsIn& in);
  void ensure_traced();
  void place();

  std::unique_ptr<VerilatedContext> ctx_;
  std::unique_ptr<Vhba> top_;
  // Created at the first trace.
  std::unique_ptr<VerilatedContext> tctx_;
  std::unique_ptr<VhbaT> ttop_;
  std::unique_ptr<VerilatedFstC> trace_;
  bool lazy_ = true;
  // The traced model holds the running state.
  bool on_traced_ = false;
  bool direct_ = true;
  // Outputs of the previous tick (a skip needs them unchanged: no edge in flight).
  uint64_t last_a_ = ~0ull, last_b_ = ~0ull;
};

// Whether the build patched Verilator's scheduler for the lazy edge.
bool lazy_edge_available();
// Whether the build appended the direct tick (build.rs `direct_tick`).
bool direct_tick_available();

std::unique_ptr<HbaModel> new_hba_model();
