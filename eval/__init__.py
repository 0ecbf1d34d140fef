"""kazllm's evaluation suite: tasks declared in eval/tasks/*.yaml, run by `kazllm eval` (docs/eval.md).

It needs only the `eval` extra (torch, transformers, sacrebleu, datasets, PyYAML, matplotlib), never the
training stack (DeepSpeed, datatrove, wandb): tests/test_eval.py runs the CLI with those imports blocked.
"""
