//! The path policy of unpacking, as a pure function: which archive names
//! are acceptable and what they mean inside the layer directory.
//!
//! Names are relative to the layer root. A leading `./` and `.` components
//! are dropped (`./etc/./passwd` is `etc/passwd`); empty components from
//! doubled slashes are dropped. Absolute names and any `..` component are
//! refused outright rather than cleaned, because an archive that contains
//! them was made to escape. Symlinks are not this module's concern: the
//! kernel refuses to follow them (`at::open_beneath`).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// Why a name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Empty,
    Absolute,
    DotDot,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Empty => "empty name",
            Refusal::Absolute => "absolute path",
            Refusal::DotDot => "path contains a .. component",
        }
    }
}

/// The components of an acceptable name; empty means the layer root.
pub fn clean(raw: &[u8]) -> Result<Vec<&OsStr>, Refusal> {
    if raw.is_empty() {
        return Err(Refusal::Empty);
    }
    if raw[0] == b'/' {
        return Err(Refusal::Absolute);
    }
    let mut out = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err(Refusal::DotDot),
            _ => out.push(OsStr::from_bytes(c)),
        }
    }
    Ok(out)
}

/// Join components back into a relative path for `open_beneath`.
pub fn join(comps: &[&OsStr]) -> std::ffi::OsString {
    let mut s = std::ffi::OsString::new();
    for (i, c) in comps.iter().enumerate() {
        if i > 0 {
            s.push("/");
        }
        s.push(c);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Vec<String> {
        clean(s.as_bytes()).unwrap().iter().map(|c| c.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn cleans_harmless_forms() {
        assert_eq!(ok("./etc/./passwd"), vec!["etc", "passwd"]);
        assert_eq!(ok("etc//x/"), vec!["etc", "x"]);
        assert!(ok("./").is_empty());
        assert!(ok(".").is_empty());
        assert_eq!(ok("..a/b..c/.wh..wh..opq"), vec!["..a", "b..c", ".wh..wh..opq"]);
    }

    #[test]
    fn refuses_escapes() {
        assert_eq!(clean(b"/etc/passwd"), Err(Refusal::Absolute));
        assert_eq!(clean(b"../x"), Err(Refusal::DotDot));
        assert_eq!(clean(b"a/../../x"), Err(Refusal::DotDot));
        assert_eq!(clean(b"a/.."), Err(Refusal::DotDot));
        assert_eq!(clean(b""), Err(Refusal::Empty));
    }

    #[test]
    fn joins() {
        let c = clean(b"a/b/c").unwrap();
        assert_eq!(join(&c), "a/b/c");
        assert_eq!(join(&[]), "");
    }
}
