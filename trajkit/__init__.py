"""trajkit: build, curate, publish and train on agent-distillation datasets.

Importing the package stays cheap: heavy libraries (torch, transformers, trl, vllm,
argilla, faiss, sentence-transformers) are imported inside the functions that use them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
