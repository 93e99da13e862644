//! The explorer's image search (`bigyo --images DIR --clip MODEL`): a screen of its own, apart
//! from the four text panes. A query line; the folder's images ranked by CLIP cosine to the
//! query, as a list and as thumbnails (sixel / kitty / iTerm2 where the terminal answers the
//! query for them, half-blocks otherwise; `BIGYO_THUMBNAILS=halfblocks` forces those).
//!
//! Threads: the UI loop here; the model thread (loads CLIP, embeds the folder or reads the
//! embedding cache, then embeds each query, newest first); the thumbnail thread (decodes and
//! shrinks the images the screen shows). The UI never touches a tensor.
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui_image::picker::Picker;
use ratatui_image::protocol::StatefulProtocol;

use crate::dense::EmbeddingCache;
use crate::imagesearch::{self, ImageCorpus};
use crate::model::clip::ClipSpace;

mod view;

/// Loads the CLIP space on the model thread (the CLI resolves the directories).
pub type Loader = Box<dyn FnOnce() -> Result<ClipSpace, String> + Send>;

/// What the model and thumbnail threads report.
enum Msg {
    Key(KeyEvent),
    Redraw,
    Progress {
        done: usize,
        total: usize,
    },
    Ready(ImageCorpus),
    Failed(String),
    Warning(String),
    Ranked {
        generation: u64,
        hits: Vec<(usize, f32)>,
    },
    QueryFailed(String),
    Thumbnail(usize, image::DynamicImage),
}

/// Where the folder's embedding stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Loading { done: usize, total: usize },
    Ready,
    Failed(String),
}

/// Everything the image screen shows.
pub struct ImageApp {
    pub dir: PathBuf,
    pub files: usize,
    pub input: String,
    pub stage: Stage,
    pub corpus: Option<ImageCorpus>,
    /// The ranking of the newest answered query: (row in `corpus`, cosine).
    pub hits: Vec<(usize, f32)>,
    pub selected: usize,
    pub warning: Option<String>,
    pub generation: u64,
    pub answered: u64,
    quit: bool,
}

/// Thumbnails shown at once (a 3 x 2 grid).
pub const GRID: usize = 6;

impl ImageApp {
    fn new(dir: PathBuf, files: usize) -> Self {
        Self {
            dir,
            files,
            input: String::new(),
            stage: Stage::Loading {
                done: 0,
                total: files,
            },
            corpus: None,
            hits: Vec::new(),
            selected: 0,
            warning: None,
            generation: 0,
            answered: 0,
            quit: false,
        }
    }

    /// The rows in screen order: the ranking, or the folder's order before any query.
    pub fn order(&self) -> Vec<(usize, Option<f32>)> {
        if self.hits.is_empty() || self.input.trim().is_empty() {
            let n = self.corpus.as_ref().map_or(0, |c| c.paths.len());
            (0..n).map(|i| (i, None)).collect()
        } else {
            self.hits.iter().map(|&(i, s)| (i, Some(s))).collect()
        }
    }

    /// The first entry of the grid page that holds the selection.
    pub fn page_start(&self) -> usize {
        self.selected / GRID * GRID
    }

    /// Applies a key; returns the query to embed when the text changed.
    fn key(&mut self, key: KeyEvent) -> Option<(u64, String)> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let len = self.order().len();
        match key.code {
            KeyCode::Esc => self.quit = true,
            KeyCode::Char('c') | KeyCode::Char('q') if ctrl => self.quit = true,
            KeyCode::Down => self.selected = (self.selected + 1).min(len.saturating_sub(1)),
            KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::PageDown => self.selected = (self.selected + GRID).min(len.saturating_sub(1)),
            KeyCode::PageUp => self.selected = self.selected.saturating_sub(GRID),
            KeyCode::Backspace => {
                self.input.pop();
                return self.query();
            }
            KeyCode::Char('u') if ctrl => {
                self.input.clear();
                return self.query();
            }
            KeyCode::Char(c) if !ctrl => {
                self.input.push(c);
                return self.query();
            }
            _ => {}
        }
        None
    }

    fn query(&mut self) -> Option<(u64, String)> {
        self.generation += 1;
        self.selected = 0;
        if self.input.trim().is_empty() {
            self.hits.clear();
            return None;
        }
        Some((self.generation, self.input.trim().to_owned()))
    }

    fn apply(&mut self, msg: Msg, queries: &Sender<(u64, String)>) {
        match msg {
            Msg::Key(k) => {
                if let Some(q) = self.key(k) {
                    let _ = queries.send(q);
                }
            }
            Msg::Redraw | Msg::Thumbnail(..) => {}
            Msg::Progress { done, total } => self.stage = Stage::Loading { done, total },
            Msg::Ready(corpus) => {
                self.corpus = Some(corpus);
                self.stage = Stage::Ready;
                // A query typed while the folder embedded runs now.
                if !self.input.trim().is_empty() {
                    let _ = queries.send((self.generation, self.input.trim().to_owned()));
                }
            }
            Msg::Failed(why) => self.stage = Stage::Failed(why),
            Msg::Warning(w) => self.warning = Some(w),
            Msg::Ranked { generation, hits } => {
                if generation == self.generation {
                    self.hits = hits;
                    self.answered = generation;
                }
            }
            Msg::QueryFailed(why) => self.warning = Some(why),
        }
    }
}

/// Runs the image screen until Esc.
pub fn run(
    dir: PathBuf,
    files: Vec<PathBuf>,
    cache: Option<EmbeddingCache>,
    load: Loader,
) -> Result<()> {
    let mut app = ImageApp::new(dir, files.len());
    let (tx, rx) = channel::<Msg>();
    let (query_tx, query_rx) = channel::<(u64, String)>();
    let (thumb_tx, thumb_rx) = channel::<(usize, PathBuf)>();
    spawn_model(load, files, cache, query_rx, tx.clone())?;
    spawn_thumbnails(thumb_rx, tx.clone())?;
    let mut screen = super::Screen::enter()?;
    // The terminal answers the capability query on stdin, so this comes before the input
    // thread starts reading it.
    let picker = match std::env::var("BIGYO_THUMBNAILS").as_deref() {
        Ok("halfblocks") => Picker::halfblocks(),
        _ => Picker::from_query_stdio().unwrap_or_else(|_| Picker::halfblocks()),
    };
    crate::tui::spawn_input(tx, Msg::Key, || Msg::Redraw)?;
    let mut thumbs: HashMap<usize, StatefulProtocol> = HashMap::new();
    let mut asked: std::collections::HashSet<usize> = Default::default();
    while !app.quit {
        // Ask for the thumbnails of the page on screen (row indices into the corpus).
        if let Some(corpus) = &app.corpus {
            let start = app.page_start();
            for &(row, _) in app.order().iter().skip(start).take(GRID) {
                if asked.insert(row) {
                    let _ = thumb_tx.send((row, corpus.paths[row].clone()));
                }
            }
        }
        screen
            .terminal
            .draw(|frame| view::draw(frame, &app, &mut thumbs))
            .context("drawing the screen")?;
        let mut pending = Vec::new();
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(msg) => pending.push(msg),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        pending.extend(rx.try_iter());
        for msg in pending {
            if let Msg::Thumbnail(row, img) = &msg {
                thumbs.insert(*row, picker.new_resize_protocol(img.clone()));
            }
            app.apply(msg, &query_tx);
        }
    }
    drop(screen);
    Ok(())
}

/// Loads CLIP, embeds the folder (or reads the cache), then answers queries, newest first.
fn spawn_model(
    load: Loader,
    files: Vec<PathBuf>,
    cache: Option<EmbeddingCache>,
    queries: Receiver<(u64, String)>,
    tx: Sender<Msg>,
) -> Result<()> {
    thread::Builder::new()
        .name("bigyo-clip".into())
        .spawn(move || {
            let mut space = match load() {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Msg::Failed(e));
                    return;
                }
            };
            let progress_tx = tx.clone();
            let warn_tx = tx.clone();
            let corpus = imagesearch::embed_files(
                &space.model,
                &files,
                cache.as_ref(),
                &mut |p| {
                    let _ = progress_tx.send(Msg::Progress {
                        done: p.done,
                        total: p.total,
                    });
                },
                &mut |w| {
                    let _ = warn_tx.send(Msg::Warning(w));
                },
            );
            let corpus = match corpus {
                Ok(c) => c,
                Err(e) => {
                    let _ = tx.send(Msg::Failed(e.to_string()));
                    return;
                }
            };
            for (path, why) in &corpus.skipped {
                tracing::warn!(file = %path.display(), "{why}");
            }
            let images = corpus.embeddings.clone();
            if tx.send(Msg::Ready(corpus)).is_err() {
                return;
            }
            while let Ok(mut q) = queries.recv() {
                // Only the newest query matters.
                while let Ok(newer) = queries.try_recv() {
                    q = newer;
                }
                let msg = match space.embed_texts(&[q.1.as_str()]) {
                    Ok(e) => Msg::Ranked {
                        generation: q.0,
                        hits: imagesearch::rank(e.row(0), &images),
                    },
                    Err(e) => Msg::QueryFailed(format!("embedding the query: {e}")),
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
        })
        .context("starting the CLIP thread")?;
    Ok(())
}

/// Decodes and shrinks the images the screen asks for.
fn spawn_thumbnails(rx: Receiver<(usize, PathBuf)>, tx: Sender<Msg>) -> Result<()> {
    thread::Builder::new()
        .name("bigyo-thumbnails".into())
        .spawn(move || {
            while let Ok((row, path)) = rx.recv() {
                // Files that failed to load were left out of the corpus already.
                let Ok(img) = image::open(&path) else {
                    continue;
                };
                if tx
                    .send(Msg::Thumbnail(row, img.thumbnail(480, 480)))
                    .is_err()
                {
                    return;
                }
            }
        })
        .context("starting the thumbnail thread")?;
    Ok(())
}
