"""The task engine every surface shares: task records, enqueue, worker, janitor, files, hooks."""
