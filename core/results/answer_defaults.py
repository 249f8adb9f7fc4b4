"""How many examples answer-quality scoring reads by default, and its shots and seed: constants the CLI
reads to build its options without importing the scoring service (pandas, the store)."""

DEFAULT_EXAMPLES = 200
MAX_EXAMPLES = 5000
DEFAULT_SHOTS = 3
DEFAULT_SEED = 42
