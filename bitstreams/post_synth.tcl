# Cell properties of the SCSI input synchronisers, applied after synth_design (the cells
# exist only then). Sourced by build.tcl. Names come from rust-hdl's DFF fields in
# rtl/src/phase.rs (s1_ctl, s1_dat -> s2_ctl, s2_dat) and rtl/src/core.rs (bus_meta ->
# bus_sync); a rename there must show up here, so finding none is an error.

proc hba_sync_cells {patterns} {
    set found {}
    foreach p $patterns {
        set found [concat $found [get_cells -hierarchical -quiet \
            -filter "IS_SEQUENTIAL && NAME =~ core/*${p}*"]]
    }
    return $found
}

set sync_all [hba_sync_cells {s1_ctl s2_ctl s1_dat s2_dat bus_meta bus_sync}]
set sync_first [hba_sync_cells {s1_ctl s1_dat}]
if {[llength $sync_all] == 0 || [llength $sync_first] == 0} {
    error "post_synth.tcl: no SCSI synchroniser flip-flops under core/ (s1_*, s2_*, bus_meta, bus_sync)"
}
# Keep each synchroniser's flops together and out of retiming (MTBF).
set_property ASYNC_REG TRUE $sync_all
# First stage in the pad's input flip-flop: the same pin-to-flop delay on every line, so
# REQ and the data it qualifies, sampled in the same cycle, stay together.
set_property IOB TRUE $sync_first
puts "hba: ASYNC_REG on [llength $sync_all] synchroniser flops, IOB on [llength $sync_first]"
