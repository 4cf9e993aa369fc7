"""A small demo of target-middleware."""
