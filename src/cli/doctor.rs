//! `bigyo doctor` (the machine and kernel choices) and `bigyo model-info` (what bigyo reads
//! from a model).
use anyhow::{Context, Result};
use bigyo::model::{Embedder, EncoderOptions, Runtime, SentenceEncoder};
use bigyo::session::{self, Event, Options};

/// `bigyo doctor`: the machine as bigyo sees it, then the models' kernel choices (a model
/// that cannot be loaded is reported, not fatal: the machine part is what matters here).
pub(super) fn doctor(opts: &Options, runtime: Runtime) {
    use bigyo::model::cpu::{self, CpuInfo};
    let info = CpuInfo::detect();
    println!("{}", cpu::describe(&info));
    println!("libtorch:       {}", cpu::torch_version());
    println!(
        "device:         {} (--device {}, --dtype {} -> {}{})",
        runtime.describe(),
        opts.model.device,
        opts.model.dtype,
        runtime.dtype_name(),
        match (opts.model.dtype, runtime.device) {
            (bigyo::model::DTypeChoice::Auto, tch::Device::Cpu) if info.has_bf16() =>
                ": the CPU computes bf16 natively (avx512_bf16/AMX)",
            (bigyo::model::DTypeChoice::Auto, tch::Device::Cpu) =>
                ": no avx512_bf16 or AMX, where bf16 would be slower than fp32",
            _ => "",
        }
    );
    match cpu::known_plan(&info) {
        Some(plan) => println!("fp32 rule:      {} ({})", plan.path, plan.reason),
        None => {
            println!("fp32 rule:      none for this CPU: measured once per model shape and cached")
        }
    }
    println!("int8:           {}", bigyo::model::int8_support(&info));
    for (i, line) in cpu::explain(&info).iter().enumerate() {
        println!(
            "{}{line}",
            if i == 0 {
                "why:            "
            } else {
                "                "
            }
        );
    }
    println!(
        "queries:        a query-sized batch (up to 128 tokens) runs on the cores no other \
         process is running on when it starts: {} of {} now",
        cpu::free_cores(),
        info.cores
    );
    println!(
        "cache:          {}",
        bigyo::paths::cache_dir().join("cpu-calibration").display()
    );
    let mut report = |_event: Event| {};
    match session::load_encoder(opts, runtime, None, &mut report) {
        Ok(encoder) => {
            let plan = encoder.kernel_plan();
            println!(
                "encoder:        {} ({}): {} ({})",
                opts.model.model,
                encoder.dtype_name(),
                plan.path,
                plan.reason
            );
        }
        Err(e) => println!("encoder:        not loaded: {e:#}"),
    }
    match session::load_reranker(opts, runtime, &mut report) {
        Ok(Some(reranker)) => {
            let plan = reranker.kernel_plan();
            println!(
                "reranker:       {} ({}): {} ({})",
                opts.model.reranker,
                reranker.dtype_name(),
                plan.path,
                plan.reason
            );
        }
        Ok(None) => println!("reranker:       none"),
        Err(e) => println!("reranker:       not loaded: {e:#}"),
    }
}

/// `bigyo model-info`: what bigyo reads from the model (or a remote model's endpoint settings).
pub(super) fn model_info(opts: &Options, runtime: Runtime) -> Result<()> {
    if let Some(name) = opts.remote_model() {
        opts.validate()?;
        let remote = opts.remote_options(name)?;
        let (q, p) = remote
            .input_types
            .clone()
            .unwrap_or_else(|| ("-".into(), "-".into()));
        println!("model:          {name} (remote, OpenAI-compatible)");
        println!("endpoint:       {}", remote.url());
        println!(
            "api key:        {}",
            if remote.api_key.is_set() {
                "OPENAI_API_KEY is set"
            } else {
                "none (OPENAI_API_KEY is not set)"
            }
        );
        println!("input types:    query {q}, passage {p}");
        println!("query prompt:   {:?}", remote.query_prompt);
        println!("passage prompt: {:?}", remote.passage_prompt);
        println!(
            "batches:        {} inputs / {} characters, {} in flight, timeout {}s",
            remote.batch_inputs,
            remote.batch_chars,
            remote.in_flight,
            remote.timeout.as_secs_f64()
        );
        return Ok(());
    }
    let dir = opts.model_dir()?;
    let encoder = SentenceEncoder::load(
        &dir,
        &EncoderOptions {
            runtime,
            batch: opts.batch(),
            pooling: None,
            query_prompt: opts.model.query_prompt.clone(),
            passage_prompt: opts.model.passage_prompt.clone(),
        },
    )
    .with_context(|| format!("loading the encoder {}", opts.model.model))?;
    println!("model:          {}", dir.identity);
    println!("directory:      {}", dir.root.display());
    println!("architecture:   {}", encoder.architecture().name());
    println!("dimension:      {}", encoder.dim());
    println!("pooling:        {}", encoder.pooling());
    println!("normalize:      {}", encoder.normalizes());
    println!("max_seq_length: {}", encoder.max_seq_length());
    println!("device:         {}", runtime.describe());
    let named = encoder.model_prompts();
    println!(
        "prompts:        {}",
        if named.named.is_empty() {
            "none".to_owned()
        } else {
            named
                .named
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    if let Some(d) = &named.default_name {
        println!("default prompt: {d}");
    }
    println!("query prompt:   {:?}", encoder.prompts().query);
    println!("passage prompt: {:?}", encoder.prompts().passage);
    println!(
        "include_prompt: {}",
        if encoder.include_prompt() {
            "true (prompt tokens are pooled)"
        } else {
            "false (prompt tokens are left out of pooling)"
        }
    );
    println!(
        "dtype:          {} (--dtype {})",
        encoder.dtype_name(),
        opts.model.dtype
    );
    let plan = encoder.kernel_plan();
    println!("dense layers:   {} ({})", plan.path, plan.reason);
    let unused = encoder.unexpected_tensors();
    println!(
        "unused tensors: {}",
        if unused.is_empty() {
            "none".to_owned()
        } else {
            unused.join(", ")
        }
    );
    Ok(())
}
