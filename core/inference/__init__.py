"""Predictions and generation from a trained run or a catalogue model, over one shared cache of loaded
models.
"""
