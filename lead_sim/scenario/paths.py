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


def lookup(data: dict, path: str) -> tuple[bool, Any, str]:
    """Walk the dotted ``path`` through a scenario document: (found, value, where it stopped or '').

    When not found, the value is the last mapping reached (so an error can list its keys)."""
    node: Any = data
    parts = path.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, dict):
            return False, None, ".".join(parts[:i])
        match = [k for k in node if key_text(k) == part]
        if not match:
            return False, node, ".".join(parts[:i])
        node = node[match[0]]
    return True, node, ""


def set_number(data: dict, path: str, value: float) -> bool:
    """Set the number at the dotted ``path`` in place (rounded when the value there is a whole
    number); False when the path's parent is not a mapping of the document."""
    parent_path, _, last = path.rpartition(".")
    found, parent, _ = lookup(data, parent_path)
    if not found or not isinstance(parent, dict):
        return False
    match = [k for k in parent if key_text(k) == last]
    old = parent[match[0]] if match else None
    if isinstance(old, int) and not isinstance(old, bool):
        value = int(round(value))
    parent[match[0] if match else last] = value
    return True


def parameter_at(data: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    """(found, value) of the parameter that holds ``path``: the walk stops at the first node that
    is one value (a distribution, schedule or priced cost), which then holds every path below it."""
    node = data
    for part in path:
        if not isinstance(node, dict):
            return False, None
        match = [k for k in node if key_text(k) == part]
        if not match:
            return False, None
        node = node[match[0]]
        if is_one_value(node):
            return True, node
    return True, node
