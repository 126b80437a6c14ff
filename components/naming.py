"""Names, labels and content hashes shared by every component: derived in one place."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

DNS_LABEL_MAX = 63
CASE_NAME_MAX = 40
CONFIGMAP_KEY_MAX = 253
LABEL_PREFIX = "clarissa.io"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_KEY_SAFE = re.compile(r"[-.A-Za-z0-9]")


def short_hash(*parts: bytes | str, length: int = 10) -> str:
    """Return a hex digest prefix that changes whenever any part changes."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        # Length-prefixing keeps ("ab", "c") and ("a", "bc") apart.
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:length]


def spec_hash(spec: Mapping[str, Any], length: int = 8) -> str:
    """Return a hash of a JSON-like spec that ignores key order."""
    return short_hash(
        json.dumps(spec, sort_keys=True, separators=(",", ":")), length=length
    )


def is_dns_label(name: str) -> bool:
    """Tell whether a name is a valid DNS-1123 label."""
    return len(name) <= DNS_LABEL_MAX and _DNS_LABEL.match(name) is not None


def dns_label(text: str, *, max_length: int = DNS_LABEL_MAX) -> str:
    """Turn any text into a DNS-1123 label, stably; long or lossy ones get a hash."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"
    if len(cleaned) <= max_length and cleaned == text.lower():
        return cleaned
    # Distinct inputs that clean to the same text, or that are cut short, keep
    # apart through a hash of the original text.
    suffix = short_hash(text, length=6)
    head = cleaned[: max_length - len(suffix) - 1].rstrip("-") or "x"
    return f"{head}-{suffix}"


def case_name(deck: str, stem: str) -> str:
    """Derive a case's name from its deck folder and its DATA file's stem."""
    deck_label = re.sub(r"[^a-z0-9]+", "-", deck.lower()).strip("-")
    stem_label = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    if deck_label and stem_label.startswith(deck_label):
        text = stem
    else:
        text = f"{deck}-{stem}"
    return dns_label(text, max_length=CASE_NAME_MAX)


def configmap_key(relative_path: str) -> str:
    """Map a deck-relative path to a ConfigMap key, injectively.

    Keys may only hold letters, digits, '-', '.' and '_', so every other byte
    (the '/' of subfolders above all) becomes '_' and two hex digits; '_'
    itself is escaped too, which keeps the mapping reversible. A leading dot
    is escaped because the kubelet reserves keys that start with '..'.
    """
    out: list[str] = []
    for index, char in enumerate(relative_path):
        if _KEY_SAFE.fullmatch(char) and not (index == 0 and char == "."):
            out.append(char)
        else:
            out.extend(f"_{byte:02x}" for byte in char.encode())
    key = "".join(out)
    if len(key) > CONFIGMAP_KEY_MAX:
        key = f"{key[: CONFIGMAP_KEY_MAX - 12]}_h{short_hash(relative_path)}"
    return key


def standard_labels(
    *, part_of: str, component: str, instance: str, name: str = "opm-flow"
) -> dict[str, str]:
    """Return the app.kubernetes.io labels every object of a stack carries."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": part_of,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/managed-by": "pulumi",
    }
