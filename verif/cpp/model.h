// C++ side of the co-simulation bridge: owns the Verilator context, the model of the
// HBA core and the optional FST trace. One instance per thread (Verilator models are
// not shared between threads).
#pragma once
#include <cstdint>
#include <memory>
#include "rust/cxx.h"

struct PinsIn;
struct PinsOut;
class VerilatedContext;
class Vhba;
class VerilatedFstC;

class HbaModel {
 public:
  HbaModel();
  ~HbaModel();
  // Applies `in`, settles the logic with the clock low, samples the outputs (what the
  // core presents at the coming edge), then gives one rising edge.
  PinsOut tick(const PinsIn& in);
  // Lazy edge on or off (on by default where the build patched the scheduler; ignored
  // while a trace is open). Both give the same outputs at every tick.
  void set_lazy_edge(bool on);
  // Starts an FST trace into `path`; false if it cannot be opened.
  bool open_trace(rust::Str path);
  // Flushes and closes the trace, if any.
  void close_trace();

 private:
  std::unique_ptr<VerilatedContext> ctx_;
  std::unique_ptr<Vhba> top_;
  std::unique_ptr<VerilatedFstC> trace_;
  bool lazy_ = true;
};

// Whether the build patched Verilator's scheduler for the lazy edge.
bool lazy_edge_available();

std::unique_ptr<HbaModel> new_hba_model();
