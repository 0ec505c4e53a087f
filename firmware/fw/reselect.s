; Reselection: a disconnected slot comes back. RESEL_ID gives the target, IDENTIFY the
; lun, a SIMPLE QUEUE TAG message the slot (the tag is the slot index, O(1)); without a
; tag the untagged slot of that I_T_L. Reconnecting implies RESTORE POINTERS.

reselect:
        outi    IO_EV_CLEAR, t1, EV_RESELECTED | EV_BUS_FREE | EV_UNEXP_FREE | EV_PARITY_ERR | EV_PHASE_MISMATCH
        in      tgt, IO_RESEL_ID
        andi    tgt, tgt, 0xF
        call    set_xmode               ; before any data phase of this target
        movi    cf, 0
        movi    t1, 0
        stw     t1, [t1 + S_OUT_LEN]
        movi    w2, 0                   ; tag byte for UNKNOWN_RESEL reports
        movi    t4, 0                   ; lun
        wait    ev, EV_REQ | EV_BUS_FREE
        bs      ev, EV_BUS_FREE_BIT, resel_gone
        call    recv_resel
        bc      msg, 7, resel_unknown_latched   ; no IDENTIFY: nothing to attach to
        andi    t4, msg, 7
        call    ack
        wait    ev, EV_REQ | EV_BUS_FREE
        bs      ev, EV_BUS_FREE_BIT, resel_gone
        shri    t1, ev, EV_PHASE_SHIFT
        andi    t1, t1, 7
        bne     t1, PHASE_MSG_IN, resel_untagged
        call    recv_resel
        bltu    msg, 0x20, resel_untagged
        bgeu    msg, 0x23, resel_untagged
        ; Queue tag message: the next byte is the tag = slot.
        call    ack
        call    recv_resel
        andi    w2, msg, 0xFF
        bgeu    w2, LAYOUT_NUM_SLOTS, resel_unknown_latched
        mov     slot, w2
        out     IO_SLOT, slot
        call    slot_wait
        ldwh    ctrl, [HCB_CTRL]
        andi    t1, ctrl, HCB_CTRL_TARGET_MASK
        bne     t1, tgt, resel_unknown_latched
        shri    t1, ctrl, HCB_CTRL_LUN_SHIFT
        andi    t1, t1, HCB_CTRL_LUN_MASK
        bne     t1, t4, resel_unknown_latched
        ldwh    t1, [HCB_FW_STATE]
        bs      t1, 9, resel_abort      ; the host asked to abort it meanwhile
        andi    t1, t1, 0xFF
        bne     t1, ST_DISC, resel_unknown_latched
        call    resume
        call    ack
        jmp     phase_loop

; No tag: the untagged slot of this I_T_L. msg may hold a latched first message byte.
resel_untagged:
        mov     t3, ev                  ; phase of the byte in msg, if any
        shli    t1, tgt, 3
        or      t1, t4
        ldb     slot, [t1 + S_UNTAGGED]
        beq     slot, 0, resel_unknown_maybe
        subi    slot, slot, 1
        out     IO_SLOT, slot
        call    slot_wait
        ldwh    t1, [HCB_FW_STATE]
        andi    t1, t1, 0xFF
        bne     t1, ST_DISC, resel_unknown_maybe
        call    resume
        shri    t1, t3, EV_PHASE_SHIFT
        andi    t1, t1, 7
        beq     t1, PHASE_MSG_IN, msgin_byte
        jmp     phase_loop

; resume: the slot is connected again: its saved pointers, window and agreement.
resume:
        call    load_slot
        ldwh    t1, [HCB_FW_STATE]
        andi    t1, t1, ST_SENSE
        ori     t1, t1, ST_ISSUED
        stwh    t1, [HCB_FW_STATE]
        ret

; The host asked to abort this slot while it was disconnected: ABORT TASK now.
resel_abort:
        call    load_slot
        movi    byte, 0x0D              ; ABORT TASK
        call    queue_msg1
        ori     cf, cf, CF_ABORT
        call    ack
        jmp     phase_loop

; Nexus without a slot. If a byte is latched (msg phase), it is acknowledged with ATN.
resel_unknown_maybe:
        shri    t1, t3, EV_PHASE_SHIFT
        andi    t1, t1, 7
        bne     t1, PHASE_MSG_IN, resel_unknown_noack
resel_unknown_latched:
        call    resel_report
        call    ack
        jmp     phase_loop
resel_unknown_noack:
        call    resel_report
        outi    IO_PCMD, t2, PCMD_SET_ATN
        wait    ev, EV_CMD_DONE
        jmp     phase_loop

; resel_report: post UNKNOWN_RESEL (target, lun, tag) and queue ABORT TASK.
resel_report:
        ori     cf, cf, CF_NOSLOT | CF_ABORT
        movi    slot, 0xFF
        movi    xcnt, 0
        shli    t3, t4, 8
        or      t3, tgt
        shli    t1, w2, 16
        or      t3, t1
        movi    t2, 0
        out     IO_CQ_W1, t2
        out     IO_CQ_W2, t2
        out     IO_CQ_W3, t3
        li      t1, CQE_KIND_UNKNOWN_RESEL << CQE_TYPE_SHIFT
        out     IO_CQ_POST, t1
        movi    byte, 0x0D              ; ABORT TASK
        jmp     queue_msg1

; The target left before telling us who it was.
resel_gone:
        outi    IO_EV_CLEAR, t1, EV_BUS_FREE | EV_UNEXP_FREE
        jmp     main

; recv_resel: recv for the reselection messages: on bad parity, MESSAGE PARITY ERROR
; (ATN before the ACK, the one-byte MESSAGE OUT) and the target sends the message again.
recv_resel:
        call    recv
        bc      msg, 8, .ok
        outi    IO_EV_CLEAR, t2, EV_PARITY_ERR
        outi    IO_PCMD, t2, PCMD_ACK | PCMD_F_ATN_BEFORE_ACK
        wait    ev, EV_CMD_DONE
        movi    byte, 0x09              ; MESSAGE PARITY ERROR
        li      t2, PCMD_SEND_BYTE | PCMD_F_LAST
        call    send_byte
        ; The target repeats the whole message (IDENTIFY, or the tag message).
        bs      ev, EV_BUS_FREE_BIT, .ok
        jmp     recv_resel
.ok:    ret
