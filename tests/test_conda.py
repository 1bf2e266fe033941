"Conda: package equivalence, the mechanism check (and its shortcuts failing), and a bit-identical checkpoint round trip."
import pytest
import torch

from tinyrepro.config import set_seed
from tinyrepro.models import GPT, GPTConfig
from tinyrepro.train import save_checkpoint, load_checkpoint
from tinyrepro.papers.conda import (Conda, conda_basis, conda_param_groups, check_conda_mechanism,
                                    compare_with_pytorch_optimizer, parameters_rotated_by_port)

CFG = GPTConfig(vocab_size=64, d_model=32, n_layer=1, n_head=2, d_ff=48, max_seq_len=16)

def test_matches_pytorch_optimizer_once_the_refresh_phase_is_aligned():
    pytest.importorskip("pytorch_optimizer"); pytest.importorskip("galore_torch")
    assert max(compare_with_pytorch_optimizer(steps=12, gap=4)) <= 1e-6
    raw = compare_with_pytorch_optimizer(steps=6, gap=4, align=False)
    assert max(raw[:3]) <= 1e-6 and raw[3] > 1e-3          # the port refreshes at step T, the official code at T+1
    assert "tok_emb.weight" in parameters_rotated_by_port()

def test_mechanism_check_passes_for_conda_and_fails_for_shortcuts():
    check_conda_mechanism(lambda m, T: Conda(conda_param_groups(m, T, 0.25), lr=1e-2, betas=(0.9, 0.99)))
    class GradientBasis(Conda):
        def basis(self, grad, exp_avg): return conda_basis(grad)
    shortcuts = {"no projector": lambda m, T: torch.optim.AdamW(m.parameters(), lr=1e-2),
                 "not the momentum's": lambda m, T: GradientBasis(conda_param_groups(m, T, 0.25), lr=1e-2),
                 "changed at steps": lambda m, T: Conda(conda_param_groups(m, 1, 0.25), lr=1e-2)}
    for msg, make in shortcuts.items():
        with pytest.raises(AssertionError, match=msg): check_conda_mechanism(make)

def test_checkpoint_round_trip_is_bit_identical(tmp_path):
    x = torch.randint(0, 64, (6, 4, 17), generator=torch.Generator().manual_seed(0))
    def steps(model, opt, batches):
        for b in batches: opt.zero_grad(); model(b[:, :-1], b[:, 1:]).backward(); opt.step()
    set_seed(0); a = GPT(CFG); opt_a = Conda(conda_param_groups(a, 2, 0.25), lr=1e-2)
    steps(a, opt_a, x)
    set_seed(0); b = GPT(CFG); opt_b = Conda(conda_param_groups(b, 2, 0.25), lr=1e-2)
    steps(b, opt_b, x[:3])
    save_checkpoint(tmp_path / "ck", b, opt_b, step=3)
    set_seed(1); c = GPT(CFG); opt_c = Conda(conda_param_groups(c, 2, 0.25), lr=1e-2)
    load_checkpoint(tmp_path / "ck", c, opt_c)
    steps(c, opt_c, x[3:])
    for p, q in zip(a.parameters(), c.parameters()): assert torch.equal(p, q)
