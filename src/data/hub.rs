//! A dataset split from the Hugging Face hub: the split's parquet files are found from the
//! repository listing (`{config}/{split}-*.parquet`, or `{config}/{split}/*.parquet` as in the
//! hub's `refs/convert/parquet` branch), downloaded through hf-hub into the standard hub
//! cache, and read like local files. Offline, only the cache is used.
use std::path::{Path, PathBuf};

use hf_hub::{Cache, Repo, RepoType};

use super::{Corpus, DataError, LoadOptions, Result};
use crate::hubio::HubRepo;

/// `--dataset ID --config NAME --split NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSpec {
    pub id: String,
    pub config: String,
    pub split: String,
    pub revision: Option<String>,
    pub offline: bool,
    pub progress: bool,
}

impl DatasetSpec {
    fn repo(&self) -> Repo {
        match &self.revision {
            Some(rev) => Repo::with_revision(self.id.clone(), RepoType::Dataset, rev.clone()),
            None => Repo::new(self.id.clone(), RepoType::Dataset),
        }
    }

    /// `klue/klue/mrc/validation`.
    pub fn describe(&self) -> String {
        format!("{}/{}/{}", self.id, self.config, self.split)
    }
}

/// The split's files among a repository's file names, in name order.
pub fn split_files<'a>(
    listing: impl IntoIterator<Item = &'a str>,
    config: &str,
    split: &str,
) -> Vec<String> {
    let flat = format!("{config}/{split}-");
    let nested = format!("{config}/{split}/");
    let mut files: Vec<String> = listing
        .into_iter()
        .filter(|f| f.ends_with(".parquet"))
        .filter(|f| {
            f.strip_prefix(&flat).is_some()
                || f.strip_prefix(&nested)
                    .is_some_and(|rest| !rest.contains('/'))
        })
        .map(str::to_owned)
        .collect();
    files.sort();
    files
}

/// Downloads (or finds in the cache) the split's parquet files and reads them.
pub fn load(spec: &DatasetSpec, opts: &LoadOptions) -> Result<Corpus> {
    let files = if spec.offline {
        cached_files(spec)?
    } else {
        download(spec)?
    };
    Corpus::from_parquet_files(&files, &spec.describe(), opts)
}

fn download(spec: &DatasetSpec) -> Result<Vec<PathBuf>> {
    let repo = HubRepo::new(spec.repo(), spec.progress)
        .map_err(|e| DataError::Hub(format!("{e} (for dataset {})", spec.id)))?;
    let info = match repo.info() {
        Ok(info) => info,
        Err(e) => {
            // Unreachable hub: a cached copy still serves.
            if let Ok(files) = cached_files(spec) {
                tracing::warn!(
                    "listing dataset {} failed ({e}); using the cached copy",
                    spec.id
                );
                return Ok(files);
            }
            return Err(DataError::Hub(format!(
                "cannot list dataset {} on the hub ({e}); check the id, or use --offline with a \
                 cached copy, or --data PATH|sample",
                spec.id
            )));
        }
    };
    let names = split_files(
        info.siblings.iter().map(|s| s.rfilename.as_str()),
        &spec.config,
        &spec.split,
    );
    if names.is_empty() {
        return Err(DataError::Hub(format!(
            "dataset {} has no parquet files for config `{}` split `{}` (expected {}/{}-*.parquet)",
            spec.id, spec.config, spec.split, spec.config, spec.split
        )));
    }
    names
        .iter()
        .map(|name| {
            repo.get(name, &mut |_, _| {})
                .map_err(|e| DataError::Hub(format!("downloading {name} from {}: {e}", spec.id)))
        })
        .collect()
}

/// The split's files in the local hub cache, for `--offline`.
fn cached_files(spec: &DatasetSpec) -> Result<Vec<PathBuf>> {
    let cache = Cache::from_env();
    let repo = spec.repo();
    let repo_dir = cache.path().join(repo.folder_name());
    let missing = || {
        DataError::Hub(format!(
            "--offline: dataset {} ({}) is not in the hub cache {}; run once online or use --data",
            spec.id,
            spec.describe(),
            cache.path().display()
        ))
    };
    let revision = repo.revision().to_owned();
    let commit = std::fs::read_to_string(repo_dir.join("refs").join(&revision))
        .map(|s| s.trim().to_owned())
        .unwrap_or(revision);
    let snapshot = repo_dir.join("snapshots").join(commit);
    let mut listing = Vec::new();
    collect(&snapshot, &snapshot, &mut listing);
    let names = split_files(
        listing.iter().map(String::as_str),
        &spec.config,
        &spec.split,
    );
    if names.is_empty() {
        return Err(missing());
    }
    Ok(names.iter().map(|n| snapshot.join(n)).collect())
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_split_files_in_both_layouts() {
        let listing = [
            "README.md",
            "mrc/train-00000-of-00002.parquet",
            "mrc/train-00001-of-00002.parquet",
            "mrc/validation-00000-of-00001.parquet",
            "ner/train-00000-of-00001.parquet",
            "mrc/train/0000.parquet",
            "mrc/train/extra/0001.parquet",
        ];
        assert_eq!(
            split_files(listing, "mrc", "train"),
            vec![
                "mrc/train-00000-of-00002.parquet",
                "mrc/train-00001-of-00002.parquet",
                "mrc/train/0000.parquet"
            ]
        );
        assert_eq!(
            split_files(listing, "mrc", "validation"),
            vec!["mrc/validation-00000-of-00001.parquet"]
        );
        assert!(split_files(listing, "mrc", "test").is_empty());
    }
}
