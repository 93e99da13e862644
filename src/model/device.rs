//! Where and in what precision a model runs.
use std::fmt;
use std::str::FromStr;

use tch::{Device, Kind};

use super::{ModelError, Result};

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

/// `--dtype f32|bf16|f16`: fp32 is the default; the others are opt-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DTypeChoice {
    #[default]
    F32,
    Bf16,
    F16,
}

impl FromStr for DTypeChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "f32" | "fp32" | "float32" => Ok(Self::F32),
            "bf16" | "bfloat16" => Ok(Self::Bf16),
            "f16" | "fp16" | "float16" => Ok(Self::F16),
            _ => Err(format!("unknown dtype {s:?} (expected f32, bf16 or f16)")),
        }
    }
}

impl fmt::Display for DTypeChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
            Self::F16 => "f16",
        })
    }
}

/// A resolved device, dtype and thread count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runtime {
    pub device: Device,
    pub kind: Kind,
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
                return Err(ModelError::Device("--threads must be at least 1".into()));
            }
            tch::set_num_threads(i32::try_from(n).unwrap_or(i32::MAX));
        }
        let device = match device {
            DeviceChoice::Auto => Device::cuda_if_available(),
            DeviceChoice::Cpu => Device::Cpu,
            DeviceChoice::Cuda(n) => {
                let count = tch::Cuda::device_count();
                if !tch::Cuda::is_available() || n as i64 >= count {
                    return Err(ModelError::Device(format!(
                        "--device cuda:{n} was asked for but libtorch sees {count} CUDA device(s); use --device cpu or auto"
                    )));
                }
                Device::Cuda(n)
            }
        };
        let kind = match (dtype, device) {
            (DTypeChoice::F32, _) => Kind::Float,
            (DTypeChoice::Bf16, Device::Cpu) if !cpu_has_bf16() => return Err(ModelError::Device(
                "--dtype bf16 on the CPU needs avx512_bf16 (or AMX), which this CPU lacks; use f32"
                    .into(),
            )),
            (DTypeChoice::Bf16, _) => Kind::BFloat16,
            (DTypeChoice::F16, Device::Cpu) => {
                return Err(ModelError::Device(
                    "--dtype f16 needs CUDA; on the CPU use bf16 (with avx512_bf16) or f32".into(),
                ))
            }
            (DTypeChoice::F16, _) => Kind::Half,
        };
        Ok(Self { device, kind })
    }

    pub fn cpu() -> Self {
        Self {
            device: Device::Cpu,
            kind: Kind::Float,
        }
    }

    /// "CPU" or the CUDA device's name as the status bar shows it.
    pub fn describe(&self) -> String {
        match self.device {
            Device::Cpu => format!("cpu ({} threads)", tch::get_num_threads()),
            Device::Cuda(n) => format!("cuda:{n}"),
            other => format!("{other:?}"),
        }
    }
}

/// Whether the CPU has native bf16 dot products, without which bf16 is slower than fp32.
pub fn cpu_has_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512bf16") {
            return true;
        }
    }
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|info| {
            info.lines().filter(|l| l.starts_with("flags")).any(|l| {
                l.split_whitespace()
                    .any(|f| f == "avx512_bf16" || f == "amx_bf16")
            })
        })
        .unwrap_or(false)
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
        assert!("int8".parse::<DTypeChoice>().unwrap_err().contains("int8"));
    }

    #[test]
    fn half_precision_on_the_cpu_is_refused_with_a_reason() {
        let err = Runtime::resolve(DeviceChoice::Cpu, DTypeChoice::F16, None).unwrap_err();
        assert!(err.to_string().contains("f16 needs CUDA"), "{err}");
    }
}
