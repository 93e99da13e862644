//! The status bar: what is ready, and warnings that a later one cannot hide.
use super::*;
use crate::session::Event;

/// The status bar's first two lines at 200 columns.
fn status(app: &App) -> String {
    let screen = crate::tui::snapshots::render(app, 200, 30);
    let lines: Vec<&str> = screen.lines().collect();
    lines[lines.len() - 3..].join("\n")
}

#[test]
fn ready_says_what_loaded_when_the_models_failed() {
    let mut app = ready_app();
    let t0 = Instant::now();
    let failed = |part| {
        Msg::Worker(Reply::Failed(
            part,
            Missing::failed(
                Phase::Load,
                "not in the local hub cache and --offline was given",
            ),
        ))
    };
    update(&mut app, failed(Part::Dense), t0);
    update(&mut app, failed(Part::Reranker), t0);
    let text = status(&app);
    assert!(text.contains("Ready: BM25 only"), "{text}");
    assert!(!text.contains("Ready ·"), "{text}");
    update(&mut app, failed(Part::Bm25), t0);
    assert!(
        status(&app).contains("Nothing could be loaded"),
        "{}",
        status(&app)
    );
    // Every part there: plain Ready.
    let mut app = ready_app();
    update(&mut app, Msg::Worker(Reply::DenseReady), t0);
    update(&mut app, Msg::Worker(Reply::RerankerReady), t0);
    let text = status(&app);
    assert!(
        text.contains("Ready ·") || text.contains("Ready "),
        "{text}"
    );
    assert!(!text.contains("Ready:"), "{text}");
}

#[test]
fn the_sample_fallback_stays_on_screen_after_later_warnings() {
    let mut app = ready_app();
    let t0 = Instant::now();
    let sample = crate::data::Corpus::sample(&Default::default()).unwrap();
    update(&mut app, Msg::Worker(Reply::Corpus(Arc::new(sample))), t0);
    let warn = |w: &str| Msg::Worker(Reply::Session(Event::Warning(w.into())));
    update(
        &mut app,
        warn("cannot reach https://huggingface.co; using the bundled sample corpus instead"),
        t0,
    );
    update(&mut app, warn("judgments: no file yet"), t0);
    let text = status(&app);
    assert!(text.contains("67 passages (the bundled sample)"), "{text}");
    assert!(
        text.contains("warning: judgments: no file yet (+1 earlier, in the log)"),
        "{text}"
    );
}

/// A remote encoder answers its first batch late: the bar names the encoder and counts the
/// seconds until then, and gives an ETA from the first answer on.
#[test]
fn embedding_with_a_remote_encoder_names_it_and_never_looks_frozen() {
    let mut app = ready_app();
    let t0 = Instant::now();
    let step =
        crate::session::Step::Embed("multilingual-e5-small-q4 at http://127.0.0.1:8000/v1".into());
    let start = Event::Start {
        step,
        total: Some(42),
    };
    update(&mut app, Msg::Worker(Reply::Session(start)), t0);
    update(&mut app, Msg::Tick, t0 + Duration::from_secs(21));
    let text = status(&app);
    assert!(
        text.contains(
            "embedding passages with multilingual-e5-small-q4 at http://127.0.0.1:8000/v1"
        ),
        "{text}"
    );
    assert!(
        text.contains("0/42 · 21s, waiting for the first answer"),
        "{text}"
    );
    let progress = Event::Progress { done: 21 };
    update(
        &mut app,
        Msg::Worker(Reply::Session(progress)),
        t0 + Duration::from_secs(21),
    );
    let text = status(&app);
    assert!(text.contains("21/42 · ETA 21s"), "{text}");
}
