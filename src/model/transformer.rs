//! The BERT / RoBERTa / XLM-RoBERTa encoder body, ported from transformers' modeling_bert.py
//! (post-LayerNorm, absolute positions). RoBERTa and XLM-R share it and differ only in how
//! position ids are made and in having one token type.
use tch::{Device, Kind, Tensor};

use super::config::{Architecture, HfConfig};
use super::cpu::{CpuInfo, DensePath, KernelChoice, KernelPlan, Shapes};
use super::packed::{PackedLinear, PostOp};
use super::weights::WeightMap;
use super::{ModelError, Result};

pub(crate) use shared::SharedHead;

/// A dense layer, `x W^T + b`.
pub(crate) struct Linear {
    weight: Tensor,
    bias: Tensor,
    /// The int8 form that runs instead, under `--dtype int8` (see [`super::int8`]).
    int8: Option<super::int8::QuantLinear>,
    /// The oneDNN-packed form that runs instead on [`DensePath::OneDnnPacked`] (see
    /// [`super::packed`]); `weight` is then dropped.
    packed: Option<PackedLinear>,
}

impl Linear {
    pub(crate) fn load(w: &mut WeightMap, prefix: &str, input: i64, output: i64) -> Self {
        Self {
            weight: w.take(&format!("{prefix}.weight"), &[output, input]),
            bias: w.take(&format!("{prefix}.bias"), &[output]),
            int8: None,
            packed: None,
        }
    }

    /// The same layer with its weight and bias in `kind`.
    fn to_kind(&self, kind: Kind) -> Result<Self> {
        Ok(Self {
            weight: self.weight.f_to_kind(kind)?,
            bias: self.bias.f_to_kind(kind)?,
            int8: None,
            packed: None,
        })
    }

    /// Several layers reading the same input, stacked into one: their outputs side by side
    /// come from one GEMM instead of one each.
    pub(crate) fn stacked(parts: &[Linear]) -> Result<Self> {
        let weights: Vec<&Tensor> = parts.iter().map(|l| &l.weight).collect();
        let biases: Vec<&Tensor> = parts.iter().map(|l| &l.bias).collect();
        Ok(Self {
            weight: Tensor::f_cat(&weights, 0)?,
            bias: Tensor::f_cat(&biases, 0)?,
            int8: None,
            packed: None,
        })
    }

    /// On libtorch (classifier heads and poolers: one row per input, not worth choosing).
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_on(x, DensePath::Libtorch)
    }

    /// On the chosen path; the `gemm` crate only where it applies (fp32 CPU, one thread).
    fn forward_on(&self, x: &Tensor, path: DensePath) -> Result<Tensor> {
        if let Some(q) = &self.int8 {
            return q.forward(x);
        }
        if let Some(p) = &self.packed {
            return p.forward(x, PostOp::None);
        }
        if path == DensePath::GemmCrate && super::cpu_gemm::applies(x) {
            return super::cpu_gemm::linear(x, &self.weight, &self.bias);
        }
        Ok(x.f_linear(&self.weight, Some(&self.bias))?)
    }

    /// The weight packed for oneDNN; `None` for int8 layers (they keep their own form) and for
    /// layers packed already.
    fn packed_form(&self) -> Result<Option<PackedLinear>> {
        if self.int8.is_some() || self.packed.is_some() {
            return Ok(None);
        }
        Ok(Some(PackedLinear::new(&self.weight, &self.bias)?))
    }

    /// Runs on `packed` from now on; the plain weight is dropped (the packed copy replaces it).
    fn install(&mut self, packed: Option<PackedLinear>) {
        if packed.is_some() {
            self.packed = packed;
            self.weight = Tensor::new();
        }
    }
}

pub(crate) struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
    size: i64,
}

impl LayerNorm {
    pub(crate) fn load(w: &mut WeightMap, prefix: &str, size: i64, eps: f64) -> Self {
        Self {
            weight: w.take(&format!("{prefix}.weight"), &[size]),
            bias: w.take(&format!("{prefix}.bias"), &[size]),
            eps,
            size,
        }
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.f_layer_norm(
            [self.size].as_slice(),
            Some(&self.weight),
            Some(&self.bias),
            self.eps,
            true,
        )?)
    }
}

#[derive(Debug, Clone, Copy)]
enum Activation {
    Gelu,
    GeluTanh,
    Relu,
}

impl Activation {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "gelu" => Some(Self::Gelu),
            // transformers' gelu_new, gelu_fast and gelu_pytorch_tanh are all the tanh approximation.
            "gelu_new" | "gelu_fast" | "gelu_pytorch_tanh" => Some(Self::GeluTanh),
            "relu" => Some(Self::Relu),
            _ => None,
        }
    }

    /// The same activation as a oneDNN post-op.
    fn post_op(self) -> PostOp {
        match self {
            Self::Gelu => PostOp::Gelu,
            Self::GeluTanh => PostOp::GeluTanh,
            Self::Relu => PostOp::Relu,
        }
    }

    /// Applies the activation in place: the input is a fresh GEMM output nobody else holds.
    fn forward_(self, mut x: Tensor) -> Result<Tensor> {
        let _ = match self {
            Self::Gelu => x.f_gelu_("none")?,
            Self::GeluTanh => x.f_gelu_("tanh")?,
            Self::Relu => x.f_relu_()?,
        };
        Ok(x)
    }
}

struct Layer {
    /// Query, key and value projections stacked: `[3 * hidden, hidden]`.
    qkv: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    out_norm: LayerNorm,
}

/// Where a family keeps its layers' tensors (`{layers}.{i}.{part}`).
struct LayerNames {
    layers: &'static str,
    qkv: [&'static str; 3],
    attn_out: &'static str,
    attn_norm: &'static str,
    inner: &'static str,
    output: &'static str,
    out_norm: &'static str,
}

impl LayerNames {
    fn of(arch: Architecture) -> Self {
        match arch {
            // modeling_distilbert.py: the same post-LN layer as BERT under its own names.
            Architecture::DistilBert => Self {
                layers: "transformer.layer",
                qkv: ["attention.q_lin", "attention.k_lin", "attention.v_lin"],
                attn_out: "attention.out_lin",
                attn_norm: "sa_layer_norm",
                inner: "ffn.lin1",
                output: "ffn.lin2",
                out_norm: "output_layer_norm",
            },
            Architecture::Bert | Architecture::Roberta | Architecture::XlmRoberta => Self {
                layers: "encoder.layer",
                qkv: [
                    "attention.self.query",
                    "attention.self.key",
                    "attention.self.value",
                ],
                attn_out: "attention.output.dense",
                attn_norm: "attention.output.LayerNorm",
                inner: "intermediate.dense",
                output: "output.dense",
                out_norm: "output.LayerNorm",
            },
        }
    }
}

/// The encoder body: embeddings and layers. Produces token embeddings `[batch, seq, hidden]`.
pub struct Transformer {
    arch: Architecture,
    word: Tensor,
    position: Tensor,
    token_type: Option<Tensor>,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: i64,
    head_dim: i64,
    hidden: i64,
    /// The FFN's inner width.
    intermediate: i64,
    act: Activation,
    pad_id: i64,
    max_positions: usize,
    pub(crate) device: Device,
    pub(crate) kind: Kind,
    /// Who computes the layers' dense products (see [`Transformer::prepare`]).
    plan: KernelPlan,
    /// The dense layers' dtype when it differs from the residual stream's (bf16 on the CPU).
    gemm_kind: Option<Kind>,
    /// Whether the layers' dense products run in int8 (`--dtype int8`).
    int8: bool,
}

/// One padded batch on the model's device.
pub struct Batch {
    pub input_ids: Tensor,
    pub attention_mask: Tensor,
    pub token_type_ids: Tensor,
    /// Whether any row is padded; an unpadded batch skips the attention mask.
    pub padded: bool,
}

impl Transformer {
    pub fn load(
        config: &HfConfig,
        arch: Architecture,
        config_path: &std::path::Path,
        w: &mut WeightMap,
    ) -> Result<Self> {
        let act = Activation::parse(&config.hidden_act).ok_or_else(|| {
            ModelError::invalid(
                config_path,
                format!(
                    "hidden_act {:?} is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)",
                    config.hidden_act
                ),
            )
        })?;
        let h = config.hidden_size;
        let eps = config.layer_norm_eps;
        let names = LayerNames::of(arch);
        let word = w.take("embeddings.word_embeddings.weight", &[config.vocab_size, h]);
        let position = w.take(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, h],
        );
        // DistilBERT has no token types (type_vocab_size 0).
        let token_type = (config.type_vocab_size > 0).then(|| {
            w.take(
                "embeddings.token_type_embeddings.weight",
                &[config.type_vocab_size, h],
            )
        });
        let emb_norm = LayerNorm::load(w, "embeddings.LayerNorm", h, eps);
        let layers = (0..config.num_hidden_layers)
            .map(|i| -> Result<Layer> {
                let p = format!("{}.{i}", names.layers);
                let qkv = names
                    .qkv
                    .map(|name| Linear::load(w, &format!("{p}.{name}"), h, h));
                let inner = config.intermediate_size;
                Ok(Layer {
                    qkv: Linear::stacked(&qkv)?,
                    attn_out: Linear::load(w, &format!("{p}.{}", names.attn_out), h, h),
                    attn_norm: LayerNorm::load(w, &format!("{p}.{}", names.attn_norm), h, eps),
                    intermediate: Linear::load(w, &format!("{p}.{}", names.inner), h, inner),
                    output: Linear::load(w, &format!("{p}.{}", names.output), inner, h),
                    out_norm: LayerNorm::load(w, &format!("{p}.{}", names.out_norm), h, eps),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let device = word.device();
        Ok(Self {
            arch,
            kind: word.kind(),
            word,
            position,
            token_type,
            emb_norm,
            layers,
            heads: config.num_attention_heads,
            head_dim: h / config.num_attention_heads,
            hidden: h,
            intermediate: config.intermediate_size,
            act,
            pad_id: config.pad_id(arch),
            max_positions: config.max_positions(arch),
            device,
            plan: KernelPlan {
                path: DensePath::Libtorch,
                reason: "not chosen yet".into(),
            },
            gemm_kind: None,
            int8: false,
        })
    }

    /// Sets the model up for `runtime`: bf16 on the CPU runs mixed (the weights were loaded in
    /// fp32, see [`Runtime::storage_kind`](super::Runtime::storage_kind); the dense layers'
    /// weights become bf16 here and their products run on oneDNN's AMX / avx512_bf16 kernels,
    /// while embeddings, residual adds and layer norms stay fp32: as torch.autocast does on
    /// the CPU, and what keeps bf16 within the golden and retrieval bounds of fp32). Then picks
    /// the dense-layer kernels for this machine and this model's shapes (a one-time
    /// calibration, cached under bigyo's cache directory, where the CPU is not a known case)
    /// and logs the choice.
    pub fn prepare(&mut self, runtime: super::Runtime) -> Result<&KernelPlan> {
        if runtime.cpu_mixed_bf16() && self.kind != Kind::BFloat16 {
            for layer in &mut self.layers {
                layer.qkv = layer.qkv.to_kind(Kind::BFloat16)?;
                layer.attn_out = layer.attn_out.to_kind(Kind::BFloat16)?;
                layer.intermediate = layer.intermediate.to_kind(Kind::BFloat16)?;
                layer.output = layer.output.to_kind(Kind::BFloat16)?;
            }
            self.gemm_kind = Some(Kind::BFloat16);
            self.kind = Kind::BFloat16;
        }
        if runtime.int8 && self.device == Device::Cpu && !self.int8 {
            for layer in &mut self.layers {
                let which = super::int8::QUANTIZED;
                for (linear, quantize) in [
                    &mut layer.qkv,
                    &mut layer.attn_out,
                    &mut layer.intermediate,
                    &mut layer.output,
                ]
                .into_iter()
                .zip(which)
                {
                    if quantize {
                        linear.int8 =
                            Some(super::int8::QuantLinear::new(&linear.weight, &linear.bias)?);
                    }
                }
            }
            self.int8 = true;
        }
        self.choose_kernels(runtime.kernels);
        if self.plan.path == DensePath::OneDnnPacked {
            if let Err(e) = self.pack() {
                tracing::warn!("packing the dense layers for oneDNN failed ({e}); using libtorch");
                self.plan = KernelPlan {
                    path: DensePath::Libtorch,
                    reason: format!("packing for oneDNN failed ({e})"),
                };
            }
        }
        Ok(&self.plan)
    }

    /// Reorders every layer's dense weights into oneDNN's layout, once: all of them or, on a
    /// failure, none.
    fn pack(&mut self) -> Result<()> {
        let mut packed = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            packed.push([
                layer.qkv.packed_form()?,
                layer.attn_out.packed_form()?,
                layer.intermediate.packed_form()?,
                layer.output.packed_form()?,
            ]);
        }
        for (layer, [qkv, attn_out, intermediate, output]) in self.layers.iter_mut().zip(packed) {
            layer.qkv.install(qkv);
            layer.attn_out.install(attn_out);
            layer.intermediate.install(intermediate);
            layer.output.install(output);
        }
        Ok(())
    }

    fn choose_kernels(&mut self, choice: KernelChoice) {
        let cpu = CpuInfo::detect();
        let intermediate = self.intermediate;
        self.plan = super::cpu::plan(
            &cpu,
            choice,
            self.device,
            self.kind,
            &Shapes::bert(self.hidden, intermediate),
            Some(crate::paths::cache_dir()),
        );
        tracing::info!(
            cpu = %cpu.model_name,
            flags = %cpu.flags.join(" "),
            kind = ?self.kind,
            path = %self.plan.path,
            reason = %self.plan.reason,
            "dense-layer kernels"
        );
    }

    /// The precision as cache identities spell it: `Float`, `BFloat16`, or `BFloat16-mixed`
    /// for the CPU's bf16 products over an fp32 residual stream (other numbers than pure bf16,
    /// so another cache entry).
    pub(crate) fn precision(&self) -> String {
        let int8 = if self.int8 { "-int8" } else { "" };
        match self.gemm_kind {
            Some(_) => format!("{:?}-mixed{int8}", self.kind),
            None => format!("{:?}{int8}", self.kind),
        }
    }

    /// The dtype that runs, as `--dtype` spells it (`int8` for int8 dense products).
    pub(crate) fn dtype_name(&self) -> &'static str {
        if self.int8 {
            "int8"
        } else {
            super::device::kind_name(self.kind)
        }
    }

    /// The dense-layer kernels in use and why.
    pub fn kernel_plan(&self) -> &KernelPlan {
        &self.plan
    }

    pub fn hidden_size(&self) -> i64 {
        self.hidden
    }

    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// The sequence length a batch whose longest row has `longest` tokens is padded to. bf16
    /// attention on the CPU (SDPA's flash kernel) runs its fast blocked path only when the
    /// length is a multiple of 16: 251 tokens took 2x the time of 256 in one process (7 rows,
    /// 12 heads of 32, one thread; fp32 showed no such step). So bf16 batches of 128+ tokens
    /// are padded up to the next multiple of 16 (masked like any padding; at most 15 tokens a
    /// row, under 12 % more work in the dense layers, a few % on average) as long as the
    /// positions exist.
    fn padded_length(&self, longest: usize) -> usize {
        const STEP: usize = 16;
        let rounded = longest.div_ceil(STEP) * STEP;
        let bf16_cpu = self.device == Device::Cpu && self.kind == Kind::BFloat16;
        if bf16_cpu && longest >= 128 && rounded <= self.max_positions {
            rounded
        } else {
            longest
        }
    }

    /// Pads `rows` (token ids and type ids, unpadded) into one batch on the model's device.
    pub fn make_batch(&self, rows: &[(&[u32], &[u32])]) -> Result<Batch> {
        let longest = self.padded_length(rows.iter().map(|(ids, _)| ids.len()).max().unwrap_or(0));
        let n = rows.len();
        let mut ids = vec![self.pad_id; n * longest];
        let mut mask = vec![0i64; n * longest];
        let mut types = vec![0i64; n * longest];
        let mut padded = false;
        for (r, (row_ids, row_types)) in rows.iter().enumerate() {
            padded |= row_ids.len() < longest;
            for (c, (&id, &ty)) in row_ids.iter().zip(row_types.iter()).enumerate() {
                ids[r * longest + c] = i64::from(id);
                mask[r * longest + c] = 1;
                types[r * longest + c] = i64::from(ty);
            }
        }
        let shape = [n as i64, longest as i64];
        let to = |v: &[i64]| -> Result<Tensor> {
            Ok(Tensor::from_slice(v)
                .f_view(shape)?
                .f_to_device(self.device)?)
        };
        Ok(Batch {
            input_ids: to(&ids)?,
            attention_mask: to(&mask)?,
            token_type_ids: to(&types)?,
            padded,
        })
    }

    /// Token embeddings `[batch, seq, hidden]` in the model's dtype. Call under no-grad.
    pub fn forward(&self, batch: &Batch) -> Result<Tensor> {
        let (b, t) = batch.input_ids.size2()?;
        let mut x =
            super::cpu_profile::time(super::cpu_profile::Part::Embeddings, || self.embed(batch))?;
        // SDPA takes a boolean mask where true means "attend"; [b, 1, 1, t] broadcasts over
        // heads and query positions like transformers' extended attention mask.
        let mask = if batch.padded {
            Some(batch.attention_mask.f_ne(0)?.f_view([b, 1, 1, t])?)
        } else {
            None
        };
        for layer in &self.layers {
            x = self.layer_forward(layer, &x, mask.as_ref(), b, t)?;
        }
        Ok(x)
    }

    /// Word + position (+ token type) embeddings and their layer norm: `[batch, seq, hidden]`.
    fn embed(&self, batch: &Batch) -> Result<Tensor> {
        let ids = &batch.input_ids;
        let (b, t) = ids.size2()?;
        let positions = if self.arch.roberta_positions() {
            // transformers' create_position_ids_from_input_ids: count real tokens, offset past
            // the padding index; padding itself gets position pad_id.
            let real = ids.f_ne(self.pad_id)?.f_to_kind(Kind::Int64)?;
            real.f_cumsum(1, Kind::Int64)?
                .f_mul(&real)?
                .f_add_scalar(self.pad_id)?
        } else {
            Tensor::f_arange(t, (Kind::Int64, self.device))?
                .f_unsqueeze(0)?
                .f_expand([b, t], false)?
        };
        let mut x = Tensor::f_embedding(&self.word, ids, -1, false, false)?.f_add(
            &Tensor::f_embedding(&self.position, &positions, -1, false, false)?,
        )?;
        if let Some(token_type) = &self.token_type {
            let types = if token_type.size()[0] == 1 {
                batch.token_type_ids.f_zeros_like()?
            } else {
                batch.token_type_ids.shallow_clone()
            };
            x = x.f_add(&Tensor::f_embedding(token_type, &types, -1, false, false)?)?;
        }
        self.emb_norm.forward(&x)
    }

    fn layer_forward(
        &self,
        layer: &Layer,
        x: &Tensor,
        mask: Option<&Tensor>,
        b: i64,
        t: i64,
    ) -> Result<Tensor> {
        use super::cpu_profile::{time, Part};
        let path = self.plan.path;
        // Mixed precision: the dense layers read bf16 and their outputs return to fp32 before
        // each residual add; attention runs on the bf16 projections.
        let to_gemm = |t: &Tensor| -> Result<Tensor> {
            time(Part::Casts, || match self.gemm_kind {
                Some(kind) => Ok(t.f_to_kind(kind)?),
                None => Ok(t.shallow_clone()),
            })
        };
        let to_stream = |t: Tensor| -> Result<Tensor> {
            time(Part::Casts, || match self.gemm_kind {
                Some(_) => Ok(t.f_to_kind(x.kind())?),
                None => Ok(t),
            })
        };
        // One GEMM for all three projections, viewed as [3, b, heads, t, head_dim]; SDPA reads
        // the strided views directly.
        let input = to_gemm(x)?;
        let qkv = time(Part::GemmQkv, || layer.qkv.forward_on(&input, path))?;
        let ctx = time(Part::Attention, || -> Result<Tensor> {
            let qkv = qkv
                .f_view([b, t, 3, self.heads, self.head_dim])?
                .f_permute([2, 0, 3, 1, 4])?;
            let (q, k, v) = (
                qkv.f_select(0, 0)?,
                qkv.f_select(0, 1)?,
                qkv.f_select(0, 2)?,
            );
            Ok(
                Tensor::f_scaled_dot_product_attention(&q, &k, &v, mask, 0.0, false, None, false)?
                    .f_transpose(1, 2)?
                    .f_reshape([b, t, self.hidden])?,
            )
        })?;
        // Residual adds go in place into the fresh GEMM outputs.
        let attended = time(Part::GemmAttnOut, || layer.attn_out.forward_on(&ctx, path))?;
        let mut attended = to_stream(attended)?;
        let _ = time(Part::Residual, || attended.f_add_(x))?;
        let x = time(Part::LayerNorm, || layer.attn_norm.forward(&attended))?;
        let input = to_gemm(&x)?;
        let inner = if let Some(packed) = &layer.intermediate.packed {
            // GELU inside the product (the profile books both as the FFN up product).
            time(Part::GemmIntermediate, || {
                packed.forward(&input, self.act.post_op())
            })?
        } else {
            let inner = time(Part::GemmIntermediate, || {
                layer.intermediate.forward_on(&input, path)
            })?;
            time(Part::Activation, || self.act.forward_(inner))?
        };
        let out = time(Part::GemmOutput, || layer.output.forward_on(&inner, path))?;
        let mut out = to_stream(out)?;
        let _ = time(Part::Residual, || out.f_add_(&x))?;
        time(Part::LayerNorm, || layer.out_norm.forward(&out))
    }
}

/// The pooler BERT's classifier reads: tanh(dense(h[:, 0])).
pub struct Pooler(Linear);

impl Pooler {
    pub fn load(w: &mut WeightMap, hidden: i64) -> Self {
        Self(Linear::load(w, "pooler.dense", hidden, hidden))
    }

    pub fn forward(&self, tokens: &Tensor) -> Result<Tensor> {
        Ok(self.0.forward(&tokens.f_select(1, 0)?)?.f_tanh()?)
    }
}

/// Classification heads of one-label sequence classifiers.
pub enum ClassifierHead {
    /// BertForSequenceClassification: classifier(pooler(h)).
    Bert { pooler: Pooler, classifier: Linear },
    /// RobertaClassificationHead: out_proj(tanh(dense(h[:, 0]))).
    Roberta { dense: Linear, out_proj: Linear },
}

impl ClassifierHead {
    /// Logits `[batch, labels]` from token embeddings.
    pub fn forward(&self, tokens: &Tensor) -> Result<Tensor> {
        match self {
            Self::Bert { pooler, classifier } => classifier.forward(&pooler.forward(tokens)?),
            Self::Roberta { dense, out_proj } => {
                let x = dense.forward(&tokens.f_select(1, 0)?)?.f_tanh()?;
                out_proj.forward(&x)
            }
        }
    }
}

/// Padded tokens up to which a batch is query-sized (the Semantic pane's query, a handful of
/// short texts): its time is one pass over the weights (170 MB for BERT-base in bf16), which
/// two threads stream in about half the time of one when both cores are free, but which
/// takes ten times as long on two threads when another process holds a core: OpenMP's
/// threads then spin-wait at every product for the one that is not running (504 ms p50 on a
/// loaded 2-core machine against 25 ms on one thread, BENCHMARKS.md). So such a batch runs on
/// the cores nobody else is using right now ([`super::cpu::free_cores`]), at most the
/// caller's threads. `BIGYO_QUERY_TOKENS=N` moves the bound (0: never look);
/// `BIGYO_QUERY_THREADS=N` fixes the thread count instead (benches/latency_vs_st.py measures
/// the rule against fixed counts with both).
fn query_tokens() -> usize {
    static LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::env::var("BIGYO_QUERY_TOKENS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(128)
    })
}

/// `BIGYO_QUERY_THREADS`, when set to a positive count.
fn query_threads() -> Option<usize> {
    static FIXED: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    *FIXED.get_or_init(|| {
        std::env::var("BIGYO_QUERY_THREADS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&n: &usize| n > 0)
    })
}

impl Transformer {
    /// [`forward`](Self::forward) on the free cores when the batch is query-sized (see
    /// [`query_tokens`]); the caller's thread count is restored after.
    pub(super) fn forward_sized(&self, batch: &Batch, padded_tokens: usize) -> Result<Tensor> {
        let threads = usize::try_from(tch::get_num_threads()).unwrap_or(1);
        if self.device != Device::Cpu {
            return self.forward(batch);
        }
        if threads <= 1 || padded_tokens > query_tokens() {
            // A batch that is not query-sized holds the cores it runs on (see `free_cores`).
            let _busy = super::cpu::Busy::hold(threads);
            return self.forward(batch);
        }
        let wanted = query_threads()
            .unwrap_or_else(super::cpu::free_cores)
            .clamp(1, threads);
        if wanted == threads {
            return self.forward(batch);
        }
        tch::set_num_threads(i32::try_from(wanted).unwrap_or(1));
        let result = self.forward(batch);
        tch::set_num_threads(i32::try_from(threads).unwrap_or(i32::MAX));
        result
    }
}

/// What the scoped stream threads of [`Transformer::run_batched_parallel`] may reach: the
/// wrapped model stays private to this module, so a thread can run the forward pass and
/// nothing else (no loading, no kernel or dtype preparation, no access to a tensor).
pub(super) mod shared {
    use tch::Tensor;

    use super::{Batch, ClassifierHead, Result, Transformer};

    /// The encoder, for the forward passes of the stream threads.
    pub(in crate::model) struct SharedWeights<'a>(&'a Transformer);

    // SAFETY: the only way in is `forward_rows`, which reads the weight tensors (a forward
    // pass under the no-grad guard each stream holds, which libtorch allows from several
    // threads at once); nothing mutates, moves or drops them while the borrow lasts, and every
    // tensor a thread creates stays on that thread or leaves it as plain floats.
    unsafe impl Sync for SharedWeights<'_> {}

    impl<'a> SharedWeights<'a> {
        pub(in crate::model) fn new(model: &'a Transformer) -> Self {
            Self(model)
        }

        /// One batch padded from `rows` (token ids, type ids) and its token embeddings.
        pub(in crate::model) fn forward_rows(
            &self,
            rows: &[(&[u32], &[u32])],
        ) -> Result<(Batch, Tensor)> {
            use crate::model::cpu_profile::{time, Part};
            let batch = time(Part::Batch, || self.0.make_batch(rows))?;
            let tokens = self.0.forward(&batch)?;
            Ok((batch, tokens))
        }
    }

    /// A classifier head read by the stream threads (the cross-encoder's batches over streams).
    pub(crate) struct SharedHead<'a>(&'a ClassifierHead);

    // SAFETY: as for `SharedWeights`: the only way in is `forward`, which reads the head's
    // tensors under no-grad; they live, unmoved and unmutated, for as long as the borrow.
    unsafe impl Sync for SharedHead<'_> {}

    impl<'a> SharedHead<'a> {
        pub(crate) fn new(head: &'a ClassifierHead) -> Self {
            Self(head)
        }

        pub(crate) fn forward(&self, tokens: &Tensor) -> Result<Tensor> {
            self.0.forward(tokens)
        }
    }
}
