//! Cross-job micro-batching: jobs that want the same model at about the same
//! time share one run. A thread owns the model; callers hand it one item's
//! input and block for that item's outputs. The thread takes the first
//! request, waits up to `max_delay` for more (never past `max_batch`), stacks
//! them into one `[N, …]` tensor, runs once and hands each caller its row.
//! Only for graphs with a free batch dimension (the MediaPipe graphs are
//! fixed at batch 1 and run unbatched).
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use ndarray::ArrayViewD;

use crate::{InferenceError, Model, ModelManifest};

/// One item's outputs: each output's row, flattened.
pub type ItemOutputs = HashMap<String, Vec<f32>>;

struct Request {
    input: Vec<f32>,
    reply: SyncSender<Result<ItemOutputs, InferenceError>>,
}

/// Runs and items so far, to see how well jobs batch.
#[derive(Debug, Default)]
pub struct BatchStats {
    pub runs: AtomicU64,
    pub items: AtomicU64,
}

pub struct BatchedModel {
    pub manifest: ModelManifest,
    pub stats: Arc<BatchStats>,
    item_len: usize,
    tx: SyncSender<Request>,
}

impl BatchedModel {
    /// Move `model` onto its own thread; `item_shape` is one item's input
    /// shape without the batch dimension.
    pub fn spawn(
        model: Model,
        input: &str,
        item_shape: &[usize],
        max_batch: usize,
        max_delay: Duration,
    ) -> BatchedModel {
        let (tx, rx) = sync_channel::<Request>(1024);
        let stats = Arc::new(BatchStats::default());
        let manifest = model.manifest.clone();
        let batcher = Batcher {
            model,
            input: input.to_owned(),
            item_shape: item_shape.to_vec(),
            max_batch: max_batch.max(1),
            max_delay,
            stats: stats.clone(),
        };
        std::thread::Builder::new()
            .name(format!("batch-{}", manifest.name))
            .spawn(move || batcher.serve(rx))
            .expect("spawning the batching thread");
        BatchedModel {
            manifest,
            stats,
            item_len: item_shape.iter().product(),
            tx,
        }
    }

    /// Run one item (blocking until its batch has run).
    pub fn run(&self, input: Vec<f32>) -> Result<ItemOutputs, InferenceError> {
        let fail = |message: String| InferenceError::Run {
            model: self.manifest.name.clone(),
            message,
        };
        if input.len() != self.item_len {
            return Err(fail(format!(
                "input has {} values, one item takes {}",
                input.len(),
                self.item_len
            )));
        }
        let (reply, answer) = sync_channel(1);
        self.tx
            .send(Request { input, reply })
            .map_err(|_| fail("the batching thread has stopped".into()))?;
        answer
            .recv()
            .map_err(|_| fail("the batching thread dropped the request".into()))?
    }
}

struct Batcher {
    model: Model,
    input: String,
    item_shape: Vec<usize>,
    max_batch: usize,
    max_delay: Duration,
    stats: Arc<BatchStats>,
}

impl Batcher {
    fn serve(self, rx: Receiver<Request>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            let deadline = Instant::now() + self.max_delay;
            while batch.len() < self.max_batch {
                let left = deadline.saturating_duration_since(Instant::now());
                // Whatever is already waiting joins even when the delay is 0.
                match rx.try_recv() {
                    Ok(r) => {
                        batch.push(r);
                        continue;
                    }
                    Err(_) if left.is_zero() => break,
                    Err(_) => {}
                }
                match rx.recv_timeout(left) {
                    Ok(r) => batch.push(r),
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
            self.run(batch);
        }
    }

    fn run(&self, batch: Vec<Request>) {
        let n = batch.len();
        let mut data = Vec::with_capacity(n * batch[0].input.len());
        for r in &batch {
            data.extend_from_slice(&r.input);
        }
        let mut shape = vec![n];
        shape.extend_from_slice(&self.item_shape);
        let view = ArrayViewD::from_shape(shape, &data).expect("stacked items fill the shape");
        let outcome = self.model.run_f32(&self.input, view);
        self.stats.runs.fetch_add(1, Ordering::Relaxed);
        self.stats.items.fetch_add(n as u64, Ordering::Relaxed);
        match outcome {
            Ok(outputs) => {
                let flat: Vec<(String, Vec<f32>)> = outputs
                    .into_iter()
                    .filter(|(_, a)| a.shape().first() == Some(&n))
                    .map(|(name, a)| (name, a.into_raw_vec_and_offset().0))
                    .collect();
                for (i, r) in batch.into_iter().enumerate() {
                    let item = flat
                        .iter()
                        .map(|(name, values)| {
                            let len = values.len() / n;
                            (name.clone(), values[i * len..(i + 1) * len].to_vec())
                        })
                        .collect();
                    let _ = r.reply.send(Ok(item));
                }
            }
            Err(error) => {
                for r in batch {
                    let _ = r.reply.send(Err(error.clone()));
                }
            }
        }
    }
}
