//! Text shown to people: messages stay readable whatever they quote.
//!
//! A message may quote what the user typed or what a file held: a path of
//! 20 KB, a tar header's raw bytes. `shorten` keeps such a quotation to a
//! readable length by cutting every overlong run of non-whitespace in the
//! middle with an ellipsis (the start and the end of a path say most), and
//! shows control characters escaped, so a message is at most a few
//! hundred characters per quoted word and never moves the terminal's
//! cursor. The error types keep their whole values; only what is printed
//! is shortened. Nothing here touches the system.

use std::borrow::Cow;

/// The longest run of non-whitespace kept whole, in characters.
pub const MAX_WORD: usize = 160;
/// How much of an overlong run is kept before and after the ellipsis.
const HEAD: usize = 96;
const TAIL: usize = 48;

/// `text` as it should be printed: every whitespace-free run longer than
/// `MAX_WORD` characters cut to its start and end around "…", and control
/// characters other than newline and tab escaped.
pub fn shorten(text: &str) -> Cow<'_, str> {
    let needs = text.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
        || text.split(char::is_whitespace).any(|w| w.chars().count() > MAX_WORD);
    if !needs {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(4096));
    let mut word = String::new();
    for c in text.chars() {
        if c.is_whitespace() {
            push_word(&mut out, &word);
            word.clear();
            out.push(c);
        } else if c.is_control() {
            word.extend(c.escape_default());
        } else {
            word.push(c);
        }
    }
    push_word(&mut out, &word);
    Cow::Owned(out)
}

fn push_word(out: &mut String, word: &str) {
    let n = word.chars().count();
    if n <= MAX_WORD {
        out.push_str(word);
        return;
    }
    out.extend(word.chars().take(HEAD));
    out.push('…');
    out.extend(word.chars().skip(n - TAIL));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched() {
        let t = "cannot open /tmp/x.tar: No such file or directory (os error 2)";
        assert!(matches!(shorten(t), Cow::Borrowed(s) if s == t));
    }

    #[test]
    fn a_long_path_keeps_its_start_and_end() {
        let path = format!("/home/u/{}layer.tar", "d/".repeat(10_000));
        let msg = format!("cannot open {path}: No such file or directory");
        let s = shorten(&msg);
        assert!(s.len() < 400, "{}", s.len());
        assert!(s.starts_with("cannot open /home/u/d/d/"), "{s}");
        assert!(s.ends_with("d/d/layer.tar: No such file or directory"), "{s}");
        assert_eq!(s.matches('…').count(), 1);
    }

    #[test]
    fn every_long_word_is_cut_and_multibyte_text_is_cut_on_characters() {
        let w = "é".repeat(1000);
        let text = format!("{w} and {w}");
        let s = shorten(&text);
        assert_eq!(s.matches('…').count(), 2);
        assert_eq!(s.chars().count(), 2 * (HEAD + 1 + TAIL) + 5);
        let exact = "x".repeat(MAX_WORD);
        assert_eq!(shorten(&exact), exact);
    }

    #[test]
    fn control_characters_are_escaped_but_lines_are_kept() {
        assert_eq!(shorten("a\x1b[2Jb\nc\td\u{7f}"), "a\\u{1b}[2Jb\nc\td\\u{7f}");
    }
}
