use super::*;
use parquet::file::reader::{ChunkReader, Length};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The bundled sample whose footer reads fine and whose pages panic when the parquet crate
/// asks for them: the panic unwinds through the crate's reader, as one raised by its
/// decoders on a damaged page would.
struct DamagedPages(bytes::Bytes);

impl DamagedPages {
    fn pages_end(&self) -> u64 {
        let n = self.0.len();
        let footer = u32::from_le_bytes(self.0[n - 8..n - 4].try_into().unwrap());
        (n - 8) as u64 - u64::from(footer)
    }
}

impl Length for DamagedPages {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

impl ChunkReader for DamagedPages {
    type T = <bytes::Bytes as ChunkReader>::T;
    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        assert!(
            start >= self.pages_end(),
            "index out of bounds in a damaged page"
        );
        self.0.get_read(start)
    }
    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        assert!(
            start >= self.pages_end(),
            "index out of bounds in a damaged page"
        );
        self.0.get_bytes(start, length)
    }
}

#[test]
fn a_panic_inside_the_parquet_reader_is_an_error_naming_the_file_with_no_panic_text() {
    // Count the panics of this thread that reach the installed hook (what would be
    // printed); other threads' panics go on to the hook before.
    let printed = Arc::new(AtomicUsize::new(0));
    let here = std::thread::current().id();
    let before = {
        let _turn = PANIC_HOOK_TURN.lock().unwrap();
        let before = Arc::new(std::panic::take_hook());
        let (count, others) = (printed.clone(), before.clone());
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().id() == here {
                count.fetch_add(1, Ordering::SeqCst);
            } else {
                others(info);
            }
        }));
        before
    };

    let opts = LoadOptions::default();
    let mut builder = CorpusBuilder::new(&opts);
    let path = Path::new("/data/damaged.parquet");
    let err = builder
        .read_contained(
            path,
            DamagedPages(bytes::Bytes::from_static(SAMPLE_PARQUET)),
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("/data/damaged.parquet: not a readable parquet file ("),
        "{err}"
    );
    assert!(!err.contains("index out of bounds"), "{err}");
    assert_eq!(printed.load(Ordering::SeqCst), 0, "the panic was printed");
    // The hook from before is back: a later panic on this thread reaches it.
    let _ = std::panic::catch_unwind(|| panic!("after the load"));
    assert_eq!(printed.load(Ordering::SeqCst), 1);

    let _turn = PANIC_HOOK_TURN.lock().unwrap();
    drop(std::panic::take_hook());
    let before = Arc::try_unwrap(before).unwrap_or_else(|_| unreachable!());
    std::panic::set_hook(before);
}

#[test]
fn char_spans_count_code_points() {
    let text = "장마는 7월에 온다";
    let (b, e) = char_span_to_bytes(text, 4, 2).unwrap();
    assert_eq!(&text[b..e], "7월");
    assert_eq!(char_span_to_bytes(text, 10, 1), None);
    assert_eq!(
        char_span_to_bytes(text, 9, 1).map(|(b, e)| &text[b..e]),
        Some("다")
    );
}

#[test]
fn sample_merges_repeated_contexts() {
    let corpus = Corpus::sample(&LoadOptions::default()).unwrap();
    assert_eq!(corpus.passages.len(), 67);
    assert_eq!(corpus.questions.len(), 143);
    assert_eq!(corpus.rows, 143);
    for q in &corpus.questions {
        let p = &corpus.passages[q.passage];
        assert!(p
            .questions
            .iter()
            .any(|&qi| corpus.questions[qi].id == q.id));
        for a in &q.answers {
            let (b, e) = char_span_to_bytes(&p.text, a.start, a.text.chars().count()).unwrap();
            assert_eq!(&p.text[b..e], a.text, "{}", q.id);
        }
    }
    let limited = Corpus::sample(&LoadOptions {
        limit: Some(10),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(limited.rows, 10);
    assert_eq!(limited.questions.len(), 10);
    assert!(limited.passages.len() <= 10);
}
