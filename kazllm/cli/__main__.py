"""`python -m kazllm.cli`: what the `kazllm` console script runs (job scripts and tests call it this way)."""

from kazllm.cli import main

raise SystemExit(main())
