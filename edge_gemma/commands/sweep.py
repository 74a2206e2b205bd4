"""`edge-gemma sweep MODEL`: export candidate presets of one model, measure each, mark the Pareto front.

The model is converted to 16 bits once; every candidate is a full export from that copy
(export/driver.py, with its manifest, quality section and model card) in OUT/<candidate>.
Each is then measured: size, weight bytes read per decoded token, decode tokens/s and first
token with the default engine (benchmark/, a process of its own per run), KL and top-1
against the reference (quality/). When llama-cpp-python is installed and the source is a
GGUF, llama.cpp's own ladder of the same weights (benchmark/llama_ladder.py) is measured in
the same run, the same way (quality/llama_cpp.py), as rows beside ours; the source GGUF's
own row is the speed baseline. Speeds are measured in two passes over the rows, in
alternating order (speed_passes). A row is on the front when no other is at least as good on
KL, top-1 and decode speed and better on one; the front is also drawn (benchmark/front_plot.py).
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import yaml

from ..errors import ExportError, RecipeError
from ..export_folder import model_file_bytes
from ..recipes import QuantPreset, Recipe, parse_preset
from .common import add_cache_dir, at_least
from .export import add_texts

HELP = "export candidate presets from one 16-bit model; table of size, speed, quality"

# When no --candidates file is given: the old data-free int4, the data-aware methods at the
# group sizes that mattered, an NPU-legal one, the head apart from the layers (data-free and
# with scale estimation), head and layers both int4 and data-aware, and int8 (docs/quality.md
# has what they measured on both CPUs).
DEFAULT_CANDIDATES = {
    "int4-sym-g128": {"weights": "int4", "sym": True, "group_size": 128},
    "int4-sym-g128-awq-se": {"weights": "int4", "sym": True, "group_size": 128, "awq": True, "scale_estimation": True},
    "int4-asym-g32-awq-se": {"weights": "int4", "group_size": 32, "awq": True, "scale_estimation": True},
    "int4-asym-g32-gptq-se": {"weights": "int4", "group_size": 32, "gptq": True, "scale_estimation": True},
    "npu-int4-sym-g128-gptq-se": {"weights": "int4", "sym": True, "group_size": 128, "backup": "int8_sym",
                                  "gptq": True, "scale_estimation": True},
    "int8-head-int4-sym-g32": {"weights": "int8", "head": "int4_sym", "head_group_size": 32},
    "int8-head-int4-asym-g32-se": {"weights": "int8", "head": "int4_asym", "head_group_size": 32,
                                   "scale_estimation": True},
    "int4-g32-gptq-se-head-int4-g32-se": {"weights": "int4", "group_size": 32, "gptq": True, "scale_estimation": True,
                                          "head": "int4_asym", "head_group_size": 32},
    "int8": {"weights": "int8"},
}


def read_candidates(path: Path | None) -> dict[str, QuantPreset]:
    """A YAML mapping of candidate name -> preset (the keys of a recipe's quant levels)."""
    if path is None:
        raw = DEFAULT_CANDIDATES
    else:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise RecipeError(path, [f"cannot read candidates: {getattr(exc, 'strerror', None) or exc}"]) from None
        if not isinstance(raw, dict) or not raw:
            raise RecipeError(path, ["expected a mapping of candidate name -> preset settings"])
    problems: list[str] = []
    presets = {}
    for name, settings in raw.items():
        if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
            problems.append(f"{name!r}: a candidate name is letters, digits, - and _ (it names a folder)")
            continue
        # A gguf candidate (the source GGUF's own blocks) is parsed as the gguf level is.
        keeps = isinstance(settings, dict) and settings.get("weights") == "gguf"
        preset = parse_preset(name, settings, problems, level="gguf" if keeps else "int4")
        if preset is not None:
            presets[name] = preset
    if problems:
        raise RecipeError(path or "default candidates", problems)
    return presets


def pareto(rows: list[dict]) -> None:
    """Mark rows["front"]: not dominated on (KL low, top-1 high, tokens/s high)."""
    def key(r):
        return (-r["kl"], r["top1"], r.get("decode_tokens_per_s") or 0.0)

    for r in rows:
        mine = key(r)
        r["front"] = not any(all(a >= b for a, b in zip(key(o), mine)) and key(o) != mine for o in rows)


def table(rows: list[dict], baseline: dict | None, cpu: str) -> str:
    lines = [f"CPU: {cpu}" + (f"; llama.cpp on the source GGUF: {baseline['decode_tokens_per_s']:.1f} tokens/s, "
                              f"first token {baseline['ttft_ms_128']:.0f} ms" if baseline else "; no llama.cpp baseline"),
             "", "| candidate | engine | MB | MB read/token | decode tok/s | vs llama.cpp | first token ms | KL | "
             "KL p99 | top-1 | ppl change | front |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        speed = r.get("decode_tokens_per_s")
        ratio = f"{speed / baseline['decode_tokens_per_s']:.2f}x" if speed and baseline else "-"
        p99 = f"{r['kl_p99']:.3g}" if r.get("kl_p99") is not None else "-"
        ttft = r.get("ttft_ms_128")
        lines.append(
            f"| {r['name']} | {r.get('engine', 'genai')} | {r['mb']:.0f} | {r['mb_per_token']:.0f} | {_decode(r)} | "
            f"{ratio} | {f'{ttft:.0f}' if ttft is not None else '-'} | {r['kl']:.3g} | {p99} | "
            f"{r['top1'] * 100:.1f} % | {(r['ppl_ratio'] - 1) * 100:+.2f} % | {'*' if r['front'] else ''} |")
    passes = max((len(r.get("decode_passes", ())) for r in rows), default=0)
    if passes > 1:
        lines += ["", f"Speed: the median of {passes} passes over the rows, in alternating order."]
    return "\n".join(lines)


def _decode(row: dict) -> str:
    """The decode rate, with each pass's figure after it when there were several: "42.2 (41.9, 42.5)"."""
    speed, passes = row.get("decode_tokens_per_s"), row.get("decode_passes") or []
    if not speed:
        return "-"
    return f"{speed:.1f}" + (f" ({', '.join(f'{p:.1f}' for p in passes)})" if len(passes) > 1 else "")


def _scores(q: dict) -> dict:
    return {"kl": q["kl"], "kl_p99": q.get("kl_p99"), "top1": q["top1"], "ppl_ratio": q["ppl_ratio"]}


def _row(name: str, folder: Path, preset: QuantPreset, manifest: dict) -> dict:
    return {"name": name, "engine": "genai", "dir": str(folder), "preset": dict(vars(preset)),
            "mb": model_file_bytes(manifest) / 1e6,
            "mb_per_token": manifest["compression"]["bytes_per_token"] / 1e6, **_scores(manifest["quality"])}


SOURCE_ROW = "llama.cpp source GGUF"


def llama_rows(gguf: Path, like: Path, rungs: list[str], cache_dir: Path, quality, threads: int) -> list[dict]:
    """llama.cpp's rows: the source GGUF and its ladder, measured on the text and reference
    that the export `like` was measured with."""
    from tqdm.auto import tqdm

    from ..benchmark.llama_ladder import ladder
    from ..export.weights import gguf_bytes_per_token
    from ..quality.llama_cpp import evaluate_gguf

    files = {SOURCE_ROW: gguf, **{f"llama.cpp {rung}": path for rung, path in
                                  ladder(gguf, rungs, cache_dir, threads, log=lambda m: print(m, file=sys.stderr)).items()}}
    rows = []
    for name, path in tqdm(files.items(), desc="llama.cpp", unit="file", file=sys.stderr):
        print(f"\nsweep: {name} ({path.name})", file=sys.stderr)
        q = evaluate_gguf(path, like, threads=threads, cache_dir=cache_dir, text=quality.text,
                          text_name=quality.text_name)
        rows.append({"name": name, "engine": "llama.cpp", "dir": str(like), "gguf": str(path),
                     "mb": path.stat().st_size / 1e6, "mb_per_token": gguf_bytes_per_token(path) / 1e6, **_scores(q)})
    return rows


def speed_passes(rows: list[dict], measure, passes: int) -> None:
    """Each row's speed measured `passes` times, the order reversed every other pass; the row
    keeps the median of its passes' figures, and "decode_passes" their decode tok/s.

    Why: on the 2-vCPU AMD EPYC VM the decode rate of one export moved 13 % and llama.cpp's 18 %
    between rounds minutes apart, both engines together (docs/benchmarks.md, "How steady"), and
    the first rows of a one-pass sweep were the slowest. A row measured at both ends of the
    loop is not the one that drew the machine's slow minutes."""
    from tqdm.auto import tqdm

    results: dict[int, list[dict]] = {i: [] for i in range(len(rows))}
    order = list(range(len(rows)))
    for number in range(passes):
        for i in tqdm(order, desc=f"speed, pass {number + 1} of {passes}", unit="row", file=sys.stderr):
            results[i].append(measure(rows[i]))
        order.reverse()
    for i, row in enumerate(rows):
        got = results[i]
        row.update({key: statistics.median(r[key] for r in got) for key in got[0]})
        row["decode_passes"] = [r["decode_tokens_per_s"] for r in got]


def sweep(recipe: Recipe, source, candidates: dict[str, QuantPreset], out: Path, cache_dir: Path, quality, *,
          threads: int, speed: bool = True, reuse: bool = False, runs: int = 3, new_tokens: int = 64,
          llama: tuple[Path, list[str]] | None = None, passes: int = 2) -> dict:
    """Export and measure every candidate into `out`; return {"rows", "baseline", "cpu"}.

    quality: the driver's QualityOptions (its measure is quality.evaluate). llama: (source
    GGUF, rungs) for llama.cpp's rows, or None. reuse: keep a
    candidate already exported into `out` from the same preset by the same code (a sweep that
    was stopped, or one re-run for its speed figures), instead of exporting it again. passes:
    how many times every row's speed is measured (speed_passes)."""
    import tempfile

    from tqdm.auto import tqdm

    from ..benchmark.run import baselines, speed_of
    from ..devices import cpu_name
    from ..export.checkpoint import checkpoint_view
    from ..export.driver import BACKENDS, Converted, ExportPlan, StepLog, reusable, run_export
    from ..export_folder import read_manifest
    from ..hf_logging import quiet_transformers
    from ..sources import prepare_checkpoint

    out.mkdir(parents=True, exist_ok=True)
    backend = BACKENDS["openvino"]
    rows = []
    with tempfile.TemporaryDirectory(dir=out, prefix=".sweep-") as tmp:
        converted = None
        for name, preset in tqdm(candidates.items(), desc="sweep", unit="candidate", file=sys.stderr):
            folder, plan = out / name, ExportPlan.candidate(recipe, name, preset)
            manifest = reusable(folder, plan, source) if reuse else None
            if manifest is None:
                if converted is None:
                    print(f"sweep: converting {recipe.name} to a 16-bit IR once", file=sys.stderr)
                    with quiet_transformers():
                        view = checkpoint_view(prepare_checkpoint(source, cache_dir, print), recipe,
                                               Path(tmp) / "checkpoint")
                        (Path(tmp) / "uncompressed").mkdir()
                        converted = Converted(Path(tmp) / "uncompressed",
                                              *backend.convert(view, Path(tmp) / "uncompressed", cache_dir))
                print(f"\nsweep: {name}", file=sys.stderr)
                manifest = run_export(plan, source, folder, cache_dir, force=True, converted=converted,
                                      log=StepLog(7), quality=quality)
            else:
                print(f"\nsweep: {name}: reusing {folder}", file=sys.stderr)
            rows.append(_row(name, folder, preset, manifest))
    if llama and rows:
        rows += llama_rows(llama[0], Path(rows[0]["dir"]), llama[1], cache_dir, quality, threads)
    baseline = None
    if speed and rows:
        print("\nsweep: decode speed of each row", file=sys.stderr)
        timed = list(rows)
        if not any(r["name"] == SOURCE_ROW for r in rows):  # no ladder asked for: llama.cpp on the source alone
            found, _ = baselines(read_manifest(Path(rows[0]["dir"])), lambda m: None)
            if "llama.cpp" in found:  # timed in the same passes as the rows, not in a table row
                timed.append({"name": SOURCE_ROW, "engine": "llama.cpp", "dir": rows[0]["dir"],
                              "extra": found["llama.cpp"]})
        speed_passes(timed, lambda row: speed_of(
            row["engine"], Path(row["dir"]), threads, runs, new_tokens,
            row.get("extra") or ({"gguf": row["gguf"]} if row["engine"] == "llama.cpp" else None)), passes)
        baseline = next((r for r in timed if r["name"] == SOURCE_ROW), None)
    pareto(rows)
    return {"rows": rows, "baseline": baseline, "cpu": cpu_name(), "threads": threads}


def add_arguments(p) -> None:
    p.add_argument("model", help="recipe name")
    p.add_argument("--candidates", type=Path, metavar="FILE",
                   help="YAML mapping of name -> preset settings (default: a built-in list)")
    p.add_argument("--output", type=Path, help="where the candidates go (default exports/sweep-MODEL)")
    p.add_argument("--source", help="override the recipe's source")
    p.add_argument("--threads", type=at_least(1), default=2, help="threads for the speed runs (default 2)")
    p.add_argument("--no-speed", action="store_true", help="skip the speed runs")
    p.add_argument("--speed-passes", type=at_least(1), default=2,
                   help="measure every row's speed this many times, in alternating order; the median counts (default 2)")
    p.add_argument("--reuse", action="store_true",
                   help="keep candidates already exported in the output folder with the same preset")
    p.add_argument("--llama-rungs", metavar="LIST",
                   help="llama.cpp quantizations of the source GGUF measured beside ours, comma-separated "
                        "(default: Q8_0,Q6_K,Q5_0,Q4_K_M,Q4_0,IQ4_NL,IQ4_XS when llama-cpp-python is installed)")
    p.add_argument("--no-llama", action="store_true", help="no llama.cpp rows")
    add_texts(p)
    add_cache_dir(p)


def llama_plan(args, source, cache_dir: Path) -> tuple[Path, list[str]] | None:
    """(source GGUF, rungs) for llama.cpp's rows, or None with the reason on stderr. Asked for
    explicitly (--llama-rungs) where it cannot run: a one-line error."""
    import importlib.util

    from ..benchmark.llama_ladder import RUNGS, LadderError, check_rungs
    from ..quality.llama_cpp import LLAMA_FIX
    from ..sources import gguf_file

    if args.no_llama:
        return None
    asked = args.llama_rungs is not None
    why = None
    if importlib.util.find_spec("llama_cpp") is None:
        why = f"llama.cpp's rows need llama-cpp-python; {LLAMA_FIX}"
    else:
        gguf = gguf_file(source, cache_dir, lambda m: print(m, file=sys.stderr))
        if gguf is None:
            why = ("llama.cpp's rows quantize the source GGUF, and this source is a Hugging Face checkpoint; "
                   "write a GGUF of it with llama.cpp's convert_hf_to_gguf.py and give it as --source")
    if why:
        if asked:
            raise LadderError(why)
        print(f"sweep: no llama.cpp rows: {why}", file=sys.stderr)
        return None
    rungs = [r.strip() for r in args.llama_rungs.split(",") if r.strip()] if asked else list(RUNGS)
    return gguf, check_rungs(rungs)


def run(args) -> int:
    import json

    from ..benchmark.front_plot import plot, slug
    from ..files import write_text_atomic
    from ..layout import EXPORTS_DIR
    from ..recipes import load_recipe
    from ..sources import GGUF_KINDS, parse_source
    from .export import quality_options

    recipe = load_recipe(args.model, args.recipes_dir)
    candidates = read_candidates(args.candidates)
    out = args.output or EXPORTS_DIR / f"sweep-{recipe.name}"
    source = parse_source(args.source or recipe.source)
    quality = quality_options(args)
    kept = [name for name, preset in candidates.items() if preset.weights == "gguf"]
    if kept and source.kind not in GGUF_KINDS:
        raise ExportError(f"candidate {kept[0]}: weights gguf keeps a GGUF file's own quantization, and "
                          f"{source.location} is a {source.kind} source: give --source <file.gguf> or drop it")
    llama = llama_plan(args, source, args.cache_dir)
    report = sweep(recipe, source, candidates, out, args.cache_dir, quality, threads=args.threads,
                   speed=not args.no_speed, reuse=args.reuse, llama=llama, passes=args.speed_passes)
    text = table(report["rows"], report["baseline"], report["cpu"])
    write_text_atomic(out / "sweep.json", json.dumps(report, indent=2) + "\n")
    write_text_atomic(out / "sweep.md", text + "\n")
    print(text)
    written = [f"{out}/sweep.md", "sweep.json"]
    picture = plot(report["rows"], report["cpu"], out / f"sweep-{slug(report['cpu'])}.png")
    if picture:
        written.append(picture.name)
    print(f"\nwritten: {', '.join(written)}; the exports are in {out}/", file=sys.stderr)
    return 0
