#!/usr/bin/env python3
"""A fake kmstool_enclave_cli for tests, backed by moto through boto3.

The generation is chosen by the environment variable FAKE_KMSTOOL_GENERATION:

- "subcommand" (v0.3.1 and later): the first argument is the subcommand
  `decrypt` (or genkey / genrandom, not supported here); prints
  "PLAINTEXT: <b64>\\n".
- "legacy" (v0.2.x - v0.3.0): no subcommand; prints the bare base64 with no
  newline. A positional argument is an unknown option with the usage text
  (aws-c-common returns it as 0x02, which the tool's switch does not know).
- "legacy-stop": the same, built with an older aws-c-common whose parser
  stops at the first positional argument, so no flag is parsed and the tool
  says "--aws-access-key-id must be set".

Both take --region, --proxy-port, --aws-access-key-id,
--aws-secret-access-key, --aws-session-token and --ciphertext B64, and call
KMS Decrypt with the given region and credentials (the endpoint comes from
AWS_ENDPOINT_URL_KMS, which stands in for the vsock proxy). Errors go to
stderr with exit code 1. When FAKE_KMSTOOL_LOG is set, each run appends its
arguments as one JSON line there, so tests can check what they received.
"""
import base64
import json
import os
import sys

import boto3

FLAGS = ["--region", "--proxy-port", "--aws-access-key-id", "--aws-secret-access-key", "--aws-session-token",
         "--ciphertext", "--key-id", "--encryption-algorithm"]


def usage(msg):
    sys.stderr.write("kmstool_enclave_cli: " + msg + "\n")
    sys.stderr.write("Usage: kmstool_enclave_cli [decrypt|genkey|genrandom] [options]\n")
    sys.exit(1)


def main():
    generation = os.environ.get("FAKE_KMSTOOL_GENERATION", "subcommand")
    argv = sys.argv[1:]
    log = os.environ.get("FAKE_KMSTOOL_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(json.dumps({"generation": generation, "argv": argv}) + "\n")

    if generation == "subcommand":
        if not argv or argv[0] not in ("decrypt", "genkey", "genrandom"):
            usage("unknown subcommand " + (argv[0] if argv else "(none)"))
        if argv[0] != "decrypt":
            usage("this fake only decrypts")
        argv = argv[1:]

    opts = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if generation == "legacy-stop" and not a.startswith("-"):
            break
        if a not in FLAGS:
            usage("Unknown option '" + a + "'")
        if i + 1 >= len(argv):
            usage("option " + a + " needs a value")
        opts[a] = argv[i + 1]
        i += 2
    for required in ("--aws-access-key-id", "--aws-secret-access-key", "--aws-session-token", "--ciphertext"):
        if required not in opts:
            sys.stderr.write(required + " must be set\n")
            sys.exit(1)

    kms = boto3.client(
        "kms",
        region_name=opts.get("--region", "us-east-1"),
        aws_access_key_id=opts.get("--aws-access-key-id"),
        aws_secret_access_key=opts.get("--aws-secret-access-key"),
        aws_session_token=opts.get("--aws-session-token"),
    )
    try:
        plaintext = kms.decrypt(CiphertextBlob=base64.b64decode(opts["--ciphertext"]))["Plaintext"]
    except Exception as e:  # the real tool prints the KMS error and exits 1
        sys.stderr.write("Could not decrypt: " + type(e).__name__ + ": " + str(e) + "\n")
        sys.exit(1)
    text = base64.b64encode(plaintext).decode("ascii")
    if generation == "subcommand":
        sys.stdout.write("PLAINTEXT: " + text + "\n")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
