//! The parser: one line of tokens into labels and at most one statement.
//!
//! ```text
//! line      := { label ":" } [ statement ]
//! statement := NAME "=" expr
//!            | DIRECTIVE [ arg { "," arg } ]      (DIRECTIVE starts with ".")
//!            | MNEMONIC  [ operand { "," operand } ]
//! operand   := [ "#" ] expr | "[" expr "]" | STRING
//! ```

use super::expr::{parse_expr, Cursor, Expr};
use super::lexer::{Tok, Token};

/// An operand as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Operand {
    /// An expression (possibly a register name); `#` prefixes are accepted and dropped.
    Expr(Expr),
    /// `[ ... ]`: a memory operand.
    Mem(Expr, u32),
    /// A string literal.
    Str(String, u32),
}

impl Operand {
    pub fn col(&self) -> u32 {
        match self {
            Operand::Expr(e) => e.col(),
            Operand::Mem(_, c) | Operand::Str(_, c) => *c,
        }
    }
}

/// A statement: a directive or an instruction (mnemonic lower-cased), or `NAME = expr`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stmt {
    /// `NAME = expr`.
    Assign { name: String, col: u32, expr: Expr },
    /// `.directive args` or `mnemonic operands`: `name` is lower-cased.
    Op {
        name: String,
        col: u32,
        operands: Vec<Operand>,
    },
}

/// A parsed line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Line {
    pub labels: Vec<(String, u32)>,
    pub stmt: Option<Stmt>,
}

/// Parses one line's tokens. `end_col` is the column just past the line.
pub(crate) fn parse_line(toks: &[Token], end_col: u32) -> Result<Line, (u32, String)> {
    let mut c = Cursor::new(toks, end_col);
    let mut line = Line::default();
    // Labels: NAME ":".
    while let (Some(Tok::Ident(name)), Some(Tok::Colon)) = (c.peek(), c.peek_at(1)) {
        line.labels.push((name.clone(), c.col()));
        c.bump();
        c.bump();
    }
    if c.at_end() {
        return Ok(line);
    }
    let col = c.col();
    let Some(Tok::Ident(name)) = c.peek() else {
        return Err(c.expected("a label, directive or instruction"));
    };
    c.bump();
    if c.eat(&Tok::Eq) {
        let expr = parse_expr(&mut c)?;
        if !c.at_end() {
            return Err(c.expected("end of line"));
        }
        line.stmt = Some(Stmt::Assign {
            name: name.clone(),
            col,
            expr,
        });
        return Ok(line);
    }
    let mut operands = Vec::new();
    if !c.at_end() {
        loop {
            operands.push(parse_operand(&mut c)?);
            if c.at_end() {
                break;
            }
            if !c.eat(&Tok::Comma) {
                return Err(c.expected("`,` or end of line"));
            }
        }
    }
    line.stmt = Some(Stmt::Op {
        name: name.to_ascii_lowercase(),
        col,
        operands,
    });
    Ok(line)
}

fn parse_operand(c: &mut Cursor<'_>) -> Result<Operand, (u32, String)> {
    let col = c.col();
    match c.peek() {
        Some(Tok::Str(s)) => {
            let s = s.clone();
            c.bump();
            Ok(Operand::Str(s, col))
        }
        Some(Tok::LBrack) => {
            c.bump();
            let e = parse_expr(c)?;
            if !c.eat(&Tok::RBrack) {
                return Err(c.expected("`]`"));
            }
            Ok(Operand::Mem(e, col))
        }
        Some(Tok::Hash) => {
            c.bump();
            Ok(Operand::Expr(parse_expr(c)?))
        }
        _ => Ok(Operand::Expr(parse_expr(c)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::lex_line;
    use super::*;

    fn p(s: &str) -> Result<Line, (u32, String)> {
        parse_line(&lex_line(s).unwrap(), s.chars().count() as u32 + 1)
    }

    #[test]
    fn shapes() {
        let l = p("a: .b: ldw r1, [r2 + 4]").unwrap();
        assert_eq!(l.labels.len(), 2);
        let Some(Stmt::Op { name, operands, .. }) = l.stmt else {
            panic!()
        };
        assert_eq!(name, "ldw");
        assert!(matches!(operands[1], Operand::Mem(_, 16)));
        assert!(matches!(
            p("X = 1 + 2").unwrap().stmt,
            Some(Stmt::Assign { .. })
        ));
        assert_eq!(p("nop r1 r2").unwrap_err().0, 8);
        assert_eq!(p("ldw r1, [r2").unwrap_err().0, 12);
        assert_eq!(p("").unwrap(), Line::default());
        assert!(p("12").is_err());
    }
}
