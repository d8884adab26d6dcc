"""latte: rag."""
