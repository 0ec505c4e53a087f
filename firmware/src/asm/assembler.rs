//! The two passes. Loading parses every line and expands `.include`s in place; pass 1
//! assigns addresses (labels, `.org`, `.align`, instruction sizes) and checks operand
//! shapes; pass 2 evaluates every expression with all symbols known and encodes.

use super::encoder::{self, Form, Kind, Rhs};
use super::error::{AsmError, Loc};
use super::expr::{eval, BinOp, Env, EvalError, Expr, UnOp};
use super::lexer::lex_line;
use super::listing::{ListingLine, SymbolMap};
use super::parser::{parse_line, Line, Operand, Stmt};
use super::source::{Resolver, Source};
use super::symbols::{qualify, register_number, Def, EquState, Symbol, Symbols};
use hba_abi::isa::{cond, IRAM_WORDS};
use hba_abi::layout::HCB_BYTES;

/// Deepest `.include` nesting.
pub(crate) const MAX_INCLUDE_DEPTH: usize = 32;
/// Most source lines (all files together) one assembly reads.
pub(crate) const MAX_LINES: usize = 1_000_000;

/// A loaded file.
struct File {
    name: String,
}

/// A source line after parsing.
struct SrcLine {
    loc: Loc,
    text: String,
    parsed: Option<Line>,
}

/// A resolved operand.
#[derive(Clone, Debug)]
enum Op {
    Reg(u32),
    Expr(Expr),
    /// `[rs + off]` / `[off]`: base register and the offset with the register replaced by 0.
    Mem(Option<u32>, Expr),
}

enum ItemKind {
    Insn(Form, Vec<Op>),
    Word(Expr),
}

/// Something that occupies words, found by pass 1.
struct Item {
    line: usize,
    addr: u32,
    /// `$`: the address of the statement's first word.
    here: u32,
    size: u32,
    scope: String,
    kind: ItemKind,
}

/// The assembler's result before it is packaged.
pub(crate) struct Output {
    pub words: Vec<u32>,
    pub labels: SymbolMap,
    pub listing: Vec<ListingLine>,
}

/// Errors with the index of the line they belong to (for ordering).
type Errs = Vec<(usize, AsmError)>;

struct Asm<'r> {
    resolver: &'r mut dyn Resolver,
    files: Vec<File>,
    lines: Vec<SrcLine>,
    errors: Errs,
    syms: Symbols,
    /// `.equ` definitions in source order: name and line.
    equs: Vec<(String, usize)>,
    labels: Vec<(u32, String)>,
    items: Vec<Item>,
    /// Location counter at the start of each line.
    line_addr: Vec<u32>,
    overflow_reported: bool,
}

/// Assembles `top` (its name and text).
/// `files` receives the file names (indexed by `Loc::file`), also on error.
pub(crate) fn assemble(
    top: Source,
    resolver: &mut dyn Resolver,
    files: &mut Vec<String>,
) -> Result<Output, Errs> {
    let mut a = Asm {
        resolver,
        files: Vec::new(),
        lines: Vec::new(),
        errors: Vec::new(),
        syms: Symbols::new(),
        equs: Vec::new(),
        labels: Vec::new(),
        items: Vec::new(),
        line_addr: Vec::new(),
        overflow_reported: false,
    };
    let key = a.resolver.key(&top.name);
    let mut chain = vec![(key, top.name.clone(), None)];
    a.load(top, &mut chain);
    a.pass1();
    let out = a.pass2();
    *files = a.files.iter().map(|f| f.name.clone()).collect();
    if a.errors.is_empty() {
        Ok(out)
    } else {
        let mut e = a.errors;
        e.sort_by_key(|(i, _)| *i);
        Err(e)
    }
}

fn u32_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Asm<'_> {
    fn err(&mut self, line: usize, col: u32, msg: impl Into<String>) {
        let loc = self
            .lines
            .get(line)
            .map(|l| Loc { col, ..l.loc })
            .unwrap_or_default();
        self.errors.push((line, AsmError::new(loc, msg)));
    }

    fn at(&self, loc: Loc) -> String {
        let f = self
            .files
            .get(loc.file as usize)
            .map_or("?", |f| f.name.as_str());
        format!("{f}:{}:{}", loc.line, loc.col)
    }

    /// Parses a file's lines into `self.lines`, expanding includes. `chain` holds the
    /// files being included (key, name, the include's location).
    fn load(&mut self, src: Source, chain: &mut Vec<(String, String, Option<Loc>)>) {
        let file = u32_of(self.files.len());
        self.files.push(File {
            name: src.name.clone(),
        });
        for (i, text) in src.text.lines().enumerate() {
            let idx = self.lines.len();
            if idx >= MAX_LINES {
                let loc = Loc {
                    file,
                    line: u32_of(i + 1),
                    col: 1,
                };
                self.errors.push((
                    idx,
                    AsmError::new(loc, format!("more than {MAX_LINES} source lines")),
                ));
                return;
            }
            let loc = Loc {
                file,
                line: u32_of(i + 1),
                col: 1,
            };
            let end_col = u32_of(text.chars().count() + 1);
            let parsed = lex_line(text).and_then(|t| parse_line(&t, end_col));
            let parsed = match parsed {
                Ok(l) => Some(l),
                Err((col, msg)) => {
                    self.errors
                        .push((idx, AsmError::new(Loc { col, ..loc }, msg)));
                    None
                }
            };
            let include = match &parsed {
                Some(Line {
                    stmt:
                        Some(Stmt::Op {
                            name,
                            col,
                            operands,
                        }),
                    ..
                }) if name == ".include" => Some((*col, operands.clone())),
                _ => None,
            };
            self.lines.push(SrcLine {
                loc,
                text: text.to_string(),
                parsed,
            });
            if let Some((col, operands)) = include {
                self.include(idx, col, &operands, &src.name, chain);
            }
        }
    }

    fn include(
        &mut self,
        idx: usize,
        col: u32,
        operands: &[Operand],
        from: &str,
        chain: &mut Vec<(String, String, Option<Loc>)>,
    ) {
        let [Operand::Str(name, scol)] = operands else {
            self.err(idx, col, "`.include` takes one string: .include \"file\"");
            return;
        };
        let scol = *scol;
        if chain.len() > MAX_INCLUDE_DEPTH {
            self.err(
                idx,
                scol,
                format!("includes nested deeper than {MAX_INCLUDE_DEPTH}"),
            );
            return;
        }
        let src = match self.resolver.resolve(from, name) {
            Ok(s) => s,
            Err(m) => {
                self.err(idx, scol, m);
                return;
            }
        };
        let key = self.resolver.key(&src.name);
        let here = self
            .lines
            .get(idx)
            .map(|l| Loc { col: scol, ..l.loc })
            .unwrap_or_default();
        if let Some(pos) = chain.iter().position(|(k, _, _)| *k == key) {
            let mut names: Vec<&str> = chain
                .get(pos..)
                .unwrap_or_default()
                .iter()
                .map(|(_, n, _)| n.as_str())
                .collect();
            names.push(&src.name);
            let mut e = AsmError::new(here, format!("include cycle: {}", names.join(" -> ")));
            for (_, _, site) in chain.iter().rev() {
                if let Some(site) = site {
                    e = e.note(format!("included from {}", self.at(*site)));
                }
            }
            self.errors.push((idx, e));
            return;
        }
        chain.push((key, src.name.clone(), Some(here)));
        self.load(src, chain);
        chain.pop();
    }

    // ---------------------------------------------------------------- pass 1

    fn pass1(&mut self) {
        let mut pc: u32 = 0;
        let mut scope = String::new();
        for idx in 0..self.lines.len() {
            self.line_addr.push(pc);
            let Some(line) = self.lines.get(idx).and_then(|l| l.parsed.clone()) else {
                continue;
            };
            for (name, col) in &line.labels {
                let full = if name.starts_with('.') {
                    format!("{scope}{name}")
                } else {
                    if name.contains('.') {
                        self.err(
                            idx,
                            *col,
                            format!("`.` may only start a (local) label name: `{name}`"),
                        );
                        continue;
                    }
                    scope = name.clone();
                    name.clone()
                };
                if self.check_new_name(idx, *col, &full) {
                    self.define(&full, Def::Label(pc), idx, *col);
                    self.labels.push((pc, full));
                }
            }
            let Some(stmt) = line.stmt else {
                continue;
            };
            match stmt {
                Stmt::Assign { name, col, expr } => self.equ(idx, col, &name, expr, &scope, pc),
                Stmt::Op {
                    name,
                    col,
                    operands,
                } => {
                    if name.starts_with('.') {
                        self.directive(idx, col, &name, operands, &scope, &mut pc);
                    } else {
                        self.instruction(idx, col, &name, operands, &scope, &mut pc);
                    }
                }
            }
        }
    }

    /// Checks that `name` may be defined; reports why not.
    fn check_new_name(&mut self, idx: usize, col: u32, name: &str) -> bool {
        if register_number(name).is_some() {
            self.err(idx, col, format!("`{name}` is a register name"));
            return false;
        }
        if let Some((_, loc)) = self.syms.aliases.get(name) {
            let at = self.at(*loc);
            self.err(
                idx,
                col,
                format!("`{name}` is already a register alias (defined at {at})"),
            );
            return false;
        }
        match self.syms.map.get(name) {
            None => true,
            Some(Symbol { loc: None, .. }) => {
                self.err(
                    idx,
                    col,
                    format!("`{name}` is a predefined ABI symbol and cannot be redefined"),
                );
                false
            }
            Some(Symbol { loc: Some(l), .. }) => {
                let at = self.at(*l);
                self.err(idx, col, format!("`{name}` is already defined"));
                if let Some((_, e)) = self.errors.last_mut() {
                    e.notes.push(format!("previous definition at {at}"));
                }
                false
            }
        }
    }

    fn define(&mut self, name: &str, def: Def, idx: usize, col: u32) {
        let loc = self
            .lines
            .get(idx)
            .map(|l| Loc { col, ..l.loc })
            .unwrap_or_default();
        self.syms.map.insert(
            name.to_string(),
            Symbol {
                def,
                loc: Some(loc),
            },
        );
    }

    fn equ(&mut self, idx: usize, col: u32, name: &str, expr: Expr, scope: &str, pc: u32) {
        if name.contains('.') {
            self.err(
                idx,
                col,
                format!("constant names may not contain `.`: `{name}`"),
            );
            return;
        }
        if self.check_new_name(idx, col, name) {
            let def = Def::Equ {
                expr,
                scope: scope.to_string(),
                here: i64::from(pc),
                state: EquState::Pending,
            };
            self.define(name, def, idx, col);
            self.equs.push((name.to_string(), idx));
        }
    }

    /// Evaluates in pass 1: `None` when not computable yet (or in error; pass 2 reports).
    fn eval1(&mut self, e: &Expr, scope: &str, pc: u32) -> Option<i64> {
        let mut ctx = Ctx {
            syms: &mut self.syms,
            scope: scope.to_string(),
            here: i64::from(pc),
            fin: None,
        };
        eval(e, &mut ctx, 0).ok()
    }

    fn directive(
        &mut self,
        idx: usize,
        col: u32,
        name: &str,
        ops: Vec<Operand>,
        scope: &str,
        pc: &mut u32,
    ) {
        match name {
            ".include" => {}
            ".equ" | ".set" => match ops.as_slice() {
                [Operand::Expr(Expr::Sym(n, ncol)), Operand::Expr(e)] => {
                    self.equ(idx, *ncol, n, e.clone(), scope, *pc);
                }
                _ => self.err(
                    idx,
                    col,
                    format!("`{name}` takes a name and a value: {name} NAME, expr"),
                ),
            },
            ".reg" => match ops.as_slice() {
                [Operand::Expr(Expr::Sym(n, ncol)), Operand::Expr(Expr::Sym(r, rcol))] => {
                    let Some(reg) = self.syms.register(r) else {
                        self.err(idx, *rcol, format!("expected a register, found `{r}`"));
                        return;
                    };
                    if n.contains('.') || register_number(n).is_some() {
                        self.err(idx, *ncol, format!("`{n}` cannot be a register alias"));
                        return;
                    }
                    if let Some(s) = self.syms.map.get(n) {
                        let what = if s.loc.is_some() {
                            "a symbol"
                        } else {
                            "a predefined ABI symbol"
                        };
                        self.err(idx, *ncol, format!("`{n}` is already {what}"));
                        return;
                    }
                    let loc = self
                        .lines
                        .get(idx)
                        .map(|l| Loc {
                            col: *ncol,
                            ..l.loc
                        })
                        .unwrap_or_default();
                    self.syms.aliases.insert(n.clone(), (reg, loc));
                }
                _ => self.err(
                    idx,
                    col,
                    "`.reg` takes an alias and a register: .reg NAME, rN",
                ),
            },
            ".word" => {
                if ops.is_empty() {
                    self.err(idx, col, "`.word` needs at least one value");
                }
                let here = *pc;
                for o in ops {
                    match self.operand(idx, o, Kind::Imm) {
                        Some(Op::Expr(e)) => {
                            self.push_item(idx, pc, here, 1, scope, ItemKind::Word(e));
                        }
                        _ => *pc = pc.saturating_add(1),
                    }
                }
            }
            ".org" | ".align" => {
                let [Operand::Expr(e)] = ops.as_slice() else {
                    self.err(idx, col, format!("`{name}` takes one value"));
                    return;
                };
                let ecol = e.col();
                let Some(v) = self.eval1(e, scope, *pc) else {
                    self.err(
                        idx,
                        ecol,
                        format!("the value of `{name}` must be computable here (no forward references, no errors)"),
                    );
                    return;
                };
                let limit = i64::from(IRAM_WORDS);
                if name == ".org" {
                    if v < i64::from(*pc) || v > limit {
                        self.err(
                            idx,
                            ecol,
                            format!(
                                "`.org {v}` must be between the current address {} and {limit}",
                                *pc
                            ),
                        );
                    } else {
                        *pc = u32::try_from(v).unwrap_or(*pc);
                    }
                } else if v <= 0 || v > limit || (v & (v - 1)) != 0 {
                    self.err(
                        idx,
                        ecol,
                        format!("`.align {v}` must be a power of two up to {limit}"),
                    );
                } else {
                    let a = u32::try_from(v).unwrap_or(1);
                    *pc = pc.saturating_add(a - 1) / a * a;
                }
            }
            _ => self.err(idx, col, format!("unknown directive `{name}`")),
        }
    }

    fn push_item(
        &mut self,
        idx: usize,
        pc: &mut u32,
        here: u32,
        size: u32,
        scope: &str,
        kind: ItemKind,
    ) {
        let end = pc.saturating_add(size);
        if end > IRAM_WORDS && !self.overflow_reported {
            self.overflow_reported = true;
            self.err(
                idx,
                1,
                format!(
                    "program does not fit the instruction RAM: this line ends at word {end}, the RAM holds {IRAM_WORDS}"
                ),
            );
        }
        self.items.push(Item {
            line: idx,
            addr: *pc,
            here,
            size,
            scope: scope.to_string(),
            kind,
        });
        *pc = end;
    }

    /// Checks an operand against the kind wanted.
    fn operand(&mut self, idx: usize, o: Operand, kind: Kind) -> Option<Op> {
        let col = o.col();
        let reg = |s: &Symbols, o: &Operand| match o {
            Operand::Expr(Expr::Sym(n, _)) => s.register(n),
            _ => None,
        };
        let r = reg(&self.syms, &o);
        match (kind, o) {
            (Kind::Reg | Kind::RegOrImm, _) if r.is_some() => r.map(Op::Reg),
            (Kind::Reg, o) => {
                let found = match &o {
                    Operand::Expr(Expr::Sym(n, _)) => format!("`{n}`"),
                    Operand::Expr(_) => "an expression".into(),
                    Operand::Mem(..) => "a memory operand".into(),
                    Operand::Str(..) => "a string".into(),
                };
                self.err(
                    idx,
                    col,
                    format!("expected a register (r0..r15 or a .reg alias), found {found}"),
                );
                None
            }
            (Kind::Imm, Operand::Expr(Expr::Sym(n, _))) if r.is_some() => {
                self.err(idx, col, format!("expected a value, found register `{n}`"));
                None
            }
            (Kind::Imm | Kind::RegOrImm, Operand::Expr(e)) => Some(Op::Expr(e)),
            (Kind::MemRel | Kind::MemAbs, Operand::Mem(e, _)) => {
                let mut regs = Vec::new();
                let off = self.strip_regs(e, true, &mut regs);
                let bad = regs.iter().any(|(_, ok)| !ok);
                match (kind, regs.as_slice()) {
                    _ if bad => {
                        self.err(
                            idx,
                            col,
                            "a register in a memory operand must be added: [rs + offset]",
                        );
                        None
                    }
                    (Kind::MemRel, [(r, _)]) => Some(Op::Mem(Some(*r), off)),
                    (Kind::MemRel, []) => {
                        self.err(idx, col, "expected a base register: [rs + offset]");
                        None
                    }
                    (Kind::MemAbs, []) => Some(Op::Mem(None, off)),
                    (Kind::MemAbs, _) => {
                        self.err(idx, col, "HCB-relative accesses take no register: [offset]");
                        None
                    }
                    _ => {
                        self.err(idx, col, "more than one register in a memory operand");
                        None
                    }
                }
            }
            (Kind::MemRel | Kind::MemAbs, _) => {
                let what = if kind == Kind::MemRel {
                    "[rs + offset]"
                } else {
                    "[offset]"
                };
                self.err(idx, col, format!("expected a memory operand {what}"));
                None
            }
            (_, Operand::Mem(..)) => {
                self.err(idx, col, "unexpected memory operand");
                None
            }
            (_, Operand::Str(..)) => {
                self.err(idx, col, "unexpected string");
                None
            }
        }
    }

    /// Replaces registers in `e` by 0, collecting them with whether they are added
    /// terms (`positive` and on the `+`/`-` spine).
    fn strip_regs(&self, e: Expr, positive: bool, regs: &mut Vec<(u32, bool)>) -> Expr {
        match e {
            Expr::Sym(n, col) => match self.syms.register(&n) {
                Some(r) => {
                    regs.push((r, positive));
                    Expr::Num(0, col)
                }
                None => Expr::Sym(n, col),
            },
            Expr::Binary(op, l, r, col) => {
                let (lp, rp) = match op {
                    BinOp::Add => (positive, positive),
                    BinOp::Sub => (positive, false),
                    _ => (false, false),
                };
                let l = self.strip_regs(*l, lp, regs);
                let r = self.strip_regs(*r, rp, regs);
                Expr::Binary(op, Box::new(l), Box::new(r), col)
            }
            Expr::Unary(op, x, col) => {
                let p = positive && op == UnOp::Plus;
                Expr::Unary(op, Box::new(self.strip_regs(*x, p, regs)), col)
            }
            other => other,
        }
    }

    fn instruction(
        &mut self,
        idx: usize,
        col: u32,
        name: &str,
        operands: Vec<Operand>,
        scope: &str,
        pc: &mut u32,
    ) {
        let Some(form) = encoder::lookup(name) else {
            self.err(idx, col, format!("unknown instruction `{name}`"));
            return;
        };
        let (kinds, syntax) = encoder::shape(form);
        if operands.len() != kinds.len() {
            let n = kinds.len();
            let s = if n == 1 { "" } else { "s" };
            let syn = if syntax.is_empty() {
                String::new()
            } else {
                format!(" ({name} {syntax})")
            };
            self.err(
                idx,
                col,
                format!(
                    "`{name}` takes {n} operand{s}{syn}, found {}",
                    operands.len()
                ),
            );
            return;
        }
        let mut ops = Vec::new();
        for (o, k) in operands.into_iter().zip(kinds.iter()) {
            ops.push(self.operand(idx, o, *k));
        }
        let Some(ops) = ops.into_iter().collect::<Option<Vec<Op>>>() else {
            return;
        };
        let li_size = |a: &mut Self, o: Option<&Op>| {
            let known = match o {
                Some(Op::Expr(e)) => a.eval1(e, scope, *pc).and_then(|v| u32::try_from(v).ok()),
                _ => None,
            };
            encoder::li_size(known)
        };
        let size = match form {
            Form::Li => li_size(self, ops.get(1)),
            Form::Outi => li_size(self, ops.get(2)) + 1,
            _ => 1,
        };
        let here = *pc;
        self.push_item(idx, pc, here, size, scope, ItemKind::Insn(form, ops));
    }

    // ---------------------------------------------------------------- pass 2

    fn pass2(&mut self) -> Output {
        // Every constant first, in order, so their errors are reported where they are.
        let equs = std::mem::take(&mut self.equs);
        for (name, idx) in &equs {
            let mut fin = Vec::new();
            let mut ctx = Ctx {
                syms: &mut self.syms,
                scope: String::new(),
                here: 0,
                fin: Some((&mut fin, *idx)),
            };
            let _ = ctx.lookup(name, 0, 0);
            self.errors.extend(fin);
        }
        let mut words: Vec<u32> = Vec::new();
        let mut line_words: Vec<Vec<u32>> = vec![Vec::new(); self.lines.len()];
        let items = std::mem::take(&mut self.items);
        for it in &items {
            let w = self.encode(it);
            if let Some(lw) = line_words.get_mut(it.line) {
                lw.extend_from_slice(&w);
            }
            for (i, word) in w.into_iter().enumerate() {
                let a = it.addr as usize + i;
                if a < IRAM_WORDS as usize {
                    if words.len() <= a {
                        words.resize(a + 1, 0);
                    }
                    if let Some(slot) = words.get_mut(a) {
                        *slot = word;
                    }
                }
            }
        }
        let listing = self
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| ListingLine {
                addr: self.line_addr.get(i).copied().unwrap_or(0),
                words: line_words.get(i).cloned().unwrap_or_default(),
                file: self
                    .files
                    .get(l.loc.file as usize)
                    .map(|f| f.name.clone())
                    .unwrap_or_default(),
                line: l.loc.line,
                text: l.text.clone(),
            })
            .collect();
        Output {
            words,
            labels: SymbolMap::new(std::mem::take(&mut self.labels)),
            listing,
        }
    }

    /// Evaluates an expression of an item in pass 2; errors are reported.
    fn value(&mut self, it: &Item, e: &Expr) -> Option<i64> {
        let mut fin = Vec::new();
        let r = {
            let mut ctx = Ctx {
                syms: &mut self.syms,
                scope: it.scope.clone(),
                here: i64::from(it.here),
                fin: Some((&mut fin, it.line)),
            };
            eval(e, &mut ctx, 0)
        };
        self.errors.extend(fin);
        match r {
            Ok(v) => Some(v),
            Err(EvalError::Undefined(n, col)) => {
                self.err(it.line, col, format!("undefined symbol `{n}`"));
                None
            }
            Err(EvalError::At(col, m)) => {
                self.err(it.line, col, m);
                None
            }
            Err(EvalError::Poisoned) => None,
        }
    }

    /// A field value: `0..2^bits` (or, for 32 bits, also negative down to `-2^31`).
    fn field(&mut self, it: &Item, e: &Expr, bits: u32, what: &str) -> Option<u32> {
        let v = self.value(it, e)?;
        let max = (1i64 << bits) - 1;
        if (0..=max).contains(&v) {
            return u32::try_from(v).ok();
        }
        if bits == 32 && (-(1i64 << 31)..0).contains(&v) {
            return Some(v as u32);
        }
        let range = if bits == 32 {
            format!("{}..={max}", -(1i64 << 31))
        } else {
            format!("0..={max}")
        };
        self.err(
            it.line,
            e.col(),
            format!("value {v} ({v:#x}) does not fit {what} ({bits} bits, {range})"),
        );
        None
    }

    fn limited(&mut self, it: &Item, e: &Expr, max: u32, what: &str) -> Option<u32> {
        let v = self.value(it, e)?;
        match u32::try_from(v) {
            Ok(x) if x <= max => Some(x),
            _ => {
                self.err(
                    it.line,
                    e.col(),
                    format!("{what} {v} is out of range (0..={max})"),
                );
                None
            }
        }
    }

    fn target(&mut self, it: &Item, e: &Expr) -> Option<u32> {
        self.limited(it, e, IRAM_WORDS - 1, "branch/jump target")
    }

    fn encode(&mut self, it: &Item) -> Vec<u32> {
        let zeros = vec![0; it.size as usize];
        let w = match &it.kind {
            ItemKind::Word(e) => self.field(it, e, 32, "a word").map(|v| vec![v]),
            ItemKind::Insn(form, ops) => self.encode_insn(it, *form, ops),
        };
        match w {
            Some(w) if w.len() == it.size as usize => w,
            Some(_) => {
                self.err(
                    it.line,
                    1,
                    "internal error: instruction size changed between passes",
                );
                zeros
            }
            None => zeros,
        }
    }

    fn encode_insn(&mut self, it: &Item, form: Form, ops: &[Op]) -> Option<Vec<u32>> {
        let reg = |o: Option<&Op>| match o {
            Some(Op::Reg(r)) => *r,
            _ => 0,
        };
        let expr = |o: Option<&Op>| -> Option<Expr> {
            match o {
                Some(Op::Expr(e)) | Some(Op::Mem(_, e)) => Some(e.clone()),
                _ => None,
            }
        };
        let (o0, o1, o2, o3) = (ops.first(), ops.get(1), ops.get(2), ops.get(3));
        let one = |w: u32| Some(vec![w]);
        match form {
            Form::Bare(_) | Form::Ret => one(encoder::encode_simple(form, 0, 0, 0)),
            Form::Trap => {
                let v = self.field(it, &expr(o0)?, 8, "a trap code")?;
                one(encoder::encode_simple(form, 0, 0, v))
            }
            Form::Jump(_) => {
                let t = self.target(it, &expr(o0)?)?;
                one(encoder::encode_simple(form, 0, 0, t))
            }
            Form::Wait | Form::MovI(_) => {
                let what = if form == Form::Wait {
                    "an event mask"
                } else {
                    "imm16"
                };
                let v = self.field(it, &expr(o1)?, 16, what)?;
                one(encoder::encode_simple(form, reg(o0), 0, v))
            }
            Form::AluI { shift, .. } => {
                let e = expr(o2)?;
                let v = if shift {
                    self.limited(it, &e, 31, "shift amount")?
                } else {
                    self.field(it, &e, 16, "imm16")?
                };
                one(encoder::encode_simple(form, reg(o0), reg(o1), v))
            }
            Form::AluR(_) => one(encoder::encode_simple(form, reg(o0), reg(o1), 0)),
            Form::Mem(_) => {
                let Some(Op::Mem(Some(base), off)) = o1 else {
                    return None;
                };
                let v = self.field(it, off, 16, "a memory offset (imm16)")?;
                one(encoder::encode_simple(form, reg(o0), *base, v))
            }
            Form::MemH(_) => {
                let v = self.limited(it, &expr(o1)?, HCB_BYTES - 1, "HCB offset")?;
                one(encoder::encode_simple(form, reg(o0), 0, v))
            }
            Form::In => {
                let p = self.field(it, &expr(o1)?, 8, "a port number")?;
                one(encoder::encode_simple(form, reg(o0), 0, p))
            }
            Form::Out => {
                let p = self.field(it, &expr(o0)?, 8, "a port number")?;
                one(encoder::encode_simple(form, 0, reg(o1), p))
            }
            Form::Branch { cond: c, bit } => {
                let rhs = match o1 {
                    Some(Op::Reg(r)) => Some(Rhs::Reg(*r)),
                    Some(Op::Expr(e)) if bit => self.limited(it, e, 31, "bit number").map(Rhs::Imm),
                    Some(Op::Expr(e)) => self.field(it, e, 8, "imm8").map(Rhs::Imm),
                    _ => None,
                };
                let t = self.target(it, &expr(o2)?);
                one(encoder::encode_branch(c, reg(o0), rhs?, t?))
            }
            Form::Bri | Form::Brr => {
                let c = self.limited(it, &expr(o0)?, cond::NONE, "branch condition");
                let rhs = if form == Form::Bri {
                    self.field(it, &expr(o2)?, 8, "imm8").map(Rhs::Imm)
                } else {
                    Some(Rhs::Reg(reg(o2)))
                };
                let t = self.target(it, &expr(o3)?);
                one(encoder::encode_branch(c?, reg(o1), rhs?, t?))
            }
            Form::Li => {
                let v = self.field(it, &expr(o1)?, 32, "a 32-bit value")?;
                Some(encoder::li_words(reg(o0), v, it.size))
            }
            Form::Outi => {
                let p = self.field(it, &expr(o0)?, 8, "a port number");
                let v = self.field(it, &expr(o2)?, 32, "a 32-bit value")?;
                let mut w = encoder::li_words(reg(o1), v, it.size.saturating_sub(1));
                w.push(encoder::encode_simple(Form::Out, 0, reg(o1), p?));
                Some(w)
            }
        }
    }
}

/// The evaluation environment. `fin` is set in pass 2: undefined symbols are errors and
/// the errors of constants are pushed there (with the constant's line).
struct Ctx<'a> {
    syms: &'a mut Symbols,
    scope: String,
    here: i64,
    fin: Option<(&'a mut Errs, usize)>,
}

impl Env for Ctx<'_> {
    fn here(&self) -> i64 {
        self.here
    }

    fn lookup(&mut self, name: &str, col: u32, depth: u32) -> Result<i64, EvalError> {
        if self.syms.register(name).is_some() {
            return Err(EvalError::At(
                col,
                format!("register `{name}` cannot be used in an expression here"),
            ));
        }
        let full = qualify(&self.scope, name);
        let Some(sym) = self.syms.map.get_mut(&full) else {
            return Err(EvalError::Undefined(full, col));
        };
        let loc = sym.loc;
        let (expr, scope, here) = match &mut sym.def {
            Def::Abi(v) => return Ok(*v),
            Def::Label(a) => return Ok(i64::from(*a)),
            Def::Equ {
                state,
                expr,
                scope,
                here,
            } => match *state {
                EquState::Done(v) => return Ok(v),
                EquState::Failed => return Err(EvalError::Poisoned),
                EquState::InProgress => {
                    return Err(EvalError::At(
                        col,
                        format!("circular definition of `{full}`"),
                    ))
                }
                EquState::Pending => {
                    *state = EquState::InProgress;
                    (expr.clone(), scope.clone(), *here)
                }
            },
        };
        let line = self.fin.as_ref().map_or(0, |(_, l)| *l);
        let mut nested: Errs = Vec::new();
        let r = {
            let fin = if self.fin.is_some() {
                Some((&mut nested, line))
            } else {
                None
            };
            let mut inner = Ctx {
                syms: &mut *self.syms,
                scope,
                here,
                fin,
            };
            eval(&expr, &mut inner, depth + 1)
        };
        if let Some((errs, _)) = self.fin.as_mut() {
            errs.extend(nested);
        }
        let new_state = match (&r, self.fin.is_some()) {
            (Ok(v), _) => EquState::Done(*v),
            (Err(_), false) => EquState::Pending,
            (Err(_), true) => EquState::Failed,
        };
        if let Some(Symbol {
            def: Def::Equ { state, .. },
            ..
        }) = self.syms.map.get_mut(&full)
        {
            *state = new_state;
        }
        match r {
            Ok(v) => Ok(v),
            Err(EvalError::Poisoned) => Err(EvalError::Poisoned),
            Err(e) if self.fin.is_none() => Err(e),
            Err(e) => {
                // Report at the constant's own definition.
                let (c, m) = match e {
                    EvalError::Undefined(n, c) => (c, format!("undefined symbol `{n}`")),
                    EvalError::At(c, m) => (c, m),
                    EvalError::Poisoned => (0, String::new()),
                };
                if let (Some((errs, _)), Some(loc)) = (self.fin.as_mut(), loc) {
                    // `line` only orders the error; it is reported at the definition.
                    errs.push((line, AsmError::new(Loc { col: c, ..loc }, m)));
                }
                Err(EvalError::Poisoned)
            }
        }
    }
}
