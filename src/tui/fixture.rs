//! A small hand-written Korean corpus for the explorer's tests.
use crate::data::{Answer, Corpus, Passage, Question};

pub fn corpus() -> Corpus {
    let passages = [
        (
            "올해 장마 전망",
            "기상청은 올해 장마가 6월 하순 제주도에서 시작해 7월 중순 중부지방에 많은 비를 뿌릴 것으로 내다봤다. 장마철에는 하천 주변 산책로 이용을 삼가야 한다.",
        ),
        (
            "한글의 창제",
            "한글은 1443년 세종대왕이 창제하고 1446년 훈민정음이라는 이름으로 반포하였다. 자음과 모음을 합쳐 음절을 이루는 표음 문자이다.",
        ),
        (
            "김치의 종류",
            "배추김치, 깍두기, 총각김치처럼 김치는 재료와 지역에 따라 종류가 수백 가지에 이른다. 겨울을 앞두고 김치를 담그는 일을 김장이라 한다.",
        ),
        (
            "제주도의 자연",
            "제주도는 화산 활동으로 만들어진 섬으로 한라산과 수많은 오름이 있다. 겨울에도 비교적 따뜻해 감귤 농사가 활발하다.",
        ),
        (
            "서울의 지하철",
            "서울 지하철은 1974년 1호선 개통 이후 노선이 계속 늘어 지금은 수도권 전철과 이어져 하루 수백만 명이 이용한다.",
        ),
    ];
    let questions = [
        (
            "fixture-1",
            "장마는 언제 중부지방에 비를 뿌리나?",
            0,
            "7월 중순",
            28,
        ),
        ("fixture-2", "훈민정음이 반포된 해는?", 1, "1446년", 21),
        (
            "fixture-3",
            "김치를 담그는 일을 무엇이라 하나?",
            2,
            "김장",
            68,
        ),
        ("fixture-4", "제주도에서 활발한 농사는?", 3, "감귤", 52),
    ];
    let mut passages: Vec<Passage> = passages
        .iter()
        .map(|(title, text)| Passage {
            title: (*title).into(),
            text: (*text).into(),
            questions: vec![],
        })
        .collect();
    let questions: Vec<Question> = questions
        .iter()
        .enumerate()
        .map(|(i, (id, text, passage, answer, start))| {
            passages[*passage].questions.push(i);
            Question {
                id: (*id).into(),
                text: (*text).into(),
                passage: *passage,
                answers: vec![Answer {
                    start: *start,
                    text: (*answer).into(),
                }],
            }
        })
        .collect();
    Corpus {
        source: "fixture".into(),
        rows: questions.len(),
        skipped: 0,
        passages,
        questions,
    }
}

#[test]
fn fixture_answers_sit_where_their_starts_say() {
    let c = corpus();
    for q in &c.questions {
        let text = &c.passages[q.passage].text;
        let a = &q.answers[0];
        let (s, e) = crate::data::char_span_to_bytes(text, a.start, a.text.chars().count())
            .expect("span inside the passage");
        assert_eq!(&text[s..e], a.text, "{}", q.id);
    }
}
