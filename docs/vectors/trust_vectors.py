#!/usr/bin/env python3
"""Test vectors for docs/format.md, §6 (electronic signatures) and §7 (checkpoints).

Computed from the published format alone, with no traceledger code: Python's hashlib and
base64, the `blake3` package (BLAKE3) and the `cryptography` package (Ed25519, RFC 8032).

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install cryptography blake3
    /tmp/venv/bin/python docs/vectors/trust_vectors.py            # print the vectors
    /tmp/venv/bin/python docs/vectors/trust_vectors.py --check docs/format.md

With --check, every printed line must appear in the given file, and the signed note must
appear there as a fenced block; the exit status is 1 if one does not. The Rust test
tests/cli/format_doc.rs checks the same lines against the implementation.
"""

import base64
import hashlib
import json
import sys

import blake3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

CONTENT_DOMAIN = b"traceledger/signed-content/v1\x00"
MESSAGE_DOMAIN = b"traceledger/signature/v1\x00"


def jcs(value):
    """RFC 8785 for the values these vectors use: objects, strings, integers, lists.

    For such values JCS is: members sorted by key (all keys here are ASCII, so code point
    order is UTF-16 order), no white space, strings escaped as JSON requires and nothing
    more. Python's json.dumps with these options does exactly that; floats are refused so
    that no number formatting question arises.
    """

    def walk(v):
        if isinstance(v, float):
            raise ValueError("floats are not used by these vectors")
        if isinstance(v, dict):
            for k in v:
                if not k.isascii():
                    raise ValueError("non-ASCII keys are not used by these vectors")
                walk(v[k])
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def b64(data):
    return base64.b64encode(data).decode("ascii")


def key_from_label(label):
    """The fixture key: seed = SHA-256(label)."""
    seed = hashlib.sha256(label.encode("utf-8")).digest()
    return seed, Ed25519PrivateKey.from_private_bytes(seed)


def raw_public(private):
    return private.public_key().public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )


def fingerprint(public):
    return "ed25519:" + hashlib.sha256(public).digest()[:8].hex()


# --- (a) an electronic signature -------------------------------------------------------

# The event as a site might send it: keys in any order, an empty signatures list.
EVENT_AS_SENT = (
    '{"type": "unit.released", "id": "01JDB7M6W3Y7Q4T1K9Z8F2C5N3", '
    '"occurred_at": "2026-11-25T10:14:58Z", "site": "GAL", "source": "cli:p-1201", '
    '"actor": "p-1201", "data": {"unit": "SN000123"}, "signatures": []}'
)
KEY_ID = "k-1201"
SIGNER = "p-1201"
MEANING = "released"
SIGNED_AT = "2026-11-25T10:15:00.250Z"


def signature_vector():
    seed, private = key_from_label("traceledger-fixture:k-1201")
    public = raw_public(private)
    event = json.loads(EVENT_AS_SENT)
    unsigned = {k: v for k, v in event.items() if k != "signatures"}
    content_text = jcs(unsigned)
    content = blake3.blake3(CONTENT_DOMAIN + content_text.encode("utf-8")).digest()
    message_text = jcs(
        {
            "content": content.hex(),
            "key": KEY_ID,
            "meaning": MEANING,
            "signed_at": SIGNED_AT,
            "signer": SIGNER,
        }
    )
    message = MESSAGE_DOMAIN + message_text.encode("utf-8")
    signature = private.sign(message)
    private.public_key().verify(signature, message)
    signed = dict(event)
    signed["signatures"] = list(event.get("signatures", [])) + [
        {
            "signer": SIGNER,
            "key": KEY_ID,
            "meaning": MEANING,
            "signed_at": SIGNED_AT,
            "signature": b64(signature),
        }
    ]
    return [
        ("sig-seed", seed.hex()),
        ("sig-public-key", b64(public)),
        ("sig-fingerprint", fingerprint(public)),
        ("sig-event", EVENT_AS_SENT),
        ("sig-content-jcs", content_text),
        ("sig-content-digest", content.hex()),
        ("sig-message", message_text),
        ("sig-signature", b64(signature)),
        ("sig-signed-event", jcs(signed)),
    ]


# --- (b) a checkpoint ------------------------------------------------------------------

# The record hashes of the three chained vectors of docs/format.md, section 5.
RECORD_HASHES = [
    "83a3a220314e2fb53008fbc69628432c5b00b3cfaabbe8f5a0f6eb3a6c786d87",
    "d1155594b2f1933672e7a457ef3c2369e804b5ba712ae41af942828cab41682a",
    "5ced74a00963ae9e3d2eff1e494c9ac6ec32a9881f6d7962609d489656538753",
]


def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(leaves):
    """RFC 9162 section 2.1.1, over leaf hashes already computed."""
    if len(leaves) == 0:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def checkpoint_vector():
    seed, private = key_from_label("traceledger-fixture:ledger")
    public = raw_public(private)
    # The origin `init` chooses by default: traceledger/SITE/<fingerprint hex>.
    origin = "traceledger/GAL/" + fingerprint(public)[len("ed25519:"):]
    leaves = [leaf_hash(bytes.fromhex(h)) for h in RECORD_HASHES]
    node01 = node_hash(leaves[0], leaves[1])
    root = mth(leaves)
    assert root == node_hash(node01, leaves[2])
    body = f"{origin}\n{len(leaves)}\n{b64(root)}\n"
    key_id = hashlib.sha256(origin.encode("utf-8") + b"\x0a" + b"\x01" + public).digest()[:4]
    signature = private.sign(body.encode("utf-8"))
    note = f"{body}\n\u2014 {origin} {b64(key_id + signature)}\n"
    verifier = origin + "+" + key_id.hex() + "+" + b64(b"\x01" + public)
    lines = [("cp-record-hash", h) for h in RECORD_HASHES]
    lines += [("cp-leaf-hash", leaf.hex()) for leaf in leaves]
    lines += [
        ("cp-node-0-1", node01.hex()),
        ("cp-root-hex", root.hex()),
        ("cp-root-base64", b64(root)),
        ("cp-ledger-seed", seed.hex()),
        ("cp-ledger-public-key", b64(public)),
        ("cp-origin", origin),
        ("cp-tree-size", str(len(leaves))),
        ("cp-key-id", key_id.hex()),
        ("cp-signature", b64(signature)),
        ("cp-verifier-key", verifier),
    ]
    return lines, note


def main(argv):
    sig = signature_vector()
    cp, note = checkpoint_vector()
    printed = [f"{name}: {value}" for name, value in sig + cp]
    if len(argv) == 3 and argv[1] == "--check":
        with open(argv[2], encoding="utf-8") as f:
            doc = f.read()
        doc_lines = set(doc.splitlines())
        missing = [line for line in printed if line not in doc_lines]
        if "```signed-note\n" + note + "```" not in doc:
            missing.append("the signed note block")
        for line in missing:
            print("not in the document:", line)
        print("ok" if not missing else f"{len(missing)} vectors differ")
        return 1 if missing else 0
    if len(argv) != 1:
        print(__doc__)
        return 2
    print("\n".join(printed[: len(sig)]))
    print()
    print("\n".join(printed[len(sig):]))
    print()
    print("```signed-note")
    print(note, end="")
    print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
