//! Content digests (`sha256:<64 lowercase hex>`) and layer chain ids.
//!
//! Only sha256 is supported, which is what every registry and the OCI image
//! spec use by default. A chain id names a stack of layers rather than one
//! layer, so that the same layer unpacked on top of different parents gets
//! different directories (OCI image spec, "config.md", Layer ChainID):
//! `chainid(L0) = diffid(L0)` and
//! `chainid(Ln) = sha256(chainid(Ln-1) + " " + diffid(Ln))`.
//! `HashingReader` hashes a stream as it passes through, so a digest can be
//! verified without a second read.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

pub use crate::model::digest::{Digest, DigestError};

/// The chain id of the top of a layer stack given bottom-first diff ids;
/// `None` for no layers.
pub fn chain_id(diff_ids: &[Digest]) -> Option<Digest> {
    chain_ids(diff_ids).pop()
}

/// The chain id of every prefix of the stack, bottom first.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => Digest::of_bytes(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// A reader that hashes and counts everything read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader { inner, hasher: Sha256::new(), count: 0 }
    }

    /// Read the rest of the stream (so trailing padding is hashed too), then
    /// return the digest and the byte count.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((Digest::from_hasher(self.hasher), self.count))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_prints() {
        let d = Digest::parse(EMPTY).unwrap();
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(d.hex().len(), 64);
        assert_eq!(d.short(), "e3b0c44298fc");
        assert_eq!(Digest::of_bytes(b""), d);
        assert_eq!(Digest::from_hex(d.hex()).unwrap(), d);
    }

    #[test]
    fn rejects_bad_digests() {
        assert!(matches!(Digest::parse("sha512:00"), Err(DigestError::Algorithm { .. })));
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse(&EMPTY.to_uppercase().replace("SHA256", "sha256")).is_err());
        assert!(Digest::parse("e3b0c44298fc").is_err());
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = Digest::of_bytes(b"a");
        let b = Digest::of_bytes(b"b");
        assert_eq!(chain_id(&[]), None);
        assert_eq!(chain_id(std::slice::from_ref(&a)), Some(a.clone()));
        let ab = Digest::of_bytes(format!("{a} {b}").as_bytes());
        assert_eq!(chain_ids(&[a.clone(), b.clone()]), vec![a.clone(), ab.clone()]);
        let c = Digest::of_bytes(b"c");
        let abc = Digest::of_bytes(format!("{ab} {c}").as_bytes());
        assert_eq!(chain_id(&[a, b, c]), Some(abc));
    }

    #[test]
    fn hashing_reader_drains() {
        let mut r = HashingReader::new(&b"hello world"[..]);
        let mut buf = [0u8; 5];
        r.read_exact(&mut buf).unwrap();
        let (d, n) = r.finish().unwrap();
        assert_eq!(n, 11);
        assert_eq!(d, Digest::of_bytes(b"hello world"));
    }

    #[test]
    fn serde_round_trip() {
        let d = Digest::of_bytes(b"x");
        let j = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<Digest>(&j).unwrap(), d);
        assert!(serde_json::from_str::<Digest>("\"sha256:zz\"").is_err());
    }
}
