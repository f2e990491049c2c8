//! `system check`: verify the store (`Store::fsck`): every blob an image
//! uses is present and hashes to its digest, every layer directory is
//! present; and the store root is private (`private_dir::exposure`).
//! Problems are listed one a line and the command fails; it repairs
//! nothing (remove the broken image with `rmi -f` and load or pull it
//! again; chmod an open root 0700, as any other command does). What
//! interrupted commands left in `tmp/` is no part of any image: `check`,
//! like `system prune`, removes it (`image::tmp`).

use burrow::image::Store;
use burrow::paths::Paths;

#[derive(clap::Args, Debug)]
pub struct CheckArgs {}

pub fn check(paths: &Paths, _args: &CheckArgs) -> anyhow::Result<()> {
    let open = burrow::private_dir::exposure(&paths.root);
    if let Some(o) = &open {
        println!("{o}");
    }
    let store = Store::open(paths)?;
    for name in clear_tmp(paths)? {
        println!("removed tmp/{name}: left by an interrupted command");
    }
    let problems = store.fsck()?;
    for p in &problems {
        println!("{p}");
    }
    if !problems.is_empty() {
        anyhow::bail!(
            "the store at {} has {} problem(s): remove the affected images with burrow rmi -f and load or pull them again",
            paths.root.display(),
            problems.len()
        );
    }
    if let Some(o) = open {
        anyhow::bail!(
            "the store at {} is open to other users ({:04o}): make it private with chmod 0700, which any other burrow command does",
            o.path.display(),
            o.mode
        );
    }
    println!("no problems found");
    Ok(())
}

/// Remove the leftovers of interrupted commands from `tmp/`; their names.
/// Nothing is removed while another burrow command uses `tmp/`.
fn clear_tmp(paths: &Paths) -> anyhow::Result<Vec<String>> {
    let tmp = paths.tmp();
    let Some(cleared) = burrow::image::tmp::clear(&tmp)? else {
        println!("{} is in use by another burrow command: its leftovers are removed when none runs", tmp.display());
        return Ok(Vec::new());
    };
    if let Some((name, e)) = cleared.failed.first() {
        anyhow::bail!("cannot remove the leftover {}: {e}", tmp.join(name).display());
    }
    Ok(cleared.removed)
}

#[derive(clap::Args, Debug)]
pub struct DfArgs {
    /// Show each image and container
    #[arg(short, long)]
    verbose: bool,
}

/// docker's `system df`: what takes space, and what pruning would free.
/// The images' size with each layer counted once, however many images
/// share it, and the part only unused images have (what pruning them
/// frees), as docker's `system df` counts.
fn layer_sizes(images: &[burrow::image::Image], used: &std::collections::HashSet<burrow::model::Digest>) -> (u64, u64) {
    use std::collections::BTreeMap;
    let mut layers: BTreeMap<&burrow::model::Digest, (u64, bool)> = BTreeMap::new();
    for i in images {
        for l in &i.layers {
            let entry = layers.entry(&l.chain_id).or_insert((l.blob.size, false));
            entry.1 |= used.contains(&i.id);
        }
    }
    let total = layers.values().map(|(size, _)| size).sum();
    let free = layers.values().filter(|(_, in_use)| !in_use).map(|(size, _)| size).sum();
    (total, free)
}

pub fn df(paths: &Paths, args: &DfArgs) -> anyhow::Result<()> {
    use burrow::container::{prune, record};
    let store = Store::open(paths)?;
    let images = store.list()?;
    let users = record::image_users(paths)?;
    let used: std::collections::HashSet<_> = users.iter().map(|u| u.image_id.clone()).collect();
    let (image_size, image_free) = layer_sizes(&store.all()?, &used);
    let containers: Vec<_> = record::list(paths)?.into_iter().map(|r| record::observed(paths, r)).collect();
    let running = |r: &record::Record| r.status == burrow::container::Status::Running;
    let sizes: Vec<u64> = containers.iter().map(|r| prune::size(paths, r)).collect();
    let c_size: u64 = sizes.iter().sum();
    let c_free: u64 = containers.iter().zip(&sizes).filter(|(r, _)| !running(r)).map(|(_, s)| *s).sum();
    let pct = |part: u64, whole: u64| (part * 100).checked_div(whole).map(|p| format!(" ({p}%)")).unwrap_or_default();
    let h = super::images::human_size;
    let mut rows = vec![["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"].map(String::from).to_vec()];
    rows.push(vec![
        "Images".into(),
        images.len().to_string(),
        images.iter().filter(|i| used.contains(&i.id)).count().to_string(),
        h(image_size),
        format!("{}{}", h(image_free), pct(image_free, image_size)),
    ]);
    rows.push(vec![
        "Containers".into(),
        containers.len().to_string(),
        containers.iter().filter(|r| running(r)).count().to_string(),
        h(c_size),
        format!("{}{}", h(c_free), pct(c_free, c_size)),
    ]);
    let volumes = burrow::volume::store::list(paths)?;
    let mut v_size = 0;
    let mut v_free = 0;
    let mut v_active = 0;
    let mounters = record::mounters(paths)?;
    for v in &volumes {
        let size = burrow::du::tree_size(&v.mountpoint);
        v_size += size;
        if burrow::volume::attach::users(&mounters, &v.name).is_empty() {
            v_free += size;
        } else {
            v_active += 1;
        }
    }
    rows.push(vec![
        "Local Volumes".into(),
        volumes.len().to_string(),
        v_active.to_string(),
        h(v_size),
        format!("{}{}", h(v_free), pct(v_free, v_size)),
    ]);
    let cache = burrow::build::prune::usage(paths, &store)?;
    rows.push(vec!["Build Cache".into(), (cache.images + cache.mounts).to_string(), "0".into(), h(cache.bytes), h(cache.bytes)]);
    super::images::print_table(&rows);
    if args.verbose {
        println!("\nContainers space usage:\n");
        let mut rows = vec![["CONTAINER ID", "IMAGE", "SIZE", "STATUS", "NAMES"].map(String::from).to_vec()];
        for (r, s) in containers.iter().zip(&sizes) {
            rows.push(vec![r.id.short().into(), r.image.clone(), h(*s), r.status.word().into(), r.name.clone()]);
        }
        super::images::print_table(&rows);
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Also remove every unused image, not just dangling ones
    #[arg(short, long)]
    all: bool,
    #[command(flatten)]
    confirm: super::Force,
    /// Also remove anonymous volumes no container uses
    #[arg(long)]
    volumes: bool,
}

/// `system prune`: stopped containers, then dangling (or, with -a, unused)
/// images, then the build cache, then the leftovers of interrupted
/// commands in `tmp/`.
pub fn prune(paths: &Paths, args: &PruneArgs) -> anyhow::Result<()> {
    let what = if args.all { "all images without at least one container associated to them" } else { "all dangling images" };
    let vols = if args.volumes { "  - all anonymous volumes not used by at least one container\n" } else { "" };
    if !args.confirm.go_ahead(&format!("WARNING! This will remove:\n  - all stopped containers\n{vols}  - {what}\n  - all build cache\n  - what interrupted commands left in the store's tmp/\n"))? {
        return Ok(());
    }
    let ready = burrow::container::lifecycle::Checked::nothing().enter()?;
    let containers = burrow::container::lifecycle::prune(paths, &ready)?;
    let ids: Vec<String> = containers.deleted.iter().map(|id| id.to_string()).collect();
    super::print_deleted("Containers", &ids);
    let mut reclaimed = containers.reclaimed;
    if args.volumes {
        let _lock = burrow::lock::StoreLock::exclusive(&paths.lock_file())?;
        let (deleted, bytes) = burrow::volume::attach::prune(paths, false, &burrow::container::record::mounters(paths)?)?;
        super::print_deleted("Volumes", &deleted);
        reclaimed += bytes;
    }
    reclaimed += super::images::prune_images(paths, args.all)?;
    reclaimed += super::build::prune_cache(paths)?;
    super::print_deleted("leftovers of interrupted commands", &clear_tmp(paths)?);
    println!("Total reclaimed space: {}", super::images::human_size(reclaimed));
    Ok(())
}
