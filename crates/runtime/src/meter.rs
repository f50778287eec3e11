//! What a job costs and how it ended, recorded where the run ends: the
//! worker's Prometheus registry and the job row's `cost`.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use atelier_telemetry::{Registry, metrics};

/// Costs a handler adds up while it runs.
#[derive(Default)]
pub struct CostMeter {
    cpu_nanos: AtomicU64,
    bytes_written: AtomicU64,
}

impl CostMeter {
    pub fn add_cpu(&self, d: Duration) {
        self.cpu_nanos
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    pub fn add_bytes(&self, n: u64) {
        self.bytes_written.fetch_add(n, Ordering::Relaxed);
    }

    pub fn cpu_seconds(&self) -> f64 {
        self.cpu_nanos.load(Ordering::Relaxed) as f64 / 1e9
    }

    pub fn bytes(&self) -> u64 {
        self.bytes_written.load(Ordering::Relaxed)
    }
}

/// Jobs running now per queue, for the busy ratio.
#[derive(Default)]
pub struct Busy(std::sync::Mutex<std::collections::HashMap<String, u64>>);

impl Busy {
    /// Jobs running now, per queue (queues with none left out).
    pub fn snapshot(&self) -> std::collections::BTreeMap<String, u64> {
        let map = self.0.lock().expect("busy map");
        map.iter()
            .filter(|(_, n)| **n > 0)
            .map(|(q, n)| (q.clone(), *n))
            .collect()
    }

    fn change(&self, queue: &str, up: bool) -> u64 {
        let mut map = self.0.lock().expect("busy map");
        let n = map.entry(queue.to_owned()).or_default();
        *n = if up { *n + 1 } else { n.saturating_sub(1) };
        *n
    }
}

/// One run, from start to the end it records.
pub(crate) struct RunMeter {
    metrics: Arc<Registry>,
    busy: Arc<Busy>,
    queue: String,
    kind: String,
    concurrency: u32,
}

impl RunMeter {
    pub(crate) fn start(
        metrics: Arc<Registry>,
        busy: Arc<Busy>,
        queue: &str,
        kind: &str,
        concurrency: u32,
    ) -> Self {
        let meter = RunMeter {
            metrics,
            busy,
            queue: queue.to_owned(),
            kind: kind.to_owned(),
            concurrency: concurrency.max(1),
        };
        meter
            .metrics
            .add(&metrics::JOB_ATTEMPTS, &[&meter.queue, &meter.kind], 1.0);
        meter.set_busy(true);
        meter
    }

    fn set_busy(&self, up: bool) {
        let running = self.busy.change(&self.queue, up);
        self.metrics.set(
            &metrics::WORKER_BUSY,
            &[&self.queue],
            running as f64 / f64::from(self.concurrency),
        );
    }

    /// `outcome`: completed, failed, cancelled, retried or dead.
    pub(crate) fn finish(self, outcome: &str, ran: Duration, cost: &CostMeter) {
        let m = &self.metrics;
        let l = [self.queue.as_str(), self.kind.as_str()];
        m.add(&metrics::JOBS, &[l[0], l[1], outcome], 1.0);
        m.observe(&metrics::JOB_DURATION, &l, ran.as_secs_f64());
        m.add(&metrics::JOB_WALL_SECONDS, &l, ran.as_secs_f64());
        m.add(&metrics::JOB_CPU_SECONDS, &l, cost.cpu_seconds());
        m.add(&metrics::JOB_BYTES_WRITTEN, &l, cost.bytes() as f64);
        self.set_busy(false);
    }
}
