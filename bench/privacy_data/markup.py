"""Labelled texts for bench/privacy_eval.py: inline markup -> JSON lines with character offsets.

A source file holds one text per block, blocks separated by a line holding only `---`; the first line of a block
may be `# genre: <name>` (and `# lang: <code>`). Every PII span is written inline as `⟦ENTITY|the text⟧`, e.g.

    # genre: sms
    Hi ⟦PERSON|Ingrid⟧, call me on ⟦PHONE|95 87 33 33⟧ before ⟦DATE|Friday 5 June⟧.

    python bench/privacy_data/markup.py SOURCE.txt OUT.jsonl --source NAME

writes {"id", "source", "genre", "lang", "text", "spans": [{"start", "end", "entity", "text"}]} per text.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ENTITIES = ("PERSON", "ADDRESS", "ZIP", "PHONE", "ID", "DATE", "AGE", "EMAIL", "CARD", "ACCOUNT", "IP", "URL")
TAG = re.compile(r"⟦([A-Z]+)\|(.*?)⟧", re.S)


def parse_block(block: str) -> dict:
    """One marked-up text -> its plain text and spans (offsets into the plain text)."""
    meta, lines = {}, block.strip("\n").split("\n")
    while lines and lines[0].startswith("# ") and ":" in lines[0]:
        key, _, value = lines.pop(0)[2:].partition(":")
        meta[key.strip()] = value.strip()
    body = "\n".join(lines).strip("\n")
    text, spans, pos = [], [], 0
    length = 0
    for m in TAG.finditer(body):
        entity, value = m.group(1), m.group(2)
        if entity not in ENTITIES:
            raise ValueError(f"unknown entity {entity!r} (one of {', '.join(ENTITIES)})")
        if "⟦" in value or not value.strip():
            raise ValueError(f"nested or empty span {entity!r}")
        before = body[pos:m.start()]
        text.append(before)
        length += len(before)
        spans.append({"start": length, "end": length + len(value), "entity": entity, "text": value})
        text.append(value)
        length += len(value)
        pos = m.end()
    text.append(body[pos:])
    plain = "".join(text)
    if "⟦" in plain or "⟧" in plain:
        raise ValueError("unbalanced markup")
    return {"genre": meta.get("genre", ""), "lang": meta.get("lang", ""), "text": plain, "spans": spans}


def convert(source: Path, name: str) -> list[dict]:
    """All blocks of a source file, numbered `<name>-<n>`."""
    blocks = [b for b in re.split(r"^---\s*$", source.read_text(encoding="utf-8"), flags=re.M) if b.strip()]
    out = []
    for n, block in enumerate(blocks, 1):
        try:
            item = parse_block(block)
        except ValueError as exc:
            raise ValueError(f"{source}: text {n}: {exc}") from None
        out.append({"id": f"{name}-{n}", "source": name, **item})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--source", dest="name", required=True)
    args = parser.parse_args()
    items = convert(args.source, args.name)
    with args.out.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"{len(items)} texts, {sum(len(i['spans']) for i in items)} spans -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
