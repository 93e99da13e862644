//! Finding a model's files: a local directory in the Hugging Face layout, or a hub id
//! fetched through hf-hub into the standard hub cache (`HF_HOME`, `HF_ENDPOINT` honoured).
use std::io::Read;
use std::path::{Path, PathBuf};

use hf_hub::{Cache, Repo, RepoType};
use sha2::{Digest, Sha256};

use super::config::read_modules;
use super::weights::find_weights;
use super::{ModelError, Result};
use crate::hubio::HubRepo;

/// What the user named: `--model ID|DIR`, with an optional pinned revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    pub id: String,
    pub revision: Option<String>,
    /// Use only the local hub cache; never touch the network.
    pub offline: bool,
    /// Draw download progress bars on stderr.
    pub progress: bool,
}

impl ModelSpec {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            revision: None,
            offline: false,
            progress: false,
        }
    }
}

/// Where a model can come from ([`ModelDir::reach`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// A local directory, or a complete copy in the hub cache.
    Here,
    /// Not cached, but the hub lists it: it downloads on first use.
    Hub,
    /// Neither: why.
    Unreachable(String),
}

/// A model directory on disk with everything the loaders read, and a stable identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDir {
    pub root: PathBuf,
    /// `hub-id@commit` for hub models, `path#sha256-prefix-of-weights` for local ones.
    pub identity: String,
}

/// The files a model may have, besides its weights; all optional except config.json.
const METADATA: &[&str] = &[
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
];

impl ModelDir {
    /// Resolves a spec: an existing directory is used as is; anything else is a hub id.
    pub fn resolve(spec: &ModelSpec) -> Result<Self> {
        Self::resolve_parts(spec, true)
    }

    /// As [`resolve`](Self::resolve), but a hub model's weights are not downloaded: for
    /// reading only its tokenizer (the BM25 wordpiece analyzer).
    pub fn resolve_tokenizer(spec: &ModelSpec) -> Result<Self> {
        Self::resolve_parts(spec, false)
    }

    fn resolve_parts(spec: &ModelSpec, weights: bool) -> Result<Self> {
        let path = Path::new(&spec.id);
        if path.is_dir() {
            return Self::local(path);
        }
        if spec.id.starts_with('.') || spec.id.starts_with('/') || spec.id.matches('/').count() > 1
        {
            return Err(ModelError::invalid(path, "no such model directory"));
        }
        Self::hub(spec, weights)
    }

    fn local(path: &Path) -> Result<Self> {
        let root = path.canonicalize().map_err(|source| ModelError::Io {
            path: path.to_owned(),
            source,
        })?;
        let transformer = transformer_dir(&root)?;
        let hash = match find_weights(&transformer) {
            Some(weights) => hash_file(&weights)?,
            None => "no-weights".into(),
        };
        Ok(Self {
            identity: format!("{}#{}", root.display(), &hash[..16.min(hash.len())]),
            root,
        })
    }

    fn hub(spec: &ModelSpec, with_weights: bool) -> Result<Self> {
        let repo = match &spec.revision {
            Some(rev) => Repo::with_revision(spec.id.clone(), RepoType::Model, rev.clone()),
            None => Repo::new(spec.id.clone(), RepoType::Model),
        };
        if spec.offline {
            return Self::from_cache(spec, repo);
        }
        let hub = HubRepo::new(repo.clone(), spec.progress)
            .map_err(|e| ModelError::Hub(format!("{e} (for {})", spec.id)))?;
        let info = match hub.info() {
            Ok(info) => info,
            Err(e) => {
                // Unreachable hub: a cached copy still serves.
                if let Ok(cached) = Self::from_cache(spec, repo) {
                    tracing::warn!("listing {} failed ({e}); using the cached copy", spec.id);
                    return Ok(cached);
                }
                return Err(ModelError::Hub(format!(
                    "cannot list {} on the hub ({e}); check the id and the network, or name a \
                     local model with --model DIR, or search without one (--methods bm25)",
                    spec.id
                )));
            }
        };
        let listed: Vec<String> = info.siblings.into_iter().map(|s| s.rfilename).collect();
        let has = |name: &str| listed.iter().any(|f| f == name);
        let get = |name: &str| -> Result<PathBuf> {
            hub.get(name, &mut |_, _| {})
                .map_err(|e| ModelError::Hub(format!("downloading {name} from {}: {e}", spec.id)))
        };
        if !has("config.json") && !has("modules.json") {
            return Err(ModelError::Hub(format!(
                "{} has no config.json: not a transformers model",
                spec.id
            )));
        }
        let mut snapshot = None;
        let mut prefix = String::new();
        if has("modules.json") {
            let modules = get("modules.json")?;
            prefix = transformer_prefix(&modules)?;
            for pooling in pooling_dirs(&modules)? {
                let name = format!("{pooling}/config.json");
                if has(&name) {
                    get(&name)?;
                }
            }
            snapshot = modules.parent().map(Path::to_path_buf);
        }
        for name in METADATA {
            let name = format!("{prefix}{name}");
            if has(&name) {
                let path = get(&name)?;
                snapshot.get_or_insert_with(|| snapshot_root(&path, &name));
            }
        }
        let identity = format!("{}@{}", spec.id, info.sha);
        if !with_weights {
            if let Some(root) = snapshot {
                return Ok(Self { identity, root });
            }
        }
        let weights = ["model.safetensors", "pytorch_model.bin"]
            .iter()
            .map(|w| format!("{prefix}{w}"))
            .find(|w| has(w))
            .ok_or_else(|| {
                ModelError::Hub(format!(
                    "{} has neither model.safetensors nor pytorch_model.bin{}",
                    spec.id,
                    if has("model.safetensors.index.json") {
                        " (sharded checkpoints are not supported yet)"
                    } else {
                        ""
                    }
                ))
            })?;
        let path = get(&weights)?;
        let root = snapshot.unwrap_or_else(|| snapshot_root(&path, &weights));
        Ok(Self { identity, root })
    }

    /// Whether `spec` can be had without downloading it now, from the hub, or not at all
    /// (and why), without downloading anything: a local directory or a cached hub copy is
    /// `Here`; otherwise the hub is asked for the repository's listing (bounded wait).
    pub fn reach(spec: &ModelSpec) -> Reach {
        if Path::new(&spec.id).is_dir() {
            return Reach::Here;
        }
        let repo = match &spec.revision {
            Some(rev) => Repo::with_revision(spec.id.clone(), RepoType::Model, rev.clone()),
            None => Repo::new(spec.id.clone(), RepoType::Model),
        };
        if Self::from_cache(spec, repo.clone()).is_ok() {
            return Reach::Here;
        }
        if spec.offline {
            return Reach::Unreachable("is not cached and --offline was given".into());
        }
        match HubRepo::new(repo, false).and_then(|hub| hub.info()) {
            Ok(_) => Reach::Hub,
            Err(e) => {
                Reach::Unreachable(format!("is not cached and the hub cannot be reached: {e}"))
            }
        }
    }

    fn from_cache(spec: &ModelSpec, repo: Repo) -> Result<Self> {
        let cache = Cache::from_env().repo(repo);
        let config = cache
            .get("config.json")
            .or_else(|| cache.get("modules.json"));
        let Some(config) = config else {
            return Err(ModelError::Hub(format!(
                "{} is not in the hub cache ({}) and --offline forbids downloading it; name a \
                 local model with --model DIR, or search without one (--methods bm25)",
                spec.id,
                Cache::from_env().path().display()
            )));
        };
        let root = config
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| ModelError::invalid(&config, "cached file has no parent directory"))?;
        let commit = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Self {
            identity: format!("{}@{commit}", spec.id),
            root,
        })
    }

    /// The directory holding config.json, the tokenizer and the weights.
    pub fn transformer_dir(&self) -> Result<PathBuf> {
        transformer_dir(&self.root)
    }
}

fn transformer_prefix(modules: &Path) -> Result<String> {
    Ok(read_modules(modules)?
        .iter()
        .find(|e| e.kind.ends_with("Transformer") && !e.path.is_empty())
        .map(|e| format!("{}/", e.path.trim_end_matches('/')))
        .unwrap_or_default())
}

fn pooling_dirs(modules: &Path) -> Result<Vec<String>> {
    Ok(read_modules(modules)?
        .into_iter()
        .filter(|e| e.kind.ends_with("Pooling") && !e.path.is_empty())
        .map(|e| e.path)
        .collect())
}

fn transformer_dir(root: &Path) -> Result<PathBuf> {
    let modules = root.join("modules.json");
    if modules.is_file() {
        let prefix = transformer_prefix(&modules)?;
        return Ok(root.join(prefix));
    }
    Ok(root.to_path_buf())
}

/// `…/snapshots/<sha>/a/b.json` for file `a/b.json` -> `…/snapshots/<sha>`.
fn snapshot_root(path: &Path, name: &str) -> PathBuf {
    let depth = name.split('/').count();
    let mut root = path.to_path_buf();
    for _ in 0..depth {
        root.pop();
    }
    root
}

/// A fingerprint of a weights file: SHA-256 over its size and its first and last 4 MiB.
/// Reading the whole file (hundreds of MB for the Korean models) cost more than the rest of
/// start-up; retrained or replaced weights change size or bytes at both ends.
fn hash_file(path: &Path) -> Result<String> {
    use std::io::{Seek, SeekFrom};
    const EDGE: u64 = 4 << 20;
    let io = |source| ModelError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut hasher = Sha256::new();
    hasher.update(len.to_le_bytes());
    let mut buf = Vec::new();
    (&mut file).take(EDGE).read_to_end(&mut buf).map_err(io)?;
    hasher.update(&buf);
    if len > EDGE {
        buf.clear();
        file.seek(SeekFrom::Start(len.saturating_sub(EDGE).max(EDGE)))
            .map_err(io)?;
        file.read_to_end(&mut buf).map_err(io)?;
        hasher.update(&buf);
    }
    Ok(format!("{:x}", hasher.finalize()))
}
