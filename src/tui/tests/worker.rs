//! The worker answers a query while an evaluation runs.
use std::time::{Duration, Instant};

use std::sync::mpsc::channel;

use super::*;
use crate::options::{ApiOptions, DataOptions, ModelOptions, RetrievalOptions};
use crate::tui::protocol::EvalLabels;

fn options() -> Options {
    Options {
        model: ModelOptions::default(),
        data: DataOptions {
            data: Some("sample".into()),
            ..DataOptions::default()
        },
        retrieval: RetrievalOptions::default(),
        api: ApiOptions::default(),
        download_progress: false,
    }
}

/// The next reply within `wait`, or `None`.
fn next_reply(ui: &Receiver<Msg>, wait: Duration) -> Option<Reply> {
    match ui.recv_timeout(wait) {
        Ok(Msg::Worker(reply)) => Some(reply),
        _ => None,
    }
}

/// An evaluation whose cross-encoder never answers (its pairs wait on a rerank thread
/// that is not serving) stays running; a query sent meanwhile is answered at once, and
/// cancelling ends the evaluation's thread.
#[test]
fn a_query_sent_during_an_evaluation_is_answered_before_it_ends() {
    let opts = options();
    let corpus = Arc::new(crate::tui::fixture::corpus());
    let mut pipeline = Pipeline::new(
        corpus.clone(),
        opts.retrieval.params(),
        crate::panes::Panes::standard(),
    );
    let index = session::build_bm25(&corpus, Analyzer::Bigram, &mut |_| {}).unwrap();
    pipeline.set_bm25(None, Arc::new(index));
    pipeline.set_dense_missing(
        &DenseKey::default(),
        Missing::failed(Phase::Load, "no model in this test"),
    );
    let (ui_tx, ui) = channel();
    let (inbox, rx) = channel();
    let (rerank, stalled) = channel();
    let control = Control::new();
    let (opts, ui_tx, own_inbox, own_control) = (&opts, &ui_tx, inbox.clone(), control.clone());
    std::thread::scope(|s| {
        let serving = s.spawn(move || {
            let mut worker = Worker {
                opts,
                pipeline,
                ui: ui_tx,
                control: own_control,
                inbox: own_inbox,
                models: None,
                rerank,
                encoders: Vec::new(),
                reranker_state: Ok("a cross-encoder that never answers".into()),
                doc_freq: None,
                playground: None,
                eval_cancel: None,
                runtime: "test".into(),
                judgments: Err(Missing::failed(Phase::Judgments, "none in this test")),
            };
            worker.serve(&rx);
        });
        let send = |cmd| inbox.send(Inbox::Cmd(cmd)).unwrap();
        send(Cmd::Evaluate {
            generation: 1,
            labels: EvalLabels::Gold,
        });
        // The evaluation's first question reaches the cross-encoder and waits there.
        let Ok(Job::Batch { .. }) = stalled.recv_timeout(Duration::from_secs(10)) else {
            panic!("the evaluation never asked for its rerank scores");
        };
        let asked = Instant::now();
        send(Cmd::Search {
            generation: 7,
            query: "장마 비".into(),
        });
        let mut part = None;
        let answered = loop {
            match next_reply(&ui, Duration::from_secs(10)) {
                Some(Reply::Results {
                    generation: 7,
                    results,
                    ..
                }) => break results,
                Some(Reply::EvalPart { outcome, .. }) => part = Some(outcome),
                Some(Reply::EvalDone { outcome, .. }) => {
                    panic!("the evaluation ended first: {:?}", outcome.err())
                }
                Some(_) => {}
                None => panic!("no answer to the query"),
            }
        };
        assert!(asked.elapsed() < Duration::from_secs(5));
        // The panes without a cross-encoder finished first and their numbers came at once.
        let part = part.expect("the fast panes' numbers before the rerank's");
        assert!(part.reports.contains_key("bm25"), "{:?}", part.reports);
        assert!(!part.reports.contains_key("rerank"));
        let bm25 = answered.get(Kind::Bm25).unwrap();
        assert_eq!(bm25.hits[0].passage, 0, "{:?}", bm25.hits);
        assert!(!bm25.hits[0].spans.is_empty(), "the hit carries its spans");
        // Still running: cancel it, and its thread ends.
        send(Cmd::CancelEval);
        send(Cmd::Quit);
        serving.join().unwrap();
        assert!(control.shut_down(Duration::from_secs(5)));
        while let Some(reply) = next_reply(&ui, Duration::ZERO) {
            assert!(
                !matches!(reply, Reply::EvalDone { .. }),
                "a cancelled evaluation reports nothing"
            );
        }
    });
}

/// The playground's terms follow the BM25 pane's analyzer: after whitespace → bigram, the
/// sentences' sparse half comes again under bigram without F5, and the new analyzer's
/// check (nothing to warn about) reaches the status bar.
#[test]
fn the_playground_follows_an_analyzer_switch_without_f5() {
    let opts = options();
    let corpus = Arc::new(crate::tui::fixture::corpus());
    let panes = crate::panes::Panes::standard();
    let bm25_pane = panes.first(Kind::Bm25).unwrap();
    let mut pipeline = Pipeline::new(corpus.clone(), opts.retrieval.params(), panes);
    let index = session::build_bm25(&corpus, Analyzer::Whitespace, &mut |_| {}).unwrap();
    pipeline.set_bm25(None, Arc::new(index));
    let (ui_tx, ui) = channel();
    let (inbox, rx) = channel();
    let (rerank, _jobs) = channel();
    let control = Control::new();
    let (opts, ui_tx, own_inbox, own_control) = (&opts, &ui_tx, inbox.clone(), control.clone());
    std::thread::scope(|s| {
        let serving = s.spawn(move || {
            let mut worker = Worker {
                opts,
                pipeline,
                ui: ui_tx,
                control: own_control,
                inbox: own_inbox,
                models: None,
                rerank,
                encoders: Vec::new(),
                reranker_state: Err(Missing::Off("none in this test".into())),
                doc_freq: None,
                playground: None,
                eval_cancel: None,
                runtime: "test".into(),
                judgments: Err(Missing::failed(Phase::Judgments, "none in this test")),
            };
            worker.serve(&rx);
        });
        let send = |cmd| inbox.send(Inbox::Cmd(cmd)).unwrap();
        let sparse = |what: &str| loop {
            match next_reply(&ui, Duration::from_secs(30)) {
                Some(Reply::PlaygroundSparse { generation, result }) => {
                    break (generation, result.unwrap())
                }
                Some(_) => {}
                None => panic!("no playground terms {what}"),
            }
        };
        send(Cmd::Similar {
            generation: 1,
            sentences: vec!["잠이 안 옵니다".into(), "졸음이 옵니다".into()],
        });
        let (_, before) = sparse("at first");
        assert!(
            before.idf.ends_with("analyzer whitespace"),
            "{}",
            before.idf
        );
        send(Cmd::SetPane {
            pane: bm25_pane,
            retriever: Retriever::Bm25(Some(crate::bm25::AnalyzerKind::Bigram)),
        });
        let (generation, after) = sparse("after the switch");
        assert_eq!(
            generation, 1,
            "the same sentences, no new computation asked"
        );
        assert!(after.idf.ends_with("analyzer bigram"), "{}", after.idf);
        assert_ne!(before.seen, after.seen);
        send(Cmd::Quit);
        serving.join().unwrap();
        assert!(control.shut_down(Duration::from_secs(5)));
    });
}

#[test]
fn the_evaluation_names_an_encoder_in_words_not_by_its_cache_key() {
    assert_eq!(
        encoder_in_words(
            "/home/u/models/multilingual-e5-small#802c41f0a1b2c3d4|max|norm|max256|BFloat16-mixed"
        ),
        "encoder multilingual-e5-small, max pooling, BFloat16-mixed"
    );
    assert_eq!(
        encoder_in_words("snunlp/KR-SBERT-V40K-klueNLI-augSTS@0123abcd|mean|norm|max128|Float"),
        "encoder snunlp/KR-SBERT-V40K-klueNLI-augSTS, mean pooling, Float"
    );
    assert_eq!(
        encoder_in_words("openai|http://127.0.0.1:8080/v1|e5|input_type=-|prompt=\"\""),
        "encoder e5 at http://127.0.0.1:8080/v1"
    );
}
