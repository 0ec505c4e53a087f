//! Seeded stress of the firmware: random reads and writes, tagged and untagged, to two
//! targets with short access times, submitted at random moments, so that selections
//! race reselections (a SELECT abandoned for a reselection must be retried). The
//! abandoned-selection path is counted with the sequencer breakpoint. Every completion
//! and every byte is checked; the monitor must stay clean.

use hba_abi::layout::{self, cqe::kind, hcb};
use hba_verif::fwrig::{disk_target, FwRig};
use hba_verif::host::Hcb;
use hba_verif::rig::{pattern, rw10};
use scsi_bus::faults::Prng;
use scsi_bus::target::TargetConfig;
use scsi_bus::Width;

const IDS: [u32; 2] = [0, 5];

fn stress(seed: u64, n: u32) -> u64 {
    eprintln!("seed {seed}");
    let mut rng = Prng::new(seed);
    let mk = |id: u32, s: u64| {
        let mut c = TargetConfig::new(id as u8);
        c.seed = s;
        c.access_cycles = 300 + s % 700;
        c.chunk = if s.is_multiple_of(3) { Some(512) } else { None };
        disk_target(c, 512)
    };
    let mut rig = FwRig::new(Width::Narrow, vec![mk(IDS[0], seed), mk(IDS[1], seed + 11)]);
    rig.set_goal(IDS[1], 0x19, 8, false);
    rig.set_break("select_now.lost");
    let mut lost = 0u64;
    // Each slot owns 8 blocks of its target and a 4 KiB buffer.
    let mut expect: Vec<Option<(u32, Vec<u8>)>> = vec![None; 16];
    let mut shadow = vec![vec![0u8; 512 * 512]; 2];
    let mut done = 0;
    let mut next = 0u32;
    let mut busy = [false; 16];
    let mut outstanding = [0u32; 2];
    let mut untagged_out = [false; 2];
    let mut target_of = [0usize; 16];
    let end = rig.m.cycle() + 2_000_000_000;
    while done < n {
        assert!(rig.m.cycle() < end, "{done} of {n}\n{}", rig.diag(40));
        if rig.probe() {
            lost += 1;
        }
        // Submit at random moments while slots are free.
        if next < n && rng.below(4) == 0 {
            if let Some(slot) = (0..16).find(|&s| !busy[s as usize]) {
                let ti = (rng.below(2)) as usize;
                if untagged_out[ti] {
                    rig.m.idle(100);
                    continue;
                }
                let id = IDS[ti];
                let blocks = 1 + rng.below(8) as u16;
                let len = u32::from(blocks) * 512;
                let lba = slot * 16 + rng.below(8) as u32;
                let buf = layout::DATA + slot * 0x1000;
                let write = rng.below(2) == 0;
                let mut h = if write {
                    let data = pattern(seed as u32 * 1000 + next, len as usize);
                    rig.write_buf(buf, &data);
                    let o = lba as usize * 512;
                    shadow[ti][o..o + len as usize].copy_from_slice(&data);
                    Hcb::new(id, 0, &rw10(0x2A, lba, blocks), buf, len, false)
                } else {
                    rig.write_buf(buf, &vec![0xEE; len as usize]);
                    Hcb::new(id, 0, &rw10(0x28, lba, blocks), buf, len, true)
                };
                // Slots of one target and lun: untagged only when none is outstanding.
                // (untagged only when nothing else is outstanding at that target,
                // and nothing else is sent to it meanwhile: no overlapped commands)
                if outstanding[ti] > 0 || rng.below(4) != 0 {
                    h.ctrl |= 1 << hcb::ctrl::TAG_SHIFT;
                } else {
                    untagged_out[ti] = true;
                }
                outstanding[ti] += 1;
                target_of[slot as usize] = ti;
                expect[slot as usize] = Some((
                    if write {
                        u32::MAX
                    } else {
                        (ti as u32) << 24 | lba
                    },
                    if write { vec![] } else { vec![0; len as usize] },
                ));
                busy[slot as usize] = true;
                rig.submit(&[(slot, h)]);
                next += 1;
            }
        }
        if let Some(e) = rig.host.poll(&mut rig.m).unwrap() {
            if e.kind() == kind::NEGOTIATED {
                continue;
            }
            assert_eq!(e.kind(), kind::COMPLETION, "{e:x?}");
            assert_eq!(
                (e.hba_status(), e.scsi_status(), e.residual()),
                (0, 0, 0),
                "{e:x?}\n{}",
                rig.log(30)
            );
            let slot = e.slot() as usize;
            assert!(busy[slot], "{e:x?}");
            busy[slot] = false;
            outstanding[target_of[slot]] -= 1;
            untagged_out[target_of[slot]] = false;
            let (what, buf) = expect[slot].take().unwrap();
            if what != u32::MAX {
                let ti = (what >> 24) as usize;
                let lba = (what & 0xFF_FFFF) as usize;
                let got = rig.read_buf(layout::DATA + slot as u32 * 0x1000, buf.len());
                assert_eq!(
                    got,
                    shadow[ti][lba * 512..lba * 512 + buf.len()],
                    "slot {slot} read data"
                );
            }
            done += 1;
        } else {
            rig.m.idle(100 + rng.below(400));
        }
    }
    for (ti, id) in IDS.iter().enumerate() {
        assert_eq!(
            rig.disk_blocks(*id as u8, 0, 512),
            shadow[ti],
            "target {id} medium"
        );
    }
    rig.assert_monitor_clean();
    eprintln!("seed {seed}: {n} commands, {lost} selections abandoned for a reselection");
    lost
}

#[test]
fn random_mix_races_selection_against_reselection() {
    let mut lost = 0;
    for seed in [3, 4, 5, 6] {
        lost += stress(seed, 150);
    }
    assert!(lost > 0, "the abandoned-selection path was never exercised");
}
