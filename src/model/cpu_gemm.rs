//! Dense layers on one CPU core through the `gemm` crate instead of libtorch's BLAS.
//!
//! libtorch's fp32 `linear` calls MKL, which takes generic kernels on AMD CPUs: on the
//! encoder's shapes (2,048 × 384 × 1,536 and friends) `gemm` is 1.00–1.10x as fast on one
//! core over two runs (`cargo bench --bench gemm`, BENCHMARKS.md). The bi-encoder spends
//! about 80 % of its CPU time in these products, so on CPUs where this path wins (chosen per
//! machine in `model::cpu`: AMD, or measured) the single-threaded streams of
//! `Transformer::run_batched_parallel` (model::transformer) route their dense
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

/// `x W^T + b` for `x: [.., in]`, `weight: [out, in]`, `bias: [out]`. Dense (strided) fp32
/// CPU tensors go through the `gemm` crate; anything else (another dtype, device or layout, a
/// shape mismatch) is handed to libtorch's `linear`, so every input is safe. [`applies`] says
/// when this is worth calling (one thread).
pub fn linear(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    // Sparse and MKL-DNN tensors are fp32 on the CPU too, but their data is not a strided
    // array of floats: the raw pointer below would not mean what the strides say.
    let dense_fp32_cpu = |t: &Tensor| {
        t.defined()
            && t.kind() == Kind::Float
            && t.device() == Device::Cpu
            && !t.is_sparse()
            && !t.is_mkldnn()
    };
    if !(dense_fp32_cpu(x) && dense_fp32_cpu(weight) && dense_fp32_cpu(bias)) || weight.dim() != 2 {
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
    // A lazily negated view (neg bit) stores the values un-negated: materialise it first.
    let x = x.f_resolve_neg()?.f_contiguous()?;
    let weight = weight.f_resolve_neg()?.f_contiguous()?;
    let (k, n) = (in_dim as usize, out_dim as usize);
    let m = x.numel() / k.max(1);
    if !(x.is_contiguous() && weight.is_contiguous()) || x.numel() != m * k {
        return Ok(x.f_linear(&weight, Some(bias))?);
    }
    // The product is written first and the bias added in place after: measured faster than
    // starting from the bias and accumulating (one pass less over a cold output).
    let mut out = Tensor::f_empty(shape.as_slice(), (Kind::Float, Device::Cpu))?;
    if m == 0 || n == 0 || k == 0 {
        out.f_copy_(&bias.f_expand(shape.as_slice(), false)?)?;
        return Ok(out);
    }
    // SAFETY: `x`, `weight` and `out` are dense fp32 CPU tensors (dtype, device and strided
    // layout checked at the top for the inputs, `out` created so), contiguous (checked just
    // above, after `contiguous`) and holding m*k (checked above), n*k (shape [n, k] from
    // `size2`) and m*n (shape of `x` with the last dimension n) elements from their data
    // pointers. `x` and `weight` are local handles that keep their storage alive until the end
    // of this function; `out` is new and no other handle to it exists, so nothing else writes
    // it while `gemm` does. (As for every libtorch kernel, another thread writing the inputs'
    // storage meanwhile would be a data race; tch's `Tensor` is not `Sync`, and the crate's
    // `Sync` wrappers only read.) The strides below describe exactly those row-major layouts:
    // lhs = x as [m, k]; rhs[kk, j] = weight[j, kk], i.e. W^T; dst = out as [m, n].
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

    #[test]
    fn sparse_and_lazily_negated_inputs_give_libtorchs_answer() {
        let opts = (Kind::Float, Device::Cpu);
        let x = Tensor::randn([3, 8], opts);
        let w = Tensor::randn([4, 8], opts);
        let b = Tensor::randn([4], opts);
        let dense = |t: Tensor| match t.is_sparse() {
            true => t.f_to_dense(None, false).unwrap(),
            false => t,
        };
        let max_diff = |a: Tensor, b: Tensor| (dense(a) - dense(b)).abs().max().double_value(&[]);
        // Negated views store the values un-negated (the neg bit says so): the sign must come
        // out right all the same.
        let neg_x = x.f_internal_neg_view().unwrap();
        let neg_w = w.f_internal_neg_view().unwrap();
        assert!(neg_x.is_neg() && neg_w.is_neg());
        let ours = linear(&neg_x, &w, &b).unwrap();
        assert!(max_diff(ours, (-&x).linear(&w, Some(&b))) < 1e-4);
        let ours = linear(&x, &neg_w, &b).unwrap();
        assert!(max_diff(ours, x.linear(&(-&w), Some(&b))) < 1e-4);
        // A sparse fp32 CPU input is not read as a dense array: libtorch answers, or refuses.
        let sparse = x.f_to_sparse(None, None::<&[i64]>, None).unwrap();
        assert!(sparse.is_sparse());
        match (linear(&sparse, &w, &b), sparse.f_linear(&w, Some(&b))) {
            (Ok(ours), Ok(torch)) => assert!(max_diff(ours, torch) < 1e-4),
            (Err(_), Err(_)) => {}
            (ours, torch) => panic!("ours ok: {}, libtorch ok: {}", ours.is_ok(), torch.is_ok()),
        }
    }
}
