//! What a pull or push shows while it works: a bar per layer on a
//! terminal (indicatif), one plain line per event otherwise (a log or CI
//! output stays readable), nothing with `-q`. Everything goes to stderr;
//! stdout carries only the result.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::image::Digest;

pub struct Progress {
    mode: Mode,
}

enum Mode {
    Quiet,
    Lines,
    Bars { multi: MultiProgress, bars: Mutex<HashMap<Digest, ProgressBar>> },
}

impl Progress {
    /// Bars when stderr is a terminal, lines otherwise, nothing if quiet.
    pub fn new(quiet: bool) -> Progress {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars { multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()), bars: Mutex::default() }
        } else {
            Mode::Lines
        };
        Progress { mode }
    }

    pub fn quiet() -> Progress {
        Progress { mode: Mode::Quiet }
    }

    /// A line of its own (above the bars on a terminal).
    pub fn say(&self, msg: &str) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                let _ = writeln!(std::io::stderr(), "{msg}");
            }
            Mode::Bars { multi, .. } => {
                let _ = multi.println(msg);
            }
        }
    }

    /// A blob starts moving; `done` bytes were already there (resumed).
    pub fn start(&self, verb: &str, digest: &Digest, size: u64, done: u64) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                let resumed = if done > 0 { format!(", resuming at {}", human(done)) } else { String::new() };
                self.say(&format!("{verb} blob {} ({}{resumed})", digest.short(), human(size)));
            }
            Mode::Bars { multi, bars } => {
                let bar = multi.add(ProgressBar::new(size));
                bar.set_style(
                    ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                bar.set_prefix(format!("{verb} blob {}", digest.short()));
                bar.set_position(done);
                bars.lock().unwrap().insert(digest.clone(), bar);
            }
        }
    }

    pub fn advance(&self, digest: &Digest, n: u64) {
        if let Mode::Bars { bars, .. } = &self.mode {
            if let Some(b) = bars.lock().unwrap().get(digest) {
                b.inc(n);
            }
        }
    }

    /// Back to `at` bytes (a retry that starts over).
    pub fn reset(&self, digest: &Digest, at: u64) {
        if let Mode::Bars { bars, .. } = &self.mode {
            if let Some(b) = bars.lock().unwrap().get(digest) {
                b.set_position(at);
            }
        }
    }

    pub fn finish(&self, verb: &str, digest: &Digest) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => self.say(&format!("{verb} blob {} done", digest.short())),
            Mode::Bars { bars, .. } => {
                if let Some(b) = bars.lock().unwrap().remove(digest) {
                    b.finish();
                }
            }
        }
    }

    /// Stop drawing, leaving finished bars on screen.
    pub fn clear(&self) {
        if let Mode::Bars { multi, bars } = &self.mode {
            for (_, b) in bars.lock().unwrap().drain() {
                b.abandon();
            }
            let _ = multi.clear();
        }
    }
}

/// `12.3MB` as docker prints sizes.
pub fn human(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}B")
    } else {
        format!("{v:.1}{}", units[u])
    }
}
