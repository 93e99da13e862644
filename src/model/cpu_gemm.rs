//! Dense layers on one CPU core through the `gemm` crate instead of libtorch's BLAS.
//!
//! libtorch's fp32 `linear` calls MKL, which takes generic kernels on AMD CPUs: on the
//! encoder's shapes (2,048 × 384 × 1,536 and friends) `gemm` is 1.00–1.10x as fast on one
//! core over two runs (`cargo bench --bench gemm`, BENCHMARKS.md). The bi-encoder spends
//! about 80 % of its CPU time in these products, so on CPUs where this path wins (chosen per
//! machine in [`super::cpu`]: AMD, or measured) the single-threaded streams of
//! [`Transformer::run_batched_parallel`](super::transformer::Transformer) route their dense
//! layers here. On Intel with AVX-512, MKL is about twice as fast (the `gemm` crate's AVX-512
//! kernels need nightly Rust) and libtorch keeps them. Everything else (attention, layer norm, GELU, other dtypes and devices, and
//! multi-threaded callers, whose threads libtorch manages) stays on libtorch.
use tch::{Device, Kind, Tensor};

use super::Result;

/// Whether [`linear`] applies to `x` on this thread: fp32 on the CPU with libtorch set to one
/// thread here (a stream of `run_batched_parallel`, or `--threads 1`).
pub fn applies(x: &Tensor) -> bool {
    x.device() == Device::Cpu && x.kind() == Kind::Float && tch::get_num_threads() == 1
}

/// `x W^T + b` for `x: [.., in]`, `weight: [out, in]`, `bias: [out]`. fp32 CPU tensors go
/// through the `gemm` crate; anything else (another dtype or device, a shape mismatch) is
/// handed to libtorch's `linear`, so every input is safe. [`applies`] says when this is worth
/// calling (one thread).
pub fn linear(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let fp32_cpu = |t: &Tensor| t.kind() == Kind::Float && t.device() == Device::Cpu;
    if !(fp32_cpu(x) && fp32_cpu(weight) && fp32_cpu(bias)) || weight.dim() != 2 {
        return Ok(x.f_linear(weight, Some(bias))?);
    }
    let (out_dim, in_dim) = weight.size2()?;
    let mut shape = x.size();
    let Some(last) = shape.last_mut() else {
        return Ok(x.f_linear(weight, Some(bias))?);
    };
    if *last != in_dim || bias.size() != [out_dim] {
        // Let libtorch report the shape mismatch in its own words.
        return Ok(x.f_linear(weight, Some(bias))?);
    }
    *last = out_dim;
    let x = x.f_contiguous()?;
    let weight = weight.f_contiguous()?;
    let (k, n) = (in_dim as usize, out_dim as usize);
    let m = x.numel() / k.max(1);
    // The product is written first and the bias added in place after: measured faster than
    // starting from the bias and accumulating (one pass less over a cold output).
    let mut out = Tensor::f_empty(shape.as_slice(), (Kind::Float, Device::Cpu))?;
    if m == 0 || n == 0 || k == 0 {
        out.f_copy_(&bias.f_expand(shape.as_slice(), false)?)?;
        return Ok(out);
    }
    debug_assert_eq!(x.numel(), m * k);
    // SAFETY: `x`, `weight` and `out` are contiguous fp32 CPU tensors (dtype and device checked
    // at the top of this function for `x` and `weight`, contiguity made by `contiguous` above,
    // and `out` created so) holding m*k (m is numel / k with the last dimension equal to k),
    // n*k (shape [n, k] checked by `size2`) and m*n elements; they live until the end of this function and `out` is written by nobody else.
    // The strides below describe exactly those row-major layouts: lhs = x as [m, k];
    // rhs[kk, j] = weight[j, kk], i.e. W^T; dst = out as [m, n].
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.data_ptr().cast::<f32>(),
            1,
            n as isize,
            false,
            x.data_ptr().cast::<f32>().cast_const(),
            1,
            k as isize,
            weight.data_ptr().cast::<f32>().cast_const(),
            k as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    let _ = out.f_add_(bias)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_libtorch_linear_on_odd_shapes() {
        tch::manual_seed(7);
        let threads = tch::get_num_threads();
        tch::set_num_threads(1);
        for (rows, input, output) in [(1, 1, 1), (3, 5, 7), (2 * 17, 384, 1152), (129, 33, 65)] {
            let x = Tensor::randn([2, rows, input], (Kind::Float, Device::Cpu));
            let w = Tensor::randn([output, input], (Kind::Float, Device::Cpu));
            let b = Tensor::randn([output], (Kind::Float, Device::Cpu));
            assert!(applies(&x));
            let ours = linear(&x, &w, &b).unwrap();
            let torch = x.linear(&w, Some(&b));
            assert_eq!(ours.size(), torch.size());
            let err = (ours - &torch).abs().max().double_value(&[]);
            let scale = torch.abs().max().double_value(&[]);
            assert!(
                err <= 1e-5 * scale.max(1.0),
                "{rows}x{input}x{output}: {err}"
            );
        }
        // A transposed (non-contiguous) input is handled too.
        let x = Tensor::randn([8, 6], (Kind::Float, Device::Cpu)).tr();
        let w = Tensor::randn([4, 8], (Kind::Float, Device::Cpu));
        let b = Tensor::zeros([4], (Kind::Float, Device::Cpu));
        let err = (linear(&x, &w, &b).unwrap() - x.linear(&w, Some(&b)))
            .abs()
            .max()
            .double_value(&[]);
        assert!(err < 1e-4);
        tch::set_num_threads(threads);
    }

    #[test]
    fn other_dtypes_go_to_libtorch_instead_of_being_read_as_fp32() {
        let opts = (Kind::BFloat16, Device::Cpu);
        let x = Tensor::randn([3, 8], opts);
        let w = Tensor::randn([4, 8], opts);
        let b = Tensor::randn([4], opts);
        let ours = linear(&x, &w, &b).unwrap();
        assert_eq!(ours.kind(), Kind::BFloat16);
        let diff = (ours - x.linear(&w, Some(&b)))
            .abs()
            .max()
            .to_kind(Kind::Float)
            .double_value(&[]);
        assert_eq!(diff, 0.0);
        // An fp32 input with a bf16 weight is libtorch's to refuse, never reinterpreted.
        let x = Tensor::randn([3, 8], (Kind::Float, Device::Cpu));
        assert!(linear(&x, &w, &b).is_err());
    }
}
