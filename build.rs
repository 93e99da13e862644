//! Bakes libtorch's directory into the binaries' rpath so that `target/release/bigyo` runs
//! without LD_LIBRARY_PATH, and links libtorch_cuda so that CUDA is found when a GPU exists.
use std::path::PathBuf;

fn main() {
    bake("mecab-ko-dic", "BIGYO_KO_DIC_DIR");
    bake("e5", "BIGYO_OFFLINE_MODEL_DIR");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    let Ok(libtorch) = std::env::var("LIBTORCH") else {
        return;
    };
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
