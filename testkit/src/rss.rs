//! A process's resident memory, from `/proc/<pid>/status` (Linux only): read once, or the peak
//! polled while a load runs. Used by the testkit binary's bench and soak and by relay-server's
//! `hold` bench.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// `VmRSS` (now) and `VmHWM` (peak so far) in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`, KiB.
    pub rss_kib: u64,
    /// `VmHWM`, KiB.
    pub hwm_kib: u64,
}

/// The memory of process `pid`; `None` when it is gone (or not on Linux).
pub fn read(pid: u32) -> Option<Memory> {
    parse_status(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

fn parse_status(status: &str) -> Option<Memory> {
    let field = |name: &str| {
        let value = status.lines().find_map(|line| line.strip_prefix(name))?;
        value.trim().trim_end_matches("kB").trim().parse().ok()
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// KiB as MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Polls a process's `VmRSS` every 20 ms in a thread and keeps the largest value.
#[derive(Debug)]
pub struct Sampler {
    stop: Arc<AtomicBool>,
    peak_kib: Arc<AtomicU64>,
    thread: JoinHandle<()>,
}

impl Sampler {
    /// Starts polling process `pid`.
    pub fn start(pid: u32) -> Sampler {
        let (stop, peak_kib) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let (stopped, peak) = (Arc::clone(&stop), Arc::clone(&peak_kib));
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                if let Some(memory) = read(pid) {
                    peak.fetch_max(memory.rss_kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Sampler {
            stop,
            peak_kib,
            thread,
        }
    }

    /// The largest `VmRSS` seen, in KiB.
    pub fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peak_kib.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_high_water_mark() {
        let status = "Name:\trelay-server\nVmHWM:\t   12345 kB\nVmRSS:\t    9876 kB\nThreads:\t3\n";
        let expected = Memory {
            rss_kib: 9876,
            hwm_kib: 12345,
        };
        assert_eq!(parse_status(status), Some(expected));
        assert_eq!(parse_status("Name:\tx\nVmRSS:\t1 kB\n"), None);
        assert_eq!(parse_status(""), None);
        let me = read(std::process::id()).unwrap();
        assert!(me.rss_kib > 0 && me.hwm_kib >= me.rss_kib);
    }
}
