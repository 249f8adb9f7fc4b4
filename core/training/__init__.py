"""Training runs: the service that queues them, the queue and its launchers, the background worker, run
groups (cross-validation, learning curve) and estimates.
"""
