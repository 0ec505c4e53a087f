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
