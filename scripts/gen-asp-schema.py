#!/usr/bin/env python3
"""Writes docs/asp.schema.json from libs/asp (run after changing a message)."""

import json
from pathlib import Path

from asp.schema import build_schema

out = Path(__file__).resolve().parent.parent / "docs" / "asp.schema.json"
out.write_text(json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
print(f"wrote {out}")
