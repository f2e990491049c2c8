//! Dockerfile parsing for `burrow build`: text in, typed stages out.
//!
//! Theory of operation. The parser follows the Dockerfile reference in three
//! passes kept apart as BuildKit's frontend keeps them. `lex` reads the parser
//! directives at the top (`# escape=`, `# syntax=`, `# check=`), drops
//! comment lines, joins continuation lines and collects heredoc bodies,
//! producing logical lines that remember where they started. `instr` turns
//! each logical line into a typed [`Instruction`] (flags, exec or shell form,
//! key/value pairs). `stages` splits the instructions into the global ARGs and
//! the build stages, checks stage names and `COPY --from` references, and
//! computes which stages a `--target` needs. The parser does not expand
//! variables: words are kept raw, because their values depend on the ARG and
//! ENV state at build time; `subst` provides the expansion the executor
//! applies. Nothing here touches the filesystem. Every error names the file,
//! line and column.
//!
//! Executing: `context` reads the build context and `.dockerignore`,
//! `fetch` downloads ADD's remote sources, `steps` is what one step does
//! to an image (RUN in a container, COPY/ADD as a layer, the rest a config
//! change), and `driver` runs the stages a target needs, with the cache;
//! `prune` is the cache as a whole (`builder prune`, `system df`).

pub mod context;
pub mod driver;
pub mod fetch;
mod instr;
mod lex;
pub mod prune;
mod stages;
pub mod steps;
pub mod subst;

#[cfg(test)]
mod tests;

use serde::Serialize;

pub use stages::needed_stages;

/// Where something starts in the Dockerfile: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    pub line: usize,
    pub column: usize,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dockerfile {
    pub file: String,
    pub escape: char,
    /// The `# syntax=` directive, recorded but not acted on.
    pub syntax: Option<String>,
    /// ARGs declared before the first FROM (usable in FROM lines).
    pub global_args: Vec<ArgDecl>,
    pub stages: Vec<Stage>,
}

/// One build stage: a FROM line and the instructions up to the next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    pub index: usize,
    pub name: Option<String>,
    /// The base as written (may contain `$VAR`, may name an earlier stage).
    pub base: String,
    pub platform: Option<String>,
    pub span: Span,
    pub instructions: Vec<Instruction>,
}

/// One instruction with its location and its text as written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instruction {
    pub span: Span,
    /// The logical line as written (continuations joined), for history and
    /// cache keys. Heredoc bodies are not in it but in the kind's
    /// `heredocs`: a cache key must include them too.
    pub original: String,
    pub kind: Kind,
}

/// The exec (JSON array) or shell form of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Command {
    Exec(Vec<String>),
    Shell(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
}

/// A here-document attached to a RUN, COPY or ADD line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heredoc {
    pub name: String,
    pub body: String,
    /// False when the delimiter was quoted: the body is taken literally.
    pub expand: bool,
    /// `<<-`: leading tabs were stripped from the body lines.
    pub strip_tabs: bool,
}

/// A `RUN --mount=` specification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunMount {
    /// `cache`, `bind`, `tmpfs` or `secret`.
    pub kind: String,
    pub target: Option<String>,
    pub source: Option<String>,
    pub from: Option<String>,
    pub id: Option<String>,
    pub sharing: Option<String>,
    pub readonly: bool,
    /// Owner and mode of a cache or tmpfs mount's root (as written).
    pub uid: Option<String>,
    pub gid: Option<String>,
    pub mode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopySpec {
    pub sources: Vec<String>,
    pub dest: String,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub checksum: Option<String>,
    pub heredocs: Vec<Heredoc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthSpec {
    pub command: Command,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub start_interval: Option<String>,
    pub retries: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Kind {
    From {
        base: String,
        name: Option<String>,
        platform: Option<String>,
    },
    Run {
        command: Command,
        network: Option<String>,
        mounts: Vec<RunMount>,
        heredocs: Vec<Heredoc>,
    },
    Cmd(Command),
    Entrypoint(Command),
    Shell(Vec<String>),
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    Maintainer(String),
    Expose(Vec<String>),
    Arg(Vec<ArgDecl>),
    Copy(CopySpec),
    Add(CopySpec),
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    OnBuild(Box<Instruction>),
    StopSignal(String),
    /// `None` is `HEALTHCHECK NONE`.
    Healthcheck(Option<HealthSpec>),
}

/// A Dockerfile error. Display starts with `FILE:LINE:COL: ` when the
/// error has a place in the file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// Anything wrong at a place in the Dockerfile (syntax, unknown
    /// instruction or flag, missing argument, bad stage reference).
    #[error("{file}:{line}:{column}: {message}")]
    At { file: String, line: usize, column: usize, message: String },
    /// `--target` names no stage.
    #[error("{file}: target stage {target:?} not found: {}", known_stages(stages))]
    NoTarget { file: String, target: String, stages: Vec<String> },
    /// An ONBUILD trigger (as a base image's config keeps it) that does
    /// not parse; the place is within the trigger's own text.
    #[error("{message}")]
    TriggerSyntax { line: usize, column: usize, message: String },
    /// A trigger's text holds no instruction or more than one.
    #[error("a trigger must be one instruction, not {count}")]
    TriggerCount { count: usize },
    /// An instruction that cannot be a trigger.
    #[error("{keyword} cannot be a trigger: FROM, ONBUILD and MAINTAINER never are")]
    TriggerKind { keyword: &'static str },
}

fn known_stages(stages: &[String]) -> String {
    if stages.is_empty() {
        "the Dockerfile names no stages (use AS name on a FROM line)".to_string()
    } else {
        format!("stages are {}", stages.join(", "))
    }
}

impl Error {
    /// Where in the Dockerfile the error is, if it has a place.
    pub fn span(&self) -> Option<Span> {
        match self {
            Error::At { line, column, .. } => Some(Span { line: *line, column: *column }),
            Error::NoTarget { .. } | Error::TriggerSyntax { .. } | Error::TriggerCount { .. } | Error::TriggerKind { .. } => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Parses a Dockerfile's text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Dockerfile> {
    let lexed = lex::lex(text).map_err(|e| e.at(file))?;
    let mut instructions = Vec::new();
    for line in &lexed.lines {
        instructions.push(instr::parse_line(line, lexed.escape).map_err(|e| e.at(file))?);
    }
    let df = stages::split(file, lexed.escape, lexed.syntax, instructions).map_err(|e| e.at(file))?;
    stages::validate(&df)?;
    Ok(df)
}

/// Parses an ONBUILD trigger stored in a base image's config (its text
/// as written after ONBUILD, heredoc bodies following on their lines).
pub fn parse_trigger(text: &str, escape: char) -> Result<Instruction> {
    let syntax = |e: Located| Error::TriggerSyntax { line: e.span.line, column: e.span.column, message: e.message };
    let lexed = lex::lex(text).map_err(syntax)?;
    let [line] = lexed.lines.as_slice() else {
        return Err(Error::TriggerCount { count: lexed.lines.len() });
    };
    let ins = instr::parse_line(line, escape).map_err(syntax)?;
    let keyword = match ins.kind {
        Kind::From { .. } => "FROM",
        Kind::OnBuild(_) => "ONBUILD",
        Kind::Maintainer(_) => "MAINTAINER",
        _ => return Ok(ins),
    };
    Err(Error::TriggerKind { keyword })
}

/// An error before the file name is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    pub span: Span,
    pub message: String,
}

impl Located {
    pub(crate) fn new(span: Span, message: impl Into<String>) -> Self {
        Located { span, message: message.into() }
    }
    fn at(self, file: &str) -> Error {
        Error::At { file: file.to_string(), line: self.span.line, column: self.span.column, message: self.message }
    }
}
