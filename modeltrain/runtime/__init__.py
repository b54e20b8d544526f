"""Starting and stopping the service's processes (used by `modeltrain up` and by the tests)."""
