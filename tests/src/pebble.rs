//! Debian's `pebble` ACME test server and its `pebble-challtestsrv` DNS, on loopback, for the
//! relay's HTTPS tests. Pebble validates TLS-ALPN-01 by connecting to the relay's port (its
//! `tlsPort`), at the address challtestsrv answers for every name: 127.0.0.1. Its own HTTPS
//! uses a throw-away CA made here; the root it issues under is new per launch and read from its
//! management port.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::relay_process::free_port;
use crate::test_ca;

/// How long pebble may take to come up.
const START_DEADLINE: Duration = Duration::from_secs(15);

/// Pebble and its DNS; both killed when dropped.
#[derive(Debug)]
pub struct Pebble {
    pebble: Child,
    dns: Child,
    /// The ACME directory URL (`relay.acme_directory`).
    pub directory: String,
    /// The CA of pebble's own HTTPS (`relay.acme_ca`).
    pub ca_file: PathBuf,
    management: u16,
    dir: PathBuf,
}

/// Whether the pebble binaries are installed (`.ci/run` installs them).
pub fn installed() -> bool {
    ["pebble", "pebble-challtestsrv"]
        .iter()
        .all(|b| Command::new(b).arg("-h").output().is_ok())
}

impl Pebble {
    /// Starts both in `dir`, validating TLS-ALPN-01 on `tls_port`, and waits for the directory.
    pub async fn start(dir: &Path, tls_port: u16) -> Self {
        let ca_file = test_ca::write(dir, "pebble").ca;
        let (listen, management, http01) = (free_port(), free_port(), free_port());
        let dns_port = free_udp_and_tcp_port();
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.join("pebble-cert.pem"),
            "privateKey": dir.join("pebble-key.pem"),
            "httpPort": http01,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_file = dir.join("pebble.json");
        std::fs::write(&config_file, config.to_string()).unwrap();
        let dns = Command::new("pebble-challtestsrv")
            .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-management", &format!("127.0.0.1:{}", free_port())])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .stdout(log_file(dir, "challtestsrv.log"))
            .stderr(log_file(dir, "challtestsrv.log"))
            .spawn()
            .expect("pebble-challtestsrv (apt-get install pebble)");
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(&config_file)
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            // No artificial validation delay, and no nonces rejected at random: rustls-acme
            // does not retry badNonce, and a test must not fail by dice.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(log_file(dir, "pebble.log"))
            .stderr(log_file(dir, "pebble.log"))
            .spawn()
            .expect("pebble (apt-get install pebble)");
        let p = Self {
            pebble,
            dns,
            directory: format!("https://127.0.0.1:{listen}/dir"),
            ca_file,
            management,
            dir: dir.to_owned(),
        };
        p.wait_ready().await;
        p
    }

    /// A client that trusts pebble's own HTTPS.
    fn client(&self) -> reqwest::Client {
        let pem = std::fs::read(&self.ca_file).unwrap();
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
    }

    async fn wait_ready(&self) {
        let http = self.client();
        let deadline = Instant::now() + START_DEADLINE;
        while Instant::now() < deadline {
            if let Ok(r) = http.get(&self.directory).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pebble did not start: {}", self.log());
    }

    /// The root pebble issues under (PEM); new per launch.
    pub async fn root(&self) -> String {
        let url = format!("https://127.0.0.1:{}/roots/0", self.management);
        let r = self.client().get(url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }

    /// What pebble logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pebble.log")).unwrap_or_default()
    }

    /// How many orders pebble was asked for so far.
    pub fn orders(&self) -> usize {
        self.log().matches("POST /order-plz").count()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for child in [&mut self.pebble, &mut self.dns] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn log_file(dir: &Path, name: &str) -> Stdio {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))
        .unwrap();
    Stdio::from(f)
}

/// A port free for both UDP and TCP (DNS listens on both).
fn free_udp_and_tcp_port() -> u16 {
    loop {
        let port = free_port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
