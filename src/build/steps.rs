//! What one build step does to an image, each producing a new image.
//!
//! - `run`: the command runs in a real burrow container of the current
//!   image (its FUSE root, its network), started under a supervisor
//!   process of its own exactly as `run -d` does — so the container's
//!   clone happens in a fresh single-threaded process whatever threads the
//!   build has (a pull's runtime, for one) — while the build follows its
//!   log and shows the output. A non-zero exit fails the step with the
//!   code and the last lines of output; otherwise the container's upper
//!   directory (an OCI layer, whiteouts included) is committed as the new
//!   layer, and the container is removed.
//! - `copy`: files become a layer directly: a tar stream built from the
//!   chosen sources (owned by root unless `--chown`, modes kept unless
//!   `--chmod`) goes into the store's `add_layer`, as `import` does.
//! - `config`: ENV, CMD, LABEL and the other metadata instructions change
//!   only the config: a new image with the same layers and an
//!   `empty_layer` history entry.
//!
//! The caller runs inside burrow's user namespace (the store's files
//! belong to container ids).

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::container::logs::{Entry, Follower};
use crate::container::run::{ImageDefaults, RunOptions};
use crate::container::{record, rootfs, run, state};
use crate::image::{import, Digest, Image, ImportOptions, Store};
use crate::paths::Paths;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the command {command:?} returned a non-zero code: {code}{tail}")]
    RunFailed { command: String, code: i32, tail: String },
    #[error(transparent)]
    Container(#[from] crate::container::Error),
    #[error(transparent)]
    Monitor(#[from] crate::monitor::Error),
    #[error(transparent)]
    Image(#[from] crate::image::Error),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// How a RUN step's container is set up.
#[derive(Debug, Clone, Default)]
pub struct RunStep {
    pub argv: Vec<String>,
    /// Build arguments in force, `KEY=VALUE` (the image's Env comes on top
    /// of nothing: it is the image's own).
    pub env: Vec<String>,
    pub network: burrow_netstack::mode::NetworkMode,
}

/// RUN: see the module comment. `show` receives each line of output.
pub fn run(paths: &Paths, image: &Image, step: &RunStep, created_by: &str, show: &mut dyn FnMut(&Entry)) -> Result<Digest, Error> {
    let defaults = ImageDefaults::of(image);
    let opts = RunOptions {
        image: image.id.to_string(),
        command: step.argv.clone(),
        entrypoint: Some(String::new()),
        env: step.env.clone(),
        network: crate::container::net::NetworkRequest { mode: step.network.clone(), ..Default::default() },
        ..Default::default()
    };
    let record = run::create(paths, &opts, image, &defaults)?;
    let dir = record.dir(paths);
    let outcome = (|| -> Result<Digest, Error> {
        let mut follower = Follower::at_end(&dir);
        let mut tail: VecDeque<String> = VecDeque::new();
        let mut keep = |e: &Entry, show: &mut dyn FnMut(&Entry)| {
            show(e);
            tail.push_back(e.log.trim_end().to_string());
            if tail.len() > 10 {
                tail.pop_front();
            }
        };
        crate::monitor::spawn(paths, &record).map_err(|e| match e {
            crate::monitor::Error::Failed { code, message } => Error::RunFailed { command: step.argv.join(" "), code, tail: format!(": {message}") },
            other => other.into(),
        })?;
        loop {
            let alive = state::monitor_alive(&dir);
            for e in follower.poll() {
                keep(&e, show);
            }
            if !alive {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let done = record::find(paths, record.id.as_str())?;
        let code = done.exit_code.unwrap_or(0);
        if code != 0 {
            let tail = if tail.is_empty() { String::new() } else { format!("; its last output:\n  {}", Vec::from(tail).join("\n  ")) };
            return Err(Error::RunFailed { command: step.argv.join(" "), code, tail });
        }
        let commit = crate::container::commit::CommitOptions { created_by: Some(created_by.to_string()), ..Default::default() };
        Ok(crate::container::commit::commit(paths, record.id.as_str(), None, &commit)?.id)
    })();
    if let Err(e) = rootfs::remove_any(&dir) {
        tracing::warn!(%e, "cannot remove the build step's container");
    }
    outcome
}

/// One file or directory a COPY puts into the image.
#[derive(Debug, Clone)]
pub struct CopyItem {
    /// Where it is read from (on the host, or in a stage's files).
    pub source: PathBuf,
    /// Its path in the image, absolute.
    pub dest: String,
    /// A directory brings its whole tree (else only itself: the caller
    /// lists what it holds, as the build context does after
    /// `.dockerignore`).
    pub recursive: bool,
}

/// COPY/ADD: the items as one new layer on `base` (`None`: scratch).
pub fn copy(store: &Store, base: Option<&Image>, items: &[CopyItem], chown: Option<(u32, u32)>, chmod: Option<u32>, created_by: &str) -> Result<Digest, Error> {
    let (reader, writer) = nix::unistd::pipe().map_err(|e| Error::Io { path: "pipe".into(), source: e.into() })?;
    let items = items.to_vec();
    let layers: Vec<PathBuf> = base.map(|b| b.layers.iter().rev().map(|l| l.dir.clone()).collect()).unwrap_or_default();
    let producer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut b = tar::Builder::new(std::io::BufWriter::with_capacity(1 << 20, std::fs::File::from(writer)));
        b.follow_symlinks(false);
        let mut made: Vec<String> = Vec::new();
        for item in &items {
            let rel = item.dest.trim_start_matches('/').to_string();
            // Parent directories the image does not have yet.
            let mut parent = String::new();
            for part in rel.split('/').collect::<Vec<_>>().iter().rev().skip(1).rev() {
                parent = if parent.is_empty() { part.to_string() } else { format!("{parent}/{part}") };
                if made.contains(&parent) || layers.iter().any(|l| l.join(&parent).is_dir()) {
                    continue;
                }
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                h.set_mtime(0);
                h.set_uid(0);
                h.set_gid(0);
                b.append_data(&mut h, format!("{parent}/"), std::io::empty())?;
                made.push(parent.clone());
            }
            append(&mut b, &item.source, &rel, chown, chmod, item.recursive)?;
            made.push(rel.clone());
        }
        b.into_inner()?.flush()
    });
    let opts = ImportOptions { unpack: crate::image::UnpackOptions::current(), ..Default::default() };
    let result = import::add_layer(store, base, std::io::BufReader::with_capacity(1 << 20, std::fs::File::from(reader)), None, &opts, created_by);
    let produced = producer.join().unwrap_or_else(|_| Err(std::io::Error::other("the layer writer panicked")));
    let result = result?;
    produced.map_err(|source| Error::Io { path: "COPY".into(), source })?;
    Ok(result.id)
}

/// Append `source` (a file, symlink or directory tree) as `rel`.
fn append<W: std::io::Write>(b: &mut tar::Builder<W>, source: &Path, rel: &str, chown: Option<(u32, u32)>, chmod: Option<u32>, recursive: bool) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(source)?;
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
    let (uid, gid) = chown.unwrap_or((0, 0));
    h.set_uid(uid.into());
    h.set_gid(gid.into());
    h.set_mtime(meta.mtime().max(0) as u64);
    if let Some(m) = chmod {
        h.set_mode(m);
    } else {
        h.set_mode(meta.mode() & 0o7777);
    }
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(source)?;
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, rel, target)?;
    } else if meta.is_dir() {
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        b.append_data(&mut h, format!("{rel}/"), std::io::empty())?;
        if !recursive {
            return Ok(());
        }
        let mut names: Vec<_> = std::fs::read_dir(source)?.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        names.sort();
        for n in names {
            append(b, &source.join(&n), &format!("{rel}/{}", n.to_string_lossy()), chown, chmod, true)?;
        }
    } else if meta.is_file() {
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(meta.len());
        b.append_data(&mut h, rel, std::fs::File::open(source)?)?;
    }
    Ok(())
}

/// ENV, CMD, LABEL...: the config changed, no new layer.
pub fn config(store: &Store, base: &Image, created_by: &str, change: impl FnOnce(&mut serde_json::Value)) -> Result<Digest, Error> {
    Ok(import::add_config(store, base, None, created_by, change)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_makes_missing_parents_and_keeps_modes() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("ctx");
        std::fs::create_dir_all(src.join("dir/sub")).unwrap();
        std::fs::write(src.join("dir/sub/f"), "x").unwrap();
        std::fs::write(src.join("tool"), "#!/bin/sh\n").unwrap();
        std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(src.join("tool")).unwrap().permissions(), 0o755);
        let (r, w) = nix::unistd::pipe().unwrap();
        let h = std::thread::spawn(move || {
            let mut b = tar::Builder::new(std::fs::File::from(w));
            append(&mut b, &src.join("dir"), "opt/app", Some((1000, 1000)), None, true).unwrap();
            append(&mut b, &src.join("tool"), "usr/bin/tool", None, Some(0o700), true).unwrap();
            b.into_inner().unwrap();
        });
        let mut ar = tar::Archive::new(std::fs::File::from(r));
        let got: Vec<(String, u64, u32)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path().unwrap().display().to_string(), e.header().uid().unwrap(), e.header().mode().unwrap())
            })
            .collect();
        h.join().unwrap();
        assert_eq!(got[0].0, "opt/app/");
        assert!(got.iter().any(|(p, uid, _)| p == "opt/app/sub/f" && *uid == 1000), "{got:?}");
        assert!(got.iter().any(|(p, uid, mode)| p == "usr/bin/tool" && *uid == 0 && *mode == 0o700), "{got:?}");
    }
}
