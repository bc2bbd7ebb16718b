//! What the machine did while a benchmark ran: CPU used by this process (and the child processes
//! it started for the measurement) against CPU used by everything else on the machine ("foreign"
//! CPU, from `/proc/stat`), and resident memory. Linux only; a missing `/proc` reads as zero.

use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc` CPU counters (`getconf CLK_TCK`, 100 on every Linux seen).
fn clk_tck() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|v| *v > 0.0)
            .unwrap_or(100.0)
    })
}

/// Busy ticks of the whole machine: every state but idle and iowait.
fn machine_busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = stat.lines().next() else {
        return 0;
    };
    let v: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 8 {
        return 0;
    }
    v.iter().sum::<u64>() - v[3] - v[4]
}

/// `utime + stime` of `pid` (`self` for this process), plus reaped children's ticks when
/// `children` (a child started and waited for during the measurement is counted there).
fn process_ticks(pid: &str, children: bool) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0;
    };
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|x| x.parse().ok())
        .collect();
    if f.len() < 4 {
        return 0;
    }
    if children {
        f.iter().sum()
    } else {
        f[0] + f[1]
    }
}

/// Resident memory of `pid` (`self` for this process) in bytes.
pub fn rss_bytes(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Number of CPUs the machine shows.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// CPU used over one measurement, in cores (1.0 = one core busy for the whole time).
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct CpuUse {
    pub wall_s: f64,
    /// This process, its reaped children and the extra processes named at the start.
    pub own_cores: f64,
    /// Everything else on the machine.
    pub foreign_cores: f64,
}

/// Started before a measurement, read after it.
pub struct CpuMeter {
    tck: f64,
    t0: Instant,
    busy0: u64,
    own0: u64,
    extra: Vec<String>,
}

impl CpuMeter {
    /// Starts measuring; `extra` are pids of processes started for the benchmark that stay alive
    /// (their CPU is own, not foreign).
    pub fn start(extra: &[u32]) -> CpuMeter {
        let extra: Vec<String> = extra.iter().map(|p| p.to_string()).collect();
        let mut m = CpuMeter {
            tck: clk_tck(),
            t0: Instant::now(),
            busy0: 0,
            own0: 0,
            extra,
        };
        m.busy0 = machine_busy_ticks();
        m.own0 = m.own_ticks();
        m
    }

    fn own_ticks(&self) -> u64 {
        process_ticks("self", true)
            + self
                .extra
                .iter()
                .map(|p| process_ticks(p, false))
                .sum::<u64>()
    }

    /// The CPU used since the start.
    pub fn read(&self) -> CpuUse {
        let wall = self
            .t0
            .elapsed()
            .max(Duration::from_millis(1))
            .as_secs_f64();
        let busy = machine_busy_ticks().saturating_sub(self.busy0) as f64 / self.tck;
        let own = self.own_ticks().saturating_sub(self.own0) as f64 / self.tck;
        CpuUse {
            wall_s: wall,
            own_cores: own / wall,
            foreign_cores: (busy - own).max(0.0) / wall,
        }
    }
}

/// This process's own CPU time (all threads), for per-stage CPU cost.
pub fn self_cpu() -> Duration {
    Duration::from_secs_f64(process_ticks("self", false) as f64 / clk_tck())
}
