"""What a run's evidence becomes: evaluation, comparison, the offline report, exports, blind review and
side by side.
"""
