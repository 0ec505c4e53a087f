# Entry points. `make run` and `make test` install what is missing (scripts/setup.sh).

CARGO ?= cargo
BUILD := build
VERILOG := $(BUILD)/hba_core.v

.PHONY: all setup run test verilog lint synth bitstream bench campaign campaign-merge campaign-bus fuzz fmt clippy clean

all: test

setup:
	@scripts/setup.sh

# The main job: boots the co-simulated HBA (real RTL under Verilator, pin-level SCSI bus
# with two disks and a tape on fresh images in build/run), scans, runs a verified mixed
# workload through the CAM periphs and prints a summary. `hbactl selftest` is the old one.
# TRACE=file.fst also writes the waveform.
run: setup
	$(CARGO) run -q -p hbactl -- run --workdir $(BUILD)/run $(if $(TRACE),--trace $(TRACE))

# synth is part of the gate (about 10 s on top of lint): a latch, an undriven net or a
# second driver fails CI before anyone takes the Verilog to Vivado.
test: setup lint synth
	$(CARGO) test --workspace

# Emits the core's Verilog.
verilog: $(VERILOG)

$(VERILOG): FORCE
	@mkdir -p $(BUILD)
	$(CARGO) run -q $(VERILOG_PROFILE) -p hba-rtl --bin hba-verilog -- $@
	@echo "wrote $@"

# Verilator lint (all warnings but the waived ones) and a yosys read/hierarchy/proc check.
lint: setup $(VERILOG)
	verilator --lint-only -Wall --top-module top scripts/verilator_lint.vlt $(VERILOG)
	yosys -q -p "read_verilog $(VERILOG); hierarchy -check -top top; proc; check -assert"
	@echo "lint: verilator and yosys clean"

# Open-tool synthesis for 7-series (resource estimate of the same Verilog Vivado gets).
# Fails on latches, undriven nets and multiple drivers; writes bitstreams/RESOURCES.md.
synth: setup $(VERILOG)
	yosys -q -w "Resizing cell port" -l $(BUILD)/synth.log -p "read_verilog $(VERILOG); synth_xilinx -family xc7 -top top -flatten; tee -q -o $(BUILD)/synth_check.txt check; tee -q -o $(BUILD)/synth_stat.txt stat"
	bitstreams/synth_check.sh $(BUILD)/synth.log $(BUILD)/synth_check.txt $(BUILD)/synth_stat.txt bitstreams/RESOURCES.md
	@git diff --quiet -- bitstreams/RESOURCES.md 2>/dev/null || echo "synth: bitstreams/RESOURCES.md changed; commit it with the RTL change"

# AC701 bitstream through Vivado (bitstreams/build.tcl). Vivado cannot be installed in CI;
# without it this says what is missing and fails.
VIVADO ?= vivado
bitstream:
	@command -v $(VIVADO) >/dev/null 2>&1 || { \
	  echo "bitstream: '$(VIVADO)' is not on PATH. Needs AMD Vivado 2020.1 or newer with" >&2; \
	  echo "  Artix-7 device support and the XDMA IP (no extra licence): source" >&2; \
	  echo "  <Vivado>/settings64.sh, or run make bitstream VIVADO=/path/to/vivado." >&2; \
	  exit 1; }
	@$(MAKE) --no-print-directory $(VERILOG)
	@mkdir -p $(BUILD)/vivado
	$(VIVADO) -mode batch -nojournal -log $(BUILD)/vivado/vivado.log \
	  -source bitstreams/build.tcl -tclargs $(VERILOG) $(BUILD)/vivado
	@echo "bitstream: $(BUILD)/vivado/hba_ac701.bit, flash image $(BUILD)/vivado/hba_ac701.mcs"

# Benchmarks, never part of `make test`: every figure side by side in one run, written to
# bench/REPORT.md and bench/results.json (each figure's repetitions, median [min-max]).
# The benchmarks append JSON lines to $(BENCH_JSON) (hba-bench's `record`), bench-report
# adds the load, the callgrind profile and /usr/bin/time figures and writes the report.
# COSIM_REPS/COSIM_CYCLES size cosim_speed, BENCH_REPS the random-read seeds: sized so
# that the whole target fits in 15 minutes on two cores, build included. BENCH_NOTE="..."
# adds a sentence to the report (what else ran on the machine).
BENCH_JSON := $(abspath $(BUILD)/bench/figures.jsonl)
COSIM_REPS ?= 3
COSIM_CYCLES ?= 2000000
BENCH_REPS ?= 2
REPORT_BIN := target/release/bench-report
# bench builds everything in release: emitting the Verilog with the release build too
# spares a fresh machine a separate debug build of rust-hdl and the core (3.6 min cold).
bench: VERILOG_PROFILE := --release
bench: setup $(VERILOG)
	@mkdir -p $(BUILD)/bench && rm -f $(BENCH_JSON)
	$(CARGO) build --release -q -p hba-bench --bins
	$(CARGO) build --release -q -p hbactl
	$(CARGO) bench --no-run -q -p hba-verif --bench cosim_speed --bench stack_rates --bench host_stack
	$(CARGO) test --release --no-run -p hba-verif --test stack_campaign 2>&1 \
	  | grep -o 'target/release/deps/stack_campaign-[0-9a-f]*' > $(BUILD)/bench/campaign_bin
	BENCH_JSON=$(BENCH_JSON) $(REPORT_BIN) mark start
	BENCH_JSON=$(BENCH_JSON) REPS=$(COSIM_REPS) CYCLES=$(COSIM_CYCLES) \
	  $(CARGO) bench -q -p hba-verif --bench cosim_speed
	BENCH_JSON=$(BENCH_JSON) target/release/hdl-sims $(VERILOG) bench/iverilog/tb.v 2000 2000 3
	BENCH_JSON=$(BENCH_JSON) REPS=$(BENCH_REPS) $(CARGO) bench -q -p hba-verif --bench stack_rates
	BENCH_JSON=$(BENCH_JSON) $(CARGO) bench -q -p hba-verif --bench host_stack -- --noplot
	@# Where the wall time goes: instruction counts repeat exactly, wall time does not.
	PROFILE=1 PROFILE_READS=8 valgrind --tool=callgrind -q \
	  --callgrind-out-file=$(BUILD)/bench/callgrind.out --toggle-collect='*profiled_workload*' \
	  $$($(CARGO) bench --no-run -p hba-verif --bench stack_rates 2>&1 \
	     | grep -o 'target/release/deps/stack_rates-[0-9a-f]*') | tee $(BUILD)/bench/profile.txt
	BENCH_JSON=$(BENCH_JSON) $(REPORT_BIN) callgrind $(BUILD)/bench/callgrind.out \
	  $$(awk '/profiled cycles/ {print $$3}' $(BUILD)/bench/profile.txt)
	BENCH_JSON=$(BENCH_JSON) $(REPORT_BIN) rss "make run's job (hbactl run)" -- \
	  target/release/hbactl run --workdir $(BUILD)/bench/run
	CAMPAIGN_SEED=0 BENCH_JSON=$(BENCH_JSON) $(REPORT_BIN) rss "one campaign seed (stack_campaign, seed 0)" -- \
	  $$(cat $(BUILD)/bench/campaign_bin) --nocapture
	BENCH_JSON=$(BENCH_JSON) $(REPORT_BIN) mark end
	$(REPORT_BIN) report $(BENCH_JSON) bench

# Whole-stack fault campaign (periph -> XPT -> SIM -> co-simulated core -> bus ->
# targets): SEEDS=n seeds (from FIRST, default 0), SHARD=i/N a disjoint slice of them for
# a CI matrix, SEED=s replays one (OPS=n: only its first n ops), SUMMARY=file writes the
# totals for campaign-merge. A failing seed is printed with its shrunk workload.
SEEDS ?= 1000
campaign:
	CAMPAIGN_SEEDS=$(SEEDS) $(if $(SHARD),CAMPAIGN_SHARD=$(SHARD)) $(if $(SEED),CAMPAIGN_SEED=$(SEED)) $(if $(OPS),CAMPAIGN_OPS=$(OPS)) \
	  $(if $(FIRST),CAMPAIGN_FIRST=$(FIRST)) $(if $(SUMMARY),CAMPAIGN_SUMMARY=$(abspath $(SUMMARY))) \
	  $(CARGO) test --release -p hba-verif --test stack_campaign -- --nocapture

# Adds up the shards' summaries (make campaign SHARD=i/N SUMMARY=shard-i.toml) into one
# table; fails when a seed failed or two summaries overlap.
campaign-merge:
	$(CARGO) run --release -q -p hba-verif --bin campaign-merge -- $(SUMMARIES)

# Fuzz targets (fuzz/, cargo-fuzz on nightly), one after the other, FUZZ_SECONDS each;
# new inputs go to fuzz/corpus-raw/<target>, the checked-in corpus is read. `make test`
# replays the checked-in corpus on stable (verif/tests/fuzz_corpus.rs; bus_toml and nbd in
# host-driver/hbactl/tests/fuzz_corpus.rs).
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= cdb sense messages completion bus_toml asm hcb_cosim nbd
fuzz:
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do mkdir -p corpus-raw/$$t && \
	  nice -n 10 $(CARGO) +nightly fuzz run $$t corpus-raw/$$t corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 || exit 1; done

# Long seeded fault campaign on the SCSI bus models alone (a failing seed is printed and
# reproduces alone with CAMPAIGN_SEED=n). BUS_SEEDS sets how many.
BUS_SEEDS ?= 2000
campaign-bus:
	CAMPAIGN_SEEDS=$(BUS_SEEDS) $(CARGO) test --release -p scsi-bus --test campaign -- --nocapture

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	rm -rf $(BUILD)
	$(CARGO) clean

FORCE:
