; The image baked into the instruction RAM at power-up (built by firmware/build.rs).
;
; Until the protocol firmware exists (issue 5) it is an idle loop: wait for the host's
; mailbox or a bus reset, clear the sticky event bits that woke us, wait again. A freshly
; configured card is quiet on the bus and the watchdog stays fed.

idle:
        wait    r0, EV_HOST | EV_BUS_RESET
        out     IO_EV_CLEAR, r0         ; r0 holds the events word: clears what is set
        jmp     idle
