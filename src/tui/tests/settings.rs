//! The settings overlay (one pane's settings, then the session's) and the pooling switch.
use super::*;
use crate::panes::{DenseKey, Panes, Retriever};

/// Opens the settings on pane `pane` at row `setting`.
fn open_at(app: &mut App, pane: PaneId, setting: Setting) {
    app.pane = pane;
    let rows = Setting::rows(app, pane);
    let row = rows.iter().position(|s| *s == setting).unwrap();
    app.overlay = Overlay::Settings { row };
}

fn app_with(spec: &str) -> App {
    let mut app = ready_app();
    app.spec = Arc::new(Panes::parse(spec).unwrap());
    app
}

#[test]
fn the_rows_are_the_panes_own_options_then_the_sessions() {
    let app = ready_app();
    let labels = |pane: u8| -> Vec<String> {
        Setting::rows(&app, PaneId(pane))
            .into_iter()
            .map(|s| s.label(&app, PaneId(pane)))
            .collect()
    };
    assert_eq!(labels(0), ["pane", "pooling", "top-k", "live search"]);
    assert_eq!(labels(1), ["pane", "analyzer", "top-k", "live search"]);
    assert_eq!(
        labels(2),
        [
            "pane",
            "method",
            "k",
            "weight dense",
            "weight bm25",
            "depth",
            "top-k",
            "live search"
        ]
    );
    assert_eq!(labels(3), ["pane", "depth", "top-k", "live search"]);
    // No flag names on the explorer's screens.
    for pane in 0..4 {
        assert!(labels(pane).iter().all(|l| !l.starts_with("--")));
    }
}

#[test]
fn top_k_is_the_sessions_and_reruns_the_query() {
    let mut app = ready_app();
    let t0 = Instant::now();
    app.input.set("장마");
    update(&mut app, key(KeyCode::Enter), t0);
    open_at(&mut app, PaneId(1), Setting::TopK);
    let cmds = update(&mut app, key(KeyCode::Right), t0);
    assert_eq!(app.params.top_k, 11);
    assert!(matches!(cmds[0], Cmd::SetParams(_)));
    assert!(matches!(cmds[1], Cmd::Search { .. }));
}

#[test]
fn switching_the_analyzer_changes_the_focused_bm25_pane_only() {
    let mut app = app_with("bm25,bm25:whitespace,dense,hybrid");
    let t0 = Instant::now();
    app.input.set("장마");
    update(&mut app, key(KeyCode::Enter), t0);
    open_at(&mut app, PaneId(0), Setting::Analyzer);
    let cmds = update(&mut app, key(KeyCode::Right), t0);
    let Cmd::SetPane { pane, retriever } = &cmds[0] else {
        panic!("{cmds:?}");
    };
    assert_eq!(*pane, PaneId(0));
    let Retriever::Bm25(Some(kind)) = retriever else {
        panic!("{retriever:?}");
    };
    assert_ne!(*kind, AnalyzerKind::Bigram);
    assert!(
        matches!(cmds[1], Cmd::Search { .. }),
        "the query runs again"
    );
    // The pane's default title follows its analyzer; the others keep theirs.
    assert_eq!(app.title(PaneId(0)), format!("BM25 · {}", kind.name()));
    assert_eq!(app.title(PaneId(1)), "BM25 · whitespace");
    assert_eq!(
        app.spec.get(PaneId(1)).retriever,
        Retriever::Bm25(Some(AnalyzerKind::Whitespace))
    );
    assert_eq!(
        app.spec.get(PaneId(2)).retriever,
        Retriever::Dense(DenseKey::default())
    );
    // Back to the session's analyzer: the key every pane without its own shares.
    let cmds = update(&mut app, key(KeyCode::Left), t0);
    assert!(matches!(
        &cmds[0],
        Cmd::SetPane {
            retriever: Retriever::Bm25(None),
            ..
        }
    ));
    assert_eq!(app.title(PaneId(0)), "BM25");
}

#[test]
fn a_hybrid_panes_weights_k_and_method_are_its_own() {
    let mut app = ready_app();
    let t0 = Instant::now();
    open_at(&mut app, PaneId(2), Setting::Weight(0));
    for _ in 0..10 {
        update(&mut app, key(KeyCode::Left), t0);
    }
    let opts = |app: &App| match &app.spec.get(PaneId(2)).retriever {
        Retriever::Fusion { opts, .. } => opts.clone(),
        r => panic!("{r:?}"),
    };
    assert_eq!(opts(&app).weights, Some(vec![0.0, 1.0]));
    assert_eq!(app.params.dense_weight, 1.0, "the session's weights stay");
    // Both at 0 is refused with a reason.
    open_at(&mut app, PaneId(2), Setting::Weight(1));
    for _ in 0..9 {
        update(&mut app, key(KeyCode::Left), t0);
    }
    let cmds = update(&mut app, key(KeyCode::Left), t0);
    assert!(cmds.is_empty(), "{cmds:?}");
    assert_eq!(opts(&app).weights, Some(vec![0.0, 0.1]), "kept");
    assert!(app.notice.as_deref().unwrap().contains("all 0"));
    open_at(&mut app, PaneId(2), Setting::K);
    update(&mut app, key(KeyCode::Left), t0);
    assert_eq!(opts(&app).k, Some(50.0));
    open_at(&mut app, PaneId(2), Setting::Method);
    let cmds = update(&mut app, key(KeyCode::Right), t0);
    assert!(matches!(
        &cmds[0],
        Cmd::SetPane {
            pane: PaneId(2),
            ..
        }
    ));
    assert_eq!(opts(&app).method, Some(crate::fusion::FusionMethod::Convex));
    assert_eq!(app.title(PaneId(2)), "Hybrid (convex)");
    // Convex rows: alpha and norm instead of k and weights.
    open_at(&mut app, PaneId(2), Setting::Alpha);
    update(&mut app, key(KeyCode::Right), t0);
    assert_eq!(opts(&app).alpha, Some(0.55));
    for _ in 0..40 {
        update(&mut app, key(KeyCode::Left), t0);
    }
    assert_eq!(opts(&app).alpha, Some(0.0), "clamped at 0");
    open_at(&mut app, PaneId(2), Setting::Norm);
    update(&mut app, key(KeyCode::Right), t0);
    assert_eq!(opts(&app).norm, Some(crate::fusion::Norm::ZScore));
}

#[test]
fn the_rerank_panes_depth_is_its_own() {
    let mut app = ready_app();
    open_at(&mut app, PaneId(3), Setting::Depth);
    update(&mut app, key(KeyCode::Right), Instant::now());
    assert!(matches!(
        app.spec.get(PaneId(3)).retriever,
        Retriever::Rerank {
            depth: Some(35),
            ..
        }
    ));
    assert_eq!(app.params.rerank_depth, 30);
}

#[test]
fn the_pane_row_picks_which_pane_the_rows_are_for() {
    let mut app = ready_app();
    open_at(&mut app, PaneId(0), Setting::Pane);
    update(&mut app, key(KeyCode::Right), Instant::now());
    assert_eq!(app.pane, PaneId(1));
    update(&mut app, key(KeyCode::Left), Instant::now());
    update(&mut app, key(KeyCode::Left), Instant::now());
    assert_eq!(app.pane, PaneId(3), "wraps round");
}

#[test]
fn pooling_switch_waits_for_the_encoder_then_re_embeds_the_focused_dense_pane() {
    let mut app = app_with("dense,dense:pooling=cls,bm25,hybrid");
    let t0 = Instant::now();
    app.input.set("장마");
    update(&mut app, key(KeyCode::Enter), t0);
    assert!(update(&mut app, ctrl('p'), t0).is_empty(), "no encoder yet");
    let state = PoolingState {
        current: pooling("mean"),
        default: pooling("mean"),
    };
    update(&mut app, Msg::Worker(Reply::Pooling(state)), t0);
    update(&mut app, Msg::Worker(Reply::DenseReady), t0);
    app.eval.state = EvalState::Done(Err(Missing::failed(Phase::Evaluate, "old")));
    // Not on a dense pane: the first dense pane switches. mean is the model's own, so the
    // choices are: own (mean), cls, max.
    app.pane = PaneId(2);
    let cmds = update(&mut app, ctrl('p'), t0);
    let want = Retriever::Dense(DenseKey {
        model: None,
        pooling: Some(crate::model::PoolMode::Cls),
    });
    assert_eq!(
        cmds[0],
        Cmd::SetPane {
            pane: PaneId(0),
            retriever: want
        }
    );
    assert!(
        matches!(&cmds[1], Cmd::Search { query, .. } if query == "장마"),
        "the other panes answer while the passages are embedded"
    );
    assert_eq!(app.title(PaneId(0)), "Semantic · cls");
    assert_eq!(
        app.title(PaneId(1)),
        "Semantic · cls",
        "the other pane had cls already"
    );
    assert!(
        matches!(app.eval.state, EvalState::NotRun),
        "evaluation is stale"
    );
    // The focused dense pane is the one that switches.
    app.pane = PaneId(1);
    let cmds = update(&mut app, ctrl('p'), t0);
    assert!(
        matches!(&cmds[0], Cmd::SetPane { pane: PaneId(1), retriever: Retriever::Dense(k) }
        if k.pooling == Some(crate::model::PoolMode::Max))
    );
    // The settings row goes the other way round.
    open_at(&mut app, PaneId(0), Setting::Pooling);
    let cmds = update(&mut app, key(KeyCode::Left), t0);
    assert!(
        matches!(&cmds[0], Cmd::SetPane { pane: PaneId(0), retriever: Retriever::Dense(k) }
        if k.pooling.is_none())
    );
    assert_eq!(app.title(PaneId(0)), "Semantic");
}

#[test]
fn pooling_choices_keep_a_model_default_outside_cls_mean_max() {
    let state = PoolingState {
        current: pooling("mean_sqrt_len"),
        default: pooling("mean_sqrt_len"),
    };
    let names: Vec<String> = state.choices().iter().map(|p| p.to_string()).collect();
    assert_eq!(names, ["mean_sqrt_len", "cls", "mean", "max"]);
    assert_eq!(
        PoolingState::describe(&pooling("cls"), &state.default),
        "cls (default mean_sqrt_len)"
    );
}

#[test]
fn an_analyzers_warning_leaves_the_status_bar_with_the_analyzer() {
    let mut app = app_with("bm25,dense");
    app.analyzer_kind = AnalyzerKind::Wordpiece;
    let t0 = Instant::now();
    let warning = "wordpiece (bert-base-cased) cuts 92% of the Korean into unknown pieces";
    update(
        &mut app,
        Msg::Worker(Reply::AnalyzerChecked {
            analyzer: AnalyzerKind::Wordpiece,
            warning: Some(warning.into()),
        }),
        t0,
    );
    assert_eq!(app.analyzer_warnings_in_use(), [warning]);
    // The pane switches to bigram: the warning goes at once, before its index is built.
    open_at(&mut app, PaneId(0), Setting::Analyzer);
    let cmds = update(&mut app, key(KeyCode::Left), t0);
    assert!(
        matches!(&cmds[0], Cmd::SetPane { retriever: Retriever::Bm25(Some(k)), .. } if *k != AnalyzerKind::Wordpiece),
        "{cmds:?}"
    );
    assert!(app.analyzer_warnings_in_use().is_empty());
    update(
        &mut app,
        Msg::Worker(Reply::AnalyzerChecked {
            analyzer: AnalyzerKind::Bigram,
            warning: None,
        }),
        t0,
    );
    assert!(app.analyzer_warnings_in_use().is_empty());
}
