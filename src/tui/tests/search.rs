//! Typing, live search, generations, focus, history and loading.
use super::*;

#[test]
fn typing_edits_the_query_and_live_search_waits_for_a_pause() {
    let mut app = ready_app();
    let t0 = Instant::now();
    let cmds = type_text(&mut app, "장마 비", t0);
    assert!(cmds.is_empty(), "no search while typing: {cmds:?}");
    assert_eq!(app.input.text, "장마 비");
    assert_eq!(app.input.cursor, 4);
    assert!(update(&mut app, Msg::Tick, t0 + Duration::from_millis(100)).is_empty());
    let cmds = update(&mut app, Msg::Tick, t0 + DEBOUNCE);
    assert_eq!(
        cmds,
        [Cmd::Search {
            generation: 1,
            query: "장마 비".into()
        }]
    );
    assert!(update(&mut app, Msg::Tick, t0 + DEBOUNCE * 2).is_empty());
    update(&mut app, key(KeyCode::Left), t0);
    update(&mut app, key(KeyCode::Backspace), t0);
    assert_eq!(app.input.text, "장마비");
}

#[test]
fn live_search_off_searches_only_on_enter() {
    let mut app = ready_app();
    let t0 = Instant::now();
    update(&mut app, ctrl('l'), t0);
    assert!(!app.live);
    type_text(&mut app, "눈", t0);
    assert!(update(&mut app, Msg::Tick, t0 + DEBOUNCE * 4).is_empty());
    let cmds = update(&mut app, key(KeyCode::Enter), t0);
    assert!(matches!(&cmds[..], [Cmd::Search { query, .. }] if query == "눈"));
}

#[test]
fn stale_answers_are_dropped_by_generation() {
    let mut app = ready_app();
    let t0 = Instant::now();
    type_text(&mut app, "장마", t0);
    update(&mut app, key(KeyCode::Enter), t0);
    type_text(&mut app, " 비", t0);
    update(&mut app, key(KeyCode::Enter), t0);
    assert_eq!(app.generation, 2);
    update(
        &mut app,
        Msg::Worker(Reply::Results {
            generation: 1,
            results: results("장마", &[0]),
            rerank_total: None,
        }),
        t0,
    );
    assert!(app.results.is_none(), "generation 1 is stale");
    assert!(app.searching);
    update(
        &mut app,
        Msg::Worker(Reply::Results {
            generation: 2,
            results: results("장마 비", &[0, 1]),
            rerank_total: None,
        }),
        t0,
    );
    assert_eq!(app.results.as_ref().unwrap().query, "장마 비");
    assert!(!app.searching);
}

/// A burst of typed keys (with Enter presses and late replies in between): the query line
/// holds every character, live search fires once after the burst, and only the last
/// query's answers are shown.
#[test]
fn a_burst_of_keys_ends_in_one_search_and_the_last_answers() {
    let mut app = ready_app();
    let t0 = Instant::now();
    let burst: String = "장마 비 태풍 ".repeat(100);
    let mut searches = 0;
    for (i, c) in burst.chars().enumerate() {
        let at = t0 + Duration::from_millis(i as u64);
        for cmd in update(&mut app, key(KeyCode::Char(c)), at) {
            searches += usize::from(matches!(cmd, Cmd::Search { .. }));
        }
        // Replies for old generations keep arriving during the burst.
        let old = app.generation.saturating_sub(1);
        update(
            &mut app,
            Msg::Worker(Reply::Results {
                generation: old,
                results: results("old", &[2]),
                rerank_total: None,
            }),
            at,
        );
    }
    assert_eq!(searches, 0, "nothing searched mid-burst");
    assert_eq!(app.input.text, burst);
    let end = t0 + Duration::from_millis(burst.chars().count() as u64);
    let cmds = update(&mut app, Msg::Tick, end + DEBOUNCE);
    let [Cmd::Search { generation, query }] = &cmds[..] else {
        panic!("one search after the burst: {cmds:?}");
    };
    assert_eq!(query, &burst);
    let generation = *generation;
    update(
        &mut app,
        Msg::Worker(Reply::Results {
            generation: generation - 1,
            results: results("stale", &[3]),
            rerank_total: None,
        }),
        end,
    );
    assert!(app.results.as_ref().is_none_or(|r| r.query != "stale"));
    update(
        &mut app,
        Msg::Worker(Reply::Results {
            generation,
            results: results(&burst, &[0, 1]),
            rerank_total: None,
        }),
        end,
    );
    assert_eq!(app.results.as_ref().unwrap().query, burst);
}

#[test]
fn focus_moves_between_query_line_and_panes() {
    let mut app = ready_app();
    let t0 = Instant::now();
    app.generation = 1;
    update(
        &mut app,
        Msg::Worker(Reply::Results {
            generation: 1,
            results: results("q", &[0, 1, 2]),
            rerank_total: None,
        }),
        t0,
    );
    update(&mut app, key(KeyCode::Down), t0);
    assert_eq!(app.focus, Focus::Pane(PaneId::new(0)));
    update(&mut app, key(KeyCode::Char('j')), t0);
    update(&mut app, key(KeyCode::Char('j')), t0);
    update(&mut app, key(KeyCode::Char('j')), t0);
    assert_eq!(app.selected[PaneId::new(0)], 2, "stops at the last hit");
    update(&mut app, key(KeyCode::Tab), t0);
    assert_eq!(app.focus, Focus::Pane(PaneId::new(1)));
    update(&mut app, key(KeyCode::BackTab), t0);
    update(&mut app, key(KeyCode::BackTab), t0);
    assert_eq!(app.focus, Focus::Query, "Shift-Tab from the first pane");
    update(&mut app, key(KeyCode::BackTab), t0);
    assert_eq!(app.focus, Focus::Pane(PaneId::new(3)));
    update(&mut app, key(KeyCode::Tab), t0);
    assert_eq!(app.focus, Focus::Query, "Tab from the last pane");
    // q types in the query line, quits from a pane.
    update(&mut app, key(KeyCode::Char('q')), t0);
    assert!(!app.quit);
    assert_eq!(app.input.text, "q");
    update(&mut app, key(KeyCode::Tab), t0);
    update(&mut app, key(KeyCode::Enter), t0);
    assert!(matches!(
        app.overlay,
        Overlay::Detail {
            passage: 0,
            scroll: 0,
            ..
        }
    ));
    update(&mut app, key(KeyCode::Esc), t0);
    assert_eq!(app.overlay, Overlay::None);
    let cmds = update(&mut app, key(KeyCode::Char('q')), t0);
    assert_eq!(cmds, [Cmd::Quit]);
}

#[test]
fn up_and_down_walk_the_history_and_restore_the_draft() {
    let mut app = ready_app();
    let t0 = Instant::now();
    for q in ["첫째", "둘째"] {
        app.input.set(q);
        update(&mut app, key(KeyCode::Enter), t0);
    }
    app.input.set("초안");
    update(&mut app, key(KeyCode::Up), t0);
    assert_eq!(app.input.text, "둘째");
    update(&mut app, key(KeyCode::Up), t0);
    update(&mut app, key(KeyCode::Up), t0);
    assert_eq!(app.input.text, "첫째");
    update(&mut app, key(KeyCode::Down), t0);
    assert_eq!(app.input.text, "둘째");
    update(&mut app, key(KeyCode::Down), t0);
    assert_eq!(app.input.text, "초안");
    assert_eq!(app.focus, Focus::Query);
    update(&mut app, key(KeyCode::Down), t0);
    assert_eq!(
        app.focus,
        Focus::Pane(PaneId::new(0)),
        "Down past the history leaves"
    );
}

#[test]
fn ctrl_r_asks_a_dataset_question() {
    let mut app = ready_app();
    let cmds = update(&mut app, ctrl('r'), Instant::now());
    let Some(Cmd::Search { query, .. }) = cmds.first() else {
        panic!("{cmds:?}")
    };
    assert!(app.corpus.as_ref().unwrap().gold_for(query).is_some());
}

#[test]
fn fast_panes_fill_before_the_reranker_and_an_older_query_never_stays_on_screen() {
    let mut app = ready_app();
    let t0 = Instant::now();
    let g1 = searched(&mut app, "장마", t0);
    update(
        &mut app,
        Msg::Worker(Reply::Results {
            generation: g1,
            results: fast_results("장마", &[0, 1]),
            rerank_total: Some(30),
        }),
        t0,
    );
    assert!(!app.searching, "dense, BM25 and hybrid are on screen");
    assert_eq!(app.hits_in(PaneId::new(0)), 2);
    assert_eq!(app.rerank_progress, Some((0, 30)));
    update(
        &mut app,
        Msg::Worker(Reply::RerankProgress {
            generation: g1,
            done: 12,
            total: 30,
        }),
        t0,
    );
    assert_eq!(app.rerank_progress, Some((12, 30)));

    // A new question: the old lists leave at once, and the old rerank is dropped.
    let g2 = searched(&mut app, "태풍", t0);
    assert!(app.results.is_none(), "no list of 장마 under 태풍");
    assert_eq!(app.rerank_progress, None);
    let rerank = results("장마", &[1, 0]).results.pop().unwrap();
    for late in [
        Reply::RerankProgress {
            generation: g1,
            done: 20,
            total: 30,
        },
        Reply::Reranked {
            generation: g1,
            result: rerank.clone(),
            passes: 30,
            cached: 0,
        },
    ] {
        update(&mut app, Msg::Worker(late), t0);
    }
    assert!(app.results.is_none() && app.rerank_progress.is_none());
    update(
        &mut app,
        Msg::Worker(Reply::Results {
            generation: g2,
            results: fast_results("태풍", &[2]),
            rerank_total: Some(1),
        }),
        t0,
    );
    update(
        &mut app,
        Msg::Worker(Reply::Reranked {
            generation: g2,
            result: rerank,
            passes: 1,
            cached: 1,
        }),
        t0,
    );
    let r = app.results.as_ref().unwrap();
    assert_eq!(r.query, "태풍");
    assert!(r.get(Kind::Rerank).is_some());
    assert_eq!(r.forward_passes.cross_encoder, 1);
    // Its one pair came from the session's cache: no cross-encoder time is claimed.
    let cost = crate::render::cost_line(r, 10);
    assert!(
        cost.ends_with("cross-encoder: 1 pair from memory (scored earlier, no pass now)"),
        "{cost}"
    );
    assert_eq!(app.rerank_progress, None);

    // The same query again (a setting changed): its lists stay, marked as updating.
    let g3 = searched(&mut app, "태풍", t0);
    assert!(app.stale && app.results.is_some());
    update(
        &mut app,
        Msg::Worker(Reply::Results {
            generation: g3,
            results: fast_results("태풍", &[2]),
            rerank_total: None,
        }),
        t0,
    );
    assert!(!app.stale);
}

#[test]
fn history_holds_each_query_that_ran_once_newest_last_and_recalling_runs_it() {
    let mut app = ready_app();
    let t0 = Instant::now();
    // Live search, no Enter: the query that ran is remembered.
    type_text(&mut app, "장마", t0);
    let cmds = update(&mut app, Msg::Tick, t0 + DEBOUNCE * 2);
    assert!(matches!(&cmds[..], [Cmd::Search { .. }]));
    searched(&mut app, "태풍", t0);
    searched(&mut app, "장마", t0);
    assert_eq!(app.history, ["태풍", "장마"], "once each, newest last");
    // The first Up does not repeat the query on screen.
    update(&mut app, key(KeyCode::Up), t0);
    assert_eq!(app.input.text, "태풍");
    assert!(
        update(&mut app, key(KeyCode::Up), t0).is_empty(),
        "nothing older"
    );
    assert_eq!(app.input.text, "태풍");
    // The recalled query runs after the pause, like typing.
    let cmds = update(&mut app, Msg::Tick, t0 + DEBOUNCE * 2);
    assert!(matches!(&cmds[..], [Cmd::Search { query, .. }] if query == "태풍"));
    assert_eq!(
        app.history,
        ["태풍", "장마"],
        "browsing does not rewrite it"
    );

    // Without live search the panes say they show another query until Enter.
    app.live = false;
    app.results = Some(results("태풍", &[0]));
    update(&mut app, key(KeyCode::Down), t0);
    assert_eq!(app.input.text, "장마");
    assert!(update(&mut app, Msg::Tick, t0 + DEBOUNCE * 4).is_empty());
    assert!(app.showing_other_query());
}

#[test]
fn walking_back_slowly_reaches_every_query_and_keeps_their_order() {
    let mut app = ready_app();
    let t0 = Instant::now();
    for q in ["AAA", "BBB", "CCC", "DDD"] {
        searched(&mut app, q, t0);
    }
    // Up once a second: each recalled query runs after the pause, and the walk goes on.
    let mut seen = Vec::new();
    for i in 1..=3u32 {
        let at = t0 + Duration::from_secs(i.into());
        update(&mut app, key(KeyCode::Up), at);
        let cmds = update(&mut app, Msg::Tick, at + DEBOUNCE * 2);
        assert!(matches!(&cmds[..], [Cmd::Search { .. }]), "{cmds:?}");
        seen.push(app.input.text.clone());
    }
    assert_eq!(seen, ["CCC", "BBB", "AAA"]);
    assert!(
        update(&mut app, key(KeyCode::Up), t0).is_empty(),
        "nothing older"
    );
    assert_eq!(app.input.text, "AAA");
    assert_eq!(app.history, ["AAA", "BBB", "CCC", "DDD"]);
    // Typing a new query ends the walk: it becomes the newest.
    searched(&mut app, "EEE", t0);
    assert_eq!(app.history, ["AAA", "BBB", "CCC", "DDD", "EEE"]);
}

#[test]
fn a_query_typed_while_loading_runs_when_bm25_is_ready() {
    let mut app = App::new(
        SearchParams::default(),
        AnalyzerKind::Bigram,
        std::sync::Arc::new(crate::panes::Panes::standard()),
        Labels::default(),
        7,
    );
    let t0 = Instant::now();
    type_text(&mut app, "김장", t0);
    assert!(
        update(&mut app, Msg::Tick, t0 + DEBOUNCE).is_empty(),
        "no corpus yet"
    );
    update(&mut app, Msg::Worker(Reply::Corpus(corpus())), t0);
    let cmds = update(
        &mut app,
        Msg::Worker(Reply::Bm25Ready(Analyzer::Bigram)),
        t0,
    );
    assert!(matches!(&cmds[..], [Cmd::Search { query, .. }] if query == "김장"));
}

#[test]
fn progress_gives_an_eta_and_ready_waits_for_every_part() {
    let mut app = ready_app();
    let t0 = Instant::now();
    assert!(!app.ready());
    update(
        &mut app,
        Msg::Worker(Reply::Session(Event::Start {
            step: Step::Embed("openai:multilingual-e5-small-q4 at http://127.0.0.1:9/v1".into()),
            total: Some(100),
        })),
        t0,
    );
    update(
        &mut app,
        Msg::Worker(Reply::Session(Event::Progress { done: 25 })),
        t0 + Duration::from_secs(10),
    );
    assert_eq!(
        app.stage.as_ref().unwrap().eta,
        Some(Duration::from_secs(30))
    );
    update(&mut app, Msg::Worker(Reply::DenseReady), t0);
    update(
        &mut app,
        Msg::Worker(Reply::Failed(
            Part::Reranker,
            Missing::failed(Phase::Load, "offline"),
        )),
        t0,
    );
    assert!(app.ready());
}

#[test]
fn a_gold_mark_never_runs_into_a_two_digit_rank() {
    let mut app = ready_app();
    let corpus = app.corpus.clone().unwrap();
    let question = corpus.eval_questions().next().unwrap().text.clone();
    let gold = corpus.gold_for(&question).unwrap();
    let other = (gold + 1) % corpus.passages.len();
    let mut passages = vec![other; 9];
    passages.push(gold);
    app.input.set(&question);
    app.results = Some(results(&question, &passages));
    let screen = crate::tui::snapshots::render(&app, 200, 50);
    assert!(screen.contains("✓ 10 1.0000"), "{screen}");
    assert!(!screen.contains("✓10"), "{screen}");
}
