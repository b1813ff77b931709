//! A pseudo-terminal for running `onair` as a user would: the program gets the terminal side as
//! its stdin, stdout, stderr and controlling terminal; a thread reads what it draws and discards
//! it, counting bytes, as a terminal emulator would consume it.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use rustix::fs::{Mode, OFlags};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{Winsize, tcsetwinsize};

/// The controlling side of a running program's terminal.
#[derive(Debug)]
pub struct Pty {
    master: File,
    output: Arc<AtomicU64>,
    reader: Option<JoinHandle<()>>,
}

impl Pty {
    /// Runs `cmd` on a new `cols` x `rows` terminal. The workspace forbids `unsafe`, so the new
    /// session and controlling terminal come from util-linux `setsid --ctty` (which execs in
    /// place: the child's pid is the program's).
    pub fn spawn(cmd: &Command, cols: u16, rows: u16) -> std::io::Result<(Child, Self)> {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let name = ptsname(&master, Vec::new())?;
        let slave: OwnedFd = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY,
            Mode::empty(),
        )?;
        tcsetwinsize(
            &master,
            Winsize {
                ws_row: rows,
                ws_col: cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            },
        )?;
        let mut session = Command::new("setsid");
        session
            .arg("--ctty")
            .arg(cmd.get_program())
            .args(cmd.get_args());
        session.env_clear();
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => session.env(k, v),
                None => session.env_remove(k),
            };
        }
        session
            .stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave));
        let child = session.spawn()?;
        let master = File::from(master);
        let output = Arc::new(AtomicU64::new(0));
        let reader = {
            let (mut master, output) = (master.try_clone()?, output.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                // EIO once the program has exited and the terminal side is closed.
                while let Ok(n @ 1..) = master.read(&mut buf) {
                    output.fetch_add(n as u64, Ordering::Relaxed);
                }
            })
        };
        Ok((
            child,
            Self {
                master,
                output,
                reader: Some(reader),
            },
        ))
    }

    /// Bytes the program has written to its terminal so far.
    pub fn output_bytes(&self) -> u64 {
        self.output.load(Ordering::Relaxed)
    }

    /// Types raw bytes, e.g. `b"\x03"` for Ctrl-C.
    pub fn type_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.master.write_all(bytes)
    }

    /// Waits for the reader to see the terminal close (after the program exited).
    pub fn finish(mut self) {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}
