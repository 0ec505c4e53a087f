//! Sequencer firmware and its assembler (issue 5). Nothing here yet: the sequencer ISA
//! is designed with the HBA core (issue 4).
