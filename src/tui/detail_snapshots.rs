//! The detail view explains the focused BM25 pane's analyzer: with `morph+bigram` (mecab-ko-dic,
//! installed by `make setup-test`) it shows the query's morphemes with their POS, the ones
//! nori's stop tags drop in brackets, its bigrams, and which query terms the passage holds; at
//! 80x24 all of it and the passage's first lines fit on the first screen.
use super::overlays::detail::{analysis, open};
use super::snapshots::{overwritten, picture, render, with_results};
use super::state::{Focus, Overlay, PaneId};
use crate::bm25::{Analyzer, AnalyzerKind, Decompound};

#[test]
fn detail_view_shows_how_the_focused_bm25_pane_sees_the_query() {
    let mut app = with_results();
    app.analyzer_kind = AnalyzerKind::MORPH_BIGRAM;
    app.analyzer = Some(
        Analyzer::morph(Decompound::Discard, true)
            .unwrap_or_else(|e| panic!("{e} (`make setup-test` installs mecab-ko-dic)")),
    );
    app.pane = PaneId::new(1);
    app.focus = Focus::Pane(app.pane);
    app.selected[app.pane] = 0;
    app.overlay = open(&app).expect("a selected hit");
    let Overlay::Detail {
        passage,
        analysis: Some(a),
        ..
    } = &app.overlay
    else {
        panic!("no analysis in {:?}", app.overlay);
    };
    assert_eq!(a.analyzer, "morph+bigram");
    let seen = a.query.as_ref().expect("the query analysed");
    // 장마는 → 장마/NNG + 는/JX, and the particle is dropped as a stop tag.
    let dropped: Vec<(&str, Option<&str>)> = seen
        .morphemes
        .iter()
        .map(|m| (m.surface.as_str(), m.dropped))
        .collect();
    assert!(dropped.contains(&("장마", None)), "{dropped:?}");
    assert!(dropped.contains(&("는", Some("stop tag"))), "{dropped:?}");
    assert!(
        seen.bigrams.contains(&"중부".to_owned()),
        "{:?}",
        seen.bigrams
    );
    // Every matched term is a query term the passage's own terms hold.
    let text = &app.corpus.as_ref().expect("corpus").passages[*passage].text;
    let terms = app.analyzer.as_ref().expect("analyzer").terms(text);
    for (t, n) in &a.matched {
        assert!(seen.terms.contains(t), "{t}");
        assert_eq!(terms.iter().filter(|x| x.text == *t).count(), *n, "{t}");
    }
    assert!(
        a.matched.iter().any(|(t, _)| t == "장마"),
        "{:?}",
        a.matched
    );
    assert_eq!(analysis(&app, *passage).as_ref(), Some(a));

    let screen = render(&app, 80, 24);
    assert!(!overwritten(&screen), "{screen}");
    for shown in [
        "(morph+bigram) sees the query as",
        "장마/NNG",
        "(는/JX)",
        "bigrams",
        "in this passage",
    ] {
        assert!(screen.contains(shown), "{shown}:\n{screen}");
    }
    insta::assert_snapshot!("detail_morph_80x24", picture(&screen));
}
