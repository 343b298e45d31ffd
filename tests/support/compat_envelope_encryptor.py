#!/usr/bin/env python3
"""A replica of the Nitro-enclave sample's encryptor, for interop tests.

Follows aws-samples/aws-graviton-run-confidential-ml-workloads-using-nitro-enclaves,
src/encryption/envelope_encryptor.py: `encrypt -d DIR -k KEY` zips DIR with
shutil.make_archive into application_code.zip in the current directory, asks
KMS for an AES_256 data key with no encryption context, uses the standard
base64 of the plaintext key as the Fernet key, and writes
application_code.zip.encrypted = u32be(len(blob)) || blob || Fernet token.

Differences from the sample: the region comes from the environment
(AWS_DEFAULT_REGION, set by the tests to moto's) instead of a constant, so
boto3 reaches the moto server through AWS_ENDPOINT_URL_KMS; and the
intermediate application_code.zip is removed afterwards.
"""
import argparse
import base64
import os
import shutil
import sys

import boto3
from cryptography.fernet import Fernet

HEADER_LEN = 4
NAME = "application_code"


def main():
    parser = argparse.ArgumentParser(prog="envelope_encryptor replica")
    sub = parser.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encrypt")
    enc.add_argument("-d", "--dir", required=True)
    enc.add_argument("-k", "--key", required=True)
    args = parser.parse_args()

    shutil.make_archive(NAME, "zip", args.dir)
    with open(NAME + ".zip", "rb") as fh:
        data = fh.read()
    os.remove(NAME + ".zip")

    kms = boto3.client("kms")
    answer = kms.generate_data_key(KeyId=args.key, KeySpec="AES_256")
    blob = answer["CiphertextBlob"]
    fernet_key = base64.b64encode(answer["Plaintext"])

    token = Fernet(fernet_key).encrypt(data)
    with open(NAME + ".zip.encrypted", "wb") as out:
        out.write(len(blob).to_bytes(HEADER_LEN, byteorder="big"))
        out.write(blob)
        out.write(token)
    print("encrypted " + args.dir + " to " + NAME + ".zip.encrypted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
