//! The scaling signal: how many workers a pool needs, from queue depth and
//! measured service time rather than a raw depth threshold. Pure arithmetic.
use std::time::Duration;

use serde::Serialize;

/// What the recommendation is computed from.
#[derive(Debug, Clone, Copy)]
pub struct ScaleInput {
    /// Jobs waiting (ready or in backoff).
    pub depth: u64,
    /// Jobs running now.
    pub in_flight: u64,
    /// Mean handler run time; `None` before any job finished.
    pub service_time: Option<Duration>,
    /// Jobs one worker runs at once.
    pub concurrency: u32,
    /// The backlog should clear within this.
    pub target_latency: Duration,
    pub min_workers: u32,
    pub max_workers: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recommendation {
    pub workers: u32,
    pub reason: String,
}

/// Workers needed so that (a) what runs now keeps running, and (b) all work
/// in the system, `depth + in_flight`, finishes within the target latency:
/// a worker clears `concurrency / service_time` jobs a second, so
/// `W = ⌈(depth + in_flight) · service_time / (concurrency · target)⌉`.
/// Clamped to the pool's bounds.
pub fn recommend(input: ScaleInput) -> Recommendation {
    let c = f64::from(input.concurrency.max(1));
    let work = input.depth + input.in_flight;
    let clamp = |w: f64| {
        (w.ceil() as u32).clamp(input.min_workers, input.max_workers.max(input.min_workers))
    };
    if work == 0 {
        return Recommendation {
            workers: input.min_workers,
            reason: "idle".into(),
        };
    }
    let Some(service) = input.service_time else {
        return Recommendation {
            workers: clamp(f64::from(input.max_workers)),
            reason: "work pending and no service time measured yet: scale out, then measure".into(),
        };
    };
    let s = service.as_secs_f64();
    let t = input.target_latency.as_secs_f64().max(1e-3);
    let busy = input.in_flight as f64 / c;
    let clear = work as f64 * s / (c * t);
    let workers = clamp(busy.max(clear));
    Recommendation {
        workers,
        reason: format!(
            "{work} jobs × {s:.3} s ÷ ({c} per worker × {t:.0} s target) = {clear:.2}; running now needs {busy:.2}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(depth: u64, in_flight: u64, service_ms: Option<u64>) -> ScaleInput {
        ScaleInput {
            depth,
            in_flight,
            service_time: service_ms.map(Duration::from_millis),
            concurrency: 5,
            target_latency: Duration::from_secs(60),
            min_workers: 2,
            max_workers: 10,
        }
    }

    #[test]
    fn backlog_over_target_latency() {
        // 600 jobs × 2 s / (5 × 60 s) = 4 workers.
        assert_eq!(recommend(input(600, 0, Some(2000))).workers, 4);
        // One more job tips it to 5.
        assert_eq!(recommend(input(601, 0, Some(2000))).workers, 5);
    }

    #[test]
    fn clamped_to_the_pool_bounds() {
        assert_eq!(recommend(input(0, 0, Some(2000))).workers, 2);
        assert_eq!(recommend(input(3, 0, Some(10))).workers, 2);
        assert_eq!(recommend(input(1_000_000, 0, Some(2000))).workers, 10);
    }

    #[test]
    fn running_work_is_never_starved() {
        // 40 running at concurrency 5 keeps 8 workers busy even if they are fast.
        assert_eq!(recommend(input(0, 40, Some(10))).workers, 8);
    }

    #[test]
    fn unknown_service_time_scales_out() {
        assert_eq!(recommend(input(5, 0, None)).workers, 10);
        assert_eq!(recommend(input(0, 0, None)).workers, 2);
    }

    #[test]
    fn more_backlog_never_means_fewer_workers() {
        let mut last = 0;
        for depth in (0..5000).step_by(37) {
            let w = recommend(input(depth, 3, Some(1500))).workers;
            assert!(w >= last, "depth {depth}: {w} < {last}");
            last = w;
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn arb_input() -> impl Strategy<Value = ScaleInput> {
            (
                0u64..100_000,
                0u64..1000,
                proptest::option::of(1u64..600_000),
                1u32..64,
                1u64..3600,
                0u32..10,
                0u32..50,
            )
                .prop_map(|(depth, in_flight, ms, concurrency, target, min, extra)| {
                    ScaleInput {
                        depth,
                        in_flight,
                        service_time: ms.map(Duration::from_millis),
                        concurrency,
                        target_latency: Duration::from_secs(target),
                        min_workers: min,
                        max_workers: min + extra,
                    }
                })
        }

        proptest! {
            #[test]
            fn the_recommendation_stays_within_the_pool_bounds(input in arb_input()) {
                let w = recommend(input).workers;
                prop_assert!(w >= input.min_workers && w <= input.max_workers, "{w} {input:?}");
            }

            /// More waiting work never asks for fewer workers.
            #[test]
            fn more_work_never_means_fewer_workers(input in arb_input(), more in 0u64..100_000) {
                let bigger = ScaleInput { depth: input.depth + more, ..input };
                prop_assert!(recommend(bigger).workers >= recommend(input).workers);
            }

            /// Unclamped, the workers recommended clear the work in time.
            #[test]
            fn enough_workers_clear_the_backlog_within_the_target(input in arb_input()) {
                let open = ScaleInput { min_workers: 0, max_workers: u32::MAX, ..input };
                let w = recommend(open).workers;
                if let (Some(s), true) = (input.service_time, input.depth + input.in_flight > 0) {
                    let cleared = f64::from(w) * f64::from(input.concurrency)
                        * input.target_latency.as_secs_f64() / s.as_secs_f64();
                    prop_assert!(cleared + 1e-6 >= (input.depth + input.in_flight) as f64);
                }
            }
        }
    }
}
