//! `import`, `images`, `tag`, `rmi`, `image inspect` and `image prune`:
//! docker's image verbs over `burrow::image::Store`. Output formats are
//! docker's. `rmi` and `prune` leave images that containers use alone.

use std::path::PathBuf;

use anyhow::Context;
use burrow::image::reference::familiar;
use burrow::image::{ImportOptions, Reference, Store, UnpackOptions};
use burrow::paths::Paths;

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// Tarball to import (plain, gzip or zstd), or - for stdin
    file: PathBuf,
    /// Name for the new image
    #[arg(value_name = "REPOSITORY[:TAG]")]
    reference: Option<String>,
    /// Apply a Dockerfile instruction to the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL)
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    change: Vec<String>,
    /// Commit message recorded in the image history
    #[arg(short, long)]
    message: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ImagesArgs {
    /// Show all images, the build cache's intermediate images too
    #[arg(short, long)]
    all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Output format: table (default) or json
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Only images of this repository (REPOSITORY[:TAG])
    repository: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct TagArgs {
    /// Existing image (name or id)
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    source: String,
    /// New name
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    target: String,
}

#[derive(clap::Args, Debug)]
pub struct RmiArgs {
    /// Force removal of an image referenced by several names, or used by a stopped container
    #[arg(short, long)]
    force: bool,
    /// Images (names or ids)
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Format the output with a Go template ({{.Id}}, {{json .Config}})
    #[arg(short, long)]
    format: Option<String>,
    /// Images (names or ids)
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<String>,
}

pub fn import(paths: &Paths, args: &ImportArgs) -> anyhow::Result<()> {
    let store = Store::open(paths)?;
    let opts =
        ImportOptions { unpack: UnpackOptions::current(), message: args.message.clone(), author: None, changes: args.change.clone() };
    let r = burrow::image::import::import_path(&store, &args.file, args.reference.as_deref(), &opts)
        .with_context(|| format!("cannot import {}", args.file.display()))?;
    if r.report.squashed_owners > 0 {
        eprintln!("{}", opts.unpack.squashed_warning(r.report.squashed_owners));
    }
    if r.report.devices > 0 {
        eprintln!(
            "warning: {} device nodes cannot be created without privilege; they are empty placeholder files in the image",
            r.report.devices
        );
    }
    if r.report.xattr_failures > 0 {
        eprintln!(
            "warning: {} extended attributes could not be set (the storage file system may not support them)",
            r.report.xattr_failures
        );
    }
    println!("{}", r.id);
    Ok(())
}

pub fn images(paths: &Paths, args: &ImagesArgs) -> anyhow::Result<()> {
    let store = Store::open(paths)?;
    let mut list = store.list()?;
    if !args.all {
        let cache = burrow::build::prune::image_ids(paths);
        list.retain(|i| !(i.names.is_empty() && cache.contains(&i.id)));
    }
    if let Some(filter) = &args.repository {
        let wanted = Reference::parse(filter)?;
        let has_tag = filter.rsplit('/').next().is_some_and(|last| last.contains(':'));
        list.retain(|i| {
            i.names.iter().any(|n| match Reference::parse(n) {
                Ok(r) => r.name() == wanted.name() && (!has_tag || r.tag() == wanted.tag()),
                Err(_) => false,
            })
        });
    }
    let id = |d: &burrow::image::Digest| if args.no_trunc { d.to_string() } else { d.short().to_string() };
    if args.quiet {
        let mut seen = std::collections::HashSet::new();
        for i in &list {
            if seen.insert(i.id.clone()) {
                println!("{}", id(&i.id));
            }
        }
        return Ok(());
    }
    match args.format.as_deref() {
        None | Some("table") => {}
        Some("json") => {
            let out: Vec<serde_json::Value> = list
                .iter()
                .map(|i| {
                    serde_json::json!({
                        "Id": i.id.to_string(),
                        "Names": i.names,
                        "RepoTags": i.names.iter().map(|n| familiar(n)).collect::<Vec<_>>(),
                        "Created": i.created.map(|c| c.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                        "Size": i.size,
                        "Layers": i.layers,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(());
        }
        Some(other) => anyhow::bail!("unsupported --format {other:?}: use table or json"),
    }
    let mut rows = vec![["REPOSITORY".to_string(), "TAG".into(), "IMAGE ID".into(), "CREATED".into(), "SIZE".into()]];
    for i in &list {
        let created = i.created.map(ago).unwrap_or_else(|| "N/A".into());
        let size = human_size(i.size);
        let names: Vec<(String, String)> = if i.names.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            i.names
                .iter()
                .map(|n| match Reference::parse(n) {
                    Ok(r) => (r.familiar(), r.tag().unwrap_or("<none>").to_string()),
                    Err(_) => (n.clone(), "<none>".into()),
                })
                .collect()
        };
        for (repo, tag) in names {
            rows.push([repo, tag, id(&i.id), created.clone(), size.clone()]);
        }
    }
    print_table(&rows);
    Ok(())
}

/// Print rows as docker's tab-aligned columns (three spaces apart).
pub(crate) fn print_table<R: AsRef<[String]>>(rows: &[R]) {
    let cols = rows.iter().map(|r| r.as_ref().len()).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r.as_ref()) {
            *w = (*w).max(c.chars().count());
        }
    }
    for r in rows {
        let r = r.as_ref();
        let mut line = String::new();
        for (k, (c, w)) in r.iter().zip(&widths).enumerate() {
            let w = *w;
            if k + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}   "));
            }
        }
        println!("{}", line.trim_end());
    }
}

pub fn tag(paths: &Paths, args: &TagArgs) -> anyhow::Result<()> {
    let store = Store::open(paths)?;
    store.tag(&args.source, &args.target)?;
    Ok(())
}

pub fn rmi(paths: &Paths, args: &RmiArgs) -> anyhow::Result<()> {
    let store = Store::open(paths)?;
    let mut failed = 0;
    for name in &args.images {
        let users = || burrow::container::record::image_users(paths);
        match store.remove_checked(name, args.force, users) {
            Ok(report) => {
                for n in &report.untagged {
                    println!("Untagged: {}", familiar(n));
                }
                for d in &report.deleted {
                    println!("Deleted: {d}");
                }
            }
            Err(e) if args.images.len() == 1 => return Err(e.into()),
            Err(e) => {
                eprintln!("Error: {e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} images could not be removed", args.images.len());
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Remove all images no container uses, not just dangling ones
    #[arg(short, long)]
    all: bool,
    #[command(flatten)]
    confirm: super::Force,
}

/// docker's `image prune`: without -f it asks on a terminal, and refuses
/// when there is no terminal to ask on.
pub fn prune(paths: &Paths, args: &PruneArgs) -> anyhow::Result<()> {
    let what = if args.all { "all images without at least one container associated to them" } else { "all dangling images" };
    if !args.confirm.go_ahead(&format!("WARNING! This will remove {what}.\n"))? {
        return Ok(());
    }
    let reclaimed = prune_images(paths, args.all)?;
    println!("Total reclaimed space: {}", human_size(reclaimed));
    Ok(())
}

/// The images containers use (asked by a prune under the store's lock).
pub(crate) fn images_in_use(paths: &Paths) -> burrow::image::Result<std::collections::HashSet<burrow::image::Digest>> {
    let users = burrow::container::record::image_users(paths).map_err(|e| burrow::image::Error::Users { source: Box::new(e) })?;
    Ok(users.into_iter().map(|u| u.image_id).collect())
}

/// Remove dangling (with `all`, unused) images, print docker's list of
/// them, and return the bytes freed (`image prune`, `system prune`). The
/// build cache's untagged images are not dangling: `builder prune` (or
/// `-a`) removes them.
pub(crate) fn prune_images(paths: &Paths, all: bool) -> anyhow::Result<u64> {
    let store = Store::open(paths)?;
    let cache = burrow::build::prune::image_ids(paths);
    let report = store.prune_matching(|id, names| all || (names.is_empty() && !cache.contains(id)), || images_in_use(paths))?;
    let lines: Vec<String> = report
        .untagged
        .iter()
        .map(|n| format!("untagged: {}", familiar(n)))
        .chain(report.deleted.iter().map(|d| format!("deleted: {d}")))
        .collect();
    super::print_deleted("Images", &lines);
    Ok(report.reclaimed)
}

pub fn inspect(paths: &Paths, args: &InspectArgs) -> anyhow::Result<()> {
    let store = Store::open(paths)?;
    let mut out = Vec::new();
    let template = args.format.as_deref().map(super::template::Template::parse).transpose()?;
    for name in &args.images {
        out.push(store.inspect(name)?);
    }
    match template {
        Some(t) => out.iter().for_each(|v| println!("{}", t.render(v))),
        None => println!("{}", serde_json::to_string_pretty(&out)?),
    }
    Ok(())
}

/// docker's `units.HumanDuration` + " ago".
pub(crate) fn ago(t: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (chrono::Utc::now() - t).num_seconds().max(0);
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    let s = match secs {
        0 => "Less than a second".to_string(),
        1 => "1 second".to_string(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if m == 1 => "About a minute".to_string(),
        _ if m < 60 => format!("{m} minutes"),
        _ if h == 1 => "About an hour".to_string(),
        _ if h < 48 => format!("{h} hours"),
        _ if h < 24 * 7 * 2 => format!("{d} days"),
        _ if h < 24 * 30 * 2 => format!("{} weeks", d / 7),
        _ if h < 24 * 365 * 2 => format!("{} months", d / 30),
        _ => format!("{} years", d / 365),
    };
    format!("{s} ago")
}

/// docker's `units.HumanSizeWithPrecision(size, 3)`: decimal units, three
/// significant digits, trailing zeros dropped ("4.2MB", "728B", "123MB").
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    let decimals = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{}", UNITS[u])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(728), "728B");
        assert_eq!(human_size(4_200_000), "4.2MB");
        assert_eq!(human_size(4_194_304), "4.19MB");
        assert_eq!(human_size(123_456_789), "123MB");
        assert_eq!(human_size(12_345), "12.3kB");
        assert_eq!(human_size(1_000_000_000), "1GB");
    }

    #[test]
    fn durations_like_docker() {
        let now = chrono::Utc::now();
        assert_eq!(ago(now - chrono::Duration::seconds(300)), "5 minutes ago");
        assert_eq!(ago(now - chrono::Duration::seconds(90)), "About a minute ago");
        assert_eq!(ago(now - chrono::Duration::hours(3)), "3 hours ago");
        assert_eq!(ago(now - chrono::Duration::days(3)), "3 days ago");
        assert_eq!(ago(now - chrono::Duration::days(20)), "2 weeks ago");
    }
}
