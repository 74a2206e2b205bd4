"""Tiny random-weight configs of every Gemma family, with the real configs' structure.

Hidden 128 so int4 group sizes 64 and 128 divide every layer, as in the real models; a
sliding window of 12, so a 30-token prompt crosses it, and unlike optimum-intel's dummy
sequence length (16), so a trace that confuses the two fails here as it does on the real
configs (windows 512, 1024). The new families keep the parts their real configs have (field notes, transformers 5.5.4's configuration_gemma3n/gemma4):
- gemma3n_text: per-layer input embeddings, AltUp (4 streams), LAuReL, KV sharing (the last
  2 of 4 layers reuse earlier layers' caches), activation sparsity on the first layers,
  final-logit softcapping.
- gemma4_text: per-layer input embeddings, KV sharing, sliding layers with head size 32 and
  full layers with head size 64 and partial RoPE (proportional, 0.25), final softcapping.
- gemma4_moe: the 26B-A4B shape: a dense MLP beside a 4-expert top-2 MoE block with its
  router, keys equal values on full layers (`attention_k_eq_v`), no per-layer inputs.
"""

from __future__ import annotations

COMMON = dict(vocab_size=262144, hidden_size=128, intermediate_size=256, num_attention_heads=2,
              num_key_value_heads=1, head_dim=64, max_position_embeddings=2048,
              bos_token_id=2, eos_token_id=1, pad_token_id=0)
SLIDING_WINDOW = 12
# The recipe each family's tiny model is exported with.
RECIPES = {"gemma": "gemma-2b-it", "gemma2": "gemma-2-2b-it", "gemma3_text": "gemma-3-1b-it",
           "gemma3n_text": "gemma-3n-e2b-it", "gemma4_text": "gemma-4-e2b-it", "gemma4_moe": "gemma-4-26b-a4b-it"}
FOUR_LAYERS = ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]


def tiny_config(family: str):
    """A transformers config of `family` (a key of RECIPES)."""
    import transformers as t

    two = dict(COMMON, num_hidden_layers=2)
    if family == "gemma":
        return t.GemmaConfig(**two)
    if family == "gemma2":
        return t.Gemma2Config(**two, sliding_window=SLIDING_WINDOW, query_pre_attn_scalar=64)
    if family == "gemma3_text":
        return t.Gemma3TextConfig(**two, sliding_window=SLIDING_WINDOW, query_pre_attn_scalar=64,
                                  layer_types=["sliding_attention", "full_attention"])
    four = dict(COMMON, num_hidden_layers=4, sliding_window=SLIDING_WINDOW, layer_types=FOUR_LAYERS)
    if family == "gemma3n_text":
        return t.Gemma3nTextConfig(**dict(four, vocab_size=262400), vocab_size_per_layer_input=262144,
                                   hidden_size_per_layer_input=16, num_kv_shared_layers=2, laurel_rank=8,
                                   altup_num_inputs=4, activation_sparsity_pattern=[0.95, 0.95, 0.0, 0.0],
                                   final_logit_softcapping=30.0)
    if family == "gemma4_text":
        return t.Gemma4TextConfig(**dict(four, head_dim=32), global_head_dim=64, hidden_size_per_layer_input=16,
                                  num_kv_shared_layers=2, final_logit_softcapping=30.0)
    if family == "gemma4_moe":
        return t.Gemma4TextConfig(**dict(four, head_dim=32), global_head_dim=64, hidden_size_per_layer_input=0,
                                  num_kv_shared_layers=0, enable_moe_block=True, num_experts=4, top_k_experts=2,
                                  moe_intermediate_size=64, attention_k_eq_v=True, num_global_key_value_heads=1,
                                  final_logit_softcapping=30.0)
    raise KeyError(family)


def tiny_multimodal_config(family: str):
    """A multimodal checkpoint's config (a small vision tower, no audio) around a text config."""
    import transformers as t

    if family == "gemma3":
        vision = t.SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                      num_attention_heads=2, image_size=28, patch_size=14)
        return t.Gemma3Config(text_config=tiny_config("gemma3_text").to_dict(), vision_config=vision.to_dict(),
                              mm_tokens_per_image=4)
    if family == "gemma4":
        vision = t.Gemma4VisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=2, head_dim=16)
        return t.Gemma4Config(text_config=tiny_config("gemma4_text").to_dict(), vision_config=vision.to_dict(),
                              audio_config=None)
    raise KeyError(family)
