//! CLIP on libtorch: the text and vision towers of transformers' `CLIPModel` layout
//! (`config.json` with `text_config` and `vision_config`, `model.safetensors` or
//! `pytorch_model.bin`, CLIP's byte-level BPE from `tokenizer.json`), its image preprocessing
//! ([`ImageConfig`], from `preprocessor_config.json`), and [`ClipSpace`]: a CLIP model whose
//! texts may come from a sentence-transformers multilingual CLIP text encoder instead (a
//! BERT/DistilBERT encoder, mean pooling and a `Dense` layer into the image space, e.g.
//! clip-ViT-B-32-multilingual-v1) so that Korean text can query images.
mod config;
mod preprocess;
mod tower;

use std::path::Path;

use tch::{Device, Kind, Tensor};
use tokenizers::Tokenizer;

pub use config::{ClipConfig, TextConfig, VisionConfig};
pub use preprocess::{
    center_crop, open_rgb, resize_bicubic, shortest_edge_size, ImageConfig, Pixels,
};

use super::transformer::LayerNorm;
use super::weights::{find_weights, WeightMap};
use super::{
    Embedder, Embeddings, EncoderOptions, ModelDir, ModelError, Progress, Result, Runtime,
    SentenceEncoder, Side,
};
use tower::{Act, Encoder, EncoderShape};

struct TextTower {
    token: Tensor,
    position: Tensor,
    encoder: Encoder,
    final_norm: LayerNorm,
    /// The text projection, `[projection_dim, hidden]`, no bias.
    projection: Tensor,
    eos_token_id: i64,
}

struct VisionTower {
    class: Tensor,
    /// The patch convolution, `[hidden, channels, patch, patch]`, no bias.
    patch: Tensor,
    position: Tensor,
    pre_norm: LayerNorm,
    encoder: Encoder,
    post_norm: LayerNorm,
    projection: Tensor,
    patch_size: i64,
    image_size: i64,
}

/// A CLIP model in transformers' `CLIPModel` layout.
pub struct ClipModel {
    identity: String,
    tokenizer: Tokenizer,
    text: TextTower,
    vision: VisionTower,
    logit_scale: f64,
    image: ImageConfig,
    projection_dim: i64,
    device: Device,
    kind: Kind,
}

impl ClipModel {
    pub fn load(model: &ModelDir, runtime: Runtime) -> Result<Self> {
        let dir = &model.root;
        let config_path = dir.join("config.json");
        if !config_path.is_file() {
            return Err(ModelError::invalid(dir, "config.json is missing"));
        }
        let config = ClipConfig::load(&config_path)?;
        let weights_path = find_weights(dir).ok_or_else(|| {
            ModelError::invalid(
                dir,
                "no weights: expected model.safetensors or pytorch_model.bin",
            )
        })?;
        // CLIP runs in the weights' storage dtype (fp32 under the CPU's mixed bf16).
        let kind = runtime.storage_kind();
        let mut w = WeightMap::load(&weights_path, runtime.device, kind)?;
        let text = load_text(&mut w, &config, &config_path)?;
        let vision = load_vision(&mut w, &config, &config_path)?;
        let logit_scale = w.take("logit_scale", &[]);
        let unexpected = w.finish()?;
        if !unexpected.is_empty() {
            tracing::info!(model = %model.identity, ?unexpected, "unused tensors in checkpoint");
        }
        let max_len = config.text_config.max_position_embeddings as usize;
        let tokenizer_config = super::config::TokenizerConfig::load(dir)?;
        let tokenizer = super::tokenizer::load(dir, &tokenizer_config, max_len)?;
        Ok(Self {
            identity: model.identity.clone(),
            tokenizer,
            text,
            vision,
            logit_scale: logit_scale.f_double_value(&[])?,
            image: ImageConfig::load(dir)?,
            projection_dim: config.projection_dim,
            device: runtime.device,
            kind,
        })
    }

    /// The model's identity (path and weight hash) for caches.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// What makes an image vector what it is, for the embedding cache: the model (path and
    /// weight hash), the dtype, and the preprocessing.
    pub fn image_identity(&self) -> String {
        format!(
            "{}|clip-image|{:?}|{:?}",
            self.identity, self.kind, self.image
        )
    }

    /// The shared embedding width.
    pub fn dim(&self) -> usize {
        self.projection_dim as usize
    }

    /// `exp(logit_scale)`: what cosines are multiplied by to give `logits_per_image`.
    pub fn logit_scale(&self) -> f64 {
        self.logit_scale.exp()
    }

    pub fn image_config(&self) -> &ImageConfig {
        &self.image
    }

    /// CLIP's token ids of each text (start and end of text included, at most
    /// `max_position_embeddings`).
    pub fn token_ids(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| ModelError::Tokenizer {
                path: self.identity.clone().into(),
                message: e.to_string(),
            })?;
        Ok(encodings.iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// Text embeddings as `get_text_features` gives them (projected, not normalised).
    pub fn embed_texts(&self, texts: &[&str]) -> Result<Embeddings> {
        if texts.is_empty() {
            return Ok(Embeddings {
                dim: self.dim(),
                data: Vec::new(),
            });
        }
        let rows = self.token_ids(texts)?;
        let longest = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let n = rows.len();
        let mut ids = vec![0i64; n * longest];
        let mut eos = Vec::with_capacity(n);
        for (r, row) in rows.iter().enumerate() {
            let row: Vec<i64> = row.iter().map(|&i| i64::from(i)).collect();
            ids[r * longest..r * longest + row.len()].copy_from_slice(&row);
            eos.push(eos_position(&row, self.text.eos_token_id));
        }
        let _guard = tch::no_grad_guard();
        let ids = Tensor::from_slice(&ids)
            .f_view([n as i64, longest as i64])?
            .f_to_device(self.device)?;
        let t = &self.text;
        let positions = Tensor::f_arange(longest as i64, (Kind::Int64, self.device))?;
        let x = Tensor::f_embedding(&t.token, &ids, -1, false, false)?.f_add(
            &Tensor::f_embedding(&t.position, &positions, -1, false, false)?,
        )?;
        let x = t.final_norm.forward(&t.encoder.forward(&x, true)?)?;
        let index = Tensor::from_slice(&eos).f_to_device(self.device)?;
        let rows = Tensor::f_arange(n as i64, (Kind::Int64, self.device))?;
        let pooled = x.f_index(&[Some(rows), Some(index)])?;
        to_embeddings(&pooled.f_matmul(&t.projection.f_transpose(0, 1)?)?)
    }

    /// Image embeddings as `get_image_features` gives them, from preprocessed pixels.
    pub fn embed_pixels(&self, pixels: &[Pixels]) -> Result<Embeddings> {
        let v = &self.vision;
        let side = v.image_size as usize;
        if let Some(p) = pixels.iter().find(|p| p.height != side || p.width != side) {
            return Err(ModelError::invalid(
                &self.identity,
                format!(
                    "pixels are {}x{}, the vision tower takes {side}x{side}",
                    p.width, p.height
                ),
            ));
        }
        if pixels.is_empty() {
            return Ok(Embeddings {
                dim: self.dim(),
                data: Vec::new(),
            });
        }
        let _guard = tch::no_grad_guard();
        let flat: Vec<f32> = pixels.iter().flat_map(|p| p.data.iter().copied()).collect();
        let b = pixels.len() as i64;
        let x = Tensor::from_slice(&flat)
            .f_view([b, 3, side as i64, side as i64])?
            .f_to_device(self.device)?
            .f_to_kind(self.kind)?;
        let patches = x
            .f_conv2d::<Tensor>(&v.patch, None, [v.patch_size, v.patch_size], 0, 1, 1)?
            .f_flatten(2, -1)?
            .f_transpose(1, 2)?;
        let hidden = v.class.size()[0];
        let class = v
            .class
            .f_view([1, 1, hidden])?
            .f_expand([b, 1, hidden], false)?;
        let x = Tensor::f_cat(&[class, patches], 1)?.f_add(&v.position.f_unsqueeze(0)?)?;
        let x = v.encoder.forward(&v.pre_norm.forward(&x)?, false)?;
        let pooled = v.post_norm.forward(&x.f_select(1, 0)?)?;
        to_embeddings(&pooled.f_matmul(&v.projection.f_transpose(0, 1)?)?)
    }

    /// Decodes, preprocesses and embeds image files in batches of `batch`; `progress` after
    /// each batch. A file that cannot be read fails the call, naming it; see
    /// [`ClipModel::load_pixels`] to skip such files instead.
    pub fn embed_image_files(
        &self,
        paths: &[&Path],
        batch: usize,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Embeddings> {
        let mut data = Vec::with_capacity(paths.len() * self.dim());
        let mut done = 0;
        for chunk in paths.chunks(batch.max(1)) {
            let pixels = chunk
                .iter()
                .map(|p| self.load_pixels(p))
                .collect::<Result<Vec<_>>>()?;
            data.extend(self.embed_pixels(&pixels)?.data);
            done += chunk.len();
            progress(Progress {
                done,
                total: paths.len(),
            });
        }
        Ok(Embeddings {
            dim: self.dim(),
            data,
        })
    }

    /// One file's preprocessed pixels; the error names the file.
    pub fn load_pixels(&self, path: &Path) -> Result<Pixels> {
        Ok(self.image.pixels(&open_rgb(path)?))
    }
}

/// Where CLIPTextTransformer pools: with the legacy `eos_token_id` 2 the highest token id
/// (argmax, first on ties), else the first `eos_token_id`; position 0 when it is absent (as
/// argmax over an all-false row gives).
fn eos_position(ids: &[i64], eos_token_id: i64) -> i64 {
    let found = if eos_token_id == 2 {
        let max = ids.iter().copied().max();
        ids.iter().position(|&i| Some(i) == max)
    } else {
        ids.iter().position(|&i| i == eos_token_id)
    };
    found.unwrap_or(0) as i64
}

fn to_embeddings(x: &Tensor) -> Result<Embeddings> {
    let x = x
        .f_to_kind(Kind::Float)?
        .f_to_device(Device::Cpu)?
        .f_contiguous()?;
    let (_, d) = x.size2()?;
    Ok(Embeddings {
        dim: d as usize,
        data: Vec::<f32>::try_from(x.f_view(-1)?)?,
    })
}

fn load_text(w: &mut WeightMap, config: &ClipConfig, path: &Path) -> Result<TextTower> {
    let c = &config.text_config;
    let h = c.hidden_size;
    let shape = EncoderShape {
        hidden: h,
        inner: c.intermediate_size,
        layers: c.num_hidden_layers,
        heads: c.num_attention_heads,
        eps: c.layer_norm_eps,
        act: Act::parse(&c.hidden_act, path, "text_config")?,
    };
    Ok(TextTower {
        token: w.take(
            "text_model.embeddings.token_embedding.weight",
            &[c.vocab_size, h],
        ),
        position: w.take(
            "text_model.embeddings.position_embedding.weight",
            &[c.max_position_embeddings, h],
        ),
        encoder: Encoder::load(w, "text_model.encoder", &shape)?,
        final_norm: LayerNorm::load(w, "text_model.final_layer_norm", h, c.layer_norm_eps),
        projection: w.take("text_projection.weight", &[config.projection_dim, h]),
        eos_token_id: c.eos_token_id,
    })
}

fn load_vision(w: &mut WeightMap, config: &ClipConfig, path: &Path) -> Result<VisionTower> {
    let c = &config.vision_config;
    let h = c.hidden_size;
    let patches = (c.image_size / c.patch_size).pow(2);
    let shape = EncoderShape {
        hidden: h,
        inner: c.intermediate_size,
        layers: c.num_hidden_layers,
        heads: c.num_attention_heads,
        eps: c.layer_norm_eps,
        act: Act::parse(&c.hidden_act, path, "vision_config")?,
    };
    if c.num_channels != 3 {
        return Err(ModelError::invalid(
            path,
            format!(
                "vision_config: num_channels {} (bigyo feeds RGB, 3)",
                c.num_channels
            ),
        ));
    }
    Ok(VisionTower {
        class: w.take("vision_model.embeddings.class_embedding", &[h]),
        patch: w.take(
            "vision_model.embeddings.patch_embedding.weight",
            &[h, 3, c.patch_size, c.patch_size],
        ),
        position: w.take(
            "vision_model.embeddings.position_embedding.weight",
            &[patches + 1, h],
        ),
        // transformers' name, typo included.
        pre_norm: LayerNorm::load(w, "vision_model.pre_layrnorm", h, c.layer_norm_eps),
        encoder: Encoder::load(w, "vision_model.encoder", &shape)?,
        post_norm: LayerNorm::load(w, "vision_model.post_layernorm", h, c.layer_norm_eps),
        projection: w.take("visual_projection.weight", &[config.projection_dim, h]),
        patch_size: c.patch_size,
        image_size: c.image_size,
    })
}

/// Which encoder turns texts into CLIP-space vectors.
enum TextSide {
    /// The CLIP model's own text tower.
    Clip,
    /// A sentence-transformers multilingual CLIP text encoder.
    Sentence(Box<SentenceEncoder>),
}

/// Texts and images in one space: a CLIP model for images (and texts, unless a multilingual
/// text encoder is given).
pub struct ClipSpace {
    pub model: ClipModel,
    text: TextSide,
    text_identity: String,
}

impl ClipSpace {
    /// `text_model`: a sentence-transformers text encoder whose output lives in the CLIP
    /// model's image space (its last `Dense` layer must give `projection_dim` values).
    pub fn load(clip: &ModelDir, text_model: Option<&ModelDir>, runtime: Runtime) -> Result<Self> {
        let model = ClipModel::load(clip, runtime)?;
        let (text, text_identity) = match text_model {
            None => (TextSide::Clip, model.identity.clone()),
            Some(dir) => {
                let encoder = SentenceEncoder::load(
                    dir,
                    &EncoderOptions {
                        runtime,
                        ..EncoderOptions::default()
                    },
                )?;
                if encoder.dim() != model.dim() {
                    return Err(ModelError::invalid(
                        &dir.root,
                        format!(
                            "the text encoder gives {}-d vectors but the CLIP model's space is {}-d \
                             (a multilingual CLIP text encoder ends in a Dense layer to projection_dim)",
                            encoder.dim(),
                            model.dim()
                        ),
                    ));
                }
                (TextSide::Sentence(Box::new(encoder)), dir.identity.clone())
            }
        };
        Ok(Self {
            model,
            text,
            text_identity,
        })
    }

    /// Which model embeds the texts (the CLIP model's identity, or the text encoder's).
    pub fn text_identity(&self) -> &str {
        &self.text_identity
    }

    pub fn multilingual(&self) -> bool {
        matches!(self.text, TextSide::Sentence(_))
    }

    pub fn embed_texts(&mut self, texts: &[&str]) -> Result<Embeddings> {
        match &mut self.text {
            TextSide::Clip => self.model.embed_texts(texts),
            TextSide::Sentence(encoder) => encoder.embed(Side::Plain, texts, &mut |_| {}),
        }
    }
}
