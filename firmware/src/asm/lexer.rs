//! The lexer: one source line into tokens. `;` starts a comment that runs to the end
//! of the line. Columns are 1-based character positions.

/// A token kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A name: `[A-Za-z_.][A-Za-z0-9_.]*`.
    Ident(String),
    /// A number or character literal.
    Num(i64),
    /// A string literal (`.include "file"`).
    Str(String),
    Comma,
    Colon,
    LBrack,
    RBrack,
    LParen,
    RParen,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Amp,
    Pipe,
    Caret,
    Tilde,
    Shl,
    Shr,
    Eq,
    Hash,
    Dollar,
}

impl Tok {
    /// How the token is shown in messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Num(n) => format!("number {n}"),
            Tok::Str(_) => "a string".into(),
            Tok::Comma => "`,`".into(),
            Tok::Colon => "`:`".into(),
            Tok::LBrack => "`[`".into(),
            Tok::RBrack => "`]`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Plus => "`+`".into(),
            Tok::Minus => "`-`".into(),
            Tok::Star => "`*`".into(),
            Tok::Slash => "`/`".into(),
            Tok::Percent => "`%`".into(),
            Tok::Amp => "`&`".into(),
            Tok::Pipe => "`|`".into(),
            Tok::Caret => "`^`".into(),
            Tok::Tilde => "`~`".into(),
            Tok::Shl => "`<<`".into(),
            Tok::Shr => "`>>`".into(),
            Tok::Eq => "`=`".into(),
            Tok::Hash => "`#`".into(),
            Tok::Dollar => "`$`".into(),
        }
    }
}

/// A token and the column it starts at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub col: u32,
}

/// A lexical error: column and message.
pub(crate) type LexError = (u32, String);

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '.'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

fn col_of(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX - 1).saturating_add(1)
}

/// Splits one line (without its newline) into tokens.
pub(crate) fn lex_line(line: &str) -> Result<Vec<Token>, LexError> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0usize;
    while let Some(&c) = chars.get(i) {
        let col = col_of(i);
        if c == ';' {
            break;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if is_ident_start(c) {
            let start = i;
            while chars.get(i).is_some_and(|&c| is_ident_char(c)) {
                i += 1;
            }
            let s: String = chars.get(start..i).unwrap_or_default().iter().collect();
            out.push(Token {
                tok: Tok::Ident(s),
                col,
            });
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while chars
                .get(i)
                .is_some_and(|&c| c.is_ascii_alphanumeric() || c == '_')
            {
                i += 1;
            }
            let s: String = chars.get(start..i).unwrap_or_default().iter().collect();
            let v = parse_number(&s).map_err(|m| (col, m))?;
            out.push(Token {
                tok: Tok::Num(v),
                col,
            });
            continue;
        }
        if c == '\'' {
            let (v, next) = lex_char(&chars, i)?;
            out.push(Token {
                tok: Tok::Num(v),
                col,
            });
            i = next;
            continue;
        }
        if c == '"' {
            let (s, next) = lex_string(&chars, i)?;
            out.push(Token {
                tok: Tok::Str(s),
                col,
            });
            i = next;
            continue;
        }
        let next = chars.get(i + 1).copied();
        let (tok, len) = match (c, next) {
            ('<', Some('<')) => (Tok::Shl, 2),
            ('>', Some('>')) => (Tok::Shr, 2),
            (',', _) => (Tok::Comma, 1),
            (':', _) => (Tok::Colon, 1),
            ('[', _) => (Tok::LBrack, 1),
            (']', _) => (Tok::RBrack, 1),
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            ('+', _) => (Tok::Plus, 1),
            ('-', _) => (Tok::Minus, 1),
            ('*', _) => (Tok::Star, 1),
            ('/', _) => (Tok::Slash, 1),
            ('%', _) => (Tok::Percent, 1),
            ('&', _) => (Tok::Amp, 1),
            ('|', _) => (Tok::Pipe, 1),
            ('^', _) => (Tok::Caret, 1),
            ('~', _) => (Tok::Tilde, 1),
            ('=', _) => (Tok::Eq, 1),
            ('#', _) => (Tok::Hash, 1),
            ('$', _) => (Tok::Dollar, 1),
            _ => return Err((col, format!("unexpected character {c:?}"))),
        };
        out.push(Token { tok, col });
        i += len;
    }
    Ok(out)
}

/// Parses a numeric literal: decimal, `0x` hex, `0b` binary, `0o` octal; `_` separators.
fn parse_number(s: &str) -> Result<i64, String> {
    let lower = s.to_ascii_lowercase();
    let (digits, radix) = if let Some(d) = lower.strip_prefix("0x") {
        (d, 16)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (d, 2)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (d, 8)
    } else {
        (lower.as_str(), 10)
    };
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() {
        return Err(format!("invalid number `{s}`"));
    }
    let mut v: i64 = 0;
    for c in digits.chars() {
        let d = c
            .to_digit(radix)
            .ok_or_else(|| format!("invalid number `{s}`"))?;
        v = v
            .checked_mul(i64::from(radix))
            .and_then(|v| v.checked_add(i64::from(d)))
            .ok_or_else(|| format!("number `{s}` is too large"))?;
    }
    Ok(v)
}

fn escape(c: char) -> Option<char> {
    Some(match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        '0' => '\0',
        '\\' => '\\',
        '\'' => '\'',
        '"' => '"',
        _ => return None,
    })
}

/// `'c'` or `'\n'`: the character's code point. Returns the value and the next index.
fn lex_char(chars: &[char], start: usize) -> Result<(i64, usize), LexError> {
    let col = col_of(start);
    let mut i = start + 1;
    let c = match chars.get(i) {
        None | Some('\'') => return Err((col, "empty or unterminated character literal".into())),
        Some('\\') => {
            i += 1;
            let e = chars
                .get(i)
                .copied()
                .ok_or((col, "unterminated character literal".to_string()))?;
            escape(e).ok_or((col_of(i), format!("unknown escape `\\{e}`")))?
        }
        Some(&c) => c,
    };
    i += 1;
    if chars.get(i) != Some(&'\'') {
        return Err((col, "unterminated character literal".into()));
    }
    Ok((i64::from(u32::from(c)), i + 1))
}

/// `"..."` with the escapes of [`lex_char`]. Returns the text and the next index.
fn lex_string(chars: &[char], start: usize) -> Result<(String, usize), LexError> {
    let col = col_of(start);
    let mut i = start + 1;
    let mut s = String::new();
    loop {
        match chars.get(i) {
            None => return Err((col, "unterminated string".into())),
            Some('"') => return Ok((s, i + 1)),
            Some('\\') => {
                i += 1;
                let e = chars
                    .get(i)
                    .copied()
                    .ok_or((col, "unterminated string".to_string()))?;
                s.push(escape(e).ok_or((col_of(i), format!("unknown escape `\\{e}`")))?);
            }
            Some(&c) => s.push(c),
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_columns() {
        let t = lex_line("  ldw r1, [r2 + 0x1_0] ; c").unwrap();
        assert_eq!(t[0].col, 3);
        assert_eq!(t.len(), 8);
        assert_eq!(t[6].tok, Tok::Num(16));
        assert_eq!(lex_line("0b101 0o17 'A' '\\n'").unwrap()[..].len(), 4);
        assert_eq!(lex_line("'A'").unwrap()[0].tok, Tok::Num(65));
        assert!(lex_line("0x").is_err());
        assert!(lex_line("99999999999999999999").is_err());
        assert_eq!(lex_line("a ? b").unwrap_err().0, 3);
        assert!(lex_line("\"abc").is_err());
        assert!(lex_line("'").is_err());
    }
}
