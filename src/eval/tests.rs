use super::*;

#[test]
fn evaluation_puts_top_k_back_when_it_fails_or_is_cancelled() {
    use crate::bm25::{Analyzer, Bm25Index};
    use crate::data::LoadOptions;
    use crate::pipeline::SearchParams;
    use std::sync::Arc;

    let corpus = Arc::new(Corpus::sample(&LoadOptions::default()).unwrap());
    let params = SearchParams {
        top_k: 3,
        ..SearchParams::default()
    };
    let mut pipeline = Pipeline::new(corpus.clone(), params, Panes::from_methods("bm25").unwrap());
    let index = Bm25Index::build(&corpus.texts(), Analyzer::Bigram, &mut |_| {}).unwrap();
    pipeline.set_bm25(None, Arc::new(index));
    let methods = [PaneId(0)];

    // A run file that refuses every write (read-only, unbuffered): the evaluation raises
    // top-k to 10, then fails on the first question's run lines.
    let refusing = std::fs::File::open("/dev/null").unwrap();
    let mut trec = TrecRuns {
        files: BTreeMap::from([(PaneId(0), std::io::BufWriter::with_capacity(0, refusing))]),
    };
    let mut seen = 0;
    let failed = evaluate(&mut pipeline, &methods, Some(&mut trec), &mut |done, _| {
        seen = done;
        ControlFlow::Continue(())
    });
    assert!(failed.is_err());
    assert_eq!(seen, 0, "failed before the first question was done");
    assert_eq!(pipeline.params.top_k, 3);

    // Stopped: the progress callback breaks after the first question, as the explorer's
    // does when an evaluation is cancelled.
    let mut asked = 0;
    let stopped = evaluate(&mut pipeline, &methods, None, &mut |_, _| {
        asked += 1;
        ControlFlow::Break(())
    });
    let Err(err) = stopped else {
        panic!("the evaluation was not stopped")
    };
    assert!(err.downcast_ref::<Stopped>().is_some(), "{err:#}");
    assert_eq!(asked, 1, "no question after the break");
    assert_eq!(pipeline.params.top_k, 3);

    // And a finished one puts it back too.
    let (reports, _) = evaluate(&mut pipeline, &methods, None, &mut |_, _| {
        ControlFlow::Continue(())
    })
    .unwrap();
    assert!(reports["bm25"].metrics.recall_10 > 0.5);
    assert_eq!(pipeline.params.top_k, 3);
}

#[test]
fn run_scores_strictly_decrease_and_move_by_ulps_only() {
    // 1/61 + 1/62 and a value one f64 ulp below it: distinct in f64, one f32.
    let rrf = 1.0 / 61.0 + 1.0 / 62.0;
    let s = [
        0.5,
        0.5,
        0.5,
        0.25,
        0.3,
        f64::NAN,
        rrf,
        rrf.next_down(),
        0.01,
    ];
    let out = strictly_decreasing(&s);
    for w in out.windows(2) {
        assert!(w[0] > w[1], "{out:?}");
    }
    assert_eq!(out[0], 0.5);
    assert_eq!(out[1], 0.5f32.next_down());
    assert_eq!(out[2], 0.5f32.next_down().next_down());
    assert_eq!(out[3], 0.25);
    assert_eq!(out[4], 0.25f32.next_down());
    assert_eq!(out[7], (rrf as f32).next_down());
    assert_eq!(out[8], 0.01);
    // The written text reads back to the same f32, and read as f64 (then rounded to
    // trec_eval's float, or not) it still strictly decreases: no new ties either way.
    let wide: Vec<f64> = out.iter().map(|x| x.to_string().parse().unwrap()).collect();
    for (x, w) in out.iter().zip(&wide) {
        assert_eq!(x.to_string().parse::<f32>().unwrap(), *x);
        assert_eq!(*w as f32, *x);
    }
    for w in wide.windows(2) {
        assert!(w[0] > w[1], "{wide:?}");
    }
}

fn corpus(passages: usize) -> Corpus {
    Corpus {
        passages: (0..passages)
            .map(|i| crate::data::Passage {
                title: String::new(),
                text: format!("passage {i}"),
                questions: Vec::new(),
            })
            .collect(),
        questions: vec![crate::data::Question {
            id: "guid-1".into(),
            text: "데이터셋 질문".into(),
            passage: 0,
            answers: Vec::new(),
        }],
        ..Default::default()
    }
}

#[test]
fn qrels_queries_take_text_from_topics_or_question_ids_and_count_strangers() {
    let c = corpus(5);
    let qrels = [
        ("a", "p1", 2),
        ("a", "p9", 1),
        ("a", "doc3", 1),
        ("guid-1", "p0", 3),
        ("nobody", "p2", 1),
        ("a", "p1", 3),
    ]
    .map(|(q, d, g)| Qrel {
        qid: q.into(),
        docid: d.into(),
        grade: g,
    });
    let topics = BTreeMap::from([("a".to_owned(), "비가 언제 오나".to_owned())]);
    let mut report = LabelsReport::default();
    let qs = qrels_queries(&c, &qrels, &topics, &mut report);
    assert_eq!(qs.len(), 2);
    assert_eq!(report.unknown_passages, 2);
    assert_eq!(report.queries_without_text, 1);
    assert_eq!(report.queries, 2);
    assert_eq!(report.judgments, 2);
    assert_eq!(qs[0].text, "비가 언제 오나");
    assert_eq!(qs[0].labels, Labels::Graded(Grades::from([(1, 3)])));
    assert_eq!(qs[1].text, "데이터셋 질문");
    assert!(report
        .describe()
        .contains("skipped 2 judgments with unknown passage ids"));
}
