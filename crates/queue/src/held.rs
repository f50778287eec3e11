//! What a worker holds: its leases by token, each renewed (with the worker's
//! heartbeat) until the [`Lease`](crate::Lease) holding it is dropped, and
//! told it is lost when Redis says so or shortly before it could expire
//! unrenewed.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::RedisQueue;
use crate::queue::LeasedJob;

/// The leases this process holds (running or prefetched), by token; each is
/// renewed until the [`Lease`] holding it is dropped, however the handler
/// ends.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Mutex<HashMap<String, Held>>>);

struct Held {
    id: String,
    /// Fired when the lease is lost: the run must stop.
    lost: CancellationToken,
    /// When the last renewal that reached Redis was sent (or the lease
    /// taken): Redis's deadline is at least this plus the lease.
    renewed: Instant,
}

impl InFlight {
    /// Hold `job`, leased by a request sent at `sent` (Redis's deadline is
    /// at least that plus the lease).
    pub(crate) fn hold(
        &self,
        job: &LeasedJob,
        sent: Instant,
    ) -> (InFlightGuard, CancellationToken) {
        let lost = CancellationToken::new();
        self.0.lock().expect("in-flight set").insert(
            job.token.clone(),
            Held {
                id: job.id.clone(),
                lost: lost.clone(),
                renewed: sent,
            },
        );
        let guard = InFlightGuard {
            set: self.clone(),
            token: job.token.clone(),
        };
        (guard, lost)
    }

    /// `(id, token)` of every lease held.
    pub fn leases(&self) -> Vec<(String, String)> {
        self.0
            .lock()
            .expect("in-flight set")
            .iter()
            .map(|(token, held)| (held.id.clone(), token.clone()))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.0.lock().expect("in-flight set").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A renewal sent at `sent` reached Redis: the leases in `sent_for`
    /// are extended, except those whose token is `lost`, whose runs are
    /// told to stop.
    pub(crate) fn renewed(&self, sent: Instant, sent_for: &[(String, String)], lost: &[String]) {
        let mut set = self.0.lock().expect("in-flight set");
        for (id, token) in sent_for {
            let Some(held) = set.get_mut(token) else {
                continue;
            };
            if lost.contains(token) {
                if !held.lost.is_cancelled() {
                    tracing::warn!(job = %id, "lease lost: the job was handed to another worker or left the queue");
                }
                held.lost.cancel();
            } else {
                held.renewed = held.renewed.max(sent);
            }
        }
    }

    /// A lease not renewed for `term` may soon run elsewhere: its run is
    /// told to stop.
    pub(crate) fn expire_unrenewed(&self, term: Duration) {
        let set = self.0.lock().expect("in-flight set");
        for held in set.values() {
            if held.renewed.elapsed() >= term && !held.lost.is_cancelled() {
                tracing::warn!(job = %held.id, "lease not renewed within its term; stopping the run");
                held.lost.cancel();
            }
        }
    }

    /// When the first held lease not yet lost runs out of `term`.
    pub(crate) fn earliest_deadline(&self, term: Duration) -> Option<Instant> {
        let set = self.0.lock().expect("in-flight set");
        set.values()
            .filter(|h| !h.lost.is_cancelled())
            .map(|h| h.renewed + term)
            .min()
    }
}

pub(crate) struct InFlightGuard {
    set: InFlight,
    token: String,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Ok(mut set) = self.set.0.lock() {
            set.remove(&self.token);
        }
    }
}

/// How long before Redis's deadline a holder stops a run it could not
/// renew: a tenth of the lease, at most a second.
fn safety_margin(lease: Duration) -> Duration {
    (lease / 10).min(Duration::from_secs(1))
}

/// Renew every held lease each lease/3; tell runs whose lease was lost to
/// stop, and, while Redis cannot be reached, stop each run shortly before
/// its lease could have expired in Redis (by then another worker may hold
/// the job). The loop wakes at the next renewal or the earliest such
/// deadline, whichever comes first.
pub(crate) async fn renew_leases(queue: RedisQueue, worker: String, in_flight: InFlight) {
    let every = queue.renew_interval();
    let lease = queue.spec().lease.get();
    let term = lease.saturating_sub(safety_margin(lease));
    let mut next_renewal = Instant::now();
    loop {
        if Instant::now() >= next_renewal {
            let leases = in_flight.leases();
            let sent = Instant::now();
            next_renewal = sent + every;
            // Bounded so a stalled connection cannot hold back the expiry
            // check below past the earliest deadline.
            let wait = in_flight
                .earliest_deadline(term)
                .map_or(every, |d| d.saturating_duration_since(sent).min(every))
                .max(Duration::from_millis(10));
            match tokio::time::timeout(wait, queue.renew(&worker, &leases)).await {
                Ok(Ok(lost)) => in_flight.renewed(sent, &leases, &lost),
                Ok(Err(error)) => {
                    tracing::warn!(queue = queue.name(), %error, "lease renewal failed")
                }
                Err(_) => tracing::warn!(queue = queue.name(), "lease renewal timed out"),
            }
        }
        in_flight.expire_unrenewed(term);
        let wake = in_flight
            .earliest_deadline(term)
            .map_or(next_renewal, |d| d.min(next_renewal));
        tokio::time::sleep_until(wake.into()).await;
    }
}
