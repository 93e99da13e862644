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
