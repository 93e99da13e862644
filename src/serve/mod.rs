//! `bigyo serve`: bigyo's local encoder behind the OpenAI embeddings API (`POST
//! /v1/embeddings`, `GET /v1/models`), and optionally the panes behind `POST /v1/search`.
//!
//! One owner per heavy resource: the encoder (and the search pipeline) live on one model
//! thread that answers jobs over a bounded channel; a few HTTP threads parse, check and
//! answer requests, so many clients can be connected while the model runs one job at a time.
//! A full queue answers 503 at once instead of piling work up.
use std::io::Read;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Arc;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::model::{Embedder, Embeddings, SentenceEncoder, Side};
use crate::pipeline::Pipeline;

pub mod api;

use api::{ApiError, EmbedRequest};

/// How the service listens and what it accepts.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// Clients must send `Authorization: Bearer <key>` when set.
    pub api_key: Option<String>,
    /// The model names requests may ask for (the first is the one `/v1/models` lists first).
    pub names: Vec<String>,
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Most inputs in one embeddings request.
    pub max_batch: usize,
    /// HTTP threads (concurrent connections being read and answered).
    pub http_threads: usize,
    /// Jobs waiting for the model thread before new ones are turned away with 503.
    pub queue: usize,
}

/// What the model thread owns: the encoder, and the pipeline when search is served.
pub struct Served {
    pub encoder: SentenceEncoder,
    pub pipeline: Option<Pipeline>,
}

impl Served {
    /// Embeds as `side`; also counts the tokens the encoder read (prompt included, after
    /// truncation), for `usage`.
    fn embed(&mut self, side: Side, texts: &[String]) -> Result<(Embeddings, usize)> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let prompt = self.encoder.prompts().get(side).to_owned();
        let tokens = self
            .encoder
            .tokenize_prompted(&prompt, &refs)?
            .iter()
            .map(|e| e.get_ids().len())
            .sum();
        let embeddings = self.encoder.embed(side, &refs, &mut |_| {})?;
        Ok((embeddings, tokens))
    }

    fn search(&mut self, query: &str, top_k: Option<usize>) -> Option<Value> {
        let pipeline = self.pipeline.as_mut()?;
        let keep = pipeline.params.top_k;
        if let Some(k) = top_k {
            pipeline.params.top_k = k;
        }
        let results = pipeline.search(query);
        pipeline.params.top_k = keep;
        let corpus = pipeline.corpus.clone();
        Some(crate::render::json(
            &corpus,
            &results,
            corpus.gold_for(query),
        ))
    }
}

enum Job {
    Embed {
        side: Side,
        texts: Vec<String>,
        reply: mpsc::Sender<Result<(Embeddings, usize), String>>,
    },
    Search {
        query: String,
        top_k: Option<usize>,
        reply: mpsc::Sender<Option<Value>>,
    },
}

/// The model thread: one job at a time; a panic in one job fails that job, not the thread.
fn model_thread(mut served: Served, jobs: mpsc::Receiver<Job>) {
    for job in jobs {
        let run = std::panic::AssertUnwindSafe(|| match job {
            Job::Embed { side, texts, reply } => {
                let answer = served.embed(side, &texts).map_err(|e| format!("{e:#}"));
                let _ = reply.send(answer);
            }
            Job::Search {
                query,
                top_k,
                reply,
            } => {
                let _ = reply.send(served.search(&query, top_k));
            }
        });
        if let Err(p) = std::panic::catch_unwind(run) {
            tracing::error!(
                "serve: a job panicked: {}",
                crate::panic_message(p.as_ref())
            );
        }
    }
}

/// Binds `opts.listen`; fails at once when the address is taken.
pub fn bind(opts: &ServeOptions) -> Result<tiny_http::Server> {
    tiny_http::Server::http(opts.listen)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("listening on {}", opts.listen))
}

/// Serves until the process is stopped.
pub fn run(server: tiny_http::Server, served: Served, opts: ServeOptions) -> Result<()> {
    let (tx, rx) = mpsc::sync_channel(opts.queue.max(1));
    let search = served.pipeline.is_some();
    std::thread::Builder::new()
        .name("serve-model".into())
        .spawn(move || model_thread(served, rx))
        .context("starting the model thread")?;
    let server = Arc::new(server);
    let opts = Arc::new(opts);
    let handlers: Vec<_> = (0..opts.http_threads.max(1))
        .map(|i| {
            let (server, opts, tx) = (server.clone(), opts.clone(), tx.clone());
            std::thread::Builder::new()
                .name(format!("serve-http-{i}"))
                .spawn(move || {
                    while let Ok(request) = server.recv() {
                        handle(request, &opts, &tx, search);
                    }
                })
        })
        .collect::<std::io::Result<_>>()
        .context("starting the HTTP threads")?;
    for h in handlers {
        let _ = h.join();
    }
    Ok(())
}

fn respond(request: tiny_http::Request, status: u16, body: &Value) {
    let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..])
        .expect("a static header is valid");
    let response = tiny_http::Response::from_string(body.to_string())
        .with_status_code(status)
        .with_header(header);
    if let Err(e) = request.respond(response) {
        tracing::debug!("serve: the client left before the answer: {e}");
    }
}

fn authorized(request: &tiny_http::Request, key: &str) -> bool {
    request.headers().iter().any(|h| {
        h.field.equiv("Authorization")
            && h.value
                .as_str()
                .strip_prefix("Bearer ")
                .is_some_and(|given| given.trim() == key)
    })
}

fn handle(
    mut request: tiny_http::Request,
    opts: &ServeOptions,
    jobs: &mpsc::SyncSender<Job>,
    search: bool,
) {
    let path = request.url().split('?').next().unwrap_or("").to_owned();
    let method = request.method().clone();
    tracing::info!("serve: {method} {path}");
    if path == "/health" {
        return respond(request, 200, &json!({"status": "ok"}));
    }
    if let Some(key) = &opts.api_key {
        if !authorized(&request, key) {
            let err = ApiError::invalid(
                "missing or incorrect API key: send `Authorization: Bearer <key>` with the \
                 key bigyo serve was started with",
                None,
            )
            .with_code("invalid_api_key")
            .status(401);
            return respond(request, err.status, &err.body());
        }
    }
    use tiny_http::Method::{Get, Post};
    let answer = match (&method, path.as_str()) {
        (Get, "/v1/models") => Ok(api::models_response(&opts.names)),
        (Post, "/v1/embeddings") => read_body(&mut request, opts.max_body)
            .and_then(|b| api::parse_embed(&b, opts.max_batch))
            .and_then(|r| embeddings(r, opts, jobs)),
        (Post, "/v1/search") if search => read_body(&mut request, opts.max_body)
            .and_then(|b| api::parse_search(&b))
            .and_then(|(query, top_k)| search_job(query, top_k, jobs)),
        (_, "/v1/models" | "/v1/embeddings") => Err(not_allowed(&method, &path)),
        (_, "/v1/search") if search => Err(not_allowed(&method, &path)),
        _ => Err(ApiError::invalid(
            format!(
                "no route {method} {path}: bigyo serves POST /v1/embeddings, GET /v1/models{}",
                if search {
                    " and POST /v1/search"
                } else {
                    " (and POST /v1/search when started with --search)"
                }
            ),
            None,
        )
        .status(404)),
    };
    match answer {
        Ok(body) => respond(request, 200, &body),
        Err(err) => {
            tracing::info!("serve: {} {}", err.status, err.message);
            respond(request, err.status, &err.body())
        }
    }
}

fn not_allowed(method: &tiny_http::Method, path: &str) -> ApiError {
    ApiError::invalid(format!("{method} is not allowed on {path}"), None).status(405)
}

fn read_body(request: &mut tiny_http::Request, max: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = |n: String| {
        ApiError::invalid(
            format!("the request body is {n} bytes; this server takes at most {max}"),
            None,
        )
        .status(413)
    };
    if let Some(n) = request.body_length().filter(|&n| n > max) {
        return Err(too_large(n.to_string()));
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(max as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| ApiError::invalid(format!("reading the request body: {e}"), None))?;
    if body.len() > max {
        return Err(too_large(format!("over {max}")));
    }
    Ok(body)
}

fn busy() -> ApiError {
    ApiError {
        status: 503,
        message: "the model is busy with earlier requests; retry shortly".into(),
        kind: "server_error",
        param: None,
        code: Some("server_busy"),
    }
}

fn embeddings(
    request: EmbedRequest,
    opts: &ServeOptions,
    jobs: &mpsc::SyncSender<Job>,
) -> Result<Value, ApiError> {
    if !opts.names.contains(&request.model) {
        return Err(ApiError::invalid(
            format!(
                "the model `{}` does not exist; this server embeds with {}",
                request.model,
                opts.names.join(", ")
            ),
            Some("model"),
        )
        .with_code("model_not_found")
        .status(404));
    }
    let (reply, answer) = mpsc::channel();
    jobs.try_send(Job::Embed {
        side: request.side,
        texts: request.texts,
        reply,
    })
    .map_err(|_| busy())?;
    let (embeddings, tokens) = answer
        .recv()
        .map_err(|_| ApiError::server("the model failed on this request (see bigyo.log)"))?
        .map_err(ApiError::server)?;
    Ok(api::embed_response(
        &request.model,
        &embeddings,
        request.encoding,
        tokens,
    ))
}

fn search_job(
    query: String,
    top_k: Option<usize>,
    jobs: &mpsc::SyncSender<Job>,
) -> Result<Value, ApiError> {
    let (reply, answer) = mpsc::channel();
    jobs.try_send(Job::Search {
        query,
        top_k,
        reply,
    })
    .map_err(|_| busy())?;
    answer
        .recv()
        .map_err(|_| ApiError::server("the search failed on this request (see bigyo.log)"))?
        .ok_or_else(|| ApiError::server("search is not served"))
}
