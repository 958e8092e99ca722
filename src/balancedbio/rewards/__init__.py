"""Reward functions for GRPO: verifiable, CPU-only checks of model completions.

Submodules are imported on demand (``balancedbio.rewards.ifeval``); importing this package
pulls in nothing heavy (no torch, no NLTK).
"""
