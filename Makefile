# Entry points. `make run` and `make test` install what is missing (scripts/setup.sh).

CARGO ?= cargo
BUILD := build
VERILOG := $(BUILD)/hba_core.v

.PHONY: all setup run test verilog lint synth bench campaign fmt clippy clean

all: test

setup:
	@scripts/setup.sh

# The main job: boots the co-simulated HBA (real RTL under Verilator, pin-level SCSI bus
# with two disks and a tape on fresh images in build/run), scans, runs a verified mixed
# workload through the CAM periphs and prints a summary. `hbactl selftest` is the old one.
# TRACE=file.fst also writes the waveform.
run: setup
	$(CARGO) run -q -p hbactl -- run --workdir $(BUILD)/run $(if $(TRACE),--trace $(TRACE))

test: setup lint
	$(CARGO) test --workspace

# Emits the core's Verilog.
verilog: $(VERILOG)

$(VERILOG): FORCE
	@mkdir -p $(BUILD)
	$(CARGO) run -q -p hba-rtl --bin hba-verilog -- $@
	@echo "wrote $@"

# Verilator lint (all warnings but the waived ones) and a yosys read/hierarchy/proc check.
lint: setup $(VERILOG)
	verilator --lint-only -Wall --top-module top scripts/verilator_lint.vlt $(VERILOG)
	yosys -q -p "read_verilog $(VERILOG); hierarchy -check -top top; proc; check -assert"
	@echo "lint: verilator and yosys clean"

# Open-tool synthesis for 7-series (resource estimate of the same Verilog Vivado gets).
synth: setup $(VERILOG)
	yosys -q -w "Resizing cell port" -l $(BUILD)/synth.log -p "read_verilog $(VERILOG); synth_xilinx -family xc7 -top top -flatten; tee -o $(BUILD)/synth_stat.txt stat"
	@grep -E "Number of cells|LUT[1-6]|FD[A-Z]*|RAM|CARRY|MUXF" $(BUILD)/synth_stat.txt
	@awk '/ LUT[1-6] /{l+=$$2} / FD[A-Z]+ /{f+=$$2} / RAMB36E1 /{b+=$$2} / RAMB18E1 /{b+=$$2/2} / RAM32M /{m+=$$2} END {printf "summary: %d LUTs, %d flip-flops, %g RAMB36 (block RAM), %d RAM32M (LUT RAM)\n", l, f, b, m}' $(BUILD)/synth_stat.txt

# Benchmarks report ratios measured side by side in one run; never part of `make test`.
bench: setup
	$(CARGO) bench -p hba-verif --bench cosim_speed
	$(CARGO) bench -p hba-verif --bench scsi_rates
	$(CARGO) test --release -q -p hba-verif --test firmware_rates -- --nocapture
	$(CARGO) test --release -q -p hba-verif --test sim_rates -- --ignored --nocapture
	$(CARGO) bench -p hba-cam --bench null_sim
	$(CARGO) run --release -q -p scsi-bus --example idle_bus

# Long seeded fault campaign on the SCSI bus models (a failing seed is printed and
# reproduces alone with CAMPAIGN_SEED=n). SEEDS sets how many.
SEEDS ?= 2000
campaign:
	CAMPAIGN_SEEDS=$(SEEDS) $(CARGO) test --release -p scsi-bus --test campaign -- --nocapture

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	rm -rf $(BUILD)
	$(CARGO) clean

FORCE:
