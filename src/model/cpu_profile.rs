//! Where the encoder's forward pass spends its time, part by part, for `BIGYO_PROFILE=1`.
//!
//! With the variable set, every encoder pass times its parts (dense products per layer kind,
//! attention, layer norms, the activation, residual adds, dtype casts, embeddings, pooling,
//! batch assembly) and counts real against padded tokens; the end of each
//! `run_batched[_parallel]` call prints the table on standard error and starts over.
//! libtorch's CPU ops are synchronous, so a clock around each op is its cost; with several
//! stream threads the times add up across threads (thread-seconds, not wall time). Softmax is
//! not a part of its own: `scaled_dot_product_attention` fuses QK^T, the mask, softmax and
//! the product with V into one kernel (its row is "attention"). Without the variable the only
//! cost is one check of a cached flag per op. On CUDA the clocks would time kernel launches,
//! not kernels: the table is for the CPU.
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The parts of a forward pass that are timed separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Padding the batch's token ids into tensors.
    Batch,
    /// Word, position and token-type embeddings and their layer norm.
    Embeddings,
    /// Stacked Q/K/V projection.
    GemmQkv,
    /// Fused attention (`scaled_dot_product_attention`) and the head merge.
    Attention,
    /// Attention output projection.
    GemmAttnOut,
    /// Feed-forward up projection.
    GemmIntermediate,
    /// Feed-forward down projection.
    GemmOutput,
    /// GELU / ReLU on the intermediate activations.
    Activation,
    /// The two post-attention and post-FFN layer norms.
    LayerNorm,
    /// Residual additions.
    Residual,
    /// dtype conversions (mixed bf16: fp32 stream to bf16 products and back).
    Casts,
    /// Pooling, dense heads, normalisation and the copy back to the caller.
    Head,
}

const PARTS: [Part; 12] = [
    Part::GemmQkv,
    Part::GemmAttnOut,
    Part::GemmIntermediate,
    Part::GemmOutput,
    Part::Attention,
    Part::LayerNorm,
    Part::Activation,
    Part::Residual,
    Part::Casts,
    Part::Embeddings,
    Part::Head,
    Part::Batch,
];

impl Part {
    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Self::Batch => "batch assembly (padding to tensors)",
            Self::Embeddings => "embeddings + their layer norm",
            Self::GemmQkv => "GEMM: Q/K/V (stacked)",
            Self::Attention => "attention (SDPA: QK^T, mask, softmax, xV)",
            Self::GemmAttnOut => "GEMM: attention output",
            Self::GemmIntermediate => "GEMM: FFN up",
            Self::GemmOutput => "GEMM: FFN down",
            Self::Activation => "GELU",
            Self::LayerNorm => "layer norm (2 per layer)",
            Self::Residual => "residual adds",
            Self::Casts => "dtype casts / copies",
            Self::Head => "pooling, head, copy out",
        }
    }
}

struct Totals {
    time: [Duration; 12],
    calls: [u64; 12],
    real_tokens: u64,
    padded_tokens: u64,
    batches: u64,
}

static TOTALS: Mutex<Totals> = Mutex::new(Totals {
    time: [Duration::ZERO; 12],
    calls: [0; 12],
    real_tokens: 0,
    padded_tokens: 0,
    batches: 0,
});

/// Whether `BIGYO_PROFILE` asks for the table (read once per process).
pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var("BIGYO_PROFILE").is_ok_and(|v| !v.is_empty() && v != "0"))
}

/// Runs `f`, adding its time to `part` when profiling.
pub fn time<T>(part: Part, f: impl FnOnce() -> T) -> T {
    if !enabled() {
        return f();
    }
    let started = Instant::now();
    let result = f();
    let spent = started.elapsed();
    if let Ok(mut totals) = TOTALS.lock() {
        totals.time[part.index()] += spent;
        totals.calls[part.index()] += 1;
    }
    result
}

/// Counts one batch of `real` tokens padded to `padded`.
pub fn batch_tokens(real: usize, padded: usize) {
    if !enabled() {
        return;
    }
    if let Ok(mut totals) = TOTALS.lock() {
        totals.real_tokens += real as u64;
        totals.padded_tokens += padded as u64;
        totals.batches += 1;
    }
}

/// The table so far (markdown) and a fresh start; `None` when not profiling or nothing ran.
pub fn take_report(what: &str, wall: Duration) -> Option<String> {
    if !enabled() {
        return None;
    }
    let mut totals = TOTALS.lock().ok()?;
    let sum: Duration = totals.time.iter().sum();
    if sum.is_zero() {
        return None;
    }
    let mut out = format!(
        "profile: {what}, {} batches, {} real tokens padded to {} ({:.1} % padding), wall {:.3} s, \
         {:.3} thread-s in the parts below\n\n| part | thread-s | share | calls |\n|---|---:|---:|---:|\n",
        totals.batches,
        totals.real_tokens,
        totals.padded_tokens,
        100.0 * totals.padded_tokens.saturating_sub(totals.real_tokens) as f64
            / totals.padded_tokens.max(1) as f64,
        wall.as_secs_f64(),
        sum.as_secs_f64()
    );
    for part in PARTS {
        let t = totals.time[part.index()];
        let _ = writeln!(
            out,
            "| {} | {:.3} | {:.1} % | {} |",
            part.name(),
            t.as_secs_f64(),
            100.0 * t.as_secs_f64() / sum.as_secs_f64(),
            totals.calls[part.index()]
        );
    }
    *totals = Totals {
        time: [Duration::ZERO; 12],
        calls: [0; 12],
        real_tokens: 0,
        padded_tokens: 0,
        batches: 0,
    };
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_has_its_own_row() {
        let mut seen: Vec<usize> = PARTS.iter().map(|p| p.index()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..PARTS.len()).collect::<Vec<_>>());
        let names: std::collections::HashSet<&str> = PARTS.iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), PARTS.len());
    }
}
