"Registry-wide: every registered paper runs at smoke scale, writes a results file with the schema, and is deterministic."
import json, math

import pytest

from tinyrepro.registry import all_papers, get_paper, run_paper, paper_config
from tinyrepro.results import validate_result, load_result, VERDICTS
from tinyrepro.config import TinyreproError, ConfigError

PAPERS = [p.slug for p in all_papers()]

def test_registry_has_the_foundation_papers():
    assert {"galore", "color-filter"} <= set(PAPERS)
    for p in all_papers():
        assert p.notebook.endswith(".ipynb") and p.paper_url.startswith("https://")

@pytest.mark.parametrize("slug", PAPERS)
def test_every_paper_runs_at_smoke(slug, tmp_path):
    res = run_paper(slug, "smoke", results_dir=tmp_path)
    path = tmp_path / slug / "smoke.json"
    assert path.exists()
    on_disk = json.loads(path.read_text())
    validate_result(on_disk)
    assert on_disk["verdict"] in VERDICTS and on_disk["claims"]
    for a in on_disk["arms"].values():
        for m in a["per_seed"]:
            for k, v in m.items():
                if isinstance(v, float): assert math.isfinite(v), (slug, k, v)
    for key in ("git_sha", "version", "device", "wall_time_s", "torch"):
        assert key in on_disk["provenance"]
    assert load_result(slug, "smoke", tmp_path)["config_hash"] == res["config_hash"]

@pytest.mark.parametrize("slug", PAPERS)
def test_same_seed_same_numbers(slug, tmp_path):
    "Determinism on CPU: two runs with the same seed give identical metrics."
    a = run_paper(slug, "smoke", results_dir=tmp_path / "a")
    b = run_paper(slug, "smoke", results_dir=tmp_path / "b")
    timing = lambda m: m.endswith("_s") or m.startswith("ms_")       # wall-clock fields vary run to run
    strip = lambda r: {k: [{m: v for m, v in s.items() if not timing(m)} for s in arm["per_seed"]]
                       for k, arm in r["arms"].items()}
    assert strip(a) == strip(b)
    assert a["claims"] == b["claims"]

def test_unknown_paper_and_config_key():
    with pytest.raises(TinyreproError, match="valid slugs: .*galore"):
        get_paper("no-such-paper")
    with pytest.raises(ConfigError, match="valid keys"):
        paper_config("galore", "smoke", {"not_a_key": 1})
    with pytest.raises(ConfigError, match="valid scales"):
        paper_config("galore", "laptop")

@pytest.mark.parametrize("slug", PAPERS)
def test_committed_cpu_results_are_valid(slug):
    "The project's record: a committed cpu result must pass the schema and match the current config."
    res = load_result(slug, "cpu")
    if res is None: pytest.skip(f"no committed cpu result for {slug}")
    from tinyrepro.config import config_hash
    assert res["config_hash"] == config_hash(paper_config(slug, "cpu")), \
        f"results/{slug}/cpu.json was made with another config: rerun `tinyrepro run {slug} --scale cpu`"
    assert res["seeds"] == [0, 1, 2]
