//! The detail view and grading.
use super::*;

#[test]
fn the_detail_view_ranks_the_passage_in_each_whole_list_and_holds_still() {
    let mut app = ready_app();
    let t0 = Instant::now();
    let g = searched(&mut app, "장마", t0);
    let mut r = results("장마", &[0, 1]);
    // Semantic shows two hits but ranked deeper: passage 3 is its 3rd.
    r.results[0].ranking = vec![(0, 0.9), (1, 0.8), (3, 0.7)];
    r.results[2].hits.push(crate::pipeline::Hit {
        passage: 3,
        score: 0.01,
        probability: None,
        sources: Sources::default(),
        matched: vec![],
        spans: vec![],
    });
    r.results[2].ranking.push((3, 0.01));
    update(
        &mut app,
        Msg::Worker(Reply::Results {
            generation: g,
            results: r,
            rerank_total: None,
        }),
        t0,
    );
    app.focus = Focus::Pane(PaneId::new(2));
    app.pane = PaneId::new(2);
    app.selected[PaneId::new(2)] = 2;
    update(&mut app, key(KeyCode::Enter), t0);
    let Overlay::Detail {
        passage: 3, ranks, ..
    } = app.overlay.clone()
    else {
        panic!("{:?}", app.overlay);
    };
    assert_eq!(
        ranks[0].rank,
        Standing::Ranked(3, 0.7),
        "rank in the whole dense list"
    );
    assert_eq!(ranks[1].rank, Standing::Beyond(2));
    assert_eq!(ranks[1].rank.to_string(), "not in its top 2");
    // A search finishing underneath does not change what the reader sees.
    let cmds = app.search();
    let [Cmd::Search { generation: g, .. }] = cmds[..] else {
        panic!("{cmds:?}");
    };
    update(
        &mut app,
        Msg::Worker(Reply::Results {
            generation: g,
            results: results("장마", &[3]),
            rerank_total: None,
        }),
        t0,
    );
    assert!(matches!(&app.overlay, Overlay::Detail { ranks: r, .. } if *r == ranks));
}

#[test]
fn grades_go_to_disk_first_then_show_in_every_pane_and_the_judge_view_walks_the_pool() {
    let mut app = ready_app();
    let t0 = Instant::now();
    let g = searched(&mut app, "장마", t0);
    update(
        &mut app,
        Msg::Worker(Reply::Results {
            generation: g,
            results: results("장마", &[2, 0, 1]),
            rerank_total: None,
        }),
        t0,
    );
    update(&mut app, key(KeyCode::Tab), t0);
    update(&mut app, key(KeyCode::Char('j')), t0);
    // m then a digit grades; the digit alone still switches panes.
    assert!(update(&mut app, key(KeyCode::Char('m')), t0).is_empty());
    let cmds = update(&mut app, key(KeyCode::Char('2')), t0);
    assert_eq!(
        cmds,
        [Cmd::Grade {
            query: "장마".into(),
            passage: 0,
            grade: Some(2)
        }]
    );
    assert_eq!(
        app.focus,
        Focus::Pane(PaneId::new(0)),
        "the digit did not switch panes"
    );
    assert_eq!(app.grade_of(0), None, "not shown before it is on disk");
    update(
        &mut app,
        Msg::Worker(Reply::Graded {
            query: "장마".into(),
            passage: 0,
            grade: Some(2),
            result: Ok(()),
        }),
        t0,
    );
    assert_eq!(app.grade_of(0), Some(2));
    update(&mut app, key(KeyCode::Char('2')), t0);
    assert_eq!(
        app.focus,
        Focus::Pane(PaneId::new(1)),
        "a digit alone switches panes"
    );
    // u removes the selected hit's grade.
    app.focus = Focus::Pane(PaneId::new(0));
    app.pane = PaneId::new(0);
    let cmds = update(&mut app, key(KeyCode::Char('u')), t0);
    assert!(matches!(
        &cmds[..],
        [Cmd::Grade {
            passage: 0,
            grade: None,
            ..
        }]
    ));

    // The judge view: the pool is every pane's hits; a grade moves to the next unjudged.
    update(&mut app, key(KeyCode::Char('J')), t0);
    assert_eq!(app.pool(), [2, 0, 1]);
    let cmds = update(&mut app, key(KeyCode::Char('3')), t0);
    assert!(matches!(
        &cmds[..],
        [Cmd::Grade {
            passage: 2,
            grade: Some(3),
            ..
        }]
    ));
    assert_eq!(
        app.overlay,
        Overlay::Judge {
            row: 2,
            queries: false
        },
        "skips the judged p0"
    );
    // The judged queries, and Enter runs one again.
    update(&mut app, key(KeyCode::Tab), t0);
    assert_eq!(app.judged_queries(), [("장마", 1)]);
    app.input.set("다른 질문");
    let cmds = update(&mut app, key(KeyCode::Enter), t0);
    assert!(matches!(&cmds[..], [Cmd::Search { query, .. }] if query == "장마"));
    assert_eq!(
        app.overlay,
        Overlay::Judge {
            row: 0,
            queries: false
        }
    );
}

#[test]
fn a_grade_that_could_not_be_written_is_not_shown_and_says_why() {
    let mut app = ready_app();
    let t0 = Instant::now();
    let g = searched(&mut app, "장마", t0);
    update(
        &mut app,
        Msg::Worker(Reply::Results {
            generation: g,
            results: results("장마", &[0]),
            rerank_total: None,
        }),
        t0,
    );
    update(
        &mut app,
        Msg::Worker(Reply::Graded {
            query: "장마".into(),
            passage: 0,
            grade: Some(1),
            result: Err(Missing::failed(Phase::Judgments, "disk full")),
        }),
        t0,
    );
    assert_eq!(app.grade_of(0), None);
    assert!(app.notice.as_deref().unwrap().contains("disk full"));
}

#[test]
fn the_judge_view_starts_on_the_first_unjudged_hit_and_enter_opens_it() {
    let mut app = ready_app();
    let t0 = Instant::now();
    let g = searched(&mut app, "장마", t0);
    update(
        &mut app,
        Msg::Worker(Reply::Results {
            generation: g,
            results: results("장마", &[2, 0, 1]),
            rerank_total: None,
        }),
        t0,
    );
    for passage in [2, 0] {
        update(
            &mut app,
            Msg::Worker(Reply::Graded {
                query: "장마".into(),
                passage,
                grade: Some(1),
                result: Ok(()),
            }),
            t0,
        );
    }
    update(&mut app, key(KeyCode::F(6)), t0);
    assert_eq!(
        app.overlay,
        Overlay::Judge {
            row: 2,
            queries: false
        },
        "p2 and p0 are graded: the cursor is on p1"
    );
    // Each row: grade, gold mark, id, title and the passage's opening words.
    let corpus = app.corpus.clone().unwrap();
    let screen = crate::tui::snapshots::render(&app, 200, 50);
    let words: Vec<&str> = corpus.passages[1].text.split_whitespace().take(2).collect();
    assert!(screen.contains(&words.join(" ")), "{screen}");
    assert!(
        !screen.contains('✓'),
        "장마 is no dataset question: {screen}"
    );
    update(&mut app, key(KeyCode::Enter), t0);
    assert!(
        matches!(app.overlay, Overlay::Detail { passage: 1, .. }),
        "{:?}",
        app.overlay
    );
}
