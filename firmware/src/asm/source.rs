//! Where source text comes from: the top-level text and `.include`d files, through a
//! [`Resolver`] (the file system, an in-memory map for tests, or nothing).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

/// A loaded source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The name errors and the listing use (for the file system: the joined path).
    pub name: String,
    /// The file's text.
    pub text: String,
}

/// Loads included files.
pub trait Resolver {
    /// Loads `name`, written in an `.include` of the file named `from` (a name this
    /// resolver returned before, or the top-level name). The error is a message.
    fn resolve(&mut self, from: &str, name: &str) -> Result<Source, String>;

    /// The identity of a file for include-cycle detection (default: its name).
    fn key(&self, name: &str) -> String {
        name.to_string()
    }
}

/// `name` relative to the directory of `from` (absolute names stay), with `.` and `..`
/// folded lexically.
pub fn join_relative(from: &str, name: &str) -> String {
    let n = Path::new(name);
    let joined = if n.is_absolute() {
        n.to_path_buf()
    } else {
        Path::new(from)
            .parent()
            .map_or_else(|| n.to_path_buf(), |d| d.join(n))
    };
    let mut out = PathBuf::new();
    let mut depth = 0usize;
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if depth > 0 => {
                out.pop();
                depth -= 1;
            }
            Component::Normal(p) => {
                out.push(p);
                depth += 1;
            }
            other => out.push(other.as_os_str()),
        }
    }
    out.to_string_lossy().into_owned()
}

/// Includes from the file system, relative to the including file.
#[derive(Clone, Copy, Debug, Default)]
pub struct FsResolver;

impl Resolver for FsResolver {
    fn resolve(&mut self, from: &str, name: &str) -> Result<Source, String> {
        let path = join_relative(from, name);
        let bytes = std::fs::read(&path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            format!(
                "`{path}` is not UTF-8 (byte {})",
                e.utf8_error().valid_up_to()
            )
        })?;
        Ok(Source { name: path, text })
    }

    fn key(&self, name: &str) -> String {
        std::fs::canonicalize(name)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| join_relative("", name))
    }
}

/// Includes from an in-memory map of path -> text (paths joined like [`FsResolver`]).
#[derive(Clone, Debug, Default)]
pub struct MemResolver {
    /// The files.
    pub files: HashMap<String, String>,
}

impl MemResolver {
    /// A resolver over `(path, text)` pairs.
    pub fn new<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            files: files
                .into_iter()
                .map(|(p, t)| (join_relative("", p), t.to_string()))
                .collect(),
        }
    }
}

impl Resolver for MemResolver {
    fn resolve(&mut self, from: &str, name: &str) -> Result<Source, String> {
        let path = join_relative(from, name);
        self.files
            .get(&path)
            .map(|t| Source {
                name: path.clone(),
                text: t.clone(),
            })
            .ok_or_else(|| format!("cannot read `{path}`: no such file"))
    }

    fn key(&self, name: &str) -> String {
        join_relative("", name)
    }
}

/// No includes: every `.include` is an error.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoIncludes;

impl Resolver for NoIncludes {
    fn resolve(&mut self, _from: &str, name: &str) -> Result<Source, String> {
        Err(format!(
            "cannot include `{name}`: includes are not available here"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins() {
        assert_eq!(join_relative("a/b/main.s", "x.s"), "a/b/x.s");
        assert_eq!(join_relative("a/b/main.s", "../c/x.s"), "a/c/x.s");
        assert_eq!(join_relative("main.s", "./x.s"), "x.s");
        assert_eq!(join_relative("a/main.s", "/abs/x.s"), "/abs/x.s");
        assert_eq!(join_relative("main.s", "../x.s"), "../x.s");
    }
}
