"""Suite files (TOML) shipped with samplerbench; copy one and edit it to make your own."""
