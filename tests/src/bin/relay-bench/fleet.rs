//! One server's clients in a fan-out run: connecting them (and the server's memory meanwhile),
//! one event's round from its POST to its last receipt, and the figures over the rounds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use onair_tests::eventsub::{Delivery, Sender};
use onair_tests::load::{Arrivals, arrivals};
use onair_tests::procstat::ThreadsCpu;
use onair_tests::relay_process::{RelayProcess, proc_status_kib};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::Baseline;

/// What a fan-out run connects to and how it makes one event.
pub(super) enum Target<'a> {
    /// The server, and the frame it broadcasts for an event (read once, not inside the timing).
    Baseline(&'a Baseline, String),
    Relay(&'a RelayProcess, &'a [String], Sender),
}

impl Target<'_> {
    fn name(&self) -> &'static str {
        match self {
            Self::Baseline(..) => "baseline",
            Self::Relay(..) => "relay",
        }
    }

    fn pid(&self) -> u32 {
        match self {
            Self::Baseline(b, _) => b.child.id(),
            Self::Relay(r, _, _) => r.pid(),
        }
    }

    /// The `i`th client's URL.
    fn ws_url(&self, i: u64) -> String {
        match self {
            Self::Baseline(b, _) => format!("{}/ws", b.base.replace("http://", "ws://")),
            Self::Relay(r, tokens, _) => {
                let token = &tokens[i as usize % tokens.len()];
                format!("{}/ws?token={token}", r.base.replace("http://", "ws://"))
            }
        }
    }

    /// One event's request, made before the clock starts (the baseline's frame is read once
    /// for the same reason): the fixture read and parsed, a fresh message id.
    fn prepare(&self) -> Post<'_> {
        match self {
            Self::Baseline(b, frame) => Post::Publish(b, frame.clone()),
            Self::Relay(_, _, twitch) => Post::Webhook(twitch, Delivery::fixture("channel.raid")),
        }
    }
}

/// One event's request, ready to send.
enum Post<'a> {
    Publish(&'a Baseline, String),
    Webhook(&'a Sender, Delivery),
}

impl Post<'_> {
    /// Posts the event; returns once the server answered.
    async fn send(self, http: &reqwest::Client) {
        let status = match self {
            Self::Publish(b, frame) => http
                .post(format!("{}/publish", b.base))
                .body(frame)
                .send()
                .await
                .unwrap()
                .status(),
            Self::Webhook(twitch, d) => twitch.send(&d).await.status(),
        };
        assert_eq!(status, 204);
    }
}

pub(super) struct FanOut {
    /// Medians: POST to its answer, and to the first client's receipt.
    answered_p50: f64,
    first_p50: f64,
    p50: f64,
    p99: f64,
    max: f64,
    kib_per_socket: f64,
    /// The server's CPU over its rounds (each with the wait after it) per client per event.
    us_per_delivery: f64,
}

/// Both servers' figures side by side, with their ratio.
pub(super) fn print(b: &FanOut, r: &FanOut, ours: &str) {
    println!("                 baseline {ours:>9}     {ours}/baseline");
    for (what, b, r) in [
        ("answer p50", b.answered_p50, r.answered_p50),
        ("first p50", b.first_p50, r.first_p50),
        ("p50 ms", b.p50, r.p50),
        ("p99 ms", b.p99, r.p99),
        ("max ms", b.max, r.max),
        ("KiB/socket", b.kib_per_socket, r.kib_per_socket),
        ("CPU us/deliv", b.us_per_delivery, r.us_per_delivery),
    ] {
        println!("{what:<12} {b:>12.2} {r:>9.2} {:>18.2}", r / b);
    }
}

/// One server's clients, connected, and what its rounds measured so far.
pub(super) struct Fleet<'a> {
    target: Target<'a>,
    clients: u64,
    arrived: mpsc::UnboundedReceiver<Instant>,
    kib_per_socket: f64,
    answered: Vec<Duration>,
    reached: Vec<Arrivals>,
    cpu_s: f64,
}

impl<'a> Fleet<'a> {
    /// Connects `clients` to the target and measures the server's memory per socket meanwhile.
    pub(super) async fn connect(target: Target<'a>, clients: u64) -> Self {
        let (tx, arrived) = mpsc::unbounded_channel::<Instant>();
        let subscribed = Arc::new(AtomicU64::new(0));
        let warm = clients.div_ceil(100) / 10;
        let mut rss_before = 0;
        // Connected a hundred at a time: a burst of thousands would overflow the listen backlog.
        for chunk in 0..clients.div_ceil(100) {
            if chunk == warm {
                settle(&subscribed, chunk * 100).await;
                rss_before = proc_status_kib(target.pid(), "VmRSS:");
            }
            let n = (clients - chunk * 100).min(100);
            let urls: Vec<_> = (0..n).map(|i| target.ws_url(chunk * 100 + i)).collect();
            let batch: Vec<_> = urls.iter().map(|url| connect(url)).collect();
            for ws in futures_util::future::join_all(batch).await {
                tokio::spawn(receive(ws, tx.clone(), subscribed.clone()));
            }
        }
        settle(&subscribed, clients).await;
        let rss_after = proc_status_kib(target.pid(), "VmRSS:");
        let measured = clients - warm * 100;
        println!(
            "  {} threads: {}",
            target.name(),
            proc_status_kib(target.pid(), "Threads:")
        );
        Self {
            target,
            clients,
            arrived,
            kib_per_socket: rss_after.saturating_sub(rss_before) as f64 / measured as f64,
            answered: Vec::new(),
            reached: Vec::new(),
            cpu_s: 0.0,
        }
    }

    /// One event, from its POST to its last client, and a pause for the server to go quiet.
    pub(super) async fn round(&mut self, http: &reqwest::Client) {
        let cpu = ThreadsCpu::of(self.target.pid());
        let post = self.target.prepare();
        let sent = Instant::now();
        post.send(http).await;
        self.answered.push(sent.elapsed());
        let reached = arrivals(
            &mut self.arrived,
            self.clients,
            sent,
            Duration::from_secs(30),
        );
        self.reached.push(reached.await);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.cpu_s += ThreadsCpu::of(self.target.pid()).since(&cpu);
    }

    pub(super) fn figures(self) -> FanOut {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let sorted = |mut v: Vec<Duration>| {
            v.sort();
            v
        };
        let pct = |v: &[Duration], p: f64| ms(v[((v.len() as f64 - 1.0) * p).round() as usize]);
        let answered = sorted(self.answered);
        let first = sorted(self.reached.iter().map(|a| a.first).collect());
        let last = sorted(self.reached.iter().map(|a| a.last).collect());
        FanOut {
            answered_p50: pct(&answered, 0.50),
            first_p50: pct(&first, 0.50),
            p50: pct(&last, 0.50),
            p99: pct(&last, 0.99),
            max: ms(last[last.len() - 1]),
            kib_per_socket: self.kib_per_socket,
            us_per_delivery: self.cpu_s * 1e6 / (last.len() as u64 * self.clients) as f64,
        }
    }
}

/// Until `n` clients subscribed and the server is done with their handshakes.
async fn settle(subscribed: &AtomicU64, n: u64) {
    while subscribed.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Ws {
    // Small client buffers, so ten thousand clients fit beside the servers.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false)
        .await
        .expect("connect");
    ws
}

/// Subscribes (the relay needs it; the baseline ignores it), then reports each event's arrival.
async fn receive(mut ws: Ws, tx: mpsc::UnboundedSender<Instant>, subscribed: Arc<AtomicU64>) {
    ws.send(Message::text("{\"type\":\"subscribe\"}"))
        .await
        .unwrap();
    subscribed.fetch_add(1, Ordering::Relaxed);
    while let Some(Ok(msg)) = ws.next().await {
        if let Message::Text(text) = msg
            && text.starts_with("{\"type\":\"event\"")
        {
            let _ = tx.send(Instant::now());
        }
    }
}
