//! The OpenAI embeddings API as bigyo speaks it: requests parsed and checked (pure, no
//! model), answers and errors shaped as OpenAI's clients expect them.
use base64::Engine as _;
use serde_json::{json, Value};

use crate::model::{Embeddings, Side};

/// An error as OpenAI returns it: `{"error": {"message", "type", "param", "code"}}` with
/// the HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<&'static str>,
    pub code: Option<&'static str>,
}

impl ApiError {
    pub fn invalid(message: impl Into<String>, param: Option<&'static str>) -> Self {
        Self {
            status: 400,
            message: message.into(),
            kind: "invalid_request_error",
            param,
            code: None,
        }
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn server(message: impl Into<String>) -> Self {
        Self {
            status: 500,
            message: message.into(),
            kind: "server_error",
            param: None,
            code: None,
        }
    }

    pub fn body(&self) -> Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }})
    }
}

/// How the vectors go back: JSON numbers or base64 of little-endian float32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Float,
    Base64,
}

/// A checked `POST /v1/embeddings` body.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedRequest {
    pub model: String,
    pub texts: Vec<String>,
    pub encoding: Encoding,
    pub side: Side,
}

/// The `input_type` values bigyo accepts, per side: its own names and the ones the hosted
/// APIs that src/model/remote.rs talks to use (Cohere, Voyage, Jina, Nomic).
pub fn side_of(input_type: &str) -> Option<Side> {
    match input_type {
        "query" | "search_query" | "retrieval.query" => Some(Side::Query),
        "passage" | "document" | "search_document" | "retrieval.passage" => Some(Side::Passage),
        "plain" | "text" => Some(Side::Plain),
        _ => None,
    }
}

/// Parses and checks an embeddings request; `max_batch` bounds the inputs.
pub fn parse_embed(body: &[u8], max_batch: usize) -> Result<EmbedRequest, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("the body is not valid JSON: {e}"), None))?;
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::invalid("the body must be a JSON object", None))?;
    let model = match obj.get("model") {
        Some(Value::String(m)) => m.clone(),
        Some(_) => return Err(ApiError::invalid("`model` must be a string", Some("model"))),
        None => {
            return Err(ApiError::invalid(
                "you must provide a model parameter",
                Some("model"),
            ))
        }
    };
    if let Some(d) = obj.get("dimensions").filter(|d| !d.is_null()) {
        return Err(ApiError::invalid(
            format!(
                "`dimensions` ({d}) is not supported: bigyo's encoders return their full \
                 dimension and are not trained to be truncated; leave `dimensions` out"
            ),
            Some("dimensions"),
        )
        .with_code("unsupported_parameter"));
    }
    let encoding = match obj.get("encoding_format") {
        None | Some(Value::Null) => Encoding::Float,
        Some(Value::String(s)) if s == "float" => Encoding::Float,
        Some(Value::String(s)) if s == "base64" => Encoding::Base64,
        Some(other) => {
            return Err(ApiError::invalid(
                format!("`encoding_format` must be \"float\" or \"base64\", not {other}"),
                Some("encoding_format"),
            ))
        }
    };
    let side = match obj.get("input_type") {
        None | Some(Value::Null) => Side::Plain,
        Some(Value::String(s)) => side_of(s).ok_or_else(|| {
            ApiError::invalid(
                format!(
                    "`input_type` {s:?} is not known: use \"query\", \"passage\" (or \
                     \"document\") or \"plain\""
                ),
                Some("input_type"),
            )
        })?,
        Some(_) => {
            return Err(ApiError::invalid(
                "`input_type` must be a string",
                Some("input_type"),
            ))
        }
    };
    let texts = parse_input(obj.get("input"), max_batch)?;
    Ok(EmbedRequest {
        model,
        texts,
        encoding,
        side,
    })
}

fn parse_input(input: Option<&Value>, max_batch: usize) -> Result<Vec<String>, ApiError> {
    let bad = |m: String| ApiError::invalid(m, Some("input"));
    let token_arrays = || {
        bad(
            "`input` as token arrays is not supported: bigyo's encoders tokenize with their \
             own vocabularies, not OpenAI's; send strings (LangChain's OpenAIEmbeddings: set \
             check_embedding_ctx_length=False)"
                .into(),
        )
    };
    let texts: Vec<String> = match input {
        None => return Err(bad("you must provide an `input` parameter".into())),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(bad("`input` must not be an empty list".into()))
        }
        Some(Value::Array(items)) => {
            if items.len() > max_batch {
                return Err(bad(format!(
                    "`input` holds {} texts; this server takes at most {max_batch} per request",
                    items.len()
                )));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(_) | Value::Array(_) => Err(token_arrays()),
                    other => Err(bad(format!("`input[{i}]` must be a string, not {other}"))),
                })
                .collect::<Result<_, _>>()?
        }
        Some(_) => return Err(bad("`input` must be a string or a list of strings".into())),
    };
    if let Some(i) = texts.iter().position(|t| t.is_empty()) {
        return Err(bad(format!(
            "`input[{i}]` is empty; every input must hold some text"
        )));
    }
    Ok(texts)
}

fn base64_of(row: &[f32]) -> String {
    let bytes: Vec<u8> = row.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The answer to an embeddings request.
pub fn embed_response(
    model: &str,
    embeddings: &Embeddings,
    encoding: Encoding,
    tokens: usize,
) -> Value {
    let data: Vec<Value> = embeddings
        .rows()
        .enumerate()
        .map(|(i, row)| {
            let embedding = match encoding {
                Encoding::Float => json!(row),
                Encoding::Base64 => json!(base64_of(row)),
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })
}

/// `GET /v1/models`.
pub fn models_response(names: &[String]) -> Value {
    let data: Vec<Value> = names
        .iter()
        .map(|n| json!({"id": n, "object": "model", "created": 0, "owned_by": "bigyo"}))
        .collect();
    json!({"object": "list", "data": data})
}

/// A checked `POST /v1/search` body: the query and how many hits per pane.
pub fn parse_search(body: &[u8]) -> Result<(String, Option<usize>), ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("the body is not valid JSON: {e}"), None))?;
    let query = match v.get("query") {
        Some(Value::String(q)) if !q.trim().is_empty() => q.clone(),
        _ => {
            return Err(ApiError::invalid(
                "`query` must be a non-empty string",
                Some("query"),
            ))
        }
    };
    if query.chars().count() > 30_000 {
        return Err(ApiError::invalid(
            "`query` is over 30000 characters",
            Some("query"),
        ));
    }
    let top_k = match v.get("top_k") {
        None | Some(Value::Null) => None,
        Some(k) => match k.as_u64() {
            Some(k @ 1..=1000) => Some(k as usize),
            _ => {
                return Err(ApiError::invalid(
                    format!("`top_k` must be an integer in 1..=1000, not {k}"),
                    Some("top_k"),
                ))
            }
        },
    };
    Ok((query, top_k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: Value) -> Result<EmbedRequest, ApiError> {
        parse_embed(body.to_string().as_bytes(), 4)
    }

    #[test]
    fn input_is_a_string_or_a_list_of_strings() {
        let r = parse(json!({"model": "m", "input": "학교"})).unwrap();
        assert_eq!(
            (r.texts, r.encoding, r.side),
            (vec!["학교".to_owned()], Encoding::Float, Side::Plain)
        );
        let r = parse(
            json!({"model": "m", "input": ["a", "b"], "encoding_format": "base64",
            "input_type": "query"}),
        )
        .unwrap();
        assert_eq!(
            (r.texts.len(), r.encoding, r.side),
            (2, Encoding::Base64, Side::Query)
        );
        assert_eq!(
            parse(json!({"model": "m", "input": "x", "input_type": "document"}))
                .unwrap()
                .side,
            Side::Passage
        );
    }

    #[test]
    fn bad_requests_are_openai_style_errors_naming_the_parameter() {
        for (body, param, needle) in [
            (json!({"input": "x"}), "model", "model"),
            (
                json!({"model": "m", "input": "x", "dimensions": 64}),
                "dimensions",
                "64",
            ),
            (
                json!({"model": "m", "input": [[1, 2]]}),
                "input",
                "token arrays",
            ),
            (
                json!({"model": "m", "input": [1, 2]}),
                "input",
                "token arrays",
            ),
            (
                json!({"model": "m", "input": vec!["a"; 5]}),
                "input",
                "at most 4",
            ),
            (json!({"model": "m", "input": []}), "input", "empty"),
            (
                json!({"model": "m", "input": ["a", ""]}),
                "input",
                "input[1]",
            ),
            (
                json!({"model": "m", "input": "x", "encoding_format": "int8"}),
                "encoding_format",
                "int8",
            ),
            (
                json!({"model": "m", "input": "x", "input_type": "sideways"}),
                "input_type",
                "sideways",
            ),
        ] {
            let err = parse(body.clone()).unwrap_err();
            assert_eq!(err.status, 400, "{body}");
            assert_eq!(err.param, Some(param), "{body}");
            assert!(err.message.contains(needle), "{body}: {}", err.message);
            assert_eq!(err.body()["error"]["type"], "invalid_request_error");
        }
        assert!(parse_embed(b"{not json", 4)
            .unwrap_err()
            .message
            .contains("JSON"));
    }

    #[test]
    fn base64_is_little_endian_float32() {
        let e = Embeddings {
            dim: 2,
            data: vec![1.0, -0.5],
        };
        let v = embed_response("m", &e, Encoding::Base64, 7);
        let b = v["data"][0]["embedding"].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
        assert_eq!(
            bytes,
            [1.0f32.to_le_bytes(), (-0.5f32).to_le_bytes()].concat()
        );
        assert_eq!(v["usage"]["prompt_tokens"], 7);
        let f = embed_response("m", &e, Encoding::Float, 7);
        assert_eq!(f["data"][0]["embedding"], json!([1.0, -0.5]));
    }

    #[test]
    fn search_bodies_are_checked() {
        assert_eq!(
            parse_search(r#"{"query": "비", "top_k": 3}"#.as_bytes()).unwrap(),
            ("비".to_owned(), Some(3))
        );
        assert_eq!(
            parse_search(br#"{"query": " "}"#).unwrap_err().param,
            Some("query")
        );
        assert_eq!(
            parse_search(br#"{"query": "a", "top_k": 0}"#)
                .unwrap_err()
                .param,
            Some("top_k")
        );
    }
}
