//! Dynamic int8 dense layers on the CPU (`--dtype int8`).
//!
//! Weights are quantized once, symmetric per output channel (`w ≈ s_w[j] · q_w[j, :]`, q in
//! [-127, 127]); activations per token at run time (`x ≈ s_x[i] · q_x[i, :]`). The product of
//! the two int8 matrices accumulates in int32 (libtorch's `_int_mm`: oneDNN, which runs AMX
//! int8 tiles or AVX-512 VNNI where the CPU has them and its AVX2 / reference kernels
//! elsewhere, so the path is correct on every CPU, fast only on some), and one pass here turns
//! it back: `y[i, j] = s_x[i] · s_w[j] · acc[i, j] + b[j]`, in the input's dtype. Symmetric
//! scales on both sides mean no zero points and no correction terms.
//!
//! Only the layers' dense products are quantized, and not all of them ([`QUANTIZED`]):
//! embeddings, the q/k/v projections, attention, layer norms, GELU, the FFN output and the
//! residual stream keep the model's precision (bf16 products over an fp32
//! stream on CPUs with native bf16, fp32 elsewhere).
use tch::{Device, Kind, Tensor};

use super::cpu::CpuInfo;
use super::{ModelError, Result};

/// Which of a layer's dense products run in int8: the attention output and the intermediate.
/// The stacked q/k/v keep the model's precision: quantizing their input moves the attention
/// scores, and with it multilingual-e5-small's passages were cosine 0.99933 to fp32 (mean over
/// the sample's passages) against 0.99981 without it, and the sample's MRR@10 swung 0.004-0.008
/// below fp32's with the batch layout (0.9097 at 512-token batches against 0.9172). The FFN
/// output (`[inner, hidden]`, reading GELU's output, whose few large values make per-token
/// scales coarse for the rest) keeps it too: with it in int8, MRR@10 fell 0.0064.
pub(crate) const QUANTIZED: [bool; 4] = [false, true, true, false];

/// What `bigyo doctor` says about `--dtype int8` on `cpu`: the kernels oneDNN can use, and why
/// `auto` does not pick int8 (the product alone is no faster than oneDNN's bf16 on AMX, and the
/// quantize / dequantize passes come on top: BENCHMARKS.md, `int8` section).
pub fn int8_support(cpu: &CpuInfo) -> String {
    let vnni = cpu.arch == std::env::consts::ARCH && has_vnni();
    let kernels = if cpu.has("amx_int8") {
        "AMX int8 tiles (oneDNN)"
    } else if vnni {
        "AVX-512 VNNI (oneDNN)"
    } else {
        "no int8 dot-product instructions: oneDNN's generic kernels, correct but slow"
    };
    format!(
        "--dtype int8 runs on {kernels}; auto does not pick it: on AMX its products measured \
         no faster than bf16's once activations are quantized (BENCHMARKS.md: int8)"
    )
}

fn has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A dense layer `x W^T + b` with int8 weights and per-token int8 activations.
pub(crate) struct QuantLinear {
    /// `[in, out]`: the transposed view of the `[out, in]` int8 weight (oneDNN reads it as a
    /// transposed operand; no copy).
    weight_t: Tensor,
    /// Per output channel: the weight's scale.
    scales: Vec<f32>,
    bias: Vec<f32>,
    input: usize,
    output: usize,
}

impl QuantLinear {
    /// Quantizes `weight: [out, in]` per output channel; `bias: [out]` stays fp32.
    pub(crate) fn new(weight: &Tensor, bias: &Tensor) -> Result<Self> {
        let w = weight
            .f_to_device(Device::Cpu)?
            .f_to_kind(Kind::Float)?
            .f_contiguous()?;
        let (out, input) = w.size2()?;
        let scales = w
            .f_abs()?
            .f_amax(1, false)?
            .f_clamp_min(f64::from(f32::MIN_POSITIVE))?
            .f_div_scalar(127.0)?;
        let q = w
            .f_div(&scales.f_unsqueeze(1)?)?
            .f_round()?
            .f_clamp(-127, 127)?
            .f_to_kind(Kind::Int8)?
            .f_contiguous()?;
        let bias = bias.f_to_device(Device::Cpu)?.f_to_kind(Kind::Float)?;
        let bias = Vec::<f32>::try_from(&bias)?;
        if bias.len() as i64 != out {
            return Err(ModelError::Torch(tch::TchError::Shape(format!(
                "int8 layer: bias of {} values for {out} outputs",
                bias.len()
            ))));
        }
        Ok(Self {
            weight_t: q.f_tr()?,
            scales: Vec::<f32>::try_from(&scales)?,
            bias,
            input: usize::try_from(input).unwrap_or(0),
            output: usize::try_from(out).unwrap_or(0),
        })
    }

    /// `x W^T + b` for `x: [.., in]` in fp32 or bf16 on the CPU; the result has `x`'s dtype.
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut shape = x.size();
        let last = shape.last().copied().unwrap_or(0);
        if x.device() != Device::Cpu || last != self.input as i64 {
            return Err(ModelError::Torch(tch::TchError::Shape(format!(
                "int8 layer of {} inputs got a {:?} tensor of shape {shape:?} on {:?}",
                self.input,
                x.kind(),
                x.device()
            ))));
        }
        let kind = match x.kind() {
            Kind::BFloat16 => Kind::BFloat16,
            _ => Kind::Float,
        };
        let rows = x
            .f_to_kind(kind)?
            .f_reshape([-1, self.input as i64])?
            .f_contiguous()?;
        let m = usize::try_from(rows.size()[0]).unwrap_or(0);
        let (q, row_scales) = quantize_rows(&rows, m, self.input)?;
        let acc = if m == 0 {
            Tensor::f_zeros([0, self.output as i64], (Kind::Int, Device::Cpu))?
        } else {
            q.f_internal_int_mm(&self.weight_t)?.f_contiguous()?
        };
        let out = dequantize(&acc, &row_scales, &self.scales, &self.bias, kind)?;
        if let Some(l) = shape.last_mut() {
            *l = self.output as i64;
        }
        Ok(out.f_view(shape.as_slice())?)
    }
}

/// Dense CPU tensors of `kind` with `len` elements from their data pointer (checked before
/// any raw read or write).
fn check_dense(t: &Tensor, kind: Kind, len: usize) -> Result<()> {
    let ok = t.defined()
        && t.kind() == kind
        && t.device() == Device::Cpu
        && !t.is_sparse()
        && !t.is_mkldnn()
        && t.is_contiguous()
        && t.numel() == len;
    if ok {
        Ok(())
    } else {
        Err(ModelError::Torch(tch::TchError::Shape(format!(
            "int8 layer: expected a dense {kind:?} CPU tensor of {len} values, got {:?} {:?}",
            t.kind(),
            t.size()
        ))))
    }
}

/// bf16 → f32 is exact: the bf16 bits are the f32's upper half.
fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// f32 → bf16, rounding to nearest even (NaN stays NaN).
fn f32_to_bf16(v: f32) -> u16 {
    let bits = v.to_bits();
    if v.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    let round = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(round) >> 16) as u16
}

/// Per-row symmetric quantization of `rows: [m, k]` (fp32 or bf16, contiguous): the int8
/// matrix and each row's scale (see [`kernels::quantize`]).
fn quantize_rows(rows: &Tensor, m: usize, k: usize) -> Result<(Tensor, Vec<f32>)> {
    let q = Tensor::f_empty([m as i64, k as i64], (Kind::Int8, Device::Cpu))?;
    check_dense(rows, rows.kind(), m * k)?;
    check_dense(&q, Kind::Int8, m * k)?;
    let mut scales = vec![0f32; m];
    if m * k == 0 {
        return Ok((q, scales));
    }
    // SAFETY: `q` is new, dense, contiguous Int8 with m*k elements (checked above) and no
    // other handle to it exists, so this is the only access to its storage. `rows` is a
    // dense contiguous CPU tensor of m*k elements of its kind (checked above); the match
    // reads it as f32 only when its kind is Float and as u16 (bf16 bits) only when it is
    // BFloat16. `rows` lives until the end of this function.
    let out = unsafe { std::slice::from_raw_parts_mut(q.data_ptr().cast::<i8>(), m * k) };
    match rows.kind() {
        Kind::Float => {
            let x = unsafe { std::slice::from_raw_parts(rows.data_ptr().cast::<f32>(), m * k) };
            kernels::quantize(x, k, out, &mut scales);
        }
        Kind::BFloat16 => {
            let x = unsafe { std::slice::from_raw_parts(rows.data_ptr().cast::<u16>(), m * k) };
            let mut row = vec![0f32; k];
            for ((bits, q_row), s) in x
                .chunks_exact(k)
                .zip(out.chunks_exact_mut(k))
                .zip(scales.chunks_exact_mut(1))
            {
                for (r, &b) in row.iter_mut().zip(bits) {
                    *r = bf16_to_f32(b);
                }
                kernels::quantize(&row, k, q_row, s);
            }
        }
        other => {
            return Err(ModelError::Torch(tch::TchError::Kind(format!(
                "int8 layer: activations in {other:?} (expected Float or BFloat16)"
            ))))
        }
    }
    Ok((q, scales))
}

/// `acc: [m, n]` int32 → `acc · s_x[i] · s_w[j] + b[j]` in `kind` (Float or BFloat16).
fn dequantize(
    acc: &Tensor,
    rows: &[f32],
    cols: &[f32],
    bias: &[f32],
    kind: Kind,
) -> Result<Tensor> {
    let (m, n) = (rows.len(), cols.len());
    check_dense(acc, Kind::Int, m * n)?;
    let out = Tensor::f_empty([m as i64, n as i64], (kind, Device::Cpu))?;
    check_dense(&out, kind, m * n)?;
    if m * n == 0 {
        return Ok(out);
    }
    // SAFETY: `acc` is a dense contiguous Int32 CPU tensor of m*n elements (checked above),
    // alive for this function; `out` is new, dense, contiguous, of m*n elements of `kind`
    // (checked) with no other handle, written as f32 only when `kind` is Float and as u16
    // (bf16 bits) otherwise, which `check_dense` proved is BFloat16 (the only other kind
    // callers pass).
    let acc = unsafe { std::slice::from_raw_parts(acc.data_ptr().cast::<i32>(), m * n) };
    match kind {
        Kind::Float => {
            let o = unsafe { std::slice::from_raw_parts_mut(out.data_ptr().cast::<f32>(), m * n) };
            kernels::dequantize(acc, rows, cols, bias, o);
        }
        Kind::BFloat16 => {
            let o = unsafe { std::slice::from_raw_parts_mut(out.data_ptr().cast::<u16>(), m * n) };
            let mut row = vec![0f32; n];
            for ((a, o), s) in acc
                .chunks_exact(n)
                .zip(o.chunks_exact_mut(n))
                .zip(rows.chunks_exact(1))
            {
                kernels::dequantize(a, s, cols, bias, &mut row);
                for (o, &v) in o.iter_mut().zip(&row) {
                    *o = f32_to_bf16(v);
                }
            }
        }
        other => {
            return Err(ModelError::Torch(tch::TchError::Kind(format!(
                "int8 layer: output in {other:?} (expected Float or BFloat16)"
            ))))
        }
    }
    Ok(out)
}

/// The per-element loops, compiled twice on x86-64: for the baseline target and with AVX-512
/// (chosen at run time), where they vectorize 16 lanes wide.
mod kernels {
    /// Adding then subtracting 1.5 * 2^23 rounds an f32 below 2^22 in magnitude to the nearest
    /// integer (ties to even) without a libm call, so the loop vectorizes.
    const ROUND: f32 = 12_582_912.0;

    /// Quantizes the rows of `x` (`k` values each) into `out`, each row's scale into `scales`:
    /// `max |x| / 127`, 0 for an all-zero row, NaN for a row holding inf or NaN (its output
    /// then turns NaN instead of silently wrong).
    #[inline(always)]
    fn quantize_generic(x: &[f32], k: usize, out: &mut [i8], scales: &mut [f32]) {
        for ((row, q), s) in x.chunks_exact(k).zip(out.chunks_exact_mut(k)).zip(scales) {
            let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            if amax == 0.0 || !amax.is_finite() {
                q.fill(0);
                *s = if amax == 0.0 { 0.0 } else { f32::NAN };
                continue;
            }
            let inv = 127.0 / amax;
            for (o, &v) in q.iter_mut().zip(row) {
                *o = ((v * inv + ROUND) - ROUND) as i8;
            }
            *s = amax / 127.0;
        }
    }

    /// `out[i, j] = acc[i, j] · rows[i] · cols[j] + bias[j]`.
    #[inline(always)]
    fn dequantize_generic(acc: &[i32], rows: &[f32], cols: &[f32], bias: &[f32], out: &mut [f32]) {
        let n = cols.len();
        for ((a, o), &s) in acc.chunks_exact(n).zip(out.chunks_exact_mut(n)).zip(rows) {
            for (((o, &v), &c), &b) in o.iter_mut().zip(a).zip(cols).zip(bias) {
                *o = v as f32 * (s * c) + b;
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    fn quantize_avx512(x: &[f32], k: usize, out: &mut [i8], scales: &mut [f32]) {
        quantize_generic(x, k, out, scales);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    fn dequantize_avx512(acc: &[i32], rows: &[f32], cols: &[f32], bias: &[f32], out: &mut [f32]) {
        dequantize_generic(acc, rows, cols, bias, out);
    }

    #[cfg(target_arch = "x86_64")]
    fn avx512() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
    }

    pub(super) fn quantize(x: &[f32], k: usize, out: &mut [i8], scales: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if avx512() {
            // SAFETY: the CPU has every feature the function is compiled for (checked above).
            return unsafe { quantize_avx512(x, k, out, scales) };
        }
        quantize_generic(x, k, out, scales);
    }

    pub(super) fn dequantize(
        acc: &[i32],
        rows: &[f32],
        cols: &[f32],
        bias: &[f32],
        out: &mut [f32],
    ) {
        #[cfg(target_arch = "x86_64")]
        if avx512() {
            // SAFETY: the CPU has every feature the function is compiled for (checked above).
            return unsafe { dequantize_avx512(acc, rows, cols, bias, out) };
        }
        dequantize_generic(acc, rows, cols, bias, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The int8 layer's answer computed the slow way in f64 from the same quantized integers:
    /// what `forward` must equal up to f32 rounding.
    fn reference(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
        // Quantized as `forward` does, in f32 (in f64 a value near .5 now and then rounds the
        // other way): activations as x · (127 / amax) rounded half to even...
        let x = x.to_kind(Kind::Float);
        let amax = x.abs().amax(-1, true);
        let inv = (amax.ones_like() * 127.0 / &amax).where_scalarother(&amax.ne(0.0), 0.0);
        let qx = (&x * inv).round().clamp(-127, 127).to_kind(Kind::Double);
        let sx = (amax / 127.0).to_kind(Kind::Double);
        // ...and weights as w / (amax / 127), as `QuantLinear::new` does.
        let w = w.to_kind(Kind::Float);
        let sw = w
            .abs()
            .amax(-1, true)
            .clamp_min(f64::from(f32::MIN_POSITIVE))
            / 127.0;
        let qw = (&w / &sw).round().clamp(-127, 127).to_kind(Kind::Double);
        let sw = sw.to_kind(Kind::Double);
        qx.matmul(&qw.tr()) * sx * sw.tr() + b.to_kind(Kind::Double)
    }

    fn max_rel(a: &Tensor, b: &Tensor) -> f64 {
        let a = a.to_kind(Kind::Double);
        let b = b.to_kind(Kind::Double);
        (a - &b).abs().max().double_value(&[]) / b.abs().max().double_value(&[]).max(1e-12)
    }

    #[test]
    fn equals_the_quantized_product_and_stays_near_fp32_on_odd_shapes() {
        tch::manual_seed(3);
        for (rows, input, output) in [(1, 1, 1), (3, 5, 7), (17, 64, 96), (130, 384, 1152)] {
            let opts = (Kind::Float, Device::Cpu);
            let x = Tensor::randn([2, rows, input], opts);
            let w = Tensor::randn([output, input], opts) * 0.05;
            let b = Tensor::randn([output], opts);
            let layer = QuantLinear::new(&w, &b).unwrap();
            let got = layer.forward(&x).unwrap();
            assert_eq!(got.size(), [2, rows, output]);
            assert_eq!(got.kind(), Kind::Float);
            let exact = max_rel(&got, &reference(&x, &w, &b));
            assert!(
                exact < 1e-5,
                "{rows}x{input}x{output}: {exact} from the int8 product"
            );
            let fp32 = max_rel(&got, &x.linear(&w, Some(&b)));
            assert!(fp32 < 0.05, "{rows}x{input}x{output}: {fp32} from fp32");
        }
    }

    #[test]
    fn bf16_in_bf16_out_and_zero_rows_give_the_bias() {
        let opts = (Kind::Float, Device::Cpu);
        let w = Tensor::randn([8, 16], opts);
        let b = Tensor::randn([8], opts);
        let layer = QuantLinear::new(&w.to_kind(Kind::BFloat16), &b).unwrap();
        let x = Tensor::randn([4, 16], opts);
        let _ = x.get(1).zero_();
        let got = layer.forward(&x.to_kind(Kind::BFloat16)).unwrap();
        assert_eq!(got.kind(), Kind::BFloat16);
        let want = reference(&x.to_kind(Kind::BFloat16), &w.to_kind(Kind::BFloat16), &b);
        assert!(max_rel(&got, &want) < 1e-2);
        // A zero row is exactly the bias (in bf16).
        let row = got.get(1).to_kind(Kind::Float);
        let bias = b.to_kind(Kind::BFloat16).to_kind(Kind::Float);
        assert_eq!((row - bias).abs().max().double_value(&[]), 0.0);
        // No rows: an empty result of the right width.
        let empty = layer.forward(&Tensor::zeros([0, 16], opts)).unwrap();
        assert_eq!(empty.size(), [0, 8]);
    }

    #[test]
    fn a_wrong_width_or_dtype_is_an_error_naming_the_shape() {
        let opts = (Kind::Float, Device::Cpu);
        let layer =
            QuantLinear::new(&Tensor::ones([4, 6], opts), &Tensor::zeros([4], opts)).unwrap();
        let err = layer
            .forward(&Tensor::ones([2, 5], opts))
            .unwrap_err()
            .to_string();
        assert!(err.contains("6 inputs") && err.contains("[2, 5]"), "{err}");
        let err = QuantLinear::new(&Tensor::ones([4, 6], opts), &Tensor::zeros([3], opts))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("3 values for 4 outputs"), "{err}");
        // Non-finite activations come out NaN, not as silently wrong numbers.
        let x = Tensor::from_slice(&[1f32, f32::INFINITY, 0.0, 2.0, 1.0, 1.0]).view([1, 6]);
        let got = layer.forward(&x).unwrap();
        assert!(got.isnan().all().int64_value(&[]) == 1);
    }

    #[test]
    fn bf16_conversions_round_to_nearest_even() {
        for v in [
            0.0f32,
            -1.5,
            3.140625,
            1e-30,
            65504.0,
            f32::INFINITY,
            -f32::INFINITY,
        ] {
            let ours = f32_to_bf16(v);
            let torch = Tensor::from_slice(&[v]).to_kind(Kind::BFloat16);
            let want = torch.to_kind(Kind::Float).double_value(&[0]) as f32;
            assert_eq!(bf16_to_f32(ours), want, "{v}");
        }
        assert!(bf16_to_f32(f32_to_bf16(f32::NAN)).is_nan());
        // A tie rounds to even: 1 + 2^-8 is halfway between 1 and 1 + 2^-7.
        assert_eq!(bf16_to_f32(f32_to_bf16(1.0 + 1.0 / 256.0)), 1.0);
    }
}
