//! Length-sorted, token-budgeted batching: padding costs compute, so inputs of similar
//! length run together and each batch is padded only to its own longest row. The encoder's
//! batch loops live here too: [`Transformer::run_batched`] (one stream) and
//! [`Transformer::run_batched_parallel`] (single-threaded streams over the CPU's cores).
use std::time::Instant;

use tch::{Device, Kind, Tensor};

use super::cpu_profile::{batch_tokens, time, Part};
use super::transformer::shared::SharedWeights;
use super::transformer::{Batch, Transformer};
use super::{Progress, Result};

/// Limits for one forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// Upper bound on `rows * longest_row` (padded tokens) per batch; 0 for the device's own
    /// (see [`BatchOptions::on`]).
    pub max_tokens: usize,
    /// Upper bound on rows per batch.
    pub max_rows: usize,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            max_tokens: 0,
            max_rows: 128,
        }
    }
}

impl BatchOptions {
    /// The CPU's token budget: each single-threaded stream's batch small enough that its
    /// activations stay in the core's cache (the FFN's inner activations of 512 tokens are
    /// 1.5 MB in bf16, 3 MB in fp32). On an AMX Xeon, all-MiniLM-L6-v2 over 80 passages of
    /// 256 tokens took 5-20 % less time at 512 tokens than at 2048 in every interleaved round
    /// (bf16 and fp32, truncated and padded sets; 256 and 768 were slower than 512).
    pub const CPU_TOKENS: usize = 512;
    /// CUDA's: big batches keep the GPU busy.
    pub const CUDA_TOKENS: usize = 2048;

    /// These options with a budget of 0 replaced by `device`'s.
    pub fn on(self, device: Device) -> Self {
        let max_tokens = match (self.max_tokens, device) {
            (0, Device::Cpu) => Self::CPU_TOKENS,
            (0, _) => Self::CUDA_TOKENS,
            (n, _) => n,
        };
        Self { max_tokens, ..self }
    }
}

/// Groups input indices into batches, longest inputs first. Every index appears exactly once;
/// an input longer than the budget still gets a batch of its own.
pub fn plan_batches(lengths: &[usize], opts: BatchOptions) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // Stable sort: equal lengths keep input order, so results are deterministic.
    order.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]));
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut longest = 0;
    for i in order {
        let len = lengths[i].max(1);
        let grown_longest = longest.max(len);
        let fits = current.len() < opts.max_rows.max(1)
            && (current.len() + 1) * grown_longest <= opts.max_tokens.max(1);
        if !current.is_empty() && !fits {
            batches.push(std::mem::take(&mut current));
            longest = 0;
        }
        longest = longest.max(len);
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// Prints the per-part profile of the call that started at `started` (`BIGYO_PROFILE=1`).
fn report(how: &str, started: Instant) {
    if let Some(table) = super::cpu_profile::take_report(how, started.elapsed()) {
        eprintln!("{table}");
    }
}

impl Transformer {
    /// Runs encoded inputs through the transformer in length-sorted, token-budgeted batches
    /// and returns `head`'s `[rows, dim]` fp32 output gathered back into input order, as a
    /// row-major vector with its row width.
    pub fn run_batched(
        &self,
        encodings: &[tokenizers::Encoding],
        opts: BatchOptions,
        progress: &mut dyn FnMut(Progress),
        mut head: impl FnMut(&Tensor, &Batch) -> Result<Tensor>,
    ) -> Result<(Vec<f32>, usize)> {
        let started = Instant::now();
        let opts = opts.on(self.device);
        let lengths: Vec<usize> = encodings.iter().map(|e| e.get_ids().len()).collect();
        let total = encodings.len();
        let mut out: Vec<f32> = Vec::new();
        let mut dim = 0usize;
        let mut done = 0;
        let _guard = tch::no_grad_guard();
        for rows in plan_batches(&lengths, opts) {
            let slices: Vec<(&[u32], &[u32])> = rows
                .iter()
                .map(|&i| (encodings[i].get_ids(), encodings[i].get_type_ids()))
                .collect();
            let batch = time(Part::Batch, || self.make_batch(&slices))?;
            let padded = batch.input_ids.numel();
            batch_tokens(rows.iter().map(|&i| lengths[i]).sum(), padded);
            let tokens = self.forward_sized(&batch, padded)?;
            let result = time(Part::Head, || -> Result<Tensor> {
                Ok(head(&tokens, &batch)?
                    .f_to_kind(Kind::Float)?
                    .f_to_device(Device::Cpu)?
                    .f_contiguous()?)
            })?;
            let (n, d) = result.size2()?;
            let d = d as usize;
            if out.is_empty() {
                dim = d;
                out = vec![0.0; total * d];
            }
            let values = Vec::<f32>::try_from(result.f_view(-1)?)?;
            for (r, &i) in rows.iter().enumerate().take(n as usize) {
                out[i * d..(i + 1) * d].copy_from_slice(&values[r * d..(r + 1) * d]);
            }
            done += rows.len();
            progress(Progress { done, total });
        }
        report("one stream", started);
        Ok((out, dim))
    }

    /// As [`run_batched`](Self::run_batched), but on the CPU with several cores the batches
    /// are spread over single-threaded streams, one per libtorch thread: on small matrices
    /// two one-thread GEMMs side by side keep the cores busier than one two-thread GEMM.
    /// Falls back to the sequential path on CUDA, with one thread, or with one batch.
    pub fn run_batched_parallel(
        &self,
        encodings: &[tokenizers::Encoding],
        opts: BatchOptions,
        progress: &mut dyn FnMut(Progress),
        head: &(dyn Fn(&Tensor, &Batch) -> Result<Tensor> + Sync),
    ) -> Result<(Vec<f32>, usize)> {
        let started = Instant::now();
        let opts = opts.on(self.device);
        let lengths: Vec<usize> = encodings.iter().map(|e| e.get_ids().len()).collect();
        let batches = plan_batches(&lengths, opts);
        let threads = tch::get_num_threads().max(1) as usize;
        // Two or more batches go to streams: even an uneven split (3 batches on 2 streams)
        // beats multi-threaded products, whose parallel regions wait on each other.
        let streams = threads.min(batches.len());
        if self.device != Device::Cpu || streams < 2 {
            return self.run_batched(encodings, opts, progress, head);
        }
        let total = encodings.len();
        let shared = SharedWeights::new(self);
        let (tx, rx) = std::sync::mpsc::channel::<Result<(usize, Vec<f32>, usize)>>();
        let result = std::thread::scope(|scope| -> Result<(Vec<f32>, usize)> {
            for k in 0..streams {
                let tx = tx.clone();
                let batches = &batches;
                let lengths = &lengths;
                let shared = &shared;
                scope.spawn(move || {
                    // This stream holds a core: a query arriving meanwhile leaves it alone.
                    let _busy = super::cpu::Busy::hold(1);
                    tch::set_num_threads(1);
                    let _guard = tch::no_grad_guard();
                    for (b, rows) in batches.iter().enumerate().skip(k).step_by(streams) {
                        let run = || -> Result<(usize, Vec<f32>, usize)> {
                            let slices: Vec<(&[u32], &[u32])> = rows
                                .iter()
                                .map(|&i| (encodings[i].get_ids(), encodings[i].get_type_ids()))
                                .collect();
                            let (batch, tokens) = shared.forward_rows(&slices)?;
                            batch_tokens(
                                rows.iter().map(|&i| lengths[i]).sum(),
                                batch.input_ids.numel(),
                            );
                            let out = time(Part::Head, || -> Result<Tensor> {
                                Ok(head(&tokens, &batch)?
                                    .f_to_kind(Kind::Float)?
                                    .f_contiguous()?)
                            })?;
                            let (_, d) = out.size2()?;
                            Ok((b, Vec::<f32>::try_from(out.f_view(-1)?)?, d as usize))
                        };
                        let r = run();
                        let failed = r.is_err();
                        // A failure ends this stream; so does a caller that stopped listening
                        // (its progress callback unwound to cancel the embedding).
                        if tx.send(r).is_err() || failed {
                            return;
                        }
                    }
                });
            }
            drop(tx);
            let mut out: Vec<f32> = Vec::new();
            let mut dim = 0usize;
            let mut done = 0;
            for message in rx {
                let (b, values, d) = message?;
                if out.is_empty() {
                    dim = d;
                    out = vec![0.0; total * d];
                }
                for (r, &i) in batches[b].iter().enumerate() {
                    out[i * d..(i + 1) * d].copy_from_slice(&values[r * d..(r + 1) * d]);
                }
                done += batches[b].len();
                progress(Progress { done, total });
            }
            Ok((out, dim))
        });
        // The workers set their own thread count; the caller's stays as it was.
        tch::set_num_threads(i32::try_from(threads).unwrap_or(i32::MAX));
        report(&format!("{streams} single-threaded streams"), started);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_similar_lengths_within_the_token_budget() {
        let lengths = [5, 100, 7, 98, 6, 50];
        let batches = plan_batches(
            &lengths,
            BatchOptions {
                max_tokens: 200,
                max_rows: 10,
            },
        );
        assert_eq!(batches, vec![vec![1, 3], vec![5, 2, 4, 0]]);
        for batch in &batches {
            let longest = batch.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(batch.len() * longest <= 200);
        }
    }

    #[test]
    fn every_input_is_planned_once_even_when_longer_than_the_budget() {
        let lengths = [300, 1, 2, 3];
        let batches = plan_batches(
            &lengths,
            BatchOptions {
                max_tokens: 100,
                max_rows: 2,
            },
        );
        let mut seen: Vec<usize> = batches.concat();
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2, 3]);
        assert_eq!(batches[0], vec![0]);
        assert!(batches.iter().all(|b| b.len() <= 2));
    }

    #[test]
    fn no_inputs_means_no_batches() {
        assert!(plan_batches(&[], BatchOptions::default()).is_empty());
    }

    #[test]
    fn the_budget_is_the_devices_unless_given() {
        let auto = BatchOptions::default();
        assert_eq!(auto.on(Device::Cpu).max_tokens, BatchOptions::CPU_TOKENS);
        assert_eq!(
            auto.on(Device::Cuda(0)).max_tokens,
            BatchOptions::CUDA_TOKENS
        );
        let given = BatchOptions {
            max_tokens: 100,
            ..auto
        };
        assert_eq!(given.on(Device::Cpu).max_tokens, 100);
    }
}
