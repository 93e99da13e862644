//! The worker's side of the playground's word2vec section (state in `words.rs`): answers
//! from the vectors the UI holds when they fit the analyzer in use, else trains on a thread
//! of its own with progress.
use std::sync::mpsc::Sender;
use std::sync::Arc;

use crate::model::Progress;
use crate::pipeline::{Missing, Phase, Pipeline};
use crate::tui::control::Control;
use crate::tui::protocol::{Msg, Reply};
use crate::tui::words::{params, Trained, WordsOutcome};
use crate::word2vec::{self, chapter};

/// The worker's side: answers from `trained` when it fits the analyzer in use, else trains
/// on a thread of its own (queries keep being answered meanwhile).
pub(super) fn serve(
    (ui, pipeline, control): (&Sender<Msg>, &Pipeline, &Arc<Control>),
    generation: u64,
    words: Vec<String>,
    trained: Option<Arc<Trained>>,
) {
    let ui = ui.clone();
    let say = move |reply| {
        let _ = ui.send(Msg::Worker(reply));
    };
    let analyzer = match pipeline.bm25(None) {
        Ok(b) => b.analyzer().clone(),
        Err(m) => {
            return say(Reply::Word2vec {
                generation,
                result: Err(match m {
                    Missing::Pending(why) => {
                        Missing::pending(format!("no BM25 analyzer yet: {why}"))
                    }
                    m => Missing::failed(Phase::Train, format!("no BM25 analyzer: {m}")),
                }),
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
    let corpus = pipeline.corpus.clone();
    let spawner = control.clone();
    let control = control.clone();
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
        let result = result
            .map_err(|e| Missing::failed(Phase::Train, e))
            .map(|vectors| {
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
    let spawned = spawner.spawn("word2vec", body, move |why| {
        panic_say(Reply::Word2vec {
            generation,
            result: Err(Missing::failed(
                Phase::Train,
                format!("word2vec stopped: {why}"),
            )),
        })
    });
    if let Err(e) = spawned {
        tracing::error!("starting the word2vec thread: {e}");
    }
}
