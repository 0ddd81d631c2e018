"""Disclosure control: small-number suppression and keyed pseudonyms.

Suppression follows the DfE convention for children's social care statistics: counts
from 1 to ``suppress_max`` (default 5) are shown as "c"; 0 is a true zero. Worklists
carry keyed pseudonyms (HMAC-SHA256 with a local secret), never raw child ids.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["SUPPRESSED", "pseudonymise", "suppress_counts", "local_secret"]

SUPPRESSED = "c"
SECRET_ENV = "AUDIT_SECRET"
SECRET_FILE = Path.home() / ".config" / "audit_lib" / "secret"


def suppress_counts(counts, suppress_max: int = 5) -> pd.Series:
    """Counts as text, with 1..``suppress_max`` shown as "c" (DfE convention).

    Missing counts stay missing; 0 is shown as 0.
    """
    s = pd.Series(counts)
    out = s.map(lambda v: "" if pd.isna(v) else f"{int(v):,}").astype(object)
    small = s.between(1, suppress_max)
    out[small] = SUPPRESSED
    return out


def is_suppressed(counts, suppress_max: int = 5) -> np.ndarray:
    """True where a count would be suppressed."""
    return pd.Series(counts).between(1, suppress_max).to_numpy()


def local_secret(path: str | Path | None = None) -> bytes:
    """The pseudonym key: $AUDIT_SECRET, else the file ``path`` (default
    ~/.config/audit_lib/secret), created with a random key on first use.

    The key never leaves the machine and is never committed; keep it to get the same
    pseudonyms month after month.
    """
    env = os.environ.get(SECRET_ENV)
    if env:
        return env.encode()
    path = Path(path) if path else SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


def pseudonymise(ids, secret: bytes, length: int = 12) -> pd.Series:
    """Keyed pseudonyms: the first ``length`` hex digits of HMAC-SHA256(secret, id).

    Stable for the same secret; not reversible without it.
    """
    s = pd.Series(ids)
    uniq = pd.unique(s.dropna())
    mapping = {
        v: "P" + hmac.new(secret, str(v).encode(), hashlib.sha256).hexdigest()[:length]
        for v in uniq
    }  # one hash per distinct child, not per row
    return s.map(mapping)
