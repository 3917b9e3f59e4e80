"""Reliability harness (issue 9): fixed-rate load on two server processes, PostgreSQL
restarts, killed job workers and concurrent answers; see RELIABILITY.md."""
