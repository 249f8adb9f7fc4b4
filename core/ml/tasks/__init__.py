"""Task adapters: one module per task, registered with core.ml.tasks.base.register."""
