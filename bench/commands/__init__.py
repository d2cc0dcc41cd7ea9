"""One module per `samplerbench` command: `HELP`, `add_arguments(parser)`, `run(args)`."""
