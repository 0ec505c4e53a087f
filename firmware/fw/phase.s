; Information transfer phases of a connection (slot / ctrl / tgt / xoff / xcnt / cf).

phase_loop:
        bs      cf, 7, .nohost
        wait    ev, EV_REQ | EV_BUS_FREE | EV_BUS_RESET | EV_HOST
        bs      ev, EV_HOST_BIT, conn_host
        jmp     .dispatch
.nohost:
        wait    ev, EV_REQ | EV_BUS_FREE | EV_BUS_RESET
.dispatch:
        bs      ev, EV_BUS_RESET_BIT, bus_reset
        bs      ev, EV_BUS_FREE_BIT, bus_free
        shri    t1, ev, EV_PHASE_SHIFT
        andi    t1, t1, 7
        beq     t1, PHASE_DATA_IN, do_data
        beq     t1, PHASE_DATA_OUT, do_data
        beq     t1, PHASE_COMMAND, do_cmd
        beq     t1, PHASE_STATUS, do_status
        beq     t1, PHASE_MSG_IN, do_msgin
        beq     t1, PHASE_MSG_OUT, do_msgout
        ; Phases 4 and 5 are reserved: nothing sensible to do but reset the bus.
        jmp     protocol_error

; COMMAND: the next CDB byte (the target may take them one REQ at a time).
do_cmd:
        movi    t3, 0
        ldw     t1, [t3 + S_CDB_PTR]
        ldw     t4, [t3 + S_CDB_LEN]
        beq     t4, 0, .pad             ; target wants more than the CDB: send zeros
        ldb     byte, [t1 + 0]
        addi    t1, t1, 1
        subi    t4, t4, 1
        stw     t1, [t3 + S_CDB_PTR]
        stw     t4, [t3 + S_CDB_LEN]
        li      t2, PCMD_SEND_BYTE
        call    send_byte
        jmp     phase_loop
.pad:   movi    byte, 0
        li      t2, PCMD_SEND_BYTE
        call    send_byte
        jmp     phase_loop

; DATA IN / DATA OUT: DMA from the current pointer. The engine clamps to the window
; and stops on a phase change, leaving the pointer and the residual.
do_data:
        beq     xcnt, 0, overrun
        out     IO_XFER_OFFSET, xoff
        out     IO_XFER_COUNT, xcnt
        outi    IO_PCMD, t1, PCMD_DMA
        wait    ev, EV_CMD_DONE
        in      xoff, IO_XFER_OFFSET
        in      xcnt, IO_XFER_COUNT
        in      ev, IO_EVENTS
        bc      ev, EV_PARITY_ERR_BIT, phase_loop
        ; Bad parity in DATA IN: INITIATOR DETECTED ERROR; the target restores the
        ; pointers and sends the data again.
        outi    IO_EV_CLEAR, t1, EV_PARITY_ERR
        movi    byte, 0x05
        call    queue_msg1
        outi    IO_PCMD, t1, PCMD_SET_ATN
        wait    ev, EV_CMD_DONE
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
        wait    ev, EV_CMD_DONE
        movi    t1, 0
        out     IO_XFER_COUNT, t1       ; the buffer stays full
        jmp     phase_loop

; STATUS: keep the byte; a parity error asks for it again (INITIATOR DETECTED ERROR).
do_status:
        call    recv
        bs      msg, 8, .bad
        mov     status, msg
        call    ack
        jmp     phase_loop
.bad:   outi    IO_EV_CLEAR, t1, EV_PARITY_ERR
        movi    byte, 0x05
        call    queue_msg1
        call    ack
        jmp     phase_loop

; MESSAGE OUT: send the queued bytes (ATN dropped with the last one), or NO OPERATION
; when the target asks for a message we do not have.
do_msgout:
        movi    t3, 0
        ldw     t4, [t3 + S_OUT_LEN]
        stw     t3, [t3 + S_OUT_LEN]
        bne     t4, 0, .send
        movi    byte, 0x08              ; NO OPERATION
        li      t2, PCMD_SEND_BYTE | PCMD_F_LAST
        call    send_byte
        jmp     phase_loop
.send:  ldb     byte, [t3 + S_OUT_BUF]
        addi    t3, t3, 1
        beq     t3, t4, .last
        li      t2, PCMD_SEND_BYTE
        call    send_byte
        ; The target may leave MESSAGE OUT early (e.g. to reject): stop sending.
        in      ev, IO_EVENTS
        shri    t1, ev, EV_PHASE_SHIFT
        andi    t1, t1, 7
        beq     t1, PHASE_MSG_OUT, .send
        jmp     phase_loop
.last:  bc      cf, 3, .plain           ; CF_ABORT: the target frees the bus after it
        outi    IO_PCMD, t2, PCMD_EXPECT_FREE
        wait    ev, EV_CMD_DONE
.plain: li      t2, PCMD_SEND_BYTE | PCMD_F_LAST
        call    send_byte
        jmp     phase_loop

; The bus went free. Expected only after an abort message; anything else is an
; unexpected bus free for the connected slot.
bus_free:
        outi    IO_EV_CLEAR, t1, EV_BUS_FREE | EV_UNEXP_FREE
        bs      cf, 6, bdr_done
        bs      cf, 4, main             ; CF_NOSLOT: the unknown nexus is gone
        movi    hst, HBA_STATUS_ABORTED
        bs      cf, 3, complete
        bs      cf, 0, sense_failed
        movi    hst, HBA_STATUS_UNEXP_BUS_FREE
        jmp     complete

; Illegal phase: reset the bus (the bus-reset path completes everything).
protocol_error:
        outi    IO_PCMD, t1, PCMD_BUS_RESET
        wait    ev, EV_CMD_DONE
        jmp     main

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
