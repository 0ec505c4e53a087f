// Testbench for Icarus Verilog: the same stimulus as the Verilator benchmark
// (verif/benches/cosim_speed.rs): reset for 4 cycles, then +CYCLES=n idle cycles, or
// with +AXI AXI4-Lite reads of SCRATCH (0x00C) back to back for n cycles, as
// Model::axil_read drives them. SCSI inputs are held released (0), as with no bus.
// Prints the cycle and read counts so the runner can check the stimulus matched.
`timescale 1ns/1ps
module tb;
  reg clock = 0;
  reg reset = 1;
  reg [17:0] s_axil_awaddr = 0; reg s_axil_awvalid = 0;
  reg [31:0] s_axil_wdata = 0; reg [3:0] s_axil_wstrb = 0; reg s_axil_wvalid = 0;
  reg s_axil_bready = 0;
  reg [17:0] s_axil_araddr = 0; reg s_axil_arvalid = 0; reg s_axil_rready = 0;
  reg bram_en = 0; reg [3:0] bram_we = 0; reg [31:0] bram_addr = 0; reg [31:0] bram_wrdata = 0;
  reg usr_irq_ack = 0;
  wire s_axil_awready, s_axil_wready, s_axil_bvalid, s_axil_arready, s_axil_rvalid;
  wire [1:0] s_axil_bresp, s_axil_rresp;
  wire [31:0] s_axil_rdata, bram_rddata;
  wire usr_irq_req;
  wire [15:0] scsi_db_oe; wire [1:0] scsi_dbp_oe;
  wire scsi_bsy_oe, scsi_sel_oe, scsi_rst_oe, scsi_atn_oe, scsi_ack_oe, scsi_req_oe,
       scsi_msg_oe, scsi_cd_oe, scsi_io_oe;

  top dut(
    .clock(clock), .reset(reset),
    .s_axil_awaddr(s_axil_awaddr), .s_axil_awvalid(s_axil_awvalid), .s_axil_awready(s_axil_awready),
    .s_axil_wdata(s_axil_wdata), .s_axil_wstrb(s_axil_wstrb), .s_axil_wvalid(s_axil_wvalid),
    .s_axil_wready(s_axil_wready), .s_axil_bresp(s_axil_bresp), .s_axil_bvalid(s_axil_bvalid),
    .s_axil_bready(s_axil_bready), .s_axil_araddr(s_axil_araddr), .s_axil_arvalid(s_axil_arvalid),
    .s_axil_arready(s_axil_arready), .s_axil_rdata(s_axil_rdata), .s_axil_rresp(s_axil_rresp),
    .s_axil_rvalid(s_axil_rvalid), .s_axil_rready(s_axil_rready),
    .bram_en(bram_en), .bram_we(bram_we), .bram_addr(bram_addr), .bram_wrdata(bram_wrdata),
    .bram_rddata(bram_rddata), .usr_irq_req(usr_irq_req), .usr_irq_ack(usr_irq_ack),
    .scsi_db_i(16'h0), .scsi_dbp_i(2'h0), .scsi_bsy_i(1'b0), .scsi_sel_i(1'b0),
    .scsi_rst_i(1'b0), .scsi_atn_i(1'b0), .scsi_ack_i(1'b0), .scsi_req_i(1'b0),
    .scsi_msg_i(1'b0), .scsi_cd_i(1'b0), .scsi_io_i(1'b0),
    .scsi_db_oe(scsi_db_oe), .scsi_dbp_oe(scsi_dbp_oe), .scsi_bsy_oe(scsi_bsy_oe),
    .scsi_sel_oe(scsi_sel_oe), .scsi_rst_oe(scsi_rst_oe), .scsi_atn_oe(scsi_atn_oe),
    .scsi_ack_oe(scsi_ack_oe), .scsi_req_oe(scsi_req_oe), .scsi_msg_oe(scsi_msg_oe),
    .scsi_cd_oe(scsi_cd_oe), .scsi_io_oe(scsi_io_oe));

  integer cycles, n, reads, axi;
  reg [31:0] last, rdata;
  reg arready, rvalid;
  // One tick as Model::tick: the inputs set before it settle at clock low, the outputs
  // are sampled there (before the edge), then the rising edge.
  task tick; begin
    #4 arready = s_axil_arready; rvalid = s_axil_rvalid; rdata = s_axil_rdata;
    #1 clock = 1; #5 clock = 0;
  end endtask

  initial begin
    if (!$value$plusargs("CYCLES=%d", cycles)) cycles = 10000;
    axi = $test$plusargs("AXI");
    repeat (4) tick;
    reset = 0;
    tick;
    n = 0; reads = 0; last = 0;
    while (n < cycles) begin
      if (axi) begin
        s_axil_araddr = 18'h00C; s_axil_arvalid = 1; s_axil_rready = 1;
        while (s_axil_rready) begin
          tick; n = n + 1;
          if (arready) s_axil_arvalid = 0;
          if (rvalid) begin s_axil_rready = 0; last = rdata; reads = reads + 1; end
        end
      end else begin
        tick; n = n + 1;
      end
    end
    $display("cycles %0d reads %0d last %08x", n, reads, last);
    $finish;
  end
endmodule
