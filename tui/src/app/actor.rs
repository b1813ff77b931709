//! Who carries out the app's actions and card lookups: Helix with the login (through
//! [`Actions`]), the demo's built-in fake (no network), or nobody when reading anonymously.
//! Each answer goes back to the app as a message; errors are the text the result line shows.

use tokio::sync::mpsc;

use super::{Msg, demo_helix};
use crate::helix::{Actions, Answer, Request};

/// The app's executor for [`super::Effect::Act`] and [`super::Effect::Card`].
#[derive(Debug, Clone)]
pub enum Actor {
    /// Twitch, in this channel.
    Helix(Actions, String),
    /// `onair demo`: a fake in this process.
    Demo,
    /// Not logged in.
    Anonymous,
}

impl Actor {
    /// Carries out `req`; the result comes back as [`Msg::Acted`] (and, in the demo, the chat
    /// line Twitch would send about it).
    pub fn act(&self, req: Request, tx: mpsc::Sender<Msg>) {
        let actor = self.clone();
        tokio::spawn(async move {
            let r = actor.answer(&req).await;
            let echo = matches!(actor, Self::Demo)
                .then(|| r.as_ref().ok().and_then(|_| demo_helix::echo(&req)))
                .flatten();
            let _ = tx.send(Msg::Acted(req, r)).await;
            if let Some(line) = echo {
                let _ = tx.send(line).await;
            }
        });
    }

    /// Looks `login` up for their card; the answer comes back as [`Msg::Card`].
    pub fn card(&self, login: String, tx: mpsc::Sender<Msg>) {
        let actor = self.clone();
        tokio::spawn(async move {
            let r = match &actor {
                Self::Helix(actions, channel) => actions
                    .card(channel, &login)
                    .await
                    .map_err(|e| e.to_string()),
                Self::Demo => Ok(demo_helix::card(&login)),
                Self::Anonymous => Err(ANONYMOUS.into()),
            };
            let _ = tx.send(Msg::Card(login, r)).await;
        });
    }

    async fn answer(&self, req: &Request) -> Result<Answer, String> {
        match self {
            Self::Helix(actions, channel) => {
                actions.act(channel, req).await.map_err(|e| e.to_string())
            }
            Self::Demo => Ok(demo_helix::answer(req)),
            Self::Anonymous => Err(ANONYMOUS.into()),
        }
    }
}

const ANONYMOUS: &str = "not logged in: run `onair login`";
