"""The Celery app "celery-app" and its thin tasks."""
