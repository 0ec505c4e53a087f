# Block design `hba_bd`: XDMA (PCIe Gen2 x4, AXI-MM, 1 H2C + 1 C2H, AXI-Lite user BAR,
# one user interrupt), the AXI BRAM controller onto the core's card-memory port, the
# AXI-Lite path to the register block, the core clock (100 MHz from the AC701's 200 MHz
# oscillator) and its reset. The HBA core itself and the SCSI pins are in the RTL top
# (hba_board_top.v), which instantiates this design; its ports are named here.
#
# Sourced by build.tcl after xdma_settings.tcl; defines one proc.

# The installed version of a Xilinx IP (full VLNV): the script then runs on any Vivado
# that has the IP, instead of naming one version and failing on every other release.
proc hba_ip {name} {
    set defs [lsort -dictionary [get_ipdefs -quiet xilinx.com:ip:${name}:*]]
    if {[llength $defs] == 0} {
        error "IP xilinx.com:ip:$name not found in this Vivado installation"
    }
    return [lindex $defs end]
}

proc hba_create_bd {bd_dir} {
    create_bd_design -dir $bd_dir hba_bd

    # ---- External ports (names used by hba_board_top.v) ----
    set refclk [create_bd_intf_port -mode Slave \
        -vlnv xilinx.com:interface:diff_clock_rtl:1.0 pcie_refclk]
    set_property CONFIG.FREQ_HZ 100000000 $refclk
    create_bd_port -dir I -type rst pcie_perst_n
    set_property CONFIG.POLARITY ACTIVE_LOW [get_bd_ports pcie_perst_n]
    create_bd_intf_port -mode Master -vlnv xilinx.com:interface:pcie_7x_mgt_rtl:1.0 pcie_mgt
    set sysclk [create_bd_intf_port -mode Slave \
        -vlnv xilinx.com:interface:diff_clock_rtl:1.0 sys_clk_200]
    set_property CONFIG.FREQ_HZ 200000000 $sysclk

    set core_mhz $::hba::core_clk_mhz
    create_bd_port -dir O -type clk core_clk
    create_bd_port -dir O -type rst core_reset
    create_bd_port -dir O -type clk xdma_aclk
    # 200 MHz reference for the IDELAYCTRL of the SCSI data input delays (docs/timing.md).
    create_bd_port -dir O -type clk ref_clk_200
    create_bd_port -dir O user_lnk_up
    create_bd_port -dir I -from 0 -to 0 usr_irq_req
    create_bd_port -dir O -from 0 -to 0 usr_irq_ack

    # AXI-Lite to the register block: 18 address bits = the 256 KiB register space.
    set axil [create_bd_intf_port -mode Master \
        -vlnv xilinx.com:interface:aximm_rtl:1.0 M_AXI_LITE_0]
    set_property -dict [list \
        CONFIG.PROTOCOL AXI4LITE \
        CONFIG.ADDR_WIDTH 18 \
        CONFIG.DATA_WIDTH 32 \
        CONFIG.FREQ_HZ [expr {int($core_mhz * 1e6)}] \
    ] $axil
    # Native BRAM port of the controller, onto the core's bram_* port.
    set bram [create_bd_intf_port -mode Master \
        -vlnv xilinx.com:interface:bram_rtl:1.0 BRAM_PORTA]
    set_property -dict [list CONFIG.MASTER_TYPE BRAM_CTRL CONFIG.READ_LATENCY 1] $bram
    set_property -dict [list \
        CONFIG.ASSOCIATED_BUSIF M_AXI_LITE_0 \
        CONFIG.ASSOCIATED_RESET core_reset \
        CONFIG.FREQ_HZ [expr {int($core_mhz * 1e6)}] \
    ] [get_bd_ports core_clk]
    set_property CONFIG.POLARITY ACTIVE_HIGH [get_bd_ports core_reset]

    # ---- PCIe reference clock buffer (GTP dedicated input) ----
    set refbuf [create_bd_cell -type ip -vlnv [hba_ip util_ds_buf] util_ds_buf_0]
    set_property CONFIG.C_BUF_TYPE IBUFDSGTE $refbuf
    connect_bd_intf_net $refclk [get_bd_intf_pins util_ds_buf_0/CLK_IN_D]

    # ---- XDMA ----
    set xdma [create_bd_cell -type ip -vlnv [hba_ip xdma] xdma_0]
    set xdma_dict {}
    foreach {key value} $::hba::xdma_config { lappend xdma_dict CONFIG.$key $value }
    set_property -dict $xdma_dict $xdma
    # Read every contract value back: Vivado may adjust a value to a legal neighbour
    # without an error, and the host would find out only on the board.
    foreach {key want} $::hba::xdma_config {
        set got [get_property CONFIG.$key $xdma]
        if {![string equal -nocase $got $want]} {
            error "xdma_0 CONFIG.$key is '$got', the host code needs '$want' (xdma_settings.tcl)"
        }
    }
    connect_bd_net [get_bd_pins util_ds_buf_0/IBUF_OUT] [get_bd_pins xdma_0/sys_clk]
    connect_bd_net [get_bd_ports pcie_perst_n] [get_bd_pins xdma_0/sys_rst_n]
    connect_bd_intf_net [get_bd_intf_pins xdma_0/pcie_mgt] [get_bd_intf_ports pcie_mgt]
    connect_bd_net [get_bd_pins xdma_0/axi_aclk] [get_bd_ports xdma_aclk]
    connect_bd_net [get_bd_pins xdma_0/user_lnk_up] [get_bd_ports user_lnk_up]
    connect_bd_net [get_bd_ports usr_irq_req] [get_bd_pins xdma_0/usr_irq_req]
    connect_bd_net [get_bd_pins xdma_0/usr_irq_ack] [get_bd_ports usr_irq_ack]

    # ---- Core clock and reset ----
    # From the board oscillator, not from axi_aclk: the core (bus timers, sequencer)
    # keeps running through a PCIe link retrain, and 100 MHz is exact.
    set clk [create_bd_cell -type ip -vlnv [hba_ip clk_wiz] clk_wiz_0]
    set_property -dict [list \
        CONFIG.PRIM_SOURCE Differential_clock_capable_pin \
        CONFIG.PRIM_IN_FREQ 200.000 \
        CONFIG.CLKOUT1_REQUESTED_OUT_FREQ $core_mhz \
        CONFIG.CLKOUT2_USED true \
        CONFIG.CLKOUT2_REQUESTED_OUT_FREQ 200.000 \
        CONFIG.USE_LOCKED true \
        CONFIG.USE_RESET false \
    ] $clk
    connect_bd_intf_net $sysclk [get_bd_intf_pins clk_wiz_0/CLK_IN1_D]
    # Core-domain reset: held while the MMCM is unlocked or XDMA's axi_aresetn (PERST#,
    # link down) is low; proc_sys_reset synchronises both into the core clock domain.
    set rst [create_bd_cell -type ip -vlnv [hba_ip proc_sys_reset] proc_sys_reset_0]
    # axi_aresetn is active low: say so rather than rely on polarity propagation.
    set_property CONFIG.C_EXT_RESET_HIGH 0 $rst
    connect_bd_net [get_bd_pins clk_wiz_0/clk_out1] [get_bd_pins proc_sys_reset_0/slowest_sync_clk]
    connect_bd_net [get_bd_pins clk_wiz_0/locked] [get_bd_pins proc_sys_reset_0/dcm_locked]
    connect_bd_net [get_bd_pins xdma_0/axi_aresetn] [get_bd_pins proc_sys_reset_0/ext_reset_in]
    connect_bd_net [get_bd_pins clk_wiz_0/clk_out1] [get_bd_ports core_clk]
    connect_bd_net [get_bd_pins clk_wiz_0/clk_out2] [get_bd_ports ref_clk_200]
    connect_bd_net [get_bd_pins proc_sys_reset_0/peripheral_reset] [get_bd_ports core_reset]

    # ---- DMA path: XDMA M_AXI (128-bit, axi_aclk) -> 32-bit BRAM controller (core clock)
    # The interconnect converts width and clock domain.
    set ic_mm [create_bd_cell -type ip -vlnv [hba_ip axi_interconnect] axi_ic_mm]
    set_property -dict [list CONFIG.NUM_SI 1 CONFIG.NUM_MI 1] $ic_mm
    set bramc [create_bd_cell -type ip -vlnv [hba_ip axi_bram_ctrl] axi_bram_ctrl_0]
    set_property -dict [list \
        CONFIG.PROTOCOL AXI4 \
        CONFIG.DATA_WIDTH 32 \
        CONFIG.SINGLE_PORT_BRAM 1 \
        CONFIG.ECC_TYPE 0 \
        CONFIG.READ_LATENCY 1 \
    ] $bramc
    connect_bd_intf_net [get_bd_intf_pins xdma_0/M_AXI] [get_bd_intf_pins axi_ic_mm/S00_AXI]
    connect_bd_intf_net [get_bd_intf_pins axi_ic_mm/M00_AXI] [get_bd_intf_pins axi_bram_ctrl_0/S_AXI]
    connect_bd_intf_net [get_bd_intf_pins axi_bram_ctrl_0/BRAM_PORTA] [get_bd_intf_ports BRAM_PORTA]

    # ---- Register path: XDMA M_AXI_LITE (axi_aclk) -> core AXI-Lite (core clock) ----
    set ic_lite [create_bd_cell -type ip -vlnv [hba_ip axi_interconnect] axi_ic_lite]
    set_property -dict [list CONFIG.NUM_SI 1 CONFIG.NUM_MI 1] $ic_lite
    connect_bd_intf_net [get_bd_intf_pins xdma_0/M_AXI_LITE] [get_bd_intf_pins axi_ic_lite/S00_AXI]
    connect_bd_intf_net [get_bd_intf_pins axi_ic_lite/M00_AXI] [get_bd_intf_ports M_AXI_LITE_0]

    # Clocks and resets of the interconnects: slave side on axi_aclk, master side on the
    # core clock.
    foreach ic {axi_ic_mm axi_ic_lite} {
        connect_bd_net [get_bd_pins xdma_0/axi_aclk] [get_bd_pins $ic/ACLK] [get_bd_pins $ic/S00_ACLK]
        connect_bd_net [get_bd_pins xdma_0/axi_aresetn] [get_bd_pins $ic/ARESETN] [get_bd_pins $ic/S00_ARESETN]
        connect_bd_net [get_bd_pins clk_wiz_0/clk_out1] [get_bd_pins $ic/M00_ACLK]
        connect_bd_net [get_bd_pins proc_sys_reset_0/peripheral_aresetn] [get_bd_pins $ic/M00_ARESETN]
    }
    connect_bd_net [get_bd_pins clk_wiz_0/clk_out1] [get_bd_pins axi_bram_ctrl_0/s_axi_aclk]
    connect_bd_net [get_bd_pins proc_sys_reset_0/peripheral_aresetn] [get_bd_pins axi_bram_ctrl_0/s_axi_aresetn]

    # ---- Address map (the contract with hba-abi) ----
    # DMA side: card memory at CARD_MEM_DMA_BASE, CARD_MEM_BYTES long.
    assign_bd_address -offset $::hba::card_mem_dma_base -range "${::hba::card_mem_kib}K" \
        -target_address_space [get_bd_addr_spaces xdma_0/M_AXI] \
        [get_bd_addr_segs axi_bram_ctrl_0/S_AXI/Mem0] -force
    # User BAR: the whole register space at AXI-Lite address 0 (translation 0).
    assign_bd_address -offset 0x00000000 -range "${::hba::user_bar_kib}K" \
        -target_address_space [get_bd_addr_spaces xdma_0/M_AXI_LITE] \
        [get_bd_addr_segs M_AXI_LITE_0/Reg] -force

    validate_bd_design
    save_bd_design
    return [get_files hba_bd.bd]
}
