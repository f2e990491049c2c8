//! Golden and failing cases for the Dockerfile parser.
//!
//! Each `testdata/NAME.Dockerfile` is parsed and dumped as text (one line
//! per instruction, see `dump`) and compared with `testdata/NAME.golden`;
//! `BURROW_UPDATE_GOLDEN=1` rewrites the golden files. Failing cases are
//! listed in `failures` with their exact `file:line:col: message`.

use super::*;
use std::fmt::Write;
use std::path::Path;

fn command(c: &Command) -> String {
    match c {
        Command::Exec(v) => format!("exec {v:?}"),
        Command::Shell(s) => format!("shell {s:?}"),
    }
}

fn copy(c: &CopySpec) -> String {
    let mut s = format!("{:?} -> {:?}", c.sources, c.dest);
    for (k, v) in [("from", &c.from), ("chown", &c.chown), ("chmod", &c.chmod), ("checksum", &c.checksum)] {
        if let Some(v) = v {
            let _ = write!(s, " {k}={v:?}");
        }
    }
    if c.link {
        s.push_str(" link");
    }
    s
}

fn kind(k: &Kind) -> String {
    match k {
        Kind::From { base, name, platform } => format!("FROM {base:?} name={name:?} platform={platform:?}"),
        Kind::Run { command: c, network, mounts, .. } => {
            let mut s = format!("RUN {}", command(c));
            if let Some(n) = network {
                let _ = write!(s, " network={n}");
            }
            for m in mounts {
                let _ = write!(
                    s,
                    " mount(type={} target={:?} source={:?} from={:?} id={:?} sharing={:?} ro={}",
                    m.kind, m.target, m.source, m.from, m.id, m.sharing, m.readonly
                );
                for (k, v) in [("uid", &m.uid), ("gid", &m.gid), ("mode", &m.mode)] {
                    if let Some(v) = v {
                        let _ = write!(s, " {k}={v}");
                    }
                }
                s.push(')');
            }
            s
        }
        Kind::Cmd(c) => format!("CMD {}", command(c)),
        Kind::Entrypoint(c) => format!("ENTRYPOINT {}", command(c)),
        Kind::Shell(v) => format!("SHELL {v:?}"),
        Kind::Env(p) => format!("ENV {p:?}"),
        Kind::Label(p) => format!("LABEL {p:?}"),
        Kind::Maintainer(m) => format!("MAINTAINER {m:?}"),
        Kind::Expose(v) => format!("EXPOSE {v:?}"),
        Kind::Arg(v) => format!("ARG {}", args(v)),
        Kind::Copy(c) => format!("COPY {}", copy(c)),
        Kind::Add(c) => format!("ADD {}", copy(c)),
        Kind::Volume(v) => format!("VOLUME {v:?}"),
        Kind::User(u) => format!("USER {u:?}"),
        Kind::Workdir(w) => format!("WORKDIR {w:?}"),
        Kind::OnBuild(i) => format!("ONBUILD L{}:{} {}", i.span.line, i.span.column, kind(&i.kind)),
        Kind::StopSignal(s) => format!("STOPSIGNAL {s:?}"),
        Kind::Healthcheck(None) => "HEALTHCHECK NONE".to_string(),
        Kind::Healthcheck(Some(h)) => format!(
            "HEALTHCHECK {} interval={:?} timeout={:?} start_period={:?} start_interval={:?} retries={:?}",
            command(&h.command),
            h.interval,
            h.timeout,
            h.start_period,
            h.start_interval,
            h.retries
        ),
    }
}

fn args(v: &[ArgDecl]) -> String {
    let parts: Vec<String> = v
        .iter()
        .map(|a| match &a.default {
            Some(d) => format!("{}={d:?}", a.name),
            None => a.name.clone(),
        })
        .collect();
    parts.join(" ")
}

fn heredocs(k: &Kind) -> &[Heredoc] {
    match k {
        Kind::Run { heredocs, .. } => heredocs,
        Kind::Copy(c) | Kind::Add(c) => &c.heredocs,
        Kind::OnBuild(i) => heredocs(&i.kind),
        _ => &[],
    }
}

/// The stable text dump compared with the golden files.
pub(super) fn dump(df: &Dockerfile) -> String {
    let mut s = format!("escape={:?} syntax={:?}\n", df.escape, df.syntax);
    if !df.global_args.is_empty() {
        let _ = writeln!(s, "global ARG {}", args(&df.global_args));
    }
    for st in &df.stages {
        let _ = writeln!(
            s,
            "stage {} L{}:{} base={:?} name={:?} platform={:?}",
            st.index, st.span.line, st.span.column, st.base, st.name, st.platform
        );
        for i in &st.instructions {
            let _ = writeln!(s, "  L{}:{} {}", i.span.line, i.span.column, kind(&i.kind));
            for h in heredocs(&i.kind) {
                let _ = writeln!(s, "    heredoc {} expand={} strip_tabs={} body={:?}", h.name, h.expand, h.strip_tabs, h.body);
            }
        }
    }
    s
}

#[test]
fn golden() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/build/testdata");
    let update = std::env::var_os("BURROW_UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut cases: Vec<_> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "Dockerfile")).collect();
    cases.sort();
    assert!(!cases.is_empty());
    let mut failed = Vec::new();
    for path in cases {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let got = match parse(&text, &name) {
            Ok(df) => dump(&df),
            Err(e) => format!("error: {e}\n"),
        };
        let golden = path.with_extension("golden");
        if update {
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if got != want {
            failed.push(format!("{name}:\n--- want\n{want}--- got\n{got}"));
        }
    }
    assert!(failed.is_empty(), "golden mismatches (BURROW_UPDATE_GOLDEN=1 rewrites):\n{}", failed.join("\n"));
}

fn fails(text: &str) -> String {
    match parse(text, "Dockerfile") {
        Ok(df) => panic!("parsed, expected an error:\n{}", dump(&df)),
        Err(e) => e.to_string(),
    }
}

#[test]
fn failures() {
    let cases: &[(&str, &str)] = &[
        ("FROM a\nRUN --network=none \\\n  --nope x\n", "Dockerfile:3:3: unknown flag --nope for RUN"),
        ("FROM a\nCOPY a \\\n # c\n   b \\\n  \"c\n", "Dockerfile:5:3: unterminated \" quote"),
        ("FROM a\nRUNN make\n", "Dockerfile:2:1: unknown instruction \"RUNN\" (did you mean RUN?)"),
        ("FROM a\n  CMD [\"a\", \"b\"\n", "Dockerfile:2:7: unterminated JSON array: close it with ] or drop the [ for shell form"),
        ("FROM a\nCMD [[\"sh\"], \"-c\"]\n", "Dockerfile:2:5: when using JSON array syntax, arrays must be comprised of strings only: quote every element, or drop the [ for shell form"),
        ("FROM a\nENTRYPOINT [\"a\", 1]\n", "Dockerfile:2:12: when using JSON array syntax, arrays must be comprised of strings only: quote every element, or drop the [ for shell form"),
        ("FROM a\nENV x=\"abc\n", "Dockerfile:2:7: unterminated \" quote"),
        ("FROM a\nRUN <<EOF\necho hi\n", "Dockerfile:2:1: heredoc <<EOF is never terminated: add a line reading EOF"),
        ("FROM a\nCOPY --frm=b x y\n", "Dockerfile:2:6: unknown flag --frm for COPY"),
        ("FROM a\nRUN --network=bridge x\n", "Dockerfile:2:5: RUN --network=bridge: expected none, default or host"),
        ("FROM a\nWORKDIR\n", "Dockerfile:2:8: WORKDIR requires at least one argument"),
        ("FROM a\nCOPY x\n", "Dockerfile:2:6: COPY requires at least one source and a destination"),
        ("RUN make\nFROM a\n", "Dockerfile:1:1: RUN before the first FROM: only ARG may come before FROM"),
        ("FROM a AS b\nFROM c AS B\n", "Dockerfile:2:1: duplicate stage name \"b\": give each stage its own AS name"),
        ("FROM a AS b\nCOPY --from=b x y\n", "Dockerfile:2:1: --from=b names the stage it is in: a stage cannot copy from itself"),
        (
            "FROM a AS one\nCOPY --from=two x y\nFROM a AS two\n",
            "Dockerfile:2:1: --from=two names stage 1 defined later (line 3): a stage may only copy from earlier stages",
        ),
        (
            "FROM a\nCOPY --from=1 x y\nFROM b\n",
            "Dockerfile:2:1: --from=1 names stage 1, which is not before this one (stage 0): a stage may only copy from earlier stages",
        ),
        ("FROM a\nONBUILD ONBUILD RUN x\n", "Dockerfile:2:9: ONBUILD is not allowed as an ONBUILD trigger"),
        ("FROM a\nONBUILD FROM b\n", "Dockerfile:2:9: FROM is not allowed as an ONBUILD trigger"),
        ("FROM a\nSHELL /bin/sh -c\n", "Dockerfile:2:7: SHELL requires the exec form: SHELL [\"executable\", \"parameters\"]"),
        ("FROM a\nCOPY --parents x y\n", "Dockerfile:2:6: COPY --parents is not supported by burrow"),
        ("FROM a\nADD --keep-git-dir=true x y\n", "Dockerfile:2:5: ADD --keep-git-dir is not supported by burrow"),
        (
            "FROM a\nRUN --mount=type=ssh x\n",
            "Dockerfile:2:5: RUN --mount=type=ssh: mount type \"ssh\" is not supported: use cache, bind, tmpfs or secret",
        ),
        ("FROM a\nHEALTHCHECK --interval=5s NONE\n", "Dockerfile:2:13: HEALTHCHECK NONE takes no options"),
        ("FROM a\nHEALTHCHECK --retries=x CMD true\n", "Dockerfile:2:13: HEALTHCHECK --retries=x: expected a whole number"),
        ("FROM a\nENV x\n", "Dockerfile:2:5: ENV x has no value: use ENV x=VALUE"),
        ("FROM a x\n", "Dockerfile:1:6: FROM takes an image and an optional AS name: FROM image [AS name]"),
        ("# escape=x\nFROM a\n", "Dockerfile:1:1: invalid escape directive \"x\": use \\ or `"),
        ("# escape=`\n#ESCAPE = \\\nFROM a\n", "Dockerfile:2:1: parser directive \"escape\" given twice"),
        ("FROM\n", "Dockerfile:1:5: FROM requires at least one argument"),
        ("FROM a\nARG 1-x=2\n", "Dockerfile:2:5: ARG name \"1-x\" is not valid: use letters, digits and _"),
        ("FROM a\nCOPY [\"a\", \"b\"\n", "Dockerfile:2:6: unterminated JSON array: close it with ] or drop the [ for shell form"),
        ("FROM a AS 1x\n", "Dockerfile:1:11: invalid stage name \"1x\": use a letter then letters, digits, -, _ or ."),
        ("ARG x\n", "Dockerfile:1:1: no FROM instruction: a Dockerfile needs at least one stage"),
    ];
    let mut bad = Vec::new();
    for (text, want) in cases {
        let got = fails(text);
        if got != *want {
            bad.push(format!("{text:?}\n  want {want}\n  got  {got}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn target_selection() {
    let df = parse(
        "FROM debian AS base\nFROM base AS build\nRUN make\nFROM alpine AS docs\nFROM busybox\nCOPY --from=build /out /\nCOPY --from=0 /etc/x /\n",
        "Dockerfile",
    )
    .unwrap();
    assert_eq!(needed_stages(&df, None).unwrap(), [0, 1, 3]);
    assert_eq!(needed_stages(&df, Some("docs")).unwrap(), [2]);
    assert_eq!(needed_stages(&df, Some("BUILD")).unwrap(), [0, 1]);
    assert_eq!(
        needed_stages(&df, Some("nope")).unwrap_err().to_string(),
        "Dockerfile: target stage \"nope\" not found: stages are base, build, docs"
    );
}

#[test]
fn errors_display_file_line_column() {
    let e = parse("FROM a\n\n  FOO bar\n", "ctx/Dockerfile.dev").unwrap_err();
    assert_eq!(e.span(), Some(Span { line: 3, column: 3 }));
    assert!(e.to_string().starts_with("ctx/Dockerfile.dev:3:3: unknown instruction \"FOO\""));
}

#[test]
fn a_trigger_is_one_instruction_a_child_may_run() {
    let ins = parse_trigger("COPY <<EOF /f\nhello\nEOF", '\\').unwrap();
    assert!(matches!(&ins.kind, Kind::Copy(c) if c.heredocs.len() == 1), "{ins:?}");
    assert_eq!(parse_trigger("RUN a\nRUN b", '\\').unwrap_err(), Error::TriggerCount { count: 2 });
    assert_eq!(parse_trigger("", '\\').unwrap_err(), Error::TriggerCount { count: 0 });
    let e = parse_trigger("FROM busybox", '\\').unwrap_err();
    assert_eq!(e, Error::TriggerKind { keyword: "FROM" });
    assert_eq!(e.to_string(), "FROM cannot be a trigger: FROM, ONBUILD and MAINTAINER never are");
    assert_eq!(parse_trigger("ONBUILD RUN x", '\\').unwrap_err(), Error::TriggerKind { keyword: "ONBUILD" });
    let e = parse_trigger("FOO bar", '\\').unwrap_err();
    assert!(matches!(&e, Error::TriggerSyntax { line: 1, column: 1, .. }), "{e:?}");
    assert!(e.to_string().starts_with("unknown instruction \"FOO\""), "{e}");
    assert_eq!(e.span(), None);
}

#[test]
fn a_double_dash_ends_the_flags() {
    let df = parse("FROM a\nCOPY --chmod=644 -- --odd /dst/\nRUN -- --version\n", "Dockerfile").unwrap();
    let dumped = dump(&df);
    assert!(dumped.contains(r#"["--odd"] -> "/dst/" chmod="644""#), "{dumped}");
    assert!(dumped.contains(r#"RUN shell "--version""#), "{dumped}");
}
