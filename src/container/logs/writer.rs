//! The supervisor's side: pipes → `ctr.log`, rotated at a size limit.
//!
//! One pump thread per output reads whatever the container wrote, cuts it
//! into lines (a line longer than 16 KiB is stored in pieces, as docker
//! does; bytes that are not UTF-8 are replaced) and appends one entry per
//! line to the shared writer. Before an entry would take the live file
//! past `max_size`, the files are shifted (`ctr.log` → `ctr.log.1` → …)
//! and the oldest beyond `max_files` is dropped.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::Utc;

use super::{path, rotated, Entry, Error, LogConfig, Result, Stream};

/// Longest piece of one line stored as a single entry.
const MAX_LINE: usize = 16 << 10;

pub struct LogWriter {
    dir: PathBuf,
    file: File,
    size: u64,
    config: LogConfig,
}

impl LogWriter {
    /// Append to the container's live log (created when missing).
    pub fn open(dir: &Path, config: LogConfig) -> Result<LogWriter> {
        let p = path(dir);
        let file = OpenOptions::new().create(true).append(true).open(&p).map_err(|source| Error::Io { path: p.clone(), source })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogWriter { dir: dir.to_path_buf(), file, size, config })
    }

    /// Store one line (with its newline, when it had one).
    pub fn write(&mut self, stream: Stream, line: &[u8]) -> Result<()> {
        let entry = Entry { log: String::from_utf8_lossy(line).into_owned(), stream, time: Utc::now() };
        let mut json = serde_json::to_vec(&entry).expect("a log entry always serializes");
        json.push(b'\n');
        if self.size > 0 && self.size + json.len() as u64 > self.config.max_size {
            self.rotate()?;
        }
        let p = || path(&self.dir);
        self.file.write_all(&json).map_err(|source| Error::Io { path: p(), source })?;
        self.size += json.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> Result<()> {
        let io = |path: PathBuf| move |source| Error::Io { path, source };
        let keep = self.config.max_files.saturating_sub(1);
        if keep == 0 {
            self.file.set_len(0).map_err(io(path(&self.dir)))?;
            self.size = 0;
            return Ok(());
        }
        let _ = std::fs::remove_file(rotated(&self.dir, keep));
        for n in (1..keep).rev() {
            let _ = std::fs::rename(rotated(&self.dir, n), rotated(&self.dir, n + 1));
        }
        std::fs::rename(path(&self.dir), rotated(&self.dir, 1)).map_err(io(path(&self.dir)))?;
        *self = LogWriter::open(&self.dir, self.config.clone())?;
        Ok(())
    }
}

/// Copy `source` into the log as `stream` until it reaches end of file
/// (or EIO: a terminal whose other side is closed); with `mirror`, each
/// chunk is also written there as it arrives (a foreground container's
/// output to the caller's terminal). With `partial`, what is read is
/// stored at once even without a newline (a terminal's prompt must reach
/// an attached user before the line ends).
pub fn pump(source: File, stream: Stream, writer: Arc<Mutex<LogWriter>>, mirror: Option<File>, partial: bool) -> JoinHandle<()> {
    let span = tracing::Span::current();
    std::thread::spawn(move || {
        let _span = span.entered();
        let mut source = source;
        let mut mirror = mirror;
        let mut buf = vec![0u8; 64 << 10];
        let mut pending: Vec<u8> = Vec::new();
        let store = |line: &[u8]| {
            if let Ok(mut w) = writer.lock() {
                if let Err(e) = w.write(stream, line) {
                    tracing::warn!(%e, "cannot write the container's log");
                }
            }
        };
        loop {
            let n = match source.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Some(m) = &mut mirror {
                if m.write_all(&buf[..n]).is_err() {
                    mirror = None;
                }
            }
            pending.extend_from_slice(&buf[..n]);
            let mut start = 0;
            while let Some(i) = pending[start..].iter().position(|b| *b == b'\n') {
                store(&pending[start..start + i + 1]);
                start += i + 1;
            }
            pending.drain(..start);
            if partial && !pending.is_empty() {
                store(&pending);
                pending.clear();
            }
            while pending.len() >= MAX_LINE {
                store(&pending[..MAX_LINE]);
                pending.drain(..MAX_LINE);
            }
        }
        if !pending.is_empty() {
            store(&pending);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::read_all;
    use super::*;

    #[test]
    fn lines_streams_and_rotation() {
        let t = tempfile::tempdir().unwrap();
        let config = LogConfig { enabled: true, max_size: 4096, max_files: 2 };
        let w = Arc::new(Mutex::new(LogWriter::open(t.path(), config).unwrap()));
        let (r, mut wr) = std::os::unix::net::UnixStream::pair().unwrap();
        let (mirror_r, mirror_w) = std::os::unix::net::UnixStream::pair().unwrap();
        let h = pump(
            File::from(std::os::fd::OwnedFd::from(r)),
            Stream::Stderr,
            w.clone(),
            Some(File::from(std::os::fd::OwnedFd::from(mirror_w))),
            false,
        );
        wr.write_all(b"one\ntw").unwrap();
        wr.write_all(b"o\nlast").unwrap();
        drop(wr);
        h.join().unwrap();
        let mut mirrored = String::new();
        File::from(std::os::fd::OwnedFd::from(mirror_r)).read_to_string(&mut mirrored).unwrap();
        assert_eq!(mirrored, "one\ntwo\nlast", "the mirror gets the bytes as they came");
        let got = read_all(t.path()).unwrap();
        let texts: Vec<_> = got.iter().map(|e| e.log.as_str()).collect();
        assert_eq!(texts, ["one\n", "two\n", "last"]);
        assert!(got.iter().all(|e| e.stream == Stream::Stderr));
        // Many lines: rotated once at least, only two files kept, newest kept.
        for i in 0..200 {
            w.lock().unwrap().write(Stream::Stdout, format!("line {i}\n").as_bytes()).unwrap();
        }
        assert!(t.path().join("ctr.log.1").exists());
        assert!(!t.path().join("ctr.log.2").exists());
        let got = read_all(t.path()).unwrap();
        assert_eq!(got.last().unwrap().log, "line 199\n");
        assert!(got.len() < 200);
        let idx: Vec<u32> = got.iter().filter_map(|e| e.log.strip_prefix("line ")?.trim().parse().ok()).collect();
        assert!(idx.windows(2).all(|w| w[1] == w[0] + 1), "kept lines are contiguous and in order");
    }
}
