"""kazllm's evaluation suite: tasks declared in eval/tasks/*.yaml, run by `kazllm eval`.

It depends only on torch, transformers, sacrebleu and PyYAML, so evaluators can use it without the
training stack (DeepSpeed, datatrove).
"""
