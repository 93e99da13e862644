//! Training: word2vec with negative sampling, CBOW or skip-gram, as gensim's `Word2Vec`
//! does it (its `word2vec_inner.pyx`, itself Mikolov's `word2vec.c`), single-threaded so that
//! one seed always gives the same vectors.
use std::collections::HashMap;

use super::{Arch, Params, Word2VecError, WordVectors};
use crate::model::Progress;

/// word2vec.c's linear congruential generator (gensim uses the same one, modulo 2^48).
struct Lcg(u64);

impl Lcg {
    const MODULO: u64 = (1 << 48) - 1;

    fn next(&mut self) -> u64 {
        let out = self.0;
        self.0 = (self.0.wrapping_mul(25_214_903_917).wrapping_add(11)) & Self::MODULO;
        out
    }

    /// gensim's `random_int32`.
    fn int32(&mut self) -> u32 {
        ((self.next() >> 16) & 0xffff_ffff) as u32
    }
}

/// splitmix64, for the initial vectors (a stream independent of the training draws).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// gensim skips a (context, target) update whose dot product is beyond ±6 (word2vec.c's
/// `MAX_EXP`, where its sigmoid table ends).
const MAX_EXP: f32 = 6.0;

/// gensim splits longer sentences (`MAX_WORDS_IN_BATCH`).
const MAX_SENTENCE: usize = 10_000;

/// The vocabulary: words kept by `min_count`, most frequent first (ties in first-seen order,
/// as gensim's stable sort leaves them).
struct Vocab {
    words: Vec<String>,
    counts: Vec<u64>,
}

fn build_vocab(sentences: &[Vec<String>], min_count: usize) -> Vocab {
    let mut seen: HashMap<&str, (u64, usize)> = HashMap::new();
    for w in sentences.iter().flatten() {
        let next = seen.len();
        seen.entry(w.as_str()).or_insert((0, next)).0 += 1;
    }
    let mut kept: Vec<(&str, u64, usize)> = seen
        .into_iter()
        .filter(|(_, (c, _))| *c >= min_count.max(1) as u64)
        .map(|(w, (c, first))| (w, c, first))
        .collect();
    kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    Vocab {
        words: kept.iter().map(|k| k.0.to_owned()).collect(),
        counts: kept.iter().map(|k| k.1).collect(),
    }
}

/// gensim's `prepare_vocab` downsampling: the probability of keeping each word, scaled to
/// 2^32 and compared with a 32-bit draw.
fn keep_thresholds(counts: &[u64], sample: f64) -> Vec<u64> {
    let total: u64 = counts.iter().sum();
    if sample <= 0.0 {
        return vec![1 << 32; counts.len()];
    }
    let threshold = if sample < 1.0 {
        sample * total as f64
    } else {
        sample * (3.0 + 5f64.sqrt()) / 2.0
    };
    counts
        .iter()
        .map(|&c| {
            let v = c as f64;
            let p = ((v / threshold).sqrt() + 1.0) * (threshold / v);
            (p.min(1.0) * 4_294_967_296.0).round() as u64
        })
        .collect()
}

/// gensim's `make_cum_table`: the noise distribution count^ns_exponent as a cumulative
/// table over 2^31 - 1.
fn cum_table(counts: &[u64], exponent: f64) -> Vec<u32> {
    const DOMAIN: f64 = 2_147_483_647.0;
    let total: f64 = counts.iter().map(|&c| (c as f64).powf(exponent)).sum();
    let mut cumulative = 0.0;
    counts
        .iter()
        .map(|&c| {
            cumulative += (c as f64).powf(exponent);
            (cumulative / total * DOMAIN).round() as u32
        })
        .collect()
}

/// Eight running sums so the compiler can vectorise (a single float sum must keep its order).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `y += a * x`
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The weights being trained and the draws that train them.
struct Model<'a> {
    dim: usize,
    /// The word vectors (gensim's `wv.vectors`, word2vec.c's `syn0`).
    input: Vec<f32>,
    /// The output weights for negative sampling (`syn1neg`).
    output: Vec<f32>,
    noise: Noise<'a>,
    rng: Lcg,
    /// Scratch: the accumulated input error, and CBOW's context mean.
    work: Vec<f32>,
    hidden: Vec<f32>,
}

/// The noise distribution and the draws from it.
struct Noise<'a> {
    cum: &'a [u32],
    negative: usize,
}

impl Noise<'_> {
    fn word(&self, rng: &mut Lcg) -> usize {
        let last = self.cum.last().copied().unwrap_or(1).max(1) as u64;
        let draw = ((rng.next() >> 16) % last) as u32;
        self.cum.partition_point(|&c| c < draw)
    }

    /// One positive target and `negative` noise words against the hidden vector `l1`;
    /// the input error accumulates in `work` and the output rows are updated.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        rng: &mut Lcg,
        output: &mut [f32],
        dim: usize,
        target: usize,
        alpha: f32,
        l1: &[f32],
        work: &mut [f32],
    ) {
        for d in 0..=self.negative {
            let (word, label) = if d == 0 {
                (target, 1.0)
            } else {
                let w = self.word(rng);
                if w == target {
                    continue;
                }
                (w, 0.0)
            };
            let row = &mut output[word * dim..(word + 1) * dim];
            let f = dot(l1, row);
            if f <= -MAX_EXP || f >= MAX_EXP {
                continue;
            }
            let g = (label - sigmoid(f)) * alpha;
            axpy(g, row, work);
            axpy(g, l1, row);
        }
    }
}

impl Model<'_> {
    /// Skip-gram: the context word's vector predicts the centre word.
    fn skip_gram_pair(&mut self, centre: usize, context: usize, alpha: f32) {
        let dim = self.dim;
        self.work.fill(0.0);
        let l1 = &mut self.input[context * dim..(context + 1) * dim];
        self.noise.step(
            &mut self.rng,
            &mut self.output,
            dim,
            centre,
            alpha,
            l1,
            &mut self.work,
        );
        axpy(1.0, &self.work, l1);
    }

    /// CBOW with `cbow_mean=1`: the mean of the context vectors predicts the centre word;
    /// the error is shared out divided by the context size (gensim's `fast_sentence_cbow_neg`).
    fn cbow(&mut self, centre: usize, context: &[usize], alpha: f32) {
        if context.is_empty() {
            return;
        }
        let dim = self.dim;
        let mut hidden = std::mem::take(&mut self.hidden);
        let mut work = std::mem::take(&mut self.work);
        hidden.fill(0.0);
        work.fill(0.0);
        for &c in context {
            axpy(1.0, &self.input[c * dim..(c + 1) * dim], &mut hidden);
        }
        let inv = 1.0 / context.len() as f32;
        hidden.iter_mut().for_each(|h| *h *= inv);
        self.noise.step(
            &mut self.rng,
            &mut self.output,
            dim,
            centre,
            alpha,
            &hidden,
            &mut work,
        );
        work.iter_mut().for_each(|w| *w *= inv);
        for &c in context {
            axpy(1.0, &work, &mut self.input[c * dim..(c + 1) * dim]);
        }
        self.hidden = hidden;
        self.work = work;
    }

    /// One (downsampled) sentence, every position with its reduced window.
    fn sentence(&mut self, words: &[usize], arch: Arch, window: usize, alpha: f32) {
        let mut context = Vec::with_capacity(2 * window);
        for i in 0..words.len() {
            let reduced = self.rng.int32() as usize % window.max(1);
            let lo = i.saturating_sub(window - reduced);
            let hi = (i + window - reduced + 1).min(words.len());
            context.clear();
            context.extend((lo..hi).filter(|&j| j != i).map(|j| words[j]));
            match arch {
                Arch::SkipGram => {
                    for &c in &context {
                        self.skip_gram_pair(words[i], c, alpha);
                    }
                }
                Arch::Cbow => self.cbow(words[i], &context, alpha),
            }
        }
    }
}

/// Trains word vectors on `sentences` (each a list of terms). `progress` counts the words
/// processed over all epochs; `cancel` is checked between sentences.
pub fn train(
    sentences: &[Vec<String>],
    params: &Params,
    progress: &mut dyn FnMut(Progress),
    cancel: &dyn Fn() -> bool,
) -> Result<WordVectors, Word2VecError> {
    params.validate()?;
    let vocab = build_vocab(sentences, params.min_count);
    if vocab.words.is_empty() {
        return Err(Word2VecError::EmptyVocabulary {
            min_count: params.min_count,
            tokens: sentences.iter().map(Vec::len).sum(),
        });
    }
    let index: HashMap<&str, usize> = vocab
        .words
        .iter()
        .enumerate()
        .map(|(i, w)| (w.as_str(), i))
        .collect();
    // Out-of-vocabulary words are dropped before windows are drawn, as in gensim.
    let encoded: Vec<Vec<usize>> = sentences
        .iter()
        .flat_map(|s| s.chunks(MAX_SENTENCE))
        .map(|s| {
            s.iter()
                .filter_map(|w| index.get(w.as_str()).copied())
                .collect()
        })
        .collect();
    let raw_words: usize = encoded.iter().map(Vec::len).sum();
    let keep = keep_thresholds(&vocab.counts, params.sample);
    let cum = cum_table(&vocab.counts, params.ns_exponent);
    let dim = params.vector_size;
    let mut init = params.seed;
    // gensim: uniform in [-0.5, 0.5) / vector_size; output weights start at zero.
    let input: Vec<f32> = (0..vocab.words.len() * dim)
        .map(|_| ((splitmix(&mut init) >> 40) as f32 / 16_777_216.0 - 0.5) / dim as f32)
        .collect();
    let mut model = Model {
        dim,
        input,
        output: vec![0.0; vocab.words.len() * dim],
        noise: Noise {
            cum: &cum,
            negative: params.negative,
        },
        rng: Lcg(params.seed & Lcg::MODULO),
        work: vec![0.0; dim],
        hidden: vec![0.0; dim],
    };
    let total = (raw_words * params.epochs).max(1);
    let mut done = 0usize;
    let mut kept = Vec::new();
    for _ in 0..params.epochs {
        for words in &encoded {
            if cancel() {
                return Err(Word2VecError::Cancelled);
            }
            // The learning rate decays linearly with the words processed.
            let alpha =
                params.alpha - (params.alpha - params.min_alpha) * (done as f32 / total as f32);
            kept.clear();
            for &w in words {
                if keep[w] >= model.rng.int32() as u64 {
                    kept.push(w);
                }
            }
            model.sentence(&kept, params.arch, params.window, alpha);
            done += words.len();
            progress(Progress { done, total });
        }
    }
    WordVectors::new(vocab.words, dim, model.input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_is_sorted_by_count_then_first_seen() {
        let s = vec![
            vec!["b".to_owned(), "a".into(), "a".into(), "c".into()],
            vec!["b".into(), "d".into()],
        ];
        let v = build_vocab(&s, 1);
        assert_eq!(v.words, ["b", "a", "c", "d"]);
        assert_eq!(v.counts, [2, 2, 1, 1]);
        assert_eq!(build_vocab(&s, 2).words, ["b", "a"]);
    }

    #[test]
    fn downsampling_keeps_rare_words_and_thins_frequent_ones() {
        // gensim's formula with sample = 1e-3 over 10,000 words: threshold 10.
        let t = keep_thresholds(&[9_000, 10, 990], 1e-3);
        let p = |x: u64| x as f64 / 4_294_967_296.0;
        let want = ((9000f64 / 10.0).sqrt() + 1.0) * (10.0 / 9000.0);
        assert!((p(t[0]) - want).abs() < 1e-9);
        assert_eq!(t[1], 1 << 32);
        assert_eq!(keep_thresholds(&[5, 5], 0.0), [1 << 32, 1 << 32]);
    }

    #[test]
    fn noise_table_follows_the_three_quarter_power() {
        let c = cum_table(&[16, 1], 0.75);
        // 16^0.75 = 8, 1^0.75 = 1: the first word takes 8/9 of the domain.
        assert!((c[0] as f64 / 2_147_483_647.0 - 8.0 / 9.0).abs() < 1e-6);
        assert_eq!(c[1], 2_147_483_647);
    }
}
