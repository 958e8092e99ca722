"""MKGSG data infrastructure: LLM backends, an OpenAI-compatible test server, dedup /
decontamination, and resumable shard writing.

Importing this package stays light: torch, transformers and aiohttp are imported only by the
functions and classes that need them.
"""
