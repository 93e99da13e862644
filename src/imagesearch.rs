//! Images as a corpus for CLIP: a folder's image files, their embeddings (cached like the
//! passages'), a text query's ranking, and the chapter's text x image table.
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use unicode_width::UnicodeWidthStr;

use crate::dense::{CacheMeta, CacheMiss, EmbeddingCache};
use crate::model::clip::{ClipModel, Pixels};
use crate::model::{Embeddings, ModelError, Progress};

/// File extensions taken as images when a folder is scanned.
const EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "gif", "bmp", "webp"];

/// Images embedded per batch.
const BATCH: usize = 16;

/// The image files of a folder (not its sub-folders), sorted by name.
pub fn scan(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// A folder's images that loaded, their CLIP embeddings (row i is `paths[i]`), and the files
/// that could not be read with the reason.
#[derive(Debug, Clone)]
pub struct ImageCorpus {
    pub paths: Vec<PathBuf>,
    pub embeddings: Embeddings,
    pub skipped: Vec<(PathBuf, String)>,
    /// Whether the embeddings came from the cache.
    pub from_cache: bool,
}

/// The cache entry of `files` under `model`: the files' names and bytes make the key, so an
/// edited or renamed image embeds again.
fn cache_meta(model: &ClipModel, files: &[PathBuf]) -> std::io::Result<CacheMeta> {
    let mut h = Sha256::new();
    for f in files {
        h.update(
            f.file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or_default(),
        );
        h.update([0]);
        h.update(std::fs::read(f)?);
        h.update([0]);
    }
    Ok(CacheMeta {
        model: model.image_identity(),
        corpus: crate::data::hex(&h.finalize()),
        rows: files.len(),
        dim: model.dim(),
    })
}

/// Embeds `files` with the CLIP model, in batches, skipping files that cannot be read (each
/// named in `skipped`). With a cache, a folder seen before loads without decoding; a row of
/// NaN in the cache marks a file that failed, whose reason is read again.
pub fn embed_files(
    model: &ClipModel,
    files: &[PathBuf],
    cache: Option<&EmbeddingCache>,
    progress: &mut dyn FnMut(Progress),
    warn: &mut dyn FnMut(String),
) -> Result<ImageCorpus, ModelError> {
    let meta = match cache {
        Some(_) => Some(cache_meta(model, files).map_err(|source| ModelError::Io {
            path: files.first().cloned().unwrap_or_default(),
            source,
        })?),
        None => None,
    };
    if let (Some(cache), Some(meta)) = (cache, &meta) {
        match cache.load(meta) {
            Ok(all) => return Ok(split_cached(model, files, all)),
            Err(CacheMiss::Absent) => {}
            Err(miss) => warn(miss.to_string()),
        }
    }
    let dim = model.dim();
    let mut all = vec![f32::NAN; files.len() * dim];
    let mut done = 0;
    for (b, chunk) in files.chunks(BATCH).enumerate() {
        let mut good: Vec<(usize, Pixels)> = Vec::new();
        for (k, f) in chunk.iter().enumerate() {
            // A bad file is left as NaN here and reported below.
            if let Ok(p) = model.load_pixels(f) {
                good.push((b * BATCH + k, p));
            }
        }
        let pixels: Vec<Pixels> = good.iter().map(|(_, p)| p.clone()).collect();
        let e = model.embed_pixels(&pixels)?;
        for (r, (i, _)) in good.iter().enumerate() {
            all[i * dim..(i + 1) * dim].copy_from_slice(e.row(r));
        }
        done += chunk.len();
        progress(Progress {
            done,
            total: files.len(),
        });
    }
    let all = Embeddings { dim, data: all };
    if let (Some(cache), Some(meta)) = (cache, &meta) {
        if let Err(e) = cache.store(meta, &all) {
            warn(format!("could not write the image embedding cache: {e}"));
        }
    }
    let mut corpus = split_cached(model, files, all);
    corpus.from_cache = false;
    Ok(corpus)
}

/// Splits one row per file into the files that embedded and those that did not (NaN rows),
/// reading each failed file again for its error.
fn split_cached(model: &ClipModel, files: &[PathBuf], all: Embeddings) -> ImageCorpus {
    let mut paths = Vec::new();
    let mut data = Vec::new();
    let mut skipped = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let row = all.row(i);
        if row.iter().any(|v| v.is_nan()) {
            let why = match model.load_pixels(f) {
                Err(e) => e.to_string(),
                Ok(_) => format!("{}: could not be embedded", f.display()),
            };
            skipped.push((f.clone(), why));
        } else {
            paths.push(f.clone());
            data.extend_from_slice(row);
        }
    }
    ImageCorpus {
        paths,
        embeddings: Embeddings { dim: all.dim, data },
        skipped,
        from_cache: true,
    }
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// The images ranked by cosine to `query`, best first: (row, cosine).
pub fn rank(query: &[f32], images: &Embeddings) -> Vec<(usize, f32)> {
    let mut hits: Vec<(usize, f32)> = images
        .rows()
        .enumerate()
        .map(|(i, row)| (i, cosine(query, row)))
        .collect();
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    hits
}

/// `softmax(scale * cosines)` over one image's captions: CLIPModel's `logits_per_image` row
/// turned into probabilities.
pub fn softmax(cosines: &[f32], scale: f64) -> Vec<f64> {
    let logits: Vec<f64> = cosines.iter().map(|&c| scale * f64::from(c)).collect();
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.iter().map(|e| e / total).collect()
}

/// One image per row, one caption per column: cosines `[image][text]`.
pub fn cosine_matrix(images: &Embeddings, texts: &Embeddings) -> Vec<Vec<f32>> {
    images
        .rows()
        .map(|img| texts.rows().map(|t| cosine(img, t)).collect())
        .collect()
}

fn pad(s: &str, width: usize) -> String {
    let w = UnicodeWidthStr::width(s);
    format!("{}{s}", " ".repeat(width.saturating_sub(w)))
}

fn truncate(s: &str, width: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if UnicodeWidthStr::width(out.as_str())
            + unicode_width::UnicodeWidthChar::width(c).unwrap_or(0)
            > width
        {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out
}

/// The chapter's table: cosine of every image with every caption, then the softmax over
/// captions of `logit_scale * cosine` (what `logits_per_image` becomes), aligned by display
/// width so Hangul captions line up.
pub fn table(images: &[String], captions: &[String], cosines: &[Vec<f32>], scale: f64) -> String {
    let heads: Vec<String> = captions.iter().map(|c| truncate(c, 24)).collect();
    let first = images
        .iter()
        .map(|s| UnicodeWidthStr::width(s.as_str()))
        .max()
        .unwrap_or(0)
        .max(6);
    let cols: Vec<usize> = heads
        .iter()
        .map(|h| UnicodeWidthStr::width(h.as_str()).max(8))
        .collect();
    let mut out = String::new();
    let header = |title: &str| {
        let mut line = format!(
            "{}{}",
            title,
            " ".repeat(first.saturating_sub(UnicodeWidthStr::width(title)))
        );
        for (h, &w) in heads.iter().zip(&cols) {
            line.push_str("  ");
            line.push_str(&pad(h, w));
        }
        line.push('\n');
        line
    };
    out.push_str(&format!(
        "cosine similarity (image x caption)\n{}",
        header("image")
    ));
    for (name, row) in images.iter().zip(cosines) {
        out.push_str(&format!(
            "{name}{}",
            " ".repeat(first - UnicodeWidthStr::width(name.as_str()))
        ));
        for (c, &w) in row.iter().zip(&cols) {
            out.push_str(&format!("  {}", pad(&format!("{c:.4}"), w)));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "\nsoftmax over captions of logits_per_image = {scale:.2} x cosine\n{}",
        header("image")
    ));
    for (name, row) in images.iter().zip(cosines) {
        out.push_str(&format!(
            "{name}{}",
            " ".repeat(first - UnicodeWidthStr::width(name.as_str()))
        ));
        for (p, &w) in softmax(row, scale).iter().zip(&cols) {
            out.push_str(&format!("  {}", pad(&format!("{p:.4}"), w)));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_of_scaled_cosines_sums_to_one_and_prefers_the_closer_caption() {
        let p = softmax(&[0.30, 0.25], 100.0);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // exp(30) / (exp(30) + exp(25)) = 1 / (1 + exp(-5)), with the cosines as the f32 they
        // are (0.30f32 - 0.25f32 is not 0.05 exactly: 5 would miss by ~1e-8).
        let gap = 100.0 * (f64::from(0.30f32) - f64::from(0.25f32));
        assert!((p[0] - 1.0 / (1.0 + (-gap).exp())).abs() < 1e-12);
    }

    #[test]
    fn ranking_is_by_cosine_then_row() {
        let images = Embeddings {
            dim: 2,
            data: vec![1.0, 0.0, 0.0, 1.0, 2.0, 0.1, 0.0, 3.0],
        };
        let order: Vec<usize> = rank(&[0.0, 1.0], &images).iter().map(|h| h.0).collect();
        assert_eq!(order, vec![1, 3, 2, 0]);
    }

    #[test]
    fn table_aligns_hangul_captions_by_display_width() {
        let t = table(
            &["cat.png".into(), "dog.png".into()],
            &["고양이 사진".into(), "강아지 사진".into()],
            &[vec![0.3, 0.2], vec![0.1, 0.4]],
            100.0,
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            UnicodeWidthStr::width(lines[1]),
            UnicodeWidthStr::width(lines[2]),
            "{t}"
        );
        assert!(
            lines[2].starts_with("cat.png") && lines[2].contains("0.3000"),
            "{t}"
        );
    }
}
