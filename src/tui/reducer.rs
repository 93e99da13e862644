//! The reducer: one message in (a key, a worker's reply, time passing), the state changed,
//! the commands for the worker out. No IO and no clock here: time arrives with the message.
use std::time::{Duration, Instant};

use crossterm::event::KeyEventKind;

use super::keys::on_key;
use super::protocol::{Cmd, EvalLabels, Msg, Part, Reply};
use super::state::{App, Overlay, PartState, Stage};
use crate::pipeline::Missing;
use crate::session::{Event, Step};

/// Applies one message; returns what the worker (or the loop) must do.
pub fn update(app: &mut App, msg: Msg, now: Instant) -> Vec<Cmd> {
    match msg {
        Msg::Key(key) if key.kind != KeyEventKind::Release => on_key(app, key, now),
        Msg::Key(_) => Vec::new(),
        Msg::Worker(reply) => on_reply(app, reply, now),
        Msg::Tick => {
            if let Some(s) = &mut app.stage {
                s.elapsed = s
                    .started
                    .map_or(s.elapsed, |t| now.saturating_duration_since(t));
            }
            on_tick(app, now)
        }
    }
}

/// The debounce: the query runs once typing has paused.
fn on_tick(app: &mut App, now: Instant) -> Vec<Cmd> {
    match app.debounce {
        Some(at) if at <= now => {
            if app.sent.as_deref() == Some(app.input.text.as_str()) {
                app.debounce = None;
                Vec::new()
            } else {
                app.search()
            }
        }
        _ => Vec::new(),
    }
}

pub(super) fn on_reply(app: &mut App, reply: Reply, now: Instant) -> Vec<Cmd> {
    match reply {
        Reply::Session(event) => on_session(app, event, now),
        Reply::Device(d) => app.labels.device = d,
        reply @ (Reply::Corpus(_)
        | Reply::Bm25Ready(_)
        | Reply::Panes(_)
        | Reply::Failed(..)
        | Reply::DenseReady
        | Reply::RerankerReady
        | Reply::RerankerDisabled) => {
            let mut cmds = on_part(app, reply);
            cmds.extend(super::lesson::on_ready(app, now));
            return cmds;
        }
        Reply::SessionSaved { path, result } => super::lesson::on_saved(app, &path, result),
        Reply::Results {
            generation,
            results,
            rerank_total,
        } => on_results(app, generation, results, rerank_total),
        Reply::Explained {
            generation,
            explained,
        } => {
            if generation == app.generation {
                app.explained = Some(explained);
            }
        }
        Reply::RerankProgress {
            generation,
            done,
            total,
        } => {
            if generation == app.generation && app.rerank_progress.is_some() {
                app.rerank_progress = Some((done, total));
            }
        }
        Reply::Reranked {
            generation,
            result,
            passes,
            cached,
        } => on_reranked(app, generation, result, (passes, cached)),
        Reply::EvalProgress {
            generation,
            done,
            total,
        } => app.eval.on_progress(generation, done, total, now),
        Reply::EvalPart {
            generation,
            outcome,
        } => app.eval.on_part(generation, outcome),
        Reply::EvalDone {
            generation,
            outcome,
        } => app.eval.on_done(generation, outcome),
        Reply::Pooling(state) => app.pooling = Some(state),
        Reply::AnalyzerChecked { analyzer, warning } => {
            app.analyzer_warnings.retain(|(k, _)| *k != analyzer);
            app.analyzer_warnings.extend(warning.map(|w| (analyzer, w)));
        }
        Reply::TuneProgress {
            generation,
            done,
            total,
        } => app.lab.on_progress(generation, done, total),
        Reply::Tuned { generation, result } => app.lab.on_tuned(generation, result),
        Reply::Judgments { file, grades } => {
            app.judgments_file = Some(file);
            app.judged = grades;
        }
        Reply::Graded {
            query,
            passage,
            grade,
            result,
        } => on_graded(app, &query, passage, grade, result),
        Reply::PlaygroundSparse { generation, result } => {
            app.playground.on_sparse(generation, result)
        }
        Reply::PlaygroundDense { generation, result } => {
            app.playground.on_dense(generation, result)
        }
        reply @ (Reply::Word2vecProgress { .. } | Reply::Word2vec { .. }) => {
            crate::tui::overlays::words::on_reply(app, reply)
        }
    }
    Vec::new()
}

/// A part of the session is ready, failed or changed: the panes run the query again.
fn on_part(app: &mut App, reply: Reply) -> Vec<Cmd> {
    match reply {
        Reply::Corpus(c) => {
            // A corpus without questions is evaluated on the grades given here.
            if c.eval_questions().next().is_none() {
                app.eval.labels = EvalLabels::Judgments;
            }
            app.corpus = Some(c);
            app.set_part(Part::Corpus, PartState::Ready);
        }
        Reply::Bm25Ready(analyzer) => {
            app.analyzer_kind = analyzer.kind();
            app.analyzer = Some(analyzer);
            app.set_part(Part::Bm25, PartState::Ready);
            app.stage = None;
            return app.rerun();
        }
        Reply::Panes(panes) => {
            // The worker's word on the panes (its own keys, or a setting it refused).
            app.spec = panes;
            return app.rerun();
        }
        Reply::Failed(part, why) => {
            if part == Part::Corpus {
                app.stage = None;
            }
            app.set_part(part, PartState::Failed(why));
            return app.rerun();
        }
        Reply::DenseReady => {
            app.set_part(Part::Dense, PartState::Ready);
            return app.rerun();
        }
        Reply::RerankerReady => {
            app.set_part(Part::Reranker, PartState::Ready);
            return app.rerun();
        }
        Reply::RerankerDisabled => app.set_part(Part::Reranker, PartState::Disabled),
        _ => {}
    }
    Vec::new()
}

/// A start-up step's progress: the status bar's stage, its ETA, warnings and notes.
fn on_session(app: &mut App, event: Event, now: Instant) {
    match event {
        Event::Start { step, total } => {
            // The session's BM25 is loading until its first index is ready; an index a pane
            // switches to later is that pane's to wait for (its list says so).
            if step == Step::BuildBm25 && app.analyzer.is_none() {
                app.set_part(Part::Bm25, PartState::Loading);
            }
            app.stage = Some(Stage {
                step: step.to_string(),
                total,
                done: 0,
                started: Some(now),
                eta: None,
                elapsed: Duration::ZERO,
            });
        }
        Event::Progress { done } => {
            if let Some(s) = &mut app.stage {
                s.done = done;
                if let (Some(total), Some(started)) = (s.total, s.started) {
                    let spent = now.saturating_duration_since(started).as_secs_f64();
                    if done > 0 && total >= done {
                        let left = spent / done as f64 * (total - done) as f64;
                        s.eta = Some(Duration::from_secs_f64(left));
                    }
                }
            }
        }
        Event::Finish => app.stage = None,
        Event::Warning(w) => {
            // The status bar shows the newest and counts the rest; the log keeps each.
            tracing::warn!("{w}");
            app.warnings.push(w)
        }
        Event::Note(n) => app.notes.push(n),
    }
}

/// Every pane but rerank's answer to the newest query (an older one's is dropped).
fn on_results(
    app: &mut App,
    generation: u64,
    results: crate::pipeline::SearchResults,
    rerank_total: Option<usize>,
) {
    if generation != app.generation {
        // A newer query is on its way; this answer is stale.
        return;
    }
    let same = app.stale;
    app.searching = false;
    app.stale = false;
    app.rerank_progress = rerank_total.map(|t| (0, t));
    app.results = Some(results);
    keep_selection(app, same);
    if !same && matches!(app.overlay, Overlay::Judge { queries: false, .. }) {
        // A new query's pool: the cursor starts on its first hit not graded yet.
        app.overlay = super::overlays::judge::open(app);
    }
}

/// The rerank pane's answer joins the other panes' (by its pane id).
fn on_reranked(
    app: &mut App,
    generation: u64,
    result: crate::pipeline::MethodResult,
    (passes, cached): (usize, usize),
) {
    if generation != app.generation {
        return;
    }
    if let Some(r) = &mut app.results {
        r.results.retain(|m| m.pane != result.pane);
        r.results.push(result);
        r.forward_passes.cross_encoder = passes;
        r.forward_passes.cross_cached = cached;
    }
    app.rerank_progress = None;
    keep_selection(app, true);
}

/// A grade the worker wrote to disk shows; one it could not write says why.
fn on_graded(
    app: &mut App,
    query: &str,
    passage: usize,
    grade: Option<u8>,
    result: Result<(), Missing>,
) {
    match result {
        Ok(()) => {
            let grades = app
                .judged
                .entry(crate::judgments::normalize_query(query))
                .or_default();
            match grade {
                Some(g) => {
                    grades.insert(passage, g);
                }
                None => {
                    grades.remove(&passage);
                }
            }
        }
        Err(why) => app.notice = Some(format!("grade not saved: {why}")),
    }
}

/// Keeps each pane's selection within its list; a new query starts at the top.
fn keep_selection(app: &mut App, same: bool) {
    for pane in app.pane_ids().collect::<Vec<_>>() {
        let n = app.hits_in(pane);
        app.selected[pane] = if same {
            app.selected[pane].min(n.saturating_sub(1))
        } else {
            0
        };
    }
}
