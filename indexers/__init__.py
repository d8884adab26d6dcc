"""latte: indexers."""
