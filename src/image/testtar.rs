//! Test helpers: build tar archives in memory, including the malformed
//! and hostile ones `tar::Builder` refuses to write (names are poked into
//! the raw header fields).

use tar::{EntryType, Header};

pub struct TarBuf {
    b: tar::Builder<Vec<u8>>,
}

pub fn header(name: &[u8], kind: EntryType, size: u64, link: &[u8], mode: u32) -> Header {
    let mut h = Header::new_ustar();
    {
        let old = h.as_old_mut();
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name);
        old.linkname = [0; 100];
        old.linkname[..link.len()].copy_from_slice(link);
    }
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(1_600_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    h
}

impl TarBuf {
    pub fn new() -> TarBuf {
        TarBuf { b: tar::Builder::new(Vec::new()) }
    }

    pub fn raw(mut self, h: Header, data: &[u8]) -> Self {
        self.b.append(&h, data).unwrap();
        self
    }

    pub fn dir(self, name: &str, mode: u32) -> Self {
        self.raw(header(name.as_bytes(), EntryType::Directory, 0, b"", mode), b"")
    }

    pub fn file(self, name: &str, data: &[u8]) -> Self {
        self.raw(header(name.as_bytes(), EntryType::Regular, data.len() as u64, b"", 0o644), data)
    }

    pub fn file_owned(self, name: &str, data: &[u8], uid: u64, gid: u64) -> Self {
        let mut h = header(name.as_bytes(), EntryType::Regular, data.len() as u64, b"", 0o644);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_cksum();
        self.raw(h, data)
    }

    pub fn symlink(self, name: &str, target: &str) -> Self {
        self.raw(header(name.as_bytes(), EntryType::Symlink, 0, target.as_bytes(), 0o777), b"")
    }

    pub fn hardlink(self, name: &str, target: &str) -> Self {
        self.raw(header(name.as_bytes(), EntryType::Link, 0, target.as_bytes(), 0o644), b"")
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}
