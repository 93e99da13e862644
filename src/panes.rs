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

/// An entry as written, before `of=` is resolved.
#[derive(Debug, Default)]
struct Entry {
    kind: Option<Kind>,
    written: String,
    name: Option<String>,
    title: Option<String>,
    dense: DenseKey,
    analyzer: Option<AnalyzerKind>,
    fusion: FusionOpts,
    of: Option<Vec<String>>,
    depth: Option<usize>,
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

/// Splits the spec into entries and reads each entry's options.
fn split_entries(spec: &str) -> Result<Vec<Entry>, SpecError> {
    let mut entries: Vec<Entry> = Vec::new();
    for item in spec.split(',').map(str::trim) {
        if item.is_empty() {
            continue;
        }
        let (head, rest) = match item.split_once(':') {
            Some((h, r)) => (h, Some(r)),
            None => (item, None),
        };
        let starts_entry = match Kind::parse(head.trim()) {
            Some(_) => !head.contains('='),
            None => false,
        };
        if starts_entry {
            let kind = Kind::parse(head.trim());
            entries.push(Entry {
                kind,
                written: item.to_owned(),
                ..Entry::default()
            });
            if let Some(rest) = rest {
                let entry = entries.last_mut().expect("just pushed");
                entry.option(rest)?;
            }
        } else if item.contains('=') {
            let Some(entry) = entries.last_mut() else {
                return err(format!(
                    "`{item}` is an option but no pane comes before it (start with dense, bm25, hybrid or rerank)"
                ));
            };
            if !item.starts_with("title=") && !item.starts_with("name=") {
                entry.written.push(',');
                entry.written.push_str(item);
            }
            entry.option(item)?;
        } else {
            return err(format!(
                "unknown pane kind `{item}` (choose from dense, bm25, hybrid, rerank; options are key=value)"
            ));
        }
    }
    Ok(entries)
}

impl Entry {
    fn kind(&self) -> Kind {
        self.kind.expect("entries start with a kind")
    }

    /// Reads one `key=value` (or the kind's bare shorthand).
    fn option(&mut self, item: &str) -> Result<(), SpecError> {
        let kind = self.kind();
        let Some((key, value)) = item.split_once('=') else {
            return self.shorthand(item.trim());
        };
        let (key, value) = (key.trim(), value.trim());
        let bad = |what: &str| {
            SpecError(format!(
                "{}: {key}={value}: {what}",
                self.written.split(',').next().unwrap_or_default()
            ))
        };
        if value.is_empty() && key != "title" {
            return Err(bad("the value is empty"));
        }
        match (kind, key) {
            (_, "title") => self.title = Some(value.to_owned()),
            (_, "name") => self.name = Some(value.to_owned()),
            (Kind::Dense, "model") => self.dense.model = Some(value.to_owned()),
            (Kind::Dense, "pooling") => {
                self.dense.pooling = Some(value.parse().map_err(|e: String| bad(&e))?)
            }
            (Kind::Bm25, "analyzer") => {
                self.analyzer = Some(value.parse().map_err(|e: String| bad(&e))?)
            }
            (Kind::Hybrid | Kind::Rerank, "of") => {
                self.of = Some(value.split('+').map(|s| s.trim().to_owned()).collect())
            }
            (Kind::Hybrid | Kind::Rerank, "depth") => {
                self.depth = Some(positive(value).map_err(|e| bad(&e))?)
            }
            (Kind::Hybrid, "method") if value == "server" => self.fusion.server = true,
            (Kind::Hybrid, "method") => {
                self.fusion.method = Some(value.parse().map_err(|e: String| bad(&e))?)
            }
            (Kind::Hybrid, "k") => self.fusion.k = Some(non_negative(value).map_err(|e| bad(&e))?),
            (Kind::Hybrid, "weights") => {
                let w: Result<Vec<f64>, String> = value.split('+').map(non_negative).collect();
                self.fusion.weights = Some(w.map_err(|e| bad(&e))?);
            }
            (Kind::Hybrid, "alpha") => {
                let a = non_negative(value).map_err(|e| bad(&e))?;
                if a > 1.0 {
                    return Err(bad("alpha is the dense weight, from 0 to 1"));
                }
                self.fusion.alpha = Some(a);
            }
            (Kind::Hybrid, "norm") => {
                self.fusion.norm = Some(value.parse().map_err(|e: String| bad(&e))?)
            }
            _ => {
                return Err(bad(&format!(
                    "{kind} takes {}",
                    match kind {
                        Kind::Dense => "model=, pooling=, title=, name=",
                        Kind::Bm25 => "analyzer=, title=, name=",
                        Kind::Hybrid =>
                            "of=, method=, k=, depth=, weights=, alpha=, norm=, title=, name=",
                        Kind::Rerank => "of=, depth=, title=, name=",
                    }
                )))
            }
        }
        Ok(())
    }

    /// `dense:MODEL`, `bm25:ANALYZER`, `hybrid:rrf|convex|server`.
    fn shorthand(&mut self, value: &str) -> Result<(), SpecError> {
        match self.kind() {
            Kind::Hybrid if value == "server" => self.fusion.server = true,
            Kind::Dense => self.dense.model = Some(value.to_owned()),
            Kind::Bm25 => {
                self.analyzer = Some(
                    value
                        .parse()
                        .map_err(|e: String| SpecError(format!("{}: {e}", self.written)))?,
                )
            }
            Kind::Hybrid => {
                self.fusion.method = Some(
                    value
                        .parse()
                        .map_err(|e: String| SpecError(format!("{}: {e}", self.written)))?,
                )
            }
            Kind::Rerank => {
                return err(format!(
                    "{}: rerank takes key=value options (of=, depth=, title=, name=)",
                    self.written
                ))
            }
        }
        Ok(())
    }

    fn title(&self) -> String {
        if let Some(t) = &self.title {
            return t.clone();
        }
        let base = match (self.kind(), self.fusion.method) {
            (Kind::Hybrid, _) if self.fusion.server => SERVER_TITLE.to_owned(),
            (Kind::Hybrid, Some(FusionMethod::Convex)) => "Hybrid (convex)".to_owned(),
            (kind, _) => kind.title().to_owned(),
        };
        let mut extra = Vec::new();
        if let Some(m) = &self.dense.model {
            extra.push(m.rsplit(['/', ':']).next().unwrap_or(m).to_owned());
        }
        if let Some(p) = self.dense.pooling {
            extra.push(p.name().to_owned());
        }
        if let Some(a) = self.analyzer {
            extra.push(a.name().to_owned());
        }
        if extra.is_empty() {
            base
        } else {
            format!("{base} · {}", extra.join(" "))
        }
    }
}

fn positive(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("must be a whole number >= 1".into()),
    }
}

fn non_negative(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{value}` must be a number >= 0")),
    }
}

/// Names the panes, resolves `of=`, adds hidden inputs and checks the graph.
fn resolve(entries: Vec<Entry>) -> Result<Panes, SpecError> {
    let mut panes: Vec<Pane> = Vec::new();
    for e in &entries {
        let name = e.name.clone().unwrap_or_else(|| e.written.clone());
        if panes.iter().any(|p| p.name == name) {
            return err(format!(
                "two panes are named `{name}`; give one of them name=…"
            ));
        }
        let retriever = match e.kind() {
            Kind::Dense => Retriever::Dense(e.dense.clone()),
            Kind::Bm25 => Retriever::Bm25(e.analyzer),
            // Inputs are filled in below, once every pane has its id.
            Kind::Hybrid => Retriever::Fusion {
                of: Vec::new(),
                opts: FusionOpts {
                    depth: e.depth,
                    ..e.fusion.clone()
                },
            },
            Kind::Rerank => Retriever::Rerank {
                of: PaneId(0),
                depth: e.depth,
            },
        };
        panes.push(Pane {
            name,
            title: e.title(),
            retriever,
            shown: true,
        });
    }
    // Fusions first: a rerank's default input is the first hybrid.
    let order = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind() == Kind::Hybrid)
        .chain(
            entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.kind() == Kind::Rerank),
        )
        .map(|(i, _)| i)
        .collect::<Vec<_>>();
    for i in order {
        let e = &entries[i];
        let inputs = match &e.of {
            Some(names) => names
                .iter()
                .map(|n| lookup(&panes, n, &e.written))
                .collect::<Result<Vec<_>, _>>()?,
            None => default_inputs(&mut panes, e.kind()),
        };
        let kinds = panes_kinds(&panes, &inputs);
        match &mut panes[i].retriever {
            Retriever::Fusion { of, opts } => {
                if inputs.len() < 2
                    || inputs
                        .iter()
                        .any(|x| inputs.iter().filter(|y| *y == x).count() > 1)
                {
                    return err(format!(
                        "{}: a fusion reads two or more different panes (of=A+B)",
                        e.written
                    ));
                }
                if opts.server {
                    server_fusion_ok(&kinds, opts, &e.written)?;
                }
                if let Some(w) = &opts.weights {
                    if w.len() != inputs.len() {
                        return err(format!(
                            "{}: weights= gives {} weights for {} inputs",
                            e.written,
                            w.len(),
                            inputs.len()
                        ));
                    }
                    if w.iter().all(|&w| w == 0.0) {
                        return err(format!(
                            "{}: every weight is 0; keep one above 0",
                            e.written
                        ));
                    }
                }
                *of = inputs;
            }
            Retriever::Rerank { of, .. } => {
                let [one] = inputs[..] else {
                    return err(format!("{}: rerank reads one pane (of=NAME)", e.written));
                };
                *of = one;
            }
            _ => unreachable!("only fusions and reranks are resolved here"),
        }
    }
    let resolved = Panes { panes };
    for id in resolved.ids() {
        if resolved.reaches(id, id, &mut Vec::new()) {
            return err(format!(
                "`{}` reads itself through of=",
                resolved.get(id).name
            ));
        }
    }
    Ok(resolved)
}

impl Panes {
    /// Whether `from`'s inputs lead back to `target`.
    fn reaches(&self, from: PaneId, target: PaneId, seen: &mut Vec<PaneId>) -> bool {
        for input in self.get(from).retriever.inputs() {
            if input == target {
                return true;
            }
            if !seen.contains(&input) {
                seen.push(input);
                if self.reaches(input, target, seen) {
                    return true;
                }
            }
        }
        false
    }
}

fn panes_kinds(panes: &[Pane], ids: &[PaneId]) -> Vec<Kind> {
    ids.iter().map(|id| panes[id.index()].kind()).collect()
}

/// Milvus's RRF fuses one dense and one BM25 list, unweighted, by rank only.
fn server_fusion_ok(kinds: &[Kind], opts: &FusionOpts, entry: &str) -> Result<(), SpecError> {
    if !matches!(kinds, [Kind::Dense, Kind::Bm25] | [Kind::Bm25, Kind::Dense]) {
        return err(format!(
            "{entry}: Milvus's RRF fuses one dense and one BM25 pane (of=DENSE+BM25)"
        ));
    }
    if opts.weights.is_some() || opts.alpha.is_some() || opts.norm.is_some() {
        return err(format!(
            "{entry}: Milvus's RRF takes no weights=, alpha= or norm= (it is unweighted RRF; \
             use bigyo's own hybrid for those)"
        ));
    }
    if opts.method == Some(FusionMethod::Convex) {
        return err(format!("{entry}: server and convex exclude each other"));
    }
    if opts.k.is_some_and(|k| k.fract() != 0.0 || k < 1.0) {
        return err(format!(
            "{entry}: Milvus's RRF constant k is a whole number >= 1"
        ));
    }
    Ok(())
}

fn lookup(panes: &[Pane], name: &str, entry: &str) -> Result<PaneId, SpecError> {
    match panes.iter().position(|p| p.name == name) {
        Some(i) => Ok(PaneId(i as u8)),
        None => {
            let names: Vec<&str> = panes.iter().map(|p| p.name.as_str()).collect();
            err(format!(
                "{entry}: of= names `{name}`, which is not a pane (panes: {})",
                names.join(", ")
            ))
        }
    }
}

/// The first pane of `kind`, or a hidden default one added for it.
fn first_or_hidden(panes: &mut Vec<Pane>, kind: Kind) -> PaneId {
    if let Some(i) = panes.iter().position(|p| p.kind() == kind) {
        return PaneId(i as u8);
    }
    let retriever = match kind {
        Kind::Dense => Retriever::Dense(DenseKey::default()),
        Kind::Bm25 => Retriever::Bm25(None),
        Kind::Hybrid => {
            let of = vec![
                first_or_hidden(panes, Kind::Dense),
                first_or_hidden(panes, Kind::Bm25),
            ];
            Retriever::Fusion {
                of,
                opts: FusionOpts::default(),
            }
        }
        Kind::Rerank => unreachable!("nothing reads a rerank by default"),
    };
    panes.push(Pane {
        name: kind.name().to_owned(),
        title: kind.title().to_owned(),
        retriever,
        shown: false,
    });
    PaneId((panes.len() - 1) as u8)
}

fn default_inputs(panes: &mut Vec<Pane>, kind: Kind) -> Vec<PaneId> {
    match kind {
        Kind::Hybrid => vec![
            first_or_hidden(panes, Kind::Dense),
            first_or_hidden(panes, Kind::Bm25),
        ],
        _ => vec![first_or_hidden(panes, Kind::Hybrid)],
    }
}

#[cfg(test)]
mod tests {
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
        let p =
            Panes::parse("bm25,bm25:whitespace,dense:pooling=cls,title=CLS,hybrid,rerank").unwrap();
        assert_eq!(
            names(&p),
            [
                ("bm25", "BM25", true),
                ("bm25:whitespace", "BM25 · whitespace", true),
                ("dense:pooling=cls", "CLS", true),
                ("hybrid", "Hybrid (RRF)", true),
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
            ("dense,bm25,colour=red", "bm25 takes analyzer="),
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
        let p =
            Panes::parse("dense,bm25,hybrid,hybrid:server,fusion:method=server,name=s2").unwrap();
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
                "Hybrid (Milvus RRF)",
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
}
