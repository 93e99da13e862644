//! Pooling token embeddings into one sentence vector, as sentence-transformers' `Pooling` does.
use std::fmt;
use std::str::FromStr;

use tch::{Kind, Tensor};

use super::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolMode {
    Cls,
    Mean,
    Max,
    MeanSqrtLen,
}

impl PoolMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Cls => "cls",
            Self::Mean => "mean",
            Self::Max => "max",
            Self::MeanSqrtLen => "mean_sqrt_len",
        }
    }
}

impl FromStr for PoolMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cls" => Ok(Self::Cls),
            "mean" => Ok(Self::Mean),
            "max" => Ok(Self::Max),
            "mean_sqrt_len" | "mean-sqrt-len" => Ok(Self::MeanSqrtLen),
            _ => Err(format!(
                "unknown pooling {s:?} (expected cls, mean, max or mean_sqrt_len)"
            )),
        }
    }
}

/// One or more pooling modes; several are concatenated in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pooling {
    pub modes: Vec<PoolMode>,
}

impl Pooling {
    pub fn single(mode: PoolMode) -> Self {
        Self { modes: vec![mode] }
    }

    pub fn output_dim(&self, hidden: usize) -> usize {
        hidden * self.modes.len()
    }

    /// `tokens`: [batch, seq, hidden] (any float kind); `mask`: [batch, seq] of 0/1.
    /// Returns [batch, dim] in fp32.
    pub fn forward(&self, tokens: &Tensor, mask: &Tensor) -> Result<Tensor> {
        self.forward_skipping(tokens, mask, 0)
    }

    /// As [`forward`](Self::forward), leaving the first `skip` positions (a prompt's tokens,
    /// [CLS] included) out, as sentence-transformers' `Pooling(include_prompt=False)` does:
    /// they leave the mask, and cls takes the first position still in it.
    pub fn forward_skipping(&self, tokens: &Tensor, mask: &Tensor, skip: i64) -> Result<Tensor> {
        let tokens = tokens.f_to_kind(Kind::Float)?;
        let mask = if skip > 0 {
            let seq = mask.size().last().copied().unwrap_or(0);
            let keep = Tensor::f_arange(seq, (Kind::Int64, mask.device()))?.f_ge(skip)?;
            mask.f_mul(&keep.f_to_kind(mask.kind())?)?
        } else {
            mask.shallow_clone()
        };
        let mask3 = mask.f_unsqueeze(-1)?.f_to_kind(Kind::Float)?;
        let mut parts = Vec::with_capacity(self.modes.len());
        for mode in &self.modes {
            let pooled = match mode {
                PoolMode::Cls if skip > 0 => {
                    // argmax of the mask: the first kept position (0 when none is left).
                    let first = mask.f_to_kind(Kind::Int64)?.f_argmax(1, false)?;
                    let hidden = tokens.size().last().copied().unwrap_or(0);
                    let index = first.f_view([-1, 1, 1])?.f_expand([-1, 1, hidden], false)?;
                    tokens.f_gather(1, &index, false)?.f_squeeze_dim(1)?
                }
                PoolMode::Cls => tokens.f_select(1, 0)?,
                PoolMode::Max => {
                    // sentence-transformers sets padding to -1e9 before the max.
                    let masked = tokens.f_masked_fill(&mask3.f_eq(0.0)?, -1e9)?;
                    masked.f_amax([1].as_slice(), false)?
                }
                PoolMode::Mean | PoolMode::MeanSqrtLen => {
                    let sum = tokens.f_mul(&mask3)?.f_sum_dim_intlist(
                        [1].as_slice(),
                        false,
                        Kind::Float,
                    )?;
                    // Same clamp as sentence-transformers: sum_mask.clamp(min=1e-9).
                    let count = mask3
                        .f_sum_dim_intlist([1].as_slice(), false, Kind::Float)?
                        .f_clamp_min(1e-9)?;
                    if *mode == PoolMode::Mean {
                        sum.f_div(&count)?
                    } else {
                        sum.f_div(&count.f_sqrt()?)?
                    }
                }
            };
            parts.push(pooled);
        }
        if parts.len() == 1 {
            Ok(parts.remove(0))
        } else {
            Ok(Tensor::f_cat(&parts, 1)?)
        }
    }
}

impl fmt::Display for Pooling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.modes.iter().map(|m| m.name()).collect();
        f.write_str(&names.join("+"))
    }
}

/// L2 normalisation as `torch.nn.functional.normalize(p=2, dim=1, eps=1e-12)`.
pub fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    let norm = x
        .f_norm_scalaropt_dim(2.0, [1].as_slice(), true)?
        .f_clamp_min(1e-12)?;
    Ok(x.f_div(&norm)?)
}
