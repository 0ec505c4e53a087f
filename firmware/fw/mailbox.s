; Host requests through SEQ_MAILBOX: ABORT and BUS DEVICE RESET.

; Host request through SEQ_MAILBOX.
mailbox:
        outi    IO_EV_CLEAR, t1, EV_HOST
        ; First move everything submitted into the retry queue, so that FW_STATE says
        ; whether a slot is queued.
.drain: in      ev, IO_EVENTS
        bc      ev, EV_DOORBELL_BIT, .req
        call    take_sq
        bne     t3, CHECK_OK, .drain
        call    rq_push
        jmp     .drain
.req:
        in      t3, IO_MAILBOX
        shri    t1, t3, MBOX_REQ_SHIFT
        andi    t3, t3, MBOX_ARG_MASK
        beq     t1, MBOX_ABORT, mbox_abort
        beq     t1, MBOX_BUS_DEVICE_RESET, mbox_bdr
        jmp     main

; ABORT slot t3: queued -> complete now; disconnected -> select and ABORT TASK (or on
; its reselection, whichever comes first); free -> nothing.
mbox_abort:
        bgeu    t3, LAYOUT_NUM_SLOTS, main
        mov     slot, t3
        out     IO_SLOT, slot
        call    slot_wait
        ldwh    ctrl, [HCB_CTRL]
        ldwh    t1, [HCB_FW_STATE]
        bs      t1, 9, main             ; already being aborted
        andi    t4, t1, 0xFF
        beq     t4, ST_QUEUED, .queued
        bne     t4, ST_DISC, main
        ori     t1, t1, 1 << 9          ; ST_ABORT: issue sends ABORT TASK
        andi    t1, t1, 0xFF00
        ori     t1, t1, ST_QUEUED
        stwh    t1, [HCB_FW_STATE]
        call    rq_push
        jmp     main
.queued:
        movi    hst, HBA_STATUS_ABORTED
        movi    status, 0
        ldwh    xcnt, [FW_SAVED_CNT]
        jmp     complete

; BUS DEVICE RESET to target t3: select, IDENTIFY, BUS DEVICE RESET, then every slot of
; that target completes with BDR_SENT and its agreement is forgotten.
mbox_bdr:
        andi    tgt, t3, 0xF
        movi    slot, 0xFF
        movi    cf, CF_ABORT | CF_BDR | CF_NOSLOT
        call    set_xmode
        movi    t1, 0
        stw     t1, [t1 + S_OUT_LEN]
        stw     t1, [t1 + S_CDB_LEN]
        movi    byte, 0x80              ; IDENTIFY lun 0
        call    out_append
        movi    byte, 0x0C              ; BUS DEVICE RESET
        call    out_append
        out     IO_TARGET, tgt
        outi    IO_PCMD, t1, PCMD_SELECT | PCMD_F_ATN
        wait    ev, EV_CMD_DONE
        in      ev, IO_EVENTS
        bs      ev, EV_RESELECTED_BIT, .lost
        bs      ev, EV_SEL_TIMEOUT_BIT, .timeout
        bc      ev, EV_CONNECTED_BIT, .lost
        movi    t1, 0
        stw     t1, [t1 + S_BDR_PEND]
        outi    IO_EV_CLEAR, t1, EV_BUS_FREE | EV_UNEXP_FREE | EV_PARITY_ERR | EV_PHASE_MISMATCH | EV_OFFSET_ERR
        call    arm_timer
        jmp     phase_loop
.timeout:
        outi    IO_EV_CLEAR, t1, EV_SEL_TIMEOUT | EV_CMD_DONE
        movi    t1, 0
        stw     t1, [t1 + S_BDR_PEND]
        jmp     bdr_done
.lost:
        ; Lost the bus to a reselection: serve it, retry from the main loop.
        addi    t1, tgt, 1
        movi    t3, 0
        stw     t1, [t3 + S_BDR_PEND]
        jmp     reselect

bdr_retry:
        subi    t3, t3, 1
        jmp     mbox_bdr

