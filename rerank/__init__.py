"""latte: rerank."""
