//! Every screen state at 200x50, 120x40 and 60x20, drawn with `TestBackend` from states built
//! by hand (fixed durations, no clock, no host device names).
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::fixture;
use super::overlays::eval::EvalState;
use super::overlays::playground::{DenseCell, Playground};
use super::protocol::{DenseOutcome, EvalOutcome, Msg, Part, PoolingState, Reply, SparseOutcome};
use super::reducer::update;
use super::state::{App, Focus, Labels, Overlay, PartState, Stage};
use super::view::draw;
use crate::bm25::{term_matches, Analyzer, AnalyzerKind};
use crate::eval::MethodReport;
use crate::metrics::Metrics;
use crate::model::Pooling;
use crate::panes::{Kind, PaneId, Panes};
use crate::pipeline::{
    ForwardPasses, Hit, MethodResult, Missing, Phase, SearchParams, SearchResults, Source, Sources,
};
use crate::teach::{similarity_matrices, DocFreq};

const SIZES: [(u16, u16); 3] = [(200, 50), (120, 40), (60, 20)];
const QUESTION: &str = "장마는 언제 중부지방에 비를 뿌리나?";

fn base() -> App {
    let mut app = App::new(
        SearchParams::default(),
        AnalyzerKind::Bigram,
        std::sync::Arc::new(Panes::standard()),
        Labels {
            model: "snunlp/KR-SBERT-V40K-klueNLI-augSTS".into(),
            reranker: "shangrilar/klue-roberta-small-cross-encoder".into(),
            device: "cpu (2 threads)".into(),
        },
        42,
    );
    app.color = false;
    app.corpus = Some(Arc::new(fixture::corpus()));
    app.parts[Part::Corpus as usize] = PartState::Ready;
    app
}

fn pooling(name: &str) -> Pooling {
    Pooling::single(name.parse().expect("a pooling mode"))
}

pub(super) fn ready() -> App {
    let mut app = base();
    app.analyzer = Some(Analyzer::Bigram);
    app.pooling = Some(PoolingState {
        current: pooling("mean"),
        default: pooling("mean"),
    });
    app.parts = [
        PartState::Ready,
        PartState::Ready,
        PartState::Ready,
        PartState::Ready,
    ];
    app
}

fn loading() -> App {
    let mut app = base();
    app.analyzer = Some(Analyzer::Bigram);
    app.parts[Part::Bm25 as usize] = PartState::Ready;
    app.stage = Some(Stage {
        elapsed: Duration::ZERO,
        step: "embedding passages".into(),
        total: Some(5),
        done: 2,
        started: None,
        eta: Some(Duration::from_secs(3)),
    });
    app
}

/// `(passage, score, dense rank, bm25 rank, hybrid rank)`.
type Row = (usize, f64, Option<usize>, Option<usize>, Option<usize>);

fn method_result(method: Kind, rows: &[Row], ms: u64, terms: &[String]) -> MethodResult {
    let corpus = fixture::corpus();
    let source = |i: u8, kind: Kind, rank: Option<usize>| Source {
        pane: PaneId(i),
        kind,
        rank,
    };
    MethodResult {
        pane: PaneId(Kind::ALL.iter().position(|&m| m == method).unwrap() as u8),
        method,
        hits: rows
            .iter()
            .map(|&(passage, score, dense, bm25, hybrid)| {
                let m = term_matches(&Analyzer::Bigram, terms, &corpus.passages[passage].text);
                Hit {
                    passage,
                    score,
                    probability: (method == Kind::Rerank).then(|| 1.0 / (1.0 + (-score).exp())),
                    sources: Sources(match method {
                        Kind::Hybrid => {
                            vec![source(0, Kind::Dense, dense), source(1, Kind::Bm25, bm25)]
                        }
                        Kind::Rerank => vec![
                            source(2, Kind::Hybrid, hybrid),
                            source(0, Kind::Dense, dense),
                            source(1, Kind::Bm25, bm25),
                        ],
                        _ => vec![],
                    }),
                    matched: m.terms,
                    spans: m.spans,
                }
            })
            .collect(),
        elapsed: Duration::from_micros(ms * 1000 + 250),
        error: None,
        note: None,
        ranking: rows.iter().map(|r| (r.0, r.1)).collect(),
    }
}

fn results() -> SearchResults {
    let terms = Analyzer::Bigram.query_terms(QUESTION);
    SearchResults {
        query: QUESTION.into(),
        panes: std::sync::Arc::new(Panes::standard()),
        inputs: vec![],
        terms: terms.clone(),
        encode: Duration::from_micros(11_500),
        forward_passes: ForwardPasses {
            bi_encoder: 1,
            cross_encoder: 5,
            cross_cached: 0,
        },
        results: vec![
            method_result(
                Kind::Dense,
                &[
                    (3, 0.6123, None, None, None),
                    (0, 0.5871, None, None, None),
                    (4, 0.3312, None, None, None),
                    (2, 0.2101, None, None, None),
                    (1, 0.1022, None, None, None),
                ],
                12,
                &terms,
            ),
            method_result(
                Kind::Bm25,
                &[(0, 7.4123, None, None, None), (3, 1.2044, None, None, None)],
                0,
                &terms,
            ),
            method_result(
                Kind::Hybrid,
                &[
                    (0, 0.0325, Some(2), Some(1), Some(1)),
                    (3, 0.0323, Some(1), Some(2), Some(2)),
                    (4, 0.0159, Some(3), None, Some(3)),
                    (2, 0.0156, Some(4), None, Some(4)),
                    (1, 0.0154, Some(5), None, Some(5)),
                ],
                0,
                &terms,
            ),
            method_result(
                Kind::Rerank,
                &[
                    (0, 5.8812, Some(2), Some(1), Some(1)),
                    (4, -2.0311, Some(3), None, Some(3)),
                    (3, -3.5120, Some(1), Some(2), Some(2)),
                    (2, -7.9034, Some(4), None, Some(4)),
                    (1, -8.1200, Some(5), None, Some(5)),
                ],
                48,
                &terms,
            ),
        ],
    }
}

pub(super) fn with_results() -> App {
    let mut app = ready();
    app.input.set(QUESTION);
    app.sent = Some(QUESTION.into());
    app.history.push(QUESTION.into());
    app.results = Some(results());
    app.focus = Focus::Pane(PaneId::new(3));
    app.pane = PaneId::new(3);
    app.selected[PaneId::new(3)] = 1;
    app
}

fn detail() -> App {
    let mut app = with_results();
    let ranks = super::overlays::detail::pane_ranks(&app, 0);
    let analysis = super::overlays::detail::analysis(&app, 0);
    app.overlay = Overlay::Detail {
        passage: 0,
        scroll: 0,
        ranks,
        analysis,
        why: None,
    };
    app
}

fn help() -> App {
    let mut app = with_results();
    app.overlay = Overlay::Help;
    app
}

/// The Hybrid pane's own settings (method, k, a weight per input, depth), then the session's.
fn settings() -> App {
    let mut app = with_results();
    app.pane = PaneId(2);
    app.overlay = Overlay::Settings { row: 2 };
    app
}

/// The chapter's example computed: the sparse matrices for real (IDF over the fixture
/// corpus, bigram analyzer), the dense one fixed by hand.
fn playground() -> App {
    let mut app = with_results();
    app.overlay = Overlay::Playground;
    let mut pg = Playground::default();
    let sentences = pg.sentences();
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let corpus = fixture::corpus();
    let texts: Vec<&str> = corpus.texts();
    let df = DocFreq::fit(&texts, &Analyzer::Bigram);
    pg.generation = 1;
    pg.computed = sentences.clone();
    pg.sparse = Some(Ok(SparseOutcome {
        matrices: similarity_matrices(&refs, &Analyzer::Bigram, &df, None),
        idf: "IDF over 5 passages, analyzer bigram".into(),
        shared: crate::teach::shared_terms(&refs, &Analyzer::Bigram),
        seen: Vec::new(),
    }));
    pg.dense = DenseCell::Done(Ok(DenseOutcome {
        matrix: vec![
            vec![1.0, 0.7132, 0.2841],
            vec![0.7132, 1.0, 0.3307],
            vec![0.2841, 0.3307, 1.0],
        ],
        pooling: "mean".into(),
    }));
    app.playground = pg;
    app
}

/// Just computed while the passages are embedded again: the dense block waits.
fn playground_waiting() -> App {
    let mut app = playground();
    app.parts[Part::Dense as usize] = PartState::Loading;
    app.pooling = Some(PoolingState {
        current: pooling("cls"),
        default: pooling("mean"),
    });
    app.playground.dense = DenseCell::Waiting;
    app.playground.lines[2].set("기차가 옵니다 옵니다");
    app
}

fn walkthrough() -> App {
    let mut app = with_results();
    app.overlay = Overlay::Walkthrough;
    app
}

fn metrics(r1: f64, r5: f64, r10: f64, mrr: f64, ndcg: f64) -> Metrics {
    Metrics {
        recall_1: r1,
        recall_5: r5,
        recall_10: r10,
        mrr_10: mrr,
        ndcg_10: ndcg,
    }
}

fn evaluation() -> App {
    let mut app = with_results();
    app.overlay = Overlay::Eval;
    let mut reports = BTreeMap::new();
    for (name, m, qps) in [
        ("dense", metrics(0.50, 0.75, 1.0, 0.625, 0.7154), 85.0),
        ("bm25", metrics(0.75, 1.0, 1.0, 0.8333, 0.8770), 2400.0),
        ("hybrid", metrics(0.75, 1.0, 1.0, 0.8750, 0.9077), 80.2),
        ("rerank", metrics(1.0, 1.0, 1.0, 1.0, 1.0), 6.4),
    ] {
        reports.insert(name.to_owned(), MethodReport { metrics: m, qps });
    }
    app.eval.state = EvalState::Done(Ok(EvalOutcome {
        questions: 4,
        panes: Kind::ALL.iter().map(|k| k.name().to_owned()).collect(),
        reports,
        skipped: BTreeMap::new(),
        settings: "RRF k 60 over top 100 · weights dense 1 BM25 1 · rerank depth 30 · BM25 bigram · encoder test|mean|norm · cpu (2 threads) Float".into(),
        labels: "labels: dataset gold passages (4 questions)".into(),
        judged: BTreeMap::new(),
        outcomes: fixture_outcomes(),
    }));
    app
}

/// Four questions' gold ranks: dense finds the first at 1 where BM25 misses it, BM25 the
/// third where dense has it at 15.
fn fixture_outcomes() -> Vec<crate::eval::QueryOutcome> {
    let corpus = fixture::corpus();
    let ranks: [[Option<usize>; 4]; 4] = [
        [Some(1), None, Some(2), Some(1)],
        [Some(2), Some(1), Some(1), Some(1)],
        [Some(15), Some(1), Some(3), Some(2)],
        [Some(3), Some(2), Some(1), Some(4)],
    ];
    corpus
        .questions
        .iter()
        .zip(ranks)
        .map(|(q, r)| crate::eval::QueryOutcome {
            id: q.id.clone(),
            question: q.text.clone(),
            gold: q.passage,
            ranks: Kind::ALL
                .iter()
                .map(|m| m.name().to_owned())
                .zip(r)
                .collect(),
        })
        .collect()
}

/// The fast panes are done, the rerank pane's questions run.
fn evaluation_running() -> App {
    let mut app = with_results();
    if let EvalState::Done(Ok(mut done)) = evaluation().eval.state {
        done.reports.remove("rerank");
        app.eval.partial = Some(done);
    }
    app.overlay = Overlay::Eval;
    app.eval.state = EvalState::Running {
        done: 3,
        total: 4,
        started: Instant::now(),
        eta: Some(Duration::from_secs(75)),
    };
    app
}

fn dense_error() -> App {
    let mut app = with_results();
    let why = "finding model snunlp/KR-SBERT-V40K-klueNLI-augSTS: not in the local hub cache and --offline was given";
    app.parts[Part::Dense as usize] = PartState::Failed(Missing::failed(Phase::Load, why));
    if let Some(r) = &mut app.results {
        for m in &mut r.results {
            match m.method {
                Kind::Dense => {
                    m.hits.clear();
                    m.error = Some(Missing::failed(Phase::Load, why));
                }
                Kind::Hybrid => m.note = Some(format!("fused without dense: {why}")),
                _ => {}
            }
        }
    }
    app
}

/// The screen as `TestBackend` shows it.
pub(super) fn render(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    terminal.draw(|f| draw(f, app)).expect("draw");
    terminal.backend().to_string()
}

/// The screen for a snapshot: without `TestBackend`'s notes on wide characters' own
/// continuation cells (checked by [`overwritten`] first), which would bury the picture.
pub(super) fn picture(screen: &str) -> String {
    screen
        .lines()
        .map(|l| {
            l.split_once(" Hidden by multi-width symbols")
                .map_or(l, |(a, _)| a)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a wide character was cut by something drawn over its right half. (A wide
/// character's own continuation cell holds a space, which `TestBackend` also lists.)
pub(super) fn overwritten(screen: &str) -> bool {
    screen.lines().any(|line| {
        line.split_once("Hidden by multi-width symbols: ")
            .is_some_and(|(_, list)| list.replace(", \" \")", "").contains('"'))
    })
}

fn check(name: &str, app: &App) {
    for (w, h) in SIZES {
        let screen = render(app, w, h);
        assert!(
            !overwritten(&screen),
            "{name} {w}x{h}: a wide character was overwritten\n{screen}"
        );
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), picture(&screen));
    }
}

#[test]
fn loading_with_progress() {
    check("loading", &loading());
}

#[test]
fn ready_and_empty() {
    check("ready_empty", &ready());
}

#[test]
fn four_panes_with_gold_markers_and_rank_movements() {
    let app = with_results();
    let screen = render(&app, 200, 50);
    for m in Kind::ALL {
        assert!(screen.contains(m.title()), "{}", m.title());
    }
    assert!(screen.contains('✓'));
    assert!(screen.contains("h3 ↑1"), "{screen}");
    check("results", &app);
}

#[test]
fn detail_view() {
    let app = detail();
    assert!(render(&app, 120, 40).contains("7월 중순"));
    check("detail", &app);
}

/// Grades in every pane where the hit appears, and the judge view over the pooled hits.
#[test]
fn grades_show_in_every_pane_and_in_the_judge_view() {
    let mut app = with_results();
    let query = app.results.as_ref().unwrap().query.clone();
    app.judged.insert(
        crate::judgments::normalize_query(&query),
        BTreeMap::from([(0, 3), (3, 0)]),
    );
    let screen = render(&app, 200, 50);
    assert!(screen.matches("[3]").count() >= 3, "{screen}");
    check("graded", &app);
    app.overlay = Overlay::Judge {
        row: 1,
        queries: false,
    };
    let screen = render(&app, 120, 40);
    assert!(screen.contains("Judge · 2/"), "{screen}");
    assert!(screen.contains("[·]"), "{screen}");
    check("judge", &app);
}

/// At 80x24 the evaluation's table and its curves with the disagreement list take turns
/// (Tab), so every part is reachable.
#[test]
fn a_short_evaluation_overlay_pages_between_table_and_curves() {
    let mut app = evaluation();
    let table = render(&app, 80, 24);
    assert!(table.contains("Tab curves and disagreements"), "{table}");
    assert!(table.contains("MRR@10"), "{table}");
    update(
        &mut app,
        Msg::Key(KeyEvent::from(KeyCode::Tab)),
        Instant::now(),
    );
    let curves = render(&app, 80, 24);
    assert!(curves.contains("Where they disagree"), "{curves}");
    assert!(curves.contains("recall@k"), "{curves}");
}

/// At 80x24 and 50x12 scrolling reaches the passage's end, its last question and answer.
#[test]
fn detail_view_scrolls_to_the_last_answer_on_small_terminals() {
    let mut app = detail();
    for (w, h) in [(80, 24), (50, 12)] {
        let Overlay::Detail { scroll, .. } = &mut app.overlay else {
            panic!("detail");
        };
        *scroll = 0;
        let top = render(&app, w, h);
        assert!(top.contains("Semantic"), "{w}x{h}:\n{top}");
        for _ in 0..60 {
            update(
                &mut app,
                Msg::Key(KeyEvent::from(KeyCode::Char('j'))),
                Instant::now(),
            );
        }
        let end = render(&app, w, h);
        assert!(end.contains("answer:"), "{w}x{h}:\n{end}");
        assert!(end.contains("7월"), "{w}x{h}:\n{end}");
    }
}

#[test]
fn help_overlay() {
    check("help", &help());
}

#[test]
fn settings_overlay() {
    check("settings", &settings());
}

#[test]
fn evaluation_overlay() {
    check("evaluation", &evaluation());
    let screen = render(&evaluation_running(), 120, 40);
    assert!(!overwritten(&screen));
    insta::assert_snapshot!("evaluation_running_120x40", picture(&screen));
    let mut app = evaluation_running();
    app.eval.state = EvalState::Cancelled { done: 3, total: 4 };
    let screen = render(&app, 120, 40);
    insta::assert_snapshot!("evaluation_cancelled_120x40", picture(&screen));
}

#[test]
fn playground_overlay_shows_four_matrices() {
    let app = playground();
    let screen = render(&app, 120, 40);
    for title in ["one-hot", "bag of words", "TF-IDF", "dense (mean pooling)"] {
        assert!(screen.contains(title), "{title}\n{screen}");
    }
    assert!(screen.contains("0.71"), "the dense cosine\n{screen}");
    check("playground", &app);
    let screen = render(&playground_waiting(), 120, 40);
    assert!(screen.contains("waiting for the encoder"), "{screen}");
    assert!(screen.contains("edited"), "{screen}");
    assert!(!overwritten(&screen));
    insta::assert_snapshot!("playground_waiting_120x40", picture(&screen));
}

#[test]
fn playground_scale_reads_without_colour() {
    let mut app = playground();
    for color in [false, true] {
        app.color = color;
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("test terminal");
        terminal.draw(|f| draw(f, &app)).expect("draw");
        let buffer = terminal.backend().buffer();
        let colored = buffer
            .content
            .iter()
            .any(|c| c.fg != ratatui::style::Color::Reset);
        assert_eq!(colored, color);
        // The high band (the diagonal at least) is bold either way.
        assert!(buffer
            .content
            .iter()
            .any(|c| c.symbol() == "1" && c.modifier.contains(ratatui::style::Modifier::BOLD)));
    }
}

#[test]
fn walkthrough_page() {
    let app = walkthrough();
    let screen = render(&app, 120, 40);
    for step in [
        "one-hot",
        "TF-IDF",
        "pooling",
        "RRF",
        "evaluation",
        "--preset textbook",
    ] {
        assert!(screen.contains(step), "{step}\n{screen}");
    }
    check("walkthrough", &app);
}

#[test]
fn status_bar_leads_with_the_cost_of_the_two_encoder_designs() {
    let mut app = with_results();
    app.pooling = Some(PoolingState {
        current: pooling("cls"),
        default: pooling("mean"),
    });
    for w in [200u16, 120] {
        let screen = picture(&render(&app, w, 40));
        let status: Vec<&str> = screen.lines().skip(37).collect();
        let status = status.join("\n");
        assert!(
            status.contains("cost: bi-encoder 1 forward pass"),
            "{status}"
        );
        assert!(status.contains("pooling cls (default mean)"), "{status}");
        insta::assert_snapshot!(format!("status_bar_{w}"), status);
    }
}

#[test]
fn an_error_in_one_pane() {
    let app = dense_error();
    assert!(render(&app, 200, 50).contains("not available"));
    check("dense_error", &app);
}

#[test]
fn narrow_terminals_fall_back_to_a_grid_then_tabs() {
    let app = with_results();
    let screen = render(&app, 40, 12);
    assert!(screen.contains("Rerank"), "{screen}");
    assert!(!overwritten(&screen));
    insta::assert_snapshot!("results_40x12", picture(&screen));
}

#[test]
fn no_size_panics_or_overwrites_wide_characters() {
    let states = [
        loading(),
        ready(),
        with_results(),
        detail(),
        help(),
        settings(),
        evaluation(),
        dense_error(),
        playground(),
        playground_waiting(),
        walkthrough(),
    ];
    for app in &states {
        for w in (1..=130).step_by(7).chain([1, 2, 3, 39, 40, 41]) {
            for h in (1..=45).step_by(4).chain([1, 2, 12]) {
                let screen = render(app, w, h);
                assert!(!overwritten(&screen), "{w}x{h} {:?}\n{screen}", app.overlay);
            }
        }
    }
}

#[test]
fn worker_replies_flow_into_the_screen() {
    // The reducer and the view together: a reply with results shows in the panes.
    let mut app = ready();
    let now = Instant::now();
    app.input.set(QUESTION);
    let cmds = update(
        &mut app,
        Msg::Key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Enter,
        )),
        now,
    );
    assert_eq!(cmds.len(), 1);
    let generation = app.generation;
    update(
        &mut app,
        Msg::Worker(Reply::Results {
            generation,
            results: results(),
            rerank_total: None,
        }),
        now,
    );
    assert!(render(&app, 120, 40).contains("✓ 1 7.4123"));
}

#[test]
fn no_color_draws_highlights_with_modifiers_only() {
    let mut app = detail();
    for color in [false, true] {
        app.color = color;
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("test terminal");
        terminal.draw(|f| draw(f, &app)).expect("draw");
        let buffer = terminal.backend().buffer();
        let colored = buffer
            .content
            .iter()
            .any(|c| c.fg != ratatui::style::Color::Reset || c.bg != ratatui::style::Color::Reset);
        assert_eq!(colored, color, "color = {color}");
        let marked = buffer
            .content
            .iter()
            .any(|c| c.modifier.contains(ratatui::style::Modifier::UNDERLINED));
        assert!(marked || color, "highlights stay visible without colour");
    }
}
