"""Notebook-first, small-scale reproductions of research papers on pre-training language and vision-language models.

Modules:

- `tinyrepro.train`: One small trainer for every paper: a token budget, gradient accumulation, AdamW (fused where available) or any torch optimizer, cosine / WSD / constant schedules with re-warm, gradient clipping, bf16 autocast on GPU, optional `torch.compile`, a progress bar, JSONL metrics, atomic safetensors checkpoints with bit-identical resume, callbacks, and `accelerate` for multi-GPU."""

__version__ = "0.1.0"
