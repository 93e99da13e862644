//! The pre-LayerNorm transformer both CLIP towers share (transformers' `CLIPEncoder`):
//! `x + attn(ln1(x))`, then `x + mlp(ln2(x))`.
use tch::Tensor;

use super::super::transformer::{LayerNorm, Linear};
use super::super::weights::WeightMap;
use super::super::{ModelError, Result};

/// CLIP's MLP activations.
#[derive(Debug, Clone, Copy)]
pub enum Act {
    /// `x * sigmoid(1.702 x)`, what OpenAI's CLIP was trained with.
    QuickGelu,
    Gelu,
    GeluTanh,
}

impl Act {
    pub fn parse(name: &str, path: &std::path::Path, tower: &str) -> Result<Self> {
        match name {
            "quick_gelu" => Ok(Self::QuickGelu),
            "gelu" => Ok(Self::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Self::GeluTanh),
            _ => Err(ModelError::invalid(
                path,
                format!(
                    "{tower}: hidden_act {name:?} is not supported (quick_gelu, gelu, gelu_new)"
                ),
            )),
        }
    }

    fn forward(self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Self::QuickGelu => x.f_mul(&x.f_mul_scalar(1.702)?.f_sigmoid()?)?,
            Self::Gelu => x.f_gelu("none")?,
            Self::GeluTanh => x.f_gelu("tanh")?,
        })
    }
}

struct Layer {
    ln1: LayerNorm,
    /// q, k, v projections stacked into one `[3 * hidden, hidden]` product.
    qkv: Linear,
    out: Linear,
    ln2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

/// The layers of one tower.
pub struct Encoder {
    layers: Vec<Layer>,
    heads: i64,
    hidden: i64,
    act: Act,
}

/// The shapes of one tower's encoder.
pub struct EncoderShape {
    pub hidden: i64,
    pub inner: i64,
    pub layers: i64,
    pub heads: i64,
    pub eps: f64,
    pub act: Act,
}

impl Encoder {
    /// Takes `{prefix}.layers.{i}.*` from the checkpoint.
    pub fn load(w: &mut WeightMap, prefix: &str, s: &EncoderShape) -> Result<Self> {
        let h = s.hidden;
        let layers = (0..s.layers)
            .map(|i| -> Result<Layer> {
                let p = format!("{prefix}.layers.{i}");
                let qkv = ["q_proj", "k_proj", "v_proj"]
                    .map(|n| Linear::load(w, &format!("{p}.self_attn.{n}"), h, h));
                Ok(Layer {
                    ln1: LayerNorm::load(w, &format!("{p}.layer_norm1"), h, s.eps),
                    qkv: Linear::stacked(&qkv)?,
                    out: Linear::load(w, &format!("{p}.self_attn.out_proj"), h, h),
                    ln2: LayerNorm::load(w, &format!("{p}.layer_norm2"), h, s.eps),
                    fc1: Linear::load(w, &format!("{p}.mlp.fc1"), h, s.inner),
                    fc2: Linear::load(w, &format!("{p}.mlp.fc2"), s.inner, h),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            layers,
            heads: s.heads,
            hidden: h,
            act: s.act,
        })
    }

    /// `[batch, seq, hidden]` through every layer; `causal` for the text tower (each token
    /// sees itself and those before it, so right padding never reaches a real token).
    pub fn forward(&self, x: &Tensor, causal: bool) -> Result<Tensor> {
        let (b, t, _) = x.size3()?;
        let head_dim = self.hidden / self.heads;
        let mut x = x.shallow_clone();
        for layer in &self.layers {
            let qkv = layer
                .qkv
                .forward(&layer.ln1.forward(&x)?)?
                .f_view([b, t, 3, self.heads, head_dim])?
                .f_permute([2, 0, 3, 1, 4])?;
            let (q, k, v) = (
                qkv.f_select(0, 0)?,
                qkv.f_select(0, 1)?,
                qkv.f_select(0, 2)?,
            );
            // SDPA's default scale is head_dim^-0.5, CLIPAttention's.
            let ctx = Tensor::f_scaled_dot_product_attention::<Tensor>(
                &q, &k, &v, None, 0.0, causal, None, false,
            )?
            .f_transpose(1, 2)?
            .f_reshape([b, t, self.hidden])?;
            x = x.f_add(&layer.out.forward(&ctx)?)?;
            let inner = self
                .act
                .forward(&layer.fc1.forward(&layer.ln2.forward(&x)?)?)?;
            x = x.f_add(&layer.fc2.forward(&inner)?)?;
        }
        Ok(x)
    }
}
