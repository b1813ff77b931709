//! The runtime: owns the terminal and the tasks (input, clock, chat, relay or direct events,
//! login checks, demo), feeds their messages to [`App::update`], carries out the effects, and
//! draws after draining whatever is queued, never once per chat message, at the pace [`Pace`]
//! sets.

use std::io::{BufWriter, Stdout};
use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::actor::Actor;
use super::pace::Pace;
use super::{App, Effect, LoginView, Msg};
use crate::auth::{Auth, LoginState, StoredToken, owner};
use crate::chat::connection::{self, ChatConfig, ChatError, ChatHandle};
use crate::direct::{self, DirectConfig};
use crate::helix::{Actions, Helix};
use crate::relay::{self, RelayConfig};

/// Messages applied before a draw, at most, so input stays responsive under a flood.
const MAX_BATCH: usize = 4096;
/// Room for a whole frame's escape sequences (a full 160x48 redraw is about 6-20 KiB), so a draw
/// is one write to the terminal when ratatui flushes at its end.
const FRAME_BUF_BYTES: usize = 64 * 1024;

/// Where the app's messages come from.
#[derive(Debug, Default)]
pub struct Sources {
    /// Chat, with the login the token owner starts from.
    pub chat: Option<(ChatConfig, Option<(Auth, StoredToken)>)>,
    /// The relay.
    pub relay: Option<RelayConfig>,
    /// Events straight from Twitch's EventSub WebSocket (needs the login in `chat`).
    pub direct: Option<DirectConfig>,
    /// Helix for the streamer's actions (needs the login in `chat`).
    pub helix: Option<Helix>,
    /// Simulated chat and events instead of the network.
    pub demo: bool,
}

/// Runs the app until the user quits. The terminal is restored on every exit, panics included
/// (`ratatui::init` installs the hook).
pub async fn run(mut app: App, sources: Sources) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<Msg>(8192);
    let shutdown = CancellationToken::new();
    let (chat, actor) = start_sources(sources, &tx, &shutdown);
    let mut terminal = match terminal() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            return Err(e);
        }
    };
    let result = drive(&mut terminal, &mut app, &mut rx, |e| {
        match e {
            Effect::Quit => return false,
            Effect::Send(text) => send(&chat, text, &tx),
            Effect::Act(req) => actor.act(req, tx.clone()),
            Effect::Card(login) => actor.card(login, tx.clone()),
        }
        true
    })
    .await;
    ratatui::restore();
    shutdown.cancel();
    result
}

/// Raw mode, the alternate screen and the panic hook that restores the terminal, from
/// `ratatui::init`; drawn through a buffer rather than its bare `Stdout`, which is line-buffered
/// at 1 KiB and locked once per escape sequence (under a chat flood that was a fifth of the app's
/// CPU, in several writes per frame).
fn terminal() -> std::io::Result<Terminal<CrosstermBackend<BufWriter<Stdout>>>> {
    drop(ratatui::init());
    Terminal::new(CrosstermBackend::new(BufWriter::with_capacity(
        FRAME_BUF_BYTES,
        std::io::stdout(),
    )))
}

/// The loop: apply what comes in, draining the queue before each draw, and draw when [`Pace`]
/// allows. `effect` carries out effects; it returns `false` to stop. Generic over the
/// backend so benchmarks and tests run the same loop headless.
pub async fn drive<B: ratatui::backend::Backend>(
    terminal: &mut ratatui::Terminal<B>,
    app: &mut App,
    rx: &mut mpsc::Receiver<Msg>,
    mut effect: impl FnMut(Effect) -> bool,
) -> std::io::Result<()>
where
    B::Error: std::fmt::Display,
{
    let mut pace = Pace::new();
    // The first frame is due at once.
    let mut last_draw = Instant::now() - pace.gap();
    let mut dirty = true;
    loop {
        if dirty && last_draw.elapsed() >= pace.gap() {
            let frame = terminal
                .draw(|f| super::view::draw(f, app))
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            pace.drawn(frame.area.height);
            last_draw = Instant::now();
            dirty = false;
        }
        let first = tokio::select! {
            m = rx.recv() => m,
            () = tokio::time::sleep_until(last_draw + pace.gap()), if dirty => continue,
        };
        let Some(first) = first else { return Ok(()) };
        pace.saw(is_from_user(&first));
        let mut effects = app.update(first);
        // Drain what else is queued, then draw once.
        for _ in 0..MAX_BATCH {
            match rx.try_recv() {
                Ok(m) => {
                    pace.saw(is_from_user(&m));
                    effects.extend(app.update(m));
                }
                Err(_) => break,
            }
        }
        dirty = true;
        for e in effects {
            if !effect(e) {
                return Ok(());
            }
        }
    }
}

/// What the user did at the terminal, as opposed to what arrived from the network or the clock.
fn is_from_user(m: &Msg) -> bool {
    matches!(m, Msg::Key(_) | Msg::Paste(_) | Msg::Resize)
}

fn send(chat: &Option<ChatHandle>, text: String, tx: &mpsc::Sender<Msg>) {
    let tx = tx.clone();
    match chat.clone() {
        Some(handle) => {
            tokio::spawn(async move {
                let r = handle.send(text.clone(), None).await;
                let _ = tx.send(Msg::Sent(text, r)).await;
            });
        }
        None => {
            // Demo: show our own message as Twitch would echo it.
            tokio::spawn(async move {
                let _ = tx.send(super::demo::own_message(&text)).await;
            });
        }
    }
}

fn start_sources(
    sources: Sources,
    tx: &mpsc::Sender<Msg>,
    shutdown: &CancellationToken,
) -> (Option<ChatHandle>, Actor) {
    tokio::spawn(input(tx.clone(), shutdown.clone()));
    tokio::spawn(clock(tx.clone(), shutdown.clone()));
    let mut actor = Actor::Anonymous;
    if sources.demo {
        tokio::spawn(super::demo::generate(tx.clone(), shutdown.clone()));
        actor = Actor::Demo;
    }
    if let Some(cfg) = sources.relay {
        let (rtx, mut rrx) = mpsc::channel(1024);
        tokio::spawn(relay::run(cfg, rtx, shutdown.clone()));
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = rrx.recv().await {
                if tx.send(Msg::Relay(ev)).await.is_err() {
                    return;
                }
            }
        });
    }
    let Some((mut config, login)) = sources.chat else {
        return (None, actor);
    };
    if let Some((auth, token)) = login {
        // The one owner of the token pair: chat, direct events and actions all ask it.
        let (tokens, _) = owner::spawn(auth, token, shutdown.clone());
        if let Some(helix) = sources.helix {
            actor = Actor::Helix(Actions::new(helix, tokens.clone()), config.channel.clone());
        }
        tokio::spawn(watch_login(tokens.watch(), tx.clone()));
        if let Some(cfg) = sources.direct {
            let (dtx, mut drx) = mpsc::channel(1024);
            tokio::spawn(direct::run(cfg, tokens.clone(), dtx, shutdown.clone()));
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(ev) = drx.recv().await {
                    if tx.send(Msg::Direct(ev)).await.is_err() {
                        return;
                    }
                }
            });
        }
        config.tokens = Some(tokens);
    }
    (
        Some(start_chat(config, tx.clone(), shutdown.clone())),
        actor,
    )
}

/// Runs the chat connection; it asks the token owner for the login on every connect.
fn start_chat(
    config: ChatConfig,
    tx: mpsc::Sender<Msg>,
    shutdown: CancellationToken,
) -> ChatHandle {
    let (ctx, mut crx) = mpsc::channel(4096);
    let (handle, task) = connection::spawn(config, ctx, shutdown);
    tokio::spawn(async move {
        while let Some(ev) = crx.recv().await {
            if tx.send(Msg::Chat(ev)).await.is_err() {
                return;
            }
        }
        if let Ok(Err(ChatError::AuthFailed(_))) = task.await {
            let _ = tx.send(Msg::Login(LoginView::Rejected)).await;
        }
    });
    handle
}

/// Shows each change of the owner's login state in the status bar.
async fn watch_login(mut state: tokio::sync::watch::Receiver<LoginState>, tx: mpsc::Sender<Msg>) {
    while state.changed().await.is_ok() {
        let view = match &*state.borrow_and_update() {
            LoginState::Valid(t) | LoginState::Unchecked(t, _) => {
                LoginView::User(t.login.clone(), t.expires_at)
            }
            LoginState::Rejected(_) => LoginView::Rejected,
        };
        if tx.send(Msg::Login(view)).await.is_err() {
            return;
        }
    }
}

/// Terminal input, read asynchronously (never a blocking poll).
async fn input(tx: mpsc::Sender<Msg>, shutdown: CancellationToken) {
    let mut events = EventStream::new();
    loop {
        let ev = tokio::select! {
            () = shutdown.cancelled() => return,
            ev = events.next() => ev,
        };
        let msg = match ev {
            Some(Ok(TermEvent::Key(k))) => Msg::Key(k),
            Some(Ok(TermEvent::Resize(..))) => Msg::Resize,
            Some(Ok(TermEvent::Paste(p))) => Msg::Paste(p),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return,
        };
        if tx.send(msg).await.is_err() {
            return;
        }
    }
}

async fn clock(tx: mpsc::Sender<Msg>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if tx
            .send(Msg::Tick(jiff::Timestamp::now().as_millisecond()))
            .await
            .is_err()
        {
            return;
        }
    }
}
