//! `bigyo search` (one query through the panes) and `bigyo similar` (the chapter's similarity
//! matrices).
use std::io::Write;

use anyhow::{bail, Result};
use bigyo::model::{Runtime, Side};
use bigyo::plan::Plan;
use bigyo::session::{self, Event, Options};
use bigyo::{render, teach};

use super::{build_partial, load, reporter, TableOrJson};

pub(super) fn search(
    opts: &Options,
    query: &str,
    methods: Option<&str>,
    format: TableOrJson,
) -> Result<()> {
    let plan = Plan::new(opts, methods)?;
    if query.chars().count() > 30_000 {
        bail!(
            "the query is {} characters; bigyo searches at most 30000",
            query.chars().count()
        );
    }
    let ((mut pipeline, _, _), failed) = build_partial(opts, &plan, load(opts)?)?;
    let results = pipeline.search(query);
    let corpus = pipeline.corpus.clone();
    let gold = corpus.gold_for(query);
    let mut out = std::io::stdout().lock();
    match format {
        TableOrJson::Table => write!(out, "{}", render::table(&corpus, &results, gold))?,
        TableOrJson::Json => writeln!(out, "{}", render::json(&corpus, &results, gold))?,
    }
    // A model that could not load: its panes said why above; the command still fails.
    failed.map_or(Ok(()), Err)
}

/// The sentence encoder's plain vectors of `texts` for a similarity table's dense column, or
/// why there are none (the column is optional: the others still teach the point).
pub(super) fn dense_column(
    opts: &Options,
    runtime: Runtime,
    texts: &[&str],
    report: &mut impl FnMut(Event),
) -> (Option<Vec<Vec<f64>>>, Option<String>) {
    let dense = opts
        .pooling()
        .and_then(|pooling| session::load_embedder(opts, runtime, pooling, report))
        .and_then(|mut enc| {
            let e = enc.embed(Side::Plain, texts, &mut |_| {})?;
            Ok(e.rows()
                .map(|r| r.iter().map(|&x| x as f64).collect::<Vec<f64>>())
                .collect::<Vec<_>>())
        });
    match dense {
        Ok(d) => (Some(d), None),
        Err(e) => (None, Some(format!("{e:#}"))),
    }
}

pub(super) fn similar(opts: &Options, sentences: &[String], format: TableOrJson) -> Result<()> {
    opts.validate()?;
    let runtime = opts.runtime()?;
    let mut report = reporter();
    let corpus = session::load_corpus(opts, &mut report)?;
    let analyzer = session::analyzer(opts)?;
    let df = teach::DocFreq::fit(&corpus.texts(), &analyzer);
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    // A bad --pooling stops here; a model that cannot load only empties the dense column.
    opts.pooling()?;
    let (dense, dense_error) = dense_column(opts, runtime, &refs, &mut report);
    let matrices = teach::similarity_matrices(&refs, &analyzer, &df, dense.as_deref());
    let mut out = std::io::stdout().lock();
    match format {
        TableOrJson::Table => {
            writeln!(
                out,
                "IDF from {}: {} passages, analyzer {}",
                corpus.source,
                corpus.passages.len(),
                analyzer.describe()
            )?;
            write!(
                out,
                "{}",
                teach::table(&refs, &matrices, dense_error.as_deref())
            )?;
        }
        TableOrJson::Json => {
            let m: serde_json::Map<String, serde_json::Value> = matrices
                .iter()
                .map(|(r, v)| {
                    (
                        serde_json::to_value(r)
                            .map(|s| s.as_str().unwrap_or_default().to_owned())
                            .unwrap_or_default(),
                        serde_json::json!(v),
                    )
                })
                .collect();
            writeln!(
                out,
                "{}",
                serde_json::json!({
                    "sentences": refs,
                    "idf_corpus": corpus.source,
                    "idf_documents": corpus.passages.len(),
                    "analyzer": analyzer.describe(),
                    "matrices": m,
                    "dense_error": dense_error,
                })
            )?;
        }
    }
    Ok(())
}
