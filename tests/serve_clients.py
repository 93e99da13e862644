"""Clients of `bigyo serve`, unmodified, for tests/serve.rs: the official OpenAI client and
LlamaIndex (OpenAIEmbedding with api_base, a VectorStoreIndex over the sample, a query).

  serve_clients.py BASE_URL API_KEY MODEL TEXTS.json PASSAGES.json QUERY

Prints one JSON object with what each client got.
"""
import json
import sys

import openai
from llama_index.core import Document, VectorStoreIndex
from llama_index.embeddings.openai import OpenAIEmbedding


def main():
    base, key, model, texts_file, passages_file, query = sys.argv[1:7]
    texts = json.load(open(texts_file, encoding="utf-8"))
    passages = json.load(open(passages_file, encoding="utf-8"))
    out = {}

    client = openai.OpenAI(base_url=base, api_key=key, max_retries=0)
    out["models"] = [m.id for m in client.models.list()]
    # The client asks for base64 unless told otherwise and decodes it itself.
    default = client.embeddings.create(model=model, input=texts)
    out["default"] = [d.embedding for d in default.data]
    out["usage"] = default.usage.prompt_tokens
    floats = client.embeddings.create(model=model, input=texts, encoding_format="float")
    out["float"] = [d.embedding for d in floats.data]
    one = client.embeddings.create(model=model, input=texts[0])
    out["single"] = one.data[0].embedding
    query_side = client.embeddings.create(
        model=model, input=[query], extra_body={"input_type": "query"})
    out["query_side"] = query_side.data[0].embedding
    errors = {}
    try:
        client.embeddings.create(model=model, input=texts, dimensions=64)
    except openai.BadRequestError as e:
        errors["dimensions"] = [e.status_code, e.body.get("param"), e.body.get("message")]
    try:
        client.embeddings.create(model="no-such-model", input=texts)
    except openai.NotFoundError as e:
        errors["model"] = [e.status_code, e.body.get("code"), e.body.get("message")]
    try:
        openai.OpenAI(base_url=base, api_key="wrong", max_retries=0).embeddings.create(
            model=model, input=texts)
    except openai.AuthenticationError as e:
        errors["key"] = [e.status_code, e.body.get("code"), e.body.get("message")]
    out["errors"] = errors

    embed = OpenAIEmbedding(model_name=model, api_base=base, api_key=key, embed_batch_size=16)
    docs = [Document(text=p, doc_id=f"p{i}") for i, p in enumerate(passages)]
    index = VectorStoreIndex.from_documents(docs, embed_model=embed)
    nodes = index.as_retriever(similarity_top_k=3).retrieve(query)
    out["llama"] = {
        "indexed": len(index.docstore.docs),
        "query_vector": embed.get_query_embedding(query),
        "hits": [{"text": n.node.get_content(), "score": n.score, "doc": n.node.ref_doc_id}
                 for n in nodes],
    }
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
