# Structural check of the Vivado flow without Vivado: runs build.tcl, bd.tcl,
# post_synth.tcl and the XDC files under tclsh, with every Vivado command they may use
# replaced by a stub that records its arguments.
#
#   tclsh bitstreams/check/check.tcl <hba_core.v> <out dir>
#
# Catches what review misses: Tcl syntax errors, misspelt or unknown commands (anything
# not stubbed here is an error: the list below is the Vivado commands we allow), wrong
# option shapes on the commands that carry the contract, and XDMA values that the
# script would not set. Prints one fact per line on stdout for rtl/tests/bitstream.rs,
# which compares them with the emitted Verilog and hba-abi:
#
#   read_verilog <path>          read_xdc <path>          source <path>
#   xdma <key> <value>           bd_port <dir> <name>     bd_intf_port <mode> <vlnv> <name>
#   addr <space> <offset> <range> <segment>               get_ports <pattern>
#   get_nets <name>              top <module>             part <part>
#   pin <package pin> <port>
#
# Exit status 0 when the scripts ran to the end, 1 with the Tcl error otherwise.

set hba_check_facts {}
proc fact {args} { lappend ::hba_check_facts [join $args " "] }

# Objects: a name and a property dict, so that get_property reads back what
# set_property wrote (bd.tcl verifies the XDMA settings this way).
array set props {}
proc obj {name} { return $name }
proc set_props {objs kvs} {
    foreach o $objs {
        foreach {k v} $kvs {
            set ::props($o,[string toupper $k]) $v
        }
    }
}

# ---- Options parser: "-flag value" pairs and switches, the rest positional ----
proc parse_opts {spec arglist} {
    # spec: dict of option -> 1 (takes a value) or 0 (switch)
    set opts [dict create]
    set pos {}
    for {set i 0} {$i < [llength $arglist]} {incr i} {
        set a [lindex $arglist $i]
        if {[string index $a 0] eq "-" && [dict exists $spec $a]} {
            if {[dict get $spec $a]} {
                incr i
                if {$i >= [llength $arglist]} { error "option $a needs a value" }
                dict set opts $a [lindex $arglist $i]
            } else {
                dict set opts $a 1
            }
        } elseif {[string index $a 0] eq "-" && ![string is double -strict $a]} {
            error "unknown option $a (allowed: [dict keys $spec])"
        } else {
            lappend pos $a
        }
    }
    return [list $opts $pos]
}

# ---- Project and sources ----
proc create_project {args} {
    lassign [parse_opts {-in_memory 0 -part 1 -force 0} $args] o p
    if {![dict exists $o -part]} { error "create_project without -part" }
    fact part [dict get $o -part]
}
proc current_project {args} { return proj }
proc current_design {args} { return design }
proc read_verilog {args} {
    lassign [parse_opts {-sv 0 -library 1} $args] o p
    foreach f $p { fact read_verilog $f }
}
proc read_xdc {args} {
    lassign [parse_opts {-unmanaged 0 -ref 1 -cells 1} $args] o p
    foreach f $p {
        fact read_xdc $f
        # XDC is Tcl syntax: run it under the same stubs to check it and record ports.
        uplevel #0 [list source $f]
    }
}
rename source tcl_source
proc source {args} {
    set f [lindex $args end]
    fact source $f
    uplevel 1 [list tcl_source $f]
}

# ---- Block design ----
proc create_bd_design {args} {
    lassign [parse_opts {-dir 1} $args] o p
    if {[llength $p] != 1} { error "create_bd_design: one name" }
    return [lindex $p 0]
}
proc create_bd_intf_port {args} {
    lassign [parse_opts {-mode 1 -vlnv 1} $args] o p
    foreach k {-mode -vlnv} { if {![dict exists $o $k]} { error "create_bd_intf_port needs $k" } }
    set mode [dict get $o -mode]
    if {$mode ni {Master Slave MirroredMaster MirroredSlave Monitor}} { error "bad -mode $mode" }
    fact bd_intf_port $mode [dict get $o -vlnv] [lindex $p 0]
    return [lindex $p 0]
}
proc create_bd_port {args} {
    lassign [parse_opts {-dir 1 -type 1 -from 1 -to 1 -freq_hz 1} $args] o p
    if {![dict exists $o -dir] || [dict get $o -dir] ni {I O IO}} { error "create_bd_port needs -dir I|O|IO" }
    fact bd_port [dict get $o -dir] [lindex $p 0]
    return [lindex $p 0]
}
proc create_bd_cell {args} {
    lassign [parse_opts {-type 1 -vlnv 1 -reference 1} $args] o p
    if {[dict get $o -type] eq "ip" && ![dict exists $o -vlnv]} { error "create_bd_cell -type ip needs -vlnv" }
    set name [lindex $p 0]
    set ::props($name,VLNV) [dict get $o -vlnv]
    return $name
}
foreach c {get_bd_pins get_bd_intf_pins get_bd_ports get_bd_intf_ports get_bd_cells
           get_bd_addr_spaces get_bd_addr_segs get_bd_nets} {
    proc $c {args} {
        lassign [parse_opts {-of_objects 1 -hierarchical 0 -quiet 0 -filter 1} $args] o p
        return [lindex $p 0]
    }
}
proc connect_bd_net {args} {
    if {[llength $args] < 2} { error "connect_bd_net needs two or more pins" }
}
proc connect_bd_intf_net {args} {
    if {[llength $args] != 2} { error "connect_bd_intf_net needs exactly two interfaces" }
}
proc assign_bd_address {args} {
    lassign [parse_opts {-offset 1 -range 1 -target_address_space 1 -force 0 -export_to_file 0} $args] o p
    foreach k {-offset -range -target_address_space} {
        if {![dict exists $o $k]} { error "assign_bd_address needs $k" }
    }
    fact addr [dict get $o -target_address_space] [dict get $o -offset] [dict get $o -range] [lindex $p 0]
}
proc validate_bd_design {args} {}
proc save_bd_design {args} {}
proc generate_target {args} {}
proc make_wrapper {args} {}
proc get_files {args} { return [lindex $args end] }
proc get_ipdefs {args} {
    lassign [parse_opts {-all 0 -quiet 0 -filter 1} $args] o p
    set pat [lindex $p 0]
    if {![string match xilinx.com:ip:*:\\* $pat]} { error "get_ipdefs: expected xilinx.com:ip:<name>:*, got $pat" }
    return [list [string map {:* :1.0} $pat]]
}
proc auto_detect_xpm {args} {}

# ---- Properties ----
proc set_property {args} {
    lassign [parse_opts {-dict 1 -quiet 0} $args] o p
    if {[dict exists $o -dict]} {
        set kvs [dict get $o -dict]
        if {[llength $kvs] % 2} { error "set_property -dict: odd list" }
        set objs [lindex $p 0]
    } else {
        if {[llength $p] != 3} { error "set_property name value objects (got: $p)" }
        set kvs [list [lindex $p 0] [lindex $p 1]]
        set objs [lindex $p 2]
    }
    if {[llength $objs] == 0} { error "set_property on no object" }
    foreach o2 $objs {
        if {[info exists ::props($o2,VLNV)] && [string match *xdma* $::props($o2,VLNV)]} {
            foreach {k v} $kvs {
                if {[string match CONFIG.* $k]} { fact xdma [string range $k 7 end] $v }
            }
        }
    }
    foreach {k v} $kvs {
        if {[string toupper $k] eq "PACKAGE_PIN"} {
            foreach o2 $objs { fact pin $v $o2 }
        }
    }
    set_props $objs $kvs
}
proc get_property {args} {
    lassign [parse_opts {-quiet 0} $args] o p
    lassign $p name obj
    if {$name eq "SLACK"} { return 0.100 }
    set key $obj,[string toupper $name]
    if {[info exists ::props($key)]} { return $::props($key) }
    return ""
}

# ---- Synthesis, implementation, reports, bitstream ----
foreach c {synth_design opt_design place_design phys_opt_design route_design
           write_checkpoint report_timing_summary report_utilization report_cdc report_drc
           write_bitstream write_cfgmem} {
    proc $c {args} {}
}
rename synth_design {}
proc synth_design {args} {
    lassign [parse_opts {-top 1 -part 1 -flatten_hierarchy 1 -mode 1} $args] o p
    fact top [dict get $o -top]
}
proc get_timing_paths {args} { return path }

# ---- Constraint commands (XDC and post_synth.tcl) ----
proc get_ports {args} {
    lassign [parse_opts {-quiet 0 -filter 1 -of_objects 1} $args] o p
    foreach pat [join $p] { fact get_ports $pat }
    return [join $p]
}
proc get_nets {args} {
    lassign [parse_opts {-quiet 0 -hierarchical 0 -filter 1 -of_objects 1} $args] o p
    foreach n [join $p] { fact get_nets $n }
    return [join $p]
}
proc get_cells {args} {
    lassign [parse_opts {-quiet 0 -hierarchical 0 -filter 1 -of_objects 1} $args] o p
    # Stands in for a netlist that has the cells asked for.
    return [list cell_stub]
}
proc get_clocks {args} {
    lassign [parse_opts {-quiet 0 -of_objects 1 -include_generated_clocks 0 -filter 1} $args] o p
    return clock_stub
}
proc get_pins {args} { return [lindex $args end] }
proc create_clock {args} {
    lassign [parse_opts {-name 1 -period 1 -waveform 1 -add 0} $args] o p
    if {![dict exists $o -period]} { error "create_clock needs -period" }
}
proc set_false_path {args} {
    lassign [parse_opts {-from 1 -to 1 -through 1 -setup 0 -hold 0} $args] o p
    if {![dict exists $o -from] && ![dict exists $o -to] && ![dict exists $o -through]} {
        error "set_false_path with no -from/-to/-through"
    }
}
proc set_max_delay {args} {
    lassign [parse_opts {-from 1 -to 1 -through 1 -datapath_only 0} $args] o p
    if {[llength $p] != 1 || ![string is double -strict [lindex $p 0]]} {
        error "set_max_delay needs one delay value"
    }
}
proc set_clock_groups {args} {}
proc set_input_delay {args} {}
proc set_output_delay {args} {}

# Anything else is not a Vivado command we allow (or a typo).
proc unknown {args} {
    error "not a stubbed Vivado command: [lindex $args 0]"
}

# ---- Run ----
if {[llength $argv] != 2} {
    puts stderr "usage: tclsh check.tcl <hba_core.v> <out dir>"
    exit 2
}
set here [file dirname [file normalize [info script]]]
set build [file join [file dirname $here] build.tcl]
set core_argv $argv
set argv $core_argv
set rc [catch {tcl_source $build} err opts]
if {$rc} {
    puts stderr "check.tcl: $err"
    puts stderr [dict get $opts -errorinfo]
    exit 1
}
foreach f $hba_check_facts { puts $f }
exit 0
