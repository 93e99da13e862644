//! What the CPU is, and which kernels run the dense layers fastest on it.
//!
//! Three exact fp32 paths exist for the encoder's dense layers: libtorch's `linear` (MKL),
//! oneDNN with the weights packed once at load ([`super::packed`]), and the `gemm` crate on
//! one core per stream ([`super::cpu_gemm`]). Which one wins depends
//! on the CPU: MKL takes generic kernels on AMD (the `gemm` crate was 1.00–1.10x MKL on an
//! EPYC), while on Intel CPUs with AVX-512 MKL runs AVX-512 kernels that the `gemm` crate only
//! has on nightly Rust (built on stable it runs AVX2/FMA: about half MKL's speed there).
//! Known cases are decided from the CPU's vendor and flags; anything else is measured once on
//! the model's own shapes and the answer cached per CPU model, libtorch version and shape
//! under bigyo's cache directory. bf16 runs on oneDNN (AMX or avx512_bf16 where the CPU has
//! them), packed where this build has the shim; the `gemm` crate is fp32 only.
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Instant;

use tch::{Device, Kind, Tensor};

/// The ISA extensions that decide bigyo's kernels and dtype, as `/proc/cpuinfo` names them.
pub const FLAGS_THAT_MATTER: [&str; 7] = [
    "avx2",
    "fma",
    "avx512f",
    "avx512_bf16",
    "amx_bf16",
    "amx_int8",
    "neon",
];

/// The CPU bigyo runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuInfo {
    /// `model name` from /proc/cpuinfo (what `lscpu` shows as Model name).
    pub model_name: String,
    /// `GenuineIntel`, `AuthenticAMD`, or empty when unknown.
    pub vendor: String,
    pub arch: &'static str,
    /// The flags of [`FLAGS_THAT_MATTER`] this CPU has.
    pub flags: Vec<&'static str>,
    /// Logical CPUs the process may use.
    pub cores: usize,
}

impl CpuInfo {
    /// Reads /proc/cpuinfo (Linux) and the compiler's runtime feature detection.
    pub fn detect() -> Self {
        Self::from_cpuinfo(
            &std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default(),
            std::env::consts::ARCH,
        )
    }

    /// Parses a /proc/cpuinfo text; runtime detection adds what the text lacks.
    pub fn from_cpuinfo(text: &str, arch: &'static str) -> Self {
        let field = |name: &str| {
            text.lines()
                .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        // x86 lists `flags`, aarch64 `Features` (where `asimd` is NEON).
        let listed: Vec<String> = [field("flags"), field("Features")]
            .join(" ")
            .split_whitespace()
            .map(|f| {
                if f == "asimd" {
                    "neon".to_owned()
                } else {
                    f.to_owned()
                }
            })
            .collect();
        let mut flags: Vec<&'static str> = FLAGS_THAT_MATTER
            .iter()
            .copied()
            .filter(|f| listed.iter().any(|l| l == f) || detected(f, arch))
            .collect();
        flags.dedup();
        let mut model_name = field("model name");
        if model_name.is_empty() {
            // aarch64 kernels print no model name; the implementer/part ids are what there is.
            let (imp, part) = (field("CPU implementer"), field("CPU part"));
            if !imp.is_empty() {
                model_name = format!("implementer {imp} part {part}");
            }
        }
        if model_name.is_empty() {
            model_name = "unknown".to_owned();
        }
        Self {
            model_name,
            vendor: field("vendor_id"),
            arch,
            flags,
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        }
    }

    pub fn has(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// Native bf16 dot products (avx512_bf16 or AMX), without which bf16 is slower than fp32.
    pub fn has_bf16(&self) -> bool {
        self.has("avx512_bf16") || self.has("amx_bf16")
    }
}

/// Cores bigyo's own encoders hold right now (the streams of a passage or rerank batch run),
/// counted by [`Busy`] guards.
static BUSY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts `n` cores as held by this process's encoder work until dropped.
pub(crate) struct Busy(usize);

impl Busy {
    pub(crate) fn hold(n: usize) -> Self {
        BUSY.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        Self(n)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        BUSY.fetch_sub(self.0, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Cores nobody is running on at this moment: the CPUs this process may use, less the threads
/// of other processes that are runnable now (`procs_running` in /proc/stat counts every
/// runnable thread of the machine, less this process's own running threads read from
/// /proc/self/task: among those are OpenMP workers still spinning after the last product,
/// which hold no core anyone waits for), less the cores bigyo's own encoder streams hold
/// ([`Busy`]: a rerank running beside a query). At least 1; where /proc cannot be read, the
/// cores less bigyo's own streams. A snapshot, not an average: a busy core shows at once, and
/// a core freed shows at once.
///
/// A thread that wakes for a moment (a pipe's reader, a kernel worker) must not cost a query
/// its second core, so a count above zero is read again, up to three times 100 µs apart, and
/// the smallest count stands: a process that really holds a core is runnable every time.
pub fn free_cores() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let others = || {
        std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|stat| procs_running(&stat))
            // Only the caller runs: no need to look at this process's threads.
            .map(|all| match all {
                0 | 1 => 0,
                _ => all.saturating_sub(own_running_threads().max(1)),
            })
    };
    let mut fewest: Option<usize> = None;
    for attempt in 0..3 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
        let Some(now) = others() else {
            fewest = Some(0);
            break;
        };
        let now = fewest.map_or(now, |f| f.min(now));
        fewest = Some(now);
        if now == 0 {
            break;
        }
    }
    let ours = BUSY.load(std::sync::atomic::Ordering::Relaxed);
    cores
        .saturating_sub(fewest.unwrap_or(0))
        .saturating_sub(ours)
        .max(1)
}

/// The `procs_running` count of a /proc/stat text.
pub fn procs_running(stat: &str) -> Option<usize> {
    stat.lines()
        .find_map(|l| l.strip_prefix("procs_running "))
        .and_then(|n| n.trim().parse().ok())
}

/// This process's threads in state R (running or runnable), the caller's included.
fn own_running_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 1;
    };
    tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
        .filter(|stat| thread_state(stat) == Some('R'))
        .count()
}

/// The state letter of a /proc/<pid>/task/<tid>/stat line: the first field after the command
/// name, which is in parentheses and may itself hold spaces and parentheses.
pub fn thread_state(stat: &str) -> Option<char> {
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
}

/// Runtime detection for the flags the compiler can check on this target.
fn detected(flag: &str, arch: &str) -> bool {
    if arch != std::env::consts::ARCH {
        return false; // parsing another machine's cpuinfo (tests)
    }
    #[cfg(target_arch = "x86_64")]
    {
        match flag {
            "avx2" => return std::arch::is_x86_feature_detected!("avx2"),
            "fma" => return std::arch::is_x86_feature_detected!("fma"),
            "avx512f" => return std::arch::is_x86_feature_detected!("avx512f"),
            _ => {}
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if flag == "neon" {
            return std::arch::is_aarch64_feature_detected!("neon");
        }
    }
    let _ = flag;
    false
}

/// `--cpu-kernels auto|libtorch|onednn|gemm|calibrate`: who computes the dense layers on the
/// CPU (`gemm` applies to fp32 only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KernelChoice {
    /// Decided from the CPU; measured once (and cached) where the CPU is not a known case.
    #[default]
    Auto,
    /// libtorch's `linear`, the weights as loaded.
    Libtorch,
    /// oneDNN with packed weights and fused activations.
    OneDnn,
    Gemm,
    /// Measure on the model's shapes even for a known CPU (the answer is cached).
    Calibrate,
}

impl FromStr for KernelChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "libtorch" | "torch" | "mkl" => Ok(Self::Libtorch),
            "onednn" | "packed" => Ok(Self::OneDnn),
            "gemm" => Ok(Self::Gemm),
            "calibrate" => Ok(Self::Calibrate),
            _ => Err(format!(
                "unknown CPU kernel choice {s:?} (expected auto, libtorch, onednn, gemm or calibrate)"
            )),
        }
    }
}

impl fmt::Display for KernelChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Libtorch => "libtorch",
            Self::OneDnn => "onednn",
            Self::Gemm => "gemm",
            Self::Calibrate => "calibrate",
        })
    }
}

/// The kernels that compute a model's dense layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DensePath {
    /// libtorch's `linear`: MKL for fp32, oneDNN (AMX / avx512_bf16) for bf16.
    Libtorch,
    /// oneDNN with the weights reordered once into its blocked layout and GELU fused into the
    /// FFN's first product (src/model/packed.rs).
    OneDnnPacked,
    /// The `gemm` crate, fp32, one core per stream (src/model/cpu_gemm.rs).
    GemmCrate,
}

impl fmt::Display for DensePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Libtorch => "libtorch",
            Self::OneDnnPacked => "oneDNN, packed weights",
            Self::GemmCrate => "gemm crate",
        })
    }
}

/// The chosen path and why, as logged and printed by `bigyo doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelPlan {
    pub path: DensePath,
    pub reason: String,
}

/// The dense-layer shapes of one model: `(in, out)` per layer kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shapes {
    pub layers: Vec<(i64, i64)>,
}

impl Shapes {
    /// A BERT-family layer: stacked Q/K/V, attention output, intermediate, output.
    pub fn bert(hidden: i64, intermediate: i64) -> Self {
        Self {
            layers: vec![
                (hidden, 3 * hidden),
                (hidden, hidden),
                (hidden, intermediate),
                (intermediate, hidden),
            ],
        }
    }

    fn key(&self) -> String {
        self.layers
            .iter()
            .map(|(i, o)| format!("{i}x{o}"))
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// The rule for CPUs whose answer is known; `None` where it has to be measured.
pub fn known_plan(cpu: &CpuInfo) -> Option<KernelPlan> {
    if cpu.arch != "x86_64" {
        return None;
    }
    if cpu.vendor == "GenuineIntel" && cpu.has("avx512f") {
        if super::packed::available() {
            return Some(KernelPlan {
                path: DensePath::OneDnnPacked,
                reason: "Intel with AVX-512: oneDNN's AVX-512 kernels on weights packed once \
                         (one MiniLM layer 1.16-1.19x MKL's linear on a Xeon, GELU fused); the \
                         gemm crate built on stable Rust has AVX2/FMA only"
                    .into(),
            });
        }
        return Some(KernelPlan {
            path: DensePath::Libtorch,
            reason: "Intel with AVX-512: MKL runs AVX-512 kernels; the gemm crate built on \
                     stable Rust has AVX2/FMA only (about half MKL's GFLOP/s here)"
                .into(),
        });
    }
    if cpu.vendor == "AuthenticAMD" && cpu.has("fma") {
        return Some(KernelPlan {
            path: DensePath::GemmCrate,
            reason: "AMD: MKL takes generic kernels; the gemm crate measured 1.00-1.10x MKL per \
                     product on EPYC (BENCHMARKS.md)"
                .into(),
        });
    }
    None
}

/// Picks the fp32 dense-layer path for a model with `shapes` under `choice`. Other dtypes and
/// CUDA always take libtorch. Calibrations are cached in `cache` (bigyo's cache directory).
pub fn plan(
    cpu: &CpuInfo,
    choice: KernelChoice,
    device: Device,
    kind: Kind,
    shapes: &Shapes,
    cache: Option<PathBuf>,
) -> KernelPlan {
    if device != Device::Cpu {
        return KernelPlan {
            path: DensePath::Libtorch,
            reason: format!("{device:?}: cuBLAS"),
        };
    }
    if kind != Kind::Float {
        let engine = if cpu.has("amx_bf16") {
            " with AMX"
        } else if cpu.has("avx512_bf16") {
            " with avx512_bf16"
        } else {
            ""
        };
        let packs = kind == Kind::BFloat16
            && !matches!(choice, KernelChoice::Libtorch)
            && super::packed::available();
        return if packs {
            KernelPlan {
                path: DensePath::OneDnnPacked,
                reason: format!(
                    "{kind:?}: oneDNN{engine}, weights packed once at load instead of reordered \
                     on every product, GELU fused"
                ),
            }
        } else {
            KernelPlan {
                path: DensePath::Libtorch,
                reason: format!(
                    "{kind:?}: oneDNN{engine}{}; the gemm crate is fp32 only",
                    if choice == KernelChoice::Libtorch {
                        " (--cpu-kernels libtorch)"
                    } else {
                        ""
                    }
                ),
            }
        };
    }
    if !cpu.has("fma") && cpu.arch == "x86_64" {
        return KernelPlan {
            path: DensePath::Libtorch,
            reason: "no FMA: the gemm crate would run scalar kernels".into(),
        };
    }
    match choice {
        KernelChoice::Libtorch => KernelPlan {
            path: DensePath::Libtorch,
            reason: "--cpu-kernels libtorch".into(),
        },
        KernelChoice::Gemm => KernelPlan {
            path: DensePath::GemmCrate,
            reason: "--cpu-kernels gemm".into(),
        },
        KernelChoice::OneDnn if super::packed::available() => KernelPlan {
            path: DensePath::OneDnnPacked,
            reason: "--cpu-kernels onednn".into(),
        },
        KernelChoice::OneDnn => KernelPlan {
            path: DensePath::Libtorch,
            reason: "--cpu-kernels onednn, but this build has no oneDNN shim".into(),
        },
        KernelChoice::Auto => match known_plan(cpu) {
            Some(plan) => plan,
            None => calibrated(cpu, shapes, cache, false),
        },
        KernelChoice::Calibrate => calibrated(cpu, shapes, cache, true),
    }
}

/// The calibration file for this CPU, libtorch and shape set.
pub fn calibration_file(cache: &std::path::Path, cpu: &CpuInfo, shapes: &Shapes) -> PathBuf {
    use sha2::{Digest, Sha256};
    let key = format!(
        "{}|{}|torch-{}|{}",
        cpu.model_name,
        cpu.arch,
        torch_version(),
        shapes.key()
    );
    let hash = Sha256::digest(key.as_bytes());
    let hex: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    cache.join("cpu-calibration").join(format!("{hex}.json"))
}

/// The libtorch version bigyo was built against (the one `tch` requires).
pub fn torch_version() -> &'static str {
    "2.13.0"
}

fn calibrated(cpu: &CpuInfo, shapes: &Shapes, cache: Option<PathBuf>, forced: bool) -> KernelPlan {
    let file = cache.map(|dir| calibration_file(&dir, cpu, shapes));
    if let Some(file) = &file {
        if let Some(plan) = read_calibration(file) {
            return plan;
        }
    }
    let measured = match measure(shapes) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!("calibrating the dense layers failed ({e}); using libtorch");
            return KernelPlan {
                path: DensePath::Libtorch,
                reason: format!("calibration failed ({e})"),
            };
        }
    };
    let candidates = [
        (DensePath::Libtorch, Some(measured.libtorch)),
        (DensePath::GemmCrate, Some(measured.gemm)),
        (DensePath::OneDnnPacked, measured.packed),
    ];
    let path = candidates
        .iter()
        .filter_map(|&(path, s)| s.map(|s| (path, s)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(DensePath::Libtorch, |(path, _)| path);
    let plan =
        KernelPlan {
            path,
            reason: format!(
            "{}measured on this model's shapes, one core: libtorch {:.1} ms, gemm crate {:.1} ms, \
             oneDNN packed {}",
            if forced { "--cpu-kernels calibrate: " } else { "" },
            measured.libtorch * 1e3,
            measured.gemm * 1e3,
            measured
                .packed
                .map_or("unavailable".to_owned(), |s| format!("{:.1} ms", s * 1e3)),
        ),
        };
    tracing::info!(cpu = %cpu.model_name, %plan.path, reason = %plan.reason, "dense-layer calibration");
    if let Some(file) = &file {
        write_calibration(file, &plan);
    }
    plan
}

fn read_calibration(file: &std::path::Path) -> Option<KernelPlan> {
    let text = std::fs::read_to_string(file).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let path = match json["path"].as_str()? {
        "libtorch" => DensePath::Libtorch,
        "gemm" => DensePath::GemmCrate,
        "onednn" if super::packed::available() => DensePath::OneDnnPacked,
        _ => return None,
    };
    Some(KernelPlan {
        path,
        reason: format!(
            "{} (cached in {})",
            json["reason"].as_str().unwrap_or("calibrated"),
            file.display()
        ),
    })
}

fn write_calibration(file: &std::path::Path, plan: &KernelPlan) {
    let json = serde_json::json!({
        "path": match plan.path {
            DensePath::Libtorch => "libtorch",
            DensePath::OneDnnPacked => "onednn",
            DensePath::GemmCrate => "gemm",
        },
        "reason": plan.reason,
    });
    let write = || -> std::io::Result<()> {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Temporary name + rename: a concurrent reader never sees half a file.
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, json.to_string())?;
        std::fs::rename(&tmp, file)
    };
    if let Err(e) = write() {
        tracing::warn!("cannot cache the calibration in {}: {e}", file.display());
    }
}

/// Seconds for one pass over a model's dense layers on each path (see [`measure`]).
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub libtorch: f64,
    pub gemm: f64,
    /// `None` where this build has no oneDNN shim.
    pub packed: Option<f64>,
}

/// Seconds for one pass over `shapes` at 512 rows (a typical batch of the token budget), best
/// of three, on one thread, on each path.
pub fn measure(shapes: &Shapes) -> super::Result<Measured> {
    let threads = tch::get_num_threads();
    tch::set_num_threads(1);
    let _guard = tch::no_grad_guard();
    let run = || -> super::Result<Measured> {
        let opts = (Kind::Float, Device::Cpu);
        let mut layers = Vec::new();
        for &(input, output) in &shapes.layers {
            let w = Tensor::f_randn([output, input], opts)?;
            let b = Tensor::f_randn([output], opts)?;
            let packed = if super::packed::available() {
                Some(super::packed::PackedLinear::new(&w, &b)?)
            } else {
                None
            };
            layers.push((Tensor::f_randn([512, input], opts)?, w, b, packed));
        }
        let mut best = Measured {
            libtorch: f64::INFINITY,
            gemm: f64::INFINITY,
            packed: super::packed::available().then_some(f64::INFINITY),
        };
        for round in 0..4 {
            let started = Instant::now();
            for (x, w, b, _) in &layers {
                let _ = x.f_linear(w, Some(b))?;
            }
            let torch = started.elapsed().as_secs_f64();
            let started = Instant::now();
            for (x, w, b, _) in &layers {
                let _ = super::cpu_gemm::linear(x, w, b)?;
            }
            let gemm = started.elapsed().as_secs_f64();
            let started = Instant::now();
            for (x, _, _, p) in &layers {
                if let Some(p) = p {
                    let _ = p.forward(x, super::packed::PostOp::None)?;
                }
            }
            let packed = started.elapsed().as_secs_f64();
            if round > 0 {
                // The first round warms caches and thread pools.
                best.libtorch = best.libtorch.min(torch);
                best.gemm = best.gemm.min(gemm);
                best.packed = best.packed.map(|s| s.min(packed));
            }
        }
        Ok(best)
    };
    let result = run();
    tch::set_num_threads(threads);
    result
}

/// The lines `bigyo doctor` prints about the CPU.
pub fn describe(cpu: &CpuInfo) -> String {
    let missing: Vec<&str> = FLAGS_THAT_MATTER
        .iter()
        .copied()
        .filter(|f| !cpu.has(f))
        .filter(|f| (*f == "neon") == (cpu.arch == "aarch64"))
        .collect();
    format!(
        "cpu:            {} ({}, {}, {} logical CPUs)\nisa:            {}{}",
        cpu.model_name,
        if cpu.vendor.is_empty() {
            "vendor unknown"
        } else {
            &cpu.vendor
        },
        cpu.arch,
        cpu.cores,
        if cpu.flags.is_empty() {
            "none of the ones that matter".to_owned()
        } else {
            cpu.flags.join(" ")
        },
        if missing.is_empty() {
            String::new()
        } else {
            format!(" (lacks {})", missing.join(" "))
        }
    )
}

/// Why bigyo computes what it does on `cpu`, one line per ISA feature that decides it (what
/// `bigyo doctor` prints under "why"): the fp32 kernels, the dtype `auto` takes, the bf16
/// attention padding, and int8.
pub fn explain(cpu: &CpuInfo) -> Vec<String> {
    let yes_no = |flag: &str| if cpu.has(flag) { "yes" } else { "no" };
    let mut lines = Vec::new();
    if cpu.arch == "x86_64" {
        lines.push(format!(
            "avx512f {}: {}",
            yes_no("avx512f"),
            match (cpu.has("avx512f"), cpu.vendor.as_str()) {
                (true, "GenuineIntel") if super::packed::available() => {
                    "fp32 products on oneDNN's AVX-512 kernels, weights packed once at load"
                }
                (true, "GenuineIntel") => "fp32 products on MKL's AVX-512 kernels (libtorch)",
                (true, _) =>
                    "MKL may not take its AVX-512 kernels on this vendor: fp32 path measured",
                (false, _) if cpu.has("fma") => {
                    "fp32 products on AVX2/FMA kernels (libtorch or the gemm crate, see fp32 rule)"
                }
                (false, _) => "no FMA: fp32 products on libtorch's generic kernels",
            }
        ));
    } else if cpu.arch == "aarch64" {
        lines.push(format!(
            "neon {}: fp32 path measured once per model shape (no known rule)",
            yes_no("neon")
        ));
    }
    lines.push(format!(
        "avx512_bf16 {}, amx_bf16 {}: {}",
        yes_no("avx512_bf16"),
        yes_no("amx_bf16"),
        if cpu.has("amx_bf16") {
            "bf16 products run on AMX tiles (oneDNN): `--dtype auto` takes mixed bf16 \
             (bf16 products, fp32 residual stream and layer norms; within the golden bounds)"
        } else if cpu.has("avx512_bf16") {
            "bf16 dot products in AVX-512 (oneDNN): `--dtype auto` takes mixed bf16"
        } else {
            "no native bf16: emulated bf16 is slower than fp32, so `--dtype auto` takes f32"
        }
    ));
    if cpu.has_bf16() && super::packed::available() {
        lines.push(
            "bf16 products: weights reordered into oneDNN's blocked layout once at load (libtorch's \
             linear reorders them on every product: 1.3x the time of a 20-token query's products) \
             and GELU fused into the FFN's first product"
                .into(),
        );
    }
    if cpu.has_bf16() {
        lines.push(
            "bf16 attention: batches of 128+ tokens are padded to a multiple of 16, where \
             SDPA's bf16 kernel takes its fast blocked path"
                .into(),
        );
    }
    lines.push(format!(
        "amx_int8 {}: {}",
        yes_no("amx_int8"),
        if cpu.has("amx_int8") {
            "int8 products run on AMX tiles with `--dtype int8` (the int8 line says why \
             `auto` does not pick it)"
        } else {
            "no AMX int8"
        }
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const XEON_AMX: &str = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu avx2 fma avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n";
    const EPYC: &str = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu avx2 fma\n";
    const GRAVITON: &str = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes bf16\nCPU implementer\t: 0x41\nCPU part\t: 0xd4f\n";

    #[test]
    fn cpuinfo_flags_and_names_are_read_for_each_vendor() {
        let xeon = CpuInfo::from_cpuinfo(XEON_AMX, "test");
        assert_eq!(xeon.model_name, "Intel(R) Xeon(R) Processor");
        assert_eq!(xeon.vendor, "GenuineIntel");
        assert!(xeon.has("amx_bf16") && xeon.has("avx512_bf16") && xeon.has_bf16());
        assert!(!xeon.has("neon"));
        let epyc = CpuInfo::from_cpuinfo(EPYC, "test");
        assert!(!epyc.has_bf16() && epyc.has("fma") && !epyc.has("avx512f"));
        let arm = CpuInfo::from_cpuinfo(GRAVITON, "test");
        assert!(arm.has("neon"));
        assert_eq!(arm.model_name, "implementer 0x41 part 0xd4f");
    }

    #[test]
    fn doctor_explains_each_deciding_feature() {
        let mut xeon = CpuInfo::from_cpuinfo(XEON_AMX, "test");
        xeon.arch = "x86_64";
        let why = explain(&xeon).join("\n");
        assert!(
            why.contains("avx512f yes: fp32 products on MKL's AVX-512")
                || why.contains("avx512f yes: fp32 products on oneDNN's AVX-512"),
            "{why}"
        );
        assert!(
            why.contains("amx_bf16 yes: bf16 products run on AMX"),
            "{why}"
        );
        assert!(why.contains("multiple of 16"), "{why}");
        let mut epyc = CpuInfo::from_cpuinfo(EPYC, "test");
        epyc.arch = "x86_64";
        let why = explain(&epyc).join("\n");
        assert!(
            why.contains("avx512f no: fp32 products on AVX2/FMA"),
            "{why}"
        );
        assert!(
            why.contains("takes f32") && !why.contains("multiple of 16"),
            "{why}"
        );
        assert!(why.contains("amx_int8 no"), "{why}");
    }

    #[test]
    fn busy_threads_are_read_from_proc() {
        let stat = "cpu  1 2 3 4\nctxt 99\nprocs_running 3\nprocs_blocked 0\n";
        assert_eq!(procs_running(stat), Some(3));
        assert_eq!(procs_running("cpu 1 2 3\n"), None);
        assert_eq!(thread_state("4242 (tokio (worker) 1) R 1 2 3"), Some('R'));
        assert_eq!(thread_state("17 (bigyo) S 1 17 17"), Some('S'));
        assert_eq!(thread_state("garbage"), None);
        // This process runs at least this thread; whatever the machine does, the answer is a
        // usable thread count.
        assert!(own_running_threads() >= 1);
        let cores = std::thread::available_parallelism().unwrap().get();
        let free = free_cores();
        assert!(free >= 1 && free <= cores);
        // bigyo's own streams holding every core leave a query one thread.
        let held = Busy::hold(cores);
        assert_eq!(free_cores(), 1);
        drop(held);
    }

    #[test]
    fn known_cpus_take_their_rule_and_others_are_measured() {
        let mut xeon = CpuInfo::from_cpuinfo(XEON_AMX, "test");
        xeon.arch = "x86_64";
        let intel = if crate::model::packed::available() {
            DensePath::OneDnnPacked
        } else {
            DensePath::Libtorch
        };
        assert_eq!(known_plan(&xeon).unwrap().path, intel);
        let mut epyc = CpuInfo::from_cpuinfo(EPYC, "test");
        epyc.arch = "x86_64";
        assert_eq!(known_plan(&epyc).unwrap().path, DensePath::GemmCrate);
        let mut arm = CpuInfo::from_cpuinfo(GRAVITON, "test");
        arm.arch = "aarch64";
        assert!(known_plan(&arm).is_none());
        // bf16 never takes the fp32-only gemm crate, whatever the CPU.
        let shapes = Shapes::bert(8, 16);
        let p = plan(
            &epyc,
            KernelChoice::Gemm,
            Device::Cpu,
            Kind::BFloat16,
            &shapes,
            None,
        );
        assert_ne!(p.path, DensePath::GemmCrate);
    }

    #[test]
    fn a_calibration_is_measured_once_and_then_read_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cpu = CpuInfo::detect();
        let shapes = Shapes::bert(32, 64);
        let first = plan(
            &cpu,
            KernelChoice::Calibrate,
            Device::Cpu,
            Kind::Float,
            &shapes,
            Some(dir.path().to_path_buf()),
        );
        assert!(first.reason.contains("measured"), "{}", first.reason);
        let file = calibration_file(dir.path(), &cpu, &shapes);
        assert!(file.is_file());
        let second = plan(
            &cpu,
            KernelChoice::Calibrate,
            Device::Cpu,
            Kind::Float,
            &shapes,
            Some(dir.path().to_path_buf()),
        );
        assert_eq!(second.path, first.path);
        assert!(second.reason.contains("cached"), "{}", second.reason);
        // Another shape set is another measurement.
        assert_ne!(
            file,
            calibration_file(dir.path(), &cpu, &Shapes::bert(32, 128))
        );
    }
}
