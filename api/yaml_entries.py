"""Edit one entry of a YAML list (a source in ``sources.yaml``, a plan in ``keywords.yaml``) and leave the rest of
the document as it was, comments included.

ruamel.yaml (a round-trip YAML library) is not a dependency, so this works on the text: PyYAML's composer gives each
node's start and end position, and only the span of the entry being changed is rewritten. Everything outside that
span — the file's header, comments between entries, the other entries' exact formatting — is kept byte for byte.
What is not kept: comments *inside* the entry that is replaced (it is written anew with ``yaml.safe_dump``).
Setting one scalar field (``enabled``) rewrites only that value, so even the entry's own comments stay.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


class EntryError(ValueError):
    """The document cannot be edited this way (not a mapping with the list, entry not found, duplicate key)."""


def entries(text: str, list_key: str) -> list[dict[str, Any]]:
    """The list's entries as plain data (no placeholder substitution)."""
    data = yaml.safe_load(text) if text.strip() else None
    if data is None:
        return []
    if not isinstance(data, dict):
        raise EntryError("the document is not a mapping")
    items = data.get(list_key) or []
    if not isinstance(items, list):
        raise EntryError(f"'{list_key}' is not a list")
    return [item for item in items if isinstance(item, dict)]


def find(text: str, list_key: str, key_field: str, key: str) -> dict[str, Any] | None:
    """The entry whose ``key_field`` equals ``key``, or None."""
    return next((e for e in entries(text, list_key) if str(e.get(key_field)) == key), None)


def replace(text: str, list_key: str, key_field: str, key: str | None, entry: dict[str, Any] | None) -> str:
    """The document with the entry named ``key`` replaced by ``entry`` (``entry`` None: removed), or with ``entry``
    appended when ``key`` is None. Raises ``EntryError`` when ``key`` names no entry or a new entry's key is taken."""
    _root, seq = _sequence(text, list_key)
    items = list(seq.value) if seq is not None else []
    position = None if key is None else _position(items, key_field, key)
    if key is not None and position is None:
        raise EntryError(f"no entry with {key_field} {key!r}")
    if entry is not None:
        new_key = str(entry.get(key_field))
        clash = _position(items, key_field, new_key)
        if clash is not None and clash != position:
            raise EntryError(f"{key_field} {new_key!r} is already used by another entry")
    if seq is None or (seq.flow_style and not items):
        if entry is None:
            raise EntryError(f"no entry with {key_field} {key!r}")
        block = "\n" + _item_text(entry, 2)
        if seq is None:  # no list (or no document) yet: add the key at the end
            sep = "" if not text or text.endswith("\n") else "\n"
            return f"{text}{sep}{list_key}:{block}\n"
        return text[:_line_end_before(text, seq.start_mark.index)] + block + text[seq.end_mark.index:]
    if seq.flow_style:
        raise EntryError(f"'{list_key}' is written as a [flow, list]: edit it in the file")
    dash_col = _dash_column(text, items[0])
    if position is None:  # append after the last entry
        end = _node_end(items[-1])
        return text[:end] + "\n" + _item_text(entry, dash_col) + text[end:]
    item = items[position]
    start = _line_start(text, item.start_mark.index)
    end = _node_end(item)
    if entry is not None:
        return text[:start] + _item_text(entry, dash_col) + text[end:]
    if len(items) == 1:  # the last entry goes: an empty list, not a null
        return text[:_line_end_before(text, seq.start_mark.index)] + " []" + text[end:]
    # drop the entry's lines, including the line break that ended the previous one
    return text[:start] + text[_after_line(text, end):]


def set_scalar(text: str, list_key: str, key_field: str, key: str, field: str, value: bool | int | str) -> str:
    """The document with one top-level scalar field of one entry set (added as the entry's last line when absent);
    the rest of the entry, comments included, is kept."""
    _root, seq = _sequence(text, list_key)
    items = list(seq.value) if seq is not None else []
    position = _position(items, key_field, key)
    if position is None:
        raise EntryError(f"no entry with {key_field} {key!r}")
    item = items[position]
    rendered = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).strip()
    rendered = rendered.removesuffix("...").strip()
    for k, v in item.value:
        if isinstance(k, ScalarNode) and k.value == field:
            if not isinstance(v, ScalarNode):
                raise EntryError(f"{field} is not a plain value")
            return text[:v.start_mark.index] + rendered + text[v.end_mark.index:]
    end = _node_end(item)
    return text[:end] + "\n" + " " * item.start_mark.column + f"{field}: {rendered}" + text[end:]


# --- positions ------------------------------------------------------------------------------------------------
def _sequence(text: str, list_key: str) -> tuple[Node | None, SequenceNode | None]:
    try:
        root = yaml.compose(text) if text.strip() else None
    except yaml.YAMLError as exc:
        raise EntryError(f"YAML syntax error: {exc}") from None
    if root is None:
        return None, None
    if not isinstance(root, MappingNode):
        raise EntryError("the document is not a mapping")
    for k, v in root.value:
        if isinstance(k, ScalarNode) and k.value == list_key:
            if isinstance(v, ScalarNode) and v.value in ("", "~", "null"):
                raise EntryError(f"'{list_key}' is empty: write '{list_key}: []'")
            if not isinstance(v, SequenceNode):
                raise EntryError(f"'{list_key}' is not a list")
            return root, v
    return root, None


def _position(items: list[Node], key_field: str, key: str) -> int | None:
    for i, item in enumerate(items):
        if not isinstance(item, MappingNode):
            continue
        for k, v in item.value:
            if isinstance(k, ScalarNode) and k.value == key_field and isinstance(v, ScalarNode) and v.value == key:
                return i
    return None


def _node_end(node: Node) -> int:
    """Where the node's own text ends (a block collection's end mark would take in the comments after it)."""
    if isinstance(node, MappingNode) and not node.flow_style and node.value:
        return _node_end(node.value[-1][1])
    if isinstance(node, SequenceNode) and not node.flow_style and node.value:
        return _node_end(node.value[-1])
    return node.end_mark.index


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end_before(text: str, index: int) -> int:
    """The end of the text before ``index`` with trailing blanks dropped (where ``key:`` ends)."""
    cut = index
    while cut > 0 and text[cut - 1] in " \t":
        cut -= 1
    return cut


def _after_line(text: str, index: int) -> int:
    """Index just past the line break ending the line that holds ``index`` (or the text's end)."""
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def _dash_column(text: str, item: Node) -> int:
    line = text[_line_start(text, item.start_mark.index):item.start_mark.index]
    dash = line.rfind("-")
    return dash if dash >= 0 else max(0, item.start_mark.column - 2)


class _EntryDumper(yaml.SafeDumper):
    """Mappings as blocks, lists of plain values inline (``any: [挤兑, 倒闭]``), as the shipped files write them."""

    def represent_list(self, data: list[Any]) -> Node:
        inline = all(not isinstance(x, dict | list) for x in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=inline)

    def represent_dict(self, data: dict[Any, Any]) -> Node:
        return self.represent_mapping("tag:yaml.org,2002:map", data, flow_style=False)


_EntryDumper.add_representer(list, _EntryDumper.represent_list)
_EntryDumper.add_representer(dict, _EntryDumper.represent_dict)


def _item_text(entry: dict[str, Any] | None, dash_col: int) -> str:
    """``entry`` as one block list item whose dash is at ``dash_col`` (no trailing line break)."""
    dumped = yaml.dump(entry, Dumper=_EntryDumper, allow_unicode=True, sort_keys=False, width=110)
    lines = dumped.rstrip("\n").split("\n")
    pad = " " * (dash_col + 2)
    return "\n".join([" " * dash_col + "- " + lines[0], *(pad + line for line in lines[1:])])
