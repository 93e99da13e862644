use super::*;

fn names(p: &Panes) -> Vec<(&str, &str, bool)> {
    p.all()
        .iter()
        .map(|p| (p.name.as_str(), p.title.as_str(), p.shown))
        .collect()
}

#[test]
fn the_default_spec_is_the_four_panes() {
    let p = Panes::standard();
    assert_eq!(
        names(&p),
        [
            ("dense", "Semantic", true),
            ("bm25", "BM25", true),
            ("hybrid", "Hybrid (RRF)", true),
            ("rerank", "Rerank", true)
        ]
    );
    assert_eq!(p.get(PaneId(2)).retriever.inputs(), [PaneId(0), PaneId(1)]);
    assert_eq!(p.get(PaneId(3)).retriever.inputs(), [PaneId(2)]);
}

#[test]
fn options_follow_their_entry() {
    let p = Panes::parse("bm25,bm25:whitespace,dense:pooling=cls,title=CLS,hybrid,rerank").unwrap();
    assert_eq!(
        names(&p),
        [
            ("bm25", "BM25", true),
            ("bm25:whitespace", "BM25 · whitespace", true),
            ("dense:pooling=cls", "CLS", true),
            // Two BM25 panes: the hybrid's title says which it fuses.
            ("hybrid", "Hybrid (RRF) · dense:pooling=cls+bm25", true),
            ("rerank", "Rerank", true)
        ]
    );
    assert_eq!(
        p.get(PaneId(1)).retriever,
        Retriever::Bm25(Some(AnalyzerKind::Whitespace))
    );
    assert_eq!(
        p.get(PaneId(2)).retriever,
        Retriever::Dense(DenseKey {
            model: None,
            pooling: Some(PoolMode::Cls)
        })
    );
    // hybrid fuses the first dense and the first BM25 pane.
    assert_eq!(p.get(PaneId(3)).retriever.inputs(), [PaneId(2), PaneId(0)]);
    assert_eq!(p.bm25_keys(), [None, Some(AnalyzerKind::Whitespace)]);
}

#[test]
fn of_names_other_panes_and_models_may_hold_colons() {
    let p = Panes::parse(
        "dense,dense:model=openai:text-embedding-3-small,name=oa,bm25,\
         hybrid:of=oa+bm25,weights=1+0.5,title=OA hybrid,rerank:of=hybrid:of=oa+bm25,depth=10",
    );
    // `rerank:of=hybrid:of=...` names a pane that does not exist by that name.
    assert!(p.is_err());
    let p = Panes::parse(
        "dense,dense:model=openai:text-embedding-3-small,name=oa,bm25,\
         hybrid:of=oa+bm25,weights=1+0.5,name=h2,rerank:of=h2,depth=10",
    )
    .unwrap();
    let oa = p.by_name("oa").unwrap();
    assert_eq!(
        p.get(oa).retriever,
        Retriever::Dense(DenseKey {
            model: Some("openai:text-embedding-3-small".into()),
            pooling: None
        })
    );
    assert_eq!(p.get(oa).title, "Semantic · text-embedding-3-small");
    let h2 = p.by_name("h2").unwrap();
    assert_eq!(p.get(h2).retriever.inputs(), [oa, PaneId(2)]);
    assert_eq!(
        p.get(PaneId(4)).retriever,
        Retriever::Rerank {
            of: h2,
            depth: Some(10)
        }
    );
    assert_eq!(p.dense_keys().len(), 2);
}

#[test]
fn missing_inputs_become_hidden_retrievers() {
    let p = Panes::parse("hybrid,rerank").unwrap();
    assert_eq!(
        names(&p),
        [
            ("hybrid", "Hybrid (RRF)", true),
            ("rerank", "Rerank", true),
            ("dense", "Semantic", false),
            ("bm25", "BM25", false)
        ]
    );
    assert_eq!(p.shown().count(), 2);
    assert_eq!(
        p.closure(PaneId(1)),
        [PaneId(2), PaneId(3), PaneId(0), PaneId(1)]
    );
    let p = Panes::parse("rerank").unwrap();
    assert_eq!(p.all().len(), 4);
    assert_eq!(
        Panes::from_methods("rerank,dense").unwrap().shown_count(),
        2
    );
}

#[test]
fn bad_specs_name_the_entry_and_what_is_allowed() {
    for (spec, says) in [
        ("", "no panes"),
        ("dense,sparse", "unknown pane kind `sparse`"),
        ("dense:pooling=median", "dense:pooling=median"),
        ("bm25:klingon", "klingon"),
        ("dense,dense", "two panes are named `dense`"),
        (
            "dense,bm25,hybrid:of=dense+nope",
            "`nope`, which is not a pane",
        ),
        ("dense,hybrid:of=dense", "two or more different panes"),
        ("dense,bm25,hybrid,weights=1", "1 weights for 2 inputs"),
        ("dense,bm25,hybrid,weights=0+0", "every weight is 0"),
        ("dense,bm25,hybrid,k=-1", "must be a number >= 0"),
        ("dense,bm25,hybrid,alpha=2", "alpha is the dense weight"),
        ("title=x", "no pane comes before it"),
        ("dense,bm25,rerank:depth=0", "whole number >= 1"),
        ("dense,bm25,colour=red", "bm25 takes analyzer=, decompound="),
        (
            "bm25,decompound=mixed",
            "decompound= follows a morph analyzer",
        ),
        ("bm25:morph/split", "morph takes /discard"),
        (
            "dense,bm25,hybrid,hybrid,hybrid,rerank,dense:pooling=cls",
            "at most 6",
        ),
        (
            "dense,bm25,hybrid:of=dense+bm25+h2,name=h1,hybrid:of=h1+dense,name=h2",
            "reads itself",
        ),
    ] {
        let e = Panes::parse(spec).expect_err(spec).to_string();
        assert!(e.contains(says), "{spec}: {e}");
    }
}

#[test]
fn server_fusion_reads_one_dense_and_one_bm25_pane() {
    let p = Panes::parse("dense,bm25,hybrid,hybrid:server,fusion:method=server,name=s2").unwrap();
    assert_eq!(
        p.server_fusions().collect::<Vec<_>>(),
        [PaneId(3), PaneId(4)]
    );
    assert_eq!(p.get(PaneId(3)).title, "Hybrid (Milvus RRF)");
    assert_eq!(p.get(PaneId(3)).retriever.inputs(), [PaneId(0), PaneId(1)]);
    for (spec, says) in [
        (
            "dense,bm25,bm25:whitespace,hybrid:server,of=bm25+bm25:whitespace",
            "one dense and one BM25",
        ),
        ("dense,bm25,hybrid:server,weights=1+2", "no weights="),
        (
            "dense,bm25,hybrid:server,method=convex",
            "exclude each other",
        ),
        ("dense,bm25,hybrid:server,k=2.5", "whole number"),
    ] {
        let e = Panes::parse(spec).expect_err(spec).to_string();
        assert!(e.contains(says), "{spec}: {e}");
    }
}

#[test]
fn backend_panes_say_so_and_server_fusion_needs_the_backend() {
    let spec = "dense,bm25,dense:pooling=cls,hybrid:server,rerank";
    let mut p = Panes::parse(spec).unwrap();
    let e = p.clone().on_backend(None).unwrap_err().to_string();
    assert!(
        e.contains("hybrid:server") && e.contains("--backend"),
        "{e}"
    );
    p.on_backend(Some((&DenseKey::default(), None))).unwrap();
    let titles: Vec<&str> = p.all().iter().map(|p| p.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Semantic (Milvus)",
            "BM25 (Milvus)",
            "Semantic · cls",
            // Two dense panes: the fusion names the lists it reads.
            "Hybrid (Milvus RRF) · dense+bm25",
            "Rerank"
        ]
    );
    // Retitling twice adds nothing; a server fusion of a local pane is refused.
    p.on_backend(Some((&DenseKey::default(), None))).unwrap();
    assert_eq!(p.get(PaneId(0)).title, "Semantic (Milvus)");
    let mut local = Panes::parse("dense:pooling=cls,bm25,hybrid:server").unwrap();
    let e = local
        .on_backend(Some((&DenseKey::default(), None)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`dense:pooling=cls` runs locally"), "{e}");
    assert!(Panes::standard().on_backend(None).is_ok());
}

#[test]
fn dropping_rerank_keeps_the_rest_wired() {
    let p = Panes::parse("dense,bm25,rerank,hybrid").unwrap();
    let kept = p.without_rerank().unwrap();
    assert_eq!(kept.shown_count(), 3);
    let h = kept.by_name("hybrid").unwrap();
    assert_eq!(kept.get(h).retriever.inputs(), [PaneId(0), PaneId(1)]);
    assert!(Panes::parse("rerank").unwrap().without_rerank().is_err());
}

#[test]
fn morph_panes_take_their_analyzer_and_decompound_mode() {
    let p =
        Panes::parse("bm25:bigram,bm25:morph+bigram,bm25:morph,decompound=mixed,bm25:morph/none")
            .unwrap();
    assert_eq!(
        p.bm25_keys(),
        [
            Some(AnalyzerKind::Bigram),
            Some(AnalyzerKind::MORPH_BIGRAM),
            Some(AnalyzerKind::Morph(crate::bm25::Decompound::Mixed)),
            Some(AnalyzerKind::Morph(crate::bm25::Decompound::None)),
        ]
    );
}

#[test]
fn a_hybrid_beside_two_dense_panes_names_the_lists_it_fuses() {
    let p =
        Panes::parse("dense,dense:model=/m/e5,name=e5,bm25,hybrid,hybrid:of=dense+e5+bm25,name=h3")
            .unwrap();
    assert_eq!(p.get(PaneId(3)).title, "Hybrid (RRF) · dense+bm25");
    assert_eq!(p.get(PaneId(4)).title, "Hybrid (RRF) · dense+e5+bm25");
    // One dense pane: nothing to tell apart, the title stays short.
    let one = Panes::parse("dense,bm25,hybrid").unwrap();
    assert_eq!(one.get(PaneId(2)).title, "Hybrid (RRF)");
    // A setting keeps the inputs in the title; a title given in the spec is kept as is.
    let mut p = p;
    let convex = Retriever::Fusion {
        of: vec![PaneId(0), PaneId(1), PaneId(2)],
        opts: FusionOpts {
            method: Some(FusionMethod::Convex),
            ..FusionOpts::default()
        },
    };
    p.set_retriever(PaneId(4), convex).unwrap();
    assert_eq!(p.get(PaneId(4)).title, "Hybrid (convex) · dense+e5+bm25");
    let titled = Panes::parse("dense,dense:model=/m/e5,name=e5,bm25,hybrid,title=Mix").unwrap();
    assert_eq!(titled.get(PaneId(3)).title, "Mix");
}
