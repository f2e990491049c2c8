//! `burrow completion SHELL` and the hidden `burrow __man DIR`: shell
//! completion scripts and man pages, generated from the clap definitions
//! (clap_complete, clap_mangen), so they always match the real verbs and
//! flags. The Debian package (`packaging/deb.sh`) installs both.
//!
//! Man pages: `burrow.1` for the command, and one page per verb and
//! sub-verb named as git and podman name theirs (`burrow-run.1`,
//! `burrow-network-create.1`); hidden internal verbs get none.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

#[derive(clap::Args, Debug)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish, elvish or powershell
    shell: clap_complete::Shell,
}

/// Print the completion script for the shell.
pub fn completion(a: &CompletionArgs) -> anyhow::Result<()> {
    let mut cmd = super::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "burrow", &mut std::io::stdout());
    Ok(())
}

/// The hidden `__host-setup`: what an administrator may need to do
/// (`burrow::info::host_setup`), for the package's postinst.
pub fn host_setup() -> anyhow::Result<()> {
    let fixes = burrow::info::host_setup();
    if fixes.is_empty() {
        println!("burrow: this host has everything burrow needs (each user can check with `burrow info`).");
        return Ok(());
    }
    println!("burrow: for users to run containers, an administrator may need to (nothing was changed):");
    for f in fixes {
        println!("  - {f}");
    }
    println!("Each user can check their own set-up with `burrow info`.");
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Where to write the pages (created if missing)
    dir: PathBuf,
}

/// Write every page into the directory; prints how many.
pub fn man(a: &ManArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&a.dir)?;
    let cmd = super::Cli::command();
    let written = pages(&cmd, "burrow", &a.dir)?;
    println!("{written} man pages in {}", a.dir.display());
    Ok(())
}

/// The page of `cmd` (named `name`) and of each visible sub-verb, recursively.
fn pages(cmd: &clap::Command, name: &str, dir: &Path) -> anyhow::Result<usize> {
    let page = cmd.clone().name(name.to_string()).display_name(name.replace('-', " ")).bin_name(name.replace('-', " "));
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out)?;
    std::fs::write(dir.join(format!("{name}.1")), out)?;
    let mut written = 1;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        written += pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_visible_verb_gets_a_page_and_hidden_ones_none() {
        let dir = tempfile::tempdir().unwrap();
        let n = pages(&super::super::Cli::command(), "burrow", dir.path()).unwrap();
        let names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names.len(), n);
        for page in ["burrow.1", "burrow-run.1", "burrow-network-create.1", "burrow-volume-ls.1", "burrow-completion.1"] {
            assert!(names.iter().any(|p| p == page), "{page} missing from {names:?}");
        }
        assert!(!names.iter().any(|p| p.contains("__")), "a hidden verb got a page: {names:?}");
        let run = std::fs::read_to_string(dir.path().join("burrow-run.1")).unwrap();
        assert!(run.contains("\\-\\-network") || run.contains("--network"), "burrow-run.1 lacks --network");
    }

    #[test]
    fn completions_know_the_verbs() {
        let mut cmd = super::super::Cli::command();
        let mut out = Vec::new();
        clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "burrow", &mut out);
        let script = String::from_utf8(out).unwrap();
        assert!(script.contains("burrow__network__create") || script.contains("network"), "no network verb in the bash script");
        assert!(script.contains("--publish"), "no run flags in the bash script");
    }
}
