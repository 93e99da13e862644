//! One query through a bi-encoder, as the Semantic pane runs it on every keystroke pause:
//! tokenise, one forward pass, pooling. Loads the model in `DIR` under each dtype given, warms
//! up, then times single-query embeddings and prints one JSON line per dtype on stdout
//! (`benches/latency_vs_st.py` drives it, measures sentence-transformers in the same run and
//! writes the BENCHMARKS.md section); progress goes to stderr.
//!
//! cargo bench --bench query_latency -- --run DIR QUERY [--threads N] [--reps N] [--dtypes auto,f32]
//! (without --run it only says how to run it: `cargo test --all-targets` runs bench mains.)
use std::time::Instant;

use anyhow::{bail, Context, Result};
use bigyo::model::{
    DTypeChoice, DeviceChoice, Embedder, EncoderOptions, ModelDir, ModelSpec, Runtime,
    SentenceEncoder,
};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(at) = args.iter().position(|a| a == "--run") else {
        eprintln!("usage: cargo bench --bench query_latency -- --run DIR QUERY [--threads N] [--reps N] [--dtypes auto,f32]");
        return Ok(());
    };
    let (Some(dir), Some(query)) = (args.get(at + 1), args.get(at + 2)) else {
        bail!("--run needs a model directory and a query");
    };
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let threads: usize = flag("--threads").map_or(Ok(2), |t| t.parse())?;
    let reps: usize = flag("--reps").map_or(Ok(50), |t| t.parse())?;
    let dtypes = flag("--dtypes").unwrap_or_else(|| "auto,f32".into());
    let model = ModelDir::resolve(&ModelSpec::new(dir.as_str()))
        .with_context(|| format!("model directory {dir}"))?;
    for name in dtypes.split(',') {
        let dtype: DTypeChoice = name.parse().map_err(anyhow::Error::msg)?;
        let runtime = Runtime::resolve(DeviceChoice::Cpu, dtype, Some(threads))?;
        let opts = EncoderOptions {
            runtime,
            ..EncoderOptions::default()
        };
        let mut encoder = SentenceEncoder::load(&model, &opts)?;
        let tokens = encoder.tokenize(&[query.as_str()])?[0].get_ids().len();
        for _ in 0..5 {
            encoder.embed(bigyo::model::Side::Query, &[query.as_str()], &mut |_| {})?;
        }
        let mut ms = Vec::with_capacity(reps);
        for _ in 0..reps {
            let t = Instant::now();
            encoder.embed(bigyo::model::Side::Query, &[query.as_str()], &mut |_| {})?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        ms.sort_by(f64::total_cmp);
        let pct = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
        let plan = encoder.kernel_plan();
        eprintln!(
            "--dtype {name}: {} on {}, p50 {:.2} ms",
            encoder.dtype_name(),
            plan.path,
            pct(0.5)
        );
        println!(
            "{}",
            serde_json::json!({
                "dtype": name,
                "ran": encoder.dtype_name(),
                "kernels": plan.path.to_string(),
                "threads": threads,
                "tokens": tokens,
                "reps": reps,
                "p50_ms": pct(0.5),
                "p95_ms": pct(0.95),
            })
        );
    }
    Ok(())
}
