"""Text handling below every domain: decoding bytes to text, delimiter and header sniffing, Arrow
string helpers, the one JSON Lines reader.
"""
