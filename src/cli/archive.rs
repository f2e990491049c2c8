//! `save`, `load` and `export`: images and containers as tar archives,
//! with docker's flags and messages.
//!
//! Output goes to `-o FILE` through a temp file beside it, renamed into
//! place only when the archive is complete (a failed save leaves no
//! partial FILE), or to stdout, which must not be a terminal (docker's
//! "cowardly refusing" rule). The engine does the work
//! (`burrow::image::archive`, `burrow::container::export`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use burrow::image::archive::{self, Format};
use burrow::image::reference::familiar;
use burrow::image::{Store, UnpackOptions};
use burrow::paths::Paths;

#[derive(clap::Args, Debug)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Archive format: docker-archive (default, what docker load reads) or oci-archive
    #[arg(long, default_value = "docker-archive")]
    format: String,
    /// Images (names or ids)
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Read from a tar archive file (plain, gzip or zstd), instead of STDIN
    #[arg(short, long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Suppress the load output (burrow shows no progress; the "Loaded image" lines stay, as in docker)
    #[arg(short, long)]
    quiet: bool,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Container (name or id)
    container: String,
}

/// Where an archive goes.
enum Sink {
    Stdout(io::StdoutLock<'static>),
    File { dest: PathBuf, tmp: PathBuf, file: BufWriter<File>, done: bool },
}

impl Sink {
    /// `-o FILE` (`-` is stdout) or stdout, refused when it is a terminal.
    fn open(output: Option<&Path>) -> anyhow::Result<Sink> {
        let Some(dest) = output.filter(|p| *p != Path::new("-")) else {
            if io::stdout().is_terminal() {
                anyhow::bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            return Ok(Sink::Stdout(io::stdout().lock()));
        };
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let tmp = dir.join(format!(".{base}.burrow-{}-{nanos:08x}", std::process::id()));
        let file =
            OpenOptions::new().write(true).create_new(true).open(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(Sink::File { dest: dest.to_path_buf(), tmp, file: BufWriter::with_capacity(1 << 20, file), done: false })
    }

    /// Make the archive visible under its name.
    fn finish(mut self) -> anyhow::Result<()> {
        match &mut self {
            Sink::Stdout(s) => s.flush().context("cannot write to stdout"),
            Sink::File { dest, tmp, file, done } => {
                file.flush().and_then(|_| file.get_ref().sync_all()).with_context(|| format!("cannot write {}", tmp.display()))?;
                fs::rename(&*tmp, &*dest).with_context(|| format!("cannot rename {} to {}", tmp.display(), dest.display()))?;
                *done = true;
                Ok(())
            }
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Stdout(s) => s.write(buf),
            Sink::File { file, .. } => file.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Stdout(s) => s.flush(),
            Sink::File { file, .. } => file.flush(),
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Sink::File { tmp, done: false, .. } = self {
            let _ = fs::remove_file(&*tmp);
        }
    }
}

pub fn save(paths: &Paths, args: &SaveArgs) -> anyhow::Result<()> {
    let format: Format = args.format.parse()?;
    let mut sink = Sink::open(args.output.as_deref())?;
    let store = Store::open(paths)?;
    archive::save(&store, &args.images, format, &mut sink).context("cannot save")?;
    sink.finish()
}

pub fn load(paths: &Paths, args: &LoadArgs) -> anyhow::Result<()> {
    let _ = args.quiet;
    let store = Store::open(paths)?;
    burrow::image::ingest::sweep_tmp(&store, burrow::image::ingest::SWEEP_AGE);
    let opts = UnpackOptions::current();
    let loaded = match &args.input {
        Some(p) if p != Path::new("-") => {
            let f = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            archive::load(&store, io::BufReader::with_capacity(1 << 20, f), &p.display().to_string(), &opts)?
        }
        _ => {
            if io::stdin().is_terminal() {
                anyhow::bail!("requested load from stdin, but stdin is empty: give the archive with -i FILE or redirect it");
            }
            archive::load(&store, io::stdin().lock(), "stdin", &opts)?
        }
    };
    let (squashed, devices): (u64, u64) = loaded.iter().fold((0, 0), |(s, d), l| (s + l.squashed_owners, d + l.devices));
    if squashed > 0 {
        eprintln!("{}", opts.squashed_warning(squashed));
    }
    if devices > 0 {
        eprintln!("warning: {devices} device nodes cannot be created without privilege; they are empty placeholder files in the image");
    }
    for l in &loaded {
        if l.names.is_empty() {
            println!("Loaded image ID: {}", l.id);
        }
        for n in &l.names {
            println!("Loaded image: {}", familiar(n));
        }
    }
    Ok(())
}

pub fn export(paths: &Paths, args: &ExportArgs) -> anyhow::Result<()> {
    let mut sink = Sink::open(args.output.as_deref())?;
    burrow::container::export::export(paths, &args.container, &mut sink).with_context(|| format!("cannot export {}", args.container))?;
    sink.finish()
}
