use super::*;

#[test]
fn pool_is_the_union_of_top_k_in_first_seen_order() {
    let a = [5, 1, 9, 2];
    let b = [1, 7, 5, 3];
    let c: [usize; 0] = [];
    assert_eq!(pool(&[&a, &b, &c], 3), vec![5, 1, 9, 7]);
    assert_eq!(pool(&[&a, &b], 0), Vec::<usize>::new());
    assert_eq!(pool(&[&b, &a], 10), vec![1, 7, 5, 3, 9, 2]);
}

#[test]
fn query_ids_ignore_surrounding_and_repeated_whitespace() {
    assert_eq!(
        query_id(" 장마는  언제\t오나? "),
        query_id("장마는 언제 오나?")
    );
    assert_ne!(query_id("장마는 언제 오나?"), query_id("장마는 언제 오나"));
    let id = query_id("x");
    assert_eq!(id.len(), 17);
    assert!(id.starts_with('q'));
    // SHA-256("x") = 2d711642b726b044…
    assert_eq!(id, "q2d711642b726b044");
}

#[test]
fn passage_ids_round_trip_and_reject_strangers() {
    assert_eq!(parse_passage_id(&passage_id(12), 67), Some(12));
    assert_eq!(parse_passage_id("p67", 67), None);
    assert_eq!(parse_passage_id("12", 67), None);
    assert_eq!(parse_passage_id("p", 67), None);
    assert_eq!(parse_passage_id("p+1", 67), None);
    assert_eq!(parse_passage_id("doc3", 67), None);
}

#[test]
fn last_record_wins_and_removal_is_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/j.jsonl");
    let (mut s, w) = Judgments::open(&path).unwrap();
    assert!(w.is_empty());
    s.grade("비가 언제 오나", "p1", 2).unwrap();
    s.grade("비가  언제 오나 ", "p1", 3).unwrap();
    s.grade("비가 언제 오나", "p4", 0).unwrap();
    s.grade("다른 질문", "p2", 1).unwrap();
    s.remove("다른 질문", "p2").unwrap();
    assert!(s.grade("q", "p1", 4).is_err());
    assert!(s.grade("  ", "p1", 1).is_err());
    let (again, w) = Judgments::open(&path).unwrap();
    assert!(w.is_empty(), "{w:?}");
    let g = again.grades_for("비가 언제 오나");
    assert_eq!(g.get("p1"), Some(&3));
    assert_eq!(g.get("p4"), Some(&0));
    assert_eq!(again.grade_of("다른 질문", "p2"), None);
    let qs = again.queries();
    assert_eq!(qs.len(), 1);
    assert_eq!(qs[0].judged, 2);
    assert_eq!(qs[0].relevant, 1);
    assert_eq!(qs[0].qid, query_id("비가 언제 오나"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 5);
    assert!(text.lines().last().unwrap().contains("\"grade\":null"));
}

#[test]
fn a_torn_last_line_is_a_warning_and_the_next_grade_starts_a_fresh_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let (mut s, _) = Judgments::open(&path).unwrap();
    s.grade("질문", "p1", 2).unwrap();
    // A crash in the middle of an older writer's line.
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(r#"{"query":"질문","qid":"q","passage":"p2","gr"#.as_bytes())
        .unwrap();
    drop(f);
    let (mut s, w) = Judgments::open(&path).unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].line, 2);
    assert!(w[0].message.contains("torn last line"), "{}", w[0]);
    assert_eq!(s.grades_for("질문").len(), 1);
    s.grade("질문", "p3", 1).unwrap();
    let (s, w) = Judgments::open(&path).unwrap();
    assert_eq!(w.len(), 1);
    assert!(w[0].message.contains("not a judgment record"), "{}", w[0]);
    assert_eq!(s.grade_of("질문", "p3"), Some(1));
    assert_eq!(s.grade_of("질문", "p1"), Some(2));
    // Bad records in the middle are skipped, not fatal.
    std::fs::write(
        &path,
        "{\"query\":\"a\",\"qid\":\"x\",\"passage\":\"p1\",\"grade\":9,\"ts\":0}\n\nnot json\n",
    )
    .unwrap();
    let (s, w) = Judgments::open(&path).unwrap();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(s.queries().is_empty());
}

#[test]
fn qrels_and_topics_parse_and_name_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.txt");
    std::fs::write(&q, "a 0 p1 2\n\nb 0 p3 0\n").unwrap();
    let got = parse_qrels(&q).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0],
        Qrel {
            qid: "a".into(),
            docid: "p1".into(),
            grade: 2
        }
    );
    std::fs::write(&q, "a 0 p1\n").unwrap();
    let e = parse_qrels(&q).unwrap_err().to_string();
    assert!(e.contains("line 1") && e.contains("4 columns"), "{e}");
    std::fs::write(&q, "a 0 p1 2\na 0 p2 1.5\n").unwrap();
    let e = parse_qrels(&q).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("`1.5`"), "{e}");
    std::fs::write(&q, "a 0 p2 -1\n").unwrap();
    assert!(parse_qrels(&q).is_err());
    std::fs::write(&q, "\n \n").unwrap();
    let e = parse_qrels(&q).unwrap_err().to_string();
    assert!(e.contains("no judgments"), "{e}");
    let t = dir.path().join("q.topics.tsv");
    assert_eq!(companion_topics(&q), t);
    std::fs::write(&t, "a\t비가  언제 오나\n").unwrap();
    assert_eq!(parse_topics(&t).unwrap()["a"], "비가 언제 오나");
    std::fs::write(&t, "a 비가\n").unwrap();
    assert!(parse_topics(&t).unwrap_err().to_string().contains("line 1"));
}
