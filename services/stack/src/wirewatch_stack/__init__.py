"""The `wirewatch` command line and the supervisor that runs the embedded stack."""
