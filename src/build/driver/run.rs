//! RUN: the command line (SHELL, heredocs), the step's mounts, its cache
//! key, then `steps::run`.
//!
//! Heredocs are handed to the shell as a shell would read them: a RUN that
//! is nothing but `<<EOF` runs the body as the script (a body starting
//! with `#!` is fed to that interpreter on its standard input); any other
//! line runs with its here-documents appended, so `cat <<EOF >/f` works as
//! in a shell script.
//!
//! `--mount=type=cache` is a directory kept under the store's
//! `cache/build-mounts/`, one per `id` (the target by default), created
//! with its `uid`, `gid` and `mode`, never part of a layer; `sharing=locked`
//! holds a lock on it for the step, `private` takes a fresh directory when
//! another build holds it. `type=bind` mounts a path of the build context
//! read-only (refused when `.dockerignore` would hide files under it, and
//! for `rw`, whose writes docker discards); `type=tmpfs` an empty tmpfs.
//! Bind mounts of another stage's files, secrets and ssh agents are refused
//! with the reason. The key covers the mounts and a bind's content, not a
//! cache's.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest as _, Sha256};

use super::instruction::{argv, image_env, workdir};
use super::{cache, expand, Build, ContextRefusal, Error, StageState};
use crate::build::context::Ignore;
use crate::build::steps::{self, RunStep};
use crate::build::{Command, Heredoc, Instruction, RunMount};
use crate::volume::{CheckedBind, MountKind, MountRequest, TmpfsOptions};

/// What the step's mounts need while it runs.
#[derive(Default)]
struct Mounts {
    requests: Vec<MountRequest>,
    checked: Vec<CheckedBind>,
    /// For the cache key.
    described: Vec<String>,
    _locks: Vec<Flock<File>>,
    _private: Vec<tempfile::TempDir>,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    b: &Build,
    st: &mut StageState,
    ins: &Instruction,
    command: &Command,
    network: Option<&str>,
    mounts: &[RunMount],
    heredocs: &[Heredoc],
    out: &mut dyn Write,
) -> Result<bool, Error> {
    let line = ins.span;
    let err = |m: String| b.at(line, m);
    let image = st.image.clone().ok_or_else(|| err("RUN needs a base image: there is nothing to run in FROM scratch".into()))?;
    let argv = script(command, heredocs, &st.shell).ok_or_else(|| Error::HeredocExecForm { file: b.df.file.clone(), at: line })?;
    let env_names: Vec<String> = image_env(st).iter().filter_map(|e| e.split('=').next().map(str::to_string)).collect();
    let env: Vec<String> = st.args.iter().filter(|(k, _)| !env_names.contains(k)).map(|(k, v)| format!("{k}={v}")).collect();
    let network = match network {
        Some("none") => "none".parse().unwrap_or_default(),
        Some("host") => "host".parse().unwrap_or_default(),
        _ => b.opts.network.clone(),
    };
    let vars = super::instruction::vars(st);
    let x = |w: &str| expand(w, &vars, b.df.escape).map_err(|e| b.subst(line, e));
    let m = prepare_mounts(b, st, mounts, &x, line)?;
    let key = cache::key(Some(&image), &["RUN", &argv.join("\u{0}"), &env.join("\u{0}"), &network.to_string(), &m.described.join("\u{0}")]);
    if let Some(hit) = cache::get(b, &key) {
        st.image = Some(hit);
        return Ok(true);
    }
    let step = RunStep { argv, env, network, mounts: m.requests.clone(), checked_binds: m.checked.clone() };
    let quiet = b.opts.quiet;
    let mut show = |e: &crate::container::lifecycle::Entry| {
        if !quiet {
            let _ = write!(out, "{}", e.log);
        }
    };
    let created_by = format!("RUN {}", ins.original.trim_start_matches("RUN ").trim_start_matches("run "));
    let id = steps::run(b.paths, &image, &step, &created_by, &mut show).map_err(|source| b.step(line, source))?;
    drop(m);
    cache::put(b, &key, &id);
    st.image = Some(b.store.resolve(&id.to_string())?);
    Ok(false)
}

/// The argv of a RUN, heredocs included (see the module comment); `None`
/// for heredocs with the exec form, which has no shell to read them.
fn script(command: &Command, heredocs: &[Heredoc], shell: &[String]) -> Option<Vec<String>> {
    if heredocs.is_empty() {
        return Some(argv(command, shell));
    }
    let Command::Shell(text) = command else {
        return None;
    };
    let with = |s: String| shell.iter().cloned().chain(std::iter::once(s)).collect::<Vec<_>>();
    let lone = match heredocs {
        [h] => {
            text.trim().strip_prefix("<<").map(|m| m.trim_start_matches('-').trim_matches(|c| c == '"' || c == '\''))
                == Some(h.name.as_str())
        }
        _ => false,
    };
    if lone {
        let body = &heredocs[0].body;
        if let Some(rest) = body.strip_prefix("#!") {
            let (interpreter, script) = rest.split_once('\n').unwrap_or((rest, ""));
            let mut delim = "BURROW_SCRIPT".to_string();
            while script.lines().any(|l| l == delim) {
                delim.push('_');
            }
            return Some(with(format!("{} <<'{delim}'\n{script}{delim}\n", interpreter.trim())));
        }
        return Some(with(body.clone()));
    }
    let mut s = text.clone();
    for h in heredocs {
        s.push('\n');
        s.push_str(&h.body);
        s.push_str(&h.name);
    }
    Some(with(s))
}

fn prepare_mounts(
    b: &Build,
    st: &StageState,
    specs: &[RunMount],
    x: &dyn Fn(&str) -> Result<String, Error>,
    line: crate::build::Span,
) -> Result<Mounts, Error> {
    let mut m = Mounts::default();
    for spec in specs {
        let what = format!("RUN --mount=type={}", spec.kind);
        let refuse = |why: &str| Err(b.at(line, format!("{what}: {why}")));
        if matches!(spec.kind.as_str(), "secret" | "ssh") {
            return refuse("secrets and ssh agents need burrow build --secret/--ssh, which burrow does not have yet");
        }
        let target = x(spec.target.as_deref().unwrap_or_default())?;
        let target = if target.starts_with('/') { target } else { format!("{}/{target}", workdir(st).trim_end_matches('/')) };
        let target = crate::volume::spec::clean_target(&target).map_err(|e| b.at(line, format!("{what}: {e}")))?;
        if spec.kind != "cache" && (spec.uid.is_some() || spec.gid.is_some() || spec.mode.is_some()) {
            return refuse("uid, gid and mode apply to cache mounts only");
        }
        match spec.kind.as_str() {
            "cache" => {
                if spec.from.is_some() || spec.source.is_some() {
                    return refuse("a cache seeded from another stage (from=, source=) is not supported yet: drop them for an empty cache");
                }
                let id = spec.id.as_deref().map(x).transpose()?.unwrap_or_else(|| target.clone());
                let dir = cache_dir(b, spec, &id, &mut m, line)?;
                m.checked.push(crate::volume::host::check(&dir, false).map_err(|e| b.at(line, format!("{what}: {e}")))?);
                m.described.push(format!("cache id={id} target={target} ro={}", spec.readonly));
                m.requests.push(MountRequest { target, kind: MountKind::Bind { source: dir, create: false }, read_only: spec.readonly });
            }
            "bind" => {
                if spec.from.is_some() {
                    return refuse("binding another stage's or image's files is not supported yet: COPY --from them instead");
                }
                if !spec.readonly {
                    // Writes through a build bind mount are thrown away by
                    // docker; a real bind would reach the context.
                    return refuse("rw bind mounts are not supported: burrow mounts the build context read-only; drop rw");
                }
                let source = x(spec.source.as_deref().unwrap_or("."))?;
                let (rel, path) = context_path(b, &source, line)?;
                let digest = cache::content_digest(&path).map_err(|e| b.at(line, format!("{what}: {}: {e}", path.display())))?;
                m.checked.push(crate::volume::host::check(&path, false).map_err(|e| b.at(line, format!("{what}: {e}")))?);
                m.described.push(format!("bind {rel} {digest} target={target}"));
                m.requests.push(MountRequest { target, kind: MountKind::Bind { source: path, create: false }, read_only: true });
            }
            "tmpfs" => {
                m.described.push(format!("tmpfs target={target}"));
                m.requests.push(MountRequest { target, kind: MountKind::Tmpfs(TmpfsOptions::default()), read_only: false });
            }
            other => return refuse(&format!("unknown mount type {other}")),
        }
    }
    Ok(m)
}

/// The cache directory for `id`, made with the mount's owner and mode;
/// with `sharing=locked` (or `private`, when free) locked for the step.
fn cache_dir(b: &Build, spec: &RunMount, id: &str, m: &mut Mounts, line: crate::build::Span) -> Result<PathBuf, Error> {
    let what = |e: String| b.at(line, format!("RUN --mount=type=cache,id={id}: {e}"));
    let hash: String = Sha256::digest(id.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect();
    let root = b.paths.cache().join("build-mounts");
    let dir = root.join(&hash);
    let num = |v: &Option<String>, radix: u32, name: &str, default: u32| -> Result<u32, Error> {
        v.as_deref()
            .map(|s| u32::from_str_radix(s, radix).map_err(|_| what(format!("{name}={s}: expected a number"))))
            .transpose()
            .map(|v| v.unwrap_or(default))
    };
    let (uid, gid, mode) = (num(&spec.uid, 10, "uid", 0)?, num(&spec.gid, 10, "gid", 0)?, num(&spec.mode, 8, "mode", 0o755)?);
    let own = |dir: &std::path::Path| -> std::io::Result<()> {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(mode))
    };
    if !dir.is_dir() {
        std::fs::create_dir_all(&dir).and_then(|_| own(&dir)).map_err(|e| what(format!("{}: {e}", dir.display())))?;
    }
    let sharing = spec.sharing.as_deref().unwrap_or("shared");
    if sharing == "shared" {
        return Ok(dir);
    }
    let lock_path = root.join(format!("{hash}.lock"));
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| what(format!("{}: {e}", lock_path.display())))?;
    let arg = if sharing == "locked" { FlockArg::LockExclusive } else { FlockArg::LockExclusiveNonblock };
    match Flock::lock(file, arg) {
        Ok(lock) => {
            m._locks.push(lock);
            Ok(dir)
        }
        Err((_, nix::errno::Errno::EWOULDBLOCK)) if sharing == "private" => {
            let fresh = tempfile::Builder::new().prefix(&format!("{hash}-private-")).tempdir_in(&root).map_err(|e| what(e.to_string()))?;
            own(fresh.path()).map_err(|e| what(format!("{}: {e}", fresh.path().display())))?;
            let path = fresh.path().to_path_buf();
            m._private.push(fresh);
            Ok(path)
        }
        Err((_, e)) => Err(what(format!("cannot lock {}: {e}", lock_path.display()))),
    }
}

/// A bind source in the context: relative name and path. Refused when it
/// leaves the context or `.dockerignore` would hide something under it.
fn context_path(b: &Build, source: &str, line: crate::build::Span) -> Result<(String, PathBuf), Error> {
    let refuse = |refusal| Error::BindSource { file: b.df.file.clone(), at: line, path: source.to_string(), refusal };
    let parts: Vec<&str> = source.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    if parts.contains(&"..") {
        return Err(refuse(ContextRefusal::Outside));
    }
    let rel = parts.join("/");
    let path = b.opts.context.join(&rel);
    if !path.exists() {
        return Err(refuse(ContextRefusal::Missing));
    }
    let under = |p: &String| rel.is_empty() || p == &rel || p.starts_with(&format!("{rel}/"));
    let everything = Ignore::default().walk(&b.opts.context, &[]).map_err(|e| b.context_at(line, e))?;
    let kept = b.context_files().map_err(|e| b.context_at(line, e))?;
    if everything.iter().filter(|p| under(p)).count() != kept.iter().filter(|p| under(p)).count() {
        return Err(refuse(ContextRefusal::HidesExcluded));
    }
    Ok((rel, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str, body: &str) -> Heredoc {
        Heredoc { name: name.into(), body: body.into(), expand: true, strip_tabs: false }
    }
    fn sh() -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into()]
    }

    #[test]
    fn heredocs_become_shell_scripts() {
        let lone = script(&Command::Shell("<<EOF".into()), &[doc("EOF", "echo a\necho b\n")], &sh()).unwrap();
        assert_eq!(lone, ["/bin/sh", "-c", "echo a\necho b\n"]);
        let quoted = script(&Command::Shell("<<-'END'".into()), &[doc("END", "x\n")], &sh()).unwrap();
        assert_eq!(quoted[2], "x\n");
        let shebang = script(&Command::Shell("<<EOF".into()), &[doc("EOF", "#!/usr/bin/env python3\nprint(1)\n")], &sh()).unwrap();
        assert_eq!(shebang[2], "/usr/bin/env python3 <<'BURROW_SCRIPT'\nprint(1)\nBURROW_SCRIPT\n");
        let inline = script(&Command::Shell("cat <<A >/a && cat <<B >/b".into()), &[doc("A", "1\n"), doc("B", "2\n")], &sh()).unwrap();
        assert_eq!(inline[2], "cat <<A >/a && cat <<B >/b\n1\nA\n2\nB");
        assert!(script(&Command::Exec(vec!["cat".into()]), &[doc("EOF", "x\n")], &sh()).is_none());
        assert_eq!(script(&Command::Exec(vec!["cat".into()]), &[], &sh()).unwrap(), ["cat"]);
    }
}
