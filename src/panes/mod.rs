//! The pane spec: which retrievers a session shows, in order (`--panes`).
//!
//! A spec is a comma-separated list of entries `KIND[:key=value,...]`; an item with `=` and no
//! kind before it continues the previous entry's options, so
//! `dense:pooling=cls,title=CLS,bm25:whitespace,hybrid` is three panes. Kinds:
//!
//! | kind | options | default title |
//! |---|---|---|
//! | `dense[:MODEL]` | `model=`, `pooling=` | Semantic |
//! | `bm25[:ANALYZER]` | `analyzer=` | BM25 |
//! | `hybrid` (or `fusion`) | `of=A+B`, `method=rrf\|convex\|server`, `k=`, `depth=`, `weights=1+0.5`, `alpha=`, `norm=` | Hybrid (RRF) |
//! | `rerank` | `of=`, `depth=` | Rerank |
//!
//! Every kind takes `title=` (the pane's heading) and `name=` (its key in JSON and in `of=`;
//! the default is the entry as written, without its title). `hybrid` fuses the first dense
//! and the first BM25 pane unless `of=` names others; `rerank` reranks the first hybrid.
//! A fusion or rerank whose inputs are not shown gets them as hidden retrievers, so
//! `--panes hybrid,rerank` works as `--methods hybrid,rerank` always did.
//! `hybrid:server` (or `method=server`) is Milvus's own RRF over its dense and BM25 lists: it
//! runs with `--backend` only, and reads one dense and one BM25 pane, unweighted.
//! Parsing is pure and runs before anything loads.
use std::fmt;

use crate::bm25::AnalyzerKind;
use crate::fusion::{FusionMethod, Norm};
use crate::model::{PoolMode, Pooling};

mod parse;

use parse::{resolve, split_entries};

/// The default spec: the four panes bigyo has always shown.
pub const DEFAULT_SPEC: &str = "dense,bm25,hybrid,rerank";
/// The most panes one screen holds.
pub const MAX_PANES: usize = 6;
/// The default title of `hybrid:server`.
pub const SERVER_TITLE: &str = "Hybrid (Milvus RRF)";
/// What a pane served by the backend adds to its title.
pub const BACKEND_SUFFIX: &str = " (Milvus)";

/// A retriever (shown as a pane or hidden behind a fusion or rerank): an index into
/// [`Panes`]. Shown panes come first, in screen order, so the first `n` ids are the `n`
/// panes on screen; moving between panes wraps around their count, never a fixed four.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PaneId(pub u8);

impl PaneId {
    pub const fn new(index: usize) -> Self {
        Self(index as u8)
    }

    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// The first `count` panes, in order.
    pub fn all(count: usize) -> impl Iterator<Item = PaneId> {
        (0..count).map(PaneId::new)
    }

    /// The last of `count` panes.
    pub fn last(count: usize) -> Self {
        Self::new(count.saturating_sub(1))
    }

    pub fn is_last(self, count: usize) -> bool {
        self == Self::last(count)
    }

    /// The pane after this one of `count`; after the last, the first.
    pub fn next(self, count: usize) -> Self {
        Self::new((self.index() + 1) % count.max(1))
    }

    /// The pane before this one of `count`; before the first, the last.
    pub fn prev(self, count: usize) -> Self {
        let count = count.max(1);
        Self::new((self.index() + count - 1) % count)
    }

    /// The pane a digit key names among `count`: `1` is the first.
    pub fn from_digit(c: char, count: usize) -> Option<Self> {
        let i = c.to_digit(10)?.checked_sub(1)? as usize;
        (i < count).then(|| Self::new(i))
    }
}

/// The four kinds of retriever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Dense,
    Bm25,
    /// A fusion of two or more retrievers (`hybrid` or `fusion` in a spec).
    Hybrid,
    Rerank,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Self::Dense, Self::Bm25, Self::Hybrid, Self::Rerank];

    /// The word a spec uses (`hybrid` for fusion, as the default pane is called).
    pub fn name(self) -> &'static str {
        match self {
            Self::Dense => "dense",
            Self::Bm25 => "bm25",
            Self::Hybrid => "hybrid",
            Self::Rerank => "rerank",
        }
    }

    /// Whether the kind needs the bi-encoder or the cross-encoder.
    pub fn needs_model(self) -> bool {
        self != Self::Bm25
    }

    /// The default pane title.
    pub fn title(self) -> &'static str {
        match self {
            Self::Dense => "Semantic",
            Self::Bm25 => "BM25",
            Self::Hybrid => "Hybrid (RRF)",
            Self::Rerank => "Rerank",
        }
    }

    fn parse(word: &str) -> Option<Kind> {
        match word {
            "dense" => Some(Self::Dense),
            "bm25" => Some(Self::Bm25),
            "hybrid" | "fusion" => Some(Self::Hybrid),
            "rerank" => Some(Self::Rerank),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which bi-encoder embeds a dense pane's query and passages; `None` fields take the
/// session's `--model` / `--pooling`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DenseKey {
    pub model: Option<String>,
    pub pooling: Option<PoolMode>,
}

impl DenseKey {
    pub fn pooling(&self) -> Option<Pooling> {
        self.pooling.map(Pooling::single)
    }
}

/// Which analyzer a BM25 pane searches with; `None` takes `--bm25-analyzer`.
pub type Bm25Key = Option<AnalyzerKind>;

/// A fusion's own settings; `None` fields follow the session's settings (CLI flags, the
/// explorer's settings overlay).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FusionOpts {
    pub method: Option<FusionMethod>,
    pub k: Option<f64>,
    pub depth: Option<usize>,
    /// One weight per input, in `of=` order.
    pub weights: Option<Vec<f64>>,
    pub alpha: Option<f64>,
    pub norm: Option<Norm>,
    /// Fused by the Milvus server's RRF (`hybrid:server`) instead of bigyo's own.
    pub server: bool,
}

/// What a retriever is.
#[derive(Debug, Clone, PartialEq)]
pub enum Retriever {
    Dense(DenseKey),
    Bm25(Bm25Key),
    Fusion { of: Vec<PaneId>, opts: FusionOpts },
    Rerank { of: PaneId, depth: Option<usize> },
}

impl Retriever {
    pub fn kind(&self) -> Kind {
        match self {
            Self::Dense(_) => Kind::Dense,
            Self::Bm25(_) => Kind::Bm25,
            Self::Fusion { .. } => Kind::Hybrid,
            Self::Rerank { .. } => Kind::Rerank,
        }
    }

    /// The title a pane of this retriever has when its spec names none: the kind's, with
    /// what sets it apart (model, pooling, analyzer; convex or server fusion).
    pub fn default_title(&self) -> String {
        let base = match self {
            Self::Fusion { opts, .. } if opts.server => SERVER_TITLE.to_owned(),
            Self::Fusion { opts, .. } if opts.method == Some(FusionMethod::Convex) => {
                "Hybrid (convex)".to_owned()
            }
            r => r.kind().title().to_owned(),
        };
        let mut extra = Vec::new();
        match self {
            Self::Dense(key) => {
                if let Some(m) = &key.model {
                    extra.push(m.rsplit(['/', ':']).next().unwrap_or(m).to_owned());
                }
                if let Some(p) = key.pooling {
                    extra.push(p.name().to_owned());
                }
            }
            Self::Bm25(Some(a)) => extra.push(a.name().to_owned()),
            _ => {}
        }
        if extra.is_empty() {
            base
        } else {
            format!("{base} · {}", extra.join(" "))
        }
    }

    /// The retrievers this one reads.
    pub fn inputs(&self) -> Vec<PaneId> {
        match self {
            Self::Fusion { of, .. } => of.clone(),
            Self::Rerank { of, .. } => vec![*of],
            _ => Vec::new(),
        }
    }
}

/// One retriever with its name and title.
#[derive(Debug, Clone, PartialEq)]
pub struct Pane {
    /// The key in JSON, TREC file names and `of=`.
    pub name: String,
    pub title: String,
    pub retriever: Retriever,
    /// False for a retriever a fusion or rerank needs but the spec does not show.
    pub shown: bool,
}

impl Pane {
    pub fn kind(&self) -> Kind {
        self.retriever.kind()
    }
}

/// A resolved spec: shown panes first, in screen order, then hidden inputs; every `of=`
/// points at an entry of the list and there are no cycles.
#[derive(Debug, Clone, PartialEq)]
pub struct Panes {
    panes: Vec<Pane>,
}

/// Why a spec was refused; the message names the entry and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pane spec: {0}")]
pub struct SpecError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError(msg.into()))
}

impl Panes {
    /// The default four panes.
    pub fn standard() -> Self {
        Self::parse(DEFAULT_SPEC).expect("the default spec parses")
    }

    /// Panes for `--methods dense,bm25,...` (the old flag): the default kinds, in the
    /// default order, each named by its kind.
    pub fn from_methods(list: &str) -> Result<Self, SpecError> {
        let mut kinds = Vec::new();
        for word in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match Kind::parse(word) {
                Some(k) if !kinds.contains(&k) => kinds.push(k),
                Some(_) => {}
                None => {
                    return err(format!(
                        "unknown method `{word}` (choose from dense, bm25, hybrid, rerank)"
                    ))
                }
            }
        }
        if kinds.is_empty() {
            return err("no methods given (choose from dense, bm25, hybrid, rerank)");
        }
        kinds.sort();
        let spec: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        Self::parse(&spec.join(","))
    }

    /// Parses and resolves a spec.
    pub fn parse(spec: &str) -> Result<Self, SpecError> {
        let entries = split_entries(spec)?;
        if entries.is_empty() {
            return err("no panes given (e.g. --panes dense,bm25,hybrid,rerank)");
        }
        if entries.len() > MAX_PANES {
            return err(format!(
                "{} panes given; one screen holds at most {MAX_PANES}",
                entries.len()
            ));
        }
        resolve(entries)
    }

    /// Gives pane `id` another retriever of the same kind with the same inputs (a setting
    /// changed in the explorer); a title that was the default follows the new settings.
    pub fn set_retriever(&mut self, id: PaneId, retriever: Retriever) -> Result<(), SpecError> {
        let Some(pane) = self.panes.get(id.index()) else {
            return err(format!("no pane {}", id.index() + 1));
        };
        if pane.kind() != retriever.kind() || pane.retriever.inputs() != retriever.inputs() {
            return err(format!(
                "{}: a setting keeps the pane's kind and inputs",
                pane.name
            ));
        }
        if pane.title == self.default_title(id, &pane.retriever) {
            let title = self.default_title(id, &retriever);
            self.panes[id.index()].title = title;
        }
        self.panes[id.index()].retriever = retriever;
        Ok(())
    }

    /// The title pane `id` gets unless the spec gives one: its retriever's, and for a
    /// fusion that reads a kind the spec shows more than once, the names of its inputs
    /// (`Hybrid (RRF) · dense+oa+bm25`), in the order its hits' labels number them.
    pub fn default_title(&self, id: PaneId, retriever: &Retriever) -> String {
        let base = retriever.default_title();
        let Retriever::Fusion { of, .. } = retriever else {
            return base;
        };
        let ambiguous = of.iter().any(|&input| {
            let kind = self.get(input).kind();
            self.panes
                .iter()
                .enumerate()
                .filter(|&(i, p)| i != id.index() && p.kind() == kind)
                .count()
                > 1
        });
        if !ambiguous {
            return base;
        }
        let names: Vec<&str> = of.iter().map(|&i| self.get(i).name.as_str()).collect();
        format!("{base} · {}", names.join("+"))
    }

    /// Every retriever, shown ones first.
    pub fn all(&self) -> &[Pane] {
        &self.panes
    }

    pub fn get(&self, id: PaneId) -> &Pane {
        &self.panes[id.index()]
    }

    pub fn ids(&self) -> impl Iterator<Item = PaneId> + '_ {
        (0..self.panes.len()).map(|i| PaneId(i as u8))
    }

    /// The shown panes, in screen order.
    pub fn shown(&self) -> impl Iterator<Item = PaneId> + '_ {
        self.ids().filter(|&id| self.get(id).shown)
    }

    pub fn shown_count(&self) -> usize {
        self.panes.iter().filter(|p| p.shown).count()
    }

    /// The first shown pane of a kind.
    pub fn first(&self, kind: Kind) -> Option<PaneId> {
        self.shown().find(|&id| self.get(id).kind() == kind)
    }

    pub fn by_name(&self, name: &str) -> Option<PaneId> {
        self.ids().find(|&id| self.get(id).name == name)
    }

    /// `id` and every retriever it reads, inputs before readers.
    pub fn closure(&self, id: PaneId) -> Vec<PaneId> {
        let mut out = Vec::new();
        self.visit(id, &mut out);
        out
    }

    fn visit(&self, id: PaneId, out: &mut Vec<PaneId>) {
        if out.contains(&id) {
            return;
        }
        for input in self.get(id).retriever.inputs() {
            self.visit(input, out);
        }
        out.push(id);
    }

    /// The distinct bi-encoders the panes need, in first-use order.
    pub fn dense_keys(&self) -> Vec<DenseKey> {
        let mut keys: Vec<DenseKey> = Vec::new();
        for p in &self.panes {
            if let Retriever::Dense(k) = &p.retriever {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        keys
    }

    /// The distinct analyzers the panes need.
    pub fn bm25_keys(&self) -> Vec<Bm25Key> {
        let mut keys: Vec<Bm25Key> = Vec::new();
        for p in &self.panes {
            if let Retriever::Bm25(k) = &p.retriever {
                if !keys.contains(k) {
                    keys.push(*k);
                }
            }
        }
        keys
    }

    /// The server-side fusions (`hybrid:server`).
    pub fn server_fusions(&self) -> impl Iterator<Item = PaneId> + '_ {
        self.ids().filter(
            |&id| matches!(&self.get(id).retriever, Retriever::Fusion { opts, .. } if opts.server),
        )
    }

    /// Marks the panes the backend serves (the dense retrievers of `dense`, the BM25
    /// retrievers of `bm25`) in their titles, and checks that every `hybrid:server` reads
    /// exactly those two; without a backend, a `hybrid:server` is refused.
    pub fn on_backend(&mut self, served: Option<(&DenseKey, Bm25Key)>) -> Result<(), SpecError> {
        let Some((dense, bm25)) = served else {
            if let Some(id) = self.server_fusions().next() {
                return err(format!(
                    "{}: Milvus's RRF needs --backend milvus://HOST:PORT/COLLECTION",
                    self.get(id).name
                ));
            }
            return Ok(());
        };
        let on = |r: &Retriever| match r {
            Retriever::Dense(k) => k == dense,
            Retriever::Bm25(k) => *k == bm25,
            _ => false,
        };
        for id in self.server_fusions().collect::<Vec<_>>() {
            let inputs = self.get(id).retriever.inputs();
            if let Some(&local) = inputs.iter().find(|&&i| !on(&self.get(i).retriever)) {
                return err(format!(
                    "{}: Milvus's RRF fuses the lists Milvus serves (the session's --model and \
                     --bm25-analyzer), but `{}` runs locally",
                    self.get(id).name,
                    self.get(local).name
                ));
            }
        }
        for p in &mut self.panes {
            if on(&p.retriever) && !p.title.ends_with(BACKEND_SUFFIX) {
                p.title.push_str(BACKEND_SUFFIX);
            }
        }
        Ok(())
    }

    /// Whether any retriever is of `kind`.
    pub fn uses(&self, kind: Kind) -> bool {
        self.panes.iter().any(|p| p.kind() == kind)
    }

    /// Drops shown rerank panes (`--reranker none`); fails when nothing is left.
    pub fn without_rerank(&self) -> Result<Self, SpecError> {
        let spec: Vec<String> = self
            .panes
            .iter()
            .filter(|p| p.shown && p.kind() != Kind::Rerank)
            .map(|p| p.name.clone())
            .collect();
        if spec.len() == self.shown_count() {
            return Ok(self.clone());
        }
        if spec.is_empty() {
            return err("--reranker none leaves no pane to show");
        }
        // Names of shown panes are their specs unless renamed; rebuild from the panes.
        let mut kept = self.clone();
        kept.panes
            .retain(|p| !(p.shown && p.kind() == Kind::Rerank));
        if kept.panes.iter().any(|p| p.kind() == Kind::Rerank) {
            return err("--reranker none: a pane reads a hidden rerank");
        }
        renumber(&self.panes, &mut kept.panes);
        Ok(kept)
    }
}

/// Fixes `of=` ids after panes were removed from `old` to give `new` (names are unique).
fn renumber(old: &[Pane], new: &mut [Pane]) {
    let names: Vec<String> = new.iter().map(|p| p.name.clone()).collect();
    let map = |id: &mut PaneId| {
        let name = &old[id.index()].name;
        if let Some(i) = names.iter().position(|n| n == name) {
            *id = PaneId(i as u8);
        }
    };
    for p in new.iter_mut() {
        match &mut p.retriever {
            Retriever::Fusion { of, .. } => of.iter_mut().for_each(map),
            Retriever::Rerank { of, .. } => map(of),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
