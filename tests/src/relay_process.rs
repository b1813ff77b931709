//! The real `onair-relay serve` as its own process on loopback, as a VPS runs it: started under
//! a chosen open-file limit, with its stderr kept so tests can read what it logged.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::bins;
use crate::eventsub::Sender;
use crate::relay::SECRET;

/// A relay process; killed when dropped.
#[derive(Debug)]
pub struct RelayProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its port.
    pub port: u16,
    /// Its home (database, log file).
    pub dir: PathBuf,
    /// The extra variables it runs with (a Redis URL, say), for CLI commands on its store.
    env: Vec<(String, String)>,
}

/// How to start one.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `ulimit -Sn` before exec.
    pub soft_nofile: Option<u64>,
    /// `RUST_LOG`.
    pub rust_log: Option<String>,
    /// Extra `ONAIR_*` variables.
    pub env: Vec<(String, String)>,
    /// This port instead of a free one (a restart keeps its address).
    pub port: Option<u16>,
    /// Served over HTTPS: readiness is `/healthz` through this client (which must resolve
    /// `https.0` to 127.0.0.1 and trust the relay's certificate), and `base` is
    /// `https://<name>:PORT`. The wait allows for a certificate to be issued first.
    pub https: Option<(String, reqwest::Client)>,
}

/// How long a relay may take to answer `/healthz`: over HTTPS with ACME, this includes
/// getting the certificate.
const READY_DEADLINE: Duration = Duration::from_secs(30);

impl RelayProcess {
    /// Starts `onair-relay serve` in `dir` on a free port and waits until `/healthz` answers.
    pub async fn start(dir: &Path, options: Options) -> Self {
        let port = options.port.unwrap_or_else(free_port);
        let exe = bins::path("onair-relay");
        let script = match options.soft_nofile {
            Some(n) => format!("ulimit -Sn {n} && exec \"$0\" serve"),
            None => "exec \"$0\" serve".to_owned(),
        };
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .arg(exe)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir)
            .env("ONAIR_RELAY_DATABASE", dir.join("relay.sqlite3"))
            .env("ONAIR_RELAY_LISTEN", format!("127.0.0.1:{port}"))
            .env("ONAIR_RELAY_WEBHOOK_SECRET", SECRET)
            .env("RUST_LOG", options.rust_log.as_deref().unwrap_or("info"));
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        let log = std::fs::File::create(dir.join("relay.log")).unwrap();
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let (base, http) = match options.https {
            Some((name, client)) => (format!("https://{name}:{port}"), client),
            None => (format!("http://127.0.0.1:{port}"), reqwest::Client::new()),
        };
        let relay = Self {
            child,
            base,
            port,
            dir: dir.to_owned(),
            env: options.env,
        };
        relay.wait_healthy(&http).await;
        relay
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Posts a fresh notification of `kind` (a fixture) as Twitch would, from 127.0.0.1; the
    /// answer's status.
    pub async fn post(&self, kind: &str) -> u16 {
        self.twitch_from("127.0.0.1")
            .send(&crate::eventsub::Delivery::fixture(kind))
            .await
            .status()
            .as_u16()
    }

    /// A fake Twitch posting from `source` (another loopback address than an attacker's).
    pub fn twitch_from(&self, source: &str) -> Sender {
        Sender::from_address(&self.base, SECRET, source.parse().unwrap())
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("relay.log")).unwrap_or_default()
    }

    /// `onair-relay ARGS` on its store, as a user on that machine would run it.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(bins::path("onair-relay"))
            .args(args)
            .env_clear()
            .env("HOME", &self.dir)
            .env("ONAIR_RELAY_DATABASE", self.dir.join("relay.sqlite3"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap()
    }

    /// `onair-relay client add NAME` against its store; returns the token.
    pub fn add_client(&self, name: &str) -> String {
        let out = self.cli(&["client", "add", name]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_owned()
    }

    /// `onair_webhooks_total` for `outcome`, read from `/metrics` with a client token.
    pub async fn webhooks(&self, token: &str, outcome: &str) -> u64 {
        let metrics = reqwest::Client::new()
            .get(format!("{}/metrics", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let key = format!("onair_webhooks_total{{outcome=\"{outcome}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(key.as_str()))
            .unwrap_or_else(|| panic!("no {key} in {metrics}"))
            .parse()
            .unwrap()
    }

    /// The soft open-file limit the process runs with now.
    pub fn soft_nofile(&self) -> u64 {
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", self.pid())).unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap();
        line.split_whitespace().nth(3).unwrap().parse().unwrap()
    }

    /// Peak resident memory so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// Open file descriptors.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// `kill -9`: no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether it is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    async fn wait_healthy(&self, http: &reqwest::Client) {
        let deadline = std::time::Instant::now() + READY_DEADLINE;
        while std::time::Instant::now() < deadline {
            if let Ok(r) = http.get(format!("{}/healthz", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("relay did not become healthy: {}", self.log());
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `kB` field of `/proc/PID/status`.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A port free at the moment of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
