"""Batch prediction jobs: a CSV uploaded like a training file, every row predicted by a worker
in blocks, the result CSV kept in Redis for any API replica to stream."""
