#!/usr/bin/python3
"""A minimal CRI client for the runtime tests: one RuntimeService/ImageService call per run.

The gRPC stubs are generated at test time from the CRI api.proto that the installed containerd
serves (scripts/cri-api-proto); gogoproto's options only steer Go code generation and carry no
wire meaning, so they are dropped before protoc runs. The request is the method's request message
as protobuf JSON (camelCase or proto field names), the reply is printed the same way, so a shell
test reads it with jq. Exit codes: 0 ok, 1 the call failed (gRPC status printed), 2 usage.

  cri_client.py --socket S --proto api.proto --stubs DIR Method ['{"json": "request"}']
"""
import argparse
import importlib
import json
import os
import sys


def generate_stubs(proto, stubs):
    """api_pb2.py/api_pb2_grpc.py in `stubs` from `proto`, once per directory."""
    if os.path.exists(os.path.join(stubs, "api_pb2_grpc.py")):
        return
    import grpc_tools
    from grpc_tools import protoc

    os.makedirs(stubs, exist_ok=True)
    with open(proto, encoding="utf-8") as f:
        text = "".join(line for line in f if "gogoproto" not in line)
    with open(os.path.join(stubs, "api.proto"), "w", encoding="utf-8") as f:
        f.write(text)
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")  # well-known types
    rc = protoc.main(["protoc", "-I" + stubs, "-I" + include, "--python_out=" + stubs,
                      "--grpc_python_out=" + stubs, os.path.join(stubs, "api.proto")])
    if rc != 0:
        sys.exit(f"cri_client: protoc failed ({rc}) on {proto}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--proto", required=True)
    ap.add_argument("--stubs", required=True)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("method")
    ap.add_argument("request", nargs="?", default="{}")
    args = ap.parse_args()

    generate_stubs(args.proto, args.stubs)
    sys.path.insert(0, args.stubs)
    pb = importlib.import_module("api_pb2")
    pb_grpc = importlib.import_module("api_pb2_grpc")
    import grpc
    from google.protobuf import json_format

    for service in ("RuntimeService", "ImageService"):
        desc = pb.DESCRIPTOR.services_by_name[service]
        if args.method in desc.methods_by_name:
            method = desc.methods_by_name[args.method]
            break
    else:
        print(f"cri_client: no CRI method {args.method}", file=sys.stderr)
        return 2
    request = json_format.ParseDict(json.loads(args.request),
                                    getattr(pb, method.input_type.name)())
    with grpc.insecure_channel("unix://" + args.socket) as channel:
        stub = getattr(pb_grpc, service + "Stub")(channel)
        try:
            reply = getattr(stub, args.method)(request, timeout=args.timeout)
        except grpc.RpcError as e:
            print(f"cri_client: {args.method}: {e.code().name}: {e.details()}", file=sys.stderr)
            return 1
    print(json_format.MessageToJson(reply, including_default_value_fields=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
