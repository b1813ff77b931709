//! Events into the pane, from the relay, the direct EventSub client and chat: markers for
//! replays and gaps, gift bombs folded, a chat-borne event never shown beside its twin, and an
//! event Twitch delivered twice shown once.

use onair_common::event::Origin;

use super::derive;
use super::{App, EventRow, Focus};
use crate::direct::{DirectEvent, DirectState};
use crate::relay::{RelayEvent, RelayState};

impl App {
    pub(super) fn on_relay(&mut self, ev: RelayEvent) {
        match ev {
            RelayEvent::State(s) => {
                self.relay_state = Some(match &s {
                    RelayState::Connecting => "connecting".into(),
                    RelayState::Live => "live".into(),
                    RelayState::Backoff { retry_in, reason } => {
                        format!("retry in {}s ({reason})", retry_in.as_secs_f64().ceil())
                    }
                    RelayState::Refused(_) => "refused".into(),
                });
                if let RelayState::Refused(why) = s {
                    self.system(format!("relay: {why}"));
                }
            }
            RelayEvent::Event(e) => {
                self.last_seq = e.seq.max(self.last_seq);
                self.relay_kinds.insert(e.kind.clone());
                self.add_event(*e);
            }
            RelayEvent::Replayed(n) if n > 0 => {
                self.push_event(EventRow::Marker(format!(
                    "replayed {n} missed event{}",
                    if n == 1 { "" } else { "s" }
                )));
            }
            RelayEvent::Replayed(_) => {}
            RelayEvent::Gap { from, to } => {
                self.push_event(EventRow::Marker(format!(
                    "events {from}..{to} were pruned at the relay and cannot be shown"
                )));
            }
            RelayEvent::NewEpoch => {
                self.last_seq = None;
                self.push_event(EventRow::Marker(
                    "the relay's event store is new: replaying it from the start".into(),
                ));
            }
            RelayEvent::Status(subs) => {
                for s in subs.iter().filter(|s| s.status != "enabled") {
                    self.system(format!(
                        "EventSub {} for {} is {}",
                        s.kind, s.channel, s.status
                    ));
                }
            }
        }
    }

    pub(super) fn on_direct(&mut self, ev: DirectEvent) {
        match ev {
            DirectEvent::State(s) => {
                self.direct_state = Some(match &s {
                    DirectState::Connecting => "connecting".into(),
                    DirectState::Live => "live".into(),
                    DirectState::Backoff { retry_in, .. } => {
                        format!("reconnecting in {} s", retry_in.as_secs_f64().ceil())
                    }
                    DirectState::Stopped(_) => "stopped".into(),
                });
                match s {
                    DirectState::Backoff { reason, .. } => {
                        self.system(format!("direct events: {reason}; reconnecting"));
                    }
                    DirectState::Stopped(why) => self.system(format!("direct events: {why}")),
                    DirectState::Connecting | DirectState::Live => {}
                }
            }
            DirectEvent::Event(e) => {
                self.relay_kinds.insert(e.kind.clone());
                self.add_event(*e);
            }
            DirectEvent::Gap { from_ms, to_ms } => {
                let at = |ms| onair_common::time::local(ms, "%H:%M:%S").unwrap_or_default();
                self.direct_gap = Some(at(from_ms));
                self.push_event(EventRow::Marker(format!(
                    "gap: events from {} to {} may be missing (EventSub reconnected)",
                    at(from_ms),
                    at(to_ms)
                )));
            }
            DirectEvent::Subscribed(_) => {}
            DirectEvent::MissingScopes(note) => self.system(note),
            DirectEvent::Revoked { kind, status } => {
                self.system(format!(
                    "Twitch stopped the EventSub subscription for {kind} ({status}): no more of those events"
                ));
            }
        }
    }

    /// Adds an event, folding gift bombs and never showing a chat-borne event and its relay twin.
    pub(super) fn add_event(&mut self, e: onair_common::Event) {
        if e.origin == Origin::Irc {
            if self.relay_kinds.contains(&e.kind) {
                return; // the relay delivers this type; its copy is (or will be) shown
            }
            if derive::is_bomb_part(&e)
                && let Some(origin) = derive::origin_id(&e)
                && let Some(EventRow::Event { gifts, .. }) = self.events.iter_mut().find(|r| {
                    matches!(r, EventRow::Event { event, .. } if derive::is_bomb(event) && derive::origin_id(event) == Some(origin))
                })
            {
                *gifts += 1;
                return;
            }
        } else {
            // Twitch's message id names one event: a relay whose machine went down before its
            // sync hands on Twitch's re-delivery under a new seq, already on screen.
            if self.events.iter().any(|r| {
                matches!(r, EventRow::Event { event, .. } if event.origin != Origin::Irc && event.id == e.id)
            }) {
                return;
            }
            // A chat-borne twin already shown (same type and person) gives way to the relay's.
            let who = derive::who(&e);
            if let Some(row) = self.events.iter_mut().find(|r| {
                matches!(r, EventRow::Event { event, .. } if event.origin == Origin::Irc && event.kind == e.kind && derive::who(event) == who)
            }) {
                *row = EventRow::Event { event: Box::new(e), gifts: 0 };
                return;
            }
        }
        self.push_event(EventRow::Event {
            event: Box::new(e),
            gifts: 0,
        });
    }

    fn push_event(&mut self, row: EventRow) {
        self.events.push_front(row);
        if self.events_scroll > 0 || self.selecting(Focus::Events) {
            self.events_scroll += 1;
        }
        if self.focus == Focus::Chat {
            self.unread += 1;
        }
        while self.events.len() > self.scrollback {
            self.events.pop_back();
        }
        self.events_scroll = self.events_scroll.min(self.events.len().saturating_sub(1));
    }
}
