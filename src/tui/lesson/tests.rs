//! Lesson mode: the steps file, step navigation through the reducer, what each built-in
//! step sets up, the session file's round trip and errors, and the panel on screen.
use std::sync::Arc;
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::format::{Lesson, OverlayName, PaneSettings};
use super::saved::SessionFile;
use super::*;
use crate::bm25::{Analyzer, AnalyzerKind};
use crate::fusion::FusionMethod;
use crate::panes::{Kind, PaneId, Panes, Retriever};
use crate::pipeline::SearchParams;
use crate::tui::protocol::{Msg, Reply};
use crate::tui::reducer::update;
use crate::tui::state::Labels;

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn new_app() -> App {
    App::new(
        SearchParams::default(),
        AnalyzerKind::Bigram,
        Arc::new(Panes::standard()),
        Labels::default(),
        7,
    )
}

/// The corpus and BM25 arrive.
fn make_ready(app: &mut App, now: Instant) -> Vec<Cmd> {
    let corpus = Arc::new(crate::tui::fixture::corpus());
    let mut cmds = update(app, Msg::Worker(Reply::Corpus(corpus)), now);
    cmds.extend(update(
        app,
        Msg::Worker(Reply::Bm25Ready(Analyzer::Bigram)),
        now,
    ));
    cmds
}

fn options() -> crate::session::Options {
    use crate::options::{ApiOptions, DataOptions, ModelOptions, RetrievalOptions};
    crate::session::Options {
        model: ModelOptions::default(),
        data: DataOptions::default(),
        retrieval: RetrievalOptions::default(),
        api: ApiOptions::default(),
        download_progress: false,
    }
}

fn ready_app() -> App {
    let mut app = new_app();
    make_ready(&mut app, Instant::now());
    app
}

const FIRST_QUESTION: &str = "장마는 언제 중부지방에 비를 뿌리나?";

fn searched(cmds: &[Cmd]) -> Vec<&str> {
    cmds.iter()
        .filter_map(|c| match c {
            Cmd::Search { query, .. } => Some(query.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_built_in_lesson_is_the_chapter_in_the_steps_format() {
    let lesson = Lesson::parse(format::BUILT_IN, "built-in").expect("the asset parses");
    let titles: Vec<&str> = lesson.steps.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "One-hot and bag of words",
            "TF-IDF",
            "Dense retrieval",
            "Bi-encoder vs cross-encoder: the cost",
            "BM25",
            "Hybrid: fusing two lists",
            "Reranking"
        ]
    );
    // No step states a number the screen does not compute: no digits in the prose but
    // the formula's 1 and the metric's name.
    for step in &lesson.steps {
        let text = step.text.replace("1/(k + rank)", "").replace("MRR@10", "");
        let mut text = text
            .replace("0-3", "")
            .replace("word2vec", "")
            .replace("BM25", "");
        // Names (F5, BM25, word2vec) are not numbers either.
        for f in (1..=12).rev() {
            text = text.replace(&format!("F{f}"), "");
        }
        assert!(
            !text.chars().any(|c| c.is_ascii_digit()),
            "a number in step {:?}: {text}",
            step.title
        );
    }
}

/// What each built-in step is expected to set up: (overlay, pane kind, query typed).
#[test]
fn each_built_in_step_sets_up_the_screen_it_describes() {
    let now = Instant::now();
    let mut app = ready_app();
    let cmds = update(&mut app, key(KeyCode::F(10)), now);
    let expected: [(Overlay, Option<Kind>, Option<&str>); 7] = [
        (Overlay::Playground, None, None),
        (Overlay::Playground, None, None),
        (Overlay::None, Some(Kind::Dense), Some(FIRST_QUESTION)),
        (Overlay::None, Some(Kind::Rerank), Some(FIRST_QUESTION)),
        (Overlay::None, Some(Kind::Bm25), Some(FIRST_QUESTION)),
        (Overlay::Fusion, Some(Kind::Hybrid), Some(FIRST_QUESTION)),
        (Overlay::None, Some(Kind::Rerank), Some(FIRST_QUESTION)),
    ];
    // Step 1: the playground computes the chapter's sentences at once.
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Cmd::Similar { sentences, .. }
            if sentences == &["잠이 안 옵니다", "졸음이 옵니다", "기차가 옵니다"])),
        "{cmds:?}"
    );
    for (i, (overlay, kind, query)) in expected.iter().enumerate() {
        if i > 0 {
            let cmds = update(&mut app, key(KeyCode::PageDown), now);
            if let Some(q) = query {
                assert_eq!(searched(&cmds), [*q], "step {}: one search", i + 1);
            }
            if i == 5 {
                assert!(
                    cmds.iter().any(|c| matches!(c, Cmd::Tune { .. })),
                    "the fusion lab runs: {cmds:?}"
                );
                assert!(
                    cmds.iter().any(|c| matches!(c, Cmd::SetPane { .. })),
                    "the hybrid pane gets the step's method: {cmds:?}"
                );
                let hybrid = app.spec.first(Kind::Hybrid).expect("a hybrid pane");
                let Retriever::Fusion { opts, .. } = &app.spec.get(hybrid).retriever else {
                    panic!("the hybrid pane fuses");
                };
                assert_eq!(opts.method, Some(FusionMethod::Rrf));
            }
        }
        assert_eq!(app.lesson.step, i);
        assert_eq!(&app.overlay, overlay, "step {}", i + 1);
        if let Some(kind) = kind {
            assert_eq!(app.method(app.pane), *kind, "step {}", i + 1);
        }
        if let Some(q) = query {
            assert_eq!(app.input.text, *q, "step {}", i + 1);
        }
        assert_eq!(app.focus, Focus::Query, "the user can type at once");
        assert_eq!(app.lesson.notice, None, "step {}", i + 1);
    }
}

#[test]
fn page_keys_walk_the_steps_and_stop_at_either_end() {
    let now = Instant::now();
    let mut app = ready_app();
    update(&mut app, key(KeyCode::F(10)), now);
    update(&mut app, key(KeyCode::PageUp), now);
    assert_eq!(app.lesson.step, 0);
    assert_eq!(
        app.notice.as_deref(),
        Some("this is the lesson's first step")
    );
    for _ in 0..10 {
        update(&mut app, key(KeyCode::PageDown), now);
    }
    assert_eq!(app.lesson.step, 6);
    assert_eq!(
        app.notice.as_deref(),
        Some("this is the lesson's last step")
    );
    update(&mut app, key(KeyCode::PageUp), now);
    update(&mut app, key(KeyCode::PageUp), now);
    assert_eq!(app.lesson.step, 4);
    assert_eq!(app.method(app.pane), Kind::Bm25);
    // Inside a step the query line takes typing as always.
    update(&mut app, key(KeyCode::Char('x')), now);
    assert_eq!(app.input.text, format!("{FIRST_QUESTION}x"));
    // F10 hides the panel (the keys go on as before), and shows the same step again.
    update(&mut app, key(KeyCode::F(10)), now);
    assert!(app.lesson.current().is_none());
    update(&mut app, key(KeyCode::PageDown), now);
    assert_eq!(app.lesson.step, 4);
    update(&mut app, key(KeyCode::F(10)), now);
    assert_eq!(app.lesson.current().map(|(_, i, n)| (i, n)), Some((4, 7)));
}

#[test]
fn the_detail_view_keeps_its_page_keys_during_a_lesson() {
    let now = Instant::now();
    let mut app = ready_app();
    update(&mut app, key(KeyCode::F(10)), now);
    update(&mut app, key(KeyCode::PageDown), now);
    app.overlay = crate::tui::overlays::detail::on(&app, 0);
    update(&mut app, key(KeyCode::PageDown), now);
    assert_eq!(app.lesson.step, 1, "PgDn scrolled the passage instead");
    assert!(matches!(app.overlay, Overlay::Detail { scroll: 10, .. }));
}

#[test]
fn a_lesson_opened_before_the_corpus_sets_its_step_up_when_it_arrives() {
    let now = Instant::now();
    let mut app = new_app();
    let mut lesson = Lesson::built_in();
    lesson.steps.remove(0);
    lesson.steps.remove(0);
    let cmds = begin(&mut app, lesson, "test".into(), now);
    assert!(cmds.is_empty());
    assert!(app.lesson.pending);
    assert_eq!(app.input.text, "");
    let cmds = make_ready(&mut app, now);
    assert_eq!(app.input.text, FIRST_QUESTION);
    assert!(searched(&cmds).contains(&FIRST_QUESTION));
    assert!(!app.lesson.pending);
}

#[test]
fn a_step_naming_a_pane_that_is_not_there_says_so_and_sets_up_the_rest() {
    let now = Instant::now();
    let mut app = new_app();
    app.spec = Arc::new(Panes::from_methods("dense,bm25").expect("a spec"));
    app.selected = crate::tui::state::PerPane::new(2, 0);
    make_ready(&mut app, now);
    let text = r#"
[[step]]
title = "t"
text = "x"
query = "김장"
pane = "rerank"
[step.panes.bm25]
pooling = "mean"
"#;
    let lesson = Lesson::parse(text, "t.toml").expect("parses");
    begin(&mut app, lesson, "t.toml".into(), now);
    assert_eq!(app.input.text, "김장");
    let notice = app.lesson.notice.clone().unwrap_or_default();
    assert!(
        notice.contains("panes.bm25.pooling: a bm25 pane has no pooling"),
        "{notice}"
    );
    assert!(notice.contains("no pane `rerank` on screen"), "{notice}");
}

fn parse_err(text: &str) -> String {
    match Lesson::parse(text, "class.toml") {
        Ok(l) => panic!("parsed: {l:?}"),
        Err(e) => e.0,
    }
}

#[test]
fn a_good_steps_file_reads_every_field() {
    let text = r#"
title = "수업"
[[step]]
title = "BM25"
text = """줄 하나
줄 둘"""
question = 2
pane = "bm25"
overlay = "settings"
top_k = 5
[step.panes.bm25]
analyzer = "whitespace"
[step.panes.hybrid]
method = "convex"
alpha = 0.3
norm = "zscore"
depth = 50
weights = [1.0, 0.5]
[[step]]
title = "play"
text = "y"
sentences = ["a", "b"]
overlay = "playground"
"#;
    let lesson = Lesson::parse(text, "class.toml").expect("parses");
    assert_eq!(lesson.title.as_deref(), Some("수업"));
    let s = &lesson.steps[0];
    assert_eq!((s.question, s.top_k), (Some(2), Some(5)));
    assert_eq!(s.overlay, OverlayName::Settings);
    assert_eq!(s.panes["hybrid"].alpha, Some(0.3));
    assert_eq!(s.panes["bm25"].analyzer.as_deref(), Some("whitespace"));
    assert_eq!(lesson.steps[1].overlay, OverlayName::Playground);
}

#[test]
fn bad_steps_files_name_the_file_the_step_and_the_field() {
    let e = parse_err("[[step]]\ntitle = \"a\"\ntext = \"b\"\n[[step]]\ntitle = \"c\"\ntext = \"d\"\noverlayy = \"x\"\n");
    assert!(e.starts_with("lesson file class.toml: step 2:"), "{e}");
    assert!(
        e.contains("unknown field `overlayy`") && e.contains("line 7"),
        "{e}"
    );
    let e = parse_err("[[step]]\ntitle = \"a\"\ntext = \"b\"\noverlay = \"judge\"\n");
    assert!(
        e.contains("step 1:") && e.contains("unknown variant `judge`"),
        "{e}"
    );
    assert!(e.contains("overlay = \"judge\""), "{e}");
    let e = parse_err("[[step]]\ntitle = \"a\"\ntext = \"b\"\ntop_k = \"ten\"\n");
    assert!(e.contains("invalid type") && e.contains("top_k"), "{e}");
    let e = parse_err("[[step]]\ntitle = \"a\"\n");
    assert!(e.contains("missing field `text`"), "{e}");
    let e = parse_err("title = \"no steps\"\n");
    assert!(e.contains("class.toml: no steps"), "{e}");
    let e = parse_err(
        "[[step]]\ntitle = \"a\"\ntext = \"b\"\n[step.panes.bm25]\nanalyzer = \"jamo\"\n",
    );
    assert!(
        e.starts_with("lesson file class.toml: step 1 (\"a\"): panes.bm25.analyzer: unknown BM25 analyzer `jamo`"),
        "{e}"
    );
    let e = parse_err("[[step]]\ntitle = \"a\"\ntext = \"b\"\nquery = \"q\"\nquestion = 1\n");
    assert!(
        e.contains("step 1 (\"a\"): question: give query or question"),
        "{e}"
    );
    let e = parse_err("[[step]]\ntitle = \"a\"\ntext = \"b\"\nsentences = [\"one\"]\n");
    assert!(e.contains("sentences: the playground compares 2 to"), "{e}");
    let e = parse_err("[[step]\ntitle = 1");
    assert!(e.starts_with("lesson file class.toml:"), "{e}");
    let missing = Lesson::read(std::path::Path::new("/nonexistent/lesson.toml"))
        .expect_err("no such file")
        .0;
    assert!(
        missing.starts_with("lesson file /nonexistent/lesson.toml: "),
        "{missing}"
    );
}

#[test]
fn a_saved_session_restores_the_same_screen() {
    let now = Instant::now();
    let mut app = ready_app();
    update(&mut app, key(KeyCode::F(10)), now);
    for _ in 0..5 {
        update(&mut app, key(KeyCode::PageDown), now);
    }
    // The user changes things inside the step: a BM25 analyzer, top-k, another query.
    let bm25 = app.spec.first(Kind::Bm25).expect("bm25");
    crate::tui::settings::set_pane(
        &mut app,
        bm25,
        Retriever::Bm25(Some(AnalyzerKind::Whitespace)),
    );
    app.params.top_k = 7;
    app.live = false;
    app.input.set("김치 담그기");
    app.search();
    app.pane = bm25;
    app.lesson.panes = Some("dense,bm25,hybrid,rerank".into());
    let cmds = save(&mut app);
    let [Cmd::SaveSession { path, text }] = cmds.as_slice() else {
        panic!("{cmds:?}");
    };
    assert_eq!(path, std::path::Path::new(DEFAULT_SESSION_FILE));
    let file = SessionFile::parse(text, "s.toml").expect("reads back");
    assert_eq!(file, SessionFile::of(&app));

    // A new explorer from the file: panes and settings before start-up, then the rest.
    let mut opts = options();
    let lesson = Some((Lesson::built_in(), "built-in".to_owned()));
    let start = Start {
        lesson,
        session: Some(("s.toml".into(), file)),
    };
    let methods = start.panes(&mut opts, None).expect("no conflict");
    assert_eq!(
        opts.retrieval.panes.as_deref(),
        Some("dense,bm25,hybrid,rerank")
    );
    assert_eq!(opts.retrieval.top_k, 7);
    let plan = crate::plan::Plan::new(&opts, methods.as_deref()).expect("plan");
    let plan = start.plan(&opts, plan).expect("settings apply");
    let params = SearchParams {
        top_k: opts.retrieval.top_k,
        ..SearchParams::default()
    };
    let mut back = App::new(
        params,
        AnalyzerKind::Bigram,
        Arc::new(plan.panes.clone()),
        Labels::default(),
        7,
    );
    start.restore(&mut back, &opts, methods, now);
    assert_eq!(*back.spec, *app.spec);
    assert_eq!(back.input.text, "김치 담그기");
    assert_eq!(back.history, app.history);
    assert_eq!((back.pane, back.live, back.params.top_k), (bm25, false, 7));
    assert_eq!(back.lesson.current().map(|(_, i, _)| i), Some(5));
    assert_eq!(SessionFile::of(&back), SessionFile::of(&app));
}

#[test]
fn broken_and_foreign_session_files_say_what_is_wrong() {
    let err = |text: &str| SessionFile::parse(text, "s.toml").expect_err(text);
    assert!(err("version = 2\n").contains("version 2; this bigyo reads version 1"));
    assert!(err("query = \"x\"\n").contains("s.toml: no `version` field"));
    let e = err("version = 1\nlive = true\ncolour = \"red\"\n");
    assert!(
        e.contains("unknown field `colour`") && e.contains("line 3"),
        "{e}"
    );
    assert!(err("version = 1\nquery = [").contains("s.toml: not a TOML file"));
    let e = err("version = 1\n[settings.hybrid]\nalpha = 2.0\n");
    assert!(
        e.contains("settings.hybrid.alpha: 2 is outside 0..=1"),
        "{e}"
    );
    let e = err("version = 1\n[lesson]\nsteps = \"built-in\"\nstep = 0\n");
    assert!(e.contains("lesson.step counts from 1"), "{e}");
    // A pane the spec does not have, and a flag that contradicts the saved panes.
    let file = SessionFile::parse(
        "version = 1\n[settings.sparse]\nanalyzer = \"bigram\"\n",
        "s.toml",
    )
    .expect("reads");
    let mut panes = Panes::standard();
    let e = file
        .apply_settings(&mut panes, AnalyzerKind::Bigram, "s.toml")
        .expect_err("no such pane");
    assert!(e.contains("settings.sparse: no pane of that name"), "{e}");
    let start = Start {
        lesson: None,
        session: Some(("s.toml".into(), file)),
    };
    let mut opts = options();
    opts.retrieval.panes = Some("bm25".into());
    let e = start
        .panes(&mut opts, None)
        .expect_err("conflict")
        .to_string();
    assert!(e.contains("s.toml was saved with the default panes"), "{e}");
}

#[test]
fn pane_settings_round_trip_through_the_session_file_form() {
    let spec = Panes::parse(
        "dense:pooling=cls,bm25:whitespace,hybrid:method=convex,alpha=0.3,rerank:depth=20",
    )
    .expect("spec");
    for id in spec.ids() {
        let r = &spec.get(id).retriever;
        let s = pane_settings::settings_of(r, AnalyzerKind::Bigram);
        let default = Panes::standard();
        let base = &default
            .get(pane_settings::find_pane(&default, r.kind().name()).expect("kind"))
            .retriever;
        let back = pane_settings::retriever_with(base, &s, AnalyzerKind::Bigram).expect("applies");
        assert_eq!(&back, r, "{s:?}");
    }
    let s = PaneSettings {
        weights: Some(vec![1.0]),
        ..Default::default()
    };
    let hybrid = Panes::standard().get(PaneId::new(2)).retriever.clone();
    let e =
        pane_settings::retriever_with(&hybrid, &s, AnalyzerKind::Bigram).expect_err("one weight");
    assert_eq!(e.0, "weights");
}

mod screen {
    use super::*;
    use crate::tui::snapshots::{picture, render, with_results};

    /// A step with the explorer's results on screen: its text above the status bar, the
    /// pane it is about shown.
    fn on_step(index: usize) -> App {
        let mut app = with_results();
        app.lesson.lesson = Some(Arc::new(Lesson::built_in()));
        app.lesson.source = "built-in".into();
        app.lesson.visible = true;
        app.lesson.step = index;
        let kind = [
            Kind::Dense,
            Kind::Dense,
            Kind::Dense,
            Kind::Rerank,
            Kind::Bm25,
        ][index];
        app.pane = app.spec.first(kind).expect("pane");
        app.focus = Focus::Query;
        app
    }

    #[test]
    fn a_lesson_step_at_80x24_and_160x45() {
        for (name, index) in [("lesson_bm25", 4), ("lesson_cost", 3)] {
            for (w, h) in [(80, 24), (160, 45)] {
                let screen = render(&on_step(index), w, h);
                assert!(!crate::tui::snapshots::overwritten(&screen), "{screen}");
                insta::assert_snapshot!(format!("{name}_{w}x{h}"), picture(&screen));
            }
        }
    }
}
