//! Every metric the backbone records, in one place: its name, type, help
//! and label names. Processes register the whole catalogue at start-up
//! ([`crate::Registry::with`]), which refuses a name given twice with
//! another definition; call sites name a metric by its constant and give
//! its label values in the declared order.

/// How a metric's value moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    /// Durations in seconds, in [`crate::DURATION_BUCKETS`].
    Histogram,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One metric's definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub kind: MetricKind,
    pub help: &'static str,
    pub labels: &'static [&'static str],
}

const fn counter(
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
) -> Metric {
    Metric {
        name,
        kind: MetricKind::Counter,
        help,
        labels,
    }
}

const fn gauge(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Metric {
    Metric {
        name,
        kind: MetricKind::Gauge,
        help,
        labels,
    }
}

const fn histogram(
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
) -> Metric {
    Metric {
        name,
        kind: MetricKind::Histogram,
        help,
        labels,
    }
}

// The intake: requests, submissions, the outbox and the reconciler.

pub const HTTP_REQUESTS: Metric = counter(
    "atelier_http_requests_total",
    "HTTP requests served, by route and status",
    &["method", "route", "status"],
);
pub const HTTP_REQUEST_DURATION: Metric = histogram(
    "atelier_http_request_duration_seconds",
    "HTTP request latency",
    &["route"],
);
pub const JOBS_SUBMITTED: Metric = counter(
    "atelier_jobs_submitted_total",
    "Jobs accepted at intake, by kind",
    &["kind"],
);
pub const OUTBOX_RELAYED: Metric = counter(
    "atelier_outbox_relayed_total",
    "Jobs pushed to their queue by the outbox relay",
    &[],
);
pub const RECONCILED_JOBS: Metric = counter(
    "atelier_reconciled_jobs_total",
    "Jobs the reconciler repaired, by action",
    &["action"],
);
pub const FLOW_RELEASE_LATENCY: Metric = histogram(
    "atelier_flow_release_latency_seconds",
    "From the transaction that released a flow's node (its last dependency ending) to the node's push to its queue",
    &["kind"],
);
pub const EVENT_SOCKET_LAGGED: Metric = counter(
    "atelier_event_socket_lagged_total",
    "Times a socket fell behind the live buffer and replayed the gap from the log",
    &[],
);
pub const EVENT_SOCKET_RESUBSCRIBED: Metric = counter(
    "atelier_event_socket_resubscribed_total",
    "Times a socket replayed from its last event after the live subscription came back",
    &[],
);

// The intake at each scrape: dependencies and queues (read from Redis).

pub const DEPENDENCY_UP: Metric = gauge(
    "atelier_dependency_up",
    "Whether the dependency answered its check at this scrape (1) or not (0)",
    &["dependency"],
);
pub const DEPENDENCY_CHECK: Metric = gauge(
    "atelier_dependency_check_seconds",
    "How long the dependency's check took at this scrape",
    &["dependency"],
);
pub const QUEUE_DEPTH: Metric = gauge(
    "atelier_queue_depth",
    "Jobs waiting (ready or in retry backoff)",
    &["queue"],
);
pub const FLOWS: Metric = gauge(
    "atelier_flows",
    "Flows by state (read from PostgreSQL at this scrape)",
    &["status"],
);
pub const FLOW_NODES_WAITING: Metric = gauge(
    "atelier_flow_nodes_waiting",
    "Flow nodes waiting on their dependencies, by kind (in PostgreSQL, not yet in any queue: queue depth counts released nodes only)",
    &["kind"],
);
pub const QUEUE_IN_FLIGHT: Metric = gauge(
    "atelier_queue_in_flight",
    "Jobs leased to workers",
    &["queue"],
);
pub const QUEUE_DEAD: Metric = gauge("atelier_queue_dead", "Jobs in the dead set", &["queue"]);
pub const QUEUE_OLDEST_AGE: Metric = gauge(
    "atelier_queue_oldest_age_seconds",
    "Age of the oldest waiting job",
    &["queue"],
);
pub const QUEUE_LIVE_WORKERS: Metric = gauge(
    "atelier_queue_live_workers",
    "Workers that renewed their leases within the last lease period",
    &["queue"],
);
pub const QUEUE_SERVICE_TIME: Metric = gauge(
    "atelier_queue_service_time_seconds",
    "Moving average of handler run time",
    &["queue"],
);
pub const QUEUE_RECOMMENDED_WORKERS: Metric = gauge(
    "atelier_queue_recommended_workers",
    "Workers needed to clear the backlog within the queue's target latency (scale on this)",
    &["queue"],
);
pub const QUEUE_JOBS_SETTLED: Metric = gauge(
    "atelier_queue_jobs_settled",
    "Jobs settled since the queue was created, by outcome (cluster-wide, read from Redis)",
    &["queue", "outcome"],
);

// Workers: runs, their time and cost, fencing.

pub const JOB_ATTEMPTS: Metric = counter(
    "atelier_job_attempts_total",
    "Runs started (first attempts and retries)",
    &["queue", "kind"],
);
pub const WORKER_BUSY: Metric = gauge(
    "atelier_worker_busy_ratio",
    "Slots of this worker running a job, as a fraction of the queue's concurrency",
    &["queue"],
);
pub const JOBS: Metric = counter(
    "atelier_jobs_total",
    "Runs ended, by queue, kind and outcome",
    &["queue", "kind", "outcome"],
);
pub const JOB_DURATION: Metric = histogram(
    "atelier_job_duration_seconds",
    "Handler run time",
    &["queue", "kind"],
);
pub const JOB_WALL_SECONDS: Metric = counter(
    "atelier_job_wall_seconds_total",
    "Wall time spent running jobs",
    &["queue", "kind"],
);
pub const JOB_CPU_SECONDS: Metric = counter(
    "atelier_job_cpu_seconds_total",
    "CPU time measured in jobs' compute sections",
    &["queue", "kind"],
);
pub const JOB_BYTES_WRITTEN: Metric = counter(
    "atelier_job_bytes_written_total",
    "Bytes jobs wrote to object storage",
    &["queue", "kind"],
);
pub const STALE_SETTLEMENTS: Metric = counter(
    "atelier_stale_settlements_total",
    "Settlements a worker attempted after losing the job's lease (refused)",
    &["queue"],
);

/// The catalogue, as processes register it.
pub const ALL: &[&Metric] = &[
    &HTTP_REQUESTS,
    &HTTP_REQUEST_DURATION,
    &JOBS_SUBMITTED,
    &OUTBOX_RELAYED,
    &FLOW_RELEASE_LATENCY,
    &RECONCILED_JOBS,
    &EVENT_SOCKET_LAGGED,
    &EVENT_SOCKET_RESUBSCRIBED,
    &DEPENDENCY_UP,
    &DEPENDENCY_CHECK,
    &QUEUE_DEPTH,
    &FLOWS,
    &FLOW_NODES_WAITING,
    &QUEUE_IN_FLIGHT,
    &QUEUE_DEAD,
    &QUEUE_OLDEST_AGE,
    &QUEUE_LIVE_WORKERS,
    &QUEUE_SERVICE_TIME,
    &QUEUE_RECOMMENDED_WORKERS,
    &QUEUE_JOBS_SETTLED,
    &JOB_ATTEMPTS,
    &WORKER_BUSY,
    &JOBS,
    &JOB_DURATION,
    &JOB_WALL_SECONDS,
    &JOB_CPU_SECONDS,
    &JOB_BYTES_WRITTEN,
    &STALE_SETTLEMENTS,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_follows_prometheus_naming() {
        for m in ALL {
            assert!(m.name.starts_with("atelier_"), "{}", m.name);
            match m.kind {
                MetricKind::Counter => assert!(m.name.ends_with("_total"), "{}", m.name),
                MetricKind::Histogram => assert!(m.name.ends_with("_seconds"), "{}", m.name),
                MetricKind::Gauge => assert!(!m.name.ends_with("_total"), "{}", m.name),
            }
            assert!(!m.help.is_empty() && !m.help.ends_with('.'), "{}", m.name);
        }
        crate::Registry::with(ALL).expect("the catalogue registers");
    }
}
