"""Question in, answer out: retrieval, quote selection, rendering, the `qa` command."""
