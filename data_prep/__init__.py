"""Data preparation for kazllm: raw sources -> clean Kazakh corpus (prep/), tokenizer, token shards."""
