"""Quality of an export against the model it was made from (`edge-gemma eval`): KL, top-1,
perplexity and greedy agreement (evaluate.py, metrics.py), the two models' logits (models.py),
and the reference's logits cached once per checkpoint and text (reference_cache.py)."""

from .evaluate import evaluate

__all__ = ["evaluate"]
