//! The evaluation overlay, its disagreement list and the fusion lab.
use super::*;

#[test]
fn evaluation_runs_once_per_request_and_reports_progress() {
    let mut app = ready_app();
    let t0 = Instant::now();
    assert_eq!(
        update(&mut app, key(KeyCode::F(3)), t0),
        [Cmd::Evaluate {
            generation: 1,
            labels: EvalLabels::Gold
        }]
    );
    assert!(matches!(
        app.eval.state,
        EvalState::Running {
            done: 0,
            total: 4,
            ..
        }
    ));
    update(
        &mut app,
        Msg::Worker(Reply::EvalProgress {
            generation: 1,
            done: 2,
            total: 4,
        }),
        t0 + Duration::from_secs(10),
    );
    let EvalState::Running { done: 2, eta, .. } = app.eval.state else {
        panic!("{:?}", app.eval.state);
    };
    assert_eq!(eta, Some(Duration::from_secs(10)), "two more at 5 s each");
    assert!(
        update(&mut app, key(KeyCode::Char('r')), t0).is_empty(),
        "running"
    );
    update(
        &mut app,
        Msg::Worker(Reply::EvalDone {
            generation: 1,
            outcome: Err(Missing::failed(Phase::Evaluate, "no questions")),
        }),
        t0,
    );
    update(&mut app, key(KeyCode::Esc), t0);
    assert!(
        update(&mut app, key(KeyCode::F(3)), t0).is_empty(),
        "shows the last run"
    );
    assert_eq!(
        update(&mut app, key(KeyCode::Char('r')), t0),
        [Cmd::Evaluate {
            generation: 2,
            labels: EvalLabels::Gold
        }]
    );
}

#[test]
fn a_running_evaluation_never_holds_up_a_query_and_can_be_cancelled() {
    let mut app = ready_app();
    let t0 = Instant::now();
    update(&mut app, key(KeyCode::F(3)), t0);
    update(&mut app, key(KeyCode::Esc), t0);
    assert!(app.eval.running(), "Esc leaves it running");
    let cmds = {
        app.input.set("위성");
        update(&mut app, key(KeyCode::Enter), t0)
    };
    assert!(matches!(&cmds[..], [Cmd::Search { .. }]));
    update(&mut app, key(KeyCode::F(3)), t0);
    assert_eq!(
        update(&mut app, key(KeyCode::Char('c')), t0),
        [Cmd::CancelEval]
    );
    assert!(matches!(
        app.eval.state,
        EvalState::Cancelled { done: 0, total: 4 }
    ));
    // A late report of the cancelled run changes nothing.
    update(
        &mut app,
        Msg::Worker(Reply::EvalProgress {
            generation: 1,
            done: 3,
            total: 4,
        }),
        t0,
    );
    assert!(matches!(app.eval.state, EvalState::Cancelled { .. }));
    assert_eq!(
        update(&mut app, key(KeyCode::Char('r')), t0),
        [Cmd::Evaluate {
            generation: 2,
            labels: EvalLabels::Gold
        }]
    );
    update(
        &mut app,
        Msg::Worker(Reply::EvalDone {
            generation: 1,
            outcome: Err(Missing::failed(Phase::Evaluate, "stale")),
        }),
        t0,
    );
    assert!(app.eval.running(), "the old run's end is not this run's");
}

#[test]
fn a_corpus_without_questions_evaluates_on_judgments_and_l_switches_labels() {
    let mut app = ready_app();
    let t0 = Instant::now();
    let cmds = update(&mut app, key(KeyCode::F(3)), t0);
    assert!(matches!(
        &cmds[..],
        [Cmd::Evaluate {
            labels: EvalLabels::Gold,
            ..
        }]
    ));
    update(
        &mut app,
        Msg::Worker(Reply::EvalDone {
            generation: 1,
            outcome: Err(Missing::failed(Phase::Evaluate, "x")),
        }),
        t0,
    );
    let cmds = update(&mut app, key(KeyCode::Char('l')), t0);
    assert!(matches!(
        &cmds[..],
        [Cmd::Evaluate {
            labels: EvalLabels::Judgments,
            ..
        }]
    ));

    let mut bare = corpus().as_ref().clone();
    bare.questions.clear();
    let mut app = ready_app();
    update(&mut app, Msg::Worker(Reply::Corpus(Arc::new(bare))), t0);
    let cmds = update(&mut app, key(KeyCode::F(3)), t0);
    assert!(matches!(
        &cmds[..],
        [Cmd::Evaluate {
            labels: EvalLabels::Judgments,
            ..
        }]
    ));
}

#[test]
fn the_disagreement_list_narrows_by_pair_and_enter_runs_the_question() {
    let mut app = ready_app();
    let t0 = Instant::now();
    let outcome = |id: &str, q: &str, ranks: [Option<usize>; 2]| QueryOutcome {
        id: id.into(),
        question: q.into(),
        gold: 0,
        ranks: [
            ("dense".to_owned(), ranks[0]),
            ("bm25".to_owned(), ranks[1]),
        ]
        .into_iter()
        .collect(),
    };
    let eval = EvalOutcome {
        questions: 3,
        panes: vec![
            "dense".into(),
            "bm25".into(),
            "hybrid".into(),
            "rerank".into(),
        ],
        reports: BTreeMap::new(),
        skipped: BTreeMap::new(),
        settings: String::new(),
        labels: String::new(),
        judged: BTreeMap::new(),
        outcomes: vec![
            outcome("a", "장마는 언제?", [Some(1), None]),
            outcome("b", "김장은?", [Some(12), Some(1)]),
            outcome("c", "한글은?", [Some(1), Some(2)]),
        ],
    };
    assert_eq!(eval.recall_curve("dense", 12)[0], 2.0 / 3.0);
    assert_eq!(eval.recall_curve("dense", 12)[11], 1.0);
    let all = disagreements(&eval, None);
    assert_eq!(all.len(), 2);
    assert_eq!(
        disagreements(&eval, Some(("bm25", "dense")))[0].losers,
        [("dense", Some(12))]
    );
    app.eval.state = EvalState::Done(Ok(eval));
    app.overlay = Overlay::Eval;
    update(&mut app, key(KeyCode::Char('d')), t0);
    assert_eq!(app.eval.pair, 1, "dense beats bm25 only");
    update(&mut app, key(KeyCode::Char('d')), t0);
    let cmds = update(&mut app, key(KeyCode::Enter), t0);
    assert!(matches!(&cmds[..], [Cmd::Search { query, .. }] if query == "김장은?"));
    assert_eq!(app.overlay, Overlay::None);
}

#[test]
fn esc_closes_a_finished_evaluation() {
    let mut app = ready_app();
    let t0 = Instant::now();
    update(&mut app, key(KeyCode::F(3)), t0);
    let outcome = EvalOutcome {
        questions: 1,
        panes: vec!["dense".into()],
        reports: BTreeMap::new(),
        skipped: BTreeMap::new(),
        settings: String::new(),
        labels: String::new(),
        judged: BTreeMap::new(),
        outcomes: vec![],
    };
    update(
        &mut app,
        Msg::Worker(Reply::EvalDone {
            generation: 1,
            outcome: Ok(outcome),
        }),
        t0,
    );
    assert!(matches!(app.eval.state, EvalState::Done(Ok(_))));
    update(&mut app, key(KeyCode::Esc), t0);
    assert_eq!(app.overlay, Overlay::None, "the footer says Esc closes");
}

#[test]
fn the_fusion_lab_runs_once_and_applies_its_choice_to_the_hybrid_pane() {
    use crate::tune::{self, QueryLists, Split};
    let mut app = ready_app();
    let t0 = Instant::now();
    app.input.set("장마");
    let cmds = update(&mut app, key(KeyCode::F(7)), t0);
    // The lab tunes the Hybrid pane (the focused pane is not one: the first hybrid).
    assert_eq!(
        cmds,
        [Cmd::Tune {
            generation: 1,
            pane: PaneId(2)
        }]
    );
    assert!(
        update(&mut app, key(KeyCode::F(7)), t0).is_empty(),
        "running"
    );
    // Dense ranks the gold first, BM25 second: the grid leans to dense.
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
    let chosen = lab.report.best.fusion;
    update(
        &mut app,
        Msg::Worker(Reply::Tuned {
            generation: 1,
            result: Ok(Box::new(lab)),
        }),
        t0,
    );
    let cmds = update(&mut app, key(KeyCode::Char('a')), t0);
    let Some(Cmd::SetPane {
        pane: PaneId(2),
        retriever: crate::panes::Retriever::Fusion { opts, .. },
    }) = cmds.first()
    else {
        panic!("{cmds:?}");
    };
    assert_eq!(opts.method, Some(chosen.method()));
    assert_eq!(opts.depth, Some(chosen.depth()));
    assert_eq!(
        app.params,
        SearchParams::default(),
        "the session's settings stay"
    );
    assert_eq!(app.overlay, Overlay::None);
    assert!(
        app.notice.as_deref().unwrap().contains("now fuses with"),
        "{:?}",
        app.notice
    );
}

fn one_question_outcome(labels: EvalLabels, judged: bool) -> App {
    let mut app = ready_app();
    let ranks = [("dense", Some(1)), ("rerank", Some(1)), ("bm25", None)];
    let eval = EvalOutcome {
        questions: 1,
        panes: ["dense", "bm25", "hybrid", "rerank"]
            .map(String::from)
            .to_vec(),
        reports: BTreeMap::new(),
        skipped: BTreeMap::new(),
        settings: String::new(),
        labels: String::new(),
        judged: if judged {
            BTreeMap::from([("bm25".to_owned(), 0.4)])
        } else {
            BTreeMap::new()
        },
        outcomes: vec![QueryOutcome {
            id: "a".into(),
            question: "장마는 언제?".into(),
            gold: 0,
            ranks: ranks.iter().map(|(m, r)| (m.to_string(), *r)).collect(),
        }],
    };
    app.eval.labels = labels;
    app.eval.state = EvalState::Done(Ok(eval));
    app.overlay = Overlay::Eval;
    app
}

#[test]
fn a_question_two_panes_win_is_listed_once_and_one_is_singular() {
    let app = one_question_outcome(EvalLabels::Gold, false);
    let EvalState::Done(Ok(eval)) = &app.eval.state else {
        unreachable!()
    };
    let all = disagreements(eval, None);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].winners, ["dense", "rerank"]);
    assert_eq!(all[0].losers, [("bm25", None)]);
    let screen = crate::tui::snapshots::render(&app, 200, 50);
    assert!(
        screen.contains("1 question, gold passage known for each"),
        "{screen}"
    );
    assert!(!screen.contains("1 questions"), "{screen}");
    assert!(
        screen.contains("dense, rerank 1st; bm25 absent"),
        "{screen}"
    );
    assert_eq!(screen.matches("장마는 언제?").count(), 1, "{screen}");
    // The recall chart names its lines.
    assert!(
        screen.contains("recall@k, k = 1..100 · ⣿ Semantic"),
        "{screen}"
    );
}

#[test]
fn on_judgments_the_header_says_so_and_shows_judged_at_10() {
    let app = one_question_outcome(EvalLabels::Judgments, true);
    let screen = crate::tui::snapshots::render(&app, 160, 45);
    assert!(!screen.contains("gold passage known"), "{screen}");
    assert!(
        screen.contains("1 judged query with the grades given here"),
        "{screen}"
    );
    assert!(screen.contains("judged@10: BM25 40%"), "{screen}");
}

#[test]
fn each_stage_of_an_evaluation_shows_as_it_finishes_and_a_cancel_keeps_it() {
    let mut app = ready_app();
    let t0 = Instant::now();
    update(&mut app, key(KeyCode::F(3)), t0);
    let mut reports = BTreeMap::new();
    reports.insert(
        "bm25".to_owned(),
        crate::eval::MethodReport {
            metrics: crate::metrics::Metrics {
                recall_1: 0.5,
                recall_5: 1.0,
                recall_10: 1.0,
                mrr_10: 0.75,
                ndcg_10: 0.8,
            },
            qps: 900.0,
        },
    );
    let part = EvalOutcome {
        questions: 4,
        panes: vec!["bm25".into(), "rerank".into()],
        reports,
        skipped: BTreeMap::new(),
        settings: String::new(),
        labels: String::new(),
        judged: BTreeMap::new(),
        outcomes: vec![],
    };
    let stale = Reply::EvalPart {
        generation: 7,
        outcome: part.clone(),
    };
    update(&mut app, Msg::Worker(stale), t0);
    assert!(app.eval.partial.is_none(), "another run's part is dropped");
    let fresh = Reply::EvalPart {
        generation: 1,
        outcome: part,
    };
    update(&mut app, Msg::Worker(fresh), t0);
    assert!(app.eval.running());
    assert!(app
        .eval
        .partial
        .as_ref()
        .is_some_and(|p| p.reports.contains_key("bm25")));
    // The rerank stage counts its questions from 0 with a pace of its own.
    let progress = |done| {
        Msg::Worker(Reply::EvalProgress {
            generation: 1,
            done,
            total: 4,
        })
    };
    update(&mut app, progress(4), t0 + Duration::from_secs(1));
    update(&mut app, progress(0), t0 + Duration::from_secs(100));
    update(&mut app, progress(2), t0 + Duration::from_secs(110));
    let EvalState::Running { eta, .. } = app.eval.state else {
        panic!("{:?}", app.eval.state);
    };
    assert_eq!(
        eta,
        Some(Duration::from_secs(10)),
        "5 s a question since the stage began"
    );
    update(&mut app, key(KeyCode::Char('c')), t0);
    assert!(matches!(app.eval.state, EvalState::Cancelled { .. }));
    assert!(app.eval.partial.is_some(), "the finished panes stay");
    update(&mut app, key(KeyCode::Char('r')), t0);
    assert!(app.eval.partial.is_none(), "a new run starts empty");
}
