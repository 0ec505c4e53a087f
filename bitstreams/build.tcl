# Vivado non-project build of the AC701 bitstream from the emitted core Verilog.
#
#   vivado -mode batch -source bitstreams/build.tcl -tclargs build/hba_core.v build/vivado
#
# (`make bitstream` runs exactly this.) Outputs in the output directory: hba_ac701.bit,
# hba_ac701.mcs (SPI flash image), and the reports timing.rpt, utilization.rpt, cdc.rpt, drc.rpt. The build fails on unmet timing
# or on an XDMA setting Vivado did not take as given (bd.tcl reads them back).
#
# Vivado is not available where this repository's CI runs: this script is kept correct
# by review and by check/check.tcl (tclsh with stub Vivado commands), which
# rtl/tests/bitstream.rs runs on every `cargo test`.

set script_dir [file dirname [file normalize [info script]]]
source [file join $script_dir xdma_settings.tcl]
source [file join $script_dir bd.tcl]

if {[llength $argv] != 2} {
    error "usage: vivado -mode batch -source build.tcl -tclargs <hba_core.v> <output dir>"
}
set core_v [file normalize [lindex $argv 0]]
set out_dir [file normalize [lindex $argv 1]]
if {![file exists $core_v]} {
    error "$core_v not found: run `make verilog` first"
}
file mkdir $out_dir

# In-memory project: block designs need one, and nothing is left on disk but out_dir.
create_project -in_memory -part $::hba::part
set_property target_language Verilog [current_project]

# ---- Sources ----
read_verilog $core_v
read_verilog [file join $script_dir hba_board_top.v]
# hba_board_top.v uses XPM CDC macros; non-project mode must be told to load them.
auto_detect_xpm
read_xdc [file join $script_dir ac701.xdc]
read_xdc [file join $script_dir scsi_fmc.xdc]

set bd_file [hba_create_bd [file join $out_dir bd]]
# Synthesise the block design's IP with the top (no out-of-context runs, which need a
# project on disk).
set_property synth_checkpoint_mode None $bd_file
generate_target all $bd_file

# ---- Implementation ----
synth_design -top hba_board_top -part $::hba::part
source [file join $script_dir post_synth.tcl]
write_checkpoint -force [file join $out_dir post_synth.dcp]
opt_design
place_design
phys_opt_design
route_design
write_checkpoint -force [file join $out_dir post_route.dcp]

report_timing_summary -max_paths 20 -file [file join $out_dir timing.rpt]
report_utilization -hierarchical -file [file join $out_dir utilization.rpt]
report_cdc -details -file [file join $out_dir cdc.rpt]
report_drc -file [file join $out_dir drc.rpt]

# Unmet timing is a failed build, not a warning: a core that misses 100 MHz corrupts
# bus timing silently.
set wns [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -setup]]
set whs [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -hold]]
if {$wns < 0 || $whs < 0} {
    error "timing not met: WNS $wns ns, WHS $whs ns (see [file join $out_dir timing.rpt])"
}

# ---- Bitstream ----
write_bitstream -force [file join $out_dir hba_ac701.bit]
# Quad-SPI flash image, so the FPGA is configured at power-up before the host
# enumerates PCIe (see docs/bringup.md). 256 Mbit = 32 MiB flash on the AC701.
write_cfgmem -force -format mcs -interface SPIx4 -size 32 \
    -loadbit "up 0x00000000 [file join $out_dir hba_ac701.bit]" \
    -file [file join $out_dir hba_ac701.mcs]
puts "hba: wrote [file join $out_dir hba_ac701.bit] (WNS $wns ns, WHS $whs ns)"
