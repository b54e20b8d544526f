"""Input drift: each version's training profile, and served rows counted against it."""
