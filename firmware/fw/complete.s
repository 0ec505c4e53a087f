; Completions, autosense results, host requests (mailbox) and bus reset.

; complete: post COMPLETION for slot (hst, status, residual xcnt), free the slot.
complete:
        movi    w2, 0
complete_w2:
        movi    t3, 0
        call    post_completion
        call    slot_free
        jmp     main

; finish_slot: post the completion and free the slot, without leaving (the bus is
; still connected: see msg_complete).
finish_slot:
        movi    w2, 0
finish_slot_w2:
        movi    t3, 0
        call    post_completion
        jmp     slot_free

; post_completion: word 0 from hst/status/slot, word 1 = xcnt, word 2 = w2, word 3 = t3.
post_completion:
        out     IO_CQ_W1, xcnt
        out     IO_CQ_W2, w2
        out     IO_CQ_W3, t3
        shli    t1, hst, CQE_HBA_STATUS_SHIFT
        shli    t2, status, CQE_SCSI_STATUS_SHIFT
        or      t1, t2
        or      t1, slot
        li      t2, CQE_KIND_COMPLETION << CQE_TYPE_SHIFT
        or      t1, t2
        out     IO_CQ_POST, t1
        ret

; slot_free: the slot (current IO_SLOT, ctrl loaded) is done; forget its I_T_L entry.
slot_free:
        movi    t1, ST_FREE
        stwh    t1, [HCB_FW_STATE]
        shri    t1, ctrl, HCB_CTRL_TAG_SHIFT
        andi    t1, t1, HCB_CTRL_TAG_MASK
        bne     t1, TAG_NONE, .done
        call    itl_index
        ldb     t2, [t1 + S_UNTAGGED]
        subi    t2, t2, 1
        bne     t2, slot, .done
        movi    t2, 0
        stb     t2, [t1 + S_UNTAGGED]
.done:  ret

; Autosense failed (no connection left): report the original outcome without sense.
sense_failed:
        li      w2, CQE_AUTOSENSE_FAILED
sense_finish:
        ldwh    status, [FW_ORIG_STATUS]
        ldwh    xcnt, [FW_ORIG_RESID]
        movi    hst, HBA_STATUS_OK
        jmp     complete_w2
; The same while still connected (COMMAND COMPLETE of the REQUEST SENSE).
sense_done_c:
        bne     status, 0, sense_failed_c
        ldwh    w2, [HCB_SENSE_LEN]
        andi    w2, w2, 0xFF
        sub     w2, xcnt
        ori     w2, w2, CQE_SENSE_VALID
        jmp     sense_fin_c
sense_failed_c:
        li      w2, CQE_AUTOSENSE_FAILED
sense_fin_c:
        ldwh    status, [FW_ORIG_STATUS]
        ldwh    xcnt, [FW_ORIG_RESID]
        movi    hst, HBA_STATUS_OK
        jmp     finish_slot_w2

; The target took the BUS DEVICE RESET (or is gone): end its slots, reset its agreement.
bdr_done:
        movi    hst, HBA_STATUS_BDR_SENT
        movi    t4, 1                   ; queued slots too
        call    end_slots
        shli    t1, tgt, 2
        movi    t3, 0
        stw     t3, [t1 + S_XMODE]
        stw     t3, [t1 + S_NEG_DONE]
        shli    t1, tgt, 4
        stw     t3, [t1 + LAYOUT_TARGETS + TGT_CURRENT]
        ; The agreement is gone: say so (asynchronous, narrow). This is also the answer
        ; to a BUS DEVICE RESET request for a target with no command.
        li      t1, CQE_KIND_NEGOTIATED << CQE_TYPE_SHIFT
        mov     t3, tgt
        call    post_event
        jmp     main

; end_slots: complete with hst every issued/disconnected slot (t4 = 1: queued ones too)
; of target tgt (tgt = 0xFF: all targets). Residual = the saved count.
end_slots:
        movi    slot, 0
.loop:  out     IO_SLOT, slot
        call    slot_wait
        ldwh    t1, [HCB_FW_STATE]
        andi    t1, t1, 0xFF
        beq     t1, ST_ISSUED, .match
        beq     t1, ST_DISC, .match
        bne     t1, ST_QUEUED, .next
        beq     t4, 0, .next
.match: ldwh    ctrl, [HCB_CTRL]
        beq     tgt, 0xFF, .end
        andi    t1, ctrl, HCB_CTRL_TARGET_MASK
        bne     t1, tgt, .next
.end:   ldwh    xcnt, [FW_SAVED_CNT]
        movi    status, 0
        movi    w2, 0
        movi    t3, 0
        call    post_completion
        call    slot_free
.next:  addi    slot, slot, 1
        bltu    slot, LAYOUT_NUM_SLOTS, .loop
        ret

; RST seen: every issued or disconnected command is gone, so are all agreements.
bus_reset:
        outi    IO_EV_CLEAR, t1, EV_BUS_RESET | EV_RESELECTED | EV_BUS_FREE | EV_UNEXP_FREE | EV_CMD_DONE | EV_PARITY_ERR | EV_PHASE_MISMATCH | EV_OFFSET_ERR | EV_TIMER
        movi    hst, HBA_STATUS_BUS_RESET
        movi    tgt, 0xFF
        movi    t4, 0
        call    end_slots
        ; Agreements first: CURRENT is right when the host sees the event.
        movi    t3, 0
        movi    t1, 0
.agr:   stw     t3, [t1 + S_XMODE]
        addi    t1, t1, 4
        bltu    t1, 0x100 - S_XMODE, .agr
        call    clear_current
        li      t1, CQE_KIND_BUS_RESET << CQE_TYPE_SHIFT
        call    post_event
        jmp     main

; clear_current: every target's CURRENT agreement = t3 (0: asynchronous, narrow).
clear_current:
        movi    t1, 0
.cur:   stw     t3, [t1 + LAYOUT_TARGETS + TGT_CURRENT]
        addi    t1, t1, LAYOUT_TARGET_BYTES
        li      t2, LAYOUT_NUM_TARGETS * LAYOUT_TARGET_BYTES
        bltu    t1, t2, .cur
        ret

; post_event: an event entry, word 0 = t1 (kind), words 1 and 2 = 0, word 3 = t3.
post_event:
        movi    t2, 0
        out     IO_CQ_W1, t2
        out     IO_CQ_W2, t2
        out     IO_CQ_W3, t3
        out     IO_CQ_POST, t1
        ret
