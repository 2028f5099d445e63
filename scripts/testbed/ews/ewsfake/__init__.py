"""A strict fake Exchange Web Services server for mailbroker's tests (see ../../README.md)."""
