//! The playground's word2vec keys (F8, F9) and replies (state in `tui/words.rs`).
use crate::tui::protocol::{Cmd, Reply};
use crate::tui::state::App;
use crate::tui::words::WordsStage;
use crate::word2vec::chapter;

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

/// Puts the chapter's words (학교 / 공부 / 운동) in the playground's lines and computes the
/// matrices and the word2vec section for them.
pub fn chapter_words(app: &mut App) -> Vec<Cmd> {
    let pg = &mut app.playground;
    pg.lines = chapter::CHAPTER_WORDS
        .iter()
        .map(|w| {
            let mut line = crate::tui::editor::Input::default();
            line.set(w);
            line
        })
        .collect();
    pg.row = 0;
    let mut cmds = pg.compute();
    cmds.extend(ask(app));
    cmds
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
