//! The playground and the help pages.
use super::*;

#[test]
fn playground_opens_on_the_chapter_example_and_computes_it() {
    let mut app = ready_app();
    let t0 = Instant::now();
    let cmds = update(&mut app, key(KeyCode::F(4)), t0);
    assert_eq!(app.overlay, Overlay::Playground);
    assert_eq!(
        cmds,
        [Cmd::Similar {
            generation: 1,
            sentences: PLAYGROUND_EXAMPLE.map(String::from).to_vec()
        }]
    );
    assert_eq!(app.playground.dense, DenseCell::Waiting);
    update(&mut app, key(KeyCode::Esc), t0);
    assert_eq!(app.overlay, Overlay::None);
    assert!(
        update(&mut app, key(KeyCode::F(4)), t0).is_empty(),
        "computed once; F5 computes again"
    );
}

#[test]
fn playground_lines_edit_like_a_small_text_area() {
    let mut app = ready_app();
    let t0 = Instant::now();
    update(&mut app, key(KeyCode::F(4)), t0);
    // The cursor starts at the end of the last line; Enter opens a new one below.
    update(&mut app, key(KeyCode::Enter), t0);
    type_text(&mut app, "눈이 옵니다", t0);
    assert_eq!(app.playground.lines.len(), 4);
    assert_eq!(app.playground.lines[3].text, "눈이 옵니다");
    assert!(app.playground.edited());
    // Enter mid-line splits it; Backspace at the start joins it back.
    for _ in 0..3 {
        update(&mut app, key(KeyCode::Left), t0);
    }
    update(&mut app, key(KeyCode::Enter), t0);
    assert_eq!(app.playground.lines[3].text, "눈이 ");
    assert_eq!(app.playground.lines[4].text, "옵니다");
    update(&mut app, key(KeyCode::Backspace), t0);
    assert_eq!(app.playground.lines[3].text, "눈이 옵니다");
    assert_eq!(app.playground.row, 3);
    // Up keeps the column where it can; Ctrl-D deletes the line.
    update(&mut app, key(KeyCode::Up), t0);
    assert_eq!(app.playground.row, 2);
    update(&mut app, ctrl('d'), t0);
    assert_eq!(
        app.playground.sentences(),
        ["잠이 안 옵니다", "졸음이 옵니다", "눈이 옵니다"]
    );
    // q is text here, not quit.
    update(&mut app, key(KeyCode::Char('q')), t0);
    assert!(!app.quit);
    update(&mut app, key(KeyCode::Backspace), t0);
    let cmds = update(&mut app, key(KeyCode::F(5)), t0);
    assert!(
        matches!(&cmds[..], [Cmd::Similar { generation: 2, sentences }] if sentences.len() == 3)
    );
    assert!(!app.playground.edited());
    // A late answer for the first computation is dropped.
    let stale = Reply::PlaygroundDense {
        generation: 1,
        result: Err(Missing::failed(Phase::Load, "old")),
    };
    update(&mut app, Msg::Worker(stale), t0);
    assert_eq!(app.playground.dense, DenseCell::Waiting);
    let fresh = Reply::PlaygroundDense {
        generation: 2,
        result: Err(Missing::failed(Phase::Load, "no encoder")),
    };
    update(&mut app, Msg::Worker(fresh), t0);
    assert_eq!(
        app.playground.dense,
        DenseCell::Done(Err(Missing::failed(Phase::Load, "no encoder")))
    );
    assert_eq!(
        update(&mut app, ctrl('g'), t0).len(),
        1,
        "Ctrl-G computes too"
    );
}

#[test]
fn the_playground_holds_at_most_eight_sentences() {
    let mut app = ready_app();
    let t0 = Instant::now();
    update(&mut app, key(KeyCode::F(4)), t0);
    for _ in 0..20 {
        update(&mut app, key(KeyCode::Enter), t0);
    }
    assert_eq!(app.playground.lines.len(), PLAYGROUND_MAX);
}

#[test]
fn help_has_a_walkthrough_page_behind_tab() {
    let mut app = ready_app();
    let t0 = Instant::now();
    update(&mut app, key(KeyCode::F(1)), t0);
    update(&mut app, key(KeyCode::Tab), t0);
    assert_eq!(app.overlay, Overlay::Walkthrough);
    update(&mut app, key(KeyCode::Tab), t0);
    assert_eq!(app.overlay, Overlay::Help);
    update(&mut app, key(KeyCode::Esc), t0);
    update(&mut app, key(KeyCode::Tab), t0);
    update(&mut app, key(KeyCode::Char('w')), t0);
    assert_eq!(app.overlay, Overlay::Walkthrough, "w from a pane");
    update(&mut app, key(KeyCode::Esc), t0);
    assert_eq!(app.overlay, Overlay::None);
}

#[test]
fn f9_in_the_playground_asks_for_the_chapter_words_and_word2vec_replies_are_kept() {
    use crate::tui::words::{Trained, WordsOutcome, WordsStage};
    let mut app = ready_app();
    let t0 = Instant::now();
    update(&mut app, key(KeyCode::F(4)), t0);
    let cmds = update(&mut app, key(KeyCode::F(9)), t0);
    let words: Vec<String> = ["학교", "공부", "운동"].map(String::from).to_vec();
    assert_eq!(app.playground.sentences(), words);
    assert!(cmds.contains(&Cmd::Word2vec {
        generation: 1,
        words: words.clone(),
        trained: None,
    }));
    assert!(matches!(app.words.stage, WordsStage::Training { .. }));
    let vectors =
        crate::word2vec::WordVectors::new(words.clone(), 1, vec![1.0, 0.5, -1.0]).unwrap();
    let report = crate::word2vec::chapter::compare(
        &words,
        &crate::bm25::Analyzer::Bigram,
        &vectors,
        None,
        2,
    );
    let trained = std::sync::Arc::new(Trained {
        vectors,
        analyzer: "bigram".into(),
        about: "test".into(),
    });
    let outcome = WordsOutcome { trained, report };
    // A stale generation's vectors are kept, its report is not shown.
    update(
        &mut app,
        Msg::Worker(Reply::Word2vec {
            generation: 0,
            result: Ok(Box::new(outcome.clone())),
        }),
        t0,
    );
    assert!(app.words.trained.is_some());
    assert!(matches!(app.words.stage, WordsStage::Training { .. }));
    update(
        &mut app,
        Msg::Worker(Reply::Word2vec {
            generation: 1,
            result: Ok(Box::new(outcome)),
        }),
        t0,
    );
    assert!(matches!(app.words.stage, WordsStage::Done(Ok(_))));
    // F8 asks again with the vectors it holds: no training this time.
    let cmds = update(&mut app, key(KeyCode::F(8)), t0);
    assert!(matches!(
        &cmds[..],
        [Cmd::Word2vec {
            trained: Some(_),
            ..
        }]
    ));
}

#[test]
fn the_fusion_labs_result_line_is_whole_at_160_and_250_columns() {
    use crate::tui::overlays::fusion_lab::LabState;
    use crate::tune::{self, QueryLists, Split};
    let q = QueryLists {
        gold: 0,
        dense: vec![(0, 0.9), (1, 0.5), (2, 0.1)],
        bm25: vec![(1, 3.0), (0, 2.0), (2, 1.0)],
    };
    let queries = vec![q; 6];
    let split = Split::Holdout {
        ratio: 0.5,
        seed: 3,
    };
    let report = tune::tune(&queries, &tune::grid(10), split).unwrap();
    let idx = tune::holdout(6, 0.5, 3).unwrap().0;
    let lab = FusionLab {
        tune_baselines: tune::baselines_on(&queries, &idx),
        default_test: report.baselines.bm25,
        report,
    };
    let result = format!(
        "held-out MRR@10 {:.3} (BM25 {:.3}, dense {:.3}, default RRF {:.3})",
        lab.report.best.test.mrr_10,
        lab.report.baselines.bm25.mrr_10,
        lab.report.baselines.dense.mrr_10,
        lab.default_test.mrr_10
    );
    let chosen = lab.report.best.fusion.describe();
    let mut app = ready_app();
    app.lab.state = LabState::Done(Ok(Box::new(lab)));
    app.overlay = Overlay::Fusion;
    for (w, h) in [(160, 45), (250, 50)] {
        let screen = crate::tui::snapshots::render(&app, w, h);
        assert!(screen.contains(&result), "{result:?} at {w}x{h}:\n{screen}");
        assert!(screen.contains(&chosen), "{chosen:?} at {w}x{h}:\n{screen}");
    }
}
