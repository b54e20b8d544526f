"""Chunk staging in Redis: append in order, verify, assemble, expire."""
