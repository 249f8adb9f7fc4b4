"""Machine learning: the only package importing torch, transformers and peft (lazily from services)."""
