//! Variable substitution in Dockerfile words, as the Dockerfile reference
//! specifies it; the executor applies it with the ARG/ENV state of a step.
//!
//! `$name` and `${name}` expand to the value or to nothing when unset.
//! `${name:-word}` is `word` when the variable is unset or empty,
//! `${name-word}` only when unset; `${name:+word}` is `word` when it is set
//! and not empty, `${name+word}` when set (even empty), and nothing
//! otherwise; `${name:?msg}` / `${name?msg}` fail. `word` may itself hold
//! quotes and substitutions. The escape character makes the next character
//! literal (`\$foo` is `$foo`); single quotes keep everything literal; double
//! quotes allow substitution and keep spaces. Quotes are removed from the
//! result. The pattern operators `${name#pat}` and `${name##pat}` remove
//! the shortest and longest matching prefix, `%` and `%%` the suffix, and
//! `${name/pat/repl}` and `${name//pat/repl}` replace the first or every
//! longest match, with the shell's `*`, `?` and `[...]` in `pat`. `$1x` is
//! the positional `$1` then `x`, and the special parameters (`$@ $* $# $?
//! $- $$ $!`) are names too: all expand to nothing in a build, as in
//! BuildKit.
//! Per the reference, the builder expands only the instructions in
//! [`EXPANDING`]; RUN, CMD and ENTRYPOINT are left to the shell (exec form is
//! never expanded).

/// The instructions whose arguments the builder expands (the reference's
/// list, plus ARG defaults as BuildKit expands them); ONBUILD triggers are
/// expanded when they run.
pub const EXPANDING: &[&str] = &["ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR", "ARG"];

/// A substitution error.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubstError {
    #[error("unterminated {quote} quote in {word:?}")]
    UnterminatedQuote { quote: char, word: String },
    #[error("missing closing }} in {word:?}")]
    UnterminatedBrace { word: String },
    #[error("bad substitution {text:?} in {word:?}")]
    BadSubstitution { text: String, word: String },
    #[error("{name}: {message}")]
    Required { name: String, message: String },
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    word: &'a str,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    escape: char,
}

/// One expanded piece: literal (quoted or escaped) text is never split.
#[derive(Clone, Copy, PartialEq)]
enum Piece {
    Quoted,
    Unquoted,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// Reads until `stop` (not consumed) or the end, outside any quotes.
    fn run(&mut self, stop: Option<char>, out: &mut Vec<(char, Piece)>) -> Result<(), SubstError> {
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                return Ok(());
            }
            self.pos += 1;
            if c == self.escape {
                match self.peek() {
                    Some(n) => {
                        self.pos += 1;
                        out.push((n, Piece::Quoted));
                    }
                    None => out.push((c, Piece::Quoted)),
                }
            } else if c == '\'' {
                self.single(out)?;
            } else if c == '"' {
                self.double(out)?;
            } else if c == '$' {
                let v = self.dollar()?;
                out.extend(v.chars().map(|c| (c, Piece::Unquoted)));
            } else {
                out.push((c, Piece::Unquoted));
            }
        }
        match stop {
            Some(_) => Err(SubstError::UnterminatedBrace { word: self.word.to_string() }),
            None => Ok(()),
        }
    }

    fn single(&mut self, out: &mut Vec<(char, Piece)>) -> Result<(), SubstError> {
        // An empty pair of quotes still makes a (possibly empty) word.
        out.push(('\0', Piece::Quoted));
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == '\'' {
                return Ok(());
            }
            out.push((c, Piece::Quoted));
        }
        Err(SubstError::UnterminatedQuote { quote: '\'', word: self.word.to_string() })
    }

    fn double(&mut self, out: &mut Vec<(char, Piece)>) -> Result<(), SubstError> {
        out.push(('\0', Piece::Quoted));
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == '"' {
                return Ok(());
            }
            if c == self.escape {
                match self.peek() {
                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                        self.pos += 1;
                        out.push((n, Piece::Quoted));
                    }
                    _ => out.push((c, Piece::Quoted)),
                }
            } else if c == '$' {
                let v = self.dollar()?;
                out.extend(v.chars().map(|c| (c, Piece::Quoted)));
            } else {
                out.push((c, Piece::Quoted));
            }
        }
        Err(SubstError::UnterminatedQuote { quote: '"', word: self.word.to_string() })
    }

    fn name(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// A positional parameter's digits, or one special parameter's
    /// character, if one is next.
    fn special(&mut self) -> Option<String> {
        let c = self.peek()?;
        if c.is_ascii_digit() {
            let start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            return Some(self.chars[start..self.pos].iter().collect());
        }
        if "@*#?-$!".contains(c) {
            self.pos += 1;
            return Some(c.to_string());
        }
        None
    }

    /// After a `$`: the substituted value.
    fn dollar(&mut self) -> Result<String, SubstError> {
        if let Some(name) = self.special() {
            return Ok((self.lookup)(&name).unwrap_or_default());
        }
        match self.peek() {
            Some('{') => self.pos += 1,
            Some(c) if c.is_ascii_alphanumeric() || c == '_' => {
                let name = self.name();
                return Ok((self.lookup)(&name).unwrap_or_default());
            }
            _ => return Ok("$".to_string()),
        }
        let name = self.name();
        if name.is_empty() {
            return Err(self.bad());
        }
        let value = (self.lookup)(&name);
        let op = match self.peek() {
            Some('}') => {
                self.pos += 1;
                return Ok(value.unwrap_or_default());
            }
            Some(':') => {
                self.pos += 1;
                match self.peek() {
                    Some(c @ ('-' | '+' | '?')) => {
                        self.pos += 1;
                        (true, c)
                    }
                    _ => return Err(self.bad()),
                }
            }
            Some(c @ ('-' | '+' | '?')) => {
                self.pos += 1;
                (false, c)
            }
            Some(c @ ('#' | '%' | '/')) => {
                self.pos += 1;
                let twice = self.peek() == Some(c);
                if twice {
                    self.pos += 1;
                }
                let mut word = Vec::new();
                self.run(Some('}'), &mut word)?;
                self.pos += 1;
                let word: String = word.into_iter().map(|(c, _)| c).filter(|c| *c != '\0').collect();
                return Ok(pattern_op(&value.unwrap_or_default(), c, twice, &word));
            }
            Some(_) => return Err(self.bad()),
            None => return Err(SubstError::UnterminatedBrace { word: self.word.to_string() }),
        };
        let mut word = Vec::new();
        self.run(Some('}'), &mut word)?;
        self.pos += 1;
        let word: String = word.into_iter().map(|(c, _)| c).filter(|c| *c != '\0').collect();
        let (colon, op) = op;
        let set = match (&value, colon) {
            (None, _) => false,
            (Some(v), true) => !v.is_empty(),
            (Some(_), false) => true,
        };
        Ok(match op {
            '-' if set => value.unwrap_or_default(),
            '-' => word,
            '+' if set => word,
            '+' => String::new(),
            _ if set => value.unwrap_or_default(),
            _ => {
                let message = if word.is_empty() { "is not set".to_string() } else { word };
                return Err(SubstError::Required { name, message });
            }
        })
    }

    fn bad(&self) -> SubstError {
        let text: String = self.chars[..self.pos.min(self.chars.len())].iter().collect();
        let start = text.rfind("${").unwrap_or(0);
        SubstError::BadSubstitution { text: text[start..].to_string(), word: self.word.to_string() }
    }
}

/// `${v#pat}` and its kin on `v`: `op` is `#`, `%` or `/`, doubled or not.
fn pattern_op(v: &str, op: char, twice: bool, word: &str) -> String {
    let matches = |pat: &str, s: &str| super::context::match_one(pat.as_bytes(), s.as_bytes());
    let cuts: Vec<usize> = v.char_indices().map(|(i, _)| i).chain([v.len()]).collect();
    match op {
        '#' => {
            let mut order: Box<dyn Iterator<Item = &usize>> = if twice { Box::new(cuts.iter().rev()) } else { Box::new(cuts.iter()) };
            order.find(|&&i| matches(word, &v[..i])).map_or_else(|| v.to_string(), |&i| v[i..].to_string())
        }
        '%' => {
            let mut order: Box<dyn Iterator<Item = &usize>> = if twice { Box::new(cuts.iter()) } else { Box::new(cuts.iter().rev()) };
            order.find(|&&i| matches(word, &v[i..])).map_or_else(|| v.to_string(), |&i| v[..i].to_string())
        }
        _ => {
            let (pat, repl) = word.split_once('/').unwrap_or((word, ""));
            if pat.is_empty() {
                return v.to_string();
            }
            let mut out = String::new();
            let mut at = 0;
            while at < v.len() {
                // The longest match starting here, if any.
                let end = cuts.iter().rev().filter(|&&j| j > at).find(|&&j| matches(pat, &v[at..j]));
                match end {
                    Some(&j) => {
                        out.push_str(repl);
                        at = j;
                        if !twice {
                            out.push_str(&v[at..]);
                            return out;
                        }
                    }
                    None => {
                        let next = cuts.iter().find(|&&j| j > at).copied().unwrap_or(v.len());
                        out.push_str(&v[at..next]);
                        at = next;
                    }
                }
            }
            out
        }
    }
}

fn pieces(word: &str, lookup: &dyn Fn(&str) -> Option<String>, escape: char) -> Result<Vec<(char, Piece)>, SubstError> {
    let mut lx = Lexer { chars: word.chars().collect(), pos: 0, word, lookup, escape };
    let mut out = Vec::new();
    lx.run(None, &mut out)?;
    Ok(out)
}

/// Expands one word: substitutions done, quotes and escapes removed.
pub fn expand(word: &str, lookup: &dyn Fn(&str) -> Option<String>, escape: char) -> Result<String, SubstError> {
    Ok(pieces(word, lookup, escape)?.into_iter().map(|(c, _)| c).filter(|c| *c != '\0').collect())
}

/// Expands a here-document's body as a shell expands an unquoted one:
/// `$name` and `${...}` are substituted, a backslash keeps a following
/// `$`, backslash or backquote literal, and quotes are ordinary text.
pub fn expand_heredoc(body: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, SubstError> {
    let mut lx = Lexer { chars: body.chars().collect(), pos: 0, word: body, lookup, escape: '\\' };
    let mut out = String::new();
    while let Some(c) = lx.peek() {
        lx.pos += 1;
        match c {
            '\\' if matches!(lx.peek(), Some('$' | '\\' | '`')) => {
                out.extend(lx.peek());
                lx.pos += 1;
            }
            '$' => out.push_str(&lx.dollar()?),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Expands and splits into words at unquoted whitespace (also whitespace
/// coming from an unquoted substitution), as for EXPOSE or VOLUME.
pub fn expand_words(text: &str, lookup: &dyn Fn(&str) -> Option<String>, escape: char) -> Result<Vec<String>, SubstError> {
    let mut words = Vec::new();
    let mut current: Option<String> = None;
    for (c, piece) in pieces(text, lookup, escape)? {
        if piece == Piece::Unquoted && c.is_whitespace() {
            words.extend(current.take());
        } else {
            let w = current.get_or_insert_with(String::new);
            if c != '\0' {
                w.push(c);
            }
        }
    }
    words.extend(current);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "variable" | "foo" => Some("value".into()),
            "empty" => Some(String::new()),
            "spaced" => Some("a b".into()),
            _ => None,
        }
    }

    fn x(word: &str) -> String {
        expand(word, &env, '\\').unwrap()
    }

    #[test]
    fn heredoc_bodies_keep_quotes() {
        let got = expand_heredoc("say \"$foo\" '${empty:-dflt}' \\$foo \\n\n", &env).unwrap();
        assert_eq!(got, "say \"value\" 'dflt' $foo \\n\n");
    }

    #[test]
    fn plain_and_braced() {
        assert_eq!(x("$foo"), "value");
        assert_eq!(x("${foo}_bar"), "value_bar");
        assert_eq!(x("$foo_bar"), "");
        assert_eq!(x("$unset/x"), "/x");
        assert_eq!(x("a$"), "a$");
        assert_eq!(x("$ x"), "$ x");
    }

    #[test]
    fn default_and_alternative_per_reference() {
        // ${variable:-word}: word when unset or empty, else the value.
        assert_eq!(x("${variable:-word}"), "value");
        assert_eq!(x("${unset:-word}"), "word");
        assert_eq!(x("${empty:-word}"), "word");
        // ${variable-word}: word only when unset.
        assert_eq!(x("${empty-word}"), "");
        assert_eq!(x("${unset-word}"), "word");
        // ${variable:+word}: word when set and not empty, else empty.
        assert_eq!(x("${variable:+word}"), "word");
        assert_eq!(x("${empty:+word}"), "");
        assert_eq!(x("${unset:+word}"), "");
        // ${variable+word}: word when set, even empty.
        assert_eq!(x("${empty+word}"), "word");
        assert_eq!(x("${unset+word}"), "");
    }

    #[test]
    fn nested_words() {
        assert_eq!(x("${unset:-$foo}"), "value");
        assert_eq!(x("${unset:-${empty:-deep}}"), "deep");
        assert_eq!(x("${unset:-'a b'}"), "a b");
        assert_eq!(x("${foo:+pre-${foo}}"), "pre-value");
    }

    #[test]
    fn escapes_and_quotes() {
        assert_eq!(x("\\$foo"), "$foo");
        assert_eq!(x("\\${foo}"), "${foo}");
        assert_eq!(x("'$foo'"), "$foo");
        assert_eq!(x("\"$foo bar\""), "value bar");
        assert_eq!(x("\"a\\\"b\""), "a\"b");
        assert_eq!(x("\"a\\nb\""), "a\\nb");
        assert_eq!(expand("`$foo", &env, '`').unwrap(), "$foo");
        assert_eq!(expand("c:\\dir", &env, '`').unwrap(), "c:\\dir");
    }

    #[test]
    fn errors() {
        assert_eq!(expand("'abc", &env, '\\'), Err(SubstError::UnterminatedQuote { quote: '\'', word: "'abc".into() }));
        assert!(matches!(expand("${foo", &env, '\\'), Err(SubstError::UnterminatedBrace { .. })));
        assert!(matches!(expand("${foo^x}", &env, '\\'), Err(SubstError::BadSubstitution { .. })));
        assert_eq!(expand("${unset:?need it}", &env, '\\'), Err(SubstError::Required { name: "unset".into(), message: "need it".into() }));
        assert_eq!(x("${foo:?x}"), "value");
    }

    #[test]
    fn pattern_operators() {
        let path = |name: &str| match name {
            "p" => Some("/usr/local/bin/tool.tar.gz".to_string()),
            "s" => Some("aXbXc".to_string()),
            _ => None,
        };
        let x = |w: &str| expand(w, &path, '\\').unwrap();
        assert_eq!(x("${p#*/}"), "usr/local/bin/tool.tar.gz");
        assert_eq!(x("${p##*/}"), "tool.tar.gz");
        assert_eq!(x("${p%.*}"), "/usr/local/bin/tool.tar");
        assert_eq!(x("${p%%.*}"), "/usr/local/bin/tool");
        assert_eq!(x("${p#nomatch}"), "/usr/local/bin/tool.tar.gz");
        assert_eq!(x("${s/X/-}"), "a-bXc");
        assert_eq!(x("${s//X/-}"), "a-b-c");
        assert_eq!(x("${s//X}"), "abc");
        assert_eq!(x("${s/[ab]/?}"), "?XbXc");
        assert_eq!(x("${unset#x}"), "");
    }

    #[test]
    fn positional_and_special_parameters_are_names() {
        let env = |name: &str| (name == "1").then(|| "one".to_string());
        let x = |w: &str| expand(w, &env, '\\').unwrap();
        assert_eq!(x("$1x"), "onex", "$1 then x");
        assert_eq!(x("a$@b$*c$#d$?e$-f$$g$!h"), "abcdefgh");
        assert_eq!(x("cost: $ 5"), "cost: $ 5", "a lone $ stays");
    }

    #[test]
    fn reference_example() {
        // ENV foo /bar; WORKDIR ${foo} -> /bar; ADD . $foo -> /bar;
        // COPY \$foo /quux -> $foo.
        let env = |n: &str| (n == "foo").then(|| "/bar".to_string());
        assert_eq!(expand("${foo}", &env, '\\').unwrap(), "/bar");
        assert_eq!(expand_words(". $foo", &env, '\\').unwrap(), [".", "/bar"]);
        assert_eq!(expand_words("\\$foo /quux", &env, '\\').unwrap(), ["$foo", "/quux"]);
    }

    #[test]
    fn word_splitting() {
        let w = |t: &str| expand_words(t, &env, '\\').unwrap();
        assert_eq!(w("80/tcp  443"), ["80/tcp", "443"]);
        assert_eq!(w("$spaced \"$spaced\""), ["a", "b", "a b"]);
        assert_eq!(w("'' x"), ["", "x"]);
        assert_eq!(w("a\\ b"), ["a b"]);
    }
}
