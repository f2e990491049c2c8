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
    /// The Dockerfile (default: CONTEXT/Dockerfile)
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
    /// The build context (a directory)
    context: PathBuf,
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
    if !args.context.is_dir() {
        anyhow::bail!("the build context {} is not a directory", args.context.display());
    }
    let network = match &args.network {
        Some(m) if m == "default" => Default::default(),
        Some(m) => m.parse().map_err(|e| anyhow::anyhow!("--network: {e}"))?,
        None => Default::default(),
    };
    let opts = burrow::build::driver::Options {
        context: args.context.canonicalize()?,
        file: args.file.clone(),
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
        Ok(super::registry::pull_for_run(&store, name)?)
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
