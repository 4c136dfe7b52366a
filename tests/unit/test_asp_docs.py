"""The ASP document set stays true: the example clients in docs/ASP_INTEGRATION.md are the
files the tests run (docs/examples/asp-client), every JSON example there is a valid ASP
message, every error code of the specification is explained in ASP_TROUBLESHOOTING.md,
and the documents are linked from the README and the specification."""

from __future__ import annotations

import json
import re
from pathlib import Path

from asp import ErrorCode, parse_message

DOCS = Path(__file__).resolve().parents[2] / "docs"
INTEGRATION = (DOCS / "ASP_INTEGRATION.md").read_text(encoding="utf-8")


def _block(after: str, lang: str) -> str:
    """The first fenced ``lang`` block after the heading that starts with ``after``."""
    at = INTEGRATION.index(after)
    m = re.compile(rf"^```{lang}\n(.*?)^```$", re.S | re.M).search(INTEGRATION, at)
    assert m is not None, f"no {lang} block after {after!r}"
    return m.group(1)


def test_the_python_client_in_the_guide_is_the_tested_file() -> None:
    code = (DOCS / "examples" / "asp-client" / "client.py").read_text(encoding="utf-8")
    assert _block("## 9.", "python") == code, (
        "docs/ASP_INTEGRATION.md section 9 must hold client.py: run scripts/sync-asp-examples.py"
    )


def test_the_javascript_client_in_the_guide_is_the_tested_file() -> None:
    code = (DOCS / "examples" / "asp-client" / "client.mjs").read_text(encoding="utf-8")
    assert _block("## 10.", "javascript") == code, (
        "docs/ASP_INTEGRATION.md section 10 must hold client.mjs: run scripts/sync-asp-examples.py"
    )


def test_the_json_examples_of_the_guide_are_asp_messages() -> None:
    blocks = re.findall(r"^\s*```json\n(.*?)^\s*```$", INTEGRATION, re.S | re.M)
    assert len(blocks) >= 2
    for block in blocks:
        msg = parse_message(json.loads(block))
        assert msg.TYPE in ("protocol.capabilities", "session.start")


def test_every_error_code_is_explained() -> None:
    text = (DOCS / "ASP_TROUBLESHOOTING.md").read_text(encoding="utf-8")
    for code in ErrorCode:
        assert re.search(rf"^\| {code.value} \| `{code.name.lower()}` \|", text, re.M), (
            f"error {code.value} has no row in docs/ASP_TROUBLESHOOTING.md"
        )


def test_the_documents_are_linked() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    spec = (DOCS / "ASP_SPECIFICATION.md").read_text(encoding="utf-8")
    for name in ("ASP_PROTOCOL.md", "ASP_INTEGRATION.md", "ASP_TROUBLESHOOTING.md"):
        assert (DOCS / name).is_file()
        assert f"(docs/{name})" in readme
        assert f"({name})" in spec
