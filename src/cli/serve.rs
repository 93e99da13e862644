//! `bigyo serve`: the local encoder as an OpenAI-compatible embedding service (and the panes
//! as a search route with --search).
use std::io::Write;
use std::net::SocketAddr;

use anyhow::{bail, Result};
use bigyo::plan::Plan;
use bigyo::serve::{self, ServeOptions, Served};
use bigyo::session::{self, Options};
use clap::Args;

use super::{build, load, reporter};

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The address to listen on; loopback by default (use 0.0.0.0:PORT, with --api-key, to
    /// serve other machines; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Require `Authorization: Bearer KEY` on every request but /health.
    #[arg(long, env = "BIGYO_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The model name clients send and /v1/models lists [default: --model as given].
    #[arg(long, value_name = "NAME")]
    served_model_name: Option<String>,
    /// Another name the model answers to (repeatable), for clients that insist on one.
    #[arg(long, value_name = "NAME")]
    alias: Vec<String>,
    /// Also serve POST /v1/search: the corpus loaded and indexed as `bigyo search` does (its
    /// panes: --panes, or the global --methods).
    #[arg(long)]
    pub(super) search: bool,
    /// Most inputs in one embeddings request (OpenAI's limit is 2048).
    #[arg(long, default_value_t = 2048)]
    max_batch: usize,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 8 << 20)]
    max_request_bytes: usize,
    /// Connections read and answered at once.
    #[arg(long, default_value_t = 8)]
    http_threads: usize,
    /// Requests waiting for the model before new ones get 503.
    #[arg(long, default_value_t = 64)]
    queue: usize,
}

pub(super) fn serve(opts: &Options, args: &ServeArgs, methods: Option<&str>) -> Result<()> {
    opts.validate()?;
    if opts.remote_model().is_some() {
        bail!(
            "bigyo serve serves local encoders; {} already is an endpoint",
            opts.model.model
        );
    }
    if args.max_batch == 0 || args.max_request_bytes == 0 {
        bail!("--max-batch and --max-request-bytes must be at least 1");
    }
    let runtime = opts.runtime()?;
    let name = args
        .served_model_name
        .clone()
        .unwrap_or_else(|| opts.model.model.clone());
    let mut names = vec![name];
    names.extend(args.alias.iter().cloned());
    let serve_opts = ServeOptions {
        listen: args.listen,
        api_key: args.api_key.clone().filter(|k| !k.is_empty()),
        names,
        max_body: args.max_request_bytes,
        max_batch: args.max_batch,
        http_threads: args.http_threads,
        queue: args.queue,
    };
    // Bind first: a taken port fails before the model loads.
    let server = serve::bind(&serve_opts)?;
    let pipeline = if args.search {
        let plan = Plan::new(opts, methods)?;
        Some(build(opts, &plan, load(opts)?)?.0)
    } else {
        None
    };
    let encoder = session::load_encoder(opts, runtime, opts.pooling()?, &mut reporter())?;
    let addr = server
        .server_addr()
        .to_ip()
        .map_or_else(|| args.listen.to_string(), |a| a.to_string());
    if !args.listen.ip().is_loopback() && serve_opts.api_key.is_none() {
        eprintln!("bigyo: warning: serving on {addr} without --api-key: anyone who can reach it can use it");
    }
    // The line scripts wait for: the service answers from here on.
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "bigyo serve: http://{addr}/v1 model {} ({}){}",
        serve_opts.names.join(", "),
        runtime.describe(),
        if args.search { ", search on" } else { "" }
    )?;
    out.flush()?;
    drop(out);
    tracing::info!("serving on {addr}");
    serve::run(server, Served { encoder, pipeline }, serve_opts)
}
