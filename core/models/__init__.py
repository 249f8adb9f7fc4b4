"""The model catalogue: bundled assets, the registry of local and hub models, token lengths for a
model's tokenizer.
"""
