//! `system check`: verify the store (`Store::fsck`): every blob an image
//! uses is present and hashes to its digest, every layer directory is
//! present. Problems are listed one a line and the command fails; it
//! repairs nothing (remove the broken image with `rmi -f` and load or
//! pull it again).

use burrow::image::Store;
use burrow::paths::Paths;

#[derive(clap::Args, Debug)]
pub struct CheckArgs {}

pub fn check(paths: &Paths, _args: &CheckArgs) -> anyhow::Result<()> {
    let store = Store::open(paths)?;
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
    println!("no problems found");
    Ok(())
}
