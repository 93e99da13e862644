//! The bi-encoder: transformer + pooling (+ normalisation), as sentence-transformers runs it.
use std::path::Path;

use tokenizers::{Encoding, Tokenizer};

use super::config::{Architecture, HfConfig, SentenceConfig, TokenizerConfig};
use super::files::ModelDir;
use super::pooling::{l2_normalize, Pooling};
use super::prompt::{Prompts, Side, SidePrompts};
use super::st_dense::{DenseLayer, SharedDense};
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
    /// Overrides the model's query prompt (`Some("")`: none).
    pub query_prompt: Option<String>,
    /// Overrides the model's passage prompt (`Some("")`: none).
    pub passage_prompt: Option<String>,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        Self {
            runtime: Runtime::cpu(),
            batch: BatchOptions::default(),
            pooling: None,
            query_prompt: None,
            passage_prompt: None,
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
    model_prompts: Prompts,
    prompts: SidePrompts,
    include_prompt: bool,
    /// sentence-transformers `Dense` modules after pooling (before normalisation).
    dense: Vec<DenseLayer>,
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
        let dense = sentence
            .dense
            .iter()
            .map(|d| DenseLayer::load(d, opts.runtime))
            .collect::<Result<Vec<_>>>()?;
        let prompts = SidePrompts::resolve(
            &sentence.prompts,
            opts.query_prompt.as_deref(),
            opts.passage_prompt.as_deref(),
        );
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
            model_prompts: sentence.prompts,
            prompts,
            include_prompt: sentence.include_prompt,
            dense,
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
        self.transformer.dtype_name()
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

    /// The prompts the model's `config_sentence_transformers.json` names.
    pub fn model_prompts(&self) -> &Prompts {
        &self.model_prompts
    }

    /// The prompt each side gets (after `--query-prompt` / `--passage-prompt`).
    pub fn prompts(&self) -> &SidePrompts {
        &self.prompts
    }

    /// Whether pooling includes the prompt's tokens (`include_prompt` of the pooling config).
    pub fn include_prompt(&self) -> bool {
        self.include_prompt
    }

    /// The vector width under `pooling`: the last `Dense` module's output when there is one.
    fn output_dim(&self, pooling: &Pooling) -> usize {
        match self.dense.last() {
            Some(d) => d.out_features as usize,
            None => pooling.output_dim(self.transformer.hidden_size() as usize),
        }
    }

    /// Tensors in the checkpoint that the encoder did not use.
    pub fn unexpected_tensors(&self) -> &[String] {
        &self.unexpected
    }

    /// Tokenises as sentence-transformers does: strip, optional lowercasing, truncation to
    /// max_seq_length with special tokens.
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Encoding>> {
        self.tokenize_prompted("", texts)
    }

    /// Tokenises `prompt + text`: sentence-transformers adds the prompt to the text before
    /// tokenising, so the prompt shares the truncation budget.
    pub fn tokenize_prompted(&self, prompt: &str, texts: &[&str]) -> Result<Vec<Encoding>> {
        let texts = super::prompt::prefixed(prompt, texts);
        self.encode_cased(texts.iter().map(|t| t.trim()).collect())
    }

    fn encode_cased(&self, texts: Vec<&str>) -> Result<Vec<Encoding>> {
        let prepared: Vec<String> = texts
            .into_iter()
            .map(|t| {
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

    /// How many leading tokens of a prompted input are the prompt's, as sentence-transformers
    /// counts them (`Transformer._get_prompt_length`): the prompt tokenised alone with special
    /// tokens, less a trailing special token ([SEP], </s>).
    pub fn prompt_length(&self, prompt: &str) -> Result<usize> {
        if prompt.is_empty() {
            return Ok(0);
        }
        // Not stripped: sentence-transformers measures the prompt as written.
        let encoding = self
            .encode_cased(vec![prompt])?
            .into_iter()
            .next()
            .ok_or_else(|| ModelError::Tokenizer {
                path: self.identity.clone().into(),
                message: "the tokenizer returned nothing for the prompt".into(),
            })?;
        let n = encoding.get_ids().len();
        let trailing_special = encoding.get_special_tokens_mask().last() == Some(&1);
        Ok(if trailing_special { n - 1 } else { n })
    }

    /// Embeds with an explicit pooling and normalisation (the golden tests compare each mode),
    /// without a prompt.
    pub fn embed_with(
        &self,
        texts: &[&str],
        pooling: &Pooling,
        normalize: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Embeddings> {
        self.embed_prompted(texts, "", pooling, normalize, progress)
    }

    /// Embeds `prompt + text` for each text; with `include_prompt` false the prompt's tokens
    /// stay out of the pooling.
    pub fn embed_prompted(
        &self,
        texts: &[&str],
        prompt: &str,
        pooling: &Pooling,
        normalize: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Embeddings> {
        let encodings = self.tokenize_prompted(prompt, texts)?;
        let skip = if self.include_prompt {
            0
        } else {
            self.prompt_length(prompt)? as i64
        };
        let dense = SharedDense::new(&self.dense);
        let (data, dim) = self.transformer.run_batched_parallel(
            &encodings,
            self.batch,
            progress,
            &|tokens, batch| {
                let pooled = dense.forward(pooling.forward_skipping(
                    tokens,
                    &batch.attention_mask,
                    skip,
                )?)?;
                if normalize {
                    l2_normalize(&pooled)
                } else {
                    Ok(pooled)
                }
            },
        )?;
        let dim = if texts.is_empty() {
            self.output_dim(pooling)
        } else {
            dim
        };
        Ok(Embeddings { dim, data })
    }
}

impl Embedder for SentenceEncoder {
    fn identity(&self) -> String {
        let mut id = format!(
            "{}|{}|{}|max{}|{}",
            self.identity,
            self.pooling,
            if self.normalize { "norm" } else { "raw" },
            self.max_seq_length,
            self.transformer.precision()
        );
        for d in &self.dense {
            id.push_str(&format!("|dense{}", d.out_features));
        }
        // The passage prompt changes the passage vectors, so it is part of the cache key
        // (models without one keep their old key).
        if !self.prompts.passage.is_empty() {
            id.push_str(&format!("|passage-prompt={:?}", self.prompts.passage));
            if !self.include_prompt {
                id.push_str("|prompt-excluded");
            }
        }
        id
    }

    fn dim(&self) -> usize {
        self.output_dim(&self.pooling)
    }

    fn embed(
        &mut self,
        side: Side,
        texts: &[&str],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Embeddings> {
        let pooling = self.pooling.clone();
        let prompt = self.prompts.get(side).to_owned();
        self.embed_prompted(texts, &prompt, &pooling, self.normalize, progress)
    }

    fn pooling(&self) -> Option<(Pooling, Pooling)> {
        Some((self.pooling.clone(), self.default_pooling.clone()))
    }

    fn set_pooling(&mut self, pooling: Pooling) -> bool {
        self.pooling = pooling;
        true
    }
}
