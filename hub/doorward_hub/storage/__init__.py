"""SQLite persistence: the connection, numbered migrations, one repository per domain."""
