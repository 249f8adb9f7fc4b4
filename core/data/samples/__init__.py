"""Bundled sample data written for this project, and the script that makes it."""
