//! Tokenizers from a model directory: `tokenizer.json` when present, otherwise assembled
//! from `vocab.txt` (BERT WordPiece) or `vocab.json` + `merges.txt` (RoBERTa byte-level BPE)
//! the way transformers' slow-to-fast converters build them.
use std::path::Path;

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::processors::roberta::RobertaProcessing;
use tokenizers::{
    AddedToken, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy,
};

use super::config::TokenizerConfig;
use super::{ModelError, Result};

/// Loads the tokenizer in `dir`, truncating to `max_length` tokens (specials included) with
/// the longest-first strategy sentence-transformers asks for, and without padding (batches
/// are padded to their own longest row later).
pub fn load(dir: &Path, config: &TokenizerConfig, max_length: usize) -> Result<Tokenizer> {
    let json = dir.join("tokenizer.json");
    let err = |path: &Path, e: &dyn std::fmt::Display| ModelError::Tokenizer {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut tokenizer = if json.is_file() {
        Tokenizer::from_file(&json).map_err(|e| err(&json, &e))?
    } else if dir.join("vocab.txt").is_file() {
        wordpiece(dir, config)?
    } else if dir.join("vocab.json").is_file() && dir.join("merges.txt").is_file() {
        byte_level_bpe(dir, config)?
    } else {
        return Err(ModelError::invalid(
            dir,
            "no tokenizer: expected tokenizer.json, vocab.txt, or vocab.json with merges.txt",
        ));
    };
    tokenizer
        .with_truncation(Some(TruncationParams {
            direction: TruncationDirection::Right,
            max_length,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
        }))
        .map_err(|e| err(dir, &e))?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

fn token_or(config: &Option<super::config::TokenValue>, default: &str) -> String {
    config
        .as_ref()
        .map(|t| t.as_str().to_owned())
        .unwrap_or_else(|| default.to_owned())
}

fn special_id(tokenizer: &Tokenizer, token: &str, path: &Path) -> Result<u32> {
    tokenizer.token_to_id(token).ok_or_else(|| {
        ModelError::invalid(
            path,
            format!("special token {token:?} is not in the vocabulary"),
        )
    })
}

/// BertTokenizerFast as transformers' BertConverter builds it from `vocab.txt`.
fn wordpiece(dir: &Path, config: &TokenizerConfig) -> Result<Tokenizer> {
    let vocab = dir.join("vocab.txt");
    let unk = token_or(&config.unk_token, "[UNK]");
    let cls = token_or(&config.cls_token, "[CLS]");
    let sep = token_or(&config.sep_token, "[SEP]");
    let pad = token_or(&config.pad_token, "[PAD]");
    let model = WordPiece::from_file(&vocab.to_string_lossy())
        .unk_token(unk.clone())
        .continuing_subword_prefix("##".into())
        .max_input_chars_per_word(100)
        .build()
        .map_err(|e| ModelError::Tokenizer {
            path: vocab.clone(),
            message: e.to_string(),
        })?;
    let mut tokenizer = Tokenizer::new(model);
    // BertTokenizer's defaults: do_lower_case true, strip_accents follows lowercasing when
    // unset, Chinese characters split one per token.
    tokenizer.with_normalizer(Some(BertNormalizer::new(
        true,
        config.tokenize_chinese_chars.unwrap_or(true),
        config.strip_accents,
        config.do_lower_case.unwrap_or(true),
    )));
    tokenizer.with_pre_tokenizer(Some(BertPreTokenizer));
    tokenizer.with_decoder(Some(WordPieceDecoder::default()));
    let cls_id = special_id(&tokenizer, &cls, &vocab)?;
    let sep_id = special_id(&tokenizer, &sep, &vocab)?;
    tokenizer.with_post_processor(Some(BertProcessing::new(
        (sep.clone(), sep_id),
        (cls.clone(), cls_id),
    )));
    let specials: Vec<AddedToken> = [unk, cls, sep, pad, "[MASK]".to_owned()]
        .into_iter()
        .filter(|t| tokenizer.token_to_id(t).is_some())
        .map(|t| AddedToken::from(t, true))
        .collect();
    tokenizer.add_special_tokens(&specials);
    Ok(tokenizer)
}

/// RobertaTokenizerFast as transformers' RobertaConverter builds it from vocab.json + merges.txt.
fn byte_level_bpe(dir: &Path, config: &TokenizerConfig) -> Result<Tokenizer> {
    let vocab = dir.join("vocab.json");
    let merges = dir.join("merges.txt");
    let model = BPE::from_file(&vocab.to_string_lossy(), &merges.to_string_lossy())
        .build()
        .map_err(|e| ModelError::Tokenizer {
            path: vocab.clone(),
            message: e.to_string(),
        })?;
    let mut tokenizer = Tokenizer::new(model);
    tokenizer.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    let cls = token_or(&config.cls_token, "<s>");
    let sep = token_or(&config.sep_token, "</s>");
    let cls_id = special_id(&tokenizer, &cls, &vocab)?;
    let sep_id = special_id(&tokenizer, &sep, &vocab)?;
    tokenizer.with_post_processor(Some(
        RobertaProcessing::new((sep, sep_id), (cls, cls_id)).trim_offsets(true),
    ));
    Ok(tokenizer)
}
