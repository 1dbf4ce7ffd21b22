"""The front end's pure modules under node's own test runner (no browser, no server).

Runs whenever Node.js is there, Chromium or not: `npm test` runs the same files.
"""

import re
import shutil
import subprocess

from tests.conftest import ROOT, child_environment, need

FILES = sorted((ROOT / "tests" / "frontend").glob("*.test.mjs"))


def test_frontend_unit_tests_pass_under_node() -> None:
    need(shutil.which("node") is not None, "Node.js")
    need((ROOT / "node_modules" / "socket.io-client").is_dir(), "the npm packages (npm ci)")
    declared = sum(len(re.findall(r'^test\("', path.read_text(), re.M)) for path in FILES)
    assert FILES and declared >= 12, (FILES, declared)
    proc = subprocess.run(
        ["node", "--test", "--test-reporter=tap", *map(str, FILES)],
        cwd=ROOT, env=child_environment(), capture_output=True, text=True, timeout=120,
    )
    output = proc.stdout + proc.stderr
    summary = dict(re.findall(r"^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$", proc.stdout, re.M))
    assert proc.returncode == 0, output[-4000:]
    # every declared test ran and passed (none skipped, none lost to a load error)
    assert summary == {"tests": str(declared), "pass": str(declared), "fail": "0", "cancelled": "0",
                       "skipped": "0", "todo": "0"}, output[-4000:]
