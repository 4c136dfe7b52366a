#!/usr/bin/env python3
"""Copies the example clients (docs/examples/asp-client/client.py and client.mjs) into
their fenced blocks of docs/ASP_INTEGRATION.md (sections 9 and 10), so that the guide
shows exactly the files the tests run. tests/unit/test_asp_docs.py checks it."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCKS = (("## 9.", "python", "client.py"), ("## 10.", "javascript", "client.mjs"))


def main() -> None:
    path = DOCS / "ASP_INTEGRATION.md"
    text = path.read_text(encoding="utf-8")
    for heading, lang, name in BLOCKS:
        code = (DOCS / "examples" / "asp-client" / name).read_text(encoding="utf-8")
        at = text.index(heading)
        m = re.compile(rf"^```{lang}\n(.*?)^```$", re.S | re.M).search(text, at)
        if m is None:
            raise SystemExit(f"no {lang} block after {heading!r} in {path}")
        text = text[: m.start(1)] + code + text[m.end(1) :]
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
