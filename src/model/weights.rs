//! Loading a checkpoint's tensors by their Hugging Face names.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use tch::{Device, Kind, Tensor};

use super::{ModelError, Result};

/// Which weight file a model directory provides, in order of preference.
pub fn find_weights(dir: &Path) -> Option<PathBuf> {
    ["model.safetensors", "pytorch_model.bin"]
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

/// A checkpoint's tensors, with names normalised: the `bert.` / `roberta.` prefix that
/// task models add is removed, and old TF-converted `LayerNorm.gamma/beta` become
/// `weight/bias` (as transformers' loader renames them).
pub struct WeightMap {
    path: PathBuf,
    tensors: BTreeMap<String, Tensor>,
    used: BTreeSet<String>,
    missing: Vec<String>,
    mismatch: Option<ModelError>,
    device: Device,
    kind: Kind,
}

impl WeightMap {
    pub fn load(path: &Path, device: Device, kind: Kind) -> Result<Self> {
        let is_safetensors = path.extension().is_some_and(|e| e == "safetensors");
        let raw = if is_safetensors {
            Tensor::read_safetensors(path)
        } else {
            Tensor::loadz_multi(path)
        }
        .map_err(|e| ModelError::invalid(path, format!("cannot read weights: {e}")))?;
        let mut tensors = BTreeMap::new();
        for (name, tensor) in raw {
            tensors.insert(normalize_name(&name), tensor);
        }
        Ok(Self {
            path: path.to_owned(),
            tensors,
            used: BTreeSet::new(),
            missing: Vec::new(),
            mismatch: None,
            device,
            kind,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn shape_of(&self, name: &str) -> Option<Vec<i64>> {
        self.tensors.get(name).map(Tensor::size)
    }

    /// Takes tensor `name` with the expected shape, moved to the model's device and dtype.
    /// Missing tensors and shape mismatches are collected and reported by [`finish`].
    ///
    /// [`finish`]: Self::finish
    pub fn take(&mut self, name: &str, shape: &[i64]) -> Tensor {
        // On the model's device and dtype like a real tensor, so that code combining tensors
        // at load (the stacked Q/K/V) gets as far as `finish`, which names what is missing.
        let (kind, device) = (self.kind, self.device);
        let placeholder = || Tensor::zeros(shape, (kind, device));
        let Some(tensor) = self.tensors.get(name) else {
            self.missing.push(name.to_owned());
            return placeholder();
        };
        self.used.insert(name.to_owned());
        if tensor.size() != shape {
            if self.mismatch.is_none() {
                self.mismatch = Some(ModelError::ShapeMismatch {
                    path: self.path.clone(),
                    name: name.to_owned(),
                    found: tensor.size(),
                    expected: shape.to_vec(),
                });
            }
            return placeholder();
        }
        match tensor
            .f_to_device(self.device)
            .and_then(|t| t.f_to_kind(self.kind))
        {
            Ok(t) => t,
            Err(e) => {
                self.mismatch.get_or_insert(ModelError::Torch(e));
                placeholder()
            }
        }
    }

    /// Fails on missing or mis-shaped tensors; returns the unexpected ones (present in the
    /// file, never used), which are harmless (an MLM head, a pooler an embedder ignores).
    pub fn finish(self) -> Result<Vec<String>> {
        if !self.missing.is_empty() {
            let shown: Vec<&str> = self.missing.iter().take(12).map(String::as_str).collect();
            let more = self.missing.len().saturating_sub(shown.len());
            let mut names = shown.join(", ");
            if more > 0 {
                names.push_str(&format!(" and {more} more"));
            }
            return Err(ModelError::MissingTensors {
                path: self.path,
                count: self.missing.len(),
                names,
            });
        }
        if let Some(err) = self.mismatch {
            return Err(err);
        }
        Ok(self
            .tensors
            .keys()
            .filter(|k| !self.used.contains(*k) && !is_buffer(k))
            .cloned()
            .collect())
    }
}

/// Non-parameter buffers that checkpoints may carry.
fn is_buffer(name: &str) -> bool {
    name.ends_with("position_ids") || name.ends_with("token_type_ids")
}

fn normalize_name(name: &str) -> String {
    let mut name = name;
    for prefix in ["bert.", "roberta.", "distilbert.", "model."] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest;
            break;
        }
    }
    name.replace("LayerNorm.gamma", "LayerNorm.weight")
        .replace("LayerNorm.beta", "LayerNorm.bias")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_model_prefixes_and_tf_layer_norm_names_are_normalised() {
        assert_eq!(
            normalize_name("bert.encoder.layer.0.output.LayerNorm.gamma"),
            "encoder.layer.0.output.LayerNorm.weight"
        );
        assert_eq!(
            normalize_name("roberta.embeddings.word_embeddings.weight"),
            "embeddings.word_embeddings.weight"
        );
        assert_eq!(
            normalize_name("classifier.out_proj.bias"),
            "classifier.out_proj.bias"
        );
    }
}
