; Reselection: a disconnected slot comes back. RESEL_ID gives the target, IDENTIFY the
; lun, a SIMPLE QUEUE TAG message the slot (the tag is the slot index, O(1)); without a
; tag the untagged slot of that I_T_L. Reconnecting implies RESTORE POINTERS.
; Until a slot is attached the connection has none (CF_NOSLOT): a bus free, reset or
; time limit on the way goes through phase_loop with nothing to complete. A message
; byte with bad parity gets MESSAGE PARITY ERROR and the target sends that whole
; message again, so reading restarts at its first byte (never a tag from the wrong
; byte).

reselect:
        outi    IO_EV_CLEAR, t1, EV_RESELECTED | EV_BUS_FREE | EV_UNEXP_FREE | EV_PARITY_ERR | EV_PHASE_MISMATCH | EV_OFFSET_ERR
        in      tgt, IO_RESEL_ID
        andi    tgt, tgt, 0xF
        call    set_xmode               ; before any data phase of this target
        movi    cf, CF_NOSLOT
        movi    t1, 0
        stw     t1, [t1 + S_OUT_LEN]
        movi    w2, 0                   ; tag byte for UNKNOWN_RESEL reports
        movi    t4, 0                   ; lun
        call    arm_timer
.ident: call    recv_resel
        bs      msg, 9, phase_loop
        bne     t3, 0, .ident
        bc      msg, 7, resel_unknown_latched   ; no IDENTIFY: nothing to attach to
        andi    t4, msg, 7
        call    ack
.tagm:  wait    ev, EV_REQ | EV_BUS_FREE | EV_BUS_RESET | EV_TIMER
        bc      ev, EV_REQ_BIT, phase_loop
        shri    t1, ev, EV_PHASE_SHIFT
        andi    t1, t1, 7
        bne     t1, PHASE_MSG_IN, resel_untagged
        call    recv_resel
        bs      msg, 9, phase_loop
        bne     t3, 0, .tagm
        bltu    msg, 0x20, resel_untagged
        bgeu    msg, 0x23, resel_untagged
        ; Queue tag message: the next byte is the tag = slot.
        call    recv_next
        bs      msg, 9, phase_loop      ; tag message cut short
        call    resel_perr
        bne     t3, 0, .tagm            ; the whole tag message again
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
        movi    cf, 0
        call    load_slot
        ldwh    t1, [HCB_FW_STATE]
        andi    t1, t1, ST_SENSE | ST_PERR
        ori     t1, t1, ST_ISSUED
        stwh    t1, [HCB_FW_STATE]
        ret

; The host asked to abort this slot while it was disconnected: ABORT TASK now.
resel_abort:
        call    load_slot
        movi    byte, 0x0D              ; ABORT TASK
        call    queue_msg1
        movi    cf, CF_ABORT
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
        li      t1, CQE_KIND_UNKNOWN_RESEL << CQE_TYPE_SHIFT
        call    post_event
        movi    byte, 0x0D              ; ABORT TASK
        jmp     queue_msg1

; recv_resel: latch a reselection message byte (msg; 0x200 = none, see recv) and check
; its parity: t3 = 1 when it was bad: MESSAGE PARITY ERROR went out and the target
; sends the whole message again (the caller restarts the message).
recv_resel:
        call    recv
resel_perr:
        movi    t3, 0
        bc      msg, 8, .ok
        movi    t3, 1
        outi    IO_EV_CLEAR, t2, EV_PARITY_ERR
        outi    IO_PCMD, t2, PCMD_ACK | PCMD_F_ATN_BEFORE_ACK
        wait    ev, EV_CMD_DONE | EV_TIMER
        movi    byte, 0x09              ; MESSAGE PARITY ERROR
        li      t2, PCMD_SEND_BYTE | PCMD_F_LAST
        jmp     send_byte
.ok:    ret
