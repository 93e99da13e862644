//! bigyo's analyzer output as text a Milvus analyzer splits back into the same terms.
//!
//! Korean has no analyzer in the server that matches bigyo's (bigram, wordpiece), so the
//! passage's terms are stored pre-analysed, space-separated, in `text_bm25`, and the server's
//! BM25 function only has to split on spaces. Milvus's `whitespace` tokenizer does exactly
//! that; milvus-lite (the test server) has only `standard` (Python's `\w+` plus lowercasing),
//! which would cut a wordpiece `##ing` to `ing` or `u.s` into two. So every term that is not
//! plainly word characters is written as `_` + the hex of its UTF-8 bytes: both tokenizers
//! then see the same tokens, one per term, and the encoding is one-to-one (a kept term never
//! contains `_`, an escaped one always starts with it). Hangul and lowercase ASCII words, all
//! of what the bigram analyzer makes of Korean text, stay readable.

/// Whether `term` passes through unchanged: Hangul, ASCII lowercase letters and digits only,
/// which Python's `\w` matches and lowercasing leaves alone.
fn plain(term: &str) -> bool {
    !term.is_empty()
        && term
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || crate::bm25::is_hangul(c))
}

/// One term as the server will see it.
pub fn encode_term(term: &str) -> String {
    if plain(term) {
        return term.to_owned();
    }
    let mut out = String::with_capacity(1 + 2 * term.len());
    out.push('_');
    for b in term.as_bytes() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Terms in order, space-separated (repeats kept: they are the term frequencies).
pub fn encode_terms<S: AsRef<str>>(terms: &[S]) -> String {
    terms
        .iter()
        .map(|t| encode_term(t.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hangul_and_lowercase_words_stay_readable() {
        assert_eq!(
            encode_terms(&["서울", "에서", "ktx", "2024"]),
            "서울 에서 ktx 2024"
        );
    }

    #[test]
    fn subwords_and_punctuation_become_one_word_token_each() {
        assert_eq!(encode_term("##ing"), "_2323696e67");
        assert_eq!(encode_term("u.s"), "_752e73");
        assert_eq!(encode_term("Seoul"), "_53656f756c");
        // Every escaped token is word characters only, so `\w+` keeps it whole.
        for t in ["##ing", "u.s", "a_b", "é", "東京"] {
            let e = encode_term(t);
            assert!(e.chars().all(|c| c == '_' || c.is_ascii_hexdigit()), "{e}");
            assert!(!e.contains(' '));
        }
    }

    #[test]
    fn encoding_is_one_to_one() {
        let terms = ["a", "_61", "a_", "_", "ab", "서울", "서울!"];
        let encoded: std::collections::BTreeSet<String> =
            terms.iter().map(|t| encode_term(t)).collect();
        assert_eq!(encoded.len(), terms.len());
    }
}
