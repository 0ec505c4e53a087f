; The minimal initiator program of verif/src/testprog.rs, in assembler source: one
; command at a time, no disconnection, optional SDTR from the per-target goal table,
; autosense left to the host. `tests/asm_programs.rs` checks that it assembles to the
; same words as the builder version.

        .include "testprog_regs.inc"

ERR_OVERRUN = 2                 ; trap code: more data than the buffer holds
.equ ERR_PERIOD, ERR_OVERRUN + 1 ; trap code: a period this program cannot program

idle:
        wait    ev, EV_DOORBELL
        in      t1, IO_SQ_CI
        shli    t2, t1, 2
        ldw     slot, [t2 + LAYOUT_SQ]
        addi    t1, t1, 1
        andi    t1, t1, 0xFF
        out     IO_SQ_CI, t1
        out     IO_SLOT, slot
check_wait:
        in      chk, IO_SLOT_CHECK
        beq     chk, CHECK_BUSY, check_wait
        bne     chk, CHECK_OK, bad_hcb
        ldwh    ctrl, [HCB_CTRL]
        shli    hcb, slot, 7
        addi    hcb, hcb, LAYOUT_HCBS
        movi    xoff, 0
        ldwh    xcnt, [HCB_DATA_LEN]
        movi    cdb_i, 0
        movi    status, 0xFF
        ; The agreement must be in XFER_MODE before a data phase starts.
        movi    xmode, 0
        out     IO_XFER_MODE, xmode
        out     IO_WINDOW, xmode
        andi    t1, ctrl, HCB_CTRL_TARGET_MASK
        out     IO_TARGET, t1
        outi    IO_PCMD, t2, PCMD_SELECT | PCMD_F_ATN
        wait    ev, EV_CMD_DONE | EV_SEL_TIMEOUT
        bs      ev, EV_SEL_TIMEOUT_BIT, sel_timeout
        ; IDENTIFY, no disconnect privilege.
        shri    byte, ctrl, HCB_CTRL_LUN_SHIFT
        andi    byte, byte, HCB_CTRL_LUN_MASK
        ori     byte, byte, 0x80
        ; The host's goal for this target: offset != 0 asks for SDTR.
        andi    t1, ctrl, HCB_CTRL_TARGET_MASK
        shli    t1, t1, 4
        ldw     msg, [t1 + LAYOUT_TARGETS + TGT_GOAL]
        shri    chk, msg, TGT_OFFSET_SHIFT
        andi    chk, chk, 0xFF
        bne     chk, 0, ident_sdtr
        li      t2, PCMD_SEND_BYTE | PCMD_F_LAST
        call    send_byte
        jmp     phase_loop
ident_sdtr:
        li      t2, PCMD_SEND_BYTE
        call    send_byte
        movi    byte, 0x01              ; EXTENDED MESSAGE
        call    send_byte
        movi    byte, 0x03              ; length
        call    send_byte
        movi    byte, 0x01              ; SDTR
        call    send_byte
        andi    byte, msg, TGT_PERIOD_MASK
        call    send_byte
        mov     byte, chk
        li      t2, PCMD_SEND_BYTE | PCMD_F_LAST
        call    send_byte

phase_loop:
        wait    ev, EV_REQ | EV_BUS_FREE
        bs      ev, EV_BUS_FREE_BIT, unexpected_free
        shri    ph, ev, EV_PHASE_SHIFT
        andi    ph, ph, 7
        beq     ph, PHASE_COMMAND, do_cmd
        beq     ph, PHASE_DATA_IN, do_data
        beq     ph, PHASE_DATA_OUT, do_data
        beq     ph, PHASE_STATUS, do_status
        beq     ph, PHASE_MSG_IN, do_msgin
        ; MESSAGE OUT we did not ask for: NO OPERATION.
        movi    byte, 0x08
        li      t2, PCMD_SEND_BYTE | PCMD_F_LAST
        call    send_byte
        jmp     phase_loop

do_cmd:
        mov     t1, hcb
        add     t1, cdb_i
        ldb     byte, [t1 + HCB_CDB]
        addi    cdb_i, cdb_i, 1
        li      t2, PCMD_SEND_BYTE
        call    send_byte
        jmp     phase_loop

do_data:
        beq     xcnt, 0, .overrun
        out     IO_XFER_OFFSET, xoff
        out     IO_XFER_COUNT, xcnt
        outi    IO_PCMD, t2, PCMD_DMA
        wait    ev, EV_CMD_DONE
        in      xoff, IO_XFER_OFFSET
        in      xcnt, IO_XFER_COUNT
        jmp     phase_loop
.overrun:
        trap    ERR_OVERRUN

do_status:
        call    recv
        mov     status, msg
        call    ack
        jmp     phase_loop

do_msgin:
        call    recv
        beq     msg, 0x00, msg_complete
        beq     msg, 0x01, msg_ext
        call    ack
        jmp     phase_loop

msg_complete:
        outi    IO_PCMD, t2, PCMD_EXPECT_FREE
        wait    ev, EV_CMD_DONE
        call    ack
        wait    ev, EV_BUS_FREE
        outi    IO_EV_CLEAR, t1, EV_BUS_FREE | EV_UNEXP_FREE
        movi    t1, HBA_STATUS_OK
        jmp     post

; Extended message: length, code, then (SDTR) period and offset.
msg_ext:
        call    ack
        call    recv                    ; length
        call    ack
        call    recv                    ; code
        call    ack
        call    recv                    ; period
        mov     chk, msg
        call    ack
        call    recv                    ; offset
        mov     xmode, msg
        call    ack
        beq     xmode, 0, phase_loop
        beq     chk, 0x0C, .fast20
        beq     chk, 0x19, .fast10
        trap    ERR_PERIOD
.fast20:
        ori     xmode, xmode, 5 << XMODE_PERIOD_SHIFT
        out     IO_XFER_MODE, xmode
        jmp     phase_loop
.fast10:
        ori     xmode, xmode, 10 << XMODE_PERIOD_SHIFT
        out     IO_XFER_MODE, xmode
        jmp     phase_loop

sel_timeout:
        outi    IO_EV_CLEAR, t1, EV_SEL_TIMEOUT | EV_CMD_DONE
        movi    status, 0
        movi    t1, HBA_STATUS_SEL_TIMEOUT
        jmp     post
unexpected_free:
        outi    IO_EV_CLEAR, t1, EV_BUS_FREE | EV_UNEXP_FREE
        movi    t1, HBA_STATUS_UNEXP_BUS_FREE
        jmp     post
bad_hcb:
        out     IO_CQ_W3, chk
        movi    xcnt, 0
        movi    status, 0
        movi    t1, HBA_STATUS_BAD_HCB
        jmp     post_w3_set

; Post: t1 = HBA status; residual in xcnt, SCSI status in status, slot in slot.
post:
        movi    t2, 0
        out     IO_CQ_W3, t2
post_w3_set:
        out     IO_CQ_W1, xcnt
        movi    t2, 0
        out     IO_CQ_W2, t2
        shli    t1, t1, 16
        shli    t2, status, 8
        or      t1, t2
        or      t1, slot
        li      t2, CQE_KIND_COMPLETION << CQE_TYPE_SHIFT
        or      t1, t2
        out     IO_CQ_POST, t1
        jmp     idle

        .include "sub/testprog_subs.inc"
