//! RUN: a supervised container of the current image, its output followed
//! from the log, its upper directory committed as the step's layer.
//!
//! The container is created as `run -d` creates one and started under
//! `burrow __monitor`, so its clone happens in a fresh single-threaded
//! process whatever threads the build has (a download's runtime, for
//! one). The build polls the log while the monitor lives and keeps the
//! last lines for the error of a failing step. The container is removed
//! whatever happened; only a committed layer stays.

use std::collections::VecDeque;
use std::time::Duration;

use super::Error;
use crate::container::lifecycle::{self, Entry, Follower, Ready};
use crate::image::{Digest, Image};
use crate::model::net::NetworkRequest;
use crate::model::RunOptions;
use crate::paths::Paths;
use crate::volume::{CheckedBind, MountRequest};

/// How a RUN step's container is set up.
#[derive(Debug, Clone, Default)]
pub struct RunStep {
    pub argv: Vec<String>,
    /// Build arguments in force, `KEY=VALUE` (the image's Env comes on top
    /// of nothing: it is the image's own).
    pub env: Vec<String>,
    pub network: burrow_netstack::mode::NetworkMode,
    /// `RUN --mount`s: cache directories, context binds, tmpfs.
    pub mounts: Vec<MountRequest>,
    /// The bind sources of `mounts`, checked by the caller.
    pub checked_binds: Vec<CheckedBind>,
}

/// RUN: see the module comment. `show` receives each line of output.
pub fn run(paths: &Paths, image: &Image, step: &RunStep, created_by: &str, show: &mut dyn FnMut(&Entry)) -> Result<Digest, Error> {
    let opts = RunOptions {
        image: image.id.to_string(),
        command: step.argv.clone(),
        entrypoint: Some(String::new()),
        env: step.env.clone(),
        network: NetworkRequest { mode: step.network.clone(), ..Default::default() },
        mounts: step.mounts.clone(),
        ..Default::default()
    };
    // The build runs inside burrow's namespace; the step's binds were
    // checked as it read the Dockerfile.
    let ready = Ready::here(step.checked_binds.clone())?;
    let record = lifecycle::create(paths, &ready, &opts, image)?;
    let dir = record.dir(paths);
    let outcome = (|| -> Result<Digest, Error> {
        let mut follower = Follower::at_end(&dir);
        let mut tail: VecDeque<String> = VecDeque::new();
        let mut keep = |e: &Entry, show: &mut dyn FnMut(&Entry)| {
            show(e);
            tail.push_back(e.log.trim_end().to_string());
            if tail.len() > 10 {
                tail.pop_front();
            }
        };
        lifecycle::start(paths, &ready, record.id.as_str()).map_err(|e| match e {
            lifecycle::StartError::Failed { code, message } => {
                Error::RunFailed { command: step.argv.join(" "), code, tail: format!(": {message}") }
            }
            other => other.into(),
        })?;
        // Most RUN steps are short: look again after 1 ms, then twice as
        // late each time up to every 10 ms (as `state::wait_monitor_gone`
        // does); a fixed 20 ms added 10 ms to every step on average.
        let mut pause = Duration::from_millis(1);
        loop {
            let alive = lifecycle::running(paths, &record);
            for e in follower.poll() {
                keep(&e, show);
            }
            if !alive {
                break;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        }
        let code = lifecycle::wait(paths, record.id.as_str())?;
        if code != 0 {
            let tail = if tail.is_empty() { String::new() } else { format!("; its last output:\n  {}", Vec::from(tail).join("\n  ")) };
            return Err(Error::RunFailed { command: step.argv.join(" "), code, tail });
        }
        let commit = lifecycle::CommitOptions { created_by: Some(created_by.to_string()), ..Default::default() };
        Ok(lifecycle::commit(paths, &ready, record.id.as_str(), None, &commit)?.id)
    })();
    // A step that failed half-way may leave its container running.
    if lifecycle::running(paths, &record) {
        let _ = lifecycle::kill(paths, record.id.as_str(), nix::sys::signal::Signal::SIGKILL);
        let _ = lifecycle::wait(paths, record.id.as_str());
    }
    let removed = lifecycle::remove_stopped(paths, &ready, &record);
    if let Err(e) = removed {
        tracing::warn!(%e, "cannot remove the build step's container");
    }
    outcome
}
