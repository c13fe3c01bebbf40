"""Product operations shared by the HTTP routes and the CLI."""
