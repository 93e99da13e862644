//! Settings by name: what a user sets (a search parameter, a model's device, a request's
//! timeout), so an error can name it as the front end does -- the explorer in words, the
//! command line by its flag -- without the library knowing either.
use std::fmt;

/// A knob a user sets, named in errors: the explorer shows [`Setting::label`], the command
/// line its flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setting {
    TopK,
    RrfK,
    FusionDepth,
    DenseWeight,
    Bm25Weight,
    /// A fusion pane's own weights, one per input (`weights=` in a pane spec).
    FusionWeights,
    RerankDepth,
    Alpha,
    Limit,
    BatchTokens,
    Pooling,
    Split,
    InputTypes,
    ApiBase,
    PricePerMtok,
    ApiBatch,
    ApiBatchChars,
    ApiConcurrency,
    ApiTimeout,
    ApiMaxWait,
    BackendTimeout,
    Model,
    Threads,
    Device,
    Dtype,
    SplitRatio,
    Folds,
}

impl Setting {
    /// The setting in words, as the explorer's screens name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::TopK => "top-k",
            Self::RrfK => "RRF k",
            Self::FusionDepth => "fusion depth",
            Self::DenseWeight => "dense weight",
            Self::Bm25Weight => "BM25 weight",
            Self::FusionWeights => "weights",
            Self::RerankDepth => "rerank depth",
            Self::Alpha => "convex alpha",
            Self::Limit => "row limit",
            Self::BatchTokens => "batch tokens",
            Self::Pooling => "pooling",
            Self::Split => "split",
            Self::InputTypes => "input types",
            Self::ApiBase => "API base URL",
            Self::PricePerMtok => "price per million tokens",
            Self::ApiBatch => "inputs per request",
            Self::ApiBatchChars => "characters per request",
            Self::ApiConcurrency => "requests in flight",
            Self::ApiTimeout => "request timeout",
            Self::ApiMaxWait => "retry wait",
            Self::BackendTimeout => "backend timeout",
            Self::Model => "model",
            Self::Threads => "threads",
            Self::Device => "device",
            Self::Dtype => "dtype",
            Self::SplitRatio => "split ratio",
            Self::Folds => "folds",
        }
    }
}

/// A setting's value that cannot be used: `settings` name what (one, or two that clash) and
/// `problem` says why, worded to follow the names ("must be at least 1").
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Invalid {
    pub settings: Vec<Setting>,
    pub problem: String,
}

impl Invalid {
    pub fn new(setting: Setting, problem: impl Into<String>) -> Self {
        Self {
            settings: vec![setting],
            problem: problem.into(),
        }
    }

    /// The message with each setting named by `name` (a label, or a flag on the command line).
    pub fn describe(&self, name: impl Fn(Setting) -> String) -> String {
        let names: Vec<String> = self.settings.iter().map(|&s| name(s)).collect();
        let gap = if self.problem.starts_with(':') {
            ""
        } else {
            " "
        };
        format!("{}{gap}{}", names.join(" and "), self.problem)
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(|s| s.label().to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_value_is_named_by_label_or_by_flag() {
        let e = Invalid {
            settings: vec![Setting::DenseWeight, Setting::Bm25Weight],
            problem: "are both 0".into(),
        };
        assert_eq!(e.to_string(), "dense weight and BM25 weight are both 0");
        assert_eq!(
            e.describe(|s| format!("--{s:?}")),
            "--DenseWeight and --Bm25Weight are both 0"
        );
        let colon = Invalid::new(Setting::Pooling, ": unknown mode");
        assert_eq!(colon.to_string(), "pooling: unknown mode");
    }
}
