use std::collections::BTreeMap;
use std::path::Path;

use atelier_jobs::JobKind;
use serde::{Deserialize, Serialize};

use crate::{ConfigError, HumanDuration};

/// Queue priority: a worker serving several queues takes from higher first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Medium,
    High,
}

/// Retry delay after attempt `n`: `initial × factor^(n-1)`, capped, with jitter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    pub initial: HumanDuration,
    #[serde(default = "default_backoff_max")]
    pub max: HumanDuration,
    #[serde(default = "default_factor")]
    pub factor: f64,
    /// Fraction of the delay randomised away (0 = none, 0.5 = ±50 %).
    #[serde(default = "default_jitter")]
    pub jitter: f64,
}

fn default_backoff_max() -> HumanDuration {
    HumanDuration::secs(300)
}
fn default_prefetch() -> u32 {
    1
}
fn default_factor() -> f64 {
    2.0
}
fn default_jitter() -> f64 {
    0.2
}

impl Backoff {
    /// Delay before the retry that follows failed attempt `attempt` (1-based),
    /// given a uniform random `unit` in [0, 1).
    pub fn delay(&self, attempt: u32, unit: f64) -> std::time::Duration {
        let base = self.initial.get().as_secs_f64()
            * self.factor.powi(attempt.saturating_sub(1).min(60) as i32);
        let capped = base.min(self.max.get().as_secs_f64());
        let jittered = capped * (1.0 - self.jitter + 2.0 * self.jitter * unit);
        std::time::Duration::from_secs_f64(jittered.max(0.0))
    }
}

/// Scaling hints for operators and autoscalers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scaling {
    pub min_workers: u32,
    pub max_workers: u32,
    /// The backlog should clear within this time (`30s`, `5m`).
    #[schema(value_type = String)]
    pub target_latency: HumanDuration,
}

/// One queue as written in queues.toml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSpec {
    #[serde(skip_deserializing)]
    pub name: String,
    pub kinds: Vec<JobKind>,
    pub priority: Priority,
    /// Jobs one worker process runs at once from this queue.
    pub concurrency: u32,
    /// Jobs leased per round trip to Redis. Above 1 trades fairness between
    /// workers for throughput: right for many short jobs, wrong for long ones
    /// (a prefetched job waits for a slot while another worker may be idle).
    #[serde(default = "default_prefetch")]
    pub prefetch: u32,
    /// Total runs of a job, the first included.
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// A leased job whose worker stops renewing it is handed out again after
    /// this long (the crash-recovery bound).
    pub lease: HumanDuration,
    /// A single run is stopped after this long and counted as failed.
    pub timeout: HumanDuration,
    pub scaling: Scaling,
}

/// All queues, in descending priority order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueuesConfig {
    pub queues: Vec<QueueSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueuesFile {
    queues: BTreeMap<String, QueueSpec>,
}

impl QueuesConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parse and validate; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let file: QueuesFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        let mut queues: Vec<QueueSpec> = file
            .queues
            .into_iter()
            .map(|(name, mut q)| {
                q.name = name;
                q
            })
            .collect();
        queues.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.name.cmp(&b.name)));
        let config = QueuesConfig { queues };
        config.validate(origin)?;
        Ok(config)
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: origin.to_owned(),
            message,
        };
        if self.queues.is_empty() {
            return Err(invalid("no queues defined".into()));
        }
        for q in &self.queues {
            let at = |m: &str| invalid(format!("queues.{}: {m}", q.name));
            let name_ok = !q.name.is_empty()
                && q.name.len() <= 64
                && q.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            if !name_ok {
                return Err(at("name must be 1-64 of [a-z0-9_-]"));
            }
            if q.kinds.is_empty() {
                return Err(at("kinds must name at least one job kind"));
            }
            if !(1..=1024).contains(&q.concurrency) {
                return Err(at("concurrency must be between 1 and 1024"));
            }
            if !(1..=q.concurrency.max(1)).contains(&q.prefetch) {
                return Err(at("prefetch must be between 1 and concurrency"));
            }
            if !(1..=100).contains(&q.max_attempts) {
                return Err(at("max_attempts must be between 1 and 100"));
            }
            if q.backoff.initial > q.backoff.max {
                return Err(at("backoff.initial must not exceed backoff.max"));
            }
            if !(1.0..=10.0).contains(&q.backoff.factor) {
                return Err(at("backoff.factor must be between 1 and 10"));
            }
            if !(0.0..=1.0).contains(&q.backoff.jitter) {
                return Err(at("backoff.jitter must be between 0 and 1"));
            }
            if q.lease.get() < std::time::Duration::from_secs(1) {
                return Err(at("lease must be at least 1s"));
            }
            if q.timeout.get().is_zero() {
                return Err(at("timeout must be positive"));
            }
            if q.scaling.min_workers > q.scaling.max_workers {
                return Err(at(
                    "scaling.min_workers must not exceed scaling.max_workers",
                ));
            }
        }
        for &kind in JobKind::TEST {
            if self
                .queues
                .iter()
                .filter(|q| q.kinds.contains(&kind))
                .count()
                > 1
            {
                return Err(invalid(format!(
                    "job kind {kind} is carried by several queues"
                )));
            }
        }
        for &kind in JobKind::ALL {
            let carriers: Vec<&str> = self
                .queues
                .iter()
                .filter(|q| q.kinds.contains(&kind))
                .map(|q| q.name.as_str())
                .collect();
            match carriers.len() {
                1 => {}
                0 => return Err(invalid(format!("job kind {kind} is carried by no queue"))),
                _ => {
                    return Err(invalid(format!(
                        "job kind {kind} is carried by several queues: {}",
                        carriers.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }

    /// The queues as a queues.toml text (parses back to an equal config).
    pub fn to_toml(&self) -> String {
        let mut file = toml::Table::new();
        for q in &self.queues {
            let mut table = toml::Table::try_from(q).expect("queue specs serialise");
            table.remove("name");
            file.insert(q.name.clone(), toml::Value::Table(table));
        }
        let mut root = toml::Table::new();
        root.insert("queues".into(), toml::Value::Table(file));
        toml::to_string(&root).expect("tables serialise")
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut QueueSpec> {
        self.queues.iter_mut().find(|q| q.name == name)
    }

    pub fn get(&self, name: &str) -> Option<&QueueSpec> {
        self.queues.iter().find(|q| q.name == name)
    }

    /// The queue that carries `kind` (validation guarantees exactly one for
    /// every product kind).
    pub fn for_kind(&self, kind: JobKind) -> &QueueSpec {
        self.find_for_kind(kind)
            .expect("validated: every kind has a queue")
    }

    /// The queue that carries `kind`, if any (test-only kinds may have none).
    pub fn find_for_kind(&self, kind: JobKind) -> Option<&QueueSpec> {
        self.queues.iter().find(|q| q.kinds.contains(&kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../queues.toml");

    #[test]
    fn a_config_written_back_parses_to_the_same_queues() {
        let q = QueuesConfig::parse(SHIPPED, "queues.toml").unwrap();
        let again = QueuesConfig::parse(&q.to_toml(), "written").unwrap();
        assert_eq!(again, q);
    }

    #[test]
    fn shipped_queues_toml_is_valid_and_carries_the_seed_defaults() {
        let q = QueuesConfig::parse(SHIPPED, "queues.toml").unwrap();
        let avatar = q.get("avatar").unwrap();
        assert_eq!(avatar.concurrency, 5);
        assert_eq!(avatar.max_attempts, 3);
        assert_eq!(avatar.backoff.initial, HumanDuration::secs(2));
        assert_eq!(
            (avatar.scaling.min_workers, avatar.scaling.max_workers),
            (2, 10)
        );
        let render = q.get("render").unwrap();
        assert_eq!((render.concurrency, render.max_attempts), (10, 2));
        assert_eq!(
            (render.scaling.min_workers, render.scaling.max_workers),
            (3, 15)
        );
        assert_eq!(q.get("export").unwrap().concurrency, 3);
        assert_eq!(q.get("email").unwrap().max_attempts, 5);
        assert_eq!(q.for_kind(JobKind::PhotoIngest).name, "ingest");
        // Sorted by priority: the first queue is a high one.
        assert_eq!(q.queues[0].priority, Priority::High);
    }

    #[test]
    fn a_kind_in_two_queues_or_none_is_refused_with_its_name() {
        let doubled = SHIPPED.replace(
            "kinds = [\"notify.email\"]",
            "kinds = [\"notify.email\", \"export\"]",
        );
        let err = QueuesConfig::parse(&doubled, "q.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("export") && err.contains("several"), "{err}");
        let missing = SHIPPED.replace(", \"vision.embed\"]", "]");
        let err = QueuesConfig::parse(&missing, "q.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("vision.embed") && err.contains("no queue"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_name_the_queue_and_field() {
        let bad = SHIPPED.replacen("concurrency = 5", "concurrency = 0", 1);
        let err = QueuesConfig::parse(&bad, "q.toml").unwrap_err().to_string();
        assert!(err.contains("queues.avatar: concurrency"), "{err}");
        let bad = SHIPPED.replacen("lease = \"9s\"", "lease = \"soon\"", 1);
        assert_ne!(bad, SHIPPED, "the shipped lease changed: update this test");
        let err = QueuesConfig::parse(&bad, "q.toml").unwrap_err().to_string();
        assert!(err.contains("soon"), "{err}");
        let bad = SHIPPED.replacen("kinds = [\"avatar.build\"]", "kinds = [\"avatar.bild\"]", 1);
        assert!(QueuesConfig::parse(&bad, "q.toml").is_err());
    }

    #[test]
    fn backoff_grows_exponentially_within_jitter_and_cap() {
        let b = Backoff {
            initial: HumanDuration::secs(2),
            max: HumanDuration::secs(60),
            factor: 2.0,
            jitter: 0.2,
        };
        for attempt in 1..=10u32 {
            let nominal = (2.0 * 2f64.powi(attempt as i32 - 1)).min(60.0);
            for unit in [0.0, 0.5, 0.999] {
                let d = b.delay(attempt, unit).as_secs_f64();
                assert!(
                    d >= nominal * 0.8 - 1e-9 && d <= nominal * 1.2 + 1e-9,
                    "{attempt} {d}"
                );
            }
        }
    }
}
