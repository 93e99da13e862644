"""gensim as word2vec's reference for tests/word2vec.rs.

  read FILE text|binary       print {"words": [...], "vectors": [[...]]} as gensim reads FILE
  write DIR                   train a small gensim model, save DIR/g.txt and DIR/g.bin, and
                              print its most_similar answers for the words asked of it
"""
import json
import sys

from gensim.models import KeyedVectors, Word2Vec


def read(path, fmt):
    kv = KeyedVectors.load_word2vec_format(path, binary=(fmt == "binary"))
    # float(np.float32) is exact, so the numbers compare bit for bit after JSON.
    print(json.dumps({
        "words": list(kv.index_to_key),
        "vectors": [[float(x) for x in kv[w]] for w in kv.index_to_key],
    }, ensure_ascii=False))


def write(out):
    topics = [["학교", "공부", "시험", "교실", "숙제"], ["운동", "축구", "선수", "경기", "체육"]]
    sentences = []
    for n in range(400):
        words = topics[n % 2]
        sentences.append([words[(n * 7 + k * 3) % 5] for k in range(12)])
    model = Word2Vec(sentences, vector_size=16, window=3, min_count=1, seed=1, workers=1, epochs=5)
    model.wv.save_word2vec_format(f"{out}/g.txt", binary=False)
    model.wv.save_word2vec_format(f"{out}/g.bin", binary=True)
    answers = {
        "nearest": [[w, float(c)] for w, c in model.wv.most_similar("학교", topn=3)],
        "analogy": [[w, float(c)] for w, c in
                    model.wv.most_similar(positive=["학교", "축구"], negative=["운동"], topn=3)],
    }
    print(json.dumps(answers, ensure_ascii=False))


if __name__ == "__main__":
    if sys.argv[1] == "read":
        read(sys.argv[2], sys.argv[3])
    else:
        write(sys.argv[2])
