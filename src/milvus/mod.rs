//! Milvus as bigyo's scale-out backend: the passages, their dense vectors and a BM25 index live
//! in a Milvus collection; bigyo keeps its encoder, analyzer, cross-encoder, fusion and
//! evaluation, and asks the server for ranked lists of passage ids.
//!
//! The API a pane (or the CLI) uses, all blocking (one small tokio runtime inside):
//! - [`BackendUrl::parse`]`("milvus://HOST:PORT/COLLECTION")`
//! - [`MilvusBackend::connect`]`(&url, timeout)`: fails with the address when nothing answers
//! - [`MilvusBackend::check`]`(dim, analyzer)` -> [`CollectionInfo`]: the collection exists, is
//!   bigyo's, was indexed to the end, and matches the encoder's dimension and the analyzer
//! - [`MilvusBackend::dense_search`]`(vector, k)`, [`MilvusBackend::bm25_search`]`(terms, k)`,
//!   [`MilvusBackend::server_rrf`]`(vector, terms, depth, k, rrf_k)`: `(passage index, score)`
//!   best first, ties by passage index (as the local indexes order them)
//! - [`MilvusBackend::texts`]`(ids)`: `(title, text)` of passages, for the reranker and display
//! - [`MilvusBackend::index`]`(corpus, encoder, analyzer, options, progress)`: `bigyo index`
//!
//! A failed call never leaves the backend unusable: a lost connection or a timeout drops the
//! client, and the next call connects afresh (a restarted server is picked up by the next
//! query). Errors are typed ([`Error`]); the CLI and the TUI turn them into messages.
//!
//! The collection (see [`schema`]): `id` (the passage index, primary key), `title`, `text`,
//! `hash` (of title and text, so a re-run skips what is already there), `text_bm25` (bigyo's
//! analyzer output, [`terms`]-encoded) feeding a BM25 function into the sparse field `sparse`,
//! and `dense` (the encoder's vectors, cosine). Collection properties record what made it
//! (`bigyo.model`, `bigyo.analyzer`, `bigyo.corpus`, `bigyo.passages`) and `bigyo.complete`,
//! which `bigyo index` sets to `true` only after the last batch is in and counted.
// The SDK's error type is large (176 bytes); it only passes through closures here.
#![allow(clippy::result_large_err)]

mod index;
pub mod schema;
mod search;
pub mod terms;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use milvus::v2::prelude::{
    ClientV2, ConnectConfig, ConsistencyLevel, QueryRequest, RetryConfig, TelemetryConfig,
};

pub use index::{IndexOptions, IndexSummary, VectorIndex};

/// The default time one request may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything that can go wrong talking to Milvus; each message names the value at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bad backend `{url}`: {reason} (expected milvus://HOST:PORT/COLLECTION)")]
    BadUrl { url: String, reason: String },
    #[error("cannot reach the Milvus server at {address}: {detail}")]
    Unreachable { address: String, detail: String },
    #[error("the Milvus server at {address} did not answer {op} within {seconds:.1} s")]
    Timeout {
        address: String,
        op: &'static str,
        seconds: f64,
    },
    #[error(
        "lost the connection to the Milvus server at {address} during {op} ({detail}); \
         the next query reconnects"
    )]
    Lost {
        address: String,
        op: &'static str,
        detail: String,
    },
    #[error("Milvus at {address} refused {op}: {detail}")]
    Server {
        address: String,
        op: &'static str,
        detail: String,
    },
    #[error(
        "collection `{collection}` does not exist on {address}; run `bigyo index --backend \
         milvus://{address}/{collection}` first"
    )]
    MissingCollection { address: String, collection: String },
    #[error("collection `{collection}` was not made by `bigyo index`: {reason}")]
    NotBigyo { collection: String, reason: String },
    #[error(
        "collection `{collection}` is incomplete ({detail}); run `bigyo index` again to \
         finish it, or with --drop to rebuild it"
    )]
    Incomplete { collection: String, detail: String },
    #[error(
        "collection `{collection}` holds {collection_dim}-dimensional vectors, but the model \
         {model} makes {model_dim}; index it with this model (`bigyo index --drop`) or use the \
         model it was built with ({built_with})"
    )]
    DimensionMismatch {
        collection: String,
        collection_dim: usize,
        model: String,
        model_dim: usize,
        built_with: String,
    },
    #[error(
        "collection `{collection}` was analysed with `{collection_analyzer}`, but this \
         session's BM25 analyzer is `{analyzer}`; pass --bm25-analyzer to match or re-index \
         with `bigyo index --drop`"
    )]
    AnalyzerMismatch {
        collection: String,
        collection_analyzer: String,
        analyzer: String,
    },
    #[error("passage {id} is not in collection `{collection}`")]
    MissingPassage { collection: String, id: usize },
    #[error("passage {id}: {field} is {bytes} bytes, more than Milvus's VarChar limit of {limit}")]
    TooLong {
        id: usize,
        field: &'static str,
        bytes: usize,
        limit: usize,
    },
    #[error("embedding passages for Milvus: {0}")]
    Embed(String),
    #[error("starting the Milvus client runtime: {0}")]
    Runtime(String),
}

/// Where the backend is: `milvus://HOST:PORT/COLLECTION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendUrl {
    pub host: String,
    pub port: u16,
    pub collection: String,
}

impl BackendUrl {
    /// Parses `milvus://HOST:PORT/COLLECTION` (the port is required; the collection name is
    /// Milvus's: a letter or `_`, then letters, digits and `_`, at most 255).
    pub fn parse(url: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("milvus://")
            .ok_or_else(|| bad("the scheme must be milvus://"))?;
        let (authority, collection) = rest
            .split_once('/')
            .ok_or_else(|| bad("no /COLLECTION after the address"))?;
        let (host, port) = authority
            .rsplit_once(':')
            .ok_or_else(|| bad("no :PORT in the address"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| bad(&format!("`{port}` is not a port number (1-65535)")))?;
        let mut chars = collection.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !first_ok
            || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            || collection.len() > 255
        {
            return Err(bad(&format!(
                "`{collection}` is not a collection name (a letter or _, then letters, digits \
                 and _)"
            )));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            collection: collection.to_owned(),
        })
    }

    /// `HOST:PORT`, as messages show it.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.address())
    }
}

impl std::fmt::Display for BackendUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "milvus://{}/{}", self.address(), self.collection)
    }
}

/// What [`MilvusBackend::check`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionInfo {
    pub collection: String,
    /// Passages indexed (`bigyo.passages`, counted when indexing finished).
    pub passages: usize,
    pub dim: usize,
    /// The encoder identity the vectors came from.
    pub model: String,
    /// The BM25 analyzer (as [`Analyzer::describe`](crate::bm25::Analyzer::describe) names it).
    pub analyzer: String,
    /// [`Corpus::content_hash`](crate::data::Corpus::content_hash) of the indexed corpus.
    pub corpus: String,
    /// The server-side tokenizer that splits `text_bm25` (`whitespace`, or `standard` on
    /// milvus-lite).
    pub tokenizer: String,
    /// The dense index type (`FLAT`, `HNSW`, `IVF_FLAT`).
    pub index_type: String,
}

impl CollectionInfo {
    /// A warning when the vectors came from another encoder than `identity` (same dimension,
    /// so searching works, but scores mean something else).
    pub fn model_warning(&self, identity: &str) -> Option<String> {
        (self.model != identity).then(|| {
            format!(
                "collection `{}` was embedded with {}, this session's encoder is {identity}",
                self.collection, self.model
            )
        })
    }

    /// A warning when the collection holds another corpus than `content_hash` names (passage
    /// ids then point at other passages than the local corpus's, and gold labels are off).
    pub fn corpus_warning(&self, content_hash: &str, passages: usize) -> Option<String> {
        (self.corpus != content_hash).then(|| {
            format!(
                "collection `{}` holds another corpus ({} passages) than the loaded one ({} \
                 passages); ids and gold labels will not line up",
                self.collection, self.passages, passages
            )
        })
    }
}

/// A connection to one collection on a Milvus server.
pub struct MilvusBackend {
    url: BackendUrl,
    timeout: Duration,
    runtime: tokio::runtime::Runtime,
    /// `None` after a lost connection: the next call connects again.
    client: Mutex<Option<Arc<ClientV2>>>,
}

impl std::fmt::Debug for MilvusBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MilvusBackend")
            .field("url", &self.url.to_string())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// How an SDK failure reads to the user.
enum Failure {
    /// The transport broke: reconnect next time.
    Transport(String),
    Server(String),
}

fn classify(e: &milvus::v2::error::Error) -> Failure {
    use milvus::v2::error::Error as E;
    match e {
        E::Grpc(_) | E::Timeout(_) | E::Cancelled(_) => Failure::Transport(e.to_string()),
        E::RetryExhausted { source, .. } => classify(source),
        E::Server(s) => Failure::Server(s.reason().to_owned()),
        other => Failure::Server(other.to_string()),
    }
}

impl MilvusBackend {
    /// Connects to the server (the collection is not looked at: see [`check`](Self::check)).
    /// `timeout` bounds the connection and each request.
    pub fn connect(url: &BackendUrl, timeout: Duration) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bigyo-milvus")
            .enable_all()
            .build()
            .map_err(|e| Error::Runtime(e.to_string()))?;
        let backend = Self {
            url: url.clone(),
            timeout,
            runtime,
            client: Mutex::new(None),
        };
        backend.client()?;
        Ok(backend)
    }

    pub fn url(&self) -> &BackendUrl {
        &self.url
    }

    pub fn collection(&self) -> &str {
        &self.url.collection
    }

    /// The client, connecting first when there is none.
    fn client(&self) -> Result<Arc<ClientV2>, Error> {
        let mut slot = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let address = self.url.address();
        // Few quick retries: a query should fail in about `timeout`, not after the SDK's 75
        // attempts with back-off.
        let config = ConnectConfig::new()
            .uri(self.url.endpoint())
            .connect_timeout(self.timeout)
            .rpc_timeout(self.timeout)
            .retry(
                RetryConfig::new()
                    .max_attempts(2)
                    .max_retry_timeout(self.timeout),
            )
            .telemetry(TelemetryConfig::new().enabled(false));
        let connected = self.runtime.block_on(async {
            tokio::time::timeout(
                self.timeout + Duration::from_secs(1),
                ClientV2::new(&config),
            )
            .await
        });
        let client = match connected {
            Ok(Ok(c)) => Arc::new(c),
            Ok(Err(e)) => {
                let detail = match classify(&e) {
                    Failure::Transport(d) | Failure::Server(d) => d,
                };
                return Err(Error::Unreachable { address, detail });
            }
            Err(_) => {
                return Err(Error::Unreachable {
                    address,
                    detail: format!("no answer within {:.1} s", self.timeout.as_secs_f64()),
                })
            }
        };
        tracing::info!("connected to Milvus at {}", self.url);
        *slot = Some(client.clone());
        Ok(client)
    }

    fn forget_client(&self) {
        *self.client.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Runs a read that needs the collection loaded; when the server says it is not (a
    /// restarted server comes back with its collections released), loads it and tries once
    /// more.
    fn loaded<T>(&self, mut read: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
        match read() {
            Err(Error::Server { detail, .. })
                if detail.contains("load") || detail.contains("released") =>
            {
                tracing::info!("reloading {} ({detail})", self.url);
                self.load()?;
                read()
            }
            other => other,
        }
    }

    /// Runs one SDK call under the timeout, mapping its failure to an [`Error`] named after
    /// `op`; a broken connection or a timeout drops the client so the next call reconnects.
    fn call<T, F, Fut>(&self, op: &'static str, f: F) -> Result<T, Error>
    where
        F: FnOnce(Arc<ClientV2>) -> Fut,
        Fut: Future<Output = milvus::v2::error::Result<T>>,
    {
        let client = self.client()?;
        let address = self.url.address();
        let outcome = self
            .runtime
            .block_on(async { tokio::time::timeout(self.timeout, f(client)).await });
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => match classify(&e) {
                Failure::Transport(detail) => {
                    self.forget_client();
                    tracing::warn!("Milvus {op} at {address}: {detail}");
                    if detail.contains("timed out") || detail.contains("deadline") {
                        return Err(Error::Timeout {
                            address,
                            op,
                            seconds: self.timeout.as_secs_f64(),
                        });
                    }
                    Err(Error::Lost {
                        address,
                        op,
                        detail,
                    })
                }
                Failure::Server(detail) => Err(Error::Server {
                    address,
                    op,
                    detail,
                }),
            },
            Err(_) => {
                self.forget_client();
                Err(Error::Timeout {
                    address,
                    op,
                    seconds: self.timeout.as_secs_f64(),
                })
            }
        }
    }

    /// Whether the collection exists.
    pub fn exists(&self) -> Result<bool, Error> {
        let name = self.url.collection.clone();
        self.call("has_collection", |c| async move {
            let request = milvus::v2::prelude::HasCollectionRequest::builder()
                .collection_name(name)
                .build()?;
            Ok(c.has_collection(request).await?.exists())
        })
    }

    /// Checks that the collection is ready for a session whose encoder makes `dim`-sized
    /// vectors and whose BM25 analyzer is `analyzer` (its `describe()`), and loads it.
    pub fn check(&self, dim: usize, analyzer: &str) -> Result<CollectionInfo, Error> {
        let info = self.describe()?;
        if info.dim != dim {
            return Err(Error::DimensionMismatch {
                collection: info.collection.clone(),
                collection_dim: info.dim,
                model: "this session's encoder".into(),
                model_dim: dim,
                built_with: info.model.clone(),
            });
        }
        if info.analyzer != analyzer {
            return Err(Error::AnalyzerMismatch {
                collection: info.collection,
                collection_analyzer: info.analyzer,
                analyzer: analyzer.to_owned(),
            });
        }
        if let Some(detail) = schema::incomplete(&self.properties()?) {
            return Err(Error::Incomplete {
                collection: info.collection,
                detail,
            });
        }
        self.load()?;
        Ok(info)
    }

    /// As [`check`](Self::check), naming the model in a dimension mismatch.
    pub fn check_model(
        &self,
        model: &str,
        dim: usize,
        analyzer: &str,
    ) -> Result<CollectionInfo, Error> {
        self.check(dim, analyzer).map_err(|e| match e {
            Error::DimensionMismatch {
                collection,
                collection_dim,
                model_dim,
                built_with,
                ..
            } => Error::DimensionMismatch {
                collection,
                collection_dim,
                model: model.to_owned(),
                model_dim,
                built_with,
            },
            e => e,
        })
    }

    /// The collection's description as bigyo reads it; `MissingCollection` or `NotBigyo`.
    pub fn describe(&self) -> Result<CollectionInfo, Error> {
        if !self.exists()? {
            return Err(Error::MissingCollection {
                address: self.url.address(),
                collection: self.url.collection.clone(),
            });
        }
        let name = self.url.collection.clone();
        let desc = self.call("describe_collection", |c| async move {
            let request = milvus::v2::prelude::DescribeCollectionRequest::builder()
                .collection_name(name)
                .build()?;
            c.describe_collection(request).await
        })?;
        schema::read_info(&self.url.collection, desc.description())
    }

    fn properties(&self) -> Result<std::collections::HashMap<String, String>, Error> {
        let name = self.url.collection.clone();
        let desc = self.call("describe_collection", |c| async move {
            let request = milvus::v2::prelude::DescribeCollectionRequest::builder()
                .collection_name(name)
                .build()?;
            c.describe_collection(request).await
        })?;
        Ok(desc.description().get_properties().clone())
    }

    /// Loads the collection into memory (searching needs it; loading twice is harmless).
    pub fn load(&self) -> Result<(), Error> {
        let name = self.url.collection.clone();
        self.call("load_collection", |c| async move {
            let request = milvus::v2::prelude::LoadCollectionRequest::builder()
                .collection_name(name)
                .build()?;
            c.load_collection(request).await
        })
    }

    /// Rows in the collection (`count(*)`, strongly consistent).
    pub fn count(&self) -> Result<usize, Error> {
        let request = QueryRequest::builder()
            .collection_name(self.url.collection.clone())
            .output_fields(vec!["count(*)".to_owned()])
            .consistency_level(ConsistencyLevel::Strong);
        self.loaded(|| {
            let request = request.clone();
            self.call("count", |c| async move {
                let response = c.query(request.build()?).await?;
                let n = response
                    .results()
                    .rows()?
                    .next()
                    .map(|r| r.get_i64("count(*)"))
                    .transpose()?
                    .unwrap_or(0);
                Ok(n.max(0) as usize)
            })
        })
    }
}

#[cfg(test)]
mod tests;
