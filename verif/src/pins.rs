//! The core's SCSI pins packed as `hba_abi::regs::scsi_bus`, and the conversion to and
//! from the `scsi-bus` model's [`BusSignals`].

use hba_abi::regs::scsi_bus as abi;
use scsi_bus::signals::{ctl, BusSignals};

/// (scsi-bus control bit, packed pin bit) for each control line.
const CTL: [(u16, u32); 9] = [
    (ctl::BSY, abi::BSY),
    (ctl::SEL, abi::SEL),
    (ctl::RST, abi::RST),
    (ctl::ATN, abi::ATN),
    (ctl::ACK, abi::ACK),
    (ctl::REQ, abi::REQ),
    (ctl::MSG, abi::MSG),
    (ctl::CD, abi::CD),
    (ctl::IO, abi::IO),
];

/// Packs a bus value into the core's input layout.
pub fn pack(v: BusSignals) -> u32 {
    let mut w = u32::from(v.data) & abi::DB_MASK;
    w |= (u32::from(v.parity) & 3) << abi::DBP_SHIFT;
    for (c, p) in CTL {
        if v.ctl & c != 0 {
            w |= p;
        }
    }
    w
}

/// Unpacks the core's output enables into what it drives on the bus.
pub fn unpack(w: u32) -> BusSignals {
    let mut ctl_bits = 0u16;
    for (c, p) in CTL {
        if w & p != 0 {
            ctl_bits |= c;
        }
    }
    BusSignals {
        ctl: ctl_bits,
        data: (w & abi::DB_MASK) as u16,
        parity: ((w >> abi::DBP_SHIFT) & 3) as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_and_unpack_are_inverse_for_every_line() {
        for (c, p) in CTL {
            let v = BusSignals {
                ctl: c,
                data: 0,
                parity: 0,
            };
            assert_eq!(pack(v), p);
            assert_eq!(unpack(p), v);
        }
        let v = BusSignals {
            ctl: ctl::PHASE | ctl::REQ,
            data: 0xA55A,
            parity: 2,
        };
        assert_eq!(unpack(pack(v)), v);
        assert_eq!(pack(v) & abi::DB_MASK, 0xA55A);
    }
}
