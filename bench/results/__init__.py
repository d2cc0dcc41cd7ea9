"""The tidy tables a run leaves: their schema and readers (`schema`, what `reports` reads) and
the export from a storage to `trials.parquet` and `steps.parquet` (`export`)."""
