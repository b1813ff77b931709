//! The app's actions against the fake Helix: keys go through `App::update`, the effects through
//! the app's own executor ([`Actor`]) with the token owner's login, and Twitch's answer comes
//! back as the result line (or the card) the user sees.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use onair::app::actor::Actor;
use onair::app::{App, ChatEntry, Effect, LoginView, Msg};
use onair::chat::connection::ChatEvent;
use onair::chat::read_line;
use onair::helix::{Actions, Helix};
use onair_tests::direct_env::DirectEnv as Env;
use onair_tests::helix_actions::Recorded;
use onair_tests::twitch_auth::CLIENT_ID;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn ch(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn privmsg(id: &str, login: &str, text: &str) -> Msg {
    let line = format!(
        "@badges=;color=;display-name={login};emotes=;id={id};tmi-sent-ts=1767268800123;user-id=1 :{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #quillstream :{text}"
    );
    Msg::Chat(ChatEvent::Incoming(read_line(&line).unwrap()))
}

fn last_system(app: &App) -> String {
    app.chat
        .iter()
        .rev()
        .find_map(|e| match e {
            ChatEntry::System { text, .. } => Some(text.clone()),
            ChatEntry::Message { .. } => None,
        })
        .unwrap()
}

struct Session {
    env: Env,
    app: App,
    _shutdown: CancellationToken,
}

impl Session {
    /// The app in `channel`, logged in as quillstream, with byte_badger's message in chat.
    async fn start() -> (Self, mpsc::Receiver<Msg>, mpsc::Sender<Msg>) {
        let env = Env::logged_in(None).await;
        let shutdown = CancellationToken::new();
        let mut app = App::new(
            "quillstream".into(),
            100,
            LoginView::User("quillstream".into(), 0),
            false,
        );
        app.update(privmsg("m1", "byte_badger", "buy followers"));
        let (tx, rx) = mpsc::channel(16);
        let s = Self {
            env,
            app,
            _shutdown: shutdown,
        };
        (s, rx, tx)
    }

    async fn actor(&self, channel: &str) -> Actor {
        let tokens = self.env.tokens(&self._shutdown).await;
        let helix = Helix::new(self.env.es.helix_url.parse().unwrap(), CLIENT_ID.into());
        Actor::Helix(Actions::new(helix, tokens), channel.into())
    }
}

/// Carries out the effects as the runtime does and applies the answer.
async fn carry_out(
    app: &mut App,
    actor: &Actor,
    effects: Vec<Effect>,
    rx: &mut mpsc::Receiver<Msg>,
    tx: &mpsc::Sender<Msg>,
) {
    assert_eq!(effects.len(), 1, "{effects:?}");
    for e in effects {
        match e {
            Effect::Act(req) => actor.act(req, tx.clone()),
            Effect::Card(login) => actor.card(login, tx.clone()),
            other => panic!("unexpected {other:?}"),
        }
        let msg = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        app.update(msg);
    }
}

#[tokio::test]
async fn the_timeout_key_times_out_at_twitch_and_says_so() {
    let (mut s, mut rx, tx) = Session::start().await;
    let actor = s.actor("quillstream").await;
    let effects: Vec<Effect> = [ch('v'), ch('t')]
        .into_iter()
        .flat_map(|m| s.app.update(m))
        .collect();
    carry_out(&mut s.app, &actor, effects, &mut rx, &tx).await;
    assert_eq!(last_system(&s.app), "timed out byte_badger for 10m");
    assert_eq!(
        s.env.es.actions.requests(),
        [Recorded::new(
            "POST",
            "/helix/moderation/bans",
            "broadcaster_id=90010001&moderator_id=90010001",
            Some(json!({"data": {"user_id": "90020002", "duration": 600}}))
        )]
    );
    // Again: Twitch's reason is the result line.
    let effects: Vec<Effect> = [ch('v'), ch('k'), ch('t')]
        .into_iter()
        .flat_map(|m| s.app.update(m))
        .collect();
    carry_out(&mut s.app, &actor, effects, &mut rx, &tx).await;
    assert_eq!(
        last_system(&s.app),
        "could not time out byte_badger: user is already banned"
    );
}

#[tokio::test]
async fn a_slash_command_in_a_channel_i_do_not_moderate_says_so() {
    let (mut s, mut rx, tx) = Session::start().await;
    let actor = s.actor("lunarkettle").await;
    let mut effects = Vec::new();
    for m in [ch('i')].into_iter().chain("/clear".chars().map(ch)) {
        effects.extend(s.app.update(m));
    }
    effects.extend(
        s.app
            .update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))),
    );
    carry_out(&mut s.app, &actor, effects, &mut rx, &tx).await;
    assert!(
        last_system(&s.app)
            .starts_with("could not clear chat: you are not a moderator of #lunarkettle"),
        "{}",
        last_system(&s.app)
    );
}

#[tokio::test]
async fn the_user_card_asks_twitch_for_account_and_follow_age() {
    let (mut s, mut rx, tx) = Session::start().await;
    let actor = s.actor("quillstream").await;
    s.app.update(privmsg("m2", "mossy_fern", "hello"));
    let effects = s
        .app
        .update(ch('v'))
        .into_iter()
        .chain(s.app.update(ch('u')))
        .collect();
    carry_out(&mut s.app, &actor, effects, &mut rx, &tx).await;
    let card = s.app.card.clone().unwrap();
    let info = card.info.unwrap().unwrap();
    assert_eq!(
        (
            info.user.display_name.as_str(),
            info.user.created_at.as_str()
        ),
        ("Mossy_Fern", "2019-05-01T12:00:00Z")
    );
    assert_eq!(info.follow, Ok(Some("2025-03-04T05:06:07Z".into())));
    assert_eq!(
        s.env.es.actions.requests(),
        [Recorded::new(
            "GET",
            "/helix/channels/followers",
            "broadcaster_id=90010001&user_id=90030003",
            None
        )]
    );
    // byte_badger does not follow.
    s.app
        .update(Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    let effects = [ch('k'), ch('u')]
        .into_iter()
        .flat_map(|m| s.app.update(m))
        .collect();
    carry_out(&mut s.app, &actor, effects, &mut rx, &tx).await;
    assert_eq!(
        s.app.card.clone().unwrap().info.unwrap().unwrap().follow,
        Ok(None)
    );
}
