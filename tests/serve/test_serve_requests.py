"""LocalAI's request messages read into runtime settings and generation options (no model)."""

from __future__ import annotations

import pytest

from edge_gemma.errors import DeviceError, RuntimeCheckError
from edge_gemma.runtime.options import GenerationOptions
from edge_gemma.serve import backend_pb2 as pb
from edge_gemma.serve import requests


def _export(folder):
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    return folder


def test_model_dir_follows_localais_fields(tmp_path):
    export = _export(tmp_path / "models" / "gemma-3-270m-int4")
    models = str(tmp_path / "models")
    # What LocalAI sends: Model from parameters.model, ModelFile = ModelPath/Model.
    assert requests.model_dir("gemma-3-270m-int4", str(export), models) == export
    assert requests.model_dir("gemma-3-270m-int4", "", models) == export  # no ModelFile
    assert requests.model_dir(str(export), "", "") == export  # an absolute Model, no models directory


def test_model_dir_that_is_not_an_export_names_what_was_tried(tmp_path):
    (tmp_path / "models" / "plain").mkdir(parents=True)  # a folder without a manifest
    with pytest.raises(RuntimeCheckError) as err:
        requests.model_dir("plain", str(tmp_path / "models" / "plain"), str(tmp_path / "models"))
    message = str(err.value)
    assert "no edge-gemma export at" in message and "plain" in message and "\n" not in message
    with pytest.raises(RuntimeCheckError, match="names no model"):
        requests.model_dir("", "", str(tmp_path))


def test_load_settings_device_threads_and_options():
    settings = requests.load_settings(pb.ModelOptions(MainGPU="gpu.1", Threads=4, Options=["engine:optimum",
                                                                                          "hint: THROUGHPUT"]))
    assert settings == {"device": "GPU.1", "threads": 4, "engine": "optimum", "hint": "THROUGHPUT"}
    assert requests.load_settings(pb.ModelOptions()) == {"device": "AUTO", "threads": None, "engine": None,
                                                         "hint": None}


@pytest.mark.parametrize("options, error, message", [
    (dict(MainGPU="TPU"), DeviceError, "main_gpu: 'TPU' is not an OpenVINO device"),
    (dict(Options=["engine:ort"]), RuntimeCheckError, "not an engine for OpenVINO exports"),
    (dict(Options=["engines:genai"]), RuntimeCheckError, "unknown option"),
    (dict(Options=["gpu_layers"]), RuntimeCheckError, "unknown option"),
])
def test_bad_load_settings_are_one_line_errors(options, error, message):
    with pytest.raises(error, match=message):
        requests.load_settings(pb.ModelOptions(**options))


def test_context_size_is_localais_capped_at_the_models():
    assert requests.context_size(0, 32768) == 32768  # unset
    assert requests.context_size(4096, 32768) == 4096
    assert requests.context_size(65536, 32768) == 32768


def test_messages_only_with_the_tokenizer_template():
    chat = [pb.Message(role="system", content="Be brief."), pb.Message(role="user", content="Hi")]
    assert requests.messages(pb.PredictOptions(Messages=chat, UseTokenizerTemplate=True)) == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert requests.messages(pb.PredictOptions(Messages=chat)) is None  # LocalAI templated it into Prompt
    assert requests.messages(pb.PredictOptions(Prompt="Hi", Messages=chat, UseTokenizerTemplate=True)) is None


def test_generation_options_map_localais_sampling_fields():
    request = pb.PredictOptions(Tokens=32, Temperature=0.7, TopP=0.9, TopK=40, Seed=5,
                                StopPrompts=["<end_of_turn>", ""], IgnoreEOS=True)
    options = requests.generation_options(request, prompt_tokens=10, context=512)
    assert options == dict(max_new_tokens=32, temperature=pytest.approx(0.7), top_p=pytest.approx(0.9), top_k=40,
                           seed=5, stop=("<end_of_turn>",), ignore_eos=True)
    GenerationOptions(**options)  # the runtime accepts them


def test_generation_options_defaults_are_valid():
    # A bare request: greedy, no limits, up to the end of the context; LocalAI's "random"
    # seed -1 means no seed.
    options = requests.generation_options(pb.PredictOptions(TopP=0, TopK=-1, Seed=-1), prompt_tokens=10, context=512)
    assert options["max_new_tokens"] == 502 and options["temperature"] == 0 and options["seed"] is None
    assert options["top_p"] == 1.0 and options["top_k"] == 0
    assert GenerationOptions(**options).greedy
