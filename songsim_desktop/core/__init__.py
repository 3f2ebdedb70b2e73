"""The engine: decoding, features, embedding, library database, scanning, index, query.

Imports neither Qt nor torch (tests/core/test_architecture.py checks it), so the CLI and the GUI
share it and it runs anywhere onnxruntime runs.
"""
