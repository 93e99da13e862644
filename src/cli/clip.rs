//! CLIP from the command line: `similar --image` (texts x images) and `--images DIR` (the
//! explorer's image search).
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use bigyo::imagesearch;
use bigyo::model::clip::ClipSpace;
use bigyo::model::{Embeddings, ModelDir, ModelSpec, Runtime};
use bigyo::options::ClipOptions;
use bigyo::session::Options;

use super::TableOrJson;

/// Loads the CLIP model (and the multilingual text encoder), naming what is missing.
pub(super) fn load_space(
    opts: &Options,
    args: &ClipOptions,
    runtime: Runtime,
) -> Result<ClipSpace> {
    let Some(clip) = &args.clip else {
        bail!("images need a CLIP model: --clip DIR (a CLIPModel directory; or BIGYO_CLIP)");
    };
    let resolve = |p: &Path| -> Result<ModelDir> {
        let mut spec = ModelSpec::new(p.to_string_lossy());
        spec.offline = opts.model.offline;
        ModelDir::resolve(&spec).with_context(|| format!("CLIP model {}", p.display()))
    };
    let model = resolve(clip)?;
    let text = args.clip_text.as_deref().map(resolve).transpose()?;
    ClipSpace::load(&model, text.as_ref(), runtime)
        .with_context(|| format!("loading CLIP from {}", clip.display()))
}

fn display_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// `bigyo similar --image A --image B "caption" ...`: the chapter's table.
pub(super) fn similar(
    opts: &Options,
    args: &ClipOptions,
    captions: &[String],
    images: &[PathBuf],
    format: TableOrJson,
) -> Result<()> {
    let runtime = opts.runtime()?;
    let mut space = load_space(opts, args, runtime)?;
    let refs: Vec<&str> = captions.iter().map(String::as_str).collect();
    let texts = space.embed_texts(&refs).context("embedding the captions")?;
    let started = std::time::Instant::now();
    // Every file is read first: a bad one fails the command naming it, before any embedding.
    let pixels = images
        .iter()
        .map(|p| space.model.load_pixels(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut data = Vec::with_capacity(images.len() * space.model.dim());
    for batch in pixels.chunks(16) {
        data.extend(space.model.embed_pixels(batch)?.data);
    }
    let image_seconds = started.elapsed().as_secs_f64();
    let image_emb = Embeddings {
        dim: space.model.dim(),
        data,
    };
    let cosines = imagesearch::cosine_matrix(&image_emb, &texts);
    let scale = space.model.logit_scale();
    let names: Vec<String> = images.iter().map(|p| display_name(p)).collect();
    let mut out = std::io::stdout().lock();
    match format {
        TableOrJson::Table => {
            let text_side = if space.multilingual() {
                format!("texts by {}", space.text_identity())
            } else {
                "texts by its own text tower".into()
            };
            writeln!(out, "CLIP {} ({text_side})", space.model.identity())?;
            write!(
                out,
                "{}",
                imagesearch::table(&names, captions, &cosines, scale)
            )?;
        }
        TableOrJson::Json => {
            let probs: Vec<Vec<f64>> = cosines
                .iter()
                .map(|row| imagesearch::softmax(row, scale))
                .collect();
            writeln!(
                out,
                "{}",
                serde_json::json!({
                    "model": space.model.identity(),
                    "text_model": space.text_identity(),
                    "captions": captions,
                    "images": images,
                    "cosine": cosines,
                    "logit_scale": scale,
                    "softmax_per_image": probs,
                    "timing": {"images": images.len(), "image_seconds": image_seconds},
                })
            )?;
        }
    }
    Ok(())
}

/// `bigyo --images DIR --clip MODEL`: the explorer's image search.
pub(super) fn explore(opts: &Options, args: &ClipOptions, dir: &Path) -> Result<()> {
    if args.clip.is_none() {
        bail!("--images {} needs a CLIP model: --clip DIR", dir.display());
    }
    let files = imagesearch::scan(dir).with_context(|| format!("reading {}", dir.display()))?;
    if files.is_empty() {
        bail!(
            "{}: no image files (png, jpg, jpeg, gif, bmp, webp)",
            dir.display()
        );
    }
    let runtime = opts.runtime()?;
    let opts = opts.clone();
    let args = args.clone();
    bigyo::tui::images::run(
        dir.to_owned(),
        files,
        bigyo::session::cache(&opts),
        Box::new(move || load_space(&opts, &args, runtime).map_err(|e| format!("{e:#}"))),
    )
}
