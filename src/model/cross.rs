//! The cross-encoder: a one-label sequence classifier reading (query, passage) pairs.
use tokenizers::{EncodeInput, Encoding, Tokenizer};

use super::config::Architecture;
use super::encoder::load_parts;
use super::files::ModelDir;
use super::transformer::{ClassifierHead, Linear, Pooler, SharedHead, Transformer};
use super::{BatchOptions, ModelError, Progress, Reranker, Result, Runtime};

/// A reranker on libtorch, matching sentence-transformers' `CrossEncoder` with no activation.
pub struct CrossEncoder {
    identity: String,
    arch: Architecture,
    transformer: Transformer,
    head: ClassifierHead,
    tokenizer: Tokenizer,
    max_length: usize,
    batch: BatchOptions,
}

impl CrossEncoder {
    pub fn load(model: &ModelDir, runtime: Runtime, batch: BatchOptions) -> Result<Self> {
        let dir = model.root.clone();
        let config_path = dir.join("config.json");
        let mut parts = load_parts(&dir, runtime)?;
        if let Some(arch) = parts.config.architectures.first() {
            if !arch.ends_with("ForSequenceClassification") {
                return Err(ModelError::invalid(
                    &config_path,
                    format!("architectures says {arch}; a reranker must be a *ForSequenceClassification model"),
                ));
            }
        }
        if parts.arch == Architecture::DistilBert {
            return Err(ModelError::invalid(
                &config_path,
                "a DistilBERT reranker is not supported (bert, roberta and xlm-roberta are)",
            ));
        }
        let mut transformer =
            Transformer::load(&parts.config, parts.arch, &config_path, &mut parts.weights)?;
        transformer.prepare(runtime)?;
        let h = parts.config.hidden_size;
        let w = &mut parts.weights;
        // The label count is read off the classifier's weights; config.json's id2label is
        // often left at its default of two even for one-label models.
        let out_name = match parts.arch {
            Architecture::Bert => "classifier.weight",
            Architecture::Roberta | Architecture::XlmRoberta | Architecture::DistilBert => {
                "classifier.out_proj.weight"
            }
        };
        let labels = match w.shape_of(out_name) {
            Some(shape) if shape.len() == 2 => shape[0],
            _ => {
                return Err(ModelError::invalid(
                    w.path(),
                    format!(
                        "no classifier head ({out_name} is missing): not a sequence classifier"
                    ),
                ))
            }
        };
        if labels != 1 {
            return Err(ModelError::invalid(
                &config_path,
                format!("the classifier has {labels} labels; a reranker needs exactly one (a relevance logit)"),
            ));
        }
        let head = match parts.arch {
            Architecture::Bert => ClassifierHead::Bert {
                pooler: Pooler::load(w, h),
                classifier: Linear::load(w, "classifier", h, 1),
            },
            Architecture::Roberta | Architecture::XlmRoberta | Architecture::DistilBert => {
                ClassifierHead::Roberta {
                    dense: Linear::load(w, "classifier.dense", h, h),
                    out_proj: Linear::load(w, "classifier.out_proj", h, 1),
                }
            }
        };
        let unexpected = parts.weights.finish()?;
        if !unexpected.is_empty() {
            tracing::info!(model = %model.identity, ?unexpected, "unused tensors in checkpoint");
        }
        // CrossEncoder truncates pairs longest-first to the tokenizer's model_max_length.
        let max_length = parts
            .tokenizer_config
            .max_length()
            .unwrap_or(usize::MAX)
            .min(transformer.max_positions());
        let tokenizer = super::tokenizer::load(&dir, &parts.tokenizer_config, max_length)?;
        Ok(Self {
            identity: model.identity.clone(),
            arch: parts.arch,
            transformer,
            head,
            tokenizer,
            max_length,
            batch,
        })
    }

    pub fn architecture(&self) -> Architecture {
        self.arch
    }

    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// The dense-layer kernels in use and why.
    pub fn kernel_plan(&self) -> &super::cpu::KernelPlan {
        self.transformer.kernel_plan()
    }

    /// The dtype the model runs in (`f32`, `bf16`, `f16`).
    pub fn dtype_name(&self) -> &'static str {
        self.transformer.dtype_name()
    }

    /// Encodes (query, passage) pairs with the model's own pair template.
    pub fn tokenize_pairs(&self, query: &str, passages: &[&str]) -> Result<Vec<Encoding>> {
        let inputs: Vec<EncodeInput> = passages
            .iter()
            .map(|p| (query.trim().to_owned(), p.trim().to_owned()).into())
            .collect();
        self.tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| ModelError::Tokenizer {
                path: self.identity.clone().into(),
                message: e.to_string(),
            })
    }
}

impl Reranker for CrossEncoder {
    fn identity(&self) -> String {
        format!(
            "{}|max{}|{}",
            self.identity,
            self.max_length,
            self.transformer.precision()
        )
    }

    fn score(
        &mut self,
        query: &str,
        passages: &[&str],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<f32>> {
        let encodings = self.tokenize_pairs(query, passages)?;
        let head = SharedHead::new(&self.head);
        // Length-sorted batches, spread over single-threaded streams on a multi-core CPU;
        // `progress` hears of each batch as it finishes.
        let (logits, _) = self.transformer.run_batched_parallel(
            &encodings,
            self.batch,
            progress,
            &|tokens, _| head.forward(tokens),
        )?;
        Ok(logits)
    }
}
