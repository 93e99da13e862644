//! Where and in what precision a model runs.
use std::fmt;
use std::str::FromStr;

use tch::{Device, Kind, Tensor};

use super::cpu::{CpuInfo, KernelChoice};
use super::{ModelError, Result};
use crate::setting::{Invalid, Setting};

/// `--device auto|cpu|cuda|cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA when libtorch sees a GPU, else CPU.
    #[default]
    Auto,
    Cpu,
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| {
                    format!("unknown device {s:?} (expected auto, cpu, cuda or cuda:N)")
                }),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// `--dtype auto|f32|bf16|f16`. `auto` (the default) is bf16 where the hardware computes it
/// natively (CPUs with avx512_bf16 or AMX; CUDA, f16 where bf16 is not supported) and fp32
/// elsewhere: on such CPUs bf16 embeddings stay within cosine 0.999 of fp32 and the sample's
/// MRR@10 within 0.005 (tests/golden.rs, tests/retrieval.rs). `int8` (CPU only) runs the
/// layers' dense products as dynamic int8 ([`super::int8`]) and the rest as `auto` would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DTypeChoice {
    #[default]
    Auto,
    F32,
    Bf16,
    F16,
    Int8,
}

impl FromStr for DTypeChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "f32" | "fp32" | "float32" => Ok(Self::F32),
            "bf16" | "bfloat16" => Ok(Self::Bf16),
            "f16" | "fp16" | "float16" => Ok(Self::F16),
            "int8" | "i8" | "qint8" => Ok(Self::Int8),
            _ => Err(format!(
                "unknown dtype {s:?} (expected auto, f32, bf16, f16 or int8)"
            )),
        }
    }
}

impl fmt::Display for DTypeChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
            Self::F16 => "f16",
            Self::Int8 => "int8",
        })
    }
}

/// A resolved device, dtype and thread count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runtime {
    pub device: Device,
    pub kind: Kind,
    /// Who computes fp32 dense layers on the CPU (see [`super::cpu`]).
    pub kernels: KernelChoice,
    /// Dense products in dynamic int8 (`--dtype int8`, CPU only); `kind` is then what the
    /// rest of the model runs in.
    pub int8: bool,
}

impl Runtime {
    /// Resolves the choices, failing before any heavy work when they cannot be honoured.
    /// `threads`, when given, sets libtorch's intra-op thread count for the process.
    pub fn resolve(
        device: DeviceChoice,
        dtype: DTypeChoice,
        threads: Option<usize>,
    ) -> Result<Self> {
        if let Some(n) = threads {
            if n == 0 {
                return Err(ModelError::Device(Invalid::new(
                    Setting::Threads,
                    "must be at least 1",
                )));
            }
            tch::set_num_threads(i32::try_from(n).unwrap_or(i32::MAX));
        }
        let device = match device {
            DeviceChoice::Auto => Device::cuda_if_available(),
            DeviceChoice::Cpu => Device::Cpu,
            DeviceChoice::Cuda(n) => {
                let count = tch::Cuda::device_count();
                if !tch::Cuda::is_available() || n as i64 >= count {
                    return Err(ModelError::Device(Invalid::new(
                        Setting::Device,
                        format!(
                            "cuda:{n} was asked for but libtorch sees {count} CUDA device(s); \
                             use cpu or auto"
                        ),
                    )));
                }
                Device::Cuda(n)
            }
        };
        let kind = match (dtype, device) {
            (DTypeChoice::Auto, Device::Cpu) => {
                if cpu_has_bf16() {
                    Kind::BFloat16
                } else {
                    Kind::Float
                }
            }
            (DTypeChoice::Auto, _) => {
                if cuda_runs_bf16(device) {
                    Kind::BFloat16
                } else {
                    Kind::Half
                }
            }
            (DTypeChoice::F32, _) => Kind::Float,
            (DTypeChoice::Bf16, Device::Cpu) if !cpu_has_bf16() => {
                return Err(ModelError::Device(Invalid::new(
                    Setting::Dtype,
                    "bf16 on the CPU needs avx512_bf16 (or AMX), which this CPU lacks; use f32",
                )))
            }
            (DTypeChoice::Bf16, _) => Kind::BFloat16,
            (DTypeChoice::F16, Device::Cpu) => {
                return Err(ModelError::Device(Invalid::new(
                    Setting::Dtype,
                    "f16 needs CUDA; on the CPU use bf16 (with avx512_bf16) or f32",
                )))
            }
            (DTypeChoice::F16, _) => Kind::Half,
            (DTypeChoice::Int8, Device::Cpu) if cpu_has_bf16() => Kind::BFloat16,
            (DTypeChoice::Int8, Device::Cpu) => Kind::Float,
            (DTypeChoice::Int8, _) => {
                return Err(ModelError::Device(Invalid::new(
                    Setting::Dtype,
                    "int8 runs on the CPU only (use --device cpu, or bf16/f16 on CUDA)",
                )))
            }
        };
        let int8 = dtype == DTypeChoice::Int8;
        tracing::info!(?device, ?kind, int8, requested = %dtype, "runtime");
        Ok(Self {
            device,
            kind,
            kernels: KernelChoice::Auto,
            int8,
        })
    }

    /// fp32 on the CPU, kernels chosen per machine.
    pub fn cpu() -> Self {
        Self {
            device: Device::Cpu,
            kind: Kind::Float,
            kernels: KernelChoice::Auto,
            int8: false,
        }
    }

    /// The same runtime with `--cpu-kernels` applied.
    pub fn with_kernels(self, kernels: KernelChoice) -> Self {
        Self { kernels, ..self }
    }

    /// The dtype weights are loaded in. bf16 on the CPU runs mixed (see
    /// [`Transformer::prepare`](super::transformer::Transformer::prepare)): the dense layers'
    /// weights become bf16 after loading, everything else stays fp32.
    pub fn storage_kind(&self) -> Kind {
        if self.cpu_mixed_bf16() {
            Kind::Float
        } else {
            self.kind
        }
    }

    /// bf16 products (oneDNN: AMX / avx512_bf16) with an fp32 residual stream, layer norms and
    /// embeddings: what bf16 means on the CPU.
    pub fn cpu_mixed_bf16(&self) -> bool {
        self.device == Device::Cpu && self.kind == Kind::BFloat16
    }

    /// The dtype that runs, as `--dtype` spells it.
    pub fn dtype_name(&self) -> &'static str {
        if self.int8 {
            return "int8";
        }
        kind_name(self.kind)
    }

    /// Device, threads and dtype as the status bar shows them: `cpu (2 threads, bf16)`.
    pub fn describe(&self) -> String {
        match self.device {
            Device::Cpu => format!(
                "cpu ({} threads, {})",
                tch::get_num_threads(),
                self.dtype_name()
            ),
            Device::Cuda(n) => format!("cuda:{n} ({})", self.dtype_name()),
            other => format!("{other:?} ({})", self.dtype_name()),
        }
    }
}

/// `f32`, `bf16`, `f16` for the kinds a model runs in.
pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Float => "f32",
        Kind::BFloat16 => "bf16",
        Kind::Half => "f16",
        Kind::Double => "f64",
        _ => "other",
    }
}

/// Whether the CPU has native bf16 dot products, without which bf16 is slower than fp32.
pub fn cpu_has_bf16() -> bool {
    CpuInfo::detect().has_bf16()
}

/// Whether a bf16 product runs on this CUDA device (tch exposes no compute capability, so a
/// tiny product is tried); `auto` falls back to f16 where it does not.
fn cuda_runs_bf16(device: Device) -> bool {
    let probe = || -> std::result::Result<(), tch::TchError> {
        let a = Tensor::f_ones([8, 8], (Kind::BFloat16, device))?;
        let _ = a.f_matmul(&a)?.f_sum(Kind::Float)?.f_double_value(&[])?;
        Ok(())
    };
    probe().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_and_dtype_names_parse_and_bad_ones_are_named() {
        assert_eq!("cuda:1".parse::<DeviceChoice>(), Ok(DeviceChoice::Cuda(1)));
        assert_eq!("auto".parse::<DeviceChoice>(), Ok(DeviceChoice::Auto));
        let err = "gpu".parse::<DeviceChoice>().unwrap_err();
        assert!(err.contains("\"gpu\""), "{err}");
        assert_eq!("bfloat16".parse::<DTypeChoice>(), Ok(DTypeChoice::Bf16));
        assert_eq!("int8".parse::<DTypeChoice>(), Ok(DTypeChoice::Int8));
        assert!("int4".parse::<DTypeChoice>().unwrap_err().contains("int4"));
    }

    #[test]
    fn auto_is_the_default_and_picks_bf16_only_where_the_cpu_computes_it() {
        assert_eq!(DTypeChoice::default(), DTypeChoice::Auto);
        assert_eq!("auto".parse::<DTypeChoice>(), Ok(DTypeChoice::Auto));
        let rt = Runtime::resolve(DeviceChoice::Cpu, DTypeChoice::Auto, None).unwrap();
        let expected = if cpu_has_bf16() { "bf16" } else { "f32" };
        assert_eq!(rt.dtype_name(), expected);
        assert!(
            rt.describe().ends_with(&format!("{expected})")),
            "{}",
            rt.describe()
        );
        let rt = Runtime::resolve(DeviceChoice::Cpu, DTypeChoice::F32, None).unwrap();
        assert_eq!(rt.kind, Kind::Float);
    }

    #[test]
    fn half_precision_on_the_cpu_is_refused_with_a_reason() {
        let err = Runtime::resolve(DeviceChoice::Cpu, DTypeChoice::F16, None).unwrap_err();
        assert!(err.to_string().contains("f16 needs CUDA"), "{err}");
    }
}
