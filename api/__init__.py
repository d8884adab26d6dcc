"""latte: api."""
