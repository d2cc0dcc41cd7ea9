"""The test suite, a package so that its modules are `tests.…` and `tests/bench` never stands
in for the `bench` package; pytest puts the checkout's root on `sys.path` for it."""
