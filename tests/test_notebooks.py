"Notebooks are the source: they run top to bottom at smoke scale, the library is exactly their export, and they are clean."
import filecmp, os, shutil, subprocess, sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def _copy_project(dst: Path) -> Path:
    for item in ("nbs", "tinyrepro", "pyproject.toml", "_quarto.yml", "README.md"):
        src = ROOT / item
        (shutil.copytree(src, dst / item, symlinks=True) if src.is_dir() else shutil.copy2(src, dst / item))
    return dst

def test_library_is_in_sync_with_notebooks(tmp_path):
    "`nbdev-export` on a copy of the notebooks reproduces tinyrepro/ byte for byte (nobody hand-edited the library)."
    proj = _copy_project(tmp_path)
    r = subprocess.run([str(BIN / "nbdev-export")], cwd=proj, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    cmp = filecmp.dircmp(ROOT / "tinyrepro", proj / "tinyrepro", ignore=["__pycache__"])
    def diffs(c, prefix=""):
        out = [prefix + f for f in c.diff_files + c.left_only + c.right_only]
        for name, sub in c.subdirs.items(): out += diffs(sub, f"{prefix}{name}/")
        return out
    assert not diffs(cmp), f"run nbdev-export and commit: out of sync {diffs(cmp)}"

def test_notebooks_are_clean(tmp_path):
    "`nbdev-clean` leaves the committed notebooks unchanged (no execution counts, no stray metadata)."
    proj = _copy_project(tmp_path)
    r = subprocess.run([str(BIN / "nbdev-clean")], cwd=proj, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    changed = [str(p.relative_to(proj)) for p in (proj / "nbs").rglob("*.ipynb")
               if p.read_bytes() != (ROOT / p.relative_to(proj)).read_bytes()]
    assert not changed, f"run nbdev-clean and commit: {changed}"

def test_every_notebook_runs_at_smoke_scale():
    "nbdev-test executes every notebook (scale = smoke under test)."
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("TINYREPRO_SCALE", None)
    r = subprocess.run([str(BIN / "nbdev-test"), "--n-workers", "2", "--timing"], cwd=ROOT, capture_output=True,
                       text=True, timeout=1800, env=env)
    print(r.stdout[-3000:], r.stderr[-3000:])
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]

def test_readme_papers_table_is_generated():
    "The README's papers table is `tinyrepro report` output, not typed by hand."
    from tinyrepro.cli import papers_index_markdown
    text = (ROOT / "README.md").read_text()
    start, end = "<!-- papers:start -->", "<!-- papers:end -->"
    assert start in text and end in text
    table = text.split(start)[1].split(end)[0].strip()
    assert table == papers_index_markdown("cpu", links="repo").strip(), "regenerate it: python tools/update_readme.py"
