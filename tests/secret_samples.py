"""Made-up secrets with the real shapes (none is a live credential), shared by the redaction
tests, and the check that none of them is left in a record."""

from __future__ import annotations

import json

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwiaWF0IjoxNzAwMDAwMDAwfQ"
    ".c2lnbmF0dXJlLW9mLWEtdGVzdC10b2tlbi1ub3QtcmVhbA"
)
PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFAKEFAKEFAKE\n"
    "hRx9M2mvQ0sEeYhR1LyoZ8jDfw2TiXAMPLEKEYz8gpehRANCAAQ3fakefake\n-----END PRIVATE KEY-----"
)
# A BIP39 test vector: 12 words, valid checksum.
MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"
MNEMONIC24 = " ".join(
    ["letter", "advice", "cage", "absurd", "amount", "doctor"] * 3
    + ["acoustic", "avoid", "letter", "advice", "cage", "above"]
)
AWS_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
LISTEN_KEY = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"
WS_KEY = "PKTESTKEY0123456789AB"
WS_SECRET = "ws-secret-value-98765"
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"

SHAPED = {"jwt": JWT, "pem": PEM, "mnemonic": MNEMONIC, "aws": AWS_ID, "github": GITHUB}


def _gone(record, *secrets: str) -> str:
    text = json.dumps(record.to_json())
    for secret in secrets:
        assert secret not in text, f"{secret[:30]!r}... leaked"
        assert json.dumps(secret)[1:-1] not in text, f"{secret[:30]!r}... leaked (escaped)"
    return text
