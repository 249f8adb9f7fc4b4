"""Per-task domain logic without torch: NER tags, checks and scoring, word/sub-word alignment, chat
formats, tabular features, baselines and metrics.
"""
