"""Use Case Lab core: the services behind the pages and the CLI. Never imports streamlit."""

__version__ = "0.1.0"
