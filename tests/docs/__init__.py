"""Tests of the documentation: the README and docs/ run, and their links lead somewhere."""
