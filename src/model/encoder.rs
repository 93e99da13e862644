//! The bi-encoder: transformer + pooling (+ normalisation), as sentence-transformers runs it.
use std::path::Path;

use tokenizers::{Encoding, Tokenizer};

use super::config::{Architecture, HfConfig, SentenceConfig, TokenizerConfig};
use super::files::ModelDir;
use super::pooling::{l2_normalize, Pooling};
use super::transformer::Transformer;
use super::weights::{find_weights, WeightMap};
use super::{BatchOptions, Embedder, Embeddings, ModelError, Progress, Result, Runtime};

/// How to load and run an encoder.
#[derive(Debug, Clone)]
pub struct EncoderOptions {
    pub runtime: Runtime,
    pub batch: BatchOptions,
    /// Overrides the pooling from `1_Pooling/config.json`.
    pub pooling: Option<Pooling>,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        Self {
            runtime: Runtime::cpu(),
            batch: BatchOptions::default(),
            pooling: None,
        }
    }
}

/// The loaded parts shared by the bi-encoder and the cross-encoder.
pub(crate) struct Loaded {
    pub config: HfConfig,
    pub arch: Architecture,
    pub tokenizer_config: TokenizerConfig,
    pub weights: WeightMap,
}

pub(crate) fn load_parts(dir: &Path, runtime: Runtime) -> Result<Loaded> {
    let config_path = dir.join("config.json");
    if !config_path.is_file() {
        return Err(ModelError::invalid(dir, "config.json is missing"));
    }
    let (config, arch) = HfConfig::load(&config_path)?;
    let weights_path = find_weights(dir).ok_or_else(|| {
        ModelError::invalid(
            dir,
            "no weights: expected model.safetensors or pytorch_model.bin",
        )
    })?;
    let tokenizer_config = TokenizerConfig::load(dir)?;
    let weights = WeightMap::load(&weights_path, runtime.device, runtime.storage_kind())?;
    Ok(Loaded {
        config,
        arch,
        tokenizer_config,
        weights,
    })
}

/// A sentence-transformers bi-encoder on libtorch.
pub struct SentenceEncoder {
    identity: String,
    arch: Architecture,
    transformer: Transformer,
    tokenizer: Tokenizer,
    pooling: Pooling,
    default_pooling: Pooling,
    normalize: bool,
    max_seq_length: usize,
    lower_case: bool,
    batch: BatchOptions,
    unexpected: Vec<String>,
}

impl SentenceEncoder {
    pub fn load(model: &ModelDir, opts: &EncoderOptions) -> Result<Self> {
        let sentence = SentenceConfig::load(&model.root)?;
        let dir = model.root.join(&sentence.transformer_dir);
        let mut parts = load_parts(&dir, opts.runtime)?;
        let mut transformer = Transformer::load(
            &parts.config,
            parts.arch,
            &dir.join("config.json"),
            &mut parts.weights,
        )?;
        transformer.prepare(opts.runtime)?;
        let unexpected = parts.weights.finish()?;
        if !unexpected.is_empty() {
            tracing::info!(model = %model.identity, ?unexpected, "unused tensors in checkpoint");
        }
        // sentence-transformers: max_seq_length from sentence_bert_config.json, else
        // min(max_position_embeddings, tokenizer.model_max_length); never past the position table.
        let max_seq_length = sentence
            .max_seq_length
            .or(parts.tokenizer_config.max_length())
            .unwrap_or(usize::MAX)
            .min(transformer.max_positions());
        let tokenizer = super::tokenizer::load(&dir, &parts.tokenizer_config, max_seq_length)?;
        let default_pooling = sentence.pooling.clone();
        Ok(Self {
            identity: model.identity.clone(),
            arch: parts.arch,
            transformer,
            tokenizer,
            pooling: opts
                .pooling
                .clone()
                .unwrap_or_else(|| default_pooling.clone()),
            default_pooling,
            normalize: sentence.normalize,
            max_seq_length,
            lower_case: sentence.do_lower_case,
            batch: opts.batch,
            unexpected,
        })
    }

    pub fn architecture(&self) -> Architecture {
        self.arch
    }

    pub fn max_seq_length(&self) -> usize {
        self.max_seq_length
    }

    /// The dense-layer kernels in use and why.
    pub fn kernel_plan(&self) -> &super::cpu::KernelPlan {
        self.transformer.kernel_plan()
    }

    /// The dtype the model runs in (`f32`, `bf16`, `f16`).
    pub fn dtype_name(&self) -> &'static str {
        super::device::kind_name(self.transformer.kind)
    }

    pub fn normalizes(&self) -> bool {
        self.normalize
    }

    pub fn pooling(&self) -> &Pooling {
        &self.pooling
    }

    /// The pooling the model's own files ask for.
    pub fn default_pooling(&self) -> &Pooling {
        &self.default_pooling
    }

    /// Switches pooling for later calls (the model's own setting stays the default).
    pub fn set_pooling(&mut self, pooling: Pooling) {
        self.pooling = pooling;
    }

    /// Tensors in the checkpoint that the encoder did not use.
    pub fn unexpected_tensors(&self) -> &[String] {
        &self.unexpected
    }

    /// Tokenises as sentence-transformers does: strip, optional lowercasing, truncation to
    /// max_seq_length with special tokens.
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Encoding>> {
        let prepared: Vec<String> = texts
            .iter()
            .map(|t| {
                let t = t.trim();
                if self.lower_case {
                    t.to_lowercase()
                } else {
                    t.to_owned()
                }
            })
            .collect();
        self.tokenizer
            .encode_batch(prepared, true)
            .map_err(|e| ModelError::Tokenizer {
                path: self.identity.clone().into(),
                message: e.to_string(),
            })
    }

    /// Embeds with an explicit pooling and normalisation (the golden tests compare each mode).
    pub fn embed_with(
        &self,
        texts: &[&str],
        pooling: &Pooling,
        normalize: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Embeddings> {
        let encodings = self.tokenize(texts)?;
        let (data, dim) = self.transformer.run_batched_parallel(
            &encodings,
            self.batch,
            progress,
            &|tokens, batch| {
                let pooled = pooling.forward(tokens, &batch.attention_mask)?;
                if normalize {
                    l2_normalize(&pooled)
                } else {
                    Ok(pooled)
                }
            },
        )?;
        let dim = if texts.is_empty() {
            pooling.output_dim(self.transformer.hidden_size() as usize)
        } else {
            dim
        };
        Ok(Embeddings { dim, data })
    }
}

impl Embedder for SentenceEncoder {
    fn identity(&self) -> String {
        format!(
            "{}|{}|{}|max{}|{}",
            self.identity,
            self.pooling,
            if self.normalize { "norm" } else { "raw" },
            self.max_seq_length,
            self.transformer.precision()
        )
    }

    fn dim(&self) -> usize {
        self.pooling
            .output_dim(self.transformer.hidden_size() as usize)
    }

    fn embed(&mut self, texts: &[&str], progress: &mut dyn FnMut(Progress)) -> Result<Embeddings> {
        let pooling = self.pooling.clone();
        self.embed_with(texts, &pooling, self.normalize, progress)
    }
}
