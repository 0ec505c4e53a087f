# XDMA IP settings the host code relies on. Sourced by build.tcl (which applies them and
# reads each one back) and by check/check.tcl (which prints them for the Rust test
# rtl/tests/bitstream.rs to compare with hba-abi). Change a value here only together
# with hba-abi and host-driver: every entry below is a contract, not a preference.
#
# PG195 (XDMA) property names, Vivado 2020.1+ (xdma 4.1). The build fails if Vivado
# rejects a name or adjusts a value.

namespace eval hba {
    # Reference board part: AC701, Artix-7 XC7A200T, FBG676 package, speed grade -2.
    variable part xc7a200tfbg676-2

    # Core clock (MHz): the core's TIM_* reset values are SPI delays in cycles of it.
    variable core_clk_mhz 100.0

    # Size of the AXI-Lite user BAR, KiB: hba_abi::mem::REG_SPACE_BYTES / 1024. The host
    # maps xdmaN_user with exactly this length; a smaller BAR makes that mmap fail with
    # EINVAL (the XDMA driver refuses a mapping longer than the BAR).
    variable user_bar_kib 256

    # Card memory on the DMA side: AXI BRAM controller base and range. The base is
    # hba_abi::mem::CARD_MEM_DMA_BASE (the h2c/c2h file offset of card byte 0), the
    # range hba_abi::mem::CARD_MEM_BYTES.
    variable card_mem_dma_base 0x00000000
    variable card_mem_kib 128

    # The IP configuration. Ordered: Vivado applies a -dict in order, and mode_selection
    # must come first for the Advanced options to exist.
    variable xdma_config [list \
        mode_selection              Advanced \
        pl_link_cap_max_link_width  X4 \
        pl_link_cap_max_link_speed  5.0_GT/s \
        ref_clk_freq                100_MHz \
        axi_data_width              128_bit \
        axisten_freq                125 \
        xdma_axi_intf_mm            AXI_Memory_Mapped \
        xdma_rnum_chnl              1 \
        xdma_wnum_chnl              1 \
        axilite_master_en           true \
        axilite_master_scale        Kilobytes \
        axilite_master_size         256 \
        pciebar2axibar_axil_master  0x00000000 \
        pf0_msi_enabled             true \
        pf0_interrupt_pin           NONE \
        xdma_num_usr_irq            1 \
        cfg_mgmt_if                 false \
    ]
    # Why each contract entry is what it is:
    #  axilite_master_*           user BAR = 256 KiB (REG_SPACE_BYTES): registers at 0,
    #                             card-memory window at 0x20000 (CARD_MEM_WINDOW).
    #  pciebar2axibar_axil_master translation 0: BAR offset = AXI-Lite address = the
    #                             register offsets of hba_abi::regs.
    #  xdma_rnum/wnum_chnl 1      xdmaN_h2c_0 / xdmaN_c2h_0 (XdmaConfig::channel = 0).
    #  pf0_msi_enabled true,      MSI, never legacy INTx: the core holds usr_irq_req while
    #  pf0_interrupt_pin NONE     a cause is pending, and a level held under INTx storms.
    #  xdma_num_usr_irq 1         user interrupt 0 = xdmaN_events_0 (XdmaConfig::irq = 0),
    #                             driven by the core's usr_irq_req.
}
