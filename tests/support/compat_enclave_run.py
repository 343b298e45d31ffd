#!/usr/bin/env python3
"""A replica of the Nitro enclave's decrypt path, for interop tests.

Follows src/server/containers/enclave_app/server/process/run.py of the
aws-samples Nitro-enclave sample: read the file, take N from the first four
bytes (big-endian), the blob after it and the Fernet token after that; open
the blob; Fernet-decrypt with no TTL; unpack the zip into the output folder.

`run.py` opens the blob with kmstool_enclave_cli (which cannot send an
encryption context) and uses the tool's stdout, base64 text, as the Fernet
key. Here the blob goes to boto3's Decrypt (no context) against moto, and the
standard base64 of the plaintext is the Fernet key, which is the same text.

Usage: compat_enclave_run.py FILE OUTDIR
"""
import base64
import shutil
import sys

import boto3
from cryptography.fernet import Fernet

HEADER_LEN = 4


def main():
    path, outdir = sys.argv[1], sys.argv[2]
    with open(path, "rb") as fh:
        data = fh.read()
    end = int.from_bytes(data[:HEADER_LEN], byteorder="big") + HEADER_LEN
    blob = data[HEADER_LEN:end]
    token = data[end:]

    plaintext = boto3.client("kms").decrypt(CiphertextBlob=blob)["Plaintext"]
    key_text = base64.b64encode(plaintext).decode("utf-8")

    archive = Fernet(key_text).decrypt(token)
    zip_path = outdir.rstrip("/") + ".zip"
    with open(zip_path, "wb") as fh:
        fh.write(archive)
    shutil.unpack_archive(zip_path, outdir, "zip")
    print("decrypted to " + outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
