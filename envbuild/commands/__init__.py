"""What each CLI command does, as typed functions that return data (the CLI only parses and prints)."""
