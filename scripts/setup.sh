#!/usr/bin/env bash
# Installs what the build needs and is missing: Verilator, yosys, a C++ compiler, zlib
# headers (FST traces), make, tclsh (the Vivado scripts' structural check), and for
# hbactl's tests qemu-utils (qemu-io, qemu-img: the NBD export), libnbd-bin (nbdinfo,
# nbdcopy: the NBD export) and gddrescue (ddrescuelog: checks image mapfiles), for make bench iverilog, time and valgrind, from
# the OS packages. Idempotent: does nothing when all
# are present. Rust itself (cargo) must come from rustup; it cannot be installed here.
set -euo pipefail

need=()
command -v verilator >/dev/null 2>&1 || need+=(verilator)
command -v yosys >/dev/null 2>&1 || need+=(yosys)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
# tclsh: the structural check of the Vivado scripts (bitstreams/check/check.tcl).
command -v tclsh >/dev/null 2>&1 || need+=(tcl)
[ -f /usr/include/zlib.h ] || need+=(zlib1g-dev)
command -v qemu-io >/dev/null 2>&1 && command -v qemu-img >/dev/null 2>&1 || need+=(qemu-utils)
command -v nbdcopy >/dev/null 2>&1 && command -v nbdinfo >/dev/null 2>&1 || need+=(libnbd-bin)
command -v ddrescuelog >/dev/null 2>&1 || need+=(gddrescue)
# make bench: Icarus Verilog (the same Verilog under another simulator), GNU time (peak
# resident memory) and valgrind (callgrind: where the wall time goes).
command -v iverilog >/dev/null 2>&1 && command -v vvp >/dev/null 2>&1 || need+=(iverilog)
[ -x /usr/bin/time ] || need+=(time)
command -v valgrind >/dev/null 2>&1 && command -v callgrind_annotate >/dev/null 2>&1 || need+=(valgrind)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "setup: need root (or sudo) to install: ${need[*]}" >&2; exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust with rustup (https://rustup.rs)" >&2
  exit 1
fi
echo "setup: $(verilator --version | head -1); $(yosys -V | head -1); $(cargo --version)"
