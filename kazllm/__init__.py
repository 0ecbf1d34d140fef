"""kazllm: an open training stack for Kazakh large language models."""

__version__ = "0.1.0"
