//! Reading one of the model's JSON files, with errors that name the file.
//!
//! Its own module because both `config` and `prompt` read JSON and `config` uses `prompt`'s
//! types: keeping the helper in either one would make the two import each other.
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::{ModelError, Result};

/// Parses `path` as JSON into `T`; a missing file or bad JSON is an error naming the file.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
        path: PathBuf::from(path),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ModelError::invalid(path, format!("invalid JSON: {e}")))
}
