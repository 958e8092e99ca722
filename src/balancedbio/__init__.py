"""BalancedBio: multi-capability alignment of small language models for biomedicine."""

__version__ = "0.1.0"
