//! A fake Twitch chat server over WebSocket (`twitch.md` D and checklist F): accepts frames with
//! one or several lines (with or without `\r\n`), acknowledges the capabilities, logs in with
//! `PASS oauth:<token>` + `NICK` (or anonymous `justinfanNNNNN`), answers with the welcome burst
//! in one frame, JOIN with its replies, PRIVMSG with USERSTATE carrying the message id (or a
//! NOTICE when told to refuse), PING with PONG; refuses bad tokens with the NOTICE Twitch sends,
//! then closes. Tests drive it: broadcast lines, PING, RECONNECT, drop sockets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Decides whether `PASS oauth:<token>` is valid for `NICK <login>`.
pub type TokenCheck = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

enum Control {
    Line(String),
    Close,
}

#[derive(Default)]
struct State {
    /// Per connection id: its control channel, login, joined channel.
    conns: HashMap<u64, (mpsc::UnboundedSender<Control>, String, Option<String>)>,
    next_id: u64,
    /// Every line a client sent, with its connection id and arrival time.
    received: Vec<(u64, String, Instant)>,
    /// Mark clients joined to a channel as moderators.
    moderators: Vec<String>,
    /// Refuse the next PRIVMSG with this `msg-id` and text.
    refuse_next: Option<(String, String)>,
    /// Do not answer PINGs (to simulate a dead link).
    ignore_pings: bool,
    connections_total: u64,
}

/// A running fake chat server.
#[derive(Clone)]
pub struct FakeIrc {
    /// `ws://127.0.0.1:PORT`, the value for `twitch.irc_url`.
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FakeIrc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FakeIrc({})", self.url)
    }
}

impl FakeIrc {
    /// Starts the server; `check` validates tokens.
    pub async fn start(check: TokenCheck) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let st = st.clone();
                let check = check.clone();
                tokio::spawn(async move {
                    if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                        serve(ws, st, check).await;
                    }
                });
            }
        });
        Self { url, state }
    }

    /// Starts a server that accepts the tokens a fake id.twitch.tv issued, for their own login.
    pub async fn trusting(auth: &crate::twitch_auth::FakeAuth) -> Self {
        let auth = auth.clone();
        Self::start(Arc::new(move |token: &str, nick: &str| {
            auth.login_of(token).as_deref() == Some(nick)
        }))
        .await
    }

    /// Sends a raw line to every client joined to `channel`.
    pub fn broadcast(&self, channel: &str, line: &str) {
        let st = self.state.lock().unwrap();
        for (tx, _, joined) in st.conns.values() {
            if joined.as_deref() == Some(channel) {
                let _ = tx.send(Control::Line(line.to_owned()));
            }
        }
    }

    /// Sends a raw line to every client.
    pub fn send_all(&self, line: &str) {
        for (tx, _, _) in self.state.lock().unwrap().conns.values() {
            let _ = tx.send(Control::Line(line.to_owned()));
        }
    }

    /// Closes every connection without a word (a dropped link).
    pub fn drop_all(&self) {
        for (tx, _, _) in self.state.lock().unwrap().conns.values() {
            let _ = tx.send(Control::Close);
        }
    }

    /// Clients currently joined to `channel`.
    pub fn joined(&self, channel: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .conns
            .values()
            .filter(|c| c.2.as_deref() == Some(channel))
            .count()
    }

    /// Connections accepted since start.
    pub fn connections_total(&self) -> u64 {
        self.state.lock().unwrap().connections_total
    }

    /// Every line clients sent, in order, with arrival times.
    pub fn received(&self) -> Vec<(String, Instant)> {
        self.state
            .lock()
            .unwrap()
            .received
            .iter()
            .map(|(_, l, t)| (l.clone(), *t))
            .collect()
    }

    /// Changes behaviour.
    pub fn set(&self, f: impl FnOnce(&mut FakeIrcSettings)) {
        let mut st = self.state.lock().unwrap();
        let mut s = FakeIrcSettings {
            moderators: std::mem::take(&mut st.moderators),
            refuse_next: st.refuse_next.take(),
            ignore_pings: st.ignore_pings,
        };
        f(&mut s);
        st.moderators = s.moderators;
        st.refuse_next = s.refuse_next;
        st.ignore_pings = s.ignore_pings;
    }
}

/// Behaviour switches for [`FakeIrc::set`].
#[derive(Debug, Default)]
pub struct FakeIrcSettings {
    /// Logins that are moderators (USERSTATE `mod=1`).
    pub moderators: Vec<String>,
    /// Refuse the next PRIVMSG with this `msg-id` and text.
    pub refuse_next: Option<(String, String)>,
    /// Stop answering PINGs.
    pub ignore_pings: bool,
}

const WELCOME: [&str; 7] = [
    "001 {n} :Welcome, GLHF!",
    "002 {n} :Your host is tmi.twitch.tv",
    "003 {n} :This server is rather new",
    "004 {n} :-",
    "375 {n} :-",
    "372 {n} :You are in a maze of twisty passages, all alike.",
    "376 {n} :>",
];

async fn serve(
    ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    st: Arc<Mutex<State>>,
    check: TokenCheck,
) {
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Control>();
    let id = {
        let mut s = st.lock().unwrap();
        s.next_id += 1;
        s.connections_total += 1;
        let id = s.next_id;
        s.conns.insert(id, (tx.clone(), String::new(), None));
        id
    };
    let mut pass: Option<String> = None;
    let mut nick = String::new();
    loop {
        tokio::select! {
            ctl = rx.recv() => match ctl {
                Some(Control::Line(l)) => { if sink.send(Message::text(l)).await.is_err() { break; } }
                Some(Control::Close) | None => break,
            },
            msg = stream.next() => {
                let Some(Ok(Message::Text(text))) = msg else {
                    if matches!(msg, Some(Ok(Message::Ping(_) | Message::Pong(_)))) { continue; }
                    break;
                };
                let mut replies: Vec<String> = Vec::new();
                let mut close = false;
                for line in text.split("\r\n").filter(|l| !l.is_empty()) {
                    st.lock().unwrap().received.push((id, line.to_owned(), Instant::now()));
                    let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
                    let (tags, cmd, rest) = if let Some(t) = cmd.strip_prefix('@') {
                        let (c, r) = rest.split_once(' ').unwrap_or((rest, ""));
                        (t.to_owned(), c.to_owned(), r.to_owned())
                    } else {
                        (String::new(), cmd.to_owned(), rest.to_owned())
                    };
                    match cmd.as_str() {
                        "CAP" => replies.push(format!(":tmi.twitch.tv CAP * ACK :{}", rest.trim_start_matches("REQ :"))),
                        "PASS" => pass = Some(rest.trim_start_matches("oauth:").to_owned()),
                        "NICK" => {
                            nick = rest.to_owned();
                            let anonymous = pass.is_none() && nick.starts_with("justinfan");
                            if !anonymous && !pass.as_deref().is_some_and(|p| check(p, &nick)) {
                                replies.push(":tmi.twitch.tv NOTICE * :Login authentication failed".into());
                                close = true;
                                break;
                            }
                            st.lock().unwrap().conns.get_mut(&id).unwrap().1 = nick.clone();
                            let burst: Vec<String> = WELCOME.iter().map(|w| format!(":tmi.twitch.tv {}", w.replace("{n}", &nick))).collect();
                            replies.push(burst.join("\r\n"));
                            if !anonymous {
                                replies.push(format!("@badge-info=;badges=;color=#8A2BE2;display-name={nick};emote-sets=0;user-id=1;user-type= :tmi.twitch.tv GLOBALUSERSTATE"));
                            }
                        }
                        "JOIN" => {
                            let ch = rest.trim_start_matches('#').to_owned();
                            let is_mod = st.lock().unwrap().moderators.contains(&nick);
                            st.lock().unwrap().conns.get_mut(&id).unwrap().2 = Some(ch.clone());
                            let mut lines = vec![
                                format!(":{nick}!{nick}@{nick}.tmi.twitch.tv JOIN #{ch}"),
                                format!(":{nick}.tmi.twitch.tv 353 {nick} = #{ch} :{nick}"),
                                format!(":{nick}.tmi.twitch.tv 366 {nick} #{ch} :End of /NAMES list"),
                            ];
                            if !nick.starts_with("justinfan") {
                                let badges = if is_mod { "moderator/1" } else { "" };
                                lines.push(format!("@badge-info=;badges={badges};color=;display-name={nick};emote-sets=0;mod={};subscriber=0;user-type= :tmi.twitch.tv USERSTATE #{ch}", u8::from(is_mod)));
                            }
                            lines.push(format!("@emote-only=0;followers-only=-1;r9k=0;room-id=90010001;slow=0;subs-only=0 :tmi.twitch.tv ROOMSTATE #{ch}"));
                            replies.push(lines.join("\r\n"));
                        }
                        "PRIVMSG" => {
                            let (ch, text) = rest.split_once(" :").unwrap_or((&rest, ""));
                            let ch = ch.trim_start_matches('#').to_owned();
                            let refuse = st.lock().unwrap().refuse_next.take();
                            match refuse {
                                Some((msg_id, why)) => replies.push(format!("@msg-id={msg_id} :tmi.twitch.tv NOTICE #{ch} :{why}")),
                                None => {
                                    let msg_id = format!("{:032x}", rand::random::<u128>());
                                    let is_mod = st.lock().unwrap().moderators.contains(&nick);
                                    let badges = if is_mod { "moderator/1" } else { "" };
                                    replies.push(format!("@badge-info=;badges={badges};color=;display-name={nick};emote-sets=0;id={msg_id};mod={};subscriber=0;user-type= :tmi.twitch.tv USERSTATE #{ch}", u8::from(is_mod)));
                                    let reply = tags.split(';').find_map(|t| t.strip_prefix("reply-parent-msg-id=")).map(|r| format!(";reply-parent-msg-id={r};reply-parent-user-login=someone;reply-parent-msg-body=parent")).unwrap_or_default();
                                    let echo = format!("@badges=;color=;display-name={nick};emotes=;id={msg_id};room-id=90010001;tmi-sent-ts={}{reply};user-id=1 :{nick}!{nick}@{nick}.tmi.twitch.tv PRIVMSG #{ch} :{text}", jiff::Timestamp::now().as_millisecond());
                                    let s = st.lock().unwrap();
                                    for (cid, (ctx, _, joined)) in &s.conns {
                                        if *cid != id && joined.as_deref() == Some(ch.as_str()) {
                                            let _ = ctx.send(Control::Line(echo.clone()));
                                        }
                                    }
                                }
                            }
                        }
                        "PING" if !st.lock().unwrap().ignore_pings => {
                            replies.push(format!(":tmi.twitch.tv PONG tmi.twitch.tv :{}", rest.trim_start_matches(':')));
                        }
                        _ => {}
                    }
                }
                for r in replies {
                    if sink.send(Message::text(r)).await.is_err() { break; }
                }
                if close {
                    let _ = sink.send(Message::Close(None)).await;
                    break;
                }
            }
        }
    }
    st.lock().unwrap().conns.remove(&id);
}
