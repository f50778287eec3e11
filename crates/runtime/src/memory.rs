//! The memory guard (`worker.max_rss`): native libraries (ONNX Runtime,
//! codecs) can leak or fragment, so past the bound a worker stops leasing,
//! finishes what it holds and exits cleanly for its supervisor to start a
//! fresh one, as Celery's `max_memory_per_child` does.
use std::time::Duration;

/// Resident set size of this process, from `/proc/self/status` (Linux).
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resolves once the process's RSS has exceeded `limit` (checked every
/// `every`, the first time after `every`); never resolves where RSS cannot
/// be read.
pub async fn exceeded(limit: u64, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        match rss_bytes() {
            Some(rss) if rss > limit => {
                tracing::warn!(
                    rss_bytes = rss,
                    max_rss_bytes = limit,
                    "memory bound exceeded: no new jobs; exiting once in-flight jobs finish"
                );
                return;
            }
            Some(_) => {}
            None => {
                tracing::warn!("RSS unreadable on this platform; worker.max_rss not enforced");
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_resident_set_from_proc_status() {
        let status = "Name:\tw\nVmPeak:\t  9000 kB\nVmRSS:\t   1536 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(1536 * 1024));
        assert_eq!(parse_vm_rss("Name:\tw\n"), None);
        // This very process has a resident set.
        assert!(rss_bytes().is_some_and(|b| b > 1024 * 1024));
    }
}
