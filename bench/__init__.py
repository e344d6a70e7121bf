"""bilstm-bench: config-driven benchmark of forward, backward and bidirectional LSTMs (README.md)."""
