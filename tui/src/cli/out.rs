//! What the line-printing commands write to stdout: one line at a time, flushed, with a closed
//! stdout (`| head -1`) reported as [`Closed`] so the command can end quietly with exit 0 instead
//! of panicking; and [`clean`], which keeps Twitch-supplied text from driving the terminal.

use std::borrow::Cow;
use std::io::Write;

/// Whoever read stdout has gone (a closed pipe): stop printing and exit 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// Writes `text` and a newline to stdout and flushes, so scripts see each line at once.
pub fn line(text: &str) -> Result<(), Closed> {
    let mut out = std::io::stdout().lock();
    // Any write error means nobody reads stdout any more; EPIPE is the usual one.
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| {
            tracing::debug!(error = %e, "stdout closed");
            Closed
        })
}

/// Text from Twitch (chat lines, names, event summaries) made safe for a terminal: control
/// characters (C0, DEL, C1: ESC, BEL, CSI ...) and bidirectional overrides are dropped, tabs and
/// line breaks become spaces, so a message cannot retitle, recolour or rewrite the user's screen.
/// JSON output does not use this: it keeps the text exact and JSON escapes it.
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .filter_map(|c| match c {
                '\t' | '\n' | '\r' => Some(' '),
                c if unsafe_char(c) => None,
                c => Some(c),
            })
            .collect(),
    )
}

fn unsafe_char(c: char) -> bool {
    // U+202A..U+202E and U+2066..U+2069 reorder what follows: a line could show text it does not hold.
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_are_dropped_and_plain_text_is_borrowed() {
        let cases = [
            ("hello Kappa ünïcode 🎉", "hello Kappa ünïcode 🎉"),
            ("\x1b]0;pwned\x07hi", "]0;pwnedhi"),
            ("\x1b[31mred\x1b[0m", "[31mred[0m"),
            ("a\u{9b}31mb", "a31mb"),
            ("line\r\nbreak\ttab", "line  break tab"),
            ("\u{202e}evil", "evil"),
            ("bell\x07\x7f", "bell"),
        ];
        for (input, want) in cases {
            assert_eq!(clean(input), want, "{input:?}");
        }
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
    }
}
