//! Logical line → typed [`Instruction`]: the instruction keyword, its
//! `--flags`, and its arguments in exec (JSON array) or shell form.
//!
//! Keywords are case-insensitive. Flags come right after the keyword, as
//! `--name=value` or `--name` for booleans; a flag the instruction does not
//! know, or one burrow refuses, is an error at its column. Arguments are kept
//! raw (quotes and `$VAR` as written) because expansion belongs to build
//! time; they are only split into words at unquoted blanks where the
//! instruction takes several (COPY sources, EXPOSE, ENV pairs). A line
//! starting with `[` whose JSON parse fails is shell form, as in docker,
//! except that an array that is plainly meant as JSON (`["` and no `]`
//! anywhere) is reported as unterminated.

use super::lex::Line;
use super::{ArgDecl, Command, CopySpec, HealthSpec, Heredoc, Instruction, Kind, Located, RunMount, Span};

const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// The remainder of a line after a prefix, with its position.
struct Args<'a> {
    text: &'a str,
    /// Byte offset of `text` in the logical line.
    base: usize,
    line: &'a Line,
    escape: char,
}

impl<'a> Args<'a> {
    /// The source position of a byte offset in `text`, through the
    /// continuation lines the logical line was joined from.
    fn span_at(&self, offset: usize) -> Span {
        let abs = self.base + offset;
        let (start, span) = self.line.segments.iter().rev().find(|(start, _)| *start <= abs).copied().unwrap_or((0, self.line.span));
        Span { line: span.line, column: span.column + self.line.text[start..abs].chars().count() }
    }
    fn span(&self) -> Span {
        self.span_at(0)
    }
    fn err(&self, offset: usize, message: impl Into<String>) -> Located {
        Located::new(self.span_at(offset), message)
    }
    fn from(&self, offset: usize) -> Args<'a> {
        let rest = &self.text[offset..];
        let trimmed = rest.trim_start();
        let skip = offset + rest.len() - trimmed.len();
        Args { text: trimmed, base: self.base + skip, line: self.line, escape: self.escape }
    }
}

/// Raw words split at unquoted blanks, each with its byte offset.
fn words(text: &str, escape: char) -> Result<Vec<(usize, &str)>, (usize, String)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut quote: Option<(char, usize)> = None;
    let mut iter = text.char_indices();
    while let Some((i, c)) = iter.next() {
        if let Some((q, _)) = quote {
            if c == escape && q == '"' {
                iter.next();
            } else if c == q {
                quote = None;
            }
            continue;
        }
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                out.push((s, &text[s..i]));
            }
            continue;
        }
        start.get_or_insert(i);
        if c == escape {
            iter.next();
        } else if c == '"' || c == '\'' {
            quote = Some((c, i));
        }
    }
    if let Some((q, at)) = quote {
        return Err((at, format!("unterminated {q} quote")));
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    Ok(out)
}

fn split_words<'a>(args: &Args<'a>) -> Result<Vec<(usize, &'a str)>, Located> {
    words(args.text, args.escape).map_err(|(at, m)| args.err(at, m))
}

/// A `--name[=value]` flag.
struct Flag<'a> {
    name: &'a str,
    value: Option<&'a str>,
    offset: usize,
}

/// Takes the leading flags; returns them and the arguments after them.
fn flags<'a>(args: &Args<'a>) -> Result<(Vec<Flag<'a>>, Args<'a>), Located> {
    let mut out = Vec::new();
    let mut end = 0;
    // Flags hold no blanks; the words after them are not split here, so a
    // legacy `ENV msg it's` with a lone quote is not a syntax error.
    loop {
        let rest = &args.text[end..];
        let offset = end + rest.len() - rest.trim_start().len();
        let rest = &args.text[offset..];
        let word = &rest[..rest.find(char::is_whitespace).unwrap_or(rest.len())];
        let Some(body) = word.strip_prefix("--") else { break };
        // `--` alone ends the flags: what follows is arguments, even
        // words that start with `--` (as BuildKit reads it).
        if body.is_empty() {
            end = offset + word.len();
            break;
        }
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        out.push(Flag { name, value, offset });
        end = offset + word.len();
    }
    Ok((out, args.from(end)))
}

fn value<'a>(args: &Args, kw: &str, f: &Flag<'a>) -> Result<&'a str, Located> {
    match f.value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(args.err(f.offset, format!("{kw} --{} needs a value: --{}=VALUE", f.name, f.name))),
    }
}

fn boolean(args: &Args, kw: &str, f: &Flag) -> Result<bool, Located> {
    match f.value {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(args.err(f.offset, format!("{kw} --{}={v}: expected true or false", f.name))),
    }
}

fn unknown_flag(args: &Args, kw: &str, f: &Flag) -> Located {
    args.err(f.offset, format!("unknown flag --{} for {kw}", f.name))
}

fn no_flags(args: &Args, kw: &str, flags: &[Flag]) -> Result<(), Located> {
    match flags.first() {
        Some(f) => Err(unknown_flag(args, kw, f)),
        None => Ok(()),
    }
}

fn required<'a>(args: &Args<'a>, kw: &str) -> Result<&'a str, Located> {
    if args.text.is_empty() {
        return Err(args.err(0, format!("{kw} requires at least one argument")));
    }
    Ok(args.text)
}

/// A JSON array of strings, if the text is one. `Err` when it plainly
/// meant to be one but is not closed.
fn json_array(args: &Args) -> Result<Option<Vec<String>>, Located> {
    let t = args.text.trim_end();
    if !t.starts_with('[') {
        return Ok(None);
    }
    if let Ok(v) = serde_json::from_str::<Vec<String>>(t) {
        return Ok(Some(v));
    }
    // A JSON array of something else is an error, not shell form
    // (BuildKit's rule).
    if serde_json::from_str::<Vec<serde_json::Value>>(t).is_ok() {
        return Err(args.err(
            0,
            "when using JSON array syntax, arrays must be comprised of strings only: quote every element, or drop the [ for shell form",
        ));
    }
    if t[1..].trim_start().starts_with('"') && !t.contains(']') {
        return Err(args.err(0, "unterminated JSON array: close it with ] or drop the [ for shell form"));
    }
    Ok(None)
}

fn command(args: &Args, kw: &str) -> Result<Command, Located> {
    let text = required(args, kw)?;
    Ok(match json_array(args)? {
        Some(v) => Command::Exec(v),
        None => Command::Shell(text.to_string()),
    })
}

/// Parses one logical line.
pub(crate) fn parse_line(line: &Line, escape: char) -> Result<Instruction, Located> {
    let args = Args { text: &line.text, base: 0, line, escape };
    let kind = parse_kind(&args, &line.heredocs, false)?;
    Ok(Instruction { span: line.span, original: line.text.clone(), kind })
}

fn parse_kind(line: &Args, heredocs: &[Heredoc], onbuild: bool) -> Result<Kind, Located> {
    let kw_end = line.text.find(char::is_whitespace).unwrap_or(line.text.len());
    let kw = line.text[..kw_end].to_ascii_uppercase();
    let args = line.from(kw_end);
    let heredocs = heredocs.to_vec();
    let simple = |args: &Args, kw: &str| -> Result<String, Located> {
        let (f, rest) = flags(args)?;
        no_flags(args, kw, &f)?;
        Ok(required(&rest, kw)?.to_string())
    };
    Ok(match kw.as_str() {
        "FROM" => from(&args)?,
        "RUN" => run(&args, heredocs)?,
        "CMD" | "ENTRYPOINT" => {
            let (f, rest) = flags(&args)?;
            no_flags(&args, &kw, &f)?;
            let c = command(&rest, &kw)?;
            if kw == "CMD" {
                Kind::Cmd(c)
            } else {
                Kind::Entrypoint(c)
            }
        }
        "SHELL" => {
            let text = simple(&args, &kw)?;
            match json_array(&args)? {
                Some(v) if !v.is_empty() => Kind::Shell(v),
                _ => {
                    let _ = text;
                    return Err(args.err(0, "SHELL requires the exec form: SHELL [\"executable\", \"parameters\"]"));
                }
            }
        }
        "ENV" | "LABEL" => {
            simple(&args, &kw)?;
            let pairs = pairs(&args, &kw)?;
            if kw == "ENV" {
                Kind::Env(pairs)
            } else {
                Kind::Label(pairs)
            }
        }
        "MAINTAINER" => Kind::Maintainer(simple(&args, &kw)?),
        "EXPOSE" => {
            simple(&args, &kw)?;
            Kind::Expose(split_words(&args)?.into_iter().map(|(_, w)| w.to_string()).collect())
        }
        "ARG" => {
            simple(&args, &kw)?;
            let mut decls = Vec::new();
            for (offset, w) in split_words(&args)? {
                let (name, default) = match w.split_once('=') {
                    Some((n, d)) => (n, Some(d.to_string())),
                    None => (w, None),
                };
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(args.err(offset, format!("ARG name {name:?} is not valid: use letters, digits and _")));
                }
                decls.push(ArgDecl { name: name.to_string(), default });
            }
            Kind::Arg(decls)
        }
        "COPY" | "ADD" => copy(&args, &kw, heredocs)?,
        "VOLUME" => {
            simple(&args, &kw)?;
            match json_array(&args)? {
                Some(v) => Kind::Volume(v),
                None => Kind::Volume(split_words(&args)?.into_iter().map(|(_, w)| w.to_string()).collect()),
            }
        }
        "USER" => Kind::User(simple(&args, &kw)?),
        "WORKDIR" => Kind::Workdir(simple(&args, &kw)?),
        "STOPSIGNAL" => Kind::StopSignal(simple(&args, &kw)?),
        "HEALTHCHECK" => healthcheck(&args)?,
        "ONBUILD" => {
            simple(&args, &kw)?;
            if onbuild {
                return Err(args.err(0, "ONBUILD ONBUILD is not allowed"));
            }
            let inner_end = args.text.find(char::is_whitespace).unwrap_or(args.text.len());
            let inner_kw = args.text[..inner_end].to_ascii_uppercase();
            if matches!(inner_kw.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                return Err(args.err(0, format!("{inner_kw} is not allowed as an ONBUILD trigger")));
            }
            let kind = parse_kind(&args, &heredocs, true)?;
            Kind::OnBuild(Box::new(Instruction { span: args.span(), original: args.text.to_string(), kind }))
        }
        _ => {
            let hint = suggest(&kw).map(|s| format!(" (did you mean {s}?)")).unwrap_or_default();
            return Err(line.err(0, format!("unknown instruction {:?}{hint}", &line.text[..kw_end])));
        }
    })
}

/// The closest known keyword within two edits, for error messages.
fn suggest(kw: &str) -> Option<&'static str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    KEYWORDS.iter().map(|k| (distance(kw, k), *k)).filter(|(d, _)| *d <= 2).min().map(|(_, k)| k)
}

fn from(args: &Args) -> Result<Kind, Located> {
    let (fl, rest) = flags(args)?;
    let mut platform = None;
    for f in &fl {
        match f.name {
            "platform" => platform = Some(value(args, "FROM", f)?.to_string()),
            _ => return Err(unknown_flag(args, "FROM", f)),
        }
    }
    required(&rest, "FROM")?;
    let w = split_words(&rest)?;
    let name = match w.as_slice() {
        [_] => None,
        [_, (_, kw), (offset, name)] if kw.eq_ignore_ascii_case("as") => {
            let name = name.to_ascii_lowercase();
            let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid {
                return Err(rest.err(*offset, format!("invalid stage name {name:?}: use a letter then letters, digits, -, _ or .")));
            }
            Some(name)
        }
        _ => return Err(rest.err(0, "FROM takes an image and an optional AS name: FROM image [AS name]")),
    };
    Ok(Kind::From { base: w[0].1.to_string(), name, platform })
}

fn run(args: &Args, heredocs: Vec<Heredoc>) -> Result<Kind, Located> {
    let (fl, rest) = flags(args)?;
    let mut network = None;
    let mut mounts = Vec::new();
    for f in &fl {
        match f.name {
            "network" => {
                let v = value(args, "RUN", f)?;
                if !matches!(v, "none" | "default" | "host") {
                    return Err(args.err(f.offset, format!("RUN --network={v}: expected none, default or host")));
                }
                network = Some(v.to_string());
            }
            "mount" => mounts.push(mount(args, f.offset, value(args, "RUN", f)?)?),
            "security" => return Err(args.err(f.offset, "RUN --security is not supported by burrow")),
            _ => return Err(unknown_flag(args, "RUN", f)),
        }
    }
    let command = command(&rest, "RUN")?;
    Ok(Kind::Run { command, network, mounts, heredocs })
}

fn mount(args: &Args, offset: usize, spec: &str) -> Result<RunMount, Located> {
    let mut m = RunMount {
        kind: "bind".into(),
        target: None,
        source: None,
        from: None,
        id: None,
        sharing: None,
        readonly: false,
        uid: None,
        gid: None,
        mode: None,
    };
    let err = |m: String| args.err(offset, format!("RUN --mount={spec}: {m}"));
    let mut access = None;
    for field in spec.split(',') {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        let need = || v.map(str::to_string).ok_or_else(|| err(format!("{k} needs a value")));
        match k {
            "type" => m.kind = need()?,
            "target" | "dst" | "destination" => m.target = Some(need()?),
            "source" | "src" => m.source = Some(need()?),
            "from" => m.from = Some(need()?),
            "id" => m.id = Some(need()?),
            "sharing" => {
                let s = need()?;
                if !matches!(s.as_str(), "shared" | "private" | "locked") {
                    return Err(err(format!("sharing={s}: expected shared, private or locked")));
                }
                m.sharing = Some(s);
            }
            "uid" => m.uid = Some(need()?),
            "gid" => m.gid = Some(need()?),
            "mode" => m.mode = Some(need()?),
            "readonly" | "ro" => access = Some(v.is_none_or(|v| v == "true")),
            "rw" | "readwrite" => access = Some(v.is_some_and(|v| v == "false")),
            _ => return Err(err(format!("unknown or unsupported mount option {k:?}"))),
        }
    }
    // A bind is read-only unless rw is asked for; the others writable.
    m.readonly = access.unwrap_or(m.kind == "bind");
    match m.kind.as_str() {
        "cache" | "bind" | "tmpfs" => {
            if m.target.is_none() {
                return Err(err("a target is required: target=/path".into()));
            }
        }
        "secret" => {}
        other => return Err(err(format!("mount type {other:?} is not supported: use cache, bind, tmpfs or secret"))),
    }
    Ok(m)
}

fn copy(args: &Args, kw: &str, heredocs: Vec<Heredoc>) -> Result<Kind, Located> {
    let (fl, rest) = flags(args)?;
    let mut spec =
        CopySpec { sources: Vec::new(), dest: String::new(), from: None, chown: None, chmod: None, link: false, checksum: None, heredocs };
    for f in &fl {
        match (kw, f.name) {
            (_, "chown") => spec.chown = Some(value(args, kw, f)?.to_string()),
            (_, "chmod") => spec.chmod = Some(value(args, kw, f)?.to_string()),
            (_, "link") => spec.link = boolean(args, kw, f)?,
            ("COPY", "from") => spec.from = Some(value(args, kw, f)?.to_string()),
            ("ADD", "checksum") => spec.checksum = Some(value(args, kw, f)?.to_string()),
            ("COPY", "parents") | ("COPY", "exclude") | ("ADD", "keep-git-dir") | ("ADD", "exclude") => {
                return Err(args.err(f.offset, format!("{kw} --{} is not supported by burrow", f.name)))
            }
            _ => return Err(unknown_flag(args, kw, f)),
        }
    }
    required(&rest, kw)?;
    let mut paths = match json_array(&rest)? {
        Some(v) => v,
        None => split_words(&rest)?.into_iter().map(|(_, w)| w.to_string()).collect(),
    };
    if paths.len() < 2 {
        return Err(rest.err(0, format!("{kw} requires at least one source and a destination")));
    }
    spec.dest = paths.pop().unwrap_or_default();
    spec.sources = paths;
    Ok(if kw == "COPY" { Kind::Copy(spec) } else { Kind::Add(spec) })
}

/// ENV or LABEL pairs: `k=v ...`, or the legacy `k v with spaces`.
fn pairs(args: &Args, kw: &str) -> Result<Vec<(String, String)>, Located> {
    let first = args.text.split(char::is_whitespace).next().unwrap_or("");
    if key_value(first, args.escape).is_none() {
        let rest = args.from(first.len());
        if rest.text.is_empty() {
            return Err(args.err(0, format!("{kw} {first} has no value: use {kw} {first}=VALUE")));
        }
        return Ok(vec![(first.to_string(), rest.text.to_string())]);
    }
    let mut out = Vec::new();
    for (offset, word) in split_words(args)? {
        match key_value(word, args.escape) {
            Some((k, v)) if !k.is_empty() => out.push((k.to_string(), v.to_string())),
            _ => return Err(args.err(offset, format!("{kw} expects KEY=VALUE pairs, found {word:?}"))),
        }
    }
    Ok(out)
}

/// Splits a raw word at its first `=` outside quotes.
fn key_value(word: &str, escape: char) -> Option<(&str, &str)> {
    let mut quote = None;
    let mut iter = word.char_indices();
    while let Some((i, c)) = iter.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == escape => {
                iter.next();
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '=' => return Some((&word[..i], &word[i + 1..])),
            None => {}
        }
    }
    None
}

fn healthcheck(args: &Args) -> Result<Kind, Located> {
    let (fl, rest) = flags(args)?;
    let text = required(&rest, "HEALTHCHECK")?;
    let kw_end = text.find(char::is_whitespace).unwrap_or(text.len());
    let kw = text[..kw_end].to_ascii_uppercase();
    if kw == "NONE" {
        if let Some(f) = fl.first() {
            return Err(args.err(f.offset, "HEALTHCHECK NONE takes no options"));
        }
        if kw_end != text.len() {
            return Err(rest.err(kw_end, "HEALTHCHECK NONE takes no arguments"));
        }
        return Ok(Kind::Healthcheck(None));
    }
    if kw != "CMD" {
        return Err(rest.err(0, "HEALTHCHECK expects NONE or CMD command"));
    }
    let mut spec = HealthSpec {
        command: command(&rest.from(kw_end), "HEALTHCHECK CMD")?,
        interval: None,
        timeout: None,
        start_period: None,
        start_interval: None,
        retries: None,
    };
    for f in &fl {
        let v = value(args, "HEALTHCHECK", f)?.to_string();
        match f.name {
            "interval" => spec.interval = Some(v),
            "timeout" => spec.timeout = Some(v),
            "start-period" => spec.start_period = Some(v),
            "start-interval" => spec.start_interval = Some(v),
            "retries" => {
                spec.retries =
                    Some(v.parse().map_err(|_| args.err(f.offset, format!("HEALTHCHECK --retries={v}: expected a whole number")))?)
            }
            _ => return Err(unknown_flag(args, "HEALTHCHECK", f)),
        }
    }
    Ok(Kind::Healthcheck(Some(spec)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Kind {
        let line = Line {
            span: Span { line: 1, column: 1 },
            text: text.to_string(),
            segments: vec![(0, Span { line: 1, column: 1 })],
            heredocs: Vec::new(),
        };
        parse_line(&line, '\\').unwrap().kind
    }

    #[test]
    fn bracket_shell_commands_are_shell_form() {
        for t in [r#"RUN [ "$a" = x ] && echo y"#, "RUN [ -d /x ]", r#"CMD [ "$a" = x ]"#] {
            let (Kind::Run { command, .. } | Kind::Cmd(command)) = kind(t) else { panic!("{t}") };
            assert!(matches!(command, Command::Shell(_)), "{t}");
        }
    }

    #[test]
    fn keywords_and_pairs() {
        assert_eq!(kind("user  app"), Kind::User("app".into()));
        assert_eq!(kind("Env a=1 b='x y'"), Kind::Env(vec![("a".into(), "1".into()), ("b".into(), "'x y'".into())]));
        assert_eq!(kind("ENV msg it's legacy"), Kind::Env(vec![("msg".into(), "it's legacy".into())]));
        assert_eq!(key_value(r#""a=b"=c"#, '\\'), Some((r#""a=b""#, "c")));
        assert_eq!(key_value(r"a\=b=c", '\\'), Some((r"a\=b", "c")));
        assert_eq!(suggest("COPPY"), Some("COPY"));
        assert_eq!(suggest("XYZZY"), None);
    }
}
