"""The `samplerbench` command line: `main` parses and dispatches, `options` defines shared
options once, and `commands/` holds one module per command. Nothing imports the CLI."""
