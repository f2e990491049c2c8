//! `burrow build`: the flags of `docker build`, then `build::driver`;
//! `burrow builder prune`: `build::prune`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use burrow::image::Store;
use burrow::paths::Paths;

#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// Name and optionally a tag (NAME[:TAG]); may be given several times
    #[arg(short, long = "tag", value_name = "NAME[:TAG]")]
    tag: Vec<String>,
    /// The Dockerfile (default: CONTEXT/Dockerfile; - reads it from standard input)
    #[arg(short, long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Set a build-time variable (KEY=VALUE, or KEY to take the caller's value)
    #[arg(long = "build-arg", value_name = "KEY[=VALUE]")]
    build_arg: Vec<String>,
    /// Build only up to this stage
    #[arg(long, value_name = "STAGE")]
    target: Option<String>,
    /// Do not use the build cache
    #[arg(long)]
    no_cache: bool,
    /// Always pull the base images
    #[arg(long)]
    pull: bool,
    /// Set a label on the image (KEY=VALUE)
    #[arg(long, value_name = "KEY=VALUE")]
    label: Vec<String>,
    /// Print only the image id
    #[arg(short, long)]
    quiet: bool,
    /// Write the image id to this file
    #[arg(long, value_name = "FILE")]
    iidfile: Option<PathBuf>,
    /// Network for RUN steps: burrow (default), none, host
    #[arg(long, value_name = "MODE")]
    network: Option<String>,
    #[command(flatten)]
    conn: super::registry::ConnArgs,
    /// The build context: a directory, or - to read a Dockerfile (no
    /// context) or a tar archive of the context (plain or gzip) from
    /// standard input
    context: PathBuf,
}

/// Where the context and the Dockerfile are, once `-` has been read;
/// the temporary directory they were read into, if any, goes with it.
struct Sources {
    context: PathBuf,
    file: Option<PathBuf>,
    _scratch: Option<tempfile::TempDir>,
}

/// `build -` and `-f -`: standard input read into a scratch directory
/// under the store (a tar archive is unpacked there: the `tar` crate
/// refuses entries that would leave it).
fn sources(paths: &Paths, args: &BuildArgs) -> anyhow::Result<Sources> {
    let dash = |p: &PathBuf| p.as_os_str() == "-";
    let context_stdin = dash(&args.context);
    let file_stdin = args.file.as_ref().is_some_and(dash);
    if context_stdin && file_stdin {
        anyhow::bail!("the context and the Dockerfile cannot both come from standard input: give a context directory, or drop -f -");
    }
    if !context_stdin && !file_stdin {
        if !args.context.is_dir() {
            anyhow::bail!("the build context {} is not a directory", args.context.display());
        }
        return Ok(Sources { context: args.context.canonicalize()?, file: args.file.clone(), _scratch: None });
    }
    std::fs::create_dir_all(&paths.root)?;
    let scratch = tempfile::Builder::new().prefix(".build-stdin-").tempdir_in(&paths.root)?;
    let mut input = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut input)?;
    if file_stdin {
        let file = scratch.path().join("Dockerfile");
        std::fs::write(&file, &input)?;
        if !args.context.is_dir() {
            anyhow::bail!("the build context {} is not a directory", args.context.display());
        }
        return Ok(Sources { context: args.context.canonicalize()?, file: Some(file), _scratch: Some(scratch) });
    }
    let context = scratch.path().join("context");
    std::fs::create_dir(&context)?;
    let gzip = input.starts_with(&[0x1f, 0x8b]);
    let is_tar = |b: &[u8]| b.len() > 262 && &b[257..262] == b"ustar";
    if gzip || is_tar(&input) {
        let reader: Box<dyn std::io::Read> = if gzip { Box::new(flate2::read::GzDecoder::new(&input[..])) } else { Box::new(&input[..]) };
        tar::Archive::new(reader)
            .unpack(&context)
            .map_err(|e| anyhow::anyhow!("cannot read the build context from standard input as a tar archive: {e}"))?;
    } else {
        std::fs::write(context.join("Dockerfile"), &input)?;
    }
    let file = args.file.as_ref().map(|f| context.join(f));
    Ok(Sources { context, file, _scratch: Some(scratch) })
}

pub fn build(paths: &Paths, args: BuildArgs) -> anyhow::Result<()> {
    let mut build_args = BTreeMap::new();
    for a in &args.build_arg {
        match a.split_once('=') {
            Some((k, v)) => {
                build_args.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Ok(v) = std::env::var(a) {
                    build_args.insert(a.clone(), v);
                }
            }
        }
    }
    let mut labels = Vec::new();
    for l in &args.label {
        let (k, v) = l.split_once('=').ok_or_else(|| anyhow::anyhow!("invalid --label {l:?}: expected KEY=VALUE"))?;
        labels.push((k.to_string(), v.to_string()));
    }
    let sources = sources(paths, &args)?;
    let network = match &args.network {
        Some(m) if m == "default" => Default::default(),
        Some(m) => m.parse().map_err(|e| anyhow::anyhow!("--network: {e}"))?,
        None => Default::default(),
    };
    let opts = burrow::build::driver::Options {
        context: sources.context.clone(),
        file: sources.file.clone(),
        tags: args.tag.clone(),
        build_args,
        target: args.target.clone(),
        no_cache: args.no_cache,
        pull: args.pull,
        labels,
        quiet: args.quiet,
        network,
    };
    super::enter(false)?;
    // The pull's error keeps its causes: `describe` prints them after the
    // engine's "cannot get the base image".
    let pull = |name: &str| -> Result<burrow::image::Image, burrow::build::driver::PullError> {
        let store = Store::open(paths)?;
        Ok(super::registry::pull_with(&store, name, Some(&args.conn))?)
    };
    let mut progress: Box<dyn std::io::Write> = if args.quiet { Box::new(std::io::sink()) } else { Box::new(std::io::stderr()) };
    let id = burrow::build::driver::build(paths, &opts, &pull, &mut progress)?;
    if let Some(f) = &args.iidfile {
        std::fs::write(f, id.to_string())?;
    }
    if !args.quiet {
        for t in &args.tag {
            eprintln!("Successfully tagged {t}");
        }
    }
    println!("{id}");
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Remove all of the build cache (burrow keeps no cache that is in use between builds, so this is what it always does)
    #[arg(short, long)]
    all: bool,
    #[command(flatten)]
    confirm: super::Force,
}

/// `builder prune`: the build cache's images, records and cache mounts.
pub fn prune(paths: &Paths, args: &PruneArgs) -> anyhow::Result<()> {
    let _ = args.all;
    if !args.confirm.go_ahead("WARNING! This will remove all build cache.\n")? {
        return Ok(());
    }
    let reclaimed = prune_cache(paths)?;
    println!("Total reclaimed space: {}", super::images::human_size(reclaimed));
    Ok(())
}

/// Remove the build cache, print what went, return the bytes freed
/// (`builder prune`, `system prune`).
pub(crate) fn prune_cache(paths: &Paths) -> anyhow::Result<u64> {
    let store = Store::open(paths)?;
    let report = burrow::build::prune::prune(paths, &store, || super::images::images_in_use(paths))?;
    let ids: Vec<String> = report.deleted.iter().map(|d| d.to_string()).collect();
    super::print_deleted("Build cache", &ids);
    Ok(report.reclaimed)
}
