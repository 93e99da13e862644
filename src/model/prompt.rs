//! Query and passage prompts, read from sentence-transformers' `config_sentence_transformers.json`
//! and resolved per side the way `SentenceTransformer.encode_query` / `encode_document` do.
use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::json::read_json;
use super::{ModelError, Result};

/// Which side of retrieval a text is on: it picks the prompt (and, for remote encoders, the
/// `input_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// A search query: sentence-transformers' `encode_query`.
    Query,
    /// A passage of the corpus: `encode_document`.
    Passage,
    /// Neither: plain `encode`, which applies only `default_prompt_name`.
    Plain,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Passage => "passage",
            Self::Plain => "plain",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct StConfig {
    #[serde(default)]
    prompts: Option<BTreeMap<String, String>>,
    #[serde(default)]
    default_prompt_name: Option<String>,
}

/// The prompts a model ships: name -> text, and the name `encode` uses by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prompts {
    pub named: BTreeMap<String, String>,
    pub default_name: Option<String>,
}

/// The names `encode_document` tries, in its order.
const PASSAGE_NAMES: [&str; 3] = ["document", "passage", "corpus"];

impl Prompts {
    /// Reads `config_sentence_transformers.json` in `dir`; a model without one has no prompts.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("config_sentence_transformers.json");
        if !path.exists() {
            return Ok(Self::default());
        }
        let config: StConfig = read_json(&path)?;
        let prompts = Self {
            named: config.prompts.unwrap_or_default(),
            default_name: config.default_prompt_name,
        };
        // sentence-transformers refuses the same inconsistency at load.
        if let Some(name) = &prompts.default_name {
            if !prompts.named.contains_key(name) {
                let keys: Vec<&str> = prompts.named.keys().map(String::as_str).collect();
                return Err(ModelError::invalid(
                    &path,
                    format!("default_prompt_name {name:?} is not one of the prompts {keys:?}"),
                ));
            }
        }
        Ok(prompts)
    }

    /// The prompt for `side`, "" for none.
    ///
    /// Matches `encode_query` (the `query` prompt) and `encode_document` (the first of
    /// `document`, `passage`, `corpus`), falling back to `default_prompt_name` as `encode`
    /// does when the model names no prompt for that side. (sentence-transformers 6.2 seeds
    /// empty `query`/`document` placeholders that shadow a saved `passage` prompt in
    /// `encode_document`; its docstring and the 3.x-5.x releases use the saved one, as here.)
    pub fn for_side(&self, side: Side) -> &str {
        // A named prompt counts even when empty: "" is a deliberate "no prompt".
        let pick = |name: &str| self.named.get(name).map(String::as_str);
        let named = match side {
            Side::Query => pick("query"),
            Side::Passage => PASSAGE_NAMES.iter().find_map(|n| pick(n)),
            Side::Plain => None,
        };
        named
            .or_else(|| {
                self.default_name
                    .as_deref()
                    .and_then(|n| self.named.get(n))
                    .map(String::as_str)
            })
            .unwrap_or("")
    }
}

/// The prompts an encoder prefixes, per side, after `--query-prompt` / `--passage-prompt`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SidePrompts {
    pub query: String,
    pub passage: String,
    pub plain: String,
}

impl SidePrompts {
    /// The model's prompts with the overrides applied (`Some("")` switches a side's prompt off).
    pub fn resolve(model: &Prompts, query: Option<&str>, passage: Option<&str>) -> Self {
        Self {
            query: query
                .map(str::to_owned)
                .unwrap_or_else(|| model.for_side(Side::Query).to_owned()),
            passage: passage
                .map(str::to_owned)
                .unwrap_or_else(|| model.for_side(Side::Passage).to_owned()),
            plain: model.for_side(Side::Plain).to_owned(),
        }
    }

    pub fn get(&self, side: Side) -> &str {
        match side {
            Side::Query => &self.query,
            Side::Passage => &self.passage,
            Side::Plain => &self.plain,
        }
    }
}

/// `prompt + text` for each text (no copy when the prompt is empty).
pub fn prefixed<'a>(prompt: &str, texts: &[&'a str]) -> Vec<std::borrow::Cow<'a, str>> {
    texts
        .iter()
        .map(|t| {
            if prompt.is_empty() {
                std::borrow::Cow::Borrowed(*t)
            } else {
                std::borrow::Cow::Owned(format!("{prompt}{t}"))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompts(pairs: &[(&str, &str)], default: Option<&str>) -> Prompts {
        Prompts {
            named: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            default_name: default.map(str::to_owned),
        }
    }

    #[test]
    fn e5_style_prompts_pick_query_and_passage() {
        let p = prompts(&[("query", "query: "), ("passage", "passage: ")], None);
        assert_eq!(p.for_side(Side::Query), "query: ");
        assert_eq!(p.for_side(Side::Passage), "passage: ");
        assert_eq!(p.for_side(Side::Plain), "");
    }

    #[test]
    fn document_wins_over_passage_and_corpus() {
        let p = prompts(
            &[("corpus", "c: "), ("passage", "p: "), ("document", "d: ")],
            None,
        );
        assert_eq!(p.for_side(Side::Passage), "d: ");
        let p = prompts(&[("corpus", "c: ")], None);
        assert_eq!(p.for_side(Side::Passage), "c: ");
    }

    #[test]
    fn default_prompt_name_fills_sides_without_their_own() {
        let p = prompts(&[("query", "q: "), ("retrieval", "r: ")], Some("retrieval"));
        assert_eq!(p.for_side(Side::Query), "q: ");
        assert_eq!(p.for_side(Side::Passage), "r: ");
        assert_eq!(p.for_side(Side::Plain), "r: ");
    }

    #[test]
    fn overrides_replace_and_empty_switches_off() {
        let p = prompts(&[("query", "query: "), ("passage", "passage: ")], None);
        let s = SidePrompts::resolve(&p, Some(""), Some("doc: "));
        assert_eq!(s.get(Side::Query), "");
        assert_eq!(s.get(Side::Passage), "doc: ");
    }

    #[test]
    fn a_default_name_missing_from_the_prompts_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config_sentence_transformers.json"),
            r#"{"prompts": {"query": "q: "}, "default_prompt_name": "passage"}"#,
        )
        .unwrap();
        let err = Prompts::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("default_prompt_name") && err.contains("passage"),
            "{err}"
        );
        assert_eq!(
            Prompts::load(&dir.path().join("none")).unwrap(),
            Prompts::default()
        );
    }
}
