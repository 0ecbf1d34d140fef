"""Facts about the metrics `kazllm eval` reports that layers below eval read too (the model card).

    from kazllm.eval_metrics import LOWER_IS_BETTER
    "bits_per_byte" in LOWER_IS_BETTER   # True: tables and charts mark it "(lower is better)"

eval/runner.py computes the metrics (results.json); eval/report.py and kazllm/model_card.py, which render
them, take a metric's direction from here: kazllm core does not import eval.
"""

from __future__ import annotations

LOWER_IS_BETTER = frozenset({"bits_per_byte", "token_perplexity", "word_perplexity", "tokens_per_byte"})
"""Higher is better for every metric except these (shown in the tables so nobody has to guess)."""
