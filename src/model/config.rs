//! The model's own files, parsed: `config.json` and the sentence-transformers metadata.
use std::path::Path;

use serde::Deserialize;

use super::json::read_json;
use super::pooling::{PoolMode, Pooling};
use super::prompt::Prompts;
use super::st_dense::DenseConfig;
use super::{ModelError, Result};

/// The encoder families bigyo runs. They share one transformer body and differ in position
/// ids, token types and classifier head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    Bert,
    Roberta,
    XlmRoberta,
    /// DistilBERT: BERT's post-LN layers under other tensor names, no token types.
    DistilBert,
}

impl Architecture {
    /// RoBERTa-style models number positions from `pad_token_id + 1`.
    pub fn roberta_positions(self) -> bool {
        matches!(self, Self::Roberta | Self::XlmRoberta)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Bert => "bert",
            Self::Roberta => "roberta",
            Self::XlmRoberta => "xlm-roberta",
            Self::DistilBert => "distilbert",
        }
    }
}

fn default_act() -> String {
    "gelu".into()
}
fn default_eps() -> f64 {
    1e-12
}
fn default_type_vocab() -> i64 {
    2
}

/// The fields of Hugging Face `config.json` that the forward pass depends on.
#[derive(Debug, Clone, Deserialize)]
pub struct HfConfig {
    pub model_type: Option<String>,
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    pub max_position_embeddings: i64,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: i64,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    pub pad_token_id: Option<i64>,
    pub position_embedding_type: Option<String>,
    #[serde(default)]
    pub architectures: Vec<String>,
}

impl HfConfig {
    pub fn load(path: &Path) -> Result<(Self, Architecture)> {
        let mut value: serde_json::Value = read_json(path)?;
        let model_type = value
            .get("model_type")
            .and_then(|v| v.as_str())
            .ok_or_else(|| ModelError::invalid(path, "field model_type is missing"))?
            .to_owned();
        let arch = match model_type.as_str() {
            "bert" => Architecture::Bert,
            "roberta" => Architecture::Roberta,
            "xlm-roberta" => Architecture::XlmRoberta,
            "distilbert" => {
                distilbert_fields(&mut value);
                Architecture::DistilBert
            }
            _ => {
                return Err(ModelError::UnsupportedModelType {
                    path: path.to_owned(),
                    model_type,
                })
            }
        };
        let config: Self = serde_json::from_value(value)
            .map_err(|e| ModelError::invalid(path, format!("not a {model_type} config: {e}")))?;
        if let Some(kind) = config.position_embedding_type.as_deref() {
            if kind != "absolute" {
                return Err(ModelError::invalid(
                    path,
                    format!(
                        "position_embedding_type {kind:?} is not supported (only \"absolute\")"
                    ),
                ));
            }
        }
        if config.hidden_size % config.num_attention_heads != 0 {
            return Err(ModelError::invalid(
                path,
                format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    config.hidden_size, config.num_attention_heads
                ),
            ));
        }
        Ok((config, arch))
    }

    pub fn pad_id(&self, arch: Architecture) -> i64 {
        self.pad_token_id
            .unwrap_or(if arch.roberta_positions() { 1 } else { 0 })
    }

    /// The longest input the position table allows.
    pub fn max_positions(&self, arch: Architecture) -> usize {
        let offset = if arch.roberta_positions() {
            self.pad_id(arch) + 1
        } else {
            0
        };
        (self.max_position_embeddings - offset).max(0) as usize
    }
}

/// DistilBERT's config.json names BERT's fields its own way (`dim`, `n_layers`, `n_heads`,
/// `hidden_dim`, `activation`); its layer norms use eps 1e-12 (fixed in modeling_distilbert.py)
/// and it has no token-type embeddings.
fn distilbert_fields(value: &mut serde_json::Value) {
    let Some(map) = value.as_object_mut() else {
        return;
    };
    for (from, to) in [
        ("dim", "hidden_size"),
        ("n_layers", "num_hidden_layers"),
        ("n_heads", "num_attention_heads"),
        ("hidden_dim", "intermediate_size"),
        ("activation", "hidden_act"),
    ] {
        if let Some(v) = map.get(from).cloned() {
            map.insert(to.to_owned(), v);
        }
    }
    map.insert("type_vocab_size".into(), 0.into());
    map.insert("layer_norm_eps".into(), serde_json::json!(1e-12));
}

/// `tokenizer_config.json`: the fields that shape tokenisation.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenizerConfig {
    pub do_lower_case: Option<bool>,
    pub strip_accents: Option<bool>,
    pub tokenize_chinese_chars: Option<bool>,
    pub model_max_length: Option<f64>,
    pub unk_token: Option<TokenValue>,
    pub sep_token: Option<TokenValue>,
    pub cls_token: Option<TokenValue>,
    pub pad_token: Option<TokenValue>,
}

/// A special token is written either as a plain string or as an `AddedToken` object.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TokenValue {
    Plain(String),
    Added { content: String },
}

impl TokenValue {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Plain(s) => s,
            Self::Added { content } => content,
        }
    }
}

impl TokenizerConfig {
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("tokenizer_config.json");
        if path.exists() {
            read_json(&path)
        } else {
            Ok(Self::default())
        }
    }

    /// `model_max_length`, ignoring the huge sentinel transformers writes when it is unset.
    pub fn max_length(&self) -> Option<usize> {
        self.model_max_length
            .filter(|&n| n > 0.0 && n < 1e6)
            .map(|n| n as usize)
    }
}

/// One entry of sentence-transformers' `modules.json`.
#[derive(Debug, Deserialize)]
pub(crate) struct ModuleEntry {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub path: String,
}

pub(crate) fn read_modules(path: &Path) -> Result<Vec<ModuleEntry>> {
    read_json(path)
}

#[derive(Debug, Default, Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
    #[serde(default)]
    do_lower_case: bool,
}

#[derive(Debug, Default, Deserialize)]
struct PoolingConfig {
    /// sentence-transformers >= 5 writes one `pooling_mode` string instead of the flags.
    pooling_mode: Option<String>,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
    /// sentence-transformers >= 3: `false` leaves the prompt's tokens out of the pooling.
    #[serde(default = "yes")]
    include_prompt: bool,
}

fn yes() -> bool {
    true
}

/// The sentence-transformers pipeline around the transformer, read from `modules.json`.
/// A plain Hugging Face model (no `modules.json`) gets what sentence-transformers gives it:
/// mean pooling, no normalisation.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceConfig {
    /// Sub-directory holding the transformer (empty for most models, `0_Transformer` for old ones).
    pub transformer_dir: String,
    pub pooling: Pooling,
    pub pooling_is_default: bool,
    pub normalize: bool,
    pub max_seq_length: Option<usize>,
    pub do_lower_case: bool,
    /// `include_prompt` of `1_Pooling/config.json` (true when absent).
    pub include_prompt: bool,
    /// `config_sentence_transformers.json`'s prompts.
    pub prompts: Prompts,
    /// `Dense` modules after pooling, in order (multilingual CLIP text encoders have one).
    pub dense: Vec<DenseConfig>,
}

impl SentenceConfig {
    pub fn load(dir: &Path) -> Result<Self> {
        let modules_path = dir.join("modules.json");
        let mut out = SentenceConfig {
            transformer_dir: String::new(),
            pooling: Pooling::single(PoolMode::Mean),
            pooling_is_default: true,
            normalize: false,
            max_seq_length: None,
            do_lower_case: false,
            include_prompt: true,
            prompts: Prompts::load(dir)?,
            dense: Vec::new(),
        };
        if modules_path.exists() {
            let modules = read_modules(&modules_path)?;
            for module in &modules {
                let kind = module.kind.rsplit('.').next().unwrap_or(&module.kind);
                match kind {
                    "Transformer" => out.transformer_dir = module.path.clone(),
                    "Pooling" => {
                        let (pooling, include_prompt) =
                            load_pooling(&dir.join(&module.path).join("config.json"))?;
                        out.pooling = pooling;
                        out.include_prompt = include_prompt;
                        out.pooling_is_default = false;
                    }
                    "Normalize" => out.normalize = true,
                    "Dense" => {
                        out.dense.push(DenseConfig::load(&dir.join(&module.path))?);
                    }
                    "LayerNorm" | "CNN" | "LSTM" | "WeightedLayerPooling" => {
                        return Err(ModelError::invalid(
                            &modules_path,
                            format!("module type {} is not supported", module.kind),
                        ))
                    }
                    _ => {
                        tracing::warn!(module = %module.kind, "ignoring unknown sentence-transformers module")
                    }
                }
            }
        }
        let sbert_path = dir
            .join(&out.transformer_dir)
            .join("sentence_bert_config.json");
        if sbert_path.exists() {
            let sbert: SentenceBertConfig = read_json(&sbert_path)?;
            out.max_seq_length = sbert.max_seq_length;
            out.do_lower_case = sbert.do_lower_case;
        }
        Ok(out)
    }
}

fn load_pooling(path: &Path) -> Result<(Pooling, bool)> {
    let mut config: PoolingConfig = read_json(path)?;
    match config.pooling_mode.as_deref() {
        None => {}
        Some("mean") => config.pooling_mode_mean_tokens = true,
        Some("cls") => config.pooling_mode_cls_token = true,
        Some("max") => config.pooling_mode_max_tokens = true,
        Some("mean_sqrt_len_tokens") => config.pooling_mode_mean_sqrt_len_tokens = true,
        Some(other) => {
            return Err(ModelError::invalid(
                path,
                format!(
                "pooling_mode {other:?} is not supported (cls, mean, max, mean_sqrt_len_tokens)"
            ),
            ))
        }
    }
    if config.pooling_mode_weightedmean_tokens || config.pooling_mode_lasttoken {
        return Err(ModelError::invalid(
            path,
            "weighted-mean and last-token pooling are not supported (cls, mean, max, mean_sqrt_len are)",
        ));
    }
    // sentence-transformers concatenates the enabled modes in this order.
    let modes: Vec<PoolMode> = [
        (config.pooling_mode_cls_token, PoolMode::Cls),
        (config.pooling_mode_max_tokens, PoolMode::Max),
        (config.pooling_mode_mean_tokens, PoolMode::Mean),
        (
            config.pooling_mode_mean_sqrt_len_tokens,
            PoolMode::MeanSqrtLen,
        ),
    ]
    .into_iter()
    .filter_map(|(on, mode)| on.then_some(mode))
    .collect();
    if modes.is_empty() {
        return Err(ModelError::invalid(path, "no pooling mode is enabled"));
    }
    Ok((Pooling { modes }, config.include_prompt))
}
