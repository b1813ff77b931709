//! A pure IRCv3 line parser for Twitch chat (`twitch.md` D.4): tags, prefix, command, params.
//! It only finds where the parts are: tags and middle params stay one borrowed slice each, split
//! and unescaped when read (most tags are never read), so parsing allocates nothing. `Display`
//! writes the wire form back.

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
    /// The tags as sent, without the `@`: `key=value` pairs, values still escaped.
    pub tags: Tags<'a>,
    /// `nick!user@host` or `tmi.twitch.tv`, without the colon.
    pub prefix: Option<&'a str>,
    /// `PRIVMSG`, `001`, ...
    pub command: &'a str,
    /// The middle params as sent (space-separated, never starting with `:`).
    middle: &'a str,
    /// The last param when written as `:trailing` (without its colon).
    trailing: Option<&'a str>,
}

/// The tag section of a line, split into `(key, raw value)` pairs on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tags<'a>(&'a str);

/// Parses one line (a trailing `\r\n` is ignored).
pub fn parse(line: &str) -> Result<IrcMessage<'_>, ParseError> {
    let mut rest = line.trim_end_matches(['\r', '\n']).trim_start_matches(' ');
    if rest.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut tags = "";
    if let Some(after) = rest.strip_prefix('@') {
        (tags, rest) = split_word(after);
    }
    let mut prefix = None;
    if let Some(after) = rest.strip_prefix(':') {
        let (p, tail) = split_word(after);
        prefix = Some(p);
        rest = tail;
    }
    let (command, rest) = split_word(rest);
    if command.is_empty() {
        return Err(ParseError::NoCommand);
    }
    // The trailing param starts at the first word that starts with `:`.
    let (middle, trailing) = if let Some(t) = rest.strip_prefix(':') {
        ("", Some(t))
    } else {
        match rest.find(" :") {
            Some(i) => (&rest[..i], Some(&rest[i + 2..])),
            None => (rest, None),
        }
    };
    Ok(IrcMessage {
        tags: Tags(tags),
        prefix,
        command,
        middle: middle.trim_end_matches(' '),
        trailing,
    })
}

/// The first space-separated word, and the rest without its leading spaces.
fn split_word(s: &str) -> (&str, &str) {
    match memchr::memchr(b' ', s.as_bytes()) {
        Some(i) => (&s[..i], s[i + 1..].trim_start_matches(' ')),
        None => (s, ""),
    }
}

impl<'a> Tags<'a> {
    /// Every `(key, raw value)` pair in order; a bare `key` has the value `""`.
    pub fn iter(&self) -> TagIter<'a> {
        TagIter {
            tags: self.0,
            start: 0,
        }
    }

    /// The raw (escaped) value of `key`.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The tag section as sent.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

/// The pairs of [`Tags`]. Keys are short and values long: a plain loop finds the end of a key,
/// a vectorised search the end of its value (splitting with `str::split` was a third of all the
/// work of typing a PRIVMSG).
#[derive(Debug)]
pub struct TagIter<'a> {
    tags: &'a str,
    start: usize,
}

impl<'a> Iterator for TagIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.tags.as_bytes();
        while self.start < bytes.len() {
            let start = self.start;
            let key_end = bytes[start..]
                .iter()
                .position(|&b| b == b'=' || b == b';')
                .map_or(bytes.len(), |i| start + i);
            if bytes.get(key_end) != Some(&b'=') {
                // A bare `key`, or an empty pair between two `;`.
                self.start = key_end + 1;
                if key_end > start {
                    return Some((&self.tags[start..key_end], ""));
                }
                continue;
            }
            // A value may itself hold `=`: only `;` ends it.
            let end = memchr::memchr(b';', &bytes[key_end + 1..])
                .map_or(bytes.len(), |i| key_end + 1 + i);
            self.start = end + 1;
            return Some((&self.tags[start..key_end], &self.tags[key_end + 1..end]));
        }
        None
    }
}

impl<'a> IrcMessage<'a> {
    /// A tag's raw (escaped) value; `Some("")` for `key=` or a bare `key`.
    pub fn tag_raw(&self, key: &str) -> Option<&'a str> {
        self.tags.get(key)
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

    /// The params in order: the middle ones, then the trailing one.
    pub fn params(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.middle
            .split(' ')
            .filter(|p| !p.is_empty())
            .chain(self.trailing)
    }

    /// Param `i`.
    pub fn param(&self, i: usize) -> Option<&'a str> {
        self.params().nth(i)
    }

    /// The channel of the first param, without `#`, if it is one.
    pub fn channel(&self) -> Option<&'a str> {
        self.param(0).and_then(|p| p.strip_prefix('#'))
    }
}

/// IRCv3 tag-value unescaping in one left-to-right pass (`twitch.md` D.4): `\:` `;`, `\s` space,
/// `\\` `\`, `\r` CR, `\n` LF, `\x` x, and a trailing lone `\` dropped.
pub fn unescape(raw: &str) -> Cow<'_, str> {
    let Some(first) = memchr::memchr(b'\\', raw.as_bytes()) else {
        return Cow::Borrowed(raw);
    };
    let mut out = String::with_capacity(raw.len());
    // Whole runs between escapes are copied at once; only the escapes are looked at.
    out.push_str(&raw[..first]);
    let mut rest = &raw[first..];
    while let Some(after) = rest.strip_prefix('\\') {
        let mut chars = after.chars();
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
        rest = chars.as_str();
        let run = memchr::memchr(b'\\', rest.as_bytes()).unwrap_or(rest.len());
        out.push_str(&rest[..run]);
        rest = &rest[run..];
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
        if !self.tags.0.is_empty() {
            write!(f, "@{} ", self.tags.0)?;
        }
        if let Some(p) = self.prefix {
            write!(f, ":{p} ")?;
        }
        f.write_str(self.command)?;
        if !self.middle.is_empty() {
            write!(f, " {}", self.middle)?;
        }
        if let Some(t) = self.trailing {
            write!(f, " :{t}")?;
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
            (m.command, m.params().collect::<Vec<_>>()),
            ("PING", vec!["tmi.twitch.tv"])
        );
        let m = parse(":tmi.twitch.tv 001 justinfan123 :Welcome, GLHF!").unwrap();
        assert_eq!(m.command, "001");
        assert_eq!(m.nick(), None, "a server prefix is not a user");
        let m = parse(":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands").unwrap();
        assert_eq!(
            m.params().collect::<Vec<_>>(),
            ["*", "ACK", "twitch.tv/tags twitch.tv/commands"]
        );
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
    fn tag_pairs_split_at_the_first_equals_and_skip_empty_pairs() {
        let m = parse("@a=b=c;;bare;d=;e=\\s;last :n!n@n PRIVMSG #c :x").unwrap();
        let pairs: Vec<_> = m.tags.iter().collect();
        assert_eq!(
            pairs,
            [
                ("a", "b=c"),
                ("bare", ""),
                ("d", ""),
                ("e", "\\s"),
                ("last", "")
            ]
        );
        assert_eq!(m.tag("e").as_deref(), Some(" "));
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
