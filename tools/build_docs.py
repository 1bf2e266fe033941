"""Build the documentation site offline: `python tools/build_docs.py` → site/index.html.

1. copy the project into _build/docs and execute every notebook there with `nbdev-test --save` (scale `smoke`; the
   results tables and figures come from the committed results/*.json, so they show the cpu numbers);
2. process the executed notebooks with `nbdev-proc-nbs` → _build/docs/_proc (what `nbdev-docs` hands to Quarto);
3. render those processed notebooks with mkdocs-material + mkdocs-jupyter (default), or with Quarto (`--quarto`, needs a
   `quarto` binary on PATH) — both from the same `_proc` notebooks.
"""
from __future__ import annotations
import argparse, json, os, re, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def run(cmd, cwd, env=None):
    print("$", " ".join(map(str, cmd)), flush=True)
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"build_docs: `{' '.join(map(str, cmd))}` failed (exit {r.returncode}):\n{(r.stdout + r.stderr)[-4000:]}")
    return r

def copy_project(build: Path):
    if build.exists(): shutil.rmtree(build)
    build.mkdir(parents=True)
    for item in ("nbs", "tinyrepro", "results", "pyproject.toml", "_quarto.yml", "README.md"):
        src = ROOT / item
        if src.is_dir(): shutil.copytree(src, build / item, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists(): shutil.copy2(src, build / item)

def execute_and_process(build: Path):
    env = {**os.environ, "TINYREPRO_SCALE": "smoke", "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TINYREPRO_RESULTS": str(build / "results")}
    run([BIN / "nbdev-test", "--n-workers", "2", "--save"], build, env)
    run([BIN / "nbdev-proc-nbs"], build, env)

def _front_matter(cell) -> dict:
    "The YAML front matter nbdev puts in a raw first cell (title, description, output-file)."
    src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    import yaml
    return yaml.safe_load(src.strip().strip("-")) or {}

def stage_for_mkdocs(proc: Path, stage: Path) -> list[str]:
    """Copy the processed notebooks under their nbdev page names (output-file), turning nbdev's front matter into a
    title and description, and Quarto cell options into mkdocs-jupyter cell tags. Returns the staged paths."""
    if stage.exists(): shutil.rmtree(stage)
    pages = []
    for nb_path in sorted(proc.rglob("*.ipynb")):
        nb = json.loads(nb_path.read_text())
        fm = _front_matter(nb["cells"][0]) if nb["cells"] and nb["cells"][0]["cell_type"] == "raw" else {}
        if fm: nb["cells"] = nb["cells"][1:]
        head = []
        if fm.get("title"): head.append(f"# {fm['title']}\n")
        if fm.get("description"): head.append(f"\n> {fm['description']}\n")
        if head: nb["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": head})
        for cell in nb["cells"]:
            cell["metadata"].pop("execution", None)        # execnb's timing floats fail nbformat's schema
            if cell["cell_type"] != "code": continue
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            opts = dict(re.findall(r"^#\|\s*([\w-]+):\s*(.+?)\s*$", src, flags=re.M))
            tags = cell["metadata"].setdefault("tags", [])
            if opts.get("echo") == "false": tags.append("hide-input")
            if opts.get("include") == "false": tags.append("remove-cell")
            cell["source"] = re.sub(r"^#\|.*\n?", "", src, flags=re.M)
        name = fm.get("output-file", re.sub(r"^\d+_", "", nb_path.stem) + ".html")
        rel = nb_path.parent.relative_to(proc) / (Path(name).stem + ".ipynb")
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        (stage / rel).write_text(json.dumps(nb))
        pages.append(str(rel))
    return pages

def nav(pages: list[str]) -> list:
    "Home, the core in reading order, papers grouped by family (registry order), guides."
    sys.path.insert(0, str(ROOT))
    from tinyrepro.registry import all_papers, FAMILIES
    core_order = [re.sub(r"^\d+_", "", p.stem) for p in sorted((ROOT / "nbs" / "core").glob("*.ipynb"))]
    core = [f"core/{n}.ipynb" for n in core_order if f"core/{n}.ipynb" in pages]
    out = [{"Home": "index.ipynb"}, {"Core library": core}]
    for fam, title in FAMILIES.items():
        papers = [p for p in all_papers() if p.family == fam]
        if not papers: continue
        entries = []
        for p in papers:
            stem = re.sub(r"^\d+_", "", Path(p.notebook).stem)
            page = f"papers/{fam}/{stem}.ipynb"
            if page in pages: entries.append({p.title.split(":")[0]: page})
        out.append({f"Papers: {title}": entries})
    guides = [p for p in pages if p.startswith("guides/")]
    if guides: out.append({"Guides": guides})
    return out

KATEX = "0.16.47"

def add_katex(assets: Path) -> dict:
    """Math that renders offline: KaTeX (MIT), fetched once with `npm pack` (a package install, like pip) into the user
    cache. Without npm the site still builds; formulas then show as TeX source."""
    sys.path.insert(0, str(ROOT))
    from tinyrepro.config import cache_dir
    dist = cache_dir("katex", KATEX) / "dist"
    if not (dist / "katex.min.js").exists():
        npm = shutil.which("npm")
        if not npm:
            print("build_docs: npm not found; formulas will show as TeX source", file=sys.stderr)
            return {"js": [], "css": []}
        tmp = dist.parent / "pack"
        tmp.mkdir(exist_ok=True)
        run([npm, "pack", f"katex@{KATEX}", "--silent", "--pack-destination", tmp], tmp)
        import tarfile
        with tarfile.open(next(tmp.glob("katex-*.tgz"))) as tar:
            tar.extractall(tmp, filter="data")
        if dist.exists(): shutil.rmtree(dist)
        shutil.move(tmp / "package" / "dist", dist)
        shutil.rmtree(tmp)
    dst = assets / "katex"
    dst.mkdir(parents=True, exist_ok=True)
    for f in ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js"): shutil.copy2(dist / f, dst / Path(f).name)
    shutil.copytree(dist / "fonts", dst / "fonts", ignore=shutil.ignore_patterns("*.ttf", "*.woff"))  # woff2 is enough
    (assets / "katex-init.js").write_text(
        'document.addEventListener("DOMContentLoaded", function () { renderMathInElement(document.body, {delimiters: ['
        '{left: "$$", right: "$$", display: true}, {left: "$", right: "$", display: false}, '
        '{left: "\\\\(", right: "\\\\)", display: false}, {left: "\\\\[", right: "\\\\]", display: true}], throwOnError: false}); });\n')
    return {"js": ["assets/katex/katex.min.js", "assets/katex/auto-render.min.js", "assets/katex-init.js"],
            "css": ["assets/katex/katex.min.css"]}

def build_mkdocs(build: Path, out: Path):
    stage = build / "mkdocs_src"
    pages = stage_for_mkdocs(build / "_proc", stage)
    styles = ROOT / "nbs" / "styles.css"
    if styles.exists(): shutil.copy2(styles, stage / "styles.css")
    extra = add_katex(stage / "assets")
    import yaml
    cfg = {"INHERIT": str(ROOT / "mkdocs.yml"), "docs_dir": str(stage), "site_dir": str(out), "nav": nav(pages),
           "extra_css": ["styles.css", *extra["css"]], "extra_javascript": extra["js"]}
    (build / "mkdocs.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    run([BIN / "mkdocs", "build", "--quiet", "-f", build / "mkdocs.yml"], build)

def build_quarto(build: Path, out: Path):
    if not shutil.which("quarto"):
        sys.exit("build_docs: --quarto needs the `quarto` binary on PATH (https://quarto.org); "
                 "without it, run `python tools/build_docs.py` for the mkdocs build of the same notebooks")
    run([BIN / "nbdev-docs"], build)
    if out.exists(): shutil.rmtree(out)
    shutil.copytree(build / "_docs", out)

def main(argv=None):
    p = argparse.ArgumentParser(description="Build the tinyrepro documentation site from the notebooks, offline.")
    p.add_argument("--out", default=str(ROOT / "site"), help="output folder (default: site/)")
    p.add_argument("--quarto", action="store_true", help="render with Quarto (nbdev-docs) instead of mkdocs")
    p.add_argument("--build-dir", default=str(ROOT / "_build" / "docs"), help="scratch folder (default: _build/docs)")
    args = p.parse_args(argv)
    build, out = Path(args.build_dir), Path(args.out).resolve()
    copy_project(build)
    execute_and_process(build)
    (build_quarto if args.quarto else build_mkdocs)(build, out)
    print(f"site: {out / 'index.html'}")

if __name__ == "__main__":
    main()
