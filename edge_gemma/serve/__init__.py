"""Serving exports: a LocalAI backend, LocalAI model.yaml files, and files for OpenVINO
Model Server and KServe.

    backend.proto    the part of LocalAI's backend gRPC protocol a text backend speaks
    backend_pb2*.py  generated from it by grpcio-tools (`make proto`), committed
    requests.py      LocalAI's request messages -> runtime settings and generation options
    server.py        the gRPC server over one export (`edge-gemma localai-backend`)
    localai.py       LocalAI model.yaml for an export, for its transformers backend or ours
    ovms.py          an OVMS model repository and a KServe manifest (`edge-gemma ovms`)
"""
