"""The LocalAI backend: a gRPC server speaking LocalAI's backend protocol (backend.proto) over
one export loaded with the runtime API (`edge_gemma.load`, the genai engine by default).

LocalAI starts it as `<launcher> --addr 127.0.0.1:PORT`, polls Health, then calls LoadModel
and Predict / PredictStream / TokenizeString / Status / Free. Problems are answered, never
crashed on: LoadModel says success=false with one line; the other RPCs end with a gRPC status
(INVALID_ARGUMENT for a bad request, FAILED_PRECONDITION with no model loaded, NOT_FOUND for a
ModelIdentity that is not the loaded model) and the server keeps serving.

Concurrency: with the genai engine on CPU or GPU the model is loaded batched (openvino-genai's
continuous batching): each request decodes on its own `fork()` of the model, side by side with
the others in one pipeline, several times the throughput of one at a time (docs/serving.md).
The optimum engine and the NPU run one request at a time, the others waiting on a lock. Either
way each request is answered as if it ran alone (tests/serve check it).
"""

from __future__ import annotations

import contextlib
import hmac
import os
import queue
import sys
import threading
from concurrent import futures

import grpc

from ..errors import EdgeGemmaError, GenerationError, OutputError
from . import backend_pb2 as pb
from . import backend_pb2_grpc as pb_grpc
from . import requests

# Must match grpcerrors.ModelMismatchSentinel in LocalAI (pkg/grpc/grpcerrors/errors.go): the
# distributed router treats NOT_FOUND with this text as "this port now serves another model".
MODEL_MISMATCH = "model identity mismatch"
AUTH_TOKEN_ENV = "LOCALAI_GRPC_AUTH_TOKEN"  # LocalAI's backends require this bearer token when set
MAX_MESSAGE = 50 * 1024 * 1024  # LocalAI's own message size limit for backends
DEFAULT_WORKERS = 16  # RPCs served at once; a request holds one until its answer is out


class Servicer(pb_grpc.BackendServicer):
    def __init__(self):
        self.model = None
        self.identity = ""  # ModelOptions.Model of the loaded model
        self._serial = threading.Lock()  # one generation at a time, for a model that cannot fork
        self._load = threading.Lock()
        self._counts = threading.Lock()
        self.in_flight = 0
        self.generated_tokens = 0  # across requests; what a cancelled request cost shows here
        self.finished = 0  # generations ended (normally, stopped or failed)

    # --- lifecycle ---------------------------------------------------------------------------
    def Health(self, request, context):
        return pb.Reply(message=b"OK")

    def LoadModel(self, request, context):
        try:
            with self._load:
                self._load_model(request)
        except EdgeGemmaError as err:
            return pb.Result(success=False, message=_one_line(err))
        except Exception as err:  # an export that breaks the runtime must not kill the backend
            print(f"edge-gemma backend: LoadModel failed: {err!r}", file=sys.stderr, flush=True)
            return pb.Result(success=False, message=f"loading failed: {_one_line(err)}")
        return pb.Result(success=True, message=f"loaded {self.model!r}; {self.model.device_reason}")

    def _load_model(self, request) -> None:
        from ..devices import kind
        from ..export_folder import read_export
        from ..runtime import load
        from ..runtime.device_config import available_devices, choose_device
        from ..runtime.engines import engine_class

        settings = requests.load_settings(request)
        folder = requests.model_dir(request.Model, request.ModelFile, request.ModelPath)
        info = read_export(folder)
        engine = engine_class(settings["engine"], info.format)
        # Resolve AUTO here so that LocalAI's thread count goes to the CPU only.
        choice = choose_device(settings["device"], available_devices(), npu_ready=not info.npu_problems,
                               npu_engine="NPU" in engine.devices)
        threads = settings["threads"] if kind(choice.device) == "CPU" else None
        self.free()
        model = load(info, device=choice, engine=engine.name, threads=threads, hint=settings["hint"],
                     max_context=requests.context_size(request.ContextSize, info.context_size),
                     batched=engine.name == "genai" and kind(choice.device) != "NPU")
        self.model, self.identity = model, request.Model
        print(f"edge-gemma backend: {model!r} from {folder}; {choice.reason}; context {model.context_size}",
              file=sys.stderr, flush=True)

    def Free(self, request, context):
        self.free()
        return pb.Result(success=True, message="freed")

    def free(self) -> None:
        with self._serial:  # requests already running keep their model until they end
            self.model, self.identity = None, ""

    def Status(self, request, context):
        import psutil

        if self.model is None:
            state = pb.StatusResponse.UNINITIALIZED
        else:
            state = pb.StatusResponse.BUSY if self.in_flight else pb.StatusResponse.READY
        rss = psutil.Process().memory_info().rss
        return pb.StatusResponse(state=state, memory=pb.MemoryUsageData(total=rss, breakdown={"rss": rss}))

    # --- text --------------------------------------------------------------------------------
    def TokenizeString(self, request, context):
        model = self._checked(request, context)
        try:
            ids = self._prompt_ids(model, request)
        except GenerationError as err:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, _one_line(err))
        return pb.TokenizationResponse(length=len(ids), tokens=ids)

    def Predict(self, request, context):
        model = self._checked(request, context)
        cancelled = _cancel_event(context)
        pieces: list[str] = []
        reply = self._complete(model, request, context, lambda piece, _: pieces.append(piece) or cancelled.is_set())
        reply.message = "".join(pieces).encode("utf-8")
        return reply

    def PredictStream(self, request, context):
        model = self._checked(request, context)
        cancelled = _cancel_event(context)
        out: queue.Queue = queue.Queue()
        done = object()

        def on_text(piece: str, stats) -> bool:
            out.put(pb.Reply(message=piece.encode("utf-8"), tokens=len(stats.token_times),
                             prompt_tokens=stats.prompt_tokens))
            return cancelled.is_set()

        def work():
            # Generation runs here, not in the response generator, so a client that stops
            # reading (or an abandoned generator) never holds the model: the cancel callback
            # stops the decode loop at the next token.
            try:
                out.put(self._complete(model, request, context, on_text))
            except BaseException as exc:  # grpc's abort() raises; hand it to the RPC thread
                out.put(exc)
            out.put(done)

        threading.Thread(target=work, daemon=True).start()
        while (item := out.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item  # the last one carries no text, only the final counts and timings

    @contextlib.contextmanager
    def _session(self, model):
        """The model one request decodes on: its own fork when the model batches, else the
        model itself, held under the lock."""
        batched = hasattr(model.engine, "fork")
        with contextlib.nullcontext() if batched else self._serial:
            session = model.fork() if batched else model
            with self._counts:
                self.in_flight += 1
            try:
                yield session
            finally:
                with self._counts:
                    self.in_flight -= 1
                    self.finished += 1

    def _complete(self, model, request, context, on_piece) -> pb.Reply:
        """Run one request to the end; a Reply with counts and timings, no text.
        `on_piece(text, stats)` gets each piece; True stops the generation."""
        with self._session(model) as m:
            try:
                chat = requests.messages(request)
                prompt_ids = self._prompt_ids(m, request)
                options = requests.generation_options(request, len(prompt_ids), m.context_size)

                def on_text(piece: str) -> bool:
                    return on_piece(piece, m.stats)

                if chat is not None:
                    m.chat(chat, on_text=on_text, **options)
                else:
                    m.generate(_without_bos(m, request.Prompt), on_text=on_text, **options)
                with self._counts:
                    self.generated_tokens += m.stats.new_tokens
            except GenerationError as err:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, _one_line(err))
            stats = m.stats
        return pb.Reply(tokens=stats.new_tokens, prompt_tokens=stats.prompt_tokens,
                        timing_prompt_processing=stats.ttft_s * 1000,  # milliseconds, as llama.cpp's
                        timing_token_generation=(stats.total_s - stats.ttft_s) * 1000)

    def _prompt_ids(self, model, request) -> list[int]:
        chat = requests.messages(request)
        if chat is not None:
            return model.tokenizer.encode(model.chat_prompt(chat), add_special_tokens=False)
        if not request.Prompt.strip():
            raise GenerationError("the request has no Prompt and no Messages (with UseTokenizerTemplate)")
        return model.tokenizer.encode(_without_bos(model, request.Prompt))

    def _checked(self, request, context):
        """The loaded model, or the RPC ends: none loaded, or the request is for another model."""
        model = self.model
        if model is None:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "no model loaded; call LoadModel first")
        if request.ModelIdentity and request.ModelIdentity != self.identity:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"{MODEL_MISMATCH}: loaded {self.identity!r}, requested {request.ModelIdentity!r}")
        return model


def _without_bos(model, prompt: str) -> str:
    """A prompt LocalAI templated itself may start with <bos>; the tokenizer adds one already."""
    bos = model.tokenizer.bos_token
    return prompt[len(bos):] if bos and prompt.startswith(bos) else prompt


def _cancel_event(context) -> threading.Event:
    """Set when the RPC ends early: the client cancelled, disconnected or ran out of time."""
    event = threading.Event()
    context.add_callback(event.set)
    return event


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


class _TokenAuth(grpc.ServerInterceptor):
    """Every RPC must carry `authorization: Bearer <token>`, as LocalAI sends when it sets the token."""

    def __init__(self, token: str):
        self.expected = f"Bearer {token}"

        def deny(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid token")

        self.deny = grpc.unary_unary_rpc_method_handler(deny)

    def intercept_service(self, continuation, details):
        given = dict(details.invocation_metadata).get("authorization", "")
        if hmac.compare_digest(given.encode(), self.expected.encode()):
            return continuation(details)
        return self.deny


def start(addr: str, workers: int = DEFAULT_WORKERS) -> tuple[grpc.Server, Servicer, int]:
    """Start serving on `addr` (HOST:PORT; port 0 picks one); (server, servicer, port)."""
    token = os.environ.get(AUTH_TOKEN_ENV, "")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers),
                         interceptors=[_TokenAuth(token)] if token else [],
                         options=[("grpc.max_send_message_length", MAX_MESSAGE),
                                  ("grpc.max_receive_message_length", MAX_MESSAGE),
                                  ("grpc.so_reuseport", 0)])  # a port in use is an error, not shared
    servicer = Servicer()
    pb_grpc.add_BackendServicer_to_server(servicer, server)
    try:
        port = server.add_insecure_port(addr)
    except RuntimeError:
        port = 0
    if not port:
        raise OutputError(f"cannot listen on {addr}; give a free HOST:PORT with --addr")
    server.start()
    return server, servicer, port


def serve(addr: str, workers: int = DEFAULT_WORKERS) -> None:
    """Serve until interrupted (LocalAI stops a backend with SIGTERM or SIGKILL)."""
    server, _, port = start(addr, workers)
    print(f"edge-gemma backend: listening on {addr.rpartition(':')[0]}:{port}", file=sys.stderr, flush=True)
    try:
        server.wait_for_termination()
    finally:
        server.stop(grace=1).wait()

