"""latte: evals."""
