# SCSI bus on the AC701 HPC FMC (J30), through a transceiver adapter card.
#
# ---- The adapter (what this pin map assumes) ----
# Per SCSI signal X the FPGA has two pins: scsi_X, the transceiver's logic-side A
# terminal (active high: 1 = asserted), and scsi_X_de, its per-channel direction
# (1 = drive the bus from A, 0 = receive onto A). hba_board_top.v drives scsi_X only
# while scsi_X_de is 1, so the pair is contention-free apart from the few ns of a
# direction change: put a 33 ohm series resistor in every A line on the adapter.
#
# Transceivers, one of:
#   - SE only, Fast-10: TI SN75LBC968 (9 channels, SE with integrated active termination,
#     open-drain or active-negation drivers, 3.3 V-compatible logic inputs). Three for a
#     wide bus (27 signals).
#   - SE and LVD, Fast-20 SE / LVD: TI SN75LVDM976 (CMOS logic levels) or SN75LVDM977
#     (TTL logic levels), 9 channels each, SE/LVD mode from DIFFSENS via the CDE0
#     comparator. Three for a wide bus.
#   - The classic discrete SE circuit (SCSI-2 recommended): SN7438 open-collector
#     48 mA drivers and SN74LS14-class Schmitt-trigger receivers.
# These parts run their logic side at 5 V (or accept 3.3 V inputs only): between them and
# the FPGA put SN74LVC8T245 dual-supply translators (A side at VADJ, B side at 5 V), one
# per 8 channels, direction from the same scsi_X_de.
#
# Termination (the HBA is one end of the bus, so it terminates): active terminators on
# the adapter, enabled by a jumper (disable it when the adapter is not at a cable end).
#   - SE: TI UC5603 or UC5613 (9-line, 110 ohm to 2.85 V regulated), three for wide.
#   - SE/LVD: TI UCC5630A (multimode 9-line, switches SE/LVD on DIFFSENS), three.
# TERMPWR: the initiator supplies it (SCSI-2 5.4.3): from the adapter's 5 V (not from the
# FMC's 3.3 V or 12 V rails) through a Schottky diode (no backflow into the card, e.g.
# 1N5817) and a 1.5 A resettable fuse (the recommended TERMPWR current limit), to
# contacts 17, 18, 51 and 52 of the 68-pin P connector. SE sources must give 4.25 V to
# 5.25 V at 900 mA or more; decouple with 2.2 uF at each terminator.
#
# ---- Pin map ----
# One LA pair per SCSI signal: LAxx_P = scsi_X (A terminal), LAxx_N = scsi_X_de.
# 68-pin column: contact of the SE P connector (35..48 checked against a published SE
# P-cable table; 55..68 from the same SPI table, not re-checked here). Contacts 1..34 are
# signal returns (ground) on SE and the + halves on LVD.
#
#  signal  | FMC pair  | FMC pins (P/N) | FPGA P / N   | 68-pin SE contact
#  DB0     | LA00_CC   | G6 / G7        | D18 / C18    | 40
#  DB1     | LA01_CC   | D8 / D9        | E17 / E18    | 41
#  DB2     | LA02      | H7 / H8        | H14 / H15    | 42
#  DB3     | LA03      | G9 / G10       | G17 / F17    | 43
#  DB4     | LA04      | H10 / H11      | F18 / F19    | 44
#  DB5     | LA05      | D11 / D12      | G15 / F15    | 45
#  DB6     | LA06      | C10 / C11      | G19 / F20    | 46
#  DB7     | LA07      | H13 / H14      | H16 / G16    | 47
#  DB8     | LA08      | G12 / G13      | C17 / B17    | 65
#  DB9     | LA09      | D14 / D15      | E16 / D16    | 66
#  DB10    | LA10      | C14 / C15      | A17 / A18    | 67
#  DB11    | LA11      | H16 / H17      | B19 / A19    | 68
#  DB12    | LA12      | G15 / G16      | E20 / D20    | 35
#  DB13    | LA13      | D17 / D18      | B20 / A20    | 36
#  DB14    | LA14      | C18 / C19      | C21 / B21    | 37
#  DB15    | LA15      | H19 / H20      | B22 / A22    | 38
#  DBP0    | LA16      | G18 / G19      | E21 / D21    | 48
#  DBP1    | LA17_CC   | D20 / D21      | K21 / J21    | 39
#  BSY     | LA18_CC   | C22 / C23      | G20 / G21    | 57
#  SEL     | LA19      | H22 / H23      | M14 / L14    | 61
#  RST     | LA20      | G21 / G22      | M16 / M17    | 59
#  ATN     | LA21      | H25 / H26      | J19 / H19    | 55
#  ACK     | LA22      | G24 / G25      | L17 / L18    | 58
#  REQ     | LA23      | D23 / D24      | K20 / J20    | 63
#  MSG     | LA24      | H28 / H29      | J18 / H18    | 60
#  C/D     | LA25      | G27 / G28      | G22 / F22    | 62
#  I/O     | LA26      | D26 / D27      | J24 / H24    | 64
#
# FMC connector pins are the VITA 57.1 HPC assignments of LA00..LA26. The FPGA pins are
# taken from one public AC701 constraints file that cites UG952's FMC table; they are
# UNVERIFIED against UG952 itself: check every FPGA pin above against UG952 (FMC HPC
# connector table) before the first build. LA27..LA33 stay free for adapter controls
# (DIFFSENS mode readback, terminator enable) if a later core uses them.

# ---- I/O standard ----
# LA00..LA26 sit in the VADJ banks (15 and 16); the AC701 sets VADJ to 2.5 V by default.
# If the adapter asks for 3.3 V (VADJ via the FMC's power-good handshake and the board's
# PMBus), change LVCMOS25 to LVCMOS33 here.
set_property IOSTANDARD LVCMOS25 [get_ports {scsi_*}]
# Slow edges, modest drive: the signals cross a connector and a translator, and SPI's
# shortest timing (Fast-20: 25 ns REQ/ACK assertion) is far above the 10 ns core clock.
set_property SLEW SLOW [get_ports {scsi_*}]
set_property DRIVE 8 [get_ports {scsi_*}]
# Weak pull-downs: with no adapter fitted, or before configuration finishes, inputs read
# "not asserted" and the direction pins keep every transceiver receiving.
set_property PULLDOWN true [get_ports {scsi_*}]

# ---- Pins ----
set_property PACKAGE_PIN D18 [get_ports {scsi_db[0]}]
set_property PACKAGE_PIN C18 [get_ports {scsi_db_de[0]}]
set_property PACKAGE_PIN E17 [get_ports {scsi_db[1]}]
set_property PACKAGE_PIN E18 [get_ports {scsi_db_de[1]}]
set_property PACKAGE_PIN H14 [get_ports {scsi_db[2]}]
set_property PACKAGE_PIN H15 [get_ports {scsi_db_de[2]}]
set_property PACKAGE_PIN G17 [get_ports {scsi_db[3]}]
set_property PACKAGE_PIN F17 [get_ports {scsi_db_de[3]}]
set_property PACKAGE_PIN F18 [get_ports {scsi_db[4]}]
set_property PACKAGE_PIN F19 [get_ports {scsi_db_de[4]}]
set_property PACKAGE_PIN G15 [get_ports {scsi_db[5]}]
set_property PACKAGE_PIN F15 [get_ports {scsi_db_de[5]}]
set_property PACKAGE_PIN G19 [get_ports {scsi_db[6]}]
set_property PACKAGE_PIN F20 [get_ports {scsi_db_de[6]}]
set_property PACKAGE_PIN H16 [get_ports {scsi_db[7]}]
set_property PACKAGE_PIN G16 [get_ports {scsi_db_de[7]}]
set_property PACKAGE_PIN C17 [get_ports {scsi_db[8]}]
set_property PACKAGE_PIN B17 [get_ports {scsi_db_de[8]}]
set_property PACKAGE_PIN E16 [get_ports {scsi_db[9]}]
set_property PACKAGE_PIN D16 [get_ports {scsi_db_de[9]}]
set_property PACKAGE_PIN A17 [get_ports {scsi_db[10]}]
set_property PACKAGE_PIN A18 [get_ports {scsi_db_de[10]}]
set_property PACKAGE_PIN B19 [get_ports {scsi_db[11]}]
set_property PACKAGE_PIN A19 [get_ports {scsi_db_de[11]}]
set_property PACKAGE_PIN E20 [get_ports {scsi_db[12]}]
set_property PACKAGE_PIN D20 [get_ports {scsi_db_de[12]}]
set_property PACKAGE_PIN B20 [get_ports {scsi_db[13]}]
set_property PACKAGE_PIN A20 [get_ports {scsi_db_de[13]}]
set_property PACKAGE_PIN C21 [get_ports {scsi_db[14]}]
set_property PACKAGE_PIN B21 [get_ports {scsi_db_de[14]}]
set_property PACKAGE_PIN B22 [get_ports {scsi_db[15]}]
set_property PACKAGE_PIN A22 [get_ports {scsi_db_de[15]}]
set_property PACKAGE_PIN E21 [get_ports {scsi_dbp[0]}]
set_property PACKAGE_PIN D21 [get_ports {scsi_dbp_de[0]}]
set_property PACKAGE_PIN K21 [get_ports {scsi_dbp[1]}]
set_property PACKAGE_PIN J21 [get_ports {scsi_dbp_de[1]}]
set_property PACKAGE_PIN G20 [get_ports scsi_bsy]
set_property PACKAGE_PIN G21 [get_ports scsi_bsy_de]
set_property PACKAGE_PIN M14 [get_ports scsi_sel]
set_property PACKAGE_PIN L14 [get_ports scsi_sel_de]
set_property PACKAGE_PIN M16 [get_ports scsi_rst]
set_property PACKAGE_PIN M17 [get_ports scsi_rst_de]
set_property PACKAGE_PIN J19 [get_ports scsi_atn]
set_property PACKAGE_PIN H19 [get_ports scsi_atn_de]
set_property PACKAGE_PIN L17 [get_ports scsi_ack]
set_property PACKAGE_PIN L18 [get_ports scsi_ack_de]
set_property PACKAGE_PIN K20 [get_ports scsi_req]
set_property PACKAGE_PIN J20 [get_ports scsi_req_de]
set_property PACKAGE_PIN J18 [get_ports scsi_msg]
set_property PACKAGE_PIN H18 [get_ports scsi_msg_de]
set_property PACKAGE_PIN G22 [get_ports scsi_cd]
set_property PACKAGE_PIN F22 [get_ports scsi_cd_de]
set_property PACKAGE_PIN J24 [get_ports scsi_io]
set_property PACKAGE_PIN H24 [get_ports scsi_io_de]

# ---- Timing ----
# Inputs are asynchronous to the core clock: every one enters the core through two-flop
# synchronisers (phase engine s1_ctl/s1_dat -> s2_*, and the SCSI_BUS register's
# bus_meta -> bus_sync). There is no clock to time them against, so the pin-to-first-
# flop path is a false path; what matters is that the flops of each synchroniser sit
# next to each other (ASYNC_REG) and that the lines of one byte see similar delays (first
# stage in the IOB). Those two are cell properties, set after synthesis by
# post_synth.tcl, which fails the build if it finds no synchroniser.
set_false_path -from [get_ports {scsi_db[*] scsi_dbp[*] scsi_bsy scsi_sel scsi_rst scsi_atn scsi_ack scsi_req scsi_msg scsi_cd scsi_io}]

# Outputs: the core changes them from flip-flops and spaces every edge by whole TIM_*
# cycle counts (deskew 45 ns, bus settle 400 ns, ...), which assumes all lines leave the
# FPGA within one core cycle of each other. Bound clock-to-pad to 8 ns.
set_max_delay 8.000 -from [get_clocks -of_objects [get_nets core_clk]] -to [get_ports {scsi_*}]
