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
  // Starts an FST trace into `path`; false if it cannot be opened.
  bool open_trace(rust::Str path);
  // Flushes and closes the trace, if any.
  void close_trace();

 private:
  std::unique_ptr<VerilatedContext> ctx_;
  std::unique_ptr<Vhba> top_;
  std::unique_ptr<VerilatedFstC> trace_;
};

std::unique_ptr<HbaModel> new_hba_model();
