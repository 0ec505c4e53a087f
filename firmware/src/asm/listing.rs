//! Outputs besides the image: the listing and the symbol map (with its parser, for
//! `hbactl`, which shows traps and breakpoints as `label+offset`).

use std::fmt::Write as _;

/// One line of the listing: a source line and the words it produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListingLine {
    /// Address of the first word (or of the location counter, for lines without words).
    pub addr: u32,
    /// The words this line produced.
    pub words: Vec<u32>,
    /// Source file name.
    pub file: String,
    /// 1-based line number.
    pub line: u32,
    /// The source text of the line.
    pub text: String,
}

/// Renders a listing: `ADDR  WORD      file:line  source`, one extra row per further
/// word of a multi-word line.
pub fn render_listing(lines: &[ListingLine]) -> String {
    let mut out = String::new();
    for l in lines {
        let at = format!("{}:{}", l.file, l.line);
        match l.words.split_first() {
            None => {
                let _ = writeln!(out, "{:04x}            {at:<16} {}", l.addr, l.text);
            }
            Some((first, rest)) => {
                let _ = writeln!(out, "{:04x}  {first:08x}  {at:<16} {}", l.addr, l.text);
                for (i, w) in rest.iter().enumerate() {
                    let a = l.addr.wrapping_add(1).wrapping_add(i as u32);
                    let _ = writeln!(out, "{a:04x}  {w:08x}");
                }
            }
        }
    }
    out
}

/// Labels by instruction address: `PC -> label`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SymbolMap {
    /// `(address, name)`, sorted by address then name.
    entries: Vec<(u32, String)>,
}

/// A symbol-map line that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("symbol map line {line}: {message}")]
pub struct SymbolMapError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl SymbolMap {
    /// A map from `(address, name)` pairs (any order).
    pub fn new(mut entries: Vec<(u32, String)>) -> Self {
        entries.sort();
        entries.dedup();
        Self { entries }
    }

    /// `(address, name)`, sorted by address then name.
    pub fn entries(&self) -> &[(u32, String)] {
        &self.entries
    }

    /// The address of a label.
    pub fn addr_of(&self, name: &str) -> Option<u32> {
        self.entries
            .iter()
            .find(|(_, n)| n == name)
            .map(|(a, _)| *a)
    }

    /// The text form: one `0xADDR NAME` line per label, sorted.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (a, n) in &self.entries {
            let _ = writeln!(s, "{a:#06x} {n}");
        }
        s
    }

    /// Reads the text form. Blank lines and lines starting with `;` or `#` are skipped;
    /// addresses are hexadecimal, with or without `0x`.
    pub fn parse(text: &str) -> Result<SymbolMap, SymbolMapError> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let l = raw.trim();
            if l.is_empty() || l.starts_with(';') || l.starts_with('#') {
                continue;
            }
            let err = |m: &str| SymbolMapError {
                line: i + 1,
                message: m.to_string(),
            };
            let mut it = l.split_whitespace();
            let (Some(a), Some(n), None) = (it.next(), it.next(), it.next()) else {
                return Err(err("expected `ADDRESS NAME`"));
            };
            let hex = a
                .strip_prefix("0x")
                .or_else(|| a.strip_prefix("0X"))
                .unwrap_or(a);
            let addr =
                u32::from_str_radix(hex, 16).map_err(|_| err(&format!("bad address `{a}`")))?;
            entries.push((addr, n.to_string()));
        }
        Ok(SymbolMap::new(entries))
    }

    /// `label` or `label+offset` for an instruction address, from the nearest label at or
    /// below it (at one address a global label is preferred to a local `x.y` one, then
    /// the first by name); `0x...` when no label is below.
    pub fn describe(&self, pc: u32) -> String {
        let below = self.entries.iter().filter(|(a, _)| *a <= pc);
        let Some(best) = below.map(|(a, _)| *a).max() else {
            return format!("{pc:#x}");
        };
        let at_best = || self.entries.iter().filter(move |(a, _)| *a == best);
        let name = at_best()
            .find(|(_, n)| !n.contains('.'))
            .or_else(|| at_best().next())
            .map(|(_, n)| n.as_str())
            .unwrap_or_default();
        if best == pc {
            name.to_string()
        } else {
            format!("{name}+{}", pc - best)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_map_round_trip_and_describe() {
        let m = SymbolMap::new(vec![
            (4, "loop".into()),
            (0, "start".into()),
            (4, "loop.again".into()),
        ]);
        assert_eq!(m.render(), "0x0000 start\n0x0004 loop\n0x0004 loop.again\n");
        let p = SymbolMap::parse(&m.render()).unwrap();
        assert_eq!(p, m);
        assert_eq!(m.describe(0), "start");
        assert_eq!(m.describe(3), "start+3");
        assert_eq!(m.describe(4), "loop");
        assert_eq!(m.describe(9), "loop+5");
        assert_eq!(SymbolMap::default().describe(7), "0x7");
        assert_eq!(
            SymbolMap::parse("12 a\n\n; c\n0x13 b")
                .unwrap()
                .addr_of("b"),
            Some(0x13)
        );
        assert_eq!(SymbolMap::parse("zz a").unwrap_err().line, 1);
        assert_eq!(SymbolMap::parse("1 a\n1").unwrap_err().line, 2);
    }
}
