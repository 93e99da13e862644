//! Bakes libtorch's directory into the binaries' rpath so that `target/release/bigyo` runs
//! without LD_LIBRARY_PATH, and links libtorch_cuda so that CUDA is found when a GPU exists.
use std::path::PathBuf;

fn main() {
    bake_ko_dic();
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

/// Bakes the folder `.bigyo/mecab-ko-dic` links to (the per-user cache `make setup`
/// installs mecab-ko-dic into) into the binary, so that bigyo finds the dictionary without an
/// environment variable.
fn bake_ko_dic() {
    let Ok(root) = std::env::var("CARGO_MANIFEST_DIR") else {
        return;
    };
    let link = PathBuf::from(root).join(".bigyo/mecab-ko-dic");
    println!("cargo:rerun-if-changed={}", link.display());
    if let Ok(dir) = link.canonicalize() {
        println!("cargo:rustc-env=BIGYO_KO_DIC_DIR={}", dir.display());
    }
}
