//! "Where is the gold?" and "why is this hit here?" on a real pipeline over the fixture
//! corpus (tantivy BM25 with bigrams, a character-bigram bag as the bi-encoder, a
//! term-overlap cross-encoder): the gold line's ranks against full-depth searches, the
//! detail view's BM25 breakdown against the pane's score, the fusion's arithmetic and the
//! rerank's move, at 80x24 and 160x45.
use std::sync::Arc;
use std::time::Instant;

use super::gold::{rows, GoldRow};
use super::overlays::detail::open;
use super::protocol::{Msg, Reply};
use super::reducer::update;
use super::snapshots::{overwritten, picture, ready, render};
use super::state::{App, Focus, Overlay, PaneId, Why};
use crate::bm25::{Analyzer, Bm25Index};
use crate::dense::DenseIndex;
use crate::model::{Embedder, Embeddings, Progress, Reranker, Side};
use crate::panes::{Kind, Panes};
use crate::pipeline::{Pipeline, Place, SearchParams, SearchResults};

/// A bag of character bigrams hashed into 64 buckets: a real (if crude) bi-encoder that
/// needs no model files.
struct CharBigrams;

impl Embedder for CharBigrams {
    fn identity(&self) -> String {
        "char-bigrams".into()
    }
    fn dim(&self) -> usize {
        64
    }
    fn embed(
        &mut self,
        _: Side,
        texts: &[&str],
        _: &mut dyn FnMut(Progress),
    ) -> crate::model::Result<Embeddings> {
        let mut data = Vec::new();
        for t in texts {
            let mut v = [0.01f32; 64];
            let chars: Vec<char> = t.chars().filter(|c| !c.is_whitespace()).collect();
            for w in chars.windows(2) {
                v[(w[0] as usize * 31 + w[1] as usize) % 64] += 1.0;
            }
            data.extend(v);
        }
        Ok(Embeddings { dim: 64, data })
    }
}

/// Scores a pair by the query characters the passage holds, per passage character.
struct Overlap;

impl Reranker for Overlap {
    fn identity(&self) -> String {
        "overlap".into()
    }
    fn score(
        &mut self,
        query: &str,
        passages: &[&str],
        _: &mut dyn FnMut(Progress),
    ) -> crate::model::Result<Vec<f32>> {
        Ok(passages
            .iter()
            .map(|p| {
                let held = query.chars().filter(|c| p.contains(*c)).count() as f32;
                held * 10.0 / p.chars().count().max(1) as f32
            })
            .collect())
    }
}

/// The fixture corpus and three passages that out-match its 제주도 passage (p3) on the
/// question's words, so the gold falls past a shallow top 2.
fn corpus() -> Arc<crate::data::Corpus> {
    let mut c = super::fixture::corpus();
    for (title, text) in [
        ("제주도 축제", "제주도에서 활발한 축제는 제주도에서 열린다."),
        ("농사 이야기", "농사는 제주도에서 활발한 일이다."),
        ("관광", "제주도에서 활발한 관광 농사"),
    ] {
        c.passages.push(crate::data::Passage {
            title: title.into(),
            text: text.into(),
            questions: vec![],
        });
    }
    Arc::new(c)
}

fn pipeline(params: SearchParams) -> Pipeline {
    let corpus = corpus();
    let texts = corpus.texts();
    let mut p = Pipeline::new(corpus.clone(), params, Panes::standard());
    let index = Bm25Index::build(&texts, Analyzer::Bigram, &mut |_| {}).expect("bm25");
    p.set_bm25(None, Arc::new(index));
    let mut enc = CharBigrams;
    let emb = enc
        .embed(Side::Passage, &texts, &mut |_| {})
        .expect("embed");
    let index = DenseIndex::new(&emb, tch::Device::Cpu).expect("dense index");
    p.set_dense(&Default::default(), Box::new(enc), index);
    p.set_reranker(Box::new(Overlap));
    p
}

/// The fixture question about 제주도 (gold p3), shallow lists: top 2 shown, each list
/// fused to depth 2, 2 candidates reranked.
const QUERY: &str = "제주도에서 활발한 농사는?";

fn shallow() -> SearchParams {
    let mut params = SearchParams {
        top_k: 2,
        rerank_depth: 2,
        ..SearchParams::default()
    };
    params.rrf.depth = 2;
    params
}

/// The explorer after `QUERY` ran through a real pipeline: the lists, then what explains
/// them, as the worker sends them.
fn searched(params: SearchParams) -> (App, SearchResults) {
    let mut app = ready();
    app.corpus = Some(corpus());
    app.results = None;
    app.params = params.clone();
    app.input.set(QUERY);
    let t0 = Instant::now();
    update(&mut app, Msg::Key(key_enter()), t0);
    let generation = app.generation;
    let mut p = pipeline(params);
    let mut results = p.search(QUERY);
    // Timings vary from run to run; the snapshots show none.
    results.encode = std::time::Duration::ZERO;
    for r in &mut results.results {
        r.elapsed = std::time::Duration::ZERO;
    }
    let gold = p.corpus.gold_for(QUERY).expect("a dataset question");
    let explained = Box::new(p.explain(&results, &[gold]));
    for reply in [
        Reply::Results {
            generation,
            results: results.clone(),
            rerank_total: None,
        },
        Reply::Explained {
            generation,
            explained,
        },
    ] {
        update(&mut app, Msg::Worker(reply), t0);
    }
    (app, results)
}

fn key_enter() -> crossterm::event::KeyEvent {
    crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Enter,
        crossterm::event::KeyModifiers::NONE,
    )
}

#[test]
fn gold_line_ranks_are_the_full_lists_ranks_past_the_top_k() {
    let (app, shallow_results) = searched(shallow());
    let [GoldRow {
        passage: 3,
        grade: None,
        places,
    }] = &rows(&app)[..]
    else {
        panic!("{:?}", rows(&app));
    };
    // Every passage ranked to the end, by the same code, for the true ranks.
    let full = pipeline(SearchParams {
        top_k: 5,
        ..SearchParams::default()
    })
    .search(QUERY);
    let mut beyond_top_k = 0;
    for (pane, place) in places {
        let kind = app.method(*pane);
        let want = full.pane(*pane).and_then(|r| r.rank_of(3));
        let shown = shallow_results.pane(*pane).expect("ran");
        match kind {
            Kind::Dense | Kind::Bm25 => {
                let Place::Ranked(rank, _) = place else {
                    assert_eq!((kind, place), (Kind::Bm25, &Place::NoTerm));
                    assert_eq!(want, None);
                    continue;
                };
                assert_eq!(Some(*rank), want, "{kind:?}");
                beyond_top_k += usize::from(*rank > 2);
            }
            Kind::Hybrid => match shown.rank_of(3) {
                Some(r) => assert_eq!(place, &Place::Ranked(r, shown.ranking[r - 1].1)),
                None => assert_eq!(place, &Place::BeyondFusion(2)),
            },
            Kind::Rerank => match shown.rank_of(3) {
                Some(r) => assert_eq!(place, &Place::Ranked(r, shown.ranking[r - 1].1)),
                None => assert_eq!(place, &Place::NotReranked(2)),
            },
        }
    }
    assert!(
        beyond_top_k > 0,
        "the case shows a rank past the top 2: {places:?}"
    );
}

#[test]
fn a_stale_explanation_is_dropped_and_the_line_waits() {
    let (mut app, _) = searched(shallow());
    let old = app.generation;
    app.input.set("제주도");
    update(&mut app, Msg::Key(key_enter()), Instant::now());
    update(
        &mut app,
        Msg::Worker(Reply::Explained {
            generation: old,
            explained: Box::default(),
        }),
        Instant::now(),
    );
    assert_ne!(app.explained.as_ref().map(|e| e.query.as_str()), Some(""));
}

#[test]
fn gold_line_fits_every_width_and_never_cuts_a_number() {
    let (app, _) = searched(shallow());
    let row = &rows(&app)[0];
    for (w, h) in [(160, 45), (80, 24), (60, 20), (40, 16), (24, 14)] {
        let screen = render(&app, w, h);
        assert!(!overwritten(&screen), "{w}x{h}:\n{screen}");
        let line = screen
            .lines()
            .find(|l| l.contains("gold p3:"))
            .unwrap_or_else(|| panic!("{w}x{h}: no gold line\n{screen}"));
        for (_, place) in &row.places {
            if let Place::Ranked(r, _) = place {
                // A rank is shown whole or not at all: never "#1" of "#17".
                let at = format!("#{r}");
                if let Some(i) = line.find(&at) {
                    let next = line[i + at.len()..].chars().next();
                    assert!(!next.is_some_and(|c| c.is_ascii_digit()), "{line}");
                }
            }
        }
        if w >= 80 {
            assert!(line.contains("Semantic #"), "{w}: {line}");
            assert!(!line.contains('…'), "{w}: {line}");
        }
    }
    insta::assert_snapshot!("gold_line_80x24", picture(&render(&app, 80, 24)));
    insta::assert_snapshot!("gold_line_160x45", picture(&render(&app, 160, 45)));
}

/// Opens the detail view on the gold passage from pane `pane`.
fn detail_on_gold(app: &mut App, pane: usize) -> bool {
    app.pane = PaneId::new(pane);
    app.focus = Focus::Pane(app.pane);
    let Some(i) = app
        .results
        .as_ref()
        .and_then(|r| r.pane(app.pane))
        .and_then(|r| r.hits.iter().position(|h| h.passage == 3))
    else {
        return false;
    };
    app.selected[app.pane] = i;
    app.overlay = open(app).expect("a hit");
    true
}

#[test]
fn detail_view_takes_the_bm25_score_apart_and_it_sums_to_the_pane_score() {
    let (mut app, results) = searched(SearchParams::default());
    assert!(detail_on_gold(&mut app, 1), "BM25 finds the gold");
    let Overlay::Detail {
        analysis: Some(a), ..
    } = &app.overlay
    else {
        panic!("{:?}", app.overlay);
    };
    let e = (*a.scores.clone().expect("sent")).expect("explained");
    let score = results
        .pane(PaneId::new(1))
        .unwrap()
        .rank_of(3)
        .map(|r| results.pane(PaneId::new(1)).unwrap().ranking[r - 1].1);
    let sum: f64 = e.matched.iter().map(|t| t.score).sum();
    assert!((sum - score.unwrap()).abs() < 1e-4, "{sum} {score:?}");
    let names: Vec<&str> = e.matched.iter().map(|t| t.term.as_str()).collect();
    let matched: Vec<&str> = a.matched.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        names, matched,
        "the table's terms are the passage's matched terms"
    );
    for (w, h, name) in [
        (80, 24, "detail_bm25_80x24"),
        (160, 45, "detail_bm25_160x45"),
    ] {
        let screen = render(&app, w, h);
        assert!(!overwritten(&screen), "{screen}");
        for shown in [
            "BM25 score",
            "norm = 1 - b + b·dl/avgdl",
            "tf part",
            "share",
        ] {
            assert!(screen.contains(shown), "{shown}:\n{screen}");
        }
        insta::assert_snapshot!(name, picture(&screen));
    }
}

#[test]
fn detail_view_shows_the_cosine_the_fusion_sum_and_the_rerank_move() {
    let (mut app, results) = searched(SearchParams::default());
    assert!(detail_on_gold(&mut app, 0));
    let Overlay::Detail { why: Some(w), .. } = &app.overlay else {
        panic!("{:?}", app.overlay);
    };
    let Why::Dense { cosine, .. } = w.as_ref() else {
        panic!("{w:?}");
    };
    let dense = results.pane(PaneId::new(0)).unwrap();
    assert_eq!(*cosine, dense.ranking[dense.rank_of(3).unwrap() - 1].1);
    assert!(render(&app, 80, 24).contains("cosine"));

    assert!(detail_on_gold(&mut app, 2));
    let Overlay::Detail { why: Some(w), .. } = &app.overlay else {
        panic!("{:?}", app.overlay);
    };
    let Why::Fusion { fusion, .. } = w.as_ref() else {
        panic!("{w:?}");
    };
    let hybrid = results.pane(PaneId::new(2)).unwrap();
    assert_eq!(
        fusion.score,
        hybrid.ranking[hybrid.rank_of(3).unwrap() - 1].1
    );
    let screen = render(&app, 80, 24);
    assert!(screen.contains("RRF score"), "{screen}");
    assert!(screen.contains("k 60, each list's top 100"), "{screen}");
    assert!(screen.contains("1/(60 + "), "{screen}");
    insta::assert_snapshot!("detail_hybrid_80x24", picture(&screen));

    assert!(detail_on_gold(&mut app, 3));
    let Overlay::Detail { why: Some(w), .. } = &app.overlay else {
        panic!("{:?}", app.overlay);
    };
    let Why::Rerank { from, rank, .. } = w.as_ref() else {
        panic!("{w:?}");
    };
    assert_eq!(*from, Some((PaneId::new(2), hybrid.rank_of(3).unwrap())));
    let screen = render(&app, 160, 45);
    assert!(
        screen.contains(&format!(
            "from {} #{} to #{rank}",
            app.title(PaneId::new(2)),
            from.unwrap().1
        )),
        "{screen}"
    );
    insta::assert_snapshot!("detail_rerank_160x45", picture(&screen));
}

#[test]
fn judge_rows_show_each_panes_rank_and_the_gold_mark() {
    let (mut app, results) = searched(SearchParams::default());
    app.overlay = super::overlays::judge::open(&app);
    for (w, h) in [(80, 24), (160, 45)] {
        let screen = render(&app, w, h);
        assert!(!overwritten(&screen), "{screen}");
        let line = screen
            .lines()
            .find(|l| l.contains("✓ p3"))
            .expect("the gold row");
        for r in &results.results {
            let rank = r.rank_of(3).map_or("-".into(), |x| x.to_string());
            let initial = app.title(r.pane).chars().next().unwrap();
            assert!(line.contains(&format!("{initial}{rank} ")), "{line}");
        }
        insta::assert_snapshot!(format!("judge_ranks_{w}x{h}"), picture(&screen));
    }
}
