//! A picture of a ddrescue map as a PNG (what ddrescueview shows): one cell per slice of
//! the disk, coloured by the worst status in it. The encoder is the minimal valid PNG
//! (8-bit RGB, zlib with stored deflate blocks), a few dozen lines instead of a crate.

use crate::image::{Map, St};

/// Cells across.
pub const WIDTH: u32 = 256;

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

fn chunk(out: &mut Vec<u8>, ty: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut c = ty.to_vec();
    c.extend_from_slice(data);
    out.extend_from_slice(&c);
    out.extend_from_slice(&crc32(&c).to_be_bytes());
}

/// An RGB PNG of `w` x `h` pixels from `rgb` (3 bytes per pixel, rows top-down).
pub fn encode(w: u32, h: u32, rgb: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(rgb.len() + h as usize);
    for row in rgb.chunks(w as usize * 3) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut z = vec![0x78, 0x01];
    let mut blocks = raw.chunks(65535).peekable();
    if blocks.peek().is_none() {
        z.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(b) = blocks.next() {
        z.push(u8::from(blocks.peek().is_none()));
        z.extend_from_slice(&(b.len() as u16).to_le_bytes());
        z.extend_from_slice(&(!(b.len() as u16)).to_le_bytes());
        z.extend_from_slice(b);
    }
    z.extend_from_slice(&adler32(&raw).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn rank(s: St) -> (u8, [u8; 3]) {
    match s {
        St::Finished => (0, [0x20, 0xb0, 0x40]),
        St::NonTried => (1, [0x70, 0x70, 0x70]),
        St::NonTrimmed => (2, [0xe0, 0xc0, 0x20]),
        St::NonScraped => (3, [0x30, 0x60, 0xe0]),
        St::Bad => (4, [0xe0, 0x20, 0x20]),
    }
}

/// The map as a PNG: `WIDTH` cells a row, as many rows as needed for at most one cell
/// per block (and at most 256 rows); green rescued, red bad, yellow non-trimmed, blue
/// non-scraped, grey non-tried.
pub fn map_png(m: &Map, block: u64) -> Vec<u8> {
    let size = m.size().max(1);
    let blocks = size.div_ceil(block.max(1));
    let rows = blocks.div_ceil(u64::from(WIDTH)).clamp(1, 256) as u32;
    let cells = u64::from(WIDTH * rows);
    let per = size.div_ceil(cells);
    let mut rgb = vec![0xffu8; (cells * 3) as usize];
    let mut worst = vec![None::<u8>; cells as usize];
    for &(p, z, s) in &m.areas {
        let (r, _) = rank(s);
        let first = p / per;
        let last = ((p + z - 1) / per).min(cells - 1);
        for c in first..=last {
            let w = &mut worst[c as usize];
            if w.is_none_or(|x| r > x) {
                *w = Some(r);
            }
        }
    }
    let by_rank = [
        St::Finished,
        St::NonTried,
        St::NonTrimmed,
        St::NonScraped,
        St::Bad,
    ];
    for (i, w) in worst.iter().enumerate() {
        if let Some(r) = w {
            rgb[i * 3..i * 3 + 3].copy_from_slice(&rank(by_rank[*r as usize]).1);
        }
    }
    encode(WIDTH, rows, &rgb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_adler_match_the_references() {
        // Known values: CRC-32 of "IEND" and Adler-32 of "Wikipedia".
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn a_map_picture_has_one_red_cell_per_bad_slice() {
        let mut m = Map::new(512 * 512);
        m.set(100 * 512, 4 * 512, St::Bad);
        m.set(0, 100 * 512, St::Finished);
        let png = map_png(&m, 512);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // 512 blocks: 2 rows of 256 cells, one block each.
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 256);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 2);
        // Stored blocks: the pixels are readable in place after the zlib/block headers.
        let idat = png.windows(4).position(|w| w == b"IDAT").unwrap() + 4;
        let raw = &png[idat + 2 + 5..];
        let px = |i: usize| {
            let row = i / 256;
            let o = row * (1 + 256 * 3) + 1 + (i % 256) * 3;
            [raw[o], raw[o + 1], raw[o + 2]]
        };
        assert_eq!(px(99), [0x20, 0xb0, 0x40]);
        for i in 100..104 {
            assert_eq!(px(i), [0xe0, 0x20, 0x20], "cell {i}");
        }
        assert_eq!(px(104), [0x70, 0x70, 0x70]);
    }
}
