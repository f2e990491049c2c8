//! Instructions → stages: the global ARGs before the first FROM, then one
//! stage per FROM with the instructions up to the next.
//!
//! Only ARG may come before the first FROM. Stage names are unique
//! (case-insensitively; they are kept in lowercase). A `COPY --from` or
//! `RUN --mount=from=` naming a stage (by name or index) must name an earlier
//! one: naming the stage itself or a later one would be a cycle. A FROM or
//! `--from` naming no stage refers to an image and is left to the executor.
//! `needed_stages` walks those references back from the target to find the
//! stages a build must run, in order.

use super::{ArgDecl, Dockerfile, Error, Instruction, Kind, Located, Result, Stage};

pub(crate) fn split(file: &str, escape: char, syntax: Option<String>, instructions: Vec<Instruction>) -> Result<Dockerfile, Located> {
    let mut global_args: Vec<ArgDecl> = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for ins in instructions {
        if let Kind::From { base, name, platform } = &ins.kind {
            if let Some(n) = name {
                if stages.iter().any(|s| s.name.as_ref() == Some(n)) {
                    return Err(Located::new(ins.span, format!("duplicate stage name {n:?}: give each stage its own AS name")));
                }
            }
            stages.push(Stage {
                index: stages.len(),
                name: name.clone(),
                base: base.clone(),
                platform: platform.clone(),
                span: ins.span,
                instructions: Vec::new(),
            });
            continue;
        }
        if !stages.is_empty() {
            check_refs(&stages_names(&stages), &ins)?;
        }
        match stages.last_mut() {
            Some(stage) => stage.instructions.push(ins),
            None => match ins.kind {
                Kind::Arg(decls) => global_args.extend(decls),
                _ => {
                    let kw = ins.original.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                    return Err(Located::new(ins.span, format!("{kw} before the first FROM: only ARG may come before FROM")));
                }
            },
        }
    }
    if stages.is_empty() {
        return Err(Located::new(super::Span { line: 1, column: 1 }, "no FROM instruction: a Dockerfile needs at least one stage"));
    }
    Ok(Dockerfile { file: file.to_string(), escape, syntax, global_args, stages })
}

fn stages_names(stages: &[Stage]) -> Vec<Option<String>> {
    stages.iter().map(|s| s.name.clone()).collect()
}

/// The stage references of an instruction: `COPY --from` and mount `from=`.
fn refs(ins: &Instruction) -> Vec<&str> {
    match &ins.kind {
        Kind::Copy(c) => c.from.iter().map(String::as_str).collect(),
        Kind::Run { mounts, .. } => mounts.iter().filter_map(|m| m.from.as_deref()).collect(),
        _ => Vec::new(),
    }
}

fn check_refs(names: &[Option<String>], ins: &Instruction) -> Result<(), Located> {
    let current = names.len() - 1;
    for r in refs(ins) {
        if let Ok(i) = r.parse::<usize>() {
            if i >= current {
                return Err(Located::new(
                    ins.span,
                    format!("--from={r} names stage {i}, which is not before this one (stage {current}): a stage may only copy from earlier stages"),
                ));
            }
            continue;
        }
        let lower = r.to_ascii_lowercase();
        if names[current].as_deref() == Some(lower.as_str()) {
            return Err(Located::new(ins.span, format!("--from={r} names the stage it is in: a stage cannot copy from itself")));
        }
    }
    Ok(())
}

/// After all stages are known: references by name to a later stage.
fn check_forward(df: &Dockerfile) -> Result<(), Error> {
    for stage in &df.stages {
        for ins in &stage.instructions {
            for r in refs(ins) {
                let lower = r.to_ascii_lowercase();
                if let Some(later) = df.stages.iter().find(|s| s.name.as_deref() == Some(lower.as_str()) && s.index > stage.index) {
                    return Err(Located::new(
                        ins.span,
                        format!(
                            "--from={r} names stage {} defined later (line {}): a stage may only copy from earlier stages",
                            later.index, later.span.line
                        ),
                    )
                    .at(&df.file));
                }
            }
        }
    }
    Ok(())
}

/// The stage a reference names, if any.
fn resolve(df: &Dockerfile, before: usize, r: &str) -> Option<usize> {
    if let Ok(i) = r.parse::<usize>() {
        return (i < before).then_some(i);
    }
    let lower = r.to_ascii_lowercase();
    df.stages[..before].iter().position(|s| s.name.as_deref() == Some(lower.as_str()))
}

/// The stages the target (default: the last stage) depends on, itself
/// included, in Dockerfile order.
pub fn needed_stages(df: &Dockerfile, target: Option<&str>) -> Result<Vec<usize>> {
    check_forward(df)?;
    let last = df.stages.len() - 1;
    let target = match target {
        None => last,
        Some(t) => {
            let lower = t.to_ascii_lowercase();
            df.stages.iter().position(|s| s.name.as_deref() == Some(lower.as_str())).ok_or_else(|| Error::NoTarget {
                file: df.file.clone(),
                target: t.to_string(),
                stages: df.stages.iter().filter_map(|s| s.name.clone()).collect(),
            })?
        }
    };
    let mut needed = vec![false; df.stages.len()];
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if std::mem::replace(&mut needed[i], true) {
            continue;
        }
        let stage = &df.stages[i];
        // A FROM names an earlier stage only by name; `--from` also by index.
        let lower = stage.base.to_ascii_lowercase();
        todo.extend(df.stages[..i].iter().position(|s| s.name.as_deref() == Some(lower.as_str())));
        for ins in &stage.instructions {
            todo.extend(refs(ins).into_iter().filter_map(|r| resolve(df, i, r)));
        }
    }
    Ok((0..df.stages.len()).filter(|i| needed[*i]).collect())
}

/// Whole-file checks that need every stage (parse calls this).
pub(crate) fn validate(df: &Dockerfile) -> Result<()> {
    check_forward(df)
}
