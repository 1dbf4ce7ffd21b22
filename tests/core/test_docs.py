"""docs/protocol.md and the code stay in step: every event a namespace
registers has a schema and a line in that namespace's section of the document,
and every error code the server can send is documented."""

import re

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from tests.conftest import ROOT
from votemap_site.realtime.errors import ERROR_CODES

PROTOCOL = (ROOT / "docs" / "protocol.md").read_text()


def section_of(namespace: str) -> str:
    """The text of the `## `<namespace>`...` section."""
    match = re.search(rf"^## `{re.escape(namespace)}`.*?(?=^## |\Z)", PROTOCOL, re.S | re.M)
    assert match, f"docs/protocol.md has no section for {namespace}"
    return match.group(0)


NAMESPACES = [(path, import_string(dotted)) for path, dotted in settings.SOCKETIO_NAMESPACES]


@pytest.mark.parametrize("path, cls", NAMESPACES, ids=[p for p, _ in NAMESPACES])
def test_every_handler_has_a_schema(path, cls) -> None:
    handlers = {n[3:] for n in dir(cls) if n.startswith("on_") and callable(getattr(cls, n))}
    assert handlers == set(cls.schemas), f"{path}: handlers and schemas differ"


@pytest.mark.parametrize("path, cls", NAMESPACES, ids=[p for p, _ in NAMESPACES])
def test_every_event_is_documented_in_its_section(path, cls) -> None:
    section = section_of(path)
    missing = [event for event in cls.schemas if f"`{event}`" not in section]
    assert not missing, f"docs/protocol.md section {path} does not name: {missing}"


def test_every_error_code_is_documented() -> None:
    general = PROTOCOL.split("## `/")[0]
    missing = [code for code in ERROR_CODES if f"`{code}`" not in general]
    assert not missing


def test_a_handler_without_schema_is_refused_at_import() -> None:
    from votemap_site.realtime.base import BaseNamespace

    with pytest.raises(TypeError, match="without a schema"):
        type("Broken", (BaseNamespace,), {"schemas": {}, "on_oops": lambda self, sid, p: {}})


# ----- docs/deployment.md shows the files the tests use ---------------------------
DEPLOYMENT = (ROOT / "docs" / "deployment.md").read_text()
# `<!-- file: PATH -->` or `<!-- excerpt of PATH -->` right before a fenced block.
_SHOWN = re.compile(r"<!-- (?P<kind>file:|excerpt of) (?P<path>\S+) -->\n```[a-z]*\n(?P<body>.*?)```\n", re.S)


def _shown(kind: str) -> list[tuple[str, str]]:
    return [(m["path"], m["body"]) for m in _SHOWN.finditer(DEPLOYMENT) if m["kind"] == kind]


def test_deployment_shows_whole_files_exactly() -> None:
    shown = _shown("file:")
    assert {path for path, _ in shown} >= {"deploy/systemd/votemap@.service", "deploy/votemap.env.example"}
    for path, body in shown:
        assert body == (ROOT / path).read_text(), f"docs/deployment.md's copy of {path} differs from the file"


def test_deployment_excerpts_are_lines_of_their_file_in_order() -> None:
    """Every line of an excerpt (but blank ones and `# ...` elisions) is a line
    of the file, in the file's order."""
    excerpts = _shown("excerpt of")
    assert excerpts
    for path, body in excerpts:
        lines = iter(line.strip() for line in (ROOT / path).read_text().splitlines())
        for line in body.splitlines():
            wanted = line.strip()
            if not wanted or wanted.startswith("# ..."):
                continue
            assert any(have == wanted for have in lines), f"{path}: {wanted!r} is not in the file, in order"


def test_deployment_names_only_files_that_exist() -> None:
    for path in set(re.findall(r"\bdeploy/[\w./@-]*\w", DEPLOYMENT)):
        assert (ROOT / path).exists(), path
