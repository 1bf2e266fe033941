"Trains a small GPT with the shared Trainer; run directly (1 process) or under torchrun (2 gloo processes)."
import os, sys
os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch
from safetensors.torch import save_file
from tinyrepro.config import set_seed
from tinyrepro.models import GPT, GPTConfig
from tinyrepro.train import Trainer, TrainConfig

torch.set_num_threads(1)
set_seed(0)
model = GPT(GPTConfig(vocab_size=64, d_model=32, n_layer=2, n_head=2, d_ff=64, max_seq_len=16))
data = torch.randint(0, 64, (64, 17), generator=torch.Generator().manual_seed(0))
trainer = Trainer(model, TrainConfig(max_steps=6, batch_size=8, lr=1e-2, progress=False, log_every=1), data, device="cpu")
trainer.fit()
if trainer.accelerator.is_main_process:
    save_file({k: v.contiguous() for k, v in trainer.raw_model.state_dict().items() if k != "lm_head.weight"}, sys.argv[1])
    print(f"world={trainer.world} final_loss={trainer.history[-1]['loss']:.6f}")
