# AC701 board constraints for hba_board_top: PCIe, system clock, LEDs, configuration.
# The SCSI pins on the FMC are in scsi_fmc.xdc.
#
# Pin sources. UG952 (AC701 user guide) itself was not reachable from where this file was
# written; every pin below was cross-checked against two independent public AC701
# constraint files that cite it:
#   - PCIe refclk F11/E11 and PERST# M20: both files agree.
#   - PCIe lanes (GTP quad 216): one file only (cambridgehackers/connectal
#     constraints/xilinx/ac701.xdc). UNVERIFIED against UG952: check before the first
#     build. The XDMA IP also places its GTP channels itself; if Vivado reports a LOC
#     conflict here, the IP's placement is the one to keep.
#   - SYSCLK 200 MHz R3/P3 and LEDs M26/T24/T25/R26: both files agree.
# Port names are those of hba_board_top.v (rtl/tests/bitstream.rs checks that each one
# exists).

# ---- PCIe: 100 MHz reference clock from the edge connector, MGTREFCLK of quad 216 ----
set_property PACKAGE_PIN F11 [get_ports pcie_refclk_clk_p]
set_property PACKAGE_PIN E11 [get_ports pcie_refclk_clk_n]
create_clock -name pcie_refclk -period 10.000 [get_ports pcie_refclk_clk_p]

# PERST# (PCIE_PERST_LS, level-shifted to 3.3 V on the board). Pulled up so that an
# unplugged board does not sit in reset with a floating pin.
set_property PACKAGE_PIN M20 [get_ports pcie_perst_n]
set_property IOSTANDARD LVCMOS33 [get_ports pcie_perst_n]
set_property PULLUP true [get_ports pcie_perst_n]
# Asynchronous to everything; the PCIe core synchronises it.
set_false_path -from [get_ports pcie_perst_n]

# ---- PCIe lanes 0..3 (UNVERIFIED, see header) ----
set_property PACKAGE_PIN D12 [get_ports {pcie_mgt_rxp[0]}]
set_property PACKAGE_PIN C12 [get_ports {pcie_mgt_rxn[0]}]
set_property PACKAGE_PIN D10 [get_ports {pcie_mgt_txp[0]}]
set_property PACKAGE_PIN C10 [get_ports {pcie_mgt_txn[0]}]
set_property PACKAGE_PIN B13 [get_ports {pcie_mgt_rxp[1]}]
set_property PACKAGE_PIN A13 [get_ports {pcie_mgt_rxn[1]}]
set_property PACKAGE_PIN B9  [get_ports {pcie_mgt_txp[1]}]
set_property PACKAGE_PIN A9  [get_ports {pcie_mgt_txn[1]}]
set_property PACKAGE_PIN D14 [get_ports {pcie_mgt_rxp[2]}]
set_property PACKAGE_PIN C14 [get_ports {pcie_mgt_rxn[2]}]
set_property PACKAGE_PIN D8  [get_ports {pcie_mgt_txp[2]}]
set_property PACKAGE_PIN C8  [get_ports {pcie_mgt_txn[2]}]
set_property PACKAGE_PIN B11 [get_ports {pcie_mgt_rxp[3]}]
set_property PACKAGE_PIN A11 [get_ports {pcie_mgt_rxn[3]}]
set_property PACKAGE_PIN B7  [get_ports {pcie_mgt_txp[3]}]
set_property PACKAGE_PIN A7  [get_ports {pcie_mgt_txn[3]}]

# ---- 200 MHz system clock (SYSCLK_P/N, bank 34 at 1.5 V): source of the core clock ----
set_property PACKAGE_PIN R3 [get_ports sys_clk_200_clk_p]
set_property PACKAGE_PIN P3 [get_ports sys_clk_200_clk_n]
set_property IOSTANDARD DIFF_SSTL15 [get_ports {sys_clk_200_clk_p sys_clk_200_clk_n}]
create_clock -name sys_clk_200 -period 5.000 [get_ports sys_clk_200_clk_p]
# The core clock (100 MHz, clk_wiz_0 in the block design) is generated from sys_clk_200
# and derived by Vivado from the MMCM settings; it is asynchronous to the XDMA clocks.
# No set_clock_groups here on purpose: every crossing is an XPM CDC macro
# (hba_board_top.v) or the AXI interconnects' clock converters, and each carries its own
# set_max_delay -datapath_only / set_bus_skew constraints, which a clock group would
# override. An unconstrained crossing added later then fails timing instead of hiding.

# ---- User LEDs (bank 14, 3.3 V): link up, core out of reset, IRQ request, heartbeat ----
set_property PACKAGE_PIN M26 [get_ports {led[0]}]
set_property PACKAGE_PIN T24 [get_ports {led[1]}]
set_property PACKAGE_PIN T25 [get_ports {led[2]}]
set_property PACKAGE_PIN R26 [get_ports {led[3]}]
set_property IOSTANDARD LVCMOS33 [get_ports {led[*]}]
set_false_path -to [get_ports {led[*]}]

# ---- Configuration: 3.3 V config bank, Quad-SPI flash ----
set_property CFGBVS VCCO [current_design]
set_property CONFIG_VOLTAGE 3.3 [current_design]
set_property BITSTREAM.CONFIG.SPI_BUSWIDTH 4 [current_design]
set_property BITSTREAM.GENERAL.COMPRESS TRUE [current_design]
# Configuration clock from the internal oscillator (33 MHz nominal), which needs nothing
# from the board. A compressed image over x4 SPI at this rate takes a few hundred ms,
# longer than the 100 ms after power-good a PCIe host may wait before enumerating; hosts
# that enumerate early need a rescan (docs/bringup.md).
set_property BITSTREAM.CONFIG.CONFIGRATE 33 [current_design]
