//! Nearest neighbours by cosine similarity, pure and in memory.
//!
//! Vectors are unit length, so cosine is a dot product. Each is stored as
//! 8-bit codes with one scale (a quarter of the memory of `f32`: 100,000
//! image embeddings of 1280 dimensions take 128 MB), and a query scans them
//! all with integer dot products, which the compiler vectorises. The scan is
//! exact over the codes; callers re-score the few best candidates on the
//! stored `f32` vectors when they want exact scores.
#![forbid(unsafe_code)]

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use uuid::Uuid;

/// One item's codes: `v ≈ scale · code`.
fn quantise(vector: &[f32]) -> (Vec<i8>, f32) {
    let max = vector.iter().fold(0f32, |m, v| m.max(v.abs()));
    if max == 0.0 {
        return (vec![0; vector.len()], 0.0);
    }
    let scale = max / 127.0;
    let codes = vector
        .iter()
        .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (codes, scale)
}

fn dot(a: &[i8], b: &[i8]) -> i32 {
    // Chunks of 32 keep the i16 products in registers; i32 sums never
    // overflow (127² · 1280 ≪ 2³¹).
    let mut sum = 0i32;
    let (ca, cb) = (a.chunks_exact(32), b.chunks_exact(32));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        let mut part = 0i32;
        for i in 0..32 {
            part += i32::from(x[i]) * i32::from(y[i]);
        }
        sum += part;
    }
    for (x, y) in ra.iter().zip(rb) {
        sum += i32::from(*x) * i32::from(*y);
    }
    sum
}

/// A hit: the item and its (code) cosine similarity to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub id: Uuid,
    pub score: f32,
    /// The item's position, for the caller's own per-item data.
    pub index: usize,
}

#[derive(PartialEq)]
struct Ranked(f32, usize);
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    // Reversed: the heap's top is the worst hit kept so far.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

/// Unit vectors of one dimension, searchable by cosine similarity.
#[derive(Debug, Clone)]
pub struct VectorIndex {
    dim: usize,
    ids: Vec<Uuid>,
    codes: Vec<i8>,
    scales: Vec<f32>,
}

impl VectorIndex {
    pub fn new(dim: usize) -> Self {
        VectorIndex {
            dim,
            ids: Vec::new(),
            codes: Vec::new(),
            scales: Vec::new(),
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The id of the item at `index`.
    pub fn id(&self, index: usize) -> Uuid {
        self.ids[index]
    }

    /// Bytes held by the codes and scales.
    pub fn memory_bytes(&self) -> usize {
        self.codes.len() + self.scales.len() * 4 + self.ids.len() * 16
    }

    /// Add an item; a vector of another dimension is refused.
    pub fn push(&mut self, id: Uuid, vector: &[f32]) -> Result<usize, DimensionMismatch> {
        if vector.len() != self.dim {
            return Err(DimensionMismatch {
                expected: self.dim,
                actual: vector.len(),
            });
        }
        let (codes, scale) = quantise(vector);
        self.ids.push(id);
        self.codes.extend_from_slice(&codes);
        self.scales.push(scale);
        Ok(self.ids.len() - 1)
    }

    /// Replace the item at `index` (a re-run's new vector, same id).
    pub fn set(&mut self, index: usize, vector: &[f32]) -> Result<(), DimensionMismatch> {
        if vector.len() != self.dim {
            return Err(DimensionMismatch {
                expected: self.dim,
                actual: vector.len(),
            });
        }
        let (codes, scale) = quantise(vector);
        self.codes[index * self.dim..(index + 1) * self.dim].copy_from_slice(&codes);
        self.scales[index] = scale;
        Ok(())
    }

    /// The `k` items most similar to `query` among those `keep` accepts,
    /// best first.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        keep: impl Fn(usize) -> bool,
    ) -> Result<Vec<Hit>, DimensionMismatch> {
        if query.len() != self.dim {
            return Err(DimensionMismatch {
                expected: self.dim,
                actual: query.len(),
            });
        }
        if k == 0 || self.dim == 0 {
            return Ok(Vec::new());
        }
        let (q, q_scale) = quantise(query);
        let mut heap: BinaryHeap<Ranked> = BinaryHeap::with_capacity(k + 1);
        for (i, codes) in self.codes.chunks_exact(self.dim).enumerate() {
            let score = dot(&q, codes) as f32 * q_scale * self.scales[i];
            if heap.len() == k && heap.peek().is_some_and(|worst| score <= worst.0) {
                continue;
            }
            if !keep(i) {
                continue;
            }
            heap.push(Ranked(score, i));
            if heap.len() > k {
                heap.pop();
            }
        }
        let mut hits: Vec<Hit> = heap
            .into_iter()
            .map(|Ranked(score, index)| Hit {
                id: self.ids[index],
                score,
                index,
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        Ok(hits)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DimensionMismatch {
    pub expected: usize,
    pub actual: usize,
}

impl std::fmt::Display for DimensionMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "vector has {} dimensions, the index {}",
            self.actual, self.expected
        )
    }
}

impl std::error::Error for DimensionMismatch {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random unit vector.
    fn vector(seed: u64, dim: usize) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut v: Vec<f32> = (0..dim)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }

    fn exact(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn finds_the_same_neighbours_as_exact_cosine() {
        let dim = 384;
        let items: Vec<Vec<f32>> = (0..2000).map(|i| vector(i, dim)).collect();
        let mut index = VectorIndex::new(dim);
        for (i, v) in items.iter().enumerate() {
            index.push(Uuid::from_u128(i as u128), v).unwrap();
        }
        // A query near item 7: item 7 first, scores close to exact.
        let mut query = items[7].clone();
        for (q, n) in query.iter_mut().zip(vector(99_999, dim)) {
            *q += 0.3 * n;
        }
        let norm = exact(&query, &query).sqrt();
        query.iter_mut().for_each(|q| *q /= norm);
        let hits = index.search(&query, 10, |_| true).unwrap();
        assert_eq!(hits.len(), 10);
        assert_eq!(hits[0].id, Uuid::from_u128(7));
        for h in &hits {
            let truth = exact(&query, &items[h.index]);
            assert!((h.score - truth).abs() < 0.01, "{h:?} vs {truth}");
        }
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        // The exact top 10 and the code top 10 agree on the best few.
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by(|&a, &b| exact(&query, &items[b]).total_cmp(&exact(&query, &items[a])));
        assert_eq!(order[0], 7);
        assert!(hits.iter().take(3).all(|h| order[..10].contains(&h.index)));
    }

    #[test]
    fn filters_dimensions_and_small_indexes() {
        let mut index = VectorIndex::new(4);
        assert!(index.push(Uuid::nil(), &[1.0, 0.0]).is_err());
        index
            .push(Uuid::from_u128(1), &[1.0, 0.0, 0.0, 0.0])
            .unwrap();
        index
            .push(Uuid::from_u128(2), &[0.0, 1.0, 0.0, 0.0])
            .unwrap();
        index
            .push(Uuid::from_u128(3), &[0.6, 0.8, 0.0, 0.0])
            .unwrap();
        let hits = index.search(&[1.0, 0.0, 0.0, 0.0], 5, |_| true).unwrap();
        let ids: Vec<u128> = hits.iter().map(|h| h.id.as_u128()).collect();
        assert_eq!(ids, [1, 3, 2]);
        assert!((hits[0].score - 1.0).abs() < 0.01 && (hits[1].score - 0.6).abs() < 0.01);
        let hits = index.search(&[1.0, 0.0, 0.0, 0.0], 1, |i| i != 0).unwrap();
        assert_eq!(hits[0].id.as_u128(), 3);
        assert!(index.search(&[1.0], 1, |_| true).is_err());
        assert!(
            VectorIndex::new(4)
                .search(&[1.0, 0.0, 0.0, 0.0], 3, |_| true)
                .unwrap()
                .is_empty()
        );
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn unit(v: Vec<f32>) -> Vec<f32> {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
            v.into_iter().map(|x| x / n).collect()
        }

        proptest! {
            /// 8-bit codes keep every component within half a step.
            #[test]
            fn quantisation_round_trips_within_half_a_step(v in proptest::collection::vec(-1.0f32..1.0, 1..300)) {
                let (codes, scale) = quantise(&v);
                for (x, c) in v.iter().zip(&codes) {
                    prop_assert!((x - scale * f32::from(*c)).abs() <= scale / 2.0 + 1e-6);
                }
            }

            /// A stored vector finds itself first, scoring about 1.
            #[test]
            fn a_vector_is_its_own_nearest_neighbour(
                vs in proptest::collection::vec(proptest::collection::vec(-1.0f32..1.0, 32), 2..20),
                pick in any::<prop::sample::Index>(),
            ) {
                let vs: Vec<Vec<f32>> = vs.into_iter().map(unit).collect();
                let mut index = VectorIndex::new(32);
                let ids: Vec<Uuid> = vs.iter().map(|_| Uuid::new_v4()).collect();
                for (id, v) in ids.iter().zip(&vs) {
                    index.push(*id, v).unwrap();
                }
                let i = pick.index(vs.len());
                // Distinct random vectors: skip the rare near-duplicate draw.
                prop_assume!(vs.iter().enumerate().all(|(j, w)| j == i
                    || w.iter().zip(&vs[i]).map(|(a, b)| a * b).sum::<f32>() < 0.95));
                let hits = index.search(&vs[i], 1, |_| true).unwrap();
                prop_assert_eq!(hits[0].id, ids[i]);
                prop_assert!((hits[0].score - 1.0).abs() < 0.02, "{}", hits[0].score);
            }
        }
    }
}
