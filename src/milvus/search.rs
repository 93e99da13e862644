//! Reading the collection: dense, BM25 and server-RRF searches, and passage texts by id.
use milvus::v2::prelude::{
    ConsistencyLevel, HybridSearchRequest, Ids, MetricType, QueryRequest, RRFRerank, SearchRequest,
    SearchResults, SearchVectors, SubSearchRequest,
};

use super::{schema, terms, Error, MilvusBackend};

impl MilvusBackend {
    /// The `k` passages nearest to `vector` (cosine), best first.
    pub fn dense_search(&self, vector: &[f32], k: usize) -> Result<Vec<(usize, f64)>, Error> {
        if k == 0 || vector.is_empty() {
            return Ok(Vec::new());
        }
        let request = SearchRequest::builder()
            .collection_name(self.url.collection.clone())
            .vector_field(schema::DENSE)
            .vectors(SearchVectors::Float(vec![vector.to_vec()]))
            .metric_type(MetricType::Cosine)
            .limit(k as i64)
            .consistency_level(ConsistencyLevel::Strong);
        let results = self.loaded(|| {
            let request = request.clone();
            self.call("dense search", |c| async move {
                Ok(c.search(request.build()?).await?.results().clone())
            })
        })?;
        ranked(&results, false)
    }

    /// The `k` best passages for the analysed query `terms` under the server's BM25, best
    /// first (scores as the server computes them; see the README on how they differ from
    /// tantivy's).
    pub fn bm25_search(&self, terms: &[String], k: usize) -> Result<Vec<(usize, f64)>, Error> {
        if k == 0 || terms.is_empty() {
            return Ok(Vec::new());
        }
        let request = SearchRequest::builder()
            .collection_name(self.url.collection.clone())
            .vector_field(schema::SPARSE)
            .vectors(SearchVectors::EmbeddedText(vec![terms::encode_terms(
                terms,
            )]))
            .metric_type(MetricType::Bm25)
            .limit(k as i64)
            .consistency_level(ConsistencyLevel::Strong);
        let results = self.loaded(|| {
            let request = request.clone();
            self.call("BM25 search", |c| async move {
                Ok(c.search(request.build()?).await?.results().clone())
            })
        })?;
        ranked(&results, true)
    }

    /// Milvus's own hybrid search: the dense and BM25 top `depth` fused by its RRF ranker
    /// with constant `rrf_k`, top `k`. Equal weights only (the server's RRF has none).
    pub fn server_rrf(
        &self,
        vector: &[f32],
        terms: &[String],
        depth: usize,
        k: usize,
        rrf_k: f64,
    ) -> Result<Vec<(usize, f64)>, Error> {
        if k == 0 || depth == 0 {
            return Ok(Vec::new());
        }
        let mut subs = Vec::new();
        let sub = |field: &str, vectors: SearchVectors, metric: MetricType| {
            SubSearchRequest::builder()
                .vector_field(field)
                .vectors(vectors)
                .metric_type(metric)
                .limit(depth as i64)
        };
        if !vector.is_empty() {
            subs.push(sub(
                schema::DENSE,
                SearchVectors::Float(vec![vector.to_vec()]),
                MetricType::Cosine,
            ));
        }
        if !terms.is_empty() {
            subs.push(sub(
                schema::SPARSE,
                SearchVectors::EmbeddedText(vec![terms::encode_terms(terms)]),
                MetricType::Bm25,
            ));
        }
        if subs.is_empty() {
            return Ok(Vec::new());
        }
        let results = self.loaded(|| {
            let name = self.url.collection.clone();
            let subs = subs.clone();
            self.call("hybrid search", |c| async move {
                let subs = subs
                    .into_iter()
                    .map(|s| s.build())
                    .collect::<Result<Vec<_>, _>>()?;
                let request = HybridSearchRequest::builder()
                    .collection_name(name)
                    .sub_requests(subs)
                    .rerank(RRFRerank::new().k(rrf_k.round() as i64))
                    .limit(k as i64)
                    .consistency_level(ConsistencyLevel::Strong)
                    .build()?;
                Ok(c.hybrid_search(request).await?.results().clone())
            })
        })?;
        ranked(&results, false)
    }

    /// `(title, text)` of each passage in `ids`, in that order.
    pub fn texts(&self, ids: &[usize]) -> Result<Vec<(String, String)>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self.query_rows(
            "fetching passages",
            ids,
            &[schema::ID, schema::TITLE, schema::TEXT],
        )?;
        let mut by_id = std::collections::HashMap::new();
        for (id, fields) in rows {
            let mut fields = fields.into_iter();
            let title = fields.next().unwrap_or_default();
            let text = fields.next().unwrap_or_default();
            by_id.insert(id, (title, text));
        }
        ids.iter()
            .map(|id| {
                by_id.get(id).cloned().ok_or_else(|| Error::MissingPassage {
                    collection: self.url.collection.clone(),
                    id: *id,
                })
            })
            .collect()
    }

    /// `id` and the string `fields` (after `id`) of the rows whose id is in `ids`.
    pub(super) fn query_rows(
        &self,
        op: &'static str,
        ids: &[usize],
        fields: &[&str],
    ) -> Result<Vec<(usize, Vec<String>)>, Error> {
        let list = ids
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let request = QueryRequest::builder()
            .collection_name(self.url.collection.clone())
            .filter(format!("{} in [{list}]", schema::ID))
            .output_fields(fields.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .consistency_level(ConsistencyLevel::Strong);
        let fields: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        self.loaded(|| {
            let request = request.clone();
            let fields = fields.clone();
            self.call(op, |c| async move {
                let response = c.query(request.build()?).await?;
                let mut out = Vec::new();
                for row in response.results().rows()? {
                    let id = row.get_i64(schema::ID)?;
                    let values = fields[1..]
                        .iter()
                        .map(|f| row.get_str(f).map(str::to_owned))
                        .collect::<Result<Vec<_>, _>>()?;
                    out.push((id.max(0) as usize, values));
                }
                Ok(out)
            })
        })
    }
}

/// The first result list as `(passage, score)`, best first, ties by passage index. `abs`:
/// BM25 scores are never negative, but milvus-lite reports them negated (as a distance).
fn ranked(results: &SearchResults, abs: bool) -> Result<Vec<(usize, f64)>, Error> {
    let Some(first) = results.get_results().first() else {
        return Ok(Vec::new());
    };
    let ids: Vec<i64> = match first.get_ids() {
        Ids::Int64(v) => v.clone(),
        Ids::VarChar(v) => v.iter().filter_map(|s| s.parse().ok()).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<(usize, f64)> = ids
        .into_iter()
        .zip(first.get_scores())
        .map(|(id, &s)| {
            let s = s as f64;
            (id.max(0) as usize, if abs { s.abs() } else { s })
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(out)
}
