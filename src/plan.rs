//! A session's plan: the panes the options ask for and the jobs that start them, checked
//! before anything loads. Both front ends run the same plan (cargo's compile plan, run by
//! different executors): the command line runs the jobs in order on one thread
//! (`session::build_on`), the explorer runs them on its threads and shows each job's state.
//! A rule about what a session may be (a bad spec, a pane's bad model options, an analyzer
//! that does not exist) lives here, once.
use anyhow::{bail, Context, Result};

use crate::model::remote;
use crate::options::Options;
use crate::panes::{Bm25Key, DenseKey, Kind, Panes};

/// One job of a session's start-up.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// Connect to the Milvus collection and check it against the options.
    Backend,
    /// Load the corpus.
    Corpus,
    /// Build the BM25 index of an analyzer key (none for the key Milvus serves).
    Bm25(Bm25Key),
    /// Load a dense key's encoder and embed the passages with it (the query side only for
    /// the key Milvus serves).
    Dense(DenseKey),
    /// Load the cross-encoder (a rerank pane is shown).
    Reranker,
}

impl Job {
    /// The job as the status bar and the log name it.
    pub fn describe(&self, opts: &Options) -> String {
        match self {
            Job::Backend => format!(
                "the backend {}",
                opts.retrieval.backend.as_deref().unwrap_or("-")
            ),
            Job::Corpus => "the corpus".into(),
            Job::Bm25(key) => format!(
                "the BM25 index ({})",
                key.unwrap_or(opts.retrieval.bm25_analyzer)
            ),
            Job::Dense(key) => format!(
                "the passages embedded by {}{}",
                key.model.as_deref().unwrap_or(&opts.model.model),
                key.pooling
                    .map_or_else(String::new, |p| format!(" ({} pooling)", p.name()))
            ),
            Job::Reranker => format!("the reranker {}", opts.model.reranker),
        }
    }
}

/// The panes and the jobs that start them, in the order the command line runs them: the
/// backend first (a wrong address fails before anything heavy), the corpus, each BM25 index,
/// the session's dense key, the reranker, every other dense key.
#[derive(Debug, Clone)]
pub struct Plan {
    pub panes: Panes,
    pub jobs: Vec<Job>,
}

impl Plan {
    /// The plan for `opts`: `--panes`, else `methods` (`--methods`, the default kinds), else
    /// the default four (a rerank pane stays with a reranker of `none` and says so). Checks
    /// the options, the spec and each dense pane's own model options first.
    pub fn new(opts: &Options, methods: Option<&str>) -> Result<Plan> {
        opts.validate()?;
        let panes = panes(opts, methods)?;
        Ok(Self::jobs_for(opts, panes))
    }

    /// The plan of a fixed set of panes (`bigyo tune` reads one dense and one BM25 list
    /// whatever the spec says), with the options checked.
    pub fn for_panes(opts: &Options, panes: Panes) -> Result<Plan> {
        opts.validate()?;
        Ok(Self::jobs_for(opts, panes))
    }

    fn jobs_for(opts: &Options, panes: Panes) -> Plan {
        let backend = opts.retrieval.backend.is_some();
        let mut jobs = Vec::new();
        if backend {
            jobs.push(Job::Backend);
        }
        jobs.push(Job::Corpus);
        jobs.extend(
            panes
                .bm25_keys()
                .into_iter()
                .filter(|k| !(backend && k.is_none()))
                .map(Job::Bm25),
        );
        // The session's model, then the reranker (the panes most people look at), then every
        // other dense pane's key.
        let (session, others): (Vec<DenseKey>, Vec<DenseKey>) = panes
            .dense_keys()
            .into_iter()
            .partition(|k| *k == DenseKey::default());
        jobs.extend(session.into_iter().map(Job::Dense));
        if panes.uses(Kind::Rerank) {
            jobs.push(Job::Reranker);
        }
        jobs.extend(others.into_iter().map(Job::Dense));
        Plan { panes, jobs }
    }

    /// The BM25 keys the plan builds locally.
    pub fn bm25_keys(&self) -> Vec<Bm25Key> {
        self.jobs
            .iter()
            .filter_map(|j| match j {
                Job::Bm25(k) => Some(*k),
                _ => None,
            })
            .collect()
    }

    /// The dense keys, in the plan's order.
    pub fn dense_keys(&self) -> Vec<DenseKey> {
        self.jobs
            .iter()
            .filter_map(|j| match j {
                Job::Dense(k) => Some(k.clone()),
                _ => None,
            })
            .collect()
    }

    /// Whether a pane embeds with the session's bi-encoder (`--model`), in any pooling.
    pub fn uses_session_model(&self) -> bool {
        self.dense_keys().iter().any(|k| k.model.is_none())
    }

    pub fn has(&self, job: &Job) -> bool {
        self.jobs.contains(job)
    }

    /// The plan without its rerank panes and the reranker (an evaluation with a reranker of
    /// `none` leaves them out).
    pub fn without_rerank(self) -> Result<Plan> {
        let panes = self.panes.without_rerank()?;
        let jobs = self
            .jobs
            .into_iter()
            .filter(|j| *j != Job::Reranker)
            .collect();
        Ok(Plan { panes, jobs })
    }
}

/// The panes the options ask for, checked (the spec, the backend's panes, each dense pane's
/// own options).
fn panes(opts: &Options, methods: Option<&str>) -> Result<Panes> {
    let mut panes = match (&opts.retrieval.panes, methods) {
        (Some(_), Some(_)) => bail!(
            "--panes and --methods both given; --methods is the short form of --panes, keep one"
        ),
        (Some(spec), None) => Panes::parse(spec)?,
        (None, Some(list)) => Panes::from_methods(list)?,
        (None, None) => Panes::standard(),
    };
    // The backend serves the default keys; their panes say so, and `hybrid:server` needs it.
    let served = DenseKey::default();
    panes.on_backend(opts.retrieval.backend.is_some().then_some((&served, None)))?;
    let remote = |key: &DenseKey| {
        remote::remote_name(key.model.as_deref().unwrap_or(&opts.model.model)).is_some()
    };
    if opts.api.input_types.is_some() && !panes.dense_keys().iter().any(remote) {
        bail!("--input-types applies to remote models (--model openai:NAME, or a dense:model=openai:NAME pane) only");
    }
    for key in panes.dense_keys() {
        if key != DenseKey::default() {
            opts.for_dense(&key).validate().with_context(|| {
                format!(
                    "the dense pane with model {}",
                    key.model.as_deref().unwrap_or(&opts.model.model)
                )
            })?;
        }
    }
    Ok(panes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{ApiOptions, DataOptions, ModelOptions, RetrievalOptions};

    fn options(panes: Option<&str>, backend: Option<&str>) -> Options {
        Options {
            model: ModelOptions::default(),
            data: DataOptions::default(),
            retrieval: RetrievalOptions {
                panes: panes.map(str::to_owned),
                backend: backend.map(str::to_owned),
                ..RetrievalOptions::default()
            },
            api: ApiOptions::default(),
            download_progress: false,
        }
    }

    #[test]
    fn the_plan_lists_one_job_per_index_and_model_the_panes_need() {
        let plan = Plan::new(
            &options(
                Some("bm25,bm25:whitespace,dense:pooling=cls,dense,hybrid"),
                None,
            ),
            None,
        )
        .unwrap();
        let cls = DenseKey {
            model: None,
            pooling: Some(crate::model::PoolMode::Cls),
        };
        assert_eq!(
            plan.jobs,
            [
                Job::Corpus,
                Job::Bm25(None),
                Job::Bm25(Some(crate::bm25::AnalyzerKind::Whitespace)),
                Job::Dense(DenseKey::default()),
                Job::Dense(cls),
            ],
            "the session's model first; no reranker without a rerank pane"
        );
    }

    #[test]
    fn the_backend_connects_first_and_serves_the_session_analyzer() {
        let plan = Plan::new(&options(None, Some("milvus://127.0.0.1:1/c")), None).unwrap();
        assert_eq!(
            plan.jobs,
            [
                Job::Backend,
                Job::Corpus,
                Job::Dense(DenseKey::default()),
                Job::Reranker
            ]
        );
    }

    #[test]
    fn a_bad_spec_or_option_is_refused_before_anything_loads() {
        let bad = Plan::new(&options(Some("dense,nope"), None), None).unwrap_err();
        assert!(format!("{bad:#}").contains("nope"), "{bad:#}");
        let mut o = options(None, None);
        o.retrieval.top_k = 0;
        let err = Plan::new(&o, None).unwrap_err();
        assert!(
            err.chain()
                .any(|e| e.downcast_ref::<crate::setting::Invalid>().is_some()),
            "{err:#}"
        );
    }
}
