//! The chat parser on real lines: the whole nymn corpus, and each message type and edge case of
//! `twitch.md` D; and arbitrary input never panics.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use onair::chat::message::emotes;
use onair::chat::{ChatLine, Incoming, parse, read_line};
use serde_json::json;

const CORPUS: &str = include_str!("data/twitch-irc-nymn-800.txt");

fn line(l: &str) -> ChatLine {
    match read_line(l).unwrap() {
        Incoming::Line(c) => c,
        other => panic!("expected a chat line, got {other:?}"),
    }
}

fn message(l: &str) -> onair::chat::ChatMessage {
    match line(l) {
        ChatLine::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn notice(l: &str) -> onair::chat::UserNotice {
    match line(l) {
        ChatLine::Notice(n) => n,
        other => panic!("expected a notice, got {other:?}"),
    }
}

#[test]
fn every_corpus_line_parses_and_round_trips() {
    let (mut privmsg, mut clearchat) = (0, 0);
    for (i, l) in CORPUS.lines().enumerate() {
        let m = parse(l).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        assert_eq!(m.to_string(), l, "line {} writes back", i + 1);
        match Incoming::from_irc(&m) {
            Incoming::Line(ChatLine::Message(msg)) => {
                privmsg += 1;
                assert_eq!(msg.channel, "nymn");
                assert!(!msg.user.login.is_empty() && !msg.id.is_empty());
                let json = serde_json::to_value(&msg).unwrap();
                assert!(
                    json["sent_at"].as_str().unwrap().starts_with("2024-01-06T"),
                    "{json}"
                );
                let len = msg.text.chars().count();
                for e in &msg.emotes {
                    assert!(e.start <= e.end && e.end < len, "line {}: {e:?}", i + 1);
                }
                assert!(msg.emotes.windows(2).all(|w| w[0].start <= w[1].start));
            }
            Incoming::Line(ChatLine::Clear { .. }) => clearchat += 1,
            other => panic!("line {}: unexpected {other:?}", i + 1),
        }
    }
    assert_eq!((privmsg, clearchat), (798, 2));
}

#[test]
fn privmsg_json_has_the_documented_shape() {
    let m = line(
        "@badge-info=subscriber/14;badges=moderator/1,subscriber/12;bits=100;color=#1E90FF;display-name=Mossy_Fern;emotes=25:6-10;first-msg=1;id=b34ccfc7-4977-403a-8a94-33c6bac34fb8;mod=1;room-id=90010001;tmi-sent-ts=1767268800123;user-id=51000001 :mossy_fern!mossy_fern@mossy_fern.tmi.twitch.tv PRIVMSG #QuillStream :cheer Kappa",
    );
    assert_eq!(
        serde_json::to_value(&m).unwrap(),
        json!({"kind": "message", "channel": "quillstream", "id": "b34ccfc7-4977-403a-8a94-33c6bac34fb8",
               "user": {"id": "51000001", "login": "mossy_fern", "name": "Mossy_Fern", "color": "#1E90FF",
                        "badges": ["moderator/1", "subscriber/12"]},
               "text": "cheer Kappa", "action": false, "bits": 100,
               "emotes": [{"id": "25", "name": "Kappa", "start": 6, "end": 10}],
               "reply_to": null, "first": true, "sent_at": "2026-01-01T12:00:00.123Z"})
    );
}

#[test]
fn empty_color_and_display_name() {
    let m = message(
        "@color=;display-name=;user-id=1 :lurker!lurker@lurker.tmi.twitch.tv PRIVMSG #c :hi",
    );
    assert_eq!((m.user.color, m.user.name.as_str()), (None, "lurker"));
}

#[test]
fn action_me_strips_wrapper_and_offsets_start_after_it() {
    let m =
        message("@emotes=25:6-10 :a!a@a.tmi.twitch.tv PRIVMSG #c :\u{1}ACTION waves Kappa\u{1}");
    assert!(m.action);
    assert_eq!(m.text, "waves Kappa");
    assert_eq!(m.emotes[0].name, "Kappa");
}

#[test]
fn emote_offsets_are_code_points_after_emoji_zwj_and_cyrillic() {
    // 👉 is one code point.
    let m = message("@emotes=25:2-6 :a!a@a.tmi.twitch.tv PRIVMSG #c :👉 Kappa");
    assert_eq!(m.emotes[0].name, "Kappa");
    // 👩‍👩‍👧 is five code points (three people, two zero-width joiners).
    let m = message("@emotes=25:6-10 :a!a@a.tmi.twitch.tv PRIVMSG #c :👩‍👩‍👧 Kappa");
    assert_eq!(m.emotes[0].name, "Kappa");
    let m = message("@emotes=25:7-11 :a!a@a.tmi.twitch.tv PRIVMSG #c :привет Kappa");
    assert_eq!(m.emotes[0].name, "Kappa");
}

#[test]
fn emote_ranges_unsorted_and_out_of_range_are_clamped_never_panic() {
    let e = emotes("1902:6-10/25:0-4", "Kappa Keepo");
    assert_eq!((e[0].id.as_str(), e[1].id.as_str()), ("25", "1902"));
    let e = emotes("25:0-40,50-60,3-1,x-y", "Kappa");
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].end, e[0].name.as_str()), (4, "Kappa"));
    assert!(emotes("25:0-4", "").is_empty());
    assert!(emotes("garbage///:::", "text").is_empty());
    let e = emotes("emotesv2_abc:0-3,5-8/300196486_TK:10-13", "abcd efgh ijkl");
    assert_eq!(e.len(), 3);
    assert_eq!(e[2].id, "300196486_TK");
}

#[test]
fn replies_carry_their_parent() {
    let m = message(
        r"@reply-parent-msg-id=fffbdd14-0932-4b3e-b5a8-9feecfca5b00;reply-parent-user-login=soran2202;reply-parent-display-name=soran2202;reply-parent-msg-body=FeelsDankMan\s👋\shelo;id=x :a!a@a.tmi.twitch.tv PRIVMSG #nymn :@soran2202 hi",
    );
    let r = m.reply_to.unwrap();
    assert_eq!(
        (r.id.as_str(), r.login.as_str(), r.text.as_str()),
        (
            "fffbdd14-0932-4b3e-b5a8-9feecfca5b00",
            "soran2202",
            "FeelsDankMan 👋 helo"
        )
    );
}

#[test]
fn shared_chat_source_room_is_kept_when_different() {
    let m = message("@room-id=1;source-room-id=2;source-id=z :a!a@a.tmi.twitch.tv PRIVMSG #c :hi");
    assert_eq!(m.source_room_id.as_deref(), Some("2"));
    let m = message("@room-id=1;source-room-id=1 :a!a@a.tmi.twitch.tv PRIVMSG #c :hi");
    assert_eq!(m.source_room_id, None);
}

#[test]
fn usernotice_sub_resub_with_escaped_system_msg() {
    let n = notice(
        r"@badges=subscriber/0;display-name=Byte_Badger;id=n1;login=byte_badger;msg-id=resub;msg-param-cumulative-months=24;msg-param-should-share-streak=0;msg-param-sub-plan=Prime;msg-param-sub-plan-name=Channel\sSubscription\s(quillstream);room-id=90010001;system-msg=Byte_Badger\ssubscribed\swith\sPrime.\sThey've\ssubscribed\sfor\s24\smonths!;tmi-sent-ts=1767268800123;user-id=51000003 :tmi.twitch.tv USERNOTICE #quillstream :two years already",
    );
    assert_eq!(n.msg_id, "resub");
    assert_eq!(
        n.system_text,
        "Byte_Badger subscribed with Prime. They've subscribed for 24 months!"
    );
    assert_eq!(n.text.as_deref(), Some("two years already"));
    assert_eq!(n.params["sub-plan"], "Prime");
    assert_eq!(
        n.params["sub-plan-name"],
        "Channel Subscription (quillstream)"
    );
    let json = serde_json::to_value(ChatLine::Notice(n)).unwrap();
    let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "kind",
            "channel",
            "id",
            "msg_id",
            "user",
            "system_text",
            "text",
            "params"
        ]
    );
}

#[test]
fn anonymous_subgift_and_mystery_gift() {
    let n = notice(
        r"@badges=;display-name=AnAnonymousGifter;id=g1;login=ananonymousgifter;msg-id=subgift;msg-param-months=1;msg-param-origin-id=1234;msg-param-recipient-display-name=Mossy_Fern;msg-param-recipient-id=51000001;msg-param-recipient-user-name=mossy_fern;msg-param-sub-plan=1000;room-id=90010001;system-msg=An\sanonymous\suser\sgifted\sa\sTier\s1\ssub\sto\sMossy_Fern!;user-id=274598607 :tmi.twitch.tv USERNOTICE #quillstream",
    );
    assert_eq!(
        (n.user.login.as_str(), n.user.name.as_str()),
        ("ananonymousgifter", "AnAnonymousGifter")
    );
    assert_eq!(n.params["recipient-user-name"], "mossy_fern");
    assert_eq!(n.text, None);
    let n = notice(
        r"@login=night_owl_dev;display-name=Night_Owl_Dev;msg-id=submysterygift;msg-param-mass-gift-count=5;msg-param-origin-id=1234;msg-param-sub-plan=1000;system-msg=Night_Owl_Dev\sis\sgifting\s5\sTier\s1\sSubs! :tmi.twitch.tv USERNOTICE #quillstream",
    );
    assert_eq!(
        (n.msg_id.as_str(), n.params["mass-gift-count"].as_str()),
        ("submysterygift", "5")
    );
}

#[test]
fn raid_params_keep_their_camel_case() {
    let n = notice(
        r"@display-name=NightOwlGames;login=nightowlgames;msg-id=raid;msg-param-displayName=NightOwlGames;msg-param-login=nightowlgames;msg-param-profileImageURL=https://static-cdn.jtvnw.net/x.png;msg-param-viewerCount=128;system-msg=128\sraiders\sfrom\sNightOwlGames\shave\sjoined! :tmi.twitch.tv USERNOTICE #quillstream",
    );
    assert_eq!(n.params["viewerCount"], "128");
    assert_eq!(n.params["displayName"], "NightOwlGames");
    assert_eq!(n.system_text, "128 raiders from NightOwlGames have joined!");
}

#[test]
fn announcement_with_empty_system_msg_and_unknown_msg_ids() {
    let n = notice(
        "@login=quillstream;msg-id=announcement;msg-param-color=PRIMARY;system-msg= :tmi.twitch.tv USERNOTICE #quillstream :Welcome everyone!",
    );
    assert_eq!(
        (n.system_text.as_str(), n.params["color"].as_str()),
        ("", "PRIMARY")
    );
    let n = notice("@login=x;msg-id=brandnewthing;msg-param-foo=bar :tmi.twitch.tv USERNOTICE #c");
    assert_eq!(n.msg_id, "brandnewthing");
    for id in ["sub", "giftpaidupgrade", "bitsbadgetier", "viewermilestone"] {
        let n = notice(&format!(
            "@login=x;msg-id={id};system-msg=x :tmi.twitch.tv USERNOTICE #c"
        ));
        assert_eq!(n.msg_id, id);
    }
}

#[test]
fn clearchat_clearmsg_roomstate_notice() {
    assert_eq!(
        line("@ban-duration=180;room-id=1;target-user-id=2 :tmi.twitch.tv CLEARCHAT #nymn e7om"),
        ChatLine::Clear {
            channel: "nymn".into(),
            target: Some("e7om".into()),
            duration_s: Some(180)
        }
    );
    assert_eq!(
        line("@room-id=1;target-user-id=2 :tmi.twitch.tv CLEARCHAT #c :spammer"),
        ChatLine::Clear {
            channel: "c".into(),
            target: Some("spammer".into()),
            duration_s: None
        }
    );
    assert_eq!(
        line("@room-id=1 :tmi.twitch.tv CLEARCHAT #c"),
        ChatLine::Clear {
            channel: "c".into(),
            target: None,
            duration_s: None
        }
    );
    assert_eq!(
        line(
            "@login=ronni;room-id=;target-msg-id=abc-123;tmi-sent-ts=1 :tmi.twitch.tv CLEARMSG #c :HeyGuys"
        ),
        ChatLine::Delete {
            channel: "c".into(),
            target_id: "abc-123".into(),
            login: "ronni".into(),
            text: "HeyGuys".into()
        }
    );
    let room = line("@room-id=90010001;slow=30 :tmi.twitch.tv ROOMSTATE #c");
    assert_eq!(
        serde_json::to_value(room).unwrap(),
        json!({"kind": "room", "channel": "c", "state": {"slow": "30"}})
    );
    let full = line(
        "@emote-only=0;followers-only=-1;r9k=0;room-id=1;slow=0;subs-only=0 :tmi.twitch.tv ROOMSTATE #c",
    );
    let ChatLine::Room { state, .. } = full else {
        panic!()
    };
    assert_eq!(state.len(), 5);
    assert_eq!(
        line(
            "@msg-id=msg_ratelimit :tmi.twitch.tv NOTICE #c :Your message was not sent because you are sending messages too quickly."
        ),
        ChatLine::Server {
            channel: Some("c".into()),
            msg_id: Some("msg_ratelimit".into()),
            text: "Your message was not sent because you are sending messages too quickly.".into()
        }
    );
    assert_eq!(
        line(":tmi.twitch.tv NOTICE * :Login authentication failed"),
        ChatLine::Server {
            channel: None,
            msg_id: None,
            text: "Login authentication failed".into()
        }
    );
}

#[test]
fn control_and_state_messages() {
    assert_eq!(
        read_line("PING :tmi.twitch.tv").unwrap(),
        Incoming::Ping("tmi.twitch.tv".into())
    );
    assert_eq!(
        read_line(":tmi.twitch.tv PONG tmi.twitch.tv :x").unwrap(),
        Incoming::Pong
    );
    assert_eq!(
        read_line(":tmi.twitch.tv RECONNECT").unwrap(),
        Incoming::Reconnect
    );
    assert_eq!(
        read_line(":ronni!ronni@ronni.tmi.twitch.tv JOIN #dallas").unwrap(),
        Incoming::Join {
            channel: "dallas".into(),
            login: "ronni".into()
        }
    );
    assert_eq!(
        read_line(":ronni!ronni@ronni.tmi.twitch.tv PART #dallas").unwrap(),
        Incoming::Part {
            channel: "dallas".into(),
            login: "ronni".into()
        }
    );
    assert_eq!(read_line("@badges=;color=;display-name=Bot;emote-sets=0;user-id=1;user-type= :tmi.twitch.tv GLOBALUSERSTATE").unwrap(), Incoming::GlobalUserState);
    assert_eq!(
        read_line("@badges=moderator/1;mod=1;id=m-1 :tmi.twitch.tv USERSTATE #c").unwrap(),
        Incoming::UserState {
            channel: "c".into(),
            sent_id: Some("m-1".into()),
            privileged: true
        }
    );
    assert_eq!(
        read_line("@badges=;mod=0 :tmi.twitch.tv USERSTATE #c").unwrap(),
        Incoming::UserState {
            channel: "c".into(),
            sent_id: None,
            privileged: false
        }
    );
    assert_eq!(
        read_line(
            "@badges=;message-id=1 :petsgomoo!petsgomoo@petsgomoo.tmi.twitch.tv WHISPER foo :hello"
        )
        .unwrap(),
        Incoming::Whisper {
            from: "petsgomoo".into(),
            text: "hello".into()
        }
    );
    assert_eq!(
        read_line(":tmi.twitch.tv CAP * ACK :twitch.tv/tags").unwrap(),
        Incoming::Cap { ack: true }
    );
    assert_eq!(
        read_line(":tmi.twitch.tv CAP * NAK :twitch.tv/foo").unwrap(),
        Incoming::Cap { ack: false }
    );
    assert_eq!(
        read_line(":tmi.twitch.tv 376 justinfan1 :>").unwrap(),
        Incoming::Numeric("376".into())
    );
    assert_eq!(
        read_line(":tmi.twitch.tv HOSTTARGET #a :b 1").unwrap(),
        Incoming::Other("HOSTTARGET".into())
    );
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text(s in "\\PC*") {
            if let Ok(m) = parse(&s) {
                let _ = Incoming::from_irc(&m);
                let again = m.to_string();
                let reparsed = parse(&again).unwrap();
                prop_assert_eq!(reparsed.command, m.command);
            }
        }

        #[test]
        fn irc_shaped_text(tags in "(@[a-z-]{1,8}=[^ ;]{0,10}(;[a-z-]{1,8}=[^ ;]{0,10}){0,5} )?",
                           prefix in "(:[a-z]{1,8}![a-z]{1,8}@[a-z.]{1,12} )?",
                           cmd in "(PRIVMSG|USERNOTICE|CLEARCHAT|CLEARMSG|ROOMSTATE|NOTICE|USERSTATE|PING|[0-9]{3})",
                           params in "( #[a-z]{0,6})?( :[^\r\n]{0,40})?",
                           emotes in "[0-9:,/-]{0,20}") {
            let line = format!("@emotes={emotes};{}{prefix}{cmd}{params}", tags.trim_start_matches('@'));
            if let Ok(m) = parse(&line) {
                let _ = Incoming::from_irc(&m);
            }
        }
    }
}
