"""A GGUF file's model as transformers would load it: its config and dequantized weights.

transformers' own `from_pretrained(gguf_file=...)` builds gguf-py's GGUFReader twice per
load (config, then weights), and each parses every metadata field first, the 262144-token
vocabulary included: 65 of the 85 s one load of the 270M took here (AMD EPYC, 2 cores,
transformers 5.5.4, gguf-py 0.19). This reads the header once with gguf_header.py and does
the rest with transformers' own parts: its GGUF config mapping, its GGUF-to-HF tensor name
map and tensor processors (Gemma's norms stored +1), and gguf-py's dequantize. The result is
the same config and the same tensors (tests/sources/test_gguf_tensors.py compares the two
on a GGUF written in the test).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .gguf_header import Header, tensor_data


def gguf_config(header: Header):
    """The transformers config of the file's model (load_gguf_checkpoint's rules, 5.5.4)."""
    from transformers import CONFIG_MAPPING
    from transformers.integrations.ggml import GGUF_CONFIG_DEFAULTS_MAPPING, GGUF_CONFIG_MAPPING

    arch = header.fields["general.architecture"]
    values = {"tie_word_embeddings": "output.weight" not in header.tensors, **GGUF_CONFIG_DEFAULTS_MAPPING.get(arch, {})}
    for key, value in header.fields.items():
        prefix, _, rest = key.partition(".")
        renamed = GGUF_CONFIG_MAPPING.get(prefix, {}).get(rest)
        if renamed is not None and renamed != -1:
            values[renamed] = value
    if values["model_type"] == "gemma3":  # the GGUF holds the text model only
        values["model_type"] = "gemma3_text"
    if "vocab_size" not in values and "tokenizer.ggml.tokens" in header.fields:
        values["vocab_size"] = len(header.fields["tokenizer.ggml.tokens"])
    return CONFIG_MAPPING[values["model_type"]].from_dict(values)


def gguf_model(path: Path, header: Header, dtype):
    """The file's model in `dtype` (a torch dtype), its weights dequantized from the file."""
    import torch
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize
    from transformers import AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import TENSOR_PROCESSORS, TensorProcessor, get_gguf_hf_weights_map

    config = gguf_config(header)
    with torch.device("meta"):  # its tensor names only, as transformers takes them
        model = AutoModelForCausalLM.from_config(config)
    processor = TENSOR_PROCESSORS.get(header.fields["general.architecture"], TensorProcessor)(config=config.to_dict())
    names = get_gguf_hf_weights_map(model, processor)
    state = {}
    for tensor in header.tensors.values():
        values = dequantize(tensor_data(path, tensor), GGMLQuantizationType(tensor.type))
        result = processor.process(weights=values.reshape(tuple(reversed(tensor.shape))), name=tensor.name,
                                   tensor_key_mapping=names, parsed_parameters={"config": config.to_dict()})
        if result.name in names:
            state[names[result.name]] = torch.from_numpy(np.ascontiguousarray(result.weights, np.float32)).to(dtype)
    # transformers' own loading from a state dict: dtype, the tied head and the buffers made
    # at init (rotary frequencies) as from_pretrained makes them.
    return type(model).from_pretrained(None, config=config, state_dict=state, dtype=dtype).eval()
