//! What a COPY or ADD puts where, by docker's rules.
//!
//! Sources are the build context (globs matched in it, never outside it,
//! never what `.dockerignore` excludes), a stage's or an image's files
//! (`COPY --from`), here-document bodies (`COPY <<EOF /dest`, expanded
//! with the build's variables unless the delimiter is quoted, written as
//! 0644 files), and for ADD also URLs (downloaded by `fetch`) and local
//! tar archives, which are unpacked into the destination. A directory's
//! content goes to the destination; several sources, or a destination
//! ending in `/` or `.`, need a directory destination, and a destination
//! that is a directory in the image is one. Relative destinations are
//! under the image's working directory.

use std::path::{Path, PathBuf};

use super::instruction::workdir;
use super::{Build, ContextRefusal, Error, StageState};
use crate::build::context::Ignore;
use crate::build::fetch;
use crate::build::steps::{archive_compression, CopyItem};
use crate::build::CopySpec;

/// A scratch directory for one step's downloads and heredoc files.
pub(super) fn scratch(b: &Build) -> Result<tempfile::TempDir, Error> {
    let dir = b.paths.tmp();
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
    crate::image::tmp::hold(&dir);
    tempfile::Builder::new().prefix("build-").tempdir_in(&dir).map_err(|source| Error::Io { path: dir, source })
}

/// `--chown` as numeric ids, names looked up in the image's own files.
pub(super) fn owner(st: &StageState, spec: &str) -> Result<(u32, u32), crate::passwd::Error> {
    let layers = st.layer_dirs();
    let read = |p: &str| crate::image::merged::read_merged(&layers, p);
    let id = crate::passwd::resolve(spec, &read("etc/passwd"), &read("etc/group"))?;
    Ok((id.uid, id.gid))
}

/// The items of one COPY/ADD; downloads and heredoc files go to `scratch`.
pub(super) fn items(
    b: &Build,
    st: &StageState,
    spec: &CopySpec,
    x: &dyn Fn(&str) -> Result<String, Error>,
    is_add: bool,
    scratch: &Path,
    line: crate::build::Span,
) -> Result<Vec<CopyItem>, Error> {
    let err = |m: String| b.at(line, m);
    let kw = if is_add { "ADD" } else { "COPY" };
    let dest = x(&spec.dest)?;
    let dest = if dest.starts_with('/') { dest } else { format!("{}/{dest}", workdir(st).trim_end_matches('/')) };
    // `.` names no entry: a last one (`COPY f .`) means a directory, as a
    // trailing `/` does; so does a directory the image already has.
    let dir_like =
        dest.ends_with("/.") || dest.ends_with('/') || crate::image::merged::is_dir(&st.layer_dirs(), dest.trim_start_matches('/'));
    let mut dest = dest.split('/').filter(|p| *p != ".").collect::<Vec<_>>().join("/");
    if dir_like && !dest.ends_with('/') {
        dest.push('/');
    }
    if dest.is_empty() {
        dest.push('/');
    }
    // (name in a directory destination, path, whether ADD unpacks it)
    let mut sources: Vec<(String, PathBuf, bool)> = Vec::new();
    if spec.checksum.is_some() && !spec.sources.iter().all(|s| fetch::is_url(s)) {
        return Err(err("ADD --checksum applies to URL sources only".into()));
    }
    for s in &spec.sources {
        if let Some(name) = s.strip_prefix("<<").map(|n| n.trim_start_matches('-').trim_matches(|c| c == '"' || c == '\'')) {
            let doc =
                spec.heredocs.iter().find(|h| h.name == name).ok_or_else(|| err(format!("{kw} {s}: no here-document named {name}")))?;
            let vars = super::instruction::vars(st);
            let body = if doc.expand {
                crate::build::subst::expand_heredoc(&doc.body, &|k| vars.get(k).cloned()).map_err(|e| b.subst(line, e))?
            } else {
                doc.body.clone()
            };
            let path = scratch.join(format!("heredoc-{}", sources.len()));
            std::fs::write(&path, body).map_err(|source| Error::Io { path: path.clone(), source })?;
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
                .map_err(|source| Error::Io { path: path.clone(), source })?;
            sources.push((name.to_string(), path, false));
            continue;
        }
        let s = x(s)?;
        if fetch::is_url(&s) {
            if !is_add {
                return Err(err(format!("COPY {s}: COPY takes files from the build context; use ADD to download a URL")));
            }
            let dir = scratch.join(format!("url-{}", sources.len()));
            std::fs::create_dir(&dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
            let checksum = spec.checksum.as_deref().map(x).transpose()?;
            let path =
                fetch::fetch(&s, &dir, checksum.as_deref()).map_err(|source| Error::Fetch { file: b.df.file.clone(), at: line, source })?;
            sources.push((fetch::file_name(&s), path, false));
            continue;
        }
        match &spec.from {
            Some(from) => {
                let from = x(from)?;
                let image = match b.df.stages.iter().position(|st| st.name.as_deref() == Some(from.as_str())).or_else(|| from.parse().ok())
                {
                    Some(i) => {
                        b.built.get(&i).cloned().flatten().ok_or_else(|| err(format!("COPY --from={from}: that stage has no files")))?
                    }
                    None => b.store.resolve(&from).map_err(|e| err(format!("COPY --from={from}: {e}")))?,
                };
                let layers = image.layer_dirs_top_first();
                let rel = s.trim_start_matches('/').trim_end_matches('/');
                let found = crate::image::merged::find(&layers, rel)
                    .ok_or_else(|| err(format!("COPY --from={from}: {s}: no such file or directory in that stage")))?;
                sources.push((rel.rsplit('/').next().unwrap_or(rel).to_string(), found, false));
            }
            None => {
                for (name, path) in context_matches(b, &s, line)? {
                    let unpack = is_add && path.is_file() && archive_compression(&path).is_some();
                    sources.push((name, path, unpack));
                }
            }
        }
    }
    let into_dir = dest.ends_with('/') || sources.len() > 1;
    let mut items = Vec::new();
    for (name, path, unpack) in sources {
        if unpack {
            items.push(CopyItem { source: path, dest: dest.trim_end_matches('/').to_string(), recursive: false, unpack: true });
            continue;
        }
        if std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
            directory_items(b, spec, path, &dest, &mut items).map_err(|e| b.context_at(line, e))?;
            continue;
        }
        let target = if into_dir { format!("{}/{name}", dest.trim_end_matches('/')) } else { dest.clone() };
        items.push(CopyItem { source: path, dest: target, recursive: true, unpack: false });
    }
    Ok(items)
}

/// What a pattern names in the context: (base name, path) pairs.
fn context_matches(b: &Build, s: &str, line: crate::build::Span) -> Result<Vec<(String, PathBuf)>, Error> {
    let refuse = |refusal| Error::CopySource { file: b.df.file.clone(), at: line, pattern: s.to_string(), refusal };
    let pat = s.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/');
    let norm: Vec<&str> = pat.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    if norm.contains(&"..") {
        return Err(refuse(ContextRefusal::Outside));
    }
    if norm.is_empty() {
        return Ok(vec![(String::new(), b.opts.context.clone())]);
    }
    let walk = b.context_files().map_err(|e| b.context_at(line, e))?;
    let one = Ignore::parse(&norm.join("/")).map_err(|e| b.context_at(line, e))?;
    let hits: Vec<(String, PathBuf)> = walk
        .iter()
        .filter(|p| p.split('/').count() == norm.len() && one.excluded(p))
        .map(|h| (h.rsplit('/').next().unwrap_or(h).to_string(), b.opts.context.join(h)))
        .collect();
    if hits.is_empty() {
        return Err(refuse(ContextRefusal::NoMatch));
    }
    Ok(hits)
}

/// A directory's content under `dest`: from the context exactly what
/// `.dockerignore` leaves (the walk lists directories before what they
/// hold), from a stage its whole tree.
fn directory_items(
    b: &Build,
    spec: &CopySpec,
    path: PathBuf,
    dest: &str,
    items: &mut Vec<CopyItem>,
) -> Result<(), crate::build::context::Error> {
    let d = dest.trim_end_matches('/').to_string();
    if spec.from.is_some() {
        items.push(CopyItem { source: path, dest: d, recursive: true, unpack: false });
        return Ok(());
    }
    let prefix = path.strip_prefix(&b.opts.context).map(|r| r.to_string_lossy().into_owned()).unwrap_or_default();
    for p in b.context_files()? {
        let below = if prefix.is_empty() { Some(p.as_str()) } else { p.strip_prefix(&format!("{prefix}/")) };
        if let Some(rel) = below {
            items.push(CopyItem { source: b.opts.context.join(p), dest: format!("{d}/{rel}"), recursive: false, unpack: false });
        }
    }
    Ok(())
}
