//! Wrapping styled text into rows of a given display width, breaking at spaces where it can.

use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// Wraps `spans` into lines no wider than `width` columns.
pub fn wrap(spans: Vec<Span<'static>>, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width.max(1));
    let mut rows: Vec<Vec<Span<'static>>> = vec![Vec::new()];
    let mut used = 0;
    for span in spans {
        let style = span.style;
        let mut piece = String::new();
        for mut word in split_keep_spaces(&span.content) {
            let w: usize = word.chars().map(|c| c.width().unwrap_or(0)).sum();
            if used + w > width && used > 0 {
                // The word does not fit: it starts the next row, without its spaces.
                flush(&mut rows, &mut piece, style);
                rows.push(Vec::new());
                used = 0;
                word = word.trim_start_matches(' ');
            }
            for c in word.chars() {
                let cw = c.width().unwrap_or(0);
                if used + cw > width {
                    flush(&mut rows, &mut piece, style);
                    rows.push(Vec::new());
                    used = 0;
                    if c == ' ' {
                        continue;
                    }
                }
                piece.push(c);
                used += cw;
            }
        }
        flush(&mut rows, &mut piece, style);
    }
    rows.into_iter().map(Line::from).collect()
}

fn flush(rows: &mut [Vec<Span<'static>>], piece: &mut String, style: ratatui::style::Style) {
    if !piece.is_empty()
        && let Some(row) = rows.last_mut()
    {
        row.push(Span::styled(std::mem::take(piece), style));
    }
}

/// Splits into words, each keeping its leading spaces.
fn split_keep_spaces(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (i, c) in s.char_indices() {
        if c == ' ' && in_word {
            out.push(&s[start..i]);
            start = i;
            in_word = false;
        } else if c != ' ' {
            in_word = true;
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn breaks_at_spaces_and_splits_long_words() {
        let l = wrap(vec![Span::raw("hello wide world")], 11);
        assert_eq!(texts(&l), ["hello wide", "world"]);
        let l = wrap(vec![Span::raw("abcdefghij")], 4);
        assert_eq!(texts(&l), ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn wide_characters_count_double() {
        let l = wrap(vec![Span::raw("日本語です")], 4);
        assert_eq!(texts(&l), ["日本", "語で", "す"]);
    }
}
