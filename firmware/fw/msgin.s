; MESSAGE IN. `msgin_byte` is entered with the first byte already latched in msg
; (reselection hands over a non-tag message that way). Every byte of a message is
; parity-checked; a bad one gets MESSAGE PARITY ERROR and the target sends the whole
; message again, which starts over at do_msgin.

do_msgin:
        call    recv
msgin_byte:
        bs      msg, 9, phase_loop      ; no byte after all (bus free, reset, time limit)
        bs      msg, 8, msg_parity
        beq     msg, 0x00, msg_complete
        beq     msg, 0x02, msg_save
        beq     msg, 0x03, msg_restore
        beq     msg, 0x04, msg_disconnect
        beq     msg, 0x01, msg_ext
        beq     msg, 0x07, msg_reject
        beq     msg, 0x23, msg_wide_residue
        bgeu    msg, 0x80, msg_ack      ; IDENTIFY while connected: nothing to do
        ; Anything else (linked commands, tag messages we did not expect, ...): reject.
msg_unsupported:
        movi    byte, 0x07              ; MESSAGE REJECT
        call    queue_msg1
msg_ack:
        call    ack
        jmp     phase_loop

; Bad parity on a message byte: MESSAGE PARITY ERROR (ATN before its ACK), the target
; sends the whole message again.
msg_parity:
        movi    byte, 0x09
; perr_reply: answer the latched bad byte with the message in `byte` (ATN before its
; ACK).
perr_reply:
        outi    IO_EV_CLEAR, t1, EV_PARITY_ERR
        call    queue_msg1
        jmp     msg_ack

; SAVE DATA POINTER: the current pointer becomes the slot's saved pointer. Bad data
; behind it (a parity error not yet sent again) can no longer be restored away: the
; slot will complete PARITY (ST_PERR).
msg_save:
        stwh    xoff, [HCB_FW_SAVED_PTR]
        stwh    xcnt, [FW_SAVED_CNT]
        bc      cf, 8, msg_ack          ; CF_PERR
        ldwh    t1, [HCB_FW_STATE]
        ori     t1, t1, ST_PERR
        stwh    t1, [HCB_FW_STATE]
        jmp     msg_ack

; RESTORE POINTERS: back to the saved pointer (bad data since then will be sent again).
msg_restore:
        andi    cf, cf, ~CF_PERR & 0xFFFF
        ldwh    xoff, [HCB_FW_SAVED_PTR]
        ldwh    xcnt, [FW_SAVED_CNT]
        bc      cf, 0, msg_ack
        movi    xoff, 0                 ; autosense restarts at the sense area start
        ldwh    xcnt, [HCB_SENSE_LEN]
        andi    xcnt, xcnt, 0xFF
        jmp     msg_ack

; IGNORE WIDE RESIDUE: the last wide transfer carried one byte less than counted.
; When the pointer is odd, the DMA already stored only the low byte of that transfer
; (the window ended there), so there is nothing to give back.
msg_wide_residue:
        call    recv_next               ; number of bytes to ignore (1)
        bs      msg, 9, phase_loop
        bs      msg, 8, msg_parity
        andi    t1, msg, 0xFF
        bc      xoff, 0, .adj
        movi    t1, 0
.adj:
        add     xcnt, t1
        sub     xoff, t1
        jmp     msg_ack

; DISCONNECT: the slot waits for its reselection; the bus is free for others.
msg_disconnect:
        ldwh    t1, [HCB_FW_STATE]
        andi    t1, t1, ST_SENSE | ST_PERR
        ori     t1, t1, ST_DISC
        stwh    t1, [HCB_FW_STATE]
        jmp     conn_end

; COMMAND COMPLETE: finish the slot (or queue its autosense) while the target still
; waits for the ACK, then end the connection. Bad data or status that was not sent
; again completes PARITY (for autosense: the original outcome, AUTOSENSE_FAILED).
msg_complete:
        bs      cf, 4, conn_end         ; unknown nexus: nothing to finish
        movi    hst, HBA_STATUS_PARITY
        bs      cf, 8, .perr            ; CF_PERR
        bs      cf, 9, .perr            ; CF_SPERR
        ldwh    t1, [HCB_FW_STATE]
        bs      t1, 10, .perr           ; ST_PERR
        bs      cf, 0, .sense
        movi    hst, HBA_STATUS_OK
        bs      cf, 5, .ovr
        bne     status, 0x02, .fin
        bs      ctrl, 19, .fin          ; HCB_CTRL_NO_AUTOSENSE
        ; CHECK CONDITION: keep the outcome, fetch the sense with a new connection.
        stwh    status, [FW_ORIG_STATUS]
        stwh    xcnt, [FW_ORIG_RESID]
        movi    t1, ST_QUEUED | ST_SENSE
        stwh    t1, [HCB_FW_STATE]
        call    rq_push
        jmp     conn_end
.perr:  bc      cf, 0, .fin
        call    sense_failed_c
        jmp     conn_end
.ovr:   movi    hst, HBA_STATUS_DATA_OVERRUN
.fin:   call    finish_slot
        jmp     conn_end
.sense: call    sense_done_c
        jmp     conn_end

; conn_end: the last message byte (COMMAND COMPLETE / DISCONNECT) is latched. Build the
; next selection first, then ACK, and SELECT as soon as the bus is free.
conn_end:
        outi    IO_PCMD, t2, PCMD_EXPECT_FREE
        wait    ev, EV_CMD_DONE
        in      ev, IO_EVENTS
        movi    w2, 0
        bs      ev, EV_HOST_BIT, .ack   ; host requests go through the main loop
        movi    t1, 0
        ldw     t3, [t1 + S_BDR_PEND]
        bne     t3, 0, .ack
        call    prepare_next
.ack:   outi    IO_PCMD, t2, PCMD_ACK
        wait    ev, EV_CMD_DONE | EV_TIMER
        call    wait_free
        bs      ev, EV_BUS_RESET_BIT, .reset
        bs      ev, EV_TIMER_BIT, .reset
        beq     w2, 1, select_now
        jmp     main
.reset: ; A prepared slot goes back to the queue. A target that keeps the bus after
        ; its last message (time limit) is reset away; nothing is left to complete.
        movi    cf, CF_NOSLOT
        bne     w2, 1, .gone
        call    rq_push
.gone:  in      ev, IO_EVENTS
        bs      ev, EV_BUS_RESET_BIT, bus_reset
        jmp     conn_timeout

; MESSAGE REJECT: of the queue tag (CF_TAG, see do_msgout) -> untagged, of our WDTR ->
; narrow, of our SDTR -> asynchronous; else ignored.
msg_reject:
        bc      cf, 12, reject_neg
        call    ack
; tag_refused: the target runs the command untagged (it rejected the tag message or left
; MESSAGE OUT before it): from now on the slot is its I_T_L's untagged command, found
; by an untagged reselection and forgotten at completion (slot_free). A WDTR or SDTR
; queued behind the tag never went out.
tag_refused:
        andi    cf, cf, ~(CF_TAG | CF_WDTR | CF_SDTR) & 0xFFFF
        li      t1, ~(HCB_CTRL_TAG_MASK << HCB_CTRL_TAG_SHIFT) & 0xFFFFFFFF
        and     ctrl, t1
        stwh    ctrl, [HCB_CTRL]
        call    itl_index
        addi    t2, slot, 1
        stb     t2, [t1 + S_UNTAGGED]
        jmp     phase_loop
reject_neg:
        bs      cf, 1, .wdtr
        bc      cf, 2, msg_ack
        andi    cf, cf, ~CF_SDTR & 0xFFFF
        movi    t1, 0
        movi    t3, 0
        call    neg_set_sync
        jmp     msg_ack
.wdtr:  andi    cf, cf, ~CF_WDTR & 0xFFFF
        movi    t1, 0
        call    neg_set_wide
        call    neg_follow_sdtr
        jmp     msg_ack

; Extended message: length (0 means 256), code, arguments. The last byte stays
; unacknowledged until we know whether to answer (ATN before its ACK).
msg_ext:
        call    recv_next               ; length
        bs      msg, 9, phase_loop
        bs      msg, 8, msg_parity
        andi    t4, msg, 0xFF
        bne     t4, 0, .len
        movi    t4, 256
.len:   movi    t3, 0
.byte:  call    recv_next
        bs      msg, 9, phase_loop      ; cut short: the message is void
        bs      msg, 8, msg_parity
        stb     msg, [t3 + S_EXT]
        addi    t3, t3, 1
        bltu    t3, 8, .keep            ; longer than we care for: keep the last 8
        movi    t3, 7
.keep:  subi    t4, t4, 1
        bne     t4, 0, .byte
        movi    t3, 0
        ldb     t1, [t3 + S_EXT]        ; code
        beq     t1, 0x01, msg_sdtr
        beq     t1, 0x03, msg_wdtr
        jmp     msg_unsupported
