//! The build context and `.dockerignore`.
//!
//! `.dockerignore` holds one pattern a line (`#` comments and blank lines
//! skipped); a pattern is cleaned like a path (a leading `/` and `./`
//! dropped, `a//b` and `a/./b` made `a/b`), matched against the path
//! relative to the context root with Go's `filepath.Match` rules for each
//! path segment (`*` any run of non-`/` characters, `?` one, `[a-z]` and
//! `[^a-z]` classes, `\` escapes the next character) plus `**` for any
//! number of whole segments, zero included. A pattern starting with `!`
//! is an exception that brings matching paths back; the last pattern that
//! matches a path decides, and a pattern matches a path when it matches
//! the path or one of its parent directories (an excluded directory takes
//! what it holds, an excepted one brings it back), as docker's pattern
//! matcher does. All of this is pure;
//! `Ignore::walk` applies it to a directory tree.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(".dockerignore line {line}: invalid pattern {pattern:?}: {reason}")]
    Pattern { line: usize, pattern: String, reason: &'static str },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    segments: Vec<String>,
    exception: bool,
}

/// The parsed `.dockerignore`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ignore {
    rules: Vec<Rule>,
}

/// Clean a pattern like a path: no leading `/` or `./`, no empty or `.`
/// segments, `..` resolved where it can be.
fn clean(pattern: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for seg in pattern.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    // Above the context root: nothing there to match.
                }
            }
            s => out.push(s.to_string()),
        }
    }
    out
}

impl Ignore {
    pub fn parse(text: &str) -> Result<Ignore, Error> {
        let mut rules = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, line),
            };
            let segments = clean(pattern);
            for s in &segments {
                if s != "**" {
                    check_segment(s).map_err(|reason| Error::Pattern { line: i + 1, pattern: pattern.to_string(), reason })?;
                }
            }
            if segments.is_empty() {
                continue;
            }
            rules.push(Rule { segments, exception });
        }
        Ok(Ignore { rules })
    }

    /// Read `.dockerignore` in `context`, or nothing when there is none.
    pub fn load(context: &Path) -> Result<Ignore, Error> {
        let p = context.join(".dockerignore");
        match std::fs::read_to_string(&p) {
            Ok(t) => Ignore::parse(&t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ignore::default()),
            Err(source) => Err(Error::Io { path: p, source }),
        }
    }

    /// Whether `rel` (relative to the context, `/`-separated) is left out.
    pub fn excluded(&self, rel: &str) -> bool {
        let path: Vec<&str> = rel.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
        let mut out = false;
        for r in &self.rules {
            // The path itself or one of its parent directories.
            let hit = (1..=path.len()).any(|n| match_segments(&r.segments, &path[..n]));
            if hit {
                out = !r.exception;
            }
        }
        out
    }

    /// Whether an exception could bring back something under `dir`, so an
    /// excluded directory must still be walked.
    fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.exception)
    }

    /// Every path of the context that is not excluded (relative, sorted,
    /// directories before what they hold); `.dockerignore` and the
    /// Dockerfile are always kept, as docker does.
    pub fn walk(&self, context: &Path, keep: &[&str]) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        self.walk_dir(context, "", keep, &mut out)?;
        Ok(out)
    }

    fn walk_dir(&self, root: &Path, rel: &str, keep: &[&str], out: &mut Vec<String>) -> Result<(), Error> {
        let dir = root.join(rel);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|source| Error::Io { path: dir.clone(), source })?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let is_dir = std::fs::symlink_metadata(root.join(&path)).is_ok_and(|m| m.is_dir());
            let excluded = self.excluded(&path) && !keep.contains(&path.as_str()) && path != ".dockerignore";
            if !excluded {
                out.push(path.clone());
            }
            if is_dir && (!excluded || self.has_exceptions()) {
                self.walk_dir(root, &path, keep, out)?;
            }
        }
        Ok(())
    }
}

/// `**` matches any number of segments; every other segment matches one.
fn match_segments(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((p, rest)) if p == "**" => (0..=path.len()).any(|skip| match_segments(rest, &path[skip..])),
        Some((p, rest)) => path.split_first().is_some_and(|(s, tail)| match_one(p.as_bytes(), s.as_bytes()) && match_segments(rest, tail)),
    }
}

/// A segment pattern is well formed: classes closed, no trailing `\`.
fn check_segment(p: &str) -> Result<(), &'static str> {
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 >= b.len() => return Err("it ends with an escape"),
            b'\\' => i += 2,
            b'[' => {
                let end = b[i + 1..].iter().position(|c| *c == b']').ok_or("a [ class is not closed")?;
                i += end + 2;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Go's `filepath.Match` for one segment (no `/` in either); also the
/// shell patterns of `${VAR#pat}` and its kin (`subst`), where `*` may
/// match `/` too.
pub(super) fn match_one(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len()).any(|k| match_one(&p[1..], &s[k..])),
        Some(b'?') => !s.is_empty() && match_one(&p[1..], &s[1..]),
        Some(b'[') => {
            let Some(end) = p[1..].iter().position(|c| *c == b']').map(|e| e + 1) else { return false };
            let Some(&c) = s.first() else { return false };
            let class = &p[1..end];
            let (negate, class) = match class.first() {
                Some(b'^') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                let lo = class[i];
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= lo <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= lo == c;
                    i += 1;
                }
            }
            hit != negate && match_one(&p[end + 1..], &s[1..])
        }
        Some(b'\\') if p.len() > 1 => s.first() == Some(&p[1]) && match_one(&p[2..], &s[1..]),
        Some(&c) => s.first() == Some(&c) && match_one(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ig(text: &str) -> Ignore {
        Ignore::parse(text).unwrap()
    }

    #[test]
    fn go_match_rules() {
        assert!(match_one(b"*.go", b"main.go"));
        assert!(!match_one(b"*.go", b"main.rs"));
        assert!(match_one(b"a?c", b"abc"));
        assert!(match_one(b"[a-c]x", b"bx"));
        assert!(!match_one(b"[^a-c]x", b"bx"));
        assert!(match_one(b"\\*", b"*"));
        assert!(!match_one(b"\\*", b"a"));
    }

    #[test]
    fn dockerignore_semantics() {
        let i = ig("# comment\n\n*.md\n!README.md\n/build\ntemp?\n**/*.o\ndocs/**/secret\n");
        assert!(i.excluded("notes.md"));
        assert!(!i.excluded("README.md"), "an exception brings it back");
        assert!(!i.excluded("sub/notes.md"), "*.md matches at the root only");
        assert!(i.excluded("build") && i.excluded("build/out/x"), "a directory takes what it holds");
        assert!(i.excluded("temp1"));
        assert!(i.excluded("a/b/c.o") && i.excluded("c.o"), "** matches zero or more directories");
        assert!(i.excluded("docs/secret") && i.excluded("docs/x/y/secret"));
        assert!(!i.excluded("src/main.rs"));
        let later = ig("*\n!src\n");
        assert!(later.excluded("Cargo.toml"));
        assert!(!later.excluded("src") && !later.excluded("src/lib.rs"), "the last match wins");
        assert!(ig("./a/../b\n").excluded("b"), "patterns are cleaned");
        assert!(matches!(Ignore::parse("ok\n[abc\n"), Err(Error::Pattern { line: 2, .. })));
    }

    #[test]
    fn walking_keeps_exceptions_inside_excluded_directories() {
        let t = tempfile::tempdir().unwrap();
        for f in ["a.txt", "logs/one.log", "logs/keep.log", "src/x.rs", "Dockerfile"] {
            let p = t.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        std::fs::write(t.path().join(".dockerignore"), "logs\n!logs/keep.log\nDockerfile\n").unwrap();
        let i = Ignore::load(t.path()).unwrap();
        let got = i.walk(t.path(), &["Dockerfile"]).unwrap();
        assert_eq!(got, [".dockerignore", "Dockerfile", "a.txt", "logs/keep.log", "src", "src/x.rs"]);
    }
}
