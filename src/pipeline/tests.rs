use super::*;
use crate::bm25::Analyzer;
use crate::data::{Passage, Question};
use crate::model::{Embeddings, Progress};
use crate::options::Setting;

/// A bag-of-letters embedder: no libtorch model, deterministic.
struct Letters;

impl Embedder for Letters {
    fn identity(&self) -> String {
        "letters".into()
    }
    fn dim(&self) -> usize {
        3
    }
    fn embed(
        &mut self,
        _: Side,
        texts: &[&str],
        _: &mut dyn FnMut(Progress),
    ) -> crate::model::Result<Embeddings> {
        let mut data = Vec::new();
        for t in texts {
            data.push(t.matches('비').count() as f32 + 0.01);
            data.push(t.matches('눈').count() as f32 + 0.01);
            data.push(t.matches('해').count() as f32 + 0.01);
        }
        Ok(Embeddings { dim: 3, data })
    }
}

/// Prefers shorter passages.
struct Shortest;

impl Reranker for Shortest {
    fn identity(&self) -> String {
        "shortest".into()
    }
    fn score(
        &mut self,
        _: &str,
        passages: &[&str],
        _: &mut dyn FnMut(Progress),
    ) -> crate::model::Result<Vec<f32>> {
        Ok(passages
            .iter()
            .map(|p| -(p.chars().count() as f32))
            .collect())
    }
}

fn corpus() -> Arc<Corpus> {
    let texts = [
        "비가 온다 비 비",
        "눈이 온다",
        "해가 뜬다 장마 끝",
        "장마철 비 소식입니다",
    ];
    Arc::new(Corpus {
        source: "test".into(),
        rows: 4,
        skipped: 0,
        passages: texts
            .iter()
            .map(|t| Passage {
                title: String::new(),
                text: (*t).into(),
                questions: vec![],
            })
            .collect(),
        questions: vec![Question {
            id: "q".into(),
            text: "장마 비".into(),
            passage: 3,
            answers: vec![],
        }],
    })
}

fn pipeline_for(spec: &str) -> Pipeline {
    let corpus = corpus();
    let texts: Vec<&str> = corpus.texts();
    let panes = Panes::parse(spec).unwrap();
    let mut p = Pipeline::new(corpus.clone(), SearchParams::default(), panes.clone());
    for key in panes.bm25_keys() {
        let analyzer = match key {
            Some(crate::bm25::AnalyzerKind::Whitespace) => Analyzer::Whitespace,
            _ => Analyzer::Bigram,
        };
        p.set_bm25(
            key,
            Arc::new(Bm25Index::build(&texts, analyzer, &mut |_| {}).unwrap()),
        );
    }
    for key in panes.dense_keys() {
        let mut enc = Letters;
        let emb = enc.embed(Side::Passage, &texts, &mut |_| {}).unwrap();
        let index = DenseIndex::new(&emb, tch::Device::Cpu).unwrap();
        p.set_dense(&key, Box::new(enc), index);
    }
    p.set_reranker(Box::new(Shortest));
    p
}

fn pipeline() -> Pipeline {
    pipeline_for(crate::panes::DEFAULT_SPEC)
}

#[test]
fn four_panes_with_sources_and_matched_terms() {
    let mut p = pipeline();
    let r = p.search("장마 비");
    assert_eq!(r.results.len(), 4);
    let dense = r.get(Kind::Dense).unwrap();
    assert_eq!(dense.hits[0].passage, 3);
    assert_eq!(dense.hits.len(), 4);
    let bm25 = r.get(Kind::Bm25).unwrap();
    assert_eq!(bm25.hits[0].passage, 3, "{bm25:?}");
    assert_eq!(bm25.hits[0].matched, ["장마", "비"]);
    let hybrid = r.get(Kind::Hybrid).unwrap();
    for h in &hybrid.hits {
        assert!(h.sources.dense().is_some() || h.sources.bm25().is_some());
    }
    let rerank = r.get(Kind::Rerank).unwrap();
    assert_eq!(rerank.hits[0].passage, 1, "shortest passage first");
    assert!(rerank.hits[0].probability.is_some());
    assert!(rerank.hits[0].sources.hybrid().is_some());
    assert_eq!(r.forward_passes.bi_encoder, 1);
    assert_eq!(r.forward_passes.cross_encoder, 4);
}

#[test]
fn panes_share_work_and_fuse_what_they_name() {
    let mut p = pipeline_for(
        "bm25,bm25:whitespace,dense,hybrid,rerank,hybrid:of=bm25+bm25:whitespace,name=lex",
    );
    let r = p.search("장마 비");
    let names: Vec<&str> = r.results.iter().map(|m| r.name(m.pane)).collect();
    assert_eq!(
        names,
        [
            "bm25",
            "bm25:whitespace",
            "dense",
            "hybrid",
            "rerank",
            "lex"
        ]
    );
    // One query encoding for one encoder, whatever reads it.
    assert_eq!(r.forward_passes.bi_encoder, 1);
    // Whitespace terms match whole words only: "장마" and "비" are words of passages 0,
    // 2 and 3, not of "눈이 온다".
    let ws = &r.results[1];
    let mut found: Vec<usize> = ws.hits.iter().map(|h| h.passage).collect();
    found.sort();
    assert_eq!(found, [0, 2, 3], "{ws:?}");
    let lex = &r.results[5];
    assert!(lex.error.is_none());
    let top = &lex.hits[0];
    assert_eq!(
        top.sources.0.iter().map(|s| s.kind).collect::<Vec<_>>(),
        [Kind::Bm25, Kind::Bm25]
    );
    // RRF over the two BM25 lists, by hand.
    let rank = |m: &MethodResult| m.rank_of(top.passage);
    let want: f64 = [rank(&r.results[0]), rank(&r.results[1])]
        .iter()
        .flatten()
        .map(|&r| 1.0 / (60.0 + r as f64))
        .sum();
    assert!((top.score - want).abs() < 1e-12);
}

#[test]
fn hidden_inputs_run_but_are_not_shown() {
    let mut p = pipeline_for("rerank");
    let r = p.search("장마 비");
    assert_eq!(r.results.len(), 1);
    assert_eq!(r.inputs.len(), 3);
    let ids: Vec<PaneId> = p.panes().shown().collect();
    let candidates = p.rerank_candidates(&r, ids[0]).unwrap();
    assert_eq!(candidates.len(), 4);
    assert_eq!(candidates[0].sources.hybrid(), Some(1));
}

#[test]
fn missing_parts_explain_themselves() {
    let corpus = corpus();
    let texts: Vec<&str> = corpus.texts();
    let mut p = Pipeline::new(corpus.clone(), SearchParams::default(), Panes::standard());
    p.set_bm25(
        None,
        Arc::new(Bm25Index::build(&texts, Analyzer::Bigram, &mut |_| {}).unwrap()),
    );
    p.set_dense_missing(
        &DenseKey::default(),
        Missing::failed(Phase::Load, "offline: model not cached"),
    );
    let r = p.search("장마");
    assert_eq!(
        r.get(Kind::Dense).unwrap().error,
        Some(Missing::failed(Phase::Load, "offline: model not cached"))
    );
    assert!(!r.get(Kind::Bm25).unwrap().hits.is_empty());
    let hybrid = r.get(Kind::Hybrid).unwrap();
    assert!(!hybrid.hits.is_empty());
    assert_eq!(
        hybrid.note.as_deref(),
        Some("fused without dense: offline: model not cached")
    );
    assert!(r.get(Kind::Rerank).unwrap().error.is_some());
}

#[test]
fn blank_queries_give_empty_lists() {
    let mut p = pipeline();
    let r = p.search("   ");
    assert!(r
        .results
        .iter()
        .all(|m| m.hits.is_empty() && m.error.is_none()));
    assert_eq!(r.forward_passes, ForwardPasses::default());
}

#[test]
fn params_validate() {
    let bad = SearchParams {
        top_k: 0,
        ..Default::default()
    };
    assert_eq!(bad.validate().unwrap_err().settings, [Setting::TopK]);
    let bad = SearchParams {
        rrf: RrfParams {
            k: f64::NAN,
            depth: 100,
        },
        ..Default::default()
    };
    assert_eq!(bad.validate().unwrap_err().settings, [Setting::RrfK]);
}

#[test]
fn each_bm25_pane_matches_and_highlights_with_its_own_analyzer() {
    let mut p = pipeline_for("bm25,bm25:whitespace");
    let r = p.search("장마철 비");
    let [bigram, whitespace] = [PaneId(0), PaneId(1)].map(|id| r.pane(id).unwrap());
    // Passage 3, "장마철 비 소식입니다": bigrams 장마 and 마철 against the whole word 장마철.
    let hit = |m: &MethodResult| m.hits.iter().find(|h| h.passage == 3).unwrap().clone();
    assert_eq!(hit(bigram).matched, ["장마", "마철", "비"]);
    assert_eq!(hit(whitespace).matched, ["장마철", "비"]);
    // Passage 2, "해가 뜬다 장마 끝": a bigram match only; the whitespace pane finds no term.
    if let Some(h) = whitespace.hits.iter().find(|h| h.passage == 2) {
        assert!(h.matched.is_empty(), "{h:?}");
    }
    assert_eq!(
        bigram.hits.iter().find(|h| h.passage == 2).unwrap().matched,
        ["장마"]
    );
}

#[test]
fn fusion_explanations_add_up_to_the_pane_scores() {
    for spec in [
        crate::panes::DEFAULT_SPEC,
        "dense,bm25,hybrid:method=convex,alpha=0.3",
        "dense,bm25,hybrid:method=convex,norm=zscore,depth=3",
    ] {
        let mut p = pipeline_for(spec);
        let r = p.search("장마 비");
        let hybrid = r.get(Kind::Hybrid).unwrap();
        assert!(!hybrid.hits.is_empty());
        for h in &hybrid.hits {
            let why = explain_fusion(&r, &p.params, hybrid.pane, h.passage).unwrap();
            assert!((why.score - h.score).abs() < 1e-12, "{spec}: {why:?} {h:?}");
            for part in &why.parts {
                let kind = r.panes.get(part.input).kind();
                assert_eq!(part.rank, h.sources.rank(kind), "{spec}");
                if why.method == FusionMethod::Rrf {
                    let want = part.rank.map_or(0.0, |r| part.weight / (why.k + r as f64));
                    assert_eq!(part.adds, want);
                }
            }
        }
    }
}

/// A two-pane result with hand-made lists (REFERENCE.md's worked examples).
fn two_lists(spec: &str, dense: &[(usize, f64)], bm25: &[(usize, f64)]) -> SearchResults {
    let panes = Arc::new(Panes::parse(spec).unwrap());
    let list = |pane: u8, ranking: &[(usize, f64)]| MethodResult {
        ranking: ranking.to_vec(),
        ..MethodResult::empty(PaneId(pane), panes.get(PaneId(pane)).kind())
    };
    SearchResults {
        query: "q".into(),
        panes: panes.clone(),
        terms: vec![],
        encode: Duration::ZERO,
        forward_passes: ForwardPasses::default(),
        results: vec![list(0, dense), list(1, bm25)],
        inputs: vec![],
    }
}

#[test]
fn fusion_explanations_give_the_reference_worked_numbers() {
    let (a, b, c, d) = (0, 1, 2, 3);
    let dense = [(a, 0.9), (b, 0.8), (c, 0.5)];
    let bm25 = [(b, 12.0), (d, 8.0), (a, 4.0)];
    let params = SearchParams {
        fusion: FusionMethod::Convex,
        alpha: 0.3,
        ..SearchParams::default()
    };
    for (norm, want) in [
        ("minmax", [0.30, 0.925, 0.0, 0.35]),
        ("zscore", [-0.5631, 0.9750, -1.2692, -0.4118]),
    ] {
        let r = two_lists(&format!("dense,bm25,hybrid:norm={norm}"), &dense, &bm25);
        for (item, want) in want.iter().enumerate() {
            let why = explain_fusion(&r, &params, PaneId(2), item).unwrap();
            assert!((why.score - want).abs() < 1e-4, "{norm} {item}: {why:?}");
        }
    }
    // RRF, k = 5: lists [1,4,3,5,6] and [2,1,3,6,4] give 1: 0.3095238, 6: 0.2111111.
    let l1: Vec<(usize, f64)> = [1, 4, 3, 5, 6].iter().map(|&i| (i, 0.0)).collect();
    let l2: Vec<(usize, f64)> = [2, 1, 3, 6, 4].iter().map(|&i| (i, 0.0)).collect();
    let r = two_lists("dense,bm25,hybrid:k=5", &l1, &l2);
    let params = SearchParams::default();
    for (item, want) in [(1, 0.3095238), (3, 0.25), (6, 0.2111111), (2, 0.1666667)] {
        let why = explain_fusion(&r, &params, PaneId(2), item).unwrap();
        assert!((why.score - want).abs() < 1e-7, "{item}: {why:?}");
    }
    let why = explain_fusion(&r, &params, PaneId(2), 2).unwrap();
    assert_eq!(why.parts[0].rank, None, "2 is only in the second list");
    assert_eq!(why.parts[1].rank, Some(1));
}

#[test]
fn explain_ranks_targets_over_the_whole_corpus() {
    let mut p = pipeline();
    p.params.top_k = 1;
    p.params.rrf.depth = 1;
    let r = p.search("장마 비");
    let dense = r.get(Kind::Dense).unwrap();
    let bm25 = r.get(Kind::Bm25).unwrap();
    assert_eq!(dense.ranking.len(), 1, "the pane's list stops at depth 1");
    let e = p.explain(&r, &[0, 1, 2, 3]);
    // Ranks past the list, against full-depth lists of the same pipeline.
    p.params.top_k = 4;
    p.params.rrf.depth = 4;
    let full = p.search("장마 비");
    for passage in 0..4 {
        let want = full.get(Kind::Dense).unwrap().rank_of(passage).unwrap();
        assert!(
            matches!(e.deep(dense.pane, passage), Some(Place::Ranked(r, _)) if *r == want),
            "{passage}: {:?}",
            e.deep(dense.pane, passage)
        );
        let place = e.deep(bm25.pane, passage).unwrap();
        match full.get(Kind::Bm25).unwrap().rank_of(passage) {
            Some(want) => assert!(matches!(place, Place::Ranked(r, _) if *r == want)),
            None => assert_eq!(place, &Place::NoTerm, "{passage}"),
        }
    }
    assert_eq!(e.deep(bm25.pane, 1), Some(&Place::NoTerm), "눈이 온다");
    for h in &full.get(Kind::Bm25).unwrap().hits {
        let x = e.bm25(bm25.pane, h.passage).unwrap().as_ref().unwrap();
        assert!((x.score - h.score).abs() < 1e-4);
    }
}
