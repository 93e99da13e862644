//! A pane's own settings as a lesson step or a session file writes them ([`PaneSettings`]),
//! turned into the pane's retriever (the settings overlay's change, done in one go) and back.
use crate::bm25::AnalyzerKind;
use crate::fusion::{FusionMethod, Norm};
use crate::model::PoolMode;
use crate::panes::{Kind, PaneId, Panes, Retriever};

use super::format::PaneSettings;

/// The pane `name` refers to: the pane of that name (as in `--panes`; shown or a hidden
/// input), else the first shown pane of that kind (`dense`, `bm25`, `hybrid`, `rerank`).
pub fn find_pane(spec: &Panes, name: &str) -> Option<PaneId> {
    spec.by_name(name).or_else(|| {
        let kind = match name {
            "fusion" => Kind::Hybrid,
            _ => *Kind::ALL.iter().find(|k| k.name() == name)?,
        };
        spec.first(kind)
    })
}

/// `current` with `s` applied; `Err((field, why))` for a field the pane's kind has not.
/// `session` is the session's analyzer (a BM25 pane with it keeps no key of its own).
pub fn retriever_with(
    current: &Retriever,
    s: &PaneSettings,
    session: AnalyzerKind,
) -> Result<Retriever, (&'static str, String)> {
    let kind = current.kind();
    let refuse = |field: &'static str| Err((field, format!("a {kind} pane has no {field}")));
    let given = |f: bool, field: &'static str| if f { refuse(field) } else { Ok(()) };
    let mut next = current.clone();
    match &mut next {
        Retriever::Dense(key) => {
            given(s.analyzer.is_some(), "analyzer")?;
            fusion_fields_absent(s, &given)?;
            given(s.depth.is_some(), "depth")?;
            if let Some(p) = &s.pooling {
                key.pooling = match p.as_str() {
                    "default" => None,
                    p => Some(p.parse::<PoolMode>().map_err(|e| ("pooling", e))?),
                };
            }
        }
        Retriever::Bm25(key) => {
            given(s.pooling.is_some(), "pooling")?;
            fusion_fields_absent(s, &given)?;
            given(s.depth.is_some(), "depth")?;
            if let Some(a) = &s.analyzer {
                let a = a.parse::<AnalyzerKind>().map_err(|e| ("analyzer", e))?;
                *key = (a != session).then_some(a);
            }
        }
        Retriever::Fusion { of, opts } => {
            given(s.analyzer.is_some(), "analyzer")?;
            given(s.pooling.is_some(), "pooling")?;
            if opts.server && *s != PaneSettings::default() {
                return Err(("method", "Milvus's server fusion has no settings".into()));
            }
            if let Some(m) = &s.method {
                opts.method = Some(m.parse::<FusionMethod>().map_err(|e| ("method", e))?);
            }
            if let Some(n) = &s.norm {
                opts.norm = Some(n.parse::<Norm>().map_err(|e| ("norm", e))?);
            }
            if let Some(w) = &s.weights {
                if w.len() != of.len() {
                    return Err((
                        "weights",
                        format!("{} given; the pane fuses {} lists", w.len(), of.len()),
                    ));
                }
                opts.weights = Some(w.clone());
            }
            opts.k = s.k.or(opts.k);
            opts.alpha = s.alpha.or(opts.alpha);
            opts.depth = s.depth.or(opts.depth);
        }
        Retriever::Rerank { depth, .. } => {
            given(s.analyzer.is_some(), "analyzer")?;
            given(s.pooling.is_some(), "pooling")?;
            fusion_fields_absent(s, &given)?;
            *depth = s.depth.or(*depth);
        }
    }
    Ok(next)
}

fn fusion_fields_absent(
    s: &PaneSettings,
    given: &dyn Fn(bool, &'static str) -> Result<(), (&'static str, String)>,
) -> Result<(), (&'static str, String)> {
    given(s.method.is_some(), "method")?;
    given(s.k.is_some(), "k")?;
    given(s.alpha.is_some(), "alpha")?;
    given(s.norm.is_some(), "norm")?;
    given(s.weights.is_some(), "weights")
}

/// The settings that give a pane of the same kind and inputs `retriever` again (what a
/// session file keeps): a BM25 pane's analyzer and a dense pane's pooling always, a fusion's
/// and a rerank's own values where it has them.
pub fn settings_of(retriever: &Retriever, session: AnalyzerKind) -> PaneSettings {
    let mut s = PaneSettings::default();
    match retriever {
        Retriever::Dense(key) => {
            s.pooling = Some(key.pooling.map_or("default", |p| p.name()).to_owned());
        }
        Retriever::Bm25(key) => s.analyzer = Some(key.unwrap_or(session).to_string()),
        Retriever::Fusion { opts, .. } if opts.server => {}
        Retriever::Fusion { opts, .. } => {
            s.method = opts.method.map(|m| m.name().to_owned());
            s.k = opts.k;
            s.alpha = opts.alpha;
            s.norm = opts.norm.map(|n| n.name().to_owned());
            s.depth = opts.depth;
            s.weights = opts.weights.clone();
        }
        Retriever::Rerank { depth, .. } => s.depth = *depth,
    }
    s
}
