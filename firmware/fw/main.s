; Initiator firmware of the SCSI host adapter.
;
; One connection at a time on the bus, up to 64 commands in flight (tag = slot index).
; Main loop: reselections first (the bus is busy, a target waits for us), then host
; requests, then retries (abandoned selections, autosense), then new submissions.
; Per-slot state lives in the HCB's FW_* words, per-target state in scratch and in the
; per-target table (CURRENT).

        .include "regs.inc"

init:
        ; Clear the firmware's scratch state (queues, agreements, untagged table).
        movi    t1, 0
        movi    t3, 0
.clr:   stw     t3, [t1 + 0]
        addi    t1, t1, 4
        li      t2, SCRATCH_CLEAR_END
        bltu    t1, t2, .clr
        ; Every agreement starts asynchronous and narrow (also after a reset of the card).
        call    clear_current
        ; The REQUEST SENSE CDB is fixed except for the allocation length (byte 4).
        movi    t1, 0
        movi    t3, 0x03
        stw     t3, [t1 + S_SENSE_CDB]
        stw     t1, [t1 + S_SENSE_CDB + 4]
        ; No slot is in flight: FW_STATE of every HCB = free.
        movi    t3, ST_FREE
        li      t1, LAYOUT_HCBS
.slots: stw     t3, [t1 + HCB_FW_STATE]
        addi    t1, t1, LAYOUT_HCB_BYTES
        li      t2, LAYOUT_HCBS + LAYOUT_NUM_SLOTS * LAYOUT_HCB_BYTES
        bltu    t1, t2, .slots
        outi    IO_EV_CLEAR, t1, EV_STICKY

main:
        in      ev, IO_EVENTS
        bs      ev, EV_BUS_RESET_BIT, bus_reset
        bs      ev, EV_RESELECTED_BIT, reselect
        bs      ev, EV_HOST_BIT, mailbox
        movi    t1, 0
        ldw     t3, [t1 + S_BDR_PEND]
        bne     t3, 0, bdr_retry
        call    prepare_next
        beq     w2, 1, select_now
        beq     w2, 2, main             ; something was consumed: look again
        wait    ev, EV_DOORBELL | EV_RESELECTED | EV_HOST | EV_BUS_RESET
        jmp     main

; prepare_next: take the next slot to issue (retry queue first, then the submission
; ring) and build its selection, up to the SELECT itself. w2 = 1: ready for select_now;
; 2: an entry was consumed without a selection (aborted, bad HCB); 0: nothing to do.
; Also called before the last ACK of a connection, so the SELECT can follow the bus
; free at once and win arbitration (ID 7) against reselecting targets: that keeps the
; targets' queues full.
prepare_next:
        movi    w2, 2
        movi    t1, 0
        ldw     t2, [t1 + S_RQ_HEAD]
        ldw     t3, [t1 + S_RQ_TAIL]
        beq     t2, t3, .sq
        ldb     slot, [t2 + S_RQ]
        addi    t2, t2, 1
        andi    t2, t2, 0xFF
        stw     t2, [t1 + S_RQ_HEAD]
        out     IO_SLOT, slot
        call    slot_wait
        ldwh    t1, [HCB_FW_STATE]
        andi    t1, t1, 0xFF
        bne     t1, ST_QUEUED, .ret     ; aborted meanwhile
        jmp     build
.sq:    in      ev, IO_EVENTS
        movi    w2, 0
        bc      ev, EV_DOORBELL_BIT, .ret
        movi    w2, 2
        call    take_sq
        beq     t3, CHECK_OK, build
.ret:   ret

; take_sq: take the next slot index from the submission ring (not empty) and check the
; HCB. Good (t3 = CHECK_OK): state QUEUED, pointers at the buffer start. Bad: completed
; with BAD_HCB and the check code in word 3.
take_sq:
        in      t1, IO_SQ_CI
        shli    t2, t1, 2
        ldw     slot, [t2 + LAYOUT_SQ]
        andi    slot, slot, 0xFF
        addi    t1, t1, 1
        andi    t1, t1, 0xFF
        out     IO_SQ_CI, t1
        out     IO_SLOT, slot
        call    slot_wait
        bne     t3, CHECK_OK, bad_hcb
        movi    t1, 0
        stwh    t1, [HCB_FW_SAVED_PTR]
        ldwh    t1, [HCB_DATA_LEN]
        stwh    t1, [FW_SAVED_CNT]
        movi    t1, ST_QUEUED
        stwh    t1, [HCB_FW_STATE]
        ; An untagged command is found again on reselection through its I_T_L.
        ldwh    ctrl, [HCB_CTRL]
        shri    t1, ctrl, HCB_CTRL_TAG_SHIFT
        andi    t1, t1, HCB_CTRL_TAG_MASK
        bne     t1, TAG_NONE, .ok
        call    itl_index
        addi    t2, slot, 1
        stb     t2, [t1 + S_UNTAGGED]
.ok:    movi    t3, CHECK_OK
        ret

; The HCB failed the hardware check: complete it with the check code in word 3.
bad_hcb:
        movi    status, 0
        movi    w2, 0
        movi    hst, HBA_STATUS_BAD_HCB
        movi    xcnt, 0
        call    post_completion
        movi    t3, 1
        ret

; slot_wait: wait for the hardware check of the slot just written to IO_SLOT; t3 = result.
slot_wait:
        in      t3, IO_SLOT_CHECK
        beq     t3, CHECK_BUSY, slot_wait
        ret

; itl_index: t1 = S_UNTAGGED index of ctrl's target and lun.
itl_index:
        andi    t1, ctrl, HCB_CTRL_TARGET_MASK
        shli    t1, t1, 3
        shri    t2, ctrl, HCB_CTRL_LUN_SHIFT
        andi    t2, t2, HCB_CTRL_LUN_MASK
        or      t1, t2
        ret

; load_slot: make `slot` the connection's slot: IO_SLOT, ctrl, tgt, saved pointers,
; DMA window, and the target's agreement in XFER_MODE (before any data phase).
load_slot:
        out     IO_SLOT, slot
        call    slot_wait
        ldwh    ctrl, [HCB_CTRL]
        andi    tgt, ctrl, HCB_CTRL_TARGET_MASK
        ldwh    xoff, [HCB_FW_SAVED_PTR]
        ldwh    xcnt, [FW_SAVED_CNT]
        movi    t1, WINDOW_DATA
        out     IO_WINDOW, t1
set_xmode:
        shli    t1, tgt, 2
        ldw     t1, [t1 + S_XMODE]
        out     IO_XFER_MODE, t1
        ret

; build: prepare `slot` (state QUEUED, or with ST_SENSE / ST_ABORT) for selection:
; connection registers, the MESSAGE OUT (IDENTIFY, tag, negotiation) and the CDB
; pointer. Returns w2 = 1.
build:
        call    load_slot
        movi    cf, 0
        movi    t1, 0
        stw     t1, [t1 + S_OUT_LEN]
        ldwh    t3, [HCB_FW_STATE]
        shri    t4, ctrl, HCB_CTRL_LUN_SHIFT
        andi    byte, t4, HCB_CTRL_LUN_MASK
        ori     byte, byte, 0x80        ; IDENTIFY
        bs      t3, 9, issue_abort
        bs      t3, 8, issue_sense
        ; Normal command: disconnect privilege unless refused, the queue tag, the CDB.
        bs      ctrl, 18, .nodisc       ; HCB_CTRL_NO_DISCONNECT
        ori     byte, byte, 0x40
.nodisc:
        call    out_append
        shri    t1, ctrl, HCB_CTRL_TAG_SHIFT
        andi    t1, t1, HCB_CTRL_TAG_MASK
        beq     t1, TAG_NONE, .cdb
        movi    byte, 0x20              ; SIMPLE QUEUE TAG
        beq     t1, TAG_SIMPLE, .tag
        movi    byte, 0x22              ; ORDERED QUEUE TAG
        beq     t1, TAG_ORDERED, .tag
        movi    byte, 0x21              ; HEAD OF QUEUE TAG
.tag:   call    out_append
        mov     byte, slot              ; the tag is the slot index
        call    out_append
        ori     cf, cf, CF_TAG          ; taken or not: do_msgout and msg_reject tell
.cdb:   call    neg_start
        mov     t1, slot
        shli    t1, t1, 7
        addi    t1, t1, LAYOUT_HCBS + HCB_CDB
        shri    t3, ctrl, HCB_CTRL_CDB_LEN_SHIFT
        jmp     build_done

; Abort of a disconnected slot: IDENTIFY, its tag, ABORT TASK; no command.
issue_abort:
        ori     cf, cf, CF_ABORT
        ori     byte, byte, 0x40
        call    out_append
        shri    t1, ctrl, HCB_CTRL_TAG_SHIFT
        andi    t1, t1, HCB_CTRL_TAG_MASK
        beq     t1, TAG_NONE, .untagged
        movi    byte, 0x20
        call    out_append
        mov     byte, slot
        call    out_append
.untagged:
        movi    byte, 0x0D              ; ABORT TASK
        call    out_append
        movi    t3, 0
        jmp     build_done

; Autosense: IDENTIFY without disconnect privilege or tag, REQUEST SENSE into the
; HCB's sense area.
issue_sense:
        ori     cf, cf, CF_SENSE
        call    out_append
        ldwh    t1, [HCB_SENSE_LEN]
        andi    t1, t1, 0xFF
        movi    t3, 0
        stb     t1, [t3 + S_SENSE_CDB + 4]
        movi    xoff, 0
        mov     xcnt, t1
        movi    t1, WINDOW_SENSE
        out     IO_WINDOW, t1
        movi    t1, S_SENSE_CDB
        movi    t3, 6
build_done:
        movi    t2, 0
        stw     t1, [t2 + S_CDB_PTR]
        stw     t3, [t2 + S_CDB_LEN]
        movi    w2, 1
        ret

; select_now: arbitrate and select the built slot with ATN.
select_now:
        out     IO_TARGET, tgt
        outi    IO_PCMD, t1, PCMD_SELECT | PCMD_F_ATN
        wait    ev, EV_CMD_DONE
        in      ev, IO_EVENTS
        bs      ev, EV_RESELECTED_BIT, .lost
        bs      ev, EV_SEL_TIMEOUT_BIT, sel_timeout
        bc      ev, EV_CONNECTED_BIT, .lost    ; not connected: try again later
        outi    IO_EV_CLEAR, t1, EV_BUS_FREE | EV_UNEXP_FREE | EV_PARITY_ERR | EV_PHASE_MISMATCH | EV_OFFSET_ERR
        call    arm_timer
        movi    t1, ST_ISSUED
        ldwh    t3, [HCB_FW_STATE]
        andi    t3, t3, ST_SENSE
        or      t1, t3
        stwh    t1, [HCB_FW_STATE]
        jmp     phase_loop
.lost:
        ; A target reselected us before we won the bus: the selection was abandoned.
        ; Retry the slot later (the negotiation is recorded only when answered).
        call    rq_push
        jmp     main

sel_timeout:
        outi    IO_EV_CLEAR, t1, EV_SEL_TIMEOUT | EV_CMD_DONE
        bs      cf, 0, sense_failed
        movi    status, 0
        movi    hst, HBA_STATUS_ABORTED
        bs      cf, 3, complete
        movi    hst, HBA_STATUS_SEL_TIMEOUT
        movi    status, 0
        jmp     complete

        .include "mailbox.s"
        .include "phase.s"
        .include "msgin.s"
        .include "negotiate.s"
        .include "reselect.s"
        .include "complete.s"
        .include "subs.inc"
