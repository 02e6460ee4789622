"""perpwire tests."""
