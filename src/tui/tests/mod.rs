//! The reducer and the key handlers, tested without a terminal: messages in, fields and
//! commands asserted.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::overlays::eval::*;
use super::overlays::playground::*;
use super::protocol::*;
use super::reducer::update;
use super::settings::Setting;
use super::state::*;
use crate::bm25::{Analyzer, AnalyzerKind};
use crate::data::Corpus;
use crate::model::Pooling;
use crate::panes::Kind;
use crate::pipeline::{Missing, Phase};
use crate::pipeline::{SearchParams, SearchResults};
use crate::session::{Event, Step};

mod eval;
mod judge;
mod overlays;
mod search;
mod settings;
mod status;
use crate::eval::QueryOutcome;
use crate::pipeline::{ForwardPasses, Hit, MethodResult, Sources};

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn corpus() -> Arc<Corpus> {
    Arc::new(crate::tui::fixture::corpus())
}

fn ready_app() -> App {
    let mut app = App::new(
        SearchParams::default(),
        AnalyzerKind::Bigram,
        Arc::new(crate::panes::Panes::standard()),
        Labels::default(),
        7,
    );
    let now = Instant::now();
    update(&mut app, Msg::Worker(Reply::Corpus(corpus())), now);
    update(
        &mut app,
        Msg::Worker(Reply::Bm25Ready(Analyzer::Bigram)),
        now,
    );
    app
}

fn type_text(app: &mut App, text: &str, now: Instant) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    for c in text.chars() {
        cmds.extend(update(app, key(KeyCode::Char(c)), now));
    }
    cmds
}

fn results(query: &str, passages: &[usize]) -> SearchResults {
    SearchResults {
        query: query.into(),
        panes: Arc::new(crate::panes::Panes::standard()),
        inputs: vec![],
        terms: vec![],
        encode: Duration::ZERO,
        forward_passes: ForwardPasses::default(),
        results: Kind::ALL
            .iter()
            .enumerate()
            .map(|(i, &method)| MethodResult {
                pane: PaneId::new(i),
                method,
                hits: passages
                    .iter()
                    .map(|&passage| Hit {
                        passage,
                        score: 1.0,
                        probability: None,
                        sources: Sources::default(),
                        matched: vec![],
                        spans: vec![],
                    })
                    .collect(),
                elapsed: Duration::ZERO,
                error: None,
                note: None,
                ranking: passages.iter().map(|&p| (p, 1.0)).collect(),
            })
            .collect(),
    }
}

/// Dense, BM25 and hybrid without their rerank list: what the worker sends first.
fn fast_results(query: &str, passages: &[usize]) -> SearchResults {
    let mut r = results(query, passages);
    r.results.retain(|m| m.method != Kind::Rerank);
    r
}

fn searched(app: &mut App, text: &str, t0: Instant) -> u64 {
    app.input.set(text);
    let cmds = update(app, key(KeyCode::Enter), t0);
    let [Cmd::Search { generation, .. }] = &cmds[..] else {
        panic!("{cmds:?}");
    };
    *generation
}

fn pooling(name: &str) -> Pooling {
    Pooling::single(name.parse().unwrap())
}
