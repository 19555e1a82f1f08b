"""Stage 1: sample rollouts from an SFT checkpoint and measure entropy and GRPO signal."""
