//! Expressions: the AST, a precedence-climbing parser over a line's tokens, and the
//! evaluator (64-bit signed, every overflow and division by zero an error).

use super::lexer::{Tok, Token};

/// Most operators and operands one expression may hold (bounds recursion everywhere).
pub(crate) const MAX_NODES: usize = 256;
/// Deepest nesting of symbol references and operators while evaluating.
pub(crate) const MAX_EVAL_DEPTH: u32 = 512;

/// Binary operators, C precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Mul,
    Div,
    Rem,
    Add,
    Sub,
    Shl,
    Shr,
    And,
    Xor,
    Or,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnOp {
    Neg,
    Not,
    Plus,
}

/// An expression; `col` is where the node starts (or the operator, for binaries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expr {
    Num(i64, u32),
    Sym(String, u32),
    Here(u32),
    Unary(UnOp, Box<Expr>, u32),
    Binary(BinOp, Box<Expr>, Box<Expr>, u32),
}

impl Expr {
    /// The column the expression starts at.
    pub fn col(&self) -> u32 {
        match self {
            Expr::Num(_, c) | Expr::Sym(_, c) | Expr::Here(c) | Expr::Unary(_, _, c) => *c,
            Expr::Binary(_, l, _, _) => l.col(),
        }
    }
}

/// A token cursor over one line.
pub(crate) struct Cursor<'a> {
    pub toks: &'a [Token],
    pub pos: usize,
    /// Column just past the line, for "expected ... at end of line".
    pub end_col: u32,
}

impl<'a> Cursor<'a> {
    pub fn new(toks: &'a [Token], end_col: u32) -> Self {
        Self {
            toks,
            pos: 0,
            end_col,
        }
    }
    pub fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }
    pub fn peek_at(&self, k: usize) -> Option<&'a Tok> {
        self.toks.get(self.pos + k).map(|t| &t.tok)
    }
    pub fn col(&self) -> u32 {
        self.toks.get(self.pos).map_or(self.end_col, |t| t.col)
    }
    pub fn bump(&mut self) -> Option<&'a Token> {
        let t = self.toks.get(self.pos);
        if t.is_some() {
            self.pos += 1;
        }
        t
    }
    pub fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == Some(tok) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    pub fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }
    /// "expected X, found Y" at the current token.
    pub fn expected(&self, what: &str) -> (u32, String) {
        let found = self
            .peek()
            .map_or_else(|| "end of line".to_string(), Tok::describe);
        (self.col(), format!("expected {what}, found {found}"))
    }
}

/// Parses one expression at the cursor.
pub(crate) fn parse_expr(c: &mut Cursor<'_>) -> Result<Expr, (u32, String)> {
    let mut nodes = 0usize;
    parse_bin(c, 0, &mut nodes)
}

const LEVELS: &[&[(Tok, BinOp)]] = &[
    &[(Tok::Pipe, BinOp::Or)],
    &[(Tok::Caret, BinOp::Xor)],
    &[(Tok::Amp, BinOp::And)],
    &[(Tok::Shl, BinOp::Shl), (Tok::Shr, BinOp::Shr)],
    &[(Tok::Plus, BinOp::Add), (Tok::Minus, BinOp::Sub)],
    &[
        (Tok::Star, BinOp::Mul),
        (Tok::Slash, BinOp::Div),
        (Tok::Percent, BinOp::Rem),
    ],
];

fn count(c: &Cursor<'_>, nodes: &mut usize) -> Result<(), (u32, String)> {
    *nodes += 1;
    if *nodes > MAX_NODES {
        Err((
            c.col(),
            format!("expression too complex (more than {MAX_NODES} terms and operators)"),
        ))
    } else {
        Ok(())
    }
}

fn parse_bin(c: &mut Cursor<'_>, level: usize, nodes: &mut usize) -> Result<Expr, (u32, String)> {
    let Some(ops) = LEVELS.get(level) else {
        return parse_unary(c, nodes);
    };
    let mut lhs = parse_bin(c, level + 1, nodes)?;
    'outer: loop {
        for (tok, op) in ops.iter() {
            if c.peek() == Some(tok) {
                let col = c.col();
                count(c, nodes)?;
                c.bump();
                let rhs = parse_bin(c, level + 1, nodes)?;
                lhs = Expr::Binary(*op, Box::new(lhs), Box::new(rhs), col);
                continue 'outer;
            }
        }
        return Ok(lhs);
    }
}

fn parse_unary(c: &mut Cursor<'_>, nodes: &mut usize) -> Result<Expr, (u32, String)> {
    count(c, nodes)?;
    let col = c.col();
    let op = match c.peek() {
        Some(Tok::Minus) => Some(UnOp::Neg),
        Some(Tok::Tilde) => Some(UnOp::Not),
        Some(Tok::Plus) => Some(UnOp::Plus),
        _ => None,
    };
    if let Some(op) = op {
        c.bump();
        let e = parse_unary(c, nodes)?;
        return Ok(Expr::Unary(op, Box::new(e), col));
    }
    match c.peek() {
        Some(Tok::Num(n)) => {
            let n = *n;
            c.bump();
            Ok(Expr::Num(n, col))
        }
        Some(Tok::Ident(s)) => {
            let s = s.clone();
            c.bump();
            Ok(Expr::Sym(s, col))
        }
        Some(Tok::Dollar) => {
            c.bump();
            Ok(Expr::Here(col))
        }
        Some(Tok::LParen) => {
            c.bump();
            let e = parse_bin(c, 0, nodes)?;
            if !c.eat(&Tok::RParen) {
                return Err(c.expected("`)`"));
            }
            Ok(e)
        }
        _ => Err(c.expected("an expression")),
    }
}

/// Why an evaluation did not produce a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum EvalError {
    /// A symbol not defined (yet, in the first pass).
    Undefined(String, u32),
    /// An error at this column.
    At(u32, String),
    /// A symbol whose own definition failed (already reported there).
    Poisoned,
}

/// Where names get their values.
pub(crate) trait Env {
    /// The value of `name` (already scope-qualified by the caller if local).
    fn lookup(&mut self, name: &str, col: u32, depth: u32) -> Result<i64, EvalError>;
    /// The address of the statement being evaluated (`$`).
    fn here(&self) -> i64;
}

fn ov(col: u32, what: &str) -> EvalError {
    EvalError::At(col, format!("arithmetic overflow in {what}"))
}

/// Evaluates `e`; `depth` counts the nesting so far (symbol references included).
pub(crate) fn eval(e: &Expr, env: &mut dyn Env, depth: u32) -> Result<i64, EvalError> {
    if depth > MAX_EVAL_DEPTH {
        return Err(EvalError::At(
            e.col(),
            format!("expression nested too deeply (more than {MAX_EVAL_DEPTH} levels through its symbols)"),
        ));
    }
    match e {
        Expr::Num(n, _) => Ok(*n),
        Expr::Here(_) => Ok(env.here()),
        Expr::Sym(s, col) => env.lookup(s, *col, depth + 1),
        Expr::Unary(op, x, col) => {
            let v = eval(x, env, depth + 1)?;
            match op {
                UnOp::Neg => v.checked_neg().ok_or_else(|| ov(*col, "negation")),
                UnOp::Not => Ok(!v),
                UnOp::Plus => Ok(v),
            }
        }
        Expr::Binary(op, l, r, col) => {
            let a = eval(l, env, depth + 1)?;
            let b = eval(r, env, depth + 1)?;
            let col = *col;
            match op {
                BinOp::Add => a.checked_add(b).ok_or_else(|| ov(col, "addition")),
                BinOp::Sub => a.checked_sub(b).ok_or_else(|| ov(col, "subtraction")),
                BinOp::Mul => a.checked_mul(b).ok_or_else(|| ov(col, "multiplication")),
                BinOp::Div | BinOp::Rem if b == 0 => {
                    Err(EvalError::At(col, "division by zero".into()))
                }
                BinOp::Div => a.checked_div(b).ok_or_else(|| ov(col, "division")),
                BinOp::Rem => a.checked_rem(b).ok_or_else(|| ov(col, "remainder")),
                BinOp::And => Ok(a & b),
                BinOp::Or => Ok(a | b),
                BinOp::Xor => Ok(a ^ b),
                BinOp::Shl | BinOp::Shr => {
                    let n = u32::try_from(b).ok().filter(|&n| n < 64).ok_or_else(|| {
                        EvalError::At(col, format!("shift amount {b} is not in 0..=63"))
                    })?;
                    if *op == BinOp::Shr {
                        Ok(a >> n)
                    } else {
                        let r = a.checked_shl(n).ok_or_else(|| ov(col, "shift"))?;
                        if r >> n != a {
                            Err(ov(col, "shift"))
                        } else {
                            Ok(r)
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::lex_line;
    use super::*;

    struct NoSyms;
    impl Env for NoSyms {
        fn lookup(&mut self, name: &str, col: u32, _: u32) -> Result<i64, EvalError> {
            Err(EvalError::Undefined(name.into(), col))
        }
        fn here(&self) -> i64 {
            7
        }
    }

    fn ev(s: &str) -> Result<i64, EvalError> {
        let t = lex_line(s).unwrap();
        let mut c = Cursor::new(&t, 99);
        let e = parse_expr(&mut c).map_err(|(c, m)| EvalError::At(c, m))?;
        assert!(c.at_end(), "{s}");
        eval(&e, &mut NoSyms, 0)
    }

    #[test]
    fn precedence_and_errors() {
        assert_eq!(ev("1 + 2 * 3"), Ok(7));
        assert_eq!(ev("(1 + 2) * 3"), Ok(9));
        assert_eq!(ev("1 << 4 + 1"), Ok(32));
        assert_eq!(ev("0xF0 | 0x0F & 0x3"), Ok(0xF3));
        assert_eq!(ev("-1"), Ok(-1));
        assert_eq!(ev("~0 & 0xFF"), Ok(0xFF));
        assert_eq!(ev("7 % 3 ^ 1"), Ok(0));
        assert_eq!(ev("$ + 1"), Ok(8));
        assert_eq!(ev("-7 / 2"), Ok(-3));
        assert_eq!(
            ev("1 / 0"),
            Err(EvalError::At(3, "division by zero".into()))
        );
        assert!(matches!(ev("1 << 64"), Err(EvalError::At(3, _))));
        assert!(matches!(ev("1 << 63"), Err(EvalError::At(3, _))));
        assert!(matches!(
            ev("0x7FFFFFFFFFFFFFFF + 1"),
            Err(EvalError::At(20, _))
        ));
        assert_eq!(ev("FOO"), Err(EvalError::Undefined("FOO".into(), 1)));
    }
}
