//! Content digests: `sha256:<64 lowercase hex>`, validated when made.
//!
//! Only sha256 is supported, which is what every registry and the OCI
//! image spec use by default. A `Digest` names an image, a blob or a layer
//! and is what a container's record keeps as its image id, so a record
//! whose id does not parse fails to load (and is listed as broken) rather
//! than being silently left out of an image's users.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("invalid digest {found:?}: expected sha256: followed by 64 lowercase hex digits")]
    Invalid { found: String },
    #[error("unsupported digest algorithm in {found:?}: only sha256 is supported")]
    Algorithm { found: String },
}

/// A validated `sha256:<hex>` digest.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let Some((algo, hex)) = s.split_once(':') else {
            return Err(DigestError::Invalid { found: s.to_string() });
        };
        if algo != "sha256" {
            return Err(DigestError::Algorithm { found: s.to_string() });
        }
        if !is_hex64(hex) {
            return Err(DigestError::Invalid { found: s.to_string() });
        }
        Ok(Digest(s.to_string()))
    }

    /// A digest from its 64 hex digits (as in `blobs/sha256/<hex>`).
    pub fn from_hex(hex: &str) -> Result<Digest, DigestError> {
        if !is_hex64(hex) {
            return Err(DigestError::Invalid { found: hex.to_string() });
        }
        Ok(Digest(format!("sha256:{hex}")))
    }

    pub fn from_hasher(h: Sha256) -> Digest {
        Digest(format!("sha256:{}", to_hex(&h.finalize())))
    }

    pub fn of_bytes(bytes: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(bytes))
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// The 12-digit short id docker prints.
    pub fn short(&self) -> &str {
        &self.hex()[..12]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.0)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Digest, DigestError> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}
