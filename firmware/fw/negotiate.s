; Transfer agreement negotiation (WDTR, SDTR). The host's GOAL for a target is compared
; with the last goal we negotiated for (S_NEG_DONE); CURRENT, S_XMODE and XFER_MODE
; follow every answer, and each result is posted as a NEGOTIATED event.

GOAL_MASK = TGT_WIDE | (0xFF << TGT_OFFSET_SHIFT) | TGT_PERIOD_MASK
MIN_PERIOD = 0x0C               ; Fast-20: the fastest period the engine produces

; neg_start (issue): queue WDTR when the width must change, else SDTR when the rate must.
neg_start:
        shli    t1, tgt, 4
        ldw     t3, [t1 + LAYOUT_TARGETS + TGT_GOAL]
        li      t4, GOAL_MASK
        and     t3, t4
        shli    t1, tgt, 2
        ldw     t4, [t1 + S_NEG_DONE]
        beq     t3, t4, .none
        xor     t4, t3
        bc      t4, 16, queue_sdtr_goal
        ori     cf, cf, CF_WDTR
        movi    byte, 0x01
        call    out_append
        movi    byte, 0x02
        call    out_append
        movi    byte, 0x03              ; WDTR
        call    out_append
        call    wide_ability
        mov     byte, t1
        jmp     out_append
.none:  ret

; wide_ability: t1 = 1 when the goal asks for wide and the bus is wide.
wide_ability:
        shli    t1, tgt, 4
        ldw     t1, [t1 + LAYOUT_TARGETS + TGT_GOAL]
        shri    t1, t1, 16
        in      ev, IO_OWN_ID
        shri    ev, ev, 8
        and     t1, ev
        andi    t1, t1, 1
        ret

; goal_sync: t1 = goal period factor, no faster than the engine's fastest real rate
; (Fast-20, factor 0x0C: 50 ns = 5 cycles; a Fast-40 25 ns period does not fit the
; 10 ns grid and its 8 ns assertion times cannot be met, see docs/timing.md), t3 = goal
; offset limited to XMODE_MAX_OFFSET. The answer to a target's SDTR is never faster
; than t1 either: that is the counter-offer.
goal_sync:
        shli    t1, tgt, 4
        ldw     t1, [t1 + LAYOUT_TARGETS + TGT_GOAL]
        shri    t3, t1, TGT_OFFSET_SHIFT
        andi    t3, t3, 0xFF
        andi    t1, t1, TGT_PERIOD_MASK
        bgeu    t1, MIN_PERIOD, .p
        movi    t1, MIN_PERIOD
.p:     bltu    t3, XMODE_MAX_OFFSET + 1, .ok
        movi    t3, XMODE_MAX_OFFSET
.ok:    ret

; neg_follow_sdtr: after the width is settled, ask for the goal's rate if it is sync.
neg_follow_sdtr:
        call    goal_sync
        beq     t3, 0, .none
        movi    t2, 0
        stw     t2, [t2 + S_OUT_LEN]
        jmp     queue_sdtr
.none:  ret

; queue_sdtr_goal: append SDTR with the goal's rate.
queue_sdtr_goal:
        call    goal_sync
; queue_sdtr: append SDTR period t1, offset t3 (kept) and note that we asked.
queue_sdtr:
        ori     cf, cf, CF_SDTR
queue_sdtr_reply:
        movi    byte, 0x01
        call    out_append
        movi    byte, 0x03
        call    out_append
        movi    byte, 0x01              ; SDTR
        call    out_append
        mov     byte, t1
        call    out_append
        mov     byte, t3
        jmp     out_append

; SDTR received (S_EXT: code, period, offset); the last byte is not acknowledged yet.
msg_sdtr:
        ldb     t1, [t3 + S_EXT + 1]
        ldb     msg, [t3 + S_EXT + 2]
        mov     w2, t1                  ; w2 is free while connected
        call    goal_sync               ; t1 = goal period, t3 = goal offset
        mov     t4, t1
        mov     t1, w2
        bc      cf, 2, .answer
        ; The answer to our SDTR: never faster or deeper than we asked.
        andi    cf, cf, ~CF_SDTR & 0xFFFF
        beq     msg, 0, .async
        bltu    t1, t4, .reject
        bltu    t3, msg, .reject
        mov     t3, msg
        call    neg_set_sync
        jmp     msg_ack
.reject:
        movi    t1, 0
        movi    t3, 0
        call    neg_set_sync
        movi    byte, 0x07              ; MESSAGE REJECT: we stay asynchronous
        call    queue_msg1
        jmp     msg_ack
.async: movi    t1, 0
        movi    t3, 0
        call    neg_set_sync
        jmp     msg_ack
.answer:
        ; Target-initiated: answer the slower period and the smaller offset.
        bgeu    t1, t4, .p
        mov     t1, t4
.p:     bltu    t3, msg, .o
        mov     t3, msg
.o:     bne     t3, 0, .sync
        movi    t1, 0
.sync:  mov     w2, t1
        mov     msg, t3
        call    neg_set_sync
        mov     t1, w2
        mov     t3, msg
        movi    t2, 0
        stw     t2, [t2 + S_OUT_LEN]
        call    queue_sdtr_reply
        jmp     msg_ack

; WDTR received (S_EXT: code, exponent).
msg_wdtr:
        ldb     t4, [t3 + S_EXT + 1]
        call    wide_ability
        bne     t4, 0, .w
        movi    t1, 0
.w:     bc      cf, 1, .answer
        andi    cf, cf, ~CF_WDTR & 0xFFFF
        call    neg_set_wide
        call    neg_follow_sdtr
        jmp     msg_ack
.answer:
        mov     msg, t1
        call    neg_set_wide
        movi    t2, 0
        stw     t2, [t2 + S_OUT_LEN]
        movi    byte, 0x01
        call    out_append
        movi    byte, 0x02
        call    out_append
        movi    byte, 0x03
        call    out_append
        mov     byte, msg
        call    out_append
        jmp     msg_ack

; neg_set_sync: agreement period t1, offset t3 (0 = async), width kept.
neg_set_sync:
        bne     t3, 0, .s
        movi    t1, 0
.s:     shli    t4, tgt, 4
        ldw     byte, [t4 + LAYOUT_TARGETS + TGT_CURRENT]
        li      ev, TGT_WIDE
        and     byte, ev
        or      byte, t1
        shli    ev, t3, TGT_OFFSET_SHIFT
        or      byte, ev
        jmp     neg_commit
; neg_set_wide: width t1 (0/1); a width change resets the rate to asynchronous.
neg_set_wide:
        shli    byte, t1, 16
        shli    t4, tgt, 4
; neg_commit: byte = new CURRENT, t4 = tgt*16. Program XFER_MODE, record, post event.
neg_commit:
        stw     byte, [t4 + LAYOUT_TARGETS + TGT_CURRENT]
        andi    t1, byte, TGT_PERIOD_MASK
        shri    t3, byte, TGT_OFFSET_SHIFT
        andi    t3, t3, 0xFF
        call    calc_xmode
        bc      byte, 16, .narrow
        li      ev, XMODE_WIDE
        or      t1, ev
.narrow:
        shli    t3, tgt, 2
        stw     t1, [t3 + S_XMODE]
        out     IO_XFER_MODE, t1
        ldw     t1, [t4 + LAYOUT_TARGETS + TGT_GOAL]
        li      ev, GOAL_MASK
        and     t1, ev
        stw     t1, [t3 + S_NEG_DONE]
        shli    t3, byte, 8             ; period 15:8, offset 23:16, wide 24
        or      t3, tgt
        li      t1, CQE_KIND_NEGOTIATED << CQE_TYPE_SHIFT
        jmp     post_event

; calc_xmode: t1 = period factor, t3 = offset -> t1 = offset | cycles << 8, with
; cycles = ceil(period_ns / 10) at 100 MHz (no divide: subtract in a loop). Factors
; are at least MIN_PERIOD (0x0C), where 4 * factor ns gives the right cycle count
; (0x0C: 48 -> 5 cycles = 50 ns; 0x19: 100 -> 10).
calc_xmode:
        beq     t3, 0, .async
        shli    ev, t1, 2
        movi    t2, 0
.loop:  beq     ev, 0, .done
        addi    t2, t2, 1
        bltu    ev, 10, .done
        subi    ev, ev, 10
        jmp     .loop
.done:  shli    t1, t2, XMODE_PERIOD_SHIFT
        or      t1, t3
        ret
.async: movi    t1, 0
        ret
