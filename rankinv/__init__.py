"""rankinv: catch SFT checkpoints that will fail under GRPO, and stop GRPO runs that already are.

Importing this package is cheap: it never imports torch, transformers, vllm, textual or watchdog.
The pure science lives in :mod:`rankinv.advantage`, :mod:`rankinv.passk`, :mod:`rankinv.entropy`
and :mod:`rankinv.stats`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
