"""README.md beside each export: a model card in the shape of OpenVINO's on Hugging Face.

Everything in it comes from the export's manifest.json (what it was made from, the exact
NNCF arguments, the bitwidth table, the `quality` section of `edge-gemma eval`), so the card
says what the folder holds and how far it is from the model it was made from. `ladder_table`
puts several exports of one model side by side, like a GGUF card's "provided files" table.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..export_folder import CARD, label, model_file_bytes
from ..files import write_text_atomic
from ..layout import export_name

README = CARD
LICENSE_LINK = "https://ai.google.dev/gemma/terms"
FORMAT_NAMES = {"openvino": "OpenVINO IR", "onnx": "ONNX"}
# The runtime the format is made for, as manifest["tools"] names it.
RUNTIME_TOOL = {"openvino": ("openvino", "OpenVINO"), "onnx": ("onnxruntime", "ONNX Runtime")}


# Numbers --------------------------------------------------------------------------------

def _mb(n: int | float | None) -> str:
    return "-" if n is None else f"{n / 1e6:.1f}"


def _number(x, spec: str) -> str | None:
    return None if x is None else format(x, spec)


def _kl(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f} %"


def _change(ratio: float | None) -> str:
    """1.024 -> "+2.4 %"."""
    return "-" if ratio is None else f"{(ratio - 1) * 100:+.1f} %"


def _cell(value) -> str:
    """A Markdown table cell: code for values, with the pipes of regexes escaped."""
    text = value if isinstance(value, str) else repr(value)
    return f"`{text}`".replace("|", "\\|")


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# What the manifest says ------------------------------------------------------------------

def folder_name(manifest: dict) -> str:
    return manifest.get("name") or export_name(manifest["model"], label(manifest), manifest.get("format", "openvino"))


def _base_model(manifest: dict) -> str:
    # Recipe names are Google's Hugging Face model names.
    return f"google/{manifest.get('recipe', {}).get('name') or manifest['model']}"


def _bitwidth(manifest: dict) -> str:
    preset = manifest.get("compression", {}).get("preset") or {}
    return preset.get("weights") or manifest["quant"].split("-")[0]  # int4-npu -> int4


def _ratio(quality: dict) -> float | None:
    if quality.get("ppl_ratio") is not None:
        return quality["ppl_ratio"]
    if quality.get("ppl") and quality.get("ppl_reference"):
        return quality["ppl"] / quality["ppl_reference"]
    return None


# Sections ---------------------------------------------------------------------------------

def _by_nncf(manifest: dict) -> bool:
    """NNCF compressed the weights (not fp16, a GGUF's kept blocks or edge-gemma's int8 groups)."""
    return bool(manifest.get("compression", {}).get("nncf"))


def _front_matter(manifest: dict) -> str:
    meta = {
        "license": "gemma",
        "license_link": LICENSE_LINK,
        "base_model": _base_model(manifest),
        "base_model_relation": "quantized",
        "pipeline_tag": "text-generation",
        "language": ["en"],
        "tags": [manifest.get("format", "openvino"), *(["nncf"] if _by_nncf(manifest) else []), _bitwidth(manifest),
                 "edge-gemma", "gemma"],
    }
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---"


def _intro(manifest: dict) -> str:
    base, tools, source = _base_model(manifest), manifest.get("tools", {}), manifest.get("source", {})
    fmt = manifest.get("format", "openvino")
    used = [RUNTIME_TOOL.get(fmt, (fmt, fmt)), *([("nncf", "NNCF")] if _by_nncf(manifest) else [])]
    versions = ", ".join(f"{label} {tools[key]}" for key, label in used if tools.get(key))
    text = (f"# {folder_name(manifest)}\n\n"
            f"[{base}](https://huggingface.co/{base}) exported to {FORMAT_NAMES.get(fmt, fmt)} with "
            f"{label(manifest)} weights, {_how(manifest)}. Made by edge-gemma {tools.get('edge-gemma', '?')}"
            f"{f' ({versions})' if versions else ''} from {source.get('kind', '?')} `{source.get('location', '?')}`"
            f" on {manifest.get('created', '?')[:10]}.")
    description = manifest.get("recipe", {}).get("description")
    return text + (f" Recipe: {description}" if description else "")


def _how(manifest: dict) -> str:
    if "gguf" in manifest.get("compression", {}):
        return "quantized as the source GGUF is (its own blocks, no NNCF)"
    if "int8_groups" in manifest.get("compression", {}):
        return "quantized by edge-gemma to int8 in groups, llama.cpp's Q8_0 form (no NNCF)"
    return "compressed by NNCF"


def _compression(manifest: dict) -> str:
    compression = manifest.get("compression", {})
    nncf = compression.get("nncf")
    parts = ["## Compression"]
    gguf = compression.get("gguf")
    if gguf:
        parts.append(f"The weights are {gguf['file']}'s own quantized blocks, not quantized again: "
                     f"{', '.join(f'{n} {kind}' for kind, n in gguf['tensors_kept'].items())} tensors kept as OpenVINO "
                     f"compressed weights. Scales: "
                     f"the file's own f16 numbers for {', '.join(gguf['exact_scales']) or 'none'}; the f16 "
                     f"product of its two scales for {', '.join(gguf['f16_rounded_scales']) or 'none'}.")
    elif compression.get("int8_groups"):
        groups = compression["int8_groups"]
        parts.append(f"Every weight ({groups['weights']} matrices, the embedding / LM head too) is symmetric int8 in "
                     f"groups of {groups['group_size']} with an f16 scale per group, llama.cpp's Q8_0 format, written "
                     f"by edge-gemma (NNCF 3.4 has int8 per channel only). Rule: {groups['rule']}."
                     + (f" One group per row for {', '.join(groups['one_group_per_row'])}, whose width the group "
                        "does not divide." if groups["one_group_per_row"] else "")
                     + (f" Scales stored as {groups['scales']}." if groups.get("scales") else ""))
    elif nncf is None:
        parts.append("None: the weights are kept in fp16 (no NNCF weight compression).")
    else:
        parts.append("Arguments of `nncf.compress_weights` for the decoder layers:\n\n"
                     + _table(("argument", "value"), [(k, _cell(v)) for k, v in nncf.items()]))
    head = compression.get("head")
    if isinstance(head, dict):
        parts.append("Embedding / LM head, compressed in a pass of its own:\n\n"
                     + _table(("argument", "value"), [(k, _cell(v)) for k, v in head.items()]))
    elif head:
        parts.append(f"Embedding / LM head: {_cell(head)}, set separately from the layers.")
    calibration = compression.get("calibration")
    if calibration:
        if isinstance(calibration, dict):
            calibration = ", ".join(f"{k}: {v}" for k, v in calibration.items())
        parts.append(f"Calibration data: {calibration}.")
    bitwidth = compression.get("bitwidth")
    if bitwidth:
        rows = [(p, b.get("layers", "-"), _number(b.get("params"), ",") or "-", _percent(b.get("share")))
                for p, b in bitwidth.items()]
        parts.append("Weights by precision, counted in the written model:\n\n"
                     + _table(("precision", "layers", "parameters", "share"), rows))
    return "\n\n".join(parts)


def summary_line(quality: dict) -> str:
    """quality vs reference: KL 0.031, top-1 93 %, perplexity +2.4 %"""
    return (f"quality vs reference: KL {quality['kl']:.3g}, top-1 {quality['top1'] * 100:.0f} %, "
            f"perplexity {(quality['ppl_ratio'] - 1) * 100:+.1f} %")


def quality_section(manifest: dict) -> str:
    q = manifest.get("quality")
    if not q:
        return (f"## Quality\n\nNot measured (exported with --no-eval); run "
                f"`edge-gemma eval {folder_name(manifest)}`.")
    greedy = (f"{q['greedy_agreement']:g} of {q.get('greedy_tokens', '?')} tokens"
              if q.get("greedy_agreement") is not None else None)
    rows = [
        ("mean KL divergence", _kl(q.get("kl"))),
        ("99th percentile KL", _kl(q.get("kl_p99"))),
        ("top-1 agreement", _percent(q.get("top1"))),
        ("perplexity, export", _number(q.get("ppl"), ".2f")),
        ("perplexity, reference", _number(q.get("ppl_reference"), ".2f")),
        ("perplexity change", _change(_ratio(q))),
        ("greedy agreement (mean leading tokens)", greedy),
        ("tokens scored", _number(q.get("tokens"), ",")),
    ]
    table = _table(("metric", "value"), [r for r in rows if r[1] not in (None, "-")])
    setup = q.get("device", "?") + (f" ({q['cpu']})" if q.get("cpu") else "")
    precision = f", inference precision {q['precision']}" if q.get("precision") else ""
    engine = f", {q['engine']} engine" if q.get("engine") else ""
    return (f"## Quality\n\n{table}\n\n"
            f"Reference: {q.get('reference', '?')}. Text: {q.get('text', '?')}. Measured on "
            f"{setup}{precision}{engine}. The definitions follow llama.cpp's "
            "`perplexity --kl-divergence`: KL is the divergence of the export's next-token "
            "distribution from the reference's, averaged over tokens; top-1 is the share of "
            "positions where both models' most likely token is the same.")


def _size(manifest: dict) -> str:
    lines = [f"- On disk: {_mb(manifest.get('total_bytes'))} MB ({len(manifest.get('files', []))} files)",
             f"- Model files (`openvino_model.*` / `model.onnx*`): {_mb(model_file_bytes(manifest))} MB"]
    per_token = manifest.get("compression", {}).get("bytes_per_token")
    if per_token is not None:
        lines.append(f"- Weights read per decoded token: {_mb(per_token)} MB")
    return "## Size\n\n" + "\n".join(lines)


def _how_to_run(manifest: dict) -> str:
    name = folder_name(manifest)
    parts = ["## How to run",
             f"### edge-gemma\n\n```bash\nedge-gemma generate {name} \"Hello\"\n```\n\n"
             f"```python\nimport edge_gemma\n\nmodel = edge_gemma.load(\"{name}\")\n"
             f"print(model.generate(\"What is OpenVINO?\"))\n```"]
    if manifest.get("format") == "onnx":
        parts.append(f"### ONNX Runtime\n\n`edge-gemma generate {name}` and `edge_gemma.load` run this export "
                     "with ONNX Runtime. OpenVINO GenAI, optimum-intel and LocalAI's model.yaml need an "
                     "OpenVINO export (`edge-gemma export --format openvino`).")
        return "\n\n".join(parts)
    parts += [
        f"### OpenVINO GenAI\n\n```python\nimport openvino_genai as ov_genai\n\n"
        f"pipe = ov_genai.LLMPipeline(\"{name}\", \"CPU\")\n"
        f"print(pipe.generate(\"What is OpenVINO?\", max_new_tokens=64))\n```",
        f"### Optimum Intel\n\n```python\nfrom optimum.intel import OVModelForCausalLM\n"
        f"from transformers import AutoTokenizer\n\n"
        f"tokenizer = AutoTokenizer.from_pretrained(\"{name}\")\n"
        f"model = OVModelForCausalLM.from_pretrained(\"{name}\")\n"
        f"inputs = tokenizer(\"What is OpenVINO?\", return_tensors=\"pt\")\n"
        f"outputs = model.generate(**inputs, max_new_tokens=64)\n"
        f"print(tokenizer.decode(outputs[0], skip_special_tokens=True))\n```",
        f"### LocalAI\n\nCopy the folder and `{name}.yaml` (written beside it) into LocalAI's models "
        f"directory, then use its OpenAI-compatible API:\n\n"
        f"```bash\ncp -r {name} {name}.yaml /path/to/localai/models/\n"
        f"curl http://localhost:8080/v1/chat/completions -H \"Content-Type: application/json\" \\\n"
        f"  -d '{{\"model\": \"{name}\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hello\"}}]}}'\n```",
    ]
    return "\n\n".join(parts)


def _limitations() -> str:
    return ("## Limitations and license\n\nCompressed weights change the model's outputs slightly; see "
            "Quality above for how much against the reference. The model inherits the limitations of "
            f"the original Gemma model, and its use is governed by the [Gemma terms of use]({LICENSE_LINK}).")


# Public -----------------------------------------------------------------------------------

def ladder_table(manifests: list[dict]) -> str:
    """One row per export, largest first: size, bytes per token and quality side by side."""
    rows = []
    for m in sorted(manifests, key=lambda m: m.get("total_bytes", 0), reverse=True):
        q = m.get("quality") or {}
        rows.append((folder_name(m), m.get("format", "openvino"), label(m), _mb(m.get("total_bytes")),
                     _mb(m.get("compression", {}).get("bytes_per_token")), _kl(q.get("kl")),
                     _percent(q.get("top1")), _change(_ratio(q))))
    return _table(("export", "format", "quant", "size (MB)", "bytes/token (MB)", "KL", "top-1",
                   "perplexity vs reference"), rows)


def render_card(manifest: dict, ladder: list[dict] | None = None) -> str:
    """The README.md text for one export folder."""
    sections = [_front_matter(manifest), _intro(manifest), _compression(manifest), quality_section(manifest),
                _size(manifest)]
    if ladder:
        sections.append("## Quant ladder\n\n" + ladder_table(ladder))
    sections += [_how_to_run(manifest), _limitations()]
    return "\n\n".join(sections) + "\n"


def write_card(folder: Path, manifest: dict, ladder: list[dict] | None = None) -> Path:
    """Atomically write folder/README.md; returns its path."""
    path = Path(folder) / README
    write_text_atomic(path, render_card(manifest, ladder))
    return path
