//! Snapshots of a pane spec other than the default four: five panes (two analyzers side by
//! side, a dense pane, their fusion and its rerank) computed by a real [`Pipeline`] over the
//! fixture corpus, drawn at 200x50 (one row), 100x30 (a 2x3 grid) and 60x20 (tabs).
use std::sync::Arc;

use super::snapshots::{overwritten, picture, ready, render};
use super::state::{App, Focus, PaneId};
use crate::bm25::{Analyzer, AnalyzerKind, Bm25Index};
use crate::dense::DenseIndex;
use crate::model::{Embedder, Embeddings, Progress, Reranker, Side};
use crate::panes::Panes;
use crate::pipeline::{Pipeline, SearchParams};

const SPEC: &str = "bm25,bm25:whitespace,dense,hybrid,rerank";
const QUESTION: &str = "장마는 언제 중부지방에 비를 뿌리나?";

/// Counts of a few syllables: a deterministic bi-encoder without libtorch.
struct Syllables;

impl Embedder for Syllables {
    fn identity(&self) -> String {
        "syllables".into()
    }
    fn dim(&self) -> usize {
        4
    }
    fn embed(
        &mut self,
        _: Side,
        texts: &[&str],
        _: &mut dyn FnMut(Progress),
    ) -> crate::model::Result<Embeddings> {
        let mut data = Vec::new();
        for t in texts {
            for s in ['장', '비', '위', '잠'] {
                data.push(t.matches(s).count() as f32 + 0.1);
            }
        }
        Ok(Embeddings { dim: 4, data })
    }
}

/// Prefers passages that name the month: a deterministic cross-encoder.
struct Months;

impl Reranker for Months {
    fn identity(&self) -> String {
        "months".into()
    }
    fn score(
        &mut self,
        _: &str,
        passages: &[&str],
        _: &mut dyn FnMut(Progress),
    ) -> crate::model::Result<Vec<f32>> {
        Ok(passages
            .iter()
            .map(|p| p.matches('월').count() as f32 - p.chars().count() as f32 / 1000.0)
            .collect())
    }
}

fn five_panes() -> App {
    let panes = Panes::parse(SPEC).expect("the spec parses");
    let corpus = Arc::new(super::fixture::corpus());
    let texts = corpus.texts();
    let mut pipeline = Pipeline::new(corpus.clone(), SearchParams::default(), panes.clone());
    for (key, analyzer) in [
        (None, Analyzer::Bigram),
        (Some(AnalyzerKind::Whitespace), Analyzer::Whitespace),
    ] {
        let index = Bm25Index::build(&texts, analyzer, &mut |_| {}).expect("BM25 builds");
        pipeline.set_bm25(key, Arc::new(index));
    }
    let mut encoder = Syllables;
    let passages = encoder
        .embed(Side::Passage, &texts, &mut |_| {})
        .expect("embeds");
    let index = DenseIndex::new(&passages, tch::Device::Cpu).expect("dense index");
    pipeline.set_dense(&Default::default(), Box::new(encoder), index);
    pipeline.set_reranker(Box::new(Months));
    let mut results = pipeline.search(QUESTION);
    // Timings vary run to run; the snapshot shows fixed ones.
    results.encode = std::time::Duration::from_micros(11_500);
    for (i, r) in results.results.iter_mut().enumerate() {
        r.elapsed = std::time::Duration::from_micros(1000 * i as u64 + 250);
    }

    let mut app = ready();
    app.spec = pipeline.panes().clone();
    app.selected = super::state::PerPane::new(app.pane_count(), 0);
    app.input.set(QUESTION);
    app.sent = Some(QUESTION.into());
    app.results = Some(results);
    app.focus = Focus::Pane(PaneId::new(1));
    app.pane = PaneId::new(1);
    app
}

#[test]
fn five_panes_from_a_spec_at_every_size() {
    let app = five_panes();
    let titles = [
        "BM25",
        "BM25 · whitespace",
        "Semantic",
        "Hybrid (RRF)",
        "Rerank",
    ];
    for (w, h) in [(200, 50), (100, 30), (60, 20)] {
        let screen = render(&app, w, h);
        assert!(!overwritten(&screen), "{w}x{h}\n{screen}");
        if w >= 100 {
            // Every pane is on screen with its title and the score of its first hit.
            for (pane, title) in app.pane_ids().zip(titles) {
                assert!(screen.contains(title), "{w}x{h}: {title}\n{screen}");
                let r = app.results.as_ref().unwrap().pane(pane).unwrap();
                assert!(r.error.is_none(), "{title}: {:?}", r.error);
                let top = format!("{:.4}", r.hits[0].score);
                assert!(screen.contains(&top), "{w}x{h}: {title} {top}\n{screen}");
            }
        } else {
            // Tabs: every title in the tab line, the focused pane below.
            assert!(screen.contains(" BM25 · whitespace "), "{screen}");
        }
        insta::assert_snapshot!(format!("five_panes_{w}x{h}"), picture(&screen));
    }
}
