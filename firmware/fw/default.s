; The image baked into the instruction RAM at power-up (assembled by firmware/build.rs):
; the initiator firmware. Its entry point `init` is at address 0.
        .include "main.s"
