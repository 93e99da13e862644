//! The playground's word2vec section: word vectors trained on the loaded corpus under the
//! BM25 analyzer in use (on a thread of its own, with progress, once per analyzer), then the
//! playground's lines as words: word2vec cosines, nearest words, and line 1 − line 2 + line 3.
//! The one-hot, bag-of-words and sentence-encoder cosines of the same words are the
//! playground's own matrices. The trained vectors are state (kept in [`Words`]), not a
//! resource: the worker trains when none fit and answers from them after.
use std::sync::Arc;

use crate::model::Progress;
use crate::tui::protocol::{Cmd, Reply};
use crate::tui::state::App;
use crate::tui::worker::Worker;
use crate::word2vec::chapter::{self, WordReport};
use crate::word2vec::{self, Arch, Params, WordVectors};

/// Vectors trained for this session, and what they were trained on.
#[derive(Debug, PartialEq)]
pub struct Trained {
    pub vectors: WordVectors,
    /// The analyzer's description: vectors of another analyzer's terms are trained again.
    pub analyzer: String,
    /// Params, corpus and time, for the section's header.
    pub about: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WordsOutcome {
    pub trained: Arc<Trained>,
    pub report: WordReport,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub enum WordsStage {
    #[default]
    NotAsked,
    Training {
        done: usize,
        total: usize,
    },
    Done(Result<WordsOutcome, String>),
}

/// The section's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Words {
    pub generation: u64,
    pub stage: WordsStage,
    /// The newest vectors, offered to the worker with each request.
    pub trained: Option<Arc<Trained>>,
}

/// The playground trains with gensim's defaults but for `min_count` 2 and skip-gram: a
/// playground corpus is small (the bundled sample has 67 passages), and skip-gram learns
/// more from few words than CBOW does.
pub fn params() -> Params {
    Params {
        arch: Arch::SkipGram,
        min_count: 2,
        ..Params::default()
    }
}

/// Asks for the word2vec section of the playground's lines (trains first if need be).
pub fn ask(app: &mut App) -> Vec<Cmd> {
    let words = app.playground.sentences();
    if words.is_empty() {
        return Vec::new();
    }
    let w = &mut app.words;
    w.generation += 1;
    if !matches!(w.stage, WordsStage::Training { .. }) {
        w.stage = WordsStage::Training { done: 0, total: 0 };
    }
    vec![Cmd::Word2vec {
        generation: w.generation,
        words,
        trained: w.trained.clone(),
    }]
}

/// A reply of the word2vec section; stale generations are dropped.
pub fn on_reply(app: &mut App, reply: Reply) {
    let w = &mut app.words;
    match reply {
        Reply::Word2vecProgress {
            generation,
            done,
            total,
        } if generation == w.generation => w.stage = WordsStage::Training { done, total },
        Reply::Word2vec { generation, result } => {
            if let Ok(o) = &result {
                w.trained = Some(o.trained.clone());
            }
            if generation == w.generation {
                w.stage = WordsStage::Done(result.map(|o| *o));
            }
        }
        _ => {}
    }
}

/// The worker's side: answers from `trained` when it fits the analyzer in use, else trains
/// on a thread of its own (queries keep being answered meanwhile).
pub(super) fn serve(
    worker: &Worker,
    generation: u64,
    words: Vec<String>,
    trained: Option<Arc<Trained>>,
) {
    let ui = worker.ui.clone();
    let say = move |reply| {
        let _ = ui.send(crate::tui::protocol::Msg::Worker(reply));
    };
    let analyzer = match worker.pipeline.bm25(None) {
        Ok(b) => b.analyzer().clone(),
        Err(m) => {
            return say(Reply::Word2vec {
                generation,
                result: Err(format!("no BM25 analyzer yet: {}", m.0)),
            })
        }
    };
    let describe = analyzer.describe();
    if let Some(t) = trained.filter(|t| t.analyzer == describe) {
        let report = chapter::compare(&words, &analyzer, &t.vectors, None, 5);
        return say(Reply::Word2vec {
            generation,
            result: Ok(Box::new(WordsOutcome { trained: t, report })),
        });
    }
    let corpus = worker.pipeline.corpus.clone();
    let control = worker.control.clone();
    let panic_say = say.clone();
    let body = move || {
        let started = std::time::Instant::now();
        let sentences = word2vec::sentences(&corpus.texts(), &analyzer);
        let params = params();
        let mut last = 0;
        let result = word2vec::train(
            &sentences,
            &params,
            &mut |p: Progress| {
                // A few dozen updates, not one per sentence.
                if p.done - last >= p.total / 50 || p.done == p.total {
                    last = p.done;
                    say(Reply::Word2vecProgress {
                        generation,
                        done: p.done,
                        total: p.total,
                    });
                }
            },
            &|| control.quitting(),
        );
        let result = result.map_err(|e| e.to_string()).map(|vectors| {
            let about = format!(
                "{} on {} passages ({} terms), {} words, {:.1}s",
                params.describe(),
                corpus.passages.len(),
                describe,
                vectors.len(),
                started.elapsed().as_secs_f64()
            );
            let report = chapter::compare(&words, &analyzer, &vectors, None, 5);
            let trained = Arc::new(Trained {
                vectors,
                analyzer: describe,
                about,
            });
            Box::new(WordsOutcome { trained, report })
        });
        say(Reply::Word2vec { generation, result });
    };
    let spawned = worker.control.spawn("word2vec", body, move |why| {
        panic_say(Reply::Word2vec {
            generation,
            result: Err(format!("word2vec stopped: {why}")),
        })
    });
    if let Err(e) = spawned {
        tracing::error!("starting the word2vec thread: {e}");
    }
}
