//! OCI whiteouts: how a layer deletes what lies below it.
//!
//! The OCI image specification (image-layout, "layer.md") stores a deletion
//! as an empty file named `.wh.<name>` beside the deleted entry, and marks a
//! directory whose lower contents are all hidden ("opaque") with a file
//! `.wh..wh..opq` inside it. Names starting with `.wh.` are reserved for
//! this; the markers themselves are never shown in the merged tree. This
//! module only classifies names; it does not touch files.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// The prefix that marks a whiteout.
pub const PREFIX: &[u8] = b".wh.";
/// The name of the opaque-directory marker.
pub const OPAQUE: &[u8] = b".wh..wh..opq";

/// What a directory entry of a layer means for the merged tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// An ordinary entry, shown as itself.
    Normal,
    /// Hides the entry with this name in lower layers.
    Whiteout(OsString),
    /// Hides every lower entry of the directory that contains it.
    Opaque,
}

/// Classify one name found in a layer directory.
pub fn classify(name: &OsStr) -> Kind {
    let bytes = name.as_bytes();
    if bytes == OPAQUE {
        return Kind::Opaque;
    }
    match bytes.strip_prefix(PREFIX) {
        Some(target) if !target.is_empty() => Kind::Whiteout(OsStr::from_bytes(target).to_os_string()),
        _ => Kind::Normal,
    }
}

/// The whiteout file name that hides `name`.
pub fn whiteout_for(name: &OsStr) -> OsString {
    let mut out = OsString::from(OsStr::from_bytes(PREFIX));
    out.push(name);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_markers() {
        assert_eq!(classify(OsStr::new("etc")), Kind::Normal);
        assert_eq!(classify(OsStr::new(".wh.passwd")), Kind::Whiteout("passwd".into()));
        assert_eq!(classify(OsStr::new(".wh..wh..opq")), Kind::Opaque);
        // a bare prefix names nothing and is kept as an ordinary file
        assert_eq!(classify(OsStr::new(".wh.")), Kind::Normal);
        assert_eq!(classify(OsStr::new(".whatever")), Kind::Normal);
    }

    #[test]
    fn non_utf8_names_round_trip() {
        let raw = OsStr::from_bytes(b"f\xff\n");
        let wh = whiteout_for(raw);
        assert_eq!(classify(&wh), Kind::Whiteout(raw.to_os_string()));
    }
}
