"""The documentation site: built offline with one command, served on 127.0.0.1, loaded in headless Chromium.

Skips (with the reason) only where no Chromium is installed; a screenshot of each page lands in test-artifacts/."""
import functools, http.server, re, shutil, subprocess, sys, threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"

def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name): return shutil.which(name)
    return None

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "build_docs.py"), "--out", str(out),
                        "--build-dir", str(tmp_path_factory.mktemp("build"))], capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    return out

@pytest.fixture(scope="module")
def server(site):
    "Serve the built site on 127.0.0.1 and record every request's path and status."
    log = []
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_request(self, code="-", size="-"): log.append((self.path, int(code) if str(code).isdigit() else code))
        def log_message(self, *args): pass
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", log
    httpd.shutdown()

def test_site_files(site):
    "The build has the landing page, every core page and every registered paper's page."
    from tinyrepro.registry import all_papers
    assert (site / "index.html").exists()
    for p in all_papers():
        page = site / re.sub(r"/\d+_", "/", p.notebook).replace(".ipynb", ".html")
        assert page.exists(), page
    assert len(list((site / "core").glob("*.html"))) >= 8

def _browse(url: str, shot: Path, tmp: Path) -> str:
    chrome = _chromium()
    if chrome is None:
        pytest.skip("Chromium is not installed (apt-get install chromium): skipping the browser test")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp}", "--window-size=1280,2000", "--virtual-time-budget=8000"]
    shot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([chrome, *flags, f"--screenshot={shot}", url], capture_output=True, timeout=120)
    dom = subprocess.run([chrome, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout

@pytest.mark.parametrize("page, title, must", [
    ("index.html", "tinyrepro", ["<table", "GaLore", "CoLoR-Filter", "Partially reproduced"]),
    ("papers/optim/galore.html", "GaLore: Memory-Efficient LLM Training by Gradient Low-Rank Projection",
     ["<table", "Verdict: Partially reproduced", "optimizer-state memory", "<img"]),
])
def test_page_in_headless_chromium(server, page, title, must, tmp_path):
    base, log = server
    start = len(log)
    dom = _browse(f"{base}/{page}", ARTIFACTS / f"docs-{page.replace('/', '-')}.png", tmp_path)
    assert title in dom
    for text in must: assert text in dom, text
    if page != "index.html":
        assert re.search(r'<img[^>]+src="data:image/png', dom), "the results figure is missing"
        assert "katex" in dom or shutil.which("npm") is None, "formulas were not rendered"
    missing = [(p, c) for p, c in log[start:] if c != 200 and c != 304]
    assert not missing, f"assets of the site itself that failed to load: {missing}"
    assert (ARTIFACTS / f"docs-{page.replace('/', '-')}.png").stat().st_size > 10_000
