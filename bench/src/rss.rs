//! Resident memory of the processes under test, read from `/proc/PID/status` (`VmRSS`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// `VmRSS` of `pid` in KiB, or `None` when it cannot be read (no such process, not Linux).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

/// The `VmRSS:` line of a `/proc/PID/status` text, in KiB.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// KiB to MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

struct Watched {
    pid: u32,
    peak: AtomicU64,
}

/// Samples the RSS of a few processes every 20 ms on its own thread and keeps each one's peak.
pub struct Watch {
    watched: Arc<Vec<Watched>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watch {
    /// Starts sampling `pids`.
    pub fn start(pids: &[u32]) -> Self {
        let watched: Arc<Vec<Watched>> = Arc::new(
            pids.iter()
                .map(|&pid| Watched {
                    pid,
                    peak: AtomicU64::new(0),
                })
                .collect(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let watched = Arc::clone(&watched);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for w in watched.iter() {
                        if let Some(kib) = rss_kib(w.pid) {
                            w.peak.fetch_max(kib, Ordering::Relaxed);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Self {
            watched,
            stop,
            thread: Some(thread),
        }
    }

    /// The peak RSS (KiB) of `pid` since the last call (or the start), and resets it to the current
    /// value.
    pub fn take_peak(&self, pid: u32) -> Option<u64> {
        let w = self.watched.iter().find(|w| w.pid == pid)?;
        let now = rss_kib(pid).unwrap_or(0);
        let peak = w.peak.swap(now, Ordering::Relaxed).max(now);
        (peak > 0).then_some(peak)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_kib() {
        let status = "Name:\tanvil-router\nVmPeak:\t  900 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(12345));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn our_own_rss_is_visible_and_watched() {
        let me = std::process::id();
        let now = rss_kib(me).unwrap();
        assert!(now > 100, "{now}");
        let watch = Watch::start(&[me]);
        std::thread::sleep(Duration::from_millis(50));
        assert!(watch.take_peak(me).unwrap() >= now / 2);
        assert_eq!(watch.take_peak(1 << 30), None);
    }
}
