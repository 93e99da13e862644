//! Dense retrieval: L2-normalised passage embeddings in one matrix on the model's device,
//! exact top-k by one matrix product; and the on-disk embedding cache.
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tch::{Device, Tensor};

use crate::model::Embeddings;

/// A dense hit: passage index and cosine similarity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DenseHit {
    pub passage: usize,
    pub score: f32,
}

/// Passage embeddings, normalised, as a `[passages, dim]` f32 matrix.
pub struct DenseIndex {
    matrix: Tensor,
    len: usize,
    dim: usize,
}

impl std::fmt::Debug for DenseIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DenseIndex({} x {} on {:?})",
            self.len,
            self.dim,
            self.matrix.device()
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[error("dense index: {0}")]
pub struct DenseError(String);

impl DenseIndex {
    /// Builds the index on `device`, normalising each row.
    pub fn new(embeddings: &Embeddings, device: Device) -> Result<Self, DenseError> {
        let len = embeddings.len();
        let dim = embeddings.dim;
        if dim == 0 || embeddings.data.len() != len * dim {
            return Err(DenseError(format!(
                "{} values do not make rows of dimension {dim}",
                embeddings.data.len()
            )));
        }
        let matrix = Tensor::f_from_slice(&embeddings.data)
            .and_then(|t| t.f_reshape([len as i64, dim as i64]))
            .and_then(|t| t.f_to_device(device))
            .map_err(|e| DenseError(e.to_string()))?;
        let norms = matrix
            .f_norm_scalaropt_dim(2, [1i64].as_slice(), true)
            .and_then(|n| n.f_clamp_min(1e-12))
            .map_err(|e| DenseError(e.to_string()))?;
        let matrix = matrix
            .f_div(&norms)
            .map_err(|e| DenseError(e.to_string()))?;
        Ok(Self { matrix, len, dim })
    }

    /// Another handle on the same matrix, without a copy, for a thread that only searches
    /// (the explorer's evaluation runs beside the query worker).
    pub fn share(&self) -> Self {
        Self {
            matrix: self.matrix.shallow_clone(),
            len: self.len,
            dim: self.dim,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The `k` passages most similar to `query` (cosine), best first; ties by passage index.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<DenseHit>, DenseError> {
        if query.len() != self.dim {
            return Err(DenseError(format!(
                "query vector has dimension {}, the index {}",
                query.len(),
                self.dim
            )));
        }
        let k = k.min(self.len);
        if k == 0 {
            return Ok(Vec::new());
        }
        let _guard = tch::no_grad_guard();
        let run = || -> Result<(Vec<f32>, Vec<i64>), tch::TchError> {
            let q = Tensor::f_from_slice(query)?.f_to_device(self.matrix.device())?;
            let norm = q.f_norm()?.f_clamp_min(1e-12)?;
            let q = q.f_div(&norm)?;
            let scores = self.matrix.f_mv(&q)?;
            let (values, indices) = scores.f_topk(k as i64, 0, true, true)?;
            let values = values.f_to_device(Device::Cpu)?;
            let indices = indices.f_to_device(Device::Cpu)?;
            Ok((
                Vec::<f32>::try_from(&values)?,
                Vec::<i64>::try_from(&indices)?,
            ))
        };
        let (values, indices) = run().map_err(|e| DenseError(e.to_string()))?;
        let mut hits: Vec<DenseHit> = values
            .into_iter()
            .zip(indices)
            .map(|(score, i)| DenseHit {
                passage: i as usize,
                score,
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.passage.cmp(&b.passage)));
        Ok(hits)
    }

    /// Where `passage` stands for `query` over the whole index: its 1-based rank as
    /// [`search`](Self::search) would order all passages (cosine, ties by passage index) and
    /// its cosine. The explorer's gold line reads it for a passage beyond the pane's list.
    pub fn rank_of(&self, query: &[f32], passage: usize) -> Result<(usize, f32), DenseError> {
        if passage >= self.len {
            return Err(DenseError(format!(
                "passage {passage} is not in the index of {}",
                self.len
            )));
        }
        let scores = self.scores(query)?;
        let own = scores[passage];
        let ahead = scores
            .iter()
            .enumerate()
            .filter(|&(i, &s)| s > own || (s == own && i < passage))
            .count();
        Ok((ahead + 1, own))
    }

    /// The cosine of `query` with every passage, in passage order.
    fn scores(&self, query: &[f32]) -> Result<Vec<f32>, DenseError> {
        if query.len() != self.dim {
            return Err(DenseError(format!(
                "query vector has dimension {}, the index {}",
                query.len(),
                self.dim
            )));
        }
        let _guard = tch::no_grad_guard();
        let run = || -> Result<Vec<f32>, tch::TchError> {
            let q = Tensor::f_from_slice(query)?.f_to_device(self.matrix.device())?;
            let norm = q.f_norm()?.f_clamp_min(1e-12)?;
            let scores = self.matrix.f_mv(&q.f_div(&norm)?)?;
            Vec::<f32>::try_from(&scores.f_to_device(Device::Cpu)?)
        };
        run().map_err(|e| DenseError(e.to_string()))
    }
}

/// What a cache file holds, checked against what the caller expects on load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheMeta {
    /// The encoder's identity: model id or path, revision or weight hash, pooling, max length.
    pub model: String,
    /// [`Corpus::content_hash`](crate::data::Corpus::content_hash).
    pub corpus: String,
    pub rows: usize,
    /// 0 for "whatever the vectors have": remote models, whose dimension is known only from
    /// their answers.
    pub dim: usize,
}

impl CacheMeta {
    /// The file name: a hash of everything that makes the embeddings what they are.
    pub fn file_name(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.model.as_bytes());
        h.update([0]);
        h.update(self.corpus.as_bytes());
        h.update([0]);
        h.update(self.rows.to_le_bytes());
        h.update(self.dim.to_le_bytes());
        format!("{}.emb", &crate::data::hex(&h.finalize())[..32])
    }
}

const MAGIC: &[u8; 8] = b"BIGYOEMB";
const VERSION: u32 = 1;

/// Why a cache file was not used.
#[derive(Debug, thiserror::Error)]
pub enum CacheMiss {
    #[error("no cache file")]
    Absent,
    #[error("{path}: {reason}; it will be rebuilt")]
    Invalid { path: PathBuf, reason: String },
}

/// Embedding files under `<cache>/embeddings`, written atomically (temporary file + rename)
/// with a SHA-256 trailer, verified on every load.
#[derive(Debug, Clone)]
pub struct EmbeddingCache {
    dir: PathBuf,
}

impl EmbeddingCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The default location, `<bigyo cache>/embeddings`.
    pub fn default_location() -> Self {
        Self::new(crate::paths::cache_dir().join("embeddings"))
    }

    pub fn path(&self, meta: &CacheMeta) -> PathBuf {
        self.dir.join(meta.file_name())
    }

    /// The cached embeddings for `meta`, if a valid file exists.
    pub fn load(&self, meta: &CacheMeta) -> Result<Embeddings, CacheMiss> {
        let path = self.path(meta);
        let mut bytes = Vec::new();
        match File::open(&path) {
            Ok(mut f) => f.read_to_end(&mut bytes).map_err(|e| CacheMiss::Invalid {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(CacheMiss::Absent),
            Err(e) => {
                return Err(CacheMiss::Invalid {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        decode(&bytes, meta).map_err(|reason| CacheMiss::Invalid { path, reason })
    }

    /// Writes `embeddings` for `meta`; readers see either the old file or the whole new one.
    pub fn store(&self, meta: &CacheMeta, embeddings: &Embeddings) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path(meta);
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let tmp = self.dir.join(format!(
            ".{}.{}.{nonce}.tmp",
            meta.file_name(),
            std::process::id()
        ));
        let result = (|| {
            let mut file = File::create(&tmp)?;
            file.write_all(&encode(meta, embeddings))?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map(|()| path)
    }
}

fn encode(meta: &CacheMeta, embeddings: &Embeddings) -> Vec<u8> {
    let json = serde_json::to_vec(meta).unwrap_or_default();
    let mut out = Vec::with_capacity(16 + json.len() + embeddings.data.len() * 4 + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    for v in &embeddings.data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

fn decode(bytes: &[u8], expected: &CacheMeta) -> Result<Embeddings, String> {
    if bytes.len() < 16 + 32 {
        return Err(format!("truncated ({} bytes)", bytes.len()));
    }
    let (body, digest) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != digest {
        return Err("checksum mismatch (corrupt or truncated)".into());
    }
    if &body[..8] != MAGIC {
        return Err("not a bigyo embedding file".into());
    }
    let u32_at =
        |at: usize| u32::from_le_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]);
    if u32_at(8) != VERSION {
        return Err(format!("format version {} (expected {VERSION})", u32_at(8)));
    }
    let json_len = u32_at(12) as usize;
    let data = body
        .get(16 + json_len..)
        .ok_or_else(|| "header longer than the file".to_owned())?;
    let meta: CacheMeta = serde_json::from_slice(&body[16..16 + json_len])
        .map_err(|e| format!("unreadable header: {e}"))?;
    if &meta != expected {
        return Err(format!("made for {meta:?}, not {expected:?}"));
    }
    let dim = if meta.dim == 0 && meta.rows > 0 {
        data.len() / 4 / meta.rows
    } else {
        meta.dim
    };
    if dim == 0 || data.len() != meta.rows * dim * 4 {
        return Err(format!(
            "{} bytes of vectors for {} x {}",
            data.len(),
            meta.rows,
            meta.dim
        ));
    }
    let data = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Embeddings { dim, data })
}

/// Removes temporary files a killed run left behind (never trusted, only tidied).
pub fn tidy(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let day = std::time::Duration::from_secs(24 * 3600);
    for entry in entries.flatten() {
        let name = entry.file_name();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        if name.to_string_lossy().ends_with(".tmp") && stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> CacheMeta {
        CacheMeta {
            model: "m".into(),
            corpus: "c".into(),
            rows: 3,
            dim: 2,
        }
    }

    fn emb() -> Embeddings {
        Embeddings {
            dim: 2,
            data: vec![1.0, 0.0, 0.0, 2.0, 3.0, 3.0],
        }
    }

    #[test]
    fn exact_top_k_by_cosine() {
        let index = DenseIndex::new(&emb(), Device::Cpu).unwrap();
        let hits = index.search(&[1.0, 1.0], 2).unwrap();
        assert_eq!(hits[0].passage, 2);
        assert!((hits[0].score - 1.0).abs() < 1e-6);
        assert!((hits[1].score - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!(index.search(&[1.0, 1.0], 99).unwrap().len(), 3);
        assert!(index.search(&[1.0], 2).is_err());
        assert!(index.search(&[1.0, 0.0], 0).unwrap().is_empty());
    }

    #[test]
    fn rank_of_is_the_place_in_the_whole_ordering_ties_by_index() {
        // Rows 0 and 3 tie; 7 rows, so a top-3 list would not hold the last ones.
        let data = vec![
            1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, -1.0, 0.2, 0.3, -1.0, 0.5, 0.4,
        ];
        let index = DenseIndex::new(&Embeddings { dim: 2, data }, Device::Cpu).unwrap();
        let query = [0.9, 0.2];
        let all = index.search(&query, 7).unwrap();
        for (i, hit) in all.iter().enumerate() {
            let (rank, score) = index.rank_of(&query, hit.passage).unwrap();
            assert_eq!(rank, i + 1, "passage {}", hit.passage);
            assert!((score - hit.score).abs() < 1e-6);
        }
        assert!(index.rank_of(&query, 7).is_err());
        assert!(index.rank_of(&[1.0], 0).is_err());
    }

    #[test]
    fn cache_round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let cache = EmbeddingCache::new(dir.path());
        assert!(matches!(cache.load(&meta()), Err(CacheMiss::Absent)));
        let path = cache.store(&meta(), &emb()).unwrap();
        assert_eq!(cache.load(&meta()).unwrap(), emb());
        // Other corpus: a different file.
        let other = CacheMeta {
            corpus: "d".into(),
            ..meta()
        };
        assert!(matches!(cache.load(&other), Err(CacheMiss::Absent)));
        // Flipped byte.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[40] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let err = cache.load(&meta()).unwrap_err().to_string();
        assert!(err.contains("checksum"), "{err}");
        // Truncated.
        cache.store(&meta(), &emb()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        assert!(matches!(
            cache.load(&meta()),
            Err(CacheMiss::Invalid { .. })
        ));
        // Dimension 0 in the key: the file says how wide its rows are (remote models).
        let unsized_meta = CacheMeta { dim: 0, ..meta() };
        cache.store(&unsized_meta, &emb()).unwrap();
        assert_eq!(cache.load(&unsized_meta).unwrap(), emb());
        std::fs::remove_file(cache.path(&unsized_meta)).unwrap();
        // No temporary files left behind.
        cache.store(&meta(), &emb()).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
