//! Reading logs back: every file oldest first, selection, following.
//!
//! A line that does not parse (a file cut short by a full disk) is
//! skipped, never fatal. `Follower` remembers the live file's identity
//! and offset; when the writer rotates, it finishes the old file through
//! the descriptor it holds and continues at the start of the new one.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{path, rotated, Entry, Error, Result};

fn parse_lines(bytes: &[u8], out: &mut Vec<Entry>) {
    for line in bytes.split(|b| *b == b'\n') {
        if line.is_empty() {
            continue;
        }
        if let Ok(e) = serde_json::from_slice::<Entry>(line) {
            out.push(e);
        }
    }
}

/// Every stored entry, oldest first.
pub fn read_all(dir: &Path) -> Result<Vec<Entry>> {
    let mut files: Vec<PathBuf> = (1..100).map(|n| rotated(dir, n)).take_while(|p| p.exists()).collect();
    files.reverse();
    files.push(path(dir));
    let mut out = Vec::new();
    for f in files {
        match std::fs::read(&f) {
            Ok(b) => parse_lines(&b, &mut out),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Io { path: f, source }),
        }
    }
    Ok(out)
}

/// The entries `logs` prints: within `since..until`, then the last `tail`.
pub fn select(entries: Vec<Entry>, since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>, tail: Option<usize>) -> Vec<Entry> {
    let mut kept: Vec<Entry> =
        entries.into_iter().filter(|e| since.is_none_or(|s| e.time >= s) && until.is_none_or(|u| e.time <= u)).collect();
    if let Some(n) = tail {
        let cut = kept.len().saturating_sub(n);
        kept.drain(..cut);
    }
    kept
}

/// Follows the live file from where `read_all` ended.
pub struct Follower {
    dir: PathBuf,
    file: Option<(File, u64)>,
    partial: Vec<u8>,
}

impl Follower {
    /// Start at the current end of the live file.
    pub fn at_end(dir: &Path) -> Follower {
        let file = File::open(path(dir)).ok().and_then(|mut f| {
            let ino = f.metadata().ok()?.ino();
            f.seek(SeekFrom::End(0)).ok()?;
            Some((f, ino))
        });
        Follower { dir: dir.to_path_buf(), file, partial: Vec::new() }
    }

    /// Start at the beginning of the live file (for a container that
    /// has just started: everything it wrote is new).
    pub fn at_start(dir: &Path) -> Follower {
        Follower { dir: dir.to_path_buf(), file: None, partial: Vec::new() }
    }

    /// Entries written since the last call.
    pub fn poll(&mut self) -> Vec<Entry> {
        let mut out = Vec::new();
        loop {
            if let Some((f, _)) = &mut self.file {
                let mut buf = Vec::new();
                let _ = f.read_to_end(&mut buf);
                self.partial.extend_from_slice(&buf);
                if let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') {
                    let complete: Vec<u8> = self.partial.drain(..=end).collect();
                    parse_lines(&complete, &mut out);
                }
            }
            // Rotated (or created) under us: continue with the new file.
            let live = std::fs::metadata(path(&self.dir)).map(|m| m.ino()).ok();
            let current = self.file.as_ref().map(|(_, ino)| *ino);
            match live {
                Some(ino) if Some(ino) != current => {
                    self.partial.clear();
                    self.file = File::open(path(&self.dir)).ok().map(|f| (f, ino));
                }
                _ => return out,
            }
        }
    }
}

/// Lines of a reader, for tests.
#[cfg(test)]
fn lines(r: impl Read) -> Vec<String> {
    use std::io::BufRead;
    std::io::BufReader::new(r).lines().map_while(|l| l.ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::super::{LogConfig, LogWriter, Stream};
    use super::*;

    fn entry(log: &str, secs: i64) -> Entry {
        Entry { log: log.into(), stream: Stream::Stdout, time: DateTime::from_timestamp(secs, 0).unwrap() }
    }

    #[test]
    fn selection() {
        let all = vec![entry("a", 10), entry("b", 20), entry("c", 30), entry("d", 40)];
        let t = |s| DateTime::from_timestamp(s, 0);
        let texts = |v: Vec<Entry>| v.into_iter().map(|e| e.log).collect::<Vec<_>>().join("");
        assert_eq!(texts(select(all.clone(), None, None, Some(2))), "cd");
        assert_eq!(texts(select(all.clone(), t(20), None, None)), "bcd");
        assert_eq!(texts(select(all.clone(), t(15), t(30), Some(1))), "c");
        assert_eq!(texts(select(all.clone(), None, None, Some(0))), "");
        assert_eq!(texts(select(all, None, None, Some(99))), "abcd");
    }

    #[test]
    fn follows_across_rotation_and_skips_garbage() {
        let t = tempfile::tempdir().unwrap();
        let config = LogConfig { enabled: true, max_size: 4096, max_files: 3 };
        let mut w = LogWriter::open(t.path(), config).unwrap();
        w.write(Stream::Stdout, b"before\n").unwrap();
        let mut f = Follower::at_end(t.path());
        assert!(f.poll().is_empty());
        let mut seen = Vec::new();
        for i in 0..300 {
            w.write(Stream::Stdout, format!("{i}\n").as_bytes()).unwrap();
            if i % 7 == 0 {
                seen.extend(f.poll());
            }
        }
        seen.extend(f.poll());
        let got: Vec<String> = seen.iter().map(|e| e.log.trim().to_string()).collect();
        let want: Vec<String> = (0..300).map(|i| i.to_string()).collect();
        assert_eq!(got, want);
        std::fs::write(
            t.path().join("ctr.log"),
            "not json\n{\"log\":\"ok\\n\",\"stream\":\"stderr\",\"time\":\"2026-01-01T00:00:00Z\"}\n{\"trunc",
        )
        .unwrap();
        let all = read_all(t.path()).unwrap();
        assert_eq!(all.last().unwrap().log, "ok\n");
        assert_eq!(lines(&b"x\ny"[..]), ["x", "y"]);
    }
}
