"""PyTorch's ``torch.utils`` path: ``minitl.utils.data`` is ``minitl.data``'s datasets and loader."""
from minitl.utils import data
