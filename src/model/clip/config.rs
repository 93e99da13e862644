//! CLIP's `config.json` (transformers' `CLIPConfig`: `text_config`, `vision_config`), with
//! transformers' defaults for fields a config leaves out.
use std::path::Path;

use serde::Deserialize;

use super::super::json::read_json;
use super::super::{ModelError, Result};

fn d_vocab() -> i64 {
    49408
}
fn d_text_hidden() -> i64 {
    512
}
fn d_text_inner() -> i64 {
    2048
}
fn d_text_heads() -> i64 {
    8
}
fn d_max_pos() -> i64 {
    77
}
fn d_vision_hidden() -> i64 {
    768
}
fn d_vision_inner() -> i64 {
    3072
}
fn d_twelve() -> i64 {
    12
}
fn d_image() -> i64 {
    224
}
fn d_patch() -> i64 {
    32
}
fn d_channels() -> i64 {
    3
}
fn d_act() -> String {
    "quick_gelu".into()
}
fn d_eps() -> f64 {
    1e-5
}
fn d_eos() -> i64 {
    49407
}
fn d_projection() -> i64 {
    512
}
fn d_logit_scale() -> f64 {
    2.6592
}

/// `text_config` (CLIPTextConfig).
#[derive(Debug, Clone, Deserialize)]
pub struct TextConfig {
    #[serde(default = "d_vocab")]
    pub vocab_size: i64,
    #[serde(default = "d_text_hidden")]
    pub hidden_size: i64,
    #[serde(default = "d_text_inner")]
    pub intermediate_size: i64,
    #[serde(default = "d_twelve")]
    pub num_hidden_layers: i64,
    #[serde(default = "d_text_heads")]
    pub num_attention_heads: i64,
    #[serde(default = "d_max_pos")]
    pub max_position_embeddings: i64,
    #[serde(default = "d_act")]
    pub hidden_act: String,
    #[serde(default = "d_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "d_eos")]
    pub eos_token_id: i64,
}

/// `vision_config` (CLIPVisionConfig).
#[derive(Debug, Clone, Deserialize)]
pub struct VisionConfig {
    #[serde(default = "d_vision_hidden")]
    pub hidden_size: i64,
    #[serde(default = "d_vision_inner")]
    pub intermediate_size: i64,
    #[serde(default = "d_twelve")]
    pub num_hidden_layers: i64,
    #[serde(default = "d_twelve")]
    pub num_attention_heads: i64,
    #[serde(default = "d_image")]
    pub image_size: i64,
    #[serde(default = "d_patch")]
    pub patch_size: i64,
    #[serde(default = "d_channels")]
    pub num_channels: i64,
    #[serde(default = "d_act")]
    pub hidden_act: String,
    #[serde(default = "d_eps")]
    pub layer_norm_eps: f64,
}

/// The whole `config.json` of a `CLIPModel`.
#[derive(Debug, Clone, Deserialize)]
pub struct ClipConfig {
    pub model_type: Option<String>,
    pub text_config: TextConfig,
    pub vision_config: VisionConfig,
    #[serde(default = "d_projection")]
    pub projection_dim: i64,
    #[serde(default = "d_logit_scale")]
    pub logit_scale_init_value: f64,
}

impl ClipConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let value: serde_json::Value = read_json(path)?;
        let model_type = value.get("model_type").and_then(|v| v.as_str());
        if model_type != Some("clip") {
            return Err(ModelError::invalid(
                path,
                format!(
                    "model_type {model_type:?} is not a CLIP model (expected \"clip\", the \
                     CLIPModel layout with text_config and vision_config)"
                ),
            ));
        }
        let config: Self = serde_json::from_value(value)
            .map_err(|e| ModelError::invalid(path, format!("not a CLIP config: {e}")))?;
        for (tower, hidden, heads) in [
            (
                "text_config",
                config.text_config.hidden_size,
                config.text_config.num_attention_heads,
            ),
            (
                "vision_config",
                config.vision_config.hidden_size,
                config.vision_config.num_attention_heads,
            ),
        ] {
            if heads <= 0 || hidden % heads != 0 {
                return Err(ModelError::invalid(
                    path,
                    format!("{tower}: hidden_size {hidden} is not a multiple of num_attention_heads {heads}"),
                ));
            }
        }
        let v = &config.vision_config;
        if v.patch_size <= 0 || v.image_size % v.patch_size != 0 {
            return Err(ModelError::invalid(
                path,
                format!(
                    "vision_config: image_size {} is not a multiple of patch_size {}",
                    v.image_size, v.patch_size
                ),
            ));
        }
        Ok(config)
    }
}
