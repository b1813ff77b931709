//! Messages the app tests feed to `App::update`: a raw chat line and a relay event from the
//! shared EventSub fixtures.

use onair::app::Msg;
use onair::chat::connection::ChatEvent;
use onair::chat::read_line;
use onair::relay::RelayEvent;
use onair_common::Event;
use onair_common::eventsub::Envelope;

/// One raw IRC line from Twitch, as the chat connection delivers it.
pub fn chat(line: &str) -> Msg {
    Msg::Chat(ChatEvent::Incoming(read_line(line).unwrap()))
}

/// The `kind` fixture as the relay's event number `seq`.
pub fn relay_event(kind: &str, seq: u64) -> Msg {
    let body = std::fs::read_to_string(format!(
        "{}/../common/tests/fixtures/{kind}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let env: Envelope = serde_json::from_str(&body).unwrap();
    let mut e = Event::from_notification(
        &format!("m{seq}"),
        "2026-01-01T12:00:00Z",
        &env,
        jiff::Timestamp::now(),
    )
    .unwrap();
    e.seq = Some(seq);
    Msg::Relay(RelayEvent::Event(Box::new(e)))
}
