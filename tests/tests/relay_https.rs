//! HTTPS in the relay, end to end with the real binary: a certificate from a real ACME server
//! (Debian's pebble) over TLS-ALPN-01 on the relay's own port, a signed webhook and a WebSocket
//! over TLS, the cached certificate reused on restart without a new order; and PEM files
//! swapped on SIGHUP without dropping an open socket, with a handshake deadline for silent peers.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use onair_common::wire::Subscribe;
use onair_tests::eventsub::{Delivery, Sender};
use onair_tests::pebble::{self, Pebble};
use onair_tests::relay::{SECRET, WsClient};
use onair_tests::relay_process::{Options, RelayProcess, free_port};
use tokio::io::AsyncReadExt;

/// The name the relay serves; challtestsrv resolves every name to 127.0.0.1.
const NAME: &str = "relay.onair.test";

/// `.ci/run` sets this: there a missing pebble is a failure, not a skip.
const REQUIRE_PEBBLE: &str = "ONAIR_TEST_REQUIRE_PEBBLE";

fn https_client(port: u16, root_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(root_pem.as_bytes()).unwrap()])
        .resolve(NAME, ([127, 0, 0, 1], port).into())
        .tls_info(true)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// The DER of the certificate the relay presents.
async fn leaf(http: &reqwest::Client, base: &str) -> Vec<u8> {
    let r = http.get(format!("{base}/healthz")).send().await.unwrap();
    let info = r.extensions().get::<reqwest::tls::TlsInfo>().unwrap();
    info.peer_certificate().unwrap().to_vec()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Sends a fixture over HTTPS and checks the socket opened before gets it.
async fn webhook_reaches(ws: &mut WsClient, relay: &RelayProcess, http: reqwest::Client) {
    ws.subscribe(Subscribe::default()).await;
    let sent = Sender::with_client(&relay.base, SECRET, http)
        .send(&Delivery::fixture("channel.follow"))
        .await;
    assert_eq!(sent.status(), 204, "a signed webhook over HTTPS is taken");
    let event = ws.next_event().await;
    assert_eq!(event.kind, "channel.follow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_certificate_from_pebble_serves_webhooks_and_websockets_and_survives_a_restart() {
    if !pebble::installed() {
        assert!(
            std::env::var_os(REQUIRE_PEBBLE).is_none(),
            "pebble is required here: apt-get install pebble"
        );
        eprintln!("skipping: pebble is not installed (apt-get install pebble)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let pebble = Pebble::start(dir.path(), port).await;
    let root = pebble.root().await;
    let http = https_client(port, &root);
    let cache = dir.path().join("acme");
    let options = Options {
        port: Some(port),
        https: Some((NAME.into(), http.clone())),
        env: vec![
            ("ONAIR_RELAY_TLS_DOMAINS".into(), NAME.into()),
            ("ONAIR_RELAY_TLS_EMAIL".into(), "ops@onair.test".into()),
            (
                "ONAIR_RELAY_ACME_DIRECTORY".into(),
                pebble.directory.clone(),
            ),
            (
                "ONAIR_RELAY_ACME_CA".into(),
                pebble.ca_file.display().to_string(),
            ),
            ("ONAIR_RELAY_TLS_CACHE".into(), cache.display().to_string()),
        ],
        ..Options::default()
    };
    let home = dir.path().join("relay");
    std::fs::create_dir(&home).unwrap();

    let started = Instant::now();
    let relay = RelayProcess::start(&home, options.clone()).await;
    eprintln!("certificate from pebble after {:?}", started.elapsed());
    assert_eq!(pebble.orders(), 1, "{}", pebble.log());

    let token = relay.add_client("laptop");
    let mut ws = WsClient::connect_tls(port, NAME, &token, &root).await;
    webhook_reaches(&mut ws, &relay, http.clone()).await;
    let first = leaf(&http, &relay.base).await;

    // The certificate is cached right after it is deployed; wait for the file, not a time.
    let deadline = Instant::now() + Duration::from_secs(10);
    let cert_file = loop {
        let found = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("cert-")
            });
        match found {
            Some(f) if std::fs::metadata(&f).unwrap().len() > 0 => break f,
            _ if Instant::now() > deadline => panic!("no certificate cached: {}", relay.log()),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    assert_eq!(mode(&cache), 0o700, "the cache directory is private");
    for entry in std::fs::read_dir(&cache).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{} is private", path.display());
    }
    assert!(
        std::fs::read_to_string(&cert_file)
            .unwrap()
            .contains("PRIVATE KEY")
    );

    drop(ws);
    drop(relay);
    let restarted = Instant::now();
    let relay = RelayProcess::start(&home, options).await;
    eprintln!(
        "restart served the cached certificate after {:?}",
        restarted.elapsed()
    );
    assert_eq!(
        leaf(&http, &relay.base).await,
        first,
        "the same certificate"
    );
    assert_eq!(pebble.orders(), 1, "no new order: {}", pebble.log());
    assert!(
        relay.log().contains("serving the cached certificate"),
        "{}",
        relay.log()
    );
    let mut ws = WsClient::connect_tls(port, NAME, &token, &root).await;
    webhook_reaches(&mut ws, &relay, http).await;
}

/// A self-signed certificate for [`NAME`] written as `cert.pem` / `key.pem` (0600); its PEM.
fn write_self_signed(dir: &Path) -> String {
    let ck = rcgen::generate_simple_self_signed(vec![NAME.to_owned()]).unwrap();
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    let key = dir.join("key.pem");
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    ck.cert.pem()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pem_files_are_swapped_on_sighup_without_dropping_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let first = write_self_signed(dir.path());
    let options = Options {
        port: Some(port),
        https: Some((NAME.into(), https_client(port, &first))),
        env: vec![
            (
                "ONAIR_RELAY_TLS_CERT".into(),
                dir.path().join("cert.pem").display().to_string(),
            ),
            (
                "ONAIR_RELAY_TLS_KEY".into(),
                dir.path().join("key.pem").display().to_string(),
            ),
        ],
        ..Options::default()
    };
    let relay = RelayProcess::start(dir.path(), options).await;
    // A peer that connects and says nothing: the handshake deadline must end it.
    let mut silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let silent_since = Instant::now();

    let token = relay.add_client("laptop");
    let mut ws = WsClient::connect_tls(port, NAME, &token, &first).await;

    let second = write_self_signed(dir.path());
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &relay.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let renewed = https_client(port, &second);
    let deadline = Instant::now() + Duration::from_secs(10);
    while renewed
        .get(format!("{}/healthz", relay.base))
        .send()
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "new certificate not served: {}",
            relay.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        https_client(port, &first)
            .get(format!("{}/healthz", relay.base))
            .send()
            .await
            .is_err(),
        "new handshakes get the new certificate only"
    );
    // The socket opened under the old certificate still gets events.
    webhook_reaches(&mut ws, &relay, renewed).await;

    let mut buf = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(20), silent.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "a silent peer is dropped at the handshake deadline"
    );
    eprintln!("silent peer dropped after {:?}", silent_since.elapsed());
    assert!(
        silent_since.elapsed() >= Duration::from_secs(5),
        "not before its deadline"
    );
}
