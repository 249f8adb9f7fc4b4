"""What a run's evidence becomes: evaluation, comparison, the verdict, the offline report, blind
review and side by side. Shipping (exports, the model card) is ``core.ship``.
"""
