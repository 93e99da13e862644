//! sentence-transformers' `Dense` module (`2_Dense/`): a linear layer and an activation after
//! pooling, as multilingual CLIP text encoders use to map into the CLIP image space.
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tch::Tensor;

use super::json::read_json;
use super::weights::{find_weights, WeightMap};
use super::{ModelError, Result, Runtime};

/// The activations a `Dense` module may name (`activation_function`, a torch class path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenseActivation {
    Identity,
    Tanh,
    Relu,
    Gelu,
    Sigmoid,
}

impl DenseActivation {
    fn parse(name: &str) -> Option<Self> {
        Some(match name.rsplit('.').next().unwrap_or(name) {
            "Identity" => Self::Identity,
            "Tanh" => Self::Tanh,
            "ReLU" => Self::Relu,
            "GELU" => Self::Gelu,
            "Sigmoid" => Self::Sigmoid,
            _ => return None,
        })
    }

    fn forward(self, x: Tensor) -> Result<Tensor> {
        Ok(match self {
            Self::Identity => x,
            Self::Tanh => x.f_tanh()?,
            Self::Relu => x.f_relu()?,
            Self::Gelu => x.f_gelu("none")?,
            Self::Sigmoid => x.f_sigmoid()?,
        })
    }
}

#[derive(Debug, Deserialize)]
struct RawDense {
    in_features: i64,
    out_features: i64,
    #[serde(default = "yes")]
    bias: bool,
    activation_function: Option<String>,
    #[serde(default)]
    use_residual: bool,
    module_input_name: Option<String>,
}

fn yes() -> bool {
    true
}

/// One `Dense` module's `config.json`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseConfig {
    pub dir: PathBuf,
    pub in_features: i64,
    pub out_features: i64,
    pub bias: bool,
    pub activation: DenseActivation,
}

impl DenseConfig {
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("config.json");
        let raw: RawDense = read_json(&path)?;
        if raw.use_residual {
            return Err(ModelError::invalid(&path, "use_residual is not supported"));
        }
        if let Some(name) = raw
            .module_input_name
            .filter(|n| n.as_str() != "sentence_embedding")
        {
            return Err(ModelError::invalid(
                &path,
                format!("module_input_name {name:?} is not supported (only sentence_embedding)"),
            ));
        }
        // sentence-transformers' default when the key is absent is Tanh.
        let activation = match raw.activation_function.as_deref() {
            None => DenseActivation::Tanh,
            Some(name) => DenseActivation::parse(name).ok_or_else(|| {
                ModelError::invalid(
                    &path,
                    format!(
                        "activation_function {name:?} is not supported \
                         (Identity, Tanh, ReLU, GELU, Sigmoid)"
                    ),
                )
            })?,
        };
        Ok(Self {
            dir: dir.to_owned(),
            in_features: raw.in_features,
            out_features: raw.out_features,
            bias: raw.bias,
            activation,
        })
    }
}

/// A loaded `Dense` module.
pub struct DenseLayer {
    weight: Tensor,
    bias: Option<Tensor>,
    activation: DenseActivation,
    pub out_features: i64,
}

impl DenseLayer {
    pub fn load(config: &DenseConfig, runtime: Runtime) -> Result<Self> {
        let path = find_weights(&config.dir).ok_or_else(|| {
            ModelError::invalid(
                &config.dir,
                "no weights: expected model.safetensors or pytorch_model.bin",
            )
        })?;
        // The mixed-bf16 CPU path keeps fp32 weights outside the transformer's products.
        let mut w = WeightMap::load(&path, runtime.device, runtime.storage_kind())?;
        let weight = w.take("linear.weight", &[config.out_features, config.in_features]);
        let bias = config
            .bias
            .then(|| w.take("linear.bias", &[config.out_features]));
        w.finish()?;
        Ok(Self {
            weight,
            bias,
            activation: config.activation,
            out_features: config.out_features,
        })
    }

    /// `activation(x W^T + b)`, computed in the weights' dtype.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.f_to_kind(self.weight.kind())?;
        self.activation
            .forward(x.f_linear(&self.weight, self.bias.as_ref())?)
    }
}

/// The `Dense` modules, read by the stream threads of
/// [`Transformer::run_batched_parallel`](super::transformer::Transformer::run_batched_parallel).
pub(crate) struct SharedDense<'a>(&'a [DenseLayer]);

// SAFETY: as for the transformer's `SharedHead`: the only way in is `forward`, which reads the
// layers' tensors under the no-grad guard each stream holds; they live, unmoved and
// unmutated, for as long as the borrow.
unsafe impl Sync for SharedDense<'_> {}

impl<'a> SharedDense<'a> {
    pub(crate) fn new(layers: &'a [DenseLayer]) -> Self {
        Self(layers)
    }

    /// Every layer in order over `x`.
    pub(crate) fn forward(&self, x: Tensor) -> Result<Tensor> {
        let mut x = x;
        for layer in self.0 {
            x = layer.forward(&x)?;
        }
        Ok(x)
    }
}
