//! The collection bigyo writes and reads: field names, how it is created, and what its
//! properties say about how it was made.
use std::collections::HashMap;

use milvus::v2::prelude::{
    CollectionDesc, CollectionSchema, DataType, FieldSchema, Function, FunctionType,
};

use super::{CollectionInfo, Error};

pub const ID: &str = "id";
pub const TITLE: &str = "title";
pub const TEXT: &str = "text";
pub const HASH: &str = "hash";
pub const TEXT_BM25: &str = "text_bm25";
pub const SPARSE: &str = "sparse";
pub const DENSE: &str = "dense";

/// Milvus's longest VarChar, in bytes.
pub const VARCHAR_MAX: usize = 65_535;

/// Collection properties.
pub const P_FORMAT: &str = "bigyo.format";
pub const P_MODEL: &str = "bigyo.model";
pub const P_ANALYZER: &str = "bigyo.analyzer";
pub const P_CORPUS: &str = "bigyo.corpus";
pub const P_PASSAGES: &str = "bigyo.passages";
pub const P_COMPLETE: &str = "bigyo.complete";
pub const P_TOKENIZER: &str = "bigyo.tokenizer";
pub const P_INDEX: &str = "bigyo.index_type";

/// The layout version; a collection of another version is rebuilt, not read.
pub const FORMAT: &str = "1";

/// The fields and the BM25 function; `tokenizer` splits `text_bm25` on the server.
pub fn collection_schema(dim: usize, tokenizer: &str) -> CollectionSchema {
    let varchar = |name: &str| {
        FieldSchema::new()
            .name(name)
            .data_type(DataType::VarChar)
            .max_length(VARCHAR_MAX as u32)
    };
    CollectionSchema::new()
        .enable_dynamic_field(false)
        .add_field(
            FieldSchema::new()
                .name(ID)
                .description("bigyo's passage index")
                .data_type(DataType::Int64)
                .primary_key(true),
        )
        .add_field(varchar(TITLE))
        .add_field(varchar(TEXT))
        .add_field(
            FieldSchema::new()
                .name(HASH)
                .data_type(DataType::VarChar)
                .max_length(64),
        )
        .add_field(
            varchar(TEXT_BM25)
                .description("bigyo's analyzer output, space-separated")
                .enable_analyzer(true)
                .analyzer_params(serde_json::json!({ "tokenizer": tokenizer })),
        )
        .add_field(
            FieldSchema::new()
                .name(SPARSE)
                .data_type(DataType::SparseFloatVector),
        )
        .add_field(
            FieldSchema::new()
                .name(DENSE)
                .data_type(DataType::FloatVector)
                .dimension(dim as u32),
        )
        .add_function(
            Function::new()
                .name("bigyo_bm25")
                .function_type(FunctionType::Bm25)
                .input_fields([TEXT_BM25])
                .output_fields([SPARSE]),
        )
}

/// Reads what bigyo needs from a collection's description.
pub fn read_info(collection: &str, desc: &CollectionDesc) -> Result<CollectionInfo, Error> {
    let props = desc.get_properties();
    let not_bigyo = |reason: String| Error::NotBigyo {
        collection: collection.to_owned(),
        reason,
    };
    match props.get(P_FORMAT).map(String::as_str) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(not_bigyo(format!(
                "layout version {other}, this bigyo reads {FORMAT}; rebuild it with \
                 `bigyo index --drop`"
            )))
        }
        None => {
            return Err(not_bigyo(format!(
                "it has no {P_FORMAT} property; index into another collection or rebuild \
                 this one with `bigyo index --drop`"
            )))
        }
    }
    let fields = desc.get_schema().get_fields();
    for name in [ID, TITLE, TEXT, HASH, TEXT_BM25, SPARSE, DENSE] {
        if !fields.iter().any(|f| f.get_name() == name) {
            return Err(not_bigyo(format!("it has no `{name}` field")));
        }
    }
    let dim = fields
        .iter()
        .find(|f| f.get_name() == DENSE)
        .map(|f| f.get_dimension() as usize)
        .unwrap_or(0);
    let prop = |k: &str| props.get(k).cloned().unwrap_or_default();
    Ok(CollectionInfo {
        collection: collection.to_owned(),
        passages: prop(P_PASSAGES).parse().unwrap_or(0),
        dim,
        model: prop(P_MODEL),
        analyzer: prop(P_ANALYZER),
        corpus: prop(P_CORPUS),
        tokenizer: prop(P_TOKENIZER),
        index_type: prop(P_INDEX),
    })
}

/// Why a collection is not complete, or `None` when `bigyo index` finished it.
pub fn incomplete(props: &HashMap<String, String>) -> Option<String> {
    match props.get(P_COMPLETE).map(String::as_str) {
        Some("true") => None,
        _ => Some(format!(
            "an earlier `bigyo index` stopped before the end; {} of the corpus's passages \
             were planned",
            props.get(P_PASSAGES).map(String::as_str).unwrap_or("?")
        )),
    }
}
