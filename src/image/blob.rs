//! Writing blobs into `blobs/sha256/` so that a blob file, once it has its
//! final name, always holds exactly the content its name promises.
//!
//! Bytes go to a temp file under `tmp/` while being hashed and counted;
//! `commit` checks the digest and size against what the caller expected
//! (a registry's descriptor), fsyncs, and renames the file into place. A
//! `BlobWriter` dropped without `commit` removes its temp file, so a failed
//! or interrupted download leaves nothing behind. As in ocidir-rs, nothing
//! is ever written under a blob's final name directly.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::digest::Digest;
use super::error::{Error, Result};
use super::fsutil;

/// A blob being written; see the module docs.
pub struct BlobWriter {
    tmp: PathBuf,
    blobs: PathBuf,
    file: Option<BufWriter<File>>,
    hasher: Sha256,
    size: u64,
}

impl BlobWriter {
    pub(crate) fn create(tmp_dir: &Path, blobs_dir: &Path) -> Result<BlobWriter> {
        let tmp = fsutil::temp_path(tmp_dir, "blob");
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(Error::io("create the temp file", &tmp))?;
        Ok(BlobWriter {
            tmp,
            blobs: blobs_dir.to_path_buf(),
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Verify against the expected digest and size (when given), make the
    /// data durable and move it to its final name. The caller holds the
    /// store's exclusive lock. Returns the digest and size.
    pub fn commit(mut self, expected: Option<&Digest>, expected_size: Option<u64>) -> Result<(Digest, u64)> {
        let found = Digest::from_hasher(std::mem::take(&mut self.hasher));
        if let Some(e) = expected {
            if *e != found {
                return Err(Error::DigestMismatch { expected: e.clone(), found });
            }
        }
        if let Some(e) = expected_size {
            if e != self.size {
                return Err(Error::SizeMismatch { digest: found, expected: e, found: self.size });
            }
        }
        let Some(file) = self.file.take() else {
            return Err(Error::Io { op: "write", path: self.tmp.clone(), source: io::ErrorKind::Other.into() });
        };
        let file = file.into_inner().map_err(|e| Error::Io { op: "write", path: self.tmp.clone(), source: e.into_error() })?;
        file.sync_all().map_err(Error::io("sync", &self.tmp))?;
        drop(file);
        let dest = self.blobs.join(found.hex());
        if dest.exists() {
            // Same name, same content: keep the existing file.
            let _ = fs::remove_file(&self.tmp);
        } else {
            fs::rename(&self.tmp, &dest).map_err(Error::io("move the blob into", &dest))?;
            crate::atomic::fsync_dir(&self.blobs);
        }
        self.tmp = PathBuf::new();
        Ok((found, self.size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(f) = self.file.as_mut() else { return Err(io::ErrorKind::BrokenPipe.into()) };
        let n = f.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            self.file = None;
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let tmp = t.path().join("tmp");
        let blobs = t.path().join("blobs");
        fs::create_dir_all(&tmp).unwrap();
        fs::create_dir_all(&blobs).unwrap();
        (t, tmp, blobs)
    }

    #[test]
    fn commits_verified_content() {
        let (_t, tmp, blobs) = dirs();
        let mut w = BlobWriter::create(&tmp, &blobs).unwrap();
        w.write_all(b"hello").unwrap();
        let d = Digest::of_bytes(b"hello");
        assert_eq!(w.commit(Some(&d), Some(5)).unwrap(), (d.clone(), 5));
        assert_eq!(fs::read(blobs.join(d.hex())).unwrap(), b"hello");
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
    }

    #[test]
    fn mismatch_leaves_nothing() {
        let (_t, tmp, blobs) = dirs();
        let mut w = BlobWriter::create(&tmp, &blobs).unwrap();
        w.write_all(b"hello").unwrap();
        let other = Digest::of_bytes(b"other");
        assert!(matches!(w.commit(Some(&other), None), Err(Error::DigestMismatch { .. })));
        let mut w = BlobWriter::create(&tmp, &blobs).unwrap();
        w.write_all(b"hello").unwrap();
        assert!(matches!(w.commit(None, Some(4)), Err(Error::SizeMismatch { .. })));
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
        assert_eq!(fs::read_dir(&blobs).unwrap().count(), 0);
    }
}
