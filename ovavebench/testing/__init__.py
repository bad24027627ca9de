"""Support code for the demo, the tests and the benchmark scripts: a local HTTP server and synthetic videos.

Nothing in the stages imports this package; it is public so that downstream projects can test against the same
stand-ins (a server on 127.0.0.1 with Range support and fault injection, videos with known per-second content).
"""
