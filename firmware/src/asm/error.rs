//! Diagnostics: every error names `file:line:column` (1-based; columns count characters).

use std::fmt;

/// A position inside the assembled sources. `file` indexes the assembler's file table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Loc {
    pub file: u32,
    pub line: u32,
    pub col: u32,
}

/// An error found while assembling, before it is given its file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AsmError {
    pub loc: Loc,
    pub message: String,
    pub notes: Vec<String>,
}

impl AsmError {
    pub fn new(loc: Loc, message: impl Into<String>) -> Self {
        Self {
            loc,
            message: message.into(),
            notes: Vec::new(),
        }
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// One error, rendered as `file:line:column: error: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The source file as it was named (the top-level name, or the include path joined to
    /// the including file's directory).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters (a tab counts as one).
    pub column: u32,
    /// What is wrong.
    pub message: String,
    /// Extra lines (e.g. the include chain of a cycle, where a symbol was first defined).
    pub notes: Vec<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.line, self.column, self.message
        )?;
        for n in &self.notes {
            write!(f, "\n  note: {n}")?;
        }
        Ok(())
    }
}

/// Every error of one assembly, in source order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Errors(pub Vec<Diagnostic>);

impl Errors {
    /// The first `file:line:column: error: message` line of each error, for tests.
    pub fn lines(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|d| format!("{}:{}:{}: error: {}", d.file, d.line, d.column, d.message))
            .collect()
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}
