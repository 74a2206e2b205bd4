"""optimum-intel 2.2.0's text-decoder export, made to take every Gemma on transformers 5.5.

Six changes, each in force only inside `optimum_for_gemma()` and undone on the way out:

1. Version cap. optimum-intel 2.2.0 caps its gemma/gemma2/gemma3_text export configs at
   transformers 5.0 (`GemmaOpenVINOConfig.MAX_TRANSFORMERS_VERSION`; gemma3n_text and
   gemma4_text inherit it), while Gemma 4 needs transformers >= 5.5. The cap is raised to the
   versions tests/export/test_families.py proves (every family's IR against PyTorch's logits).
2. Gemma 3n's per-layer inputs. `Gemma3nTextModel.project_per_layer_inputs` multiplies in
   place (`*=`), which crashes OpenVINO's PyTorch frontend; optimum-intel's own multimodal
   patcher (`Gemma3nLMModelPatcher`) swaps in its out-of-place copy, its text-only config does
   not (it reuses `Gemma2ModelPatcher`). We swap the same copy in.
3. Gemma 4's MoE experts. transformers' default experts forward (`grouped_mm`) traces to
   `aten::argsort`, which OpenVINO 2026.4 cannot convert ("Model wasn't fully converted");
   optimum-intel's `Gemma4LMModelPatcher` uses `lfm2_moe_experts_forward` (a dense scatter of
   the top-k weights and one bmm per projection, fused back by OpenVINO's
   ConvertTiledMoeBlockToGatherMatmuls). We use its form for the text-only export too
   (`experts_forward`), with the 16-bit weights widened to f32 before they are split into gate
   and up (see 6.).
4. Exact RoPE frequencies. Saving with fp16 weights (`OVConfig(dtype="fp16")`) rounds every
   f32 constant to fp16, the rotary embedding's inverse frequencies too: an angle error that
   grows with the position (2^-11 x position x frequency). On a tiny Gemma 4 that alone made
   the IR's logits differ from PyTorch's by 0.017 over 30 positions; kept exact, 0.0003. Each
   frequency table is stored as fp16 high part + fp16 remainder, summed in f32 (folded into
   one f32 constant when the model is compiled): 22 bits of mantissa survive fp16 storage.
5. Gemma 4's trace inputs. `Gemma4DummyPastKeyValuesGenerator` gives the sliding layers a past
   of `sliding_window` tokens and the full layers one of the dummy sequence length (16), with
   one attention mask for both: a real config (window 512 or 1024) fails to trace ("The size of
   tensor a (32) must match the size of tensor b (528)" in SDPA; found exporting the E2B shape,
   benchmark/scale.py). A tiny model with a window of 16 hid it. Every layer's past gets the
   dummy length, as for Gemma 3n and the other Gemmas; the IR's cache length stays dynamic.
6. Embeddings kept in bf16. optimum-intel traces a bf16 model through OpenVINO's
   `__make_16bit_traceable` (openvino 2026.4, frontend/pytorch/patch_model.py): modules of
   exactly `nn.Linear` / `nn.Embedding` become ModuleExtensions whose weights go into the graph
   as they are (memory-mapped bf16), every other module's weights are cast to f32 in memory.
   Every Gemma's token embedding is a subclass (`Gemma*TextScaledWordEmbedding`: the lookup
   times `embed_scale`), as are the E-models' per-layer tables, so each was copied to f32:
   3.8 GB for gemma-2-9b-it's 262144 x 3584 table, 9.4 GB for Gemma 4 E2B's per-layer table,
   most of the conversion's peak memory (docs/families.md). They get the same extension here,
   with the scale multiplied after the lookup, so their weights stay bf16 and shared with the
   checkpoint; the IR stores them in bf16 as it does every Linear weight (export/tables.py
   reads bf16). Gemma 4's MoE experts (3-D weights, 90 % of 26B-A4B) were cast to f32 the
   same way, and optimum's experts forward then had OpenVINO fold the split of the f32 gate/up
   weight into new f32 constants: 6.7 GB for two layers of the 26B-A4B shape, about 90 GB for
   the model. The experts module is listed among the extensions but never patched (so it is not
   cast), and `experts_forward` widens each weight before splitting it: the IR keeps one bf16
   constant per expert weight behind a Convert, the conversion peaks at 3.9 GB for those two
   layers (one layer's experts in f32 while it is traced), and the CPU plugin still fuses the
   block into GatherMatmul (measured 2026-12-06, docs/families.md).
"""

from __future__ import annotations

from contextlib import contextmanager

# The newest transformers the lifted cap admits: the 5.5 line, what pyproject pins.
LIFTED_MAX = "5.5.99"


def exact_rope(model) -> int:
    """Split each f32 rotary-embedding constant of an OpenVINO model into hi + lo (see 4.)."""
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    split = 0
    for node in model.get_ordered_ops():
        if (node.get_type_name() != "Constant" or node.get_element_type() != ov.Type.f32
                or "rotary_emb" not in node.get_friendly_name() or node.get_output_partial_shape(0).is_dynamic):
            continue
        value = node.get_data().astype(np.float32)
        if value.size < 2:
            continue
        high = value.astype(np.float16).astype(np.float32)
        exact = ops.add(ops.constant(high), ops.constant(value - high), name=f"{node.get_friendly_name()}/exact")
        node.output(0).replace(exact.output(0))
        split += 1
    return split


def gemma_16bit_extensions(get_extensions):
    """OpenVINO's 16-bit extensions (`get_extensions`: patch_model._get_16bit_extensions) plus
    one for each Gemma scaled word embedding (see 6.): the plain embedding op on the real 16-bit
    weight, times the module's `embed_scale` as its own forward does; and Gemma 4's experts,
    listed so they are not cast."""
    import torch
    from openvino.frontend.pytorch.patch_model import ModuleExtension, _orig_weight
    from transformers.models.gemma.modeling_gemma import GemmaTextScaledWordEmbedding
    from transformers.models.gemma2.modeling_gemma2 import Gemma2TextScaledWordEmbedding
    from transformers.models.gemma3.modeling_gemma3 import Gemma3TextScaledWordEmbedding
    from transformers.models.gemma3n.modeling_gemma3n import Gemma3nTextScaledWordEmbedding
    from transformers.models.gemma4.modeling_gemma4 import Gemma4TextExperts, Gemma4TextScaledWordEmbedding

    def convert(module, target_op, ids, *args, **kwargs):
        # The forward is `super().forward(ids) * embed_scale.to(weight.dtype)`, and the traced
        # weight is f32: the scale is the buffer's value (bf16-rounded in bf16 checkpoints) in f32.
        looked_up = target_op(_orig_weight(module, "weight"), ids, module.padding_idx,
                              module.scale_grad_by_freq, module.sparse)
        return looked_up * module.embed_scale.to(torch.float32)

    def extensions(*args, **kwargs):
        found, supported = get_extensions(*args, **kwargs)
        plain = found[torch.nn.Embedding]
        for cls in (GemmaTextScaledWordEmbedding, Gemma2TextScaledWordEmbedding, Gemma3TextScaledWordEmbedding,
                    Gemma3nTextScaledWordEmbedding, Gemma4TextScaledWordEmbedding):
            found[cls] = ModuleExtension(cls, "ov_ext::embedding", convert=convert, evaluate=plain.evaluate,
                                         condition=plain.condition)
        # Listed but never patched (condition False): a listed module is not cast to f32;
        # experts_forward widens its weights in the graph instead (see 6.).
        found[Gemma4TextExperts] = ModuleExtension(Gemma4TextExperts, "ov_ext::unused", convert=None,
                                                   evaluate=None, condition=lambda module: False)
        return found, supported

    return extensions


def experts_forward(self, hidden_states, top_k_index, top_k_weights):
    """optimum-intel 2.2.0's `lfm2_moe_experts_forward` (see 3.), with `self`'s 16-bit expert
    weights widened before they are split (see 6.). Every expert runs on every token in the
    trace; OpenVINO gathers the chosen experts' weights when it compiles the model."""
    import torch

    dtype = hidden_states.dtype
    tokens, hidden = hidden_states.shape
    dense_weights = torch.zeros(tokens, self.num_experts, device=hidden_states.device, dtype=dtype)
    dense_weights.scatter_(dim=1, index=top_k_index, src=top_k_weights.to(dtype))
    expanded = hidden_states.repeat(self.num_experts, 1).view(self.num_experts, -1, hidden)
    gate_proj, up_proj = self.gate_up_proj.to(dtype).chunk(2, dim=-2)
    gate = torch.bmm(expanded, gate_proj.transpose(1, 2))
    up = torch.bmm(expanded, up_proj.transpose(1, 2))
    out = torch.bmm(self.act_fn(gate) * up, self.down_proj.to(dtype).transpose(1, 2))
    out = out.view(self.num_experts, tokens, hidden) * dense_weights.transpose(0, 1)[..., None]
    return out.sum(dim=0)


@contextmanager
def optimum_for_gemma():
    from openvino.frontend.pytorch import patch_model
    from optimum.exporters.openvino import convert, input_generators, model_configs, model_patcher
    from transformers.models.gemma3n.modeling_gemma3n import Gemma3nTextModel
    from transformers.models.gemma4.modeling_gemma4 import Gemma4TextExperts

    save_model = convert._save_model

    def save_exact(model, *args, **kwargs):
        exact_rope(model)
        return save_model(model, *args, **kwargs)

    generator = input_generators.Gemma4DummyPastKeyValuesGenerator
    generate = generator.generate

    def one_past_length(self, *args, **kwargs):
        self.sliding_window = self.sequence_length
        return generate(self, *args, **kwargs)

    saved = [
        (generator, "generate", one_past_length),
        (convert, "_save_model", save_exact),
        (model_configs.GemmaOpenVINOConfig, "MAX_TRANSFORMERS_VERSION", LIFTED_MAX),
        (Gemma3nTextModel, "project_per_layer_inputs", model_patcher._project_per_layer_inputs),
        (Gemma4TextExperts, "forward", experts_forward),
        (patch_model, "_get_16bit_extensions", gemma_16bit_extensions(patch_model._get_16bit_extensions)),
    ]
    originals = [(owner, name, vars(owner)[name]) for owner, name, _ in saved]
    try:
        for owner, name, value in saved:
            setattr(owner, name, value)
        yield
    finally:
        for owner, name, value in originals:
            setattr(owner, name, value)
