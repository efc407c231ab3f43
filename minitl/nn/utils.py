"""``torch.nn.utils``'s gradient clipping, where PyTorch users look for it; implemented in ``minitl.optim.clip``."""
from minitl.optim.clip import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
