// AC701 top level: the block design `hba_bd` (XDMA, AXI BRAM controller, interconnects,
// core clock and reset; bitstreams/bd.tcl) around the HBA core `top` (build/hba_core.v,
// emitted by rust-hdl), and the SCSI pins for an external transceiver adapter on the
// HPC FMC (pin map: bitstreams/scsi_fmc.xdc and docs/bringup.md).
//
// Kept by hand because it is board glue, not core logic; rtl/tests/bitstream.rs checks
// that every port of `top` is connected here by name and that no other name is used.
//
// SCSI pins: each signal X has a bidirectional logic-side pin scsi_X (the transceiver's
// A terminal, active high = asserted, the transceiver inverts onto the active-low bus)
// and a direction pin scsi_X_de (1 = the transceiver drives the bus from A, 0 = it
// receives and drives A). The core's scsi_X_oe is both the IOBUF enable and scsi_X_de;
// while it drives, the core reads back its own assertion through the IOBUF, which is the
// wired-OR value an open-collector SE bus would show.

`default_nettype none

module hba_board_top (
    // PCIe edge connector: Gen2 x4, 100 MHz reference clock, PERST#.
    input  wire        pcie_refclk_clk_p,
    input  wire        pcie_refclk_clk_n,
    input  wire        pcie_perst_n,
    input  wire [3:0]  pcie_mgt_rxp,
    input  wire [3:0]  pcie_mgt_rxn,
    output wire [3:0]  pcie_mgt_txp,
    output wire [3:0]  pcie_mgt_txn,
    // AC701 200 MHz system clock (core clock source, independent of the PCIe link).
    input  wire        sys_clk_200_clk_p,
    input  wire        sys_clk_200_clk_n,
    // AC701 user LEDs: link up, core out of reset, interrupt request, heartbeat.
    output wire [3:0]  led,
    // SCSI, logic side of the transceivers (see header).
    inout  wire [15:0] scsi_db,
    output wire [15:0] scsi_db_de,
    inout  wire [1:0]  scsi_dbp,
    output wire [1:0]  scsi_dbp_de,
    inout  wire        scsi_bsy,
    output wire        scsi_bsy_de,
    inout  wire        scsi_sel,
    output wire        scsi_sel_de,
    inout  wire        scsi_rst,
    output wire        scsi_rst_de,
    inout  wire        scsi_atn,
    output wire        scsi_atn_de,
    inout  wire        scsi_ack,
    output wire        scsi_ack_de,
    inout  wire        scsi_req,
    output wire        scsi_req_de,
    inout  wire        scsi_msg,
    output wire        scsi_msg_de,
    inout  wire        scsi_cd,
    output wire        scsi_cd_de,
    inout  wire        scsi_io,
    output wire        scsi_io_de
);

    // ---- Block design ----------------------------------------------------------------
    wire        core_clk;
    wire        core_reset;
    wire        xdma_aclk;
    wire        ref_clk_200;  // IDELAYCTRL reference (clk_wiz_0/clk_out2)
    wire        user_lnk_up;
    wire        bd_irq_req;   // usr_irq_req in the XDMA clock domain
    wire        bd_irq_ack;   // usr_irq_ack pulse in the XDMA clock domain

    // AXI-Lite master into the core (core clock domain, after the interconnect's clock
    // converter). 18 address bits: the 256 KiB user BAR, translation 0.
    wire [17:0] axil_awaddr, axil_araddr;
    wire [2:0]  axil_awprot, axil_arprot;
    wire        axil_awvalid, axil_awready, axil_wvalid, axil_wready;
    wire [31:0] axil_wdata, axil_rdata;
    wire [3:0]  axil_wstrb;
    wire [1:0]  axil_bresp, axil_rresp;
    wire        axil_bvalid, axil_bready, axil_arvalid, axil_arready;
    wire        axil_rvalid, axil_rready;

    // BRAM port of the AXI BRAM controller (core clock domain). The controller's address
    // is a byte address 17 bits wide for its 128 KiB range; the core takes 32 bits and
    // uses bits 16:2.
    wire [16:0] bram_addr;
    wire        bram_en;
    wire [3:0]  bram_we;
    wire [31:0] bram_din;    // to memory: the controller's write data
    wire [31:0] bram_dout;   // from memory: read data, one cycle after the address

    hba_bd bd (
        .pcie_refclk_clk_p     (pcie_refclk_clk_p),
        .pcie_refclk_clk_n     (pcie_refclk_clk_n),
        .pcie_perst_n          (pcie_perst_n),
        .pcie_mgt_rxp          (pcie_mgt_rxp),
        .pcie_mgt_rxn          (pcie_mgt_rxn),
        .pcie_mgt_txp          (pcie_mgt_txp),
        .pcie_mgt_txn          (pcie_mgt_txn),
        .sys_clk_200_clk_p     (sys_clk_200_clk_p),
        .sys_clk_200_clk_n     (sys_clk_200_clk_n),
        .core_clk              (core_clk),
        .core_reset            (core_reset),
        .xdma_aclk             (xdma_aclk),
        .ref_clk_200           (ref_clk_200),
        .user_lnk_up           (user_lnk_up),
        .usr_irq_req           (bd_irq_req),
        .usr_irq_ack           (bd_irq_ack),
        .M_AXI_LITE_0_awaddr   (axil_awaddr),
        .M_AXI_LITE_0_awprot   (axil_awprot),
        .M_AXI_LITE_0_awvalid  (axil_awvalid),
        .M_AXI_LITE_0_awready  (axil_awready),
        .M_AXI_LITE_0_wdata    (axil_wdata),
        .M_AXI_LITE_0_wstrb    (axil_wstrb),
        .M_AXI_LITE_0_wvalid   (axil_wvalid),
        .M_AXI_LITE_0_wready   (axil_wready),
        .M_AXI_LITE_0_bresp    (axil_bresp),
        .M_AXI_LITE_0_bvalid   (axil_bvalid),
        .M_AXI_LITE_0_bready   (axil_bready),
        .M_AXI_LITE_0_araddr   (axil_araddr),
        .M_AXI_LITE_0_arprot   (axil_arprot),
        .M_AXI_LITE_0_arvalid  (axil_arvalid),
        .M_AXI_LITE_0_arready  (axil_arready),
        .M_AXI_LITE_0_rdata    (axil_rdata),
        .M_AXI_LITE_0_rresp    (axil_rresp),
        .M_AXI_LITE_0_rvalid   (axil_rvalid),
        .M_AXI_LITE_0_rready   (axil_rready),
        .BRAM_PORTA_addr       (bram_addr),
        .BRAM_PORTA_clk        (),          // = core_clk (the controller's s_axi_aclk)
        .BRAM_PORTA_rst        (),          // core_reset covers the core side
        .BRAM_PORTA_en         (bram_en),
        .BRAM_PORTA_we         (bram_we),
        .BRAM_PORTA_din        (bram_din),
        .BRAM_PORTA_dout       (bram_dout)
    );

    // ---- Interrupt clock crossing ----------------------------------------------------
    // PG195: usr_irq_req/usr_irq_ack are in the XDMA axi_aclk domain (125 MHz here); the
    // core runs at 100 MHz. The request is a level held until the ack (the core keeps it
    // up until it sees the ack), so a two-flop synchroniser carries it; the ack is a
    // one-cycle pulse, carried by a toggle synchroniser. Acks come at most once per
    // request, far apart compared with the few cycles xpm_cdc_pulse needs.
    wire core_irq_req;
    wire core_irq_ack;

    xpm_cdc_single #(
        .DEST_SYNC_FF   (2),
        .SRC_INPUT_REG  (0)   // core_irq_req comes straight from a flip-flop (irq_req)
    ) irq_req_sync (
        .src_clk  (1'b0),
        .src_in   (core_irq_req),
        .dest_clk (xdma_aclk),
        .dest_out (bd_irq_req)
    );

    xpm_cdc_pulse #(
        .DEST_SYNC_FF   (2),
        .REG_OUTPUT     (1),
        .RST_USED       (0)
    ) irq_ack_sync (
        .src_clk    (xdma_aclk),
        .src_rst    (1'b0),
        .src_pulse  (bd_irq_ack),
        .dest_clk   (core_clk),
        .dest_rst   (1'b0),
        .dest_pulse (core_irq_ack)
    );

    // ---- The core ----------------------------------------------------------------
    wire [15:0] db_i, db_oe;
    wire [1:0]  dbp_i, dbp_oe;
    wire        bsy_i, sel_i, rst_i, atn_i, ack_i, req_i, msg_i, cd_i, io_i;
    wire        bsy_oe, sel_oe, rst_oe, atn_oe, ack_oe, req_oe, msg_oe, cd_oe, io_oe;

    top core (
        .clock           (core_clk),
        .reset           (core_reset),
        .s_axil_awaddr   (axil_awaddr),
        .s_axil_awvalid  (axil_awvalid),
        .s_axil_awready  (axil_awready),
        .s_axil_wdata    (axil_wdata),
        .s_axil_wstrb    (axil_wstrb),
        .s_axil_wvalid   (axil_wvalid),
        .s_axil_wready   (axil_wready),
        .s_axil_bresp    (axil_bresp),
        .s_axil_bvalid   (axil_bvalid),
        .s_axil_bready   (axil_bready),
        .s_axil_araddr   (axil_araddr),
        .s_axil_arvalid  (axil_arvalid),
        .s_axil_arready  (axil_arready),
        .s_axil_rdata    (axil_rdata),
        .s_axil_rresp    (axil_rresp),
        .s_axil_rvalid   (axil_rvalid),
        .s_axil_rready   (axil_rready),
        .bram_en         (bram_en),
        .bram_we         (bram_we),
        .bram_addr       ({15'd0, bram_addr}),
        .bram_wrdata     (bram_din),
        .bram_rddata     (bram_dout),
        .usr_irq_req     (core_irq_req),
        .usr_irq_ack     (core_irq_ack),
        .scsi_db_i       (db_i),
        .scsi_dbp_i      (dbp_i),
        .scsi_bsy_i      (bsy_i),
        .scsi_sel_i      (sel_i),
        .scsi_rst_i      (rst_i),
        .scsi_atn_i      (atn_i),
        .scsi_ack_i      (ack_i),
        .scsi_req_i      (req_i),
        .scsi_msg_i      (msg_i),
        .scsi_cd_i       (cd_i),
        .scsi_io_i       (io_i),
        .scsi_db_oe      (db_oe),
        .scsi_dbp_oe     (dbp_oe),
        .scsi_bsy_oe     (bsy_oe),
        .scsi_sel_oe     (sel_oe),
        .scsi_rst_oe     (rst_oe),
        .scsi_atn_oe     (atn_oe),
        .scsi_ack_oe     (ack_oe),
        .scsi_req_oe     (req_oe),
        .scsi_msg_oe     (msg_oe),
        .scsi_cd_oe      (cd_oe),
        .scsi_io_oe      (io_oe),
        // Co-simulation fast-forward only (hba-verif): every clock is one cycle here.
        .ff_skip         (32'd0),
        .ff_quiet        (),
        .ff_horizon      ()
    );

    // ---- SCSI pins ---------------------------------------------------------------
    // IOBUF per signal: drives 1 (asserted) when the core asserts, else high impedance
    // and the transceiver's receiver drives the pin. The core synchronises every input
    // itself (two flops, rtl/src/phase.rs), so the pins are not registered here.
    //
    // DB and DBP (not REQ or any control line) pass through a fixed input delay before
    // the core's pad flip-flops: with one 10 ns sample per REQ edge, Fast-20 DATA IN has
    // no hold margin unless the data is seen later than REQ (docs/timing.md, "Input
    // delay on DB/DBP"). 31 taps of 78 ps at a 200 MHz reference: 2.4 ns.
    wire [15:0] db_pad;
    wire [1:0]  dbp_pad;
    wire [17:0] dat_pad = {dbp_pad, db_pad};
    wire [17:0] dat_dly;
    assign {dbp_i, db_i} = dat_dly;
    (* IODELAY_GROUP = "scsi_in" *)
    IDELAYCTRL scsi_idelayctrl (.REFCLK(ref_clk_200), .RST(core_reset), .RDY());
    genvar gi;
    generate
        for (gi = 0; gi < 16; gi = gi + 1) begin : g_db
            IOBUF db_buf (.IO(scsi_db[gi]), .I(1'b1), .T(~db_oe[gi]), .O(db_pad[gi]));
        end
        for (gi = 0; gi < 2; gi = gi + 1) begin : g_dbp
            IOBUF dbp_buf (.IO(scsi_dbp[gi]), .I(1'b1), .T(~dbp_oe[gi]), .O(dbp_pad[gi]));
        end
        // One delay per data and parity line, in the same order as dat_dly.
        for (gi = 0; gi < 18; gi = gi + 1) begin : g_dly
            (* IODELAY_GROUP = "scsi_in" *)
            IDELAYE2 #(
                .IDELAY_TYPE("FIXED"), .IDELAY_VALUE(31), .DELAY_SRC("IDATAIN"),
                .HIGH_PERFORMANCE_MODE("TRUE"), .REFCLK_FREQUENCY(200.0),
                .SIGNAL_PATTERN("DATA"), .CINVCTRL_SEL("FALSE"), .PIPE_SEL("FALSE")
            ) dly (
                .IDATAIN(dat_pad[gi]), .DATAOUT(dat_dly[gi]), .DATAIN(1'b0),
                .C(1'b0), .CE(1'b0), .INC(1'b0), .LD(1'b0), .LDPIPEEN(1'b0), .REGRST(1'b0),
                .CINVCTRL(1'b0), .CNTVALUEIN(5'd0), .CNTVALUEOUT()
            );
        end
    endgenerate
    IOBUF bsy_buf (.IO(scsi_bsy), .I(1'b1), .T(~bsy_oe), .O(bsy_i));
    IOBUF sel_buf (.IO(scsi_sel), .I(1'b1), .T(~sel_oe), .O(sel_i));
    IOBUF rst_buf (.IO(scsi_rst), .I(1'b1), .T(~rst_oe), .O(rst_i));
    IOBUF atn_buf (.IO(scsi_atn), .I(1'b1), .T(~atn_oe), .O(atn_i));
    IOBUF ack_buf (.IO(scsi_ack), .I(1'b1), .T(~ack_oe), .O(ack_i));
    IOBUF req_buf (.IO(scsi_req), .I(1'b1), .T(~req_oe), .O(req_i));
    IOBUF msg_buf (.IO(scsi_msg), .I(1'b1), .T(~msg_oe), .O(msg_i));
    IOBUF cd_buf  (.IO(scsi_cd),  .I(1'b1), .T(~cd_oe),  .O(cd_i));
    IOBUF io_buf  (.IO(scsi_io),  .I(1'b1), .T(~io_oe),  .O(io_i));

    assign scsi_db_de  = db_oe;
    assign scsi_dbp_de = dbp_oe;
    assign scsi_bsy_de = bsy_oe;
    assign scsi_sel_de = sel_oe;
    assign scsi_rst_de = rst_oe;
    assign scsi_atn_de = atn_oe;
    assign scsi_ack_de = ack_oe;
    assign scsi_req_de = req_oe;
    assign scsi_msg_de = msg_oe;
    assign scsi_cd_de  = cd_oe;
    assign scsi_io_de  = io_oe;

    // ---- LEDs --------------------------------------------------------------------
    // Heartbeat: bit 26 of a 100 MHz counter toggles every 0.67 s; it blinks only when
    // the core clock runs.
    reg [26:0] beat = 27'd0;
    always @(posedge core_clk) beat <= beat + 27'd1;

    assign led = {beat[26], core_irq_req, ~core_reset, user_lnk_up};

endmodule

`default_nettype wire
