//! oneDNN's prepacked linear layers: the weight is reordered once, at load, into the blocked
//! layout oneDNN's AMX / AVX-512 kernels read, instead of on every product as libtorch's
//! `linear` does; the activation that follows (GELU, ReLU) runs inside the product as a
//! oneDNN post-op instead of as a pass of its own over the output. These are the operators
//! torch.compile's CPU freezing pass emits (`mkldnn::_reorder_linear_weight`,
//! `mkldnn::_linear_pointwise`); they are not aten operators, so tch has no binding and
//! src/model/packed.cpp reaches them through libtorch's dispatcher.
//!
//! Measured on an Intel Xeon with AMX, one thread, one all-MiniLM-L6-v2 layer over 8x256
//! tokens: bf16 products 24.7 → 20.3 ms a layer with GELU fused, fp32 74.4 → 62.5 ms; one
//! BERT-base query (20 tokens, 2 threads) 11.7 → 8.3 ms in its dense products (BENCHMARKS.md).
use tch::Tensor;

use super::{ModelError, Result};

/// The activation oneDNN applies to the product's output before writing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PostOp {
    None,
    /// GELU with the exact erf.
    Gelu,
    /// GELU's tanh approximation.
    GeluTanh,
    Relu,
}

impl PostOp {
    /// `(attr, algorithm)` as `mkldnn::_linear_pointwise` spells them.
    #[cfg_attr(not(bigyo_packed), allow(dead_code))]
    fn names(self) -> (&'static std::ffi::CStr, &'static std::ffi::CStr) {
        match self {
            Self::None => (c"none", c""),
            Self::Gelu => (c"gelu", c"none"),
            Self::GeluTanh => (c"gelu", c"tanh"),
            Self::Relu => (c"relu", c""),
        }
    }
}

/// A dense layer `x W^T + b` with its weight in oneDNN's layout.
pub(crate) struct PackedLinear {
    weight: Tensor,
    bias: Tensor,
}

#[cfg(bigyo_packed)]
mod ffi {
    use std::os::raw::{c_char, c_int};
    use torch_sys::C_tensor;

    extern "C" {
        pub fn bigyo_packed_available() -> c_int;
        pub fn bigyo_packed_reorder(
            weight: *const C_tensor,
            out: *mut *mut C_tensor,
        ) -> *mut c_char;
        pub fn bigyo_packed_linear(
            x: *const C_tensor,
            packed: *const C_tensor,
            bias: *const C_tensor,
            attr: *const c_char,
            algorithm: *const c_char,
            out: *mut *mut C_tensor,
        ) -> *mut c_char;
        pub fn bigyo_packed_free_error(error: *mut c_char);
    }

    /// The tensor a shim call made, or its C++ exception as an error.
    pub(super) fn take(error: *mut c_char, out: *mut C_tensor) -> super::Result<tch::Tensor> {
        if !error.is_null() {
            // SAFETY: a NUL-terminated string the shim malloc'd; freed once, here.
            let message = unsafe { std::ffi::CStr::from_ptr(error) }
                .to_string_lossy()
                .into_owned();
            unsafe { bigyo_packed_free_error(error) };
            return Err(super::shim_error(message));
        }
        if out.is_null() {
            return Err(super::shim_error(
                "the oneDNN shim returned no tensor".into(),
            ));
        }
        // SAFETY: `out` is a `new at::Tensor` from the shim, owned from here on by tch.
        Ok(unsafe { tch::Tensor::from_ptr(out) })
    }
}

#[cfg_attr(not(bigyo_packed), allow(dead_code))]
fn shim_error(message: String) -> ModelError {
    ModelError::Torch(tch::TchError::Torch(format!(
        "oneDNN packed linear: {message}"
    )))
}

/// Whether this build and this libtorch have the packed operators.
pub(crate) fn available() -> bool {
    #[cfg(bigyo_packed)]
    {
        static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        // SAFETY: no arguments; looks two schemas up in libtorch's dispatcher.
        *AVAILABLE.get_or_init(|| unsafe { ffi::bigyo_packed_available() } == 1)
    }
    #[cfg(not(bigyo_packed))]
    {
        false
    }
}

impl PackedLinear {
    /// Packs `weight` (`[out, in]`, on the CPU, fp32 or bf16) and keeps `bias` in its dtype.
    pub(crate) fn new(weight: &Tensor, bias: &Tensor) -> Result<Self> {
        #[cfg(bigyo_packed)]
        {
            let weight = weight.f_contiguous()?;
            let mut out = std::ptr::null_mut();
            // SAFETY: `weight` is a live tensor handle for the call; `out` receives a new one.
            let error = unsafe { ffi::bigyo_packed_reorder(weight.as_ptr(), &mut out) };
            Ok(Self {
                weight: ffi::take(error, out)?,
                bias: bias.f_contiguous()?,
            })
        }
        #[cfg(not(bigyo_packed))]
        {
            let _ = (weight, bias);
            Err(shim_error(
                "this build has no oneDNN shim (libtorch headers were missing)".into(),
            ))
        }
    }

    /// `post(x W^T + b)` in `x`'s dtype, for `x` of any leading shape.
    pub(crate) fn forward(&self, x: &Tensor, post: PostOp) -> Result<Tensor> {
        #[cfg(bigyo_packed)]
        {
            let x = x.f_contiguous()?;
            let (attr, algorithm) = post.names();
            let mut out = std::ptr::null_mut();
            // SAFETY: every pointer is live for the call (tensor handles borrowed from `self`
            // and `x`, static C strings); `out` receives a new handle.
            let error = unsafe {
                ffi::bigyo_packed_linear(
                    x.as_ptr(),
                    self.weight.as_ptr(),
                    self.bias.as_ptr(),
                    attr.as_ptr(),
                    algorithm.as_ptr(),
                    &mut out,
                )
            };
            ffi::take(error, out)
        }
        #[cfg(not(bigyo_packed))]
        {
            let _ = (x, post, &self.weight, &self.bias);
            Err(shim_error("this build has no oneDNN shim".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// The packed product against libtorch's `linear` (and GELU after it), fp32 and bf16.
    #[test]
    fn packed_products_agree_with_linear() {
        if !available() {
            eprintln!("skipped: no oneDNN packed operators in this build");
            return;
        }
        let _guard = tch::no_grad_guard();
        tch::manual_seed(7);
        for (kind, tol) in [(Kind::Float, 1e-5), (Kind::BFloat16, 2e-2)] {
            let opts = (kind, Device::Cpu);
            let x = Tensor::randn([3, 5, 64], opts);
            let w = Tensor::randn([96, 64], opts).g_mul_scalar(0.1);
            let b = Tensor::randn([96], opts);
            let packed = PackedLinear::new(&w, &b).unwrap();
            let plain = x.linear(&w, Some(&b));
            for (post, want) in [
                (PostOp::None, plain.shallow_clone()),
                (PostOp::Gelu, plain.gelu("none")),
                (PostOp::GeluTanh, plain.gelu("tanh")),
                (PostOp::Relu, plain.relu()),
            ] {
                let got = packed.forward(&x, post).unwrap();
                assert_eq!(got.size(), vec![3, 5, 96]);
                assert_eq!(got.kind(), kind);
                let err = (got.to_kind(Kind::Float) - want.to_kind(Kind::Float))
                    .abs()
                    .max()
                    .double_value(&[]);
                let scale = want.to_kind(Kind::Float).abs().max().double_value(&[]);
                assert!(
                    err <= tol * scale.max(1.0),
                    "{kind:?} {post:?}: max difference {err} (scale {scale})"
                );
            }
        }
    }
}
