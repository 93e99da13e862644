//! `bigyo index`: the corpus into a Milvus collection, in batches, resumable.
use std::collections::HashMap;
use std::time::Instant;

use milvus::v2::prelude::{
    AlterCollectionPropertiesRequest, ConsistencyLevel, CreateCollectionRequest, DeleteRequest,
    DropCollectionRequest, IndexParam, IndexType, InsertRequest, LoadCollectionRequest, MetricType,
    UpsertRequest,
};
use sha2::{Digest, Sha256};

use super::schema::{self, *};
use super::{terms, Error, MilvusBackend};
use crate::bm25::Analyzer;
use crate::data::Corpus;
use crate::model::{Embedder, Progress, Side};

/// The dense index Milvus builds: `Flat` is exact (what bigyo's local search does); `Hnsw`
/// and `IvfFlat` are approximate and what a collection of millions needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VectorIndex {
    #[default]
    Flat,
    Hnsw,
    IvfFlat,
}

impl VectorIndex {
    pub const ALL: [VectorIndex; 3] = [Self::Flat, Self::Hnsw, Self::IvfFlat];

    /// Milvus's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Flat => "FLAT",
            Self::Hnsw => "HNSW",
            Self::IvfFlat => "IVF_FLAT",
        }
    }

    fn param(self) -> IndexParam {
        let p = IndexParam::new()
            .field_name(DENSE)
            .metric_type(MetricType::Cosine);
        let extra = |kv: serde_json::Value| build_params(kv);
        match self {
            Self::Flat => p.index_type(IndexType::Flat),
            // Milvus's usual starting points; see the README's scaling section.
            Self::Hnsw => p
                .index_type(IndexType::Hnsw)
                .extra_params(extra(serde_json::json!({"M": 16, "efConstruction": 200}))),
            Self::IvfFlat => p
                .index_type(IndexType::IvfFlat)
                .extra_params(extra(serde_json::json!({"nlist": 1024}))),
        }
    }
}

impl std::str::FromStr for VectorIndex {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.to_ascii_uppercase().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|v| v.name() == norm)
            .ok_or_else(|| format!("unknown vector index `{s}` (choose flat, hnsw or ivf_flat)"))
    }
}

/// How to index.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Passages per upsert (and per embedding call).
    pub batch: usize,
    /// Drop the collection first and build it anew.
    pub drop: bool,
    pub vector_index: VectorIndex,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self {
            batch: 256,
            drop: false,
            vector_index: VectorIndex::Flat,
        }
    }
}

/// What `bigyo index` did.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSummary {
    /// Passages written (new or changed).
    pub inserted: usize,
    /// Passages already present with the same content hash.
    pub skipped: usize,
    /// Rows removed because the corpus no longer has them (ids past its end).
    pub removed: usize,
    /// Whether the collection was created by this run.
    pub created: bool,
    /// The server-side tokenizer of `text_bm25`.
    pub tokenizer: String,
    pub seconds: f64,
    /// Of which embedding the passages.
    pub embed_seconds: f64,
}

/// Index build parameters as pymilvus sends them: one `params` key holding JSON. Milvus
/// reads this form as well as flat keys; milvus-lite reads only this one (flat keys, as the
/// Rust SDK sends `extra_params`, are silently ignored there: BM25 would run with k1 = 1.5).
fn build_params(params: serde_json::Value) -> HashMap<String, String> {
    HashMap::from([("params".to_owned(), params.to_string())])
}

/// A passage's content hash: what a resumed run compares.
pub fn passage_hash(title: &str, text: &str) -> String {
    let mut h = Sha256::new();
    h.update((title.len() as u64).to_le_bytes());
    h.update(title.as_bytes());
    h.update(text.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What the collection must match: the encoder's dimension and identity and the analyzer.
struct Target {
    dim: usize,
    model: String,
    analyzer: String,
}

/// Counts kept across batches.
#[derive(Default)]
struct Tally {
    inserted: usize,
    skipped: usize,
    embed_seconds: f64,
}

/// One passage as a collection row; a field longer than Milvus's VARCHAR limit is refused.
fn passage_row(
    corpus: &Corpus,
    analyzer: &Analyzer,
    id: usize,
    hash: &str,
    vector: &[f32],
) -> Result<serde_json::Value, Error> {
    let p = &corpus.passages[id];
    let bm25: Vec<String> = analyzer
        .terms(&p.text)
        .into_iter()
        .map(|t| t.text)
        .collect();
    let bm25 = terms::encode_terms(&bm25);
    for (field, value) in [(TITLE, &p.title), (TEXT, &p.text), (TEXT_BM25, &bm25)] {
        if value.len() > VARCHAR_MAX {
            return Err(Error::TooLong {
                id,
                field,
                bytes: value.len(),
                limit: VARCHAR_MAX,
            });
        }
    }
    Ok(serde_json::json!({
        ID: id as i64,
        TITLE: p.title,
        TEXT: p.text,
        HASH: hash,
        TEXT_BM25: bm25,
        DENSE: vector,
    }))
}

impl MilvusBackend {
    /// Writes `corpus` into the collection: creates it (or checks that it matches the
    /// encoder's dimension and identity and the analyzer), then upserts the passages whose
    /// content hash differs, `opts.batch` at a time, calling `progress` after each batch. The
    /// collection is marked complete only after its rows were counted at the end, so an
    /// interrupted run leaves a collection that [`check`](Self::check) refuses.
    pub fn index(
        &mut self,
        corpus: &Corpus,
        encoder: &mut dyn Embedder,
        analyzer: &Analyzer,
        opts: &IndexOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<IndexSummary, Error> {
        let started = Instant::now();
        let n = corpus.passages.len();
        let batch = opts.batch.max(1);
        let model = encoder.identity();
        let analyzer_name = analyzer.describe();
        let mut tally = Tally::default();
        let mut dim = encoder.dim();
        if dim == 0 {
            // A remote encoder learns its dimension from its first answer.
            let first = corpus.passages.first().map(|p| p.text.as_str());
            let t = Instant::now();
            let e = encoder
                .embed(Side::Passage, &[first.unwrap_or(" ")], &mut |_| {})
                .map_err(|e| Error::Embed(e.to_string()))?;
            tally.embed_seconds += t.elapsed().as_secs_f64();
            dim = e.dim;
        }

        let target = Target {
            dim,
            model,
            analyzer: analyzer_name,
        };
        let (exists, tokenizer) = self.prepare(corpus, &target, opts)?;
        for start in (0..n).step_by(batch) {
            let ids: Vec<usize> = (start..(start + batch).min(n)).collect();
            self.index_batch(corpus, encoder, analyzer, dim, &ids, &mut tally)?;
            progress(Progress {
                done: ids.last().map_or(0, |l| l + 1),
                total: n,
            });
        }
        let removed = self.finish(n)?;
        Ok(IndexSummary {
            inserted: tally.inserted,
            skipped: tally.skipped,
            removed,
            created: !exists,
            tokenizer,
            seconds: started.elapsed().as_secs_f64(),
            embed_seconds: tally.embed_seconds,
        })
    }

    /// Drops the collection if asked, then checks the one there against `target` (and marks
    /// it incomplete and loads it) or creates it. Returns whether a collection was kept and
    /// its `text_bm25` tokenizer.
    fn prepare(
        &mut self,
        corpus: &Corpus,
        target: &Target,
        opts: &IndexOptions,
    ) -> Result<(bool, String), Error> {
        let mut exists = self.exists()?;
        if exists && opts.drop {
            let name = self.url.collection.clone();
            self.call("drop_collection", |c| async move {
                c.drop_collection(
                    DropCollectionRequest::builder()
                        .collection_name(name)
                        .build()?,
                )
                .await
            })?;
            exists = false;
        }
        let marks = HashMap::from([
            (P_COMPLETE.to_owned(), "false".to_owned()),
            (P_PASSAGES.to_owned(), corpus.passages.len().to_string()),
            (P_CORPUS.to_owned(), corpus.content_hash()),
        ]);
        let tokenizer = if exists {
            let tokenizer = self.check_matches(target)?;
            self.alter(marks)?;
            self.load()?;
            tokenizer
        } else {
            let mut props = marks;
            props.insert(P_FORMAT.into(), FORMAT.into());
            props.insert(P_MODEL.into(), target.model.clone());
            props.insert(P_ANALYZER.into(), target.analyzer.clone());
            props.insert(P_INDEX.into(), opts.vector_index.name().into());
            self.create(target.dim, props, opts.vector_index)?
        };
        Ok((exists, tokenizer))
    }

    /// Refuses an existing collection built with another dimension, analyzer or encoder;
    /// returns its tokenizer.
    fn check_matches(&self, target: &Target) -> Result<String, Error> {
        let info = self.describe()?;
        if info.dim != target.dim {
            return Err(Error::DimensionMismatch {
                collection: info.collection,
                collection_dim: info.dim,
                model: target.model.clone(),
                model_dim: target.dim,
                built_with: info.model,
            });
        }
        if info.analyzer != target.analyzer {
            return Err(Error::AnalyzerMismatch {
                collection: info.collection,
                collection_analyzer: info.analyzer,
                analyzer: target.analyzer.clone(),
            });
        }
        if info.model != target.model {
            return Err(Error::NotBigyo {
                collection: info.collection,
                reason: format!(
                    "its vectors come from {}, this encoder is {}; mixing them would \
                     rank nonsense, so rebuild it with --drop",
                    info.model, target.model
                ),
            });
        }
        Ok(info.tokenizer)
    }

    /// One batch: reads the stored hashes of `ids`, then embeds and upserts the passages
    /// that are new or changed.
    fn index_batch(
        &self,
        corpus: &Corpus,
        encoder: &mut dyn Embedder,
        analyzer: &Analyzer,
        dim: usize,
        ids: &[usize],
        tally: &mut Tally,
    ) -> Result<(), Error> {
        let present: HashMap<usize, String> = self
            .query_rows("reading hashes", ids, &[ID, HASH])?
            .into_iter()
            .map(|(id, mut f)| (id, f.pop().unwrap_or_default()))
            .collect();
        let mut todo = Vec::new();
        for &id in ids {
            let p = &corpus.passages[id];
            let hash = passage_hash(&p.title, &p.text);
            if present.get(&id) == Some(&hash) {
                tally.skipped += 1;
            } else {
                todo.push((id, hash));
            }
        }
        if todo.is_empty() {
            return Ok(());
        }
        let texts: Vec<&str> = todo
            .iter()
            .map(|(id, _)| corpus.passages[*id].text.as_str())
            .collect();
        let t = Instant::now();
        let vectors = encoder
            .embed(Side::Passage, &texts, &mut |_| {})
            .map_err(|e| Error::Embed(e.to_string()))?;
        tally.embed_seconds += t.elapsed().as_secs_f64();
        if vectors.dim != dim || vectors.len() != todo.len() {
            return Err(Error::Embed(format!(
                "the encoder returned {} vectors of dimension {} for {} passages of \
                 dimension {dim}",
                vectors.len(),
                vectors.dim,
                todo.len()
            )));
        }
        let mut rows = Vec::with_capacity(todo.len());
        for (i, (id, hash)) in todo.iter().enumerate() {
            rows.push(passage_row(corpus, analyzer, *id, hash, vectors.row(i))?);
        }
        tally.inserted += rows.len();
        let name = self.url.collection.clone();
        self.call("upsert", |c| async move {
            let insert = InsertRequest::builder()
                .collection_name(name)
                .rows(rows)
                .build()?;
            c.upsert(UpsertRequest::builder().insert(insert).build()?)
                .await
                .map(|_| ())
        })
    }

    /// Removes rows past the corpus's end, checks the count and marks the collection
    /// complete. Returns how many rows were removed.
    fn finish(&self, n: usize) -> Result<usize, Error> {
        // Rows past the corpus's end belong to an older, longer corpus.
        let before = self.count()?;
        let mut removed = 0;
        if before > n {
            let name = self.url.collection.clone();
            self.call("delete", |c| async move {
                let request = DeleteRequest::builder()
                    .collection_name(name)
                    .filter(format!("{ID} >= {n}"))
                    .build()?;
                c.delete(request).await.map(|_| ())
            })?;
            removed = before.saturating_sub(n);
        }
        let count = self.count()?;
        if count != n {
            return Err(Error::Incomplete {
                collection: self.url.collection.clone(),
                detail: format!("counted {count} rows after indexing, expected {n}"),
            });
        }
        self.alter(HashMap::from([(P_COMPLETE.to_owned(), "true".to_owned())]))?;
        Ok(removed)
    }

    fn alter(&self, properties: HashMap<String, String>) -> Result<(), Error> {
        let name = self.url.collection.clone();
        self.call("altering collection properties", |c| async move {
            let request = AlterCollectionPropertiesRequest::builder()
                .collection_name(name)
                .properties(properties)
                .build()?;
            c.alter_collection_properties(request).await
        })
    }

    /// Creates and loads the collection; returns the tokenizer it got. Milvus has a
    /// `whitespace` tokenizer; milvus-lite only `standard`, which [`terms`] makes equivalent.
    fn create(
        &self,
        dim: usize,
        mut props: HashMap<String, String>,
        vector_index: VectorIndex,
    ) -> Result<String, Error> {
        let mut last = None;
        for tokenizer in ["whitespace", "standard"] {
            props.insert(P_TOKENIZER.into(), tokenizer.into());
            let name = self.url.collection.clone();
            let props = props.clone();
            let created = self.call("create_collection", |c| async move {
                let sparse = IndexParam::new()
                    .field_name(SPARSE)
                    .index_type(IndexType::SparseInvertedIndex)
                    .metric_type(MetricType::Bm25)
                    // Lucene's (and tantivy's) constants; milvus-lite defaults k1 to 1.5.
                    .extra_params(build_params(
                        serde_json::json!({"bm25_k1": 1.2, "bm25_b": 0.75}),
                    ));
                let request = CreateCollectionRequest::builder()
                    .collection_name(name.clone())
                    .schema(schema::collection_schema(dim, tokenizer))
                    .index_params(vec![vector_index.param(), sparse])
                    .properties(props)
                    .consistency_level(ConsistencyLevel::Strong)
                    .build()?;
                c.create_collection(request).await?;
                c.load_collection(
                    LoadCollectionRequest::builder()
                        .collection_name(name)
                        .build()?,
                )
                .await
            });
            match created {
                Ok(()) => return Ok(tokenizer.to_owned()),
                Err(Error::Server { detail, .. })
                    if detail.contains("tokenizer") && tokenizer == "whitespace" =>
                {
                    tracing::info!("no whitespace tokenizer on the server ({detail}); standard");
                    last = Some(detail);
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Server {
            address: self.url.address(),
            op: "create_collection",
            detail: last.unwrap_or_default(),
        })
    }
}
