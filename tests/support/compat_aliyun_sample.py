#!/usr/bin/env python3
"""A replica of the Alibaba Cloud sample's scripts, for interop tests.

Follows andrewhoulbrook/alicloud-envelope-encryption at f1d2012:
`aliEncrypt.py IN OUT` asks KMS GenerateDataKey (KeySpec AES_256,
NumberOfBytes 32, EncryptionContext = a JSON string), encrypts with AES-GCM
and pycryptodome's default 16-byte random nonce, no AAD, and writes
B64(ct) *---* CiphertextBlob *---* B64(nonce) *---* B64(tag) *---* context
with no trailing newline. `aliDecrypt.py IN OUT` splits the file, calls KMS
Decrypt with the stored blob and context, and decrypts.

Differences: Python 3 and `cryptography`'s AESGCM instead of pycryptodome
(the same GCM: a 16-byte nonce goes through GHASH for J0 in both); the KMS
client is a small RPC signature v1 signer over urllib instead of the
aliyun SDK, reading ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET
and ALIBABA_CLOUD_KMS_ENDPOINT; the key id comes from ALIYUN_SAMPLE_KEY_ID and
the context from ALIYUN_SAMPLE_CONTEXT (default: the sample's own string).
Decrypt splits as aliDecrypt.py does: on every separator, taking the fifth
piece as the context (so a context containing the separator is cut short;
`envelope encrypt --format aliyun` refuses such contexts for that reason).

Usage: compat_aliyun_sample.py encrypt IN OUT | decrypt IN OUT
"""
import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEP = "*---*"
SAMPLE_CONTEXT = '{"author":"lewis carrol", "year":"1865", "publisher":"project gutenberg"}'


def percent(text):
    return urllib.parse.quote(text, safe="-_.~")


def call(action, params):
    key_id = os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"]
    secret = os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]
    endpoint = os.environ["ALIBABA_CLOUD_KMS_ENDPOINT"]
    p = dict(params)
    p.update({
        "Action": action,
        "Version": "2016-01-20",
        "Format": "JSON",
        "AccessKeyId": key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": str(uuid.uuid4()),
        "Timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    })
    query = "&".join(percent(k) + "=" + percent(p[k]) for k in sorted(p))
    to_sign = "POST&" + percent("/") + "&" + percent(query)
    mac = hmac.new((secret + "&").encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha1).digest()
    p["Signature"] = base64.b64encode(mac).decode("ascii")
    body = "&".join(percent(k) + "=" + percent(v) for k, v in p.items()).encode("ascii")
    req = urllib.request.Request(endpoint, data=body, method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return json.loads(res.read())
    except urllib.error.HTTPError as e:
        sys.stderr.write("KMS " + action + " failed: " + e.read().decode("utf-8", "replace") + "\n")
        sys.exit(2)


def encrypt(src, dst):
    with open(src, "rb") as fh:
        plaintext = fh.read()
    context = os.environ.get("ALIYUN_SAMPLE_CONTEXT", SAMPLE_CONTEXT)
    answer = call("GenerateDataKey", {
        "KeyId": os.environ["ALIYUN_SAMPLE_KEY_ID"],
        "KeySpec": "AES_256",
        "NumberOfBytes": "32",
        "EncryptionContext": context,
    })
    key = base64.b64decode(answer["Plaintext"])
    nonce = os.urandom(16)
    sealed = AESGCM(key).encrypt(nonce, plaintext, None)
    ct, tag = sealed[:-16], sealed[-16:]
    fields = [base64.b64encode(ct).decode("ascii"), answer["CiphertextBlob"],
              base64.b64encode(nonce).decode("ascii"), base64.b64encode(tag).decode("ascii"), context]
    with open(dst, "wb") as fh:
        fh.write(SEP.join(fields).encode("utf-8"))


def decrypt(src, dst):
    with open(src, "rb") as fh:
        text = fh.read().decode("utf-8")
    # As aliDecrypt.py: split on every separator and take the first five pieces.
    pieces = text.split(SEP)
    ct, blob, nonce, tag, context = pieces[0], pieces[1], pieces[2], pieces[3], pieces[4]
    answer = call("Decrypt", {"CiphertextBlob": blob, "EncryptionContext": context})
    key = base64.b64decode(answer["Plaintext"])
    try:
        plaintext = AESGCM(key).decrypt(base64.b64decode(nonce), base64.b64decode(ct) + base64.b64decode(tag), None)
    except Exception as e:
        sys.stderr.write("decrypt failed: " + type(e).__name__ + "\n")
        sys.exit(3)
    with open(dst, "wb") as fh:
        fh.write(plaintext)


if __name__ == "__main__":
    {"encrypt": encrypt, "decrypt": decrypt}[sys.argv[1]](sys.argv[2], sys.argv[3])
