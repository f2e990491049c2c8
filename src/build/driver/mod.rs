//! `burrow build`: a parsed Dockerfile's stages turned into images.
//!
//! Only the stages the target needs are built, in file order. Each stage
//! starts from `scratch`, an earlier stage, or an image (pulled when
//! missing, or always with `--pull`). A `FROM --platform` must name this
//! machine's platform: burrow builds natively and never emulates. When the
//! base has ONBUILD triggers, they run first, as instructions of the child
//! (which does not pass them on). Each instruction then makes the next
//! image through `steps`: RUN a container whose changes become a layer
//! (`run`: heredocs, `--mount=type=cache|bind|tmpfs`), COPY/ADD a layer of
//! files (`sources`: the context after `.dockerignore`, a stage, heredoc
//! bodies, downloads, local archives ADD unpacks), the others a config
//! change (`instruction`). ARG and ENV values are substituted where the
//! Dockerfile reference says, with the build arguments given on the
//! command line and the built-in platform arguments (TARGETARCH...).
//!
//! The cache (`cache`): before a step runs, its key — the parent image, the
//! instruction with its variables substituted, the build arguments a RUN
//! sees, its mounts, and the content digest of every file a COPY, ADD or
//! bind mount reads — is looked up in `cache/build/<key>`; a hit whose
//! image is still stored is used as it is (`CACHED`). A failed step tags
//! nothing: only the final image gets the `-t` names, and the intermediate
//! images are untagged (they are the reusable cache).

mod cache;
mod instruction;
mod run;
mod sources;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use super::context::Ignore;
use super::steps;
use super::{Dockerfile, Span};
use crate::image::{Digest, Image, Store};
use crate::paths::Paths;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Parse(#[from] super::Error),
    #[error("{file}:{}:{}: {message}", at.line, at.column)]
    At { file: String, at: Span, message: String },
    #[error("{file}:{}:{}: {source}", at.line, at.column)]
    Step { file: String, at: Span, source: Box<steps::Error> },
    #[error("{file}:{}:{}: {source}", at.line, at.column)]
    Fetch { file: String, at: Span, source: super::fetch::Error },
    /// A `$VAR` substitution that fails (`${X:?message}`, a bad `${...}`).
    #[error("{file}:{}:{}: {source}", at.line, at.column)]
    Subst { file: String, at: Span, source: super::subst::SubstError },
    /// `FROM --platform` names a platform this machine cannot run natively.
    #[error(
        "{file}:{}:{}: FROM --platform={given}: burrow builds for this machine's platform only ({host}); building for another one needs an emulator, which burrow does not use",
        at.line,
        at.column
    )]
    Platform { file: String, at: Span, given: String, host: String },
    /// One of the base image's ONBUILD triggers (`text`) cannot run.
    #[error("{file}:{}:{}: the base image's ONBUILD trigger {text:?}: {source}", at.line, at.column)]
    Trigger { file: String, at: Span, text: String, source: Box<super::Error> },
    /// `--chown` names a user or group the image does not have.
    #[error("{file}:{}:{}: --chown={spec}: {source}", at.line, at.column)]
    Chown { file: String, at: Span, spec: String, source: crate::passwd::Error },
    /// `--chmod` is not octal mode bits.
    #[error("{file}:{}:{}: invalid --chmod {value:?}: give octal bits such as 755", at.line, at.column)]
    Chmod { file: String, at: Span, value: String },
    /// A COPY or ADD source `pattern` the context does not give.
    #[error("{file}:{}:{}: {pattern}: {refusal}", at.line, at.column)]
    CopySource { file: String, at: Span, pattern: String, refusal: ContextRefusal },
    /// A `RUN --mount=type=bind` source `path` the context does not give.
    #[error("{file}:{}:{}: RUN --mount=type=bind,source={path}: {refusal}", at.line, at.column)]
    BindSource { file: String, at: Span, path: String, refusal: ContextRefusal },
    /// The context (or `.dockerignore`) cannot be read for a step.
    #[error("{file}:{}:{}: {source}", at.line, at.column)]
    ContextAt { file: String, at: Span, source: super::context::Error },
    /// RUN with here-documents in the exec form.
    #[error("{file}:{}:{}: a heredoc needs the shell form of RUN (RUN <<EOF, not RUN [\"...\"])", at.line, at.column)]
    HeredocExecForm { file: String, at: Span },
    #[error(transparent)]
    Context(#[from] super::context::Error),
    #[error(transparent)]
    Image(#[from] crate::image::Error),
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The caller's `pull` could not get a base image.
    #[error("cannot get the base image {image}: {source}")]
    Base { image: String, source: PullError },
}

/// Why a path or pattern is not one a step may take from the build context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ContextRefusal {
    #[error("outside the build context")]
    Outside,
    #[error("not found in the build context")]
    Missing,
    /// No file matches, or `.dockerignore` excludes what does.
    #[error("not found in the build context (or excluded by .dockerignore)")]
    NoMatch,
    /// A bind mount would show what `.dockerignore` excludes.
    #[error(".dockerignore excludes files under it, which a bind mount would show: bind a directory with nothing excluded, or COPY")]
    HidesExcluded,
}

/// Why the caller's `pull` failed: its own error, whatever its kind.
pub type PullError = Box<dyn std::error::Error + Send + Sync>;

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

impl StageState {
    /// The image's layer directories, top first (none for scratch).
    fn layer_dirs(&self) -> Vec<PathBuf> {
        self.image.as_ref().map(Image::layer_dirs_top_first).unwrap_or_default()
    }
}

/// What every step of one build shares.
struct Build<'a> {
    paths: &'a Paths,
    store: Store,
    df: &'a Dockerfile,
    opts: &'a Options,
    ignore: Ignore,
    /// Global ARGs (before the first FROM) and the built-in ones.
    global: BTreeMap<String, String>,
    /// The images of the stages built so far, by index.
    built: BTreeMap<usize, Option<Image>>,
    /// The context's paths `.dockerignore` leaves, listed once per build.
    context_files: std::cell::OnceCell<Vec<String>>,
}

impl Build<'_> {
    fn at(&self, at: Span, message: String) -> Error {
        Error::At { file: self.df.file.clone(), at, message }
    }
    fn step(&self, at: Span, source: steps::Error) -> Error {
        Error::Step { file: self.df.file.clone(), at, source: Box::new(source) }
    }
    fn subst(&self, at: Span, source: super::subst::SubstError) -> Error {
        Error::Subst { file: self.df.file.clone(), at, source }
    }
    fn context_at(&self, at: Span, source: super::context::Error) -> Error {
        Error::ContextAt { file: self.df.file.clone(), at, source }
    }
    /// Every path of the context that `.dockerignore` leaves (relative,
    /// directories before what they hold); the context does not change
    /// during a build, so it is walked once.
    fn context_files(&self) -> Result<&[String], super::context::Error> {
        if let Some(files) = self.context_files.get() {
            return Ok(files);
        }
        let files = self.ignore.walk(&self.opts.context, &[])?;
        Ok(self.context_files.get_or_init(|| files))
    }
}

/// The place of what belongs to the file as a whole.
const TOP: Span = Span { line: 1, column: 1 };

/// Build; returns the final image's id. `pull` fetches an image that is
/// not stored; `out` receives the progress.
pub fn build(paths: &Paths, opts: &Options, pull: &dyn Fn(&str) -> Result<Image, PullError>, out: &mut dyn Write) -> Result<Digest, Error> {
    let file = opts.file.clone().unwrap_or_else(|| opts.context.join("Dockerfile"));
    let text = std::fs::read_to_string(&file).map_err(|source| Error::Io { path: file.clone(), source })?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "Dockerfile".into());
    let df = super::parse(&text, &name)?;
    let needed = super::needed_stages(&df, opts.target.as_deref())?;
    let mut b = Build {
        paths,
        store: Store::open(paths)?,
        df: &df,
        opts,
        ignore: Ignore::load(&opts.context)?,
        global: platform_args(),
        built: BTreeMap::new(),
        context_files: Default::default(),
    };
    for a in &df.global_args {
        let default = a.default.as_deref().map(|d| expand(d, &b.global, df.escape)).transpose().map_err(|e| b.subst(TOP, e))?;
        if let Some(v) = opts.build_args.get(&a.name).cloned().or(default) {
            b.global.insert(a.name.clone(), v);
        }
    }
    let mut total: usize = needed.iter().map(|i| df.stages[*i].instructions.len() + 1).sum();
    let mut step_no = 0;
    for &si in &needed {
        let stage = &df.stages[si];
        step_no += 1;
        let t = Instant::now();
        let base_name = expand(&stage.base, &b.global, df.escape).map_err(|e| b.subst(stage.span, e))?;
        if let Some(p) = &stage.platform {
            check_platform(&b, stage.span, &expand(p, &b.global, df.escape).map_err(|e| b.subst(stage.span, e))?)?;
        }
        let base = resolve_base(&b, &base_name, pull)?;
        let _ = writeln!(
            out,
            "[{step_no}/{total}] FROM {base_name}{} ({:.1}s)",
            stage.name.as_ref().map(|n| format!(" AS {n}")).unwrap_or_default(),
            t.elapsed().as_secs_f64()
        );
        let mut st = StageState { image: base, args: BTreeMap::new(), shell: vec!["/bin/sh".into(), "-c".into()] };
        let triggers = onbuild_triggers(&b, &mut st, stage.span)?;
        total += triggers.len();
        for (k, ins) in triggers.iter().chain(&stage.instructions).enumerate() {
            step_no += 1;
            let t = Instant::now();
            let cached = instruction::run(&b, &mut st, ins, out)?;
            let took = t.elapsed().as_secs_f64();
            let first = ins.original.lines().next().unwrap_or("");
            let trigger = if k < triggers.len() { "ONBUILD " } else { "" };
            let _ = writeln!(
                out,
                "[{step_no}/{total}] {trigger}{first}{}",
                if cached { " CACHED".to_string() } else { format!(" ({took:.1}s)") }
            );
        }
        b.built.insert(si, st.image);
    }
    let last = *needed.last().ok_or_else(|| b.at(TOP, "the Dockerfile has no stage to build".into()))?;
    let mut image =
        b.built.remove(&last).flatten().ok_or_else(|| b.at(TOP, "the target stage is empty (FROM scratch with no files)".into()))?;
    if !opts.labels.is_empty() {
        let labels = opts.labels.clone();
        let id = steps::config(&b.store, &image, Some("LABEL (build --label)"), move |c| {
            for (k, v) in labels {
                set(c, &["config", "Labels", &k], serde_json::json!(v));
            }
        })
        .map_err(|source| b.step(TOP, source))?;
        image = b.store.resolve(&id.to_string())?;
    }
    for t in &opts.tags {
        b.store.tag(&image.id.to_string(), t)?;
    }
    Ok(image.id.clone())
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
fn expand(word: &str, vars: &BTreeMap<String, String>, escape: char) -> Result<String, super::subst::SubstError> {
    super::subst::expand(word, &|k| vars.get(k).cloned(), escape)
}

/// This machine's platform as OCI names it (`linux/amd64`), and its
/// architecture alone.
fn host_platform() -> (String, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        "x86" => "386",
        other => other,
    };
    (format!("linux/{arch}"), arch)
}

/// The built-in platform arguments; build and target are this machine.
fn platform_args() -> BTreeMap<String, String> {
    let (platform, arch) = host_platform();
    let mut m = BTreeMap::new();
    for side in ["BUILD", "TARGET"] {
        m.insert(format!("{side}PLATFORM"), platform.clone());
        m.insert(format!("{side}OS"), "linux".to_string());
        m.insert(format!("{side}ARCH"), arch.to_string());
        m.insert(format!("{side}VARIANT"), String::new());
    }
    m
}

/// Whether `FROM --platform=P` names this machine's platform (`host`):
/// the OS may be left out, the architecture spelled as uname does, and
/// amd64/v1 and arm64/v8 are the plain architectures.
fn is_native(given: &str, host: &str) -> bool {
    let norm = given.to_ascii_lowercase();
    let mut parts: Vec<&str> = norm.split('/').collect();
    if parts.len() == 1 {
        parts.insert(0, "linux");
    }
    let arch = match parts.get(1).copied().unwrap_or("") {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    let variant_ok = match parts.get(2) {
        None => true,
        Some(v) => (arch == "amd64" && *v == "v1") || (arch == "arm64" && *v == "v8"),
    };
    parts.len() <= 3 && variant_ok && format!("{}/{arch}", parts[0]) == host
}

/// `FROM --platform=P` is accepted when P is this machine's platform.
fn check_platform(b: &Build, at: Span, given: &str) -> Result<(), Error> {
    let (host, _) = host_platform();
    if is_native(given, &host) {
        return Ok(());
    }
    Err(Error::Platform { file: b.df.file.clone(), at, given: given.to_string(), host })
}

fn resolve_base(b: &Build, name: &str, pull: &dyn Fn(&str) -> Result<Image, PullError>) -> Result<Option<Image>, Error> {
    if name.eq_ignore_ascii_case("scratch") {
        return Ok(None);
    }
    if let Some(i) = b.df.stages.iter().position(|s| s.name.as_deref() == Some(name)).or_else(|| name.parse::<usize>().ok()) {
        if let Some(img) = b.built.get(&i) {
            return Ok(img.clone());
        }
    }
    if !b.opts.pull {
        if let Ok(img) = b.store.resolve(name) {
            return Ok(Some(img));
        }
    }
    pull(name).map(Some).map_err(|source| Error::Base { image: name.to_string(), source })
}

/// The base image's ONBUILD triggers, parsed, after the stage's image is
/// made the base without them (a child does not pass them on).
fn onbuild_triggers(b: &Build, st: &mut StageState, line: Span) -> Result<Vec<super::Instruction>, Error> {
    let Some(base) = st.image.clone() else { return Ok(Vec::new()) };
    let texts: Vec<String> = base.config_json["config"]["OnBuild"]
        .as_array()
        .map(|t| t.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if texts.is_empty() {
        return Ok(Vec::new());
    }
    let mut triggers = Vec::new();
    for text in &texts {
        let mut ins = super::parse_trigger(text, b.df.escape).map_err(|source| Error::Trigger {
            file: b.df.file.clone(),
            at: line,
            text: text.clone(),
            source: Box::new(source),
        })?;
        ins.span = line;
        triggers.push(ins);
    }
    let key = cache::key(Some(&base), &["ONBUILD cleared"]);
    st.image = Some(match cache::get(b, &key) {
        Some(hit) => hit,
        None => {
            let id = steps::config(&b.store, &base, None, |c| set(c, &["config", "OnBuild"], serde_json::Value::Null))
                .map_err(|source| b.step(line, source))?;
            cache::put(b, &key, &id);
            b.store.resolve(&id.to_string())?
        }
    });
    Ok(triggers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machines_platform_is_accepted() {
        let (host, arch) = host_platform();
        assert!(is_native(&host, &host));
        assert!(is_native(arch, &host));
        assert!(is_native(&host.to_uppercase(), &host));
        assert!(is_native("linux/x86_64", "linux/amd64") && is_native("linux/amd64/v1", "linux/amd64"));
        assert!(is_native("aarch64", "linux/arm64") && is_native("linux/arm64/v8", "linux/arm64"));
        assert!(!is_native("linux/arm64", "linux/amd64") && !is_native("linux/amd64/v3", "linux/amd64"));
        assert!(!is_native("windows/amd64", "linux/amd64") && !is_native("linux/amd64/v1/x", "linux/amd64"));
        assert_eq!(platform_args()["TARGETPLATFORM"], host);
        assert_eq!(platform_args()["BUILDARCH"], arch);
    }

    #[test]
    fn errors_name_the_place_and_what_to_do() {
        let at = Span { line: 2, column: 1 };
        let file = "Dockerfile".to_string();
        let e = Error::Platform { file: file.clone(), at, given: "linux/s390x".into(), host: "linux/amd64".into() };
        assert_eq!(
            e.to_string(),
            "Dockerfile:2:1: FROM --platform=linux/s390x: burrow builds for this machine's platform only (linux/amd64); building for another one needs an emulator, which burrow does not use"
        );
        let e = Error::CopySource { file: file.clone(), at, pattern: "../x".into(), refusal: ContextRefusal::Outside };
        assert_eq!(e.to_string(), "Dockerfile:2:1: ../x: outside the build context");
        let e = Error::BindSource { file: file.clone(), at, path: "src".into(), refusal: ContextRefusal::HidesExcluded };
        assert!(e.to_string().starts_with("Dockerfile:2:1: RUN --mount=type=bind,source=src: .dockerignore excludes"), "{e}");
        let e = Error::HeredocExecForm { file, at };
        assert_eq!(e.to_string(), "Dockerfile:2:1: a heredoc needs the shell form of RUN (RUN <<EOF, not RUN [\"...\"])");
    }

    #[test]
    fn a_pull_failure_keeps_its_causes() {
        let inner = std::io::Error::new(std::io::ErrorKind::NotFound, "manifest unknown");
        let e = Error::Base { image: "nope:1".into(), source: Box::new(inner) };
        assert_eq!(e.to_string(), "cannot get the base image nope:1: manifest unknown");
        assert_eq!(std::error::Error::source(&e).map(|s| s.to_string()).as_deref(), Some("manifest unknown"));
    }
}
