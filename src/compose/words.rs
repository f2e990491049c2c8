//! Splitting a `command:` or `entrypoint:` string into words as docker
//! compose does (a shell's quoting without expansion): white space
//! separates words, single quotes keep everything, double quotes keep all
//! but `\"`, `\\` and `\$`, a backslash outside quotes escapes the next
//! character.

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{path}: unclosed {quote} quote in {text:?}")]
pub struct WordsError {
    pub path: String,
    pub text: String,
    pub quote: char,
}

/// Split `text`; `path` names it in errors.
pub fn split(text: &str, path: &str) -> Result<Vec<String>, WordsError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' | '"' => {
                in_word = true;
                let mut closed = false;
                while let Some(d) = chars.next() {
                    if d == c {
                        closed = true;
                        break;
                    }
                    if c == '"' && d == '\\' && matches!(chars.peek(), Some('"' | '\\' | '$')) {
                        word.push(chars.next().unwrap_or('\\'));
                    } else {
                        word.push(d);
                    }
                }
                if !closed {
                    return Err(WordsError { path: path.to_string(), text: text.to_string(), quote: c });
                }
            }
            '\\' => {
                in_word = true;
                if let Some(d) = chars.next() {
                    word.push(d);
                }
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}
