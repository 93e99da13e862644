//! `bigyo qrels`: export and import TREC qrels, grade from a script, list the judged queries.
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use bigyo::data::Corpus;
use bigyo::judgments::{self, Judgments};
use bigyo::session::{self, Options};

use super::eval::{open_judgments, read_topics};
use super::{load, QrelsAction};

/// `bigyo qrels ...`: the judgments of the loaded corpus.
pub(super) fn qrels(opts: &Options, action: &QrelsAction) -> Result<()> {
    let (corpus, _) = load(opts)?;
    let path = session::judgments_path(opts, &corpus);
    let (mut store, _) = open_judgments(&path)?;
    let passages = corpus.passages.len();
    let mut out = std::io::stdout().lock();
    match action {
        QrelsAction::Export { out: file, topics } => {
            export(&store, &path, file, topics.as_deref(), &mut out)?
        }
        QrelsAction::Import { qrels, topics } => import(
            &mut store,
            &corpus,
            &path,
            qrels,
            topics.as_deref(),
            &mut out,
        )?,
        QrelsAction::Grade => grade_stdin(&mut store, passages, &mut out)?,
        QrelsAction::List => {
            writeln!(out, "judgments: {}", path.display())?;
            for q in store.queries() {
                writeln!(
                    out,
                    "{}\t{} judged\t{} relevant\t{}",
                    q.qid, q.judged, q.relevant, q.text
                )?;
            }
        }
    }
    Ok(())
}

/// `bigyo qrels export`: the judgments as TREC qrels in `file`, their query texts as topics
/// beside it (or in `topics`).
fn export(
    store: &Judgments,
    path: &Path,
    file: &Path,
    topics: Option<&Path>,
    out: &mut impl Write,
) -> Result<()> {
    let all = store.all();
    if all.is_empty() {
        bail!("{} holds no judgments to export", path.display());
    }
    let topics = topics
        .map(Path::to_path_buf)
        .unwrap_or_else(|| judgments::companion_topics(file));
    let write = |target: &Path, f: &dyn Fn(&mut dyn Write) -> std::io::Result<()>| {
        std::fs::File::create(target)
            .map(std::io::BufWriter::new)
            .and_then(|mut w| {
                f(&mut w)?;
                w.flush()
            })
            .with_context(|| format!("writing {}", target.display()))
    };
    write(file, &|w| {
        judgments::write_qrels(
            w,
            all.iter()
                .map(|(q, _, p, g)| (q.as_str(), p.as_str(), u32::from(*g))),
        )
    })?;
    let queries = store.queries();
    write(&topics, &|w| {
        judgments::write_topics(w, queries.iter().map(|q| (q.qid.as_str(), q.text.as_str())))
    })?;
    writeln!(
        out,
        "wrote {} judgments of {} queries to {} and their texts to {}",
        all.len(),
        queries.len(),
        file.display(),
        topics.display()
    )?;
    Ok(())
}

/// `bigyo qrels import`: TREC qrels into the judgments, skipping (with a warning) rows whose
/// passage id is not this corpus's or whose query has no text.
fn import(
    store: &mut Judgments,
    corpus: &Corpus,
    path: &Path,
    qrels: &Path,
    topics: Option<&Path>,
    out: &mut impl Write,
) -> Result<()> {
    let passages = corpus.passages.len();
    let rows = judgments::parse_qrels(qrels)?;
    let (topic_map, _) = read_topics(qrels, topics)?;
    let question_text: BTreeMap<&str, &str> = corpus
        .questions
        .iter()
        .map(|q| (q.id.as_str(), q.text.as_str()))
        .collect();
    let text_of = |qid: &str| {
        topic_map
            .get(qid)
            .map(String::as_str)
            .or_else(|| question_text.get(qid).copied())
    };
    let Importable {
        grades,
        unknown,
        textless,
    } = importable(&rows, qrels, passages, text_of)?;
    if unknown > 0 {
        eprintln!(
            "bigyo: warning: skipped {unknown} judgments whose passage id is not one of \
             this corpus's p0..p{}",
            passages.saturating_sub(1)
        );
    }
    if !textless.is_empty() {
        eprintln!(
            "bigyo: warning: skipped the judgments of {} query ids with no text (give \
             --topics FILE): {}",
            textless.len(),
            textless
                .iter()
                .take(5)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if grades.is_empty() {
        bail!("{}: no judgment could be imported", qrels.display());
    }
    store.grade_many(&grades)?;
    writeln!(
        out,
        "imported {} judgments into {} (skipped {} with unknown passage ids, {} query ids \
         without text)",
        grades.len(),
        path.display(),
        unknown,
        textless.len()
    )?;
    Ok(())
}

/// What a qrels file gives: the grades to record, and what had to be skipped.
struct Importable<'r> {
    /// (query text, passage id, grade)
    grades: Vec<(String, String, u8)>,
    /// Rows whose passage id is not one of this corpus's.
    unknown: usize,
    /// Query ids with no text in the topics or the corpus.
    textless: BTreeSet<&'r str>,
}

/// The grades that `rows` give, the rows that name an unknown passage, and the query ids
/// without text. A grade past the scale is an error.
fn importable<'r>(
    rows: &'r [judgments::Qrel],
    qrels: &Path,
    passages: usize,
    text_of: impl Fn(&str) -> Option<&'r str>,
) -> Result<Importable<'r>> {
    let (mut unknown, mut textless) = (0usize, BTreeSet::new());
    let mut grades = Vec::new();
    for r in rows {
        if judgments::parse_passage_id(&r.docid, passages).is_none() {
            unknown += 1;
            continue;
        }
        let grade = u8::try_from(r.grade)
            .ok()
            .filter(|&g| g <= judgments::MAX_GRADE)
            .with_context(|| {
                format!(
                    "{}: query {} passage {}: grade {} is out of range (judgments are \
                     0 = not relevant … 3 = perfect)",
                    qrels.display(),
                    r.qid,
                    r.docid,
                    r.grade
                )
            })?;
        let Some(text) = text_of(&r.qid) else {
            textless.insert(r.qid.as_str());
            continue;
        };
        grades.push((text.to_owned(), r.docid.clone(), grade));
    }
    Ok(Importable {
        grades,
        unknown,
        textless,
    })
}

/// `bigyo qrels grade`: one `query<TAB>p<N><TAB>grade` line at a time from standard input,
/// answering `ok N` or `error N: ...` for each.
fn grade_stdin(store: &mut Judgments, passages: usize, out: &mut impl Write) -> Result<()> {
    let mut failed = 0usize;
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let n = n + 1;
        let line = line.context("reading standard input")?;
        if line.trim().is_empty() {
            continue;
        }
        let result = grade_line(store, &line, passages);
        match result {
            Ok(()) => writeln!(out, "ok {n}")?,
            Err(e) => {
                failed += 1;
                writeln!(out, "error {n}: {e:#}")?;
            }
        }
        out.flush()?;
    }
    if failed > 0 {
        bail!("{failed} lines were not recorded");
    }
    Ok(())
}

/// One `query<TAB>p<N><TAB>grade` line of `bigyo qrels grade` (`-` as the grade removes).
fn grade_line(store: &mut Judgments, line: &str, passages: usize) -> Result<()> {
    let mut cols = line.split('\t');
    let (Some(query), Some(passage), Some(grade), None) =
        (cols.next(), cols.next(), cols.next(), cols.next())
    else {
        bail!("expected `query<TAB>p<N><TAB>grade`");
    };
    let passage = passage.trim();
    if judgments::parse_passage_id(passage, passages).is_none() {
        bail!(
            "`{passage}` is not a passage id of this corpus (p0..p{})",
            passages.saturating_sub(1)
        );
    }
    match grade.trim() {
        "-" => store.remove(query, passage)?,
        g => {
            let g: u8 = g
                .parse()
                .ok()
                .filter(|&g| g <= judgments::MAX_GRADE)
                .with_context(|| format!("grade `{g}` is not 0, 1, 2, 3 or -"))?;
            store.grade(query, passage, g)?;
        }
    }
    Ok(())
}
