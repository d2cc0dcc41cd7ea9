"""Helpers shared by the tests and by benchmark scripts (`from tests.helpers.suites import …`)."""
