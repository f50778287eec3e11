//! Queue semantics on the real Redis: attempts, leases, priorities, depth.
use std::time::Duration;

use atelier_config::{HumanDuration, QueuesConfig};
use atelier_queue::{Dead, Deferred, Presence, RedisQueue, RetryOutcome, Settled};
use atelier_tests::redis_url;

async fn queue(lease: &str, max_attempts: u32) -> RedisQueue {
    let prefix = format!("qt_{}", uuid::Uuid::new_v4().simple());
    named_queue("ingest", &prefix, lease, max_attempts).await
}

/// Queue `name` of the shipped queues.toml under a test prefix.
async fn named_queue(name: &str, prefix: &str, lease: &str, max_attempts: u32) -> RedisQueue {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../queues.toml")).unwrap();
    let mut spec = QueuesConfig::parse(&text, "queues.toml")
        .unwrap()
        .get(name)
        .unwrap()
        .clone();
    spec.lease = HumanDuration(atelier_config::parse_duration(lease).unwrap());
    spec.max_attempts = max_attempts;
    let (_, conn) = atelier_queue::connect(&redis_url(), false).await.unwrap();
    RedisQueue::new(conn, prefix, spec)
}

#[tokio::test]
async fn max_attempts_are_honoured_exactly() {
    let q = queue("30s", 3).await;
    assert!(q.enqueue("job-1", "{}", 5).await.unwrap());
    let mut runs = 0;
    loop {
        let batch = q.lease("w", 1).await.unwrap();
        let Some(job) = batch.jobs.into_iter().next() else {
            break;
        };
        runs += 1;
        assert_eq!(job.attempt, runs);
        let outcome = q.retry_after(&job, Duration::ZERO, "boom").await.unwrap();
        if outcome == RetryOutcome::Dead {
            break;
        }
        assert_eq!(outcome, RetryOutcome::Scheduled);
    }
    assert_eq!(runs, 3);
    let stats = q.stats().await.unwrap();
    assert_eq!((stats.dead, stats.depth(), stats.in_flight), (1, 0, 0));
    assert_eq!(stats.retried_total, 2);
}

#[tokio::test]
async fn an_abandoned_lease_runs_again_and_dies_on_its_last_attempt() {
    let q = queue("1s", 2).await;
    q.enqueue("job-1", "payload", 5).await.unwrap();
    let first = q.lease("w1", 1).await.unwrap().jobs;
    assert_eq!(first[0].attempt, 1);
    // Nobody renews it: the worker is gone.
    assert!(q.lease("w2", 1).await.unwrap().jobs.is_empty());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = q.lease("w2", 1).await.unwrap();
    assert_eq!(second.jobs.len(), 1);
    assert_eq!(
        (second.jobs[0].id.as_str(), second.jobs[0].attempt),
        ("job-1", 2)
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let third = q.lease("w3", 1).await.unwrap();
    assert!(third.jobs.is_empty());
    assert_eq!(third.dead.len(), 1);
    assert_eq!(
        (third.dead[0].payload.as_str(), third.dead[0].attempts),
        ("payload", 2)
    );
    assert_eq!(q.stats().await.unwrap().dead, 1);
}

#[tokio::test]
async fn renewal_keeps_a_lease_alive() {
    let q = queue("1s", 3).await;
    q.enqueue("job-1", "{}", 5).await.unwrap();
    let job = q.lease("w1", 1).await.unwrap().jobs.remove(0);
    let held = [(job.id.clone(), job.token.clone())];
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(q.renew("w1", &held).await.unwrap().is_empty(), "still held");
        // A guessed token cannot renew (or steal) it.
        let forged = [(job.id.clone(), format!("{}x", job.token))];
        assert_eq!(
            q.renew("w2", &forged).await.unwrap(),
            vec![forged[0].1.clone()]
        );
        assert!(q.lease("w2", 1).await.unwrap().jobs.is_empty());
    }
    assert_eq!(q.ack(&job, None).await.unwrap(), Settled::Done);
    let stats = q.stats().await.unwrap();
    assert_eq!((stats.in_flight, stats.completed_total), (0, 1));
}

#[tokio::test]
async fn higher_priority_first_then_fifo() {
    let q = queue("30s", 3).await;
    for (id, prio) in [("a", 5), ("b", 9), ("c", 5), ("d", 0), ("e", 9)] {
        q.enqueue(id, "{}", prio).await.unwrap();
    }
    let mut order = Vec::new();
    while let Some(job) = q.lease("w", 1).await.unwrap().jobs.pop() {
        order.push(job.id);
    }
    assert_eq!(order, ["b", "e", "a", "c", "d"]);
}

#[tokio::test]
async fn enqueue_is_idempotent_by_id_and_depth_and_age_are_reported() {
    let q = queue("30s", 3).await;
    assert!(q.enqueue("x", "{}", 5).await.unwrap());
    assert!(!q.enqueue("x", "{}", 5).await.unwrap());
    tokio::time::sleep(Duration::from_millis(120)).await;
    q.enqueue("y", "{}", 5).await.unwrap();
    let stats = q.stats().await.unwrap();
    assert_eq!(stats.depth(), 2);
    assert!(stats.oldest_age_ms.unwrap() >= 100, "{stats:?}");
    q.pause().await.unwrap();
    assert!(q.lease("w", 1).await.unwrap().jobs.is_empty());
    q.resume().await.unwrap();
    assert_eq!(q.lease("w", 5).await.unwrap().jobs.len(), 2);
    assert_eq!(q.stats().await.unwrap().oldest_age_ms, None);
}

#[tokio::test]
async fn released_prefetch_runs_again_without_losing_an_attempt() {
    let q = queue("30s", 2).await;
    for id in ["a", "b", "c"] {
        q.enqueue(id, "{}", 5).await.unwrap();
    }
    let leased = q.lease("w1", 3).await.unwrap().jobs;
    assert_eq!(leased.len(), 3);
    let unstarted: Vec<&atelier_queue::LeasedJob> = leased[1..].iter().collect();
    // Only the holder (its tokens) can hand jobs back.
    let mut forged: Vec<atelier_queue::LeasedJob> = leased[1..].to_vec();
    for job in &mut forged {
        job.token.push('x');
    }
    assert_eq!(
        q.release(&forged.iter().collect::<Vec<_>>()).await.unwrap(),
        0
    );
    assert_eq!(q.release(&unstarted).await.unwrap(), 2);
    let again = q.lease("w2", 3).await.unwrap().jobs;
    let mut ids: Vec<&str> = again.iter().map(|j| j.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["b", "c"]);
    assert!(again.iter().all(|j| j.attempt == 1), "{again:?}");
    assert_eq!(q.stats().await.unwrap().in_flight, 3);
}

async fn kill_to_dead(q: &RedisQueue, id: &str) {
    q.enqueue(id, &format!("payload-{id}"), 5).await.unwrap();
    let job = q.lease("w", 1).await.unwrap().jobs.remove(0);
    assert_eq!(
        q.retry_after(&job, Duration::ZERO, "storage.unavailable: s3 down")
            .await
            .unwrap(),
        RetryOutcome::Dead
    );
}

#[tokio::test]
async fn dead_jobs_are_listed_retried_with_a_fresh_budget_and_purged() {
    let q = queue("30s", 1).await;
    kill_to_dead(&q, "a").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    kill_to_dead(&q, "b").await;
    let dead = q.dead_list(10).await.unwrap();
    let ids: Vec<&str> = dead.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["b", "a"], "newest first");
    assert_eq!(
        (dead[1].payload.as_str(), dead[1].attempts),
        ("payload-a", 1)
    );
    assert_eq!(dead[1].last_error, "storage.unavailable: s3 down");

    assert_eq!(
        q.dead_retry(Dead::Only(&["a".into(), "zzz".into()]))
            .await
            .unwrap(),
        ["a"]
    );
    let again = q.lease("w", 1).await.unwrap().jobs;
    assert_eq!((again[0].id.as_str(), again[0].attempt), ("a", 1));
    q.ack(&again[0], Some(Duration::from_millis(40)))
        .await
        .unwrap();
    assert_eq!(q.stats().await.unwrap().service_time_ms, Some(40.0));

    assert_eq!(q.dead_purge(Dead::All).await.unwrap(), ["b"]);
    assert!(q.dead_list(10).await.unwrap().is_empty());
    assert_eq!(q.stats().await.unwrap().dead, 0);
}

#[tokio::test]
async fn cancel_removes_waiting_jobs_and_flags_running_ones() {
    let q = queue("30s", 3).await;
    for id in ["waiting", "running"] {
        q.enqueue(id, "{}", if id == "running" { 9 } else { 1 })
            .await
            .unwrap();
    }
    let running = q.lease("w", 1).await.unwrap().jobs.remove(0);
    assert_eq!(running.id, "running");
    assert_eq!(
        q.cancel("waiting").await.unwrap(),
        atelier_queue::CancelOutcome::Removed
    );
    assert_eq!(
        q.cancel("running").await.unwrap(),
        atelier_queue::CancelOutcome::Flagged
    );
    assert_eq!(
        q.cancel("nobody").await.unwrap(),
        atelier_queue::CancelOutcome::Unknown
    );
    assert!(q.is_cancelled("running").await.unwrap());
    assert!(
        q.lease("w", 5).await.unwrap().jobs.is_empty(),
        "the cancelled job never runs"
    );
    assert_eq!(q.stats().await.unwrap().depth(), 0);
}

#[tokio::test]
async fn the_rate_limiter_admits_a_burst_then_asks_to_wait() {
    let (_, conn) = atelier_queue::connect(&redis_url(), false).await.unwrap();
    let prefix = format!("rl_{}", uuid::Uuid::new_v4().simple());
    // One token a second: slow enough that a loaded machine cannot refill
    // the bucket between the burst's calls.
    let limiter = atelier_queue::RateLimiter::new(conn, &prefix, 1.0, 5);
    for _ in 0..5 {
        assert_eq!(limiter.admit("k1").await.unwrap(), Ok(()));
    }
    let wait = limiter.admit("k1").await.unwrap().unwrap_err();
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(1),
        "{wait:?}"
    );
    // Buckets are per client.
    assert_eq!(limiter.admit("k2").await.unwrap(), Ok(()));
    tokio::time::sleep(wait + Duration::from_millis(50)).await;
    assert_eq!(limiter.admit("k1").await.unwrap(), Ok(()));
}

type Seen = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Consume `queues` as a worker does, running `run` on every lease.
fn consume<F, Fut>(
    queues: Vec<RedisQueue>,
    worker: &str,
    slots: usize,
    wakeups: Option<redis::Client>,
    run: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(atelier_queue::Lease) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use futures_util::FutureExt;
    let (dead_tx, _dead_rx) = tokio::sync::mpsc::unbounded_channel();
    let options = atelier_queue::ConsumeOptions {
        worker: worker.to_owned(),
        slots,
        max_idle: Duration::from_millis(20),
        drain: Duration::from_secs(1),
        wakeups,
    };
    let run = std::sync::Arc::new(run);
    let handler: atelier_queue::LeaseHandler = std::sync::Arc::new(move |lease| {
        let run = run.clone();
        async move { run(lease).await }.boxed()
    });
    tokio::spawn(async move {
        let _ =
            atelier_queue::consume(queues, options, dead_tx, handler, std::future::pending()).await;
    })
}

#[tokio::test]
async fn a_worker_on_several_queues_serves_the_higher_priority_first() {
    let prefix = format!("qt_{}", uuid::Uuid::new_v4().simple());
    let low = named_queue("export", &prefix, "30s", 3).await;
    let high = named_queue("ingest", &prefix, "30s", 3).await;
    // The backlog of the low queue is older.
    for i in 0..10 {
        low.enqueue(&format!("low{i}"), "{}", 5).await.unwrap();
    }
    for i in 0..10 {
        high.enqueue(&format!("high{i}"), "{}", 5).await.unwrap();
    }
    let seen: Seen = Default::default();
    let record = seen.clone();
    let running = consume(
        vec![low.clone(), high.clone()],
        "prio-worker",
        1,
        None,
        move |lease| {
            let seen = record.clone();
            async move {
                seen.lock().unwrap().push(lease.queue().name().to_owned());
                lease.ack(None).await.unwrap();
            }
        },
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while seen.lock().unwrap().len() < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            seen.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.abort();
    let order = seen.lock().unwrap().clone();
    assert_eq!(&order[..10], vec!["ingest"; 10].as_slice(), "{order:?}");
    assert_eq!(&order[10..], vec!["export"; 10].as_slice(), "{order:?}");
}

type Runs = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>;

/// The published apalis-redis crashes once ~8k jobs are due at once; this is
/// the operator's scale-from-zero case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_100k_drains_through_two_workers_each_job_run_once() {
    use futures_util::StreamExt;
    const JOBS: usize = 100_000;
    let prefix = format!("qt_{}", uuid::Uuid::new_v4().simple());
    let mut q = named_queue("ingest", &prefix, "30s", 3).await;
    futures_util::stream::iter(0..JOBS)
        .map(|i| {
            let q = q.clone();
            async move {
                q.enqueue(&format!("j{i}"), "{}", (i % 10) as u8)
                    .await
                    .unwrap()
            }
        })
        .buffer_unordered(64)
        .for_each(|queued| async move { assert!(queued) })
        .await;
    assert_eq!(q.stats().await.unwrap().depth(), JOBS as u64);

    // Two workers start on the full backlog, each with 32 slots.
    let (client, conn) = atelier_queue::connect(&redis_url(), false).await.unwrap();
    let mut spec = q.spec().clone();
    spec.concurrency = 32;
    spec.prefetch = 32;
    q = RedisQueue::new(conn, &prefix, spec);
    let runs: Runs = Default::default();
    let mut handles = Vec::new();
    for w in 0..2 {
        let runs = runs.clone();
        handles.push(consume(
            vec![q.clone()],
            &format!("backlog-{w}"),
            32,
            Some(client.clone()),
            move |lease| {
                let runs = runs.clone();
                async move {
                    *runs
                        .lock()
                        .unwrap()
                        .entry(lease.job.id.clone())
                        .or_default() += 1;
                    lease.ack(None).await.unwrap();
                }
            },
        ));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        let stats = q.stats().await.unwrap();
        if stats.completed_total == JOBS as u64 {
            assert_eq!((stats.depth(), stats.in_flight, stats.dead), (0, 0, 0));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not drained: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for h in handles {
        h.abort();
    }
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), JOBS, "every job ran");
    assert!(runs.values().all(|&n| n == 1), "no job ran twice");
}

#[tokio::test]
async fn a_deferred_job_waits_without_spending_an_attempt() {
    let q = queue("30s", 1).await;
    q.enqueue("d", "{}", 5).await.unwrap();
    let job = q.lease("w", 1).await.unwrap().jobs.remove(0);
    assert_eq!(job.attempt, 1);
    let delay = q
        .defer(&job, "database.unavailable: refused")
        .await
        .unwrap();
    assert_eq!(delay, Deferred::After(Duration::from_secs(1)));
    assert!(
        q.lease("w", 1).await.unwrap().jobs.is_empty(),
        "waits out its delay"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = q.lease("w", 1).await.unwrap().jobs.remove(0);
    assert_eq!(
        again.attempt, 1,
        "max_attempts is 1, yet the job runs again"
    );
    // The next deferral waits longer.
    assert_eq!(
        q.defer(&again, "again").await.unwrap(),
        Deferred::After(Duration::from_secs(2))
    );
    let stats = q.stats().await.unwrap();
    assert_eq!((stats.dead, stats.deferred_total), (0, 2));
}

/// BullMQ fences every completion with the lock token; so does this queue.
/// A worker whose lease expired while it stalled (and whose job another
/// worker now holds) can change nothing: every settlement says stale.
#[tokio::test]
async fn a_lease_that_expired_and_moved_cannot_be_settled_by_its_old_holder() {
    let q = queue("1s", 3).await;
    q.enqueue("job-1", "{}", 5).await.unwrap();
    let stalled = q.lease("w1", 1).await.unwrap().jobs.remove(0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let current = q.lease("w2", 1).await.unwrap().jobs.remove(0);
    assert_eq!((current.id.as_str(), current.attempt), ("job-1", 2));
    assert_ne!(current.token, stalled.token);

    // The old holder learns it lost the lease, and cannot settle in any way.
    let held = [(stalled.id.clone(), stalled.token.clone())];
    assert_eq!(
        q.renew("w1", &held).await.unwrap(),
        vec![stalled.token.clone()]
    );
    // Holding the old lease beside the new one (the old run still
    // stopping), only the old one is lost.
    let both = [
        (stalled.id.clone(), stalled.token.clone()),
        (current.id.clone(), current.token.clone()),
    ];
    assert_eq!(
        q.renew("w2", &both).await.unwrap(),
        vec![stalled.token.clone()]
    );
    assert_eq!(q.ack(&stalled, None).await.unwrap(), Settled::Stale);
    assert_eq!(q.fail(&stalled, None).await.unwrap(), Settled::Stale);
    assert_eq!(
        q.retry_after(&stalled, Duration::ZERO, "x").await.unwrap(),
        RetryOutcome::Stale
    );
    assert_eq!(q.defer(&stalled, "x").await.unwrap(), Deferred::Stale);
    assert_eq!(q.release(&[&stalled]).await.unwrap(), 0);
    let stats = q.stats().await.unwrap();
    assert_eq!(stats.stale_total, 4, "{stats:?}");
    assert_eq!(
        (stats.in_flight, stats.depth()),
        (1, 0),
        "the job is still the new holder's"
    );
    assert_eq!(stats.retried_total + stats.deferred_total, 0);

    // The current holder settles normally, exactly once.
    assert_eq!(q.ack(&current, None).await.unwrap(), Settled::Done);
    assert_eq!(q.ack(&current, None).await.unwrap(), Settled::Stale);
    let stats = q.stats().await.unwrap();
    assert_eq!((stats.completed_total, stats.in_flight), (1, 0));
}

/// What the reconciler sees, and how a job Redis lost comes back with the
/// attempts it had spent.
#[tokio::test]
async fn presence_tells_queued_dead_and_lost_jobs_apart() {
    let q = queue("30s", 1).await;
    kill_to_dead(&q, "dead").await;
    q.enqueue("waiting", "{}", 5).await.unwrap();
    let ids = ["waiting", "dead", "lost"].map(String::from);
    assert_eq!(
        q.presence(&ids).await.unwrap(),
        [Presence::Queued, Presence::Dead, Presence::Absent]
    );
    // Re-pushed after a loss with two attempts spent: the next run is the third.
    assert!(q.enqueue_spent("lost", "{}", 5, 2).await.unwrap());
    let mut leased = q.lease("w", 5).await.unwrap().jobs;
    leased.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        leased
            .iter()
            .map(|j| (j.id.as_str(), j.attempt))
            .collect::<Vec<_>>(),
        [("lost", 3), ("waiting", 1)]
    );
}

/// Background settles go to Redis in batches with the jobs that replace
/// them: 20,000 jobs through one worker of 4 slots, every job runs once, all
/// are counted settled, and the worker never hoards leases. It keeps at most
/// concurrency + prefetch − 1 jobs (running or waiting for a slot), plus one
/// fetch racing the settler; Redis also still counts as leased the finished
/// jobs whose batched settle is on the wire, at most as many again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_settles_run_every_job_once_and_hold_few_leases() {
    const JOBS: usize = 20_000;
    let prefix = format!("qt_{}", uuid::Uuid::new_v4().simple());
    let base = named_queue("ingest", &prefix, "30s", 3).await;
    let mut spec = base.spec().clone();
    spec.concurrency = 4;
    spec.prefetch = 4;
    let (client, conn) = atelier_queue::connect(&redis_url(), false).await.unwrap();
    let q = RedisQueue::new(conn, &prefix, spec);
    for i in 0..JOBS {
        q.enqueue(&format!("j{i}"), "{}", 5).await.unwrap();
    }
    let runs: Runs = Default::default();
    let counted = runs.clone();
    let worker = consume(vec![q.clone()], "bg", 4, Some(client), move |lease| {
        let runs = counted.clone();
        async move {
            *runs
                .lock()
                .unwrap()
                .entry(lease.job.id.clone())
                .or_default() += 1;
            lease.ack_in_background(None, |settled| {
                assert_eq!(settled.unwrap(), Settled::Done);
            });
        }
    });
    let mut most_held = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let stats = q.stats().await.unwrap();
        most_held = most_held.max(stats.in_flight);
        if stats.completed_total == JOBS as u64 {
            assert_eq!((stats.depth(), stats.in_flight), (0, 0));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{stats:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    worker.abort();
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), JOBS);
    assert!(runs.values().all(|&n| n == 1), "no job ran twice");
    let kept = 4 + 4 - 1 + 4;
    assert!(most_held <= 2 * kept, "{most_held} leases at once");
}
