//! Bakes libtorch's directory into the binaries' rpath so that `target/release/bigyo` runs
//! without LD_LIBRARY_PATH, and links libtorch_cuda so that CUDA is found when a GPU exists.
use std::path::PathBuf;

fn main() {
    bake("mecab-ko-dic", "BIGYO_KO_DIC_DIR");
    bake("e5", "BIGYO_OFFLINE_MODEL_DIR");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-check-cfg=cfg(bigyo_packed)");
    let Ok(libtorch) = std::env::var("LIBTORCH") else {
        return;
    };
    packed_shim(&PathBuf::from(&libtorch));
    // Resolve the .bigyo/torch link so the rpath names the shared install, not this clone.
    let lib = PathBuf::from(&libtorch).join("lib");
    let lib = lib.canonicalize().unwrap_or(lib);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        // Without --no-as-needed the linker drops libtorch_cuda (no symbol of it is referenced
        // directly) and tch::Cuda::is_available() then reports false even on a GPU machine.
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}

/// Compiles src/model/packed.cpp (oneDNN's prepacked linear layers, reached through libtorch's
/// dispatcher: see src/model/packed.rs) against libtorch's headers, and sets `bigyo_packed`
/// so the Rust side calls it. Without the headers bigyo builds without it and runs plain
/// `linear` everywhere.
fn packed_shim(libtorch: &std::path::Path) {
    let source = "src/model/packed.cpp";
    println!("cargo:rerun-if-changed={source}");
    let include = libtorch.join("include");
    if !include.join("ATen/core/dispatch/Dispatcher.h").exists() {
        println!(
            "cargo:warning=libtorch headers not found under {}: building without oneDNN's packed linear layers",
            include.display()
        );
        return;
    }
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    cc::Build::new()
        .cpp(true)
        .file(source)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", abi.as_str())
        .warnings(false)
        .extra_warnings(false)
        .compile("bigyo_packed");
    println!("cargo:rustc-cfg=bigyo_packed");
}

/// Bakes the folder `.bigyo/<link>` links to (the per-user cache `make setup` installs into:
/// mecab-ko-dic, the offline model) into the binary as `env`, so that bigyo finds it without
/// an environment variable.
fn bake(link: &str, env: &str) {
    let Ok(root) = std::env::var("CARGO_MANIFEST_DIR") else {
        return;
    };
    let link = PathBuf::from(root).join(".bigyo").join(link);
    println!("cargo:rerun-if-changed={}", link.display());
    if let Ok(dir) = link.canonicalize() {
        println!("cargo:rustc-env={env}={}", dir.display());
    }
}
