//! What a running process has cost so far, from `/proc/PID`: CPU seconds (user + system, all
//! threads) and resident memory.

/// CPU time and RSS of one process at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// User + system CPU seconds since the process started.
    pub cpu_s: f64,
    /// Resident set size, KiB.
    pub rss_kib: u64,
}

/// `pid`'s usage now (zeros once it has exited).
pub fn usage(pid: u32) -> Usage {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces: fields are counted after its closing parenthesis, from
    // field 3 (state); utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i).and_then(|t| t.parse::<u64>().ok());
    let ticks = ticks(11).unwrap_or(0) + ticks(12).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    Usage {
        cpu_s: ticks as f64 / rustix::param::clock_ticks_per_second() as f64,
        rss_kib,
    }
}

/// CPU time of each thread of a process, in nanoseconds (`/proc/PID/task/TID/schedstat`): what
/// `usage` counts in clock ticks of 10 ms, exact enough to tell a window of a few milliseconds.
#[derive(Debug, Clone, Default)]
pub struct ThreadsCpu(std::collections::BTreeMap<u32, u64>);

impl ThreadsCpu {
    /// Each live thread of `pid` now (empty once it has exited).
    pub fn of(pid: u32) -> Self {
        let mut threads = std::collections::BTreeMap::new();
        let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return Self(threads);
        };
        for entry in dir.flatten() {
            let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse().ok()) else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("schedstat")).unwrap_or_default();
            if let Some(ns) = stat.split_whitespace().next().and_then(|n| n.parse().ok()) {
                threads.insert(tid, ns);
            }
        }
        Self(threads)
    }

    /// CPU seconds spent since `earlier` by the threads alive now (a thread that ended between
    /// the two took its last share with it, which a blocking pool's idle thread rarely has).
    pub fn since(&self, earlier: &Self) -> f64 {
        let ns: u64 = self
            .0
            .iter()
            .map(|(tid, now)| now.saturating_sub(earlier.0.get(tid).copied().unwrap_or(0)))
            .sum();
        ns as f64 / 1e9
    }
}
