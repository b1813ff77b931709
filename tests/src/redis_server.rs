//! A real `redis-server` (Debian's package; `.ci/run` installs it) on a free loopback port with
//! its own temporary directory, configured as `docs/scaling.md` asks for production: the
//! append-only file, fsynced before each answer; plain, or TLS only (`rediss://`, a certificate
//! from a throw-away CA). Killed when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::relay_process::free_port;
use crate::test_ca::{self, CertFiles};

/// A Redis server process.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
    /// TLS only, with these files, when set.
    tls: Option<CertFiles>,
}

impl RedisServer {
    /// Starts one and waits until it answers `PING`.
    pub async fn start() -> Self {
        Self::launched(false).await
    }

    /// One that speaks only TLS, with a certificate for `localhost` from a CA of its own
    /// ([`RedisServer::ca_file`]); waits until it is ready.
    pub async fn start_tls() -> Self {
        Self::launched(true).await
    }

    async fn launched(tls: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut server = Self {
            child: None,
            port: free_port(),
            tls: tls.then(|| test_ca::write(dir.path(), "redis")),
            dir,
        };
        server.launch().await;
        server
    }

    /// `redis://127.0.0.1:PORT/0`, or `rediss://localhost:PORT/0` over TLS (the name its
    /// certificate is for).
    pub fn url(&self) -> String {
        match self.tls {
            Some(_) => format!("rediss://localhost:{}/0", self.port),
            None => format!("redis://127.0.0.1:{}/0", self.port),
        }
    }

    /// The CA its TLS certificate chains to.
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.tls.as_ref().map(|t| t.ca.clone())
    }

    /// Its pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// CPU time it has used so far (user + system), from `/proc`.
    pub fn cpu_time(&self) -> Duration {
        let Some(pid) = self.pid() else {
            return Duration::ZERO;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command name (which may hold spaces): utime and stime are the 12th
        // and 13th, in clock ticks (100 per second on Linux).
        let rest = stat.rsplit(')').next().unwrap_or_default();
        let ticks: u64 = rest
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|t| t.parse::<u64>().ok())
            .sum();
        Duration::from_millis(ticks * 10)
    }

    /// Its data directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// `kill -9`, as a crash would: no shutdown code runs, only what was fsynced survives.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory (its append-only file), once killed.
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }

    /// Sends one command (RESP) and returns the raw reply (a plain server's).
    pub async fn command(&self, args: &[&str]) -> String {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .unwrap();
        let mut request = format!("*{}\r\n", args.len());
        for a in args {
            request.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut reply = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut reply))
            .await
            .expect("redis answers")
            .unwrap();
        String::from_utf8_lossy(&reply[..n]).into_owned()
    }

    async fn launch(&mut self) {
        let dir = self.dir.path();
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        match &self.tls {
            None => command.args(["--port", &port]),
            Some(t) => command
                .args([
                    "--port",
                    "0",
                    "--tls-port",
                    &port,
                    "--tls-auth-clients",
                    "no",
                ])
                .arg("--tls-cert-file")
                .arg(&t.cert)
                .arg("--tls-key-file")
                .arg(&t.key)
                .arg("--tls-ca-cert-file")
                .arg(&t.ca),
        };
        let child = command
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir)
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .args(["--daemonize", "no", "--logfile"])
            .arg(dir.join("redis.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}): install it (`apt-get install redis-server`); \
                     .ci/run does"
                )
            });
        self.child = Some(child);
        if self.tls.is_some() {
            // No plain PING over TLS: its log says when it listens.
            return wait_for_log(&dir.join("redis.log")).await;
        }
        for _ in 0..500 {
            if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await {
                let _ = s.write_all(b"PING\r\n").await;
                let mut buf = [0u8; 64];
                if let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await
                    && buf[..n].starts_with(b"+PONG")
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "redis-server did not answer: {}",
            std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default()
        );
    }
}

/// Until redis-server's log says it accepts connections.
async fn wait_for_log(log: &std::path::Path) {
    for _ in 0..500 {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("Ready to accept connections") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "redis-server did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
