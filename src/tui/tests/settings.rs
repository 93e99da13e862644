//! The settings overlay and the pooling switch.
use super::*;

#[test]
fn settings_change_params_and_rerun_the_query() {
    let mut app = ready_app();
    let t0 = Instant::now();
    app.input.set("장마");
    update(&mut app, key(KeyCode::Enter), t0);
    update(&mut app, key(KeyCode::F(2)), t0);
    let cmds = update(&mut app, key(KeyCode::Right), t0);
    assert_eq!(app.params.top_k, 11);
    assert!(matches!(cmds[0], Cmd::SetParams(_)));
    assert!(matches!(cmds[1], Cmd::Search { .. }));
    for _ in 0..5 {
        update(&mut app, key(KeyCode::Down), t0);
    }
    let cmds = update(&mut app, key(KeyCode::Right), t0);
    assert_eq!(cmds[0], Cmd::SetAnalyzer(AnalyzerKind::MORPH));
    assert_eq!(app.part(Part::Bm25), &PartState::Loading);
}

#[test]
fn both_rrf_weights_at_zero_are_refused_with_a_reason() {
    let mut app = ready_app();
    let t0 = Instant::now();
    update(&mut app, key(KeyCode::F(2)), t0);
    let row = |s: Setting| Setting::ALL.iter().position(|x| *x == s).unwrap();
    app.overlay = Overlay::Settings {
        row: row(Setting::DenseWeight),
    };
    for _ in 0..10 {
        update(&mut app, key(KeyCode::Left), t0);
    }
    assert_eq!(app.params.dense_weight, 0.0);
    app.overlay = Overlay::Settings {
        row: row(Setting::Bm25Weight),
    };
    for _ in 0..9 {
        update(&mut app, key(KeyCode::Left), t0);
    }
    assert!((app.params.bm25_weight - 0.1).abs() < 1e-9);
    let cmds = update(&mut app, key(KeyCode::Left), t0);
    assert!(cmds.is_empty(), "{cmds:?}");
    assert!((app.params.bm25_weight - 0.1).abs() < 1e-9, "kept");
    assert!(app.notice.as_deref().unwrap().contains("both 0"));
}

#[test]
fn settings_switch_the_hybrid_pane_to_convex_fusion_and_step_alpha() {
    let mut app = ready_app();
    let t0 = Instant::now();
    let row = |s: Setting| Setting::ALL.iter().position(|x| *x == s).unwrap();
    app.overlay = Overlay::Settings {
        row: row(Setting::Fusion),
    };
    let cmds = update(&mut app, key(KeyCode::Right), t0);
    assert!(
        matches!(&cmds[..], [Cmd::SetParams(p)] if p.fusion == crate::fusion::FusionMethod::Convex)
    );
    app.overlay = Overlay::Settings {
        row: row(Setting::Alpha),
    };
    let before = app.params.alpha;
    update(&mut app, key(KeyCode::Right), t0);
    assert!((app.params.alpha - (before + 0.05).min(1.0)).abs() < 1e-9);
    for _ in 0..40 {
        update(&mut app, key(KeyCode::Left), t0);
    }
    assert_eq!(app.params.alpha, 0.0, "clamped at 0");
    app.overlay = Overlay::Settings {
        row: row(Setting::Norm),
    };
    update(&mut app, key(KeyCode::Right), t0);
    assert_eq!(app.params.norm, crate::fusion::Norm::ZScore);
}

#[test]
fn pooling_switch_waits_for_the_encoder_then_re_embeds_and_reruns_the_query() {
    let mut app = ready_app();
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
    app.eval = EvalState::Done(Err("old".into()));
    let cmds = update(&mut app, ctrl('p'), t0);
    assert_eq!(cmds[0], Cmd::SetPooling(pooling("max")));
    assert!(
        matches!(&cmds[1], Cmd::Search { query, .. } if query == "장마"),
        "BM25 answers while the passages are embedded again"
    );
    assert_eq!(app.part(Part::Dense), &PartState::Loading);
    assert_eq!(app.pooling.as_ref().unwrap().current, pooling("max"));
    assert!(matches!(app.eval, EvalState::NotRun), "evaluation is stale");
    assert!(
        update(&mut app, ctrl('p'), t0).is_empty(),
        "one switch at a time"
    );
    let cmds = update(&mut app, Msg::Worker(Reply::DenseReady), t0);
    assert!(matches!(&cmds[..], [Cmd::Search { .. }]), "{cmds:?}");
    // The settings row goes the other way round: max, mean, cls.
    update(&mut app, key(KeyCode::F(2)), t0);
    let row = Setting::ALL
        .iter()
        .position(|s| *s == Setting::Pooling)
        .unwrap();
    for _ in 0..row {
        update(&mut app, key(KeyCode::Down), t0);
    }
    let cmds = update(&mut app, key(KeyCode::Left), t0);
    assert_eq!(cmds[0], Cmd::SetPooling(pooling("mean")));
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
