//! The live part of a container's record — status, pid, exit code, times,
//! restart count, OOM kill, start error — kept where rewriting it needs
//! no new space, so a container's exit is recorded even on a full disk.
//!
//! `container.json` holds what a container was created with (rewritten
//! whole through `atomic::write` at create and rename only); the fields
//! that change with every start and exit live in `live.bin` beside it, a
//! fixed-size file of two slots written in full when the container is
//! created. An update overwrites the older slot in place (`pwrite` of
//! whole slots into blocks the file already owns, then `fdatasync` unless
//! the state is "running", see `update`), so it
//! allocates nothing: on tmpfs an overwritten page is already charged, on
//! ext4 and xfs the blocks are already allocated. (Copy-on-write file
//! systems allocate on every write; there the store's reserve is the only
//! help.) Each slot carries a sequence number and a checksum; a reader
//! takes the valid slot with the higher sequence, so a torn write (a
//! crash, or a reader racing the writer) shows the previous state, never
//! garbage. Writers hold `record.lock` (see `state`), so sequences never
//! collide. A record of an older burrow without the file keeps its live
//! fields in `container.json`, and gets the file on its next full save.
//!
//! Slot layout (little endian): magic `BRWLIVE1`, u64 sequence, u32
//! length, 8 bytes of sha256(sequence ‖ payload), then the JSON payload,
//! zero padded to `SLOT` bytes.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::record::Status;
use crate::model::Timestamp;

/// The file's name in the container's directory.
pub const FILE: &str = "live.bin";
/// Bytes per slot; the file holds two.
const SLOT: usize = 2048;
const MAGIC: &[u8; 8] = b"BRWLIVE1";
const HEADER: usize = 8 + 8 + 4 + 8;
/// The start error is cut to this many bytes so a slot always fits.
const MAX_ERROR: usize = 1024;

/// The fields of a record that change while the container lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    pub status: Status,
    pub pid: Option<i32>,
    pub pid_start: Option<u64>,
    pub exit_code: Option<i32>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub restart_count: u32,
    pub error: Option<String>,
    pub oom_killed: bool,
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Encode `live` as slot number `seq`; `None` if it does not fit (see
/// `encode_fitting`).
fn encode(seq: u64, live: &Live) -> Option<[u8; SLOT]> {
    let payload = serde_json::to_vec(live).ok()?;
    if payload.len() > SLOT - HEADER {
        return None;
    }
    let mut slot = [0u8; SLOT];
    slot[..8].copy_from_slice(MAGIC);
    slot[8..16].copy_from_slice(&seq.to_le_bytes());
    slot[16..20].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    slot[20..28].copy_from_slice(&checksum(seq, &payload));
    slot[HEADER..HEADER + payload.len()].copy_from_slice(&payload);
    Some(slot)
}

fn checksum(seq: u64, payload: &[u8]) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update(seq.to_le_bytes());
    h.update(payload);
    h.finalize()[..8].try_into().expect("sha256 is longer than 8 bytes")
}

/// A slot's sequence and state, if it is whole and valid.
fn decode(slot: &[u8]) -> Option<(u64, Live)> {
    if slot.len() < HEADER || &slot[..8] != MAGIC {
        return None;
    }
    let seq = u64::from_le_bytes(slot[8..16].try_into().ok()?);
    let len = u32::from_le_bytes(slot[16..20].try_into().ok()?) as usize;
    let payload = slot.get(HEADER..HEADER + len)?;
    if slot[20..28] != checksum(seq, payload) {
        return None;
    }
    Some((seq, serde_json::from_slice(payload).ok()?))
}

/// The newest valid state in the file's bytes.
fn newest(bytes: &[u8]) -> Option<(u64, Live)> {
    bytes.chunks(SLOT).filter_map(decode).max_by_key(|(seq, _)| *seq)
}

/// Cut the start error to `limit` bytes (on a char boundary).
fn cut_error(mut live: Live, limit: usize) -> Live {
    if let Some(e) = &mut live.error {
        if e.len() > limit {
            let mut end = limit;
            while !e.is_char_boundary(end) {
                end -= 1;
            }
            e.truncate(end);
            e.push('…');
        }
    }
    live
}

/// Encode `live` as slot `seq`, cutting the start error until it fits
/// (JSON escapes can make a short error long). Every other field has a
/// bounded size, so without the error it always fits.
fn encode_fitting(seq: u64, live: &Live) -> [u8; SLOT] {
    for limit in [MAX_ERROR, MAX_ERROR / 8] {
        if let Some(slot) = encode(seq, &cut_error(live.clone(), limit)) {
            return slot;
        }
    }
    let bare = Live { error: live.error.as_ref().map(|_| "(too long to keep)".into()), ..live.clone() };
    encode(seq, &bare).expect("a live state without its error fits a slot")
}

/// The container's live state, if it has a readable `live.bin`.
pub fn read(dir: &Path) -> Option<Live> {
    let bytes = std::fs::read(path(dir)).ok()?;
    newest(&bytes).map(|(_, live)| live)
}

/// Create `live.bin` holding `live` (both slots' room written, so later
/// updates allocate nothing). Needs space, like any new file.
pub fn create(dir: &Path, live: &Live) -> io::Result<()> {
    let slot = encode_fitting(1, live);
    let mut bytes = vec![0u8; 2 * SLOT];
    let at = slot_offset(1) as usize;
    bytes[at..at + SLOT].copy_from_slice(&slot);
    crate::atomic::write(&path(dir), &bytes)
}

/// Record `live` in the existing file by overwriting its older slot;
/// `NotFound` when the container has no `live.bin` yet. Call with the
/// record lock held.
pub fn update(dir: &Path, live: &Live) -> io::Result<()> {
    let p = path(dir);
    let file = OpenOptions::new().read(true).write(true).open(&p)?;
    let mut bytes = vec![0u8; 2 * SLOT];
    file.read_exact_at(&mut bytes, 0)?;
    let seq = newest(&bytes).map_or(1, |(seq, _)| seq + 1);
    let slot = encode_fitting(seq, live);
    file.write_all_at(&slot, slot_offset(seq))?;
    // A running state is not synced: it is written while the command
    // already runs (so it must be quick), and after a crash `reconcile`
    // finds no supervisor and marks the container exited anyway. Exits
    // and restarts are synced.
    if live.status != Status::Running {
        file.sync_data()?;
    }
    Ok(())
}

/// Sequence numbers alternate between the two slots, so a write never
/// overwrites the newest state.
fn slot_offset(seq: u64) -> u64 {
    (seq % 2) * SLOT as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(code: i32) -> Live {
        Live {
            status: Status::Exited,
            pid: None,
            pid_start: None,
            exit_code: Some(code),
            started_at: Timestamp::parse("2024-01-01T00:00:00Z"),
            finished_at: Timestamp::parse("2024-01-01T00:00:01Z"),
            restart_count: 0,
            error: None,
            oom_killed: false,
        }
    }

    #[test]
    fn slots_round_trip_and_the_newest_wins() {
        let a = encode(7, &live(1)).unwrap();
        let b = encode(8, &live(2)).unwrap();
        assert_eq!(decode(&a), Some((7, live(1))));
        let both: Vec<u8> = [b, a].concat();
        assert_eq!(newest(&both).unwrap().1, live(2));
    }

    #[test]
    fn a_torn_slot_falls_back_to_the_other() {
        let old = encode(3, &live(0)).unwrap();
        let mut torn = encode(4, &live(4)).unwrap();
        torn[HEADER + 5] ^= 0xff;
        assert_eq!(decode(&torn), None);
        assert_eq!(newest(&[old, torn].concat()).unwrap(), (3, live(0)));
        assert_eq!(newest(&[0u8; 2 * SLOT]), None);
    }

    #[test]
    fn long_errors_are_cut_to_fit() {
        let mut l = live(125);
        l.error = Some("é".repeat(5000));
        assert!(encode(1, &l).is_none());
        let cut = decode(&encode_fitting(1, &l)).unwrap().1;
        assert!(cut.error.as_ref().unwrap().len() <= MAX_ERROR + '…'.len_utf8());
        // Control characters escape to six bytes each in JSON.
        l.error = Some("\u{1}".repeat(MAX_ERROR));
        assert!(decode(&encode_fitting(1, &l)).unwrap().1.error.is_some());
    }

    #[test]
    fn updates_alternate_slots_in_place() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(update(t.path(), &live(0)).unwrap_err().kind(), io::ErrorKind::NotFound);
        create(t.path(), &live(0)).unwrap();
        let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path(t.path())).unwrap());
        for code in 1..5 {
            update(t.path(), &live(code)).unwrap();
            assert_eq!(read(t.path()).unwrap().exit_code, Some(code));
        }
        let md = std::fs::metadata(path(t.path())).unwrap();
        assert_eq!((std::os::unix::fs::MetadataExt::ino(&md), md.len()), (ino, 2 * SLOT as u64));
    }
}
