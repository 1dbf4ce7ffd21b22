"""The browser tests refuse a bundle that was not built from the current sources."""

import shutil
import subprocess

import pytest

from tests.conftest import ROOT, check_bundle_is_current, child_environment, frontend_sources_hash, need


def _copy_sources(to) -> None:
    shutil.copytree(ROOT / "frontend" / "src", to / "frontend" / "src")
    shutil.copy(ROOT / "frontend" / "build.mjs", to / "frontend" / "build.mjs")
    shutil.copy(ROOT / "package-lock.json", to / "package-lock.json")
    (to / "votemap_site" / "static" / "build").mkdir(parents=True)


def test_the_build_and_the_tests_hash_the_sources_alike() -> None:
    need(shutil.which("node") is not None, "Node.js")
    need((ROOT / "node_modules" / "esbuild").is_dir(), "the npm packages (npm ci)")
    code = 'import("./frontend/build.mjs").then((m) => console.log(m.sourcesHash()))'
    proc = subprocess.run(["node", "--input-type=module", "-e", code], cwd=ROOT, env=child_environment(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == frontend_sources_hash()


def test_a_changed_source_makes_the_bundle_stale(tmp_path) -> None:
    _copy_sources(tmp_path)
    recorded = tmp_path / "votemap_site" / "static" / "build" / "sources.sha256"
    recorded.write_text(frontend_sources_hash(tmp_path) + "\n")
    check_bundle_is_current(tmp_path)  # as built
    assert frontend_sources_hash(tmp_path) == frontend_sources_hash()  # only contents and names count

    (tmp_path / "frontend" / "src" / "lib" / "new_module.js").write_text("export const x = 1;\n")
    with pytest.raises(pytest.fail.Exception, match="npm run build"):
        check_bundle_is_current(tmp_path)
    recorded.unlink()
    with pytest.raises(pytest.fail.Exception, match="not built from the current"):
        check_bundle_is_current(tmp_path)
