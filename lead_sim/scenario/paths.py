"""Walking a scenario document (plain dicts, as loaded from YAML) by parameter.

A *parameter* is a leaf, except that a distribution (``dist``), a dated schedule (``start``) and a
priced cost (``usd``) are each one value. Used by the reports' parameter table and by the check
that a PSA was run on the same assumptions as the run it is attached to.
"""

from __future__ import annotations

from typing import Any


def is_one_value(value: Any) -> bool:
    """A mapping that is one parameter value: a distribution, a dated schedule or a priced cost."""
    return isinstance(value, dict) and ("dist" in value or "start" in value or "usd" in value)


def key_text(k: Any) -> str:
    """A mapping key as a path part (a YAML date key as its ISO text)."""
    return k.isoformat() if hasattr(k, "isoformat") else str(k)


def leaves(doc: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path, value) of every parameter of ``doc``, in document order."""
    if isinstance(doc, dict) and doc and not is_one_value(doc):
        out = []
        for k, v in doc.items():
            out += leaves(v, prefix + (key_text(k),))
        return out
    return [(prefix, doc)]
