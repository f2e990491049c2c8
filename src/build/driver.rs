//! `burrow build`: a parsed Dockerfile's stages turned into images.
//!
//! Only the stages the target needs are built, in file order. Each stage
//! starts from `scratch`, an earlier stage, or an image (pulled when
//! missing, or always with `--pull`); each instruction then makes the next
//! image through `steps` (RUN a container whose changes become a layer,
//! COPY/ADD a layer of files, the others a config change). ARG and ENV
//! values are substituted where the Dockerfile reference says, with the
//! build arguments given on the command line.
//!
//! The cache: before a step runs, its key — the parent image, the
//! instruction with its variables substituted, the build arguments a RUN
//! sees, and the content digest of every file a COPY or ADD reads — is
//! looked up in `cache/build/<key>`; a hit whose image is still stored is
//! used as it is (`CACHED`). A failed step tags nothing: only the final
//! image gets the `-t` names, and the intermediate images are untagged
//! (they are the reusable cache).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest as _, Sha256};

use super::context::Ignore;
use super::steps::{self, CopyItem, RunStep};
use super::{Command, CopySpec, Dockerfile, Instruction, Kind};
use crate::image::{Digest, Image, Store};
use crate::paths::Paths;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Parse(#[from] super::Error),
    #[error("{file}:{line}: {message}")]
    At { file: String, line: usize, message: String },
    #[error("{file}:{line}: {source}")]
    Step { file: String, line: usize, source: Box<steps::Error> },
    #[error(transparent)]
    Context(#[from] super::context::Error),
    #[error(transparent)]
    Image(#[from] crate::image::Error),
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot get the base image {image}: {reason}")]
    Base { image: String, reason: String },
}

/// The build's flags.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub context: PathBuf,
    /// The Dockerfile (default `<context>/Dockerfile`).
    pub file: Option<PathBuf>,
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub pull: bool,
    pub labels: Vec<(String, String)>,
    pub quiet: bool,
    pub network: burrow_netstack::mode::NetworkMode,
}

/// What a stage has built so far.
struct StageState {
    image: Option<Image>,
    args: BTreeMap<String, String>,
    shell: Vec<String>,
}

/// Build; returns the final image's id. `pull` fetches an image that is
/// not stored; `out` receives the progress.
pub fn build(paths: &Paths, opts: &Options, pull: &dyn Fn(&str) -> Result<Image, String>, out: &mut dyn Write) -> Result<Digest, Error> {
    let file = opts.file.clone().unwrap_or_else(|| opts.context.join("Dockerfile"));
    let text = std::fs::read_to_string(&file).map_err(|source| Error::Io { path: file.clone(), source })?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "Dockerfile".into());
    let df = super::parse(&text, &name)?;
    let needed = super::needed_stages(&df, opts.target.as_deref())?;
    let ignore = Ignore::load(&opts.context)?;
    let store = Store::open(paths)?;
    let mut global: BTreeMap<String, String> = BTreeMap::new();
    for a in &df.global_args {
        if let Some(v) = opts.build_args.get(&a.name).cloned().or_else(|| a.default.clone()) {
            global.insert(a.name.clone(), v);
        }
    }
    let mut built: BTreeMap<usize, Option<Image>> = BTreeMap::new();
    let total: usize = needed.iter().map(|i| df.stages[*i].instructions.len() + 1).sum();
    let mut step_no = 0;
    for &si in &needed {
        let stage = &df.stages[si];
        step_no += 1;
        let base_name = expand(&stage.base, &global, df.escape).map_err(|m| at(&df, stage.span.line, m))?;
        let t = Instant::now();
        if stage.platform.is_some() {
            return Err(at(&df, stage.span.line, "FROM --platform is not supported by burrow build yet: images are built for this machine's platform".into()));
        }
        let base = resolve_base(&store, &df, &built, &base_name, opts.pull, pull)?;
        if base.as_ref().is_some_and(|b| b.config_json["config"]["OnBuild"].as_array().is_some_and(|t| !t.is_empty())) {
            return Err(at(&df, stage.span.line, format!("the base image {base_name} has ONBUILD triggers, which burrow build does not run yet: build from an image without them")));
        }
        let _ = writeln!(out, "[{step_no}/{total}] FROM {base_name}{} ({:.1}s)", stage.name.as_ref().map(|n| format!(" AS {n}")).unwrap_or_default(), t.elapsed().as_secs_f64());
        let mut st = StageState { image: base, args: BTreeMap::new(), shell: vec!["/bin/sh".into(), "-c".into()] };
        for ins in &stage.instructions {
            step_no += 1;
            let t = Instant::now();
            let cached = run_instruction(paths, &store, &df, &built, &ignore, opts, &global, &mut st, ins, out)?;
            let took = t.elapsed().as_secs_f64();
            let _ = writeln!(out, "[{step_no}/{total}] {}{}", ins.original.lines().next().unwrap_or(""), if cached { " CACHED".to_string() } else { format!(" ({took:.1}s)") });
        }
        built.insert(si, st.image);
    }
    let last = *needed.last().ok_or_else(|| at(&df, 1, "the Dockerfile has no stage to build".into()))?;
    let mut image = built.remove(&last).flatten().ok_or_else(|| at(&df, 1, "the target stage is empty (FROM scratch with no files)".into()))?;
    if !opts.labels.is_empty() {
        let labels = opts.labels.clone();
        let id = steps::config(&store, &image, "LABEL (build --label)", move |c| {
            for (k, v) in labels {
                set(c, &["config", "Labels", &k], serde_json::json!(v));
            }
        })
        .map_err(|source| Error::Step { file: df.file.clone(), line: 0, source: Box::new(source) })?;
        image = store.resolve(&id.to_string())?;
    }
    for t in &opts.tags {
        store.tag(&image.id.to_string(), t)?;
    }
    Ok(image.id.clone())
}

fn at(df: &Dockerfile, line: usize, message: String) -> Error {
    Error::At { file: df.file.clone(), line, message }
}

/// Set `path` in a JSON object, making the objects on the way.
fn set(v: &mut serde_json::Value, path: &[&str], value: serde_json::Value) {
    let mut cur = v;
    for (i, k) in path.iter().enumerate() {
        if !cur.is_object() {
            *cur = serde_json::json!({});
        }
        if i + 1 == path.len() {
            cur[*k] = value;
            return;
        }
        cur = &mut cur[*k];
    }
}

/// `$VAR` substitution with these values.
fn expand(word: &str, vars: &BTreeMap<String, String>, escape: char) -> Result<String, String> {
    super::subst::expand(word, &|k| vars.get(k).cloned(), escape).map_err(|e| e.to_string())
}

fn resolve_base(
    store: &Store,
    df: &Dockerfile,
    built: &BTreeMap<usize, Option<Image>>,
    name: &str,
    always_pull: bool,
    pull: &dyn Fn(&str) -> Result<Image, String>,
) -> Result<Option<Image>, Error> {
    if name.eq_ignore_ascii_case("scratch") {
        return Ok(None);
    }
    if let Some(i) = df.stages.iter().position(|s| s.name.as_deref() == Some(name)).or_else(|| name.parse::<usize>().ok()) {
        if let Some(img) = built.get(&i) {
            return Ok(img.clone());
        }
    }
    if !always_pull {
        if let Ok(img) = store.resolve(name) {
            return Ok(Some(img));
        }
    }
    pull(name).map(Some).map_err(|reason| Error::Base { image: name.to_string(), reason })
}

/// The variables an instruction sees: the image's Env, then the stage's
/// ARGs (ENV wins over ARG, as docker has it).
fn vars(st: &StageState) -> BTreeMap<String, String> {
    let mut v = st.args.clone();
    for kv in image_env(st) {
        if let Some((k, val)) = kv.split_once('=') {
            v.insert(k.to_string(), val.to_string());
        }
    }
    v
}

fn image_env(st: &StageState) -> Vec<String> {
    st.image.as_ref().and_then(|i| i.config_json["config"]["Env"].as_array().cloned()).unwrap_or_default().iter().filter_map(|e| e.as_str().map(str::to_string)).collect()
}

fn cache_key(parent: Option<&Image>, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(parent.map(|i| i.id.to_string()).unwrap_or_else(|| "scratch".into()));
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn cache_get(paths: &Paths, store: &Store, key: &str) -> Option<Image> {
    let id = std::fs::read_to_string(paths.cache().join("build").join(key)).ok()?;
    store.resolve(id.trim()).ok()
}

fn cache_put(paths: &Paths, key: &str, id: &Digest) {
    let dir = paths.cache().join("build");
    let tmp = dir.join(format!("{key}.{}.tmp", std::process::id()));
    let r = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&tmp, id.to_string())).and_then(|_| std::fs::rename(&tmp, dir.join(key)));
    if let Err(e) = r {
        tracing::debug!(%e, "cannot record the build cache");
    }
}

/// A metadata instruction's change to the image config.
type ConfigChange = Box<dyn FnOnce(&mut serde_json::Value)>;

/// Run one instruction; true when it came from the cache.
#[allow(clippy::too_many_arguments)]
fn run_instruction(
    paths: &Paths,
    store: &Store,
    df: &Dockerfile,
    built: &BTreeMap<usize, Option<Image>>,
    ignore: &Ignore,
    opts: &Options,
    global: &BTreeMap<String, String>,
    st: &mut StageState,
    ins: &Instruction,
    out: &mut dyn Write,
) -> Result<bool, Error> {
    let line = ins.span.line;
    let err_at = |m: String| at(df, line, m);
    let step_err = |source| Error::Step { file: df.file.clone(), line, source: Box::new(source) };
    let v = vars(st);
    let x = |w: &str| expand(w, &v, df.escape).map_err(err_at);
    // Metadata: a config change, cached on the instruction as expanded.
    // Set by every metadata arm below; the others return early.
    #[allow(clippy::needless_late_init)]
    let meta: Option<(String, ConfigChange)>;
    match &ins.kind {
        Kind::Arg(decls) => {
            for a in decls {
                let value = opts.build_args.get(&a.name).cloned().or_else(|| a.default.as_deref().map(&x).transpose().ok().flatten()).or_else(|| global.get(&a.name).cloned());
                if let Some(val) = value {
                    st.args.insert(a.name.clone(), val);
                }
            }
            return Ok(false);
        }
        Kind::Shell(words) => {
            st.shell = words.clone();
            return Ok(false);
        }
        Kind::Run { command, network, mounts, heredocs } => {
            // Refused, never ignored, until they are built.
            if !mounts.is_empty() {
                return Err(err_at("RUN --mount is not supported by burrow build yet: remove it (cache mounts only speed up package downloads)".into()));
            }
            if !heredocs.is_empty() {
                return Err(err_at("RUN with a heredoc is not supported by burrow build yet: write the script to a file in the context, COPY it and RUN it".into()));
            }
            let image = st.image.clone().ok_or_else(|| err_at("RUN needs a base image: there is nothing to run in FROM scratch".into()))?;
            let argv = match command {
                Command::Exec(words) => words.clone(),
                Command::Shell(s) => st.shell.iter().cloned().chain(std::iter::once(s.clone())).collect(),
            };
            let env_names: Vec<String> = image_env(st).iter().filter_map(|e| e.split('=').next().map(str::to_string)).collect();
            let env: Vec<String> = st.args.iter().filter(|(k, _)| !env_names.contains(k)).map(|(k, v)| format!("{k}={v}")).collect();
            let network = match network.as_deref() {
                Some("none") => "none".parse().unwrap_or_default(),
                Some("host") => "host".parse().unwrap_or_default(),
                _ => opts.network.clone(),
            };
            let key = cache_key(Some(&image), &["RUN", &argv.join("\u{0}"), &env.join("\u{0}"), &network.to_string()]);
            if !opts.no_cache {
                if let Some(hit) = cache_get(paths, store, &key) {
                    st.image = Some(hit);
                    return Ok(true);
                }
            }
            let step = RunStep { argv, env, network };
            let quiet = opts.quiet;
            let mut show = |e: &crate::container::logs::Entry| {
                if !quiet {
                    let _ = write!(out, "{}", e.log);
                }
            };
            let id = steps::run(paths, &image, &step, &format!("RUN {}", ins.original.trim_start_matches("RUN ").trim_start_matches("run ")), &mut show).map_err(step_err)?;
            cache_put(paths, &key, &id);
            st.image = Some(store.resolve(&id.to_string())?);
            return Ok(false);
        }
        Kind::Copy(spec) | Kind::Add(spec) => {
            if !spec.heredocs.is_empty() {
                return Err(err_at("COPY/ADD with a heredoc is not supported by burrow build yet: put the file in the build context".into()));
            }
            if spec.checksum.is_some() {
                return Err(err_at("ADD --checksum is not supported by burrow build yet (it applies to remote URLs, which are not supported either)".into()));
            }
            let is_add = matches!(ins.kind, Kind::Add(_));
            let items = copy_items(store, df, built, ignore, opts, st, spec, &x, is_add).map_err(err_at)?;
            let chown = spec.chown.as_deref().map(&x).transpose()?.map(|c| owner(st, &c)).transpose().map_err(err_at)?;
            let chmod = spec.chmod.as_deref().map(|m| u32::from_str_radix(m, 8).map_err(|_| format!("invalid --chmod {m:?}: give octal bits such as 755"))).transpose().map_err(err_at)?;
            let mut digests = Vec::new();
            for i in &items {
                digests.push(format!("{}={}", i.dest, content_digest(&i.source).map_err(|e| err_at(format!("{}: {e}", i.source.display())))?));
            }
            let key = cache_key(st.image.as_ref(), &[if is_add { "ADD" } else { "COPY" }, &digests.join("\u{0}"), &format!("{chown:?}{chmod:?}")]);
            if !opts.no_cache {
                if let Some(hit) = cache_get(paths, store, &key) {
                    st.image = Some(hit);
                    return Ok(true);
                }
            }
            let id = steps::copy(store, st.image.as_ref(), &items, chown, chmod, &ins.original).map_err(step_err)?;
            cache_put(paths, &key, &id);
            st.image = Some(store.resolve(&id.to_string())?);
            return Ok(false);
        }
        Kind::Env(pairs) => {
            let mut set_env = Vec::new();
            for (k, val) in pairs {
                set_env.push((k.clone(), x(val)?));
            }
            let text = set_env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
            meta = Some((format!("ENV {text}"), Box::new(move |c| {
                let mut list: Vec<String> = c["config"]["Env"].as_array().cloned().unwrap_or_default().iter().filter_map(|e| e.as_str().map(str::to_string)).collect();
                for (k, v) in set_env {
                    list.retain(|e| e.split('=').next() != Some(k.as_str()));
                    list.push(format!("{k}={v}"));
                }
                set(c, &["config", "Env"], serde_json::json!(list));
            })));
        }
        Kind::Label(pairs) => {
            let mut labels = Vec::new();
            for (k, val) in pairs {
                labels.push((x(k)?, x(val)?));
            }
            meta = Some((format!("LABEL {labels:?}"), Box::new(move |c| {
                for (k, v) in labels {
                    set(c, &["config", "Labels", &k], serde_json::json!(v));
                }
            })));
        }
        Kind::Cmd(command) | Kind::Entrypoint(command) => {
            let field = if matches!(ins.kind, Kind::Cmd(_)) { "Cmd" } else { "Entrypoint" };
            let words = match command {
                Command::Exec(w) => w.clone(),
                Command::Shell(s) => st.shell.iter().cloned().chain(std::iter::once(s.clone())).collect(),
            };
            let reset_cmd = field == "Entrypoint";
            meta = Some((format!("{field} {words:?}"), Box::new(move |c| {
                set(c, &["config", field], serde_json::json!(words));
                if reset_cmd {
                    // docker: a new ENTRYPOINT drops the CMD inherited from the base.
                    set(c, &["config", "Cmd"], serde_json::Value::Null);
                }
            })));
        }
        Kind::Workdir(dir) => {
            let dir = x(dir)?;
            let cur = st.image.as_ref().and_then(|i| i.config_json["config"]["WorkingDir"].as_str().map(str::to_string)).unwrap_or_else(|| "/".into());
            let full = if dir.starts_with('/') { dir } else { format!("{}/{dir}", cur.trim_end_matches('/')) };
            meta = Some((format!("WORKDIR {full}"), Box::new(move |c| set(c, &["config", "WorkingDir"], serde_json::json!(full)))));
        }
        Kind::User(u) => {
            let u = x(u)?;
            meta = Some((format!("USER {u}"), Box::new(move |c| set(c, &["config", "User"], serde_json::json!(u)))));
        }
        Kind::Expose(ports) => {
            let mut list = Vec::new();
            for p in ports {
                let p = x(p)?;
                let (n, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                list.push(format!("{n}/{proto}"));
            }
            meta = Some((format!("EXPOSE {list:?}"), Box::new(move |c| {
                for p in list {
                    set(c, &["config", "ExposedPorts", &p], serde_json::json!({}));
                }
            })));
        }
        Kind::Volume(vols) => {
            let mut list = Vec::new();
            for p in vols {
                list.push(x(p)?);
            }
            meta = Some((format!("VOLUME {list:?}"), Box::new(move |c| {
                for p in list {
                    set(c, &["config", "Volumes", &p], serde_json::json!({}));
                }
            })));
        }
        Kind::StopSignal(s) => {
            let s = x(s)?;
            meta = Some((format!("STOPSIGNAL {s}"), Box::new(move |c| set(c, &["config", "StopSignal"], serde_json::json!(s)))));
        }
        Kind::Maintainer(m) => {
            let m = m.clone();
            meta = Some((format!("MAINTAINER {m}"), Box::new(move |c| c["author"] = serde_json::json!(m))));
        }
        Kind::OnBuild(inner) => {
            let text = inner.original.clone();
            meta = Some((format!("ONBUILD {text}"), Box::new(move |c| {
                let mut list = c["config"]["OnBuild"].as_array().cloned().unwrap_or_default();
                list.push(serde_json::json!(text));
                set(c, &["config", "OnBuild"], serde_json::json!(list));
            })));
        }
        Kind::Healthcheck(spec) => {
            let value = health_json(spec.as_ref(), &st.shell);
            meta = Some((format!("HEALTHCHECK {value}"), Box::new(move |c| set(c, &["config", "Healthcheck"], value))));
        }
        Kind::From { .. } => return Err(err_at("FROM inside a stage".into())),
    }
    let Some((text, change)) = meta else { return Ok(false) };
    let image = match &st.image {
        Some(i) => i.clone(),
        None => return Err(err_at(format!("{} needs a base image with FROM scratch: add a file first (COPY)", text.split(' ').next().unwrap_or("this")))),
    };
    let key = cache_key(Some(&image), &[&text]);
    if !opts.no_cache {
        if let Some(hit) = cache_get(paths, store, &key) {
            st.image = Some(hit);
            return Ok(true);
        }
    }
    let id = steps::config(store, &image, &ins.original, change).map_err(step_err)?;
    cache_put(paths, &key, &id);
    st.image = Some(store.resolve(&id.to_string())?);
    Ok(false)
}

/// `--chown` as numeric ids, names looked up in the image's own files.
fn owner(st: &StageState, spec: &str) -> Result<(u32, u32), String> {
    let layers: Vec<PathBuf> = st.image.as_ref().map(|i| i.layers.iter().rev().map(|l| l.dir.clone()).collect()).unwrap_or_default();
    let read = |p: &str| crate::container::rootfs::read_merged(&layers, p);
    let id = crate::container::passwd::resolve(spec, &read("etc/passwd"), &read("etc/group")).map_err(|e| format!("--chown={spec}: {e}"))?;
    Ok((id.uid, id.gid))
}

/// sha256 of a file's bytes, a symlink's target, or a tree's names, modes
/// and contents.
fn content_digest(path: &Path) -> std::io::Result<String> {
    use std::os::unix::fs::MetadataExt;
    fn feed(h: &mut Sha256, path: &Path, rel: &str) -> std::io::Result<()> {
        let m = std::fs::symlink_metadata(path)?;
        h.update(format!("{rel}\u{0}{:o}\u{0}", m.mode()));
        if m.file_type().is_symlink() {
            h.update(std::fs::read_link(path)?.as_os_str().as_encoded_bytes());
        } else if m.is_file() {
            let mut f = std::fs::File::open(path)?;
            std::io::copy(&mut f, h)?;
        } else if m.is_dir() {
            let mut names: Vec<_> = std::fs::read_dir(path)?.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
            names.sort();
            for n in names {
                feed(h, &path.join(&n), &format!("{rel}/{}", n.to_string_lossy()))?;
            }
        }
        Ok(())
    }
    let mut h = Sha256::new();
    feed(&mut h, path, "")?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The files a COPY/ADD puts where, by docker's rules: a directory's
/// content goes to the destination, several sources (or a destination
/// ending in `/`) need a directory destination, globs match in the
/// context (never outside it, never what `.dockerignore` excludes).
#[allow(clippy::too_many_arguments)]
fn copy_items(
    store: &Store,
    df: &Dockerfile,
    built: &BTreeMap<usize, Option<Image>>,
    ignore: &Ignore,
    opts: &Options,
    st: &StageState,
    spec: &CopySpec,
    x: &dyn Fn(&str) -> Result<String, Error>,
    is_add: bool,
) -> Result<Vec<CopyItem>, String> {
    let dest = x(&spec.dest).map_err(|e| e.to_string())?;
    let workdir = st.image.as_ref().and_then(|i| i.config_json["config"]["WorkingDir"].as_str().map(str::to_string)).unwrap_or_else(|| "/".into());
    let dest = if dest.starts_with('/') { dest } else { format!("{}/{dest}", workdir.trim_end_matches('/')) };
    let mut sources: Vec<(String, PathBuf)> = Vec::new();
    match &spec.from {
        Some(from) => {
            let from = x(from).map_err(|e| e.to_string())?;
            let image = match df.stages.iter().position(|s| s.name.as_deref() == Some(from.as_str())).or_else(|| from.parse().ok()) {
                Some(i) => built.get(&i).cloned().flatten().ok_or_else(|| format!("COPY --from={from}: that stage has no files"))?,
                None => store.resolve(&from).map_err(|e| format!("COPY --from={from}: {e}"))?,
            };
            let layers: Vec<PathBuf> = image.layers.iter().rev().map(|l| l.dir.clone()).collect();
            for s in &spec.sources {
                let s = x(s).map_err(|e| e.to_string())?;
                let rel = s.trim_start_matches('/').trim_end_matches('/');
                let found = crate::container::rootfs::find(&layers, rel).ok_or_else(|| format!("COPY --from={from}: {s}: no such file or directory in that stage"))?;
                sources.push((rel.rsplit('/').next().unwrap_or(rel).to_string(), found));
            }
        }
        None => {
            let walk = ignore.walk(&opts.context, &[]).map_err(|e| e.to_string())?;
            for s in &spec.sources {
                let s = x(s).map_err(|e| e.to_string())?;
                if is_add && (s.starts_with("http://") || s.starts_with("https://")) {
                    return Err(format!("ADD {s}: remote URLs are not supported yet: download the file into the build context and COPY it"));
                }
                let pat = s.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/');
                let norm: Vec<&str> = pat.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
                if norm.contains(&"..") {
                    return Err(format!("{s}: outside the build context"));
                }
                let pattern = norm.join("/");
                let hits: Vec<&String> = if pattern.is_empty() {
                    Vec::new()
                } else {
                    let one = Ignore::parse(&pattern).map_err(|e| e.to_string())?;
                    walk.iter().filter(|p| p.split('/').count() == norm.len() && one.excluded(p)).collect()
                };
                if pattern.is_empty() {
                    sources.push((String::new(), opts.context.clone()));
                    continue;
                }
                if hits.is_empty() {
                    return Err(format!("{s}: not found in the build context (or excluded by .dockerignore)"));
                }
                for h in hits {
                    sources.push((h.rsplit('/').next().unwrap_or(h).to_string(), opts.context.join(h)));
                }
            }
        }
    }
    let many = sources.len() > 1;
    let into_dir = dest.ends_with('/') || many;
    let mut items = Vec::new();
    for (name, path) in sources {
        let is_dir = std::fs::metadata(&path).is_ok_and(|m| m.is_dir());
        if is_dir {
            // A directory's content goes to the destination: from the
            // context exactly what `.dockerignore` leaves (the walk lists
            // directories before what they hold), from a stage its tree.
            let d = dest.trim_end_matches('/').to_string();
            match &spec.from {
                Some(_) => items.push(CopyItem { source: path, dest: d, recursive: true }),
                None => {
                    let prefix = path.strip_prefix(&opts.context).map(|r| r.to_string_lossy().into_owned()).unwrap_or_default();
                    let walk = ignore.walk(&opts.context, &[]).map_err(|e| e.to_string())?;
                    for p in walk {
                        let below = if prefix.is_empty() { Some(p.as_str()) } else { p.strip_prefix(&format!("{prefix}/")) };
                        if let Some(rel) = below {
                            items.push(CopyItem { source: opts.context.join(&p), dest: format!("{d}/{rel}"), recursive: false });
                        }
                    }
                }
            }
            continue;
        }
        if is_add && is_tar(&path) {
            return Err(format!("ADD {}: unpacking archives is not supported yet: unpack it into the build context and COPY the directory", path.display()));
        }
        let target = if into_dir { format!("{}/{name}", dest.trim_end_matches('/')) } else { dest.clone() };
        items.push(CopyItem { source: path, dest: target, recursive: true });
    }
    Ok(items)
}

/// Whether ADD would unpack this file (a tar, compressed or not).
fn is_tar(path: &Path) -> bool {
    let mut head = [0u8; 262];
    let n = std::fs::File::open(path).and_then(|mut f| std::io::Read::read(&mut f, &mut head)).unwrap_or(0);
    n >= 262 && &head[257..262] == b"ustar" || head.starts_with(&[0x1f, 0x8b]) || head.starts_with(b"BZh") || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z']) || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
}

/// docker's `Healthcheck` config for a HEALTHCHECK instruction (durations
/// in nanoseconds; `NONE` is `["NONE"]`).
fn health_json(spec: Option<&super::HealthSpec>, shell: &[String]) -> serde_json::Value {
    let Some(h) = spec else { return serde_json::json!({"Test": ["NONE"]}) };
    let test: Vec<String> = match &h.command {
        Command::Exec(w) => std::iter::once("CMD".to_string()).chain(w.iter().cloned()).collect(),
        Command::Shell(s) => {
            let _ = shell;
            vec!["CMD-SHELL".to_string(), s.clone()]
        }
    };
    let ns = |d: &Option<String>| d.as_deref().and_then(crate::container::health::parse_duration).map(|d| d.as_nanos() as u64).unwrap_or(0);
    serde_json::json!({
        "Test": test,
        "Interval": ns(&h.interval),
        "Timeout": ns(&h.timeout),
        "StartPeriod": ns(&h.start_period),
        "Retries": h.retries.unwrap_or(0),
    })
}
