; Information transfer phases of a connection (slot / ctrl / tgt / xoff / xcnt / cf).

; Each pass restarts the connection time limit; a subroutine that gave up waiting
; (EV_TIMER) ends the connection here.
phase_loop:
        in      ev, IO_EVENTS
        bs      ev, EV_TIMER_BIT, conn_timeout
        call    arm_timer
        bs      cf, 7, .nohost
        wait    ev, EV_REQ | EV_BUS_FREE | EV_BUS_RESET | EV_HOST | EV_TIMER
        bs      ev, EV_HOST_BIT, conn_host
        jmp     .dispatch
.nohost:
        wait    ev, EV_REQ | EV_BUS_FREE | EV_BUS_RESET | EV_TIMER
.dispatch:
        bs      ev, EV_BUS_RESET_BIT, bus_reset
        bs      ev, EV_BUS_FREE_BIT, bus_free
        bs      ev, EV_TIMER_BIT, conn_timeout
        shri    t1, ev, EV_PHASE_SHIFT
        andi    t1, t1, 7
        beq     t1, PHASE_DATA_IN, do_data_in
        beq     t1, PHASE_DATA_OUT, do_data_out
        beq     t1, PHASE_COMMAND, do_cmd
        beq     t1, PHASE_STATUS, do_status
        beq     t1, PHASE_MSG_IN, do_msgin
        beq     t1, PHASE_MSG_OUT, do_msgout
        ; Phases 4 and 5 are reserved: the target broke the protocol (so did one that
        ; overran the synchronous offset). Report it, then reset the bus (nothing else
        ; gets a confused target off it).
protocol_error:
        movi    hst, HBA_STATUS_PROTOCOL
        jmp     conn_reset

; The target stopped answering within its time limit: reset the bus (BUS_RESET also
; ends a handshake command that still waits) and complete the slot with TIMEOUT.
conn_timeout:
        movi    hst, HBA_STATUS_TIMEOUT
; conn_reset: RST; the connected slot completes with hst first (an autosense
; connection: the original outcome without sense), then the bus-reset path ends
; everything else and reports the reset.
conn_reset:
        outi    IO_PCMD, t1, PCMD_BUS_RESET
        movi    status, 0
        bs      cf, 4, .reset           ; CF_NOSLOT: nothing to complete
        bs      cf, 0, .sense
        call    finish_slot
        jmp     .reset
.sense: call    sense_failed_c
.reset: wait    ev, EV_BUS_RESET
        jmp     bus_reset

; COMMAND: the CDB bytes while the target asks for them (zeros beyond the CDB). The
; phase of each further byte is taken with its REQ.
do_cmd:
        movi    t3, 0
        ldw     t1, [t3 + S_CDB_PTR]
        ldw     t4, [t3 + S_CDB_LEN]
.byte:  movi    byte, 0
        beq     t4, 0, .send            ; target wants more than the CDB: send zeros
        ldb     byte, [t1 + 0]
        addi    t1, t1, 1
        subi    t4, t4, 1
.send:  li      t2, PCMD_SEND_BYTE
        call    send_byte
        wait    ev, EV_REQ | EV_BUS_FREE | EV_BUS_RESET | EV_TIMER
        bc      ev, EV_REQ_BIT, .end
        shri    t2, ev, EV_PHASE_SHIFT
        andi    t2, t2, 7
        beq     t2, PHASE_COMMAND, .byte
.end:   stw     t1, [t3 + S_CDB_PTR]
        stw     t4, [t3 + S_CDB_LEN]
        jmp     phase_loop

; The data phase must match the HCB's direction (autosense reads into the sense area);
; no direction at all (no buffer) is an overrun.
do_data_in:
        bs      cf, 0, do_data          ; CF_SENSE
        bs      ctrl, 16, do_data       ; HCB_CTRL_DIR_IN
        jmp     wrong_dir
do_data_out:
        bs      cf, 0, wrong_dir
        bs      ctrl, 17, do_data       ; HCB_CTRL_DIR_OUT
wrong_dir:
        ; No buffer (or its count used up): an overrun. Else refuse it: ABORT TASK, and
        ; the bit bucket (never the buffer) until the target takes the ATN. The slot
        ; completes WRONG_DIRECTION at the bus free.
        beq     xcnt, 0, overrun
        ori     cf, cf, CF_ABORT | CF_WRONGDIR
        movi    byte, 0x0D              ; ABORT TASK
        call    queue_msg1
        outi    IO_PCMD, t1, PCMD_SET_ATN
        wait    ev, EV_CMD_DONE
        jmp     overrun

; DATA IN / DATA OUT: DMA from the current pointer. The engine clamps to the window
; and stops on a phase change, leaving the pointer and the residual. A DMA that makes
; no progress for a whole time limit ends the connection.
do_data:
        beq     xcnt, 0, overrun
        out     IO_XFER_OFFSET, xoff
        out     IO_XFER_COUNT, xcnt
        outi    IO_PCMD, t1, PCMD_DMA
        mov     t4, xcnt
.wait:  wait    ev, EV_CMD_DONE | EV_TIMER
        bs      ev, EV_CMD_DONE_BIT, .done
        in      t1, IO_XFER_COUNT
        beq     t1, t4, conn_timeout
        mov     t4, t1
        call    arm_timer
        jmp     .wait
.done:  in      xoff, IO_XFER_OFFSET
        in      xcnt, IO_XFER_COUNT
        in      ev, IO_EVENTS
        bs      ev, EV_OFFSET_ERR_BIT, protocol_error
        bc      ev, EV_PARITY_ERR_BIT, phase_loop
        ; Bad parity in DATA IN: the engine raised ATN at the byte, so the target stops
        ; the phase; INITIATOR DETECTED ERROR asks it to restore the pointers and send
        ; the data again. Until RESTORE POINTERS the buffer holds bad data (CF_PERR).
        outi    IO_EV_CLEAR, t1, EV_PARITY_ERR
        ori     cf, cf, CF_PERR
        movi    byte, 0x05
        call    queue_msg1
        jmp     phase_loop

; The target wants more data than the buffer holds: move the extra bytes with a
; bit-bucket DMA (no card-memory access, not limited by the window; DATA IN is dropped,
; DATA OUT sends zeros) so the task can end, and report DATA_OVERRUN. It works in
; asynchronous and synchronous phases alike and stops at the phase change; a target
; that wants more than 64 KiB more comes back here.
overrun:
        ori     cf, cf, CF_OVERRUN
        li      t1, 0xFFFF
        out     IO_XFER_COUNT, t1
        outi    IO_PCMD, t1, PCMD_DMA | PCMD_F_DISCARD
        wait    ev, EV_CMD_DONE | EV_TIMER
        movi    t1, 0
        out     IO_XFER_COUNT, t1       ; the buffer stays full
        ; A bad byte in the bit bucket is of no account (its ATN gets NO OPERATION).
        outi    IO_EV_CLEAR, t1, EV_PARITY_ERR
        jmp     phase_loop

; STATUS: keep the byte; a parity error asks for it again (INITIATOR DETECTED ERROR).
; A status that is never sent again completes PARITY (CF_SPERR), never GOOD.
do_status:
        call    recv
        bs      msg, 8, .bad
        andi    cf, cf, ~CF_SPERR & 0xFFFF
        mov     status, msg
        call    ack
        jmp     phase_loop
.bad:   ori     cf, cf, CF_SPERR
        movi    byte, 0x05              ; INITIATOR DETECTED ERROR
        jmp     perr_reply

; MESSAGE OUT: send the queued bytes (ATN dropped with the last one), or NO OPERATION
; when the target asks for a message we do not have.
do_msgout:
        movi    t3, 0
        ldw     t4, [t3 + S_OUT_LEN]
        stw     t3, [t3 + S_OUT_LEN]
        movi    byte, 0x08              ; NO OPERATION
        beq     t4, 0, .plain
.send:  ldb     byte, [t3 + S_OUT_BUF]
        addi    t3, t3, 1
        beq     t3, t4, .last
        li      t2, PCMD_SEND_BYTE
        call    send_byte
        ; The target may leave MESSAGE OUT early (e.g. to reject): stop sending. The
        ; phase is valid only with the next REQ.
        wait    ev, EV_REQ | EV_BUS_FREE | EV_BUS_RESET | EV_TIMER
        bc      ev, EV_REQ_BIT, phase_loop
        shri    t1, ev, EV_PHASE_SHIFT
        andi    t1, t1, 7
        beq     t1, PHASE_MSG_OUT, .send
        jmp     .left
.last:  bc      cf, 3, .plain           ; CF_ABORT: the target frees the bus after it
        outi    IO_PCMD, t2, PCMD_EXPECT_FREE
        wait    ev, EV_CMD_DONE
.plain: li      t2, PCMD_SEND_BYTE | PCMD_F_LAST
        call    send_byte
        ; The target took t3 of the t4 queued bytes (IDENTIFY, tag message, negotiation).
        ; Left before the tag's two bytes: the command runs untagged. Left right after
        ; them: a MESSAGE REJECT that follows is the tag's (SPI: the target rejects a
        ; message before it asks for the next), so CF_TAG stays. Took more: the tag stands.
.left:  bc      cf, 12, phase_loop      ; CF_TAG
        beq     t4, 0, phase_loop       ; NO OPERATION: not the queue
        bltu    t3, 3, tag_refused
        beq     t3, 3, phase_loop
        andi    cf, cf, ~CF_TAG & 0xFFFF
        jmp     phase_loop

; The bus went free. Expected only after an abort message; anything else is an
; unexpected bus free for the connected slot.
bus_free:
        outi    IO_EV_CLEAR, t1, EV_BUS_FREE | EV_UNEXP_FREE
        movi    status, 0
        bs      cf, 6, bdr_done
        bs      cf, 4, main             ; CF_NOSLOT: the unknown nexus is gone
        movi    hst, HBA_STATUS_WRONG_DIRECTION
        bs      cf, 11, complete
        movi    hst, HBA_STATUS_ABORTED
        bs      cf, 3, complete
        bs      cf, 0, sense_failed
        movi    hst, HBA_STATUS_UNEXP_BUS_FREE
        jmp     complete

; A host request while connected: an abort of this very slot is done now (ATN, ABORT
; TASK); anything else waits for the main loop.
conn_host:
        in      t1, IO_MAILBOX
        li      t3, MBOX_ABORT << MBOX_REQ_SHIFT
        or      t3, slot
        bne     t1, t3, .later
        bs      cf, 4, .later
        outi    IO_EV_CLEAR, t1, EV_HOST
        ori     cf, cf, CF_ABORT
        movi    byte, 0x0D              ; ABORT TASK
        call    queue_msg1
        outi    IO_PCMD, t1, PCMD_SET_ATN
        wait    ev, EV_CMD_DONE
        jmp     phase_loop
.later: ori     cf, cf, CF_HOSTSEEN
        jmp     phase_loop
