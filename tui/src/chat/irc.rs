//! A pure IRCv3 line parser for Twitch chat (`twitch.md` D.4): tags, prefix, command, params.
//! Borrowing: tag values stay escaped until asked for (most are never read), so parsing a line
//! allocates two small vectors. `Display` writes the wire form back.

use std::borrow::Cow;
use std::fmt;

/// Why a line is not an IRC message. Malformed lines are logged and skipped, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing but whitespace.
    #[error("empty line")]
    Empty,
    /// Tags or a prefix, then nothing.
    #[error("no command after tags or prefix")]
    NoCommand,
}

/// One parsed line, borrowing from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrcMessage<'a> {
    /// `key=value` pairs; values still escaped.
    pub tags: Vec<(&'a str, &'a str)>,
    /// `nick!user@host` or `tmi.twitch.tv`, without the colon.
    pub prefix: Option<&'a str>,
    /// `PRIVMSG`, `001`, ...
    pub command: &'a str,
    /// Middle params, then the trailing one (without its colon).
    pub params: Vec<&'a str>,
    /// Whether the last param was written as `:trailing`.
    pub trailing: bool,
}

/// Parses one line (a trailing `\r\n` is ignored).
pub fn parse(line: &str) -> Result<IrcMessage<'_>, ParseError> {
    let mut rest = line.trim_end_matches(['\r', '\n']).trim_start_matches(' ');
    if rest.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut tags = Vec::new();
    if let Some(after) = rest.strip_prefix('@') {
        let (raw, tail) = after.split_once(' ').unwrap_or((after, ""));
        tags.reserve(raw.len() / 16);
        for pair in raw.split(';').filter(|p| !p.is_empty()) {
            tags.push(pair.split_once('=').unwrap_or((pair, "")));
        }
        rest = tail.trim_start_matches(' ');
    }
    let mut prefix = None;
    if let Some(after) = rest.strip_prefix(':') {
        let (p, tail) = after.split_once(' ').unwrap_or((after, ""));
        prefix = Some(p);
        rest = tail.trim_start_matches(' ');
    }
    let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if command.is_empty() {
        return Err(ParseError::NoCommand);
    }
    let mut params = Vec::with_capacity(2);
    let mut trailing = false;
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            break;
        }
        if let Some(t) = rest.strip_prefix(':') {
            params.push(t);
            trailing = true;
            break;
        }
        let (p, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        params.push(p);
        rest = tail;
    }
    Ok(IrcMessage {
        tags,
        prefix,
        command,
        params,
        trailing,
    })
}

impl<'a> IrcMessage<'a> {
    /// A tag's raw (escaped) value; `Some("")` for `key=` or a bare `key`.
    pub fn tag_raw(&self, key: &str) -> Option<&'a str> {
        self.tags.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// A tag's value, unescaped.
    pub fn tag(&self, key: &str) -> Option<Cow<'a, str>> {
        self.tag_raw(key).map(unescape)
    }

    /// A tag's value if present and not empty.
    pub fn tag_nonempty(&self, key: &str) -> Option<Cow<'a, str>> {
        self.tag_raw(key).filter(|v| !v.is_empty()).map(unescape)
    }

    /// The nick of `nick!user@host` (the sender's login).
    pub fn nick(&self) -> Option<&'a str> {
        self.prefix
            .map(|p| p.split_once('!').map_or(p, |(n, _)| n))
            .filter(|n| !n.contains('.'))
    }

    /// Param `i`.
    pub fn param(&self, i: usize) -> Option<&'a str> {
        self.params.get(i).copied()
    }

    /// The channel of the first param, without `#`, if it is one.
    pub fn channel(&self) -> Option<&'a str> {
        self.param(0).and_then(|p| p.strip_prefix('#'))
    }
}

/// IRCv3 tag-value unescaping in one left-to-right pass (`twitch.md` D.4): `\:` `;`, `\s` space,
/// `\\` `\`, `\r` CR, `\n` LF, `\x` x, and a trailing lone `\` dropped.
pub fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    Cow::Owned(out)
}

/// The inverse of [`unescape`], for writing tags.
pub fn escape(value: &str) -> Cow<'_, str> {
    if !value.contains([';', ' ', '\\', '\r', '\n']) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

impl fmt::Display for IrcMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.tags.is_empty() {
            f.write_str("@")?;
            for (i, (k, v)) in self.tags.iter().enumerate() {
                if i > 0 {
                    f.write_str(";")?;
                }
                write!(f, "{k}={v}")?;
            }
            f.write_str(" ")?;
        }
        if let Some(p) = self.prefix {
            write!(f, ":{p} ")?;
        }
        f.write_str(self.command)?;
        let last = self.params.len().saturating_sub(1);
        for (i, p) in self.params.iter().enumerate() {
            let needs_colon = i == last
                && (self.trailing || p.is_empty() || p.contains(' ') || p.starts_with(':'));
            if needs_colon {
                write!(f, " :{p}")?;
            } else {
                write!(f, " {p}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_line() {
        let m = parse("@badge-info=;badges=moderator/1;color=#FF0000;display-name=Mod :mod!mod@mod.tmi.twitch.tv PRIVMSG #chan :hello there\r\n").unwrap();
        assert_eq!(m.command, "PRIVMSG");
        assert_eq!(m.nick(), Some("mod"));
        assert_eq!(m.channel(), Some("chan"));
        assert_eq!(m.param(1), Some("hello there"));
        assert_eq!(m.tag("badge-info").as_deref(), Some(""));
        assert_eq!(m.tag_nonempty("badge-info"), None);
        assert_eq!(m.tag("color").as_deref(), Some("#FF0000"));
    }

    #[test]
    fn ping_and_numerics() {
        let m = parse("PING :tmi.twitch.tv").unwrap();
        assert_eq!(
            (m.command, m.params.as_slice()),
            ("PING", &["tmi.twitch.tv"][..])
        );
        let m = parse(":tmi.twitch.tv 001 justinfan123 :Welcome, GLHF!").unwrap();
        assert_eq!(m.command, "001");
        assert_eq!(m.nick(), None, "a server prefix is not a user");
        let m = parse(":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands").unwrap();
        assert_eq!(m.params, ["*", "ACK", "twitch.tv/tags twitch.tv/commands"]);
    }

    #[test]
    fn unescape_is_one_pass() {
        assert_eq!(unescape(r"a\sb\:c\\d\re\nf"), "a b;c\\d\re\nf");
        // Chained replace() would turn `\\s` into `\ `; one pass keeps it `\s`.
        assert_eq!(unescape(r"\\s"), "\\s");
        assert_eq!(unescape(r"x\qy"), "xqy");
        assert_eq!(unescape("trailing\\"), "trailing");
        assert!(matches!(unescape("plain"), Cow::Borrowed(_)));
        for s in ["a b;c\\d\re\nf", "\\s", "plain", ""] {
            assert_eq!(unescape(&escape(s)), s);
        }
    }

    #[test]
    fn bare_and_empty_tags() {
        let m = parse("@vip;emote-only= :a!a@a.tmi.twitch.tv PRIVMSG #c :x").unwrap();
        assert_eq!(m.tag("vip").as_deref(), Some(""));
        assert_eq!(m.tag("emote-only").as_deref(), Some(""));
        assert_eq!(m.tag("missing"), None);
    }

    #[test]
    fn malformed_lines_are_errors_not_panics() {
        assert_eq!(parse(""), Err(ParseError::Empty));
        assert_eq!(parse("\r\n"), Err(ParseError::Empty));
        assert_eq!(parse("@a=b"), Err(ParseError::NoCommand));
        assert_eq!(parse(":prefix-only"), Err(ParseError::NoCommand));
        assert_eq!(parse("@a=b :p "), Err(ParseError::NoCommand));
    }

    #[test]
    fn display_round_trips() {
        for line in [
            "@a=b;c= :n!n@n.tmi.twitch.tv PRIVMSG #c :hi there",
            "PING :tmi.twitch.tv",
            ":tmi.twitch.tv RECONNECT",
            "@login=x :tmi.twitch.tv USERNOTICE #c",
            "JOIN #c",
            ":tmi.twitch.tv CLEARCHAT #c :",
        ] {
            let m = parse(line).unwrap();
            assert_eq!(m.to_string(), line);
            assert_eq!(parse(&m.to_string()).unwrap(), m);
        }
    }
}
