"Scaling-law fitter: recovers known parameters, keeps the best start, robust to an outlier, agrees with references, fails loudly."
import math

import numpy as np
import pytest
import torch

from tinyrepro.config import ConfigError, TinyreproError
from tinyrepro.scaling import (ScalingLaw, bootstrap_fit, chinchilla_loss, cmr_law, dcpt_law, fit_scaling_law,
                               heldout_error, leave_one_out, make_dcpt_law, param_grid, plot_fit, power_law, r_squared,
                               simulate)

TRUE = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)     # Hoffmann et al.'s fitted values
_N, _D = np.meshgrid(np.geomspace(1e5, 1e7, 5), np.geomspace(1e7, 3e9, 6), indexing="ij")
X = {"N": _N.ravel(), "D": _D.ravel()}
SIGMA = 1e-3                                                       # log-space noise: 0.1% per point
Y = simulate(chinchilla_loss, X, TRUE, noise=SIGMA, seed=0)
GRID = param_grid(E=[0.5, 2.0], A=[10.0, 1000.0], B=[1000.0], alpha=[0.2, 0.6], beta=[0.3])
GOOD = dict(E=1.0, A=100.0, B=100.0, alpha=0.3, beta=0.3)        # one sensible start, far from the truth
POS = set(chinchilla_loss.positive)

def _linearised_se(sigma=SIGMA):
    "sigma * sqrt(diag((J^T J)^-1)), J = d log L / d theta at the truth (log coordinates for E, A, B)."
    names = chinchilla_loss.params
    th0 = torch.tensor([math.log(TRUE[k]) if k in POS else TRUE[k] for k in names], dtype=torch.float64)
    Xt = {k: torch.tensor(v) for k, v in X.items()}
    f = lambda th: chinchilla_loss.fn(Xt, {k: th[i].exp() if k in POS else th[i] for i, k in enumerate(names)}).log()
    J = torch.autograd.functional.jacobian(f, th0)
    return dict(zip(names, (sigma * torch.linalg.inv(J.T @ J).diagonal().sqrt()).tolist()))

def _err(params, k):
    return abs(math.log(params[k] / TRUE[k])) if k in POS else abs(params[k] - TRUE[k])

@pytest.fixture(scope="module")
def fit():
    return fit_scaling_law(chinchilla_loss, X, Y, GRID)

def test_recovers_chinchilla_parameters(fit):
    # tolerance: 4 linearised standard errors (log scale for E, A, B); a Monte-Carlo over 40 noise draws gave the same SEs
    se = _linearised_se()
    for k in TRUE: assert _err(fit.params, k) < 4 * se[k], (k, fit.params[k], TRUE[k], se[k])
    assert fit.n_points == 30 and fit.fn == "chinchilla_loss" and len(fit.start_losses) == len(GRID)
    assert r_squared(fit, X, Y) > 0.9999

def test_multistart_keeps_the_best_start():
    bad = dict(E=3.0, A=1.0, B=1.0, alpha=2.0, beta=2.0)     # both power-law terms ~0: a plateau, L-BFGS stops there
    alone = fit_scaling_law(chinchilla_loss, X, Y, [bad])
    both = fit_scaling_law(chinchilla_loss, X, Y, [bad, GOOD])
    assert both.best_start == 1 and both.start == GOOD
    assert both.start_losses[0] == pytest.approx(alone.loss) and alone.loss > 100 * both.loss
    assert _err(both.params, "alpha") < 4 * _linearised_se()["alpha"]

def test_polish_reaches_the_grid_optimum_from_a_warm_start(fit):
    idx = np.random.default_rng(1).integers(0, 30, 30)
    Xb, yb = {k: v[idx] for k, v in X.items()}, Y[idx]
    plain = fit_scaling_law(chinchilla_loss, Xb, yb, [fit.params], polish=False)
    warm = fit_scaling_law(chinchilla_loss, Xb, yb, [fit.params])
    cold = fit_scaling_law(chinchilla_loss, Xb, yb, GRID)
    assert warm.loss <= plain.loss
    assert warm.loss == pytest.approx(cold.loss, rel=1e-6)
    for k in TRUE: assert warm.params[k] == pytest.approx(cold.params[k], rel=1e-4)

def test_bootstrap_intervals_contain_truth_and_are_seeded():
    # one fixed draw of a statistical property (the notebook measured joint coverage 27/30 over noise seeds 0-29)
    bs = bootstrap_fit(chinchilla_loss, X, Y, GRID, n_boot=100, seed=0)
    assert bs.n_failed == 0 and all(len(v) == 100 for v in bs.samples.values())
    for k, (lo, hi) in bs.intervals.items(): assert lo <= TRUE[k] <= hi, (k, lo, hi)
    one = [GOOD]
    again = bootstrap_fit(chinchilla_loss, X, Y, one, n_boot=5, seed=3)
    assert again.intervals == bootstrap_fit(chinchilla_loss, X, Y, one, n_boot=5, seed=3).intervals   # bit for bit
    assert again.intervals != bootstrap_fit(chinchilla_loss, X, Y, one, n_boot=5, seed=4).intervals

def test_grouped_bootstrap_and_leave_one_run_out():
    runs = X["N"]                                           # one "run" per model size, 6 checkpoints each
    bs = bootstrap_fit(chinchilla_loss, X, Y, [GOOD], n_boot=5, seed=0, groups=runs)
    assert bs.n_boot == 5 and bs.n_failed == 0
    loo = leave_one_out(chinchilla_loss, X, Y, [GOOD], groups=runs)
    assert len(loo.fits) == 5 and set(loo.group_errors) == set(np.unique(runs))
    assert loo.predictions.shape == (30,) and loo.mean_error < 0.01
    small = X["N"] <= 1e6
    f = fit_scaling_law(chinchilla_loss, {k: v[small] for k, v in X.items()}, Y[small], [GOOD])
    assert heldout_error(f, {k: v[~small] for k, v in X.items()}, Y[~small]) < 0.01

def test_huber_beats_squared_error_with_an_outlier():
    truth = dict(a=2.0, b=0.5, c=1.0)
    x = np.geomspace(1, 1000, 12)
    y = simulate(power_law, x, truth, noise=1e-3, seed=1)
    y[6] *= 1.2                                             # one point 20% off
    dist = lambda f: sum(abs(f.params[k] / v - 1) for k, v in truth.items())
    huber, mse = fit_scaling_law(power_law, x, y, loss="huber_log"), fit_scaling_law(power_law, x, y, loss="mse_log")
    assert dist(huber) < 0.5 * dist(mse), (huber.params, mse.params)
    assert dist(huber) < 0.01

def _varpro(x, y):
    "Independent least-squares reference for a*x^-b + c: lstsq in (a, c) inside a golden-section search over b."
    def solve(b):
        M = np.stack([x ** -b, np.ones_like(x)], 1)
        coef = np.linalg.lstsq(M, y, rcond=None)[0]
        return ((M @ coef - y) ** 2).sum(), coef
    g, lo, hi = (math.sqrt(5) - 1) / 2, 0.01, 3.0
    for _ in range(200):
        m1, m2 = hi - g * (hi - lo), lo + g * (hi - lo)
        lo, hi = (lo, m2) if solve(m1)[0] < solve(m2)[0] else (m1, hi)
    b = (lo + hi) / 2
    return dict(zip("abc", [solve(b)[1][0], b, solve(b)[1][1]]))

POWER_X = np.geomspace(1, 1000, 12)
POWER_Y = simulate(power_law, POWER_X, dict(a=2.0, b=0.5, c=1.0), noise=1e-3, seed=1)

def test_matches_variable_projection_reference():
    ours = fit_scaling_law(power_law, POWER_X, POWER_Y, loss="mse").params
    for k, v in _varpro(POWER_X, POWER_Y).items(): assert ours[k] == pytest.approx(v, rel=1e-5, abs=1e-6)

def test_matches_scipy_curve_fit():
    curve_fit = pytest.importorskip("scipy.optimize").curve_fit
    popt, _ = curve_fit(lambda x, a, b, c: a * x ** -b + c, POWER_X, POWER_Y, p0=[1.0, 0.3, 0.5], maxfev=20000)
    ours = fit_scaling_law(power_law, POWER_X, POWER_Y, loss="mse").params
    for k, v in zip("abc", popt): assert ours[k] == pytest.approx(v, rel=1e-5, abs=1e-6)

def test_laws_by_hand():
    assert dcpt_law({"N": [1.0], "D": [4.0], "r": [0.25]}, dict(E=1, A=1, B=2, C=1, alpha=1, beta=0.5, gamma=1, eta=1))[0] \
        == pytest.approx(1 + 1 + 2 * 0.25 / 2 + 1 / 0.26)
    assert make_dcpt_law(0.1).constants == {"eps": 0.1}
    assert cmr_law([100.0], dict(beta0=0.1, beta1=0.02, s=0.5))[0] == pytest.approx(0.3)
    assert chinchilla_loss(np.array([[1e6, 1e8]]), TRUE)[0] == pytest.approx(1.69 + 406.4 / 1e6 ** 0.34 + 410.7 / 1e8 ** 0.28)

def test_plain_function_fixed_parameters_and_positivity():
    x = np.geomspace(1, 100, 10)
    y = 3.0 * x ** -0.7 + 0.5
    law = lambda X, p: p["a"] * X ** -p["b"] + p["c"]
    f = fit_scaling_law(law, x, y, [dict(a=1.0, b=0.3, c=1.0)], positive=("a", "c"))
    assert f.params == pytest.approx(dict(a=3.0, b=0.7, c=0.5), rel=1e-6)
    g = fit_scaling_law(power_law, x, y, [dict(a=1.0, b=0.3)], fixed={"c": 0.5})
    assert g.params["c"] == 0.5 and g.params["b"] == pytest.approx(0.7, rel=1e-6)

def test_dataframe_inputs_and_fixed_constant():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X)
    f = fit_scaling_law(chinchilla_loss, df, Y, [GOOD])
    assert f.params == pytest.approx(fit_scaling_law(chinchilla_loss, X, Y, [GOOD]).params, rel=1e-12)
    Xd = {"N": np.full(12, 1e5), "D": np.tile([50.0, 100, 200, 400], 3), "r": np.repeat([.2, .5, .8], 4)}
    truth = dict(E=1.2, A=3.0, B=8.0, C=0.15, alpha=0.3, beta=0.5, gamma=0.6, eta=0.3)
    yd = dcpt_law(Xd, {**truth, "eps": 0.05})
    g = fit_scaling_law(dcpt_law, Xd, yd, [truth], fixed={"eps": 0.05, "A": 3.0, "alpha": 0.3})
    assert g.params["eps"] == 0.05 and g.predict(Xd) == pytest.approx(yd, rel=1e-6)

def test_all_starts_diverging_raises():
    nan_law = ScalingLaw("nan", lambda X, p: p["a"] * X["x"] * float("nan"), ("a",), inputs=("x",))
    with pytest.raises(TinyreproError, match="diverged"):
        fit_scaling_law(nan_law, [1.0, 2.0], [1.0, 2.0], [dict(a=1.0)])

@pytest.mark.parametrize("call, message", [
    (lambda: fit_scaling_law(power_law, POWER_X, POWER_Y[:-1]), "12 points but y has 11"),
    (lambda: fit_scaling_law(power_law, POWER_X, POWER_Y, []), "p0_grid is empty"),
    (lambda: fit_scaling_law(power_law, POWER_X, -POWER_Y), "must be > 0"),
    (lambda: fit_scaling_law(power_law, POWER_X, POWER_Y * 0), "must be > 0"),
    (lambda: fit_scaling_law(power_law, POWER_X, POWER_Y, loss="l1"), "unknown loss"),
    (lambda: fit_scaling_law(power_law, POWER_X, POWER_Y, [dict(a=1, b=1)]), "missing ['c']"),
    (lambda: fit_scaling_law(power_law, POWER_X, POWER_Y, [dict(a=-1, b=1, c=1)]), "a=-1 must be > 0"),
    (lambda: fit_scaling_law(power_law, [], [], [dict(a=1, b=1, c=1)]), "no points"),
    (lambda: fit_scaling_law(chinchilla_loss, {"N": [1.0, 2.0]}, [1.0, 2.0], GRID), "missing D"),
    (lambda: fit_scaling_law(power_law, [1.0, float("nan")], [1.0, 2.0]), "finite"),
    (lambda: bootstrap_fit(power_law, POWER_X, POWER_Y, n_boot=0), "n_boot"),
    (lambda: leave_one_out(power_law, POWER_X, POWER_Y, groups=[0] * 12), "at least 2 groups"),
    (lambda: leave_one_out(power_law, POWER_X, POWER_Y, groups=[0, 1]), "one label per point"),
    (lambda: make_dcpt_law(0.0), "eps must be > 0"),
])
def test_bad_input_raises_config_error(call, message):
    with pytest.raises(ConfigError) as e: call()
    assert message in str(e.value)

def test_plot_fit_draws_fit_and_heldout(fit):
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    small = X["N"] <= 1e6
    ax = plot_fit(fit, {k: v[small] for k, v in X.items()}, Y[small], {k: v[~small] for k, v in X.items()}, Y[~small], x="D")
    assert len(ax.lines) == 5 and ax.get_xscale() == "log"
    ax2 = plot_fit(fit_scaling_law(lambda X, p: p["a"] * X, [1.0, 2.0], [2.0, 4.0], [dict(a=1.0)]), [1.0, 2.0], [2.0, 4.0])
    assert ax2.get_xlabel() == "observed"
    with pytest.raises(ConfigError, match="not an input"): plot_fit(fit, X, Y, x="T")
    plt.close("all")
