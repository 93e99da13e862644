//! The encoder's dense layers on one core: libtorch's `linear` (MKL) against bigyo's
//! single-core GEMM (`bigyo::model::cpu_gemm`, the `gemm` crate), same inputs, same process,
//! interleaved rounds, best round each. Also measures the core's FMA peak with a plain loop so
//! both can be read as a share of it. Prints the "gemm" section of BENCHMARKS.md on stdout
//! (`make bench` writes it with benches/benchfile.py); progress goes to stderr.
//!
//! cargo bench --bench gemm -- --run
//! (without --run it only says how to run it: `cargo test --all-targets` runs bench mains.)
use std::time::Instant;

use anyhow::Result;
use tch::{Device, Kind, Tensor};

/// The shapes of all-MiniLM-L6-v2 on one 2,048-token batch (8 passages of 256 tokens):
/// stacked Q/K/V, attention output, FFN in, FFN out; then the same on 512 tokens.
const SHAPES: [(i64, i64, i64); 8] = [
    (2048, 384, 1152),
    (2048, 384, 384),
    (2048, 384, 1536),
    (2048, 1536, 384),
    (512, 384, 1152),
    (512, 384, 384),
    (512, 384, 1536),
    (512, 1536, 384),
];

fn time_best(rounds: usize, reps: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..reps {
            f()?;
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    Ok(best)
}

/// GFLOP/s of 12 independent chains of 8-wide AVX2 fused multiply-adds: the core's FMA peak
/// (what MKL's and gemm's AVX2 kernels can reach). NaN where AVX2+FMA is missing.
fn fma_peak() -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the features the function is compiled for were just detected.
            return unsafe { fma_peak_avx2() };
        }
    }
    f64::NAN
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_peak_avx2() -> f64 {
    use std::arch::x86_64::*;
    let n: u64 = 100_000_000;
    let b = _mm256_set1_ps(std::hint::black_box(1.000_000_1));
    let c = _mm256_set1_ps(std::hint::black_box(1e-7));
    let mut acc = [_mm256_set1_ps(0.5); 12];
    let t = Instant::now();
    for _ in 0..n {
        for a in acc.iter_mut() {
            *a = _mm256_fmadd_ps(*a, b, c);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    std::hint::black_box(&acc);
    (n * 12 * 8 * 2) as f64 / secs / 1e9
}

fn main() -> Result<()> {
    if !std::env::args().any(|a| a == "--run") {
        println!("gemm bench: pass --run (cargo bench --bench gemm -- --run)");
        return Ok(());
    }
    tch::set_num_threads(1);
    let _guard = tch::no_grad_guard();
    let opts = (Kind::Float, Device::Cpu);
    let peak = fma_peak();
    let mut rows = Vec::new();
    for (m, k, n) in SHAPES {
        tch::manual_seed(1);
        let x = Tensor::randn([m, k], opts);
        let w = Tensor::randn([n, k], opts);
        let b = Tensor::randn([n], opts);
        let flops = 2.0 * (m * k * n) as f64;
        let reps = (2e10 / flops).ceil() as usize;
        let (mut torch_best, mut ours_best) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..5 {
            torch_best = torch_best.min(time_best(1, reps, || {
                let _ = std::hint::black_box(x.f_linear(&w, Some(&b))?);
                Ok(())
            })?);
            ours_best = ours_best.min(time_best(1, reps, || {
                let _ = std::hint::black_box(bigyo::model::cpu_gemm::linear(&x, &w, &b)?);
                Ok(())
            })?);
        }
        let (torch_gf, ours_gf) = (flops / torch_best / 1e9, flops / ours_best / 1e9);
        let line = format!(
            "| {m} x {k} -> {n} | {torch_gf:.1} ({:.0}%) | {ours_gf:.1} ({:.0}%) | {:.2}x |",
            100.0 * torch_gf / peak,
            100.0 * ours_gf / peak,
            ours_gf / torch_gf
        );
        eprintln!("{line}");
        rows.push(line);
    }
    let cpu = bigyo::model::cpu::CpuInfo::detect();
    let report = format!(
        "## Dense layers on one core: libtorch (MKL) vs bigyo's single-core GEMM ({})

Same process, same machine: {} ({} cores; ISA: {}), same inputs, one thread, fp32,
`x W^T + b` with the bias; 5 interleaved rounds, best round each. The core's FMA peak, measured with a plain multiply-add loop: {peak:.1} GFLOP/s.
The CPU streams of the bi-encoder use the right-hand column (src/model/cpu_gemm.rs).

| rows x in -> out | libtorch GFLOP/s (of peak) | bigyo GFLOP/s (of peak) | ratio |
|---|---:|---:|---:|
{}

Reproduce with `make bench`.",
        cpu.model_name,
        cpu.model_name,
        cpu.cores,
        cpu.flags.join(" "),
        rows.join("\n")
    );
    println!("{report}");
    Ok(())
}
